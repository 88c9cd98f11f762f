//! TLS on loopback: the mock speaks only HTTPS and WSS with a certificate for `localhost`
//! signed by a test CA. The HTTP client and the long connection trust it through
//! `ConfigBuilder::add_root_certificate`, and refuse it without.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::long_connection::{LongConnection, LongConnectionError};
use lark_oapi::prelude::*;
use lark_oapi::{Client, Config, Domain, Error, Method};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform, TEST_CA_DER};
use serde_json::json;

fn config(mock: &MockPlatform) -> lark_oapi::ConfigBuilder {
    Config::builder(APP_ID, APP_SECRET)
        .domain(Domain::custom(mock.base_url()))
        .retry_policy(fast_retries())
}

/// Starts a long connection that must fail at the TLS handshake, for a reason that mentions
/// `reason`.
async fn refused_at_tls(client: &Client, reason: &str) {
    let err = LongConnection::builder(client, EventDispatcher::builder().build())
        .no_proxy()
        .auto_reconnect(false)
        .build()
        .start()
        .await
        .unwrap_err();
    match &err {
        LongConnectionError::Transport { stage, message } => {
            assert_eq!(*stage, "tls", "{err}");
            assert!(message.to_lowercase().contains(reason), "{err}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

fn message(event_id: &str) -> serde_json::Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1700000000000",
                   "token": "", "app_id": APP_ID, "tenant_key": "tk"},
        "event": {"sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                  "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "p2p",
                              "message_type": "text", "content": "{\"text\":\"over tls\"}"}}
    })
}

#[tokio::test]
async fn api_calls_and_the_long_connection_work_over_tls_with_an_added_root() {
    let mock = MockPlatform::start_tls().await.unwrap();
    assert!(mock.base_url().starts_with("https://localhost:"));
    mock.ws_set_client_config(lark_oapi_mock::WsClientConfig {
        ping_interval: 1,
        reconnect_count: -1,
        reconnect_interval: 0,
        reconnect_nonce: 0,
    });
    let client = Client::new(
        config(&mock)
            .add_root_certificate(TEST_CA_DER)
            .build()
            .unwrap(),
    );

    // HTTPS: token fetch and an API call.
    let resp = client
        .request(Method::GET, "/open-apis/echo/v1/over-tls")
        .send_value()
        .await
        .unwrap();
    assert_eq!(resp.data()["path"], "/open-apis/echo/v1/over-tls");

    // WSS: the endpoint hands out a wss:// URL; an event arrives and is acknowledged.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let dispatcher = EventDispatcher::builder()
        .on_im_message_receive_v1(move |event| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(event.payload.message.content);
                Ok(())
            }
        })
        .build();
    let conn = LongConnection::builder(&client, dispatcher)
        .no_proxy()
        .build()
        .start()
        .await
        .unwrap();
    let id = mock.ws_push_event(message("ev-tls"));
    assert!(
        mock.ws_wait_until(Duration::from_secs(5), |m| m.ws_delivered().contains(&id))
            .await
    );
    assert_eq!(*seen.lock().unwrap(), ["{\"text\":\"over tls\"}"]);
    // Pings and pongs flow over the TLS stream too.
    assert!(
        mock.ws_wait_until(Duration::from_secs(5), |m| m.ws_stats().pings >= 1)
            .await
    );
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_by_both_transports() {
    let mock = MockPlatform::start_tls().await.unwrap();

    // HTTPS without the root: a transport error, not a response.
    let client = Client::new(config(&mock).build().unwrap());
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/x")
        .send_value()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(
        format!("{err} {err:?}")
            .to_lowercase()
            .contains("certificate"),
        "{err} / {err:?}"
    );
    assert!(mock.requests().is_empty(), "nothing reached the platform");

    // WSS without the root, the endpoint reached through an HTTP client that trusts it: the
    // WebSocket's own TLS handshake refuses the certificate.
    install_provider();
    let trusting = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_der(TEST_CA_DER).unwrap()])
        .build()
        .unwrap();
    let client = Client::new(config(&mock).http_client(trusting).build().unwrap());
    refused_at_tls(&client, "certificate").await;
    assert_eq!(
        mock.ws_stats().endpoint_calls,
        1,
        "the endpoint was reached"
    );
}

#[test]
fn bad_root_certificates_fail_at_build_with_the_reason() {
    let err = Config::builder(APP_ID, APP_SECRET)
        .add_root_certificate(b"-----BEGIN CERTIFICATE-----".to_vec())
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("add_root_certificate_pem"),
        "{err}"
    );

    let err = Config::builder(APP_ID, APP_SECRET)
        .add_root_certificate_pem("no certificate here")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no PEM CERTIFICATE"), "{err}");

    // Starts like DER, but is not a certificate: refused at build, whoever makes the HTTP client.
    install_provider();
    let err = Config::builder(APP_ID, APP_SECRET)
        .add_root_certificate(vec![0x30, 0x03, 0x02, 0x01, 0x01])
        .http_client(reqwest::Client::new())
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("not a usable certificate"),
        "{err}"
    );

    // PEM text of the test CA is accepted.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(TEST_CA_DER);
    let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
    assert!(
        Config::builder(APP_ID, APP_SECRET)
            .add_root_certificate_pem(pem)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_even_from_a_trusted_ca() {
    let mock = MockPlatform::start_tls().await.unwrap();
    // `wrong-name.test` resolves to the mock, whose certificate is for localhost only.
    install_provider();
    let http = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_der(TEST_CA_DER).unwrap()])
        .resolve("wrong-name.test", mock.addr())
        .build()
        .unwrap();
    let client = Client::new(
        Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(format!(
                "https://wrong-name.test:{}",
                mock.addr().port()
            )))
            .http_client(http)
            .retry_policy(fast_retries())
            .build()
            .unwrap(),
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/x")
        .send_value()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(
        format!("{err:?}").to_lowercase().contains("name"),
        "{err:?}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn a_root_given_as_pem_is_trusted_for_real() {
    use base64::Engine as _;
    let mock = MockPlatform::start_tls().await.unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(TEST_CA_DER);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    let client = Client::new(config(&mock).add_root_certificate_pem(pem).build().unwrap());
    let resp = client
        .request(Method::GET, "/open-apis/echo/v1/pem")
        .send_value()
        .await
        .unwrap();
    assert_eq!(resp.data()["path"], "/open-apis/echo/v1/pem");
}

#[tokio::test]
async fn the_long_connection_checks_the_certificate_against_the_host_it_connects_to() {
    let mock = MockPlatform::start_tls().await.unwrap();
    // The same server, reached as 127.0.0.1: its certificate names only localhost.
    mock.ws_set_url_host(Some("127.0.0.1"));
    let client = Client::new(
        config(&mock)
            .add_root_certificate(TEST_CA_DER)
            .build()
            .unwrap(),
    );
    refused_at_tls(&client, "name").await;
    assert_eq!(mock.ws_stats().live_connections, 0);

    // Under its own name the same client connects.
    mock.ws_set_url_host(None);
    let conn = LongConnection::builder(&client, EventDispatcher::builder().build())
        .no_proxy()
        .auto_reconnect(false)
        .build()
        .start()
        .await
        .unwrap();
    conn.shutdown().await.unwrap();
}
