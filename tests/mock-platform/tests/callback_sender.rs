//! The webhook sender against a tiny axum app that verifies signatures and
//! decrypts bodies with its own code (sha1 / sha2 / aes / cbc directly, not
//! the mock's `crypto` module).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes::Aes256;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use lark_oapi_mock::{CallbackOptions, MockPlatform, send_callback};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

const ENCRYPT_KEY: &str = "app-encrypt-key";
const VERIFICATION_TOKEN: &str = "app-verification-token";

#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
    /// `Some(true/false)` when a signature was checked.
    signature_ok: Option<bool>,
    /// The decrypted (or plain) event.
    event: Option<Value>,
}

#[derive(Default)]
struct App {
    /// Statuses to answer, in order; 200 once exhausted.
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn decrypt(key: &str, b64: &str) -> Option<Vec<u8>> {
    let raw = STANDARD.decode(b64).ok()?;
    if raw.len() < 32 {
        return None;
    }
    let key: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let iv: [u8; 16] = raw[..16].try_into().ok()?;
    cbc::Decryptor::<Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&raw[16..])
        .ok()
}

/// Verifies like an app would: SHA-1 with the verification token when the
/// path is `/card`, SHA-256 with the encrypt key otherwise (when signed).
async fn webhook(
    State(app): State<Arc<App>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let ts = header(&headers, "x-lark-request-timestamp");
    let nonce = header(&headers, "x-lark-request-nonce");
    let sig = header(&headers, "x-lark-signature");
    let signature_ok = (!sig.is_empty()).then(|| {
        let expected = if uri.path() == "/card" {
            let mut h = Sha1::new();
            h.update(format!("{ts}{nonce}{VERIFICATION_TOKEN}").as_bytes());
            h.update(&body);
            hex(&h.finalize())
        } else {
            let mut h = Sha256::new();
            h.update(format!("{ts}{nonce}{ENCRYPT_KEY}").as_bytes());
            h.update(&body);
            hex(&h.finalize())
        };
        expected == sig
    });
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let event = match parsed {
        Some(v) => match v.get("encrypt").and_then(Value::as_str) {
            Some(sealed) => {
                decrypt(ENCRYPT_KEY, sealed).and_then(|pt| serde_json::from_slice(&pt).ok())
            }
            None => Some(v),
        },
        None => None,
    };
    app.received.lock().unwrap().push(Received {
        at: Instant::now(),
        headers: headers.clone(),
        body: body.clone(),
        signature_ok,
        event,
    });
    if signature_ok == Some(false) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"msg":"bad signature"}"#.into(),
        );
    }
    let status = app.script.lock().unwrap().pop_front().unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap();
    (status, format!(r#"{{"msg":"status {}"}}"#, status.as_u16()))
}

/// Serves the app on a random loopback port; returns its base URL.
async fn serve_app(script: &[u16]) -> (String, Arc<App>) {
    let app = Arc::new(App::default());
    app.script.lock().unwrap().extend(script.iter().copied());
    let router = Router::new()
        .route("/webhook", post(webhook))
        .route("/card", post(webhook))
        .with_state(Arc::clone(&app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), app)
}

fn event() -> Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": "ev-1", "event_type": "im.message.receive_v1", "token": "t"},
        "event": {"message": {"content": "héllo \"world\""}},
    })
}

#[tokio::test]
async fn encrypted_signed_event_verifies_and_is_retried_until_200() {
    let (base, app) = serve_app(&[500, 503]).await;
    let mock = MockPlatform::start().await.unwrap();
    let opts = CallbackOptions {
        encrypt_key: Some(ENCRYPT_KEY.into()),
        sign: true,
        ..CallbackOptions::default()
    };
    let started = Instant::now();
    let delivery = mock
        .send_callback(&format!("{base}/webhook"), &event(), &opts)
        .await;
    assert_eq!(delivery.statuses, vec![500, 503, 200]);
    assert!(delivery.delivered());
    assert_eq!(delivery.last_body, br#"{"msg":"status 200"}"#);
    // Scaled-down schedule: 15 ms then 30 ms between the attempts.
    assert!(started.elapsed() >= Duration::from_millis(45));

    let received = app.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for r in &received {
        assert_eq!(r.signature_ok, Some(true));
        assert_eq!(r.event.as_ref(), Some(&event()));
        assert_eq!(header(&r.headers, "content-type"), "application/json");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1, "only \"encrypt\"");
        let ts: u64 = header(&r.headers, "x-lark-request-timestamp")
            .parse()
            .unwrap();
        assert!(ts > 1_600_000_000);
        assert!(!header(&r.headers, "x-lark-request-nonce").is_empty());
    }
    // A retry is the same delivery: same body, same signature headers.
    assert!(received.iter().all(|r| r.body == received[0].body));
    for name in [
        "x-lark-signature",
        "x-lark-request-nonce",
        "x-lark-request-timestamp",
    ] {
        assert!(
            received
                .iter()
                .all(|r| header(&r.headers, name) == header(&received[0].headers, name))
        );
    }
    assert!(received[1].at.duration_since(received[0].at) >= Duration::from_millis(15));
    assert!(received[2].at.duration_since(received[1].at) >= Duration::from_millis(30));
}

#[tokio::test]
async fn overrides_and_plain_delivery() {
    let (base, app) = serve_app(&[]).await;
    let opts = CallbackOptions {
        encrypt_key: Some(ENCRYPT_KEY.into()),
        sign: true,
        timestamp: Some("1700000000".into()),
        nonce: Some("fixed-nonce".into()),
        ..CallbackOptions::default()
    };
    let delivery = send_callback(&format!("{base}/webhook"), &event(), &opts).await;
    assert_eq!(delivery.statuses, vec![200]);

    // Unencrypted, unsigned: the raw event JSON, no signature headers.
    let delivery = send_callback(
        &format!("{base}/webhook"),
        &event(),
        &CallbackOptions::default(),
    )
    .await;
    assert_eq!(delivery.statuses, vec![200]);

    let received = app.received.lock().unwrap().clone();
    assert_eq!(
        header(&received[0].headers, "x-lark-request-timestamp"),
        "1700000000"
    );
    assert_eq!(
        header(&received[0].headers, "x-lark-request-nonce"),
        "fixed-nonce"
    );
    assert_eq!(received[0].signature_ok, Some(true));
    assert_eq!(received[1].signature_ok, None);
    assert!(
        received[1]
            .headers
            .get("x-lark-request-timestamp")
            .is_none()
    );
    assert_eq!(received[1].body, serde_json::to_vec(&event()).unwrap());
    assert_eq!(received[1].event.as_ref(), Some(&event()));
}

#[tokio::test]
async fn tampered_body_fails_verification_on_every_attempt() {
    let (base, app) = serve_app(&[]).await;
    let opts = CallbackOptions {
        encrypt_key: Some(ENCRYPT_KEY.into()),
        sign: true,
        tamper: true,
        retry_delays: vec![Duration::from_millis(1); 2],
        ..CallbackOptions::default()
    };
    let delivery = send_callback(&format!("{base}/webhook"), &event(), &opts).await;
    assert_eq!(delivery.statuses, vec![401, 401, 401]);
    assert!(!delivery.delivered());
    assert_eq!(delivery.last_body, br#"{"msg":"bad signature"}"#);
    let received = app.received.lock().unwrap().clone();
    assert!(received.iter().all(|r| r.signature_ok == Some(false)));
}

#[tokio::test]
async fn legacy_card_callback_is_signed_with_sha1_of_the_verification_token() {
    let (base, app) = serve_app(&[]).await;
    let opts = CallbackOptions {
        card_verification_token: Some(VERIFICATION_TOKEN.into()),
        ..CallbackOptions::default()
    };
    let card = json!({
        "open_id": "ou_1", "open_message_id": "om_1", "tenant_key": "tk", "token": "c-update",
        "action": {"tag": "button", "value": {"k": "v"}},
    });
    let delivery = send_callback(&format!("{base}/card"), &card, &opts).await;
    assert_eq!(delivery.statuses, vec![200]);
    let received = app.received.lock().unwrap().clone();
    assert_eq!(received[0].signature_ok, Some(true));
    assert_eq!(received[0].event.as_ref(), Some(&card));

    let tampered = CallbackOptions {
        tamper: true,
        retry_delays: Vec::new(),
        ..opts
    };
    let delivery = send_callback(&format!("{base}/card"), &card, &tampered).await;
    assert_eq!(delivery.statuses, vec![401]);
}

#[tokio::test]
async fn transport_errors_count_as_failures() {
    // A port that was free a moment ago: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = CallbackOptions {
        retry_delays: vec![Duration::from_millis(1); 3],
        ..CallbackOptions::default()
    };
    let delivery = send_callback(&format!("http://127.0.0.1:{port}/x"), &event(), &opts).await;
    assert_eq!(delivery.statuses, vec![0, 0, 0, 0]);
    assert!(delivery.last_body.is_empty());

    // Unsupported or malformed URLs never panic.
    for url in ["https://127.0.0.1:1/x", "not a url", ""] {
        let d = send_callback(url, &event(), &opts).await;
        assert_eq!(d.statuses, vec![0, 0, 0, 0], "{url}");
    }

    // A server that accepts but never answers: the per-attempt timeout applies.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let opts = CallbackOptions {
        retry_delays: vec![Duration::from_millis(1)],
        timeout: Duration::from_millis(100),
        ..CallbackOptions::default()
    };
    let d = send_callback(&format!("http://{addr}/slow"), &event(), &opts).await;
    assert_eq!(d.statuses, vec![0, 0]);
    hold.abort();
}

#[tokio::test]
async fn recovers_after_failures_with_the_default_schedule() {
    let (base, app) = serve_app(&[500, 500, 500, 500]).await;
    let delivery = send_callback(
        &format!("{base}/webhook"),
        &event(),
        &CallbackOptions::default(),
    )
    .await;
    // One attempt plus four retries; the fifth attempt succeeds.
    assert_eq!(delivery.statuses, vec![500, 500, 500, 500, 200]);
    assert_eq!(app.received.lock().unwrap().len(), 5);

    let (base, _app) = serve_app(&[500; 5]).await;
    let delivery = send_callback(
        &format!("{base}/webhook"),
        &event(),
        &CallbackOptions::default(),
    )
    .await;
    assert_eq!(
        delivery.statuses,
        vec![500; 5],
        "gives up after four retries"
    );
}
