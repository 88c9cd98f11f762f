//! JSON decoding, from a `serde_json::Value` or in one pass straight from the text
//! ([`Reader`]), and encoding through a writer, for generated types.
//!
//! Generated models do not derive serde (too slow to compile across thousands of types):
//! each gets a short [`FromJson`] and/or [`ToJson`] impl; a struct's decoder is one `match`
//! arm per field ([`DecodeFields`]), shared by both ways of decoding, whose loops live here.
//! Events are decoded from the text (no `Value` tree is built on the way to a typed
//! handler); both ways give the same values and the same errors.
//!
//! Decoding is lenient, like the platform: absent or `null` fields take their
//! [`Absent::absent`] value, unknown keys are ignored, integers and floats may arrive as
//! strings, booleans as `"true"`/`"false"`, and strings as numbers or booleans (kept as text).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

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

    /// An error with its message as given.
    pub(crate) fn message(message: String) -> Self {
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
    /// Decodes the value at the reader's position, in one pass over the text. The default
    /// reads a [`Value`] and calls [`from_json`](Self::from_json); generated types and the
    /// standard ones read straight from the text. A `null` (or a blank string, see
    /// [`BLANK_IS_ABSENT`](Self::BLANK_IS_ABSENT)) never gets here from a field, element or
    /// map value: the caller uses [`Absent::absent`] instead.
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        Self::from_json(read::read_value(r)?)
    }
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
pub(super) fn is_absent<T: FromJson>(value: &Value) -> bool {
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

/// An integer written as text (a number literal or a string's trimmed content); a whole
/// float such as `3.0` or `1e3` counts.
pub(super) fn text_int(s: &str) -> Option<i64> {
    s.parse()
        .ok()
        .or_else(|| s.parse::<f64>().ok().and_then(whole).map(|f| f as i64))
}

pub(super) fn text_uint(s: &str) -> Option<u64> {
    s.parse().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .and_then(whole)
            .and_then(|f| (f >= 0.0).then_some(f as u64))
    })
}

pub(super) fn text_float(s: &str) -> Option<f64> {
    s.parse().ok().filter(|f: &f64| f.is_finite())
}

pub(super) fn text_bool(s: &str) -> Option<bool> {
    s.parse().ok()
}

fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(whole).map(|f| f as i64)),
        Value::String(s) => text_int(s.trim()),
        _ => None,
    }
}

fn uint_of(value: &Value) -> Option<u64> {
    let non_negative = |f: f64| (f >= 0.0).then_some(f as u64);
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().and_then(whole).and_then(non_negative)),
        Value::String(s) => text_uint(s.trim()),
        _ => None,
    }
}

fn float_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => text_float(s.trim()),
        _ => None,
    }
}

fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => text_bool(s.trim()),
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
            fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
                <$t as read::ScalarText>::read(r)
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
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read::read_string(r)
    }
}

impl FromJson for Value {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        Ok(value)
    }
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read::read_value(r)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        if is_absent::<T>(&value) {
            return Ok(None);
        }
        T::from_json(value).map(Some)
    }
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        if r.absent(T::BLANK_IS_ABSENT)? {
            return Ok(None);
        }
        T::from_reader(r).map(Some)
    }
}

impl<T: FromJson + Default> FromJson for Box<T> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        T::from_json(value).map(Box::new)
    }
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        T::from_reader(r).map(Box::new)
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
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read::read_vec(r)
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
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read::read_btree(r)
    }
}

impl<T: FromJson, S: BuildHasher + Default> FromJson for HashMap<String, T, S> {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        map_of(value)
    }
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read::read_hash(r)
    }
}

mod read;
mod write;

pub use read::{DecodeFields, Input, Reader, decode_struct, read_enum, read_struct, value_fields};
pub use write::{JsonWriter, ToJson, nested, to_vec};

#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
