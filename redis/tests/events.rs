//! Events handled once among several receivers of one app that share only Redis: three
//! dispatcher processes behind a "load balancer" (the mock's sender spreads each delivery and
//! each retry at random), and three long connections between which the mock spreads events.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lark_oapi_core::dispatcher::{EventDispatcher, axum_adapter};
use lark_oapi_core::long_connection::LongConnection;
use lark_oapi_core::{Client, Config, Domain};
use lark_oapi_mock::{
    APP_ID, APP_SECRET, CallbackOptions, MockPlatform, RedisServer, WsClientConfig,
    send_callback_spread,
};
use lark_oapi_redis::{RedisDedupStore, RedisStore};
use serde_json::json;

mod common;
use common::{WORKER, spawn_workers, var, worker_runtime};

const ENCRYPT_KEY: &str = "multi-process-encrypt-key";
const TOKEN: &str = "multi-process-verification-token";

/// An event of type `test.event` whose payload scripts the handler: `fail` makes the first
/// run of it in each receiver fail; `sleep_ms` makes every run take that long.
fn event(i: usize, fail: bool, sleep_ms: u64) -> serde_json::Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": format!("ev-{i}"), "event_type": "test.event", "token": TOKEN,
                   "app_id": APP_ID, "tenant_key": "tk", "create_time": "1700000000000"},
        "event": {"fail": fail, "sleep_ms": sleep_ms},
    })
}

/// What a receiver did: event ids handled successfully, and scripted failures.
#[derive(Default)]
struct Log {
    ok: Vec<String>,
    failed: HashSet<String>,
}

/// A dispatcher on its own connection to Redis (as a separate process has), logging into
/// `log`.
async fn dispatcher(redis_url: &str, prefix: &str, log: Arc<Mutex<Log>>) -> EventDispatcher {
    let store = RedisStore::builder(redis_url)
        .prefix(prefix)
        .connect()
        .await
        .expect("Redis reachable");
    EventDispatcher::builder()
        .encrypt_key(ENCRYPT_KEY)
        .verification_token(TOKEN)
        .dedup_store(RedisDedupStore::new(store))
        .on_raw("test.event", move |event| {
            let log = log.clone();
            async move {
                let id = event.event_id.clone().unwrap_or_default();
                if let Some(ms) = event.payload["sleep_ms"].as_u64().filter(|ms| *ms > 0) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let mut log = log.lock().unwrap();
                if event.payload["fail"] == true && log.failed.insert(id.clone()) {
                    return Err(format!("scripted failure of {id}").into());
                }
                log.ok.push(id);
                Ok(None)
            }
        })
        .build()
}

/// A worker process: serves the dispatcher on a loopback port (written to `DIR/port-<pid>`)
/// until `DIR/stop` appears, then writes its log to `DIR/log-<pid>` and exits.
fn http_worker() {
    let dir = PathBuf::from(var("DIR"));
    let rt = worker_runtime();
    let log = Arc::new(Mutex::new(Log::default()));
    rt.block_on(async {
        let d = dispatcher(&var("REDIS_URL"), &var("PREFIX"), log.clone()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = dir.join("stop");
        let server = axum_adapter::serve(listener, axum_adapter::router("/events", d))
            .with_graceful_shutdown(async move {
                while !stop.exists() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        let pid = std::process::id();
        let tmp = dir.join(format!("port-{pid}.tmp"));
        std::fs::write(&tmp, port.to_string()).unwrap();
        std::fs::rename(&tmp, dir.join(format!("port-{pid}"))).unwrap();
        server.await.unwrap();
    });
    let log = log.lock().unwrap();
    let mut text = String::new();
    for id in &log.ok {
        text.push_str(&format!("ok {id}\n"));
    }
    for id in &log.failed {
        text.push_str(&format!("failed {id}\n"));
    }
    std::fs::write(dir.join(format!("log-{}", std::process::id())), text).unwrap();
}

/// Files in `dir` whose names start with `prefix`.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && !name.ends_with(".tmp")
        })
        .collect()
}

#[test]
fn three_dispatcher_processes_handle_two_thousand_spread_events_exactly_once() {
    const TEST: &str = "three_dispatcher_processes_handle_two_thousand_spread_events_exactly_once";
    const EVENTS: usize = 2000;
    if std::env::var_os(WORKER).is_some() {
        return http_worker();
    }
    let redis = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("lark-redis-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = [
        ("REDIS_URL", redis.url()),
        ("PREFIX", "spread".to_owned()),
        ("DIR", dir.display().to_string()),
    ];
    let workers = spawn_workers(TEST, 3, 0, &env);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while files(&dir, "port-").len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the workers did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let urls: Vec<String> = files(&dir, "port-")
        .iter()
        .map(|p| {
            format!(
                "http://127.0.0.1:{}/events",
                std::fs::read_to_string(p).unwrap()
            )
        })
        .collect();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = CallbackOptions {
        encrypt_key: Some(ENCRYPT_KEY.into()),
        sign: true,
        retry_delays: [15, 30, 60, 120, 240, 480, 960, 1500]
            .into_iter()
            .map(Duration::from_millis)
            .collect(),
        ..CallbackOptions::default()
    };
    // Every 10th event fails once in each process it reaches; every 7th takes 150 ms; every
    // 6th is delivered twice at once (the platform's copy while the first is in flight).
    let statuses = rt.block_on(async {
        let urls = Arc::new(urls);
        let limit = Arc::new(tokio::sync::Semaphore::new(48));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..EVENTS {
            let copies = if i % 6 == 0 { 2 } else { 1 };
            for copy in 0..copies {
                let (urls, opts, limit) = (urls.clone(), opts.clone(), limit.clone());
                let ev = event(i, i % 10 == 0, if i % 7 == 0 { 150 } else { 0 });
                let permit = limit.acquire_owned().await.unwrap();
                tasks.spawn(async move {
                    if copy > 0 {
                        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..40))).await;
                    }
                    let delivery = send_callback_spread(&urls, &ev, &opts).await;
                    drop(permit);
                    (i, delivery)
                });
            }
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            all.push(done.unwrap());
        }
        all
    });
    std::fs::write(dir.join("stop"), "").unwrap();
    for mut w in workers {
        assert!(w.wait().unwrap().success(), "a worker failed");
    }

    // The platform's view: every delivery ended with 200 (none given up).
    let undelivered: Vec<_> = statuses.iter().filter(|(_, d)| !d.delivered()).collect();
    assert!(undelivered.is_empty(), "undelivered: {undelivered:?}");
    let answers: Vec<u16> = statuses
        .iter()
        .flat_map(|(_, d)| d.statuses.clone())
        .collect();
    let count = |code: u16| answers.iter().filter(|s| **s == code).count();
    assert!(
        count(500) >= EVENTS / 10,
        "scripted failures were answered 500: {}",
        count(500)
    );
    // The receivers' view: each event handled successfully exactly once, in whichever
    // process, and every process took a share.
    let mut handled: HashMap<String, usize> = HashMap::new();
    let mut per_process = Vec::new();
    let mut failures = 0;
    for log in files(&dir, "log-") {
        let text = std::fs::read_to_string(log).unwrap();
        let mut ok = 0;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("ok", id)) => {
                    *handled.entry(id.to_owned()).or_default() += 1;
                    ok += 1;
                }
                Some(("failed", _)) => failures += 1,
                _ => panic!("bad log line {line:?}"),
            }
        }
        per_process.push(ok);
    }
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(per_process.len(), 3);
    let twice: Vec<_> = handled.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    assert_eq!(handled.len(), EVENTS, "every event handled");
    assert!(
        per_process.iter().all(|n| *n > EVENTS / 6),
        "deliveries were spread: {per_process:?}"
    );
    assert!(failures >= EVENTS / 10, "{failures} scripted failures");
    eprintln!(
        "handled per process {per_process:?}; answers: {} x 200, {} x 500, {} x 503, {} attempts in all",
        count(200),
        count(500),
        count(503),
        answers.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_long_connections_of_one_app_share_de_duplication() {
    const EVENTS: usize = 300;
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    mock.ws_set_client_config(WsClientConfig {
        ping_interval: 1,
        reconnect_count: -1,
        reconnect_interval: 0,
        reconnect_nonce: 0,
    });
    mock.ws_set_spread(true);
    let mut logs = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..3 {
        let log = Arc::new(Mutex::new(Log::default()));
        let config = Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(mock.base_url()))
            .build()
            .unwrap();
        let client = Client::new(config);
        let d = dispatcher(&redis.url(), "ws", log.clone()).await;
        let handle = LongConnection::builder(&client, d)
            .no_proxy()
            .build()
            .start()
            .await
            .expect("connected");
        logs.push(log);
        handles.push(handle);
    }
    // Every 5th event fails once per connection (nacked, redelivered anywhere); every 4th is
    // pushed twice (two messages of one event, as the platform's at-least-once delivery
    // does); halfway, every connection drops, so events in flight go out again elsewhere.
    let mut pushed = 0;
    for i in 0..EVENTS {
        let ev = event(i, i % 5 == 0, if i % 9 == 0 { 100 } else { 0 });
        mock.ws_push_event(ev.clone());
        pushed += 1;
        if i % 4 == 0 {
            mock.ws_push_event(ev);
            pushed += 1;
        }
        if i == EVENTS / 2 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            mock.ws_drop_connections();
        }
    }
    let all_delivered = mock
        .ws_wait_until(Duration::from_secs(60), |m| {
            m.ws_delivered().len() == pushed
        })
        .await;
    assert!(
        all_delivered,
        "{} of {pushed} delivered",
        mock.ws_delivered().len()
    );
    let mut handled: HashMap<String, usize> = HashMap::new();
    let mut per_connection = Vec::new();
    for log in &logs {
        let log = log.lock().unwrap();
        per_connection.push(log.ok.len());
        for id in &log.ok {
            *handled.entry(id.clone()).or_default() += 1;
        }
    }
    let twice: Vec<_> = handled.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    assert_eq!(handled.len(), EVENTS);
    assert!(
        per_connection.iter().all(|n| *n > EVENTS / 10),
        "events were spread: {per_connection:?}"
    );
    let stats = mock.ws_stats();
    assert!(stats.redeliveries > 0, "{stats:?}");
    for h in handles {
        h.shutdown().await.ok();
    }
}
