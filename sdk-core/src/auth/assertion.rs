//! Client assertions (RFC 7523): the app proves who it is with a JWT it signs itself, in
//! place of the app secret. The SDK never holds the private key: the app implements
//! [`ClientAssertionProvider`], and the SDK asks it for an assertion for an audience each
//! time it needs one.
//!
//! What the SDK does with it (facts of the vendors' SDKs): the tenant token comes from the
//! jwt-bearer grant (`POST {accounts}/oauth/v3/token`, audience the accounts host), user
//! tokens from the same endpoint with the assertion in place of `client_secret`, and the
//! long connection's endpoint call carries it (audience the open platform host). The JWT's
//! header and claims are not documented anywhere the SDK authors could read (UNVERIFIED):
//! sign what the developer console tells you; the SDK passes it through unchanged.

use std::fmt;

use crate::auth::BoxFuture;
use crate::config::Config;
use crate::error::{AuthErrorKind, Error, Result};
use crate::secret::SecretString;

/// The grant type of the tenant token from an assertion.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The error a provider returns.
pub type AssertionError = Box<dyn std::error::Error + Send + Sync>;

/// Signs client assertions (RFC 7523 JWTs) for the app, in place of the app secret; set
/// with [`ConfigBuilder::client_assertion`](crate::ConfigBuilder::client_assertion). The SDK
/// never holds the private key: it asks the provider for an assertion for an audience each
/// time it needs one.
///
/// The tenant token then comes from the jwt-bearer grant (`POST {accounts}/oauth/v3/token`,
/// audience the accounts host: `accounts.feishu.cn`, `accounts.larksuite.com`, or a custom
/// domain's host), user tokens from the same endpoint with the assertion in place of
/// `client_secret`, and the long connection's endpoint call carries it (audience the open
/// platform host). There is no app_access_token this way, and the device flow still needs
/// the secret. The JWT's header and claims are not documented anywhere the SDK's authors
/// could read (UNVERIFIED): sign what the developer console asks for; the SDK passes the
/// assertion through unchanged and never logs it.
///
/// ```
/// use lark_oapi_core::{AssertionError, BoxFuture, ClientAssertionProvider, SecretString};
///
/// /// Asks a signing service (a KMS, an HSM) for a JWT; no key in this process.
/// #[derive(Debug)]
/// struct Signer;
///
/// impl ClientAssertionProvider for Signer {
///     fn assertion<'a>(&'a self, audience: &'a str) -> BoxFuture<'a, Result<SecretString, AssertionError>> {
///         Box::pin(async move {
///             // e.g. sign {"iss": app_id, "sub": app_id, "aud": audience, "exp": ..} remotely
///             Ok(SecretString::new(format!("header.payload-for-{audience}.signature")))
///         })
///     }
/// }
/// ```
pub trait ClientAssertionProvider: fmt::Debug + Send + Sync + 'static {
    /// A fresh assertion for `audience` (a host name, e.g. `accounts.feishu.cn`).
    fn assertion<'a>(
        &'a self,
        audience: &'a str,
    ) -> BoxFuture<'a, std::result::Result<SecretString, AssertionError>>;
}

/// Whom an assertion is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Audience {
    /// The token endpoints: the accounts host (or the custom base's host).
    OAuth,
    /// The long connection's endpoint call: the open platform host.
    #[cfg_attr(not(feature = "long-connection"), allow(dead_code))]
    Open,
}

impl Audience {
    fn host(self, config: &Config) -> String {
        match self {
            Audience::OAuth => {
                let base = config.accounts_base();
                reqwest::Url::parse(&base)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or(base)
            }
            Audience::Open => config.base.host_str().unwrap_or_default().to_owned(),
        }
    }
}

/// An assertion for `audience` from the configured provider; `None` when the app uses its
/// secret. A failing provider, or an empty assertion, is a typed error.
pub(crate) async fn assertion(config: &Config, audience: Audience) -> Result<Option<SecretString>> {
    assertion_or_why(config, audience).await.map_err(|(e, _)| e)
}

/// [`assertion`], with whether a failure is for good: an empty assertion is a bug of the
/// provider (`true`), a failing provider may work next time (`false`).
pub(crate) async fn assertion_or_why(
    config: &Config,
    audience: Audience,
) -> std::result::Result<Option<SecretString>, (Error, bool)> {
    let Some(provider) = &config.client_assertion else {
        return Ok(None);
    };
    // Worked out only for an app that signs assertions.
    let audience = audience.host(config);
    match provider.assertion(&audience).await {
        Ok(value) if !value.expose().trim().is_empty() => Ok(Some(value)),
        Ok(_) => Err((
            Error::auth(
                AuthErrorKind::ClientAssertion,
                format!(
                    "the client assertion provider returned an empty assertion for audience {audience}"
                ),
            ),
            true,
        )),
        Err(e) => Err((
            Error::auth(
                AuthErrorKind::ClientAssertion,
                format!("the client assertion provider failed for audience {audience}: {e}"),
            ),
            false,
        )),
    }
}
