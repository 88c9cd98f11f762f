//! The token manager: fetches tenant and app tokens, caches them, one fetch per key at a time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::TokenTypes;
use crate::auth::{TokenKind, assertion};
use crate::config::{AppType, Config};
use crate::error::{AuthErrorKind, Error, Result, codes};
use crate::request::RequestSpec;
use crate::request::exchange::bearer_header;
use crate::response::RawResponse;
use crate::secret::SecretString;

const SELF_BUILT_TENANT: &str = "/open-apis/auth/v3/tenant_access_token/internal";
const SELF_BUILT_APP: &str = "/open-apis/auth/v3/app_access_token/internal";
const MARKETPLACE_TENANT: &str = "/open-apis/auth/v3/tenant_access_token";
const MARKETPLACE_APP: &str = "/open-apis/auth/v3/app_access_token";
const RESEND_APP_TICKET: &str = "/open-apis/auth/v3/app_ticket/resend";
/// The token endpoint of client assertions, on the accounts host.
pub(crate) const ASSERTION_TOKEN: &str = "/oauth/v3/token";

/// How long one process may hold the right to fetch a token for every process sharing the
/// cache: one killed while fetching delays the others by at most this.
const FETCH_LEASE: Duration = Duration::from_secs(10);

/// How often a process waiting for another one's fetch reads the cache again.
const FETCH_POLL: Duration = Duration::from_millis(20);

/// Gives the fetch lease back when the fetch ends, however it ends (a dropped future
/// included: the release then runs on the runtime, or the lease lapses by itself).
struct Release<'a> {
    cache: &'a std::sync::Arc<dyn crate::auth::TokenCache>,
    key: &'a str,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let (cache, key) = (self.cache.clone(), self.key.to_owned());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = cache.release(&key).await {
                    tracing::warn!(error = %e, "token cache lease release failed; it lapses by itself");
                }
            });
        }
    }
}

/// Fetches and caches tokens. Concurrent misses on one key make a single fetch (across
/// processes too, when the cache is shared: see [`TokenCache::lease`](crate::auth::TokenCache::lease)).
#[derive(Debug)]
pub(crate) struct TokenManager {
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    app_ticket: RwLock<Option<SecretString>>,
    /// Cache keys that do not depend on a tenant key, computed once.
    tenant_key: String,
    app_key: String,
    /// The last `Authorization` value built per token kind, reused while the token is the same.
    headers: Mutex<[Option<(SecretString, HeaderValue)>; 2]>,
}

#[derive(Serialize)]
struct AppCredentials<'a> {
    app_id: &'a str,
    app_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_ticket: Option<&'a str>,
}

#[derive(Serialize)]
struct MarketplaceTenantRequest<'a> {
    app_access_token: &'a str,
    tenant_key: &'a str,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    tenant_access_token: Option<String>,
    #[serde(default)]
    app_access_token: Option<String>,
    #[serde(default)]
    expire: Option<i64>,
    /// The jwt-bearer grant's answer (OAuth style).
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The jwt-bearer grant of a tenant token from a client assertion.
#[derive(Serialize)]
struct AssertionGrant<'a> {
    grant_type: &'static str,
    client_assertion_type: &'static str,
    client_assertion: &'a str,
    client_id: &'a str,
}

/// What the token manager needs from the runtime that owns it: the configuration, itself,
/// and a way to send its own (token-less) requests through the retrying pipeline. The
/// runtime implements it; the manager knows nothing above it.
pub(crate) trait Platform: Sync {
    /// The client's configuration.
    fn config(&self) -> &Config;
    /// The token manager (the runtime owns it).
    fn tokens(&self) -> &TokenManager;
    /// Sends a request that carries no token, with the pipeline's retries, and returns the
    /// answer read in full.
    fn send_buffered<'a>(
        &'a self,
        spec: &'a RequestSpec,
    ) -> Pin<Box<dyn Future<Output = Result<RawResponse>> + Send + 'a>>;
}

impl TokenManager {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            flights: Mutex::default(),
            app_ticket: RwLock::default(),
            tenant_key: format!("lark:{}:{}", TokenKind::Tenant.as_str(), config.app_id),
            app_key: format!("lark:{}:{}", TokenKind::App.as_str(), config.app_id),
            headers: Mutex::default(),
        }
    }

    fn cache_key<'c>(
        rt: &'c dyn Platform,
        kind: TokenKind,
        tenant_key: Option<&str>,
    ) -> Cow<'c, str> {
        let config = &rt.config();
        let tokens = &rt.tokens();
        match (config.app_type, kind) {
            (AppType::Marketplace, TokenKind::Tenant) => Cow::Owned(format!(
                "{}:{}",
                tokens.tenant_key,
                tenant_key.unwrap_or_default()
            )),
            (_, TokenKind::Tenant) => Cow::Borrowed(&tokens.tenant_key),
            (_, TokenKind::App) => Cow::Borrowed(&tokens.app_key),
        }
    }

    /// `Bearer <token>` as a sensitive header value, reusing the last one built for `kind`.
    pub(crate) fn bearer(&self, kind: TokenKind, token: &SecretString) -> Result<HeaderValue> {
        let slot = kind as usize;
        let mut headers = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, h)) = &headers[slot]
            && t == token
        {
            return Ok(h.clone());
        }
        let header = bearer_header(token)?;
        headers[slot] = Some((token.clone(), header.clone()));
        Ok(header)
    }

    fn ticket_key(rt: &dyn Platform) -> String {
        format!("lark:app_ticket:{}", rt.config().app_id)
    }

    /// A valid token of `kind` (marketplace tenant tokens: for `tenant_key`).
    pub(crate) async fn token(
        &self,
        rt: &dyn Platform,
        kind: TokenKind,
        tenant_key: Option<&str>,
    ) -> Result<SecretString> {
        let config = &rt.config();
        if config.app_type == AppType::Marketplace
            && kind == TokenKind::Tenant
            && tenant_key.is_none_or(str::is_empty)
        {
            return Err(Error::auth(
                AuthErrorKind::TenantKeyMissing,
                "a marketplace app needs a tenant key to get a tenant_access_token; pass `.tenant_key(..)` (from the event's header.tenant_key)",
            ));
        }
        if !config.token_cache_enabled {
            // Boxed: fetching goes through the send pipeline, which asks for tokens.
            return Ok(Box::pin(self.fetch(rt, kind, tenant_key)).await?.0);
        }
        let key = Self::cache_key(rt, kind, tenant_key);
        let key: &str = &key;
        if let Some(token) = cache_get(rt, key).await? {
            return Ok(SecretString::new(token));
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(key.to_owned()).or_default().clone()
        };
        let guard = flight.lock().await;
        // Whoever held the lock before us may have fetched it.
        let result = match cache_get(rt, key).await {
            Ok(Some(token)) => Ok(SecretString::new(token)),
            Ok(None) => self.fetch_once(rt, kind, tenant_key, key).await,
            Err(e) => Err(e),
        };
        drop(guard);
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if Arc::strong_count(&flight) == 2 {
            flights.remove(key);
        }
        result
    }

    /// Fetches the token under `key` once for every process sharing the cache: the holder
    /// of the cache's lease fetches and stores it; the others wait for it to appear (or
    /// for the lease to come free: its holder failed, or died and the lease lapsed).
    async fn fetch_once(
        &self,
        rt: &dyn Platform,
        kind: TokenKind,
        tenant_key: Option<&str>,
        key: &str,
    ) -> Result<SecretString> {
        let cache = &rt.config().token_cache;
        loop {
            let leased = cache.lease(key, FETCH_LEASE).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "token cache lease failed; fetching in this process");
                true
            });
            if leased {
                let _release = Release { cache, key };
                // The holder before us may have stored it after our last read.
                if let Some(token) = cache_get(rt, key).await? {
                    return Ok(SecretString::new(token));
                }
                let (token, ttl) = Box::pin(self.fetch(rt, kind, tenant_key)).await?;
                if let Err(e) = cache.set(key, token.expose().to_owned(), ttl).await {
                    tracing::warn!(error = %e, "token cache set failed; continuing with the fetched token");
                }
                return Ok(token);
            }
            tokio::time::sleep(FETCH_POLL).await;
            if let Some(token) = cache_get(rt, key).await? {
                return Ok(SecretString::new(token));
            }
        }
    }

    /// Evicts `bad` if it is still the cached token for its key.
    pub(crate) async fn invalidate(
        &self,
        rt: &dyn Platform,
        kind: TokenKind,
        tenant_key: Option<&str>,
        bad: &SecretString,
    ) {
        let config = &rt.config();
        if !config.token_cache_enabled {
            return;
        }
        let key = Self::cache_key(rt, kind, tenant_key);
        let _ = config.token_cache.remove_if(&key, bad.expose()).await;
        if kind == TokenKind::Tenant && config.app_type == AppType::Marketplace {
            // The app token behind it may be the stale one.
            let app_key = Self::cache_key(rt, TokenKind::App, None);
            let _ = config.token_cache.remove(&app_key).await;
        }
    }

    /// Stores the latest app_ticket pushed by the platform (marketplace apps).
    pub(crate) async fn set_app_ticket(&self, rt: &dyn Platform, ticket: &str) {
        *self.app_ticket.write().unwrap_or_else(|p| p.into_inner()) =
            Some(SecretString::new(ticket));
        let config = &rt.config();
        if config.token_cache_enabled {
            let _ = config
                .token_cache
                .set(
                    &Self::ticket_key(rt),
                    ticket.to_owned(),
                    Duration::from_secs(12 * 3600),
                )
                .await;
        }
    }

    async fn app_ticket(&self, rt: &dyn Platform) -> Option<SecretString> {
        let config = &rt.config();
        if config.token_cache_enabled
            && let Ok(Some(t)) = config.token_cache.get(&Self::ticket_key(rt)).await
        {
            return Some(SecretString::new(t));
        }
        self.app_ticket
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn clear_app_ticket(&self, rt: &dyn Platform) {
        *self.app_ticket.write().unwrap_or_else(|p| p.into_inner()) = None;
        let config = &rt.config();
        if config.token_cache_enabled {
            let _ = config.token_cache.remove(&Self::ticket_key(rt)).await;
        }
    }

    /// Asks the platform to push the app_ticket again (it arrives as an event).
    pub(crate) async fn resend_app_ticket(&self, rt: &dyn Platform) -> Result<()> {
        let config = &rt.config();
        let spec = RequestSpec::new(Method::POST, RESEND_APP_TICKET)
            .token_types(TokenTypes::NONE)
            .json(&AppCredentials {
                app_id: &config.app_id,
                app_secret: config.app_secret.expose(),
                app_ticket: None,
            });
        rt.send_buffered(&spec).await.map(|_| ())
    }

    /// Fetches a token from the platform: the token and how long to cache it.
    async fn fetch(
        &self,
        rt: &dyn Platform,
        kind: TokenKind,
        tenant_key: Option<&str>,
    ) -> Result<(SecretString, Duration)> {
        let config = &rt.config();
        tracing::debug!(kind = kind.as_str(), "fetching access token");
        let asserted = match kind {
            TokenKind::Tenant => assertion::assertion(config, assertion::Audience::OAuth).await?,
            TokenKind::App if config.client_assertion.is_some() => {
                return Err(Error::auth(
                    AuthErrorKind::ClientAssertion,
                    "an app_access_token cannot be had with a client assertion (the platform documents tenant and user tokens only): call APIs with the tenant token, and log users in with OAuth 2",
                ));
            }
            TokenKind::App => None,
        };
        let spec = match (config.app_type, kind) {
            (AppType::SelfBuilt, TokenKind::Tenant) if asserted.is_some() => RequestSpec::new(
                Method::POST,
                format!("{}{ASSERTION_TOKEN}", config.accounts_base()),
            )
            .json(&AssertionGrant {
                grant_type: assertion::JWT_BEARER_GRANT,
                client_assertion_type: assertion::JWT_ASSERTION_TYPE,
                client_assertion: asserted.as_ref().map(SecretString::expose).unwrap_or_default(),
                client_id: &config.app_id,
            }),
            (AppType::SelfBuilt, TokenKind::Tenant) => RequestSpec::new(Method::POST, SELF_BUILT_TENANT)
                .json(&AppCredentials {
                    app_id: &config.app_id,
                    app_secret: config.app_secret.expose(),
                    app_ticket: None,
                }),
            (AppType::SelfBuilt, TokenKind::App) => RequestSpec::new(Method::POST, SELF_BUILT_APP)
                .json(&AppCredentials {
                    app_id: &config.app_id,
                    app_secret: config.app_secret.expose(),
                    app_ticket: None,
                }),
            (AppType::Marketplace, TokenKind::App) => {
                let Some(ticket) = self.app_ticket(rt).await else {
                    if let Err(e) = self.resend_app_ticket(rt).await {
                        tracing::warn!(error = %e, "asking the platform to resend the app_ticket failed");
                    }
                    return Err(Error::auth(
                        AuthErrorKind::AppTicketMissing,
                        "no app_ticket yet: the platform was asked to push one to your event URL; hand it to the client with `set_app_ticket` (the event dispatcher does this) and try again",
                    ));
                };
                RequestSpec::new(Method::POST, MARKETPLACE_APP).json(&AppCredentials {
                    app_id: &config.app_id,
                    app_secret: config.app_secret.expose(),
                    app_ticket: Some(ticket.expose()),
                })
            }
            (AppType::Marketplace, TokenKind::Tenant) => {
                let app_token =
                    self.token(rt, TokenKind::App, None).await?;
                RequestSpec::new(Method::POST, MARKETPLACE_TENANT).json(&MarketplaceTenantRequest {
                    app_access_token: app_token.expose(),
                    tenant_key: tenant_key.unwrap_or_default(),
                })
            }
        }
        .token_types(TokenTypes::NONE);
        let mut spec = spec;
        if asserted.is_some() {
            // The accounts host refuses in OAuth style.
            spec.options_mut().oauth_errors = true;
        }
        let raw = match rt.send_buffered(&spec).await {
            Ok(raw) => raw,
            Err(e) => {
                if e.code() == Some(codes::APP_TICKET_INVALID) {
                    self.clear_app_ticket(rt).await;
                    if let Err(resend) = self.resend_app_ticket(rt).await {
                        tracing::warn!(error = %resend, "asking the platform to resend the app_ticket failed");
                    }
                }
                return Err(e);
            }
        };
        let resp = raw.decode_secret::<TokenResponse>(false)?;
        let token = match kind {
            TokenKind::Tenant => resp.tenant_access_token.or(resp.access_token),
            TokenKind::App => resp.app_access_token,
        }
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::auth(
                AuthErrorKind::TokenMissingInResponse,
                format!(
                    "the token endpoint answered code 0 without a {}",
                    kind.as_str()
                ),
            )
        })?;
        let expire =
            Duration::from_secs(resp.expire.or(resp.expires_in).unwrap_or(0).max(0) as u64);
        let margin = config.token_refresh_margin;
        let ttl = if expire > margin * 2 {
            expire - margin
        } else {
            expire / 2
        };
        Ok((SecretString::new(token), ttl))
    }
}

async fn cache_get(rt: &dyn Platform, key: &str) -> Result<Option<String>> {
    rt.config()
        .token_cache
        .get(key)
        .await
        .map_err(|e| Error::auth(AuthErrorKind::Cache, format!("token cache get failed: {e}")))
}
