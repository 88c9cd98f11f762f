//! Shared de-duplication against a real `redis-server`: dispatchers that share nothing but
//! Redis (each its own store and connection, as separate processes have) handle an event
//! once between them, a copy never gets 200 while the first delivery may still fail, and a
//! failed delivery is handled again wherever the retry lands.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lark_oapi_core::dispatcher::EventDispatcher;
use lark_oapi_mock::RedisServer;
use lark_oapi_redis::{RedisDedupStore, RedisStore};

/// Counts handler runs; a payload `{"fail": true}` fails, `{"sleep_ms": n}` takes that long.
#[derive(Default)]
struct Runs {
    ok: AtomicUsize,
    failed: AtomicUsize,
}

async fn dispatcher(redis: &str, prefix: &str, runs: Arc<Runs>) -> EventDispatcher {
    let store = RedisStore::builder(redis)
        .prefix(prefix)
        .op_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    EventDispatcher::builder()
        .dedup_store(RedisDedupStore::new(store))
        .on_raw("test.event", move |event| {
            let runs = runs.clone();
            async move {
                if let Some(ms) = event.payload["sleep_ms"].as_u64() {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                if event.payload["fail"] == true {
                    runs.failed.fetch_add(1, Ordering::SeqCst);
                    return Err("scripted failure".into());
                }
                runs.ok.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            }
        })
        .build()
}

fn body(id: &str, payload: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": id, "event_type": "test.event"},
        "event": payload,
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_at_another_process_waits_for_the_first_delivery_and_is_not_handled_again() {
    let redis = RedisServer::start();
    let runs = Arc::new(Runs::default());
    let a = dispatcher(&redis.url(), "dedup", runs.clone()).await;
    let b = dispatcher(&redis.url(), "dedup", runs.clone()).await;
    let slow = body("ev-1", serde_json::json!({"sleep_ms": 300}));
    let (ra, rb) = tokio::join!(a.handle("POST", &[], &slow), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.handle("POST", &[], &slow).await
    });
    assert_eq!((ra.status, rb.status), (200, 200));
    assert_eq!(
        runs.ok.load(Ordering::SeqCst),
        1,
        "handled once between the two"
    );
    // Later copies anywhere: acknowledged without a run.
    let c = dispatcher(&redis.url(), "dedup", runs.clone()).await;
    assert_eq!(c.handle("POST", &[], &slow).await.status, 200);
    assert_eq!(runs.ok.load(Ordering::SeqCst), 1);
    // Another prefix (another deployment) is another namespace.
    let other = dispatcher(&redis.url(), "other-app", runs.clone()).await;
    assert_eq!(other.handle("POST", &[], &slow).await.status, 200);
    assert_eq!(runs.ok.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_handled_by_the_copy_waiting_at_another_process() {
    let redis = RedisServer::start();
    let runs = Arc::new(Runs::default());
    let a = dispatcher(&redis.url(), "dedup", runs.clone()).await;
    let b = dispatcher(&redis.url(), "dedup", runs.clone()).await;
    let failing = body("ev-2", serde_json::json!({"sleep_ms": 200, "fail": true}));
    let fine = body("ev-2", serde_json::json!({}));
    let (ra, rb) = tokio::join!(a.handle("POST", &[], &failing), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.handle("POST", &[], &fine).await
    });
    assert_eq!(ra.status, 500, "the first delivery failed");
    assert_eq!(
        rb.status, 200,
        "the copy took over once the id was forgotten"
    );
    assert_eq!(runs.failed.load(Ordering::SeqCst), 1);
    assert_eq!(runs.ok.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_events_are_still_handled_within_the_timeout_and_sharing_resumes() {
    let redis = RedisServer::start();
    let (url, port) = (redis.url(), redis.port());
    let runs = Arc::new(Runs::default());
    let a = dispatcher(&url, "dedup", runs.clone()).await;
    let b = dispatcher(&url, "dedup", runs.clone()).await;
    drop(redis);
    let started = std::time::Instant::now();
    for i in 0..5 {
        let event = body(&format!("ev-down-{i}"), serde_json::json!({}));
        assert_eq!(a.handle("POST", &[], &event).await.status, 200);
    }
    assert_eq!(
        runs.ok.load(Ordering::SeqCst),
        5,
        "a duplicate is better than a loss"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Back (empty, same port): the connections come back by themselves, and an event
    // delivered to both dispatchers is handled once again.
    let _redis = RedisServer::start_on(port);
    let mut resumed = false;
    for i in 0..50 {
        let event = body(&format!("ev-back-{i}"), serde_json::json!({}));
        let before = runs.ok.load(Ordering::SeqCst);
        assert_eq!(a.handle("POST", &[], &event).await.status, 200);
        assert_eq!(b.handle("POST", &[], &event).await.status, 200);
        if runs.ok.load(Ordering::SeqCst) == before + 1 {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "shared de-duplication resumed once Redis was back");
}
