//! The event dispatcher: verifies, decrypts, de-duplicates and routes the events and
//! callbacks the platform pushes, over HTTP or over the long connection.
//!
//! For HTTP, give [`EventDispatcher::handle`] the method, headers and exact body bytes of a
//! request; it answers with the status, headers and body to send back. Verification
//! failures get 401, bodies it cannot read get 400, handler failures get 500 (so the
//! platform retries), and only a handled (or deliberately ignored) event gets 200.
//!
//! Handlers are registered by event type: typed, through the generated `on_<event>`
//! methods of `lark_oapi::prelude` (e.g. `.on_im_message_receive_v1(..)`), or raw with
//! [`EventDispatcherBuilder::on_raw`].
//!
//! A typed payload is decoded in one pass straight from the decrypted text: the envelope
//! is read for the routing fields, the `event` object is found by its brackets, and the
//! handler's type reads it field by field as the keys come (no `serde_json::Value` is
//! built). The payload of an event no handler wants is acknowledged without being checked
//! beyond its brackets and strings.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::watch;

use crate::auth::BoxFuture;
use crate::client::Client;
use crate::event_crypto::{AesKey, constant_time_eq, verify_event_signature};
use register::RegisterHandlers as _;

#[cfg(feature = "axum")]
pub mod axum_adapter;
mod card_action;
mod dedup;
mod delivery;
mod envelope;
pub(crate) mod event;
mod ordering;
pub(crate) mod register;

pub use card_action::{CardActionHandler, LegacyCardAnswer};
pub use dedup::{Claim, DedupStore, MemoryDedupStore};
pub(crate) use delivery::Outcome;
use delivery::{InFlight, RunToCompletion};
pub(crate) use envelope::RawPayload;
use envelope::{Envelope, read_envelope};
pub use event::{Answer, Event};

/// The error a handler returns: anything that converts into a boxed error, so `?` works on
/// `std` errors, `anyhow::Error` and strings alike. It is logged, and the platform is told
/// the event failed (HTTP 500, or code 500 in the long-connection acknowledgement), so it
/// delivers the event again.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns: its answer (`()` for plain events, the response type for
/// callbacks such as `card.action.trigger`), or a [`HandlerError`].
pub type HandlerResult<A = ()> = Result<A, HandlerError>;

type BoxedHandler = Arc<dyn Fn(Event<RawPayload>) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// An HTTP answer for the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` and friends.
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Self::json_bytes(
            status,
            Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
        )
    }

    fn json_bytes(status: u16, body: Bytes) -> Self {
        Self {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body,
        }
    }

    /// `200 {"msg":"success"}`, the answer to almost every event (no serialisation).
    pub(crate) fn success() -> Self {
        Self::json_bytes(200, Bytes::from_static(br#"{"msg":"success"}"#))
    }

    pub(crate) fn msg(status: u16, msg: &str) -> Self {
        Self::json(status, &serde_json::json!({ "msg": msg }))
    }
}

/// How long a copy of an event waits for the delivery in flight (at most; never longer
/// than the handler timeout, by which that delivery has ended).
const COPY_WAIT: Duration = Duration::from_secs(10);

/// The default [`EventDispatcherBuilder::handler_timeout`].
pub(crate) const HANDLER_TIMEOUT: Duration = Duration::from_secs(60);

/// The default time allowed to read a request body (see
/// [`EventDispatcherBuilder::body_read_timeout`]).
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The one answer to an unsigned encrypted body that is not a valid challenge.
pub(crate) const UNSIGNED: &str =
    "unsigned request: only the url_verification challenge may come without X-Lark-Signature";

/// Builder of an [`EventDispatcher`].
///
/// A signed, encrypted push, end to end:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::{Arc, Mutex};
/// use lark_oapi_core::dispatcher::EventDispatcher;
/// use lark_oapi_core::event_crypto::{encrypt, event_signature};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let dispatcher = EventDispatcher::builder()
///     .encrypt_key("my-encrypt-key")
///     .verification_token("v-token")
///     .on_raw("im.message.receive_v1", move |event| {
///         let log = log.clone();
///         async move {
///             log.lock().unwrap().push(event.event_id.unwrap_or_default());
///             Ok(None)
///         }
///     })
///     .build();
///
/// let plaintext = br#"{"schema":"2.0","header":{"event_id":"ev-1","event_type":"im.message.receive_v1","token":"v-token"},"event":{}}"#;
/// let body = format!(r#"{{"encrypt":"{}"}}"#, encrypt("my-encrypt-key", plaintext, [9; 16]));
/// let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
/// let headers = vec![
///     ("X-Lark-Request-Timestamp".to_owned(), ts.clone()),
///     ("X-Lark-Request-Nonce".to_owned(), "n1".to_owned()),
///     ("X-Lark-Signature".to_owned(), event_signature(&ts, "n1", "my-encrypt-key", body.as_bytes())),
/// ];
/// assert_eq!(dispatcher.handle("POST", &headers, body.as_bytes()).await.status, 200);
/// // The platform retries: the copy is answered 200 and not handled again.
/// assert_eq!(dispatcher.handle("POST", &headers, body.as_bytes()).await.status, 200);
/// assert_eq!(*seen.lock().unwrap(), ["ev-1"]);
/// // A body changed in transit fails the signature.
/// let tampered = body.replace('A', "B");
/// assert_eq!(dispatcher.handle("POST", &headers, tampered.as_bytes()).await.status, 401);
/// # }
/// ```
#[derive(Default)]
pub struct EventDispatcherBuilder {
    encrypt_key: Option<String>,
    verification_token: Option<String>,
    client: Option<Client>,
    handlers: HashMap<String, BoxedHandler>,
    max_body: Option<usize>,
    body_read_timeout: Option<Duration>,
    handler_timeout: Option<Duration>,
    timestamp_window: Option<Duration>,
    dedup_ttl: Option<Duration>,
    dedup_store: Option<Arc<dyn DedupStore>>,
    ordering: Option<(ordering::KeyFn, usize)>,
}

impl fmt::Debug for EventDispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDispatcherBuilder")
            .field(
                "encrypt_key",
                &self.encrypt_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "verification_token",
                &self.verification_token.as_ref().map(|_| "<redacted>"),
            )
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl EventDispatcherBuilder {
    /// The Encrypt Key of the app's event subscription: bodies must then be encrypted and
    /// signed, and both are checked.
    pub fn encrypt_key(mut self, key: impl Into<String>) -> Self {
        self.encrypt_key = Some(key.into());
        self
    }

    /// The Verification Token: checked (in constant time) on every event and challenge.
    pub fn verification_token(mut self, token: impl Into<String>) -> Self {
        self.verification_token = Some(token.into());
        self
    }

    /// The client whose token manager receives marketplace `app_ticket` events.
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Largest body accepted (1 MiB by default). The axum adapter applies this limit
    /// itself, above or below axum's own default, and stops reading a body at the limit.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// How long an adapter that reads the request body (the axum adapter) waits for all of
    /// it (10 s by default); a body still incomplete then is answered 408 and the connection
    /// closed, so a client that stalls mid-body cannot hold it. [`EventDispatcher::handle`]
    /// itself receives the body already read.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = Some(timeout);
        self
    }

    /// Longest a handler may run (60 s by default), over HTTP and over the long connection
    /// alike: it is then stopped (dropped at its next `.await`), the delivery fails (HTTP
    /// 500, or code 500 in the acknowledgement) and its id is released, so the platform's
    /// next retry is handled. A copy of the event arriving meanwhile waits for the outcome
    /// for at most 10 s (or this timeout, if shorter), then fails, so the platform retries
    /// it later.
    ///
    /// Over HTTP the platform stops waiting after a few seconds and retries after about
    /// 15 s; a delivery it abandons still runs to completion here and is recorded, so that
    /// retry is answered from the record instead of running the handler again. Answer long
    /// work (an AI reply, say) by spawning it from the handler if the platform must see 200
    /// at once.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = Some(timeout);
        self
    }

    /// How far a signed request's timestamp may be from now. By default, the
    /// de-duplication TTL (8 hours): whether the platform re-signs its retries (which come
    /// for about 7.1 hours) is not documented, and a retry refused for its age would be an
    /// event lost. A replay inside the window is dropped by de-duplication; an older one is
    /// refused here. Narrow it only together with a shorter retry horizon.
    ///
    /// **Replays.** A captured signed request can be sent again for as long as this window
    /// lasts, but it never runs its handler a second time: a delivery runs to completion
    /// and is recorded even when the sender hangs up (see
    /// [`handler_timeout`](Self::handler_timeout)), so every later copy is answered from the
    /// de-duplication record. Only a delivery that *failed* (its handler erred, panicked or
    /// timed out) is forgotten and runs again, exactly as the platform's own retry would.
    /// With a shared [`DedupStore`] this holds across instances.
    pub fn timestamp_window(mut self, window: Duration) -> Self {
        self.timestamp_window = Some(window);
        self
    }

    /// How long event ids are remembered to drop platform retries (8 hours by default:
    /// the platform retries for about 7.1 hours).
    pub fn dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = Some(ttl);
        self
    }

    /// Where event ids are remembered ([`MemoryDedupStore`] by default); share one store
    /// between instances to de-duplicate across them.
    pub fn dedup_store(mut self, store: impl DedupStore) -> Self {
        self.dedup_store = Some(Arc::new(store));
        self
    }

    /// Handles `event_type` with a function of the raw [`Event`], answering `None` for a
    /// plain acknowledgement or a JSON body for callbacks. The last handler registered for
    /// a type wins.
    pub fn on_raw<F, Fut>(self, event_type: impl AsRef<str>, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult<Option<Value>>> + Send + 'static,
    {
        self.on_event::<Value, Option<Value>, F, Fut>(event_type.as_ref(), handler)
    }

    /// Handles the events of one chat one at a time, in the order they arrive, while other
    /// chats run concurrently (on HTTP and on the long connection alike). The chat is the
    /// payload's `message.chat_id`, `chat_id` or `context.open_chat_id`; events without one
    /// are not ordered. At most `max_waiting` events of a chat wait behind the one being
    /// handled: one more is answered as failed (HTTP 503), so the platform delivers it again
    /// later, instead of piling up. Waiting does not count towards the handler timeout, but a
    /// slow handler delays its chat's acknowledgements, and the platform may resend: those
    /// copies are de-duplicated as usual.
    ///
    /// ```
    /// use lark_oapi_core::dispatcher::EventDispatcher;
    /// let dispatcher = EventDispatcher::builder()
    ///     .ordered_by_chat(100)
    ///     .on_raw("im.message.receive_v1", |event| async move { Ok(None) })
    ///     .build();
    /// ```
    pub fn ordered_by_chat(mut self, max_waiting: usize) -> Self {
        self.ordering = Some((ordering::KeyFn::Chat, max_waiting));
        self
    }

    /// Like [`ordered_by_chat`](Self::ordered_by_chat) with a key of your choosing (a user,
    /// a tenant, a document); `None` leaves an event unordered. The function gets the event
    /// with its payload parsed into a [`Value`] (once more per event, on top of the typed
    /// decode: `ordered_by_chat` reads the chat straight from the text instead).
    pub fn ordered_by(
        mut self,
        key: impl Fn(&Event) -> Option<String> + Send + Sync + 'static,
        max_waiting: usize,
    ) -> Self {
        self.ordering = Some((ordering::KeyFn::Custom(Arc::new(key)), max_waiting));
        self
    }

    /// The dispatcher.
    pub fn build(self) -> EventDispatcher {
        let dedup_ttl = self.dedup_ttl.unwrap_or(Duration::from_secs(8 * 3600));
        EventDispatcher {
            inner: Arc::new(Inner {
                aes_key: self.encrypt_key.as_deref().map(AesKey::new),
                encrypt_key: self.encrypt_key,
                verification_token: self.verification_token,
                client: self.client,
                handlers: self.handlers,
                max_body: self.max_body.unwrap_or(1 << 20),
                body_read_timeout: self.body_read_timeout.unwrap_or(BODY_READ_TIMEOUT),
                handler_timeout: self.handler_timeout.unwrap_or(HANDLER_TIMEOUT),
                timestamp_window: self.timestamp_window.unwrap_or(dedup_ttl),
                dedup_ttl,
                dedup: self
                    .dedup_store
                    .unwrap_or_else(|| Arc::new(MemoryDedupStore::new())),
                inflight: Mutex::new(HashMap::new()),
                ordering: self
                    .ordering
                    .map(|(key, max)| ordering::Ordering::new(key, max)),
            }),
        }
    }
}

/// Verifies, decrypts, de-duplicates and routes pushed events. Cheap to clone; serves the
/// HTTP endpoint and the long connection alike.
///
/// ```
/// # async fn demo() {
/// use lark_oapi_core::dispatcher::EventDispatcher;
/// let dispatcher = EventDispatcher::builder()
///     .verification_token("v-token")
///     .on_raw("im.message.receive_v1", |event| async move {
///         println!("{}: {}", event.event_type, event.payload);
///         Ok(None)
///     })
///     .build();
/// let body = br#"{"challenge":"c1","token":"v-token","type":"url_verification"}"#;
/// let reply = dispatcher.handle("POST", &[], body).await;
/// assert_eq!(reply.status, 200);
/// assert_eq!(&reply.body[..], br#"{"challenge":"c1"}"#);
/// # }
/// ```
#[derive(Clone)]
pub struct EventDispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    encrypt_key: Option<String>,
    aes_key: Option<AesKey>,
    verification_token: Option<String>,
    client: Option<Client>,
    handlers: HashMap<String, BoxedHandler>,
    max_body: usize,
    body_read_timeout: Duration,
    handler_timeout: Duration,
    timestamp_window: Duration,
    dedup_ttl: Duration,
    dedup: Arc<dyn DedupStore>,
    /// Event ids being handled now, with their result once known.
    inflight: Mutex<HashMap<String, watch::Receiver<Option<u16>>>>,
    /// Ordered handling per key, when asked for.
    ordering: Option<ordering::Ordering>,
}

impl fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDispatcher")
            .field("handlers", &self.inner.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether `given` is the configured verification token (always, if none is configured),
/// compared in constant time.
fn token_matches(expected: Option<&str>, given: Option<&str>) -> bool {
    expected.is_none_or(|e| constant_time_eq(e.as_bytes(), given.unwrap_or_default().as_bytes()))
}

/// Whether a request timestamp (Unix seconds) is within `window` of now.
pub(crate) fn timestamp_fresh(ts: &str, window: Duration) -> bool {
    let Ok(secs) = ts.trim().parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.abs_diff(secs) <= window.as_secs()
}

/// The answer to a `url_verification` body: its `challenge` echoed, once its `token` is
/// the configured one.
fn challenge_reply(expected_token: Option<&str>, token: Option<&str>, challenge: Value) -> Reply {
    if !token_matches(expected_token, token) {
        return Reply::msg(401, "verification token mismatch");
    }
    Reply::json(200, &serde_json::json!({ "challenge": challenge }))
}

impl EventDispatcher {
    /// Starts a dispatcher.
    pub fn builder() -> EventDispatcherBuilder {
        EventDispatcherBuilder::default()
    }

    /// Handles one pushed request: `method`, headers (any case) and the exact body bytes.
    ///
    /// Call it inside a Tokio runtime with timers enabled (as `#[tokio::main]` sets up): the
    /// handler timeout needs them, and a delivery whose caller drops this future is spawned
    /// on the runtime to finish.
    pub async fn handle(&self, method: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
        let inner = &self.inner;
        if !method.eq_ignore_ascii_case("POST") {
            return Reply::msg(405, "events are delivered with POST");
        }
        if body.len() > inner.max_body {
            return Reply::msg(413, "body too large");
        }
        // Only `encrypt` is read from an encrypted body, borrowed, without building a map.
        let Ok(sealed) = envelope::sealed(body) else {
            return Reply::msg(
                400,
                "the body is not a JSON object (with a string `encrypt`, if encrypted)",
            );
        };
        let plain = match sealed.as_deref() {
            Some(sealed) => {
                let (Some(key), Some(aes)) = (&inner.encrypt_key, &inner.aes_key) else {
                    return Reply::msg(400, "encrypted body but no Encrypt Key is configured");
                };
                // Signed when an Encrypt Key is set; only the challenge is not signed.
                match header(headers, "x-lark-signature") {
                    Some(sig) => {
                        let ts = header(headers, "x-lark-request-timestamp").unwrap_or_default();
                        let nonce = header(headers, "x-lark-request-nonce").unwrap_or_default();
                        if !verify_event_signature(ts, nonce, key, body, sig) {
                            return Reply::msg(401, "signature mismatch");
                        }
                        if !timestamp_fresh(ts, inner.timestamp_window) {
                            return Reply::msg(401, "stale or missing request timestamp");
                        }
                        let decrypted = match aes.decrypt_bytes(sealed) {
                            Ok(d) => d,
                            Err(e) => return Reply::msg(400, &e.to_string()),
                        };
                        match read_envelope(decrypted) {
                            Some(envelope) => envelope,
                            None => {
                                return Reply::msg(400, "the decrypted body is not a JSON object");
                            }
                        }
                    }
                    // Unsigned: only a challenge may pass. Every other outcome (bad padding,
                    // not JSON, not a challenge) gets the same answer, so an unsigned sender
                    // learns nothing about the plaintext (no padding oracle).
                    None => match aes.decrypt_bytes(sealed).ok().and_then(read_envelope) {
                        Some(envelope) if envelope.kind.as_deref() == Some("url_verification") => {
                            envelope
                        }
                        _ => return Reply::msg(401, UNSIGNED),
                    },
                }
            }
            None => {
                let Some(outer) = read_envelope(body.to_vec()) else {
                    return Reply::msg(400, "the body is not a JSON object");
                };
                if inner.encrypt_key.is_some() && outer.kind.as_deref() != Some("url_verification")
                {
                    return Reply::msg(
                        401,
                        "an Encrypt Key is configured but the body is not encrypted",
                    );
                }
                outer
            }
        };
        let mut plain = plain;
        if plain.kind.as_deref() == Some("url_verification") {
            let challenge = plain.challenge.take().unwrap_or(Value::Null);
            let token = inner.verification_token.as_deref();
            return challenge_reply(token, plain.token.as_deref(), challenge);
        }
        // The delivery runs to completion even if the caller goes away (the platform hung
        // up, a replay was cut short): it is recorded, so a replay of the same signed
        // request, now or later, is answered from the record and never re-runs the handler.
        let this = self.clone();
        RunToCompletion::new(Box::pin(async move { this.route(plain, true).await }))
            .await
            .into_reply()
    }

    /// The body size limit and read timeout, for adapters that read the body.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn body_limits(&self) -> (usize, Duration) {
        (self.inner.max_body, self.inner.body_read_timeout)
    }

    /// Handles one event that arrived over the long connection: plain JSON, unsigned (the
    /// connection itself is authenticated), de-duplicated and routed like an HTTP event.
    #[cfg(feature = "long-connection")]
    pub(crate) async fn handle_pushed(&self, payload: &[u8]) -> Outcome {
        match read_envelope(payload.to_vec()) {
            Some(envelope) => self.route(envelope, false).await,
            None => Outcome::fail(400, "the payload is not a JSON object"),
        }
    }

    fn token_ok(&self, token: Option<&str>) -> bool {
        token_matches(self.inner.verification_token.as_deref(), token)
    }

    /// Routes a verified, decrypted envelope. `check_token`: compare the envelope's
    /// verification token (HTTP); the long connection is authenticated by itself.
    async fn route(&self, mut envelope: Envelope, check_token: bool) -> Outcome {
        let event = if envelope.schema {
            let Some(Some(header)) = envelope.header.take() else {
                return Outcome::fail(400, "schema 2.0 event without a header");
            };
            if check_token && !self.token_ok(header.token.as_deref()) {
                return Outcome::fail(401, "verification token mismatch");
            }
            Event {
                event_type: header.event_type.unwrap_or_default(),
                event_id: header.event_id,
                tenant_key: header.tenant_key,
                app_id: header.app_id,
                create_time: header.create_time,
                schema: "2.0",
                payload: envelope.into_payload(),
            }
        } else if envelope.uuid.is_some() || envelope.has_event() {
            if check_token && !self.token_ok(envelope.token.as_deref()) {
                return Outcome::fail(401, "verification token mismatch");
            }
            let (event_id, create_time) = (envelope.uuid.clone(), envelope.ts.clone());
            let payload = envelope.into_payload();
            let Ok((kind, tenant_key, app_id)) = envelope::v1_fields(&payload) else {
                return Outcome::fail(400, "the schema 1.0 event is not valid JSON");
            };
            Event {
                event_type: kind.unwrap_or_default(),
                event_id,
                tenant_key,
                app_id,
                create_time,
                schema: "1.0",
                payload,
            }
        } else {
            return Outcome::fail(400, "neither a schema 2.0 nor a schema 1.0 event");
        };
        if event.event_type.is_empty() {
            return Outcome::fail(400, "the event has no type");
        }
        let Some(id) = event.event_id.clone() else {
            return self.deliver(event, None).await;
        };
        // A copy that arrives while the first delivery is still being handled waits for its
        // result: answering 200 at once would lose the event if that handler then failed.
        let waiting = {
            let mut inflight = self
                .inner
                .inflight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match inflight.get(&id) {
                Some(rx) => Err(rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    inflight.insert(id.clone(), rx);
                    Ok(tx)
                }
            }
        };
        let tx = match waiting {
            Ok(tx) => tx,
            Err(mut rx) => {
                // Bounded: a copy never waits longer than this for a stuck handler; it then
                // fails, and the platform delivers the event again later.
                let wait = async { rx.wait_for(Option::is_some).await.ok().and_then(|s| *s) };
                let patience = COPY_WAIT.min(self.inner.handler_timeout);
                return match tokio::time::timeout(patience, wait).await {
                    Ok(Some(200)) => Outcome::ok(None),
                    Ok(other) => Outcome::fail(
                        other.unwrap_or(500),
                        "the concurrent delivery of this event failed",
                    ),
                    Err(_) => Outcome::fail(
                        500,
                        "the concurrent delivery of this event is still running",
                    ),
                };
            }
        };
        let mut guard = InFlight {
            inner: self.inner.clone(),
            id,
            tx,
            recorded: false,
            finished: false,
        };
        let outcome = self.deliver(event, Some(&mut guard)).await;
        guard.finish(outcome.status);
        outcome
    }

    /// De-duplicates by id, feeds `app_ticket` to the client, runs the handler (a panic is
    /// a failure like any other).
    async fn deliver(&self, event: Event<RawPayload>, mut guard: Option<&mut InFlight>) -> Outcome {
        use futures_util::FutureExt as _;
        let inner = &self.inner;
        let id = guard.as_ref().map(|g| g.id.clone());
        let id = id.as_deref();
        if let Some(id) = id {
            // In flight elsewhere: marked for the handler timeout and a margin at most.
            let lease = inner.handler_timeout + Duration::from_secs(5);
            let patience = COPY_WAIT.min(inner.handler_timeout);
            let claim = dedup::claim_or_wait(&*inner.dedup, id, lease, inner.dedup_ttl, patience);
            match claim.await {
                Ok(Claim::New) => {
                    if let Some(g) = guard.as_mut() {
                        g.recorded = true;
                    }
                }
                Ok(Claim::Handled) => {
                    tracing::debug!(event_id = %id, "duplicate event dropped");
                    return Outcome::ok(None);
                }
                Ok(_) => {
                    return Outcome::fail(
                        503,
                        "this event is being handled by another process; the platform will deliver it again",
                    );
                }
                Err(e) => {
                    tracing::warn!(event_id = %id, error = %e, "de-duplication store failed; handling the event anyway");
                }
            }
        }
        if event.event_type == "app_ticket"
            && let (Some(client), Some(ticket)) =
                (&inner.client, event.payload.string_field("app_ticket"))
        {
            client.set_app_ticket(&ticket).await;
        }
        let Some(handler) = inner.handlers.get(&event.event_type) else {
            tracing::debug!(event_type = %event.event_type, "no handler registered");
            return Outcome::ok(None);
        };
        let started = Instant::now();
        let turn = match &inner.ordering {
            Some(lanes) => lanes.enter(&event).await,
            None => Ok(None),
        };
        let outcome = match turn {
            Err(key) => Outcome::fail(
                503,
                format!(
                    "too many events of {key:?} are waiting to be handled in order; the platform will deliver this one again"
                ),
            ),
            Ok(_turn) => {
                let mut handled = std::panic::AssertUnwindSafe(handler(event)).catch_unwind();
                // Most handlers finish on their first poll: those need no timer. The timeout
                // counts from the second poll on (a first poll cannot be stopped anyway).
                let finished = match (&mut handled).now_or_never() {
                    Some(done) => Ok(done),
                    None => tokio::time::timeout(inner.handler_timeout, handled).await,
                };
                match finished {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(_)) => Outcome::fail(500, "the handler panicked"),
                    Err(_) => Outcome::fail(
                        500,
                        format!(
                            "the handler did not finish within {:?} (the handler timeout) and was stopped",
                            inner.handler_timeout
                        ),
                    ),
                }
            }
        };
        if outcome.status == 200 {
            if let Some(id) = id
                && let Err(e) = inner.dedup.complete(id, inner.dedup_ttl).await
            {
                tracing::warn!(event_id = %id, error = %e, "could not record a handled event id");
            }
        } else {
            // Forget the id, so the platform's retry is handled.
            if let Some(id) = id
                && let Err(e) = inner.dedup.forget(id).await
            {
                tracing::warn!(event_id = %id, error = %e, "could not forget a failed event id");
            }
            tracing::warn!(
                error = outcome.message.as_deref().unwrap_or_default(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "event handler failed"
            );
        }
        outcome
    }
}

pub(crate) fn finish<A: Answer>(result: HandlerResult<A>) -> Outcome {
    match result {
        Ok(answer) => Outcome::ok(answer.into_answer()),
        Err(e) => Outcome::fail(500, e.to_string()),
    }
}
