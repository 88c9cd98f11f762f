//! The long-connection frame: protobuf message `pbbp2.Frame`, hand-coded.
//!
//! Every WebSocket binary message of the long connection is one serialized
//! [`Frame`]. Field numbers and wire types:
//!
//! | # | field | type |
//! |---|---|---|
//! | 1 | `SeqID` | uint64 (varint) |
//! | 2 | `LogID` | uint64 (varint) |
//! | 3 | `service` | int32 (varint) |
//! | 4 | `method` | int32 (varint): 0 control, 1 data |
//! | 5 | `headers` | repeated `Header { 1 key: string, 2 value: string }` |
//! | 6 | `payload_encoding` | string |
//! | 7 | `payload_type` | string |
//! | 8 | `payload` | bytes |
//! | 9 | `LogIDNew` | string |
//!
//! Fields 1–4 are proto2 `required`: the platform always writes them, and so
//! must a client, even when they are zero. Every field is an `Option` here so
//! that [`Frame::decode`] can tell "absent on the wire" from "zero", and so that
//! a test can deliberately [`Frame::encode`] a frame that lacks one.
//!
//! ```
//! use lark_oapi_mock::frame::Frame;
//!
//! let ping = Frame::ping(7);
//! let bytes = ping.encode();
//! assert_eq!(bytes[0], 0x08); // field 1, varint, written although it is 0
//! let back = Frame::decode(&bytes).unwrap();
//! assert_eq!(back, ping);
//! assert!(back.has_required_fields());
//! assert_eq!(back.header("type"), Some("ping"));
//! ```

use std::fmt;

/// `method` of a control frame (ping / pong).
pub const METHOD_CONTROL: i32 = 0;
/// `method` of a data frame (events, callbacks and their acknowledgements).
pub const METHOD_DATA: i32 = 1;

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

/// One `pbbp2.Frame`. `None` means "not present on the wire".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// Field 1, `SeqID`.
    pub seq_id: Option<u64>,
    /// Field 2, `LogID`.
    pub log_id: Option<u64>,
    /// Field 3, `service` (the `service_id` of the connection URL).
    pub service: Option<i32>,
    /// Field 4, `method`: [`METHOD_CONTROL`] or [`METHOD_DATA`].
    pub method: Option<i32>,
    /// Field 5, the `Header` list as `(key, value)` pairs, in wire order.
    pub headers: Vec<(String, String)>,
    /// Field 6, `payload_encoding`.
    pub payload_encoding: Option<String>,
    /// Field 7, `payload_type`.
    pub payload_type: Option<String>,
    /// Field 8, `payload`.
    pub payload: Option<Vec<u8>>,
    /// Field 9, `LogIDNew`.
    pub log_id_new: Option<String>,
}

impl Frame {
    /// A frame with the four required fields set and nothing else.
    pub fn new(seq_id: u64, log_id: u64, service: i32, method: i32) -> Frame {
        Frame {
            seq_id: Some(seq_id),
            log_id: Some(log_id),
            service: Some(service),
            method: Some(method),
            ..Frame::default()
        }
    }

    /// The ping a client sends: `SeqID 0, LogID 0, service, method 0,
    /// headers [type=ping]`, all four required fields written.
    pub fn ping(service: i32) -> Frame {
        Frame::new(0, 0, service, METHOD_CONTROL).with_header("type", "ping")
    }

    /// Appends a header (builder style).
    pub fn with_header(mut self, key: &str, value: &str) -> Frame {
        self.headers.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets the payload (builder style).
    pub fn with_payload(mut self, payload: impl Into<Vec<u8>>) -> Frame {
        self.payload = Some(payload.into());
        self
    }

    /// The value of the first header named `key` (exact match).
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the value of header `key`, or appends it.
    pub fn set_header(&mut self, key: &str, value: &str) {
        match self.headers.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.headers.push((key.to_owned(), value.to_owned())),
        }
    }

    /// The payload, empty when absent.
    pub fn payload_bytes(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }

    /// Whether fields 1–4 (`SeqID`, `LogID`, `service`, `method`) are all present.
    pub fn has_required_fields(&self) -> bool {
        self.seq_id.is_some()
            && self.log_id.is_some()
            && self.service.is_some()
            && self.method.is_some()
    }

    /// Serializes the frame; fields that are `None` are not written, every
    /// `Some` field is written even when zero or empty.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.payload_bytes().len());
        if let Some(v) = self.seq_id {
            put_varint_field(&mut out, 1, v);
        }
        if let Some(v) = self.log_id {
            put_varint_field(&mut out, 2, v);
        }
        if let Some(v) = self.service {
            // int32 is sign-extended to 64 bits on the wire.
            put_varint_field(&mut out, 3, i64::from(v) as u64);
        }
        if let Some(v) = self.method {
            put_varint_field(&mut out, 4, i64::from(v) as u64);
        }
        for (key, value) in &self.headers {
            let mut header = Vec::with_capacity(key.len() + value.len() + 4);
            put_len_field(&mut header, 1, key.as_bytes());
            put_len_field(&mut header, 2, value.as_bytes());
            put_len_field(&mut out, 5, &header);
        }
        if let Some(v) = &self.payload_encoding {
            put_len_field(&mut out, 6, v.as_bytes());
        }
        if let Some(v) = &self.payload_type {
            put_len_field(&mut out, 7, v.as_bytes());
        }
        if let Some(v) = &self.payload {
            put_len_field(&mut out, 8, v);
        }
        if let Some(v) = &self.log_id_new {
            put_len_field(&mut out, 9, v.as_bytes());
        }
        out
    }

    /// Parses a serialized frame.
    ///
    /// Unknown fields are skipped; a repeated scalar field keeps its last
    /// value (protobuf semantics). Truncated input, over-long varints, group
    /// wire types, a known field with the wrong wire type and strings that are
    /// not UTF-8 are errors. Never panics.
    pub fn decode(buf: &[u8]) -> Result<Frame, FrameError> {
        let mut r = Reader { buf, pos: 0 };
        let mut frame = Frame::default();
        while !r.at_end() {
            let (field, wire) = r.tag()?;
            match (field, wire) {
                (1, WIRE_VARINT) => frame.seq_id = Some(r.varint()?),
                (2, WIRE_VARINT) => frame.log_id = Some(r.varint()?),
                // int32: keep the low 32 bits, like every protobuf runtime.
                (3, WIRE_VARINT) => frame.service = Some(r.varint()? as i32),
                (4, WIRE_VARINT) => frame.method = Some(r.varint()? as i32),
                (5, WIRE_LEN) => {
                    let start = r.pos;
                    let bytes = r.len_delimited()?;
                    frame
                        .headers
                        .push(decode_header(bytes).map_err(|e| e.shifted(start))?);
                }
                (6, WIRE_LEN) => frame.payload_encoding = Some(r.string()?),
                (7, WIRE_LEN) => frame.payload_type = Some(r.string()?),
                (8, WIRE_LEN) => frame.payload = Some(r.len_delimited()?.to_vec()),
                (9, WIRE_LEN) => frame.log_id_new = Some(r.string()?),
                (1..=9, _) => return Err(r.error("known field with the wrong wire type")),
                _ => r.skip(wire)?,
            }
        }
        Ok(frame)
    }
}

fn decode_header(buf: &[u8]) -> Result<(String, String), FrameError> {
    let mut r = Reader { buf, pos: 0 };
    let (mut key, mut value) = (String::new(), String::new());
    while !r.at_end() {
        let (field, wire) = r.tag()?;
        match (field, wire) {
            (1, WIRE_LEN) => key = r.string()?,
            (2, WIRE_LEN) => value = r.string()?,
            (1 | 2, _) => return Err(r.error("header field with the wrong wire type")),
            _ => r.skip(wire)?,
        }
    }
    Ok((key, value))
}

/// Why [`Frame::decode`] rejected its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// What was wrong.
    pub reason: &'static str,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
}

impl FrameError {
    fn shifted(self, by: usize) -> FrameError {
        FrameError {
            reason: self.reason,
            offset: self.offset + by,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid frame at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for FrameError {}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn error(&self, reason: &'static str) -> FrameError {
        FrameError {
            reason,
            offset: self.pos,
        }
    }

    fn varint(&mut self) -> Result<u64, FrameError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.error("varint longer than 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    fn tag(&mut self) -> Result<(u32, u8), FrameError> {
        let tag = self.varint()?;
        let field = tag >> 3;
        if field == 0 || field > 0x1fff_ffff {
            return Err(self.error("invalid field number"));
        }
        Ok((field as u32, (tag & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.error("truncated field"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], FrameError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.error("length too large"))?;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, FrameError> {
        let start = self.pos;
        let bytes = self.len_delimited()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FrameError {
            reason: "string field is not UTF-8",
            offset: start,
        })
    }

    fn skip(&mut self, wire: u8) -> Result<(), FrameError> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_I64 => self.take(8).map(drop),
            WIRE_LEN => self.len_delimited().map(drop),
            WIRE_I32 => self.take(4).map(drop),
            _ => Err(self.error("unsupported wire type")),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field) << 3 | u64::from(WIRE_VARINT));
    put_varint(out, v);
}

fn put_len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field) << 3 | u64::from(WIRE_LEN));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_bytes() {
        let f = Frame::new(1, 2, 7, 1)
            .with_header("type", "event")
            .with_payload(b"{}".to_vec());
        let bytes = f.encode();
        let expected: Vec<u8> = [
            &[0x08, 1, 0x10, 2, 0x18, 7, 0x20, 1][..],
            &[0x2a, 13, 0x0a, 4],
            b"type",
            &[0x12, 5],
            b"event",
            &[0x42, 2],
            b"{}",
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(Frame::decode(&bytes), Ok(f));
    }

    #[test]
    fn zero_required_fields_are_written_and_absence_is_detected() {
        let ping = Frame::ping(7);
        assert_eq!(&ping.encode()[..8], &[0x08, 0, 0x10, 0, 0x18, 7, 0x20, 0]);
        let mut proto3 = ping.clone();
        proto3.seq_id = None;
        proto3.method = None;
        let back = Frame::decode(&proto3.encode()).unwrap();
        assert_eq!(back.seq_id, None);
        assert_eq!(back.log_id, Some(0));
        assert_eq!(back.method, None);
        assert!(!back.has_required_fields());
    }

    #[test]
    fn round_trip_everything() {
        let f = Frame {
            seq_id: Some(u64::MAX),
            log_id: Some(300),
            service: Some(-5),
            method: Some(1),
            headers: vec![("a".into(), "".into()), ("文".into(), "x".into())],
            payload_encoding: Some("gzip".into()),
            payload_type: Some(String::new()),
            payload: Some(vec![0, 255, 7]),
            log_id_new: Some("abc".into()),
        };
        let bytes = f.encode();
        assert_eq!(Frame::decode(&bytes), Ok(f));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut bytes = Frame::ping(7).encode();
        bytes.extend_from_slice(&[0x58, 0x96, 0x01]); // field 11 varint
        bytes.extend_from_slice(&[0x61, 1, 2, 3, 4, 5, 6, 7, 8]); // field 12 fixed64
        bytes.extend_from_slice(&[0x6a, 2, b'h', b'i']); // field 13 bytes
        bytes.extend_from_slice(&[0x75, 1, 2, 3, 4]); // field 14 fixed32
        assert_eq!(Frame::decode(&bytes), Ok(Frame::ping(7)));
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let cases: &[&[u8]] = &[
            &[0x08], // truncated varint
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ], // too long
            &[0x00, 1], // field 0
            &[0x0a, 1, 1], // field 1 as bytes
            &[0x42, 5, 1], // truncated payload
            &[
                0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ], // huge len
            &[0x4a, 1, 0xff], // LogIDNew not UTF-8
            &[0x2a, 3, 0x0a, 1, 0xff], // header key not UTF-8
            &[0x2a, 2, 0x0a, 5], // header truncated
            &[0x5b], // group start
        ];
        for case in cases {
            assert!(Frame::decode(case).is_err(), "{case:?}");
        }
        // Exhaustive short inputs must never panic.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = Frame::decode(&[a, b]);
                let _ = Frame::decode(&[a, b, a]);
            }
        }
        assert_eq!(Frame::decode(&[]), Ok(Frame::default()));
    }
}
