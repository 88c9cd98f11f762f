//! Client assertions in place of the app secret, against the mock: the tenant token from
//! the jwt-bearer grant, user tokens with the assertion in place of `client_secret`, the
//! long connection's endpoint call, and a provider that fails or signs nonsense.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::common::*;
use lark_oapi::{
    AppType, AssertionError, AuthErrorKind, BoxFuture, Client, ClientAssertionProvider, Config,
    Domain, Error, Method, SecretString, UserTokens,
};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform};

const ASSERTION_PATH: &str = "/oauth/v3/token";

/// What the provider does.
#[derive(Debug, Clone, Copy)]
enum Sign {
    Jwt,
    Garbage,
    Empty,
    Fail,
}

/// A provider that records the audiences it was asked for.
#[derive(Debug, Clone)]
struct Provider {
    sign: Sign,
    audiences: Arc<Mutex<Vec<String>>>,
}

impl ClientAssertionProvider for Provider {
    fn assertion<'a>(
        &'a self,
        audience: &'a str,
    ) -> BoxFuture<'a, Result<SecretString, AssertionError>> {
        Box::pin(async move {
            self.audiences.lock().unwrap().push(audience.to_owned());
            let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
            match self.sign {
                Sign::Jwt => Ok(SecretString::new(format!(
                    "{}.{}.{}",
                    part(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
                    part(serde_json::json!({"iss": APP_ID, "aud": audience})),
                    URL_SAFE_NO_PAD.encode(b"signature")
                ))),
                Sign::Garbage => Ok(SecretString::new("not-a-jwt")),
                Sign::Empty => Ok(SecretString::new("")),
                Sign::Fail => Err("the signing service is down".into()),
            }
        })
    }
}

fn client_with(mock: &MockPlatform, sign: Sign) -> (Client, Arc<Mutex<Vec<String>>>) {
    let audiences = Arc::new(Mutex::new(Vec::new()));
    let provider = Provider {
        sign,
        audiences: audiences.clone(),
    };
    let config = Config::builder(APP_ID, "")
        .domain(Domain::custom(mock.base_url()))
        .retry_policy(fast_retries())
        .client_assertion(provider)
        .build()
        .unwrap();
    (Client::new(config), audiences)
}

/// No request carried a secret: no `client_secret` / `app_secret` field, no Basic header,
/// and the long connection's `AppSecret` empty.
fn no_secret_anywhere(mock: &MockPlatform) {
    for r in mock.requests() {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(APP_SECRET), "{} {body}", r.path);
        assert!(
            !body.contains("client_secret") && !body.contains("app_secret"),
            "{} {body}",
            r.path
        );
        if let Some(v) = r.json().and_then(|v| v.get("AppSecret").cloned()) {
            assert_eq!(v, "", "{}", r.path);
        }
        assert!(
            !r.header("authorization")
                .is_some_and(|a| a.starts_with("Basic")),
            "{}",
            r.path
        );
    }
}

#[tokio::test]
async fn the_tenant_token_comes_from_the_jwt_bearer_grant() {
    let mock = MockPlatform::start().await.unwrap();
    let (client, audiences) = client_with(&mock, Sign::Jwt);
    let chats = client
        .request(Method::GET, "/open-apis/im/v1/chats")
        .send_value()
        .await
        .unwrap();
    assert!(chats.log_id().is_some());
    let grants = mock.requests_to(ASSERTION_PATH);
    assert_eq!(grants.len(), 1);
    let body = grants[0].json().unwrap();
    assert_eq!(
        body["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(
        body["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(body["client_id"], APP_ID);
    assert_eq!(
        body["client_assertion"]
            .as_str()
            .unwrap()
            .split('.')
            .count(),
        3
    );
    assert!(mock.requests_to(TENANT_TOKEN_PATH).is_empty());
    // The audience of the token endpoint: the accounts host (here the mock's).
    assert_eq!(*audiences.lock().unwrap(), ["127.0.0.1"]);
    // The token is cached like any other: a second call asks nobody.
    client
        .request(Method::GET, "/open-apis/im/v1/chats")
        .send_value()
        .await
        .unwrap();
    assert_eq!(mock.requests_to(ASSERTION_PATH).len(), 1);
    no_secret_anywhere(&mock);
    assert!(!format!("{:?}", client.config()).contains("signature"));

    // An app token is not to be had this way: said plainly.
    let err = client.app_access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::ClientAssertion),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_provider_that_fails_or_signs_nothing_is_a_typed_error_before_any_request() {
    let mock = MockPlatform::start().await.unwrap();
    for (sign, needle) in [
        (Sign::Fail, "the signing service is down"),
        (Sign::Empty, "empty assertion"),
    ] {
        let (client, _) = client_with(&mock, sign);
        let err = client
            .request(Method::GET, "/open-apis/im/v1/chats")
            .send_value()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::ClientAssertion),
            "{err:?}"
        );
        assert!(err.to_string().contains(needle), "{err}");
    }
    assert!(mock.requests().is_empty());

    // One the platform cannot read: its refusal, typed.
    let (client, _) = client_with(&mock, Sign::Garbage);
    let err = client
        .request(Method::GET, "/open-apis/im/v1/chats")
        .send_value()
        .await
        .unwrap_err();
    match &err {
        Error::OAuth(e) => assert_eq!((e.error.as_str(), e.http_status), ("invalid_client", 401)),
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains("not-a-jwt"), "{err}");
}

#[tokio::test]
async fn user_tokens_carry_the_assertion_in_place_of_the_secret() {
    let mock = MockPlatform::start().await.unwrap();
    let (client, _) = client_with(&mock, Sign::Jwt);
    let users = UserTokens::new(&client);
    let login = users
        .authorize("https://app.example.com/cb")
        .scope("offline_access")
        .build()
        .unwrap();
    install_provider();
    let http = lark_oapi::reqwest::Client::builder()
        .redirect(lark_oapi::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(login.url()).send().await.unwrap();
    let location =
        lark_oapi::reqwest::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let param = |k: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let token = users
        .exchange_authorization(&login, &param("code"), &param("state"))
        .await
        .unwrap();
    users.insert("carol", token).await.unwrap();
    mock.expire_user_access_tokens();
    users.refresh("carol").await.unwrap();

    let grants = mock.requests_to(ASSERTION_PATH);
    let kinds: Vec<String> = grants
        .iter()
        .map(|r| r.json().unwrap()["grant_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["authorization_code", "refresh_token"]);
    for g in &grants {
        let body = g.json().unwrap();
        assert!(body.get("client_secret").is_none(), "{body}");
        assert!(body["client_assertion"].is_string());
    }
    assert!(
        mock.requests_to("/open-apis/authen/v2/oauth/token")
            .is_empty()
    );
    no_secret_anywhere(&mock);

    // The device flow needs the secret: said before anything is sent.
    mock.clear_requests();
    let err = users.device_authorization().start().await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_long_connection_opens_with_an_assertion() {
    let mock = MockPlatform::start().await.unwrap();
    let (client, audiences) = client_with(&mock, Sign::Jwt);
    let dispatcher = lark_oapi::dispatcher::EventDispatcher::builder().build();
    let conn = connect(&client, dispatcher).await;
    let calls = mock.requests_to("/callback/ws/endpoint");
    let body = calls[0].json().unwrap();
    assert_eq!(body["AppSecret"], "");
    assert_eq!(
        body["ClientAssertion"].as_str().unwrap().split('.').count(),
        3
    );
    assert_eq!(
        *audiences.lock().unwrap(),
        ["127.0.0.1"],
        "the open platform host"
    );
    conn.shutdown().await.unwrap();
    no_secret_anywhere(&mock);

    // An empty assertion is a bug of the provider: start() refuses for good.
    let (client, _) = client_with(&mock, Sign::Empty);
    let err = lark_oapi::long_connection::LongConnection::builder(
        &client,
        lark_oapi::dispatcher::EventDispatcher::builder().build(),
    )
    .no_proxy()
    .build()
    .start()
    .await
    .unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(err.to_string().contains("empty assertion"), "{err}");
}

#[test]
fn configs_without_a_secret_or_for_marketplace_apps_are_refused() {
    let err = Config::builder(APP_ID, "").build().unwrap_err();
    assert!(err.to_string().contains("client_assertion"), "{err}");
    let provider = Provider {
        sign: Sign::Jwt,
        audiences: Arc::default(),
    };
    let err = Config::builder(APP_ID, "")
        .app_type(AppType::Marketplace)
        .client_assertion(provider)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}
