//! The pace store of one process: the GCRA "theoretical arrival time" of each key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{PaceStore, Rate, Reservation};
use crate::auth::{BoxFuture, CacheError};

/// Past this many keys, keys whose slots are all free again are forgotten.
const PRUNE_AT: usize = 4096;

/// The [`PaceStore`] of one process (the default): each key's next free slot in memory.
/// Keys with no slot reserved ahead are forgotten, so memory stays bounded by the keys in
/// use.
#[derive(Debug, Default)]
pub struct MemoryPaceStore {
    /// Key → the time the next operation would be due with no burst left (GCRA's TAT).
    tat: Mutex<HashMap<String, Instant>>,
}

impl MemoryPaceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// GCRA on the local clock.
    fn reserve_now(&self, key: &str, rate: Rate, max_wait: Duration, now: Instant) -> Reservation {
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PRUNE_AT {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(key).copied().filter(|t| *t > now).unwrap_or(now);
        let tolerance = rate.interval.saturating_mul(rate.burst.saturating_sub(1));
        // The slot is due `tolerance` before the TAT.
        let wait = tat.saturating_duration_since(now).saturating_sub(tolerance);
        if wait > max_wait {
            return Reservation::Refused { wait };
        }
        // `Rate` holds intervals to a year; an `Instant` that far out cannot overflow, and
        // if it could, the slot would stay where it is.
        map.insert(
            key.to_owned(),
            tat.checked_add(rate.interval).unwrap_or(tat),
        );
        Reservation::Granted { wait }
    }

    /// How many keys are kept (for tests of the bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.tat.lock().unwrap().len()
    }
}

impl PaceStore for MemoryPaceStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<Reservation, CacheError>> {
        let r = self.reserve_now(key, rate, max_wait, Instant::now());
        Box::pin(std::future::ready(Ok(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn granted(r: Reservation) -> Duration {
        match r {
            Reservation::Granted { wait } => wait,
            Reservation::Refused { wait } => panic!("refused, {wait:?} away"),
        }
    }

    #[test]
    fn evenly_spaced_slots_in_order_and_a_refusal_past_the_bound_reserves_nothing() {
        let s = MemoryPaceStore::new();
        let t0 = Instant::now();
        let rate = Rate::per_second(5);
        let waits: Vec<_> = (0..4)
            .map(|_| granted(s.reserve_now("chat", rate, 1000 * MS, t0)))
            .collect();
        assert_eq!(waits, [Duration::ZERO, 200 * MS, 400 * MS, 600 * MS]);
        // 800 ms away: past a bound of 700 ms, and nothing is taken.
        assert_eq!(
            s.reserve_now("chat", rate, 700 * MS, t0),
            Reservation::Refused { wait: 800 * MS }
        );
        assert_eq!(granted(s.reserve_now("chat", rate, 800 * MS, t0)), 800 * MS);
        // Other keys are independent; time passing frees slots.
        assert_eq!(
            granted(s.reserve_now("other", rate, MS, t0)),
            Duration::ZERO
        );
        assert_eq!(
            granted(s.reserve_now("chat", rate, 1000 * MS, t0 + 2000 * MS)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rest_is_spaced() {
        let s = MemoryPaceStore::new();
        let t0 = Instant::now();
        let rate = Rate::per_second(10).with_burst(3);
        let waits: Vec<_> = (0..5)
            .map(|_| granted(s.reserve_now("card", rate, 1000 * MS, t0)))
            .collect();
        assert_eq!(
            waits,
            [
                Duration::ZERO,
                Duration::ZERO,
                Duration::ZERO,
                100 * MS,
                200 * MS
            ]
        );
    }

    #[test]
    fn no_window_of_one_period_holds_more_than_the_rate() {
        let s = MemoryPaceStore::new();
        let t0 = Instant::now();
        let rate = Rate::per_second(5);
        let mut at: Vec<Duration> = (0..50)
            .map(|i| {
                // Callers arrive in clumps; each goes at its slot.
                let arrive = t0 + (i / 7) as u32 * 450 * MS;
                let wait = granted(s.reserve_now("chat", rate, Duration::from_secs(60), arrive));
                (arrive + wait).duration_since(t0)
            })
            .collect();
        at.sort();
        for (i, start) in at.iter().enumerate() {
            let in_window = at[i..]
                .iter()
                .take_while(|t| **t < *start + 1000 * MS)
                .count();
            assert!(in_window <= 5, "{in_window} in the second from {start:?}");
        }
    }

    #[test]
    fn idle_keys_are_forgotten_past_the_bound() {
        let s = MemoryPaceStore::new();
        let t0 = Instant::now();
        let rate = Rate::per_second(100);
        for i in 0..PRUNE_AT {
            granted(s.reserve_now(&format!("k{i}"), rate, MS, t0));
        }
        granted(s.reserve_now("late", rate, MS, t0 + Duration::from_secs(1)));
        assert_eq!(s.len(), 1);
    }
}
