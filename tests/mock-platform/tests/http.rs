//! End-to-end tests of the mock over real HTTP on loopback, with reqwest as the client.

use std::time::{Duration, Instant};

use lark_oapi_mock::{APP_ID, APP_SECRET, APP_TICKET, Fault, MockPlatform, download_byte, fnv1a64};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USERS: &str = "/open-apis/contact/v3/users";
const MESSAGES: &str = "/open-apis/im/v1/messages";
const TENANT_INTERNAL: &str = "/open-apis/auth/v3/tenant_access_token/internal";

fn client() -> Client {
    // In a workspace build reqwest may come with rustls but no default crypto provider
    // (the SDK picks ring): install ring unless something else already did.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> i64 {
        self.body["code"].as_i64().expect("numeric code")
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn call(
    c: &Client,
    mock: &MockPlatform,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut req = c.request(method, format!("{}{path}", mock.base_url()));
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json; charset=utf-8")
            .body(serde_json::to_vec(body).expect("json"));
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(c: &Client, mock: &MockPlatform, path: &str, token: &str) -> Answer {
    call(c, mock, Method::GET, path, Some(token), None).await
}

async fn post(c: &Client, mock: &MockPlatform, path: &str, token: &str, body: &Value) -> Answer {
    call(c, mock, Method::POST, path, Some(token), Some(body)).await
}

async fn tenant_token(c: &Client, mock: &MockPlatform) -> String {
    let a = call(
        c,
        mock,
        Method::POST,
        TENANT_INTERNAL,
        None,
        Some(&json!({"app_id": APP_ID, "app_secret": APP_SECRET})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.code(), 0, "{}", a.body);
    a.body["tenant_access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

fn assert_error_envelope(a: &Answer, status: u16, code: i64) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(a.code(), code, "{}", a.body);
    let log_id = a.header("x-tt-logid").expect("X-Tt-Logid");
    assert_eq!(a.header("x-request-id"), Some(log_id));
    assert_eq!(a.body["error"]["log_id"], log_id);
    assert_eq!(
        a.body["error"]["troubleshooter"],
        format!("https://open.feishu.cn/search?log_id={log_id}")
    );
}

#[tokio::test]
async fn tenant_token_issue_use_and_revoke() {
    let mock = MockPlatform::start().await.expect("start");
    assert!(mock.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(mock.base_url(), format!("http://{}", mock.addr()));
    let c = client();

    let first = call(
        &c,
        &mock,
        Method::POST,
        TENANT_INTERNAL,
        None,
        Some(&json!({"app_id": APP_ID, "app_secret": APP_SECRET})),
    )
    .await;
    assert_eq!(first.body["msg"], "ok");
    assert_eq!(first.body["expire"], 7200);
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let token = first.body["tenant_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("t-"));
    let second = tenant_token(&c, &mock).await;
    assert_ne!(token, second, "every issued token is unique");

    let ok = get(&c, &mock, "/open-apis/anything", &token).await;
    assert_eq!(ok.code(), 0);
    assert_eq!(ok.body["data"]["token_type"], "tenant");

    mock.revoke_tokens();
    for t in [&token, &second] {
        let a = get(&c, &mock, "/open-apis/anything", t).await;
        assert_error_envelope(&a, 400, 99991663);
    }
    let fresh = tenant_token(&c, &mock).await;
    assert_eq!(
        get(&c, &mock, "/open-apis/anything", &fresh).await.code(),
        0
    );
}

#[tokio::test]
async fn token_endpoint_errors_and_marketplace_flow() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let auth = |path: &'static str, body: Value| {
        let (c, mock) = (&c, &mock);
        async move { call(c, mock, Method::POST, path, None, Some(&body)).await }
    };

    let a = auth(
        TENANT_INTERNAL,
        json!({"app_id": APP_ID, "app_secret": "nope"}),
    )
    .await;
    assert_error_envelope(&a, 200, 10014);
    assert_eq!(a.body["msg"], "app secret invalid");
    let a = auth(
        TENANT_INTERNAL,
        json!({"app_id": "cli_other", "app_secret": APP_SECRET}),
    )
    .await;
    assert_error_envelope(&a, 200, 10003);
    let a = auth(TENANT_INTERNAL, json!({"app_secret": APP_SECRET})).await;
    assert_error_envelope(&a, 200, 10003);

    let a = auth(
        "/open-apis/auth/v3/app_access_token/internal",
        json!({"app_id": APP_ID, "app_secret": APP_SECRET}),
    )
    .await;
    assert_eq!(a.code(), 0);
    assert!(
        a.body["app_access_token"]
            .as_str()
            .unwrap()
            .starts_with("a-")
    );
    assert!(
        a.body["tenant_access_token"]
            .as_str()
            .unwrap()
            .starts_with("t-")
    );
    let app_internal = a.body["app_access_token"].as_str().unwrap().to_owned();
    let echo = get(&c, &mock, "/open-apis/x", &app_internal).await;
    assert_eq!(echo.body["data"]["token_type"], "app");

    // Marketplace: app token needs the current ticket.
    let market = "/open-apis/auth/v3/app_access_token";
    let a = auth(
        market,
        json!({"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": "stale"}),
    )
    .await;
    assert_error_envelope(&a, 200, 10012);
    let a = auth(
        market,
        json!({"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": APP_TICKET}),
    )
    .await;
    assert_eq!(a.code(), 0);
    assert!(a.body.get("tenant_access_token").is_none());
    let app_token = a.body["app_access_token"].as_str().unwrap().to_owned();

    mock.set_app_ticket("ticket-2");
    let a = auth(
        market,
        json!({"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": APP_TICKET}),
    )
    .await;
    assert_eq!(a.code(), 10012);
    let a = auth(
        market,
        json!({"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": "ticket-2"}),
    )
    .await;
    assert_eq!(a.code(), 0);

    let tenant = "/open-apis/auth/v3/tenant_access_token";
    let a = auth(
        tenant,
        json!({"app_access_token": "a-bogus", "tenant_key": "tk"}),
    )
    .await;
    assert_error_envelope(&a, 200, 99991664);
    let a = auth(
        tenant,
        json!({"app_access_token": app_token, "tenant_key": ""}),
    )
    .await;
    assert_error_envelope(&a, 400, 99992402);
    assert_eq!(
        a.body["error"]["field_violations"][0]["field"],
        "tenant_key"
    );
    let a = auth(
        tenant,
        json!({"app_access_token": app_token, "tenant_key": "tk_1"}),
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert_eq!(a.body["expire"], 7200);
    let isv_tenant = a.body["tenant_access_token"].as_str().unwrap().to_owned();
    let echo = get(&c, &mock, "/open-apis/x", &isv_tenant).await;
    assert_eq!(echo.body["data"]["tenant_key"], "tk_1");

    let a = auth(
        "/open-apis/auth/v3/app_ticket/resend",
        json!({"app_id": APP_ID, "app_secret": APP_SECRET}),
    )
    .await;
    assert_eq!(a.body, json!({"code": 0, "msg": "ok"}));
}

#[tokio::test]
async fn authorization_errors() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let url = format!("{}/open-apis/im/v1/chats", mock.base_url());
    let raw = |value: Option<&'static str>| {
        let mut req = c.get(&url);
        if let Some(v) = value {
            req = req.header("authorization", v);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json_value().await)
        }
    };
    for (header, status, code) in [
        (None, 400, 99991661),
        (Some(""), 400, 99991661),
        (Some("Bearer "), 400, 99991661),
        (Some("Basic abc"), 400, 99991671),
        (Some("Bearer xyz"), 400, 99991671),
        (Some("Bearer t-never-issued"), 400, 99991663),
        (Some("Bearer a-never-issued"), 400, 99991664),
        (Some("Bearer u-invalid"), 400, 99991668),
        (Some("Bearer u-anything"), 200, 0),
        (Some("bearer u-lowercase-scheme"), 200, 0),
    ] {
        let (got_status, body) = raw(header).await;
        assert_eq!(
            (got_status, body["code"].as_i64().unwrap()),
            (status, code),
            "{header:?}"
        );
    }
    let (_, body) = raw(None).await;
    assert_eq!(
        body["msg"],
        "Missing access token for authorization. Please make a request with token attached."
    );
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("JSON body")
    }
}

#[tokio::test]
async fn tokens_expire() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    mock.set_token_expire(1);
    let a = call(
        &c,
        &mock,
        Method::POST,
        TENANT_INTERNAL,
        None,
        Some(&json!({"app_id": APP_ID, "app_secret": APP_SECRET})),
    )
    .await;
    assert_eq!(a.body["expire"], 1);
    let token = a.body["tenant_access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(&c, &mock, "/open-apis/x", &token).await.code(), 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = get(&c, &mock, "/open-apis/x", &token).await;
    assert_error_envelope(&a, 400, 99991663);

    mock.set_token_expire(0);
    let dead = tenant_token(&c, &mock).await;
    assert_eq!(get(&c, &mock, "/open-apis/x", &dead).await.code(), 99991663);
}

#[tokio::test]
async fn response_faults() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    let path = "/open-apis/im/v1/chats";

    mock.push_fault(path, Fault::InvalidToken);
    let a = get(&c, &mock, path, &token).await;
    assert_error_envelope(&a, 400, 99991663);
    assert_eq!(
        a.body["msg"],
        "Invalid access token for authorization. Please make a request with token attached."
    );

    mock.push_fault(path, Fault::RateLimited { reset_secs: 3 });
    let a = get(&c, &mock, path, &token).await;
    assert_error_envelope(&a, 429, 99991400);
    assert_eq!(a.body["msg"], "request trigger frequency limit");
    assert_eq!(a.header("x-ogw-ratelimit-limit"), Some("50"));
    assert_eq!(a.header("x-ogw-ratelimit-reset"), Some("3"));

    for (status, code) in [(500, 1500), (502, 1500), (503, 1503)] {
        mock.push_fault(path, Fault::ServerError(status));
        let a = get(&c, &mock, path, &token).await;
        assert_error_envelope(&a, status, code);
        assert_eq!(a.body["msg"], "internal error");
    }

    mock.push_fault(
        path,
        Fault::Api {
            http_status: 403,
            code: 99991672,
            msg: "scope missing".into(),
            error: Some(json!({"permission_violations": [{"type": "action_scope_required", "subject": "im:chat:readonly"}]})),
        },
    );
    let a = get(&c, &mock, path, &token).await;
    assert_error_envelope(&a, 403, 99991672);
    assert_eq!(a.body["msg"], "scope missing");
    assert_eq!(
        a.body["error"]["permission_violations"][0]["subject"],
        "im:chat:readonly"
    );

    mock.push_fault(path, Fault::MalformedJson);
    let resp = c
        .get(format!("{}{path}", mock.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let text = resp.text().await.unwrap();
    assert_eq!(text, r#"{"code":0,"msg":"success","data":{"#);
    assert!(serde_json::from_str::<Value>(&text).is_err());

    mock.push_fault(path, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let a = get(&c, &mock, path, &token).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.code(), 0, "a delayed request is then handled normally");

    // Queue drained: normal handling again.
    assert_eq!(get(&c, &mock, path, &token).await.code(), 0);
    // Faulted requests were recorded too.
    assert_eq!(mock.requests_to(path).len(), 9);
}

#[tokio::test]
async fn response_headers_use_the_platform_s_spelling() {
    let mock = MockPlatform::start().await.expect("start");
    let mut stream = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let request =
        "GET /open-apis/im/v1/chats HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&received);
    let head = text.split("\r\n\r\n").next().unwrap();
    // Read by exact spelling by the vendor Python SDK.
    for name in ["X-Tt-Logid: ", "Content-Type: "] {
        assert!(head.contains(name), "{name:?} missing in:\n{head}");
    }
    assert!(!head.contains("x-tt-logid"), "{head}");
}

#[tokio::test]
async fn drop_connection_closes_the_socket_without_a_response() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    let path = "/open-apis/im/v1/chats";

    // With reqwest: the request fails at the transport level.
    mock.push_fault(path, Fault::DropConnection);
    let err = client()
        .get(format!("{}{path}", mock.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("connection must be dropped");
    assert!(!err.is_status(), "{err:?}");

    // Raw TCP: not a single response byte, then EOF.
    mock.push_fault(path, Fault::DropConnection);
    let mut stream = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    // EOF or a reset are both fine; what matters is that nothing was sent.
    let _closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("socket closed in time");
    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );

    // The server is still healthy; both dropped requests were recorded.
    assert_eq!(get(&c, &mock, path, &token).await.code(), 0);
    assert_eq!(mock.requests_to(path).len(), 3);
}

#[tokio::test]
async fn fault_queues_wildcard_and_auth_paths() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;

    // FIFO per path.
    mock.push_fault(USERS, Fault::ServerError(500));
    mock.push_fault(USERS, Fault::ServerError(503));
    assert_eq!(get(&c, &mock, USERS, &token).await.status, 500);
    assert_eq!(get(&c, &mock, USERS, &token).await.status, 503);
    assert_eq!(get(&c, &mock, USERS, &token).await.status, 200);

    // "*" matches any non-auth /open-apis/ path, after the exact-path queue.
    mock.push_fault("*", Fault::ServerError(502));
    mock.push_fault(USERS, Fault::ServerError(500));
    assert!(
        tenant_token(&c, &mock).await.starts_with("t-"),
        "auth paths are not matched by *"
    );
    assert_eq!(get(&c, &mock, USERS, &token).await.status, 500);
    assert_eq!(
        get(&c, &mock, "/open-apis/im/v1/chats", &token)
            .await
            .status,
        502
    );
    assert_eq!(
        get(&c, &mock, "/open-apis/im/v1/chats", &token)
            .await
            .status,
        200
    );

    // A request failing authorization does not consume the fault.
    mock.push_fault(USERS, Fault::ServerError(500));
    assert_eq!(get(&c, &mock, USERS, "t-unknown").await.code(), 99991663);
    assert_eq!(get(&c, &mock, USERS, &token).await.status, 500);

    // Exact-path faults do apply to token endpoints.
    mock.push_fault(TENANT_INTERNAL, Fault::ServerError(503));
    let a = call(
        &c,
        &mock,
        Method::POST,
        TENANT_INTERNAL,
        None,
        Some(&json!({"app_id": APP_ID, "app_secret": APP_SECRET})),
    )
    .await;
    assert_error_envelope(&a, 503, 1503);
    assert!(tenant_token(&c, &mock).await.starts_with("t-"));
}

#[tokio::test]
async fn pagination_walks_every_item() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;

    for (path, page_size, expected_pages) in [
        (USERS, Some(10), 5),
        (
            "/open-apis/contact/v3/users/find_by_department",
            Some(100),
            1,
        ),
        ("/open-apis/im/v1/chats", None, 3),
        (MESSAGES, Some(7), 7),
    ] {
        let mut seen = Vec::new();
        let mut page_token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = Vec::new();
            if let Some(n) = page_size {
                query.push(format!("page_size={n}"));
            }
            if let Some(t) = &page_token {
                query.push(format!("page_token={t}"));
            }
            let a = get(&c, &mock, &format!("{path}?{}", query.join("&")), &token).await;
            assert_eq!(a.code(), 0, "{}", a.body);
            pages += 1;
            let data = &a.body["data"];
            let items = data["items"].as_array().expect("items");
            assert!(items.len() <= page_size.unwrap_or(20));
            seen.extend(items.iter().cloned());
            if data["has_more"] == true {
                page_token = Some(data["page_token"].as_str().expect("page_token").to_owned());
            } else {
                assert!(data.get("page_token").is_none(), "{data}");
                break;
            }
        }
        assert_eq!(pages, expected_pages, "{path}");
        assert_eq!(seen.len(), 45, "{path}");
        for (i, item) in seen.iter().enumerate() {
            if path.contains("contact") {
                assert_eq!(
                    *item,
                    json!({"user_id": format!("u_{i}"), "open_id": format!("ou_{i}"), "union_id": format!("on_{i}"), "name": format!("User {i}")})
                );
            } else if path.contains("chats") {
                assert_eq!(
                    *item,
                    json!({"chat_id": format!("oc_{i}"), "name": format!("Chat {i}")})
                );
            } else {
                assert_eq!(
                    *item,
                    json!({"message_id": format!("om_{i}"), "msg_type": "text"})
                );
            }
        }
    }

    // Old-style drive listing: `files` and `next_page_token`.
    let files = "/open-apis/drive/v1/files";
    let a = get(&c, &mock, &format!("{files}?page_size=40"), &token).await;
    let data = &a.body["data"];
    assert_eq!(data["files"].as_array().unwrap().len(), 40);
    assert_eq!(
        data["files"][39],
        json!({"token": "f_39", "name": "File 39", "type": "file"})
    );
    assert_eq!(data["has_more"], true);
    assert!(data.get("items").is_none() && data.get("page_token").is_none());
    let next = data["next_page_token"].as_str().unwrap();
    let a = get(
        &c,
        &mock,
        &format!("{files}?page_size=40&page_token={next}"),
        &token,
    )
    .await;
    assert_eq!(a.body["data"]["files"].as_array().unwrap().len(), 5);
    assert_eq!(a.body["data"]["has_more"], false);
    assert!(a.body["data"].get("next_page_token").is_none());

    // set_list_size and bad parameters.
    mock.set_list_size(USERS, 3);
    let a = get(&c, &mock, USERS, &token).await;
    assert_eq!(a.body["data"]["items"].as_array().unwrap().len(), 3);
    assert_eq!(a.body["data"]["has_more"], false);
    mock.set_list_size(USERS, 0);
    let a = get(&c, &mock, USERS, &token).await;
    assert_eq!(a.body["data"]["items"], json!([]));
    for query in [
        "page_size=0",
        "page_size=101",
        "page_size=abc",
        "page_token=bogus",
        "page_token=pt_999",
    ] {
        let a = get(&c, &mock, &format!("{MESSAGES}?{query}"), &token).await;
        assert_error_envelope(&a, 400, 99992402);
        let field = query.split('=').next().unwrap();
        assert_eq!(
            a.body["error"]["field_violations"][0]["field"], field,
            "{query}"
        );
    }
}

#[tokio::test]
async fn messages_send_reply_update() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    let content = r#"{"text":"hi"}"#;

    let a = post(
        &c,
        &mock,
        "/open-apis/im/v1/messages?receive_id_type=open_id",
        &token,
        &json!({"receive_id": "ou_1", "msg_type": "text", "content": content}),
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    let d = &a.body["data"];
    assert!(d["message_id"].as_str().unwrap().starts_with("om_mock_"));
    assert_eq!(d["msg_type"], "text");
    assert_eq!(d["body"]["content"], content);
    assert_eq!(d["sender"]["id"], APP_ID);
    assert_eq!(d["chat_id"], "oc_mock_chat");
    assert_eq!(d["deleted"], false);
    let ms: u128 = d["create_time"].as_str().unwrap().parse().unwrap();
    assert!(ms > 1_600_000_000_000);

    let a = post(
        &c,
        &mock,
        "/open-apis/im/v1/messages?receive_id_type=phone",
        &token,
        &json!({"receive_id": "", "msg_type": "text", "content": "{not json"}),
    )
    .await;
    assert_error_envelope(&a, 400, 99992402);
    assert_eq!(a.body["msg"], "field validation failed");
    let fields: Vec<&str> = a.body["error"]["field_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["receive_id_type", "receive_id", "content"]);

    let a = post(
        &c,
        &mock,
        "/open-apis/im/v1/messages",
        &token,
        &json!({"receive_id": "x", "msg_type": "text", "content": "{}"}),
    )
    .await;
    assert_eq!(
        a.body["error"]["field_violations"][0]["field"],
        "receive_id_type"
    );

    let a = post(
        &c,
        &mock,
        "/open-apis/im/v1/messages/om_parent/reply",
        &token,
        &json!({"msg_type": "text", "content": content}),
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert_eq!(a.body["data"]["parent_id"], "om_parent");

    let a = call(
        &c,
        &mock,
        Method::PUT,
        "/open-apis/im/v1/messages/om_42",
        Some(&token),
        Some(&json!({"msg_type": "text", "content": content})),
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert_eq!(a.body["data"]["message_id"], "om_42");
    assert_eq!(a.body["data"]["updated"], true);

    let a = call(
        &c,
        &mock,
        Method::PUT,
        "/open-apis/im/v1/messages/om_42",
        Some(&token),
        Some(&json!({"msg_type": "text"})),
    )
    .await;
    assert_error_envelope(&a, 400, 99992402);
}

enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, Option<&'a str>, &'a [u8]),
}

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "mockboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("content-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, file_name, data) => {
                let fname = file_name
                    .map(|f| format!("; filename=\"{f}\""))
                    .unwrap_or_default();
                body.extend_from_slice(
                    format!(
                        "content-disposition: form-data; name=\"{name}\"{fname}\r\ncontent-type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    c: &Client,
    mock: &MockPlatform,
    path: &str,
    token: &str,
    parts: &[Part<'_>],
) -> Answer {
    let (content_type, body) = multipart(parts);
    let resp = c
        .post(format!("{}{path}", mock.base_url()))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    Answer {
        status,
        headers,
        body: resp.json_value().await,
    }
}

#[tokio::test]
async fn uploads() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    let images = "/open-apis/im/v1/images";
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();

    let a = upload(
        &c,
        &mock,
        images,
        &token,
        &[
            Part::Text("image_type", "message"),
            Part::File("image", Some("a.png"), &data),
        ],
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert!(
        a.body["data"]["image_key"]
            .as_str()
            .unwrap()
            .starts_with("img_mock_")
    );
    let rec = mock.requests_to(images).pop().unwrap();
    assert!(rec.body.is_empty());
    let parts = rec.multipart.expect("parts recorded");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].name, "image_type");
    assert_eq!(parts[0].text.as_deref(), Some("message"));
    assert_eq!(parts[0].file_name, None);
    assert_eq!(parts[1].name, "image");
    assert_eq!(parts[1].file_name.as_deref(), Some("a.png"));
    assert_eq!(
        parts[1].content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(parts[1].len, data.len() as u64);
    assert_eq!(parts[1].digest, fnv1a64(&data));
    assert_eq!(parts[1].text, None);

    // No filename (or an empty one) on the file part: accepted, as the platform accepts
    // the vendors' own upload samples, which send none.
    for file_name in [None, Some("")] {
        let a = upload(
            &c,
            &mock,
            images,
            &token,
            &[
                Part::Text("image_type", "message"),
                Part::File("image", file_name, b"abc"),
            ],
        )
        .await;
        assert_eq!((a.status.as_u16(), a.code()), (200, 0), "{:?}", a.body);
        assert!(a.body["data"]["image_key"].as_str().is_some());
    }
    // Missing parts are named.
    let a = upload(
        &c,
        &mock,
        images,
        &token,
        &[Part::File("image", Some("a.png"), b"abc")],
    )
    .await;
    assert_error_envelope(&a, 400, 99992402);
    assert_eq!(
        a.body["error"]["field_violations"][0]["field"],
        "image_type"
    );
    let a = upload(
        &c,
        &mock,
        images,
        &token,
        &[Part::Text("image_type", "message")],
    )
    .await;
    assert_eq!(a.body["error"]["field_violations"][0]["field"], "image");
    let a = upload(
        &c,
        &mock,
        images,
        &token,
        &[
            Part::Text("image_type", "banner"),
            Part::File("image", Some("a.png"), b"abc"),
        ],
    )
    .await;
    assert_error_envelope(&a, 400, 99992402);
    // Not multipart at all.
    let a = post(&c, &mock, images, &token, &json!({"image_type": "message"})).await;
    assert_error_envelope(&a, 400, 99992402);
    // Broken multipart.
    let resp = c
        .post(format!("{}{images}", mock.base_url()))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=zzz")
        .body("--zzz\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\nunterminated")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json_value().await["code"], 99992402);

    let files = "/open-apis/im/v1/files";
    let a = upload(
        &c,
        &mock,
        files,
        &token,
        &[
            Part::Text("file_type", "opus"),
            Part::Text("file_name", "v.opus"),
            Part::Text("duration", "3000"),
            Part::File("file", Some("v.opus"), b"opus"),
        ],
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert!(
        a.body["data"]["file_key"]
            .as_str()
            .unwrap()
            .starts_with("file_mock_")
    );
    let a = upload(
        &c,
        &mock,
        files,
        &token,
        &[
            Part::Text("file_type", "pdf"),
            Part::File("file", Some("x.pdf"), b"%PDF"),
        ],
    )
    .await;
    assert_eq!(a.body["error"]["field_violations"][0]["field"], "file_name");

    let drive = "/open-apis/drive/v1/files/upload_all";
    let size = data.len().to_string();
    let a = upload(
        &c,
        &mock,
        drive,
        &token,
        &[
            Part::Text("file_name", "d.bin"),
            Part::Text("parent_type", "explorer"),
            Part::Text("parent_node", "fld_1"),
            Part::Text("size", &size),
            Part::File("file", Some("d.bin"), &data),
        ],
    )
    .await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert!(
        a.body["data"]["file_token"]
            .as_str()
            .unwrap()
            .starts_with("box_mock_")
    );
    let a = upload(
        &c,
        &mock,
        drive,
        &token,
        &[
            Part::Text("file_name", "d.bin"),
            Part::Text("parent_type", "explorer"),
            Part::Text("parent_node", "fld_1"),
            Part::Text("size", "5"),
            Part::File("file", Some("d.bin"), &data),
        ],
    )
    .await;
    assert_error_envelope(&a, 400, 1061002);
    let a = upload(
        &c,
        &mock,
        drive,
        &token,
        &[
            Part::Text("file_name", "d.bin"),
            Part::File("file", Some("d.bin"), &data),
        ],
    )
    .await;
    let fields: Vec<&str> = a.body["error"]["field_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["parent_type", "parent_node", "size"]);
}

#[tokio::test]
async fn downloads() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    let fetch = |path: String| {
        let req = c
            .get(format!("{}{path}", mock.base_url()))
            .bearer_auth(&token);
        async move { req.send().await.unwrap() }
    };

    let resp = fetch("/open-apis/im/v1/messages/om_1/resources/bytes-1000000".into()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.headers()["content-length"], "1000000");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"bytes-1000000.bin\"; filename*=UTF-8''%E6%96%87%E4%BB%B6-bytes-1000000.bin"
    );
    assert!(resp.headers().contains_key("x-tt-logid"));
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), 1_000_000);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, b)| *b == download_byte(i as u64))
    );

    for path in [
        "/open-apis/im/v1/images/bytes-70000",
        "/open-apis/im/v1/files/bytes-70000",
        "/open-apis/drive/v1/files/bytes-70000/download",
    ] {
        let body = fetch(path.into()).await.bytes().await.unwrap();
        assert_eq!(body.len(), 70_000, "{path}");
        assert_eq!(body[69_999], download_byte(69_999));
    }
    let resp = fetch("/open-apis/im/v1/images/bytes-0".into()).await;
    assert_eq!(resp.headers()["content-length"], "0");
    assert!(resp.bytes().await.unwrap().is_empty());

    // 1 GiB is announced and streamed lazily; read a little and hang up.
    let mut resp = fetch("/open-apis/im/v1/files/bytes-1073741824".into()).await;
    assert_eq!(resp.headers()["content-length"], "1073741824");
    let first = resp.chunk().await.unwrap().unwrap();
    assert_eq!(first[..3], [0, 1, 2]);
    drop(resp);

    let resp = fetch("/open-apis/im/v1/files/missing".into()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = resp.json_value().await;
    assert_eq!(body["code"], 234001);
    assert_eq!(body["msg"], "file not found");
    assert!(body["error"]["log_id"].is_string());

    let resp = fetch("/open-apis/drive/v1/files/gone/download".into()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json_value().await["code"], 234002);

    let resp = fetch("/open-apis/im/v1/images/img_v2_abc".into()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"img_v2_abc.txt\""
    );
    assert_eq!(resp.text().await.unwrap(), "hello img_v2_abc");
}

#[tokio::test]
async fn echo_and_request_log() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    mock.clear_requests();
    assert!(mock.requests().is_empty());

    let a = call(
        &c,
        &mock,
        Method::PATCH,
        "/open-apis/calendar/v4/x?user_ids=a&user_ids=b&name=J+D%C3%B6&user_ids=c",
        Some(&token),
        Some(&json!({"k": [1, 2]})),
    )
    .await;
    assert_eq!(a.code(), 0);
    assert_eq!(a.body["msg"], "success");
    let d = &a.body["data"];
    assert_eq!(d["method"], "PATCH");
    assert_eq!(d["path"], "/open-apis/calendar/v4/x");
    assert_eq!(
        d["query"],
        json!([
            ["user_ids", "a"],
            ["user_ids", "b"],
            ["name", "J Dö"],
            ["user_ids", "c"]
        ])
    );
    assert_eq!(d["content_type"], "application/json; charset=utf-8");
    assert_eq!(d["body_len"], 11);
    assert_eq!(d["body"], json!({"k": [1, 2]}));

    let a = get(&c, &mock, "/open-apis/contact/v3/users/ou_1", &token).await;
    assert_eq!(a.body["data"]["body"], Value::Null);
    assert_eq!(a.body["data"]["content_type"], Value::Null);
    assert_eq!(a.body["data"]["body_len"], 0);

    let log = mock.requests();
    assert_eq!(log.len(), 2);
    let r = &log[0];
    assert_eq!(r.method, "PATCH");
    assert_eq!(r.path, "/open-apis/calendar/v4/x");
    assert_eq!(
        r.raw_query.as_deref(),
        Some("user_ids=a&user_ids=b&name=J+D%C3%B6&user_ids=c")
    );
    assert_eq!(r.query_values("user_ids"), ["a", "b", "c"]);
    assert_eq!(r.query_values("name"), ["J Dö"]);
    assert!(r.query_values("nope").is_empty());
    assert_eq!(
        r.header("Authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(r.headers.iter().all(|(k, _)| k == &k.to_ascii_lowercase()));
    assert_eq!(r.json(), Some(json!({"k": [1, 2]})));
    assert!(r.received_at <= log[1].received_at);
    assert_eq!(log[1].raw_query, None);
    assert_eq!(
        mock.requests_to("/open-apis/contact/v3/users/ou_1").len(),
        1
    );
    assert!(mock.requests_to("/open-apis/contact/v3/users").is_empty());

    // Log ids are unique per request.
    let x = get(&c, &mock, "/open-apis/x", &token).await;
    let y = get(&c, &mock, "/open-apis/x", &token).await;
    assert_ne!(x.header("x-tt-logid"), y.header("x-tt-logid"));
    assert!(x.header("x-tt-logid").unwrap().is_ascii());

    // Outside /open-apis/: a JSON 404, still recorded.
    let a = get(&c, &mock, "/somewhere/else", &token).await;
    assert_error_envelope(&a, 404, 404);
    assert_eq!(a.body["msg"], "not found");
    assert_eq!(mock.requests().last().unwrap().path, "/somewhere/else");

    mock.set_recording(false);
    let _ = get(&c, &mock, "/open-apis/x", &token).await;
    assert_eq!(mock.requests().len(), 5);
}

#[tokio::test]
async fn control_endpoints() {
    let mock = MockPlatform::start().await.expect("start");
    let c = client();
    let token = tenant_token(&c, &mock).await;
    let control = |path: &'static str, body: Value| {
        let req = c
            .post(format!("{}{path}", mock.base_url()))
            .body(body.to_string());
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json_value().await)
        }
    };

    let (status, body) = control(
        "/__mock/faults",
        json!({"path": USERS, "fault": {"kind": "rate_limited", "reset_secs": 1}}),
    )
    .await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(0)));
    let (status, _) = control(
        "/__mock/faults",
        json!({"path": USERS, "fault": {"kind": "api", "http_status": 400, "code": 1, "msg": "x"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = control(
        "/__mock/faults",
        json!({"path": USERS, "fault": {"kind": "bogus"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(get(&c, &mock, USERS, &token).await.status, 429);
    let a = get(&c, &mock, USERS, &token).await;
    assert_eq!((a.status.as_u16(), a.code()), (400, 1));

    let resp = c
        .get(format!("{}/__mock/requests", mock.base_url()))
        .send()
        .await
        .unwrap();
    let log = resp.json_value().await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3, "control requests are not recorded");
    assert_eq!(log[1]["path"], USERS);
    assert_eq!(log[1]["method"], "GET");
    assert!(
        log[1]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "authorization")
    );
    assert!(log[0]["body"].as_str().unwrap().contains(APP_SECRET));

    control(
        "/__mock/faults",
        json!({"path": USERS, "fault": {"kind": "server_error", "status": 500}}),
    )
    .await;
    let (status, _) = control("/__mock/reset", json!({})).await;
    assert_eq!(status, 200);
    assert!(mock.requests().is_empty());
    assert_eq!(
        get(&c, &mock, USERS, &token).await.status,
        200,
        "faults were cleared"
    );

    control("/__mock/revoke_tokens", json!({})).await;
    assert_eq!(get(&c, &mock, USERS, &token).await.code(), 99991663);

    control("/__mock/list_size", json!({"path": USERS, "total": 2})).await;
    control("/__mock/token_expire", json!({"secs": 60})).await;
    let fresh = tenant_token(&c, &mock).await;
    let a = get(&c, &mock, USERS, &fresh).await;
    assert_eq!(a.body["data"]["items"].as_array().unwrap().len(), 2);

    let resp = c
        .get(format!("{}/__mock/nothing", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_clients() {
    let mock = MockPlatform::start().await.expect("start");
    let token = tenant_token(&client(), &mock).await;
    let url = format!("{}/open-apis/im/v1/chats?page_size=5", mock.base_url());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (c, url, token) = (client(), url.clone(), token.clone());
        tasks.spawn(async move {
            for _ in 0..20 {
                let resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                assert_eq!(resp.json_value().await["code"], 0);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(mock.requests_to("/open-apis/im/v1/chats").len(), 1000);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let mock = MockPlatform::start().await.expect("start");
    let addr = mock.addr();
    let url = format!("{}/open-apis/x", mock.base_url());
    let c = client();
    assert_eq!(
        c.get(&url)
            .bearer_auth("u-1")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    mock.shutdown().await;
    assert!(client().get(&url).bearer_auth("u-1").send().await.is_err());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let mock = MockPlatform::start().await.expect("start");
    let addr = mock.addr();
    drop(mock);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
