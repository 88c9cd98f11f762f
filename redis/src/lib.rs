//! State shared through Redis, for an app that runs as several processes (replicas behind a
//! load balancer, several long connections): the access tokens and the marketplace
//! `app_ticket` ([`RedisTokenCache`]: one token, fetched once between the processes), the
//! ids of events handled ([`RedisDedupStore`]: an event handled once between them), and
//! users' tokens ([`RedisUserTokenStore`]: each user's single-use refresh token spent once
//! between them), and the pacing of sends ([`RedisPaceStore`]: together under the
//! platform's rate limits).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use lark_oapi_redis::{RedisStore, RedisTokenCache};
//!
//! let store = RedisStore::builder("redis://127.0.0.1:6379/0")
//!     .prefix("my-bot") // one per deployment sharing the Redis
//!     .connect()
//!     .await?;
//! let config = lark_oapi_core::Config::builder("cli_xxx", "app secret")
//!     .token_cache(Arc::new(RedisTokenCache::new(store)))
//!     .build()?;
//! let client = lark_oapi_core::Client::new(config);
//! # let _ = client; Ok(()) }
//! ```
//!
//! **Connection.** `redis://` or `rediss://` (TLS) URLs with the password in them, a key
//! prefix per deployment, and a connection that re-establishes itself: [`RedisStore`].
//!
//! **Faults.** Every Redis operation is bounded by the store's operation timeout. When Redis
//! is slow or down, the cache behaves as a cache of one process (with a logged warning):
//! calls still authenticate, each process with its own token, and sharing resumes when
//! Redis is back (the connection is re-established by itself).

mod dedup;
mod pacing;
mod store;
mod tokens;
mod users;

pub use dedup::RedisDedupStore;
pub use pacing::RedisPaceStore;
pub use store::{RedisStore, RedisStoreBuilder, StoreError};
pub use tokens::RedisTokenCache;
pub use users::RedisUserTokenStore;
