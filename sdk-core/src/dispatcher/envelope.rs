//! The envelope of a pushed event, read from its JSON text in one pass: the fields routing
//! needs (type, id, tenant, token, challenge), and the `event` object kept as text, so that
//! a typed handler decodes its payload straight from the text ([`Reader`]) and no
//! [`Value`] tree is built on the way.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::Value;

use super::Event;
use crate::json::{FromJson, JsonError, Reader};

/// The `event` object of a delivery, as text: decoded by the handler that gets it.
#[derive(Debug, Clone)]
pub(crate) struct RawPayload {
    text: String,
    /// Where the `event` value is in `text`; `None` when the envelope has none.
    span: Option<Range<usize>>,
}

impl RawPayload {
    /// A payload that is the whole of `text`.
    #[cfg(test)]
    pub(crate) fn whole(text: String) -> Self {
        let span = Some(0..text.len());
        Self { text, span }
    }

    /// The payload's JSON text (`null` when the envelope had no `event`).
    pub(crate) fn json(&self) -> &str {
        match &self.span {
            Some(span) => &self.text[span.clone()],
            None => "null",
        }
    }

    /// The payload decoded into `P`, straight from the text.
    pub(crate) fn decode<P: FromJson>(&self) -> Result<P, JsonError> {
        Reader::decode(self.json())
    }

    /// A string field of the payload (e.g. `app_ticket`), if it has one.
    pub(crate) fn string_field(&self, key: &str) -> Option<String> {
        inner_string(&mut Reader::new(self.json()), key)
            .ok()
            .flatten()
    }

    /// The chat of the payload: `message.chat_id` (messages), `chat_id` (chat events),
    /// `context.open_chat_id` (card actions); `None` when blank or absent.
    pub(crate) fn chat(&self) -> Option<String> {
        let (mut message, mut chat, mut context) = (None, None, None);
        let mut r = Reader::new(self.json());
        r.begin_object().ok()?;
        while let Some(key) = r.next_key().ok()? {
            match &*key {
                "message" => message = inner_string(&mut r, "chat_id").ok()?,
                "chat_id" => chat = strict_text(&mut r).ok()?,
                "context" => context = inner_string(&mut r, "open_chat_id").ok()?,
                _ => r.skip().ok()?,
            }
        }
        [message, chat, context]
            .into_iter()
            .flatten()
            .find(|id| !id.is_empty())
    }
}

/// The string `key` of the object at the reader (the whole value is consumed); `None` when
/// the value is not an object or has no such string.
fn inner_string(r: &mut Reader<'_>, key: &str) -> Result<Option<String>, JsonError> {
    if r.next_byte() != Some(b'{') {
        r.skip()?;
        return Ok(None);
    }
    let mut found = None;
    r.begin_object()?;
    while let Some(k) = r.next_key()? {
        if k == key {
            found = strict_text(r)?;
        } else {
            r.skip()?;
        }
    }
    Ok(found)
}

impl Event<RawPayload> {
    /// The event with its payload decoded into `P`.
    pub(crate) fn into_typed<P: FromJson>(self) -> Result<Event<P>, JsonError> {
        self.try_map(|payload| payload.decode())
    }
}

/// The schema 2.0 `header`.
#[derive(Debug, Default)]
pub(crate) struct Header {
    pub(crate) event_id: Option<String>,
    pub(crate) event_type: Option<String>,
    pub(crate) create_time: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) app_id: Option<String>,
    pub(crate) tenant_key: Option<String>,
}

/// The top level of a decrypted (or plain) event body.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    /// A `schema` key is present (2.0).
    pub(crate) schema: bool,
    /// `header` (2.0); `Some(None)` when it is present but not an object.
    pub(crate) header: Option<Option<Header>>,
    /// `type` (`url_verification`, or 1.0's `event_callback`).
    pub(crate) kind: Option<String>,
    /// `token` (1.0 events and the challenge).
    pub(crate) token: Option<String>,
    /// `challenge`, as sent.
    pub(crate) challenge: Option<Value>,
    /// `uuid` (1.0's event id).
    pub(crate) uuid: Option<String>,
    /// `ts` (1.0's create time).
    pub(crate) ts: Option<String>,
    event: Option<Range<usize>>,
    text: String,
}

/// A string kept as is, a number as its text (ids sometimes arrive as numbers); anything
/// else counts as absent.
fn loose_text(r: &mut Reader<'_>) -> Result<Option<String>, JsonError> {
    match r.next_byte() {
        Some(b'"' | b'-' | b'0'..=b'9') => Ok(Some(r.text()?.into_owned())),
        _ => r.skip().map(|()| None),
    }
}

/// A string; anything else counts as absent.
fn strict_text(r: &mut Reader<'_>) -> Result<Option<String>, JsonError> {
    match r.next_byte() {
        Some(b'"') => Ok(Some(r.string()?.into_owned())),
        _ => r.skip().map(|()| None),
    }
}

/// The `header` object; `None` when it is not one.
fn header(r: &mut Reader<'_>) -> Result<Option<Header>, JsonError> {
    if r.next_byte() != Some(b'{') {
        r.skip()?;
        return Ok(None);
    }
    let mut h = Header::default();
    r.begin_object()?;
    while let Some(key) = r.next_key()? {
        match &*key {
            "event_id" => h.event_id = loose_text(r)?,
            "event_type" => h.event_type = strict_text(r)?,
            "create_time" => h.create_time = loose_text(r)?,
            "token" => h.token = strict_text(r)?,
            "app_id" => h.app_id = loose_text(r)?,
            "tenant_key" => h.tenant_key = loose_text(r)?,
            _ => r.skip()?,
        }
    }
    Ok(Some(h))
}

impl Envelope {
    /// Reads the top level of `text`, which must be one JSON object.
    pub(crate) fn read(text: String) -> Result<Self, JsonError> {
        let mut env = Envelope::default();
        {
            let mut r = Reader::new(&text);
            r.begin_object()?;
            while let Some(key) = r.next_key()? {
                match &*key {
                    "schema" => {
                        env.schema = true;
                        r.skip()?;
                    }
                    "header" => env.header = Some(header(&mut r)?),
                    // Found by its brackets only: the handler's decode checks it (an event
                    // no handler wants is acknowledged without its inside checked).
                    "event" => env.event = Some(r.pass_over()?),
                    "type" => env.kind = strict_text(&mut r)?,
                    "token" => env.token = strict_text(&mut r)?,
                    "challenge" => env.challenge = Some(Value::from_reader(&mut r)?),
                    "uuid" => env.uuid = loose_text(&mut r)?,
                    "ts" => env.ts = loose_text(&mut r)?,
                    _ => r.skip()?,
                }
            }
            r.finish()?;
        }
        env.text = text;
        Ok(env)
    }

    /// Whether the body has an `event` key.
    pub(crate) fn has_event(&self) -> bool {
        self.event.is_some()
    }

    /// The `event` object, as text.
    pub(crate) fn into_payload(self) -> RawPayload {
        RawPayload {
            text: self.text,
            span: self.event,
        }
    }
}

/// The `encrypt` value of an outer body, borrowed when it has no escapes; `None` for a
/// plain (unencrypted) body. Only `encrypt` is read, without building anything.
///
/// The platform's body is exactly `{"encrypt":"<base64>"}`: that shape is taken apart
/// directly (no UTF-8 pass over the body: the base64 decoder checks every byte of the value
/// against its alphabet). Any other text goes through the [`Reader`].
pub(crate) fn sealed(body: &[u8]) -> Result<Option<Cow<'_, [u8]>>, JsonError> {
    if let Some(value) = sealed_shape(body) {
        return Ok(Some(Cow::Borrowed(value)));
    }
    let mut r = Reader::from_slice(body)?;
    let mut sealed = None;
    r.begin_object()?;
    while let Some(key) = r.next_key()? {
        if key == "encrypt" {
            // `null` counts as absent (a plain body).
            if !r.absent(false)? {
                sealed = Some(match r.string()? {
                    Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                    Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                });
            }
        } else {
            r.skip()?;
        }
    }
    r.finish()?;
    Ok(sealed)
}

/// The value of a body that is `{"encrypt":"…"}` (JSON whitespace allowed between the
/// tokens) with no escape in the value; `None` for any other text.
fn sealed_shape(body: &[u8]) -> Option<&[u8]> {
    fn ws(b: &[u8]) -> &[u8] {
        let n = b
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        &b[n..]
    }
    let rest = ws(body).strip_prefix(b"{")?;
    let rest = ws(rest).strip_prefix(b"\"encrypt\"")?;
    let rest = ws(rest).strip_prefix(b":")?;
    let rest = ws(rest).strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    let tail = ws(&rest[end + 1..]).strip_prefix(b"}")?;
    ws(tail).is_empty().then_some(&rest[..end])
}

/// The envelope of a body or decrypted plaintext; `None` when it is not UTF-8 text holding
/// one JSON object.
pub(crate) fn read_envelope(bytes: Vec<u8>) -> Option<Envelope> {
    Envelope::read(String::from_utf8(bytes).ok()?).ok()
}

/// The fields of a schema 1.0 `event` that routing needs: `type`, `tenant_key`, `app_id`.
pub(crate) type V1Fields = (Option<String>, Option<String>, Option<String>);

/// Reads [`V1Fields`] from the payload (all `None` when it is not an object).
pub(crate) fn v1_fields(payload: &RawPayload) -> Result<V1Fields, JsonError> {
    let (mut kind, mut tenant, mut app) = (None, None, None);
    let mut r = Reader::new(payload.json());
    if r.next_byte() != Some(b'{') {
        return Ok((None, None, None));
    }
    r.begin_object()?;
    while let Some(key) = r.next_key()? {
        match &*key {
            "type" => kind = strict_text(&mut r)?,
            "tenant_key" => tenant = loose_text(&mut r)?,
            "app_id" => app = loose_text(&mut r)?,
            _ => r.skip()?,
        }
    }
    Ok((kind, tenant, app))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(body: &str) -> Result<Option<String>, JsonError> {
        sealed(body.as_bytes()).map(|v| v.map(|b| String::from_utf8(b.into_owned()).unwrap()))
    }

    #[test]
    fn the_platform_s_shape_is_taken_apart_directly_with_json_whitespace() {
        for body in [
            r#"{"encrypt":"QUJD+/="}"#,
            " \t\r\n{ \"encrypt\" :\n\"QUJD+/=\" } \n",
        ] {
            assert!(sealed_shape(body.as_bytes()).is_some(), "{body:?}");
            assert_eq!(value(body).unwrap().as_deref(), Some("QUJD+/="));
        }
        // Not JSON whitespace: left to the reader, which refuses it.
        assert!(sealed_shape(b"\x0c{\"encrypt\":\"QUJD\"}").is_none());
        assert!(value("\x0c{\"encrypt\":\"QUJD\"}").is_err());
    }

    #[test]
    fn other_shapes_go_through_the_reader_with_the_same_answer() {
        for (body, want) in [
            (r#"{"encrypt":"QU\/JD"}"#, Some("QU/JD")),
            (r#"{"encrypt":"QUJD","extra":[1,{"a":"b"}]}"#, Some("QUJD")),
            (r#"{"schema":"2.0","encrypt":"QUJD"}"#, Some("QUJD")),
            (r#"{"encrypt":null}"#, None),
            (r#"{"schema":"2.0","header":{}}"#, None),
        ] {
            assert!(sealed_shape(body.as_bytes()).is_none(), "{body:?}");
            assert_eq!(value(body).unwrap().as_deref(), want, "{body:?}");
        }
    }

    #[test]
    fn broken_bodies_are_errors_whichever_path_looks_first() {
        for body in [
            r#"{"encrypt":"QUJD"} x"#,
            r#"{"encrypt":"QUJD""#,
            r#"{"encrypt":"QUJD}"#,
            r#"{"encrypt":"QUJD",}"#,
            r#"["encrypt","QUJD"]"#,
            r#"{"encrypt":5}"#,
            "",
        ] {
            assert!(sealed_shape(body.as_bytes()).is_none(), "{body:?}");
            assert!(value(body).is_err(), "{body:?}");
        }
    }
}
