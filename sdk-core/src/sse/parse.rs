//! The `text/event-stream` parser of the W3C EventSource rules (HTML Living Standard,
//! "Server-sent events", parsing an event stream), fed with body chunks as they arrive.
//!
//! - a UTF-8 BOM at the very start is dropped; lines end in CR, LF or CR LF (a CR at the
//!   end of one chunk and an LF at the start of the next are one line end);
//! - a line starting with `:` is a comment; `name:value` sets a field (one space after the
//!   colon is dropped), a line without a colon is a field with an empty value;
//! - `data` lines are joined with `\n`, `event` names the event (`message` when absent),
//!   `id` sets the last event id (ignored when it contains NUL), `retry` (digits only) the
//!   reconnection time; other fields are ignored;
//! - a blank line dispatches the event; an event without `data` is not emitted;
//! - text that is not UTF-8 is decoded with replacement characters.
//!
//! Memory is bounded: the bytes of one event (its lines, comments included, up to the blank
//! line that ends it) may not exceed the limit.

use std::collections::VecDeque;
use std::time::Duration;

use super::SseEvent;

/// The parser's state between chunks.
#[derive(Debug)]
pub(crate) struct Parser {
    /// The current line, without its end, not yet complete.
    line: Vec<u8>,
    /// Whether the BOM check at the start of the stream is done.
    started: bool,
    /// The previous chunk ended in CR: an LF first in this one ends nothing.
    after_cr: bool,
    data: String,
    /// A `data` field was seen since the last dispatch (`data` itself may be empty).
    has_data: bool,
    event: String,
    /// The last event id buffer (set by `id:` lines).
    last_id: String,
    /// The last event id of the stream: the buffer as the last dispatch left it.
    dispatched_id: String,
    retry: Option<Duration>,
    /// Bytes of the event being read, its incomplete line included.
    event_bytes: usize,
    max_event_bytes: usize,
}

/// An event grew past the limit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLarge;

impl Parser {
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            started: false,
            after_cr: false,
            data: String::new(),
            has_data: false,
            event: String::new(),
            last_id: String::new(),
            dispatched_id: String::new(),
            retry: None,
            event_bytes: 0,
            max_event_bytes,
        }
    }

    /// The last event id as the last dispatch left it (an `id:` line of an event not yet
    /// ended does not count: resuming from it would lose that event).
    pub(crate) fn dispatched_id(&self) -> &str {
        &self.dispatched_id
    }

    /// The limit of one event, in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.max_event_bytes
    }

    /// The reconnection time the server asked for, if any.
    pub(crate) fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Whether the stream stopped inside an event that would have been emitted: data read
    /// but not dispatched, or an unterminated `data` line.
    pub(crate) fn mid_event(&self) -> bool {
        let line = &self.line[..];
        self.has_data
            || (!line.is_empty() && (line.starts_with(b"data") || b"data".starts_with(line)))
    }

    /// Parses `chunk`, appending the events it completes to `out`.
    pub(crate) fn feed(
        &mut self,
        mut chunk: &[u8],
        out: &mut VecDeque<SseEvent>,
    ) -> Result<(), TooLarge> {
        if !self.started {
            // The BOM may itself be split across chunks: wait for three bytes.
            let have = self.line.len() + chunk.len();
            if have < 3 && b"\xEF\xBB\xBF".starts_with(&[&self.line[..], chunk].concat()) {
                self.line.extend_from_slice(chunk);
                return Ok(());
            }
            self.started = true;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(chunk);
            let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head).to_vec();
            return self.feed(&head, out);
        }
        if chunk.is_empty() {
            return Ok(());
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) {
            self.grow(end + 1)?;
            if self.line.is_empty() {
                self.process(&chunk[..end], out);
            } else {
                // The line began in an earlier chunk; its buffer is kept for the next one.
                let mut whole = std::mem::take(&mut self.line);
                whole.extend_from_slice(&chunk[..end]);
                self.process(&whole, out);
                whole.clear();
                self.line = whole;
            }
            let cr = chunk[end] == b'\r';
            chunk = &chunk[end + 1..];
            if cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.grow(chunk.len())?;
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    /// Counts `n` more bytes of the current event (line ends included) against the limit.
    fn grow(&mut self, n: usize) -> Result<(), TooLarge> {
        self.event_bytes = self.event_bytes.saturating_add(n);
        if self.event_bytes > self.max_event_bytes {
            return Err(TooLarge);
        }
        Ok(())
    }

    /// One complete line (without its end).
    fn process(&mut self, line: &[u8], out: &mut VecDeque<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            // An id with NUL is ignored.
            b"id" if !value.contains(&0) => {
                self.last_id = String::from_utf8_lossy(value).into_owned();
            }
            // Digits only; too many for a u64 is "forever" (saturated).
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let ms = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                self.retry = Some(Duration::from_millis(ms));
            }
            _ => {}
        }
    }

    /// A blank line: emits the event read so far, if it has data, and starts the next.
    fn dispatch(&mut self, out: &mut VecDeque<SseEvent>) {
        self.event_bytes = 0;
        self.dispatched_id.clone_from(&self.last_id);
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            self.data.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the `\n` after the last data line
        out.push_back(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
            id: (!self.last_id.is_empty()).then(|| self.last_id.clone()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    /// Parses `text` fed in pieces of `step` bytes.
    fn parse(text: &[u8], step: usize) -> (Vec<SseEvent>, Parser) {
        let mut p = Parser::new(1 << 20);
        let mut out = VecDeque::new();
        for piece in text.chunks(step.max(1)) {
            p.feed(piece, &mut out).unwrap();
        }
        (out.into_iter().collect(), p)
    }

    /// Every split of the stream gives the same events.
    fn all_splits(text: &[u8]) -> Vec<SseEvent> {
        let (whole, _) = parse(text, text.len());
        for step in 1..text.len().min(12) {
            assert_eq!(parse(text, step).0, whole, "fed {step} bytes at a time");
        }
        whole
    }

    #[test]
    fn the_spec_examples() {
        // "data: YHOO\ndata: +2\ndata: 10\n\n" is one event whose data has two line feeds.
        assert_eq!(
            all_splits(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
            [ev("message", "YHOO\n+2\n10", None)]
        );
        // The four-block example: a comment, ids, an empty data, and a last block without
        // the blank line (not dispatched).
        let text = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
        let (events, p) = parse(text, text.len());
        assert_eq!(
            events,
            [
                ev("message", "first event", Some("1")),
                ev("message", "second event", None),
            ]
        );
        assert!(p.mid_event());
        // "data" alone and "data:" give empty data; two "data" lines give one line feed.
        assert_eq!(
            all_splits(b"data\n\ndata\ndata\n\ndata:\n"),
            [ev("message", "", None), ev("message", "\n", None)]
        );
        // Only one leading space is dropped.
        assert_eq!(
            all_splits(b"data:test\n\ndata: test\n\n"),
            [ev("message", "test", None), ev("message", "test", None)]
        );
    }

    #[test]
    fn line_ends_of_every_kind_even_split_across_chunks() {
        let text = b"event: delta\r\ndata: a\rdata: b\ndata: c\r\n\r\nid: 7\r\rdata: d\n\n";
        assert_eq!(
            all_splits(text),
            [ev("delta", "a\nb\nc", None), ev("message", "d", Some("7"))]
        );
    }

    #[test]
    fn a_bom_is_dropped_only_at_the_start() {
        assert_eq!(
            all_splits(b"\xEF\xBB\xBFdata: x\n\n"),
            [ev("message", "x", None)]
        );
        // A second BOM is part of a field name: an unknown field, ignored.
        assert_eq!(all_splits(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n"), []);
        // Short streams that only start like a BOM.
        assert_eq!(all_splits(b"\xEFdata: x\n\n").len(), 0);
        assert_eq!(parse(b"data: y\n\n", 1).0, [ev("message", "y", None)]);
    }

    #[test]
    fn ids_retry_and_unknown_fields() {
        let (events, p) = parse(
            b"id: a\0b\nretry: 1500\nretry: 2x\nfoo: bar\ndata: 1\n\nid\ndata: 2\n\n",
            64,
        );
        // The id with NUL is ignored (no id yet); a bare `id` clears it.
        assert_eq!(events, [ev("message", "1", None), ev("message", "2", None)]);
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
        let (events, p) = parse(b"id: 42\ndata: x\n\nevent: ping\n\ndata: y\n\n", 64);
        // The id stays for later events; an event without data is not emitted, and its
        // name does not carry over.
        assert_eq!(
            events,
            [
                ev("message", "x", Some("42")),
                ev("message", "y", Some("42"))
            ]
        );
        assert_eq!(p.dispatched_id(), "42");
        assert!(!p.mid_event());
    }

    #[test]
    fn the_last_event_id_is_the_dispatched_one_and_empty_chunks_change_nothing() {
        let mut p = Parser::new(1 << 20);
        let mut out = VecDeque::new();
        for piece in [
            &b"id: 1\ndata: a\r"[..],
            b"",
            b"\n",
            b"\n",
            b"id: 2\ndata: b",
        ] {
            p.feed(piece, &mut out).unwrap();
        }
        // `\r`, an empty chunk, `\n`: one line end, not two.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0], ev("message", "a", Some("1")));
        // Event 2 has not ended: resuming must not skip it.
        assert_eq!(p.dispatched_id(), "1");
        p.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(p.dispatched_id(), "2");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(
            all_splits(b"data: \xFFok\n\n"),
            [ev("message", "\u{FFFD}ok", None)]
        );
    }

    #[test]
    fn mid_event_is_what_a_cut_would_lose() {
        assert!(!parse(b"data: x\n\n", 3).1.mid_event());
        assert!(!parse(b"data: x\n\n: keep-alive", 3).1.mid_event());
        assert!(parse(b"data: x\n\ndata: y", 3).1.mid_event());
        assert!(parse(b"data: x\n\ndata: y\n", 3).1.mid_event());
        // An event without data is never emitted: nothing is lost.
        assert!(!parse(b"event: end\n", 3).1.mid_event());
        assert!(parse(b"data: x\n\nda", 3).1.mid_event());
    }

    #[test]
    fn an_event_over_the_limit_is_refused_and_the_count_restarts_per_event() {
        let mut p = Parser::new(32);
        let mut out = VecDeque::new();
        for _ in 0..100 {
            p.feed(b"data: 0123456789\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 100);
        let mut p = Parser::new(32);
        assert_eq!(
            p.feed(b"data: 0123456789\ndata: 0123456789\n", &mut out),
            Err(TooLarge)
        );
        // A line that never ends is bounded too.
        let mut p = Parser::new(32);
        p.feed(&[b'a'; 20], &mut out).unwrap();
        assert_eq!(p.feed(&[b'a'; 20], &mut out), Err(TooLarge));
    }
}
