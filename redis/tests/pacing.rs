//! Pacing shared through Redis, across real processes: together under the per-chat limit
//! as the mock's clock measures it; Redis down → each process paces alone.

use std::time::{Duration, Instant};

use lark_oapi_core::pacing::{Pacer, Rate, limits};
use lark_oapi_core::{CallOptions as _, Client, Config, Domain, Method};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform, RedisServer};
use lark_oapi_redis::{RedisPaceStore, RedisStore};

mod common;
use common::{WORKER, run_workers, var, wait_for_start, worker_runtime};

const MESSAGES: &str = "/open-apis/im/v1/messages";
const CHAT: &str = "oc_84983ff6516d731e5b5f68d4ea2e1da5";

async fn client(mock_url: &str, pacer: Pacer) -> Client {
    let config = Config::builder(APP_ID, APP_SECRET)
        .domain(Domain::custom(mock_url))
        .pacer(pacer)
        .build()
        .unwrap();
    Client::new(config)
}

async fn shared_pacer(redis_url: &str) -> Pacer {
    let store = RedisStore::builder(redis_url)
        .prefix("pacing")
        .op_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("Redis reachable");
    Pacer::shared(RedisPaceStore::new(store))
}

/// Sends a text message to `CHAT`, paced as the bot kit paces sends.
async fn send(client: &Client, text: &str) -> lark_oapi_core::Result<()> {
    client
        .request(Method::POST, MESSAGES)
        .query("receive_id_type", "chat_id")
        .pace(format!("im:chat_id:{CHAT}"), limits::MESSAGES_PER_RECEIVER)
        .json(&serde_json::json!({
            "receive_id": CHAT,
            "msg_type": "text",
            "content": serde_json::json!({"text": text}).to_string(),
        }))
        .send_value()
        .await
        .map(|_| ())
}

/// A worker: `SENDS` concurrent sends to the chat, all starting together.
fn worker() {
    let rt = worker_runtime();
    rt.block_on(async {
        let pacer = match var("SHARED").as_str() {
            "1" => shared_pacer(&var("REDIS_URL")).await,
            _ => Pacer::new(),
        };
        // Room for a loaded test machine (4 workers, the mock and Redis on 2 cores) to
        // delay one send more than the next; the default is 10 ms.
        let client = client(
            &var("MOCK_URL"),
            pacer.jitter_allowance(Duration::from_millis(30)),
        )
        .await;
        let sends: usize = var("SENDS").parse().unwrap();
        // The token first, so that the paced sends do not wait for it.
        client.tenant_access_token(None).await.unwrap();
        wait_for_start().await;
        let tasks: Vec<_> = (0..sends)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(
                    async move { send(&client, &format!("{} #{i}", std::process::id())).await },
                )
            })
            .collect();
        for t in tasks {
            t.await.unwrap().expect("every send succeeds");
        }
    });
}

/// The most requests to `MESSAGES` the mock received within any one second.
fn busiest_second(mock: &MockPlatform) -> (usize, Duration) {
    let mut at: Vec<Instant> = mock
        .requests_to(MESSAGES)
        .iter()
        .map(|r| r.received_at)
        .collect();
    at.sort();
    let most = (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| t.duration_since(at[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    let span = match (at.first(), at.last()) {
        (Some(a), Some(b)) => b.duration_since(*a),
        _ => Duration::ZERO,
    };
    (most, span)
}

fn run(test: &str, shared: bool) -> (usize, Duration) {
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(MockPlatform::start()).unwrap();
    run_workers(
        test,
        4,
        &[
            ("MOCK_URL", mock.base_url()),
            ("REDIS_URL", redis.url()),
            ("SHARED", if shared { "1" } else { "0" }.into()),
            ("SENDS", "5".into()),
        ],
    );
    assert_eq!(mock.requests_to(MESSAGES).len(), 20);
    busiest_second(&mock)
}

#[test]
fn four_processes_sharing_a_pacer_keep_together_under_the_per_chat_limit() {
    const TEST: &str = "four_processes_sharing_a_pacer_keep_together_under_the_per_chat_limit";
    if std::env::var_os(WORKER).is_some() {
        return worker();
    }
    let (most, span) = run(TEST, true);
    assert!(
        most <= 5,
        "{most} messages to the chat within one second at the mock"
    );
    // 20 messages at 5 per second: the last leaves at least 19 intervals after the first.
    assert!(span >= Duration::from_millis(3800), "{span:?}");
    assert!(span < Duration::from_secs(8), "{span:?}");
}

#[test]
fn four_processes_pacing_alone_exceed_the_per_chat_limit_together() {
    // The contrast that shows the shared test measures something: each process alone keeps
    // to 5 per second, all four together do not.
    const TEST: &str = "four_processes_pacing_alone_exceed_the_per_chat_limit_together";
    if std::env::var_os(WORKER).is_some() {
        return worker();
    }
    let (most, _) = run(TEST, false);
    assert!(most > 5, "only {most} within one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_a_send_fails_typed_before_anything_is_sent() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let pacer = shared_pacer(&redis.url())
        .await
        .max_wait(Duration::from_millis(500));
    let client = client(&mock.base_url(), pacer).await;
    // Slots 0, 210, 420 ms away fit the bound; 630 and 840 do not.
    let results = futures_join(&client, 5).await;
    let paced: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Err(lark_oapi_core::Error::Paced(e)) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    assert_eq!(paced.len(), 2, "{results:?}");
    assert_eq!(paced[0].key, format!("im:chat_id:{CHAT}"));
    assert!(paced[0].wait > Duration::from_millis(500), "{:?}", paced[0]);
    assert!(paced[0].to_string().contains("max_wait"), "{}", paced[0]);
    assert_eq!(
        mock.requests_to(MESSAGES).len(),
        3,
        "the refused sends sent nothing"
    );
}

/// `n` sends at once (reserving their slots in order).
async fn futures_join(client: &Client, n: usize) -> Vec<lark_oapi_core::Result<()>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            async move { send(&client, &format!("#{i}")).await }
        })
        .collect();
    let mut out = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in tasks.into_iter().enumerate() {
        set.spawn(async move { (i, t.await) });
        // Reserve in order: each send reaches the pacer before the next starts.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    while let Some(done) = set.join_next().await {
        out.push(done.unwrap());
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_a_process_still_paces_alone() {
    let redis = RedisServer::start();
    let pacer = shared_pacer(&redis.url()).await;
    drop(redis);
    let rate = Rate::per_second(10);
    let started = Instant::now();
    let call = || pacer.acquire("down", rate);
    let all = tokio::join!(call(), call(), call(), call(), call(), call());
    for r in [all.0, all.1, all.2, all.3, all.4, all.5] {
        r.expect("paced without Redis");
    }
    // Six at once: 5 intervals of 110 ms (100 + the jitter allowance) after the first, more
    // than the Redis timeout (300 ms) that each waited for in parallel.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(540), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}
