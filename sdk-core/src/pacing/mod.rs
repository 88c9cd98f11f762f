//! Client-side pacing under the platform's documented rate limits, so that a bot slows
//! down before the platform refuses it (99991400, 230020).
//!
//! A [`Pacer`] spaces the operations under one key (a chat, a user, a card entity, an API)
//! at the key's [`Rate`], with the generic cell rate algorithm (GCRA): each caller reserves
//! the next free slot and waits until it comes, in order and without polling. A slot further
//! away than the pacer's bound is not reserved: the call fails with [`Error::Paced`] before
//! anything is sent, never dropped in silence.
//!
//! The slots live in a [`PaceStore`]: in this process ([`MemoryPaceStore`], the default) or
//! shared between processes (`lark_oapi_redis::RedisPaceStore`, one atomic script on the
//! Redis clock), so that several replicas together stay under a limit such as 5 messages
//! per second to one chat.
//!
//! Every client has a pacer ([`ConfigBuilder::pacer`](crate::ConfigBuilder::pacer)); the
//! bot kit's sends and streaming cards use it with the limits in [`limits`], and any call
//! can ask for it with [`CallOptions::pace`](crate::CallOptions::pace):
//!
//! ```no_run
//! # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
//! use lark_oapi_core::{CallOptions, Method, pacing::limits};
//! client
//!     .request(Method::POST, "/open-apis/im/v1/messages")
//!     .query("receive_id_type", "chat_id")
//!     .pace("im:chat_id:oc_84983ff6516d731e5b5f68d4ea2e1da5", limits::MESSAGES_PER_RECEIVER)
//!     .json(&serde_json::json!({"receive_id": "oc_84983ff6516d731e5b5f68d4ea2e1da5", "msg_type": "text", "content": "{\"text\":\"hi\"}"}))
//!     .send_value()
//!     .await?;
//! # Ok(()) }
//! ```

mod memory;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use memory::MemoryPaceStore;

use crate::auth::{BoxFuture, CacheError};
use crate::error::{Error, Result};

/// The default [`Pacer::max_wait`].
const MAX_WAIT: Duration = Duration::from_secs(10);
/// The default [`Pacer::jitter_allowance`].
const JITTER_ALLOWANCE: Duration = Duration::from_millis(10);

/// A rate: at most `n` operations per period, spaced evenly, with bursts of up to
/// [`burst`](Self::with_burst) operations at once (1 by default: evenly spaced, so that no
/// window of one period ever holds more than `n`).
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::pacing::Rate;
/// assert_eq!(Rate::per_second(5).interval(), Duration::from_millis(200));
/// assert_eq!(Rate::per_minute(1000).interval(), Duration::from_millis(60));
/// assert_eq!(Rate::per_second(0).interval(), Duration::from_secs(1)); // at least 1
/// // Rounded up: 3 a second never become 4.
/// assert_eq!(Rate::per(3, Duration::from_secs(1)).interval(), Duration::from_nanos(333_333_334));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    interval: Duration,
    burst: u32,
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate(1 per {:?}, burst {})", self.interval, self.burst)
    }
}

impl Rate {
    /// `n` per second (`n` of 0 counts as 1).
    pub const fn per_second(n: u32) -> Rate {
        Rate::per(n, Duration::from_secs(1))
    }

    /// `n` per minute (`n` of 0 counts as 1).
    pub const fn per_minute(n: u32) -> Rate {
        Rate::per(n, Duration::from_secs(60))
    }

    /// `n` per `period` (`n` of 0 counts as 1; a zero period paces nothing). The interval
    /// is rounded up to the nanosecond, so that `n` never become `n + 1`, and held to at
    /// most a year.
    pub const fn per(n: u32, period: Duration) -> Rate {
        const YEAR_NS: u128 = 365 * 86_400 * 1_000_000_000;
        let n = if n == 0 { 1 } else { n as u128 };
        let mut ns = period.as_nanos().div_ceil(n);
        if ns > YEAR_NS {
            ns = YEAR_NS;
        }
        Rate {
            // At most a year in nanoseconds: fits a u64.
            interval: Duration::from_nanos(ns as u64),
            burst: 1,
        }
    }

    /// Allows `burst` operations at once after a quiet spell (at least 1), the rest still
    /// spaced by the interval.
    pub const fn with_burst(mut self, burst: u32) -> Rate {
        self.burst = if burst == 0 { 1 } else { burst };
        self
    }

    /// The time between two operations.
    pub const fn interval(&self) -> Duration {
        self.interval
    }

    /// How many operations may go at once.
    pub const fn burst(&self) -> u32 {
        self.burst
    }
}

/// The platform's documented limits (bot-and-auth facts §7), for [`Pacer::acquire`] and
/// [`CallOptions::pace`](crate::CallOptions::pace).
pub mod limits {
    use super::Rate;

    /// Messages to one chat (shared by every bot in it) or to one user: 5 per second.
    pub const MESSAGES_PER_RECEIVER: Rate = Rate::per_second(5);
    /// Updates of one message (`PATCH` of a card message): 5 per second.
    pub const MESSAGE_UPDATES: Rate = Rate::per_second(5);
    /// Operations on one card entity (CardKit): 10 per second.
    pub const CARD_ENTITY_OPS: Rate = Rate::per_second(10);
    /// One API of one app in one tenant: 50 per second (the 1,000 per minute beside it is
    /// not paced: the retry policy waits out 99991400 as the platform's reset header says).
    pub const API_PER_SECOND: Rate = Rate::per_second(50);
    /// A custom bot (webhook): 5 per second (and 100 per minute, not paced).
    pub const CUSTOM_BOT: Rate = Rate::per_second(5);
}

/// The outcome of [`PaceStore::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reservation {
    /// The slot is reserved: go after `wait`.
    Granted {
        /// How long to wait before the operation.
        wait: Duration,
    },
    /// The next slot is `wait` away, past the bound: nothing was reserved.
    Refused {
        /// How far away the next slot is.
        wait: Duration,
    },
}

/// Where a [`Pacer`] keeps the next free slot of each key.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::pacing::{MemoryPaceStore, PaceStore, Rate, Reservation};
/// # tokio_test_block_on(async {
/// let store = MemoryPaceStore::new();
/// let rate = Rate::per_second(5);
/// let max = Duration::from_secs(1);
/// assert_eq!(store.reserve("k", rate, max).await.unwrap(), Reservation::Granted { wait: Duration::ZERO });
/// let Reservation::Granted { wait } = store.reserve("k", rate, max).await.unwrap() else { panic!() };
/// assert!(wait > Duration::from_millis(190) && wait <= Duration::from_millis(200));
/// # });
/// # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
/// # }
/// ```
pub trait PaceStore: Send + Sync + fmt::Debug + 'static {
    /// Reserves the next slot of `key` under `rate`, unless it is more than `max_wait` away
    /// (then nothing is reserved). Concurrent reservations get consecutive slots.
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        max_wait: Duration,
    ) -> BoxFuture<'a, std::result::Result<Reservation, CacheError>>;
}

/// A call that would have to wait past the pacer's bound for its slot under a rate limit
/// ([`Error::Paced`]). Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaceError {
    /// The paced key (e.g. `im:chat_id:oc_…`).
    pub key: String,
    /// Its rate.
    pub rate: Rate,
    /// How far away its next free slot was.
    pub wait: Duration,
    /// The pacer's bound.
    pub max_wait: Duration,
}

impl fmt::Display for PaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pacing {:?} at one operation per {:?}: the next free slot is {:?} away, past the bound of {:?}; send less often to it, or raise Pacer::max_wait",
            self.key, self.rate.interval, self.wait, self.max_wait
        )
    }
}

impl std::error::Error for PaceError {}

/// Spaces operations per key at their rate (see the [module docs](self)). Cheap to clone:
/// clones share the store.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::pacing::{Pacer, Rate};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let pacer = Pacer::new().max_wait(Duration::from_millis(250)).jitter_allowance(Duration::ZERO);
/// let rate = Rate::per_second(10);
/// let started = std::time::Instant::now();
/// // Four at once: the slots 0, 100 and 200 ms from now; the fourth, 300 ms away, is refused.
/// let call = || pacer.acquire("card:7355", rate);
/// let (a, b, c, d) = tokio::join!(call(), call(), call(), call());
/// assert!(a.is_ok() && b.is_ok() && c.is_ok());
/// assert!(matches!(d, Err(lark_oapi_core::Error::Paced(_))));
/// assert!(started.elapsed() >= Duration::from_millis(190));
/// # });
/// ```
#[derive(Clone)]
pub struct Pacer {
    store: Arc<dyn PaceStore>,
    local: Arc<MemoryPaceStore>,
    max_wait: Duration,
    jitter: Duration,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("store", &self.store)
            .field("max_wait", &self.max_wait)
            .field("jitter_allowance", &self.jitter)
            .finish()
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

impl Pacer {
    /// A pacer of this process ([`MemoryPaceStore`]), waiting up to 10 s for a slot.
    pub fn new() -> Pacer {
        let local = Arc::new(MemoryPaceStore::new());
        Pacer {
            store: local.clone(),
            local,
            max_wait: MAX_WAIT,
            jitter: JITTER_ALLOWANCE,
        }
    }

    /// A pacer whose slots live in `store` (shared between processes). When the store
    /// fails, this process paces alone, with a logged warning.
    pub fn shared(store: impl PaceStore) -> Pacer {
        Pacer {
            store: Arc::new(store),
            ..Pacer::new()
        }
    }

    /// How long a call may wait for its slot before it fails with [`Error::Paced`]
    /// (default 10 s).
    pub fn max_wait(mut self, max_wait: Duration) -> Pacer {
        self.max_wait = max_wait;
        self
    }

    /// Added to every interval, so that operations paced right at a limit still keep under
    /// it when the network delays one more than the next (default 10 ms).
    pub fn jitter_allowance(mut self, allowance: Duration) -> Pacer {
        self.jitter = allowance;
        self
    }

    /// Waits for the next slot of `key` under `rate`, or fails at once with
    /// [`Error::Paced`] if it is further away than [`max_wait`](Self::max_wait).
    /// Cancelling the wait gives no slot back (the slot passes unused).
    pub async fn acquire(&self, key: &str, rate: Rate) -> Result<()> {
        self.acquire_all(&[(key, rate)]).await
    }

    /// Waits for a slot under every key at once: reserves one under each, then waits for
    /// the furthest, so that each key's operation goes no earlier than its slot. If a key's
    /// slot is past the bound, fails with [`Error::Paced`] for it; the slots already
    /// reserved under the keys before it pass unused.
    pub async fn acquire_all<K: AsRef<str>>(&self, keys: &[(K, Rate)]) -> Result<()> {
        let mut longest = Duration::ZERO;
        for (key, rate) in keys {
            let key = key.as_ref();
            if rate.interval.is_zero() {
                continue;
            }
            match self.reserve(key, *rate).await {
                Reservation::Granted { wait } => longest = longest.max(wait),
                Reservation::Refused { wait } => {
                    return Err(Error::Paced(Box::new(PaceError {
                        key: key.to_owned(),
                        rate: *rate,
                        wait,
                        max_wait: self.max_wait,
                    })));
                }
            }
        }
        if !longest.is_zero() {
            tokio::time::sleep(longest).await;
        }
        Ok(())
    }

    /// One reservation: in the store, and in this process's own as well when the store is
    /// shared (so that pacing alone after a store failure knows the slots taken before).
    async fn reserve(&self, key: &str, rate: Rate) -> Reservation {
        let padded = Rate {
            interval: rate.interval.saturating_add(self.jitter),
            ..rate
        };
        let shared = !std::ptr::addr_eq(Arc::as_ptr(&self.store), Arc::as_ptr(&self.local));
        match self.store.reserve(key, padded, self.max_wait).await {
            Ok(reserved) => {
                if shared && matches!(reserved, Reservation::Granted { .. }) {
                    let _ = self.local.reserve(key, padded, Duration::MAX).await;
                }
                reserved
            }
            Err(e) => {
                tracing::warn!(error = %e, key, "shared pace store failed; pacing in this process");
                self.local
                    .reserve(key, padded, self.max_wait)
                    .await
                    .unwrap_or(Reservation::Granted {
                        wait: Duration::ZERO,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn several_keys_wait_for_the_furthest_slot_and_a_refusal_names_its_key() {
        block_on(async {
            let pacer = Pacer::new()
                .jitter_allowance(Duration::ZERO)
                .max_wait(Duration::from_millis(250));
            let chat = Rate::per_second(5);
            let api = Rate::per_second(10);
            // The chat's next slot is 200 ms away, the API's 100 ms: the call waits 200.
            pacer
                .acquire_all(&[("chat", chat), ("api", api)])
                .await
                .unwrap();
            pacer.acquire("api", api).await.unwrap(); // now 100 ms away, waited for
            let started = tokio::time::Instant::now();
            pacer
                .acquire_all(&[("api", api), ("chat", chat)])
                .await
                .unwrap();
            let waited = started.elapsed();
            assert!(waited >= Duration::from_millis(90), "{waited:?}");
            // Two at once: the first takes the chat's slot 200 ms away; the second's, 400
            // ms away, is past the bound (its API slot was fine): refused for "chat".
            let both = [("api", api), ("chat", chat)];
            let (first, second) =
                tokio::join!(pacer.acquire("chat", chat), pacer.acquire_all(&both));
            first.unwrap();
            match second {
                Err(Error::Paced(e)) => {
                    assert_eq!(e.key, "chat");
                    assert!(e.wait > Duration::from_millis(250), "{e:?}");
                    assert!(e.to_string().contains("\"chat\""), "{e}");
                }
                other => panic!("{other:?}"),
            }
            // A zero interval paces nothing, jitter allowance or not.
            let free = Pacer::new();
            for _ in 0..100 {
                free.acquire("k", Rate::per(5, Duration::ZERO))
                    .await
                    .unwrap();
            }
        });
    }
}
