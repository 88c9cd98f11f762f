//! The supervisor: connects, serves one connection at a time, reconnects by the server's
//! rules, and owns every handler task so that shutdown ends them all.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::frame::{Frame, METHOD_CONTROL, METHOD_DATA, Reassembly};
use super::lifecycle::{ConnectionState, Lifecycle, LifecycleEvent};
use super::transport::{self, Endpoint, Proxy, Socket};
use super::{ClientConfig, Counters, LongConnectionError};
use crate::config::Config;
use crate::dispatcher::EventDispatcher;

/// How long one frame may take to write; a peer that stops reading is a dead connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that drops sooner than this after opening has not proved healthy: its
/// drop counts as a failed reconnect attempt (paced by the reconnect interval, counted
/// against the reconnect count), so a server that accepts and closes at once is not
/// hammered.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// The shortest wait between reconnect attempts, whatever the server's interval says.
const MIN_RECONNECT_WAIT: Duration = Duration::from_millis(100);

/// Handlers together may hold this many times the message size limit in payloads; reading
/// pauses beyond it (as it does at `max_in_flight` handlers).
const IN_FLIGHT_BYTES_FACTOR: usize = 4;

/// How a write ended.
enum Wrote {
    Done,
    /// The socket failed or the peer stopped reading.
    Failed(String),
    /// The shutdown grace ran out while writing.
    GraceOver,
}

/// Resolves when shutdown is requested; never if the signal's owner is gone (dropping the
/// handle does not stop the connection).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

pub(crate) enum ProxyChoice {
    Direct,
    FromEnv,
    Fixed(Proxy),
}

pub(crate) struct Connected {
    socket: Socket,
    endpoint: Endpoint,
}

/// How serving one connection ended.
enum Ended {
    /// Shut down on request (acks of the handlers in flight sent).
    Shutdown,
    /// The connection broke, closed or went silent.
    Dropped(String),
}

pub(crate) struct Supervisor {
    pub(crate) config: Config,
    pub(crate) dispatcher: EventDispatcher,
    pub(crate) proxy: ProxyChoice,
    pub(crate) auto_reconnect: bool,
    pub(crate) watchdog: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) fragment_ttl: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) shutdown_grace: Duration,
    pub(crate) settings: ClientConfig,
    /// TLS settings, built once and reused by reconnects.
    pub(crate) tls: transport::TlsSettings,
    pub(crate) counters: Arc<Counters>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) handlers: JoinSet<()>,
    /// When the shutdown grace period ends, once shutdown has begun.
    pub(crate) draining_until: Option<Instant>,
    /// Failed attempts of the outage going on: connections that died young count, and a
    /// connection that proves healthy resets it.
    pub(crate) outage_attempts: u32,
    /// Payload bytes held by running handlers.
    pub(crate) in_flight_bytes: Arc<std::sync::atomic::AtomicUsize>,
    /// The state and the user's lifecycle callback.
    pub(crate) lifecycle: Lifecycle,
    /// A connection was open once (the next one is a reconnection).
    pub(crate) ready: bool,
}

/// Gives back a handler's payload bytes when it ends (or is stopped).
struct InFlightBytes {
    total: Arc<std::sync::atomic::AtomicUsize>,
    bytes: usize,
}

impl Drop for InFlightBytes {
    fn drop(&mut self) {
        self.total.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl Supervisor {
    /// One attempt: endpoint, then socket.
    pub(crate) async fn connect(&mut self) -> Result<Connected, LongConnectionError> {
        let endpoint = transport::fetch_endpoint(&self.config, self.connect_timeout).await?;
        if let Some(settings) = endpoint
            .client_config
            .as_ref()
            .and_then(|v| ClientConfig::from_json(v, &self.settings))
        {
            self.settings = settings;
        }
        let proxy = match &self.proxy {
            ProxyChoice::Direct => None,
            ProxyChoice::Fixed(p) => Some(p.clone()),
            ProxyChoice::FromEnv => match reqwest::Url::parse(&endpoint.url) {
                Ok(url) => Proxy::from_env(&url, &|name| std::env::var(name).ok())?,
                Err(_) => None,
            },
        };
        let socket = transport::connect(
            &endpoint.url,
            proxy.as_ref(),
            self.connect_timeout,
            &self.tls,
            self.max_message_bytes,
        )
        .await?;
        Counters::bump(&self.counters.connections);
        self.counters.connected.store(true, Ordering::Relaxed);
        tracing::info!(
            device_id = %endpoint.device_id,
            service_id = endpoint.service_id,
            proxy = proxy.is_some(),
            settings = %self.settings,
            "long connection open"
        );
        Ok(Connected { socket, endpoint })
    }

    /// Serves connections until shutdown or a fatal error, then ends every handler task.
    pub(crate) async fn run(mut self, first: Option<Connected>) -> Result<(), LongConnectionError> {
        let mut next = first;
        let mut reason = String::from("the first connection attempt failed");
        let result = loop {
            if *self.stop.borrow() {
                // Stopped before the first connection was served: it closes here.
                if next.take().is_some() {
                    self.counters.connected.store(false, Ordering::Relaxed);
                    self.lifecycle
                        .disconnected("shut down".into(), ConnectionState::Idle);
                }
                break Ok(());
            }
            let conn = match next.take() {
                Some(conn) => conn,
                None if !self.auto_reconnect => {
                    break Err(LongConnectionError::Disconnected(reason));
                }
                None => {
                    self.lifecycle.emit(LifecycleEvent::Reconnecting {
                        reason: reason.clone(),
                    });
                    match self.reconnect(&reason).await {
                        Ok(Some(conn)) => {
                            let ready = std::mem::replace(&mut self.ready, true);
                            self.lifecycle.emit(if ready {
                                LifecycleEvent::Reconnected
                            } else {
                                LifecycleEvent::Ready
                            });
                            conn
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                }
            };
            let opened = Instant::now();
            let ended = self.serve(conn).await;
            self.counters.connected.store(false, Ordering::Relaxed);
            match ended {
                Ended::Shutdown => {
                    self.lifecycle
                        .disconnected("shut down".into(), ConnectionState::Idle);
                    break Ok(());
                }
                Ended::Dropped(why) => {
                    let next = if self.auto_reconnect {
                        ConnectionState::Reconnecting
                    } else {
                        ConnectionState::Failed
                    };
                    self.lifecycle.disconnected(why.clone(), next);
                    let lived = opened.elapsed();
                    if lived >= HEALTHY_AFTER {
                        self.outage_attempts = 0;
                    } else {
                        tracing::warn!(
                            lived_ms = lived.as_millis() as u64,
                            attempt = self.outage_attempts,
                            "long connection: dropped before it proved healthy; counted as a failed attempt"
                        );
                    }
                    tracing::warn!(reason = %why, "long connection lost");
                    reason = why;
                }
            }
        };
        // Handlers still running (their connection is gone, or the grace period passed) may
        // finish within what is left of the one shutdown deadline (what `serve` already
        // waited counts), then they are stopped.
        let grace = self.draining_until.map_or(self.shutdown_grace, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let handlers = &mut self.handlers;
        let _ = tokio::time::timeout(grace, async {
            while handlers.join_next().await.is_some() {}
        })
        .await;
        self.handlers.shutdown().await;
        match &result {
            Err(e) => {
                tracing::error!(error = %e, "long connection stopped");
                self.lifecycle.emit(LifecycleEvent::Error {
                    message: e.to_string(),
                    fatal: true,
                });
            }
            Ok(()) => self.lifecycle.emit(LifecycleEvent::Stopped),
        }
        result
    }

    /// Waits `d`, or returns `false` at once if shutdown is requested.
    async fn sleep_unless_stopped(&self, d: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = stopped(&mut stop) => false,
        }
    }

    /// The wait between failed attempts: the server's interval, never under 100 ms.
    fn reconnect_wait(&self) -> Duration {
        self.settings.reconnect_interval.max(MIN_RECONNECT_WAIT)
    }

    /// Reconnects by the server's rules: jitter before the first attempt, then the
    /// interval between failures, up to the count. A connection that died young (before
    /// [`HEALTHY_AFTER`]) was a failed attempt of the same outage: the count goes on and
    /// the interval is waited. `Ok(None)` if shut down meanwhile.
    async fn reconnect(&mut self, reason: &str) -> Result<Option<Connected>, LongConnectionError> {
        let mut attempts = self.outage_attempts;
        let pause = if attempts == 0 {
            let nonce = self.settings.reconnect_nonce.as_millis() as u64;
            Duration::from_millis(fastrand::u64(0..=nonce))
        } else {
            self.reconnect_wait()
        };
        if !self.sleep_unless_stopped(pause).await {
            return Ok(None);
        }
        let mut last = LongConnectionError::Disconnected(reason.to_owned());
        loop {
            if let Some(max) = self.settings.reconnect_count
                && attempts >= max
            {
                return Err(LongConnectionError::ReconnectsExhausted {
                    attempts,
                    last: Box::new(last),
                });
            }
            attempts += 1;
            Counters::bump(&self.counters.reconnect_attempts);
            let mut stop = self.stop.clone();
            let attempt = tokio::select! {
                attempt = self.connect() => attempt,
                _ = stopped(&mut stop) => return Ok(None),
            };
            match attempt {
                Ok(conn) => {
                    // Until it proves healthy, this outage is not over.
                    self.outage_attempts = attempts;
                    return Ok(Some(conn));
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, attempt = attempts, "long connection: reconnect failed");
                    self.lifecycle.emit(LifecycleEvent::Error {
                        message: e.to_string(),
                        fatal: false,
                    });
                    last = e;
                }
            }
            // At least 100 ms, so a server interval of 0 cannot make a tight loop.
            if !self.sleep_unless_stopped(self.reconnect_wait()).await {
                return Ok(None);
            }
        }
    }

    fn watchdog_timeout(&self) -> Duration {
        self.watchdog
            .unwrap_or(self.settings.ping_interval * 2 + Duration::from_secs(10))
    }

    /// Writes one frame, bounded by [`WRITE_TIMEOUT`] and, once shutdown is requested (also
    /// while this write is blocked on a peer that stopped reading), by the grace deadline.
    async fn write(
        &mut self,
        socket: &mut Socket,
        frame: Vec<u8>,
        stop: &mut watch::Receiver<bool>,
        draining: &mut Option<Instant>,
    ) -> Wrote {
        let give_up = Instant::now() + WRITE_TIMEOUT;
        let write = socket.send(Message::Binary(Bytes::from(frame)));
        tokio::pin!(write);
        loop {
            let until = draining.map_or(give_up, |d| d.min(give_up));
            tokio::select! {
                biased;
                written = &mut write => {
                    return match written {
                        Ok(()) => Wrote::Done,
                        Err(e) => Wrote::Failed(e.to_string()),
                    };
                }
                _ = stopped(stop), if draining.is_none() => {
                    let deadline = Instant::now() + self.shutdown_grace;
                    *draining = Some(deadline);
                    self.draining_until = Some(deadline);
                }
                () = tokio::time::sleep_until(until) => {
                    return if draining.is_some_and(|d| Instant::now() >= d) {
                        Wrote::GraceOver
                    } else {
                        Wrote::Failed(format!("the peer took no data for {WRITE_TIMEOUT:?}"))
                    };
                }
            }
        }
    }

    /// Serves one connection until it drops or shutdown is requested.
    async fn serve(&mut self, conn: Connected) -> Ended {
        let Connected {
            mut socket,
            endpoint,
        } = conn;
        let service = endpoint.service_id;
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<Frame>();
        let mut reassembly = Reassembly::new(self.fragment_ttl, self.max_message_bytes);
        self.counters
            .pending_fragment_bytes
            .store(0, Ordering::Relaxed);
        let mut ping_every = self.settings.ping_interval;
        let mut ping = tokio::time::interval(ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        let mut last_rx = Instant::now();
        let mut stop = self.stop.clone();
        let mut pending_acks = 0usize;
        let mut draining: Option<Instant> = None;

        let in_flight_budget = self
            .max_message_bytes
            .saturating_mul(IN_FLIGHT_BYTES_FACTOR);
        let ended = loop {
            let can_read = self.handlers.len() < self.max_in_flight
                && self.in_flight_bytes.load(Ordering::Relaxed) < in_flight_budget;
            if !can_read {
                // Not reading (all handler slots busy) is not silence of the peer.
                last_rx = Instant::now();
            }
            let silent_until = last_rx + self.watchdog_timeout();
            tokio::select! {
                biased;
                _ = stopped(&mut stop), if draining.is_none() => {
                    tracing::info!(pending_acks, "long connection: shutting down");
                    draining = Some(Instant::now() + self.shutdown_grace);
                    self.draining_until = draining;
                    if pending_acks == 0 {
                        break Ended::Shutdown;
                    }
                }
                Some(ack) = ack_rx.recv() => {
                    pending_acks -= 1;
                    match self.write(&mut socket, ack.to_bytes(), &mut stop, &mut draining).await {
                        Wrote::Done => Counters::bump(&self.counters.acks),
                        Wrote::Failed(e) => {
                            break Ended::Dropped(format!("writing an acknowledgement failed: {e}"));
                        }
                        Wrote::GraceOver => break Ended::Shutdown,
                    }
                    if draining.is_some() && pending_acks == 0 {
                        break Ended::Shutdown;
                    }
                }
                Some(_) = self.handlers.join_next(), if !self.handlers.is_empty() => {}
                _ = ping.tick(), if draining.is_none() => {
                    let ping = Frame::ping(service).to_bytes();
                    match self.write(&mut socket, ping, &mut stop, &mut draining).await {
                        Wrote::Done => Counters::bump(&self.counters.pings),
                        Wrote::Failed(e) => break Ended::Dropped(format!("writing a ping failed: {e}")),
                        Wrote::GraceOver => break Ended::Shutdown,
                    }
                    if draining.is_some() && pending_acks == 0 {
                        break Ended::Shutdown;
                    }
                }
                message = socket.next(), if can_read => {
                    last_rx = Instant::now();
                    match message {
                        Some(Ok(Message::Binary(bytes))) => {
                            if self.on_frame(&bytes, &mut reassembly, &ack_tx, draining.is_some()) {
                                pending_acks += 1;
                            }
                            if self.settings.ping_interval != ping_every {
                                ping_every = self.settings.ping_interval;
                                ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
                                ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            break Ended::Dropped(format!("closed by the server ({frame:?})"));
                        }
                        // Pings are answered by tungstenite; text frames are not part of the protocol.
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break Ended::Dropped(e.to_string()),
                        None => break Ended::Dropped("the connection ended".into()),
                    }
                }
                _ = tokio::time::sleep_until(silent_until) => {
                    Counters::bump(&self.counters.watchdog_fired);
                    break Ended::Dropped(format!("nothing received for {:?} (watchdog)", self.watchdog_timeout()));
                }
                _ = sweep.tick() => {
                    let expired = reassembly.expire();
                    self.counters
                        .pending_fragment_bytes
                        .store(reassembly.pending_bytes() as u64, Ordering::Relaxed);
                    if expired > 0 {
                        tracing::warn!(expired, "long connection: incomplete fragmented messages expired");
                    }
                    if draining.is_some_and(|d| Instant::now() >= d) {
                        tracing::warn!(pending_acks, "long connection: shutdown grace over with handlers still running");
                        break Ended::Shutdown;
                    }
                }
            }
        };
        if matches!(ended, Ended::Shutdown) {
            // Close cleanly: send Close, read until the server's Close; bounded by what is
            // left of the grace (at least 100 ms, at most 2 s).
            let left = self.draining_until.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            });
            let close_within = left.clamp(Duration::from_millis(100), Duration::from_secs(2));
            let _ = tokio::time::timeout(close_within, async {
                let _ = socket.close(None).await;
                while let Some(Ok(_)) = socket.next().await {}
            })
            .await;
        }
        ended
    }

    /// Handles one binary frame; `true` if a handler was started (an ack will follow).
    fn on_frame(
        &mut self,
        bytes: &[u8],
        reassembly: &mut Reassembly,
        acks: &mpsc::UnboundedSender<Frame>,
        draining: bool,
    ) -> bool {
        let frame = match Frame::from_bytes(bytes) {
            Ok(f) => f,
            Err(e) => {
                Counters::bump(&self.counters.bad_frames);
                tracing::warn!(error = %e, len = bytes.len(), "long connection: undecodable frame dropped");
                return false;
            }
        };
        match frame.method {
            METHOD_CONTROL => {
                if frame.kind() == "pong"
                    && let Some(payload) = frame.payload.as_deref().filter(|p| !p.is_empty())
                {
                    match serde_json::from_slice::<serde_json::Value>(payload)
                        .ok()
                        .and_then(|v| ClientConfig::from_json(&v, &self.settings))
                    {
                        Some(settings) => self.settings = settings,
                        None => {
                            tracing::debug!("long connection: pong without a usable ClientConfig")
                        }
                    }
                }
                false
            }
            METHOD_DATA => {
                if draining {
                    // Not acknowledged: the platform delivers it again elsewhere.
                    return false;
                }
                // `card` frames are handled like events (other SDKs drop them unanswered).
                if !matches!(frame.kind(), "event" | "card") {
                    tracing::debug!(
                        kind = frame.kind(),
                        "long connection: data frame of unknown type ignored"
                    );
                    return false;
                }
                let pushed = reassembly.push(&frame);
                self.counters
                    .pending_fragment_bytes
                    .store(reassembly.pending_bytes() as u64, Ordering::Relaxed);
                let payload = match pushed {
                    Ok(Some(payload)) => payload,
                    Ok(None) => return false,
                    Err(e) => {
                        Counters::bump(&self.counters.bad_frames);
                        tracing::warn!(error = ?e, message_id = frame.header("message_id"), "long connection: fragment refused");
                        return false;
                    }
                };
                Counters::bump(&self.counters.events);
                let dispatcher = self.dispatcher.clone();
                let acks = acks.clone();
                let counters = self.counters.clone();
                // The ack needs the frame's ids and headers, not its payload.
                let mut frame = frame;
                frame.payload = None;
                self.in_flight_bytes
                    .fetch_add(payload.len(), Ordering::Relaxed);
                let held = InFlightBytes {
                    total: self.in_flight_bytes.clone(),
                    bytes: payload.len(),
                };
                self.handlers.spawn(async move {
                    let _held = held;
                    let started = std::time::Instant::now();
                    let handled =
                        AssertUnwindSafe(dispatcher.handle_pushed(&payload)).catch_unwind();
                    // The dispatcher bounds the handler (its handler timeout) and catches its
                    // panics; this guard is for a panic anywhere else on the way.
                    let (status, answer) = match handled.await {
                        Ok(o) => (o.status, o.answer),
                        Err(_) => (500, None),
                    };
                    if status != 200 {
                        Counters::bump(&counters.handler_failures);
                    }
                    let answer = answer.map(|a| serde_json::to_vec(&a).unwrap_or_default());
                    let ack = frame.ack(status, answer.as_deref(), started.elapsed().as_millis());
                    // If the connection is gone, the ack is lost and the platform redelivers.
                    let _ = acks.send(ack);
                });
                true
            }
            other => {
                tracing::debug!(
                    method = other,
                    "long connection: frame of unknown method ignored"
                );
                false
            }
        }
    }
}
