//! One delivery's life: its outcome, the mark that it is in flight (so copies wait for it),
//! and the guard that lets it finish when its caller goes away.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::Value;
use tokio::sync::watch;

use super::{Inner, Reply};
use crate::auth::BoxFuture;

/// How one delivery ended: the status for the platform and the handler's answer.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: u16,
    /// A callback's answer body.
    pub(crate) answer: Option<Value>,
    /// Why it failed (or what was ignored), for the HTTP body and the logs.
    pub(crate) message: Option<String>,
}

impl Outcome {
    pub(super) fn ok(answer: Option<Value>) -> Self {
        Self {
            status: 200,
            answer,
            message: None,
        }
    }

    pub(super) fn fail(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            answer: None,
            message: Some(message.into()),
        }
    }

    pub(super) fn into_reply(self) -> Reply {
        match (self.answer, self.message) {
            (Some(answer), _) => Reply::json(self.status, &answer),
            (None, Some(msg)) => Reply::msg(self.status, &msg),
            (None, None) if self.status == 200 => Reply::success(),
            (None, None) => Reply::msg(self.status, "success"),
        }
    }
}

/// Marks an event id as being handled; on drop the id is released and any waiting copy
/// learns the result (500 if none was sent).
///
/// If the delivery was cancelled after its id was recorded (a long connection shut down
/// past its grace, the runtime stopped), the id is forgotten too, so the platform's retry
/// is handled; until the store has forgotten it, the id stays marked in flight, so a retry
/// arriving meanwhile fails (and is retried) instead of being taken for a duplicate.
pub(super) struct InFlight {
    pub(super) inner: Arc<Inner>,
    pub(super) id: String,
    pub(super) tx: watch::Sender<Option<u16>>,
    /// The id is recorded in the de-dup store as handled.
    pub(super) recorded: bool,
    /// [`InFlight::finish`] ran.
    pub(super) finished: bool,
}

impl InFlight {
    /// The delivery ended with `status`: the id stops being in flight first (so a copy
    /// arriving from now on is judged by the store, which already holds the outcome), then
    /// the copies waiting learn the status.
    pub(super) fn finish(mut self, status: u16) {
        Self::release(&self.inner, &self.id);
        let _ = self.tx.send(Some(status));
        self.finished = true;
    }

    fn release(inner: &Inner, id: &str) {
        inner
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let cancelled = self.tx.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(500);
                true
            } else {
                false
            }
        });
        if cancelled && self.recorded {
            let (inner, id) = (self.inner.clone(), std::mem::take(&mut self.id));
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        if let Err(e) = inner.dedup.forget(&id).await {
                            tracing::warn!(event_id = %id, error = %e, "could not forget a cancelled event id");
                        }
                        Self::release(&inner, &id);
                    });
                }
                Err(_) => {
                    tracing::warn!(event_id = %id, "a cancelled event id stays recorded: no runtime to forget it");
                    Self::release(&inner, &id);
                }
            }
            return;
        }
        Self::release(&self.inner, &self.id);
    }
}

/// Runs a delivery to completion even when the future awaiting it is dropped: the rest of
/// it is then spawned onto the runtime, so its outcome is recorded (and a replay of the
/// same request is answered from the record) instead of being cut off half-way. On the
/// normal path nothing is spawned.
pub(super) struct RunToCompletion {
    delivery: Option<BoxFuture<'static, Outcome>>,
}

impl RunToCompletion {
    pub(super) fn new(delivery: BoxFuture<'static, Outcome>) -> Self {
        Self {
            delivery: Some(delivery),
        }
    }
}

impl Future for RunToCompletion {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let Some(delivery) = self.delivery.as_mut() else {
            return Poll::Ready(Outcome::fail(500, "the delivery was already answered"));
        };
        let outcome = std::task::ready!(delivery.as_mut().poll(cx));
        self.delivery = None;
        Poll::Ready(outcome)
    }
}

impl Drop for RunToCompletion {
    fn drop(&mut self) {
        let Some(delivery) = self.delivery.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                tracing::debug!("the caller went away; the delivery runs on to completion");
                rt.spawn(async move {
                    let outcome = delivery.await;
                    tracing::debug!(status = outcome.status, "abandoned delivery finished");
                });
            }
            Err(_) => tracing::warn!("a delivery was abandoned outside a runtime; it is dropped"),
        }
    }
}
