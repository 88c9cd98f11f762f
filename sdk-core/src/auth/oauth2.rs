//! The OAuth 2 grants of the v2 token endpoint (`POST /open-apis/authen/v2/oauth/token`):
//! authorization code with a PKCE verifier, refresh with rotation. The endpoint takes the
//! app's id and secret in the body (no app token), answers the token fields at the top level,
//! and refuses in OAuth style (`error`, `error_description`, with the platform's numeric
//! `code`): [`Error::OAuth`](crate::Error::OAuth).

use std::time::SystemTime;

use serde::Serialize;

use crate::CallOptions;
use crate::auth::assertion;
use crate::auth::user::GrantResponse;
use crate::client::Client;
use crate::error::Result;
use crate::secret::SecretString;
use crate::{Method, TokenTypes, UserToken, UserTokenFlow};

/// The v2 token endpoint, on the open platform host.
pub(crate) const OAUTH_TOKEN_PATH: &str = "/open-apis/authen/v2/oauth/token";

#[derive(Serialize, Clone)]
struct Grant<'a> {
    grant_type: &'static str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    client_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_assertion_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_assertion: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_verifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_code: Option<&'a str>,
}

impl<'a> Grant<'a> {
    fn new(client: &'a Client, grant_type: &'static str) -> Self {
        let config = &client.inner.config;
        Self {
            grant_type,
            client_id: &config.app_id,
            client_secret: config.app_secret.expose(),
            client_assertion_type: None,
            client_assertion: None,
            code: None,
            redirect_uri: None,
            code_verifier: None,
            refresh_token: None,
            scope: None,
            device_code: None,
        }
    }
}

/// Posts `grant` and reads the token it answers (marked [`UserTokenFlow::OAuth2`]).
async fn post(client: &Client, grant: &Grant<'_>) -> Result<UserToken> {
    // A grant the token service failed (20050) is tried once more: that failure does not
    // spend a single-use refresh token or code.
    // Never after a timeout or a dropped connection: the code or refresh token may have
    // been spent by a request whose answer was lost.
    let mut retry = client
        .inner
        .config
        .retry
        .clone()
        .retry_non_idempotent(false);
    retry.max_retries = retry.max_retries.min(1);
    post_with(client, grant, retry).await
}

async fn post_with(
    client: &Client,
    grant: &Grant<'_>,
    retry: crate::RetryPolicy,
) -> Result<UserToken> {
    let issued_at = SystemTime::now();
    let config = &client.inner.config;
    // With a client assertion: the accounts host's endpoint, the assertion in place of the
    // secret.
    let asserted = assertion::assertion(config, assertion::Audience::OAuth).await?;
    let mut grant = grant.clone();
    let path = match &asserted {
        Some(value) => {
            grant.client_secret = "";
            grant.client_assertion_type = Some(assertion::JWT_ASSERTION_TYPE);
            grant.client_assertion = Some(value.expose());
            format!(
                "{}{}",
                config.accounts_base(),
                crate::auth::manager::ASSERTION_TOKEN
            )
        }
        None => OAUTH_TOKEN_PATH.to_owned(),
    };
    let mut request = client.request(Method::POST, path);
    request.options_mut().oauth_errors = true;
    let raw = request
        .token_types(TokenTypes::NONE)
        .retry_policy(retry)
        .json(&grant)
        .send_raw()
        .await?;
    Ok(raw
        .decode_secret::<GrantResponse>(false)?
        .into_token(issued_at)?
        .with_flow(UserTokenFlow::OAuth2))
}

/// Exchanges an authorization `code` with its PKCE `verifier` and the `redirect_uri` the
/// authorization used.
pub(crate) async fn exchange_code(
    client: &Client,
    code: &str,
    verifier: &SecretString,
    redirect_uri: &str,
) -> Result<UserToken> {
    let mut grant = Grant::new(client, "authorization_code");
    grant.code = Some(code);
    grant.code_verifier = Some(verifier.expose());
    grant.redirect_uri = Some(redirect_uri);
    post(client, &grant).await
}

/// Refreshes `old` with its refresh token (rotated: the answer's replaces it; an answer
/// without one keeps the old one and its expiry), optionally narrowed to `scope`.
pub(crate) async fn refresh(
    client: &Client,
    old: &UserToken,
    refresh_token: &SecretString,
    scope: Option<&str>,
) -> Result<UserToken> {
    let mut grant = Grant::new(client, "refresh_token");
    grant.refresh_token = Some(refresh_token.expose());
    grant.scope = scope;
    let fresh = post(client, &grant).await?;
    Ok(keep_refresh_token(fresh, old))
}

/// Polls once for a device code's token (RFC 8628 §3.4); pending and the like come back
/// as [`Error::OAuth`](crate::Error::OAuth).
pub(crate) async fn device_token(client: &Client, device_code: &str) -> Result<UserToken> {
    let mut grant = Grant::new(client, "urn:ietf:params:oauth:grant-type:device_code");
    grant.device_code = Some(device_code);
    let mut grant_retry = client.inner.config.retry.clone();
    grant_retry.max_retries = 0;
    post_with(client, &grant, grant_retry).await
}

/// `fresh`, with `old`'s refresh token and scope where the answer left them out.
fn keep_refresh_token(fresh: UserToken, old: &UserToken) -> UserToken {
    let mut fresh = fresh;
    if fresh.refresh_token().is_none()
        && let (Some(refresh), Some(until)) = (old.refresh_token(), old.refresh_expires_at())
    {
        fresh = fresh.with_refresh_token(refresh.clone(), until);
    }
    if fresh.scope().is_none()
        && let Some(scope) = old.scope()
    {
        fresh = fresh.with_scope(scope);
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_answer_without_a_refresh_token_keeps_the_old_one() {
        let now = SystemTime::now();
        let old = UserToken::new("u-old", now)
            .with_refresh_token("ur-old", now + Duration::from_secs(60))
            .with_scope("a b");
        let kept = keep_refresh_token(UserToken::new("u-new", now), &old);
        assert_eq!(kept.refresh_token().unwrap().expose(), "ur-old");
        assert_eq!(kept.refresh_expires_at(), old.refresh_expires_at());
        assert_eq!(kept.scope(), Some("a b"));
        let rotated = UserToken::new("u-new", now)
            .with_refresh_token("ur-new", now)
            .with_scope("a");
        let kept = keep_refresh_token(rotated, &old);
        assert_eq!(kept.refresh_token().unwrap().expose(), "ur-new");
        assert_eq!(kept.scope(), Some("a"));
    }
}
