//! The long connection: receive events and callbacks over an outbound WebSocket instead of
//! a public HTTP endpoint (self-built apps only).
//!
//! [`LongConnection`] asks the platform for a connection URL (`POST
//! /callback/ws/endpoint`), connects, pings on the server's interval, reassembles
//! fragmented messages, hands every event to the same [`EventDispatcher`] that serves HTTP
//! callbacks, and acknowledges it with the handler's result, answer and processing time.
//! When the connection drops it reconnects with the server's count, interval and jitter; a
//! watchdog replaces a connection that has gone silent. [`LongConnectionHandle::shutdown`]
//! stops taking events, lets the handlers in flight finish and acknowledge, closes the
//! socket and ends every task.
//!
//! ```no_run
//! use lark_oapi_core::dispatcher::EventDispatcher;
//! use lark_oapi_core::long_connection::LongConnection;
//! use lark_oapi_core::{Client, Config};
//!
//! # async fn run() -> lark_oapi_core::Result<()> {
//! let client = Client::new(Config::builder("cli_a1b2c3d4e5f60718", "app-secret").build()?);
//! let dispatcher = EventDispatcher::builder()
//!     .on_raw("im.message.receive_v1", |event| async move {
//!         println!("message: {}", event.payload["message"]["content"]);
//!         Ok(None)
//!     })
//!     .build();
//! // A `LongConnectionError` converts into the SDK's `Error`, so `?` works here.
//! let connection = LongConnection::builder(&client, dispatcher).build().start().await?;
//! let _ = tokio::signal::ctrl_c().await;
//! connection.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (and lowercase), minus
//! `NO_PROXY`, as HTTP `CONNECT` tunnels; override with [`LongConnectionBuilder::proxy`].

pub mod frame;
mod lifecycle;
mod session;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use lifecycle::Lifecycle;
pub use lifecycle::{ConnectionState, LifecycleEvent};

use crate::client::Client;
use crate::dispatcher::EventDispatcher;

/// The connection settings the server sends (at the endpoint call and in every pong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// How often to ping.
    pub ping_interval: Duration,
    /// Reconnect attempts per outage; `None` for unlimited. A connection that drops within
    /// 10 s of opening has not ended the outage: it counts as a failed attempt.
    pub reconnect_count: Option<u32>,
    /// Wait between failed reconnect attempts (at least 100 ms is waited).
    pub reconnect_interval: Duration,
    /// Largest random wait before the first reconnect attempt.
    pub reconnect_nonce: Duration,
}

impl Default for ClientConfig {
    /// The platform's defaults: ping every 120 s, unlimited reconnects every 120 s, up to
    /// 30 s of jitter.
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(120),
            reconnect_count: None,
            reconnect_interval: Duration::from_secs(120),
            reconnect_nonce: Duration::from_secs(30),
        }
    }
}

impl ClientConfig {
    /// Reads `{"PingInterval", "ReconnectCount", "ReconnectInterval", "ReconnectNonce"}`
    /// (seconds) over `current`: an absent or unusable key keeps its current value, so a
    /// pong that carries only some settings does not reset the others. Numbers may come as
    /// integers, floats (`1.0`, `0.5`) or numeric strings. `None` if it is not an object.
    pub(crate) fn from_json(value: &serde_json::Value, current: &Self) -> Option<Self> {
        let map = value.as_object()?;
        let num = |key: &str| {
            let v = map.get(key)?;
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()))
                .filter(|n| n.is_finite())
        };
        // Clamped to a day: absurd values must not overflow the timers.
        let secs = |key: &str, current: Duration| {
            num(key).map_or(current, |s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0)))
        };
        Some(Self {
            ping_interval: secs("PingInterval", current.ping_interval).max(Duration::from_secs(1)),
            reconnect_count: match num("ReconnectCount") {
                // A fraction of an attempt is no attempt.
                Some(n) if n >= 0.0 => Some(n.min(f64::from(u32::MAX)) as u32),
                Some(_) => None,
                None => current.reconnect_count,
            },
            reconnect_interval: secs("ReconnectInterval", current.reconnect_interval),
            reconnect_nonce: secs("ReconnectNonce", current.reconnect_nonce),
        })
    }
}

/// Why the long connection could not be opened or kept.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LongConnectionError {
    /// The endpoint call failed: an HTTP error, or a non-zero `code`.
    #[error(
        "the long-connection endpoint failed (HTTP {http_status}, code {}): {msg}{}",
        code.map_or("none".to_owned(), |c| c.to_string()),
        endpoint_hint(*code, *fatal)
    )]
    Endpoint {
        /// The platform's `code`, if the answer was JSON.
        code: Option<i64>,
        /// The HTTP status.
        http_status: u16,
        /// The platform's message.
        msg: String,
        /// Whether retrying cannot help.
        fatal: bool,
    },
    /// The WebSocket upgrade was refused.
    #[error(
        "the WebSocket handshake was refused (status {status}, auth code {}): {msg}{}",
        auth_code.map_or("none".to_owned(), |c| c.to_string()),
        if *fatal { "; this is not retried (forbidden, or too many connections for this app)" } else { "" }
    )]
    Handshake {
        /// `handshake-status` (or the HTTP status).
        status: u16,
        /// `handshake-autherrcode`.
        auth_code: Option<i64>,
        /// `handshake-msg`.
        msg: String,
        /// Whether retrying cannot help.
        fatal: bool,
    },
    /// A network step failed (`endpoint`, `proxy`, `tcp`, `tls`, `handshake`, `connect`).
    #[error("long connection: {stage} failed: {message}")]
    Transport {
        /// Which step.
        stage: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The configuration cannot work; the message says how to fix it.
    #[error("invalid long-connection configuration: {0}")]
    Config(String),
    /// The connection dropped and every reconnect attempt the server allows failed.
    #[error("gave up reconnecting after {attempts} attempts; last error: {last}")]
    ReconnectsExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<LongConnectionError>,
    },
    /// The connection dropped and automatic reconnection is off.
    #[error("the long connection closed ({0}) and automatic reconnection is off")]
    Disconnected(String),
}

/// What to do about a fatal endpoint code.
fn endpoint_hint(code: Option<i64>, fatal: bool) -> &'static str {
    match (code, fatal) {
        (_, false) => "",
        (Some(1000040350), _) => {
            "; too many connections for this app: stop other instances or wait for them to close"
        }
        (Some(403), _) => {
            "; the app is forbidden to connect: check its status in the developer console"
        }
        _ => {
            "; check the app id and secret, that the app is self-built, and that long-connection mode is enabled in the developer console"
        }
    }
}

impl LongConnectionError {
    /// Whether retrying cannot help (bad credentials, forbidden, connection limit).
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Endpoint { fatal, .. } | Self::Handshake { fatal, .. } => *fatal,
            Self::Config(_) | Self::ReconnectsExhausted { .. } | Self::Disconnected(_) => true,
            Self::Transport { .. } => false,
        }
    }
}

/// Where the connection goes through.
#[derive(Clone)]
enum ProxySetting {
    FromEnv,
    Direct,
    Url(String),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FromEnv => f.write_str("FromEnv"),
            Self::Direct => f.write_str("Direct"),
            // The URL may carry credentials.
            Self::Url(_) => f.write_str("Url(<redacted>)"),
        }
    }
}

/// Builder of a [`LongConnection`]. The defaults suit most apps; the server's settings
/// (ping interval, reconnect count/interval/jitter) replace the builder's once it sends them.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client, dispatcher: lark_oapi_core::dispatcher::EventDispatcher) -> Result<(), lark_oapi_core::long_connection::LongConnectionError> {
/// use std::time::Duration;
/// use lark_oapi_core::long_connection::LongConnection;
/// let connection = LongConnection::builder(&client, dispatcher)
///     .proxy("http://user:pass@proxy.internal:3128") // instead of HTTPS_PROXY & co.
///     .max_in_flight(64)                             // reading pauses beyond that
///     .shutdown_grace(Duration::from_secs(5))
///     .build()
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LongConnectionBuilder {
    client: Client,
    dispatcher: EventDispatcher,
    auto_reconnect: bool,
    proxy: ProxySetting,
    watchdog: Option<Duration>,
    connect_timeout: Duration,
    fragment_ttl: Duration,
    max_message_bytes: usize,
    max_in_flight: usize,
    shutdown_grace: Duration,
    settings: ClientConfig,
    lifecycle: Lifecycle,
}

impl LongConnectionBuilder {
    /// Calls `f` with each [`LifecycleEvent`] and the [`ConnectionState`] it leaves, in
    /// order, from the connection's own task (keep it short; hand work to a channel). The
    /// first attempt's events happen inside [`LongConnection::start`]. A panic in `f` is
    /// caught and logged.
    ///
    /// ```no_run
    /// # async fn run(client: lark_oapi_core::Client, dispatcher: lark_oapi_core::dispatcher::EventDispatcher) -> Result<(), lark_oapi_core::long_connection::LongConnectionError> {
    /// use lark_oapi_core::long_connection::{LifecycleEvent, LongConnection};
    /// let connection = LongConnection::builder(&client, dispatcher)
    ///     .on_lifecycle(|event, state| match event {
    ///         LifecycleEvent::Error { message, fatal: true } => eprintln!("long connection down for good: {message}"),
    ///         other => println!("long connection: {other:?} -> {state:?}"),
    ///     })
    ///     .build()
    ///     .start()
    ///     .await?;
    /// println!("{:?}", connection.state()); // Connected
    /// # Ok(()) }
    /// ```
    pub fn on_lifecycle(
        mut self,
        f: impl Fn(&LifecycleEvent, ConnectionState) + Send + Sync + 'static,
    ) -> Self {
        self.lifecycle = Lifecycle::new(Some(Arc::new(f)));
        self
    }

    /// Settings used until the server sends its own (which replace them): the platform's
    /// defaults are [`ClientConfig::default`]. Set a short reconnect interval and no jitter
    /// here if a failed first attempt should be retried quickly.
    pub fn reconnect(mut self, interval: Duration, jitter: Duration, count: Option<u32>) -> Self {
        self.settings.reconnect_interval = interval;
        self.settings.reconnect_nonce = jitter;
        self.settings.reconnect_count = count;
        self
    }

    /// The ping interval used until the server sends its own (120 s by default).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.settings.ping_interval = interval.max(Duration::from_secs(1));
        self
    }

    /// Reconnect when the connection drops (on by default).
    pub fn auto_reconnect(mut self, on: bool) -> Self {
        self.auto_reconnect = on;
        self
    }

    /// Tunnel through this `http://[user:pass@]host:port` proxy instead of the one from
    /// the environment.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Ignore proxy environment variables.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Direct;
        self
    }

    /// Replace the connection when nothing (not even a pong) arrives for this long. By
    /// default: twice the server's ping interval plus 10 s.
    pub fn watchdog(mut self, silence: Duration) -> Self {
        self.watchdog = Some(silence);
        self
    }

    /// Time allowed for the endpoint call (its answer read included, at most 64 KiB of it),
    /// and again for TCP, proxy, TLS and the WebSocket handshake (10 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an incomplete fragmented message waits for its missing parts (10 s).
    pub fn fragment_ttl(mut self, ttl: Duration) -> Self {
        self.fragment_ttl = ttl;
        self
    }

    /// Largest message accepted, fragments joined (16 MiB by default). The WebSocket takes
    /// messages of this size plus 64 KiB for the frame's own fields, so a message within the
    /// limit always arrives, and one over it is refused without reading further. Incomplete
    /// fragmented messages together hold at most 4 times this, and so do running handlers'
    /// payloads (reading pauses beyond that).
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Most handlers running at once; reading pauses at the limit (256 by default), and also
    /// while running handlers hold 4 × [`max_message_bytes`](Self::max_message_bytes) of
    /// payloads. Handlers are bounded by the dispatcher's
    /// [`handler_timeout`](crate::dispatcher::EventDispatcherBuilder::handler_timeout), so a
    /// stuck one frees its slot.
    pub fn max_in_flight(mut self, handlers: usize) -> Self {
        self.max_in_flight = handlers.max(1);
        self
    }

    /// How long [`LongConnectionHandle::shutdown`] waits for handlers in flight to finish
    /// and be acknowledged (10 s by default).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// The connection, not yet started.
    pub fn build(self) -> LongConnection {
        LongConnection { builder: self }
    }
}

/// A long-connection client, ready to [`start`](LongConnection::start).
#[derive(Debug)]
pub struct LongConnection {
    builder: LongConnectionBuilder,
}

/// Counters of a running connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Connections opened (the first one included).
    pub connections: u64,
    /// Reconnect attempts, failed ones included.
    pub reconnect_attempts: u64,
    /// Whole messages received (fragments joined).
    pub events: u64,
    /// Acknowledgements written to the socket.
    pub acks: u64,
    /// Handlers that failed (acknowledged with code 500).
    pub handler_failures: u64,
    /// Pings sent.
    pub pings: u64,
    /// Connections replaced because they went silent.
    pub watchdog_fired: u64,
    /// Frames that could not be decoded or reassembled.
    pub bad_frames: u64,
    /// Bytes held now by incomplete fragmented messages (at most 4 × the message size
    /// limit).
    pub pending_fragment_bytes: u64,
    /// Whether a connection is open now.
    pub connected: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    reconnect_attempts: AtomicU64,
    events: AtomicU64,
    acks: AtomicU64,
    handler_failures: AtomicU64,
    pings: AtomicU64,
    watchdog_fired: AtomicU64,
    bad_frames: AtomicU64,
    pending_fragment_bytes: AtomicU64,
    connected: AtomicBool,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ConnectionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionStats {
            connections: get(&self.connections),
            reconnect_attempts: get(&self.reconnect_attempts),
            events: get(&self.events),
            acks: get(&self.acks),
            handler_failures: get(&self.handler_failures),
            pings: get(&self.pings),
            watchdog_fired: get(&self.watchdog_fired),
            bad_frames: get(&self.bad_frames),
            pending_fragment_bytes: get(&self.pending_fragment_bytes),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }
}

/// A running long connection.
///
/// Dropping the handle does not stop the connection; call [`shutdown`](Self::shutdown)
/// (or [`ShutdownSignal::shutdown`] from elsewhere).
///
/// ```no_run
/// # async fn run(connection: lark_oapi_core::long_connection::LongConnectionHandle) -> Result<(), lark_oapi_core::long_connection::LongConnectionError> {
/// let stop = connection.shutdown_signal();
/// tokio::spawn(async move {
///     let _ = tokio::signal::ctrl_c().await;
///     stop.shutdown(); // from anywhere
/// });
/// let stats = connection.stats();
/// println!("{} events, {} reconnects", stats.events, stats.reconnect_attempts);
/// connection.wait().await?; // returns once stopped: handlers in flight acknowledged first
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LongConnectionHandle {
    stop: ShutdownSignal,
    task: JoinHandle<Result<(), LongConnectionError>>,
    counters: Arc<Counters>,
    lifecycle: Lifecycle,
}

/// Stops a running long connection from anywhere; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownSignal {
    /// Asks the connection to stop; [`LongConnectionHandle::wait`] then returns.
    pub fn shutdown(&self) {
        let _ = self.tx.send(true);
    }
}

impl LongConnectionHandle {
    /// Where the connection stands now.
    pub fn state(&self) -> ConnectionState {
        self.lifecycle.state()
    }

    /// The state as it changes (a `tokio` watch: `changed().await`, then `borrow()`; quick
    /// changes between two looks are seen as the last one, use
    /// [`LongConnectionBuilder::on_lifecycle`] to see every step).
    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.lifecycle.watch()
    }

    /// Counters of the connection so far.
    pub fn stats(&self) -> ConnectionStats {
        self.counters.snapshot()
    }

    /// A signal that stops the connection, for another task.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.stop.clone()
    }

    /// Stops taking events, waits (up to the grace period) for handlers in flight to finish
    /// and be acknowledged, closes the socket, and returns when every task has ended.
    pub async fn shutdown(self) -> Result<(), LongConnectionError> {
        self.stop.shutdown();
        self.wait().await
    }

    /// Runs until the connection ends: after a shutdown (`Ok`), or a fatal error or
    /// exhausted reconnects (`Err`).
    pub async fn wait(self) -> Result<(), LongConnectionError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(LongConnectionError::Transport {
                stage: "supervisor",
                message: e.to_string(),
            }),
        }
    }
}

impl LongConnection {
    /// A connection for `client`'s app (its id, secret and domain; self-built apps only)
    /// that hands events to `dispatcher`. Pass the `lark_oapi::Client` you hold: it
    /// dereferences to the runtime client taken here.
    pub fn builder(client: &Client, dispatcher: EventDispatcher) -> LongConnectionBuilder {
        LongConnectionBuilder {
            client: client.clone(),
            dispatcher,
            auto_reconnect: true,
            proxy: ProxySetting::FromEnv,
            watchdog: None,
            connect_timeout: Duration::from_secs(10),
            fragment_ttl: Duration::from_secs(10),
            max_message_bytes: 16 << 20,
            max_in_flight: 256,
            shutdown_grace: Duration::from_secs(10),
            settings: ClientConfig::default(),
            lifecycle: Lifecycle::new(None),
        }
    }

    /// Connects once; a fatal failure (bad credentials, forbidden, connection limit) is
    /// returned here. Any other failure is retried in the background like a dropped
    /// connection. Must be called inside a Tokio runtime.
    ///
    /// It takes the connection by value: a running (or stopped) connection cannot be
    /// started again, and trying does not compile:
    ///
    /// ```compile_fail,E0382
    /// # async fn run(client: lark_oapi_core::Client, dispatcher: lark_oapi_core::dispatcher::EventDispatcher) {
    /// use lark_oapi_core::long_connection::LongConnection;
    /// let connection = LongConnection::builder(&client, dispatcher).build();
    /// let running = connection.start().await;
    /// let again = connection.start().await; // use of moved value
    /// # }
    /// ```
    pub async fn start(self) -> Result<LongConnectionHandle, LongConnectionError> {
        let b = self.builder;
        if b.client.config().app_type() != crate::config::AppType::SelfBuilt {
            return Err(LongConnectionError::Config(
                "the long connection is only available to self-built apps; marketplace apps receive events over HTTP".into(),
            ));
        }
        let proxy = match &b.proxy {
            ProxySetting::Direct => session::ProxyChoice::Direct,
            ProxySetting::Url(url) => session::ProxyChoice::Fixed(transport::Proxy::parse(url)?),
            ProxySetting::FromEnv => session::ProxyChoice::FromEnv,
        };
        let (tx, rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let mut supervisor = session::Supervisor {
            config: b.client.config().clone(),
            dispatcher: b.dispatcher,
            proxy,
            auto_reconnect: b.auto_reconnect,
            watchdog: b.watchdog,
            connect_timeout: b.connect_timeout,
            fragment_ttl: b.fragment_ttl,
            max_message_bytes: b.max_message_bytes,
            max_in_flight: b.max_in_flight,
            shutdown_grace: b.shutdown_grace,
            settings: b.settings,
            tls: transport::TlsSettings::new(b.client.config().root_certificates.clone()),
            counters: counters.clone(),
            stop: rx,
            handlers: tokio::task::JoinSet::new(),
            draining_until: None,
            outage_attempts: 0,
            in_flight_bytes: Arc::default(),
            lifecycle: b.lifecycle,
            ready: false,
        };
        let lifecycle = supervisor.lifecycle.clone();
        lifecycle.emit(LifecycleEvent::Connecting);
        let first = match supervisor.connect().await {
            Ok(socket) => {
                supervisor.ready = true;
                lifecycle.emit(LifecycleEvent::Ready);
                Some(socket)
            }
            Err(e) if e.is_fatal() || !supervisor.auto_reconnect => {
                lifecycle.emit(LifecycleEvent::Error {
                    message: e.to_string(),
                    fatal: true,
                });
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "long connection: first attempt failed; retrying");
                lifecycle.emit(LifecycleEvent::Error {
                    message: e.to_string(),
                    fatal: false,
                });
                None
            }
        };
        let task = tokio::spawn(supervisor.run(first));
        Ok(LongConnectionHandle {
            stop: ShutdownSignal { tx: Arc::new(tx) },
            task,
            counters,
            lifecycle,
        })
    }
}

impl fmt::Display for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ping every {:?}, reconnect {} every {:?} (jitter up to {:?})",
            self.ping_interval,
            self.reconnect_count
                .map_or("without limit".to_owned(), |n| format!("up to {n} times")),
            self.reconnect_interval,
            self.reconnect_nonce
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_is_read_leniently_and_keeps_defaults() {
        let d = ClientConfig::default();
        let c = ClientConfig::from_json(
            &serde_json::json!({
                "PingInterval": "30", "ReconnectCount": 3, "ReconnectInterval": 5
            }),
            &d,
        )
        .unwrap();
        assert_eq!(c.ping_interval, Duration::from_secs(30));
        assert_eq!(c.reconnect_count, Some(3));
        assert_eq!(c.reconnect_interval, Duration::from_secs(5));
        assert_eq!(
            c.reconnect_nonce,
            Duration::from_secs(30),
            "absent: the default"
        );
        let unlimited =
            ClientConfig::from_json(&serde_json::json!({"ReconnectCount": -1}), &d).unwrap();
        assert_eq!(unlimited.reconnect_count, None);
        let zero_ping =
            ClientConfig::from_json(&serde_json::json!({"PingInterval": 0}), &d).unwrap();
        assert_eq!(
            zero_ping.ping_interval,
            Duration::from_secs(1),
            "never a zero interval"
        );
        assert!(ClientConfig::from_json(&serde_json::json!([1]), &d).is_none());
        let huge =
            ClientConfig::from_json(&serde_json::json!({"PingInterval": i64::MAX}), &d).unwrap();
        assert_eq!(
            huge.ping_interval,
            Duration::from_secs(86_400),
            "clamped: timers never overflow"
        );
        // Floats, and keys absent from a later answer keep what an earlier one set.
        let floats = ClientConfig::from_json(
            &serde_json::json!({"PingInterval": 2.0, "ReconnectInterval": 0.5, "ReconnectCount": 0}),
            &d,
        )
        .unwrap();
        assert_eq!(floats.ping_interval, Duration::from_secs(2));
        assert_eq!(floats.reconnect_interval, Duration::from_millis(500));
        let pong =
            ClientConfig::from_json(&serde_json::json!({"PingInterval": 1}), &floats).unwrap();
        assert_eq!(pong.ping_interval, Duration::from_secs(1));
        assert_eq!(
            pong.reconnect_count,
            Some(0),
            "kept, not reset to the default"
        );
        assert_eq!(pong.reconnect_interval, Duration::from_millis(500));
        let junk = ClientConfig::from_json(
            &serde_json::json!({"PingInterval": "abc", "ReconnectNonce": [], "ReconnectCount": 1e300}),
            &floats,
        )
        .unwrap();
        assert_eq!(junk.ping_interval, floats.ping_interval, "unusable: kept");
        assert_eq!(junk.reconnect_nonce, floats.reconnect_nonce);
        assert_eq!(junk.reconnect_count, Some(u32::MAX));
    }
}
