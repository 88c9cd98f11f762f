//! Where event ids are remembered, so the platform's retries are handled once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::{BoxFuture, CacheError};

/// Remembers the ids of handled events for a while, so a redelivered event is dropped.
///
/// The platform retries an event it did not see acknowledged for about 7.1 hours, and
/// several instances of a bot may receive the retries: implement this trait over a shared
/// store (e.g. Redis `SET id 1 NX PX ttl`) to de-duplicate across processes. The default,
/// [`MemoryDedupStore`], lives in the process.
///
/// If the store fails, the event is handled anyway (a duplicate is better than a loss) and
/// the failure is logged.
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
}

/// The in-process [`DedupStore`] (the default): a map of ids with their expiry, swept in
/// insertion order. At most a million ids (about 100 MB) are kept: past that, the oldest
/// are forgotten first, so a flood of forged ids cannot exhaust memory.
#[derive(Debug)]
pub struct MemoryDedupStore {
    inner: Mutex<Seen>,
    max_ids: usize,
}

impl Default for MemoryDedupStore {
    fn default() -> Self {
        Self::with_capacity_limit(1_000_000)
    }
}

#[derive(Debug, Default)]
struct Seen {
    expiry: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl MemoryDedupStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps at most `max_ids` ids (the oldest are forgotten first).
    pub fn with_capacity_limit(max_ids: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_ids: max_ids.max(1),
        }
    }

    /// Records `id` until `now + ttl`; `true` if it was not live before.
    pub fn first_seen_now(&self, id: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut seen = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Sweep expired ids from the front (they were inserted first).
        while let Some((at, _)) = seen.order.front() {
            if *at > now {
                break;
            }
            if let Some((at, old)) = seen.order.pop_front()
                && seen.expiry.get(&old) == Some(&at)
            {
                seen.expiry.remove(&old);
            }
        }
        if seen.expiry.get(id).is_some_and(|until| *until > now) {
            return false;
        }
        while seen.expiry.len() >= self.max_ids {
            let Some((at, old)) = seen.order.pop_front() else {
                break;
            };
            if seen.expiry.get(&old) == Some(&at) {
                seen.expiry.remove(&old);
            }
        }
        let until = now + ttl;
        seen.expiry.insert(id.to_owned(), until);
        seen.order.push_back((until, id.to_owned()));
        true
    }

    /// Forgets `id`.
    pub fn forget_now(&self, id: &str) {
        let mut seen = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        seen.expiry.remove(id);
    }

    /// How many ids are remembered (expired ones may linger until the next insert).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expiry
            .len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn ids_expire_and_can_be_forgotten() {
        let store = MemoryDedupStore::new();
        assert!(store.first_seen_now("a", Duration::from_secs(60)));
        assert!(!store.first_seen_now("a", Duration::from_secs(60)));
        store.forget_now("a");
        assert!(store.first_seen_now("a", Duration::from_secs(60)));
        // A zero TTL expires at once; the sweep removes it on the next insert (the sweep
        // relies on one TTL per store, as a dispatcher uses).
        let store = MemoryDedupStore::new();
        assert!(store.first_seen_now("b", Duration::ZERO));
        assert!(store.first_seen_now("b", Duration::ZERO));
        assert!(store.first_seen_now("c", Duration::ZERO));
        assert_eq!(store.len(), 1, "only the latest id is left");
        // The size limit forgets the oldest first.
        let store = MemoryDedupStore::with_capacity_limit(2);
        for id in ["x", "y", "z"] {
            assert!(store.first_seen_now(id, Duration::from_secs(60)));
        }
        assert_eq!(store.len(), 2);
        assert!(
            store.first_seen_now("x", Duration::from_secs(60)),
            "x was evicted"
        );
        assert!(!store.first_seen_now("z", Duration::from_secs(60)));
    }
}
