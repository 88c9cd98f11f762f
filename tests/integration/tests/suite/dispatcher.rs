//! The event dispatcher, framework-free: verification, decryption, de-duplication, routing,
//! and the status codes the platform sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::*;

use lark_oapi::event_crypto::{encrypt, event_signature};
use lark_oapi::prelude::*;
use lark_oapi::{AppType, Method};

const KEY: &str = "encrypt-key-1";
const TOKEN: &str = "verification-token-1";

fn now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

fn message_event(event_id: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1608725989000",
                   "token": TOKEN, "app_id": "cli_x", "tenant_key": "tk"},
        "event": {"sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                  "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "p2p", "message_type": "text",
                              "content": "{\"text\":\"hi\"}", "create_time": "1608725989000"}}
    })
}

/// The body and headers the platform sends for `plain`, encrypted and signed.
fn sealed(plain: &serde_json::Value, ts: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let body =
        serde_json::json!({ "encrypt": encrypt(KEY, plain.to_string().as_bytes(), [9; 16]) })
            .to_string();
    let sig = event_signature(ts, "n1", KEY, body.as_bytes());
    let headers = vec![
        ("X-Lark-Request-Timestamp".to_owned(), ts.to_owned()),
        ("X-Lark-Request-Nonce".to_owned(), "n1".to_owned()),
        ("X-Lark-Signature".to_owned(), sig),
    ];
    (headers, body.into_bytes())
}

fn counting_dispatcher(count: Arc<AtomicUsize>) -> EventDispatcher {
    EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .on_im_message_receive_v1(move |event| {
            let count = count.clone();
            async move {
                // Typed: the generated payload, with the envelope's ids beside it.
                if event.payload.message.message_id != "om_1"
                    || event.tenant_key.as_deref() != Some("tk")
                {
                    return Err(format!("unexpected event {event:?}").into());
                }
                count.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .build()
}

#[tokio::test]
async fn a_signed_encrypted_event_is_decrypted_decoded_and_handled_once() {
    let count = Arc::new(AtomicUsize::new(0));
    let d = counting_dispatcher(count.clone());
    let (headers, body) = sealed(&message_event("ev-1"), &now());
    let reply = d.handle("POST", &headers, &body).await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // The platform's retry of the same event is acknowledged but not handled again.
    let reply = d.handle("POST", &headers, &body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn verification_failures_are_never_200() {
    let count = Arc::new(AtomicUsize::new(0));
    let d = counting_dispatcher(count.clone());
    let ts = now();
    let (mut headers, body) = sealed(&message_event("ev-2"), &ts);
    // Wrong signature.
    headers[2].1 = "0".repeat(64);
    assert_eq!(d.handle("POST", &headers, &body).await.status, 401);
    // Re-serialised body (a space added): the signature over the original bytes fails.
    let (headers, body) = sealed(&message_event("ev-2"), &ts);
    let mut spaced = b" ".to_vec();
    spaced.extend_from_slice(&body);
    assert_eq!(d.handle("POST", &headers, &spaced).await.status, 401);
    // Stale timestamp, correctly signed.
    let (headers, body) = sealed(&message_event("ev-2"), "1600000000");
    assert_eq!(d.handle("POST", &headers, &body).await.status, 401);
    // Wrong verification token inside a valid envelope.
    let mut ev = message_event("ev-2");
    ev["header"]["token"] = "other".into();
    let (headers, body) = sealed(&ev, &ts);
    assert_eq!(d.handle("POST", &headers, &body).await.status, 401);
    // Plain body while an Encrypt Key is configured.
    let plain = message_event("ev-2").to_string();
    assert_eq!(d.handle("POST", &[], plain.as_bytes()).await.status, 401);
    assert_eq!(count.load(Ordering::SeqCst), 0, "no handler ran");
}

#[tokio::test]
async fn unreadable_bodies_are_400() {
    let d = counting_dispatcher(Arc::new(AtomicUsize::new(0)));
    assert_eq!(d.handle("POST", &[], b"not json").await.status, 400);
    // Truncated ciphertext, signed as sent.
    let ts = now();
    let body = serde_json::json!({"encrypt": "AAECAwQFBgcICQoLDA0ODw=="}).to_string();
    let headers = vec![
        ("x-lark-request-timestamp".to_owned(), ts.clone()),
        ("x-lark-request-nonce".to_owned(), "n".to_owned()),
        (
            "x-lark-signature".to_owned(),
            event_signature(&ts, "n", KEY, body.as_bytes()),
        ),
    ];
    let reply = d.handle("POST", &headers, body.as_bytes()).await;
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("shorter"));
    // Encrypted with another key: bad padding.
    let other = serde_json::json!({"encrypt": encrypt("other-key", b"{}", [1; 16])}).to_string();
    let headers = vec![
        ("x-lark-request-timestamp".to_owned(), ts.clone()),
        ("x-lark-request-nonce".to_owned(), "n".to_owned()),
        (
            "x-lark-signature".to_owned(),
            event_signature(&ts, "n", KEY, other.as_bytes()),
        ),
    ];
    assert_eq!(
        d.handle("POST", &headers, other.as_bytes()).await.status,
        400
    );
    let big = vec![b' '; 2 << 20];
    assert_eq!(d.handle("POST", &[], &big).await.status, 413);
    assert_eq!(d.handle("GET", &[], b"{}").await.status, 405);
}

#[tokio::test]
async fn url_verification_plain_and_encrypted() {
    let d = EventDispatcher::builder().verification_token(TOKEN).build();
    let body = serde_json::json!({"challenge": "c-1", "token": TOKEN, "type": "url_verification"});
    let reply = d.handle("POST", &[], body.to_string().as_bytes()).await;
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, &br#"{"challenge":"c-1"}"#[..])
    );
    let bad = serde_json::json!({"challenge": "c-1", "token": "nope", "type": "url_verification"});
    assert_eq!(
        d.handle("POST", &[], bad.to_string().as_bytes())
            .await
            .status,
        401
    );

    let d = counting_dispatcher(Arc::new(AtomicUsize::new(0)));
    let sealed_body =
        serde_json::json!({"encrypt": encrypt(KEY, body.to_string().as_bytes(), [3; 16])})
            .to_string();
    let reply = d.handle("POST", &[], sealed_body.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], br#"{"challenge":"c-1"}"#);
}

#[tokio::test]
async fn handler_failures_are_500_and_the_retry_is_handled() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let d = EventDispatcher::builder()
        .on_raw("im.message.receive_v1", move |_| {
            let c = c.clone();
            async move {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err("database down".into())
                } else {
                    Ok(None)
                }
            }
        })
        .build();
    let body = message_event("ev-9").to_string();
    let reply = d.handle("POST", &[], body.as_bytes()).await;
    assert_eq!(reply.status, 500);
    assert!(String::from_utf8_lossy(&reply.body).contains("database down"));
    assert_eq!(d.handle("POST", &[], body.as_bytes()).await.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Unknown event types are acknowledged.
    let mut other = message_event("ev-10");
    other["header"]["event_type"] = "brand.new.event_v9".into();
    assert_eq!(
        d.handle("POST", &[], other.to_string().as_bytes())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_app_ticket_event_feeds_the_token_manager() {
    let (mock, client) = setup_with(|b| b.app_type(AppType::Marketplace)).await;
    let d = EventDispatcher::builder().client((*client).clone()).build();
    let ticket_event = serde_json::json!({
        "uuid": "u-1", "ts": "1700000000.0", "token": "", "type": "event_callback",
        "event": {"app_id": lark_oapi_mock::APP_ID, "app_ticket": lark_oapi_mock::APP_TICKET, "type": "app_ticket"}
    });
    assert_eq!(
        d.handle("POST", &[], ticket_event.to_string().as_bytes())
            .await
            .status,
        200
    );
    // The marketplace app can now get tokens, with no set_app_ticket call of ours.
    client
        .request(Method::GET, "/open-apis/echo/v1/isv")
        .tenant_key("tenant-1")
        .send_value()
        .await
        .unwrap();
    assert_eq!(
        mock.requests_to("/open-apis/auth/v3/app_access_token")
            .len(),
        1
    );
}

#[tokio::test]
async fn over_http_with_the_axum_adapter() {
    let count = Arc::new(AtomicUsize::new(0));
    let app = lark_oapi::dispatcher::axum_adapter::router(
        "/webhook/event",
        counting_dispatcher(count.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    install_provider();
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/webhook/event");

    let (headers, body) = sealed(&message_event("ev-http-1"), &now());
    let mut req = http.post(&url).body(body.clone());
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(resp.text().await.unwrap(), r#"{"msg":"success"}"#);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // The same bytes with a forged signature are refused over HTTP too.
    let resp = http
        .post(&url)
        .header("x-lark-request-timestamp", now())
        .header("x-lark-request-nonce", "n1")
        .header("x-lark-signature", "f".repeat(64))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    server.abort();
}

#[tokio::test]
async fn card_action_trigger_answers_with_a_typed_toast() {
    use lark_oapi::callback::v2::events::{
        CallBackToast, P2CardActionTriggerData, P2CardActionTriggerResponse,
    };
    let d = EventDispatcher::builder()
        .on_card_action_trigger(|event| async move {
            let data: P2CardActionTriggerData = event.payload;
            let tag = data.action.and_then(|a| a.tag).unwrap_or_default();
            Ok(P2CardActionTriggerResponse {
                toast: Some(CallBackToast {
                    r#type: Some("success".into()),
                    content: Some(format!("clicked {tag}")),
                    i18n: None,
                }),
                card: None,
            })
        })
        .build();
    let body = serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": "ev-card-1", "event_type": "card.action.trigger", "token": "", "app_id": "cli_x", "tenant_key": "tk"},
        "event": {"operator": {"open_id": "ou_1"}, "token": "c-token", "action": {"tag": "button", "value": {"k": "v"}},
                  "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}}
    });
    let reply = d.handle("POST", &[], body.to_string().as_bytes()).await;
    assert_eq!(reply.status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"toast": {"type": "success", "content": "clicked button"}})
    );
}

#[tokio::test]
async fn legacy_card_callbacks_check_the_sha1_signature() {
    use lark_oapi::dispatcher::{CardActionHandler, LegacyCardAnswer};
    use lark_oapi::event_crypto::card_signature;
    use lark_oapi::legacy::v1::events::InteractiveCardActionEvent;
    let handler = CardActionHandler::new(|body: InteractiveCardActionEvent| async move {
        if body.open_message_id != "om_1" || body.action.tag != "button" {
            return Err(format!("unexpected body {body:?}").into());
        }
        Ok(LegacyCardAnswer::Card(
            serde_json::json!({"elements": [{"tag": "markdown", "content": "done"}]}),
        ))
    })
    .verification_token(TOKEN);
    let body = br#"{"open_id":"ou_1","open_message_id":"om_1","tenant_key":"tk","token":"c-update-token","action":{"tag":"button","value":{"k":"v"}}}"#;
    let ts = now();
    let signed = |sig: String| {
        vec![
            ("X-Lark-Request-Timestamp".to_owned(), ts.clone()),
            ("X-Lark-Request-Nonce".to_owned(), "n2".to_owned()),
            ("X-Lark-Signature".to_owned(), sig),
        ]
    };
    let reply = handler
        .handle(
            "POST",
            &signed(card_signature(&ts, "n2", TOKEN, body)),
            body,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        &reply.body[..],
        br#"{"elements":[{"content":"done","tag":"markdown"}]}"#
    );
    // The event scheme's signature (SHA-256 with a key) is not the card scheme's.
    let wrong = event_signature(&ts, "n2", TOKEN, body);
    assert_eq!(
        handler.handle("POST", &signed(wrong), body).await.status,
        401
    );
    assert_eq!(
        handler.handle("POST", &[], body).await.status,
        401,
        "unsigned"
    );
    // Correctly signed, but an hour old: a replay.
    let old_ts = (now().parse::<u64>().unwrap() - 3600).to_string();
    let stale = vec![
        ("X-Lark-Request-Timestamp".to_owned(), old_ts.clone()),
        ("X-Lark-Request-Nonce".to_owned(), "n2".to_owned()),
        (
            "X-Lark-Signature".to_owned(),
            card_signature(&old_ts, "n2", TOKEN, body),
        ),
    ];
    assert_eq!(
        handler.handle("POST", &stale, body).await.status,
        401,
        "stale"
    );
    let challenge =
        serde_json::json!({"challenge": "c-9", "token": TOKEN, "type": "url_verification"})
            .to_string();
    let reply = handler.handle("POST", &[], challenge.as_bytes()).await;
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, &br#"{"challenge":"c-9"}"#[..])
    );
}

#[tokio::test]
async fn a_payload_that_does_not_decode_fails_the_delivery_instead_of_vanishing() {
    let d = EventDispatcher::builder()
        .on_im_message_receive_v1(|_| async { Ok(()) })
        .build();
    let mut ev = message_event("ev-bad-1");
    // `message` must be an object.
    ev["event"]["message"] = serde_json::json!([1, 2]);
    let reply = d.handle("POST", &[], ev.to_string().as_bytes()).await;
    assert_eq!(reply.status, 500);
    let text = String::from_utf8_lossy(&reply.body);
    assert!(
        text.contains("did not decode") && text.contains("message"),
        "{text}"
    );
    // Not remembered as handled: the platform's retry is processed.
    ev["event"]["message"] = message_event("x")["event"]["message"].clone();
    assert_eq!(
        d.handle("POST", &[], ev.to_string().as_bytes())
            .await
            .status,
        200
    );
}

/// A store shared by two dispatchers, as two instances of a bot would share Redis.
#[derive(Debug, Default, Clone)]
struct SharedStore(Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl lark_oapi::dispatcher::DedupStore for SharedStore {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        _ttl: std::time::Duration,
    ) -> lark_oapi::BoxFuture<'a, Result<bool, lark_oapi::CacheError>> {
        Box::pin(async move { Ok(self.0.lock().unwrap().insert(id.to_owned())) })
    }
    fn forget<'a>(
        &'a self,
        id: &'a str,
    ) -> lark_oapi::BoxFuture<'a, Result<(), lark_oapi::CacheError>> {
        Box::pin(async move {
            self.0.lock().unwrap().remove(id);
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_pluggable_dedup_store_drops_retries_across_instances() {
    let store = SharedStore::default();
    let count = Arc::new(AtomicUsize::new(0));
    let instance = |store: SharedStore, count: Arc<AtomicUsize>| {
        EventDispatcher::builder()
            .dedup_store(store)
            .on_im_message_receive_v1(move |_| {
                let count = count.clone();
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .build()
    };
    let (a, b) = (
        instance(store.clone(), count.clone()),
        instance(store.clone(), count.clone()),
    );
    let body = message_event("ev-shared-1").to_string();
    assert_eq!(a.handle("POST", &[], body.as_bytes()).await.status, 200);
    // The platform's retry lands on the other instance: acknowledged, not handled again.
    assert_eq!(b.handle("POST", &[], body.as_bytes()).await.status, 200);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(store.0.lock().unwrap().contains("ev-shared-1"));
}

#[tokio::test]
async fn schema_1_events_are_typed_too() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    let d = EventDispatcher::builder()
        .verification_token(TOKEN)
        .on_message(move |event| {
            let s = s.clone();
            async move {
                *s.lock().unwrap() = Some((event.schema, event.event_id.clone(), event.payload));
                Ok(())
            }
        })
        .build();
    let body = serde_json::json!({
        "uuid": "u-msg-1", "ts": "1700000000.1", "token": TOKEN, "type": "event_callback",
        "event": {"type": "message", "app_id": "cli_x", "tenant_key": "tk", "open_chat_id": "oc_1",
                  "msg_type": "text", "text": "hello", "open_id": "ou_1"}
    });
    assert_eq!(
        d.handle("POST", &[], body.to_string().as_bytes())
            .await
            .status,
        200
    );
    let (schema, id, payload) = seen.lock().unwrap().take().expect("handled");
    assert_eq!((schema, id.as_deref()), ("1.0", Some("u-msg-1")));
    assert_eq!(payload.open_chat_id, "oc_1");
    assert_eq!(payload.text, "hello");
}

#[tokio::test]
async fn a_copy_arriving_during_a_failing_delivery_is_not_acknowledged() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let d = EventDispatcher::builder()
        .on_im_message_receive_v1(move |_| {
            let first = c.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    Err("the first attempt failed".into())
                } else {
                    Ok(())
                }
            }
        })
        .build();
    let body = message_event("ev-concurrent").to_string();
    let (a, b) = tokio::join!(d.handle("POST", &[], body.as_bytes()), async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        d.handle("POST", &[], body.as_bytes()).await
    });
    // The copy waited for the first delivery and shares its failure: the platform will retry.
    assert_eq!((a.status, b.status), (500, 500));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(d.handle("POST", &[], body.as_bytes()).await.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_abandoned_delivery_runs_on_and_a_timeout_or_panic_releases_its_id() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let d = EventDispatcher::builder()
        .handler_timeout(std::time::Duration::from_millis(300))
        .on_im_message_receive_v1(move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    // Stuck: the platform hangs up, and the handler timeout stops it.
                    0 => tokio::time::sleep(std::time::Duration::from_secs(30)).await,
                    1 => panic!("handler bug"),
                    _ => {}
                }
                Ok(())
            }
        })
        .build();
    let body = message_event("ev-cancel").to_string();
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        d.handle("POST", &[], body.as_bytes()),
    )
    .await;
    assert!(cut.is_err(), "the caller gave up on the first delivery");
    // It runs on: a copy waits for its outcome (the timeout) instead of running again.
    let copy = d.handle("POST", &[], body.as_bytes()).await;
    assert_eq!(copy.status, 500);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the copy did not run the handler"
    );
    let panicked = d.handle("POST", &[], body.as_bytes()).await;
    assert_eq!(panicked.status, 500);
    assert!(String::from_utf8_lossy(&panicked.body).contains("panicked"));
    assert_eq!(d.handle("POST", &[], body.as_bytes()).await.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "each retry was handled");
}

#[tokio::test]
async fn unsigned_encrypted_bodies_all_get_one_answer() {
    // Bad padding, valid padding but not JSON, and a valid event: without a signature the
    // sender cannot tell them apart (no padding oracle).
    let d = counting_dispatcher(Arc::new(AtomicUsize::new(0)));
    let wrap = |sealed: String| serde_json::json!({ "encrypt": sealed }).to_string();
    let bodies = [
        wrap(encrypt("other-key", b"{}", [1; 16])),
        wrap(encrypt(KEY, b"not json", [2; 16])),
        wrap(encrypt(
            KEY,
            message_event("ev-u").to_string().as_bytes(),
            [3; 16],
        )),
    ];
    let mut replies = Vec::new();
    for body in &bodies {
        replies.push(d.handle("POST", &[], body.as_bytes()).await);
    }
    assert_eq!(replies[0].status, 401);
    assert!(replies.iter().all(|r| r == &replies[0]), "{replies:?}");

    // The legacy card handler checks its signature before decrypting, too.
    use lark_oapi::dispatcher::CardActionHandler;
    let cards = CardActionHandler::new(|_: serde_json::Value| async { Ok(()) })
        .verification_token(TOKEN)
        .encrypt_key(KEY);
    let forged = vec![
        ("X-Lark-Request-Timestamp".to_owned(), now()),
        ("X-Lark-Request-Nonce".to_owned(), "n".to_owned()),
        ("X-Lark-Signature".to_owned(), "0".repeat(40)),
    ];
    let mut card_replies = Vec::new();
    for body in &bodies {
        card_replies.push(cards.handle("POST", &forged, body.as_bytes()).await);
    }
    assert_eq!(card_replies[0].status, 401);
    assert!(
        card_replies.iter().all(|r| r == &card_replies[0]),
        "{card_replies:?}"
    );
}

#[tokio::test]
async fn the_timestamp_window_defaults_to_the_retry_horizon() {
    // An hour-old signed delivery (a platform retry) is accepted by default...
    let count = Arc::new(AtomicUsize::new(0));
    let d = counting_dispatcher(count.clone());
    let hour_ago = (now().parse::<u64>().unwrap() - 3600).to_string();
    let (headers, body) = sealed(&message_event("ev-old"), &hour_ago);
    assert_eq!(d.handle("POST", &headers, &body).await.status, 200);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // ...and refused with a narrower window.
    let strict = EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .timestamp_window(std::time::Duration::from_secs(300))
        .build();
    assert_eq!(strict.handle("POST", &headers, &body).await.status, 401);
}

#[tokio::test]
async fn a_legacy_event_with_tuple_fields_decodes() {
    // `leave_range` and `leave_detail` are arrays of tuples on the wire; the dataset once
    // described them as objects, which could never decode (500 and endless redelivery).
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    let d = EventDispatcher::builder()
        .verification_token(TOKEN)
        .on_leave_approval_v2(move |event| {
            let s = s.clone();
            async move {
                *s.lock().unwrap() = Some(event.payload);
                Ok(())
            }
        })
        .build();
    let body = serde_json::json!({
        "uuid": "u-leave-1", "ts": "1700000000.1", "token": TOKEN, "type": "event_callback",
        "event": {"type": "leave_approvalV2", "app_id": "cli_x", "tenant_key": "tk",
                  "instance_code": "I1", "leave_name": "Annual",
                  "leave_range": [["2024-01-01 00:00:00", "2024-01-01 12:00:00", 43200]],
                  "leave_detail": [["2024-01-01 00:00:00", 1]]}
    });
    let reply = d.handle("POST", &[], body.to_string().as_bytes()).await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    let payload = seen.lock().unwrap().take().expect("handled");
    assert_eq!(payload.instance_code, "I1");
    assert_eq!(payload.leave_range[0][2], serde_json::json!(43200));
    assert_eq!(payload.leave_detail[0].len(), 2);
}
