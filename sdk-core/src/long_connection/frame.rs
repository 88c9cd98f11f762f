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

    /// Decodes a frame.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        <Self as prost::Message>::decode(bytes)
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

/// Why a fragment was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentError {
    /// `sum`/`seq` missing, not numbers, or `seq` outside `0..sum`.
    BadIndex,
    /// `sum` differs from the first fragment's, or is over the limit.
    BadSum,
    /// The message would exceed the size limit.
    TooLarge,
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
        let id = frame.header("message_id").unwrap_or_default().to_owned();
        let now = Instant::now();
        if !self.partial.contains_key(&id) {
            self.make_room();
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
        if entry.parts[seq].is_none() {
            entry.bytes += payload.len();
            self.pending_bytes += payload.len();
            if entry.bytes > self.max_bytes {
                self.drop_partial(&id);
                return Err(FragmentError::TooLarge);
            }
            entry.parts[seq] = Some(payload);
            entry.received += 1;
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

    /// Before a new message starts: if too many messages or bytes are pending, the least
    /// recently touched ones are dropped (a peer cannot grow this without bound).
    fn make_room(&mut self) {
        while self.partial.len() >= MAX_PENDING_MESSAGES
            || self.pending_bytes > self.max_bytes.saturating_mul(PENDING_BYTES_FACTOR)
        {
            let Some(oldest) = self
                .partial
                .iter()
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
        // Many incomplete messages: the oldest are dropped, the count stays bounded.
        let mut many = Reassembly::new(Duration::from_secs(60), 1 << 20);
        for i in 0..(MAX_PENDING_MESSAGES + 10) {
            assert_eq!(many.push(&fragment(&format!("m{i}"), 2, 0, "x")), Ok(None));
        }
        assert_eq!(many.pending(), MAX_PENDING_MESSAGES);
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
