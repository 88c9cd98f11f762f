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
