//! Per-call options: tenant key, explicit tokens, help desk credential, headers, timeout,
//! retries, pacing.

use std::fmt;
use std::time::Duration;

use crate::auth::UserTokens;
use crate::config::HelpdeskCredential;
use crate::pacing::Rate;
use crate::request::retry::RetryPolicy;
use crate::secret::SecretString;

/// Options for one call. Every request builder takes them, one by one or as a whole.
///
/// **Which token is sent** (first match wins):
/// 1. a user access token given here;
/// 2. the user's token from [`on_behalf_of`](Self::on_behalf_of): refreshed first if about to expire,
///    and, if the platform rejects it (99991677 expired, 99991668 invalid), refreshed once
///    and the call replayed once;
/// 3. a tenant access token given here;
/// 4. an app access token given here;
/// 5. a token the SDK fetches (from its cache, or fresh): the tenant token if the API accepts
///    one (marketplace apps: for the tenant key given here), else the app token if the API
///    accepts one; an API that only accepts user tokens fails with
///    [`AuthErrorKind::UserTokenRequired`](crate::AuthErrorKind::UserTokenRequired).
///
/// A token given here is sent as is, whether the token cache is on or off, and is never
/// stored. A header given here replaces the SDK's value of it (`User-Agent`,
/// `Content-Type`); `Authorization`, framing headers and a multipart body's `Content-Type`
/// are refused.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::RequestOptions;
/// let opts = RequestOptions::new()
///     .user_access_token("u-xxxx")
///     .header("X-Custom", "1")
///     .timeout(Duration::from_secs(5));
/// assert!(!format!("{opts:?}").contains("u-xxxx"));
/// ```
#[derive(Clone, Default)]
pub struct RequestOptions {
    pub(crate) tenant_key: Option<String>,
    pub(crate) user_access_token: Option<SecretString>,
    /// `on_behalf_of`: where to get the user's token, and under which key.
    pub(crate) on_behalf_of: Option<(UserTokens, String)>,
    pub(crate) tenant_access_token: Option<SecretString>,
    pub(crate) app_access_token: Option<SecretString>,
    pub(crate) helpdesk: Option<HelpdeskCredential>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    /// Keys to pace the call under, with their rates (the client's pacer).
    pub(crate) pace: Vec<(String, Rate)>,
    /// `base64(id:secret)` sent as HTTP Basic instead of a token (SDK-internal calls only).
    pub(crate) basic_auth: Option<SecretString>,
    /// An OAuth endpoint: a refusal with a string `error` is [`Error::OAuth`](crate::Error::OAuth)
    /// (SDK-internal calls only; elsewhere such a body stays the error it was).
    pub(crate) oauth_errors: bool,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("tenant_key", &self.tenant_key)
            .field("user_access_token", &self.user_access_token)
            .field(
                "on_behalf_of",
                &self.on_behalf_of.as_ref().map(|(_, key)| key),
            )
            .field("tenant_access_token", &self.tenant_access_token)
            .field("app_access_token", &self.app_access_token)
            .field("helpdesk", &self.helpdesk)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("pace", &self.pace)
            .finish()
    }
}

impl RequestOptions {
    /// No options: the client's defaults apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tenant to act in (marketplace apps; from the event's `header.tenant_key`).
    pub fn tenant_key(mut self, tenant_key: impl Into<String>) -> Self {
        self.tenant_key = Some(tenant_key.into());
        self
    }

    /// Sets the tenant key in place.
    pub fn set_tenant_key(&mut self, tenant_key: String) {
        self.tenant_key = Some(tenant_key);
    }

    /// Sets the user access token in place.
    pub fn set_user_access_token(&mut self, token: SecretString) {
        self.user_access_token = Some(token);
    }

    /// Acts as a user: this `user_access_token` is sent.
    pub fn user_access_token(mut self, token: impl Into<SecretString>) -> Self {
        self.user_access_token = Some(token.into());
        self
    }

    /// Acts as the user stored under `key` in `users`: sends their access token, refreshed
    /// ahead of expiry, and if the platform rejects it, refreshes it once (shared with every
    /// other call that got the same rejection) and replays the call once.
    ///
    /// ```
    /// # fn run(client: &lark_oapi_core::Client) {
    /// use lark_oapi_core::{RequestOptions, UserTokens};
    /// let users = UserTokens::new(client);
    /// let opts = RequestOptions::new().on_behalf_of(&users, "ou_7d8a6e6df7621556ce0d21922b676706");
    /// # }
    /// ```
    pub fn on_behalf_of(mut self, users: &UserTokens, key: impl Into<String>) -> Self {
        self.on_behalf_of = Some((users.clone(), key.into()));
        self
    }

    /// Sends this `tenant_access_token` instead of a fetched one.
    pub fn tenant_access_token(mut self, token: impl Into<SecretString>) -> Self {
        self.tenant_access_token = Some(token.into());
        self
    }

    /// Sends this `app_access_token` instead of a fetched one.
    pub fn app_access_token(mut self, token: impl Into<SecretString>) -> Self {
        self.app_access_token = Some(token.into());
        self
    }

    /// The help desk credential for this call (overrides the client's).
    pub fn helpdesk(mut self, helpdesk_id: &str, helpdesk_token: &str) -> Self {
        self.helpdesk = Some(HelpdeskCredential::new(helpdesk_id, helpdesk_token));
        self
    }

    /// An extra header, replacing the SDK's value of it; give it twice to send two values.
    /// Invalid names or values, `Authorization`, `Content-Length`, `Transfer-Encoding`,
    /// `Host`, and `Content-Type` on a multipart body fail the call with
    /// `Error::InvalidRequest` before anything is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Timeout of each attempt of this call, from sending until the body is read (overrides
    /// the client's). A GET that times out is retried within the retry policy, each retry
    /// with the same timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy of this call (overrides the client's), e.g. `RetryPolicy::disabled()`.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Paces this call under `key` at `rate` with the client's [`Pacer`](crate::pacing::Pacer):
    /// it waits for its slot before it is sent (once, not for each retry), or fails with
    /// [`Error::Paced`](crate::Error::Paced) if the slot is further away than the pacer's
    /// bound. Give several keys to keep under several limits (a chat and the API).
    ///
    /// ```
    /// use lark_oapi_core::{RequestOptions, pacing::limits};
    /// let opts = RequestOptions::new().pace("im:chat_id:oc_84983ff6516d731e5b5f68d4ea2e1da5", limits::MESSAGES_PER_RECEIVER);
    /// ```
    pub fn pace(mut self, key: impl Into<String>, rate: Rate) -> Self {
        self.pace.push((key.into(), rate));
        self
    }
}
