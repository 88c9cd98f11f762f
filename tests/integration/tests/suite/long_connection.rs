//! The long-connection client against the mock's WebSocket server over loopback: frames,
//! pings, fragments, acknowledgements, reconnects, refusals, watchdog, proxy, shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use lark_oapi::callback::v2::events::{CallBackToast, P2CardActionTriggerResponse};
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::long_connection::{LongConnection, LongConnectionBuilder, LongConnectionError};
use lark_oapi::prelude::*;
use lark_oapi_mock::{MockPlatform, WsClientConfig};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

fn message(event_id: &str, text: &str) -> serde_json::Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1700000000000",
                   "token": "", "app_id": lark_oapi_mock::APP_ID, "tenant_key": "tk"},
        "event": {"sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                  "message": {"message_id": format!("om_{event_id}"), "chat_id": "oc_1", "chat_type": "p2p",
                              "message_type": "text", "content": json!({"text": text}).to_string()}}
    })
}

/// A dispatcher that records the text of every message it handles.
fn recording() -> (EventDispatcher, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let dispatcher = EventDispatcher::builder()
        .on_im_message_receive_v1(move |event| {
            let s = s.clone();
            async move {
                let content: serde_json::Value =
                    serde_json::from_str(&event.payload.message.content)?;
                s.lock()
                    .unwrap()
                    .push(content["text"].as_str().unwrap_or_default().to_owned());
                Ok(())
            }
        })
        .build();
    (dispatcher, seen)
}

/// Whether the mock saw the event acknowledged with 200 in time.
async fn delivered(mock: &MockPlatform, message_id: &str) -> bool {
    mock.ws_wait_until(WAIT, |m| m.ws_delivered().iter().any(|d| d == message_id))
        .await
}

fn connection(client: &lark_oapi::Client, dispatcher: EventDispatcher) -> LongConnectionBuilder {
    LongConnection::builder(client, dispatcher).no_proxy()
}

#[tokio::test]
async fn an_event_is_delivered_typed_and_acknowledged_with_the_frame_and_biz_rt() {
    let (mock, client) = setup().await;
    fast(&mock);
    let (dispatcher, seen) = recording();
    let conn = connect(&client, dispatcher).await;
    let id = mock.ws_push_event(message("ev-1", "hello"));
    assert!(delivered(&mock, &id).await);
    assert_eq!(*seen.lock().unwrap(), ["hello"]);
    let ack = mock
        .ws_acks()
        .into_iter()
        .find(|a| a.message_id == id)
        .unwrap();
    assert_eq!(ack.code, 200);
    let biz_rt: i64 = ack.biz_rt.as_deref().unwrap().parse().unwrap();
    assert!(biz_rt >= 0, "handler time is never negative");
    assert!(ack.data.is_none(), "plain events answer without data");
    for key in ["type", "message_id", "sum", "seq", "trace_id"] {
        assert!(
            ack.headers.iter().any(|(k, _)| k == key),
            "the ack keeps header {key}"
        );
    }
    // Pings go out on the server's interval (1 s), with every required field on the wire.
    assert!(mock.ws_wait_until(WAIT, |m| m.ws_stats().pings >= 2).await);
    let stats = mock.ws_stats();
    assert_eq!(stats.frames_missing_required_fields, 0);
    assert_eq!(stats.frames_with_wrong_service, 0);
    assert_eq!(stats.endpoint_calls, 1);
    conn.shutdown().await.unwrap();
    assert!(
        mock.ws_wait_until(WAIT, |m| m.ws_stats().live_connections == 0)
            .await
    );
}

#[tokio::test]
async fn a_card_callback_is_answered_with_base64_data_even_in_a_card_frame() {
    let (mock, client) = setup().await;
    fast(&mock);
    let dispatcher = EventDispatcher::builder()
        .on_card_action_trigger(|event| async move {
            let tag = event.payload.action.and_then(|a| a.tag).unwrap_or_default();
            Ok(P2CardActionTriggerResponse {
                toast: Some(CallBackToast {
                    r#type: Some("success".into()),
                    content: Some(format!("clicked {tag}")),
                    i18n: None,
                }),
                card: None,
            })
        })
        .build();
    let conn = connect(&client, dispatcher).await;
    let card = |id: &str| {
        json!({
            "schema": "2.0",
            "header": {"event_id": id, "event_type": "card.action.trigger", "token": "", "app_id": "cli_x"},
            "event": {"operator": {"open_id": "ou_1"}, "action": {"tag": "button", "value": {}}}
        })
    };
    // As an `event` frame, and as a `card` frame (which other SDKs drop unanswered).
    let a = mock.ws_push_event(card("card-1"));
    let b = mock.ws_push_card_frame(card("card-2"));
    assert!(mock.ws_wait_until(WAIT, |m| m.ws_pending() == 0).await);
    for id in [a, b] {
        let ack = mock
            .ws_acks()
            .into_iter()
            .find(|x| x.message_id == id)
            .unwrap();
        assert_eq!(ack.code, 200);
        let data: serde_json::Value = serde_json::from_slice(&ack.data.unwrap()).unwrap();
        assert_eq!(
            data,
            json!({"toast": {"type": "success", "content": "clicked button"}})
        );
    }
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn fragmented_messages_are_reassembled_in_seq_order() {
    let (mock, client) = setup().await;
    fast(&mock);
    mock.ws_set_fragments(3);
    let (dispatcher, seen) = recording();
    let conn = connect(&client, dispatcher).await;
    let long_text = "fragmented ".repeat(50);
    let id = mock.ws_push_event(message("ev-frag", &long_text));
    assert!(delivered(&mock, &id).await);
    assert_eq!(*seen.lock().unwrap(), [long_text]);
    // One ack for the whole message, not one per fragment.
    assert_eq!(mock.ws_acks().len(), 1);
    assert_eq!(mock.ws_stats().data_frames_sent, 3);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dropped_connection_is_replaced_and_unacknowledged_events_arrive() {
    let (mock, client) = setup().await;
    fast(&mock);
    let (dispatcher, seen) = recording();
    let conn = connect(&client, dispatcher).await;
    let first = mock.ws_push_event(message("ev-a", "before"));
    assert!(delivered(&mock, &first).await);
    mock.ws_drop_connections();
    let second = mock.ws_push_event(message("ev-b", "after"));
    assert!(delivered(&mock, &second).await);
    assert_eq!(*seen.lock().unwrap(), ["before", "after"]);
    let stats = mock.ws_stats();
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(
        stats.endpoint_calls, 2,
        "a fresh URL (ticket) for the new connection"
    );
    assert_eq!(conn.stats().connections, 2);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_handler_is_acknowledged_with_500_and_the_redelivery_is_handled() {
    let (mock, client) = setup().await;
    fast(&mock);
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let dispatcher = EventDispatcher::builder()
        .on_im_message_receive_v1(move |_| {
            let c = c.clone();
            async move {
                let mut n = c.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    Err("database down".into())
                } else {
                    Ok(())
                }
            }
        })
        .build();
    let conn = connect(&client, dispatcher).await;
    let id = mock.ws_push_event(message("ev-fail", "x"));
    assert!(delivered(&mock, &id).await);
    let codes: Vec<i64> = mock.ws_acks().iter().map(|a| a.code).collect();
    assert_eq!(codes, [500, 200]);
    assert_eq!(*calls.lock().unwrap(), 2);
    assert_eq!(conn.stats().handler_failures, 1);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn handshake_refusals_are_retried_or_fatal_as_the_protocol_says() {
    // 514 without the connection-limit code: retried.
    let (mock, client) = setup().await;
    fast(&mock);
    mock.ws_refuse_handshakes(514, None, 2);
    let (dispatcher, _) = recording();
    let conn = connect(&client, dispatcher).await;
    assert!(
        mock.ws_wait_until(WAIT, |m| m.ws_stats().live_connections == 1)
            .await
    );
    assert_eq!(mock.ws_stats().handshakes_refused, 2);
    conn.shutdown().await.unwrap();

    // 403 and 514 + 1000040350: fatal, reported by start().
    for (status, code) in [(403, None), (514, Some(1_000_040_350))] {
        let (mock, client) = setup().await;
        mock.ws_refuse_handshakes(status, code, 1);
        let err = connection(&client, recording().0)
            .build()
            .start()
            .await
            .unwrap_err();
        assert!(err.is_fatal(), "{err}");
        assert!(
            matches!(err, LongConnectionError::Handshake { status: s, auth_code, .. } if s == status && auth_code == code),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn endpoint_codes_are_retried_or_fatal() {
    let (mock, client) = setup().await;
    fast(&mock);
    mock.ws_endpoint_faults(1, 1); // SYSTEM_BUSY
    mock.ws_endpoint_faults(1_000_040_343, 1); // INTERNAL_ERROR
    let (dispatcher, _) = recording();
    // No server settings yet when the endpoint fails: the builder's apply.
    let conn = connection(&client, dispatcher)
        .reconnect(Duration::from_millis(100), Duration::ZERO, None)
        .build()
        .start()
        .await
        .unwrap();
    assert!(
        mock.ws_wait_until(WAIT, |m| m.ws_stats().live_connections == 1)
            .await
    );
    assert_eq!(mock.ws_stats().endpoint_calls, 3);
    conn.shutdown().await.unwrap();

    let (mock, client) = setup().await;
    mock.ws_endpoint_faults(1_000_040_350, 1); // connection limit
    let err = connection(&client, recording().0)
        .build()
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LongConnectionError::Endpoint {
                code: Some(1_000_040_350),
                fatal: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1000040350"));

    // The same failure through `?` in a function returning the SDK's `Result`: it becomes
    // `Error::LongConnection`, which keeps the endpoint's code.
    mock.ws_endpoint_faults(1_000_040_350, 1);
    async fn start(client: &lark_oapi::Client) -> lark_oapi::Result<()> {
        let conn = connection(client, recording().0).build().start().await?;
        conn.shutdown().await?;
        Ok(())
    }
    let err = start(&client).await.unwrap_err();
    assert!(
        matches!(&err, lark_oapi::Error::LongConnection(e) if matches!(**e, LongConnectionError::Endpoint { .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(1_000_040_350));
    assert!(err.to_string().contains("1000040350"), "{err}");
}

#[tokio::test]
async fn reconnects_stop_after_the_servers_count() {
    let (mock, client) = setup().await;
    mock.ws_set_client_config(WsClientConfig {
        ping_interval: 1,
        reconnect_count: 2,
        reconnect_interval: 0,
        reconnect_nonce: 0,
    });
    let (dispatcher, _) = recording();
    let conn = connect(&client, dispatcher).await;
    mock.ws_endpoint_faults(1, 10);
    mock.ws_drop_connections();
    let err = tokio::time::timeout(WAIT, conn.wait())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            LongConnectionError::ReconnectsExhausted { attempts: 2, .. }
        ),
        "{err:?}"
    );
    assert_eq!(
        mock.ws_stats().endpoint_calls,
        3,
        "the first connection and two attempts"
    );
}

#[tokio::test]
async fn the_watchdog_replaces_a_silent_connection() {
    let (mock, client) = setup().await;
    fast(&mock);
    let (dispatcher, seen) = recording();
    let conn = connection(&client, dispatcher)
        .watchdog(Duration::from_millis(1500))
        .build()
        .start()
        .await
        .unwrap();
    assert!(mock.ws_wait_until(WAIT, |m| m.ws_stats().pongs >= 1).await);
    mock.ws_set_silent(true);
    assert!(
        mock.ws_wait_until(WAIT, |_| conn.stats().watchdog_fired >= 1)
            .await
    );
    mock.ws_set_silent(false);
    let id = mock.ws_push_event(message("ev-after-silence", "alive"));
    assert!(delivered(&mock, &id).await);
    assert_eq!(*seen.lock().unwrap(), ["alive"]);
    assert!(conn.stats().connections >= 2);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_connection_goes_through_an_http_connect_proxy() {
    let (mock, client) = setup().await;
    fast(&mock);
    let (proxy, targets) = connect_proxy().await;
    let (dispatcher, seen) = recording();
    let conn = LongConnection::builder(&client, dispatcher)
        .proxy(proxy)
        .build()
        .start()
        .await
        .unwrap();
    let id = mock.ws_push_event(message("ev-proxy", "via proxy"));
    assert!(delivered(&mock, &id).await);
    assert_eq!(*seen.lock().unwrap(), ["via proxy"]);
    assert_eq!(*targets.lock().unwrap(), [mock.addr().to_string()]);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_handlers_in_flight_and_acknowledges_them() {
    let (mock, client) = setup().await;
    fast(&mock);
    let dispatcher = EventDispatcher::builder()
        .on_im_message_receive_v1(|_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        })
        .build();
    let conn = connect(&client, dispatcher).await;
    let id = mock.ws_push_event(message("ev-slow", "slow"));
    assert!(mock.ws_wait_until(WAIT, |_| conn.stats().events == 1).await);
    conn.shutdown().await.unwrap();
    assert_eq!(
        mock.ws_delivered(),
        [id],
        "acknowledged before the socket closed"
    );
    assert!(
        mock.ws_wait_until(WAIT, |m| m.ws_stats().live_connections == 0)
            .await
    );
}

#[tokio::test]
async fn marketplace_apps_and_bad_credentials_are_refused_up_front() {
    let (_mock, client) = setup_with(|b| b.app_type(lark_oapi::AppType::Marketplace)).await;
    let err = connection(&client, recording().0)
        .build()
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, LongConnectionError::Config(_)), "{err:?}");

    let mock = MockPlatform::start().await.unwrap();
    let client = lark_oapi::Client::new(
        lark_oapi::Config::builder(lark_oapi_mock::APP_ID, "wrong-secret")
            .domain(lark_oapi::Domain::custom(mock.base_url()))
            .build()
            .unwrap(),
    );
    let err = connection(&client, recording().0)
        .build()
        .start()
        .await
        .unwrap_err();
    assert!(err.is_fatal(), "{err:?}");
    assert!(
        !format!("{err:?}{err}").contains("wrong-secret"),
        "the secret is not echoed"
    );
}

#[tokio::test]
async fn a_handler_past_its_timeout_is_acknowledged_as_failed_and_redelivered() {
    let (mock, client) = setup().await;
    fast(&mock);
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let dispatcher = EventDispatcher::builder()
        .handler_timeout(Duration::from_millis(200))
        .on_im_message_receive_v1(move |_| {
            let first = {
                let mut n = c.lock().unwrap();
                *n += 1;
                *n == 1
            };
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok(())
            }
        })
        .build();
    let conn = connection(&client, dispatcher)
        .build()
        .start()
        .await
        .unwrap();
    let id = mock.ws_push_event(message("ev-stuck", "x"));
    assert!(delivered(&mock, &id).await);
    let codes: Vec<i64> = mock.ws_acks().iter().map(|a| a.code).collect();
    assert_eq!(codes, [500, 200]);
    assert_eq!(*calls.lock().unwrap(), 2);
    conn.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_auto_reconnect_a_failed_first_attempt_is_returned() {
    let (mock, client) = setup().await;
    mock.ws_endpoint_faults(1, 1);
    let err = connection(&client, recording().0)
        .auto_reconnect(false)
        .build()
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LongConnectionError::Endpoint {
                code: Some(1),
                fatal: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_lifecycle_is_observed_step_by_step_from_connect_to_a_fatal_refusal() {
    use lark_oapi::long_connection::{ConnectionState as S, LifecycleEvent as E};
    let (mock, client) = setup().await;
    fast(&mock);
    let seen: Arc<Mutex<Vec<(E, S)>>> = Arc::default();
    let record = seen.clone();
    let conn = connection(&client, recording().0)
        .on_lifecycle(move |event, state| record.lock().unwrap().push((event.clone(), state)))
        .build()
        .start()
        .await
        .unwrap();
    assert_eq!(conn.state(), S::Connected);
    let mut changes = conn.state_changes();
    assert_eq!(*changes.borrow_and_update(), S::Connected);

    // Dropped by the server: reconnected.
    mock.ws_drop_connections();
    assert!(
        mock.ws_wait_until(WAIT, |m| m.ws_stats().connections_opened == 2
            && m.ws_stats().live_connections == 1)
            .await
    );
    tokio::time::timeout(WAIT, async {
        while *changes.borrow_and_update() != S::Connected || seen.lock().unwrap().len() < 5 {
            changes.changed().await.unwrap();
        }
    })
    .await
    .expect("reconnected");

    // Dropped again, and the next handshake is refused for good (403).
    mock.ws_refuse_handshakes(403, None, 1);
    mock.ws_drop_connections();
    let err = tokio::time::timeout(WAIT, conn_wait(conn))
        .await
        .expect("ends")
        .unwrap_err();
    assert!(err.is_fatal(), "{err}");

    let seen = seen.lock().unwrap().clone();
    let steps: Vec<(&str, S)> = seen
        .iter()
        .map(|(event, state)| {
            let name = match event {
                E::Connecting => "connecting",
                E::Ready => "ready",
                E::Disconnected { .. } => "disconnected",
                E::Reconnecting { .. } => "reconnecting",
                E::Reconnected => "reconnected",
                E::Error { fatal: true, .. } => "fatal error",
                E::Error { .. } => "error",
                E::Stopped => "stopped",
                _ => "other",
            };
            (name, *state)
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("connecting", S::Connecting),
            ("ready", S::Connected),
            ("disconnected", S::Reconnecting),
            ("reconnecting", S::Reconnecting),
            ("reconnected", S::Connected),
            ("disconnected", S::Reconnecting),
            ("reconnecting", S::Reconnecting),
            ("fatal error", S::Failed),
        ],
        "{seen:#?}"
    );
    match &seen[7].0 {
        E::Error { message, .. } => assert!(message.contains("403"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_shutdown_ends_in_idle_and_a_fatal_first_attempt_in_failed() {
    use lark_oapi::long_connection::{ConnectionState as S, LifecycleEvent as E};
    let (mock, client) = setup().await;
    let seen: Arc<Mutex<Vec<(E, S)>>> = Arc::default();
    let record = seen.clone();
    let conn = connection(&client, recording().0)
        .on_lifecycle(move |event, state| {
            record.lock().unwrap().push((event.clone(), state));
            // A panicking callback never takes the connection down.
            assert!(!matches!(event, E::Ready), "the callback panics on purpose");
        })
        .build()
        .start()
        .await
        .unwrap();
    let mut changes = conn.state_changes();
    let stop = conn.shutdown_signal();
    stop.shutdown();
    conn_wait(conn).await.unwrap();
    assert_eq!(*changes.borrow_and_update(), S::Idle);
    let states: Vec<S> = seen.lock().unwrap().iter().map(|(_, s)| *s).collect();
    assert_eq!(states, [S::Connecting, S::Connected, S::Idle, S::Idle]);
    assert!(matches!(seen.lock().unwrap()[3].0, E::Stopped));

    let seen: Arc<Mutex<Vec<(E, S)>>> = Arc::default();
    let record = seen.clone();
    mock.ws_refuse_handshakes(403, None, 1);
    let err = connection(&client, recording().0)
        .on_lifecycle(move |event, state| record.lock().unwrap().push((event.clone(), state)))
        .build()
        .start()
        .await
        .unwrap_err();
    assert!(err.is_fatal());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], (E::Connecting, S::Connecting));
    assert!(
        matches!(&seen[1], (E::Error { fatal: true, .. }, S::Failed)),
        "{seen:?}"
    );
}

async fn conn_wait(
    conn: lark_oapi::long_connection::LongConnectionHandle,
) -> Result<(), LongConnectionError> {
    conn.wait().await
}
