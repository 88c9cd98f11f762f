//! The token cache shared through Redis: tenant and app access tokens and the marketplace
//! `app_ticket`, with a copy kept in each process and one fetch across processes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use lark_oapi_core::{BoxFuture, CacheError, TokenCache};

use crate::store::{RedisStore, StoreError, millis, unique_id};

/// Deletes `KEYS[1]` only while it holds `ARGV[1]` (atomic compare-and-delete).
const DELETE_IF_EQUAL: &str = r#"
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"#;

/// A process's copies, with their expiry, and a count of the evictions heard (a copy read
/// from Redis while an eviction arrived is not kept: it may be the evicted token).
#[derive(Default)]
struct Local {
    copies: Mutex<HashMap<String, (String, Instant)>>,
    evictions: AtomicU64,
}

fn lock(local: &Local) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
    local.copies.lock().unwrap_or_else(|p| p.into_inner())
}

/// A short hash of a token for eviction messages (FNV-1a 64, hex): names which copy to
/// drop without sending the token itself.
fn fingerprint(value: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.as_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Listens on `channel` for evictions and drops the copies they name from `local`, until
/// `stop` (the cache is dropped); resubscribes after a lost connection (every second while
/// Redis is unreachable), dropping all copies on each subscription (evictions may have
/// been missed before it).
async fn listen_for_evictions(
    store: RedisStore,
    channel: String,
    local: Weak<Local>,
    stop: Arc<tokio::sync::Notify>,
) {
    loop {
        let subscribed = tokio::select! {
            s = store.subscribe(&channel) => s,
            () = stop.notified() => return,
        };
        if let Ok((mut sink, mut messages)) = subscribed {
            // Evictions published before the subscription (this one's first, or while the
            // connection was down) were not heard: read every token from Redis again.
            match local.upgrade() {
                Some(local) => {
                    local.evictions.fetch_add(1, Ordering::SeqCst);
                    lock(&local).clear();
                }
                None => return,
            }
            // A ping now and then notices a connection that died without closing.
            let mut ping = tokio::time::interval(LISTENER_PING);
            ping.tick().await;
            loop {
                let msg = tokio::select! {
                    m = messages.next() => m,
                    _ = ping.tick() => {
                        let pong = tokio::time::timeout(
                            LISTENER_PING_TIMEOUT,
                            sink.ping::<redis::Value>(),
                        )
                        .await;
                        if matches!(pong, Ok(Ok(_))) {
                            continue;
                        }
                        break;
                    }
                    () = stop.notified() => return,
                };
                let Some(msg) = msg else { break };
                let Some(local) = local.upgrade() else {
                    return;
                };
                let Ok(text) = msg.get_payload::<String>() else {
                    continue;
                };
                let Some((hash, key)) = text.split_once(':') else {
                    continue;
                };
                local.evictions.fetch_add(1, Ordering::SeqCst);
                let mut copies = lock(&local);
                if copies
                    .get(key)
                    .is_some_and(|(value, _)| hash == "*" || fingerprint(value) == hash)
                {
                    copies.remove(key);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.notified() => return,
        }
    }
}

/// How often the eviction listener pings its connection, and how long it waits for the
/// answer before it connects again.
const LISTENER_PING: Duration = Duration::from_secs(30);
const LISTENER_PING_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`TokenCache`] shared by every process that uses the same Redis and prefix.
///
/// - **Hot path in memory.** Each process keeps a copy of what it read until the entry
///   expires in Redis, so a call with a cached token makes no Redis round trip.
/// - **One fetch across processes.** When the token is missing, the processes that miss
///   it together take turns for a short lease in Redis: the holder fetches and stores it,
///   the others wait for it to appear. A process killed while holding the lease delays the
///   others by at most the lease time (10 s).
/// - **A rejected token is evicted for everyone**: removed from Redis only while it is
///   still the one there, so a newer token another process stored meanwhile stays, and
///   dropped from every process's copy at once (a message on the channel
///   `<prefix>:evict:token`, which each cache listens to on a connection of its own; the
///   message names the key and a hash of the token, never the token). Each time that
///   connection is (re)established, the process re-reads its tokens from Redis once.
/// - **Faults.** A Redis failure or timeout is logged and the cache acts as a cache of one
///   process: nothing fails because of Redis.
///
/// Values are secrets: they are never logged, and `Debug` shows none.
pub struct RedisTokenCache {
    store: RedisStore,
    /// The copies read or written by this process, with their expiry (shared with the
    /// eviction listener, which holds it weakly).
    local: Arc<Local>,
    /// Whether the eviction listener was started (on first use, inside a runtime).
    listening: AtomicBool,
    /// Stops the listener when the cache is dropped.
    stop: Arc<tokio::sync::Notify>,
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

impl Drop for RedisTokenCache {
    fn drop(&mut self) {
        // A permit is stored if the listener is not waiting right now.
        self.stop.notify_one();
    }
}

impl RedisTokenCache {
    /// A cache in `store` (keys `<prefix>:token:<key>` and `<prefix>:lease:<key>`).
    pub fn new(store: RedisStore) -> Self {
        Self {
            store,
            local: Arc::default(),
            listening: AtomicBool::new(false),
            stop: Arc::default(),
            leases: Mutex::new(HashMap::new()),
            script: redis::Script::new(DELETE_IF_EQUAL),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        lock(&self.local)
    }

    /// Starts listening for evictions by other processes, once, when first used inside a
    /// Tokio runtime.
    fn listen(&self) {
        if self.listening.load(Ordering::Relaxed) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.listening.swap(true, Ordering::Relaxed) {
            rt.spawn(listen_for_evictions(
                self.store.clone(),
                self.store.key("evict", "token"),
                Arc::downgrade(&self.local),
                self.stop.clone(),
            ));
        }
    }

    /// Tells every process to drop its copy of `key` (if it holds `value`, when given).
    async fn broadcast_eviction(&self, key: &str, value: Option<&str>) {
        let channel = self.store.key("evict", "token");
        let message = format!(
            "{}:{key}",
            value.map_or_else(|| "*".to_owned(), fingerprint)
        );
        let sent = self
            .store
            .run(|mut conn| async move {
                redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(message)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not tell the other processes of an evicted token; their copies lapse or are refused");
        }
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
        self.listen();
        if let Some(value) = self.fresh_copy(key) {
            return Some(value);
        }
        let redis_key = self.store.key("token", key);
        let evictions = self.local.evictions.load(Ordering::SeqCst);
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
                let mut copies = self.local();
                if self.local.evictions.load(Ordering::SeqCst) == evictions {
                    copies.insert(key.to_owned(), (value.clone(), expires));
                }
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
            self.listen();
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
            match removed {
                Ok(()) => self.broadcast_eviction(key, None).await,
                Err(e) => {
                    tracing::warn!(error = %e, "shared token cache unreachable; removed in this process only");
                }
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
            match removed {
                Ok(()) => self.broadcast_eviction(key, Some(value)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "shared token cache unreachable; evicted in this process only");
                }
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
