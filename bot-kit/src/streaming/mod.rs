//! Streaming card replies: the "typewriter" answer of a bot that writes as its text is
//! generated, over CardKit.
//!
//! [`StreamingCard`] does the whole flow: it creates a card entity with streaming mode on,
//! sends it (or replies with it), takes the text as deltas ([`StreamingCard::push`]) or as
//! the text so far ([`StreamingCard::set_text`]), and sends the accumulated text to the
//! card's markdown element, coalesced so that one card gets at most
//! [`StreamingCardBuilder::max_ops_per_sec`] operations a second (the platform allows 10).
//! Every operation carries a strictly increasing `sequence` and an idempotency `uuid`, and
//! operations leave one at a time, in order. Past [`StreamingCardBuilder::rollover_chars`]
//! the card is pinned and the text goes on in a new card. [`StreamingCard::finish`] sends
//! the last text and closes streaming mode with a summary (the chat-list preview);
//! [`StreamingCard::abort`] does the same with a note that the answer was interrupted.
//!
//! What the platform answers is handled as the platform means it: a frequency limit
//! (`230020`) skips that frame and the next one carries the text; streaming mode closed
//! under the stream (`300309`, e.g. ten minutes after it was opened) is opened again once
//! (the platform does not document whether it allows that; if it refuses, or closes it
//! again at once, the stream ends with its error);
//! a recalled or deleted message (`230011`, `231003`) stops all work on it, and
//! [`StreamingCard::finish`] returns that error.
//!
//! # Dropping
//!
//! The work runs in a task of the Tokio runtime the card was created in. Dropping a
//! `StreamingCard` without `finish` (a cancelled request, a panicking producer, `?` on an
//! error) does what [`StreamingCard::abort`] does, in that task: the card gets the text so
//! far, the interruption note and streaming mode off. Only when the runtime itself shuts
//! down first is the card left as it is; the platform turns streaming mode off ten minutes
//! after it was turned on.
//!
//! # Element text limit
//!
//! Sources disagree on how long one element's text may be (30,000 characters per the
//! official Node channel layer, 100,000 per another SDK); the default rollover is the
//! lower figure, counted in characters.
//!
//! ```no_run
//! use lark_oapi_bot::streaming::StreamingCard;
//! # async fn run(client: lark_oapi_core::Client, message_id: &str) -> lark_oapi_core::Result<()> {
//! let card = StreamingCard::builder().reply(&client, message_id).await?;
//! for chunk in ["Hello", ", ", "world"] {
//!     card.push(chunk)?;
//! }
//! let summary = card.finish().await?;
//! println!("{} operations on {} card(s)", summary.operations, summary.cards.len());
//! # Ok(()) }
//! ```

mod worker;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lark_oapi_core::{Client, Result};
use serde_json::{Value, json};

use crate::card::{CardBuilder, Element, Header};
use crate::content::ContentError;
use crate::send::Receiver;

/// Operations per second the platform accepts on one card entity.
pub const PLATFORM_OPS_PER_SEC: u32 = 10;

/// Where each card of the stream goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Reply {
        message_id: String,
        in_thread: bool,
        /// Where to send instead when the message was recalled or deleted.
        fallback: Option<Receiver>,
    },
    Send(Receiver),
}

/// Settings of a streaming card; see [`StreamingCard::builder`].
#[derive(Debug, Clone)]
pub struct StreamingCardBuilder {
    header: Option<Header>,
    placeholder: String,
    generating: String,
    element_id: String,
    after: Vec<Element>,
    max_ops_per_sec: u32,
    rollover_chars: usize,
    interrupted_note: String,
    empty_text: String,
    summary_chars: usize,
    print_frequency_ms: u32,
}

impl Default for StreamingCardBuilder {
    fn default() -> Self {
        StreamingCardBuilder {
            header: None,
            placeholder: "…".into(),
            generating: "[Generating…]".into(),
            element_id: "stream_md".into(),
            after: Vec::new(),
            max_ops_per_sec: 8,
            rollover_chars: 30_000,
            interrupted_note: "\n\n— (Generation interrupted)".into(),
            empty_text: "(no content)".into(),
            summary_chars: 50,
            print_frequency_ms: 70,
        }
    }
}

impl StreamingCardBuilder {
    /// The card's header.
    pub fn header(mut self, header: Header) -> Self {
        self.header = Some(header);
        self
    }

    /// What the card shows before the first text (default `…`).
    pub fn placeholder(mut self, text: impl Into<String>) -> Self {
        self.placeholder = text.into();
        self
    }

    /// The chat-list preview while the text is written (default `[Generating…]`); when
    /// the stream ends the preview becomes the text's beginning.
    pub fn generating_summary(mut self, text: impl Into<String>) -> Self {
        self.generating = text.into();
        self
    }

    /// The `element_id` of the markdown element the text goes to (default `stream_md`).
    pub fn element_id(mut self, id: impl Into<String>) -> Self {
        self.element_id = id.into();
        self
    }

    /// An element below the text on every card of the stream (e.g. a button).
    pub fn after(mut self, element: impl Into<Element>) -> Self {
        self.after.push(element.into());
        self
    }

    /// At most this many operations per second on one card, 1 to
    /// [`PLATFORM_OPS_PER_SEC`] (default 8: below the limit, so that network jitter does
    /// not bunch operations into one second at the platform).
    pub fn max_ops_per_sec(mut self, n: u32) -> Self {
        self.max_ops_per_sec = n;
        self
    }

    /// Past this many characters the card is pinned and the text goes on in a new card
    /// (default 30,000; at most 100,000).
    pub fn rollover_chars(mut self, n: usize) -> Self {
        self.rollover_chars = n;
        self
    }

    /// Appended to the text when the stream is aborted or dropped (default
    /// `"\n\n— (Generation interrupted)"`).
    pub fn interrupted_note(mut self, note: impl Into<String>) -> Self {
        self.interrupted_note = note.into();
        self
    }

    /// What a card shows when the stream ends without any text (default `(no content)`).
    pub fn empty_text(mut self, text: impl Into<String>) -> Self {
        self.empty_text = text.into();
        self
    }

    /// Milliseconds between two characters the client types (`print_frequency_ms`, 20 to
    /// 1000, default 70).
    pub fn print_frequency_ms(mut self, ms: u32) -> Self {
        self.print_frequency_ms = ms;
        self
    }

    fn check(&self) -> std::result::Result<(), ContentError> {
        let invalid = |what, reason: String| Err(ContentError::Invalid { what, reason });
        if !(1..=PLATFORM_OPS_PER_SEC).contains(&self.max_ops_per_sec) {
            return invalid(
                "max_ops_per_sec",
                format!(
                    "{} is outside 1..={PLATFORM_OPS_PER_SEC}: the platform accepts at most \
                     {PLATFORM_OPS_PER_SEC} operations per second on one card",
                    self.max_ops_per_sec
                ),
            );
        }
        if !(100..=100_000).contains(&self.rollover_chars) {
            return invalid(
                "rollover_chars",
                format!("{} is outside 100..=100000", self.rollover_chars),
            );
        }
        if !(20..=1000).contains(&self.print_frequency_ms) {
            return invalid(
                "print_frequency_ms",
                format!("{} is outside 20..=1000", self.print_frequency_ms),
            );
        }
        if self.placeholder.is_empty() || self.empty_text.is_empty() {
            return invalid(
                "placeholder",
                "the placeholder and the empty text must not be empty: the platform \
                 refuses an element without text"
                    .into(),
            );
        }
        self.card_json(&self.placeholder).map(|_| ())
    }

    /// The JSON of one card of the stream, with `text` in its markdown element.
    pub(crate) fn card_json(&self, text: &str) -> std::result::Result<Value, ContentError> {
        let mut builder = CardBuilder::new()
            .streaming(true)
            .summary(self.generating.clone())
            .element(Element::markdown_with_id(text, self.element_id.clone()));
        if let Some(h) = &self.header {
            builder = builder.header(h.clone());
        }
        for e in &self.after {
            builder = builder.element(e.clone());
        }
        let mut card = builder.to_value()?;
        card["config"]["streaming_config"] = json!({
            "print_frequency_ms": { "default": self.print_frequency_ms },
            "print_step": { "default": 1 },
            "print_strategy": "fast"
        });
        Ok(card)
    }

    /// Creates the card and replies to `message_id` with it.
    pub async fn reply(self, client: &Client, message_id: &str) -> Result<StreamingCard> {
        self.reply_with(client, message_id, false, None).await
    }

    /// Creates the card and replies to `message_id`; when that message was recalled or
    /// deleted (`230011`, `231003`), sends the card to `chat` instead (as a new message).
    pub async fn reply_or_send(
        self,
        client: &Client,
        message_id: &str,
        chat: &Receiver,
    ) -> Result<StreamingCard> {
        self.reply_with(client, message_id, false, Some(chat)).await
    }

    /// Creates the card and replies to `message_id` in its thread.
    pub async fn reply_in_thread(self, client: &Client, message_id: &str) -> Result<StreamingCard> {
        self.reply_with(client, message_id, true, None).await
    }

    async fn reply_with(
        self,
        client: &Client,
        message_id: &str,
        in_thread: bool,
        fallback: Option<&Receiver>,
    ) -> Result<StreamingCard> {
        if message_id.trim().is_empty() {
            return Err(ContentError::Empty { what: "message_id" }.into());
        }
        if fallback.is_some_and(|to| to.id().trim().is_empty()) {
            return Err(ContentError::Empty { what: "receive_id" }.into());
        }
        let target = Target::Reply {
            message_id: message_id.to_owned(),
            in_thread,
            fallback: fallback.cloned(),
        };
        self.start(client, target).await
    }

    /// Creates the card and sends it to `to`.
    pub async fn send(self, client: &Client, to: &Receiver) -> Result<StreamingCard> {
        if to.id().trim().is_empty() {
            return Err(ContentError::Empty { what: "receive_id" }.into());
        }
        self.start(client, Target::Send(to.clone())).await
    }

    async fn start(self, client: &Client, target: Target) -> Result<StreamingCard> {
        self.check()?;
        let shared = Arc::new(Shared::default());
        let first = worker::open_card(client, &self, &target, &self.placeholder).await?;
        lock(&shared).cards.push(first.clone());
        let worker = worker::Worker::new(client.clone(), self, target, Arc::clone(&shared), first);
        let task = tokio::spawn(worker.run());
        Ok(StreamingCard {
            shared,
            task: Some(task),
        })
    }
}

/// One card of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamedCard {
    /// The card entity.
    pub card_id: String,
    /// The message that carries it.
    pub message_id: String,
}

/// How a stream ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamSummary {
    /// The cards, in order (more than one after a rollover).
    pub cards: Vec<StreamedCard>,
    /// Characters of text written.
    pub chars: usize,
    /// Operations the platform accepted (content updates and settings).
    pub operations: u64,
    /// Frames skipped (the platform's frequency limit, a sequence it refused, or a call
    /// that got no answer); the next frame carries their text.
    pub skipped_frames: u64,
    /// Whether the stream was aborted or dropped rather than finished.
    pub interrupted: bool,
}

/// The stream has stopped (after [`StreamingCard::finish`], or because the platform
/// refused it: `finish` tells why); text pushed now would be lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the streaming card has stopped; no more text is accepted (finish() tells why)")]
#[non_exhaustive]
pub struct StreamClosed;

impl From<StreamClosed> for lark_oapi_core::Error {
    fn from(e: StreamClosed) -> Self {
        lark_oapi_core::Error::InvalidRequest(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Finish,
    Abort,
}

/// What the handle and the worker share.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The whole text so far.
    pub(crate) text: String,
    /// Bumped on every change of `text`.
    pub(crate) version: u64,
    pub(crate) end: Option<End>,
    /// Set by the worker when it stops taking text.
    pub(crate) stopped: bool,
    /// Bytes of `text` pinned on earlier cards of a rollover.
    pub(crate) pinned: usize,
    pub(crate) cards: Vec<StreamedCard>,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) wake: tokio::sync::Notify,
}

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A card that shows text as it is produced; see the [module docs](self).
#[derive(Debug)]
pub struct StreamingCard {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<Result<StreamSummary>>>,
}

impl StreamingCard {
    /// Settings for a new streaming card.
    pub fn builder() -> StreamingCardBuilder {
        StreamingCardBuilder::default()
    }

    fn update(&self, f: impl FnOnce(&mut State)) -> std::result::Result<(), StreamClosed> {
        let mut state = lock(&self.shared);
        if state.stopped || state.end.is_some() {
            return Err(StreamClosed);
        }
        f(&mut state);
        state.version += 1;
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Appends `delta` to the text (for producers that yield pieces).
    pub fn push(&self, delta: &str) -> std::result::Result<(), StreamClosed> {
        if delta.is_empty() {
            return Ok(());
        }
        self.update(|state| state.text.push_str(delta))
    }

    /// Replaces the text with `text` (for producers that yield the text so far). A text
    /// that extends the previous one is typed on; any other replaces the card's text.
    ///
    /// After a rollover, the earlier cards keep what they show: a `text` that begins with
    /// what they show goes on after it; any other is shown whole on the current card.
    pub fn set_text(&self, text: &str) -> std::result::Result<(), StreamClosed> {
        self.update(|state| {
            let pinned = state.pinned;
            let extends_pinned = text.get(..pinned) == state.text.get(..pinned);
            // Keep what earlier cards show unless `text` begins with it.
            state.text.truncate(if extends_pinned { 0 } else { pinned });
            state.text.push_str(text);
        })
    }

    /// The cards of the stream so far.
    pub fn cards(&self) -> Vec<StreamedCard> {
        lock(&self.shared).cards.clone()
    }

    /// Sends the last text and closes streaming mode with the text's beginning as the
    /// summary. Returns the first error that stopped the stream, if one did.
    pub async fn finish(mut self) -> Result<StreamSummary> {
        self.end(End::Finish).await
    }

    /// Ends the stream as interrupted: the text so far and the interruption note, then
    /// streaming mode off.
    pub async fn abort(mut self) -> Result<StreamSummary> {
        self.end(End::Abort).await
    }

    async fn end(&mut self, end: End) -> Result<StreamSummary> {
        lock(&self.shared).end.get_or_insert(end);
        self.shared.wake.notify_one();
        let Some(task) = self.task.take() else {
            return Err(StreamClosed.into());
        };
        match task.await {
            Ok(result) => result,
            Err(e) => Err(lark_oapi_core::Error::InvalidRequest(format!(
                "the streaming card's task ended abnormally: {e}"
            ))),
        }
    }
}

impl Drop for StreamingCard {
    fn drop(&mut self) {
        if self.task.is_some() {
            lock(&self.shared).end.get_or_insert(End::Abort);
            self.shared.wake.notify_one();
        }
    }
}

/// The time between two operations on one card at `ops_per_sec` (rounded up, so that a
/// second never holds more).
pub(crate) fn op_interval(ops_per_sec: u32) -> Duration {
    Duration::from_millis(1000u64.div_ceil(u64::from(ops_per_sec.max(1))))
}

#[cfg(test)]
mod tests;
