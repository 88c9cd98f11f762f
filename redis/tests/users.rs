//! Users' tokens shared through Redis, across real processes: one refresh of a user's
//! single-use refresh token however many processes need it, fenced writes that never undo
//! a logout or a login, a dead lease holder, and Redis going away.

use std::time::{Duration, SystemTime};

use lark_oapi_core::{CallOptions as _, Client, Config, Domain, Method, UserToken, UserTokens};
use lark_oapi_mock::{APP_ID, APP_SECRET, Fault, MockPlatform, RedisServer};
use lark_oapi_redis::{RedisStore, RedisUserTokenStore};

mod common;
use common::{WORKER, run_workers, var, wait_for_start, worker_runtime};

const REFRESH_PATH: &str = "/open-apis/authen/v1/oidc/refresh_access_token";
const USER_INFO_PATH: &str = "/open-apis/authen/v1/user_info";

fn client(mock_url: &str) -> Client {
    let config = Config::builder(APP_ID, APP_SECRET)
        .domain(Domain::custom(mock_url))
        .build()
        .unwrap();
    Client::new(config)
}

async fn store(redis_url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder(redis_url)
        .prefix(prefix)
        .op_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("Redis reachable")
}

async fn users(client: &Client, store: RedisStore) -> UserTokens {
    UserTokens::builder(client)
        .store(RedisUserTokenStore::new(store))
        .build()
}

/// Logs `open_id` in at the mock and stores the token under `key` with its access token
/// already expired (the refresh token still good), so that the next caller must refresh.
async fn logged_in_and_expired(mock: &MockPlatform, users: &UserTokens, key: &str) -> UserToken {
    let code = mock.issue_auth_code("ou_shared_user");
    let token = users.exchange_code(&code).await.expect("code exchange");
    let expired = UserToken::new(
        token.access_token().clone(),
        SystemTime::now() - Duration::from_secs(1),
    )
    .with_refresh_token(
        token.refresh_token().unwrap().clone(),
        token.refresh_expires_at().unwrap(),
    );
    users.insert(key, expired.clone()).await.unwrap();
    mock.expire_user_access_tokens();
    expired
}

/// Who the platform says the token belongs to.
async fn whoami(
    client: &Client,
    token: lark_oapi_core::SecretString,
) -> lark_oapi_core::Result<String> {
    let me = client
        .request(Method::GET, USER_INFO_PATH)
        .user_access_token(token)
        .send_value()
        .await?;
    Ok(me.data()["open_id"].as_str().unwrap_or_default().to_owned())
}

/// A worker: `CALLS` concurrent calls as user `KEY`, all starting together; exits non-zero
/// if any fails.
fn worker() {
    let rt = worker_runtime();
    rt.block_on(async {
        let client = client(&var("MOCK_URL"));
        let users = users(&client, store(&var("REDIS_URL"), &var("PREFIX")).await).await;
        let calls: usize = var("CALLS").parse().unwrap();
        wait_for_start().await;
        let tasks: Vec<_> = (0..calls)
            .map(|_| {
                let (client, users) = (client.clone(), users.clone());
                tokio::spawn(async move {
                    let token = users.access_token(&var("KEY")).await?;
                    whoami(&client, token).await
                })
            })
            .collect();
        for t in tasks {
            let who = t.await.unwrap().expect("every call as the user succeeds");
            assert_eq!(who, "ou_shared_user");
        }
    });
}

#[test]
fn four_processes_calling_as_one_user_whose_token_expired_make_one_refresh() {
    const TEST: &str = "four_processes_calling_as_one_user_whose_token_expired_make_one_refresh";
    if std::env::var_os(WORKER).is_some() {
        return worker();
    }
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(MockPlatform::start()).unwrap();
    let before = rt.block_on(async {
        let users = users(
            &client(&mock.base_url()),
            store(&redis.url(), "users").await,
        )
        .await;
        logged_in_and_expired(&mock, &users, "alice").await
    });
    run_workers(
        TEST,
        4,
        &[
            ("MOCK_URL", mock.base_url()),
            ("REDIS_URL", redis.url()),
            ("PREFIX", "users".into()),
            ("KEY", "alice".into()),
            ("CALLS", "25".into()),
        ],
    );
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "one refresh among 4 processes"
    );
    assert_eq!(mock.requests_to(USER_INFO_PATH).len(), 100);
    // The rotated token is what every process now reads.
    let after = rt.block_on(async {
        let users = users(
            &client(&mock.base_url()),
            store(&redis.url(), "users").await,
        )
        .await;
        users.get("alice").await.unwrap().expect("stored")
    });
    assert_ne!(after.refresh_token(), before.refresh_token());
    assert!(after.expires_at() > SystemTime::now() + Duration::from_secs(3600));
}

/// Two `UserTokens` on one Redis store stand for two processes (each has its own
/// in-process locks): only Redis keeps them apart.
async fn two_processes(
    mock: &MockPlatform,
    redis: &RedisServer,
    prefix: &str,
) -> (UserTokens, UserTokens) {
    let client = client(&mock.base_url());
    (
        users(&client, store(&redis.url(), prefix).await).await,
        users(&client, store(&redis.url(), prefix).await).await,
    )
}

/// Starts a refresh of `key` in `users` whose request the mock holds for 400 ms, and
/// returns once it is on the wire.
async fn refresh_on_the_wire(
    mock: &MockPlatform,
    users: &UserTokens,
    key: &'static str,
) -> tokio::task::JoinHandle<lark_oapi_core::Result<lark_oapi_core::SecretString>> {
    mock.push_fault(REFRESH_PATH, Fault::Delay(Duration::from_millis(400)));
    let users = users.clone();
    let task = tokio::spawn(async move { users.access_token(key).await });
    for _ in 0..400 {
        if !mock.requests_to(REFRESH_PATH).is_empty() {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no refresh reached the platform");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_in_one_process_during_a_refresh_in_another_sticks() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let (a, b) = two_processes(&mock, &redis, "logout").await;
    logged_in_and_expired(&mock, &a, "bob").await;
    let refreshing = refresh_on_the_wire(&mock, &a, "bob").await;
    b.remove("bob").await.unwrap(); // does not wait: another process
    let err = refreshing.await.unwrap().unwrap_err();
    assert!(err.requires_user_authorization(), "{err:?}");
    assert!(
        a.get("bob").await.unwrap().is_none(),
        "the refresh did not bring the user back"
    );
    assert!(b.get("bob").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_in_one_process_during_a_refresh_in_another_is_kept() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let (a, b) = two_processes(&mock, &redis, "login").await;
    logged_in_and_expired(&mock, &a, "carol").await;
    let refreshing = refresh_on_the_wire(&mock, &a, "carol").await;
    let code = mock.issue_auth_code("ou_shared_user");
    let new_login = b.exchange_code(&code).await.unwrap();
    b.insert("carol", new_login.clone()).await.unwrap();
    // The refresh succeeded on the wire but lost to the login: the caller gets the login's
    // token, and the store keeps it.
    let got = refreshing.await.unwrap().unwrap();
    assert_eq!(&got, new_login.access_token());
    assert_eq!(a.get("carol").await.unwrap(), Some(new_login.clone()));
    assert_eq!(
        b.access_token("carol").await.unwrap(),
        *new_login.access_token()
    );
    assert_eq!(mock.user_token_refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_waiting_for_another_s_refresh_takes_its_token() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let (a, b) = two_processes(&mock, &redis, "waiter").await;
    logged_in_and_expired(&mock, &a, "dave").await;
    let refreshing = refresh_on_the_wire(&mock, &a, "dave").await;
    // B needs the token while A's refresh is on the wire: it waits for A's lease.
    let theirs = b.access_token("dave").await.unwrap();
    let ours = refreshing.await.unwrap().unwrap();
    assert_eq!(theirs, ours);
    assert_eq!(mock.user_token_refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_refresher_s_lease_delays_the_others_only_until_it_lapses() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let (users, _) = two_processes(&mock, &redis, "dead").await;
    logged_in_and_expired(&mock, &users, "erin").await;
    // A process took the lease and died: the lease stays for its remaining 1.5 s.
    let conn = redis::Client::open(redis.url()).unwrap();
    let mut conn = conn.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("dead:user_lease:erin")
        .arg("999")
        .arg("PX")
        .arg(1500)
        .query_async(&mut conn)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let token = users.access_token("erin").await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1300),
        "the lease was honoured: {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    assert_eq!(
        whoami(&client(&mock.base_url()), token).await.unwrap(),
        "ou_shared_user"
    );
    assert_eq!(mock.user_token_refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_user_calls_keep_working_and_the_refreshed_token_is_saved_when_it_is_back()
{
    let redis = RedisServer::start();
    let port = redis.port();
    let mock = MockPlatform::start().await.unwrap();
    let client = client(&mock.base_url());
    let users = users(&client, store(&redis.url(), "down").await).await;
    let code = mock.issue_auth_code("ou_shared_user");
    let token = users.exchange_code(&code).await.unwrap();
    users.insert("fay", token.clone()).await.unwrap();
    drop(redis);
    // Down: the token this process saved is used.
    let started = std::time::Instant::now();
    let got = users
        .access_token("fay")
        .await
        .expect("works without Redis");
    assert_eq!(&got, token.access_token());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Down and expiring: the refresh happens here, unfenced, and is kept in memory.
    let fresh = users.refresh("fay").await.expect("refreshes without Redis");
    assert_ne!(fresh.access_token(), token.access_token());
    assert_eq!(
        whoami(&client, fresh.access_token().clone()).await.unwrap(),
        "ou_shared_user"
    );
    // Back (empty): the next call saves the kept token, which another process then reads.
    let _redis = RedisServer::start_on(port);
    let mut saved = None;
    for _ in 0..50 {
        users.access_token("fay").await.unwrap();
        let other = self::users(&client, store(&_redis.url(), "down").await).await;
        saved = other.get("fay").await.unwrap();
        if saved.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        saved,
        Some(fresh),
        "the refreshed token reached Redis once it was back"
    );
    assert_eq!(mock.user_token_refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_in_one_process_does_not_delete_a_login_made_in_another() {
    let redis = RedisServer::start();
    let mock = MockPlatform::start().await.unwrap();
    let (a, b) = two_processes(&mock, &redis, "dead").await;
    logged_in_and_expired(&mock, &a, "gus").await;
    mock.revoke_user_tokens();
    let refreshing = refresh_on_the_wire(&mock, &a, "gus").await;
    // The user logs in again at B while A's doomed refresh is on the wire.
    let code = mock.issue_auth_code("ou_shared_user");
    let new_login = b.exchange_code(&code).await.unwrap();
    b.insert("gus", new_login.clone()).await.unwrap();
    let err = refreshing.await.unwrap().unwrap_err();
    assert!(err.requires_user_authorization(), "{err:?}");
    assert_eq!(
        b.get("gus").await.unwrap(),
        Some(new_login),
        "A's refused refresh token did not take the new login with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fences_keep_growing_after_redis_lost_its_counter() {
    use lark_oapi_core::UserTokenStore as _;
    let redis = RedisServer::start();
    let port = redis.port();
    let users = RedisUserTokenStore::new(store(&redis.url(), "fences").await);
    let first = users
        .lease("hal", Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    drop(redis);
    // Back empty (no persistence): the counter is gone.
    let _redis = RedisServer::start_on(port);
    let mut second = None;
    for _ in 0..50 {
        if let Ok(Some(f)) = users.lease("hal", Duration::from_millis(50)).await {
            second = Some(f);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = second.expect("a lease once Redis is back");
    assert!(second > first, "{second} after {first}");
}
