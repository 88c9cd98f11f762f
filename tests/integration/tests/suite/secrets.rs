//! Secrets never reach Debug, Display or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::common::*;
use lark_oapi::{Config, Method, RequestOptions};
use lark_oapi_mock::{APP_SECRET, Fault};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn debug_output_redacts_secrets() {
    let config = Config::builder("cli_x", "super-secret-value")
        .helpdesk("123", "helpdesk-secret")
        .build()
        .unwrap();
    let client = lark_oapi::Client::new(config.clone());
    let opts = RequestOptions::new()
        .user_access_token("u-user-secret")
        .tenant_access_token("t-tenant-secret")
        .helpdesk("1", "hd-secret-2")
        .header("X-Api-Key", "header-secret");
    let builder = Config::builder("cli_x", "builder-secret").helpdesk("1", "hd-secret-3");
    let rendered = format!(
        "{config:?} {client:?} {opts:?} {builder:?} {:?}",
        client
            .request(Method::GET, "/x")
            .user_access_token("u-raw-secret")
    );
    for secret in [
        "super-secret-value",
        "helpdesk-secret",
        "u-user-secret",
        "t-tenant-secret",
        "hd-secret-2",
        "header-secret",
        "builder-secret",
        "hd-secret-3",
        "u-raw-secret",
    ] {
        assert!(!rendered.contains(secret), "{secret} leaked: {rendered}");
    }
    assert!(rendered.contains("cli_x"));
    assert!(rendered.contains("<redacted>"));
}

#[tokio::test]
async fn logs_never_carry_tokens_or_secrets() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (mock, client) = setup().await;
    mock.push_fault("/open-apis/echo/v1/log", Fault::InvalidToken);
    mock.push_fault("/open-apis/echo/v1/log", Fault::ServerError(500));
    client
        .request(Method::GET, "/open-apis/echo/v1/log")
        .send_value()
        .await
        .unwrap();
    client
        .request(Method::GET, "/open-apis/echo/v1/log")
        .user_access_token("u-very-secret-user-token")
        .send_value()
        .await
        .unwrap();
    let tokens: Vec<String> = mock.requests().iter().filter_map(bearer).collect();
    assert!(tokens.len() >= 3);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("lark_request"), "spans are logged: {logs}");
    assert!(logs.contains("retrying"), "retries are logged: {logs}");
    assert!(
        logs.contains("evicting"),
        "token evictions are logged: {logs}"
    );
    assert!(logs.contains("log_id="), "log ids are logged: {logs}");
    assert!(!logs.contains(APP_SECRET));
    for token in &tokens {
        assert!(
            !logs.contains(token.as_str()),
            "token {token} leaked into logs"
        );
    }
}

#[test]
fn event_and_long_connection_settings_redact_their_secrets() {
    use lark_oapi::dispatcher::{CardActionHandler, EventDispatcher};
    use lark_oapi::event_crypto::AesKey;
    use lark_oapi::long_connection::LongConnection;

    let builder = EventDispatcher::builder()
        .encrypt_key("encrypt-key-SECRET")
        .verification_token("verification-token-SECRET");
    let text = format!("{builder:?}");
    let text = format!("{text} {:?}", builder.build());
    let card = CardActionHandler::new(|_: serde_json::Value| async { Ok(()) })
        .verification_token("card-token-SECRET")
        .encrypt_key("card-key-SECRET");
    let text = format!("{text} {card:?} {:?}", AesKey::new("aes-SECRET"));
    let client = lark_oapi::Client::new(
        Config::builder("cli_a1b2c3d4e5f60718", "app-secret-SECRET")
            .build()
            .unwrap(),
    );
    let dispatcher = EventDispatcher::builder().build();
    let connection = LongConnection::builder(&client, dispatcher)
        .proxy("http://user:proxy-password-SECRET@proxy.internal:3128");
    let text = format!("{text} {connection:?}");
    let text = format!("{text} {:?}", connection.build());
    assert!(!text.contains("SECRET"), "a secret reached Debug: {text}");
    assert!(text.contains("redacted"));
}

#[tokio::test]
async fn request_bodies_stay_out_of_debug() {
    let (_mock, client) = setup().await;
    let request = client
        .request(
            Method::POST,
            "/open-apis/authen/v1/oidc/refresh_access_token",
        )
        .json(
            &serde_json::json!({"grant_type": "refresh_token", "refresh_token": "ur-very-secret"}),
        );
    let shown = format!("{request:?} {:?}", request.clone().into_spec());
    assert!(!shown.contains("ur-very-secret"), "{shown}");
    assert!(shown.contains("bytes"), "{shown}");
}
