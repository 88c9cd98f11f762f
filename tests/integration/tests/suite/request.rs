//! The raw request: URLs, query, bodies, headers, responses and errors on the wire.

use std::time::Duration;

use crate::common::*;
use lark_oapi::{Client, Config, Domain, Error, Method};
use lark_oapi_mock::{APP_ID, APP_SECRET, Fault, MockPlatform};
use serde::Deserialize;

#[tokio::test]
async fn get_and_delete_send_no_body_and_no_content_type() {
    let (mock, client) = setup().await;
    client
        .request(Method::GET, "/open-apis/echo/v1/get")
        .send_value()
        .await
        .unwrap();
    client
        .request(Method::DELETE, "/open-apis/echo/v1/del")
        .send_value()
        .await
        .unwrap();
    for path in ["/open-apis/echo/v1/get", "/open-apis/echo/v1/del"] {
        let req = &mock.requests_to(path)[0];
        assert!(req.body.is_empty(), "{path} sent a body");
        assert!(
            req.header("content-type").is_none(),
            "{path} sent a content type"
        );
        let len = req.header("content-length");
        assert!(len.is_none() || len == Some("0"));
    }
}

#[tokio::test]
async fn a_body_on_get_is_refused_before_sending() {
    let (mock, client) = setup().await;
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/get")
        .json(&serde_json::json!({"a": 1}))
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("cannot carry a body")),
        "{err:?}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn delete_with_a_body_sends_it_as_json() {
    let (mock, client) = setup().await;
    client
        .request(Method::DELETE, "/open-apis/echo/v1/batch")
        .json(&serde_json::json!({"start_index": 0, "end_index": 2}))
        .send_value()
        .await
        .unwrap();
    let req = &mock.requests_to("/open-apis/echo/v1/batch")[0];
    assert_eq!(
        req.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        req.json().unwrap(),
        serde_json::json!({"start_index": 0, "end_index": 2})
    );
}

#[tokio::test]
async fn arrays_travel_as_repeated_query_keys_and_falsy_values_are_kept() {
    let (mock, client) = setup().await;
    let resp = client
        .request(Method::GET, "/open-apis/echo/v1/batch")
        .query_all("user_ids", ["ou_1", "ou_2", "ou 3&x"])
        .query("with_bot", false)
        .query("page_size", 0)
        .query("empty", "")
        .send_value()
        .await
        .unwrap();
    let req = &mock.requests_to("/open-apis/echo/v1/batch")[0];
    assert_eq!(req.query_values("user_ids"), ["ou_1", "ou_2", "ou 3&x"]);
    assert_eq!(req.query_values("with_bot"), ["false"]);
    assert_eq!(req.query_values("page_size"), ["0"]);
    assert_eq!(req.query_values("empty"), [""]);
    assert_eq!(
        resp.data()["query"][0],
        serde_json::json!(["user_ids", "ou_1"])
    );
}

#[tokio::test]
async fn a_custom_domain_with_a_trailing_slash_or_a_path_prefix_works() {
    let mock = MockPlatform::start().await.unwrap();
    let client = Client::new(
        Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(format!("{}///", mock.base_url())))
            .build()
            .unwrap(),
    );
    assert_eq!(client.config().base_url(), mock.base_url());
    client
        .request(Method::GET, "/open-apis/echo/v1/slash")
        .send_value()
        .await
        .unwrap();
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/slash").len(),
        1,
        "no `//open-apis`"
    );
    assert!(mock.requests().iter().all(|r| !r.path.contains("//")));
}

#[tokio::test]
async fn path_params_are_percent_encoded_segments() {
    let (mock, client) = setup().await;
    let resp = client
        .request(
            Method::GET,
            "/open-apis/echo/v1/messages/:message_id/reactions",
        )
        .path_param("message_id", "om_1/../x?y#z")
        .send_value()
        .await
        .unwrap();
    let recorded = &mock.requests()[1]; // [0] is the token fetch
    assert!(
        recorded
            .path
            .starts_with("/open-apis/echo/v1/messages/om_1")
    );
    assert!(recorded.path.ends_with("/reactions"), "{}", recorded.path);
    assert_eq!(recorded.raw_query, None);
    assert_eq!(resp.data()["path"], recorded.path.as_str());
}

#[tokio::test]
async fn an_unset_path_param_is_an_error_before_any_io() {
    let (mock, client) = setup().await;
    let err = client
        .request(Method::GET, "/open-apis/im/v1/messages/:message_id")
        .send_value()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`message_id`"), "{err}");
    let err = client
        .request(Method::GET, "/open-apis/im/v1/messages/:message_id")
        .path_param("message_id", "")
        .send_value()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let err = client
        .request(Method::GET, "open-apis/x")
        .send_value()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must start with `/`"), "{err}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn typed_responses_carry_the_log_id() {
    #[derive(Deserialize, Debug)]
    struct Sent {
        message_id: String,
        msg_type: String,
    }
    let (mock, client) = setup().await;
    let resp = client
        .request(Method::POST, "/open-apis/im/v1/messages")
        .query("receive_id_type", "chat_id")
        .json(&serde_json::json!({"receive_id": "oc_1", "msg_type": "text", "content": "{\"text\":\"hi\"}"}))
        .send::<Sent>()
        .await
        .unwrap();
    assert!(resp.message_id.starts_with("om_"));
    assert_eq!(resp.msg_type, "text");
    let req = &mock.requests_to("/open-apis/im/v1/messages")[0];
    assert_eq!(req.header("user-agent"), Some(lark_oapi::USER_AGENT));
    assert!(lark_oapi::USER_AGENT.starts_with("lark-oapi-rust/"));
    let log_id = resp.log_id().expect("log id");
    assert!(!log_id.is_empty());
}

#[tokio::test]
async fn platform_errors_keep_code_msg_log_id_status_and_details() {
    let (_mock, client) = setup().await;
    let err = client
        .request(Method::POST, "/open-apis/im/v1/messages")
        .query("receive_id_type", "chat_id")
        .json(&serde_json::json!({"receive_id": "", "msg_type": "text", "content": "{}"}))
        .send_value()
        .await
        .unwrap_err();
    let api = err.api_error().expect("an Api error");
    assert_eq!(api.code, 99992402);
    assert_eq!(api.http_status, 400);
    assert!(!api.msg.is_empty());
    assert!(api.log_id.is_some());
    assert!(
        api.troubleshooter
            .as_deref()
            .unwrap_or_default()
            .starts_with("https://")
    );
    assert!(
        api.field_violations.iter().any(|v| v.field == "receive_id"),
        "{api:?}"
    );
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("99992402")
            && text.contains("receive_id")
            && text.contains("POST /open-apis/im/v1/messages"),
        "{text}"
    );
}

#[tokio::test]
async fn permission_violations_are_kept() {
    let (mock, client) = setup().await;
    mock.push_fault(
        "/open-apis/echo/v1/scoped",
        Fault::Api {
            http_status: 400,
            code: 99991672,
            msg: "Access denied".into(),
            error: Some(serde_json::json!({"permission_violations": [{"type": "action_scope_required", "subject": "im:message", "description": "need im:message"}]})),
        },
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/scoped")
        .send_value()
        .await
        .unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(api.permission_violations[0].subject, "im:message");
    assert!(err.to_string().contains("scope"), "{err}");
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_an_excerpt() {
    let (mock, client) = setup().await;
    mock.push_fault("/open-apis/echo/v1/bad", Fault::MalformedJson);
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/bad")
        .send_value()
        .await
        .unwrap_err();
    match &err {
        Error::Decode(d) => {
            assert!(d.excerpt.starts_with("{\"code\":0"), "{d:?}");
            assert!(d.log_id.is_some());
            assert_eq!(d.status, 200);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/bad").len(),
        1,
        "not retried"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_per_call() {
    let (mock, client) = setup().await;
    mock.push_fault(
        "/open-apis/echo/v1/slow",
        Fault::Delay(Duration::from_millis(800)),
    );
    let err = client
        .request(Method::POST, "/open-apis/echo/v1/slow")
        .json(&serde_json::json!({}))
        .timeout(Duration::from_millis(100))
        .send_value()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/slow").len(),
        1,
        "POST is not retried after a timeout"
    );
}

#[tokio::test]
async fn a_timed_out_get_is_retried() {
    let (mock, client) = setup().await;
    mock.push_fault(
        "/open-apis/echo/v1/slow",
        Fault::Delay(Duration::from_millis(800)),
    );
    let resp = client
        .request(Method::GET, "/open-apis/echo/v1/slow")
        .timeout(Duration::from_millis(200))
        .send_value()
        .await;
    assert!(resp.is_ok(), "{resp:?}");
    assert_eq!(mock.requests_to("/open-apis/echo/v1/slow").len(), 2);
}

#[tokio::test]
async fn extra_headers_are_sent_and_bad_ones_refused() {
    let (mock, client) = setup().await;
    client
        .request(Method::GET, "/open-apis/echo/v1/h")
        .header("X-Request-Tag", "abc")
        .send_value()
        .await
        .unwrap();
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/h")[0].header("x-request-tag"),
        Some("abc")
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/h")
        .header("bad header", "x")
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("bad header")),
        "{err:?}"
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/h")
        .header("Authorization", "Bearer x")
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("user_access_token")),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_configuration_is_a_clear_error() {
    let cases = [
        ("", "secret", "https://open.feishu.cn", "app_id is empty"),
        ("cli_x", "", "https://open.feishu.cn", "app_secret is empty"),
        ("cli_x", "s", "not a url", "not a valid URL"),
        ("cli_x", "s", "ftp://example.com", "http or https"),
        ("cli_x", "s", "https://user:pw@example.com", "credentials"),
        ("cli_x", "s", "https://example.com/?a=1", "query"),
    ];
    for (id, secret, domain, expected) in cases {
        let err = Config::builder(id, secret)
            .domain(Domain::custom(domain))
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains(expected)),
            "{domain}: {err}"
        );
        assert!(!err.to_string().contains("pw@"));
    }
    let err = Config::builder("cli_x", "s")
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("timeout"));
    assert_eq!(Domain::parse("LARK"), Domain::Lark);
    assert_eq!(
        Config::builder("cli_x", "s")
            .domain(Domain::Lark)
            .build()
            .unwrap()
            .base_url(),
        "https://open.larksuite.com"
    );
}

#[tokio::test]
async fn an_unreachable_platform_is_a_transport_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(
        Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(format!("http://127.0.0.1:{port}")))
            .retry_policy(fast_retries().max_retries(1))
            .build()
            .unwrap(),
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/x")
        .tenant_access_token("t-x")
        .send_value()
        .await
        .unwrap_err();
    match &err {
        Error::Transport(t) => assert!(t.connect, "{t}"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());

    // Display is one level; the causes are the `source()` chain, each said once, down to
    // the operating system's "connection refused".
    let mut chain = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    assert!(chain.len() >= 3, "{chain:#?}");
    assert!(
        chain[0].starts_with("could not connect for GET /open-apis/echo/v1/x"),
        "{chain:#?}"
    );
    for (i, level) in chain.iter().enumerate() {
        for deeper in &chain[i + 1..] {
            assert!(
                !level.contains(deeper.as_str()),
                "{level:?} repeats {deeper:?}"
            );
        }
    }
    assert!(
        chain.last().unwrap().to_lowercase().contains("refused"),
        "{chain:#?}"
    );
}

#[tokio::test]
async fn an_odd_error_envelope_is_still_an_error_with_its_code() {
    let (mock, client) = setup().await;
    // `msg: null` on HTTP 200 was once decoded as "no envelope", hence a success.
    mock.push_fault(
        "/open-apis/echo/v1/odd",
        Fault::RawJson {
            http_status: 200,
            body: r#"{"code":1061045,"msg":null}"#.into(),
        },
    );
    let err = client
        .request(Method::POST, "/open-apis/echo/v1/odd")
        .json(&serde_json::json!({}))
        .retry_policy(lark_oapi::RetryPolicy::disabled())
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(1061045), "{err:?}");
    // A violation whose value is a number, and an `error` that is a string: the code and the
    // readable details survive.
    mock.push_fault(
        "/open-apis/echo/v1/odd",
        Fault::RawJson {
            http_status: 400,
            body: r#"{"code":99992402,"msg":"bad","error":{"log_id":"L1","field_violations":[{"field":"page_size","value":500,"description":"too big"}]}}"#.into(),
        },
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/odd")
        .send_value()
        .await
        .unwrap_err();
    let api = err.api_error().expect("an API error");
    assert_eq!((api.code, api.http_status), (99992402, 400));
    assert_eq!(api.field_violations[0].value.as_deref(), Some("500"));
    assert_eq!(api.field_violations[0].field, "page_size");
    mock.push_fault(
        "/open-apis/echo/v1/odd",
        Fault::RawJson {
            http_status: 400,
            body: r#"{"code":20064,"msg":"revoked","error":"invalid_grant"}"#.into(),
        },
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/odd")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(20064));
    assert!(err.requires_user_authorization());
}

#[tokio::test]
async fn dot_segments_are_refused_as_path_parameters() {
    let (mock, client) = setup().await;
    for id in [".", ".."] {
        let err = client
            .request(Method::DELETE, "/open-apis/im/v1/messages/:message_id")
            .path_param("message_id", id)
            .send_value()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
        assert!(err.to_string().contains("message_id"), "{err}");
    }
    // Dots inside an id are fine.
    client
        .request(Method::GET, "/open-apis/echo/v1/files/:name")
        .path_param("name", "a..b")
        .send_value()
        .await
        .unwrap();
    let sent = mock.requests();
    assert_eq!(sent.len(), 2, "one token request, one call: {sent:?}");
    assert_eq!(sent[1].path, "/open-apis/echo/v1/files/a..b");
}

#[tokio::test]
async fn an_absolute_url_on_another_host_gets_no_fetched_token() {
    let (mock, client) = setup().await;
    let other = MockPlatform::start().await.unwrap();
    // Same host as the client's base: the tenant token goes along.
    client
        .request(
            Method::GET,
            format!("{}/open-apis/echo/v1/same", mock.base_url()),
        )
        .send_value()
        .await
        .unwrap();
    assert!(bearer(&mock.requests_to("/open-apis/echo/v1/same")[0]).is_some());
    // Another host (a link from a message, say): no Authorization at all.
    let _ = client
        .request(
            Method::GET,
            format!("{}/open-apis/echo/v1/elsewhere", other.base_url()),
        )
        .send_value()
        .await;
    let sent = &other.requests_to("/open-apis/echo/v1/elsewhere")[0];
    assert_eq!(sent.header("authorization"), None);
    // A token given explicitly is the caller's choice and is sent.
    let _ = client
        .request(
            Method::GET,
            format!("{}/open-apis/echo/v1/given", other.base_url()),
        )
        .tenant_access_token("t-given")
        .send_value()
        .await;
    assert_eq!(
        bearer(&other.requests_to("/open-apis/echo/v1/given")[0]).as_deref(),
        Some("t-given")
    );
}

fn values<'a>(req: &'a lark_oapi_mock::RecordedRequest, name: &str) -> Vec<&'a str> {
    req.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test]
async fn a_header_the_caller_sets_replaces_the_sdk_s_and_is_sent_once() {
    let (mock, client) = setup().await;
    let path = "/open-apis/echo/v1/headers";
    client
        .request(Method::POST, path)
        .json(&serde_json::json!({"a": 1}))
        .header("User-Agent", "my-proxy/2")
        .header("content-type", "application/json")
        .header("X-Tag", "one")
        .header("X-Tag", "two")
        .send_value()
        .await
        .unwrap();
    let req = mock.requests_to(path).pop().unwrap();
    assert_eq!(values(&req, "user-agent"), ["my-proxy/2"]);
    assert_eq!(values(&req, "content-type"), ["application/json"]);
    assert_eq!(
        values(&req, "x-tag"),
        ["one", "two"],
        "the caller's repeats are kept"
    );

    // Without overrides, the SDK's own values, once each.
    client
        .request(Method::POST, path)
        .json(&serde_json::json!({"a": 1}))
        .send_value()
        .await
        .unwrap();
    let req = mock.requests_to(path).pop().unwrap();
    assert_eq!(values(&req, "user-agent"), [lark_oapi::USER_AGENT]);
    assert_eq!(
        values(&req, "content-type"),
        ["application/json; charset=utf-8"]
    );

    // Framing headers, and a multipart body's content type, are refused before any I/O.
    mock.clear_requests();
    for name in ["Content-Length", "transfer-encoding", "Host"] {
        let err = client
            .request(Method::POST, path)
            .json(&serde_json::json!({}))
            .header(name, "1")
            .send_value()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(m) if m.contains(&name.to_lowercase())),
            "{err:?}"
        );
    }
    let err = client
        .request(Method::POST, path)
        .multipart(lark_oapi::Multipart::new().text("a", "b"))
        .header("Content-Type", "multipart/form-data")
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("boundary")),
        "{err:?}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_app_s_product_joins_the_user_agent() {
    let mock = MockPlatform::start().await.unwrap();
    // A comment in parentheses is not a product.
    let err = Config::builder(APP_ID, APP_SECRET)
        .user_agent_product("my-bot/1.2.0 (linux)")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("user_agent_product")),
        "{err:?}"
    );
    let client = Client::new(
        Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(mock.base_url()))
            .user_agent_product("my-bot/1.2.0 helper")
            .build()
            .unwrap(),
    );
    let path = "/open-apis/echo/v1/ua";
    client
        .request(Method::GET, path)
        .send_value()
        .await
        .unwrap();
    let req = mock.requests_to(path).pop().unwrap();
    assert_eq!(
        values(&req, "user-agent"),
        [format!("{} my-bot/1.2.0 helper", lark_oapi::USER_AGENT).as_str()]
    );
    for bad in ["", "my  bot", "a/", "/1", "x\u{e9}/1", "a/b/c"] {
        let err = Config::builder(APP_ID, APP_SECRET)
            .user_agent_product(bad)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("user_agent_product")),
            "{bad:?}: {err:?}"
        );
    }
}
