//! Events and card callbacks pushed by the mock platform's callback sender (signed,
//! encrypted, retried like the platform) to the axum adapter over loopback HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lark_oapi::dispatcher::axum_adapter::{card_router, router};
use lark_oapi::dispatcher::{CardActionHandler, EventDispatcher, LegacyCardAnswer};
use lark_oapi::legacy::v1::events::InteractiveCardActionEvent;
use lark_oapi::prelude::*;
use lark_oapi_mock::{CallbackOptions, MockPlatform};
use serde_json::json;

const KEY: &str = "http-encrypt-key";
const TOKEN: &str = "http-verification-token";

async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), task)
}

fn message(event_id: &str) -> serde_json::Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "token": TOKEN,
                   "app_id": "cli_x", "tenant_key": "tk", "create_time": "1700000000000"},
        "event": {"message": {"message_id": "om_1", "chat_id": "oc_1", "content": "{\"text\":\"hi\"}"}}
    })
}

fn sealed() -> CallbackOptions {
    CallbackOptions {
        encrypt_key: Some(KEY.into()),
        sign: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_failing_handler_gets_500_and_the_platforms_retry_is_handled_once() {
    let mock = MockPlatform::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let dispatcher = EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .on_im_message_receive_v1(move |event| {
            let c = c.clone();
            async move {
                assert_eq!(event.payload.message.chat_id, "oc_1");
                if c.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err("not yet".into())
                } else {
                    Ok(())
                }
            }
        })
        .build();
    let (base, server) = serve(router("/webhook/event", dispatcher)).await;
    let url = format!("{base}/webhook/event");
    let delivery = mock
        .send_callback(&url, &message("ev-retry"), &sealed())
        .await;
    assert_eq!(delivery.statuses, [500, 500, 200]);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // A late duplicate of the same delivery: acknowledged, not handled again.
    let again = mock
        .send_callback(&url, &message("ev-retry"), &sealed())
        .await;
    assert_eq!(again.statuses, [200]);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    server.abort();
}

#[tokio::test]
async fn forged_stale_or_undecryptable_deliveries_never_get_200() {
    let mock = MockPlatform::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let dispatcher = EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .max_body_bytes(4096)
        .on_im_message_receive_v1(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .build();
    let (base, server) = serve(router("/webhook/event", dispatcher)).await;
    let url = format!("{base}/webhook/event");
    let once = |opts: CallbackOptions| CallbackOptions {
        retry_delays: vec![],
        ..opts
    };
    let cases = [
        (
            "tampered body",
            once(CallbackOptions {
                tamper: true,
                ..sealed()
            }),
            401,
        ),
        (
            "stale timestamp",
            once(CallbackOptions {
                timestamp: Some("1600000000".into()),
                ..sealed()
            }),
            401,
        ),
        (
            "wrong key",
            once(CallbackOptions {
                encrypt_key: Some("another-key".into()),
                ..sealed()
            }),
            401,
        ),
        ("not encrypted", once(CallbackOptions::default()), 401),
    ];
    for (what, opts, status) in cases {
        let d = mock.send_callback(&url, &message("ev-bad"), &opts).await;
        assert_eq!(
            d.statuses,
            [status],
            "{what}: {}",
            String::from_utf8_lossy(&d.last_body)
        );
    }
    let big = json!({"schema": "2.0", "header": {"event_id": "big", "event_type": "x", "token": TOKEN},
                     "event": {"blob": "x".repeat(8000)}});
    let d = mock.send_callback(&url, &big, &once(sealed())).await;
    assert_eq!(d.statuses, [413]);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no handler ran");
    server.abort();
}

#[tokio::test]
async fn legacy_card_callbacks_over_http_answer_with_a_toast() {
    let mock = MockPlatform::start().await.unwrap();
    let handler = CardActionHandler::new(|card: InteractiveCardActionEvent| async move {
        let choice = card
            .action
            .value
            .get("choice")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned();
        Ok(LegacyCardAnswer::toast_success(format!("chose {choice}")))
    })
    .verification_token(TOKEN);
    let (base, server) = serve(card_router("/webhook/card", handler)).await;
    let url = format!("{base}/webhook/card");
    let body = json!({"open_id": "ou_1", "open_message_id": "om_1", "tenant_key": "tk", "token": "upd",
                      "action": {"tag": "button", "value": {"choice": "b"}}});
    let opts = CallbackOptions {
        card_verification_token: Some(TOKEN.into()),
        ..Default::default()
    };
    let d = mock.send_callback(&url, &body, &opts).await;
    assert_eq!(d.statuses, [200]);
    let answer: serde_json::Value = serde_json::from_slice(&d.last_body).unwrap();
    assert_eq!(
        answer,
        json!({"toast": {"type": "success", "content": "chose b"}})
    );
    let forged = CallbackOptions {
        card_verification_token: Some("other-token".into()),
        retry_delays: vec![],
        ..Default::default()
    };
    assert_eq!(
        mock.send_callback(&url, &body, &forged).await.statuses,
        [401]
    );
    server.abort();
}
