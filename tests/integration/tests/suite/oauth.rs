//! OAuth 2 with PKCE against the mock's authorize step and v2 token endpoint: the login
//! end to end, refresh with rotation through `UserTokens`, narrowed scopes, and each way it
//! is refused (a wrong verifier, a state mismatch, a reused code, bad input before I/O).

use std::time::Duration;

use crate::common::*;
use lark_oapi::oauth::{self, Authorization};
use lark_oapi::{AuthErrorKind, Error, UserToken, UserTokenFlow, UserTokens};
use lark_oapi_mock::{Fault, MockPlatform, OAUTH_USER};

const TOKEN_PATH: &str = "/open-apis/authen/v2/oauth/token";
const AUTHORIZE_PATH: &str = "/open-apis/authen/v1/authorize";
const REDIRECT: &str = "https://app.example.com/oauth/callback";

/// Follows the authorize URL as a browser whose user approves: the redirect's `code` and
/// `state`.
async fn approve(login: &Authorization) -> (String, String) {
    install_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(login.url()).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{:?}", resp.text().await);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let url = reqwest::Url::parse(&location).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("code"), get("state"))
}

fn login(users: &UserTokens, offline: bool) -> Authorization {
    let mut b = users
        .authorize(REDIRECT)
        .scope("contact:user.base:readonly");
    if offline {
        b = b.scope(oauth::OFFLINE_ACCESS);
    }
    b.build().unwrap()
}

/// A user logged in through the whole PKCE flow (with a refresh token when `offline`).
async fn logged_in(users: &UserTokens, offline: bool) -> UserToken {
    let login = login(users, offline);
    let (code, state) = approve(&login).await;
    users
        .exchange_authorization(&login, &code, &state)
        .await
        .unwrap()
}

fn oauth_error(e: &Error) -> &lark_oapi::OAuthError {
    match e {
        Error::OAuth(e) => e,
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_pkce_login_end_to_end_then_refreshed_with_rotation_by_user_tokens() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let login = login(&users, true);
    // The URL carries what the platform needs, and no secret.
    let url = reqwest::Url::parse(login.url()).unwrap();
    assert_eq!(url.path(), AUTHORIZE_PATH);
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], lark_oapi_mock::APP_ID);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "contact:user.base:readonly offline_access");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], login.state());
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(!login.url().contains(login.code_verifier().expose()));
    assert!(!format!("{login:?}").contains(login.code_verifier().expose()));

    let (code, state) = approve(&login).await;
    // The session kept the parts; the callback rebuilds the login from them.
    let kept = Authorization::from_parts(
        login.state().to_owned(),
        login.code_verifier().clone(),
        login.redirect_uri().to_owned(),
    );
    let token = users
        .exchange_authorization(&kept, &code, &state)
        .await
        .unwrap();
    assert_eq!(token.flow(), UserTokenFlow::OAuth2);
    assert!(token.refresh_token().is_some());
    assert_eq!(
        token.scope(),
        Some("contact:user.base:readonly offline_access")
    );
    assert_eq!(whoami(&client, &token).await.unwrap(), OAUTH_USER);

    // The exchange: the verifier, the redirect URI and the app's secret in the body, no token.
    let sent = mock.requests_to(TOKEN_PATH);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].header("authorization").is_none());
    let body = sent[0].json().unwrap();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code_verifier"], login.code_verifier().expose());
    assert_eq!(body["redirect_uri"], REDIRECT);
    assert_eq!(body["client_secret"], lark_oapi_mock::APP_SECRET);

    // Kept by UserTokens and refreshed on the v2 endpoint when it expires (an OIDC refresh
    // would be refused: the mock keeps the flows apart, as the platform does).
    users.insert("alice", token.clone()).await.unwrap();
    mock.expire_user_access_tokens();
    let fresh = users.refresh("alice").await.unwrap();
    assert_ne!(fresh.access_token().expose(), token.access_token().expose());
    assert_ne!(
        fresh.refresh_token().unwrap().expose(),
        token.refresh_token().unwrap().expose()
    );
    assert_eq!(fresh.flow(), UserTokenFlow::OAuth2);
    assert_eq!(whoami(&client, &fresh).await.unwrap(), OAUTH_USER);
    let sent = mock.requests_to(TOKEN_PATH);
    assert_eq!(sent.len(), 2);
    let body = sent[1].json().unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(
        body["refresh_token"],
        token.refresh_token().unwrap().expose()
    );
    assert!(
        mock.requests_to("/open-apis/authen/v1/oidc/refresh_access_token")
            .is_empty()
    );

    // The spent refresh token is dead: refreshing with it again is refused as used.
    let err = oauth::refresh(&client, &token, None).await.unwrap_err();
    assert_eq!(err.code(), Some(20073));
    assert_eq!(oauth_error(&err).error, "invalid_grant");
    assert!(err.requires_user_authorization());
}

#[tokio::test]
async fn a_refresh_narrows_scopes_and_refuses_scopes_never_granted() {
    let (_mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&users, true).await;
    let narrowed = oauth::refresh(&client, &token, Some("contact:user.base:readonly"))
        .await
        .unwrap();
    assert_eq!(narrowed.scope(), Some("contact:user.base:readonly"));
    // Narrowed without offline_access: no new refresh token in the answer, so the old one
    // (now spent) is what the token keeps; it is the answer's absence that is kept.
    assert_eq!(
        narrowed.refresh_token().map(|t| t.expose().to_owned()),
        token.refresh_token().map(|t| t.expose().to_owned())
    );

    let token = logged_in(&users, true).await;
    let err = oauth::refresh(&client, &token, Some("admin:everything"))
        .await
        .unwrap_err();
    let e = oauth_error(&err);
    assert_eq!(
        (e.error.as_str(), e.code, e.http_status),
        ("invalid_scope", Some(20027), 400)
    );
    assert!(e.log_id.is_some());
    assert!(err.to_string().contains("admin:everything"), "{err}");
}

#[tokio::test]
async fn a_wrong_verifier_a_reused_code_and_a_state_mismatch_are_refused() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);

    // A verifier that is not the challenge's.
    let login = login(&users, true);
    let (code, state) = approve(&login).await;
    let forged = Authorization::from_parts(state.clone(), "x".repeat(43), REDIRECT);
    let err = users
        .exchange_authorization(&forged, &code, &state)
        .await
        .unwrap_err();
    let e = oauth_error(&err);
    assert_eq!((e.error.as_str(), e.code), ("invalid_grant", Some(20005)));
    assert!(err.requires_user_authorization());
    assert!(!err.is_retryable());

    // A code is single use.
    let login = self::login(&users, true);
    let (code, state) = approve(&login).await;
    users
        .exchange_authorization(&login, &code, &state)
        .await
        .unwrap();
    let err = users
        .exchange_authorization(&login, &code, &state)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err).code, Some(20003));

    // The callback's state is not this login's: refused before any request.
    mock.clear_requests();
    let login = self::login(&users, true);
    let (code, _) = approve(&login).await;
    let other = self::login(&users, true);
    let err = users
        .exchange_authorization(&login, &code, other.state())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::StateMismatch),
        "{err:?}"
    );
    assert!(mock.requests_to(TOKEN_PATH).is_empty());
}

#[tokio::test]
async fn without_offline_access_there_is_nothing_to_refresh() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&users, false).await;
    assert!(token.refresh_token().is_none());
    users.insert("bob", token).await.unwrap();
    mock.expire_user_access_tokens();
    let err = users.refresh("bob").await.unwrap_err();
    assert!(err.requires_user_authorization(), "{err}");
}

#[tokio::test]
async fn a_token_service_failure_is_tried_once_more_and_bad_input_never_leaves() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let login = login(&users, true);
    let (code, state) = approve(&login).await;
    mock.push_fault(
        TOKEN_PATH,
        Fault::RawJson {
            http_status: 500,
            body: r#"{"code":20050,"error":"server_error","error_description":"try again"}"#.into(),
        },
    );
    let token = users
        .exchange_authorization(&login, &code, &state)
        .await
        .unwrap();
    assert!(token.refresh_token().is_some());
    assert_eq!(mock.requests_to(TOKEN_PATH).len(), 2);

    // Twice in a row: the second failure is the answer, typed.
    mock.push_fault(
        TOKEN_PATH,
        Fault::RawJson {
            http_status: 500,
            body: r#"{"code":20050,"error":"server_error","error_description":"try again"}"#.into(),
        },
    );
    mock.push_fault(
        TOKEN_PATH,
        Fault::RawJson {
            http_status: 500,
            body: r#"{"code":20050,"error":"server_error","error_description":"still failing"}"#
                .into(),
        },
    );
    let err = oauth::refresh(&client, &token, None).await.unwrap_err();
    let e = oauth_error(&err);
    assert_eq!(
        (e.error.as_str(), e.code, e.http_status),
        ("server_error", Some(20050), 500)
    );
    assert_eq!(e.error_description, "still failing");
    assert!(err.is_retryable());

    // Bad input: refused before anything is sent.
    mock.clear_requests();
    for (builder, needle) in [
        (users.authorize("/relative/callback"), "redirect_uri"),
        (users.authorize("ftp://example.com/cb"), "redirect_uri"),
        (users.authorize(REDIRECT).scope("two scopes"), "whitespace"),
        (users.authorize(REDIRECT).state("short"), "state"),
    ] {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let err = users
        .exchange_authorization(&login, " ", login.state())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)));
    let oidc = UserToken::new(
        "u-x",
        std::time::SystemTime::now() + Duration::from_secs(60),
    );
    assert!(matches!(
        oauth::refresh(&client, &oidc, None).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_mock_authorize_step_refuses_what_the_platform_would() {
    let (mock, client) = setup().await;
    install_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let users = UserTokens::new(&client);
    let good = reqwest::Url::parse(login(&users, true).url()).unwrap();
    for (key, value) in [
        ("code_challenge_method", "plain"),
        ("client_id", "cli_other"),
        ("code_challenge", "short"),
    ] {
        let mut url = good.clone();
        let pairs: Vec<(String, String)> = good
            .query_pairs()
            .into_owned()
            .map(|(k, v)| {
                if k == key {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        let resp = http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{key}");
        let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(body["error"], "invalid_request", "{key}");
    }
    mock.set_oauth_user(Some("ou_someone_else"));
    let token = logged_in(&users, true).await;
    assert_eq!(whoami(&client, &token).await.unwrap(), "ou_someone_else");
    let _: &MockPlatform = &mock;
}

#[tokio::test]
async fn many_callers_of_an_expired_oauth2_token_make_one_refresh() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&users, true).await;
    // Kept as expired, so that every caller needs a refresh.
    users.insert("dave", expired_copy(&token)).await.unwrap();
    let before = mock.requests_to(TOKEN_PATH).len();
    let calls = (0..20).map(|_| {
        let users = users.clone();
        tokio::spawn(async move { users.access_token("dave").await })
    });
    let tokens: Vec<String> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|t| t.unwrap().unwrap().expose().to_owned())
        .collect();
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "one token for everyone"
    );
    assert_ne!(tokens[0], token.access_token().expose());
    assert_eq!(
        mock.requests_to(TOKEN_PATH).len() - before,
        1,
        "one refresh"
    );
}

#[tokio::test]
async fn a_store_that_lost_the_flow_still_refreshes_an_oauth2_token() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&users, true).await;
    // As a store written before flows were kept gives it back: marked OIDC.
    let forgotten = expired_copy(&token).with_flow(UserTokenFlow::Oidc);
    users.insert("erin", forgotten).await.unwrap();
    let fresh = users.refresh("erin").await.unwrap();
    assert_eq!(whoami(&client, &fresh).await.unwrap(), OAUTH_USER);
    assert_eq!(
        mock.requests_to("/open-apis/authen/v1/oidc/refresh_access_token")
            .len(),
        1
    );
    assert_eq!(fresh.flow(), UserTokenFlow::OAuth2);
}

#[tokio::test]
async fn an_oauth_shaped_body_from_an_ordinary_endpoint_stays_what_it_was() {
    let (mock, client) = setup().await;
    mock.push_fault(
        "/open-apis/im/v1/chats",
        Fault::RawJson {
            http_status: 400,
            body: r#"{"code":1234,"msg":"bad","error":"a string"}"#.into(),
        },
    );
    let err = client
        .request(lark_oapi::Method::GET, "/open-apis/im/v1/chats")
        .send_value()
        .await
        .unwrap_err();
    let api = err.api_error().expect("an API error, not an OAuth one");
    assert_eq!((api.code, api.msg.as_str()), (1234, "bad"));
}
