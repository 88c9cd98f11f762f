//! The connection to Redis shared by every store of this crate: a reconnecting connection
//! manager, a key prefix per deployment, and a timeout on every operation.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The default [`RedisStoreBuilder::op_timeout`].
const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// The default [`RedisStoreBuilder::connect_timeout`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// An id unique among the processes sharing a Redis (process id, a counter, the clock):
/// the owner of a lease or a claim.
pub(crate) fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}-{nanos}", std::process::id())
}

/// Milliseconds for Redis, at least 1.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Why the store could not be set up, or an operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL is not a Redis URL (`redis://[user:password@]host[:port][/db]`, `rediss://`
    /// for TLS, `redis+unix:///path`). The message never repeats the URL's password.
    Url(String),
    /// Redis could not be reached, refused the credentials, or answered with an error (the
    /// driver's error, boxed: the driver is not part of this crate's API).
    Redis(Box<dyn std::error::Error + Send + Sync>),
    /// Redis did not answer within the timeout.
    Timeout(Duration),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Url(why) => write!(f, "invalid Redis URL: {why}"),
            StoreError::Redis(e) => write!(f, "Redis: {e}"),
            StoreError::Timeout(d) => write!(f, "Redis did not answer within {d:?}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Redis(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Builder of a [`RedisStore`].
#[derive(Clone)]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    op_timeout: Duration,
    connect_timeout: Duration,
    root_pem: Option<Vec<u8>>,
}

/// The URL without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<credentials>@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("root_certificate", &self.root_pem.is_some())
            .finish()
    }
}

impl RedisStoreBuilder {
    /// Every key this store writes starts with `prefix` and `:` (default `lark`): give each
    /// deployment (app, environment) sharing one Redis its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one Redis operation may take before it counts as failed (default 500 ms).
    /// A failed operation never fails a call: the stores fall back to what one process
    /// knows, with a logged warning.
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// How long connecting (and each reconnection attempt) may take (default 3 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// For `rediss://`: trust only this CA (PEM), instead of the system's roots (a private
    /// CA, as managed Redis services and self-hosted TLS use).
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_pem = Some(pem.into());
        self
    }

    /// Connects. Fails when the URL is not valid or Redis is not reachable now; once
    /// connected, a lost connection is re-established by itself.
    ///
    /// `rediss://` connects with TLS (rustls on ring: the process's default crypto
    /// provider, installed if there is none), verifying the server's certificate against
    /// the system's roots or the [`root_certificate_pem`](Self::root_certificate_pem); a
    /// password in the URL (`rediss://:password@host` or `user:password@`) authenticates.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let bad_url = |e: redis::RedisError| {
            StoreError::Url(format!("{} ({:?})", redacted(&self.url), e.kind()))
        };
        let tls = self.url.starts_with("rediss://");
        if tls && rustls::crypto::CryptoProvider::get_default().is_none() {
            // Another thread may install one first: either way there is one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = match &self.root_pem {
            Some(pem) if tls => redis::Client::build_with_tls(
                self.url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            Some(_) => {
                return Err(StoreError::Url(format!(
                    "{}: a root certificate is given but the URL is not rediss:// (TLS)",
                    redacted(&self.url)
                )));
            }
            None => redis::Client::open(self.url.as_str()),
        }
        .map_err(bad_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.op_timeout))
            .set_number_of_retries(2);
        let connect = ConnectionManager::new_with_config(client.clone(), config);
        let conn = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| StoreError::Timeout(self.connect_timeout))?
            .map_err(|e| StoreError::Redis(Box::new(e)))?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                connect_timeout: self.connect_timeout,
                conn,
                prefix: self.prefix,
                op_timeout: self.op_timeout,
                url: redacted(&self.url),
            }),
        })
    }
}

/// A connection to Redis for the stores of this crate. Cheap to clone: clones share the
/// connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// For connections of their own (pub/sub).
    client: redis::Client,
    connect_timeout: Duration,
    conn: ConnectionManager,
    prefix: String,
    op_timeout: Duration,
    /// For `Debug`, without the password.
    url: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.url)
            .field("prefix", &self.inner.prefix)
            .field("op_timeout", &self.inner.op_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for the Redis at `url`: `redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` for TLS.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: "lark".into(),
            op_timeout: OP_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            root_pem: None,
        }
    }

    /// The Redis key for `kind` and `key`: `<prefix>:<kind>:<key>`.
    pub(crate) fn key(&self, kind: &str, key: &str) -> String {
        format!("{}:{kind}:{key}", self.inner.prefix)
    }

    /// A pub/sub connection of its own (the shared one cannot subscribe), subscribed to
    /// `channel`; within the connect timeout.
    pub(crate) async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<(redis::aio::PubSubSink, redis::aio::PubSubStream), StoreError> {
        let timeout = self.inner.connect_timeout;
        let subscribe = async {
            let mut pubsub = self.inner.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        };
        match tokio::time::timeout(timeout, subscribe).await {
            Ok(result) => result.map_err(|e| StoreError::Redis(Box::new(e))),
            Err(_) => Err(StoreError::Timeout(timeout)),
        }
    }

    /// Runs `op` on the connection within the operation timeout.
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let timeout = self.inner.op_timeout;
        match tokio::time::timeout(timeout, op(self.inner.conn.clone())).await {
            Ok(result) => result.map_err(|e| StoreError::Redis(Box::new(e))),
            Err(_) => Err(StoreError::Timeout(timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_lose_their_credentials_in_debug_output() {
        assert_eq!(
            redacted("rediss://bot:s3cret@cache.internal:6380/2"),
            "rediss://<credentials>@cache.internal:6380/2"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        let b = super::RedisStore::builder("redis://:pw@h/0");
        assert!(!format!("{b:?}").contains("pw"));
    }
}
