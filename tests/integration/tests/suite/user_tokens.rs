//! User access tokens: code exchange, one refresh for many callers, single-use refresh
//! tokens, refusals that ask the user to log in again, and stores that lag or fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::common::*;
use lark_oapi::codes;
use lark_oapi::{
    AuthErrorKind, BoxFuture, CacheError, Client, Error, MemoryUserTokenStore, UserToken,
    UserTokenStore, UserTokens,
};
use lark_oapi_mock::{Fault, MockPlatform};

const EXCHANGE_PATH: &str = "/open-apis/authen/v1/oidc/access_token";
const REFRESH_PATH: &str = "/open-apis/authen/v1/oidc/refresh_access_token";

/// Starts `access_token(key)` in a task and returns once its refresh request has reached the
/// platform, where a 300 ms delay holds it: the caller can then race it.
async fn refresh_held_on_the_wire(
    mock: &MockPlatform,
    users: &UserTokens,
    key: &'static str,
) -> tokio::task::JoinHandle<Result<lark_oapi::SecretString, Error>> {
    mock.push_fault(REFRESH_PATH, Fault::Delay(Duration::from_millis(300)));
    let users = users.clone();
    let task = tokio::spawn(async move { users.access_token(key).await });
    for _ in 0..500 {
        if !mock.requests_to(REFRESH_PATH).is_empty() {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no refresh request reached the platform");
}

async fn logged_in(mock: &MockPlatform, users: &UserTokens, open_id: &str) -> UserToken {
    let code = mock.issue_auth_code(open_id);
    users.exchange_code(&code).await.expect("code exchange")
}

#[tokio::test]
async fn a_login_code_gives_a_working_token_and_is_single_use() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let code = mock.issue_auth_code("ou_alice");
    let before = SystemTime::now();
    let token = users.exchange_code(&code).await.unwrap();

    let lifetime = token.expires_at().duration_since(before).unwrap();
    assert!((7190..=7201).contains(&lifetime.as_secs()), "{lifetime:?}");
    assert!(token.refresh_token().is_some());
    assert!(token.scope().unwrap().contains("offline_access"));
    assert_eq!(whoami(&client, &token).await.unwrap(), "ou_alice");

    // The exchange was made with the app's app_access_token and the documented body.
    let sent = &mock.requests_to(EXCHANGE_PATH)[0];
    assert!(
        bearer(sent).unwrap().starts_with("a-"),
        "{:?}",
        bearer(sent)
    );
    let body = sent.json().unwrap();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], code.as_str());

    // A code works once; the refusal keeps the platform's details and says what to do.
    let err = users.exchange_code(&code).await.unwrap_err();
    assert_eq!(err.code(), Some(codes::AUTH_CODE_INVALID));
    assert_eq!(err.http_status(), Some(400));
    assert!(err.log_id().is_some());
    assert!(err.requires_user_authorization());
    assert!(
        err.to_string().contains("authorization code invalid"),
        "{err}"
    );

    let err = users.exchange_code("  ").await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn a_stored_fresh_token_is_handed_out_without_any_request() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_bob").await;
    users.insert("bob", token.clone()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            users.access_token("bob").await.unwrap(),
            *token.access_token()
        );
    }
    assert_eq!(mock.user_token_refreshes(), 0);

    let err = users.access_token("carol").await.unwrap_err();
    assert!(err.requires_user_authorization(), "{err:?}");
    assert!(matches!(&err, Error::Auth(e) if e.kind == AuthErrorKind::UserAuthorizationRequired));
    let text = err.to_string();
    assert!(
        text.contains("\"carol\"") && text.contains("exchange_code"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_callers_of_an_expired_token_share_one_refresh() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let first = logged_in(&mock, &users, "ou_dave").await;
    users.insert("dave", expired_copy(&first)).await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let users = users.clone();
        tasks.push(tokio::spawn(
            async move { users.access_token("dave").await },
        ));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().expect("refreshed token"));
    }
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "one refresh for fifty callers"
    );
    assert!(
        got.iter().all(|t| *t == got[0]),
        "everyone got the same token"
    );
    assert_ne!(got[0], *first.access_token());

    // The refresh sent the old refresh token; the store now holds the rotated pair.
    let sent = mock.requests_to(REFRESH_PATH)[0].json().unwrap();
    assert_eq!(sent["grant_type"], "refresh_token");
    assert_eq!(
        sent["refresh_token"],
        first.refresh_token().unwrap().expose()
    );
    let stored = users.get("dave").await.unwrap().unwrap();
    assert_eq!(*stored.access_token(), got[0]);
    assert_ne!(stored.refresh_token(), first.refresh_token());
    assert_eq!(whoami(&client, &stored).await.unwrap(), "ou_dave");

    // The old refresh token is spent: using it again is refused with 20073, and a manager
    // holding only that token forgets it and asks for a new login.
    let elsewhere = UserTokens::new(&client);
    elsewhere
        .insert("dave", expired_copy(&first))
        .await
        .unwrap();
    let err = elsewhere.access_token("dave").await.unwrap_err();
    assert_eq!(err.code(), Some(codes::REFRESH_TOKEN_USED));
    assert!(err.requires_user_authorization());
    assert!(elsewhere.get("dave").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_rejected_by_the_platform_is_refreshed_once_by_many_callers() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    mock.set_user_token_expire(0, 3600); // issued already expired on the platform's side
    let token = logged_in(&mock, &users, "ou_erin").await;
    users.insert("erin", token.clone()).await.unwrap();
    let err = whoami(&client, &token).await.unwrap_err();
    assert_eq!(err.code(), Some(codes::USER_TOKEN_EXPIRED));

    mock.set_user_token_expire(7200, 3600);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let users = users.clone();
        let rejected = token.access_token().clone();
        tasks.push(tokio::spawn(async move {
            // Callers arrive over time, some after the refresh is done.
            tokio::time::sleep(Duration::from_millis(i * 2)).await;
            users.refresh_rejected("erin", &rejected).await
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().expect("a replacement token"));
    }
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "one refresh for twenty rejections"
    );
    assert!(got.iter().all(|t| *t == got[0]));
    assert_ne!(got[0], *token.access_token());
    let fresh = users.get("erin").await.unwrap().unwrap();
    assert_eq!(*fresh.access_token(), got[0]);
    assert_eq!(whoami(&client, &fresh).await.unwrap(), "ou_erin");

    // `refresh` refreshes whatever is current, and concurrent calls share it (the refresh
    // is held for 300 ms so that the second call surely starts while the first runs, even
    // on a loaded machine).
    mock.push_fault(REFRESH_PATH, Fault::Delay(Duration::from_millis(300)));
    let (a, b) = tokio::join!(users.refresh("erin"), users.refresh("erin"));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_ne!(*a.access_token(), got[0]);
    assert_eq!(mock.user_token_refreshes(), 2);
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_for_a_new_login_and_forgets_the_user() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_frank").await;
    users.insert("frank", expired_copy(&token)).await.unwrap();
    mock.revoke_user_tokens();

    let err = users.access_token("frank").await.unwrap_err();
    assert_eq!(err.code(), Some(codes::REFRESH_TOKEN_REVOKED));
    assert_eq!(err.http_status(), Some(400));
    assert!(err.log_id().is_some());
    assert!(err.requires_user_authorization());
    assert!(users.get("frank").await.unwrap().is_none());

    let err = users.access_token("frank").await.unwrap_err();
    assert!(matches!(&err, Error::Auth(e) if e.kind == AuthErrorKind::UserAuthorizationRequired));
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "no second attempt with a dead token"
    );
}

#[tokio::test]
async fn an_expired_refresh_token_fails_without_a_request() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let past = SystemTime::now() - Duration::from_secs(1);
    users
        .insert(
            "gina",
            UserToken::new("u-mock-old", past).with_refresh_token("ur-mock-old", past),
        )
        .await
        .unwrap();
    let err = users.access_token("gina").await.unwrap_err();
    assert!(err.requires_user_authorization(), "{err:?}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(mock.user_token_refreshes(), 0);
    assert!(mock.requests_to(REFRESH_PATH).is_empty());
}

fn refresh_server_error() -> Fault {
    Fault::Api {
        http_status: 200,
        code: codes::REFRESH_SERVER_ERROR,
        msg: "server error".into(),
        error: None,
    }
}

#[tokio::test]
async fn a_transient_refresh_failure_is_tried_once_more_then_keeps_a_still_valid_token() {
    let (mock, client) = setup().await;
    // Refresh when less than three hours are left: a two-hour token is due at once.
    let users = UserTokens::builder(&client)
        .refresh_margin(Duration::from_secs(3 * 3600))
        .build();
    let token = logged_in(&mock, &users, "ou_hank").await;
    users.insert("hank", token.clone()).await.unwrap();

    // One 20050 is retried (the refresh token is not spent by it) and the refresh succeeds.
    mock.push_fault(REFRESH_PATH, refresh_server_error());
    let got = users.access_token("hank").await.unwrap();
    assert_ne!(got, *token.access_token(), "refreshed on the second try");
    assert_eq!(mock.requests_to(REFRESH_PATH).len(), 2);
    let token = users.get("hank").await.unwrap().unwrap();

    // Two in a row: the refresh gives up and the current token, still valid, is used.
    mock.push_fault(REFRESH_PATH, refresh_server_error());
    mock.push_fault(REFRESH_PATH, refresh_server_error());
    let got = users.access_token("hank").await.unwrap();
    assert_eq!(got, *token.access_token(), "the current token, still valid");
    assert_eq!(
        mock.requests_to(REFRESH_PATH).len(),
        4,
        "tried twice, not more"
    );
    assert_eq!(users.get("hank").await.unwrap().unwrap(), token, "kept");

    // Next time the refresh goes through.
    let got = users.access_token("hank").await.unwrap();
    assert_ne!(got, *token.access_token());
    assert_eq!(mock.requests_to(REFRESH_PATH).len(), 5);

    // With an expired token the same failure is an error, retryable, and the token is kept.
    let expired = expired_copy(&users.get("hank").await.unwrap().unwrap());
    users.insert("hank", expired.clone()).await.unwrap();
    mock.push_fault(REFRESH_PATH, refresh_server_error());
    mock.push_fault(REFRESH_PATH, refresh_server_error());
    let err = users.access_token("hank").await.unwrap_err();
    assert_eq!(err.code(), Some(codes::REFRESH_SERVER_ERROR));
    assert!(err.is_retryable() && !err.requires_user_authorization());
    assert_eq!(users.get("hank").await.unwrap().unwrap(), expired);
    assert!(users.access_token("hank").await.is_ok());
}

/// A store over a memory store the test also holds. Saves fail while `failing` is set.
/// With `stale` set, loads return that old token until the platform has seen two refreshes:
/// a replica that has not yet seen another process's write.
#[derive(Debug, Default)]
struct TestStore {
    inner: Arc<MemoryUserTokenStore>,
    failing: Arc<AtomicBool>,
    stale: Option<(UserToken, Arc<MockPlatform>)>,
}

impl UserTokenStore for TestStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<UserToken>, CacheError>> {
        if let Some((old, mock)) = &self.stale
            && mock.user_token_refreshes() < 2
        {
            let old = old.clone();
            return Box::pin(async move { Ok(Some(old)) });
        }
        self.inner.load(key)
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a UserToken,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(async { Err("database is down".into()) });
        }
        self.inner.save(key, token)
    }
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.remove(key)
    }
}

#[tokio::test]
async fn a_refresh_lost_to_another_process_takes_that_process_s_token() {
    let mock = Arc::new(MockPlatform::start().await.unwrap());
    let client = Client::new(builder(&mock).build().unwrap());
    let shared = Arc::new(MemoryUserTokenStore::new());
    let first = UserTokens::builder(&client)
        .store(TestStore {
            inner: shared.clone(),
            ..TestStore::default()
        })
        .build();
    let token = logged_in(&mock, &first, "ou_ivy").await;
    let old = expired_copy(&token);
    first.insert("ivy", old.clone()).await.unwrap();

    // Process one refreshes and saves the rotated token.
    let winner = first.access_token("ivy").await.unwrap();
    assert_eq!(mock.user_token_refreshes(), 1);

    // Process two still reads the old token, refreshes with the spent refresh token, is
    // refused with 20073, reads the store again and takes process one's token.
    let second = UserTokens::builder(&client)
        .store(TestStore {
            inner: shared.clone(),
            stale: Some((old, mock.clone())),
            ..TestStore::default()
        })
        .build();
    let got = second.access_token("ivy").await.unwrap();
    assert_eq!(
        mock.user_token_refreshes(),
        2,
        "the losing refresh was made"
    );
    assert_eq!(got, winner);
    assert!(
        shared.load("ivy").await.unwrap().is_some(),
        "the winner's token was not removed"
    );
}

#[tokio::test]
async fn a_failed_save_keeps_the_rotated_token_and_saves_it_later() {
    let (mock, client) = setup().await;
    let inner = Arc::new(MemoryUserTokenStore::new());
    let failing = Arc::new(AtomicBool::new(false));
    let users = UserTokens::builder(&client)
        .store(TestStore {
            inner: inner.clone(),
            failing: failing.clone(),
            stale: None,
        })
        .build();
    let token = logged_in(&mock, &users, "ou_jack").await;
    users.insert("jack", expired_copy(&token)).await.unwrap();

    failing.store(true, Ordering::SeqCst);
    let fresh = users.access_token("jack").await.unwrap();
    assert_ne!(fresh, *token.access_token());
    // The store still has the old pair, whose refresh token is now spent; the manager kept
    // the new one and keeps handing it out.
    let in_store = inner.load("jack").await.unwrap().unwrap();
    assert_eq!(in_store.access_token(), token.access_token());
    assert_eq!(users.access_token("jack").await.unwrap(), fresh);
    assert_eq!(mock.user_token_refreshes(), 1);

    // Once the store works again, the next call saves it.
    failing.store(false, Ordering::SeqCst);
    assert_eq!(users.access_token("jack").await.unwrap(), fresh);
    let in_store = inner.load("jack").await.unwrap().unwrap();
    assert_eq!(*in_store.access_token(), fresh);
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "no refresh was needed for that"
    );
}

#[tokio::test]
async fn user_tokens_keep_their_secrets_out_of_debug() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_kim").await;
    users.insert("kim", token.clone()).await.unwrap();
    let shown = format!("{token:?} {users:?} {:?}", users.get("kim").await.unwrap());
    assert!(!shown.contains(token.access_token().expose()), "{shown}");
    assert!(
        !shown.contains(token.refresh_token().unwrap().expose()),
        "{shown}"
    );
    assert!(shown.contains("UserToken"), "{shown}");
}

#[tokio::test]
async fn a_caller_cancelled_mid_refresh_loses_nothing() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_lena").await;
    users.insert("lena", expired_copy(&token)).await.unwrap();
    // The caller gives up while the refresh is on the wire; the refresh token is spent
    // either way, so the new token must still be saved.
    let caller = refresh_held_on_the_wire(&mock, &users, "lena").await;
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());

    let mut saved = None;
    for _ in 0..100 {
        let now = users.get("lena").await.unwrap().unwrap();
        if now.access_token() != token.access_token() {
            saved = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let saved = saved.expect("the refreshed token was saved after the caller left");
    assert_eq!(
        users.access_token("lena").await.unwrap(),
        *saved.access_token()
    );
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "no second refresh, no 20073"
    );
    assert_eq!(whoami(&client, &saved).await.unwrap(), "ou_lena");
}

#[tokio::test]
async fn a_logout_during_a_refresh_sticks() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_max").await;
    users.insert("max", expired_copy(&token)).await.unwrap();
    let refreshing = refresh_held_on_the_wire(&mock, &users, "max").await;
    users.remove("max").await.unwrap(); // waits for the refresh, then removes
    assert!(refreshing.await.unwrap().is_ok());
    assert!(
        users.get("max").await.unwrap().is_none(),
        "the refresh did not bring the tokens back"
    );
    let err = users.access_token("max").await.unwrap_err();
    assert!(err.requires_user_authorization(), "{err:?}");
}

#[tokio::test]
async fn a_new_login_during_a_failing_refresh_is_kept() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let old = logged_in(&mock, &users, "ou_nina").await;
    users.insert("nina", expired_copy(&old)).await.unwrap();
    mock.revoke_user_tokens();
    let refreshing = refresh_held_on_the_wire(&mock, &users, "nina").await;
    // The user logs in again while the doomed refresh is on the wire.
    let new_login = logged_in(&mock, &users, "ou_nina").await;
    users.insert("nina", new_login.clone()).await.unwrap();
    let err = refreshing.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(codes::REFRESH_TOKEN_REVOKED));
    assert_eq!(
        users.get("nina").await.unwrap(),
        Some(new_login.clone()),
        "the failed refresh did not delete the new login"
    );
    assert_eq!(
        users.access_token("nina").await.unwrap(),
        *new_login.access_token()
    );
}

/// `authen.v1.user_info` called with `on_behalf_of`: the open_id the platform saw.
async fn whoami_as(client: &Client, users: &UserTokens, key: &str) -> Result<String, Error> {
    let me = client
        .authen()
        .v1()
        .user_info()
        .get()
        .on_behalf_of(users, key)
        .send()
        .await?;
    Ok(me.into_data().open_id.unwrap_or_default())
}

const USER_INFO_PATH: &str = "/open-apis/authen/v1/user_info";

#[tokio::test]
async fn as_user_sends_the_stored_token_on_a_user_only_api() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_olga").await;
    users.insert("olga", token.clone()).await.unwrap();
    // user_info accepts only user tokens: no "user token required" error, no tenant token.
    assert_eq!(whoami_as(&client, &users, "olga").await.unwrap(), "ou_olga");
    let sent = &mock.requests_to(USER_INFO_PATH)[0];
    assert_eq!(bearer(sent).as_deref(), Some(token.access_token().expose()));
    assert_eq!(mock.user_token_refreshes(), 0);

    // An explicit token still wins over `on_behalf_of`.
    let err = client
        .authen()
        .v1()
        .user_info()
        .get()
        .on_behalf_of(&users, "olga")
        .user_access_token("u-invalid")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(codes::USER_TOKEN_INVALID));

    // A key with no token: the error says to authorize the user, and nothing is sent.
    mock.clear_requests();
    let err = whoami_as(&client, &users, "nobody").await.unwrap_err();
    assert!(err.requires_user_authorization(), "{err:?}");
    assert!(mock.requests_to(USER_INFO_PATH).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_user_token_is_refreshed_once_and_every_call_replayed_once() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_pia").await;
    users.insert("pia", token.clone()).await.unwrap();
    mock.expire_user_access_tokens(); // the platform says expired; the client thinks valid

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, users) = (client.clone(), users.clone());
        tasks.push(tokio::spawn(async move {
            whoami_as(&client, &users, "pia").await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "ou_pia");
    }
    assert_eq!(
        mock.user_token_refreshes(),
        1,
        "one refresh for ten rejections"
    );
    // Calls that started before the refresh was done were rejected once and replayed once
    // (at least the first call; how many more depends on scheduling); later ones went out
    // with the new token directly. Every call got through with the new token.
    let calls = mock.requests_to(USER_INFO_PATH);
    let fresh = users.get("pia").await.unwrap().unwrap();
    let (old, new) = (token.access_token().expose(), fresh.access_token().expose());
    let with = |t: &str| {
        calls
            .iter()
            .filter(|r| bearer(r).as_deref() == Some(t))
            .count()
    };
    let rejected = with(old);
    assert!((1..=10).contains(&rejected), "{rejected} rejected attempts");
    assert_eq!(with(new), 10, "one successful attempt per call");
    assert_eq!(calls.len(), 10 + rejected, "no call replayed twice");
}

#[tokio::test]
async fn a_rejected_user_token_that_cannot_refresh_asks_for_a_new_login() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let token = logged_in(&mock, &users, "ou_quinn").await;
    users.insert("quinn", token).await.unwrap();
    mock.revoke_user_tokens();
    let err = whoami_as(&client, &users, "quinn").await.unwrap_err();
    assert_eq!(err.code(), Some(codes::REFRESH_TOKEN_REVOKED), "{err}");
    assert!(err.requires_user_authorization());
    assert_eq!(mock.requests_to(USER_INFO_PATH).len(), 1, "no replay");

    // A token that keeps being rejected after a successful refresh is replayed only once.
    let token = logged_in(&mock, &users, "ou_quinn").await;
    users.insert("quinn", token).await.unwrap();
    mock.clear_requests();
    mock.push_fault(
        USER_INFO_PATH,
        Fault::Api {
            http_status: 400,
            code: codes::USER_TOKEN_EXPIRED,
            msg: "expired".into(),
            error: None,
        },
    );
    mock.push_fault(
        USER_INFO_PATH,
        Fault::Api {
            http_status: 400,
            code: codes::USER_TOKEN_EXPIRED,
            msg: "expired".into(),
            error: None,
        },
    );
    let err = whoami_as(&client, &users, "quinn").await.unwrap_err();
    assert_eq!(err.code(), Some(codes::USER_TOKEN_EXPIRED));
    assert_eq!(mock.requests_to(USER_INFO_PATH).len(), 2);
}
