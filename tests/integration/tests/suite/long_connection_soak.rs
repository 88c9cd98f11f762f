//! Soak: the long connection is dropped again and again while events stream in. No
//! acknowledged event may be lost, none may be handled twice, and after shutdown no task
//! of the client is left running.
//!
//! Bounded (2,000 events and 50 drops, a few seconds) and loopback only. The mock
//! runs on its own runtime, so the client's runtime counts only the client's tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::long_connection::LongConnection;
use lark_oapi::prelude::*;
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform};
use serde_json::json;

const DROPS: usize = 50;
const PER_ROUND: usize = 40;

fn message(event_id: &str) -> serde_json::Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "token": "", "app_id": APP_ID},
        "event": {"message": {"message_id": format!("om_{event_id}"), "content": "{\"text\":\"soak\"}"}}
    })
}

#[test]
fn repeated_drops_lose_no_acknowledged_event_and_leak_no_task() {
    let mock_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mock = mock_rt.block_on(MockPlatform::start()).unwrap();
    crate::common::fast(&mock);

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = client_rt.metrics();
    let baseline = metrics.num_alive_tasks();

    let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let pushed: HashMap<String, String> = client_rt.block_on(async {
        let client = lark_oapi::Client::new(
            Config::builder(APP_ID, APP_SECRET)
                .domain(Domain::custom(mock.base_url()))
                .build()
                .unwrap(),
        );
        let h = handled.clone();
        let dispatcher = EventDispatcher::builder()
            .on_im_message_receive_v1(move |event| {
                let h = h.clone();
                async move {
                    // Handlers take a little time, so drops catch some of them in flight.
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..20))).await;
                    let id = event.event_id.unwrap_or_default();
                    *h.lock().unwrap().entry(id).or_default() += 1;
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

        let mut pushed = HashMap::new();
        let mut opened_at_drop = 0;
        for round in 0..DROPS {
            mock.ws_set_fragments(if round % 3 == 0 { 3 } else { 1 });
            for i in 0..PER_ROUND {
                let event_id = format!("soak-{round}-{i}");
                pushed.insert(mock.ws_push_event(message(&event_id)), event_id);
            }
            tokio::time::sleep(Duration::from_millis(fastrand::u64(2..30))).await;
            // Reconnects after a connection that died young are paced (100 ms at least):
            // wait until the mock serves a connection opened since the last drop, so each
            // drop cuts a live one (the client's own `connected` can still be true for a
            // moment after a drop, before it has noticed).
            let reconnected = Instant::now() + Duration::from_secs(3);
            while Instant::now() < reconnected {
                let ws = mock.ws_stats();
                if ws.connections_opened > opened_at_drop && ws.live_connections > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            opened_at_drop = mock.ws_stats().connections_opened;
            mock.ws_drop_connections();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while mock.ws_pending() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stats = conn.stats();
        conn.shutdown().await.unwrap();
        drop(client);
        assert_eq!(
            mock.ws_pending(),
            0,
            "every pushed event is acknowledged in the end"
        );
        // Every drop cut a live connection (a few may land before the socket is served).
        assert!(
            stats.connections as usize > DROPS * 3 / 4,
            "reconnected after the drops: {stats:?}"
        );
        pushed
    });

    let handled = handled.lock().unwrap();
    let delivered = mock.ws_delivered();
    assert_eq!(delivered.len(), DROPS * PER_ROUND);
    for message_id in &delivered {
        let event_id = &pushed[message_id];
        assert_eq!(
            handled.get(event_id),
            Some(&1),
            "acknowledged event {event_id} handled exactly once"
        );
    }
    let ws = mock.ws_stats();
    println!(
        "soak: {} events, {} connections, {} redeliveries after drops, {} handled",
        delivered.len(),
        ws.connections_opened,
        ws.redeliveries,
        handled.len()
    );
    assert!(ws.redeliveries > 0, "the drops did interrupt deliveries");

    // Every task of the client ends after shutdown (the HTTP pool's, once the client is gone).
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        metrics.num_alive_tasks(),
        baseline,
        "no task of the client outlives shutdown"
    );
    drop(client_rt);
    drop(mock_rt);
}
