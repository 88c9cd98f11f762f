//! The event dispatcher: verifies, decrypts, de-duplicates and routes the events the
//! platform pushes to your HTTP endpoint, framework-free.
//!
//! Give it the method, headers and exact body bytes of a request; it answers with the
//! status, headers and body to send back. Verification failures get 401, bodies it cannot
//! read get 400, handler failures get 500 (so the platform retries), and only a handled (or
//! deliberately ignored) event gets 200.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::event_crypto::{constant_time_eq, decrypt, verify_event_signature};
use crate::json::FromJson;

/// What a handler returns: `Ok` (optionally with a JSON body for callbacks), or an error
/// message that makes the platform retry.
pub type HandlerResult = Result<Option<Value>, String>;

type BoxedCardHandler =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>> + Send + Sync>;

type BoxedHandler =
    Arc<dyn Fn(Event) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>> + Send + Sync>;

/// One event as delivered: its type, id, tenant and the raw `event` object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// e.g. `im.message.receive_v1` (v2 `header.event_type`, v1 `event.type`).
    pub event_type: String,
    /// `header.event_id` (v2) or `uuid` (v1).
    pub event_id: Option<String>,
    /// The tenant the event belongs to.
    pub tenant_key: Option<String>,
    /// The app it was sent to.
    pub app_id: Option<String>,
    /// `2.0` or `1.0`.
    pub schema: &'static str,
    /// The `event` object.
    pub payload: Value,
}

impl Event {
    /// The payload decoded into a generated event type.
    pub fn decode<T: FromJson>(&self) -> Result<T, crate::json::JsonError> {
        T::from_json(self.payload.clone())
    }
}

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
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
        }
    }

    fn msg(status: u16, msg: &str) -> Self {
        Self::json(status, &serde_json::json!({ "msg": msg }))
    }
}

/// Builder of an [`EventDispatcher`].
#[derive(Default)]
pub struct EventDispatcherBuilder {
    encrypt_key: Option<String>,
    verification_token: Option<String>,
    client: Option<Client>,
    handlers: HashMap<String, BoxedHandler>,
    max_body: Option<usize>,
    timestamp_window: Option<Duration>,
    dedup_ttl: Option<Duration>,
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

    /// Largest body accepted (1 MiB by default).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// How far a signed request's timestamp may be from now (5 minutes by default).
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

    /// Handles `event_type` with a function of the raw [`Event`].
    pub fn on_raw<F, Fut>(mut self, event_type: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.handlers.insert(
            event_type.into(),
            Arc::new(move |event| Box::pin(handler(event))),
        );
        self
    }

    /// The dispatcher.
    pub fn build(self) -> EventDispatcher {
        EventDispatcher {
            inner: Arc::new(Inner {
                encrypt_key: self.encrypt_key,
                verification_token: self.verification_token,
                client: self.client,
                handlers: self.handlers,
                max_body: self.max_body.unwrap_or(1 << 20),
                timestamp_window: self.timestamp_window.unwrap_or(Duration::from_secs(300)),
                dedup_ttl: self.dedup_ttl.unwrap_or(Duration::from_secs(8 * 3600)),
                seen: Mutex::new(HashMap::new()),
            }),
        }
    }
}

/// Verifies, decrypts, de-duplicates and routes pushed events. Cheap to clone.
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
    verification_token: Option<String>,
    client: Option<Client>,
    handlers: HashMap<String, BoxedHandler>,
    max_body: usize,
    timestamp_window: Duration,
    dedup_ttl: Duration,
    seen: Mutex<HashMap<String, Instant>>,
}

impl fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDispatcher")
            .field("handlers", &self.inner.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// Whether `given` is the configured verification token (always, if none is configured),
/// compared in constant time.
fn token_matches(expected: Option<&str>, given: Option<&str>) -> bool {
    expected.is_none_or(|e| constant_time_eq(e.as_bytes(), given.unwrap_or_default().as_bytes()))
}

/// The answer to a `url_verification` body (token checked), or `None` for anything else.
fn challenge_reply(expected_token: Option<&str>, map: &mut Map<String, Value>) -> Option<Reply> {
    if str_of(map, "type") != Some("url_verification") {
        return None;
    }
    if !token_matches(expected_token, str_of(map, "token")) {
        return Some(Reply::msg(401, "verification token mismatch"));
    }
    let challenge = map.remove("challenge").unwrap_or(Value::Null);
    Some(Reply::json(
        200,
        &serde_json::json!({ "challenge": challenge }),
    ))
}

impl EventDispatcher {
    /// Starts a dispatcher.
    pub fn builder() -> EventDispatcherBuilder {
        EventDispatcherBuilder::default()
    }

    /// Handles one pushed request: `method`, headers (any case) and the exact body bytes.
    pub async fn handle(&self, method: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
        let inner = &self.inner;
        if !method.eq_ignore_ascii_case("POST") {
            return Reply::msg(405, "events are delivered with POST");
        }
        if body.len() > inner.max_body {
            return Reply::msg(413, "body too large");
        }
        let Ok(Value::Object(outer)) = serde_json::from_slice::<Value>(body) else {
            return Reply::msg(400, "the body is not a JSON object");
        };
        let plain = match str_of(&outer, "encrypt") {
            Some(sealed) => {
                let Some(key) = &inner.encrypt_key else {
                    return Reply::msg(400, "encrypted body but no Encrypt Key is configured");
                };
                // Signed when an Encrypt Key is set; the challenge itself is not signed.
                let signature = header(headers, "x-lark-signature");
                if let Some(sig) = signature {
                    let ts = header(headers, "x-lark-request-timestamp").unwrap_or_default();
                    let nonce = header(headers, "x-lark-request-nonce").unwrap_or_default();
                    if !verify_event_signature(ts, nonce, key, body, sig) {
                        return Reply::msg(401, "signature mismatch");
                    }
                    if !self.timestamp_fresh(ts) {
                        return Reply::msg(401, "stale or missing request timestamp");
                    }
                }
                let decrypted = match decrypt(key, sealed) {
                    Ok(d) => d,
                    Err(e) => return Reply::msg(400, &e.to_string()),
                };
                match serde_json::from_slice::<Value>(&decrypted) {
                    Ok(Value::Object(map)) => {
                        if signature.is_none() && str_of(&map, "type") != Some("url_verification") {
                            return Reply::msg(401, "unsigned encrypted event");
                        }
                        map
                    }
                    _ => return Reply::msg(400, "the decrypted body is not a JSON object"),
                }
            }
            None => {
                if inner.encrypt_key.is_some() && str_of(&outer, "type") != Some("url_verification")
                {
                    return Reply::msg(
                        401,
                        "an Encrypt Key is configured but the body is not encrypted",
                    );
                }
                outer
            }
        };
        self.route(plain).await
    }

    fn timestamp_fresh(&self, ts: &str) -> bool {
        let Ok(secs) = ts.trim().parse::<u64>() else {
            return false;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        now.abs_diff(secs) <= self.inner.timestamp_window.as_secs()
    }

    fn token_ok(&self, token: Option<&str>) -> bool {
        token_matches(self.inner.verification_token.as_deref(), token)
    }

    /// Whether `id` was seen within the TTL; records it otherwise.
    fn seen_before(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 100_000 {
            let ttl = self.inner.dedup_ttl;
            seen.retain(|_, at| now.duration_since(*at) < ttl);
        }
        match seen.get(id) {
            Some(at) if now.duration_since(*at) < self.inner.dedup_ttl => true,
            _ => {
                seen.insert(id.to_owned(), now);
                false
            }
        }
    }

    async fn route(&self, mut map: Map<String, Value>) -> Reply {
        if let Some(reply) = challenge_reply(self.inner.verification_token.as_deref(), &mut map) {
            return reply;
        }
        let event = if map.contains_key("schema") {
            let header = match map.remove("header") {
                Some(Value::Object(h)) => h,
                _ => return Reply::msg(400, "schema 2.0 event without a header"),
            };
            if !self.token_ok(str_of(&header, "token")) {
                return Reply::msg(401, "verification token mismatch");
            }
            Event {
                event_type: str_of(&header, "event_type").unwrap_or_default().to_owned(),
                event_id: str_of(&header, "event_id").map(str::to_owned),
                tenant_key: str_of(&header, "tenant_key").map(str::to_owned),
                app_id: str_of(&header, "app_id").map(str::to_owned),
                schema: "2.0",
                payload: map.remove("event").unwrap_or(Value::Null),
            }
        } else if map.contains_key("uuid") || map.contains_key("event") {
            if !self.token_ok(str_of(&map, "token")) {
                return Reply::msg(401, "verification token mismatch");
            }
            let payload = map.remove("event").unwrap_or(Value::Null);
            Event {
                event_type: payload
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                event_id: str_of(&map, "uuid").map(str::to_owned),
                tenant_key: payload
                    .get("tenant_key")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                app_id: payload
                    .get("app_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                schema: "1.0",
                payload,
            }
        } else {
            return Reply::msg(400, "neither a schema 2.0 nor a schema 1.0 event");
        };
        if event.event_type.is_empty() {
            return Reply::msg(400, "the event has no type");
        }
        if let Some(id) = &event.event_id
            && self.seen_before(id)
        {
            tracing::debug!(event_id = %id, "duplicate event dropped");
            return Reply::msg(200, "success");
        }
        if event.event_type == "app_ticket"
            && let (Some(client), Some(ticket)) = (
                &self.inner.client,
                event.payload.get("app_ticket").and_then(Value::as_str),
            )
        {
            client.set_app_ticket(ticket).await;
        }
        let Some(handler) = self.inner.handlers.get(&event.event_type) else {
            tracing::debug!(event_type = %event.event_type, "no handler registered");
            return Reply::msg(200, "success");
        };
        let id = event.event_id.clone();
        match handler(event).await {
            Ok(None) => Reply::msg(200, "success"),
            Ok(Some(body)) => Reply::json(200, &body),
            Err(e) => {
                // Forget the id, so the platform's retry is handled.
                if let Some(id) = id {
                    self.inner
                        .seen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                }
                tracing::warn!(error = %e, "event handler failed");
                Reply::msg(500, &e)
            }
        }
    }
}

/// An `axum` adapter: a handler and a router that serve an [`EventDispatcher`].
#[cfg(feature = "axum")]
pub mod axum_adapter {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
    use axum::response::{IntoResponse, Response};

    use super::EventDispatcher;

    /// A router answering `POST path` with the dispatcher.
    ///
    /// ```no_run
    /// # async fn run(dispatcher: lark_oapi_core::dispatcher::EventDispatcher) -> std::io::Result<()> {
    /// let app = lark_oapi_core::dispatcher::axum_adapter::router("/webhook/event", dispatcher);
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
    /// axum::serve(listener, app).await
    /// # }
    /// ```
    pub fn router(path: &str, dispatcher: EventDispatcher) -> axum::Router {
        axum::Router::new()
            .route(path, axum::routing::any(handle))
            .with_state(dispatcher)
    }

    /// The axum handler: passes method, headers and the exact body bytes to the dispatcher.
    pub async fn handle(
        State(dispatcher): State<EventDispatcher>,
        method: Method,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let pairs: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let reply = dispatcher.handle(method.as_str(), &pairs, &body).await;
        let mut response = (
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reply.body,
        )
            .into_response();
        for (k, v) in reply.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                response.headers_mut().insert(k, v);
            }
        }
        response
    }
}

/// A typed callback answer (e.g. the generated `P2CardActionTriggerResponse` with a toast
/// or a replacement card) as a handler result.
pub fn respond<T: crate::json::ToJson>(answer: &T) -> HandlerResult {
    serde_json::from_slice(&crate::json::to_vec(answer))
        .map(Some)
        .map_err(|e| format!("the callback answer is not JSON: {e}"))
}

/// The legacy message-card callback (`card.action.trigger_v1`), delivered to the card
/// request URL: SHA-1 signature with the Verification Token over the raw body, optional
/// encryption, url_verification, and the handler's answer (a card or a toast) as the body.
#[derive(Clone)]
pub struct CardActionHandler {
    verification_token: Option<String>,
    encrypt_key: Option<String>,
    handler: BoxedCardHandler,
}

impl fmt::Debug for CardActionHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardActionHandler").finish_non_exhaustive()
    }
}

impl CardActionHandler {
    /// Answers card actions with `handler` (which gets the whole callback body).
    pub fn new<F, Fut>(handler: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        Self {
            verification_token: None,
            encrypt_key: None,
            handler: Arc::new(move |body| Box::pin(handler(body))),
        }
    }

    /// The Verification Token: signatures and challenge tokens are checked with it.
    pub fn verification_token(mut self, token: impl Into<String>) -> Self {
        self.verification_token = Some(token.into());
        self
    }

    /// The Encrypt Key, if card callbacks are encrypted.
    pub fn encrypt_key(mut self, key: impl Into<String>) -> Self {
        self.encrypt_key = Some(key.into());
        self
    }

    /// Handles one callback request: method, headers and the exact body bytes.
    pub async fn handle(&self, method: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
        if !method.eq_ignore_ascii_case("POST") {
            return Reply::msg(405, "card callbacks are delivered with POST");
        }
        if body.len() > 1 << 20 {
            return Reply::msg(413, "body too large");
        }
        let Ok(Value::Object(outer)) = serde_json::from_slice::<Value>(body) else {
            return Reply::msg(400, "the body is not a JSON object");
        };
        let mut map = match (str_of(&outer, "encrypt"), &self.encrypt_key) {
            (Some(_), None) => {
                return Reply::msg(400, "encrypted body but no Encrypt Key is configured");
            }
            (Some(sealed), Some(key)) => match decrypt(key, sealed) {
                Ok(plain) => match serde_json::from_slice::<Value>(&plain) {
                    Ok(Value::Object(m)) => m,
                    _ => return Reply::msg(400, "the decrypted body is not a JSON object"),
                },
                Err(e) => return Reply::msg(400, &e.to_string()),
            },
            (None, _) => outer,
        };
        if let Some(reply) = challenge_reply(self.verification_token.as_deref(), &mut map) {
            return reply;
        }
        if let Some(token) = &self.verification_token {
            let ts = header(headers, "x-lark-request-timestamp").unwrap_or_default();
            let nonce = header(headers, "x-lark-request-nonce").unwrap_or_default();
            let sig = header(headers, "x-lark-signature").unwrap_or_default();
            if !crate::event_crypto::verify_card_signature(ts, nonce, token, body, sig) {
                return Reply::msg(401, "card callback signature mismatch");
            }
        }
        match (self.handler)(Value::Object(map)).await {
            Ok(None) => Reply::msg(200, "success"),
            Ok(Some(answer)) => Reply::json(200, &answer),
            Err(e) => {
                tracing::warn!(error = %e, "card action handler failed");
                Reply::msg(500, &e)
            }
        }
    }
}
