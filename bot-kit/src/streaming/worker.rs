//! The task behind a [`StreamingCard`](super::StreamingCard): paces, coalesces and sends the
//! operations of one stream, one at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lark_oapi_core::{Client, Method, RequestOptions, RequestSpec, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{End, Shared, StreamSummary, StreamedCard, StreamingCardBuilder, Target, lock};
use crate::content::Card;

/// The platform's frequency limit for messages and cards.
const CODE_RATE_LIMITED: i64 = 230020;
/// Streaming mode is off (it turns itself off ten minutes after it was turned on).
const CODE_STREAMING_CLOSED: i64 = 300309;
/// The sequence was not greater than the card's last one.
const CODE_SEQUENCE: i64 = 300317;
/// The message was recalled / deleted: nothing more can be done with it.
const CODES_TARGET_GONE: [i64; 2] = [230011, 231003];
/// Attempts of an operation that must not be lost (the last text, closing).
const MUST_ATTEMPTS: u32 = 6;
/// Frames in a row that may fail without an answer from the platform before the stream stops.
const MAX_BLIND_FAILURES: u32 = 3;

#[derive(Deserialize)]
struct Created {
    card_id: String,
}

/// Creates a card entity showing `text` and sends it to `target`.
pub(crate) async fn open_card(
    client: &Client,
    opts: &StreamingCardBuilder,
    target: &Target,
    text: &str,
) -> Result<StreamedCard> {
    let card = opts.card_json(text)?;
    let body = json!({ "type": "card_json", "data": crate::content::json_text(&card) });
    let spec = RequestSpec::new(Method::POST, "/open-apis/cardkit/v1/cards").json(&body);
    let card_id = client.send::<Created>(&spec).await?.into_data().card_id;
    let content = Card::Entity {
        card_id: card_id.clone(),
    };
    let sent = match target {
        Target::Reply {
            message_id,
            in_thread,
            fallback,
        } => match crate::reply(client, message_id, &content, *in_thread).await {
            Err(e) if e.code().is_some_and(|c| CODES_TARGET_GONE.contains(&c)) => match fallback {
                Some(to) => crate::send_to(client, to, &content, None).await?,
                None => return Err(e),
            },
            other => other?,
        },
        Target::Send(to) => crate::send_to(client, to, &content, None).await?,
    };
    Ok(StreamedCard {
        card_id,
        message_id: sent.into_data().message_id,
    })
}

/// The outcome of one operation that was allowed to be skipped.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Done,
    Skipped,
}

#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    Content(&'a str),
    Settings(&'a Value),
}

pub(crate) struct Worker {
    client: Client,
    opts: StreamingCardBuilder,
    target: Target,
    shared: Arc<Shared>,
    card: StreamedCard,
    interval: Duration,
    /// Sequence of the last operation on the current card.
    sequence: i64,
    last_op: Option<Instant>,
    /// Byte offset in the whole text where the current card's text starts.
    start: usize,
    /// The text the current card shows.
    shown: String,
    seen_version: u64,
    /// The last frame was skipped: send the text again without waiting for a change.
    retry: bool,
    blind_failures: u32,
    summary: StreamSummary,
}

impl Worker {
    pub(crate) fn new(
        client: Client,
        opts: StreamingCardBuilder,
        target: Target,
        shared: Arc<Shared>,
        card: StreamedCard,
    ) -> Worker {
        Worker {
            client,
            interval: super::op_interval(opts.max_ops_per_sec),
            opts,
            target,
            shared,
            card,
            sequence: 0,
            last_op: None,
            start: 0,
            shown: String::new(),
            seen_version: 0,
            retry: false,
            blind_failures: 0,
            summary: StreamSummary::default(),
        }
    }

    pub(crate) async fn run(mut self) -> Result<StreamSummary> {
        let result = self.stream().await;
        {
            let mut state = lock(&self.shared);
            state.stopped = true;
            self.summary.cards = state.cards.clone();
            self.summary.chars = state.text.chars().count();
        }
        match result {
            Ok(()) => Ok(self.summary),
            Err(e) => {
                let gone = e.code().is_some_and(|c| CODES_TARGET_GONE.contains(&c));
                if !gone {
                    // Best effort: a card left streaming would show a cursor for ten minutes.
                    let _ = self.close(true).await;
                }
                Err(e)
            }
        }
    }

    /// The current card's part of the whole text, and what ends the stream, if anything.
    fn snapshot(&mut self) -> (String, Option<End>) {
        let state = lock(&self.shared);
        self.seen_version = state.version;
        let text = &state.text;
        let mut at = self.start.min(text.len());
        while !text.is_char_boundary(at) {
            at += 1;
        }
        (text[at..].to_owned(), state.end)
    }

    async fn wait_for_change(&self) {
        if self.retry {
            return;
        }
        loop {
            {
                let state = lock(&self.shared);
                if state.version != self.seen_version || state.end.is_some() {
                    return;
                }
            }
            self.shared.wake.notified().await;
        }
    }

    async fn stream(&mut self) -> Result<()> {
        loop {
            self.wait_for_change().await;
            self.pace().await;
            let (mut segment, end) = self.snapshot();
            // An interrupted card also gets the note: leave room for it.
            let limit = match end {
                Some(End::Abort) => {
                    let note = self.opts.interrupted_note.chars().count();
                    self.opts.rollover_chars.saturating_sub(note).max(1)
                }
                _ => self.opts.rollover_chars,
            };
            while let Some(cut) = rollover_cut(&segment, limit) {
                self.roll_over(&segment[..cut]).await?;
                segment.drain(..cut);
            }
            match end {
                None => {
                    self.retry = false;
                    if segment != self.shown {
                        match self.content(&segment, false).await? {
                            Sent::Done => self.shown = segment,
                            Sent::Skipped => self.retry = true,
                        }
                    }
                }
                Some(end) => {
                    let mut last = if segment.is_empty() {
                        self.opts.empty_text.clone()
                    } else {
                        segment
                    };
                    if end == End::Abort {
                        last.push_str(&self.opts.interrupted_note);
                        self.summary.interrupted = true;
                    }
                    if last != self.shown {
                        self.content(&last, true).await?;
                        self.shown = last;
                    }
                    return self.close(false).await;
                }
            }
        }
    }

    /// Waits until the current card may take another operation.
    async fn pace(&self) {
        if let Some(last) = self.last_op {
            tokio::time::sleep_until((last + self.interval).into()).await;
        }
    }

    /// Pins `head` on the current card, closes it, and goes on in a new one.
    async fn roll_over(&mut self, head: &str) -> Result<()> {
        if head != self.shown {
            self.content(head, true).await?;
            self.shown = head.to_owned();
        }
        self.close(false).await?;
        let card = open_card(
            &self.client,
            &self.opts,
            &self.target,
            &self.opts.placeholder,
        )
        .await?;
        lock(&self.shared).cards.push(card.clone());
        self.card = card;
        self.start += head.len();
        lock(&self.shared).pinned = self.start;
        self.shown.clear();
        self.sequence = 0;
        self.last_op = None;
        Ok(())
    }

    /// Closes streaming mode on the current card with the beginning of its text as summary.
    async fn close(&mut self, interrupted: bool) -> Result<()> {
        let mut summary: String = self.shown.chars().take(self.opts.summary_chars).collect();
        if interrupted && summary.is_empty() {
            summary = self.opts.interrupted_note.trim().to_owned();
        }
        let settings =
            json!({ "config": { "streaming_mode": false, "summary": { "content": summary } } });
        self.pace().await;
        self.send(Op::Settings(&settings), true).await.map(|_| ())
    }

    async fn content(&mut self, text: &str, must: bool) -> Result<Sent> {
        match self.send(Op::Content(text), must).await {
            Err(e) if e.code() == Some(CODE_STREAMING_CLOSED) => {
                // Turned off under the stream (ten minutes after it was turned on): once more.
                let reopen = json!({ "config": { "streaming_mode": true } });
                self.pace().await;
                self.send(Op::Settings(&reopen), true).await?;
                self.pace().await;
                self.send(Op::Content(text), must).await
            }
            other => other,
        }
    }

    /// Sends one operation with the next sequence; `must`: retried through frequency
    /// limits instead of skipped.
    async fn send(&mut self, op: Op<'_>, must: bool) -> Result<Sent> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.sequence += 1;
            self.last_op = Some(Instant::now());
            let spec = self.spec(op);
            match self.client.send::<Value>(&spec).await {
                Ok(_) => {
                    self.summary.operations += 1;
                    self.blind_failures = 0;
                    return Ok(Sent::Done);
                }
                Err(e) => {
                    let code = e.code();
                    let skippable = matches!(code, Some(CODE_RATE_LIMITED | CODE_SEQUENCE));
                    if skippable && must && attempt < MUST_ATTEMPTS {
                        tokio::time::sleep(self.interval * 2u32.pow(attempt.min(4))).await;
                        continue;
                    }
                    if skippable && !must {
                        self.summary.skipped_frames += 1;
                        return Ok(Sent::Skipped);
                    }
                    if code.is_none() && !must {
                        self.blind_failures += 1;
                        if self.blind_failures < MAX_BLIND_FAILURES {
                            self.summary.skipped_frames += 1;
                            return Ok(Sent::Skipped);
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    fn spec(&self, op: Op<'_>) -> RequestSpec {
        let card_id = &self.card.card_id;
        let seq = self.sequence;
        let pace = RequestOptions::new().pace(
            format!("cardkit:card:{card_id}"),
            lark_oapi_core::pacing::limits::CARD_ENTITY_OPS,
        );
        let spec = match op {
            Op::Content(text) => RequestSpec::new(
                Method::PUT,
                "/open-apis/cardkit/v1/cards/:card_id/elements/:element_id/content",
            )
            .path_param("card_id", card_id)
            .path_param("element_id", &self.opts.element_id)
            .json(
                &json!({ "content": text, "sequence": seq, "uuid": format!("c_{card_id}_{seq}") }),
            ),
            Op::Settings(settings) => RequestSpec::new(
                Method::PATCH,
                "/open-apis/cardkit/v1/cards/:card_id/settings",
            )
            .path_param("card_id", card_id)
            .json(&json!({
                "settings": crate::content::json_text(settings),
                "sequence": seq,
                "uuid": format!("s_{card_id}_{seq}")
            })),
        };
        spec.with_options(pace)
    }
}

/// Where to cut `text` when it holds more than `limit` characters: at the last line break
/// in the final fifth before the limit, else at the limit.
pub(crate) fn rollover_cut(text: &str, limit: usize) -> Option<usize> {
    let (at, _) = text.char_indices().nth(limit)?;
    let floor = text
        .char_indices()
        .nth(limit - limit / 5)
        .map_or(0, |(i, _)| i);
    match text[floor..at].rfind('\n') {
        Some(nl) => Some(floor + nl + 1),
        None => Some(at),
    }
}
