//! The long-connection server over real loopback sockets, with
//! tokio-tungstenite as the client and the mock's own frame codec.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use lark_oapi_mock::frame::{Frame, METHOD_CONTROL, METHOD_DATA};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform, WS_SERVICE_ID, WsClientConfig};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const STEP: Duration = Duration::from_secs(2);

fn client() -> reqwest::Client {
    // In a workspace build reqwest may come with rustls but no default crypto provider.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// POSTs the endpoint with `secret`; returns the JSON answer.
async fn endpoint_with(mock: &MockPlatform, secret: &str) -> Value {
    let body = json!({"AppID": APP_ID, "AppSecret": secret}).to_string();
    let resp = client()
        .post(format!("{}/callback/ws/endpoint", mock.base_url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("endpoint call");
    assert_eq!(resp.status(), 200);
    serde_json::from_slice(&resp.bytes().await.expect("body")).expect("JSON answer")
}

/// A fresh connection URL.
async fn ws_url(mock: &MockPlatform) -> String {
    let answer = endpoint_with(mock, APP_SECRET).await;
    assert_eq!(answer["code"], 0, "{answer}");
    answer["data"]["URL"].as_str().expect("URL").to_owned()
}

async fn connect(url: &str) -> Ws {
    let (ws, resp) = tokio_tungstenite::connect_async(url)
        .await
        .expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// Endpoint + handshake, and waits until the mock counts the connection.
async fn open(mock: &MockPlatform) -> Ws {
    let before = mock.ws_stats().connections_opened;
    let ws = connect(&ws_url(mock).await).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_stats().connections_opened > before)
            .await
    );
    ws
}

async fn send(ws: &mut Ws, frame: &Frame) {
    ws.send(Message::Binary(frame.encode().into()))
        .await
        .expect("send frame");
}

/// The next binary message, decoded.
async fn recv(ws: &mut Ws) -> Frame {
    loop {
        let msg = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("no socket error");
        match msg {
            Message::Binary(data) => return Frame::decode(&data).expect("valid frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// Asserts that nothing arrives within `wait`.
async fn expect_silence(ws: &mut Ws, wait: Duration) {
    if let Ok(msg) = tokio::time::timeout(wait, ws.next()).await {
        panic!("expected silence, got {msg:?}");
    }
}

/// The acknowledgement a client sends for `frame`.
fn ack(frame: &Frame, code: i64, data: Option<&Value>) -> Frame {
    let mut ack = frame.clone();
    ack.headers.push(("biz_rt".into(), "3".into()));
    let mut payload = json!({"code": code, "headers": null});
    if let Some(data) = data {
        payload["data"] = Value::from(STANDARD.encode(data.to_string()));
    }
    ack.payload = Some(payload.to_string().into_bytes());
    ack
}

fn event(n: u32) -> Value {
    json!({
        "schema": "2.0",
        "header": {
            "event_id": format!("ev-{n}"),
            "event_type": "im.message.receive_v1",
            "create_time": "1608725989000",
            "token": "vt",
            "app_id": APP_ID,
            "tenant_key": "tk",
        },
        "event": {"message": {"content": "{\"text\":\"hello\"}", "n": n}},
    })
}

#[tokio::test]
async fn endpoint_handshake_event_and_ack() {
    let mock = MockPlatform::start().await.unwrap();
    mock.ws_set_client_config(WsClientConfig {
        ping_interval: 1,
        reconnect_count: 3,
        reconnect_interval: 2,
        reconnect_nonce: 0,
    });
    let answer = endpoint_with(&mock, APP_SECRET).await;
    assert_eq!(answer["code"], 0);
    assert_eq!(answer["msg"], "ok");
    assert_eq!(
        answer["data"]["ClientConfig"],
        json!({"PingInterval": 1, "ReconnectCount": 3, "ReconnectInterval": 2, "ReconnectNonce": 0})
    );
    let url = answer["data"]["URL"].as_str().unwrap();
    let prefix = format!("ws://{}/callback/ws/connect?device_id=", mock.addr());
    assert!(url.starts_with(&prefix), "{url}");
    assert!(url.contains(&format!("&service_id={WS_SERVICE_ID}&ticket=")));

    // Pushed before any connection: waits in the queue.
    let ev = event(1);
    let id = mock.ws_push_event(ev.clone());
    assert_eq!(mock.ws_pending(), 1);

    let mut ws = connect(url).await;
    let frame = recv(&mut ws).await;
    assert!(frame.has_required_fields());
    assert_eq!(frame.method, Some(METHOD_DATA));
    assert_eq!(frame.service, Some(WS_SERVICE_ID));
    assert!(frame.seq_id.unwrap() > 0);
    assert_eq!(frame.header("type"), Some("event"));
    assert_eq!(frame.header("message_id"), Some(id.as_str()));
    assert_eq!(frame.header("sum"), Some("1"));
    assert_eq!(frame.header("seq"), Some("0"));
    assert!(frame.header("trace_id").is_some_and(|t| !t.is_empty()));
    let ts: u128 = frame.header("timestamp").unwrap().parse().unwrap();
    assert!(ts > 1_600_000_000_000);
    let payload: Value = serde_json::from_slice(frame.payload_bytes()).unwrap();
    assert_eq!(payload, ev);

    // Pushed while connected: goes straight out.
    let id2 = mock.ws_push_event(event(2));
    let frame2 = recv(&mut ws).await;
    assert_eq!(frame2.header("message_id"), Some(id2.as_str()));
    assert!(frame2.seq_id > frame.seq_id);

    send(
        &mut ws,
        &ack(&frame, 200, Some(&json!({"toast": {"type": "info"}}))),
    )
    .await;
    send(&mut ws, &ack(&frame2, 200, None)).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_delivered().len() == 2)
            .await
    );
    assert_eq!(mock.ws_delivered(), vec![id.clone(), id2.clone()]);
    assert_eq!(mock.ws_pending(), 0);

    let acks = mock.ws_acks();
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].message_id, id);
    assert_eq!(acks[0].seq_id, frame.seq_id.unwrap());
    assert_eq!(acks[0].code, 200);
    assert_eq!(acks[0].biz_rt.as_deref(), Some("3"));
    assert_eq!(
        acks[0].data.as_deref(),
        Some(br#"{"toast":{"type":"info"}}"#.as_slice())
    );
    assert!(acks[0].headers.contains(&("type".into(), "event".into())));
    assert_eq!(acks[1].data, None);

    let stats = mock.ws_stats();
    assert_eq!(stats.endpoint_calls, 1);
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.live_connections, 1);
    assert_eq!(stats.acks, 2);
    assert_eq!(stats.events_sent, 2);
    assert_eq!(stats.frames_missing_required_fields, 0);
    assert_eq!(stats.frames_with_wrong_service, 0);
    assert_eq!(stats.malformed_acks, 0);
    // The endpoint call is recorded like any request.
    assert_eq!(mock.requests_to("/callback/ws/endpoint").len(), 1);
}

#[tokio::test]
async fn ping_is_answered_with_client_config() {
    let mock = MockPlatform::start().await.unwrap();
    let cfg = WsClientConfig {
        ping_interval: 5,
        ..WsClientConfig::default()
    };
    mock.ws_set_client_config(cfg);
    let mut ws = open(&mock).await;
    send(&mut ws, &Frame::ping(WS_SERVICE_ID)).await;
    let pong = recv(&mut ws).await;
    assert!(pong.has_required_fields());
    assert_eq!(pong.method, Some(METHOD_CONTROL));
    assert_eq!(pong.service, Some(WS_SERVICE_ID));
    assert_eq!(pong.header("type"), Some("pong"));
    let payload: Value = serde_json::from_slice(pong.payload_bytes()).unwrap();
    assert_eq!(
        payload,
        json!({"PingInterval": 5, "ReconnectCount": -1, "ReconnectInterval": 120, "ReconnectNonce": 30})
    );
    let stats = mock.ws_stats();
    assert_eq!((stats.pings, stats.pongs), (1, 1));
    assert_eq!(stats.frames_missing_required_fields, 0);
}

#[tokio::test]
async fn frames_lacking_required_fields_or_with_wrong_service_are_counted() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;

    // What a proto3 encoder writes for a ping with SeqID 0: no field 1.
    let mut proto3_ping = Frame::ping(WS_SERVICE_ID);
    proto3_ping.seq_id = None;
    assert_ne!(proto3_ping.encode()[0], 0x08);
    send(&mut ws, &proto3_ping).await;
    // Still answered: the mock is lenient, it only counts.
    assert_eq!(recv(&mut ws).await.header("type"), Some("pong"));

    send(&mut ws, &Frame::ping(99)).await;
    assert_eq!(recv(&mut ws).await.header("type"), Some("pong"));

    // Garbage and text messages are counted and ignored; the connection survives.
    ws.send(Message::Binary(vec![0x08].into())).await.unwrap();
    ws.send(Message::Text("hello".into())).await.unwrap();
    send(&mut ws, &Frame::ping(WS_SERVICE_ID)).await;
    assert_eq!(recv(&mut ws).await.header("type"), Some("pong"));

    let stats = mock.ws_stats();
    assert_eq!(stats.frames_missing_required_fields, 1);
    assert_eq!(stats.frames_with_wrong_service, 1);
    assert_eq!(stats.undecodable_frames, 1);
    assert_eq!(stats.text_messages, 1);
    assert_eq!(stats.pings, 3);
    assert_eq!(stats.frames_received, 4);
}

#[tokio::test]
async fn fragments_share_message_id_and_arrive_shuffled() {
    let mock = MockPlatform::start().await.unwrap();
    mock.ws_set_fragments(3);
    let mut ws = open(&mock).await;
    let ev = event(7);
    let id = mock.ws_push_event(ev.clone());

    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(recv(&mut ws).await);
    }
    let seqs: Vec<usize> = frames
        .iter()
        .map(|f| f.header("seq").unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs.iter().copied().collect::<BTreeSet<_>>().len(), 3);
    assert!(seqs.iter().all(|&s| s < 3));
    assert_ne!(seqs, vec![0, 1, 2], "fragments must not arrive in order");
    for f in &frames {
        assert_eq!(f.header("message_id"), Some(id.as_str()));
        assert_eq!(f.header("sum"), Some("3"));
        assert_eq!(f.header("type"), Some("event"));
        assert!(!f.payload_bytes().is_empty());
    }
    let mut by_seq = frames.clone();
    by_seq.sort_by_key(|f| f.header("seq").unwrap().parse::<usize>().unwrap());
    let whole: Vec<u8> = by_seq
        .iter()
        .flat_map(|f| f.payload_bytes().to_vec())
        .collect();
    assert_eq!(serde_json::from_slice::<Value>(&whole).unwrap(), ev);
    let sizes: Vec<usize> = by_seq.iter().map(|f| f.payload_bytes().len()).collect();
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);

    // Only the frame that completed the message is acknowledged.
    send(&mut ws, &ack(frames.last().unwrap(), 200, None)).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_delivered() == vec![id.clone()])
            .await
    );
    let stats = mock.ws_stats();
    assert_eq!((stats.events_sent, stats.data_frames_sent), (1, 3));
}

#[tokio::test]
async fn dropped_connection_redelivers_unacked_event_on_the_next_one() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    let ev = event(3);
    let id = mock.ws_push_event(ev.clone());
    let first = recv(&mut ws).await;
    assert_eq!(first.header("message_id"), Some(id.as_str()));

    mock.ws_drop_connections();
    assert_eq!(mock.ws_stats().live_connections, 0);
    // The socket ends without a close frame.
    match tokio::time::timeout(STEP, ws.next())
        .await
        .expect("closed in time")
    {
        None | Some(Err(_)) => {}
        Some(Ok(msg)) => panic!("expected an abrupt end, got {msg:?}"),
    }
    assert_eq!(mock.ws_pending(), 1);
    assert!(mock.ws_delivered().is_empty());

    // The old URL's ticket is used up: reconnecting needs a new endpoint call.
    let mut ws = open(&mock).await;
    let again = recv(&mut ws).await;
    assert_eq!(again.header("message_id"), Some(id.as_str()));
    assert_eq!(again.payload_bytes(), first.payload_bytes());
    send(&mut ws, &ack(&again, 200, None)).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_delivered() == vec![id.clone()])
            .await
    );
    let stats = mock.ws_stats();
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(stats.endpoint_calls, 2);
    assert_eq!((stats.events_sent, stats.redeliveries), (2, 1));
}

#[tokio::test]
async fn non_200_ack_is_redelivered_on_the_same_connection() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    let id = mock.ws_push_event(event(4));
    let first = recv(&mut ws).await;
    let nacked_at = std::time::Instant::now();
    send(&mut ws, &ack(&first, 500, None)).await;
    let again = recv(&mut ws).await;
    assert!(nacked_at.elapsed() >= Duration::from_millis(150));
    assert_eq!(again.header("message_id"), Some(id.as_str()));
    assert_eq!(again.payload_bytes(), first.payload_bytes());
    assert_ne!(again.seq_id, first.seq_id);
    send(&mut ws, &ack(&again, 200, None)).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_delivered().len() == 1)
            .await
    );
    let codes: Vec<i64> = mock.ws_acks().iter().map(|a| a.code).collect();
    assert_eq!(codes, vec![500, 200]);
    assert_eq!(mock.ws_pending(), 0);
}

#[tokio::test]
async fn events_go_to_the_newest_connection() {
    let mock = MockPlatform::start().await.unwrap();
    let mut old = open(&mock).await;
    let mut new = open(&mock).await;
    assert_eq!(mock.ws_stats().live_connections, 2);
    let id = mock.ws_push_event(event(5));
    let frame = recv(&mut new).await;
    assert_eq!(frame.header("message_id"), Some(id.as_str()));
    expect_silence(&mut old, Duration::from_millis(100)).await;

    // When the newest goes away unacked, the older one takes over.
    drop(new);
    let again = recv(&mut old).await;
    assert_eq!(again.header("message_id"), Some(id.as_str()));
}

#[tokio::test]
async fn card_frames_carry_type_card() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    let id = mock.ws_push_card_frame(
        json!({"schema": "2.0", "header": {"event_type": "card.action.trigger"}}),
    );
    let frame = recv(&mut ws).await;
    assert_eq!(frame.header("type"), Some("card"));
    assert_eq!(frame.header("message_id"), Some(id.as_str()));
    send(
        &mut ws,
        &ack(&frame, 200, Some(&json!({"toast": {"content": "ok"}}))),
    )
    .await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_delivered() == vec![id.clone()])
            .await
    );
}

#[tokio::test]
async fn handshake_refusals_carry_the_handshake_headers() {
    let mock = MockPlatform::start().await.unwrap();
    mock.ws_refuse_handshakes(514, Some(1_000_040_350), 1);
    mock.ws_refuse_handshakes(403, None, 1);

    for (status, autherr) in [(514, Some("1000040350")), (403, None)] {
        let url = ws_url(&mock).await;
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), status);
                let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok());
                assert_eq!(
                    header("handshake-status"),
                    Some(status.to_string().as_str())
                );
                assert!(header("handshake-msg").is_some_and(|m| !m.is_empty()));
                assert_eq!(header("handshake-autherrcode"), autherr);
            }
            other => panic!("expected a refused handshake, got {:?}", other.map(|_| ())),
        }
    }
    // The refusals are used up.
    let _ws = open(&mock).await;
    assert_eq!(mock.ws_stats().handshakes_refused, 2);
}

#[tokio::test]
async fn tickets_are_single_use() {
    let mock = MockPlatform::start().await.unwrap();
    let url = ws_url(&mock).await;
    let _ws = connect(&url).await;

    let refused = |url: String| async move {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 514);
                assert_eq!(
                    resp.headers()
                        .get("handshake-status")
                        .unwrap()
                        .to_str()
                        .unwrap(),
                    "514"
                );
                assert!(resp.headers().get("handshake-msg").is_some());
                assert!(resp.headers().get("handshake-autherrcode").is_none());
            }
            other => panic!("expected a refused handshake, got {:?}", other.map(|_| ())),
        }
    };
    refused(url.clone()).await;
    let unknown = format!("{}&ticket=nope", url.split("&ticket=").next().unwrap());
    refused(unknown).await;
    let without = url.split("&ticket=").next().unwrap().to_owned();
    refused(without).await;
    assert_eq!(mock.ws_stats().handshakes_refused, 3);
    assert_eq!(mock.ws_stats().connections_opened, 1);
}

#[tokio::test]
async fn endpoint_faults_and_wrong_credentials() {
    let mock = MockPlatform::start().await.unwrap();
    mock.ws_endpoint_faults(1, 2);
    mock.ws_endpoint_faults(1_000_040_350, 1);
    for expected in [1, 1, 1_000_040_350, 0] {
        let answer = endpoint_with(&mock, APP_SECRET).await;
        assert_eq!(answer["code"], expected, "{answer}");
        assert!(answer["msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(answer.get("data").is_some(), expected == 0);
    }
    let answer = endpoint_with(&mock, "wrong-secret").await;
    assert_eq!(answer["code"], 1_000_040_344);
    assert!(answer.get("data").is_none());
    assert_eq!(mock.ws_stats().endpoint_calls, 5);
}

#[tokio::test]
async fn silent_server_answers_nothing_until_woken() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    mock.ws_set_silent(true);
    send(&mut ws, &Frame::ping(WS_SERVICE_ID)).await;
    let id = mock.ws_push_event(event(6));
    expect_silence(&mut ws, Duration::from_millis(300)).await;
    assert_eq!(mock.ws_stats().pings, 1);
    assert_eq!(mock.ws_stats().pongs, 0);

    mock.ws_set_silent(false);
    let frame = recv(&mut ws).await;
    assert_eq!(frame.header("message_id"), Some(id.as_str()));
}

#[tokio::test]
async fn close_with_frame_sends_a_close_frame() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    mock.ws_close_with_frame();
    let msg = tokio::time::timeout(STEP, ws.next())
        .await
        .expect("in time")
        .expect("a message")
        .expect("no error");
    match msg {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_stats().live_connections == 0)
            .await
    );
}

#[tokio::test]
async fn dropping_the_mock_ends_websocket_connections() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    drop(mock);
    match tokio::time::timeout(STEP, ws.next())
        .await
        .expect("ended in time")
    {
        None | Some(Err(_)) => {}
        Some(Ok(msg)) => panic!("expected the connection to end, got {msg:?}"),
    }
}

#[tokio::test]
async fn graceful_shutdown_closes_websocket_connections() {
    let mock = MockPlatform::start().await.unwrap();
    let mut ws = open(&mock).await;
    let reader = tokio::spawn(async move {
        // Reading lets tungstenite answer the close frame.
        let mut saw_close = false;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(STEP, ws.next()).await {
            saw_close |= matches!(msg, Message::Close(_));
        }
        saw_close
    });
    tokio::time::timeout(STEP, mock.shutdown())
        .await
        .expect("shutdown in time");
    assert!(reader.await.unwrap());
}

/// The long connection driven only over HTTP, as a test in another language would drive
/// the standalone binary: `/__mock/ws/*` and `/__mock/users/*`.
#[tokio::test]
async fn control_endpoints_drive_the_long_connection_over_http() {
    let mock = MockPlatform::start().await.unwrap();
    let c = client();
    let base = mock.base_url();
    let post = |path: &str, body: Value| {
        let req = c.post(format!("{base}{path}")).body(body.to_string());
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (
                status,
                serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).unwrap(),
            )
        }
    };
    let get = |path: &str| {
        let req = c.get(format!("{base}{path}"));
        async move {
            serde_json::from_slice::<Value>(&req.send().await.unwrap().bytes().await.unwrap())
                .unwrap()
        }
    };

    let (status, _) = post(
        "/__mock/ws/client_config",
        json!({"ping_interval": 7, "reconnect_count": 2}),
    )
    .await;
    assert_eq!(status, 200);
    let answer = endpoint_with(&mock, APP_SECRET).await;
    assert_eq!(
        answer["data"]["ClientConfig"]["PingInterval"], 7,
        "{answer}"
    );
    assert_eq!(
        answer["data"]["ClientConfig"]["ReconnectCount"], 2,
        "{answer}"
    );

    let (status, pushed) = post("/__mock/ws/events", json!({"event": event(1)})).await;
    assert_eq!(status, 200, "{pushed}");
    let id = pushed["message_id"].as_str().unwrap().to_owned();
    let mut ws = open(&mock).await;
    let frame = recv(&mut ws).await;
    assert_eq!(frame.header("message_id"), Some(id.as_str()));
    assert_eq!(frame.header("type"), Some("event"));
    send(&mut ws, &ack(&frame, 200, None)).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_delivered().contains(&id))
            .await
    );
    assert_eq!(get("/__mock/ws/delivered").await, json!([id]));
    let acks = get("/__mock/ws/acks").await;
    assert_eq!(acks[0]["message_id"], id.as_str());
    assert_eq!(acks[0]["code"], 200);
    let stats = get("/__mock/ws/stats").await;
    assert_eq!(stats["events_sent"], 1, "{stats}");
    assert_eq!(stats["pending"], 0, "{stats}");

    // A card frame, and a bad type named in the answer.
    let (_, pushed) = post(
        "/__mock/ws/events",
        json!({"type": "card", "event": event(2)}),
    )
    .await;
    let frame = recv(&mut ws).await;
    assert_eq!(frame.header("message_id"), pushed["message_id"].as_str());
    assert_eq!(frame.header("type"), Some("card"));
    let (status, answer) = post("/__mock/ws/events", json!({"type": "nope", "event": {}})).await;
    assert_eq!(status, 400);
    assert!(
        answer["msg"].as_str().unwrap().contains("\"type\""),
        "{answer}"
    );

    // Endpoint faults and dropped connections.
    let (status, _) = post(
        "/__mock/ws/endpoint_faults",
        json!({"code": 1000040350, "times": 1}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(endpoint_with(&mock, APP_SECRET).await["code"], 1000040350);
    post("/__mock/ws/drop", json!({})).await;
    assert!(
        mock.ws_wait_until(STEP, |m| m.ws_stats().live_connections == 0)
            .await
    );

    // User authorization: a login code the OIDC endpoint accepts.
    let (status, issued) = post("/__mock/users/auth_code", json!({"open_id": "ou_http"})).await;
    assert_eq!(status, 200);
    assert!(issued["auth_code"].as_str().unwrap().starts_with("code-"));
    assert_eq!(get("/__mock/users/refreshes").await["refreshes"], 0);
    let (status, answer) = post("/__mock/users/token_expire", json!({"access_secs": 1})).await;
    assert_eq!(status, 400, "both lifetimes are required: {answer}");
}
