//! The long connection (WebSocket mode, §7 of the protocol notes): endpoint
//! discovery, the handshake with single-use tickets, and one task per
//! connection that pushes events, answers pings and records acknowledgements.
//!
//! Delivery model: pushed events wait in a FIFO queue; the newest live
//! connection takes every due event from the queue (or, with spreading on,
//! each delivery goes to a live connection picked at random, as the platform
//! load-balances the connections of one app), sends it (possibly in
//! fragments) and keeps it "in flight" until an ack for its `message_id`
//! arrives. An ack with code 200 marks it delivered; any other code puts it
//! back in the queue, due [`NACK_REDELIVERY_DELAY`] later. When a connection
//! ends, its in-flight events go back to the queue (due at once). Tasks wake on
//! `watch` channels, never by polling.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::frame::{Frame, METHOD_CONTROL, METHOD_DATA};
use crate::handler::{Ctx, json_response};
use crate::state::{Shared, lock};
use crate::{APP_ID, APP_SECRET};

/// Path of the endpoint-discovery call.
pub(crate) const WS_ENDPOINT_PATH: &str = "/callback/ws/endpoint";
/// Path of the WebSocket upgrade.
pub(crate) const WS_CONNECT_PATH: &str = "/callback/ws/connect";
/// The `service_id` put in every connection URL; clients must echo it in
/// every frame's `service` field.
pub const WS_SERVICE_ID: i32 = 7;
/// How long an event answered with a non-200 ack waits before it is sent again.
pub const NACK_REDELIVERY_DELAY: Duration = Duration::from_millis(200);

/// Endpoint code for wrong app credentials (fatal for clients).
const CODE_NO_CREDENTIAL: i64 = 1_000_040_344;
/// How long a graceful close waits for the client's close frame.
const CLOSE_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a close frame may take to be written.
const CLOSE_SEND_TIMEOUT: Duration = Duration::from_millis(200);

/// The `ClientConfig` the mock hands out with each endpoint answer and in
/// every pong. All values are seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsClientConfig {
    /// `PingInterval`: how often the client should ping.
    pub ping_interval: i64,
    /// `ReconnectCount`: reconnect attempts before giving up; negative = unlimited.
    pub reconnect_count: i64,
    /// `ReconnectInterval`: pause between reconnect attempts.
    pub reconnect_interval: i64,
    /// `ReconnectNonce`: maximum random jitter before the first reconnect attempt.
    pub reconnect_nonce: i64,
}

impl Default for WsClientConfig {
    /// The platform defaults: ping 120, count -1, interval 120, nonce 30.
    fn default() -> Self {
        WsClientConfig {
            ping_interval: 120,
            reconnect_count: -1,
            reconnect_interval: 120,
            reconnect_nonce: 30,
        }
    }
}

impl WsClientConfig {
    /// The wire JSON: `{"PingInterval":..,"ReconnectCount":..,"ReconnectInterval":..,"ReconnectNonce":..}`.
    pub fn to_json(&self) -> Value {
        json!({
            "PingInterval": self.ping_interval,
            "ReconnectCount": self.reconnect_count,
            "ReconnectInterval": self.reconnect_interval,
            "ReconnectNonce": self.reconnect_nonce,
        })
    }
}

/// An acknowledgement (a data frame sent by the client) as the mock received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsAck {
    /// The frame's `message_id` header (empty if it had none).
    pub message_id: String,
    /// The frame's `SeqID` (0 if absent).
    pub seq_id: u64,
    /// The payload's `code`; -1 when the payload is not JSON with an integer `code`.
    pub code: i64,
    /// The `biz_rt` header, if present.
    pub biz_rt: Option<String>,
    /// The payload's `data`, base64-decoded; `None` when absent, null or not
    /// valid standard base64.
    pub data: Option<Vec<u8>>,
    /// Every header of the frame, in order.
    pub headers: Vec<(String, String)>,
}

/// Counters of the long-connection server; see [`crate::MockPlatform::ws_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsStats {
    /// `POST /callback/ws/endpoint` calls (including faulted and refused ones).
    pub endpoint_calls: u64,
    /// WebSocket connections established.
    pub connections_opened: u64,
    /// Connections currently live (established and not told to go away).
    pub live_connections: usize,
    /// Upgrades refused: injected refusals plus unknown/used tickets.
    pub handshakes_refused: u64,
    /// Client frames with method 0 and header `type=ping`.
    pub pings: u64,
    /// Pongs sent.
    pub pongs: u64,
    /// Binary messages received from clients.
    pub frames_received: u64,
    /// Client frames that lack any of fields 1–4 (`SeqID`, `LogID`, `service`, `method`).
    pub frames_missing_required_fields: u64,
    /// Client frames whose `service` is not [`WS_SERVICE_ID`] (absent counts as 0).
    pub frames_with_wrong_service: u64,
    /// Binary messages that are not a valid `Frame`.
    pub undecodable_frames: u64,
    /// Text (non-binary) messages received; they are otherwise ignored.
    pub text_messages: u64,
    /// Acknowledgements (client data frames) received.
    pub acks: u64,
    /// Acknowledgements whose payload was not JSON with an integer `code`, or
    /// whose `data` was not valid base64.
    pub malformed_acks: u64,
    /// Events sent (each delivery attempt counts once, however many fragments).
    pub events_sent: u64,
    /// Of [`WsStats::events_sent`], the attempts after the first one.
    pub redeliveries: u64,
    /// Data frames sent (fragments count one each).
    pub data_frames_sent: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnCmd {
    Run,
    Drop,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    Running,
    Graceful,
    Abort,
}

#[derive(Debug, Clone)]
struct Outgoing {
    /// Push order, used to keep the queue FIFO across requeues.
    order: u64,
    message_id: String,
    kind: &'static str,
    payload: Arc<Vec<u8>>,
    not_before: Option<Instant>,
    attempts: u64,
    /// With spreading on: the connection this delivery attempt was given to.
    target: Option<u64>,
}

#[derive(Debug)]
struct Inner {
    config: WsClientConfig,
    /// Replaces the host of connection URLs (`ws_set_url_host`).
    url_host: Option<String>,
    fragments: usize,
    silent: bool,
    /// Each delivery to a random live connection (else: the newest takes all).
    spread: bool,
    tickets: HashSet<String>,
    endpoint_faults: VecDeque<(i64, usize)>,
    refusals: VecDeque<(u16, Option<i64>, usize)>,
    queue: VecDeque<Outgoing>,
    /// message_id → (connection id, event).
    inflight: HashMap<String, (u64, Outgoing)>,
    delivered: Vec<String>,
    delivered_set: HashSet<String>,
    acks: Vec<WsAck>,
    conns: BTreeMap<u64, watch::Sender<ConnCmd>>,
    tasks: usize,
    counter: u64,
    stats: WsStats,
}

impl Inner {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Puts `item` back into the queue at its push-order position.
    fn requeue(&mut self, mut item: Outgoing) {
        item.target = None;
        let at = self.queue.partition_point(|q| q.order < item.order);
        self.queue.insert(at, item);
    }

    /// Records an ack and settles its event; `true` if the event was requeued.
    fn record_ack(&mut self, frame: Frame) -> bool {
        let parsed: Option<Value> = serde_json::from_slice(frame.payload_bytes()).ok();
        let code = parsed.as_ref().and_then(|v| v.get("code")?.as_i64());
        let data_field = parsed.as_ref().and_then(|v| v.get("data")).cloned();
        let data = match data_field {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => STANDARD.decode(s.as_bytes()).map(Some).map_err(drop),
            Some(_) => Err(()),
        };
        if code.is_none() || data.is_err() {
            self.stats.malformed_acks += 1;
        }
        let ack = WsAck {
            message_id: frame.header("message_id").unwrap_or_default().to_owned(),
            seq_id: frame.seq_id.unwrap_or(0),
            code: code.unwrap_or(-1),
            biz_rt: frame.header("biz_rt").map(str::to_owned),
            data: data.unwrap_or(None),
            headers: frame.headers,
        };
        self.stats.acks += 1;
        let settled = self.inflight.remove(&ack.message_id);
        let mut requeued = false;
        if let Some((_, mut item)) = settled {
            if ack.code == 200 {
                if self.delivered_set.insert(ack.message_id.clone()) {
                    self.delivered.push(ack.message_id.clone());
                }
            } else {
                item.not_before = Some(Instant::now() + NACK_REDELIVERY_DELAY);
                self.requeue(item);
                requeued = true;
            }
        }
        self.acks.push(ack);
        requeued
    }

    /// The live connection a delivery given to `target` goes to (spreading):
    /// that one while it lives, else a random one.
    fn pick_target(&self, target: Option<u64>) -> u64 {
        if let Some(t) = target.filter(|t| self.conns.contains_key(t)) {
            return t;
        }
        let n = self.conns.len();
        self.conns
            .keys()
            .nth(fastrand::usize(..n.max(1)))
            .copied()
            .unwrap_or_default()
    }

    /// The data frames of one delivery attempt, in sending order.
    fn frames_for(&mut self, item: &Outgoing) -> Vec<Vec<u8>> {
        let payload = item.payload.as_slice();
        let n = self.fragments.clamp(1, payload.len().max(1));
        let trace_id = format!("{:016x}", fastrand::u64(..));
        let timestamp = unix_millis().to_string();
        let sum = n.to_string();
        let mut frames: Vec<Frame> = (0..n)
            .map(|i| {
                let start = (i as u128 * payload.len() as u128 / n as u128) as usize;
                let end = ((i as u128 + 1) * payload.len() as u128 / n as u128) as usize;
                Frame::new(0, 0, WS_SERVICE_ID, METHOD_DATA)
                    .with_header("type", item.kind)
                    .with_header("message_id", &item.message_id)
                    .with_header("sum", &sum)
                    .with_header("seq", &i.to_string())
                    .with_header("trace_id", &trace_id)
                    .with_header("timestamp", &timestamp)
                    .with_payload(payload.get(start..end).unwrap_or_default())
            })
            .collect();
        if n > 1 {
            // A shuffled order that is never the natural one, so that clients
            // must reassemble by `seq`.
            let mut rng = fastrand::Rng::with_seed(item.order ^ (item.attempts << 32));
            rng.shuffle(&mut frames);
            if frames
                .iter()
                .enumerate()
                .all(|(i, f)| f.header("seq") == Some(i.to_string().as_str()))
            {
                frames.rotate_left(1);
            }
        }
        frames
            .into_iter()
            .map(|mut f| {
                let seq = self.next();
                f.seq_id = Some(seq);
                f.log_id = Some(seq.wrapping_mul(0x9e37_79b9) & 0xffff_ffff_ffff);
                self.stats.data_frames_sent += 1;
                f.encode()
            })
            .collect()
    }
}

/// The long-connection part of the mock's shared state.
#[derive(Debug)]
pub(crate) struct WsState {
    /// `ws://host:port` or `wss://host:port`: the start of connection URLs.
    base: String,
    inner: Mutex<Inner>,
    /// Bumped when connection tasks may have something to send.
    queue_tx: watch::Sender<u64>,
    /// Bumped on every observable change (for waiters).
    changes_tx: watch::Sender<u64>,
    stop_tx: watch::Sender<StopMode>,
}

impl WsState {
    pub(crate) fn set_url_host(&self, host: Option<String>) {
        lock(&self.inner).url_host = host;
    }

    pub(crate) fn new(base: String) -> WsState {
        WsState {
            base,
            inner: Mutex::new(Inner {
                config: WsClientConfig::default(),
                url_host: None,
                fragments: 1,
                silent: false,
                spread: false,
                tickets: HashSet::new(),
                endpoint_faults: VecDeque::new(),
                refusals: VecDeque::new(),
                queue: VecDeque::new(),
                inflight: HashMap::new(),
                delivered: Vec::new(),
                delivered_set: HashSet::new(),
                acks: Vec::new(),
                conns: BTreeMap::new(),
                tasks: 0,
                counter: 0,
                stats: WsStats::default(),
            }),
            queue_tx: watch::Sender::new(0),
            changes_tx: watch::Sender::new(0),
            stop_tx: watch::Sender::new(StopMode::Running),
        }
    }

    fn wake_senders(&self) {
        self.queue_tx.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn changed(&self) {
        self.changes_tx.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changes_tx.subscribe()
    }

    // ---- public API helpers ----------------------------------------------

    pub(crate) fn push(&self, kind: &'static str, event: &Value) -> String {
        let payload = serde_json::to_vec(event).unwrap_or_default();
        let mut g = lock(&self.inner);
        let order = g.next();
        let message_id = format!("mock_msg_{order:08}_{:08x}", fastrand::u32(..));
        g.queue.push_back(Outgoing {
            order,
            message_id: message_id.clone(),
            kind,
            payload: Arc::new(payload),
            not_before: None,
            attempts: 0,
            target: None,
        });
        drop(g);
        self.wake_senders();
        self.changed();
        message_id
    }

    pub(crate) fn acks(&self) -> Vec<WsAck> {
        lock(&self.inner).acks.clone()
    }

    pub(crate) fn delivered(&self) -> Vec<String> {
        lock(&self.inner).delivered.clone()
    }

    pub(crate) fn pending(&self) -> usize {
        let g = lock(&self.inner);
        g.queue.len() + g.inflight.len()
    }

    pub(crate) fn set_fragments(&self, n: usize) {
        lock(&self.inner).fragments = n.max(1);
    }

    pub(crate) fn set_client_config(&self, cfg: WsClientConfig) {
        lock(&self.inner).config = cfg;
    }

    pub(crate) fn set_spread(&self, spread: bool) {
        lock(&self.inner).spread = spread;
        self.wake_senders();
    }

    pub(crate) fn set_silent(&self, silent: bool) {
        lock(&self.inner).silent = silent;
        self.wake_senders();
        self.changed();
    }

    pub(crate) fn refuse_handshakes(&self, status: u16, auth_err_code: Option<i64>, times: usize) {
        if times > 0 {
            lock(&self.inner)
                .refusals
                .push_back((status, auth_err_code, times));
        }
    }

    pub(crate) fn endpoint_faults(&self, code: i64, times: usize) {
        if times > 0 {
            lock(&self.inner).endpoint_faults.push_back((code, times));
        }
    }

    /// Tells every live connection to end (`Drop`: abruptly, `Close`: with a
    /// close frame); they stop counting as live at once.
    fn end_connections(&self, cmd: ConnCmd) {
        let conns = std::mem::take(&mut lock(&self.inner).conns);
        for tx in conns.values() {
            tx.send_replace(cmd);
        }
        self.changed();
    }

    pub(crate) fn drop_connections(&self) {
        self.end_connections(ConnCmd::Drop);
    }

    pub(crate) fn close_connections(&self) {
        self.end_connections(ConnCmd::Close);
    }

    pub(crate) fn stats(&self) -> WsStats {
        let g = lock(&self.inner);
        let mut stats = g.stats.clone();
        stats.live_connections = g.conns.len();
        stats
    }

    /// Ends every connection task (`Graceful`: with a close frame) and refuses
    /// new handshakes. Only the first call has an effect.
    pub(crate) fn stop(&self, mode: StopMode) {
        self.stop_tx.send_if_modified(|m| {
            if *m == StopMode::Running {
                *m = mode;
                true
            } else {
                false
            }
        });
    }

    /// Waits (at most `timeout`) until every connection task has ended.
    pub(crate) async fn wait_idle(&self, timeout: Duration) {
        let mut rx = self.subscribe_changes();
        let idle = async {
            loop {
                rx.borrow_and_update();
                if lock(&self.inner).tasks == 0 {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, idle).await;
    }

    // ---- connection bookkeeping --------------------------------------------

    fn register(&self) -> (u64, watch::Receiver<ConnCmd>) {
        let (tx, rx) = watch::channel(ConnCmd::Run);
        let mut g = lock(&self.inner);
        let id = g.next();
        g.conns.insert(id, tx);
        g.tasks += 1;
        g.stats.connections_opened += 1;
        drop(g);
        self.changed();
        (id, rx)
    }

    fn unregister(&self, id: u64) {
        let mut g = lock(&self.inner);
        g.conns.remove(&id);
        g.tasks = g.tasks.saturating_sub(1);
        let orphaned: Vec<String> = g
            .inflight
            .iter()
            .filter(|(_, (conn, _))| *conn == id)
            .map(|(mid, _)| mid.clone())
            .collect();
        for mid in orphaned {
            if let Some((_, mut item)) = g.inflight.remove(&mid) {
                item.not_before = None;
                g.requeue(item);
            }
        }
        drop(g);
        self.wake_senders();
        self.changed();
    }

    /// If connection `id` is the newest live one and the server is not
    /// silent, moves every due event to in-flight and returns the encoded
    /// frames to send; also returns when the next delayed event becomes due.
    fn take_due(&self, id: u64) -> (Vec<Vec<u8>>, Option<Instant>) {
        let mut g = lock(&self.inner);
        let newest = g.conns.keys().next_back() == Some(&id);
        if g.silent || !(newest || g.spread) || g.queue.is_empty() {
            return (Vec::new(), None);
        }
        let now = Instant::now();
        let mut frames = Vec::new();
        let mut next_due: Option<Instant> = None;
        let mut waiting = VecDeque::new();
        let mut handed_over = false;
        while let Some(mut item) = g.queue.pop_front() {
            match item.not_before {
                Some(t) if t > now => {
                    next_due = Some(next_due.map_or(t, |d| d.min(t)));
                    waiting.push_back(item);
                }
                _ => {
                    if g.spread {
                        let target = g.pick_target(item.target);
                        // Wake the others only for a new assignment (not in a loop).
                        let assigned = item.target.replace(target) != Some(target);
                        if target != id {
                            handed_over |= assigned;
                            waiting.push_back(item);
                            continue;
                        }
                    }
                    frames.extend(g.frames_for(&item));
                    g.stats.events_sent += 1;
                    if item.attempts > 0 {
                        g.stats.redeliveries += 1;
                    }
                    item.attempts += 1;
                    item.not_before = None;
                    g.inflight.insert(item.message_id.clone(), (id, item));
                }
            }
        }
        g.queue = waiting;
        let sent = !frames.is_empty();
        drop(g);
        if handed_over {
            self.wake_senders();
        }
        if sent {
            self.changed();
        }
        (frames, next_due)
    }

    /// Handles one binary message from connection `id`; returns the encoded
    /// reply, if any (`reply_allowed: false` suppresses it).
    fn on_frame(&self, data: &[u8], reply_allowed: bool) -> Option<Vec<u8>> {
        let mut g = lock(&self.inner);
        g.stats.frames_received += 1;
        let frame = match Frame::decode(data) {
            Ok(frame) => frame,
            Err(_) => {
                g.stats.undecodable_frames += 1;
                drop(g);
                self.changed();
                return None;
            }
        };
        if !frame.has_required_fields() {
            g.stats.frames_missing_required_fields += 1;
        }
        if frame.service.unwrap_or(0) != WS_SERVICE_ID {
            g.stats.frames_with_wrong_service += 1;
        }
        let mut reply = None;
        match frame.method.unwrap_or(0) {
            METHOD_CONTROL if frame.header("type") == Some("ping") => {
                g.stats.pings += 1;
                if reply_allowed && !g.silent {
                    g.stats.pongs += 1;
                    let config = serde_json::to_vec(&g.config.to_json()).unwrap_or_default();
                    let pong = Frame::new(
                        frame.seq_id.unwrap_or(0),
                        frame.log_id.unwrap_or(0),
                        WS_SERVICE_ID,
                        METHOD_CONTROL,
                    )
                    .with_header("type", "pong")
                    .with_payload(config);
                    reply = Some(pong.encode());
                }
            }
            METHOD_DATA => {
                let requeued = g.record_ack(frame);
                if requeued {
                    drop(g);
                    self.wake_senders();
                    self.changed();
                    return None;
                }
            }
            _ => {}
        }
        drop(g);
        self.changed();
        reply
    }
}

// ---- HTTP side ---------------------------------------------------------------

fn endpoint_fault_msg(code: i64) -> &'static str {
    match code {
        1 => "system busy",
        1_000_040_343 => "internal error",
        1_000_040_344 => "no credential",
        1_000_040_350 => "exceed connection limit",
        403 => "forbidden",
        514 => "auth failed",
        _ => "mock endpoint fault",
    }
}

/// `POST /callback/ws/endpoint`.
pub(crate) fn endpoint(ctx: &Ctx<'_>, method: &str, body: &[u8]) -> Response {
    if method != "POST" {
        return ctx.error(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            "method not allowed",
            None,
        );
    }
    let st = &ctx.sh.ws;
    let mut g = lock(&st.inner);
    g.stats.endpoint_calls += 1;
    let answer = if let Some(front) = g.endpoint_faults.front_mut() {
        let code = front.0;
        front.1 -= 1;
        if front.1 == 0 {
            g.endpoint_faults.pop_front();
        }
        json!({"code": code, "msg": endpoint_fault_msg(code)})
    } else {
        let creds: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let field = |k: &str| creds.get(k).and_then(Value::as_str);
        // The app secret, or (with an empty secret) a client assertion of a JWT's shape.
        let authenticated = match field("AppSecret") {
            Some("") => {
                field("ClientAssertion").is_some_and(|a| crate::oauth::assertion_shape(a).is_ok())
            }
            secret => secret == Some(APP_SECRET),
        };
        if field("AppID") != Some(APP_ID) || !authenticated {
            json!({"code": CODE_NO_CREDENTIAL, "msg": "invalid app credential"})
        } else {
            let n = g.next();
            let ticket = format!("{:016x}{n:06x}", fastrand::u64(..));
            g.tickets.insert(ticket.clone());
            let base = match &g.url_host {
                None => st.base.clone(),
                Some(host) => {
                    let (scheme, authority) = st.base.split_once("://").unwrap_or(("ws", ""));
                    let port = authority.rsplit_once(':').map_or("", |(_, p)| p);
                    format!("{scheme}://{host}:{port}")
                }
            };
            let url = format!(
                "{base}{WS_CONNECT_PATH}?device_id=mock-device-{n}&service_id={WS_SERVICE_ID}&ticket={ticket}"
            );
            json!({
                "code": 0,
                "msg": "ok",
                "data": {"URL": url, "ClientConfig": g.config.to_json()},
            })
        }
    };
    drop(g);
    st.changed();
    ctx.json(StatusCode::OK, &answer)
}

fn refusal(status: u16, auth_err_code: Option<i64>, msg: &'static str) -> Response {
    let http_status = match status {
        200..=999 => StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = json!({"code": status, "msg": msg});
    let mut resp = json_response(http_status, serde_json::to_vec(&body).unwrap_or_default());
    let headers = resp.headers_mut();
    headers.insert(
        HeaderName::from_static("handshake-status"),
        HeaderValue::from(status),
    );
    headers.insert(
        HeaderName::from_static("handshake-msg"),
        HeaderValue::from_static(msg),
    );
    if let Some(code) = auth_err_code {
        headers.insert(
            HeaderName::from_static("handshake-autherrcode"),
            HeaderValue::from(code),
        );
    }
    resp
}

/// `GET /callback/ws/connect?...&ticket=...` with a WebSocket upgrade.
pub(crate) fn connect(
    sh: &Arc<Shared>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    query: &[(String, String)],
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let st = &sh.ws;
    let ticket = query
        .iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.as_str());
    let mut g = lock(&st.inner);
    // A ticket is single-use even when the handshake is refused for another reason.
    let ticket_ok = ticket.is_some_and(|t| g.tickets.remove(t));
    let refused = if let Some(front) = g.refusals.front_mut() {
        let (status, code) = (front.0, front.1);
        front.2 -= 1;
        if front.2 == 0 {
            g.refusals.pop_front();
        }
        Some(refusal(status, code, "handshake refused by the mock"))
    } else if !ticket_ok {
        Some(refusal(514, None, "invalid or already used ticket"))
    } else if *st.stop_tx.borrow() != StopMode::Running {
        Some(refusal(503, None, "mock is shutting down"))
    } else {
        None
    };
    if let Some(resp) = refused {
        g.stats.handshakes_refused += 1;
        drop(g);
        st.changed();
        return resp;
    }
    drop(g);
    let sh = Arc::clone(sh);
    upgrade
        .max_message_size(64 << 20)
        .on_upgrade(move |socket| serve(sh, socket))
}

// ---- connection task ---------------------------------------------------------

/// Unregisters the connection however its task ends (return, panic, abort).
struct Registration<'a> {
    st: &'a WsState,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.st.unregister(self.id);
    }
}

enum Ending {
    Abrupt,
    Graceful,
}

async fn serve(sh: Arc<Shared>, mut socket: WebSocket) {
    let st = &sh.ws;
    let mut stop = st.stop_tx.subscribe();
    let mut queue = st.queue_tx.subscribe();
    let (id, mut cmd) = st.register();
    let _registration = Registration { st, id };
    let ending = loop {
        queue.borrow_and_update();
        match *stop.borrow_and_update() {
            StopMode::Running => {}
            StopMode::Graceful => break Ending::Graceful,
            StopMode::Abort => break Ending::Abrupt,
        }
        match *cmd.borrow_and_update() {
            ConnCmd::Run => {}
            ConnCmd::Drop => break Ending::Abrupt,
            ConnCmd::Close => break Ending::Graceful,
        }
        let (frames, next_due) = st.take_due(id);
        let mut send_failed = false;
        for frame in frames {
            if socket.send(Message::Binary(frame.into())).await.is_err() {
                send_failed = true;
                break;
            }
        }
        if send_failed {
            break Ending::Abrupt;
        }
        let due = async move {
            match next_due {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            changed = stop.changed() => if changed.is_err() { break Ending::Abrupt },
            changed = cmd.changed() => if changed.is_err() { break Ending::Abrupt },
            _ = queue.changed() => {}
            _ = due => {}
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    if let Some(reply) = st.on_frame(&data, true)
                        && socket.send(Message::Binary(reply.into())).await.is_err() {
                            break Ending::Abrupt;
                        }
                }
                Some(Ok(Message::Text(_))) => {
                    lock(&st.inner).stats.text_messages += 1;
                    st.changed();
                }
                // Pings are answered by tungstenite; after a close frame the
                // next read ends the stream.
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break Ending::Abrupt,
            },
        }
    };
    if let Ending::Graceful = ending {
        let close = Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "closed by the mock".into(),
        }));
        if let Ok(Ok(())) = tokio::time::timeout(CLOSE_SEND_TIMEOUT, socket.send(close)).await {
            // Read until the client's close frame (or the end), still
            // recording acks, but give up when the mock is dropped.
            let drain = async {
                while let Some(Ok(msg)) = socket.recv().await {
                    if let Message::Binary(data) = msg {
                        st.on_frame(&data, false);
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::timeout(CLOSE_DRAIN_TIMEOUT, drain) => {}
                _ = stop.wait_for(|m| *m == StopMode::Abort) => {}
            }
        }
    }
    // Dropping the socket closes the TCP connection (no close frame when abrupt).
    drop(socket);
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}
