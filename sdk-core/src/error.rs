//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Result alias used throughout the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a call.
///
/// Match on the variant when the kind matters, or use the predicates
/// ([`Error::code`], [`Error::log_id`], [`Error::is_retryable`], [`Error::is_timeout`]).
///
/// ```
/// # async fn demo(client: lark_oapi_core::Client) {
/// use lark_oapi_core::{Error, Method};
/// match client.request(Method::GET, "/open-apis/im/v1/chats").send_value().await {
///     Ok(resp) => println!("{} (log id {:?})", resp.data(), resp.log_id()),
///     Err(Error::Api(e)) if e.code == 99991672 => eprintln!("enable the scope: {:?}", e.permission_violations),
///     Err(e) => eprintln!("failed: {e}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The platform answered with a non-zero `code`.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The platform (or a gateway in front of it) answered with an HTTP error status and a
    /// body that is not the platform's JSON envelope.
    #[error("{0}")]
    Http(Box<HttpError>),
    /// The request could not be sent or the response could not be read. Its
    /// [`source()`](std::error::Error::source) is the HTTP client's error.
    #[error(transparent)]
    Transport(Box<TransportError>),
    /// The call did not finish within its timeout.
    #[error(
        "request timed out after {after:?}; raise it with a per-call `timeout(..)` or `ConfigBuilder::timeout`"
    )]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// The response was received but its body could not be decoded.
    #[error("{0}")]
    Decode(Box<DecodeError>),
    /// The configuration is invalid; the message says which setting and how to fix it.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Credentials needed for the call are missing or unusable.
    #[error("{0}")]
    Auth(Box<AuthError>),
    /// The request was rejected before it was sent; the message says which input is wrong.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Reading or writing a local file failed.
    #[error("file I/O failed: {context}")]
    Io {
        /// What was being done, e.g. `opening /tmp/a.png`.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The call would have had to wait past the pacer's bound for its slot under a rate
    /// limit ([`crate::pacing`]); nothing was sent.
    #[error("{0}")]
    Paced(Box<crate::pacing::PaceError>),
    /// An OAuth 2 endpoint refused, in OAuth style (`error`, `error_description`, and the
    /// platform's numeric `code`): the v2 token endpoint, the device flow.
    #[error("{0}")]
    OAuth(Box<OAuthError>),
    /// An event stream ([`crate::sse`]) was not one, or failed while it was read.
    #[error("{0}")]
    Sse(Box<crate::sse::SseError>),
    /// The long connection could not be opened or was lost for good.
    #[cfg(feature = "long-connection")]
    #[error(transparent)]
    LongConnection(Box<crate::long_connection::LongConnectionError>),
}

#[cfg(feature = "long-connection")]
impl From<crate::long_connection::LongConnectionError> for Error {
    fn from(e: crate::long_connection::LongConnectionError) -> Self {
        Error::LongConnection(Box::new(e))
    }
}

impl Error {
    /// The platform's error code, for [`Error::Api`] (and a long-connection endpoint that
    /// answered one).
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::Api(e) => Some(e.code),
            Error::OAuth(e) => e.code,
            #[cfg(feature = "long-connection")]
            Error::LongConnection(e) => match **e {
                crate::long_connection::LongConnectionError::Endpoint { code, .. } => code,
                _ => None,
            },
            _ => None,
        }
    }

    /// The platform's log id (`X-Tt-Logid`) of the failed call, where one was received.
    /// Quote it in support tickets.
    pub fn log_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.log_id.as_deref(),
            Error::Http(e) => e.log_id.as_deref(),
            Error::Decode(e) => e.log_id.as_deref(),
            Error::Sse(e) => e.log_id.as_deref(),
            Error::OAuth(e) => e.log_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of the response, where one was received.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.http_status),
            Error::Http(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
            Error::Sse(e) => Some(e.http_status),
            Error::OAuth(e) => Some(e.http_status),
            _ => None,
        }
    }

    /// The structured platform error, for [`Error::Api`].
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed: rate limits, transient server
    /// errors, timeouts and connection failures. (The client already retried these as far
    /// as its retry policy allows.)
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Http(e) => ErrorClass::of(0, e.status) != ErrorClass::Final,
            Error::Transport(_) | Error::Timeout { .. } => true,
            Error::OAuth(e) => !matches!(
                ErrorClass::of(e.code.unwrap_or(0), e.http_status),
                ErrorClass::Final | ErrorClass::TokenRejected
            ),
            Error::Sse(e) => matches!(
                e.kind,
                crate::sse::SseErrorKind::IdleTimeout(_) | crate::sse::SseErrorKind::EndedMidEvent
            ),
            _ => false,
        }
    }

    /// Whether the user must go through authorization again before calls can be made on
    /// their behalf: no user token is stored, the refresh token is expired, revoked, invalid
    /// or already used, the login code is bad, or the user has not granted a needed scope.
    pub fn requires_user_authorization(&self) -> bool {
        match self {
            Error::Auth(e) => matches!(
                e.kind,
                AuthErrorKind::UserAuthorizationRequired | AuthErrorKind::DeviceCodeExpired
            ),
            // The grant (a code, a refresh token, a device code) can never work again.
            Error::OAuth(e) => {
                matches!(
                    e.error.as_str(),
                    "invalid_grant" | "access_denied" | "expired_token"
                ) || e.code.is_some_and(|c| {
                    matches!(
                        c,
                        codes::REFRESH_TOKEN_INVALID
                            | codes::REFRESH_TOKEN_EXPIRED
                            | codes::REFRESH_TOKEN_REVOKED
                            | codes::REFRESH_TOKEN_USED
                    )
                })
            }
            Error::Api(e) => matches!(
                e.code,
                codes::REFRESH_TOKEN_INVALID
                    | codes::REFRESH_TOKEN_EXPIRED
                    | codes::REFRESH_TOKEN_REVOKED
                    | codes::REFRESH_TOKEN_USED
                    | codes::AUTH_CODE_INVALID
                    | codes::USER_SCOPE_NOT_GRANTED
                    | 1007
            ),
            _ => false,
        }
    }

    /// Whether the call ran out of time.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Sse(e) => matches!(
                e.kind,
                crate::sse::SseErrorKind::IdleTimeout(_)
                    | crate::sse::SseErrorKind::TotalTimeout(_)
            ),
            _ => false,
        }
    }

    pub(crate) fn auth(kind: AuthErrorKind, message: impl Into<String>) -> Self {
        Error::Auth(Box::new(AuthError {
            kind,
            message: message.into(),
        }))
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Platform error codes with a known meaning.
pub mod codes {
    /// Rate limited ("request trigger frequency limit").
    pub const RATE_LIMITED: i64 = 99991400;
    /// Authorization header missing.
    pub const MISSING_TOKEN: i64 = 99991661;
    /// Tenant access token invalid or expired.
    pub const TENANT_TOKEN_INVALID: i64 = 99991663;
    /// App access token invalid or expired.
    pub const APP_TOKEN_INVALID: i64 = 99991664;
    /// User access token invalid or expired.
    pub const USER_TOKEN_INVALID: i64 = 99991668;
    /// The app lacks the API's scope.
    pub const SCOPE_NOT_GRANTED: i64 = 99991672;
    /// User access token expired; refresh it.
    pub const USER_TOKEN_EXPIRED: i64 = 99991677;
    /// App ticket invalid (marketplace apps).
    pub const APP_TICKET_INVALID: i64 = 10012;
    /// Field validation failed.
    pub const FIELD_VALIDATION_FAILED: i64 = 99992402;
    /// IM message-service rate limit.
    pub const IM_RATE_LIMITED: i64 = 11232;
    /// Resource contention, try again.
    pub const RESOURCE_CONTENTION: i64 = 1061045;
    /// The user has not granted the scope the API needs: authorize the user again.
    pub const USER_SCOPE_NOT_GRANTED: i64 = 99991679;
    /// Refresh token invalid.
    pub const REFRESH_TOKEN_INVALID: i64 = 20026;
    /// Refresh token expired.
    pub const REFRESH_TOKEN_EXPIRED: i64 = 20037;
    /// Refresh token revoked.
    pub const REFRESH_TOKEN_REVOKED: i64 = 20064;
    /// Refresh token already used (refresh tokens are single-use).
    pub const REFRESH_TOKEN_USED: i64 = 20073;
    /// The token service failed; try the refresh again.
    pub const REFRESH_SERVER_ERROR: i64 = 20050;
    /// The authorization code is invalid, expired or already used.
    pub const AUTH_CODE_INVALID: i64 = 20007;
    /// Internal platform errors (the generic error-code page's first rows): transient.
    pub const INTERNAL_ERRORS: [i64; 4] = [1500, 1503, 1551, 1557];
}

/// What a platform error means for trying again: the one table behind the client's retries
/// and [`ApiError::is_retryable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// A tenant, app or user token the platform refused: evict or refresh it, replay once.
    TokenRejected,
    /// Rate limited: the platform did not process the call (any method may retry).
    RateLimited,
    /// Resource contention, or the token service failing a refresh: the platform says to
    /// try again, whatever the method.
    TryAgain,
    /// A transient server failure: the call may have been processed (idempotent methods
    /// only, unless the policy says otherwise).
    Transient,
    /// Trying again will not help.
    Final,
}

impl ErrorClass {
    /// The class of a platform `code` answered with `http_status` (0 for no code: an
    /// answer that is not the platform's envelope).
    pub(crate) fn of(code: i64, http_status: u16) -> Self {
        match code {
            codes::TENANT_TOKEN_INVALID
            | codes::APP_TOKEN_INVALID
            | codes::USER_TOKEN_INVALID
            | codes::USER_TOKEN_EXPIRED => ErrorClass::TokenRejected,
            codes::RATE_LIMITED | codes::IM_RATE_LIMITED => ErrorClass::RateLimited,
            codes::RESOURCE_CONTENTION | codes::REFRESH_SERVER_ERROR => ErrorClass::TryAgain,
            _ if http_status == 429 => ErrorClass::RateLimited,
            _ if codes::INTERNAL_ERRORS.contains(&code) || http_status >= 500 => {
                ErrorClass::Transient
            }
            _ => ErrorClass::Final,
        }
    }
}

/// A non-zero `code` answered by the platform, with everything it said about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The platform's error code (see the platform's generic error code page).
    pub code: i64,
    /// The platform's message.
    pub msg: String,
    /// The log id: `X-Tt-Logid`, or `error.log_id` of the body.
    pub log_id: Option<String>,
    /// The HTTP status of the response.
    pub http_status: u16,
    /// Link to the platform's troubleshooting page for this call.
    pub troubleshooter: Option<String>,
    /// Request fields that failed validation.
    pub field_violations: Vec<FieldViolation>,
    /// Missing scopes or permissions.
    pub permission_violations: Vec<PermissionViolation>,
    /// Extra key/value details.
    pub details: Vec<ErrorDetail>,
    /// Help links.
    pub helps: Vec<ErrorHelp>,
    /// Which request produced the error, e.g. `POST /open-apis/im/v1/messages`.
    pub request: String,
}

impl ApiError {
    /// Whether the error is a rate limit or a transient platform failure: the same rule the
    /// client's retries follow ([`RetryPolicy`](crate::RetryPolicy)).
    pub fn is_retryable(&self) -> bool {
        !matches!(
            ErrorClass::of(self.code, self.http_status),
            ErrorClass::Final | ErrorClass::TokenRejected
        )
    }

    /// A short meaning for well-known codes, used in `Display`.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.code {
            codes::RATE_LIMITED => "rate limited",
            codes::MISSING_TOKEN => "authorization header missing",
            codes::TENANT_TOKEN_INVALID => "tenant access token invalid or expired",
            codes::APP_TOKEN_INVALID => "app access token invalid or expired",
            codes::USER_TOKEN_INVALID => "user access token invalid or expired",
            codes::USER_TOKEN_EXPIRED => "user access token expired: refresh it",
            codes::SCOPE_NOT_GRANTED => {
                "the app lacks this API's scope: enable it in the developer console"
            }
            99991676 => "the token lacks the required scope",
            codes::USER_SCOPE_NOT_GRANTED => {
                "the user has not granted the required scope: authorize the user again"
            }
            codes::REFRESH_TOKEN_INVALID => "refresh token invalid: authorize the user again",
            codes::REFRESH_TOKEN_EXPIRED => "refresh token expired: authorize the user again",
            codes::REFRESH_TOKEN_REVOKED => "refresh token revoked: authorize the user again",
            codes::REFRESH_TOKEN_USED => {
                "refresh token already used (single-use): authorize the user again"
            }
            codes::REFRESH_SERVER_ERROR => "token service error: retry the refresh",
            codes::AUTH_CODE_INVALID | 1007 => {
                "authorization code invalid, expired (5 minutes) or already used"
            }
            99991543 => "app_id or app_secret incorrect",
            10014 => "app secret invalid",
            10003 => "invalid app_id",
            codes::APP_TICKET_INVALID => "app ticket invalid: the platform was asked to resend it",
            codes::FIELD_VALIDATION_FAILED => "field validation failed",
            1061002 => "params error",
            _ => return None,
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "platform error code {}", self.code)?;
        if let Some(hint) = self.hint() {
            write!(f, " ({hint})")?;
        }
        write!(f, ": {}", self.msg)?;
        for v in &self.field_violations {
            write!(f, "; field `{}`: {}", v.field, v.description)?;
        }
        for v in &self.permission_violations {
            write!(f, "; missing permission {} {}", v.kind, v.subject)?;
        }
        write!(f, " [{}, HTTP {}", self.request, self.http_status)?;
        if let Some(log_id) = &self.log_id {
            write!(f, ", log_id {log_id}")?;
        }
        f.write_str("]")?;
        if let Some(link) = &self.troubleshooter {
            write!(f, " see {link}")?;
        }
        Ok(())
    }
}

/// One request field that failed validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FieldViolation {
    /// The field.
    #[serde(default, deserialize_with = "lenient_string")]
    pub field: String,
    /// The offending value, if the platform echoes it.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub value: Option<String>,
    /// What is wrong.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
}

/// One missing permission or scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PermissionViolation {
    /// The kind of permission.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    /// Usually the missing scope's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub subject: String,
    /// What is missing.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
}

/// A key/value detail of an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// Key.
    #[serde(default, deserialize_with = "lenient_string")]
    pub key: String,
    /// Value.
    #[serde(default, deserialize_with = "lenient_string")]
    pub value: String,
}

/// A help link attached to an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorHelp {
    /// The link.
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: String,
    /// What it explains.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
}

/// A refusal in OAuth style (RFC 6749 §5.2), as the v2 token endpoint and the device flow
/// answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// The OAuth error, e.g. `invalid_grant`, `invalid_client`, `authorization_pending`.
    pub error: String,
    /// What the platform said about it.
    pub error_description: String,
    /// The platform's numeric code, when it sent one (e.g. 20073: refresh token used).
    pub code: Option<i64>,
    /// The HTTP status of the answer.
    pub http_status: u16,
    /// The log id.
    pub log_id: Option<String>,
    /// Which request.
    pub request: String,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OAuth error {}", self.error)?;
        if let Some(code) = self.code {
            write!(f, " (code {code})")?;
        }
        if !self.error_description.is_empty() {
            write!(f, ": {}", self.error_description)?;
        }
        write!(f, " [{}, HTTP {}", self.request, self.http_status)?;
        if let Some(log_id) = &self.log_id {
            write!(f, ", log_id {log_id}")?;
        }
        f.write_str("]")
    }
}

/// An HTTP error status whose body is not the platform's JSON envelope.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpError {
    /// The HTTP status.
    pub status: u16,
    /// The log id header, if any.
    pub log_id: Option<String>,
    /// The first bytes of the body, as text.
    pub body_excerpt: String,
    /// Which request, e.g. `GET /open-apis/im/v1/chats`.
    pub request: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} from {}", self.status, self.request)?;
        if let Some(log_id) = &self.log_id {
            write!(f, " (log_id {log_id})")?;
        }
        write!(f, ": {:?}", self.body_excerpt)
    }
}

/// The request could not be sent, or the connection failed while reading the answer.
#[derive(Debug)]
#[non_exhaustive]
pub struct TransportError {
    /// Which request.
    pub request: String,
    /// Whether the connection could not be established (the request was never sent).
    pub connect: bool,
    /// What failed, in the SDK's words (e.g. `sending the request failed`). The cause
    /// (the HTTP client's error, and its own causes) is [`source()`](std::error::Error::source):
    /// `Display` shows one level, as error reporters such as `anyhow`'s `{:#}` expect.
    pub message: String,
    pub(crate) source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.connect {
            "could not connect"
        } else {
            "connection failed"
        };
        write!(f, "{what} for {}: {}", self.request, self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A response body that could not be decoded into the expected type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DecodeError {
    /// What went wrong, e.g. `missing field message_id at line 1 column 40`.
    pub message: String,
    /// The first bytes of the body.
    pub excerpt: String,
    /// The HTTP status.
    pub status: u16,
    /// The log id of the response.
    pub log_id: Option<String>,
    /// Which request.
    pub request: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode the response of {} (HTTP {}",
            self.request, self.status
        )?;
        if let Some(log_id) = &self.log_id {
            write!(f, ", log_id {log_id}")?;
        }
        write!(
            f,
            "): {}; body starts with {:?}",
            self.message, self.excerpt
        )
    }
}

/// Why the SDK could not authenticate a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// A marketplace app has no app_ticket yet; the platform was asked to push one.
    AppTicketMissing,
    /// A marketplace app call needs a tenant key.
    TenantKeyMissing,
    /// The API accepts only a user access token and none was given.
    UserTokenRequired,
    /// The token endpoint answered without a token.
    TokenMissingInResponse,
    /// A pluggable token cache or user token store failed.
    Cache,
    /// The user must log in again: no user token is stored for them, or it expired and
    /// cannot be refreshed.
    UserAuthorizationRequired,
    /// The `state` an OAuth callback brought back is not the login's: the callback does
    /// not belong to the session (a forged or mixed-up redirect).
    StateMismatch,
    /// A device login's code expired before the user approved it: start again.
    DeviceCodeExpired,
    /// The client assertion provider failed, or gave an empty assertion.
    ClientAssertion,
}

/// Credentials needed for the call are missing or unusable.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthError {
    /// What is missing.
    pub kind: AuthErrorKind,
    /// What to do about it.
    pub message: String,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authentication: {}", self.message)
    }
}

/// Cuts a body down to a readable excerpt for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 256;
    let cut = &body[..body.len().min(MAX)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if body.len() > MAX {
        s.push('…');
    }
    s
}

/// A string field of the platform's error details, whatever JSON it holds: `null` is empty,
/// a number or object is kept as its JSON text. A detail never makes the error unreadable.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(lenient_opt_string(d)?.unwrap_or_default())
}

fn lenient_opt_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(value_text(serde_json::Value::deserialize(d)?))
}

/// The text of a JSON value the platform should have sent as a string: the string itself,
/// `None` for `null`, the JSON text of anything else.
pub(crate) fn value_text(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}
