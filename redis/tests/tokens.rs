//! The shared token cache across real processes: this test binary runs itself as workers
//! (`LARK_REDIS_WORKER` set), all against one `redis-server` and one mock platform.

use std::sync::Arc;
use std::time::Duration;

use lark_oapi_core::{CallOptions as _, Client, Config, Domain, Method};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform, RedisServer};
use lark_oapi_redis::{RedisStore, RedisTokenCache};

const TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";

mod common;
use common::{WORKER, run_workers, spawn_workers, var, wait_for_start, worker_runtime};

async fn client(mock_url: &str, redis_url: &str, prefix: &str) -> Client {
    let store = RedisStore::builder(redis_url)
        .prefix(prefix)
        .connect()
        .await
        .expect("Redis reachable");
    let config = Config::builder(APP_ID, APP_SECRET)
        .domain(Domain::custom(mock_url))
        .token_cache(Arc::new(RedisTokenCache::new(store)))
        .build()
        .unwrap();
    Client::new(config)
}

/// A worker: waits for the common start time, then makes `calls` concurrent calls, each
/// needing the tenant token; exits non-zero if any fails.
fn worker() {
    let (mock_url, redis_url, prefix) = (var("MOCK_URL"), var("REDIS_URL"), var("PREFIX"));
    let calls: usize = var("CALLS").parse().unwrap();
    let rt = worker_runtime();
    rt.block_on(async {
        let client = client(&mock_url, &redis_url, &prefix).await;
        wait_for_start().await;
        let tasks: Vec<_> = (0..calls)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .request(Method::GET, "/open-apis/echo/v1/ping")
                        .query("i", i)
                        .send_value()
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().expect("every call succeeds");
        }
    });
}

#[test]
fn eight_processes_with_a_hundred_cold_calls_each_make_one_token_request() {
    if std::env::var_os(WORKER).is_some() {
        return worker();
    }
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(MockPlatform::start()).unwrap();
    run_workers(
        "eight_processes_with_a_hundred_cold_calls_each_make_one_token_request",
        8,
        &[
            ("MOCK_URL", mock.base_url()),
            ("REDIS_URL", redis.url()),
            ("PREFIX", "tokens-test".into()),
            ("CALLS", "100".into()),
        ],
    );
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/ping").len(),
        800,
        "every call reached the platform"
    );
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        1,
        "one token request among 8 processes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_is_served_from_memory_without_a_redis_round_trip() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let client = client(&mock.base_url(), &redis.url(), "hot-path").await;
    let ping = || {
        client
            .request(Method::GET, "/open-apis/echo/v1/ping")
            .send_value()
    };
    // Until only the INFO that reads the figure counts.
    let settled = || async {
        let mut before = redis.commands_processed();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = redis.commands_processed();
            if now == before + 1 {
                return now;
            }
            before = now;
        }
    };
    ping().await.unwrap();
    // The lease is given back in the background after the fetch, and the eviction
    // listener subscribes (and drops the copies made before: the next call reads Redis
    // once): let both finish.
    settled().await;
    ping().await.unwrap();
    let before = settled().await;
    for _ in 0..100 {
        ping().await.unwrap();
    }
    // Only the INFO that read the figure counts.
    assert_eq!(
        redis.commands_processed(),
        before + 1,
        "no Redis command per call"
    );
    assert_eq!(mock.requests_to(TENANT_TOKEN_PATH).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_calls_still_authenticate_and_sharing_resumes_when_it_is_back() {
    let redis = RedisServer::start();
    let port = redis.port();
    let mock = MockPlatform::start().await.unwrap();
    let store = RedisStore::builder(redis.url())
        .prefix("faults")
        .op_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let make = |store: RedisStore| {
        let config = Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(mock.base_url()))
            .token_cache(Arc::new(RedisTokenCache::new(store)))
            .build()
            .unwrap();
        Client::new(config)
    };
    drop(redis);
    // Down: the call fetches its own token (bounded by the op timeout) and succeeds.
    let started = std::time::Instant::now();
    let down = make(store.clone());
    down.request(Method::GET, "/open-apis/echo/v1/ping")
        .send_value()
        .await
        .expect("authenticates without Redis");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.requests_to(TENANT_TOKEN_PATH).len(), 1);
    // Back (empty, on the same port): the connection comes back by itself; one process
    // stores a token and another one reads it instead of fetching.
    let _redis = RedisServer::start_on(port);
    let mut stored = false;
    for _ in 0..50 {
        let fresh = make(store.clone());
        fresh
            .request(Method::GET, "/open-apis/echo/v1/ping")
            .send_value()
            .await
            .unwrap();
        if _redis.commands_processed() > 1 {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        stored,
        "the shared cache was written again once Redis was back"
    );
    let fetched = mock.requests_to(TENANT_TOKEN_PATH).len();
    make(store.clone())
        .request(Method::GET, "/open-apis/echo/v1/ping")
        .send_value()
        .await
        .unwrap();
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        fetched,
        "a new process reads the shared token"
    );
}

#[test]
fn a_process_killed_while_fetching_delays_the_others_by_at_most_the_lease() {
    const TEST: &str = "a_process_killed_while_fetching_delays_the_others_by_at_most_the_lease";
    if std::env::var_os(WORKER).is_some() {
        return worker();
    }
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(MockPlatform::start()).unwrap();
    // The first token request hangs: its process holds the lease when it is killed.
    mock.push_fault(
        TENANT_TOKEN_PATH,
        lark_oapi_mock::Fault::Delay(Duration::from_secs(120)),
    );
    let env = [
        ("MOCK_URL", mock.base_url()),
        ("REDIS_URL", redis.url()),
        ("PREFIX", "killed".into()),
        ("CALLS", "5".into()),
    ];
    let mut holder = spawn_workers(TEST, 1, 0, &env).remove(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while mock.requests_to(TENANT_TOKEN_PATH).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never fetched"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().expect("SIGKILL");
    let _ = holder.wait();
    let started = std::time::Instant::now();
    run_workers(TEST, 3, &env);
    let waited = started.elapsed();
    // The lease is 10 s; the workers start 1.5 s after being spawned.
    assert!(
        waited < Duration::from_secs(16),
        "the others waited {waited:?}"
    );
    // And they did wait for it: nobody fetched while the dead holder's lease ran.
    assert!(
        waited > Duration::from_secs(5),
        "the lease was not honoured: {waited:?}"
    );
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        2,
        "the killed holder's request and one more, for the three others together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rejected_in_one_process_is_dropped_from_the_others_copies() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let a = client(&mock.base_url(), &redis.url(), "evict").await;
    let b = client(&mock.base_url(), &redis.url(), "evict").await;
    let ping = |c: &Client| {
        c.request(Method::GET, "/open-apis/echo/v1/ping")
            .send_value()
    };
    ping(&a).await.unwrap();
    ping(&b).await.unwrap(); // B keeps its own copy of the token A fetched
    let authorization = |r: &lark_oapi_mock::RecordedRequest| {
        r.header("authorization").unwrap_or_default().to_owned()
    };
    let first = authorization(&mock.requests_to("/open-apis/echo/v1/ping")[0]);
    assert_eq!(mock.requests_to(TENANT_TOKEN_PATH).len(), 1);
    // The platform revokes it; A finds out, evicts it and fetches a new one.
    mock.revoke_tokens();
    mock.clear_requests();
    ping(&a).await.unwrap();
    let rejected = |mock: &MockPlatform| {
        mock.requests_to("/open-apis/echo/v1/ping")
            .iter()
            .filter(|r| authorization(r) == first)
            .count()
    };
    assert_eq!(rejected(&mock), 1, "A's call with the revoked token");
    // B hears of the eviction and goes straight to the new token: its call is not refused.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ping(&b).await.unwrap();
    assert_eq!(rejected(&mock), 1, "B never sent the revoked token again");
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        1,
        "and fetched none itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_ticket_pushed_to_one_replica_serves_the_others() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let marketplace = |store: RedisStore| {
        let config = Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(mock.base_url()))
            .app_type(lark_oapi_core::AppType::Marketplace)
            .token_cache(Arc::new(RedisTokenCache::new(store)))
            .build()
            .unwrap();
        Client::new(config)
    };
    let connect = || RedisStore::builder(redis.url()).prefix("ticket").connect();
    let (a, b) = (
        marketplace(connect().await.unwrap()),
        marketplace(connect().await.unwrap()),
    );
    // The platform pushes the ticket to replica A only.
    let d = lark_oapi_core::dispatcher::EventDispatcher::builder()
        .client(a.clone())
        .build();
    let ticket_event = serde_json::json!({
        "uuid": "u-1", "ts": "1700000000.0", "token": "", "type": "event_callback",
        "event": {"app_id": APP_ID, "app_ticket": lark_oapi_mock::APP_TICKET, "type": "app_ticket"}
    });
    assert_eq!(
        d.handle("POST", &[], ticket_event.to_string().as_bytes())
            .await
            .status,
        200
    );
    // Replica B, which never saw it, gets its tokens with it.
    b.request(Method::GET, "/open-apis/echo/v1/isv")
        .tenant_key("tenant-1")
        .send_value()
        .await
        .expect("B authenticates with the ticket A received");
    let asked = mock.requests_to("/open-apis/auth/v3/app_access_token");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].json().unwrap()["app_ticket"],
        lark_oapi_mock::APP_TICKET
    );
    assert!(
        mock.requests_to("/open-apis/auth/v3/app_ticket/resend")
            .is_empty()
    );
}
