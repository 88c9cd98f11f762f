//! One delivered event, and what a handler may answer.

use serde_json::Value;

use crate::json::{FromJson, ToJson};

/// A handler's answer as the JSON body the platform receives.
///
/// Implemented for `()` (no body: `{"msg":"success"}`), [`Value`], `Option<T>`, and the
/// generated callback response types (e.g. `P2CardActionTriggerResponse`).
pub trait Answer {
    /// The JSON answer, or `None` for a plain acknowledgement.
    fn into_answer(self) -> Option<Value>;
}

impl Answer for () {
    fn into_answer(self) -> Option<Value> {
        None
    }
}

impl Answer for Value {
    fn into_answer(self) -> Option<Value> {
        Some(self)
    }
}

impl<T: Answer> Answer for Option<T> {
    fn into_answer(self) -> Option<Value> {
        self.and_then(Answer::into_answer)
    }
}

/// A typed value (e.g. a generated response struct) as an answer body.
pub fn answer_json<T: ToJson + ?Sized>(answer: &T) -> Option<Value> {
    serde_json::from_slice(&crate::json::to_vec(answer)).ok()
}

/// One event as delivered: its type, id, tenant, app, and the `event` object, raw
/// ([`Value`], the default) or decoded into a generated payload type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event<P = Value> {
    /// e.g. `im.message.receive_v1` (v2 `header.event_type`, v1 `event.type`).
    pub event_type: String,
    /// `header.event_id` (v2) or `uuid` (v1).
    pub event_id: Option<String>,
    /// The tenant the event belongs to.
    pub tenant_key: Option<String>,
    /// The app it was sent to.
    pub app_id: Option<String>,
    /// `header.create_time` (v2, milliseconds) or `ts` (v1), as sent.
    pub create_time: Option<String>,
    /// `2.0` or `1.0`.
    pub schema: &'static str,
    /// The `event` object.
    pub payload: P,
}

impl Event {
    /// The payload decoded into a generated event type (the raw event is kept).
    pub fn decode<T: FromJson>(&self) -> Result<T, crate::json::JsonError> {
        T::from_json(self.payload.clone())
    }

    /// The event with its payload decoded into a generated event type.
    pub fn into_typed<T: FromJson>(self) -> Result<Event<T>, crate::json::JsonError> {
        self.try_map(T::from_json)
    }
}

impl<P> Event<P> {
    /// The same event with its payload turned into another by `f`.
    pub(crate) fn try_map<Q, E>(self, f: impl FnOnce(P) -> Result<Q, E>) -> Result<Event<Q>, E> {
        Ok(Event {
            payload: f(self.payload)?,
            event_type: self.event_type,
            event_id: self.event_id,
            tenant_key: self.tenant_key,
            app_id: self.app_id,
            create_time: self.create_time,
            schema: self.schema,
        })
    }
}
