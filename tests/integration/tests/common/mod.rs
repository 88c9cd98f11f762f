//! Shared setup: a mock platform and a client pointed at it.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use lark_oapi::{Client, Config, ConfigBuilder, Domain, RetryPolicy};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform};

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
