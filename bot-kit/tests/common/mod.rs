//! What the bot kit's test binaries share: a mock platform and a client of it.
#![allow(dead_code)] // each test binary uses its own part

use lark_oapi_core::{Client, Config, Domain};
use lark_oapi_mock::{APP_ID, APP_SECRET, Fault, MockPlatform};

pub(crate) async fn setup() -> (MockPlatform, Client) {
    let mock = MockPlatform::start().await.expect("mock platform starts");
    let client = Client::new(
        Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(mock.base_url()))
            .build()
            .expect("valid config"),
    );
    (mock, client)
}

/// The platform's answer to a card over its frequency limit.
pub(crate) fn frequency_limit() -> Fault {
    Fault::Api {
        http_status: 400,
        code: 230020,
        msg: "request trigger frequency limit".into(),
        error: None,
    }
}
