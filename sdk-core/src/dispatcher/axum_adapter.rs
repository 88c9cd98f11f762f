//! An `axum` adapter: handlers and routers that serve an [`EventDispatcher`] and a
//! [`CardActionHandler`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{CardActionHandler, EventDispatcher, Reply};

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
    let reply = dispatcher
        .handle(method.as_str(), &pairs(&headers), &body)
        .await;
    into_response(reply)
}

/// A router answering `POST path` with the legacy card-action handler.
pub fn card_router(path: &str, handler: CardActionHandler) -> axum::Router {
    axum::Router::new()
        .route(path, axum::routing::any(handle_card))
        .with_state(handler)
}

/// The axum handler for legacy card callbacks: method, headers and exact body bytes.
pub async fn handle_card(
    State(handler): State<CardActionHandler>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    into_response(
        handler
            .handle(method.as_str(), &pairs(&headers), &body)
            .await,
    )
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
