//! Typed handler registration, for the generated `on_<event>` methods (not public API:
//! reached through `lark_oapi_core::__private`).

use std::future::Future;
use std::sync::Arc;

use super::{Answer, Event, EventDispatcherBuilder, HandlerResult, Outcome, finish};
use crate::json::FromJson;

/// Registration of typed handlers. The generated `on_<event>` methods (one per event type,
/// in `lark_oapi::prelude`) are provided methods of traits built on this one.
pub trait RegisterHandlers: Sized {
    /// Handles `event_type` with `handler`, which gets the event with its payload decoded
    /// into `P` and answers with `A` (`()` for plain events, the response type for
    /// callbacks). A payload that does not decode fails the delivery (500), so the
    /// platform delivers it again and nothing is lost silently.
    fn on_event<P, A, F, Fut>(self, event_type: &str, handler: F) -> Self
    where
        P: FromJson + Send + 'static,
        A: Answer + 'static,
        F: Fn(Event<P>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult<A>> + Send + 'static;
}

impl RegisterHandlers for EventDispatcherBuilder {
    fn on_event<P, A, F, Fut>(mut self, event_type: &str, handler: F) -> Self
    where
        P: FromJson + Send + 'static,
        A: Answer + 'static,
        F: Fn(Event<P>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult<A>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.handlers.insert(
            event_type.to_owned(),
            Arc::new(move |event: Event<super::RawPayload>| {
                let typed = event.into_typed::<P>();
                let handler = handler.clone();
                Box::pin(async move {
                    match typed {
                        Ok(event) => finish(handler(event).await),
                        Err(e) => {
                            Outcome::fail(500, format!("the event payload did not decode: {e}"))
                        }
                    }
                })
            }),
        );
        self
    }
}
