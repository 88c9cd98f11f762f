//! Ordered handling per key (per chat by default): events with the same key are handled one
//! at a time, in the order they reach the dispatcher, while other keys run concurrently.
//!
//! One lane per key exists only while an event of that key is handled or waiting, so memory
//! follows the keys in use; each lane holds at most `max_waiting` events, and one more is
//! refused (answered as failed, so the platform delivers it again later) rather than queued
//! without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OwnedMutexGuard;

use super::RawPayload;
use super::event::Event;

/// A key function of the user's (see `EventDispatcherBuilder::ordered_by`).
pub(crate) type CustomKey = Arc<dyn Fn(&Event) -> Option<String> + Send + Sync>;

/// The key of an event: events with equal keys are handled in order; `None` is unordered.
#[derive(Clone)]
pub(crate) enum KeyFn {
    /// The chat, read from the payload's text (see [`RawPayload::chat`]).
    Chat,
    /// The user's function, given the event with its payload parsed into a [`Value`].
    Custom(CustomKey),
}

impl KeyFn {
    fn key(&self, event: &Event<RawPayload>) -> Option<String> {
        match self {
            KeyFn::Chat => event.payload.chat(),
            KeyFn::Custom(f) => {
                let payload = event.payload.decode::<Value>().unwrap_or(Value::Null);
                f(&Event {
                    event_type: event.event_type.clone(),
                    event_id: event.event_id.clone(),
                    tenant_key: event.tenant_key.clone(),
                    app_id: event.app_id.clone(),
                    create_time: event.create_time.clone(),
                    schema: event.schema,
                    payload,
                })
            }
        }
    }
}

struct Lane {
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Events of this key being handled or waiting.
    users: usize,
}

/// The lanes of one dispatcher.
pub(crate) struct Ordering {
    key: KeyFn,
    max_waiting: usize,
    lanes: Mutex<HashMap<String, Lane>>,
}

/// An event's turn in its lane: the lane is held until it drops, and the lane goes away with
/// its last user.
pub(crate) struct Turn<'a> {
    ordering: &'a Ordering,
    key: String,
    _guard: OwnedMutexGuard<()>,
}

impl Ordering {
    pub(crate) fn new(key: KeyFn, max_waiting: usize) -> Self {
        Self {
            key,
            max_waiting: max_waiting.max(1),
            lanes: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for `event`'s turn; `Ok(None)` for an event without a key; `Err` with the key
    /// when its lane is full.
    pub(crate) async fn enter(
        &self,
        event: &Event<RawPayload>,
    ) -> Result<Option<Turn<'_>>, String> {
        let Some(key) = self.key.key(event) else {
            return Ok(None);
        };
        let turn = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            let lane = lanes.entry(key.clone()).or_insert_with(|| Lane {
                turn: Arc::new(tokio::sync::Mutex::new(())),
                users: 0,
            });
            // The one being handled plus `max_waiting` behind it.
            if lane.users > self.max_waiting {
                return Err(key);
            }
            lane.users += 1;
            lane.turn.clone()
        };
        // Tokio's mutex is fair: waiters get it in the order they asked.
        let leave = Leave {
            ordering: self,
            key: Some(key),
        };
        let guard = turn.lock_owned().await;
        Ok(Some(Turn {
            ordering: self,
            key: leave.defuse(),
            _guard: guard,
        }))
    }

    fn leave(&self, key: &str) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lane) = lanes.get_mut(key) {
            lane.users -= 1;
            if lane.users == 0 {
                lanes.remove(key);
            }
        }
    }

    /// Keys with a lane now.
    #[cfg(test)]
    fn lanes(&self) -> usize {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.ordering.leave(&self.key);
    }
}

/// Leaves the lane if the wait for a turn is cancelled (the future dropped).
struct Leave<'a> {
    ordering: &'a Ordering,
    key: Option<String>,
}

impl Leave<'_> {
    /// The turn was taken: the `Turn` leaves instead.
    fn defuse(mut self) -> String {
        self.key.take().expect("defused once")
    }
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if let Some(key) = &self.key {
            self.ordering.leave(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(chat: &str) -> Event<RawPayload> {
        Event {
            event_type: "im.message.receive_v1".into(),
            event_id: None,
            tenant_key: None,
            app_id: None,
            create_time: None,
            schema: "2.0",
            payload: RawPayload::whole(
                serde_json::json!({ "message": { "chat_id": chat } }).to_string(),
            ),
        }
    }

    #[tokio::test]
    async fn a_lane_lives_while_used_refuses_past_its_bound_and_survives_cancellation() {
        let lanes = Ordering::new(KeyFn::Chat, 1);
        let first = lanes.enter(&event("oc_a")).await.unwrap().expect("keyed");
        // One may wait behind the one being handled; the next is refused.
        let queued = event("oc_a");
        let mut second = Box::pin(lanes.enter(&queued));
        let waited = tokio::time::timeout(std::time::Duration::from_millis(20), &mut second).await;
        assert!(waited.is_err(), "the second waits for the first");
        assert_eq!(
            lanes.enter(&event("oc_a")).await.err().as_deref(),
            Some("oc_a")
        );
        // Another chat is not held up.
        let other = lanes.enter(&event("oc_b")).await.unwrap();
        assert!(other.is_some());
        drop(other);
        assert_eq!(lanes.lanes(), 1);
        // A cancelled wait leaves the lane: after the first, nothing is left.
        drop(second);
        drop(first);
        assert_eq!(lanes.lanes(), 0);
        // No key: not ordered.
        let mut unkeyed = event("");
        unkeyed.payload = RawPayload::whole("{}".into());
        assert!(lanes.enter(&unkeyed).await.unwrap().is_none());
    }
}
