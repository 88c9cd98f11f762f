//! Decoding straight from JSON text in one pass, without building a [`Value`] first.
//!
//! [`Reader`] is a pull parser over a `&str`: generated types read their fields from it as
//! the keys come ([`Reader::object`]), scalars are parsed where they stand, strings without
//! escapes are borrowed until a field keeps them, and unknown fields are checked and
//! skipped without allocating. It is as lenient as the [`Value`] path ([`FromJson`]):
//! numbers and booleans may arrive as strings, blank strings are absent numbers, `null` is
//! absent everywhere, and it gives the same values and errors (with the path), plus the
//! byte offset of a syntax error.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde_json::Value;

use super::{FromJson, JsonError, is_absent, text_bool, text_float, text_int, text_uint};

/// Nesting deeper than this is refused (as `serde_json` does), so a hostile document cannot
/// exhaust the stack.
const MAX_DEPTH: u32 = 128;

/// JSON text being decoded in one pass (for generated [`FromJson::from_reader`] impls).
///
/// ```
/// use lark_oapi_core::__private::json::{FromJson, Reader};
///
/// let mut r = Reader::new(r#"{"ids": ["a", "b"], "count": "2"}"#);
/// let (mut ids, mut count) = (Vec::<String>::new(), 0i64);
/// r.object("Page", &mut |key, r| match key {
///     "ids" => r.put(&mut ids),
///     "count" => r.put(&mut count),
///     _ => r.skip(),
/// })
/// .unwrap();
/// r.finish().unwrap();
/// assert_eq!((ids, count), (vec!["a".to_owned(), "b".to_owned()], 2));
/// ```
#[derive(Debug)]
pub struct Reader<'de> {
    text: &'de str,
    pos: usize,
    depth: u32,
    /// Just inside a container (`{` or `[` consumed, nothing after it yet).
    first: bool,
}

/// What a generated field decoder reads a field's value from: a [`Value`] taken out of a
/// parsed object, or the [`Reader`] positioned at the value.
#[derive(Debug)]
pub enum Input<'r, 'de> {
    /// A parsed value.
    Value(Value),
    /// The reader, at the start of the value.
    Reader(&'r mut Reader<'de>),
}

impl Input<'_, '_> {
    /// Decodes the value into `slot`; absent (`null`, or a blank string where `T` allows
    /// it) leaves `slot` as it is.
    pub fn put<T: FromJson>(self, slot: &mut T) -> Result<(), JsonError> {
        match self {
            Input::Value(v) => {
                if !is_absent::<T>(&v) {
                    *slot = T::from_json(v)?;
                }
                Ok(())
            }
            Input::Reader(r) => r.put(slot),
        }
    }

    /// Passes over a value no field wants (the reader still checks its syntax).
    pub fn skip(self) -> Result<(), JsonError> {
        match self {
            Input::Value(_) => Ok(()),
            Input::Reader(r) => r.skip(),
        }
    }
}

/// Decodes the fields of an object [`Value`] with `each` (key, value), for generated
/// [`FromJson::from_json`] impls; errors get the key prepended to their path.
pub fn value_fields(
    value: Value,
    type_name: &'static str,
    each: &mut dyn FnMut(&str, Input<'_, '_>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    for (key, v) in super::object(value, type_name)? {
        each(&key, Input::Value(v)).map_err(|e| e.at(&key))?;
    }
    Ok(())
}

/// A generated struct's fields, decoded one key at a time by both decoders.
pub trait DecodeFields: Default {
    /// The type's name in errors (`expected an object (Message), found a number`).
    const NAME: &'static str;
    /// Decodes the value of `key` into its field, or skips it for an unknown key.
    fn decode_field(&mut self, key: &str, v: Input<'_, '_>) -> Result<(), JsonError>;
}

/// `FromJson::from_json` of a generated struct.
pub fn decode_struct<T: DecodeFields>(value: Value) -> Result<T, JsonError> {
    let mut out = T::default();
    value_fields(value, T::NAME, &mut |k, v| out.decode_field(k, v))?;
    Ok(out)
}

/// `FromJson::from_reader` of a generated struct.
pub fn read_struct<T: DecodeFields>(r: &mut Reader<'_>) -> Result<T, JsonError> {
    let mut out = T::default();
    r.object(T::NAME, &mut |k, v| out.decode_field(k, v))?;
    Ok(out)
}

/// `FromJson::from_reader` of a generated enum: its wire text (a known value is not copied).
pub fn read_enum<T: for<'a> From<&'a str> + From<String>>(
    r: &mut Reader<'_>,
) -> Result<T, JsonError> {
    Ok(match r.text()? {
        Cow::Borrowed(s) => T::from(s),
        Cow::Owned(s) => T::from(s),
    })
}

/// The token that starts a value, for error messages.
fn kind_of(first: Option<u8>) -> &'static str {
    match first {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "an invalid token",
        None => "the end of the text",
    }
}

impl<'de> Reader<'de> {
    /// A reader at the start of `text`.
    pub fn new(text: &'de str) -> Self {
        Self {
            text,
            pos: 0,
            depth: 0,
            first: false,
        }
    }

    /// A reader over bytes, which must be UTF-8.
    pub fn from_slice(bytes: &'de [u8]) -> Result<Self, JsonError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Self::new(text)),
            Err(e) => Err(JsonError::message(format!(
                "the JSON text is not UTF-8 (at byte {})",
                e.valid_up_to()
            ))),
        }
    }

    /// Decodes the whole text as one `T` (nothing but whitespace may follow), as
    /// [`FromJson::from_json`] decodes a parsed value.
    pub fn decode<T: FromJson>(text: &'de str) -> Result<T, JsonError> {
        let mut r = Self::new(text);
        let out = T::from_reader(&mut r)?;
        r.finish()?;
        Ok(out)
    }

    /// Checks that only whitespace is left.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.syntax("trailing characters after the JSON value")),
        }
    }

    /// The byte offset of the next token.
    pub fn position(&mut self) -> usize {
        self.ws();
        self.pos
    }

    /// The first byte of the next value (after whitespace), not consumed: `"`, `{`, `[`,
    /// `t`, `f`, `n`, `-` or a digit in valid JSON.
    pub fn next_byte(&mut self) -> Option<u8> {
        self.peek()
    }

    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        let b = self.bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    fn syntax(&self, what: &str) -> JsonError {
        JsonError::message(format!("invalid JSON at byte {}: {what}", self.pos))
    }

    /// `expected X, found Y` for the value at the current position.
    fn unexpected(&mut self, expected: &str) -> JsonError {
        let found = kind_of(self.peek());
        JsonError::message(format!("expected {expected}, found {found}"))
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax("expected a value"))
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.syntax("nested too deeply"));
        }
        self.pos += 1;
        self.first = true;
        Ok(())
    }

    /// Leaves a container at its closing bracket; what follows comes after a value.
    fn leave(&mut self) {
        self.pos += 1;
        self.depth -= 1;
        self.first = false;
    }

    /// Takes `null`, or (with `blank_is_absent`) a string of whitespace, as absent.
    pub fn absent(&mut self, blank_is_absent: bool) -> Result<bool, JsonError> {
        match self.peek() {
            Some(b'n') => {
                self.literal("null")?;
                Ok(true)
            }
            Some(b'"') if blank_is_absent => {
                let start = self.pos;
                if self.string()?.trim().is_empty() {
                    Ok(true)
                } else {
                    self.pos = start;
                    Ok(false)
                }
            }
            _ => Ok(false),
        }
    }

    /// Decodes the value into `slot`; absent leaves `slot` as it is.
    pub fn put<T: FromJson>(&mut self, slot: &mut T) -> Result<(), JsonError> {
        if !self.absent(T::BLANK_IS_ABSENT)? {
            *slot = T::from_reader(self)?;
        }
        Ok(())
    }

    /// Decodes the value, absent giving [`Absent::absent`](super::Absent::absent).
    fn element<T: FromJson>(&mut self) -> Result<T, JsonError> {
        let mut out = T::absent();
        self.put(&mut out)?;
        Ok(out)
    }

    /// Reads an object, calling `each` with every key and the reader at its value (which
    /// `each` must consume: decode it, or [`skip`](Self::skip) it). `type_name` is used in
    /// the error for a value that is not an object. Errors get the key prepended to their
    /// path.
    pub fn object(
        &mut self,
        type_name: &'static str,
        each: &mut dyn FnMut(&str, Input<'_, 'de>) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if self.peek() != Some(b'{') {
            let found = kind_of(self.peek());
            return Err(JsonError::message(format!(
                "expected an object ({type_name}), found {found}"
            )));
        }
        self.begin_object()?;
        while let Some(key) = self.next_key()? {
            each(&key, Input::Reader(self)).map_err(|e| e.at(&key))?;
        }
        Ok(())
    }

    /// Consumes `{` (the value must be an object).
    pub fn begin_object(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'{') {
            return Err(self.unexpected("an object"));
        }
        self.enter()
    }

    /// The next key of the object begun, with its `:` consumed, or `None` at its `}`.
    pub fn next_key(&mut self) -> Result<Option<Cow<'de, str>>, JsonError> {
        let first = std::mem::replace(&mut self.first, false);
        match self.peek() {
            Some(b'}') => {
                self.leave();
                return Ok(None);
            }
            Some(b',') if !first => {
                self.pos += 1;
                if self.peek() != Some(b'"') {
                    return Err(self.syntax("expected a key after `,`"));
                }
            }
            Some(b'"') if first => {}
            _ => return Err(self.syntax("expected `,` or `}`")),
        }
        let key = self.string()?;
        if !self.eat(b':') {
            return Err(self.syntax("expected `:` after a key"));
        }
        Ok(Some(key))
    }

    /// Consumes `[` (the value must be an array).
    pub fn begin_array(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'[') {
            return Err(self.unexpected("an array"));
        }
        self.enter()
    }

    /// Whether another element follows in the array begun (its `,` consumed); `false` at
    /// its `]`.
    pub fn next_element(&mut self) -> Result<bool, JsonError> {
        let first = std::mem::replace(&mut self.first, false);
        match self.peek() {
            Some(b']') => {
                self.leave();
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                match self.peek() {
                    Some(b']') | None => Err(self.syntax("expected a value after `,`")),
                    _ => Ok(true),
                }
            }
            Some(_) if first => Ok(true),
            _ => Err(self.syntax("expected `,` or `]`")),
        }
    }

    /// A string value, borrowed when it has no escapes.
    pub fn string(&mut self) -> Result<Cow<'de, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.pos += 1;
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = plain_run(bytes, start);
        // The common case: no escape before the closing quote.
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&self.text[start..i]));
                }
                b'\\' => break,
                0..=0x1f => {
                    self.pos = i;
                    return Err(self.syntax("control character in a string"));
                }
                _ => i += 1,
            }
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.text[start..i]);
        loop {
            let Some(&b) = bytes.get(i) else {
                self.pos = i;
                return Err(self.syntax("unterminated string"));
            };
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.pos = i;
                    let escaped = match bytes.get(i + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let (c, len) = self.unicode_escape(i)?;
                            out.push(c);
                            i += len;
                            continue;
                        }
                        _ => return Err(self.syntax("invalid escape in a string")),
                    };
                    out.push(escaped);
                    i += 2;
                }
                0..=0x1f => {
                    self.pos = i;
                    return Err(self.syntax("control character in a string"));
                }
                _ => {
                    // Copy the run up to the next quote or escape at once.
                    let run = plain_run(bytes, i + 1);
                    let run = bytes[run..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .map_or(bytes.len(), |n| run + n);
                    out.push_str(&self.text[i..run]);
                    i = run;
                }
            }
        }
    }

    /// `\uXXXX` at `at` (a surrogate pair as two escapes): the character and the length read.
    fn unicode_escape(&self, at: usize) -> Result<(char, usize), JsonError> {
        let hex = |from: usize| -> Option<u32> {
            let digits = self.text.get(from..from + 4)?;
            if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                u32::from_str_radix(digits, 16).ok()
            } else {
                None
            }
        };
        let bad = || self.syntax("invalid \\u escape in a string");
        let first = hex(at + 2).ok_or_else(bad)?;
        match first {
            0xD800..=0xDBFF => {
                let low = if self.text.get(at + 6..at + 8) == Some("\\u") {
                    hex(at + 8).filter(|n| (0xDC00..=0xDFFF).contains(n))
                } else {
                    None
                };
                let low = low.ok_or_else(|| self.syntax("lone surrogate in a \\u escape"))?;
                let c = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                Ok((char::from_u32(c).ok_or_else(bad)?, 12))
            }
            0xDC00..=0xDFFF => Err(self.syntax("lone surrogate in a \\u escape")),
            n => Ok((char::from_u32(n).ok_or_else(bad)?, 6)),
        }
    }

    /// A number literal as written, checked against the JSON grammar.
    fn number(&mut self) -> Result<&'de str, JsonError> {
        self.ws();
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        if !digits(&mut i) || (bytes[int_start] == b'0' && i - int_start > 1) {
            self.pos = int_start;
            return Err(self.syntax("invalid number"));
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                self.pos = i;
                return Err(self.syntax("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                self.pos = i;
                return Err(self.syntax("invalid number"));
            }
        }
        let text = &self.text[start..i];
        // Beyond what an integer holds, a number must be a finite float, as `serde_json`
        // insists (`1e400` is refused, not read as infinity).
        let simple = i - int_start <= 18 && !text.contains(['.', 'e', 'E']);
        if !simple && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            self.pos = start;
            return Err(self.syntax("number out of range"));
        }
        self.pos = i;
        Ok(text)
    }

    /// A scalar as text: a string's content, a number as written, `true`/`false`; `None`
    /// (nothing consumed) for anything else.
    fn scalar_text(&mut self) -> Result<Option<Cow<'de, str>>, JsonError> {
        Ok(match self.peek() {
            Some(b'"') => Some(self.string()?),
            Some(b'-' | b'0'..=b'9') => Some(Cow::Borrowed(self.number()?)),
            Some(b't') => {
                self.literal("true")?;
                Some(Cow::Borrowed("true"))
            }
            Some(b'f') => {
                self.literal("false")?;
                Some(Cow::Borrowed("false"))
            }
            _ => None,
        })
    }

    /// A string, or a number or boolean kept as text (as [`String`]'s `FromJson` does).
    pub fn text(&mut self) -> Result<Cow<'de, str>, JsonError> {
        let number = matches!(self.peek(), Some(b'-' | b'0'..=b'9'));
        match self.scalar_text()? {
            Some(text) if number => Ok(normal_number(text)),
            Some(text) => Ok(text),
            None => Err(self.unexpected("a string")),
        }
    }

    /// Passes over one value, checking its syntax, without allocating.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => {
                self.begin_object()?;
                while self.next_key()?.is_some() {
                    self.skip()?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.begin_array()?;
                while self.next_element()? {
                    self.skip()?;
                }
                Ok(())
            }
            Some(b'n') => self.literal("null"),
            _ => match self.scalar_text()? {
                Some(_) => Ok(()),
                None => Err(self.syntax("expected a value")),
            },
        }
    }

    /// Passes over one value by its brackets and strings alone, much faster than
    /// [`skip`](Self::skip): what is inside is **not checked** (the caller decodes it later,
    /// which checks it), only where it ends is found. Gives where the value is.
    pub fn pass_over(&mut self) -> Result<std::ops::Range<usize>, JsonError> {
        let start = self.position();
        let bytes = self.bytes();
        if !matches!(bytes.get(start), Some(b'{' | b'[')) {
            return self.raw_span();
        }
        let (mut depth, mut i) = (0usize, start);
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    // To the closing quote: runs of plain bytes eight at a time, escapes
                    // stepped over.
                    i = plain_run(bytes, i + 1);
                    loop {
                        match bytes.get(i) {
                            Some(b'"') => break,
                            Some(b'\\') => i = plain_run(bytes, i + 2),
                            Some(_) => i += 1,
                            None => {
                                self.pos = i;
                                return Err(self.syntax("unterminated string"));
                            }
                        }
                    }
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = i + 1;
                        self.first = false;
                        return Ok(start..self.pos);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        Err(self.syntax("unterminated object or array"))
    }

    /// The text of the next value, checked and passed over (for a [`Value`] or to keep raw).
    pub fn raw(&mut self) -> Result<&'de str, JsonError> {
        let span = self.raw_span()?;
        Ok(&self.text[span])
    }

    /// Where the next value is in the text (checked and passed over).
    pub fn raw_span(&mut self) -> Result<std::ops::Range<usize>, JsonError> {
        let start = self.position();
        self.skip()?;
        Ok(start..self.pos)
    }

    /// Reads every value of an object into a map of type `M`.
    fn map<T: FromJson, M: Default + Extend<(String, T)>>(&mut self) -> Result<M, JsonError> {
        self.begin_object()?;
        let mut out = M::default();
        while let Some(key) = self.next_key()? {
            let v = self.element().map_err(|e| e.at_key(&key))?;
            out.extend(std::iter::once((key.into_owned(), v)));
        }
        Ok(out)
    }
}

/// The end of the run of string bytes from `from` that need no attention: the first `"`,
/// `\\` or control character (or the end of the text). The quote or backslash is found
/// with `memchr`'s vectorised search; the run before it is then checked for control
/// characters in one branch-free pass.
fn plain_run(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    let end = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let run = &rest[..end];
    if run.iter().fold(false, |control, &b| control | (b < 0x20)) {
        from + run.iter().position(|&b| b < 0x20).unwrap_or(end)
    } else {
        from + end
    }
}

/// A number literal as [`Value`] prints it (`1e3` as `1000.0`), so that a number kept as
/// text reads the same on both paths; plain integers, the usual case, are kept as written.
fn normal_number(text: Cow<'_, str>) -> Cow<'_, str> {
    let plain = text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if plain && text.parse::<i64>().is_ok() {
        return text;
    }
    match serde_json::from_str::<serde_json::Number>(&text) {
        Ok(n) => Cow::Owned(n.to_string()),
        Err(_) => text,
    }
}

/// Scalar reads: `type = expected, parser from the text to Option<type>`.
macro_rules! scalar_from_reader {
    ($($t:ty = $expected:literal, $parse:expr;)*) => {$(
        impl ScalarText for $t {
            fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
                let number = matches!(r.peek(), Some(b'-' | b'0'..=b'9'));
                match r.scalar_text()? {
                    Some(text) => ($parse)(if number { &text } else { text.trim() })
                        .ok_or_else(|| JsonError::message(format!(
                            "expected {}, found {}",
                            $expected,
                            if number { "a number" } else { scalar_kind(&text) }
                        ))),
                    None => Err(r.unexpected($expected)),
                }
            }
        }
    )*};
}

/// The kind of a scalar read as text that did not parse.
fn scalar_kind(text: &str) -> &'static str {
    match text {
        "true" | "false" => "a boolean",
        _ => "a string",
    }
}

/// The reader side of the scalar `FromJson` impls (see `scalar_from_json!`).
pub(super) trait ScalarText: Sized {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError>;
}

scalar_from_reader! {
    i64 = "an integer", text_int;
    i32 = "a 32-bit integer", |t| text_int(t).and_then(|n| i32::try_from(n).ok());
    u64 = "an unsigned integer", text_uint;
    f64 = "a number", text_float;
    bool = "a boolean", text_bool;
}

/// For `String`'s `FromJson`.
pub(super) fn read_string(r: &mut Reader<'_>) -> Result<String, JsonError> {
    r.text().map(Cow::into_owned)
}

/// For `Value`'s `FromJson`.
pub(super) fn read_value(r: &mut Reader<'_>) -> Result<Value, JsonError> {
    let raw = r.raw()?;
    serde_json::from_str(raw).map_err(|e| JsonError::message(e.to_string()))
}

/// For `Vec<T>`'s `FromJson`.
pub(super) fn read_vec<T: FromJson>(r: &mut Reader<'_>) -> Result<Vec<T>, JsonError> {
    r.begin_array()?;
    let mut out = Vec::new();
    while r.next_element()? {
        let i = out.len();
        out.push(r.element().map_err(|e| e.at_index(i))?);
    }
    Ok(out)
}

/// For the maps' `FromJson`.
pub(super) fn read_btree<T: FromJson>(
    r: &mut Reader<'_>,
) -> Result<BTreeMap<String, T>, JsonError> {
    r.map()
}

/// For the maps' `FromJson`.
pub(super) fn read_hash<T: FromJson, S: BuildHasher + Default>(
    r: &mut Reader<'_>,
) -> Result<HashMap<String, T, S>, JsonError> {
    r.map()
}
