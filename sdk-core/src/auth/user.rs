//! User access tokens: exchanging a login code, keeping each user's tokens, and refreshing
//! them exactly once when they near expiry.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::CallOptions as _;
use crate::auth::{BoxFuture, CacheError, MemoryUserTokenStore, UserToken, UserTokenStore};
use crate::client::Client;
use crate::error::{AuthErrorKind, Error, Result, codes};
use crate::secret::SecretString;
use crate::{Method, TokenTypes};

const OIDC_ACCESS_TOKEN: &str = "/open-apis/authen/v1/oidc/access_token";
const OIDC_REFRESH_ACCESS_TOKEN: &str = "/open-apis/authen/v1/oidc/refresh_access_token";

/// Keeps users' access tokens, keyed by anything you choose (the user's `open_id` is
/// natural), and hands out one that is valid, refreshing it when it nears expiry. Keys appear
/// in error messages: do not use secrets (such as session cookies) as keys.
///
/// - **One refresh per user at a time.** Refresh tokens are single-use; two concurrent
///   refreshes with the same one would make the second fail with 20073 and log the user out.
///   Concurrent callers for one key wait for a single refresh and share its result.
/// - **Rotation is saved before the token is handed out.** If saving fails, the new token is
///   kept in memory and saved again on the next call, so a spent refresh token is never the
///   only one left.
/// - **Another process got there first.** When the platform answers 20073 (refresh token
///   already used), the store is read again: if it holds a newer token, that one is used.
/// - **Soft failure.** If a refresh fails for a transient reason while the current access
///   token is still valid, the current one is returned.
/// - **Clear errors.** When the user must log in again (no token stored, refresh token
///   expired, revoked or invalid), the error answers `true` to
///   [`Error::requires_user_authorization`]; a platform refusal keeps its code, message and
///   log id.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client, code: &str) -> lark_oapi_core::Result<()> {
/// use lark_oapi_core::{CallOptions, Method, UserTokens};
///
/// let users = UserTokens::new(&client);
/// // After the user logged in and was redirected back with `?code=...`:
/// let token = users.exchange_code(code).await?;
/// let me = client
///     .request(Method::GET, "/open-apis/authen/v1/user_info")
///     .user_access_token(token.access_token().clone())
///     .send_value()
///     .await?;
/// let open_id = me.data()["open_id"].as_str().unwrap_or_default().to_owned();
/// users.insert(&open_id, token).await?;
///
/// // Later, on any request made on that user's behalf:
/// let token = users.access_token(&open_id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserTokens {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    store: Arc<dyn UserTokenStore>,
    margin: Duration,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Refreshed tokens the store failed to save, by key; saved again on the next call.
    /// With the fence of the lease it was refreshed under, if any (saved again under it,
    /// so that a logout or login made meanwhile stands).
    unsaved: Mutex<HashMap<String, (UserToken, Option<u64>)>>,
}

impl fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserTokens")
            .field("store", &self.inner.store)
            .field("refresh_margin", &self.inner.margin)
            .finish_non_exhaustive()
    }
}

/// Builds [`UserTokens`] with a store and a refresh margin of your choice.
///
/// ```
/// # fn run(client: &lark_oapi_core::Client) {
/// use std::time::Duration;
/// use lark_oapi_core::{MemoryUserTokenStore, UserTokens};
/// let users = UserTokens::builder(client)
///     .store(MemoryUserTokenStore::new())
///     .refresh_margin(Duration::from_secs(600))
///     .build();
/// # }
/// ```
#[derive(Debug)]
#[must_use = "call `build()` to get the UserTokens"]
pub struct UserTokensBuilder {
    client: Client,
    store: Arc<dyn UserTokenStore>,
    margin: Duration,
}

impl UserTokensBuilder {
    /// Where tokens are kept (default: [`MemoryUserTokenStore`]).
    pub fn store(mut self, store: impl UserTokenStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Refresh an access token once it has less than this left (default: the client's
    /// token refresh margin, 3 minutes unless configured).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The finished [`UserTokens`].
    pub fn build(self) -> UserTokens {
        UserTokens {
            inner: Arc::new(Inner {
                client: self.client,
                store: self.store,
                margin: self.margin,
                flights: Mutex::default(),
                unsaved: Mutex::default(),
            }),
        }
    }
}

#[derive(Serialize)]
struct CodeGrant<'a> {
    grant_type: &'static str,
    code: &'a str,
}

#[derive(Serialize)]
struct RefreshGrant<'a> {
    grant_type: &'static str,
    refresh_token: &'a str,
}

/// A token endpoint's answer (OIDC `data`, or the whole body on the v2 endpoint).
#[derive(Deserialize)]
pub(crate) struct GrantResponse {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: i64,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default, alias = "refresh_token_expires_in")]
    refresh_expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

impl GrantResponse {
    pub(crate) fn into_token(self, issued_at: SystemTime) -> Result<UserToken> {
        if self.access_token.is_empty() {
            return Err(Error::auth(
                AuthErrorKind::TokenMissingInResponse,
                "the user token endpoint answered code 0 without an access_token",
            ));
        }
        // Lifetimes past what the clock can hold mean "practically never".
        let after = |secs: i64| {
            issued_at
                .checked_add(Duration::from_secs(secs.max(0).unsigned_abs()))
                .unwrap_or_else(far_future)
        };
        let mut token = UserToken::new(self.access_token, after(self.expires_in));
        if let Some(refresh) = self.refresh_token.filter(|t| !t.is_empty()) {
            // Without a stated lifetime the platform decides; let it refuse when the time comes.
            let until = self
                .refresh_expires_in
                .filter(|s| *s > 0)
                .map_or_else(far_future, after);
            token = token.with_refresh_token(refresh, until);
        }
        if let Some(scope) = self.scope.filter(|s| !s.is_empty()) {
            token = token.with_scope(scope);
        }
        Ok(token)
    }
}

/// A time no token lives to (2106), representable on every platform.
fn far_future() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u32::MAX.into())
}

/// Platform codes meaning the refresh token can never work again.
fn refresh_token_dead(code: i64) -> bool {
    matches!(
        code,
        codes::REFRESH_TOKEN_INVALID
            | codes::REFRESH_TOKEN_EXPIRED
            | codes::REFRESH_TOKEN_REVOKED
            | codes::REFRESH_TOKEN_USED
    )
}

/// How long a process may hold the right to refresh one user's token for everyone
/// sharing the store (a process killed while refreshing delays the others this long).
const USER_LEASE: Duration = Duration::from_secs(10);
/// How long the refresh request may take under the lease (it leaves room to save).
const REFRESH_DEADLINE: Duration = Duration::from_secs(8);
/// How often a process waiting for another's refresh looks at the store again.
const USER_LEASE_POLL: Duration = Duration::from_millis(25);

/// The outcome of [`UserTokens::shared_lease`].
enum SharedLease {
    /// This process refreshes `token` (under `fence`, when the store granted one).
    Held {
        fence: Option<u64>,
        token: UserToken,
    },
    /// Another process refreshed meanwhile: its token.
    Refreshed(UserToken),
}

/// Gives back the store's refresh lease when dropped (also when the refresh is cancelled).
struct ReleaseLease {
    store: Arc<dyn UserTokenStore>,
    key: String,
    fence: u64,
}

impl Drop for ReleaseLease {
    fn drop(&mut self) {
        let (store, key, fence) = (
            self.store.clone(),
            std::mem::take(&mut self.key),
            self.fence,
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.release(&key, fence).await {
                    tracing::warn!(error = %e, "user token lease release failed; it lapses by itself");
                }
            });
        }
    }
}

/// Holds a key's lock; removes the key's entry from `flights` when the last user is done,
/// also when the holder is cancelled.
struct KeyLock {
    inner: Arc<Inner>,
    key: String,
    flight: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        self.guard.take();
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else waits for this key.
        if Arc::strong_count(&self.flight) == 2 {
            flights.remove(&self.key);
        }
    }
}

impl UserTokens {
    /// User tokens for `client`'s app, kept in memory.
    pub fn new(client: &Client) -> Self {
        Self::builder(client).build()
    }

    /// A builder, to choose the store and refresh margin.
    pub fn builder(client: &Client) -> UserTokensBuilder {
        UserTokensBuilder {
            client: client.clone(),
            store: Arc::new(MemoryUserTokenStore::new()),
            margin: client.inner.config.token_refresh_margin,
        }
    }

    /// Exchanges the login `code` from the authorization redirect for the user's tokens
    /// (`POST /open-apis/authen/v1/oidc/access_token`, with the app's app_access_token).
    ///
    /// A code is valid for 5 minutes and only once. The token is returned, not stored: ask
    /// who the user is with it if you key tokens by user, then [`insert`](Self::insert) it.
    pub async fn exchange_code(&self, code: &str) -> Result<UserToken> {
        if code.trim().is_empty() {
            return Err(Error::InvalidRequest(
                "the authorization code is empty; pass the `code` query parameter of the redirect"
                    .into(),
            ));
        }
        self.grant(
            OIDC_ACCESS_TOKEN,
            &CodeGrant {
                grant_type: "authorization_code",
                code,
            },
        )
        .await
    }

    /// Stores `token` under `key`, replacing any token there. Waits for a refresh of `key`
    /// in flight, so that the refresh cannot overwrite or delete it.
    pub async fn insert(&self, key: &str, token: UserToken) -> Result<()> {
        let _lock = self.lock_key(key).await;
        self.save(key, &token).await
    }

    /// Forgets the tokens under `key` (e.g. when the user logs out). Waits for a refresh of
    /// `key` in flight, so that the refresh cannot bring the tokens back.
    pub async fn remove(&self, key: &str) -> Result<()> {
        let _lock = self.lock_key(key).await;
        self.lock_unsaved().remove(key);
        self.inner
            .store
            .remove(key)
            .await
            .map_err(|e| store_error("remove", key, &e))
    }

    /// The stored token under `key`, as it is now (no refresh).
    pub async fn get(&self, key: &str) -> Result<Option<UserToken>> {
        self.current(key).await
    }

    /// A `user_access_token` for `key` that is valid for at least the refresh margin,
    /// refreshed first if needed.
    ///
    /// Fails with an error for which [`Error::requires_user_authorization`] is `true` when
    /// the user must log in again.
    pub async fn access_token(&self, key: &str) -> Result<SecretString> {
        self.token(key, false, None)
            .await
            .map(|t| t.access_token().clone())
    }

    /// Refreshes the token under `key` now, even if it looks valid. Concurrent calls share
    /// one refresh.
    pub async fn refresh(&self, key: &str) -> Result<UserToken> {
        self.token(key, true, None).await
    }

    /// A valid token in place of `rejected`, which the platform refused (99991677 expired,
    /// or 99991668 invalid): refreshes unless the token under `key` was already replaced.
    /// However many calls failed with the same token, and whenever they get here, it is
    /// refreshed once.
    ///
    /// ```no_run
    /// # async fn run(client: lark_oapi_core::Client, users: lark_oapi_core::UserTokens) -> lark_oapi_core::Result<()> {
    /// use lark_oapi_core::{CallOptions, Method, codes};
    /// let token = users.access_token("ou_7d8a6e6df7621556ce0d21922b676706").await?;
    /// let call = |token| client.request(Method::GET, "/open-apis/authen/v1/user_info").user_access_token(token);
    /// let me = match call(token.clone()).send_value().await {
    ///     Err(e) if matches!(e.code(), Some(codes::USER_TOKEN_EXPIRED | codes::USER_TOKEN_INVALID)) => {
    ///         let fresh = users.refresh_rejected("ou_7d8a6e6df7621556ce0d21922b676706", &token).await?;
    ///         call(fresh).send_value().await?
    ///     }
    ///     other => other?,
    /// };
    /// # Ok(()) }
    /// ```
    pub async fn refresh_rejected(
        &self,
        key: &str,
        rejected: &SecretString,
    ) -> Result<SecretString> {
        self.token(key, true, Some(rejected))
            .await
            .map(|t| t.access_token().clone())
    }

    /// Takes `key`'s lock (waiting for whoever holds it).
    async fn lock_key(&self, key: &str) -> KeyLock {
        let flight = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(key.to_owned()).or_default().clone()
        };
        let mut lock = KeyLock {
            inner: self.inner.clone(),
            key: key.to_owned(),
            flight: flight.clone(),
            guard: None,
        };
        lock.guard = Some(flight.lock_owned().await);
        lock
    }

    /// `seen`: the access token the caller wants replaced (forced refreshes), if it knows it.
    async fn token(
        &self,
        key: &str,
        force: bool,
        seen: Option<&SecretString>,
    ) -> Result<UserToken> {
        let seen = match seen {
            Some(rejected) => Some(rejected.clone()),
            None => {
                let current = self.current(key).await?;
                let unsaved = self.lock_unsaved().contains_key(key);
                if !force
                    && !unsaved
                    && let Some(token) = &current
                    && token.is_fresh(SystemTime::now(), self.inner.margin)
                {
                    return Ok(token.clone());
                }
                current.map(|t| t.access_token().clone())
            }
        };
        // The refresh runs in a task of its own: if this caller is cancelled once the
        // single-use refresh token is spent, the new token is still saved, not lost.
        let task = tokio::spawn(self.clone().refresh_task(key.to_owned(), force, seen));
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::auth(
                AuthErrorKind::Cache,
                format!("the user token refresh was cancelled: {e}"),
            )),
        }
    }

    /// The spawned part of [`token`](Self::token). A boxed future of a named type: the
    /// refresh request goes through the send pipeline, which may call back into
    /// `UserTokens` (`on_behalf_of`), and the compiler needs a type it can see is `Send`.
    fn refresh_task(
        self,
        key: String,
        force: bool,
        seen: Option<SecretString>,
    ) -> BoxFuture<'static, Result<UserToken>> {
        Box::pin(async move {
            let _lock = self.lock_key(&key).await;
            self.refresh_locked(&key, force, seen.as_ref()).await
        })
    }

    /// Under the key's lock: saves a token left unsaved, uses a token someone else just
    /// refreshed, or refreshes. `seen` is the access token the caller saw before it waited.
    async fn refresh_locked(
        &self,
        key: &str,
        force: bool,
        seen: Option<&SecretString>,
    ) -> Result<UserToken> {
        // A token left unsaved is saved first, under the lock, so that no older token can
        // land after a newer one.
        let unsaved = self.lock_unsaved().get(key).cloned();
        match unsaved {
            Some((token, None)) => {
                self.save(key, &token).await.ok();
            }
            Some((token, Some(fence))) => {
                match self.inner.store.save_fenced(key, &token, fence).await {
                    Ok(true) => {
                        self.lock_unsaved().remove(key);
                    }
                    Ok(false) => {
                        tracing::warn!(
                            "a refreshed user token kept in memory lost to a login or logout made meanwhile; dropped"
                        );
                        self.lock_unsaved().remove(key);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "saving a user token kept in memory failed again");
                    }
                }
            }
            None => {}
        }
        let token = self.current(key).await?.ok_or_else(|| {
            Error::auth(
                AuthErrorKind::UserAuthorizationRequired,
                format!(
                    "no user token is stored under {key:?}: send the user through authorization, then `exchange_code` and `insert`"
                ),
            )
        })?;
        let now = SystemTime::now();
        // Whoever held the lock before us may have refreshed it: a token other than the one
        // this caller saw is taken as long as it is unexpired (even a forced refresh, which
        // was asked to replace the one it saw, and even inside the margin, so that waiters
        // never refresh one after another).
        let replaced = seen != Some(token.access_token());
        if (replaced && token.is_unexpired(now))
            || (!force && token.is_fresh(now, self.inner.margin))
        {
            return Ok(token);
        }
        if token.usable_refresh_token(now).is_none() {
            if !force && token.is_unexpired(now) {
                return Ok(token);
            }
            return Err(Error::auth(
                AuthErrorKind::UserAuthorizationRequired,
                format!(
                    "the user token under {key:?} has expired and its refresh token is missing or expired: send the user through authorization again"
                ),
            ));
        }
        // Across processes: one refresh per user, under the store's lease.
        let (fence, token) = match self.shared_lease(key, token).await? {
            SharedLease::Held { fence, token } => (fence, token),
            SharedLease::Refreshed(theirs) => return Ok(theirs),
        };
        let _release = fence.map(|fence| ReleaseLease {
            store: self.inner.store.clone(),
            key: key.to_owned(),
            fence,
        });
        let Some(refresh_token) = token.usable_refresh_token(SystemTime::now()).cloned() else {
            return Err(Error::auth(
                AuthErrorKind::UserAuthorizationRequired,
                format!(
                    "the user token under {key:?} was replaced by one whose refresh token is missing or expired: send the user through authorization again"
                ),
            ));
        };
        // Within the lease: past it another process may take over and spend the same
        // refresh token.
        let refreshed = tokio::time::timeout(
            REFRESH_DEADLINE,
            self.request_refresh(&token, &refresh_token),
        )
        .await
        .unwrap_or(Err(Error::Timeout {
            after: REFRESH_DEADLINE,
        }));
        let e = match refreshed {
            Ok(fresh) => return self.save_refreshed(key, fresh, fence, &refresh_token).await,
            Err(e) => e,
        };
        let code = e.code();
        if code.is_some_and(refresh_token_dead) {
            if code == Some(codes::REFRESH_TOKEN_USED)
                && let Some(theirs) = self
                    .refreshed_elsewhere(key, &refresh_token, token.access_token())
                    .await
            {
                return Ok(theirs);
            }
            tracing::warn!(
                code,
                "user refresh token refused; the user must authorize again"
            );
            self.lock_unsaved().remove(key);
            // Forget it only if it is still the dead one: under the lease, atomically (a
            // login elsewhere since makes the fence stale); unfenced, if the store still
            // holds it.
            let removed = match fence {
                Some(fence) => self.inner.store.remove_fenced(key, fence).await.map(|_| ()),
                None => match self.inner.store.load(key).await {
                    Ok(Some(stored)) if stored.refresh_token() == Some(&refresh_token) => {
                        self.inner.store.remove(key).await
                    }
                    other => other.map(|_| ()),
                },
            };
            if let Err(store) = removed {
                tracing::warn!(error = %store, "removing a dead user token from the store failed");
            }
            return Err(e);
        }
        if !force && token.is_unexpired(SystemTime::now()) {
            tracing::warn!(error = %e, "user token refresh failed; using the current token, which is still valid");
            return Ok(token);
        }
        Err(e)
    }

    /// Takes the store's lease on `key` before spending `token`'s refresh token, waiting
    /// while another process holds it. Returns the lease (`None` when the store could not
    /// grant one: the refresh goes ahead unfenced) with the token to refresh as the store
    /// holds it once the lease is ours, or the token another process refreshed meanwhile.
    async fn shared_lease(&self, key: &str, token: UserToken) -> Result<SharedLease> {
        let store = &self.inner.store;
        let spent = token.refresh_token().cloned();
        // Past this, the holder is neither finishing nor dying (its lease would lapse).
        let give_up = tokio::time::Instant::now() + 3 * USER_LEASE;
        loop {
            let fence = match store.lease(key, USER_LEASE).await {
                Ok(fence) => fence,
                Err(e) => {
                    tracing::warn!(error = %e, "user token store lease failed; refreshing in this process");
                    return Ok(SharedLease::Held { fence: None, token });
                }
            };
            // What the store holds now: another process may have refreshed (or the user
            // logged out or in) since this caller read it.
            let stored = match store.load(key).await {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::warn!(error = %e, "user token store load failed; refreshing the token read before");
                    Some(token.clone())
                }
            };
            let Some(stored) = stored else {
                if let Some(fence) = fence {
                    store.release(key, fence).await.ok();
                }
                return Err(Error::auth(
                    AuthErrorKind::UserAuthorizationRequired,
                    format!(
                        "the user token under {key:?} was removed (logout) while it was being refreshed: send the user through authorization again"
                    ),
                ));
            };
            // Refreshed elsewhere: a new refresh token, or (an answer that kept the refresh
            // token) a new access token.
            let replaced = stored.refresh_token() != spent.as_ref()
                || stored.access_token() != token.access_token();
            if replaced && stored.is_unexpired(SystemTime::now()) {
                if let Some(fence) = fence {
                    store.release(key, fence).await.ok();
                }
                return Ok(SharedLease::Refreshed(stored));
            }
            if fence.is_some() {
                return Ok(SharedLease::Held {
                    fence,
                    token: stored,
                });
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(Error::auth(
                    AuthErrorKind::Cache,
                    format!(
                        "another process has held the refresh lease for {key:?} for over {:?} without saving a token",
                        3 * USER_LEASE
                    ),
                ));
            }
            tokio::time::sleep(USER_LEASE_POLL).await;
        }
    }

    /// Saves a refreshed token under the lease `fence`, or unfenced. A refused fenced save
    /// means a login, a logout or a later lease happened meanwhile: a login or logout
    /// stands (the refreshed token is dropped); if the store still holds the refresh
    /// token just spent, only a later lease happened (this refresh outlived its lease) and
    /// the refreshed token, the only live one, is saved over it.
    async fn save_refreshed(
        &self,
        key: &str,
        fresh: UserToken,
        fence: Option<u64>,
        spent: &SecretString,
    ) -> Result<UserToken> {
        let Some(fence) = fence else {
            // A failed save keeps the token in memory (see `save`); it is still handed out.
            self.save(key, &fresh).await.ok();
            return Ok(fresh);
        };
        match self.inner.store.save_fenced(key, &fresh, fence).await {
            Ok(true) => {
                self.lock_unsaved().remove(key);
                Ok(fresh)
            }
            Err(e) => {
                tracing::warn!(error = %e, "saving a refreshed user token failed; kept in memory and saved again on the next call");
                self.lock_unsaved()
                    .insert(key.to_owned(), (fresh.clone(), Some(fence)));
                Ok(fresh)
            }
            Ok(false) => match self.inner.store.load(key).await {
                Ok(Some(stored)) if stored.refresh_token() == Some(spent) => {
                    // Only a later lease happened (this refresh outlived its own, e.g. the
                    // process was paused): save the only live token under a new lease,
                    // which a login or logout in between would make stale.
                    self.save_under_new_lease(key, &fresh, spent).await;
                    Ok(fresh)
                }
                Ok(Some(stored)) if stored.is_unexpired(SystemTime::now()) => Ok(stored),
                Ok(_) => Err(Error::auth(
                    AuthErrorKind::UserAuthorizationRequired,
                    format!(
                        "the user token under {key:?} was removed or replaced while it was being refreshed: send the user through authorization again"
                    ),
                )),
                Err(e) => Err(store_error("load", key, &e)),
            },
        }
    }

    /// Saves `fresh` under a lease of its own if the store still holds the refresh token
    /// `spent` once the lease is granted; else (the lease is held elsewhere, or a login or
    /// logout came first) keeps what the store holds, with a warning.
    async fn save_under_new_lease(&self, key: &str, fresh: &UserToken, spent: &SecretString) {
        let store = &self.inner.store;
        let Ok(Some(fence)) = store.lease(key, USER_LEASE).await else {
            tracing::warn!(
                "a refreshed user token outlived its lease and another process holds it now; not saved"
            );
            return;
        };
        let still_spent =
            matches!(store.load(key).await, Ok(Some(t)) if t.refresh_token() == Some(spent));
        if still_spent && !matches!(store.save_fenced(key, fresh, fence).await, Ok(true)) {
            tracing::warn!("a refreshed user token that outlived its lease could not be saved");
        }
        store.release(key, fence).await.ok();
    }

    /// After 20073 (refresh token already used): the token another process refreshed and
    /// saved, if one shows up in the store within a short wait.
    /// (A refresh whose answer kept the refresh token shows as a new access token.)
    async fn refreshed_elsewhere(
        &self,
        key: &str,
        spent: &SecretString,
        seen_access: &SecretString,
    ) -> Option<UserToken> {
        for wait_ms in [0, 50, 150, 300] {
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            if let Ok(Some(stored)) = self.inner.store.load(key).await
                && (stored.refresh_token() != Some(spent) || stored.access_token() != seen_access)
                && stored.is_unexpired(SystemTime::now())
            {
                return Some(stored);
            }
        }
        None
    }

    async fn request_refresh(
        &self,
        token: &UserToken,
        refresh_token: &SecretString,
    ) -> Result<UserToken> {
        if token.flow() == crate::UserTokenFlow::OAuth2 {
            return super::oauth2::refresh(&self.inner.client, token, refresh_token, None).await;
        }
        let oidc = self
            .grant(
                OIDC_REFRESH_ACCESS_TOKEN,
                &RefreshGrant {
                    grant_type: "refresh_token",
                    refresh_token: refresh_token.expose(),
                },
            )
            .await;
        match oidc {
            // A store that does not keep the flow gives an OAuth 2 token back as OIDC: the
            // OIDC endpoint refuses its refresh token as invalid (20026), which does not spend
            // it, so the v2 endpoint is asked instead.
            Err(e) if e.code() == Some(codes::REFRESH_TOKEN_INVALID) => {
                super::oauth2::refresh(&self.inner.client, token, refresh_token, None)
                    .await
                    .map_err(|_| e)
            }
            other => other,
        }
    }

    /// The client the tokens are for.
    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Posts a grant to a token endpoint with the app's app_access_token. The answer holds
    /// tokens, so a malformed one is reported without quoting it.
    async fn grant(&self, path: &str, grant: &(impl Serialize + Sync)) -> Result<UserToken> {
        let issued_at = SystemTime::now();
        // A grant the token service failed (20050) is tried once more, as the platform's
        // own CLI does: that failure does not spend a single-use refresh token.
        let mut retry = self.inner.client.inner.config.retry.clone();
        retry.max_retries = retry.max_retries.min(1);
        let raw = self
            .inner
            .client
            .request(Method::POST, path)
            .token_types(TokenTypes::APP)
            .retry_policy(retry)
            .json(grant)
            .send_raw()
            .await?;
        raw.decode_secret::<GrantResponse>(true)?
            .into_token(issued_at)
    }

    /// The token for `key`: one not yet saved, else the store's.
    async fn current(&self, key: &str) -> Result<Option<UserToken>> {
        if let Some((token, _)) = self.lock_unsaved().get(key).cloned() {
            return Ok(Some(token));
        }
        self.inner
            .store
            .load(key)
            .await
            .map_err(|e| store_error("load", key, &e))
    }

    /// Saves to the store (callers hold the key's lock); on failure keeps the token in
    /// memory, where it is used and saved again on the next call.
    async fn save(&self, key: &str, token: &UserToken) -> Result<()> {
        match self.inner.store.save(key, token).await {
            Ok(()) => {
                self.lock_unsaved().remove(key);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "saving a user token failed; kept in memory and saved again on the next call");
                self.lock_unsaved()
                    .insert(key.to_owned(), (token.clone(), None));
                Err(store_error("save", key, &e))
            }
        }
    }

    fn lock_unsaved(&self) -> std::sync::MutexGuard<'_, HashMap<String, (UserToken, Option<u64>)>> {
        self.inner.unsaved.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn store_error(action: &str, key: &str, e: &CacheError) -> Error {
    Error::auth(
        AuthErrorKind::Cache,
        format!("user token store {action} for {key:?} failed: {e}"),
    )
}
