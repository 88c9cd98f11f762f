//! The token cache: a small async trait and the in-memory default.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A boxed, `Send` future, as returned by [`TokenCache`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Error type of a [`TokenCache`].
pub type CacheError = Box<dyn std::error::Error + Send + Sync>;

/// Where access tokens and the app ticket are kept between calls.
///
/// The default, [`MemoryTokenCache`], lives in the process. Implement this trait to share
/// tokens between processes (e.g. in Redis). Values are secrets: do not log them.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::{BoxFuture, TokenCache};
///
/// #[derive(Debug)]
/// struct NoCache;
/// impl TokenCache for NoCache {
///     fn get<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<String>, lark_oapi_core::CacheError>> {
///         Box::pin(async { Ok(None) })
///     }
///     fn set<'a>(&'a self, _key: &'a str, _value: String, _ttl: Duration) -> BoxFuture<'a, Result<(), lark_oapi_core::CacheError>> {
///         Box::pin(async { Ok(()) })
///     }
///     fn remove<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<(), lark_oapi_core::CacheError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait TokenCache: Send + Sync + std::fmt::Debug + 'static {
    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CacheError>>;
    /// Stores `value` under `key` for `ttl`.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Removes `key`.
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Removes `key` only while it holds `value` (a rejected token is evicted, a newer one
    /// stored meanwhile by another process stays). The default reads, compares and
    /// removes; a shared cache does it atomically.
    fn remove_if<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            if self.get(key).await?.as_deref() == Some(value) {
                self.remove(key).await?;
            }
            Ok(())
        })
    }

    /// Takes the right to fetch the token under `key` for everyone sharing this cache, for
    /// at most `ttl` (a lease): `true` when this caller should fetch and store it, `false`
    /// while another process holds the lease (the caller then waits for the token to
    /// appear, asking for the lease again now and then). Within one process the token
    /// manager already fetches once per key, so a cache of one process grants every lease
    /// (the default).
    fn lease<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, CacheError>> {
        let _ = (key, ttl);
        Box::pin(std::future::ready(Ok(true)))
    }

    /// Gives back the lease on `key` taken with [`lease`](Self::lease): the token is
    /// stored, or fetching it failed (so another process may try at once).
    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        let _ = key;
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The in-memory token cache (the default).
#[derive(Debug, Default)]
pub struct MemoryTokenCache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryTokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lookup(&self, key: &str) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }
}

impl TokenCache for MemoryTokenCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        let found = self.lookup(key);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        let expires = Instant::now() + ttl;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), (value, expires));
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}
