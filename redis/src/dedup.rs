//! Event de-duplication shared through Redis: an event delivered to several processes (the
//! platform's retries land anywhere) is handled once among them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lark_oapi_core::dispatcher::{Claim, DedupStore};
use lark_oapi_core::{BoxFuture, CacheError};

use crate::store::{RedisStore, millis, unique_id};

/// Claims `KEYS[1]` for owner `ARGV[1]` for `ARGV[2]` ms unless it is claimed or handled:
/// 0 new (claimed now), 1 handled, 2 in flight elsewhere.
const CLAIM: &str = r#"
local v = redis.call('get', KEYS[1])
if not v then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
elseif v == 'handled' then
  return 1
end
return 2
"#;

/// Marks `KEYS[1]` handled for `ARGV[2]` ms, if owner `ARGV[1]` still holds it (with
/// `ARGV[2]` empty: deletes it instead, so the platform's retry is handled).
const SETTLE: &str = r#"
if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  return redis.call('del', KEYS[1])
end
redis.call('set', KEYS[1], 'handled', 'PX', ARGV[2])
return 1
"#;

/// A [`DedupStore`] shared by every process that uses the same Redis and prefix (keys
/// `<prefix>:event:<id>`), for dispatchers behind a load balancer or several long
/// connections of one app.
///
/// An id is first **in flight** (owned by the process handling it, for the handler timeout
/// and a margin), then **handled** (for the de-duplication TTL), or forgotten when its
/// handler fails, so that the platform's retry is handled wherever it lands. A copy that
/// arrives at another process while the first is in flight waits for its outcome; if it
/// stays unknown, the copy is answered with 503, so the platform delivers it again — never
/// 200 for a delivery that may still fail. Each write is fenced by its owner: a process
/// whose claim lapsed cannot overwrite a later one.
///
/// When Redis fails or is slow (bounded by the store's operation timeout), the event is
/// handled anyway, with a logged warning: a duplicate is better than a loss.
///
/// ```no_run
/// # async fn run(store: lark_oapi_redis::RedisStore) {
/// use lark_oapi_core::dispatcher::EventDispatcher;
/// let dispatcher = EventDispatcher::builder()
///     .dedup_store(lark_oapi_redis::RedisDedupStore::new(store))
///     .build();
/// # let _ = dispatcher; }
/// ```
pub struct RedisDedupStore {
    store: RedisStore,
    /// This process's claims in flight: event id → owner token.
    owned: Mutex<HashMap<String, String>>,
    claim: redis::Script,
    settle: redis::Script,
}

impl std::fmt::Debug for RedisDedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDedupStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RedisDedupStore {
    /// A store in `store`.
    pub fn new(store: RedisStore) -> Self {
        Self {
            store,
            owned: Mutex::new(HashMap::new()),
            claim: redis::Script::new(CLAIM),
            settle: redis::Script::new(SETTLE),
        }
    }

    fn owned(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the id handled for `ttl`, or (`None`) forgets it, if this process owns it.
    async fn settle(&self, id: &str, ttl: Option<Duration>) -> Result<(), CacheError> {
        let Some(owner) = self.owned().remove(id) else {
            return Ok(());
        };
        let key = self.store.key("event", id);
        let ttl = ttl.map(|t| millis(t).to_string()).unwrap_or_default();
        let script = &self.settle;
        self.store
            .run(|mut conn| async move {
                script
                    .key(&key)
                    .arg(owner)
                    .arg(ttl)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await
            .map(|_| ())
            .map_err(|e| Box::new(e) as CacheError)
    }
}

impl DedupStore for RedisDedupStore {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move { Ok(matches!(self.claim(id, ttl, ttl).await?, Claim::New)) })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(self.settle(id, None))
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: Duration,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, CacheError>> {
        Box::pin(async move {
            let owner = format!("inflight:{}", unique_id());
            let key = self.store.key("event", id);
            let script = &self.claim;
            let found = self
                .store
                .run(|mut conn| {
                    let owner = owner.clone();
                    async move {
                        script
                            .key(&key)
                            .arg(owner)
                            .arg(millis(lease))
                            .invoke_async::<i64>(&mut conn)
                            .await
                    }
                })
                .await;
            match found {
                Ok(0) => {
                    self.owned().insert(id.to_owned(), owner);
                    Ok(Claim::New)
                }
                Ok(1) => Ok(Claim::Handled),
                Ok(_) => Ok(Claim::InFlight),
                Err(e) => {
                    tracing::warn!(event_id = %id, error = %e, "shared de-duplication unreachable; handling the event here");
                    Ok(Claim::New)
                }
            }
        })
    }

    fn complete<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(self.settle(id, Some(ttl)))
    }
}
