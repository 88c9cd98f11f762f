//! Shared setup: a mock platform and a client pointed at it.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lark_oapi::{Client, Config, ConfigBuilder, Domain, RetryPolicy};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform, WsClientConfig};

/// The per-call option setters of every request builder, raw ones included.
pub use lark_oapi::CallOptions;

pub const TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";

/// A retry policy with short waits, so tests stay fast.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

pub fn builder(mock: &MockPlatform) -> ConfigBuilder {
    Config::builder(APP_ID, APP_SECRET)
        .domain(Domain::custom(mock.base_url()))
        .retry_policy(fast_retries())
}

/// reqwest is built without a default crypto provider; `Config::build` installs ring. Tests
/// that build their own reqwest client call this first (each test may run in a process of
/// its own, as under nextest: never count on another test having built a `Config`).
pub fn install_provider() {
    Config::builder(APP_ID, APP_SECRET).build().unwrap();
}

pub async fn setup() -> (MockPlatform, Client) {
    let mock = MockPlatform::start().await.expect("mock platform starts");
    let client = Client::new(builder(&mock).build().expect("valid config"));
    (mock, client)
}

pub async fn setup_with(f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> (MockPlatform, Client) {
    let mock = MockPlatform::start().await.expect("mock platform starts");
    let client = Client::new(f(builder(&mock)).build().expect("valid config"));
    (mock, client)
}

/// The bearer token a recorded request carried.
pub fn bearer(req: &lark_oapi_mock::RecordedRequest) -> Option<String> {
    req.header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// Fast settings: ping every second, reconnect without jitter.
/// A long connection to the mock with defaults and no proxy, started.
pub async fn connect(
    client: &Client,
    dispatcher: lark_oapi::dispatcher::EventDispatcher,
) -> lark_oapi::long_connection::LongConnectionHandle {
    lark_oapi::long_connection::LongConnection::builder(client, dispatcher)
        .no_proxy()
        .build()
        .start()
        .await
        .expect("connected")
}

pub fn fast(mock: &MockPlatform) {
    mock.ws_set_client_config(WsClientConfig {
        ping_interval: 1,
        reconnect_count: -1,
        reconnect_interval: 0,
        reconnect_nonce: 0,
    });
}

/// A minimal HTTP CONNECT proxy: records the targets it tunnels to.
pub async fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let t = targets.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let t = t.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let Ok(b) = inbound.read_u8().await else {
                        return;
                    };
                    head.push(b);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                t.lock().unwrap().push(target.clone());
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                inbound
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (format!("http://{addr}"), targets)
}

/// Who the platform says `token` belongs to (typed `authen.v1.user_info`).
pub async fn whoami(
    client: &lark_oapi::Client,
    token: &lark_oapi::UserToken,
) -> Result<String, lark_oapi::Error> {
    let me = client
        .authen()
        .v1()
        .user_info()
        .get()
        .user_access_token(token.access_token().clone())
        .send()
        .await?;
    Ok(me.into_data().open_id.unwrap_or_default())
}

/// A copy of `token` whose access token expired a second ago (its refresh token unchanged).
pub fn expired_copy(token: &lark_oapi::UserToken) -> lark_oapi::UserToken {
    lark_oapi::UserToken::new(
        token.access_token().clone(),
        std::time::SystemTime::now() - Duration::from_secs(1),
    )
    .with_refresh_token(
        token.refresh_token().expect("a refresh token").clone(),
        token.refresh_expires_at().expect("its expiry"),
    )
    .with_flow(token.flow())
}
