//! The long connection finds its proxy in the standard environment variables. A test
//! binary of its own: it sets process environment variables, which no other test may see.
#![allow(unsafe_code)] // std::env::set_var (edition 2024), in a single-test binary

mod common;

use std::time::Duration;

use common::*;
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::long_connection::LongConnection;

#[tokio::test]
async fn http_proxy_from_the_environment_and_no_proxy_are_honoured() {
    let (mock, client) = setup().await;
    fast(&mock);
    let (proxy, targets) = connect_proxy().await;
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe {
        std::env::set_var("http_proxy", &proxy);
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let conn = LongConnection::builder(&client, EventDispatcher::builder().build())
        .build()
        .start()
        .await
        .unwrap();
    assert!(
        mock.ws_wait_until(Duration::from_secs(5), |m| m.ws_stats().live_connections
            == 1)
            .await
    );
    assert_eq!(
        *targets.lock().unwrap(),
        [mock.addr().to_string()],
        "tunnelled"
    );
    conn.shutdown().await.unwrap();

    // NO_PROXY covering the host: straight to the platform.
    // SAFETY: as above.
    unsafe { std::env::set_var("NO_PROXY", "localhost,127.0.0.1") };
    let conn = LongConnection::builder(&client, EventDispatcher::builder().build())
        .build()
        .start()
        .await
        .unwrap();
    assert!(
        mock.ws_wait_until(Duration::from_secs(5), |m| m.ws_stats().connections_opened
            == 2)
            .await
    );
    assert_eq!(targets.lock().unwrap().len(), 1, "not tunnelled");
    conn.shutdown().await.unwrap();
}
