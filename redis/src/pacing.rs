//! Pacing shared through Redis: every process reserves its slots under one limit, on one
//! clock (the Redis server's).

use std::time::Duration;

use lark_oapi_core::pacing::{PaceStore, Rate, Reservation};
use lark_oapi_core::{BoxFuture, CacheError};

use crate::store::RedisStore;

/// GCRA on the Redis clock, in microseconds. `KEYS[1]`: the key's theoretical arrival
/// time; `ARGV`: interval, burst tolerance, bound. Returns `{1, wait}` reserved or
/// `{0, wait}` refused (nothing written).
const RESERVE: &str = r#"
local t = redis.call('time')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('get', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait < 0 then wait = 0 end
if wait > tonumber(ARGV[3]) then return {0, wait} end
local next_tat = tat + tonumber(ARGV[1])
redis.call('set', KEYS[1], string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1)
return {1, wait}
"#;

/// A [`PaceStore`] shared by every process that uses the same Redis and prefix (keys
/// `<prefix>:pace:<key>`, each kept only while slots are reserved ahead): several replicas
/// together keep under a limit such as 5 messages per second to one chat.
///
/// One round trip per paced call (an atomic script on the Redis server's clock, so the
/// processes' clocks do not matter). When Redis fails or is slow, each process paces alone
/// (the [`Pacer`](lark_oapi_core::pacing::Pacer) logs a warning), which keeps each under
/// the limit but not all of them together.
///
/// ```no_run
/// # async fn run(store: lark_oapi_redis::RedisStore) -> lark_oapi_core::Result<()> {
/// use lark_oapi_core::{Config, pacing::Pacer};
/// let config = Config::builder("cli_xxx", "app secret")
///     .pacer(Pacer::shared(lark_oapi_redis::RedisPaceStore::new(store)))
///     .build()?;
/// # let _ = config; Ok(()) }
/// ```
pub struct RedisPaceStore {
    store: RedisStore,
    script: redis::Script,
}

impl std::fmt::Debug for RedisPaceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPaceStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RedisPaceStore {
    /// A pace store in `store`.
    pub fn new(store: RedisStore) -> Self {
        Self {
            store,
            script: redis::Script::new(RESERVE),
        }
    }
}

/// Microseconds, rounded up (a paced interval never shrinks); a `Rate` holds intervals to
/// a year and bounds are capped to a year, so the figures stay exact in Lua's doubles.
fn micros(d: Duration) -> u64 {
    const YEAR_US: u128 = 365 * 86_400 * 1_000_000;
    u64::try_from(d.as_nanos().div_ceil(1000).min(YEAR_US)).unwrap_or(u64::MAX)
}

impl PaceStore for RedisPaceStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<Reservation, CacheError>> {
        Box::pin(async move {
            let redis_key = self.store.key("pace", key);
            let tolerance = rate
                .interval()
                .saturating_mul(rate.burst().saturating_sub(1));
            let args = [micros(rate.interval()), micros(tolerance), micros(max_wait)];
            let script = &self.script;
            let (granted, wait) = self
                .store
                .run(|mut conn| async move {
                    script
                        .key(&redis_key)
                        .arg(args[0])
                        .arg(args[1])
                        .arg(args[2])
                        .invoke_async::<(i64, i64)>(&mut conn)
                        .await
                })
                .await?;
            let wait = Duration::from_micros(wait.max(0).unsigned_abs());
            Ok(if granted == 1 {
                Reservation::Granted { wait }
            } else {
                Reservation::Refused { wait }
            })
        })
    }
}
