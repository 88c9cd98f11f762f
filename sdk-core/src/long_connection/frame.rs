//! The long connection's frames: protobuf `pbbp2.Frame`, written by hand for prost (no
//! protoc), and the reassembly of fragmented messages.
//!
//! Fields 1–4 are proto2 `required` on the platform's side. They are declared `required`
//! here too, so prost writes them even when zero (a client ping has SeqID 0, LogID 0 and
//! method 0, which a proto3 encoder would omit). Decoding is lenient: a frame from the
//! platform that lacks them decodes with zeros instead of failing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// `method` of a control frame (ping, pong).
pub const METHOD_CONTROL: i32 = 0;
/// `method` of a data frame (event, card).
pub const METHOD_DATA: i32 = 1;

/// One key/value header of a frame.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Header {
    /// e.g. `type`, `message_id`, `sum`, `seq`, `biz_rt`.
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// The value, always a string.
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// One WebSocket binary message of the long connection.
///
/// ```
/// use lark_oapi_core::long_connection::frame::Frame;
/// let ping = Frame::ping(7);
/// let bytes = ping.to_bytes();
/// // Fields 1-4 are `required` in the platform's schema, so even zeros go on the wire.
/// assert_eq!(&bytes[..8], &[0x08, 0, 0x10, 0, 0x18, 7, 0x20, 0]);
/// let back = Frame::from_bytes(&bytes).unwrap();
/// assert_eq!((back.kind(), back.service), ("ping", 7));
/// ```
#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    /// Sequence id (0 in client pings).
    #[prost(uint64, required, tag = "1")]
    pub seq_id: u64,
    /// Log id (0 in client pings).
    #[prost(uint64, required, tag = "2")]
    pub log_id: u64,
    /// The `service_id` from the connection URL.
    #[prost(int32, required, tag = "3")]
    pub service: i32,
    /// [`METHOD_CONTROL`] or [`METHOD_DATA`].
    #[prost(int32, required, tag = "4")]
    pub method: i32,
    /// Headers (`type`, `message_id`, `sum`, `seq`, `trace_id`, ...).
    #[prost(message, repeated, tag = "5")]
    pub headers: Vec<Header>,
    /// Payload encoding (unused by the platform today).
    #[prost(string, optional, tag = "6")]
    pub payload_encoding: Option<String>,
    /// Payload type (unused by the platform today).
    #[prost(string, optional, tag = "7")]
    pub payload_type: Option<String>,
    /// The payload: event JSON, a `ClientConfig` in a pong, an acknowledgement.
    #[prost(bytes = "bytes", optional, tag = "8")]
    pub payload: Option<Bytes>,
    /// The log id as a string.
    #[prost(string, optional, tag = "9")]
    pub log_id_new: Option<String>,
}

impl Frame {
    /// A client ping for `service`.
    pub fn ping(service: i32) -> Self {
        Frame {
            seq_id: 0,
            log_id: 0,
            service,
            method: METHOD_CONTROL,
            headers: vec![Header {
                key: "type".into(),
                value: "ping".into(),
            }],
            payload_encoding: None,
            payload_type: None,
            payload: None,
            log_id_new: None,
        }
    }

    /// The value of header `key`.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.key == key)
            .map(|h| h.value.as_str())
    }

    /// The `type` header: `ping`, `pong`, `event`, `card`.
    pub fn kind(&self) -> &str {
        self.header("type").unwrap_or_default()
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// Decodes a frame. A frame with more than [`MAX_HEADERS`] headers is refused before
    /// decoding: a header costs 2 bytes on the wire but about 50 decoded, so a frame of
    /// millions of empty headers would otherwise cost 25 times its size.
    ///
    /// ```
    /// use lark_oapi_core::long_connection::frame::{Frame, FrameError, MAX_HEADERS};
    /// let mut bytes = Frame::ping(1).to_bytes();
    /// for _ in 0..MAX_HEADERS {
    ///     bytes.extend_from_slice(&[0x2a, 0x00]); // one more empty header
    /// }
    /// assert!(matches!(Frame::from_bytes(&bytes), Err(FrameError::TooManyHeaders { .. })));
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FrameError> {
        let headers = count_headers(bytes).map_err(FrameError::Decode)?;
        if headers > MAX_HEADERS {
            return Err(FrameError::TooManyHeaders {
                count: headers,
                max: MAX_HEADERS,
            });
        }
        <Self as prost::Message>::decode(bytes).map_err(|e| FrameError::Decode(e.to_string()))
    }

    /// The acknowledgement of this data frame: the same frame (ids, service, method and
    /// headers) plus `biz_rt` (handler time in ms), with `payload` replaced by
    /// `{"code": status, "data": base64(answer JSON)}`.
    pub fn ack(&self, status: u16, answer: Option<&[u8]>, biz_rt_ms: u128) -> Self {
        use base64::Engine as _;
        let mut ack = self.clone();
        ack.headers.retain(|h| h.key != "biz_rt");
        ack.headers.push(Header {
            key: "biz_rt".into(),
            value: biz_rt_ms.to_string(),
        });
        let body = match answer {
            Some(data) => serde_json::json!({
                "code": status,
                "data": base64::engine::general_purpose::STANDARD.encode(data),
            }),
            None => serde_json::json!({ "code": status }),
        };
        ack.payload = Some(Bytes::from(body.to_string()));
        ack
    }
}

/// Most headers a frame may have (the platform sends about six).
pub const MAX_HEADERS: usize = 64;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Not a valid `pbbp2.Frame`.
    #[error("not a valid frame: {0}")]
    Decode(String),
    /// More headers than [`MAX_HEADERS`].
    #[error("the frame has {count} headers, more than the {max} accepted")]
    TooManyHeaders {
        /// Headers in the frame.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Counts the `headers` fields (5) of an encoded frame by walking its top-level fields,
/// without decoding any of them.
fn count_headers(mut bytes: &[u8]) -> Result<usize, String> {
    fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = bytes.split_first().ok_or("truncated varint")?;
            *bytes = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    let mut headers = 0;
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let skip = match key & 7 {
            0 => {
                varint(&mut bytes)?;
                0
            }
            1 => 8,
            2 => usize::try_from(varint(&mut bytes)?).map_err(|_| "length overflows")?,
            5 => 4,
            wire => return Err(format!("wire type {wire} is not used by frames")),
        };
        if skip > bytes.len() {
            return Err("a field runs past the end of the frame".into());
        }
        bytes = &bytes[skip..];
        if key >> 3 == 5 {
            headers += 1;
        }
    }
    Ok(headers)
}

/// Why a fragment was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FragmentError {
    /// `sum`/`seq` missing, not numbers, or `seq` outside `0..sum`.
    BadIndex,
    /// `sum` differs from the first fragment's, or is over the limit.
    BadSum,
    /// The message would exceed the size limit.
    TooLarge,
    /// A fragmented message without a `message_id`: its parts cannot be told from
    /// another message's.
    NoMessageId,
    /// A fragment repeats a `seq` already received with other bytes: two messages share a
    /// `message_id`. The partial message is dropped rather than spliced from both.
    Conflict,
}

/// Largest number of fragments accepted for one message.
const MAX_FRAGMENTS: usize = 1024;
/// Most incomplete messages kept at once.
const MAX_PENDING_MESSAGES: usize = 256;
/// Incomplete messages together hold at most this many times the message size limit.
const PENDING_BYTES_FACTOR: usize = 4;

struct Partial {
    parts: Vec<Option<Bytes>>,
    received: usize,
    bytes: usize,
    touched: Instant,
}

/// Reassembles fragmented messages by `message_id`; incomplete ones expire.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::long_connection::frame::{Frame, Header, Reassembly};
/// let part = |seq: &str, payload: &[u8]| {
///     let mut f = Frame::ping(1);
///     f.method = 1;
///     f.headers = [("type", "event"), ("message_id", "m1"), ("sum", "2"), ("seq", seq)]
///         .map(|(k, v)| Header { key: k.into(), value: v.into() })
///         .to_vec();
///     f.payload = Some(payload.to_vec().into());
///     f
/// };
/// let mut r = Reassembly::new(Duration::from_secs(10), 1 << 20);
/// // Fragments may arrive in any order; the message is whole once every seq is in.
/// assert_eq!(r.push(&part("1", b"world")).unwrap(), None);
/// assert_eq!(r.push(&part("0", b"hello ")).unwrap().as_deref(), Some(&b"hello world"[..]));
/// assert_eq!(r.pending(), 0);
/// ```
pub struct Reassembly {
    partial: HashMap<String, Partial>,
    pending_bytes: usize,
    ttl: Duration,
    max_bytes: usize,
}

impl std::fmt::Debug for Reassembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembly")
            .field("pending", &self.partial.len())
            .finish_non_exhaustive()
    }
}

impl Reassembly {
    /// Incomplete messages expire `ttl` after their last fragment; a message is at most
    /// `max_bytes`.
    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        Self {
            partial: HashMap::new(),
            pending_bytes: 0,
            ttl,
            max_bytes,
        }
    }

    /// Adds a data frame: `Ok(Some(payload))` when its message is complete (a frame with
    /// `sum` ≤ 1 is complete by itself), `Ok(None)` while fragments are missing.
    pub fn push(&mut self, frame: &Frame) -> Result<Option<Bytes>, FragmentError> {
        let payload = frame.payload.clone().unwrap_or_default();
        let sum = match frame.header("sum") {
            None => 1,
            Some(s) => s.parse::<usize>().map_err(|_| FragmentError::BadIndex)?,
        };
        if sum == 0 {
            return Err(FragmentError::BadSum);
        }
        if sum == 1 {
            if payload.len() > self.max_bytes {
                return Err(FragmentError::TooLarge);
            }
            return Ok(Some(payload));
        }
        if sum > MAX_FRAGMENTS {
            return Err(FragmentError::BadSum);
        }
        let seq = frame
            .header("seq")
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|s| *s < sum)
            .ok_or(FragmentError::BadIndex)?;
        let id = match frame.header("message_id") {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => return Err(FragmentError::NoMessageId),
        };
        let now = Instant::now();
        let (held, new_part) = match self.partial.get(&id) {
            Some(p) => (p.bytes, p.parts.get(seq).is_some_and(Option::is_none)),
            None => (0, true),
        };
        if new_part {
            if held + payload.len() > self.max_bytes {
                self.drop_partial(&id);
                return Err(FragmentError::TooLarge);
            }
            // Room within the budget, taken from the other partial messages.
            self.make_room(&id, payload.len());
        }
        let entry = self.partial.entry(id.clone()).or_insert_with(|| Partial {
            parts: vec![None; sum],
            received: 0,
            bytes: 0,
            touched: now,
        });
        if entry.parts.len() != sum {
            return Err(FragmentError::BadSum);
        }
        entry.touched = now;
        match &entry.parts[seq] {
            None => {
                entry.bytes += payload.len();
                self.pending_bytes += payload.len();
                entry.parts[seq] = Some(payload);
                entry.received += 1;
            }
            // A repeat of the same bytes (a retransmission) is harmless.
            Some(earlier) if *earlier == payload => {}
            Some(_) => {
                self.drop_partial(&id);
                return Err(FragmentError::Conflict);
            }
        }
        if entry.received < sum {
            return Ok(None);
        }
        let Some(done) = self.partial.remove(&id) else {
            return Ok(None);
        };
        self.pending_bytes -= done.bytes;
        let mut whole = Vec::with_capacity(done.bytes);
        for part in done.parts.into_iter().flatten() {
            whole.extend_from_slice(&part);
        }
        Ok(Some(Bytes::from(whole)))
    }

    /// Drops incomplete messages whose last fragment is older than the TTL; returns how
    /// many were dropped.
    pub fn expire(&mut self) -> usize {
        let before = self.partial.len();
        let ttl = self.ttl;
        self.partial.retain(|_, p| p.touched.elapsed() < ttl);
        self.pending_bytes = self.partial.values().map(|p| p.bytes).sum();
        before - self.partial.len()
    }

    fn drop_partial(&mut self, id: &str) {
        if let Some(p) = self.partial.remove(id) {
            self.pending_bytes -= p.bytes;
        }
    }

    /// Before `incoming` more bytes join message `id`: while too many messages are pending
    /// (a new one is to start) or the bytes would pass the budget, the least recently
    /// touched *other* messages are dropped, so a peer cannot grow this without bound.
    fn make_room(&mut self, id: &str, incoming: usize) {
        let budget = self.max_bytes.saturating_mul(PENDING_BYTES_FACTOR);
        let starts = !self.partial.contains_key(id);
        while (starts && self.partial.len() >= MAX_PENDING_MESSAGES)
            || self.pending_bytes.saturating_add(incoming) > budget
        {
            let Some(oldest) = self
                .partial
                .iter()
                .filter(|(other, _)| other.as_str() != id)
                .min_by_key(|(_, p)| p.touched)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            tracing::warn!(message_id = %oldest, "long connection: incomplete message dropped to make room");
            self.drop_partial(&oldest);
        }
    }

    /// Messages waiting for fragments.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Bytes held by messages waiting for fragments: at most 4 × the message size limit,
    /// however many messages are pending and however their fragments arrive.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_writes_the_required_zero_fields() {
        // 08 00 | 10 00 | 18 07 | 20 00 | 2a 0a (0a 04 "type" 12 04 "ping")
        let bytes = Frame::ping(7).to_bytes();
        assert_eq!(
            bytes,
            [
                0x08, 0, 0x10, 0, 0x18, 7, 0x20, 0, 0x2a, 0x0c, 0x0a, 4, b't', b'y', b'p', b'e',
                0x12, 4, b'p', b'i', b'n', b'g'
            ]
        );
        let back = Frame::from_bytes(&bytes).unwrap();
        assert_eq!(back, Frame::ping(7));
        assert_eq!(back.kind(), "ping");
    }

    #[test]
    fn a_frame_without_required_fields_still_decodes() {
        // Only a header: a proto3 peer omitted every zero.
        let bytes = [
            0x2a, 0x0c, 0x0a, 4, b't', b'y', b'p', b'e', 0x12, 4, b'p', b'o', b'n', b'g',
        ];
        let frame = Frame::from_bytes(&bytes).unwrap();
        assert_eq!((frame.seq_id, frame.service, frame.kind()), (0, 0, "pong"));
    }

    fn fragment(id: &str, sum: usize, seq: usize, data: &str) -> Frame {
        let mut f = Frame::ping(1);
        f.method = METHOD_DATA;
        f.headers = vec![
            Header {
                key: "type".into(),
                value: "event".into(),
            },
            Header {
                key: "message_id".into(),
                value: id.into(),
            },
            Header {
                key: "sum".into(),
                value: sum.to_string(),
            },
            Header {
                key: "seq".into(),
                value: seq.to_string(),
            },
        ];
        f.payload = Some(Bytes::from(data.to_owned()));
        f
    }

    #[test]
    fn fragments_are_joined_in_seq_order_and_checked() {
        let mut r = Reassembly::new(Duration::from_secs(5), 1 << 20);
        assert_eq!(r.push(&fragment("m", 3, 2, "c")), Ok(None));
        assert_eq!(r.push(&fragment("m", 3, 0, "a")), Ok(None));
        assert_eq!(
            r.push(&fragment("m", 3, 0, "a")),
            Ok(None),
            "a repeat is ignored"
        );
        assert_eq!(
            r.push(&fragment("m", 3, 1, "b")),
            Ok(Some(Bytes::from("abc")))
        );
        assert_eq!(r.pending(), 0);
        assert_eq!(
            r.push(&fragment("x", 3, 3, "?")),
            Err(FragmentError::BadIndex)
        );
        assert_eq!(r.push(&fragment("y", 2, 0, "?")), Ok(None));
        assert_eq!(
            r.push(&fragment("y", 3, 1, "?")),
            Err(FragmentError::BadSum)
        );
        assert_eq!(
            r.push(&fragment("z", 100_000, 1, "?")),
            Err(FragmentError::BadSum)
        );
        let mut small = Reassembly::new(Duration::ZERO, 3);
        assert_eq!(small.push(&fragment("w", 2, 0, "ab")), Ok(None));
        assert_eq!(
            small.push(&fragment("w", 2, 1, "cd")),
            Err(FragmentError::TooLarge)
        );
        assert_eq!(small.push(&fragment("v", 2, 0, "a")), Ok(None));
        assert_eq!(small.expire(), 1);
        assert_eq!(
            small.push(&fragment("u", 0, 0, "?")),
            Err(FragmentError::BadSum)
        );
        // A fragmented message needs an id; a repeated seq with other bytes is a conflict.
        assert_eq!(
            r.push(&fragment("", 2, 0, "?")),
            Err(FragmentError::NoMessageId)
        );
        assert_eq!(r.push(&fragment("c", 2, 0, "one")), Ok(None));
        assert_eq!(
            r.push(&fragment("c", 2, 0, "two")),
            Err(FragmentError::Conflict)
        );
        assert_eq!(
            r.push(&fragment("c", 2, 1, "x")),
            Ok(None),
            "the conflicting message was dropped, not completed"
        );
        // Many incomplete messages: the oldest are dropped, the count stays bounded.
        let mut many = Reassembly::new(Duration::from_secs(60), 1 << 20);
        for i in 0..(MAX_PENDING_MESSAGES + 10) {
            assert_eq!(many.push(&fragment(&format!("m{i}"), 2, 0, "x")), Ok(None));
        }
        assert_eq!(many.pending(), MAX_PENDING_MESSAGES);
    }

    #[test]
    fn partial_messages_growing_after_they_start_stay_within_the_budget() {
        let max = 1000;
        let mut r = Reassembly::new(Duration::from_secs(60), max);
        let chunk = "z".repeat(100);
        // 40 messages of 10 fragments of 100 bytes: each stays under the limit, together
        // they would hold 40 000 bytes; the budget is 4 000.
        for m in 0..40 {
            assert_eq!(r.push(&fragment(&format!("g{m}"), 11, 0, "{")), Ok(None));
        }
        for seq in 1..10 {
            for m in 0..40 {
                let _ = r.push(&fragment(&format!("g{m}"), 11, seq, &chunk));
                assert!(r.pending_bytes() <= 4 * max, "{}", r.pending_bytes());
            }
        }
        let held: usize = r.partial.values().map(|p| p.bytes).sum();
        assert_eq!(held, r.pending_bytes(), "the count is exact");
        // The message being added to is never the one evicted: it can still complete.
        let mut r = Reassembly::new(Duration::from_secs(60), max);
        for m in 0..4 {
            assert_eq!(
                r.push(&fragment(&format!("o{m}"), 2, 0, &"o".repeat(900))),
                Ok(None)
            );
        }
        assert_eq!(r.push(&fragment("new", 2, 0, &"n".repeat(500))), Ok(None));
        assert_eq!(
            r.push(&fragment("new", 2, 1, &"m".repeat(400)))
                .unwrap()
                .map(|b| b.len()),
            Some(900)
        );
    }

    #[test]
    fn frames_with_too_many_headers_are_refused_before_decoding() {
        let mut f = fragment("m", 1, 0, "{}");
        f.headers.extend((0..MAX_HEADERS - 4).map(|i| Header {
            key: format!("x{i}"),
            value: String::new(),
        }));
        assert_eq!(Frame::from_bytes(&f.to_bytes()).unwrap(), f, "at the limit");
        f.headers.push(Header::default());
        assert_eq!(
            Frame::from_bytes(&f.to_bytes()),
            Err(FrameError::TooManyHeaders {
                count: MAX_HEADERS + 1,
                max: MAX_HEADERS
            })
        );
        // The scan refuses what does not parse at the top level.
        for bad in [
            &[0x08][..],
            &[0x2a, 0x05, 0x00],
            &[0x0b],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ] {
            assert!(
                matches!(Frame::from_bytes(bad), Err(FrameError::Decode(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_ack_keeps_the_frame_and_adds_biz_rt_and_the_answer() {
        let f = fragment("m", 1, 0, "{}");
        let ack = f.ack(200, Some(br#"{"toast":{}}"#), 12);
        assert_eq!(
            (ack.seq_id, ack.service, ack.method),
            (f.seq_id, f.service, f.method)
        );
        assert_eq!(ack.header("message_id"), Some("m"));
        assert_eq!(ack.header("biz_rt"), Some("12"));
        let body: serde_json::Value =
            serde_json::from_slice(ack.payload.as_ref().unwrap()).unwrap();
        assert_eq!(body["code"], 200);
        assert_eq!(body["data"], "eyJ0b2FzdCI6e319");
    }
}
