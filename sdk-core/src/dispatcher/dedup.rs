//! Where event ids are remembered, so the platform's retries are handled once.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::{BoxFuture, CacheError};

/// Remembers the ids of handled events for a while, so a redelivered event is dropped.
///
/// The platform retries an event it did not see acknowledged for about 7.1 hours, and
/// several instances of a bot may receive the retries: implement this trait over a shared
/// store (e.g. Redis `SET id 1 NX PX ttl`) to de-duplicate across processes. The default,
/// [`MemoryDedupStore`], lives in the process. An `Arc` of a store is a store, so one can
/// be shared and inspected.
///
/// If the store fails, the event is handled anyway (a duplicate is better than a loss) and
/// the failure is logged. A store bounds its own I/O: the dispatcher's handler timeout
/// does not cover these calls.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::{BoxFuture, CacheError};
/// use lark_oapi_core::dispatcher::DedupStore;
///
/// /// Handles every delivery, duplicates included.
/// #[derive(Debug)]
/// struct NoDedup;
/// impl DedupStore for NoDedup {
///     fn first_seen<'a>(&'a self, _id: &'a str, _ttl: Duration) -> BoxFuture<'a, Result<bool, CacheError>> {
///         Box::pin(async { Ok(true) })
///     }
///     fn forget<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait DedupStore: Send + Sync + std::fmt::Debug + 'static {
    /// Records `id` for `ttl`. `true` if it was not recorded before (handle the event),
    /// `false` if it was (a duplicate).
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>>;
    /// Forgets `id`, after its handler failed, so the platform's retry is handled.
    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Claims `id` for a delivery about to be handled by this process: [`Claim::New`]
    /// (handle it), [`Claim::Handled`] (a duplicate), or [`Claim::InFlight`] (another
    /// process is handling it now, its outcome not known yet: the dispatcher waits a while
    /// for it, then answers so that the platform retries, never 200 for a delivery that may
    /// still fail). `lease` bounds the in-flight mark: a process that dies mid-delivery
    /// frees the id after it. The default, for a store of one process (where the dispatcher
    /// itself tracks its deliveries in flight), is [`first_seen`](Self::first_seen).
    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: Duration,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, CacheError>> {
        let _ = lease;
        Box::pin(async move {
            Ok(if self.first_seen(id, ttl).await? {
                Claim::New
            } else {
                Claim::Handled
            })
        })
    }

    /// The delivery of `id` claimed with [`claim`](Self::claim) succeeded: remember it as
    /// handled for `ttl`. The default does nothing (`first_seen` recorded it already).
    fn complete<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>> {
        let _ = (id, ttl);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Claims `id`; while another process has it in flight, waits for its outcome (asking again
/// every 50 ms, at most `patience`): handled there gives [`Claim::Handled`], failed there
/// (the id forgotten, or its lease lapsed) gives [`Claim::New`] to this process.
pub(crate) async fn claim_or_wait(
    store: &dyn DedupStore,
    id: &str,
    lease: Duration,
    ttl: Duration,
    patience: Duration,
) -> Result<Claim, CacheError> {
    let until = Instant::now() + patience;
    loop {
        match store.claim(id, lease, ttl).await? {
            Claim::InFlight if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            claim => return Ok(claim),
        }
    }
}

/// What [`DedupStore::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// Not seen before: this process handles it.
    New,
    /// Handled already: a duplicate, acknowledged without running the handler.
    Handled,
    /// Being handled by another process now.
    InFlight,
}

impl<T: DedupStore> DedupStore for std::sync::Arc<T> {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        (**self).first_seen(id, ttl)
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        (**self).forget(id)
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: Duration,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, CacheError>> {
        (**self).claim(id, lease, ttl)
    }

    fn complete<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>> {
        (**self).complete(id, ttl)
    }
}

/// How many generations cover one TTL: an id's memory is reclaimed at most a sixteenth of
/// the TTL after it expires, and the size limit forgets at most a sixteenth at a time.
const GENERATIONS: u64 = 16;

/// The in-process [`DedupStore`] (the default).
///
/// **Memory is bounded by the number of ids, not their length.** An id is kept as a 128-bit
/// keyed hash (SipHash with keys drawn per store, so ids cannot be chosen to collide; two
/// different ids are taken for one with probability about 2<sup>-128</sup> per pair) and
/// its expiry: 25 bytes of hash table, in tables that are 44 % to 88 % full, so **29 to
/// 57 bytes per id**. At most a million ids are kept by default (about 30 MB, never more
/// than 57 MB, whatever the ids); past that, the oldest sixteenth is forgotten first, so a
/// flood of forged ids cannot exhaust memory. A forgotten id (a failed or cancelled
/// delivery) takes no memory at all.
///
/// Ids live in generations, each opened for a sixteenth of the TTL (or until it holds a
/// sixteenth of the limit): a generation is dropped whole once all its ids have expired,
/// so expired ids cost no sweeping.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::dispatcher::MemoryDedupStore;
///
/// let store = MemoryDedupStore::new();
/// assert!(store.first_seen_now("ev-1", Duration::from_secs(60)), "new");
/// assert!(!store.first_seen_now("ev-1", Duration::from_secs(60)), "a duplicate");
/// store.forget_now("ev-1"); // its handler failed: the retry must be handled
/// assert!(store.first_seen_now("ev-1", Duration::from_secs(60)));
/// assert!(store.memory_bytes() < 1024);
/// ```
#[derive(Debug)]
pub struct MemoryDedupStore {
    inner: Mutex<Generations>,
    max_ids: usize,
    /// Ids a generation holds before the next one opens.
    generation_ids: usize,
    keys: (RandomState, RandomState),
    epoch: Instant,
}

impl Default for MemoryDedupStore {
    fn default() -> Self {
        Self::with_capacity_limit(1_000_000)
    }
}

/// An id's 128-bit keyed hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u64, u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a keyed hash: the table uses it as it is.
        state.write_u64(self.0);
    }
}

/// The table's hasher: passes the key's first half through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Key`; fold anything else in, for completeness.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Milliseconds since the store's epoch at which an id expires.
type Table = HashMap<Key, u64, BuildHasherDefault<PassThrough>>;

#[derive(Debug, Default)]
struct Generations {
    /// Oldest first.
    gens: VecDeque<Generation>,
    /// Ids in all generations (expired ones included until their generation goes).
    len: usize,
    /// How long a generation takes new ids: the longest TTL seen, over [`GENERATIONS`].
    span_ms: u64,
}

#[derive(Debug)]
struct Generation {
    ids: Table,
    opened_ms: u64,
    /// The latest expiry of any id it took: the whole generation expires then.
    expires_ms: u64,
}

impl MemoryDedupStore {
    /// An empty store that keeps at most a million ids.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps at most `max_ids` ids (the oldest are forgotten first).
    pub fn with_capacity_limit(max_ids: usize) -> Self {
        let max_ids = max_ids.max(1);
        let target = (max_ids / GENERATIONS as usize).max(1);
        // A hash table holds 7/8 of a power of two before it doubles: a generation that
        // closes at such a size fills its table.
        let mut generation_ids = target.min(7);
        while generation_ids * 2 <= target {
            generation_ids *= 2;
        }
        Self {
            inner: Mutex::default(),
            max_ids,
            generation_ids,
            keys: (RandomState::new(), RandomState::new()),
            epoch: Instant::now(),
        }
    }

    fn key(&self, id: &str) -> Key {
        Key(self.keys.0.hash_one(id), self.keys.1.hash_one(id))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `id` until `now + ttl`; `true` if it was not live before.
    pub fn first_seen_now(&self, id: &str, ttl: Duration) -> bool {
        let key = self.key(id);
        let now = self.now_ms();
        // Rounded up: an id is remembered for at least its TTL.
        let ttl_ms = u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let until = now.saturating_add(ttl_ms);
        let mut seen = self.lock();
        let seen = &mut *seen;
        // Generations whose every id has expired go whole.
        seen.gens.retain(|g| g.expires_ms > now);
        seen.len = seen.gens.iter().map(|g| g.ids.len()).sum();
        for generation in seen.gens.iter_mut().rev() {
            if let Some(&expires) = generation.ids.get(&key) {
                if expires > now {
                    return false;
                }
                generation.ids.remove(&key);
                seen.len -= 1;
                break;
            }
        }
        while seen.len >= self.max_ids {
            let Some(oldest) = seen.gens.pop_front() else {
                break;
            };
            seen.len -= oldest.ids.len();
        }
        seen.span_ms = seen.span_ms.max(ttl_ms / GENERATIONS).max(1);
        let open_new = seen.gens.back().is_none_or(|g| {
            g.ids.len() >= self.generation_ids || now >= g.opened_ms.saturating_add(seen.span_ms)
        });
        if open_new {
            seen.gens.push_back(Generation {
                ids: Table::default(),
                opened_ms: now,
                expires_ms: 0,
            });
        }
        if let Some(current) = seen.gens.back_mut() {
            current.ids.insert(key, until);
            current.expires_ms = current.expires_ms.max(until);
            seen.len += 1;
        }
        true
    }

    /// Forgets `id`; its memory is freed at once.
    pub fn forget_now(&self, id: &str) {
        let key = self.key(id);
        let mut seen = self.lock();
        let seen = &mut *seen;
        for generation in seen.gens.iter_mut().rev() {
            if generation.ids.remove(&key).is_some() {
                seen.len -= 1;
                break;
            }
        }
    }

    /// How many ids are remembered (expired ones may linger until their generation is
    /// dropped, at most a sixteenth of the TTL later).
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The heap bytes the store's tables hold (their capacity, not only the live ids).
    pub fn memory_bytes(&self) -> usize {
        let seen = self.lock();
        let slot = std::mem::size_of::<(Key, u64)>() + 1;
        let tables: usize = seen
            .gens
            .iter()
            .map(|g| match g.ids.capacity() {
                0 => 0,
                // A table of `capacity` ids has a power of two of slots, 8/7 as many.
                c => (c * 8 / 7).next_power_of_two() * slot,
            })
            .sum();
        tables + seen.gens.capacity() * std::mem::size_of::<Generation>()
    }
}

impl DedupStore for MemoryDedupStore {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        let fresh = self.first_seen_now(id, ttl);
        Box::pin(async move { Ok(fresh) })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.forget_now(id);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn ids_expire_and_can_be_forgotten() {
        let store = MemoryDedupStore::new();
        assert!(store.first_seen_now("a", MINUTE));
        assert!(!store.first_seen_now("a", MINUTE));
        store.forget_now("a");
        assert!(store.first_seen_now("a", MINUTE));
        // A zero TTL expires at once; its generation goes on the next insert.
        let store = MemoryDedupStore::new();
        assert!(store.first_seen_now("b", Duration::ZERO));
        assert!(store.first_seen_now("b", Duration::ZERO));
        assert!(store.first_seen_now("c", Duration::ZERO));
        assert_eq!(store.len(), 1, "only the latest id is left");
        // The size limit forgets the oldest first.
        let store = MemoryDedupStore::with_capacity_limit(2);
        for id in ["x", "y", "z"] {
            assert!(store.first_seen_now(id, MINUTE));
        }
        assert_eq!(store.len(), 2);
        assert!(store.first_seen_now("x", MINUTE), "x was evicted");
        assert!(!store.first_seen_now("z", MINUTE));
    }

    #[test]
    fn a_short_ttl_expires_among_long_ones() {
        let store = MemoryDedupStore::new();
        assert!(store.first_seen_now("long", Duration::from_secs(3600)));
        assert!(store.first_seen_now("short", Duration::from_millis(20)));
        std::thread::sleep(Duration::from_millis(40));
        assert!(store.first_seen_now("short", MINUTE), "expired");
        assert!(!store.first_seen_now("long", MINUTE), "still live");
    }

    #[test]
    fn forgotten_ids_take_no_memory() {
        let store = MemoryDedupStore::new();
        assert!(store.first_seen_now("warm-up", MINUTE));
        let before = store.memory_bytes();
        for _ in 0..100_000 {
            assert!(store.first_seen_now("fails", MINUTE));
            store.forget_now("fails");
        }
        assert_eq!(store.len(), 1);
        assert_eq!(store.memory_bytes(), before);
    }

    #[test]
    fn the_limit_bounds_memory_whatever_the_ids() {
        let store = MemoryDedupStore::with_capacity_limit(16_000);
        let long = "x".repeat(1000);
        for i in 0..50_000 {
            assert!(store.first_seen_now(&format!("{long}{i}"), MINUTE));
        }
        assert!(store.len() <= 16_000, "{}", store.len());
        assert!(
            store.len() >= 15_000,
            "at most a sixteenth forgotten: {}",
            store.len()
        );
        // 57 bytes per id at most, 1 KB ids or not.
        assert!(
            store.memory_bytes() <= 16_000 * 57,
            "{}",
            store.memory_bytes()
        );
        // The newest are kept.
        assert!(!store.first_seen_now(&format!("{long}49999"), MINUTE));
    }
}
