//! The device flow (RFC 8628) against the mock: the start request, polling by the rules
//! (pending goes on, slow_down adds 5 s, denied and expired end it, the code's own expiry),
//! timings read from the mock's record, and cancellation.

use std::time::{Duration, Instant};

use crate::common::*;
use lark_oapi::{AuthErrorKind, Client, Config, Domain, Error, UserTokenFlow, UserTokens};
use lark_oapi_mock::{APP_ID, APP_SECRET, DeviceFlowScript, DevicePoll, MockPlatform};

const DEVICE_PATH: &str = "/oauth/v1/device_authorization";
const TOKEN_PATH: &str = "/open-apis/authen/v2/oauth/token";

fn script(mock: &MockPlatform, expires_in: u64, polls: &[DevicePoll]) {
    mock.script_device_flow(DeviceFlowScript {
        expires_in,
        interval: 1,
        polls: polls.to_vec(),
    });
}

/// When each poll reached the mock.
fn polls(mock: &MockPlatform) -> Vec<Instant> {
    mock.requests_to(TOKEN_PATH)
        .iter()
        .map(|r| r.received_at)
        .collect()
}

#[tokio::test]
async fn a_device_login_polls_to_the_token_and_honours_slow_down() {
    let (mock, client) = setup().await;
    script(&mock, 60, &[DevicePoll::Pending, DevicePoll::SlowDown]);
    let users = UserTokens::new(&client);
    let device = users
        .device_authorization()
        .scope("contact:user.base:readonly")
        .start()
        .await
        .unwrap();
    assert!(device.user_code().starts_with("MOCK-"));
    assert_eq!(device.verification_uri(), "https://accounts.mock/device");
    assert!(
        device
            .verification_uri_complete()
            .unwrap()
            .contains(device.user_code())
    );
    assert_eq!(device.interval(), Duration::from_secs(1));
    assert!(
        !format!("{device:?}").contains("dev-"),
        "the device code stays out of Debug"
    );

    // The start: HTTP Basic with the app's credentials, a form with offline_access added.
    let start = &mock.requests_to(DEVICE_PATH)[0];
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{APP_ID}:{APP_SECRET}")
        )
    );
    assert_eq!(start.header("authorization"), Some(basic.as_str()));
    assert_eq!(
        start.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = String::from_utf8(start.body.to_vec()).unwrap();
    assert_eq!(
        form,
        format!("client_id={APP_ID}&scope=contact%3Auser.base%3Areadonly+offline_access")
    );

    let started = Instant::now();
    let token = device.poll().await.unwrap();
    assert_eq!(token.flow(), UserTokenFlow::OAuth2);
    assert!(token.refresh_token().is_some());
    let at = polls(&mock);
    assert_eq!(at.len(), 3, "pending, slow_down, then the token");
    assert!(at[0] - started.min(at[0]) <= Duration::from_millis(1500));
    let (first_gap, second_gap) = (at[1] - at[0], at[2] - at[1]);
    assert!(
        first_gap >= Duration::from_millis(950) && first_gap < Duration::from_millis(1900),
        "{first_gap:?}"
    );
    // slow_down: the interval grew by 5 s.
    assert!(
        second_gap >= Duration::from_millis(5950) && second_gap < Duration::from_millis(7500),
        "{second_gap:?}"
    );
    let body = mock.requests_to(TOKEN_PATH)[2].json().unwrap();
    assert_eq!(
        body["grant_type"],
        "urn:ietf:params:oauth:grant-type:device_code"
    );
    assert_eq!(body["client_secret"], APP_SECRET);
}

#[tokio::test]
async fn a_denied_or_expired_device_code_ends_the_polling() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);

    script(&mock, 60, &[DevicePoll::Pending, DevicePoll::Denied]);
    let device = users.device_authorization().start().await.unwrap();
    let err = device.poll().await.unwrap_err();
    assert!(
        matches!(&err, Error::OAuth(e) if e.error == "access_denied"),
        "{err:?}"
    );
    assert!(err.requires_user_authorization());
    assert_eq!(polls(&mock).len(), 2);

    mock.clear_requests();
    script(&mock, 60, &[DevicePoll::Expired]);
    let device = users.device_authorization().start().await.unwrap();
    let err = device.poll().await.unwrap_err();
    assert!(
        matches!(&err, Error::OAuth(e) if e.error == "expired_token"),
        "{err:?}"
    );
    assert_eq!(polls(&mock).len(), 1);

    // The code's own lifetime: no poll is made past it.
    mock.clear_requests();
    script(&mock, 2, &[DevicePoll::Pending; 5]);
    let device = users.device_authorization().start().await.unwrap();
    let err = device.poll().await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.kind == AuthErrorKind::DeviceCodeExpired),
        "{err:?}"
    );
    assert!(err.requires_user_authorization());
    assert_eq!(polls(&mock).len(), 1);
}

#[tokio::test]
async fn dropping_the_poll_stops_polling() {
    let (mock, client) = setup().await;
    script(&mock, 60, &[DevicePoll::Pending; 20]);
    let users = UserTokens::new(&client);
    let device = users.device_authorization().start().await.unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(1500), device.poll()).await;
    assert!(cut.is_err(), "still pending when dropped");
    let seen = polls(&mock).len();
    assert!(seen <= 1, "{seen}");
    // At a 1 s interval, 2.5 s would bring two more polls if it went on.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        polls(&mock).len(),
        seen,
        "nothing polls after the future is gone"
    );
}

#[tokio::test]
async fn bad_scopes_and_wrong_credentials_are_refused() {
    let (mock, client) = setup().await;
    let users = UserTokens::new(&client);
    let err = users
        .device_authorization()
        .scope("a b")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(mock.requests().is_empty());

    let wrong = Client::new(
        Config::builder(APP_ID, "not-the-secret")
            .domain(Domain::custom(mock.base_url()))
            .build()
            .unwrap(),
    );
    let err = UserTokens::new(&wrong)
        .device_authorization()
        .start()
        .await
        .unwrap_err();
    match &err {
        Error::OAuth(e) => {
            assert_eq!((e.error.as_str(), e.http_status), ("invalid_client", 401));
            let basic = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{APP_ID}:not-the-secret"),
            );
            let text = format!("{err} {err:?}");
            assert!(
                !text.contains("not-the-secret") && !text.contains(&basic),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}
