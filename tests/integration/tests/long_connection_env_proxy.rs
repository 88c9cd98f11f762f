//! The long connection finds its proxy in the standard environment variables. A test
//! binary of its own: it sets process environment variables, which no other test may see.
#![allow(unsafe_code)] // std::env::set_var (edition 2024), in a single-test binary

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::long_connection::LongConnection;
use lark_oapi_mock::WsClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP CONNECT proxy that records the targets it tunnels to.
async fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let t = targets.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
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
                let _ = inbound
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (format!("http://{addr}"), targets)
}

#[tokio::test]
async fn http_proxy_from_the_environment_and_no_proxy_are_honoured() {
    let (mock, client) = setup().await;
    mock.ws_set_client_config(WsClientConfig {
        ping_interval: 1,
        reconnect_count: -1,
        reconnect_interval: 0,
        reconnect_nonce: 0,
    });
    let (proxy, targets) = connect_proxy().await;
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe {
        std::env::set_var("http_proxy", &proxy);
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let conn = LongConnection::builder(client.core().clone(), EventDispatcher::builder().build())
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
    let conn = LongConnection::builder(client.core().clone(), EventDispatcher::builder().build())
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
