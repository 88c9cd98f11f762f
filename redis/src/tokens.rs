//! The token cache shared through Redis: tenant and app access tokens and the marketplace
//! `app_ticket`, with a copy kept in each process and one fetch across processes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lark_oapi_core::{BoxFuture, CacheError, TokenCache};

use crate::store::{RedisStore, StoreError, millis, unique_id};

/// Deletes `KEYS[1]` only while it holds `ARGV[1]` (atomic compare-and-delete).
const DELETE_IF_EQUAL: &str = r#"
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"#;

/// A [`TokenCache`] shared by every process that uses the same Redis and prefix.
///
/// - **Hot path in memory.** Each process keeps a copy of what it read until the entry
///   expires in Redis, so a call with a cached token makes no Redis round trip.
/// - **One fetch across processes.** When the token is missing, the processes that miss
///   it together take turns for a short lease in Redis: the holder fetches and stores it,
///   the others wait for it to appear. A process killed while holding the lease delays the
///   others by at most the lease time (10 s).
/// - **A rejected token is evicted for everyone**: removed from Redis only while it is
///   still the one there, so a newer token another process stored meanwhile stays.
/// - **Faults.** A Redis failure or timeout is logged and the cache acts as a cache of one
///   process: nothing fails because of Redis.
///
/// Values are secrets: they are never logged, and `Debug` shows none.
pub struct RedisTokenCache {
    store: RedisStore,
    /// The copies read or written by this process, with their expiry.
    local: Mutex<HashMap<String, (String, Instant)>>,
    /// The lease ids this process holds, by cache key.
    leases: Mutex<HashMap<String, String>>,
    script: redis::Script,
}

impl std::fmt::Debug for RedisTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenCache")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RedisTokenCache {
    /// A cache in `store` (keys `<prefix>:token:<key>` and `<prefix>:lease:<key>`).
    pub fn new(store: RedisStore) -> Self {
        Self {
            store,
            local: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            script: redis::Script::new(DELETE_IF_EQUAL),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh_copy(&self, key: &str) -> Option<String> {
        let mut local = self.local();
        match local.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                local.remove(key);
                None
            }
            None => None,
        }
    }

    /// Deletes the Redis key `redis_key` only while it holds `value`, atomically.
    async fn delete_if_equal(&self, redis_key: String, value: &str) -> Result<(), StoreError> {
        let script = &self.script;
        self.store
            .run(|mut conn| async move {
                script
                    .key(&redis_key)
                    .arg(value)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await
            .map(|_| ())
    }

    async fn read(&self, key: &str) -> Option<String> {
        if let Some(value) = self.fresh_copy(key) {
            return Some(value);
        }
        let redis_key = self.store.key("token", key);
        let read = self
            .store
            .run(|mut conn| async move {
                redis::pipe()
                    .get(&redis_key)
                    .pttl(&redis_key)
                    .query_async::<(Option<String>, i64)>(&mut conn)
                    .await
            })
            .await;
        match read {
            Ok((Some(value), ttl_ms)) if ttl_ms > 0 => {
                let expires = Instant::now() + Duration::from_millis(ttl_ms as u64);
                self.local()
                    .insert(key.to_owned(), (value.clone(), expires));
                Some(value)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "shared token cache unreachable; using this process's tokens");
                None
            }
        }
    }
}

impl TokenCache for RedisTokenCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        Box::pin(async move { Ok(self.read(key).await) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let redis_key = self.store.key("token", key);
            self.local()
                .insert(key.to_owned(), (value.clone(), Instant::now() + ttl));
            let written = self
                .store
                .run(|mut conn| async move {
                    redis::cmd("SET")
                        .arg(&redis_key)
                        .arg(value)
                        .arg("PX")
                        .arg(millis(ttl))
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "shared token cache unreachable; the token stays in this process only");
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.local().remove(key);
            let redis_key = self.store.key("token", key);
            let removed = self
                .store
                .run(|mut conn| async move {
                    redis::cmd("DEL")
                        .arg(&redis_key)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            if let Err(e) = removed {
                tracing::warn!(error = %e, "shared token cache unreachable; removed in this process only");
            }
            Ok(())
        })
    }

    fn remove_if<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            {
                let mut local = self.local();
                if local.get(key).is_some_and(|(v, _)| v == value) {
                    local.remove(key);
                }
            }
            let removed = self
                .delete_if_equal(self.store.key("token", key), value)
                .await;
            if let Err(e) = removed {
                tracing::warn!(error = %e, "shared token cache unreachable; evicted in this process only");
            }
            Ok(())
        })
    }

    fn lease<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            let id = unique_id();
            let lease_key = self.store.key("lease", key);
            let taken = self
                .store
                .run(|mut conn| {
                    let id = id.clone();
                    async move {
                        redis::cmd("SET")
                            .arg(&lease_key)
                            .arg(id)
                            .arg("NX")
                            .arg("PX")
                            .arg(millis(ttl))
                            .query_async::<Option<String>>(&mut conn)
                            .await
                    }
                })
                .await;
            match taken {
                Ok(Some(_)) => {
                    self.leases
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key.to_owned(), id);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(e) => {
                    tracing::warn!(error = %e, "shared token cache unreachable; fetching the token in this process");
                    Ok(true)
                }
            }
        })
    }

    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let id = self
                .leases
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(key);
            let Some(id) = id else {
                return Ok(());
            };
            let released = self
                .delete_if_equal(self.store.key("lease", key), &id)
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "could not release the token lease; it lapses by itself");
            }
            Ok(())
        })
    }
}
