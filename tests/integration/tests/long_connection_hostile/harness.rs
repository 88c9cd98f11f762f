//! The harness: the hostile platform (an endpoint and a WebSocket server on loopback that
//! hand each connection to the test), frame builders, and a recording app.
//!
//! CPU is measured for the whole process (`/proc/self`), so the tests that measure take
//! [`EXCLUSIVE`] for writing and every other test takes it for reading: nothing else runs
//! while something is measured.

pub(crate) use std::collections::HashSet;
pub(crate) use std::net::SocketAddr;
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::sync::{Arc, Mutex};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use bytes::Bytes;
pub(crate) use futures_util::{SinkExt as _, StreamExt as _};
pub(crate) use lark_oapi::dispatcher::EventDispatcher;
pub(crate) use lark_oapi::long_connection::frame::{Frame, Header};
pub(crate) use lark_oapi::long_connection::{
    LongConnection, LongConnectionBuilder, LongConnectionError, LongConnectionHandle,
};
pub(crate) use lark_oapi::{Config, Domain};
pub(crate) use serde_json::{Value, json};
pub(crate) use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
pub(crate) use tokio::net::{TcpListener, TcpStream};
pub(crate) use tokio::sync::{RwLock, mpsc};
pub(crate) use tokio_tungstenite::WebSocketStream;
pub(crate) use tokio_tungstenite::tungstenite::Message;
pub(crate) use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Measuring tests hold it for writing, the others for reading.
pub(crate) static EXCLUSIVE: RwLock<()> = RwLock::const_new(());

pub(crate) const SERVICE: i32 = 7;
pub(crate) const WAIT: Duration = Duration::from_secs(5);
pub(crate) const MIB: usize = 1 << 20;

// ---- measuring ---------------------------------------------------------------------------

/// CPU time (user + system) of the process so far.
pub(crate) fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime field 14, stime field 15 (1-based).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on Linux.
    Duration::from_millis((ticks(14) + ticks(15)) * 10)
}

// ---- frames ------------------------------------------------------------------------------

pub(crate) fn frame(method: i32, headers: &[(&str, &str)], payload: Option<Vec<u8>>) -> Frame {
    Frame {
        seq_id: 11,
        log_id: 12,
        service: SERVICE,
        method,
        headers: headers
            .iter()
            .map(|(k, v)| Header {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect(),
        payload_encoding: None,
        payload_type: None,
        payload: payload.map(Bytes::from),
        log_id_new: None,
    }
}

/// A data frame of type `event`.
pub(crate) fn data(message_id: &str, sum: &str, seq: &str, payload: Vec<u8>) -> Frame {
    frame(
        1,
        &[
            ("type", "event"),
            ("message_id", message_id),
            ("sum", sum),
            ("seq", seq),
            ("trace_id", "trace"),
        ],
        Some(payload),
    )
}

/// A whole event in one frame.
pub(crate) fn single(message_id: &str, payload: Vec<u8>) -> Frame {
    data(message_id, "1", "0", payload)
}

/// `payload` split into `n` fragments of one message.
pub(crate) fn fragments(message_id: &str, payload: &[u8], n: usize) -> Vec<Frame> {
    let size = payload.len().div_ceil(n);
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, c)| data(message_id, &n.to_string(), &i.to_string(), c.to_vec()))
        .collect()
}

/// A v2 `im.message.receive_v1` envelope; the handler records `event_id` and `event.text`.
pub(crate) fn event(event_id: &str, text: &str) -> Vec<u8> {
    json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1",
                   "create_time": "1700000000000", "token": "", "app_id": lark_oapi_mock::APP_ID,
                   "tenant_key": "tk"},
        "event": {"text": text}
    })
    .to_string()
    .into_bytes()
}

/// An event whose JSON is exactly `len` bytes.
pub(crate) fn event_of_len(event_id: &str, len: usize) -> Vec<u8> {
    let base = event(event_id, "").len();
    let bytes = event(event_id, &"x".repeat(len - base));
    assert_eq!(bytes.len(), len);
    bytes
}

pub(crate) fn ack_code(ack: &Frame) -> i64 {
    ack.payload
        .as_deref()
        .and_then(|p| serde_json::from_slice::<Value>(p).ok())
        .and_then(|v| v["code"].as_i64())
        .unwrap_or(-1)
}

// ---- the hostile platform ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum EndpointMode {
    /// The connection URL and the current `ClientConfig`.
    Normal,
    /// Accepts the request and never answers.
    Hang,
    /// 200 with this many bytes of whitespace before the JSON, no length, then close.
    HugeBody(usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum WsMode {
    /// Upgrades and hands the connection to the test ([`Server::peer`]).
    Hand,
    /// Upgrades, then closes at once (a Close frame).
    CloseAfterHandshake,
    /// Accepts TCP, never answers the upgrade.
    Stall,
    /// Answers `101` and then one header line that never ends.
    EndlessHandshake,
}

pub(crate) struct State {
    pub(crate) client_config: Mutex<Option<Value>>,
    pub(crate) endpoint: Mutex<EndpointMode>,
    pub(crate) ws_mode: Mutex<WsMode>,
    pub(crate) endpoint_calls: AtomicUsize,
    pub(crate) tcp_accepts: AtomicUsize,
    pub(crate) handshakes: AtomicUsize,
}

pub(crate) struct Server {
    pub(crate) http: SocketAddr,
    pub(crate) state: Arc<State>,
    pub(crate) peers: tokio::sync::Mutex<mpsc::UnboundedReceiver<Peer>>,
}

pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None)
}

impl Server {
    /// `client_config`: the `ClientConfig` of endpoint answers (absent if `None`).
    pub(crate) async fn start(client_config: Option<Value>) -> Server {
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_addr = http.local_addr().unwrap();
        let ws_addr = ws.local_addr().unwrap();
        let state = Arc::new(State {
            client_config: Mutex::new(client_config),
            endpoint: Mutex::new(EndpointMode::Normal),
            ws_mode: Mutex::new(WsMode::Hand),
            endpoint_calls: AtomicUsize::new(0),
            tcp_accepts: AtomicUsize::new(0),
            handshakes: AtomicUsize::new(0),
        });
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = http.accept().await {
                tokio::spawn(serve_endpoint(tcp, st.clone(), ws_addr));
            }
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = ws.accept().await {
                st.tcp_accepts.fetch_add(1, Ordering::SeqCst);
                let mode = *st.ws_mode.lock().unwrap();
                let (st, tx) = (st.clone(), tx.clone());
                tokio::spawn(async move { serve_ws(tcp, mode, st, tx).await });
            }
        });
        Server {
            http: http_addr,
            state,
            peers: tokio::sync::Mutex::new(rx),
        }
    }

    /// The platform's usual fast test settings: reconnect at once, ping every 5 s.
    pub(crate) async fn fast() -> Server {
        Server::start(Some(json!({
            "PingInterval": 5, "ReconnectCount": -1, "ReconnectInterval": 0, "ReconnectNonce": 0
        })))
        .await
    }

    pub(crate) fn set_endpoint(&self, mode: EndpointMode) {
        *self.state.endpoint.lock().unwrap() = mode;
    }

    pub(crate) fn set_ws_mode(&self, mode: WsMode) {
        *self.state.ws_mode.lock().unwrap() = mode;
    }

    pub(crate) fn handshakes(&self) -> usize {
        self.state.handshakes.load(Ordering::SeqCst)
    }

    pub(crate) fn tcp_accepts(&self) -> usize {
        self.state.tcp_accepts.load(Ordering::SeqCst)
    }

    /// The next upgraded connection (mode [`WsMode::Hand`]).
    pub(crate) async fn peer(&self) -> Peer {
        self.try_peer(WAIT).await.expect("the client connects")
    }

    pub(crate) async fn try_peer(&self, timeout: Duration) -> Option<Peer> {
        let mut rx = self.peers.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }

    pub(crate) fn client(&self) -> lark_oapi::Client {
        let config = Config::builder(lark_oapi_mock::APP_ID, lark_oapi_mock::APP_SECRET)
            .domain(Domain::custom(format!("http://{}", self.http)))
            .build()
            .unwrap();
        lark_oapi::Client::new(config)
    }

    /// A client with short timers, no proxy, quick reconnects before the server's settings.
    pub(crate) fn builder(&self, dispatcher: EventDispatcher) -> LongConnectionBuilder {
        LongConnection::builder(&self.client(), dispatcher)
            .no_proxy()
            .reconnect(Duration::from_millis(100), Duration::ZERO, None)
            .connect_timeout(Duration::from_secs(2))
            .shutdown_grace(Duration::from_secs(1))
    }
}

pub(crate) async fn read_http_request(tcp: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = tcp.read(&mut chunk).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                match tcp.read(&mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return true;
        }
    }
}

pub(crate) async fn serve_endpoint(mut tcp: TcpStream, st: Arc<State>, ws: SocketAddr) {
    if !read_http_request(&mut tcp).await {
        return;
    }
    st.endpoint_calls.fetch_add(1, Ordering::SeqCst);
    let mut data = json!({"URL": format!("ws://{ws}/ws?device_id=hostile&service_id={SERVICE}")});
    if let Some(cfg) = st.client_config.lock().unwrap().clone() {
        data["ClientConfig"] = cfg;
    }
    let body = json!({"code": 0, "msg": "ok", "data": data}).to_string();
    let mode = *st.endpoint.lock().unwrap();
    match mode {
        EndpointMode::Normal => {
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(response.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
        EndpointMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        EndpointMode::HugeBody(n) => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
            if tcp.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let spaces = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < n {
                if tcp.write_all(&spaces).await.is_err() {
                    return;
                }
                sent += spaces.len();
            }
            let _ = tcp.write_all(body.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
    }
}

pub(crate) async fn serve_ws(
    mut tcp: TcpStream,
    mode: WsMode,
    st: Arc<State>,
    tx: mpsc::UnboundedSender<Peer>,
) {
    match mode {
        WsMode::Hand | WsMode::CloseAfterHandshake => {
            let Ok(mut ws) =
                tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config())).await
            else {
                return;
            };
            st.handshakes.fetch_add(1, Ordering::SeqCst);
            if mode == WsMode::Hand {
                let _ = tx.send(Peer::new(ws));
            } else {
                let _ = ws.close(None).await;
            }
        }
        WsMode::Stall => {
            let mut sink = [0u8; 1024];
            while let Ok(n) = tcp.read(&mut sink).await {
                if n == 0 {
                    return;
                }
            }
        }
        WsMode::EndlessHandshake => {
            if !read_http_request(&mut tcp).await {
                return;
            }
            let _ = tcp
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nx-flood: ")
                .await;
            let flood = vec![b'a'; 16 * 1024];
            let mut sent = 0usize;
            // Bounded, so a client that never gives up cannot keep this test busy forever.
            while sent < 512 * MIB && tcp.write_all(&flood).await.is_ok() {
                sent += flood.len();
            }
        }
    }
}

/// One upgraded connection, driven by the test.
pub(crate) struct Peer {
    pub(crate) ws: WebSocketStream<TcpStream>,
    /// Payload of the pong sent for each client ping (`None`: pings are not answered).
    pub(crate) pong: Option<Vec<u8>>,
    pub(crate) pings: usize,
    /// Acknowledgements read but not (yet) waited for; acks may come in any order.
    pub(crate) other_acks: Vec<Frame>,
}

impl Peer {
    pub(crate) fn new(ws: WebSocketStream<TcpStream>) -> Self {
        Self {
            ws,
            pong: None,
            pings: 0,
            other_acks: Vec::new(),
        }
    }

    pub(crate) async fn send(&mut self, f: &Frame) -> bool {
        self.raw(Message::Binary(Bytes::from(f.to_bytes()))).await
    }

    /// Queues a frame without flushing (for bulk sends; `send` flushes).
    pub(crate) async fn feed(&mut self, f: &Frame) -> bool {
        self.ws
            .feed(Message::Binary(Bytes::from(f.to_bytes())))
            .await
            .is_ok()
    }

    pub(crate) async fn raw(&mut self, m: Message) -> bool {
        self.ws.send(m).await.is_ok()
    }

    /// The next frame from the client (pings counted and answered when `pong` is set);
    /// `None` at the deadline or when the connection ends.
    pub(crate) async fn next_frame(&mut self, deadline: tokio::time::Instant) -> Option<Frame> {
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            let Ok(Message::Binary(bytes)) = msg else {
                if msg.is_err() || matches!(msg, Ok(Message::Close(_))) {
                    return None;
                }
                continue;
            };
            let f = Frame::from_bytes(&bytes).expect("the client writes valid frames");
            if f.method == 0 && f.kind() == "ping" {
                self.pings += 1;
                if let Some(p) = self.pong.clone() {
                    let pong = frame(0, &[("type", "pong")], Some(p));
                    if !self.send(&pong).await {
                        return None;
                    }
                }
                continue;
            }
            return Some(f);
        }
    }

    /// The acknowledgement of `message_id`, within `timeout` (also one read earlier).
    pub(crate) async fn ack_for(&mut self, message_id: &str, timeout: Duration) -> Option<Frame> {
        if let Some(i) = self
            .other_acks
            .iter()
            .position(|f| f.header("message_id") == Some(message_id))
        {
            return Some(self.other_acks.remove(i));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let f = self.next_frame(deadline).await?;
            if f.header("message_id") == Some(message_id) {
                return Some(f);
            }
            self.other_acks.push(f);
        }
    }

    /// Message ids of the acknowledgements nobody waited for.
    pub(crate) fn unclaimed(&self) -> Vec<String> {
        self.other_acks
            .iter()
            .map(|f| f.header("message_id").unwrap_or_default().to_owned())
            .collect()
    }

    /// Reads (answering pings) for `d`; `false` if the connection ended meanwhile.
    pub(crate) async fn idle(&mut self, d: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            if tokio::time::Instant::now() >= deadline {
                return true;
            }
            match self.next_frame(deadline).await {
                Some(f) => self.other_acks.push(f),
                None => return tokio::time::Instant::now() >= deadline,
            }
        }
    }

    /// Keeps the connection read (close handshakes answered) in the background.
    pub(crate) fn drain(mut self) {
        tokio::spawn(async move { while let Some(Ok(_)) = self.ws.next().await {} });
    }
}

// ---- the app -----------------------------------------------------------------------------

#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) events: Mutex<Vec<(String, String)>>,
    pub(crate) calls: AtomicUsize,
    pub(crate) running: AtomicUsize,
    pub(crate) max_running: AtomicUsize,
}

impl Seen {
    pub(crate) fn ids(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Records each `im.message.receive_v1` (event id, text), then sleeps `delay`.
pub(crate) fn recorder(delay: Duration) -> (EventDispatcher, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let dispatcher = EventDispatcher::builder()
        .on_raw("im.message.receive_v1", move |ev| {
            let s = s.clone();
            async move {
                s.calls.fetch_add(1, Ordering::SeqCst);
                let now = s.running.fetch_add(1, Ordering::SeqCst) + 1;
                s.max_running.fetch_max(now, Ordering::SeqCst);
                s.events.lock().unwrap().push((
                    ev.event_id.clone().unwrap_or_default(),
                    ev.payload["text"].as_str().unwrap_or_default().to_owned(),
                ));
                tokio::time::sleep(delay).await;
                s.running.fetch_sub(1, Ordering::SeqCst);
                Ok(None)
            }
        })
        .build();
    (dispatcher, seen)
}

pub(crate) async fn stop(conn: LongConnectionHandle) -> Duration {
    let t = Instant::now();
    tokio::time::timeout(WAIT, conn.shutdown())
        .await
        .expect("shutdown must not hang")
        .expect("shutdown succeeds");
    t.elapsed()
}

/// Sends a fresh event on `peer` and asserts it is acknowledged with 200: the connection is
/// still usable.
pub(crate) async fn assert_alive(peer: &mut Peer, tag: &str) {
    let id = format!("alive-{tag}");
    assert!(
        peer.send(&single(&id, event(&id, "alive"))).await,
        "sending on the connection"
    );
    let ack = peer
        .ack_for(&id, WAIT)
        .await
        .unwrap_or_else(|| panic!("the connection still works after {tag}"));
    assert_eq!(ack_code(&ack), 200);
}
