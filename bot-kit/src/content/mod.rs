//! Message content for sending: one type per `msg_type`, each turning into the
//! `(msg_type, content)` pair the message APIs take, with `content` serialised by serde (no
//! hand-built JSON that a quote or a newline could break) and checked before any I/O.
//!
//! | `msg_type` | type |
//! | --- | --- |
//! | `text` | [`Text`] (mentions built, not typed) |
//! | `post` | [`Post`] of [`PostBody`] rows of [`PostElement`]s, per locale |
//! | `image`, `file`, `audio`, `media`, `sticker` | [`Image`], [`File`], [`Audio`], [`Media`], [`Sticker`] |
//! | `share_chat`, `share_user` | [`ShareChat`], [`ShareUser`] |
//! | `interactive` | [`Card`]: card JSON, a template with variables, or a card entity |
//!
//! Size limits (platform docs: "text request body ≤ 150 KB, card and post ≤ 30 KB"): this
//! crate reads KB as 1,024 bytes and checks the serialised `content` against them when an
//! [`Outgoing`] is made, and the whole request body again when [`send`](crate::send) builds
//! it. Content over the limit is an error naming its size and the limit, never truncated.
//!
//! ```
//! use lark_oapi_bot::content::{Outgoing, Text};
//! let text = Text::new("build ").push("#1234").push(" failed, ").mention("ou_7d8a6e6df7621556ce0d21922b676706ccs", "Ann");
//! let out = Outgoing::new(&text)?;
//! assert_eq!(out.msg_type(), "text");
//! assert_eq!(
//!     out.content(),
//!     r#"{"text":"build #1234 failed, <at user_id=\"ou_7d8a6e6df7621556ce0d21922b676706ccs\">Ann</at>"}"#
//! );
//! # Ok::<(), lark_oapi_bot::ContentError>(())
//! ```

use std::fmt;

use serde_json::{Value, json};

mod card;
mod post;
mod text;

pub use card::Card;
pub use post::{Post, PostBody, PostElement, Style};
pub use text::Text;

/// The documented request-body limit of text messages (150 KB, read as KiB).
pub const TEXT_LIMIT: usize = 150 * 1024;
/// The documented request-body limit of post and card messages (30 KB, read as KiB).
pub const RICH_LIMIT: usize = 30 * 1024;

/// Why content cannot be sent, found before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentError {
    /// A required part is empty (`what`: e.g. `"text"`, `"image_key"`).
    Empty {
        /// The part that is empty.
        what: &'static str,
    },
    /// The serialised content (or request body) is over the documented limit.
    TooLarge {
        /// The message type.
        msg_type: &'static str,
        /// Its size in bytes.
        bytes: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A part has a value the platform cannot take.
    Invalid {
        /// The part.
        what: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentError::Empty { what } => {
                write!(f, "message content: `{what}` is empty; give it a value")
            }
            ContentError::TooLarge {
                msg_type,
                bytes,
                limit,
            } => write!(
                f,
                "message content: a {msg_type} message of {bytes} bytes is over the platform's limit of {limit} bytes; split it into several messages"
            ),
            ContentError::Invalid { what, reason } => {
                write!(f, "message content: `{what}`: {reason}")
            }
        }
    }
}

impl std::error::Error for ContentError {}

/// Content errors are request errors of the SDK (`Error::InvalidRequest`), found before any
/// I/O.
impl From<ContentError> for lark_oapi_core::Error {
    fn from(e: ContentError) -> Self {
        lark_oapi_core::Error::InvalidRequest(e.to_string())
    }
}

/// Something that can be sent as a message.
pub trait MessageContent {
    /// The `msg_type` it is sent as.
    fn msg_type(&self) -> &'static str;
    /// The `content` as a JSON value, or why it cannot be sent.
    fn content_value(&self) -> Result<Value, ContentError>;

    /// The `content` as the JSON text sent; by default [`content_value`](Self::content_value)
    /// serialised.
    fn content_json(&self) -> Result<String, ContentError> {
        Ok(json_text(&self.content_value()?))
    }
}

/// `value` as compact JSON text.
pub(crate) fn json_text(value: &Value) -> String {
    // Serialising a `Value` cannot fail; `Display` would go through the slower formatter.
    serde_json::to_string(value).unwrap_or_default()
}

/// The length of `value` as compact JSON text, without building the text.
pub(crate) fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Content ready for the message APIs: the `msg_type` and the `content` string, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    msg_type: &'static str,
    content: String,
}

impl Outgoing {
    /// Serialises and checks `content`.
    pub fn new(content: &(impl MessageContent + ?Sized)) -> Result<Self, ContentError> {
        let msg_type = content.msg_type();
        let content = content.content_json()?;
        check_size(msg_type, content.len())?;
        Ok(Self { msg_type, content })
    }

    /// The `msg_type` field.
    pub fn msg_type(&self) -> &'static str {
        self.msg_type
    }

    /// The `content` field: a JSON document as a string.
    pub fn content(&self) -> &str {
        &self.content
    }

    /// `(msg_type, content)`, for the fields of the generated request bodies.
    pub fn into_parts(self) -> (String, String) {
        (self.msg_type.to_owned(), self.content)
    }
}

/// `bytes` of a `msg_type` message against its documented limit.
pub(crate) fn check_size(msg_type: &'static str, bytes: usize) -> Result<(), ContentError> {
    let limit = match msg_type {
        "text" => TEXT_LIMIT,
        "post" | "interactive" => RICH_LIMIT,
        _ => return Ok(()),
    };
    if bytes > limit {
        return Err(ContentError::TooLarge {
            msg_type,
            bytes,
            limit,
        });
    }
    Ok(())
}

pub(crate) fn required<'a>(what: &'static str, value: &'a str) -> Result<&'a str, ContentError> {
    if value.trim().is_empty() {
        Err(ContentError::Empty { what })
    } else {
        Ok(value)
    }
}

/// An id that goes into markup (`<at user_id="…">`): no quotes or angle brackets.
pub(crate) fn markup_id(what: &'static str, id: &str) -> Result<(), ContentError> {
    required(what, id)?;
    if id.contains(['"', '<', '>']) {
        return Err(ContentError::Invalid {
            what,
            reason: format!("{id:?} is not an id (it holds a quote or an angle bracket)"),
        });
    }
    Ok(())
}

/// Content of one key: `{"<field>": "<key>"}`.
macro_rules! keyed_content {
    ($($(#[$doc:meta])* $name:ident($field:literal) as $msg_type:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl MessageContent for $name {
            fn msg_type(&self) -> &'static str {
                $msg_type
            }

            fn content_value(&self) -> Result<Value, ContentError> {
                Ok(json!({ $field: required($field, &self.0)? }))
            }
        }
    )*};
}

keyed_content! {
    /// An image uploaded with the IM image API: `Image("img_…")`.
    Image("image_key") as "image";
    /// A file uploaded with the IM file API: `File("file_…")` (drive tokens are refused).
    File("file_key") as "file";
    /// An opus audio file uploaded with the IM file API: `Audio("file_…")`.
    Audio("file_key") as "audio";
    /// A sticker received earlier, sent again by its key.
    Sticker("file_key") as "sticker";
    /// A group's card: `ShareChat("oc_…")`.
    ShareChat("chat_id") as "share_chat";
    /// A user's card, by open id: `ShareUser("ou_…")`.
    ShareUser("user_id") as "share_user";
}

/// A video uploaded with the IM file API, with a cover image.
///
/// Sources disagree on whether the cover is required (the official CLI says so, the Node
/// SDK's bot layer sends without one): it is optional here and sent when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The video's file key.
    pub file_key: String,
    /// The cover's image key.
    pub image_key: Option<String>,
}

impl MessageContent for Media {
    fn msg_type(&self) -> &'static str {
        "media"
    }

    fn content_value(&self) -> Result<Value, ContentError> {
        let mut v = json!({ "file_key": required("file_key", &self.file_key)? });
        if let Some(cover) = &self.image_key {
            v["image_key"] = required("image_key", cover)?.into();
        }
        Ok(v)
    }
}

impl<T: MessageContent + ?Sized> MessageContent for &T {
    fn msg_type(&self) -> &'static str {
        (**self).msg_type()
    }

    fn content_value(&self) -> Result<Value, ContentError> {
        (**self).content_value()
    }
}

#[cfg(test)]
mod tests;
