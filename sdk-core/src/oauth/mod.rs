//! User login with OAuth 2 and PKCE, the platform's current user authorization.
//!
//! 1. [`UserTokens::authorize`] builds the authorize URL (client id, redirect URI, scopes,
//!    a random `state` and an S256 code challenge) and hands back an [`Authorization`]
//!    holding the `state` and the code verifier: keep it in the user's session and send the
//!    browser to [`Authorization::url`].
//! 2. The platform redirects back to your redirect URI with `code` and `state`:
//!    [`UserTokens::exchange_authorization`] checks the `state` (before any I/O) and
//!    exchanges the code with the verifier on the v2 token endpoint
//!    (`POST /open-apis/authen/v2/oauth/token`, the app's id and secret in the body).
//! 3. The token is refreshed on the same endpoint by [`UserTokens`] as it does for OIDC
//!    tokens (one refresh per user, rotation saved before use), because it is marked
//!    [`UserTokenFlow::OAuth2`]. Ask for `offline_access` to get a refresh token at all.
//!
//! Command-line and headless apps use the device flow instead (RFC 8628):
//! [`UserTokens::device_authorization`], then [`DeviceAuthorization::poll`].
//!
//! Refusals of the token endpoint come in OAuth style (`error`, `error_description`, the
//! platform's numeric `code`): [`Error::OAuth`].
//!
//! ```no_run
//! # async fn run(client: lark_oapi_core::Client, code: &str, state: &str) -> lark_oapi_core::Result<()> {
//! use lark_oapi_core::UserTokens;
//! let users = UserTokens::new(&client);
//! let login = users
//!     .authorize("https://app.example.com/oauth/callback")
//!     .scope("contact:user.base:readonly")
//!     .scope("offline_access")
//!     .build()?;
//! println!("send the browser to {}", login.url());
//! // ... keep `login.state()`, `login.code_verifier()` and `login.redirect_uri()` in the
//! // session; on the callback, rebuild it with `Authorization::from_parts` if needed:
//! let token = users.exchange_authorization(&login, code, state).await?;
//! # Ok(()) }
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::auth::oauth2;
use crate::client::Client;
use crate::error::{AuthErrorKind, Error, Result};
use crate::secret::SecretString;
use crate::{UserToken, UserTokenFlow, UserTokens};

pub use crate::error::OAuthError;
pub use device::{DEVICE_AUTHORIZATION_PATH, DeviceAuthorization, DeviceAuthorizationBuilder};

mod device;

/// The authorize path, on the accounts host.
pub const AUTHORIZE_PATH: &str = "/open-apis/authen/v1/authorize";

/// The scope that makes the platform issue a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Builds the authorize URL of a PKCE login; from [`UserTokens::authorize`].
#[derive(Debug, Clone)]
#[must_use = "call `build()` to get the URL"]
pub struct AuthorizeUrlBuilder {
    client_id: String,
    base: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
}

impl AuthorizeUrlBuilder {
    fn new(client: &Client, redirect_uri: String) -> Self {
        Self {
            client_id: client.config().app_id.clone(),
            base: accounts_base(client),
            redirect_uri,
            scopes: Vec::new(),
            state: None,
        }
    }

    /// Asks for a scope (repeat for several; `offline_access` for a refresh token).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Asks for several scopes.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Uses this `state` instead of a random one (it must still be unguessable: it is what
    /// ties the callback to the session that started the login).
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Where the authorize page is served (default: `https://accounts.feishu.cn` or
    /// `https://accounts.larksuite.com` for the platform's domains, else the client's base
    /// URL).
    pub fn authorize_base(mut self, base: impl Into<String>) -> Self {
        self.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// The URL and what to keep for the callback; input is checked first.
    pub fn build(self) -> Result<Authorization> {
        let invalid = |m: String| Err(Error::InvalidRequest(m));
        let redirect = match reqwest::Url::parse(&self.redirect_uri) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => url,
            _ => {
                return invalid(format!(
                    "redirect_uri {:?} is not an absolute http(s) URL; give the one registered in the developer console",
                    self.redirect_uri
                ));
            }
        };
        if redirect.fragment().is_some() {
            return invalid("redirect_uri may not have a #fragment".into());
        }
        check_scopes(&self.scopes)?;
        let state = match self.state {
            Some(state) if state.len() < 16 || state.len() > 512 => {
                return invalid("state must be 16 to 512 characters".into());
            }
            Some(state) => state,
            None => random_text(16)?,
        };
        let verifier = random_text(32)?; // 43 characters, the RFC 7636 minimum
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut url = reqwest::Url::parse(&format!("{}{AUTHORIZE_PATH}", self.base))
            .map_err(|e| Error::InvalidRequest(format!("authorize base {:?}: {e}", self.base)))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id);
            q.append_pair("response_type", "code");
            q.append_pair("redirect_uri", &self.redirect_uri);
            if !self.scopes.is_empty() {
                q.append_pair("scope", &self.scopes.join(" "));
            }
            q.append_pair("state", &state);
            q.append_pair("code_challenge", &challenge);
            q.append_pair("code_challenge_method", "S256");
        }
        Ok(Authorization {
            url: url.into(),
            state,
            code_verifier: SecretString::from(verifier),
            redirect_uri: self.redirect_uri,
        })
    }
}

/// A login in progress: the URL to send the browser to, and what the callback needs.
/// The verifier is a secret (out of `Debug`); keep it server-side, in the user's session.
#[derive(Clone)]
pub struct Authorization {
    url: String,
    state: String,
    code_verifier: SecretString,
    redirect_uri: String,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("state", &self.state)
            .field("code_verifier", &self.code_verifier)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl Authorization {
    /// A login rebuilt from what the session kept (the URL is not needed any more).
    pub fn from_parts(
        state: impl Into<String>,
        code_verifier: impl Into<SecretString>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            url: String::new(),
            state: state.into(),
            code_verifier: code_verifier.into(),
            redirect_uri: redirect_uri.into(),
        }
    }

    /// The authorize URL (empty for a login rebuilt with [`from_parts`](Self::from_parts)).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `state` the callback must bring back.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The PKCE code verifier.
    pub fn code_verifier(&self) -> &SecretString {
        &self.code_verifier
    }

    /// The redirect URI the authorization used (the exchange sends it again).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Whether `returned` is this login's `state` (compared in constant time); a mismatch is
    /// [`AuthErrorKind::StateMismatch`].
    pub fn check_state(&self, returned: &str) -> Result<()> {
        let (a, b) = (self.state.as_bytes(), returned.as_bytes());
        let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0;
        if same && !a.is_empty() {
            Ok(())
        } else {
            Err(Error::auth(
                AuthErrorKind::StateMismatch,
                "the callback's state is not the one this login sent: the callback does not belong to this session (start the login again)",
            ))
        }
    }
}

/// Each scope is one non-empty word (they are sent space-separated).
fn check_scopes(scopes: &[String]) -> Result<()> {
    match scopes
        .iter()
        .find(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        Some(bad) => Err(Error::InvalidRequest(format!(
            "scope {bad:?} is empty or has whitespace; give one scope per call of .scope()"
        ))),
        None => Ok(()),
    }
}

fn accounts_base(client: &Client) -> String {
    client.config().accounts_base()
}

/// `bytes` random bytes from the system's secure generator, base64url without padding.
fn random_text(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| Error::Config("the system's secure random generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

impl UserTokens {
    /// Starts a PKCE login that redirects to `redirect_uri` (registered in the developer
    /// console); see [`crate::oauth`].
    pub fn authorize(&self, redirect_uri: impl Into<String>) -> AuthorizeUrlBuilder {
        AuthorizeUrlBuilder::new(self.client(), redirect_uri.into())
    }

    /// Ends a PKCE login: checks the callback's `returned_state` against `login` (before any
    /// I/O), then exchanges `code` with the verifier on the v2 token endpoint. The token is
    /// returned, not stored (as [`exchange_code`](Self::exchange_code)): ask who the user is
    /// with it, then [`insert`](Self::insert) it.
    pub async fn exchange_authorization(
        &self,
        login: &Authorization,
        code: &str,
        returned_state: &str,
    ) -> Result<UserToken> {
        login.check_state(returned_state)?;
        if code.trim().is_empty() {
            return Err(Error::InvalidRequest(
                "the authorization code is empty; pass the `code` query parameter of the redirect"
                    .into(),
            ));
        }
        oauth2::exchange_code(
            self.client(),
            code,
            login.code_verifier(),
            login.redirect_uri(),
        )
        .await
    }
}

/// Refreshes an OAuth 2 `token` now, narrowed to `scope` when given (space-separated, a
/// subset of what was granted), and returns the rotated token: its refresh token replaces
/// the old one, which is spent. For tokens kept by [`UserTokens`], which refreshes on its
/// own, use [`UserTokens::refresh`]; this is for tokens you keep yourself.
pub async fn refresh(client: &Client, token: &UserToken, scope: Option<&str>) -> Result<UserToken> {
    if token.flow() != UserTokenFlow::OAuth2 {
        return Err(Error::InvalidRequest(
            "the token was not issued by the OAuth 2 flow; refresh it with UserTokens (OIDC endpoint)".into(),
        ));
    }
    let Some(refresh_token) = token.refresh_token() else {
        return Err(Error::auth(
            AuthErrorKind::UserAuthorizationRequired,
            "the token has no refresh token (ask for the offline_access scope): send the user through authorization again",
        ));
    };
    oauth2::refresh(client, token, refresh_token, scope).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let a = random_text(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_text(32).unwrap());
    }
}
