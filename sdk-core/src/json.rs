//! JSON decoding from `serde_json::Value` and encoding through a writer, for generated types.
//!
//! Generated models do not derive serde (too slow to compile across thousands of types):
//! each gets a short non-generic [`FromJson`] and/or [`ToJson`] impl, one line per field.
//!
//! Decoding is lenient, like the platform: absent or `null` fields take their
//! [`Absent::absent`] value, unknown keys are ignored, integers and floats may arrive as
//! strings, booleans as `"true"`/`"false"`, and strings as numbers or booleans (kept as text).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::io::Write as _;

use serde_json::{Map, Value};

/// A value that did not have the expected shape, with the path to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: String,
    path: String,
}

impl JsonError {
    /// An error for a value of the wrong kind: `expected a string, found a number`.
    pub fn new(expected: &'static str, found: &Value) -> Self {
        let message = format!("expected {expected}, found {}", kind(found));
        Self {
            message,
            path: String::new(),
        }
    }

    /// Prepends a field name to the path: `id` becomes `sender.id`.
    pub fn at(mut self, segment: &str) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, segment);
        self
    }

    /// Prepends a map key to the path: a plain key like a field (`k.id`), any other key
    /// quoted in brackets (`["a.b"].id`, `[""].id`), so it cannot read as nesting or an index.
    pub fn at_key(self, key: &str) -> Self {
        let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if plain {
            self.at(key)
        } else {
            let quoted = serde_json::to_string(key).unwrap_or_default();
            self.at(&format!("[{quoted}]"))
        }
    }

    /// Prepends an array index to the path: `sender.id` becomes `[3].sender.id`.
    pub fn at_index(self, index: usize) -> Self {
        self.at(&format!("[{index}]"))
    }

    /// Where the bad value is, e.g. `items[3].sender.id`; empty for the root value.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

/// What kind of JSON value this is, for error messages (`a string`, `an object`).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Decoding from a parsed JSON value.
///
/// Generated impls take the object apart with [`object`], start from `Self::default()` and
/// decode one field after another with [`set`]; hand-written ones may build the struct
/// with [`field`] instead:
///
/// ```
/// use lark_oapi_core::__private::json::{self, FromJson, JsonError};
/// use serde_json::{Value, json};
///
/// #[derive(Debug, Default, PartialEq)]
/// struct Chat { chat_id: String, user_count: i64, topic: Option<String> }
///
/// impl FromJson for Chat {
///     fn from_json(value: Value) -> Result<Self, JsonError> {
///         let mut o = json::object(value, "Chat")?;
///         let mut out = Self::default();
///         json::set(&mut o, "chat_id", &mut out.chat_id)?;
///         json::set(&mut o, "user_count", &mut out.user_count)?;
///         json::set(&mut o, "topic", &mut out.topic)?;
///         Ok(out)
///     }
/// }
///
/// let chat = Chat::from_json(json!({"chat_id": "oc_1", "user_count": "12", "x": 1})).unwrap();
/// assert_eq!(chat, Chat { chat_id: "oc_1".into(), user_count: 12, topic: None });
/// ```
pub trait FromJson: Sized + Absent {
    /// Decodes `value`. For fields, array elements and map values `null` never gets here:
    /// the caller uses [`Absent::absent`] instead.
    fn from_json(value: Value) -> Result<Self, JsonError>;
    /// Whether an empty (or blank) string counts as absent: true for numbers and booleans,
    /// which the platform sometimes sends as `""` when it has no value.
    const BLANK_IS_ABSENT: bool = false;
}

/// The value of an absent or `null` field: `Self::default()` for every type with a default
/// (`None`, empty, zero; one blanket impl, so the thousands of generated types do not each
/// compile one). Generated enums have no default: theirs is an empty unknown value, only
/// ever seen for a `null` inside an array or map.
pub trait Absent {
    /// The value of an absent field.
    fn absent() -> Self;
}

impl<T: Default> Absent for T {
    fn absent() -> Self {
        T::default()
    }
}

/// Whether `value` is absent for `T`: `null`, or a blank string where `T` allows it.
fn is_absent<T: FromJson>(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => T::BLANK_IS_ABSENT && s.trim().is_empty(),
        _ => false,
    }
}

/// Decodes `value`, taking `null` as absent.
fn decode<T: FromJson>(value: Value) -> Result<T, JsonError> {
    if is_absent::<T>(&value) {
        return Ok(T::absent());
    }
    T::from_json(value)
}

/// Takes a JSON object apart; `type_name` is used in the error
/// (`expected an object (Message), found a number`).
pub fn object(value: Value, type_name: &'static str) -> Result<Map<String, Value>, JsonError> {
    match value {
        Value::Object(map) => Ok(map),
        other => {
            let message = format!("expected an object ({type_name}), found {}", kind(&other));
            Err(JsonError {
                message,
                path: String::new(),
            })
        }
    }
}

/// Removes `key` from `object` and decodes it; absent or `null` gives [`Absent::absent`].
/// Errors get `key` prepended to their path.
pub fn field<T: FromJson>(object: &mut Map<String, Value>, key: &str) -> Result<T, JsonError> {
    let mut value = T::absent();
    set(object, key, &mut value)?;
    Ok(value)
}

/// Removes `key` from `object` and decodes it into `slot`; absent or `null` leave `slot`
/// as it is (the type's default, which is its [`Absent::absent`], in generated code). Errors get `key` prepended to their
/// path.
///
/// Generated decoders start from `Self::default()` and `set` one field after another:
/// an early return then drops one value, not every field decoded so far, which keeps the
/// code of a struct with many fields linear in its size.
pub fn set<T: FromJson>(
    object: &mut Map<String, Value>,
    key: &str,
    slot: &mut T,
) -> Result<(), JsonError> {
    match object.remove(key) {
        None => Ok(()),
        Some(value) if is_absent::<T>(&value) => Ok(()),
        Some(value) => {
            *slot = T::from_json(value).map_err(|e| e.at(key))?;
            Ok(())
        }
    }
}

/// The fields of one JSON object being decoded, for generated `FromJson` impls: one
/// [`set`](Fields::set) per field, then [`finish`](Fields::finish) returns the first error.
/// After an error the remaining fields are skipped, as `?` would.
///
/// ```
/// use lark_oapi_core::__private::json::{self, Fields, FromJson, JsonError};
/// # fn decode() -> Result<(), JsonError> {
/// let mut fields = Fields::of(serde_json::json!({"id": "ou_1", "age": "x"}), "User")?;
/// let (mut id, mut age) = (String::new(), None::<i64>);
/// fields.set("id", &mut id);
/// fields.set("age", &mut age);
/// let error = fields.finish().unwrap_err();
/// assert_eq!(id, "ou_1");
/// assert!(error.to_string().contains("age"), "{error}");
/// # Ok(()) }
/// # decode().unwrap();
/// ```
pub struct Fields {
    object: Map<String, Value>,
    error: Option<JsonError>,
}

/// Field names only: the values may be secrets (token answers are decoded here too).
impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fields")
            .field("remaining", &self.object.keys().collect::<Vec<_>>())
            .field("failed", &self.error.is_some())
            .finish()
    }
}

impl Fields {
    /// The fields of `value`, which must be an object (`type_name` says what was expected).
    pub fn of(value: Value, type_name: &'static str) -> Result<Self, JsonError> {
        Ok(Self {
            object: object(value, type_name)?,
            error: None,
        })
    }

    /// Decodes `key` into `slot` like [`set`]; an error is kept for [`finish`](Self::finish).
    pub fn set<T: FromJson>(&mut self, key: &str, slot: &mut T) {
        if self.error.is_none()
            && let Err(e) = set(&mut self.object, key, slot)
        {
            self.error = Some(e);
        }
    }

    /// The first error a field had, if any.
    pub fn finish(self) -> Result<(), JsonError> {
        self.error.map_or(Ok(()), Err)
    }
}

/// Integers beyond 2^53 are not exact as floats: a float outside this range is refused
/// rather than rounded into an integer.
const EXACT_IN_F64: f64 = 9_007_199_254_740_992.0;

/// A float with no fractional part that is an exact integer, such as `3.0` or `1e3`.
fn whole(f: f64) -> Option<f64> {
    (f.fract() == 0.0 && f.abs() <= EXACT_IN_F64).then_some(f)
}

fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(whole).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(whole).map(|f| f as i64))
        }
        _ => None,
    }
}

fn uint_of(value: &Value) -> Option<u64> {
    let non_negative = |f: f64| (f >= 0.0).then_some(f as u64);
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().and_then(whole).and_then(non_negative)),
        Value::String(s) => {
            let s = s.trim();
            s.parse()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(whole).and_then(non_negative))
        }
        _ => None,
    }
}

fn float_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Scalar impls: `type = expected, parser from &Value to Option<type>`.
macro_rules! scalar_from_json {
    ($($t:ty = $expected:literal, $parse:expr;)*) => {$(
        impl FromJson for $t {
            fn from_json(value: Value) -> Result<Self, JsonError> {
                ($parse)(&value).ok_or_else(|| JsonError::new($expected, &value))
            }
            const BLANK_IS_ABSENT: bool = true;
        }
    )*};
}

scalar_from_json! {
    i64 = "an integer", int_of;
    i32 = "a 32-bit integer", |v| int_of(v).and_then(|n| i32::try_from(n).ok());
    u64 = "an unsigned integer", uint_of;
    f64 = "a number", float_of;
    bool = "a boolean", bool_of;
}

impl FromJson for String {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        match value {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(JsonError::new("a string", &other)),
        }
    }
}

impl FromJson for Value {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        Ok(value)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        if is_absent::<T>(&value) {
            return Ok(None);
        }
        T::from_json(value).map(Some)
    }
}

impl<T: FromJson + Default> FromJson for Box<T> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        T::from_json(value).map(Box::new)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        let Value::Array(items) = value else {
            return Err(JsonError::new("an array", &value));
        };
        // A plain loop: iterator adapters would be instantiated anew for every `T`.
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            out.push(decode(item).map_err(|e| e.at_index(i))?);
        }
        Ok(out)
    }
}

/// Decodes every value of an object into a map of type `M`.
fn map_of<T: FromJson, M: Default + Extend<(String, T)>>(value: Value) -> Result<M, JsonError> {
    let Value::Object(map) = value else {
        return Err(JsonError::new("an object", &value));
    };
    let mut out = M::default();
    for (k, v) in map {
        let v = decode(v).map_err(|e| e.at_key(&k))?;
        out.extend(std::iter::once((k, v)));
    }
    Ok(out)
}

impl<T: FromJson> FromJson for BTreeMap<String, T> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        map_of(value)
    }
}

impl<T: FromJson, S: BuildHasher + Default> FromJson for HashMap<String, T, S> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        map_of(value)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Small models implementing the traits exactly as generated code does.
    #[derive(Debug, Default, PartialEq)]
    struct Sender {
        id: String,
        kind: i32,
    }

    #[derive(Debug, Default, PartialEq)]
    struct Message {
        message_id: String,
        sender: Sender,
        mentions: Vec<String>,
        thread: Option<String>,
    }

    #[derive(Debug, Default, PartialEq)]
    struct List {
        items: Vec<Message>,
        has_more: bool,
    }

    impl FromJson for Sender {
        fn from_json(value: Value) -> Result<Self, JsonError> {
            let mut o = object(value, "Sender")?;
            Ok(Self {
                id: field(&mut o, "id")?,
                kind: field(&mut o, "kind")?,
            })
        }
    }

    impl FromJson for Message {
        fn from_json(value: Value) -> Result<Self, JsonError> {
            let mut o = object(value, "Message")?;
            Ok(Self {
                message_id: field(&mut o, "message_id")?,
                sender: field(&mut o, "sender")?,
                mentions: field(&mut o, "mentions")?,
                thread: field(&mut o, "thread")?,
            })
        }
    }

    impl FromJson for List {
        fn from_json(value: Value) -> Result<Self, JsonError> {
            let mut o = object(value, "List")?;
            Ok(Self {
                items: field(&mut o, "items")?,
                has_more: field(&mut o, "has_more")?,
            })
        }
    }

    impl ToJson for Sender {
        fn write_json(&self, w: &mut JsonWriter) {
            w.begin_object();
            w.field("id", &self.id);
            w.field("kind", &self.kind);
            w.end_object();
        }
    }

    impl ToJson for Message {
        fn write_json(&self, w: &mut JsonWriter) {
            w.begin_object();
            w.field("message_id", &self.message_id);
            w.field("sender", &self.sender);
            w.field("mentions", &self.mentions);
            w.field_opt("thread", &self.thread);
            w.end_object();
        }
    }

    impl ToJson for List {
        fn write_json(&self, w: &mut JsonWriter) {
            w.begin_object();
            w.field("items", &self.items);
            w.field("has_more", &self.has_more);
            w.end_object();
        }
    }

    fn text<T: ToJson + ?Sized>(value: &T) -> String {
        String::from_utf8(to_vec(value)).unwrap()
    }

    fn ok<T: FromJson>(value: Value) -> T {
        T::from_json(value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err<T: FromJson>(value: Value) -> String {
        T::from_json(value).err().expect("an error").to_string()
    }

    #[test]
    fn nested_containers_are_written_exactly() {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.field("a", &Vec::<i64>::new());
        w.field("b", &BTreeMap::<String, i64>::new());
        w.field("c", &vec![vec![1i64, 2], vec![], vec![3]]);
        w.field_opt::<bool>("skipped", &None);
        w.field("d", &Some(json!({"x": [1, {"y": null}]})));
        w.field("e", &[json!(1), json!("s"), json!({})][..]);
        w.field("f", &None::<i64>);
        let map: HashMap<String, i32> = [("z".into(), 1), ("m".into(), 2)].into();
        w.field("g", &map);
        w.field("h", &Box::new(-3i32));
        w.end_object();
        let out = String::from_utf8(w.into_bytes()).unwrap();
        let expected = r#"{"a":[],"b":{},"c":[[1,2],[],[3]],"d":{"x":[1,{"y":null}]},"#.to_owned()
            + r#""e":[1,"s",{}],"f":null,"g":{"m":2,"z":1},"h":-3}"#;
        assert_eq!(out, expected);
        let back: Value = serde_json::from_str(&out).unwrap();
        let want = json!({"a": [], "b": {}, "c": [[1, 2], [], [3]], "d": {"x": [1, {"y": null}]},
            "e": [1, "s", {}], "f": null, "g": {"m": 2, "z": 1}, "h": -3});
        assert_eq!(back, want);

        let mut w = JsonWriter::new();
        w.begin_array();
        w.raw_value(r#"{"pre":1}"#);
        w.null();
        w.string("s");
        w.begin_object();
        w.end_object();
        w.u64(u64::MAX);
        w.i64(i64::MIN);
        w.end_array();
        let expected = r#"[{"pre":1},null,"s",{},18446744073709551615,-9223372036854775808]"#;
        assert_eq!(w.into_bytes(), expected.as_bytes());
        assert_eq!(text(&&[Some(true), None][..]), "[true,null]");
        // Enough keys that a hash order which happens to be sorted is vanishingly unlikely.
        let many: HashMap<String, i64> = (0..20).map(|i| (format!("k{i:02}"), i)).collect();
        let fields: Vec<String> = (0..20).map(|i| format!(r#""k{i:02}":{i}"#)).collect();
        assert_eq!(text(&many), format!("{{{}}}", fields.join(",")));
    }

    #[test]
    fn models_round_trip() {
        let mut m2 = Message {
            message_id: "m2".into(),
            mentions: vec!["a".into(), "b".into()],
            thread: Some("t".into()),
            ..Message::default()
        };
        m2.sender.id = "ou_2".into();
        m2.sender.kind = 1;
        let list = List {
            items: vec![Message::default(), m2],
            has_more: true,
        };
        let out = text(&list);
        let expected = r#"{"items":[{"message_id":"","sender":{"id":"","kind":0},"mentions":[]},"#
            .to_owned()
            + r#"{"message_id":"m2","sender":{"id":"ou_2","kind":1},"mentions":["a","b"],"thread":"t"}],"#
            + r#""has_more":true}"#;
        assert_eq!(out, expected);
        let back: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["items"][1]["sender"], json!({"id": "ou_2", "kind": 1}));
        assert_eq!(ok::<List>(back), list);
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(text("say \"hi\""), r#""say \"hi\"""#);
        assert_eq!(text(r"C:\dir"), r#""C:\\dir""#);
        assert_eq!(text("a\nb\r\t\u{8}\u{c}"), r#""a\nb\r\t\b\f""#);
        assert_eq!(text("\u{1}\u{1f}\u{0}"), r#""\u0001\u001f\u0000""#);
        assert_eq!(text("飞书 🚀 /\u{7f}"), "\"飞书 🚀 /\u{7f}\"");
        let mut w = JsonWriter::new();
        w.begin_object();
        w.field("k\"\n", "v");
        w.end_object();
        assert_eq!(w.into_bytes(), br#"{"k\"\n":"v"}"#);
        let back: String = serde_json::from_str(&text("飞书\u{1}\"\\🎉")).unwrap();
        assert_eq!(back, "飞书\u{1}\"\\🎉");
    }

    #[test]
    fn random_strings_match_serde_json() {
        let pool = "aZ0 \"\\/\n\r\t\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}\u{80}é飞书🚀\u{2028}\u{ffff}";
        let pool: Vec<char> = pool.chars().collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005);
            seed = seed.wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as u32
        };
        for _ in 0..500 {
            let len = next() % 24;
            let s: String = (0..len)
                .map(|_| match next() % 4 {
                    0 => char::from_u32(next() % 0x11_0000).unwrap_or('\u{fffd}'),
                    _ => pool[next() as usize % pool.len()],
                })
                .collect();
            let want = serde_json::to_string(&s).unwrap();
            assert_eq!(text(s.as_str()), want, "{s:?}");
        }
    }

    #[test]
    fn floats_are_shortest_round_trip_text() {
        assert_eq!(text(&0.1f64), "0.1");
        assert_eq!(text(&1e300f64), "1e300");
        assert_eq!(text(&-0.0f64), "-0.0");
        assert_eq!(text(&1.0f64), "1.0");
        let odd = vec![0.5f64, f64::NAN, f64::NEG_INFINITY];
        assert_eq!(text(&odd), "[0.5,null,null]");
        for v in [0.1, 1e300, -0.0, 1e-7, 123.456, f64::MAX, 5e-324] {
            let back: f64 = serde_json::from_str(&text(&v)).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
    }

    /// Rows of `type: input => expected`, checking `ok::<type>(input) == expected`.
    macro_rules! decodes {
        ($($t:ty: $v:expr => $want:expr;)*) => {$( assert_eq!(ok::<$t>($v), $want, "{}", $v); )*};
    }

    /// Rows of `type: input => error message`.
    macro_rules! rejects {
        ($($t:ty: $v:expr => $want:expr;)*) => {$( assert_eq!(err::<$t>($v), $want); )*};
    }

    #[test]
    fn lenient_scalars_are_accepted() {
        decodes! {
            i64: json!(-5) => -5;
            i64: json!(3.0) => 3;
            i64: json!("123") => 123;
            i32: json!("-12") => -12;
            i32: json!(i32::MAX) => i32::MAX;
            u64: json!(u64::MAX) => u64::MAX;
            u64: json!("42") => 42;
            u64: json!(7.0) => 7;
            f64: json!(2) => 2.0;
            f64: json!(1.5) => 1.5;
            f64: json!("-2.5e3") => -2500.0;
            bool: json!(true) => true;
            bool: json!("true") => true;
            bool: json!("false") => false;
            String: json!("s") => "s";
            String: json!(123) => "123";
            String: json!(-1.5) => "-1.5";
            String: json!(true) => "true";
            Box<i64>: json!("9") => Box::new(9);
            Value: json!({"any": [1]}) => json!({"any": [1]});
            i64: json!(" 42 ") => 42;
            i64: json!("12.0") => 12;
            i64: json!("1e3") => 1000;
            u64: json!("2e1") => 20;
            f64: json!(" 0.5") => 0.5;
            bool: json!(" true ") => true;
            Option<i64>: json!("") => None;
            Option<bool>: json!("  ") => None;
            Vec<i64>: json!(["", "3"]) => vec![0, 3];
        }
    }

    #[test]
    fn floats_are_integers_only_when_exact() {
        // Beyond 2^53 a float is not an exact integer: refused, not rounded.
        for v in [
            json!(9_007_199_254_740_993.0_f64 * 2.0),
            json!(1.5),
            json!("12345678901234567.5"),
            json!(-1.0e19),
            json!("1e300"),
        ] {
            assert!(i64::from_json(v.clone()).is_err(), "{v}");
        }
        assert!(u64::from_json(json!(-3.0)).is_err());
        assert_eq!(
            i64::from_json(json!(9_007_199_254_740_992.0_f64)).unwrap(),
            1 << 53
        );
        // Integers written as integers keep every digit, whatever their size within i64.
        assert_eq!(
            i64::from_json(json!(9_007_199_254_740_993_i64)).unwrap(),
            9_007_199_254_740_993
        );
    }

    #[test]
    fn blank_numbers_in_a_struct_field_are_absent() {
        let mut o = object(json!({"n": "", "m": " "}), "T").unwrap();
        let (mut n, mut m) = (7_i64, Some(1_i64));
        set(&mut o, "n", &mut n).unwrap();
        set(&mut o, "m", &mut m).unwrap();
        assert_eq!((n, m), (7, None), "left at its default, and None");
        // A blank string is still a string where a string is expected.
        let mut o = object(json!({"s": ""}), "T").unwrap();
        let mut s = String::from("x");
        set(&mut o, "s", &mut s).unwrap();
        assert_eq!(s, "");
    }

    #[test]
    fn map_keys_in_error_paths_cannot_read_as_nesting() {
        let err = BTreeMap::<String, i64>::from_json(json!({"a.b": "x"})).unwrap_err();
        assert_eq!(err.path(), r#"["a.b"]"#);
        let err = BTreeMap::<String, i64>::from_json(json!({"": "x"})).unwrap_err();
        assert_eq!(err.path(), r#"[""]"#);
        let err = BTreeMap::<String, i64>::from_json(json!({"plain_key": "x"})).unwrap_err();
        assert_eq!(err.path(), "plain_key");
    }

    #[test]
    fn bad_scalars_are_rejected() {
        rejects! {
            i64: json!("abc") => "expected an integer, found a string";
            i64: json!(1.5) => "expected an integer, found a number";
            i64: json!(1e20) => "expected an integer, found a number";
            i64: json!(true) => "expected an integer, found a boolean";
            i32: json!(3_000_000_000i64) => "expected a 32-bit integer, found a number";
            i32: json!("-3000000000") => "expected a 32-bit integer, found a string";
            u64: json!(-1) => "expected an unsigned integer, found a number";
            f64: json!("abc") => "expected a number, found a string";
            f64: json!("NaN") => "expected a number, found a string";
            f64: json!([1]) => "expected a number, found an array";
            bool: json!("yes") => "expected a boolean, found a string";
            bool: json!(1) => "expected a boolean, found a number";
            String: json!({"a": 1}) => "expected a string, found an object";
            String: json!([]) => "expected a string, found an array";
            String: json!(null) => "expected a string, found null";
        }
    }

    #[test]
    fn errors_carry_the_path() {
        let bad = json!({"items": [
            {"message_id": "m0", "sender": {"id": "ou_0"}},
            {"message_id": "m1", "sender": {"id": {"open_id": "ou_1"}}},
        ]});
        let e = List::from_json(bad).unwrap_err();
        assert_eq!(e.path(), "items[1].sender.id");
        let want = "at `items[1].sender.id`: expected a string, found an object";
        assert_eq!(e.to_string(), want);
        rejects! {
            List: json!({"items": [{}, 5]}) => "at `items[1]`: expected an object (Message), found a number";
            List: json!({"items": [{"mentions": ["a", []]}]}) => "at `items[0].mentions[1]`: expected a string, found an array";
            List: json!({"items": {}}) => "at `items`: expected an array, found an object";
            List: json!(null) => "expected an object (List), found null";
            Vec<Vec<i32>>: json!([[1], [2, "x"]]) => "at `[1][1]`: expected a 32-bit integer, found a string";
            BTreeMap<String, Sender>: json!({"k": {"kind": {}}}) => "at `k.kind`: expected a 32-bit integer, found an object";
            HashMap<String, i64>: json!([]) => "expected an object, found an array";
        }
        let e = JsonError::new("a string", &Value::Null);
        assert_eq!(e.path(), "");
        let nested = e.clone().at_index(3).at("items").at("data");
        assert_eq!(nested.path(), "data.items[3]");
        assert_eq!(e.at("id").at_index(0).path(), "[0].id");
    }

    // What generated request models do: check their own required fields, then nested ones.
    struct Header {
        title: String,
    }
    impl ToJson for Header {
        fn write_json(&self, w: &mut JsonWriter) {
            w.begin_object();
            w.field("title", &self.title);
            w.end_object();
        }
        fn missing_required(&self) -> Option<String> {
            if self.title.is_empty() {
                return Some("title".to_owned());
            }
            None
        }
    }
    struct Card {
        kind: Option<String>,
        header: Option<Header>,
        rows: Vec<Vec<Header>>,
    }
    impl ToJson for Card {
        fn write_json(&self, w: &mut JsonWriter) {
            w.begin_object();
            w.field_opt("kind", &self.kind);
            w.end_object();
        }
        fn missing_required(&self) -> Option<String> {
            if self.kind.is_none() {
                return Some("kind".to_owned());
            }
            if let Some(p) = nested("header", &self.header) {
                return Some(p);
            }
            nested("rows", &self.rows)
        }
    }

    #[test]
    fn missing_required_fields_are_named_with_their_path() {
        let title = |t: &str| Header { title: t.into() };
        let card = |kind: Option<&str>, header, rows| Card {
            kind: kind.map(str::to_owned),
            header,
            rows,
        };
        assert_eq!(
            card(None, None, vec![]).missing_required().as_deref(),
            Some("kind")
        );
        assert_eq!(
            card(Some("a"), None, vec![]).missing_required(),
            None,
            "an unset optional model"
        );
        assert_eq!(
            card(Some("a"), Some(title("")), vec![])
                .missing_required()
                .as_deref(),
            Some("header.title")
        );
        let rows = vec![vec![title("ok")], vec![title("ok"), title("")]];
        assert_eq!(
            card(Some("a"), Some(title("t")), rows)
                .missing_required()
                .as_deref(),
            Some("rows[1][1].title")
        );
        assert_eq!(
            card(Some("a"), Some(title("t")), vec![vec![title("ok")]]).missing_required(),
            None
        );
    }

    #[test]
    fn absent_and_null_fields_take_defaults() {
        assert_eq!(ok::<List>(json!({})), List::default());
        let nulls = json!({"message_id": null, "sender": null, "mentions": null, "thread": null});
        assert_eq!(ok::<Message>(nulls), Message::default());
        let m: Message = ok(json!({"thread": "t", "mentions": ["a", null, 2]}));
        assert_eq!(m.thread.as_deref(), Some("t"));
        assert_eq!(m.mentions, ["a", "", "2"]);
        assert_eq!(ok::<Vec<Option<i64>>>(json!([null, 1])), [None, Some(1)]);
        let map: BTreeMap<String, Vec<i64>> = ok(json!({"a": null, "b": [1]}));
        assert_eq!(map, [("a".into(), vec![]), ("b".into(), vec![1])].into());
        assert_eq!(
            (<Option<i64>>::absent(), Value::absent()),
            (None, Value::Null)
        );
        assert_eq!((i64::absent(), i32::absent(), u64::absent()), (0, 0, 0));
        assert_eq!((f64::absent(), bool::absent()), (0.0, false));
        assert!(String::absent().is_empty() && <Box<Sender>>::absent().id.is_empty());
        assert!(HashMap::<String, i64>::absent().is_empty());
        assert!(BTreeMap::<String, i64>::absent().is_empty());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let v = json!({
            "items": [{"message_id": "m", "sender": {"id": 42, "kind": "2", "x": [1]}, "new": {}}],
            "has_more": "true",
            "page_token": "p",
        });
        let list: List = ok(v);
        assert!(list.has_more);
        assert_eq!(
            (list.items[0].sender.id.as_str(), list.items[0].sender.kind),
            ("42", 2)
        );
        let out: Value = serde_json::from_slice(&to_vec(&list)).unwrap();
        assert_eq!(out["items"][0]["sender"], json!({"id": "42", "kind": 2}));
        assert_eq!(
            (out.get("page_token"), out["items"][0].get("new")),
            (None, None)
        );
    }
}
