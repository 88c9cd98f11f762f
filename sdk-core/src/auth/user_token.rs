//! A user's tokens ([`UserToken`]) and where they are kept ([`UserTokenStore`], with the
//! in-memory default and the lease and fencing a store shared between processes provides).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::auth::{BoxFuture, CacheError};
use crate::secret::SecretString;

/// A user's tokens as the platform issued them: the `user_access_token`, the single-use
/// refresh token that replaces it, and when each expires.
///
/// Secrets stay out of `Debug`. To persist a token, store [`access_token`](Self::access_token),
/// [`refresh_token`](Self::refresh_token), the two expiry times and the [`flow`](Self::flow)
/// (`UserTokenFlow::as_str`), and rebuild it with [`UserToken::new`],
/// [`with_refresh_token`](Self::with_refresh_token) and [`with_flow`](Self::with_flow). (An
/// OAuth 2 token given back without its flow still refreshes: the OIDC endpoint refuses its
/// refresh token without spending it, and the v2 endpoint is asked; one request more.)
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use lark_oapi_core::UserToken;
///
/// let now = SystemTime::now();
/// let token = UserToken::new("u-abc", now + Duration::from_secs(7200))
///     .with_refresh_token("ur-def", now + Duration::from_secs(30 * 86_400));
/// assert_eq!(token.access_token().expose(), "u-abc");
/// assert!(!format!("{token:?}").contains("u-abc"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UserToken {
    access_token: SecretString,
    expires_at: SystemTime,
    refresh_token: Option<SecretString>,
    refresh_expires_at: Option<SystemTime>,
    scope: Option<String>,
    flow: UserTokenFlow,
}

/// Which authorization flow issued a user token: it is refreshed on that flow's endpoint
/// (a refresh token of one is refused by the other's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserTokenFlow {
    /// The OIDC endpoints (`/open-apis/authen/v1/oidc/*`, with the app's app_access_token):
    /// [`UserTokens::exchange_code`](crate::UserTokens::exchange_code).
    #[default]
    Oidc,
    /// OAuth 2 on the v2 token endpoint (`/open-apis/authen/v2/oauth/token`, with the app's
    /// id and secret): the PKCE login of [`crate::oauth`] and the device flow.
    OAuth2,
}

impl UserTokenFlow {
    /// `"oidc"` or `"oauth2"`, for stores that persist it.
    pub fn as_str(self) -> &'static str {
        match self {
            UserTokenFlow::Oidc => "oidc",
            UserTokenFlow::OAuth2 => "oauth2",
        }
    }

    /// The flow named by [`as_str`](Self::as_str); anything else is the OIDC default.
    pub fn from_name(name: &str) -> Self {
        match name {
            "oauth2" => UserTokenFlow::OAuth2,
            _ => UserTokenFlow::Oidc,
        }
    }
}

impl UserToken {
    /// A token that expires at `expires_at` and cannot be refreshed.
    pub fn new(access_token: impl Into<SecretString>, expires_at: SystemTime) -> Self {
        Self {
            access_token: access_token.into(),
            expires_at,
            refresh_token: None,
            refresh_expires_at: None,
            scope: None,
            flow: UserTokenFlow::Oidc,
        }
    }

    /// Marks which flow issued the token (default [`UserTokenFlow::Oidc`]); a store that
    /// persists tokens keeps it ([`flow`](Self::flow)).
    pub fn with_flow(mut self, flow: UserTokenFlow) -> Self {
        self.flow = flow;
        self
    }

    /// Which flow issued the token, and so where it is refreshed.
    pub fn flow(&self) -> UserTokenFlow {
        self.flow
    }

    /// Adds the refresh token and the time it expires.
    pub fn with_refresh_token(
        mut self,
        refresh_token: impl Into<SecretString>,
        expires_at: SystemTime,
    ) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self.refresh_expires_at = Some(expires_at);
        self
    }

    /// Adds the scopes the user granted (space-separated, as the platform sends them).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The `user_access_token` (`u-...`), to pass as `.user_access_token(..)`.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// When the access token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The refresh token. It is single-use: each refresh returns a new one.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// When the refresh token expires.
    pub fn refresh_expires_at(&self) -> Option<SystemTime> {
        self.refresh_expires_at
    }

    /// The scopes the user granted, if the platform said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Whether the access token is usable for at least `margin` more.
    pub(crate) fn is_fresh(&self, now: SystemTime, margin: Duration) -> bool {
        now.checked_add(margin)
            .is_some_and(|later| later < self.expires_at)
    }

    /// Whether the access token has not expired yet.
    pub(crate) fn is_unexpired(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }

    /// The refresh token, if present and not expired.
    pub(crate) fn usable_refresh_token(&self, now: SystemTime) -> Option<&SecretString> {
        let token = self.refresh_token.as_ref()?;
        match self.refresh_expires_at {
            Some(at) if now >= at => None,
            _ => Some(token),
        }
    }
}

impl fmt::Debug for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserToken")
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("scope", &self.scope)
            .field("flow", &self.flow)
            .finish()
    }
}

/// Where [`UserTokens`](crate::UserTokens) keeps each user's tokens.
///
/// The default, [`MemoryUserTokenStore`], lives in the process. Implement this trait to keep
/// tokens in a database: refresh tokens are single-use, so a refreshed token must be saved
/// before the old one is forgotten, or the user has to log in again after a restart.
/// Values are secrets: do not log them.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use lark_oapi_core::{BoxFuture, CacheError, UserToken, UserTokenStore};
///
/// /// Stands in for a database table of (key, access, expiry, refresh, refresh expiry).
/// #[derive(Debug, Default)]
/// struct Table(Mutex<HashMap<String, UserToken>>);
///
/// impl UserTokenStore for Table {
///     fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<UserToken>, CacheError>> {
///         let row = self.0.lock().unwrap().get(key).cloned();
///         Box::pin(async move { Ok(row) })
///     }
///     fn save<'a>(&'a self, key: &'a str, token: &'a UserToken) -> BoxFuture<'a, Result<(), CacheError>> {
///         self.0.lock().unwrap().insert(key.to_owned(), token.clone());
///         Box::pin(async { Ok(()) })
///     }
///     fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
///         self.0.lock().unwrap().remove(key);
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait UserTokenStore: Send + Sync + fmt::Debug + 'static {
    /// The token saved under `key`, if any (expired ones included: they may still refresh).
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<UserToken>, CacheError>>;
    /// Saves `token` under `key`, replacing what was there.
    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a UserToken,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Forgets `key`.
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Takes the right to refresh the token under `key` for everyone sharing this store,
    /// for at most `ttl` (a lease): `Some(fence)` when granted, where `fence` is larger than
    /// any fence granted before for `key`; `None` while another process holds the lease
    /// (the caller then watches the store for the token that process saves, and asks
    /// again). An error makes the caller refresh on its own, unfenced.
    ///
    /// A store shared between processes implements these methods together: a granted
    /// lease, and every [`save`](Self::save) and [`remove`](Self::remove) (a login or a
    /// logout), make all fences granted before it stale, so that
    /// [`save_fenced`](Self::save_fenced) or [`remove_fenced`](Self::remove_fenced) with one
    /// of them changes nothing. Within one
    /// process [`UserTokens`](crate::UserTokens) already refreshes each key once at a time,
    /// so a store of one process grants every lease with fence 0 (the default).
    fn lease<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<u64>, CacheError>> {
        let _ = (key, ttl);
        Box::pin(std::future::ready(Ok(Some(0))))
    }

    /// Gives back the lease on `key` granted with `fence` (the refresh is saved, or it
    /// failed), if it is still held with that fence.
    fn release<'a>(&'a self, key: &'a str, fence: u64) -> BoxFuture<'a, Result<(), CacheError>> {
        let _ = (key, fence);
        Box::pin(std::future::ready(Ok(())))
    }

    /// Removes `key` (its refresh token was refused for good) only while `fence` is the
    /// latest fence for `key`, as [`save_fenced`](Self::save_fenced) writes: `Ok(false)`
    /// when a login or logout happened meanwhile, which stands. The default removes
    /// unconditionally.
    fn remove_fenced<'a>(
        &'a self,
        key: &'a str,
        fence: u64,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        let _ = fence;
        Box::pin(async move { self.remove(key).await.map(|()| true) })
    }

    /// Saves a refreshed `token` under `key` only while `fence` is the latest fence for
    /// `key`: no lease was granted and no `save` or `remove` happened since (compare and
    /// set). `Ok(false)` when it was refused: the tokens were replaced or removed meanwhile,
    /// and what the store holds now stands. The default saves unconditionally.
    fn save_fenced<'a>(
        &'a self,
        key: &'a str,
        token: &'a UserToken,
        fence: u64,
    ) -> BoxFuture<'a, Result<bool, CacheError>> {
        let _ = fence;
        Box::pin(async move { self.save(key, token).await.map(|()| true) })
    }
}

/// The in-memory [`UserTokenStore`] (the default): tokens are lost when the process ends.
///
/// ```
/// # fn run(client: &lark_oapi_core::Client) {
/// let users = lark_oapi_core::UserTokens::builder(client)
///     .store(lark_oapi_core::MemoryUserTokenStore::new())
///     .build();
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryUserTokenStore {
    tokens: Mutex<HashMap<String, UserToken>>,
}

impl MemoryUserTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserToken>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl UserTokenStore for MemoryUserTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<UserToken>, CacheError>> {
        let found = self.map().get(key).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a UserToken,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        self.map().insert(key.to_owned(), token.clone());
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.map().remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}
