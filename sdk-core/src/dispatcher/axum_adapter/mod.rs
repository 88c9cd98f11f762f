//! An `axum` adapter: handlers and routers that serve an [`EventDispatcher`] and a
//! [`CardActionHandler`], and [`serve`], a server with the timeouts a public endpoint needs.
//!
//! The routers read the body themselves, with the dispatcher's own limit
//! ([`max_body_bytes`](super::EventDispatcherBuilder::max_body_bytes), axum's 2 MiB default
//! plays no part) and read timeout
//! ([`body_read_timeout`](super::EventDispatcherBuilder::body_read_timeout)): a declared
//! length over the limit is refused before any of the body is read, a streamed one as soon
//! as it passes the limit (413), and a body that stalls is answered 408. Every answer is JSON.
//!
//! **Deploy with [`serve`], not plain `axum::serve`**: `axum::serve` sets no timeout for
//! reading request headers, so slow clients (slowloris) hold connections for ever. [`serve`]
//! closes a connection whose headers do not arrive within 10 s (idle keep-alive connections
//! included) and caps the connections open at once.
//!
//! ```no_run
//! # async fn run(dispatcher: lark_oapi_core::dispatcher::EventDispatcher) -> std::io::Result<()> {
//! use lark_oapi_core::dispatcher::axum_adapter;
//!
//! let app = axum_adapter::router("/webhook/event", dispatcher);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! axum_adapter::serve(listener, app).await
//! # }
//! ```

mod serve;

use std::error::Error as _;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;

pub use serve::{Serve, serve};

use super::{CardActionHandler, EventDispatcher, Reply};

/// A router answering `POST path` with the dispatcher.
///
/// ```no_run
/// # async fn run(dispatcher: lark_oapi_core::dispatcher::EventDispatcher) -> std::io::Result<()> {
/// use lark_oapi_core::dispatcher::axum_adapter;
///
/// let app = axum_adapter::router("/webhook/event", dispatcher);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// axum_adapter::serve(listener, app).await
/// # }
/// ```
pub fn router(path: &str, dispatcher: EventDispatcher) -> axum::Router {
    axum::Router::new()
        .route(path, axum::routing::any(handle))
        .with_state(dispatcher)
}

/// The axum handler: reads the body (within the dispatcher's size limit and read timeout)
/// and passes method, headers and the exact body bytes to the dispatcher.
pub async fn handle(State(dispatcher): State<EventDispatcher>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (max_bytes, timeout) = dispatcher.body_limits();
    let limits = Limits { max_bytes, timeout };
    let body = match read_body(&parts.headers, body, limits).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let reply = dispatcher
        .handle(parts.method.as_str(), &pairs(&parts.headers), &body)
        .await;
    into_response(reply)
}

/// A router answering `POST path` with the legacy card-action handler.
pub fn card_router(path: &str, handler: CardActionHandler) -> axum::Router {
    axum::Router::new()
        .route(path, axum::routing::any(handle_card))
        .with_state(handler)
}

/// The axum handler for legacy card callbacks: reads the body (within the handler's size
/// limit and read timeout) and passes method, headers and exact body bytes.
pub async fn handle_card(State(handler): State<CardActionHandler>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (max_bytes, timeout) = handler.body_limits();
    let limits = Limits { max_bytes, timeout };
    let body = match read_body(&parts.headers, body, limits).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    into_response(
        handler
            .handle(parts.method.as_str(), &pairs(&parts.headers), &body)
            .await,
    )
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_bytes: usize,
    timeout: Duration,
}

/// Reads a whole body: refused with 413 as soon as it is known to pass `max_bytes`
/// (declared length first), 408 if it is not complete within `timeout` (the connection is
/// then closed), 400 if the client's stream breaks.
async fn read_body(headers: &HeaderMap, body: Body, limits: Limits) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(closing(Reply::msg(413, "body too large")));
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = bytes::BytesMut::with_capacity(
            declared.map_or(0, |n| n as usize).min(limits.max_bytes),
        );
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                let why = e.source().map_or_else(|| e.to_string(), |s| s.to_string());
                tracing::debug!(error = %why, "event endpoint: the request body broke off");
                closing(Reply::msg(400, "the request body could not be read"))
            })?;
            if buf.len() + chunk.len() > limits.max_bytes {
                return Err(closing(Reply::msg(413, "body too large")));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    match tokio::time::timeout(limits.timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(closing(Reply::msg(
            408,
            "the request body did not arrive in time",
        ))),
    }
}

/// A refusal after which the rest of the body is not read: the connection is closed.
fn closing(reply: Reply) -> Response {
    let mut response = into_response(reply);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

fn into_response(reply: Reply) -> Response {
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
