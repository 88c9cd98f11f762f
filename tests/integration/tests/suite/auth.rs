//! Tokens: single flight, eviction and replay, explicit tokens, marketplace apps, help desk.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use lark_oapi::{AppType, AuthErrorKind, Client, Error, Method, TokenTypes};
use lark_oapi_mock::{APP_TICKET, Fault};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_calls_make_one_token_request() {
    let (mock, client) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .request(Method::GET, "/open-apis/echo/v1/ping")
                .query("i", i)
                .send_value()
                .await
        }));
    }
    for t in tasks {
        let resp = t.await.unwrap().expect("call succeeds");
        assert_eq!(resp.data()["method"], "GET");
    }
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        1,
        "exactly one token fetch"
    );
    let calls = mock.requests_to("/open-apis/echo/v1/ping");
    assert_eq!(calls.len(), 1000);
    let token = bearer(&calls[0]).unwrap();
    assert!(token.starts_with("t-"));
    assert!(
        calls
            .iter()
            .all(|r| bearer(r).as_deref() == Some(token.as_str()))
    );
}

#[tokio::test]
async fn an_invalid_token_is_evicted_refetched_and_the_call_replayed_once() {
    let (mock, client) = setup().await;
    client
        .request(Method::GET, "/open-apis/echo/v1/a")
        .send_value()
        .await
        .unwrap();
    let first = bearer(&mock.requests_to("/open-apis/echo/v1/a")[0]).unwrap();
    mock.revoke_tokens();
    mock.clear_requests();

    let resp = client
        .request(Method::GET, "/open-apis/echo/v1/a")
        .send_value()
        .await;
    assert!(resp.is_ok(), "{resp:?}");
    let calls = mock.requests_to("/open-apis/echo/v1/a");
    assert_eq!(calls.len(), 2, "one failed attempt, one replay");
    assert_eq!(bearer(&calls[0]).as_deref(), Some(first.as_str()));
    let second = bearer(&calls[1]).unwrap();
    assert_ne!(second, first, "the replay carries a fresh token");
    assert_eq!(mock.requests_to(TENANT_TOKEN_PATH).len(), 1, "one refetch");

    // The new token is cached: the next call fetches nothing.
    client
        .request(Method::GET, "/open-apis/echo/v1/a")
        .send_value()
        .await
        .unwrap();
    assert_eq!(mock.requests_to(TENANT_TOKEN_PATH).len(), 1);
}

#[tokio::test]
async fn a_token_rejected_twice_is_replayed_only_once() {
    let (mock, client) = setup().await;
    mock.push_fault("/open-apis/echo/v1/b", Fault::InvalidToken);
    mock.push_fault("/open-apis/echo/v1/b", Fault::InvalidToken);
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/b")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(99991663));
    assert_eq!(err.http_status(), Some(400));
    assert!(err.log_id().is_some());
    assert_eq!(mock.requests_to("/open-apis/echo/v1/b").len(), 2);
}

#[tokio::test]
async fn tokens_given_per_call_are_sent_with_the_cache_on_and_off() {
    for cache in [true, false] {
        let (mock, client) = setup_with(|b| b.enable_token_cache(cache)).await;
        // Warm the cache (when on) so a cached tenant token exists.
        client
            .request(Method::GET, "/open-apis/echo/v1/warm")
            .send_value()
            .await
            .unwrap();
        let resp = client
            .request(Method::GET, "/open-apis/echo/v1/me")
            .user_access_token("u-alice")
            .send_value()
            .await
            .unwrap();
        assert_eq!(resp.data()["path"], "/open-apis/echo/v1/me");
        let req = &mock.requests_to("/open-apis/echo/v1/me")[0];
        assert_eq!(bearer(req).as_deref(), Some("u-alice"), "cache={cache}");

        client
            .request(Method::GET, "/open-apis/echo/v1/given")
            .tenant_access_token("t-given-by-caller")
            .send_value()
            .await
            .unwrap_err(); // the mock does not know this token...
        let req = &mock.requests_to("/open-apis/echo/v1/given")[0];
        // ...but it is what was sent, and a caller's token is not replayed with another.
        assert_eq!(bearer(req).as_deref(), Some("t-given-by-caller"));
        assert_eq!(mock.requests_to("/open-apis/echo/v1/given").len(), 1);
    }
}

#[tokio::test]
async fn with_the_cache_off_every_call_is_still_authenticated() {
    let (mock, client) = setup_with(|b| b.enable_token_cache(false)).await;
    for _ in 0..3 {
        client
            .request(Method::GET, "/open-apis/echo/v1/c")
            .send_value()
            .await
            .unwrap();
    }
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        3,
        "a fresh token per call"
    );
    assert!(
        mock.requests_to("/open-apis/echo/v1/c")
            .iter()
            .all(|r| bearer(r).is_some_and(|t| t.starts_with("t-")))
    );
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry() {
    let (mock, client) = setup().await;
    mock.set_token_expire(2); // cached for half its life when that short
    client
        .request(Method::GET, "/open-apis/echo/v1/d")
        .send_value()
        .await
        .unwrap();
    client
        .request(Method::GET, "/open-apis/echo/v1/d")
        .send_value()
        .await
        .unwrap();
    assert_eq!(mock.requests_to(TENANT_TOKEN_PATH).len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .request(Method::GET, "/open-apis/echo/v1/d")
        .send_value()
        .await
        .unwrap();
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        2,
        "refetched before the old one expired"
    );
    let calls = mock.requests_to("/open-apis/echo/v1/d");
    assert_eq!(calls.len(), 3, "no call was rejected");
}

#[tokio::test]
async fn app_only_apis_get_the_app_token_and_auth_endpoints_get_none() {
    let (mock, client) = setup().await;
    client
        .request(Method::GET, "/open-apis/echo/v1/app")
        .token_types(TokenTypes::APP)
        .send_value()
        .await
        .unwrap();
    let req = &mock.requests_to("/open-apis/echo/v1/app")[0];
    assert!(bearer(req).unwrap().starts_with("a-"));
    assert_eq!(
        mock.requests_to("/open-apis/auth/v3/app_access_token/internal")
            .len(),
        1
    );

    let err = client
        .request(Method::GET, "/open-apis/echo/v1/none")
        .no_auth()
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(99991661), "sent without Authorization");
    assert!(
        mock.requests_to("/open-apis/echo/v1/none")[0]
            .header("authorization")
            .is_none()
    );
}

#[tokio::test]
async fn user_only_apis_without_a_user_token_fail_before_any_io() {
    let (mock, client) = setup().await;
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/user-only")
        .token_types(TokenTypes::USER)
        .send_value()
        .await
        .unwrap_err();
    match &err {
        Error::Auth(a) => assert_eq!(a.kind, AuthErrorKind::UserTokenRequired),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("user_access_token"));
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn wrong_credentials_surface_the_platform_code() {
    let mock = lark_oapi_mock::MockPlatform::start().await.unwrap();
    let client = Client::new(
        lark_oapi::Config::builder(lark_oapi_mock::APP_ID, "wrong-secret")
            .domain(lark_oapi::Domain::custom(mock.base_url()))
            .build()
            .unwrap(),
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/x")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(10014));
    assert!(err.to_string().contains("app secret invalid"), "{err}");
    assert!(!err.to_string().contains("wrong-secret"));
    assert!(mock.requests_to("/open-apis/echo/v1/x").is_empty());
}

#[tokio::test]
async fn marketplace_apps_use_the_app_ticket_and_tenant_keys() {
    let (mock, client) = setup_with(|b| b.app_type(AppType::Marketplace)).await;

    // No ticket yet: the platform is asked to resend it, and the error says what to do.
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/isv")
        .tenant_key("tenant-1")
        .send_value()
        .await
        .unwrap_err();
    match &err {
        Error::Auth(a) => assert_eq!(a.kind, AuthErrorKind::AppTicketMissing),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mock.requests_to("/open-apis/auth/v3/app_ticket/resend")
            .len(),
        1
    );

    // A tenant key is required.
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/isv")
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::TenantKeyMissing),
        "{err:?}"
    );

    client.set_app_ticket(APP_TICKET).await;
    for tenant in ["tenant-1", "tenant-2", "tenant-1"] {
        client
            .request(Method::GET, "/open-apis/echo/v1/isv")
            .tenant_key(tenant)
            .send_value()
            .await
            .unwrap();
    }
    // The app token is fetched once and cached; one tenant token per tenant.
    assert_eq!(
        mock.requests_to("/open-apis/auth/v3/app_access_token")
            .len(),
        1
    );
    let tenant_fetches = mock.requests_to("/open-apis/auth/v3/tenant_access_token");
    assert_eq!(tenant_fetches.len(), 2);
    let keys: Vec<_> = tenant_fetches
        .iter()
        .map(|r| r.json().unwrap()["tenant_key"].clone())
        .collect();
    assert_eq!(keys, ["tenant-1", "tenant-2"]);
    let calls = mock.requests_to("/open-apis/echo/v1/isv");
    assert_eq!(
        bearer(&calls[0]),
        bearer(&calls[2]),
        "tenant-1's token is reused"
    );
    assert_ne!(bearer(&calls[0]), bearer(&calls[1]));
}

#[tokio::test]
async fn an_invalid_app_ticket_is_dropped_and_a_resend_requested() {
    let (mock, client) = setup_with(|b| b.app_type(AppType::Marketplace)).await;
    client.set_app_ticket("stale-ticket").await;
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/isv")
        .tenant_key("t1")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(10012));
    assert_eq!(
        mock.requests_to("/open-apis/auth/v3/app_ticket/resend")
            .len(),
        1
    );
    // The stale ticket is gone: the next call reports the missing ticket.
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/isv")
        .tenant_key("t1")
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::AppTicketMissing),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_help_desk_credential_goes_where_the_operation_asks_for_it() {
    let (mock, client) = setup_with(|b| b.helpdesk("7031", "ht-secret")).await;
    // A generated help desk call asks for it (an operation flag from the generator's data).
    client.helpdesk().v1().ticket().list().send().await.unwrap();
    // A raw request asks with `helpdesk_auth()`; the runtime knows no help desk path.
    client
        .request(Method::GET, "/open-apis/helpdesk/v1/agent_emails")
        .helpdesk_auth()
        .send_value()
        .await
        .unwrap();
    client
        .request(Method::GET, "/open-apis/helpdesk/v1/faqs")
        .send_value()
        .await
        .unwrap();
    client
        .request(Method::GET, "/open-apis/im/v1/chats/x")
        .send_value()
        .await
        .unwrap();
    for path in [
        "/open-apis/helpdesk/v1/tickets",
        "/open-apis/helpdesk/v1/agent_emails",
    ] {
        let hd = &mock.requests_to(path)[0];
        // base64("7031:ht-secret"), bare (no "Bearer "), next to the normal token.
        assert_eq!(
            hd.header("x-lark-helpdesk-authorization"),
            Some("NzAzMTpodC1zZWNyZXQ="),
            "{path}"
        );
        assert!(bearer(hd).unwrap().starts_with("t-"));
    }
    for path in ["/open-apis/helpdesk/v1/faqs", "/open-apis/im/v1/chats/x"] {
        let other = &mock.requests_to(path)[0];
        assert!(
            other.header("x-lark-helpdesk-authorization").is_none(),
            "{path}"
        );
    }
    // A credential given for one call is sent on that call.
    client
        .request(Method::GET, "/open-apis/im/v1/chats/y")
        .helpdesk("1", "x")
        .send_value()
        .await
        .unwrap();
    let given = &mock.requests_to("/open-apis/im/v1/chats/y")[0];
    assert_eq!(given.header("x-lark-helpdesk-authorization"), Some("MTp4"));
}

#[tokio::test]
async fn a_failing_token_cache_is_a_typed_error() {
    #[derive(Debug)]
    struct Broken;
    impl lark_oapi::TokenCache for Broken {
        fn get<'a>(
            &'a self,
            _: &'a str,
        ) -> lark_oapi::BoxFuture<'a, Result<Option<String>, lark_oapi::CacheError>> {
            Box::pin(async { Err("redis down".into()) })
        }
        fn set<'a>(
            &'a self,
            _: &'a str,
            _: String,
            _: Duration,
        ) -> lark_oapi::BoxFuture<'a, Result<(), lark_oapi::CacheError>> {
            Box::pin(async { Ok(()) })
        }
        fn remove<'a>(
            &'a self,
            _: &'a str,
        ) -> lark_oapi::BoxFuture<'a, Result<(), lark_oapi::CacheError>> {
            Box::pin(async { Ok(()) })
        }
    }
    let (_mock, client) = setup_with(|b| b.token_cache(Arc::new(Broken))).await;
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/x")
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::Cache),
        "{err:?}"
    );
    assert!(err.to_string().contains("redis down"));
}
