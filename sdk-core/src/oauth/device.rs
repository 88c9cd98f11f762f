//! The device flow (RFC 8628) for command-line and headless apps: the app shows a code and
//! a URL, the user approves on any browser, and the app polls the v2 token endpoint.
//!
//! Start: `POST {accounts}/oauth/v1/device_authorization` (form `client_id`, `scope`;
//! `Authorization: Basic base64(app_id:app_secret)`). Poll: the v2 token endpoint with the
//! device-code grant, every `interval` seconds: `authorization_pending` goes on,
//! `slow_down` adds 5 s (up to 60), `access_denied` and `expired_token` end it, a
//! connection failure adds 1 s; at most 200 polls, never past the code's expiry.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{OFFLINE_ACCESS, accounts_base, check_scopes};
use crate::auth::oauth2;
use crate::client::Client;
use crate::error::{AuthErrorKind, Error, Result};
use crate::request::RequestSpec;
use crate::secret::SecretString;
use crate::{Method, TokenTypes, UserToken, UserTokens};

/// The device authorization path, on the accounts host.
pub const DEVICE_AUTHORIZATION_PATH: &str = "/oauth/v1/device_authorization";

/// What `slow_down` adds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest interval `slow_down` leads to.
const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// The most polls of one device code.
const MAX_POLLS: u32 = 200;

/// Starts a device login; from [`UserTokens::device_authorization`].
#[derive(Debug, Clone)]
#[must_use = "call `start().await` to get the user code"]
pub struct DeviceAuthorizationBuilder {
    client: Client,
    base: String,
    scopes: Vec<String>,
}

impl DeviceAuthorizationBuilder {
    /// Asks for a scope (repeat for several). `offline_access` is always asked for, so
    /// that the token can be refreshed.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Where the device authorization endpoint is served (default: the accounts host of
    /// the client's domain, or the client's base URL for a custom domain).
    pub fn accounts_base(mut self, base: impl Into<String>) -> Self {
        self.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// Asks the platform for a device code and a user code.
    pub async fn start(mut self) -> Result<DeviceAuthorization> {
        check_scopes(&self.scopes)?;
        if !self.scopes.iter().any(|s| s == OFFLINE_ACCESS) {
            self.scopes.push(OFFLINE_ACCESS.to_owned());
        }
        let config = self.client.config();
        if config.app_secret.is_empty() {
            return Err(Error::InvalidRequest(
                "the device flow authenticates with the app secret (HTTP Basic), and this client has none (it uses a client assertion)".into(),
            ));
        }
        let form = {
            let mut f = reqwest::Url::parse("form:").expect("a static URL");
            f.query_pairs_mut()
                .append_pair("client_id", &config.app_id)
                .append_pair("scope", &self.scopes.join(" "));
            f.query().unwrap_or_default().to_owned()
        };
        // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
        let encoded = |s: &str| -> String {
            reqwest::Url::parse_with_params("form:", [("v", s)])
                .ok()
                .and_then(|u| u.query().map(|q| q[2..].to_owned()))
                .unwrap_or_default()
        };
        let basic = STANDARD.encode(format!(
            "{}:{}",
            encoded(&config.app_id),
            encoded(config.app_secret.expose())
        ));
        let spec = RequestSpec::new(
            Method::POST,
            format!("{}{DEVICE_AUTHORIZATION_PATH}", self.base),
        )
        .token_types(TokenTypes::NONE)
        .json_bytes(form)
        .with_options({
            let mut options = crate::RequestOptions::new()
                .header("content-type", "application/x-www-form-urlencoded");
            options.basic_auth = Some(SecretString::from(basic));
            options.oauth_errors = true;
            options
        });
        let started = Instant::now();
        let answer: Answer = self.client.send_raw(&spec).await?.decode_secret(false)?;
        if answer.device_code.is_empty() || answer.user_code.is_empty() {
            return Err(Error::auth(
                AuthErrorKind::TokenMissingInResponse,
                "the device authorization answered without a device_code or user_code",
            ));
        }
        let secs = |v: Option<i64>, default: u64| {
            Duration::from_secs(v.filter(|s| *s > 0).map_or(default, |s| s.unsigned_abs()))
        };
        Ok(DeviceAuthorization {
            client: self.client,
            device_code: SecretString::from(answer.device_code),
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: answer.verification_uri_complete.filter(|u| !u.is_empty()),
            // A lifetime past what the clock holds: a day, which no device code outlives.
            expires_at: started
                .checked_add(secs(answer.expires_in, 240))
                .unwrap_or(started + Duration::from_secs(86_400)),
            interval: secs(answer.interval, 5),
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    device_code: String,
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    interval: Option<i64>,
}

/// A device login in progress: show [`user_code`](Self::user_code) and
/// [`verification_uri`](Self::verification_uri) (or the complete URI, as a link or QR code),
/// then [`poll`](Self::poll).
pub struct DeviceAuthorization {
    client: Client,
    device_code: SecretString,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_at: Instant,
    interval: Duration,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &self.device_code)
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    /// The code the user types in.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user goes to type it.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The verification URI with the code in it, if the platform gave one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// When the codes expire.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// The wait between polls the platform asked for.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for the user's decision, polling by the rules of the module docs, and returns
    /// the token (marked [`UserTokenFlow::OAuth2`](crate::UserTokenFlow::OAuth2)).
    ///
    /// Cancellable: drop the future (a `select!` with Ctrl-C, a timeout) and polling stops.
    /// Ends with [`Error::OAuth`] `access_denied` or `expired_token` as the platform says,
    /// or [`AuthErrorKind::DeviceCodeExpired`] when the code's time ran out first.
    pub async fn poll(&self) -> Result<UserToken> {
        let mut interval = self.interval;
        for _ in 0..MAX_POLLS {
            if Instant::now()
                .checked_add(interval)
                .is_none_or(|next| next >= self.expires_at)
            {
                break;
            }
            tokio::time::sleep(interval).await;
            match oauth2::device_token(&self.client, self.device_code.expose()).await {
                Ok(token) => return Ok(token),
                Err(Error::OAuth(e)) if e.error == "authorization_pending" => {}
                // Up to 60 s; a server interval above that is kept as it is.
                Err(Error::OAuth(e)) if e.error == "slow_down" => {
                    interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL.max(interval));
                }
                // A connection failure, a timeout, a transient server error: poll more slowly.
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "device flow: a poll failed; polling more slowly");
                    interval = (interval + Duration::from_secs(1)).min(MAX_INTERVAL.max(interval));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::auth(
            AuthErrorKind::DeviceCodeExpired,
            "the device code expired before the user approved: start the device login again",
        ))
    }
}

impl UserTokens {
    /// Starts a device login (RFC 8628), for apps without a browser of their own; see
    /// [`DeviceAuthorization`].
    ///
    /// ```no_run
    /// # async fn run(users: lark_oapi_core::UserTokens) -> lark_oapi_core::Result<()> {
    /// let device = users
    ///     .device_authorization()
    ///     .scope("contact:user.base:readonly")
    ///     .start()
    ///     .await?;
    /// println!("Open {} and enter {}", device.verification_uri(), device.user_code());
    /// let token = tokio::select! {
    ///     token = device.poll() => token?,
    ///     _ = tokio::signal::ctrl_c() => return Ok(()), // polling stops with the future
    /// };
    /// users.insert("me", token).await?;
    /// # Ok(()) }
    /// ```
    pub fn device_authorization(&self) -> DeviceAuthorizationBuilder {
        DeviceAuthorizationBuilder {
            client: self.client().clone(),
            base: accounts_base(self.client()),
            scopes: Vec::new(),
        }
    }
}
