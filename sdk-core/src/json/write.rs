//! Encoding generated types as compact JSON through a writer.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write as _;

use serde_json::Value;

/// Writes compact JSON into a byte buffer.
///
/// Commas are automatic: after any complete value (a scalar, or a closed object or array)
/// the next value, field or nested begin writes a separating comma first.
///
/// ```
/// use lark_oapi_core::__private::json::JsonWriter;
///
/// let mut w = JsonWriter::new();
/// w.begin_object();
/// w.field("receive_id", "ou_1");
/// w.field("tags", &vec!["a", "b"]);
/// w.field_opt::<i64>("uuid", &None);
/// w.end_object();
/// assert_eq!(w.into_bytes(), br#"{"receive_id":"ou_1","tags":["a","b"]}"#);
/// ```
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// A value was just completed, so the next element or field needs a comma.
    needs_comma: bool,
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Writes the comma owed to the previous value, if any.
    fn separate(&mut self) {
        if self.needs_comma {
            self.buf.push(b',');
        }
    }

    /// Writes a complete value that needs no escaping.
    fn scalar(&mut self, bytes: &[u8]) {
        self.separate();
        self.buf.extend_from_slice(bytes);
        self.needs_comma = true;
    }

    /// Writes a number from its formatted text, straight into the buffer.
    fn number(&mut self, text: fmt::Arguments<'_>) {
        self.separate();
        // Writing into a `Vec` cannot fail.
        let _ = self.buf.write_fmt(text);
        self.needs_comma = true;
    }

    /// Starts an object: `{`.
    pub fn begin_object(&mut self) {
        self.separate();
        self.buf.push(b'{');
        self.needs_comma = false;
    }

    /// Ends an object: `}`.
    pub fn end_object(&mut self) {
        self.buf.push(b'}');
        self.needs_comma = true;
    }

    /// Starts an array: `[`. Write the elements with [`ToJson::write_json`] or the value
    /// methods; commas come by themselves.
    pub fn begin_array(&mut self) {
        self.separate();
        self.buf.push(b'[');
        self.needs_comma = false;
    }

    /// Ends an array: `]`.
    pub fn end_array(&mut self) {
        self.buf.push(b']');
        self.needs_comma = true;
    }

    /// Writes `"key":value` (with a comma before it when needed).
    pub fn field<T: ToJson + ?Sized>(&mut self, key: &str, value: &T) {
        self.string(key);
        self.buf.push(b':');
        self.needs_comma = false;
        value.write_json(self);
    }

    /// Like [`JsonWriter::field`], but writes nothing for `None`.
    pub fn field_opt<T: ToJson>(&mut self, key: &str, value: &Option<T>) {
        if let Some(value) = value {
            self.field(key, value);
        }
    }

    /// Writes a string value, escaped per RFC 8259: `"` and `\` escaped, control characters
    /// as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`, everything else (non-ASCII too) as UTF-8.
    pub fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.separate();
        let (buf, bytes) = (&mut self.buf, s.as_bytes());
        buf.push(b'"');
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' | b'\\' => b,
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x08 => b'b',
                0x0c => b'f',
                0..=0x1f => b'u',
                _ => continue,
            };
            buf.extend_from_slice(&bytes[start..i]);
            buf.extend_from_slice(&[b'\\', short]);
            if short == b'u' {
                let (hi, lo) = (HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]);
                buf.extend_from_slice(&[b'0', b'0', hi, lo]);
            }
            start = i + 1;
        }
        buf.extend_from_slice(&bytes[start..]);
        buf.push(b'"');
        self.needs_comma = true;
    }

    /// Writes an already-encoded JSON value as is. It must be one complete JSON value (checked
    /// in debug builds): anything else makes the output invalid.
    pub fn raw_value(&mut self, json: &str) {
        debug_assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok(),
            "raw_value needs one complete JSON value, got {json:?}"
        );
        self.scalar(json.as_bytes());
    }

    /// Writes `null`.
    pub fn null(&mut self) {
        self.scalar(b"null");
    }

    /// Writes `true` or `false`.
    pub fn bool(&mut self, v: bool) {
        self.scalar(if v { b"true" } else { b"false" });
    }

    /// Writes an integer.
    pub fn i64(&mut self, v: i64) {
        self.number(format_args!("{v}"));
    }

    /// Writes an unsigned integer.
    pub fn u64(&mut self, v: u64) {
        self.number(format_args!("{v}"));
    }

    /// Writes a float as its shortest round-trip text (`0.1`, `1e300`, `-0.0`); NaN and the
    /// infinities, which JSON cannot hold, become `null`.
    pub fn f64(&mut self, v: f64) {
        if v.is_finite() {
            // `Debug` prints the shortest text that parses back to `v`, in JSON syntax
            // for finite values (`1.0`, `1e-7`, `1e300`).
            self.number(format_args!("{v:?}"));
        } else {
            self.null();
        }
    }
}

/// Encoding into a [`JsonWriter`].
///
/// Generated impls write one field per line:
///
/// ```
/// use lark_oapi_core::__private::json::{self, JsonWriter, ToJson};
///
/// struct Text { text: String, at: Vec<String>, root_id: Option<String> }
///
/// impl ToJson for Text {
///     fn write_json(&self, w: &mut JsonWriter) {
///         w.begin_object();
///         w.field("text", &self.text);
///         w.field("at", &self.at);
///         w.field_opt("root_id", &self.root_id);
///         w.end_object();
///     }
/// }
///
/// let t = Text { text: "hi \"all\"".into(), at: vec!["ou_1".into()], root_id: None };
/// assert_eq!(json::to_vec(&t), br#"{"text":"hi \"all\"","at":["ou_1"]}"#);
/// ```
pub trait ToJson {
    /// Writes `self` as one complete JSON value.
    fn write_json(&self, w: &mut JsonWriter);

    /// The path of the first field the specs require that is left unset (an empty string,
    /// a `None`), in this value or a nested one: `receive_id`, `card.header.title`,
    /// `items[2].name`. Generated request models check their required fields; everything
    /// else has none.
    fn missing_required(&self) -> Option<String> {
        None
    }
}

/// [`ToJson::missing_required`] of the field `key`, with `key` prefixed to the path.
pub fn nested<T: ToJson + ?Sized>(key: &str, value: &T) -> Option<String> {
    let inner = value.missing_required()?;
    Some(if inner.starts_with('[') {
        format!("{key}{inner}")
    } else {
        format!("{key}.{inner}")
    })
}

/// Encodes any [`ToJson`] value to bytes.
pub fn to_vec<T: ToJson + ?Sized>(value: &T) -> Vec<u8> {
    let mut w = JsonWriter::new();
    value.write_json(&mut w);
    w.into_bytes()
}

/// Scalar impls: `type: |writer, value| expression`.
macro_rules! scalar_to_json {
    ($($t:ty: |$w:ident, $v:ident| $write:expr;)*) => {$(
        impl ToJson for $t {
            fn write_json(&self, $w: &mut JsonWriter) {
                let $v = self;
                $write;
            }
        }
    )*};
}

scalar_to_json! {
    str: |w, v| w.string(v);
    String: |w, v| w.string(v);
    bool: |w, v| w.bool(*v);
    i64: |w, v| w.i64(*v);
    i32: |w, v| w.i64(i64::from(*v));
    u64: |w, v| w.u64(*v);
    f64: |w, v| w.f64(*v);
}

impl ToJson for Value {
    fn write_json(&self, w: &mut JsonWriter) {
        w.separate();
        // A `Value` has string keys only, and writing to a `Vec` cannot fail.
        serde_json::to_writer(&mut w.buf, self).expect("a Value always serializes");
        w.needs_comma = true;
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_array();
        self.iter().for_each(|item| item.write_json(w));
        w.end_array();
    }
    fn missing_required(&self) -> Option<String> {
        for (i, item) in self.iter().enumerate() {
            if let Some(inner) = item.missing_required() {
                return Some(if inner.starts_with('[') {
                    format!("[{i}]{inner}")
                } else {
                    format!("[{i}].{inner}")
                });
            }
        }
        None
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, w: &mut JsonWriter) {
        self.as_slice().write_json(w);
    }
    fn missing_required(&self) -> Option<String> {
        self.as_slice().missing_required()
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, w: &mut JsonWriter) {
        match self {
            Some(v) => v.write_json(w),
            None => w.null(),
        }
    }
    fn missing_required(&self) -> Option<String> {
        self.as_ref()?.missing_required()
    }
}

impl<T: ToJson + ?Sized> ToJson for Box<T> {
    fn write_json(&self, w: &mut JsonWriter) {
        (**self).write_json(w);
    }
    fn missing_required(&self) -> Option<String> {
        (**self).missing_required()
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, w: &mut JsonWriter) {
        (**self).write_json(w);
    }
    fn missing_required(&self) -> Option<String> {
        (**self).missing_required()
    }
}

fn write_map<'a, T: ToJson + 'a>(
    w: &mut JsonWriter,
    map: impl Iterator<Item = (&'a String, &'a T)>,
) {
    w.begin_object();
    map.for_each(|(key, value)| w.field(key, value));
    w.end_object();
}

impl<T: ToJson> ToJson for BTreeMap<String, T> {
    fn write_json(&self, w: &mut JsonWriter) {
        write_map(w, self.iter());
    }
}

/// Written sorted by key, so the output is deterministic.
impl<T: ToJson, S> ToJson for HashMap<String, T, S> {
    fn write_json(&self, w: &mut JsonWriter) {
        let mut entries: Vec<_> = self.iter().collect();
        entries.sort_unstable_by_key(|&(key, _)| key);
        write_map(w, entries.into_iter());
    }
}
