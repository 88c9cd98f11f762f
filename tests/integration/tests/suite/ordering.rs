//! Ordered handling per chat over the long connection: one chat's events one at a time in
//! arrival order, other chats concurrently, and a bound on what waits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi_mock::MockPlatform;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(5);

fn message(event_id: &str, chat: &str) -> Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1700000000000",
                   "token": "", "app_id": lark_oapi_mock::APP_ID, "tenant_key": "tk"},
        "event": {"sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                  "message": {"message_id": format!("om_{event_id}"), "chat_id": chat, "chat_type": "group",
                              "message_type": "text", "content": "{\"text\":\"x\"}"}}
    })
}

/// (event id, started, ended) of each handled event.
type Log = Arc<Mutex<Vec<(String, Instant, Instant)>>>;

/// A dispatcher whose handler takes `slow` for chat `oc_slow` and no time otherwise.
fn timed(
    builder: lark_oapi::dispatcher::EventDispatcherBuilder,
    slow: Duration,
) -> (EventDispatcher, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let dispatcher = builder
        .on_raw("im.message.receive_v1", move |event| {
            let l = l.clone();
            async move {
                let started = Instant::now();
                if event.payload.pointer("/message/chat_id") == Some(&json!("oc_slow")) {
                    tokio::time::sleep(slow).await;
                }
                l.lock().unwrap().push((
                    event.event_id.unwrap_or_default(),
                    started,
                    Instant::now(),
                ));
                Ok(None)
            }
        })
        .build();
    (dispatcher, log)
}

async fn all_acked(mock: &MockPlatform, n: usize) -> bool {
    mock.ws_wait_until(WAIT, |m| m.ws_acks().len() >= n).await
}

async fn run(ordered: bool) -> Vec<(String, Instant, Instant)> {
    let (mock, client) = setup().await;
    fast(&mock);
    let builder = EventDispatcher::builder();
    let builder = if ordered {
        builder.ordered_by_chat(10)
    } else {
        builder
    };
    let (dispatcher, log) = timed(builder, Duration::from_millis(150));
    let conn = connect(&client, dispatcher).await;
    for id in ["a1", "a2", "a3"] {
        mock.ws_push_event(message(id, "oc_slow"));
    }
    mock.ws_push_event(message("b1", "oc_fast"));
    assert!(all_acked(&mock, 4).await, "acks: {:?}", mock.ws_acks());
    assert!(
        mock.ws_acks().iter().all(|a| a.code == 200),
        "{:?}",
        mock.ws_acks()
    );
    conn.shutdown().await.unwrap();
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn one_chat_is_handled_in_order_while_another_overtakes_it() {
    let log = run(true).await;
    let at = |id: &str| log.iter().find(|(e, ..)| e == id).cloned().expect(id);
    let (a1, a2, a3, b1) = (at("a1"), at("a2"), at("a3"), at("b1"));
    // The slow chat: each event starts after the one before it ended, in arrival order.
    assert!(a2.1 >= a1.2 && a3.1 >= a2.2, "{log:?}");
    // The other chat did not wait for it.
    assert!(b1.2 < a1.2, "{log:?}");
}

#[tokio::test]
async fn without_ordering_one_chat_s_events_overlap() {
    let log = run(false).await;
    let at = |id: &str| log.iter().find(|(e, ..)| e == id).cloned().expect(id);
    let (a1, a2) = (at("a1"), at("a2"));
    assert!(
        a2.1 < a1.2,
        "the control case: handled concurrently, {log:?}"
    );
}

#[tokio::test]
async fn a_full_lane_refuses_the_next_event_so_the_platform_resends_it() {
    let (mock, client) = setup().await;
    fast(&mock);
    let (dispatcher, _log) = timed(
        EventDispatcher::builder().ordered_by_chat(1),
        Duration::from_millis(400),
    );
    let conn = connect(&client, dispatcher).await;
    // One handled, one waiting, the third refused.
    let ids: Vec<String> = ["c1", "c2", "c3"]
        .iter()
        .map(|id| mock.ws_push_event(message(id, "oc_slow")))
        .collect();
    // The third is refused at once, before the first is done; redelivered, it is handled.
    let delivered = |m: &MockPlatform| ids.iter().all(|id| m.ws_delivered().contains(id));
    assert!(
        mock.ws_wait_until(WAIT, delivered).await,
        "acks: {:?}",
        mock.ws_acks()
    );
    let acks = mock.ws_acks();
    let first_ack = |id: &String| {
        acks.iter()
            .position(|a| &a.message_id == id)
            .expect("acked")
    };
    assert_ne!(acks[first_ack(&ids[2])].code, 200, "{acks:?}");
    assert!(
        first_ack(&ids[2]) < first_ack(&ids[0]),
        "refused without waiting: {acks:?}"
    );
    assert_eq!(acks[first_ack(&ids[0])].code, 200);
    assert_eq!(acks[first_ack(&ids[1])].code, 200);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn over_http_callbacks_one_chat_is_handled_in_order_too() {
    use lark_oapi::dispatcher::axum_adapter::router;
    use lark_oapi_mock::CallbackOptions;
    let mock = Arc::new(MockPlatform::start().await.unwrap());
    let (dispatcher, log) = timed(
        EventDispatcher::builder().ordered_by_chat(10),
        Duration::from_millis(150),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/event", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router("/event", dispatcher))
            .await
            .unwrap();
    });
    // Three deliveries of one chat and one of another, each started 20 ms after the last.
    let mut deliveries = Vec::new();
    for (id, chat) in [
        ("h1", "oc_slow"),
        ("h2", "oc_slow"),
        ("h3", "oc_slow"),
        ("h4", "oc_fast"),
    ] {
        let (mock, url) = (mock.clone(), url.clone());
        deliveries.push(tokio::spawn(async move {
            mock.send_callback(&url, &message(id, chat), &CallbackOptions::default())
                .await
                .statuses
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for d in deliveries {
        assert_eq!(d.await.unwrap(), [200]);
    }
    let log = log.lock().unwrap().clone();
    let at = |id: &str| log.iter().find(|(e, ..)| e == id).cloned().expect(id);
    let (h1, h2, h3, h4) = (at("h1"), at("h2"), at("h3"), at("h4"));
    assert!(h2.1 >= h1.2 && h3.1 >= h2.2, "{log:?}");
    assert!(h4.2 < h1.2, "the other chat overtook: {log:?}");
    server.abort();
}
