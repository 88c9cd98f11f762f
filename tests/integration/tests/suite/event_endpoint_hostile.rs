//! The HTTP event and card endpoints under hostile input, over loopback: panicking card
//! handlers, bodies above and below the limits, de-duplication memory under failed
//! deliveries, replays of a captured request that hang up, stuck handlers and their copies,
//! and slow clients against the shipped server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lark_oapi::dispatcher::axum_adapter::{self, card_router, router};
use lark_oapi::dispatcher::{CardActionHandler, EventDispatcher, MemoryDedupStore};
use lark_oapi_mock::{CallbackOptions, build_callback, send_callback};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "hostile-encrypt-key";
const TOKEN: &str = "hostile-verification-token";

/// Serves `app` the way the README shows (`axum::serve`).
async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), task)
}

fn event(event_id: &str, blob: usize) -> Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "token": TOKEN,
                   "app_id": "cli_x", "tenant_key": "tk", "create_time": "1700000000000"},
        "event": {"message": {"message_id": "om_1", "chat_id": "oc_1", "content": "x".repeat(blob)}}
    })
}

/// Signed and encrypted, one attempt only.
fn once() -> CallbackOptions {
    CallbackOptions {
        encrypt_key: Some(KEY.into()),
        sign: true,
        retry_delays: vec![],
        ..Default::default()
    }
}

fn counting(
    calls: &Arc<AtomicUsize>,
    sleep: Duration,
    fail: bool,
) -> impl Fn(
    lark_oapi::dispatcher::Event,
) -> futures_util::future::BoxFuture<
    'static,
    lark_oapi::dispatcher::HandlerResult<Option<Value>>,
> + Send
+ Sync
+ 'static {
    let calls = calls.clone();
    move |_| {
        let calls = calls.clone();
        Box::pin(async move {
            tokio::time::sleep(sleep).await;
            calls.fetch_add(1, Ordering::SeqCst);
            if fail {
                Err("failing on purpose".into())
            } else {
                Ok(None)
            }
        })
    }
}

fn json_msg(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["msg"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_panicking_legacy_card_handler_is_answered_500() {
    let handler = CardActionHandler::new(|_: Value| async move {
        if true {
            panic!("handler bug");
        }
        Ok(())
    })
    .verification_token(TOKEN);
    let (base, server) = serve(card_router("/card", handler)).await;
    let opts = CallbackOptions {
        card_verification_token: Some(TOKEN.into()),
        retry_delays: vec![],
        ..Default::default()
    };
    let body = json!({"open_id": "ou_1", "action": {"tag": "button", "value": {}}});
    let d = send_callback(&format!("{base}/card"), &body, &opts).await;
    assert_eq!(d.statuses, [500], "a panic must still get an HTTP answer");
    assert_eq!(json_msg(&d.last_body), "the handler panicked");
    server.abort();
}

#[tokio::test]
async fn the_axum_router_applies_the_dispatchers_own_body_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    // A limit above axum's 2 MiB default is honoured.
    let dispatcher = EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .max_body_bytes(8 << 20)
        .on_raw(
            "im.message.receive_v1",
            counting(&calls, Duration::ZERO, false),
        )
        .build();
    let (base, server) = serve(router("/event", dispatcher)).await;
    let d = send_callback(&format!("{base}/event"), &event("big", 3 << 20), &once()).await;
    assert_eq!(
        d.statuses,
        [200],
        "{}",
        String::from_utf8_lossy(&d.last_body)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.abort();

    // Below it, the dispatcher's 1 MiB default answers in JSON, whether the length is
    // declared or the body is streamed in chunks.
    let dispatcher = EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .build();
    let (base, server) = serve(router("/event", dispatcher)).await;
    let d = send_callback(&format!("{base}/event"), &event("1.5m", 1_500_000), &once()).await;
    assert_eq!(d.statuses, [413]);
    assert_eq!(json_msg(&d.last_body), "body too large");
    let addr = base.trim_start_matches("http://");
    // A declared 100 MB body is refused before any of it is sent.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"POST /event HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n")
        .await
        .unwrap();
    let answer = read_answer(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body too large"), "{answer}");
    // A chunked body is cut off at the limit: 2 MiB of chunks, never finished.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"POST /event HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
    for _ in 0..32 {
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let answer = read_answer(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body too large"), "{answer}");
    server.abort();
}

/// Reads what the server sends until it closes or 5 s pass.
async fn read_answer(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline.into(), tcp.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn failed_deliveries_of_one_event_leave_the_dedup_store_empty() {
    let store = Arc::new(MemoryDedupStore::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let dispatcher = EventDispatcher::builder()
        .dedup_store(store.clone())
        .on_raw(
            "im.message.receive_v1",
            counting(&calls, Duration::ZERO, true),
        )
        .build();
    let (base, server) = serve(router("/event", dispatcher)).await;
    let url = format!("{base}/event");
    let plain = CallbackOptions {
        retry_delays: vec![],
        ..Default::default()
    };
    let baseline = store.memory_bytes();
    for _ in 0..3000 {
        let d = send_callback(&url, &event("ev-fails", 10), &plain).await;
        assert_eq!(d.statuses, [500]);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3000, "every retry is handled");
    assert_eq!(store.len(), 0);
    assert!(
        store.memory_bytes() <= baseline + 4096,
        "3000 failed deliveries of one event grew the store from {baseline} to {} bytes",
        store.memory_bytes()
    );
    server.abort();
}

#[tokio::test]
async fn a_captured_request_replayed_with_hang_ups_runs_its_handler_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let dispatcher = EventDispatcher::builder()
        .encrypt_key(KEY)
        .verification_token(TOKEN)
        .on_raw(
            "im.message.receive_v1",
            counting(&calls, Duration::from_millis(2000), false),
        )
        .build();
    let (base, server) = serve(router("/event", dispatcher)).await;
    let url = format!("{base}/event");
    // One captured request, sent again and again, each time hanging up after 300 ms,
    // all before the first delivery's handler (2 s) is done.
    let captured = build_callback(&event("ev-replayed", 10), &once());
    let hang_up = CallbackOptions {
        timestamp: captured
            .header("x-lark-request-timestamp")
            .map(str::to_owned),
        nonce: captured.header("x-lark-request-nonce").map(str::to_owned),
        timeout: Duration::from_millis(300),
        ..once()
    };
    for _ in 0..5 {
        let d = send_callback(&url, &event("ev-replayed", 10), &hang_up).await;
        assert_eq!(d.statuses, [0], "hung up before the answer");
    }
    // Long after: the abandoned delivery ran to completion and was recorded.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let patient = CallbackOptions {
        timeout: Duration::from_secs(5),
        ..hang_up
    };
    let d = send_callback(&url, &event("ev-replayed", 10), &patient).await;
    assert_eq!(d.statuses, [200]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "six sends, one handler run"
    );
    server.abort();
}

#[tokio::test]
async fn a_stuck_handler_times_out_and_its_copies_do_not_wait_for_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let c = calls.clone();
    let dispatcher = EventDispatcher::builder()
        .handler_timeout(Duration::from_millis(600))
        .on_raw("im.message.receive_v1", move |_| {
            let (s, c) = (s.clone(), c.clone());
            async move {
                // The first run is stuck; the platform's retry after it is handled.
                if s.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
                c.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            }
        })
        .build();
    let (base, server) = serve(router("/event", dispatcher)).await;
    let url = format!("{base}/event");
    let plain = CallbackOptions {
        retry_delays: vec![],
        timeout: Duration::from_secs(8),
        ..Default::default()
    };
    let first = {
        let (url, plain) = (url.clone(), plain.clone());
        tokio::spawn(async move { send_callback(&url, &event("ev-stuck", 1), &plain).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Copies arriving while it runs wait for its outcome, not for the stuck handler.
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let (url, plain) = (url.clone(), plain.clone());
            tokio::spawn(async move { send_callback(&url, &event("ev-stuck", 1), &plain).await })
        })
        .collect();
    let first = first.await.unwrap();
    assert_eq!(first.statuses, [500], "the stuck handler timed out");
    assert!(
        json_msg(&first.last_body).contains("did not finish"),
        "{}",
        json_msg(&first.last_body)
    );
    for copy in copies {
        assert_eq!(copy.await.unwrap().statuses, [500]);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // The platform's retry is handled: the timed-out delivery released the id.
    let d = send_callback(&url, &event("ev-stuck", 1), &plain).await;
    assert_eq!(d.statuses, [200]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.abort();
}

/// Serves `app` with the adapter's hardened server and short timeouts.
async fn serve_hardened(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum_adapter::serve(listener, app)
            .header_read_timeout(Duration::from_millis(500))
            .await
            .unwrap();
    });
    (addr.to_string(), task)
}

/// Whether the server closes the connection within `within` (reading whatever it sends).
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> (bool, String) {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (true, String::from_utf8_lossy(&out).into()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (false, String::from_utf8_lossy(&out).into()),
        }
    }
}

#[tokio::test]
async fn the_shipped_server_cuts_off_slow_clients() {
    let calls = Arc::new(AtomicUsize::new(0));
    let dispatcher = EventDispatcher::builder()
        .body_read_timeout(Duration::from_millis(500))
        .on_raw(
            "im.message.receive_v1",
            counting(&calls, Duration::ZERO, false),
        )
        .build();
    let (addr, server) = serve_hardened(router("/event", dispatcher)).await;
    // Slowloris: headers that never finish, a byte at a time, on 200 connections.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"POST /event HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        slow.push(tcp);
    }
    for tcp in &mut slow {
        let _ = tcp.write_all(b"x-slow: 1\r\n").await;
    }
    for tcp in &mut slow {
        let (closed, _) = closed_within(tcp, Duration::from_secs(5)).await;
        assert!(closed, "a connection with unfinished headers is closed");
    }
    // A connection that sends nothing at all is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await.0);
    // A body that stalls after its headers is answered 408 and the connection closed.
    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(b"POST /event HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{\"schema\"")
        .await
        .unwrap();
    let (closed, answer) = closed_within(&mut stalled, Duration::from_secs(5)).await;
    assert!(closed, "{answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A well-behaved request still gets through, after all that.
    let plain = CallbackOptions {
        retry_delays: vec![],
        ..Default::default()
    };
    let d = send_callback(&format!("http://{addr}/event"), &event("ev-ok", 1), &plain).await;
    assert_eq!(d.statuses, [200]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.abort();
}
