//! Users' tokens shared through Redis: every process sees each user's latest tokens, one
//! process at a time refreshes them (a lease with a fencing number), and a refresh never
//! overwrites a login or a logout that happened meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lark_oapi_core::{BoxFuture, CacheError, UserToken, UserTokenStore};
use serde_json::{Value, json};

use crate::store::{RedisStore, StoreError, millis};

/// Makes every fence granted before stale: increments the fence counter `k`, which starts
/// at the Redis clock in microseconds (so that fences stay larger than any granted before
/// even after the counter was lost: evicted, expired, or a restart without persistence),
/// and keeps it 31 days past its last use.
const BUMP: &str = r#"
local function bump(k)
  local f = redis.call('incr', k)
  if f == 1 then
    local t = redis.call('time')
    f = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('set', k, string.format('%d', f))
  end
  redis.call('pexpire', k, 2678400000)
  return f
end
"#;

/// Grants the refresh lease `KEYS[1]` for `ARGV[1]` ms unless it is held: returns the new
/// fence (from the counter `KEYS[2]`), or -1 while held.
const LEASE: &str = r#"
if redis.call('exists', KEYS[1]) == 1 then
  return -1
end
local fence = bump(KEYS[2])
redis.call('set', KEYS[1], string.format('%d', fence), 'PX', ARGV[1])
return fence
"#;

/// Writes `ARGV[2]` to `KEYS[1]` (for `ARGV[3]` ms, `0` = no expiry; `ARGV[2]` empty:
/// deletes it) only while `KEYS[2]` (the latest fence) is `ARGV[1]`: 1 done, 0 refused.
const FENCED: &str = r#"
if redis.call('get', KEYS[2]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('del', KEYS[1])
elseif ARGV[3] == '0' then
  redis.call('set', KEYS[1], ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"#;

/// Writes (`ARGV[1]` non-empty, for `ARGV[2]` ms, `0` = no expiry) or deletes `KEYS[1]`,
/// making every fence granted before stale.
const SAVE_OR_REMOVE: &str = r#"
bump(KEYS[2])
if ARGV[1] == '' then
  return redis.call('del', KEYS[1])
end
if ARGV[2] == '0' then
  redis.call('set', KEYS[1], ARGV[1])
else
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"#;

/// Deletes the lease `KEYS[1]` only while it holds fence `ARGV[1]`.
const RELEASE: &str = r#"
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"#;

/// A [`UserTokenStore`] shared by every process that uses the same Redis and prefix, for
/// [`UserTokens`](lark_oapi_core::UserTokens) in an app that runs as several processes.
///
/// - **One refresh across processes.** Refresh tokens are single-use: two processes
///   refreshing one user's token together would log the user out. The process that
///   refreshes holds a lease on the user (10 s at most; a process killed while refreshing
///   delays the others that long); the others wait for the token it saves.
/// - **Fenced writes.** Each lease comes with a fencing number; a refreshed token is saved
///   only while no later lease, login ([`UserTokens::insert`]) or logout
///   ([`UserTokens::remove`]) happened, atomically, so a logout or login during a refresh
///   is never undone.
/// - **Every call reads Redis** (one `GET`): a logout in one process is seen by all at once
///   (except by a process holding a refreshed token it could not save yet: it uses that one
///   until it is saved, under its fence, or refused because of the logout).
/// - **Faults.** When Redis fails or is slow (bounded by the store's operation timeout),
///   a token this process read or saved before is used, with a logged warning; a token
///   refreshed meanwhile is kept in memory by `UserTokens` and saved when Redis is back.
///
/// Keys: `<prefix>:user:<key>` (the tokens, as JSON, kept until the refresh token expires),
/// `<prefix>:user_lease:<key>` and `<prefix>:user_fence:<key>` (the fence counter, kept 31
/// days past its last use; it starts at the Redis clock in microseconds, so fences keep
/// growing even after it is lost). Redis 5 or later (scripts read the server's clock).
/// Values are secrets: they are never logged, and `Debug` shows none.
///
/// [`UserTokens::insert`]: lark_oapi_core::UserTokens::insert
/// [`UserTokens::remove`]: lark_oapi_core::UserTokens::remove
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client, store: lark_oapi_redis::RedisStore) {
/// use lark_oapi_core::UserTokens;
/// let users = UserTokens::builder(&client)
///     .store(lark_oapi_redis::RedisUserTokenStore::new(store))
///     .build();
/// # let _ = users; }
/// ```
pub struct RedisUserTokenStore {
    store: RedisStore,
    /// The last token this process read or saved per key: used while Redis is unreachable.
    last: Mutex<HashMap<String, UserToken>>,
    lease: redis::Script,
    fenced: redis::Script,
    save_or_remove: redis::Script,
    release: redis::Script,
}

impl std::fmt::Debug for RedisUserTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisUserTokenStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Nanoseconds since the Unix epoch (exact: a token read back equals the one saved; a
/// `u64` holds them until 2554).
fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn from_unix_ns(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

/// The JSON kept in Redis.
fn encode(token: &UserToken) -> String {
    json!({
        "access_token": token.access_token().expose(),
        "expires_at_ns": unix_ns(token.expires_at()),
        "refresh_token": token.refresh_token().map(|t| t.expose()),
        "refresh_expires_at_ns": token.refresh_expires_at().map(unix_ns),
        "scope": token.scope(),
        "flow": token.flow().as_str(),
    })
    .to_string()
}

/// The token from its JSON; `None` for a value this crate did not write (never quoted:
/// it may hold secrets).
fn decode(text: &str) -> Option<UserToken> {
    let v: Value = serde_json::from_str(text).ok()?;
    let access = v["access_token"].as_str()?;
    let mut token = UserToken::new(access, from_unix_ns(v["expires_at_ns"].as_u64()?));
    if let Some(refresh) = v["refresh_token"].as_str() {
        let until = v["refresh_expires_at_ns"].as_u64().map_or(
            UNIX_EPOCH + Duration::from_secs(u32::MAX.into()),
            from_unix_ns,
        );
        token = token.with_refresh_token(refresh, until);
    }
    if let Some(scope) = v["scope"].as_str() {
        token = token.with_scope(scope);
    }
    // Written before the flow was kept: the OIDC default.
    if let Some(flow) = v["flow"].as_str() {
        token = token.with_flow(lark_oapi_core::UserTokenFlow::from_name(flow));
    }
    Some(token)
}

/// How long Redis keeps a token: until both it and its refresh token expired (0: no
/// expiry, for a refresh token of unstated lifetime).
fn keep_ms(token: &UserToken) -> u64 {
    let until = match token.refresh_expires_at() {
        Some(at) => at.max(token.expires_at()),
        None if token.refresh_token().is_some() => return 0,
        None => token.expires_at(),
    };
    match until.duration_since(SystemTime::now()) {
        // Past a year: the platform's "practically never".
        Ok(left) if left > Duration::from_secs(366 * 86_400) => 0,
        Ok(left) => millis(left),
        Err(_) => 1,
    }
}

impl RedisUserTokenStore {
    /// A store in `store`.
    pub fn new(store: RedisStore) -> Self {
        Self {
            store,
            last: Mutex::new(HashMap::new()),
            lease: redis::Script::new(&format!("{BUMP}{LEASE}")),
            fenced: redis::Script::new(FENCED),
            save_or_remove: redis::Script::new(&format!("{BUMP}{SAVE_OR_REMOVE}")),
            release: redis::Script::new(RELEASE),
        }
    }

    fn last(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserToken>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `script` with the token key and the fence key of `key`, and `args`.
    async fn invoke(
        &self,
        script: &redis::Script,
        first: &str,
        key: &str,
        args: &[String],
    ) -> Result<i64, StoreError> {
        let keys = [
            self.store.key(first, key),
            self.store.key("user_fence", key),
        ];
        self.store
            .run(|mut conn| async move {
                let mut call = script.prepare_invoke();
                call.key(&keys[0]).key(&keys[1]);
                for a in args {
                    call.arg(a);
                }
                call.invoke_async::<i64>(&mut conn).await
            })
            .await
    }

    /// Saves (`Some`) or removes (`None`), making earlier fences stale.
    async fn write(&self, key: &str, token: Option<&UserToken>) -> Result<(), CacheError> {
        let args = match token {
            Some(t) => [encode(t), keep_ms(t).to_string()],
            None => [String::new(), String::new()],
        };
        let written = self.invoke(&self.save_or_remove, "user", key, &args).await;
        match token {
            Some(t) => self.last().insert(key.to_owned(), t.clone()),
            None => self.last().remove(key),
        };
        written.map(|_| ()).map_err(Into::into)
    }
}

impl UserTokenStore for RedisUserTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<UserToken>, CacheError>> {
        Box::pin(async move {
            let redis_key = self.store.key("user", key);
            let read = self
                .store
                .run(|mut conn| async move {
                    redis::cmd("GET")
                        .arg(&redis_key)
                        .query_async::<Option<String>>(&mut conn)
                        .await
                })
                .await;
            match read {
                Ok(None) => {
                    self.last().remove(key);
                    Ok(None)
                }
                Ok(Some(text)) => match decode(&text) {
                    Some(token) => {
                        self.last().insert(key.to_owned(), token.clone());
                        Ok(Some(token))
                    }
                    None => Err(format!(
                        "the Redis value under {:?} is not a user token this crate wrote",
                        self.store.key("user", key)
                    )
                    .into()),
                },
                Err(e) => match self.last().get(key).cloned() {
                    Some(token) => {
                        tracing::warn!(error = %e, "shared user token store unreachable; using the token this process read last");
                        Ok(Some(token))
                    }
                    None => Err(e.into()),
                },
            }
        })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a UserToken,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(self.write(key, Some(token)))
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(self.write(key, None))
    }

    fn lease<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<u64>, CacheError>> {
        Box::pin(async move {
            let fence = self
                .invoke(&self.lease, "user_lease", key, &[millis(ttl).to_string()])
                .await?;
            Ok(u64::try_from(fence).ok())
        })
    }

    fn release<'a>(&'a self, key: &'a str, fence: u64) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let lease_key = self.store.key("user_lease", key);
            let script = &self.release;
            self.store
                .run(|mut conn| async move {
                    script
                        .key(&lease_key)
                        .arg(fence)
                        .invoke_async::<i64>(&mut conn)
                        .await
                })
                .await?;
            Ok(())
        })
    }

    fn remove_fenced<'a>(
        &'a self,
        key: &'a str,
        fence: u64,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            let args = [fence.to_string(), String::new(), String::new()];
            let removed = self.invoke(&self.fenced, "user", key, &args).await? == 1;
            if removed {
                self.last().remove(key);
            }
            Ok(removed)
        })
    }

    fn save_fenced<'a>(
        &'a self,
        key: &'a str,
        token: &'a UserToken,
        fence: u64,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            let args = [fence.to_string(), encode(token), keep_ms(token).to_string()];
            let written = self.invoke(&self.fenced, "user", key, &args).await? == 1;
            if written {
                self.last().insert(key.to_owned(), token.clone());
            }
            Ok(written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_their_json_and_keep_their_lifetimes() {
        let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let token = UserToken::new("u-1", now)
            .with_refresh_token("ur-1", now + Duration::from_secs(86_400))
            .with_scope("contact:user.base:readonly");
        assert_eq!(decode(&encode(&token)), Some(token));
        let bare = UserToken::new("u-2", now);
        assert_eq!(decode(&encode(&bare)), Some(bare));
        let oauth2 = UserToken::new("u-3", now).with_flow(lark_oapi_core::UserTokenFlow::OAuth2);
        assert_eq!(
            decode(&encode(&oauth2)).unwrap().flow(),
            lark_oapi_core::UserTokenFlow::OAuth2
        );
        assert_eq!(decode("{\"access_token\":1}"), None);
        assert_eq!(decode("not json"), None);
    }

    #[test]
    fn redis_keeps_a_token_until_its_refresh_token_expires() {
        let now = SystemTime::now();
        let t = UserToken::new("u", now + Duration::from_secs(7200))
            .with_refresh_token("ur", now + Duration::from_secs(30 * 86_400));
        let ms = keep_ms(&t);
        assert!(ms > 29 * 86_400_000 && ms <= 30 * 86_400_000, "{ms}");
        let forever = UserToken::new("u", now)
            .with_refresh_token("ur", UNIX_EPOCH + Duration::from_secs(u32::MAX.into()));
        assert_eq!(keep_ms(&forever), 0);
        assert_eq!(
            keep_ms(&UserToken::new("u", now - Duration::from_secs(1))),
            1
        );
    }
}
