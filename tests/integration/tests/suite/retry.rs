//! Retries: rate limits, transient failures, bounds, the budget, and turning them off.

use std::time::Duration;

use crate::common::*;
use lark_oapi::{Error, Method, RetryPolicy};
use lark_oapi_mock::Fault;

#[tokio::test]
async fn rate_limited_calls_back_off_then_succeed() {
    let (mock, client) = setup().await;
    mock.push_fault(
        "/open-apis/echo/v1/rl",
        Fault::RateLimited { reset_secs: 0 },
    );
    mock.push_fault(
        "/open-apis/echo/v1/rl",
        Fault::RateLimited { reset_secs: 0 },
    );
    // POST too: a rate-limited call was not processed, so replaying it is safe.
    let resp = client
        .request(Method::POST, "/open-apis/echo/v1/rl")
        .json(&serde_json::json!({"n": 1}))
        .send_value()
        .await
        .unwrap();
    assert_eq!(resp.data()["body"]["n"], 1);
    let calls = mock.requests_to("/open-apis/echo/v1/rl");
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.json().unwrap()["n"] == 1),
        "same body each time"
    );
}

#[tokio::test]
async fn the_rate_limit_reset_header_is_honoured() {
    let (mock, client) = setup().await;
    mock.push_fault(
        "/open-apis/echo/v1/rl",
        Fault::RateLimited { reset_secs: 1 },
    );
    client
        .request(Method::GET, "/open-apis/echo/v1/rl")
        .send_value()
        .await
        .unwrap();
    let calls = mock.requests_to("/open-apis/echo/v1/rl");
    assert_eq!(calls.len(), 2);
    let waited = calls[1].received_at - calls[0].received_at;
    assert!(
        waited >= Duration::from_millis(1000),
        "retried after {waited:?}, before the window reset"
    );
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_policy_accepts_fails_at_once() {
    let (mock, client) =
        setup_with(|b| b.retry_policy(fast_retries().max_rate_limit_wait(Duration::from_secs(2))))
            .await;
    mock.push_fault(
        "/open-apis/echo/v1/rl",
        Fault::RateLimited { reset_secs: 60 },
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/rl")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(99991400));
    assert_eq!(err.http_status(), Some(429));
    assert!(err.is_retryable());
    assert_eq!(mock.requests_to("/open-apis/echo/v1/rl").len(), 1);
}

#[tokio::test]
async fn retries_are_bounded() {
    let (mock, client) = setup_with(|b| b.retry_policy(fast_retries().max_retries(2))).await;
    for _ in 0..10 {
        mock.push_fault("/open-apis/echo/v1/down", Fault::ServerError(503));
    }
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/down")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(503));
    assert!(err.is_retryable());
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/down").len(),
        3,
        "1 attempt + 2 retries"
    );
}

#[tokio::test]
async fn transient_server_errors_are_retried_for_idempotent_calls_only() {
    let (mock, client) = setup().await;
    mock.push_fault("/open-apis/echo/v1/flaky", Fault::ServerError(500));
    client
        .request(Method::GET, "/open-apis/echo/v1/flaky")
        .send_value()
        .await
        .unwrap();
    assert_eq!(mock.requests_to("/open-apis/echo/v1/flaky").len(), 2);

    mock.clear_requests();
    mock.push_fault("/open-apis/echo/v1/flaky", Fault::ServerError(500));
    let err = client
        .request(Method::POST, "/open-apis/echo/v1/flaky")
        .json(&serde_json::json!({}))
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/flaky").len(),
        1,
        "a POST may have had effects"
    );

    // Unless the policy says otherwise.
    mock.clear_requests();
    mock.push_fault("/open-apis/echo/v1/flaky", Fault::ServerError(500));
    client
        .request(Method::POST, "/open-apis/echo/v1/flaky")
        .json(&serde_json::json!({}))
        .retry_policy(fast_retries().retry_non_idempotent(true))
        .send_value()
        .await
        .unwrap();
    assert_eq!(mock.requests_to("/open-apis/echo/v1/flaky").len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_get() {
    let (mock, client) = setup().await;
    mock.push_fault("/open-apis/echo/v1/drop", Fault::DropConnection);
    let resp = client
        .request(Method::GET, "/open-apis/echo/v1/drop")
        .send_value()
        .await;
    assert!(resp.is_ok(), "{resp:?}");
    assert_eq!(mock.requests_to("/open-apis/echo/v1/drop").len(), 2);

    mock.push_fault("/open-apis/echo/v1/drop", Fault::DropConnection);
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/drop")
        .retry_policy(RetryPolicy::disabled())
        .send_value()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn disabled_retries_fail_on_the_first_error() {
    let (mock, client) = setup_with(|b| b.retry_policy(RetryPolicy::disabled())).await;
    mock.push_fault(
        "/open-apis/echo/v1/rl",
        Fault::RateLimited { reset_secs: 0 },
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/rl")
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(99991400));
    assert_eq!(mock.requests_to("/open-apis/echo/v1/rl").len(), 1);
}

#[tokio::test]
async fn the_client_wide_budget_stops_retry_storms() {
    // A budget of 10 pays for two retries (5 each), across all calls of the client.
    let (mock, client) =
        setup_with(|b| b.retry_policy(fast_retries().max_retries(5).budget(Some(10)))).await;
    for _ in 0..20 {
        mock.push_fault("/open-apis/echo/v1/outage", Fault::ServerError(502));
    }
    let first = client
        .request(Method::GET, "/open-apis/echo/v1/outage")
        .send_value()
        .await;
    assert!(first.is_err());
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/outage").len(),
        3,
        "budget for two retries"
    );
    assert_eq!(client.retry_budget_available(), 0);
    let second = client
        .request(Method::GET, "/open-apis/echo/v1/outage")
        .send_value()
        .await;
    assert!(second.is_err());
    assert_eq!(
        mock.requests_to("/open-apis/echo/v1/outage").len(),
        4,
        "no retry left for the next call"
    );
    // Successes refill it.
    client
        .request(Method::GET, "/open-apis/echo/v1/fine")
        .send_value()
        .await
        .unwrap();
    assert_eq!(client.retry_budget_available(), 1);
}

#[tokio::test]
async fn max_elapsed_gives_up_instead_of_waiting_past_it() {
    let (mock, client) = setup().await;
    // The platform asks for a 1 s wait; the call may take 500 ms in all.
    mock.push_fault(
        "/open-apis/echo/v1/bounded",
        Fault::RateLimited { reset_secs: 1 },
    );
    let err = client
        .request(Method::GET, "/open-apis/echo/v1/bounded")
        .retry_policy(fast_retries().max_elapsed(Duration::from_millis(500)))
        .send_value()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(99991400));
    assert_eq!(mock.requests_to("/open-apis/echo/v1/bounded").len(), 1);

    // With room for the wait, the same call is retried and succeeds.
    mock.push_fault(
        "/open-apis/echo/v1/bounded",
        Fault::RateLimited { reset_secs: 1 },
    );
    client
        .request(Method::GET, "/open-apis/echo/v1/bounded")
        .retry_policy(fast_retries().max_elapsed(Duration::from_secs(5)))
        .send_value()
        .await
        .unwrap();
    assert_eq!(mock.requests_to("/open-apis/echo/v1/bounded").len(), 3);
}

/// The client's retries and `Error::is_retryable` read one table: for every classified code
/// (and an unclassified one), a GET is retried exactly when the error says it is retryable.
#[tokio::test]
async fn the_pipeline_retries_exactly_what_is_retryable_says() {
    let (mock, client) = setup().await;
    let path = "/open-apis/echo/v1/classified";
    let cases: &[(u16, i64, bool)] = &[
        (200, 1500, true),
        (200, 1503, true),
        (200, 1551, true),
        (200, 1557, true),
        (400, 99991400, true),
        (200, 11232, true),
        (200, 1061045, true),
        (200, 20050, true),
        (429, 12345, true),
        (503, 12345, true),
        (400, 99991672, false),
        (400, 99992402, false),
        (200, 1061002, false),
    ];
    for &(http_status, code, retryable) in cases {
        let fault = || Fault::Api {
            http_status,
            code,
            msg: "scripted".into(),
            error: None,
        };
        mock.clear_requests();
        mock.push_fault(path, fault());
        let once_more = client
            .request(Method::GET, path)
            .retry_policy(fast_retries().max_retries(1))
            .send_value()
            .await;
        let retried = mock.requests_to(path).len() == 2;
        assert_eq!(retried, once_more.is_ok(), "code {code}");

        mock.push_fault(path, fault());
        let err = client
            .request(Method::GET, path)
            .retry_policy(RetryPolicy::disabled())
            .send_value()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code));
        assert_eq!(
            (retried, err.is_retryable()),
            (retryable, retryable),
            "code {code} (HTTP {http_status}): retried by the client vs is_retryable()"
        );
    }
}
