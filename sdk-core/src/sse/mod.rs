//! Server-sent events: calls whose answer is a `text/event-stream` (the AI APIs that stream
//! their reply), read as a [`Stream`] of [`SseEvent`]s.
//!
//! [`RawRequest::sse`](crate::RawRequest::sse) sends the call like any other (the token is
//! chosen, an invalid one replaced once) with `Accept: text/event-stream`, and hands back an
//! [`SseStream`] as soon as the platform answered with that media type. The stream is parsed
//! with the W3C EventSource rules (see [`SseEvent`]).
//!
//! What it never does: retry or reconnect (a streamed answer is not replayed behind your
//! back; [`SseStream::last_event_id`] is what to send with
//! [`SseOptions::last_event_id`] on a new call), or follow the deadlines of ordinary calls
//! ([`SseOptions`] has its own: to open, between reads, in all).
//!
//! ```no_run
//! # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
//! use lark_oapi_core::Method;
//! use lark_oapi_core::sse::SseOptions;
//! use std::time::Duration;
//!
//! let mut stream = client
//!     .request(Method::POST, "/open-apis/aily/v1/agents/:agent_id/chats")
//!     .path_param("agent_id", "agent_xxx")
//!     .json(&serde_json::json!({ "content": "Summarise today's tickets", "stream": true }))
//!     .sse_with(SseOptions::new().idle_timeout(Duration::from_secs(30)))
//!     .await?;
//! while let Some(event) = stream.next_event().await {
//!     let event = event?;
//!     println!("{}: {}", event.event, event.data);
//! }
//! # Ok(()) }
//! ```
//!
//! One decision differs from a browser's EventSource: a stream that ends inside an event
//! (data read but no blank line yet) is an error ([`SseErrorKind::EndedMidEvent`]), not a
//! silent end, so a cut answer is never taken for a complete one.

mod parse;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::{DecodeError, Error, Result, TransportError, excerpt};
use crate::request::RequestSpec;
use crate::request::exchange::Delivered;
use crate::request::retry::RetryPolicy;

/// The default [`SseOptions::open_timeout`].
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`SseOptions::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`SseOptions::max_event_bytes`].
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;
/// The longest [`SseOptions::last_event_id`] accepted.
pub const MAX_LAST_EVENT_ID_BYTES: usize = 8192;

/// How an event-stream call is bounded. Checked before anything is sent.
///
/// ```
/// use lark_oapi_core::sse::SseOptions;
/// use std::time::Duration;
/// let options = SseOptions::new()
///     .open_timeout(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(20))
///     .total_timeout(Duration::from_secs(300))
///     .max_event_bytes(256 * 1024)
///     .last_event_id("42");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SseOptions {
    open_timeout: Duration,
    idle_timeout: Duration,
    total_timeout: Option<Duration>,
    max_event_bytes: usize,
    last_event_id: Option<String>,
}

impl Default for SseOptions {
    fn default() -> Self {
        Self {
            open_timeout: DEFAULT_OPEN_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            total_timeout: None,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            last_event_id: None,
        }
    }
}

impl SseOptions {
    /// The defaults: 10 s to open, 60 s between reads, no total bound, 1 MiB per event.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long until the answer's headers have arrived (it replaces the call's
    /// `timeout`). Default 10 s.
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// How long the stream may stay silent (no byte at all, comments included) before it
    /// fails with [`SseErrorKind::IdleTimeout`]. Default 60 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long the whole call may take, from sending to the last event
    /// ([`SseErrorKind::TotalTimeout`]). Default: unbounded.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// The most bytes one event may take on the wire (its lines up to the blank line that
    /// ends it); a larger one fails with [`SseErrorKind::EventTooLarge`]. Default 1 MiB.
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    /// Sends `Last-Event-ID`, to resume after the event with that id (no CR, LF or NUL; at
    /// most 8 KiB).
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    fn check(&self) -> Result<()> {
        let zero = |what: &str| {
            Err(Error::InvalidRequest(format!(
                "SseOptions::{what} must be more than zero"
            )))
        };
        if self.open_timeout.is_zero() {
            return zero("open_timeout");
        }
        if self.idle_timeout.is_zero() {
            return zero("idle_timeout");
        }
        if self.total_timeout.is_some_and(|t| t.is_zero()) {
            return zero("total_timeout");
        }
        if self.max_event_bytes == 0 {
            return zero("max_event_bytes");
        }
        if let Some(id) = &self.last_event_id {
            if id.contains(['\r', '\n', '\0']) {
                return Err(Error::InvalidRequest(
                    "SseOptions::last_event_id may not contain CR, LF or NUL".into(),
                ));
            }
            if id.len() > MAX_LAST_EVENT_ID_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "SseOptions::last_event_id is {} bytes; at most {MAX_LAST_EVENT_ID_BYTES} are sent",
                    id.len()
                )));
            }
        }
        Ok(())
    }
}

/// One event of the stream.
///
/// `event` is the `event:` field (`message` when the server gave none), `data` the `data:`
/// lines joined with `\n`, `id` the last event id at the time (the `id:` of this event or an
/// earlier one; `None` when none was given or it was cleared).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SseEvent {
    /// The event type.
    pub event: String,
    /// The data.
    pub data: String,
    /// The last event id.
    pub id: Option<String>,
}

impl SseEvent {
    /// The data decoded as JSON into `T` (most AI streams send one JSON object per event).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.data).map_err(|e| {
            Error::Decode(Box::new(DecodeError {
                message: format!(
                    "the data of a `{}` event is not the JSON expected: {e}",
                    self.event
                ),
                excerpt: excerpt(self.data.as_bytes()),
                status: 200,
                log_id: None,
                request: String::new(),
            }))
        })
    }
}

/// Why an event stream failed (inside [`Error::Sse`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SseError {
    /// What went wrong.
    pub kind: SseErrorKind,
    /// Which request, e.g. `POST /open-apis/aily/v1/agents/:agent_id/chats`.
    pub request: String,
    /// The HTTP status of the answer.
    pub http_status: u16,
    /// The platform's log id (`X-Tt-Logid`).
    pub log_id: Option<String>,
}

/// The ways an event stream fails.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseErrorKind {
    /// The platform answered successfully, but not with `text/event-stream` (an error
    /// envelope is [`Error::Api`] instead).
    NotEventStream {
        /// The answer's `Content-Type`.
        content_type: Option<String>,
    },
    /// An event grew past [`SseOptions::max_event_bytes`].
    EventTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body ended inside an event: its data never arrived whole.
    EndedMidEvent,
    /// Nothing arrived for [`SseOptions::idle_timeout`].
    IdleTimeout(Duration),
    /// The call took longer than [`SseOptions::total_timeout`].
    TotalTimeout(Duration),
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SseErrorKind::NotEventStream { content_type } => write!(
                f,
                "expected text/event-stream but the answer is {}",
                content_type.as_deref().unwrap_or("without a Content-Type")
            ),
            SseErrorKind::EventTooLarge { limit } => write!(
                f,
                "an event is larger than {limit} bytes; raise SseOptions::max_event_bytes if that is expected"
            ),
            SseErrorKind::EndedMidEvent => {
                f.write_str("the event stream ended in the middle of an event")
            }
            SseErrorKind::IdleTimeout(after) => write!(
                f,
                "the event stream was silent for {after:?}; raise SseOptions::idle_timeout if the server is slower"
            ),
            SseErrorKind::TotalTimeout(after) => write!(
                f,
                "the event stream took longer than SseOptions::total_timeout ({after:?})"
            ),
        }?;
        write!(f, " [{}, HTTP {}", self.request, self.http_status)?;
        if let Some(log_id) = &self.log_id {
            write!(f, ", log_id {log_id}")?;
        }
        f.write_str("]")
    }
}

impl std::error::Error for SseError {}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// `after` from now; a duration past what the clock holds (`Duration::MAX` for "never")
/// is a year, which no stream outlives.
fn deadline(after: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(after)
        .unwrap_or(now + Duration::from_secs(365 * 86_400))
}

/// The events of an answer, as they arrive; see the [module docs](self).
///
/// A [`Stream`] of `Result<SseEvent>` (use `futures::StreamExt::next`, or
/// [`SseStream::next_event`] without any import). After an error it ends. Dropping it closes
/// the connection.
pub struct SseStream {
    body: Body,
    parser: parse::Parser,
    ready: VecDeque<SseEvent>,
    /// Returned once the events before it are out; then the stream ends.
    failure: Option<Error>,
    done: bool,
    idle: Pin<Box<tokio::time::Sleep>>,
    idle_timeout: Duration,
    total: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
    headers: HeaderMap,
    status: u16,
    log_id: Option<String>,
    request: String,
}

impl fmt::Debug for SseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("request", &self.request)
            .field("status", &self.status)
            .field("log_id", &self.log_id)
            .field("last_event_id", &self.last_event_id())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl SseStream {
    /// The next event; `None` once the stream ended (normally, or after an error it
    /// returned).
    pub async fn next_event(&mut self) -> Option<Result<SseEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The last event id seen, to resume with [`SseOptions::last_event_id`].
    pub fn last_event_id(&self) -> Option<&str> {
        Some(self.parser.dispatched_id()).filter(|id| !id.is_empty())
    }

    /// The reconnection time the server asked for (`retry:`), if any. The SDK does not
    /// reconnect; this is for your own policy.
    pub fn retry(&self) -> Option<Duration> {
        self.parser.retry()
    }

    /// The answer's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The platform's log id (`X-Tt-Logid`).
    pub fn log_id(&self) -> Option<&str> {
        self.log_id.as_deref()
    }

    fn fail(&self, kind: SseErrorKind) -> Error {
        Error::Sse(Box::new(SseError {
            kind,
            request: self.request.clone(),
            http_status: self.status,
            log_id: self.log_id.clone(),
        }))
    }
}

impl Stream for SseStream {
    type Item = Result<SseEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(error) = this.failure.take() {
                return Poll::Ready(Some(Err(error)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if let Some((deadline, after)) = &mut this.total
                && deadline.as_mut().poll(cx).is_ready()
            {
                let kind = SseErrorKind::TotalTimeout(*after);
                this.done = true;
                this.failure = Some(this.fail(kind));
                continue;
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.idle.as_mut().reset(deadline(this.idle_timeout));
                    if this.parser.feed(&chunk, &mut this.ready).is_err() {
                        let limit = this.parser.limit();
                        this.done = true;
                        this.failure = Some(this.fail(SseErrorKind::EventTooLarge { limit }));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.failure = Some(Error::Transport(Box::new(TransportError {
                        request: this.request.clone(),
                        connect: false,
                        message: "reading the event stream failed".into(),
                        source: Some(Box::new(e)),
                    })));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if this.parser.mid_event() {
                        this.failure = Some(this.fail(SseErrorKind::EndedMidEvent));
                    }
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        this.failure =
                            Some(this.fail(SseErrorKind::IdleTimeout(this.idle_timeout)));
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

// Here rather than in `client.rs`, as `request` is in `raw.rs`.
impl Client {
    /// Sends a described call whose answer is an event stream; see [`SseStream`].
    ///
    /// Must be called inside a Tokio runtime with timers (the deadlines).
    pub async fn sse(&self, spec: &RequestSpec, options: &SseOptions) -> Result<SseStream> {
        options.check()?;
        let started = Instant::now();
        // The whole way to the headers (the token, the pacer, a replay with a new token
        // included) within the open deadline, each attempt too.
        let open = match options.total_timeout {
            Some(total) => total.min(options.open_timeout),
            None => options.open_timeout,
        };
        let mut spec = spec.clone();
        let mut call = std::mem::take(spec.options_mut())
            .header("accept", "text/event-stream")
            .timeout(open)
            .retry_policy(RetryPolicy::disabled());
        if let Some(id) = &options.last_event_id {
            call = call.header("last-event-id", id.clone());
        }
        *spec.options_mut() = call;
        let request = format!("{} {}", spec.method(), spec.path());
        let delivered = match tokio::time::timeout(open, self.inner.execute(&spec, true)).await {
            Ok(delivered) => delivered?,
            Err(_) => return Err(Error::Timeout { after: open }),
        };
        let (response, log_id) = match delivered {
            Delivered::Streaming { response, log_id } => (response, log_id),
            Delivered::Buffered(raw) => {
                return Err(raw.decode_error(
                    "expected text/event-stream but the platform answered JSON with code 0".into(),
                ));
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_sse = content_type.as_deref().is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
        });
        if !is_sse {
            return Err(Error::Sse(Box::new(SseError {
                kind: SseErrorKind::NotEventStream { content_type },
                request,
                http_status: status,
                log_id,
            })));
        }
        let total = options.total_timeout.map(|after| {
            let left = after.saturating_sub(started.elapsed());
            (Box::pin(tokio::time::sleep_until(deadline(left))), after)
        });
        let headers = response.headers().clone();
        Ok(SseStream {
            body: Box::pin(response.bytes_stream()),
            parser: parse::Parser::new(options.max_event_bytes),
            ready: VecDeque::new(),
            failure: None,
            done: false,
            idle: Box::pin(tokio::time::sleep_until(deadline(options.idle_timeout))),
            idle_timeout: options.idle_timeout,
            total,
            headers,
            status,
            log_id,
            request,
        })
    }
}
