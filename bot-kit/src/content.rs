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

use serde_json::{Map, Value, json};

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
        let content = content.content_value()?.to_string();
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

fn required<'a>(what: &'static str, value: &'a str) -> Result<&'a str, ContentError> {
    if value.trim().is_empty() {
        Err(ContentError::Empty { what })
    } else {
        Ok(value)
    }
}

/// An id that goes into markup (`<at user_id="…">`): no quotes or angle brackets.
fn markup_id(what: &'static str, id: &str) -> Result<(), ContentError> {
    required(what, id)?;
    if id.contains(['"', '<', '>']) {
        return Err(ContentError::Invalid {
            what,
            reason: format!("{id:?} is not an id (it holds a quote or an angle bracket)"),
        });
    }
    Ok(())
}

/// A text message. Mentions are built with [`mention`](Text::mention) and
/// [`mention_all`](Text::mention_all) (`<at user_id="…">name</at>` on the wire); a newline
/// is a newline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    parts: Vec<TextPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TextPart {
    Plain(String),
    Mention { open_id: String, name: String },
    All,
}

impl Text {
    /// A text message starting with `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self::default().push(text)
    }

    /// Appends plain text.
    pub fn push(mut self, text: impl Into<String>) -> Self {
        self.parts.push(TextPart::Plain(text.into()));
        self
    }

    /// Appends a mention of the user with this open id (`ou_…`), shown as `name`.
    pub fn mention(mut self, open_id: impl Into<String>, name: impl Into<String>) -> Self {
        self.parts.push(TextPart::Mention {
            open_id: open_id.into(),
            name: name.into(),
        });
        self
    }

    /// Appends a mention of everyone in the chat.
    pub fn mention_all(mut self) -> Self {
        self.parts.push(TextPart::All);
        self
    }

    /// The `text` field as the platform reads it.
    pub fn render(&self) -> Result<String, ContentError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TextPart::Plain(s) => out.push_str(s),
                TextPart::Mention { open_id, name } => {
                    markup_id("mention open_id", open_id)?;
                    out.push_str("<at user_id=\"");
                    out.push_str(open_id);
                    out.push_str("\">");
                    // A name is shown, not parsed: angle brackets would open a tag.
                    out.push_str(&name.replace(['<', '>'], ""));
                    out.push_str("</at>");
                }
                TextPart::All => out.push_str("<at user_id=\"all\"></at>"),
            }
        }
        Ok(out)
    }
}

impl MessageContent for Text {
    fn msg_type(&self) -> &'static str {
        "text"
    }

    fn content_value(&self) -> Result<Value, ContentError> {
        let text = self.render()?;
        required("text", &text)?;
        Ok(json!({ "text": text }))
    }
}

/// A rich-text (`post`) message: one [`PostBody`] per locale (`zh_cn`, `en_us`, `ja_jp`).
///
/// ```
/// use lark_oapi_bot::content::{Outgoing, Post, PostBody, PostElement, Style};
/// let post = Post::new().locale(
///     "en_us",
///     PostBody::new("Deploy")
///         .row([PostElement::text("status: "), PostElement::text("done").style(Style::Bold)])
///         .row([PostElement::link("logs", "https://ci.example.com/42")])
///         .row([PostElement::image("img_v2_041b")]),
/// );
/// let out = Outgoing::new(&post)?;
/// assert_eq!(out.msg_type(), "post");
/// let content: serde_json::Value = serde_json::from_str(out.content()).unwrap();
/// assert_eq!(content["en_us"]["title"], "Deploy");
/// assert_eq!(content["en_us"]["content"][0][1], serde_json::json!({"tag": "text", "text": "done", "style": ["bold"]}));
/// assert_eq!(content["en_us"]["content"][2][0]["tag"], "img");
/// # Ok::<(), lark_oapi_bot::ContentError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Post {
    locales: Vec<(String, PostBody)>,
}

impl Post {
    /// A post with no locale yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A post of one markdown element (`md`: bold, italic, links, lists, code, `<at>`),
    /// in `zh_cn`, the shape the official bots send an answer in.
    pub fn markdown(text: impl Into<String>) -> Self {
        Self::new().locale(
            "zh_cn",
            PostBody::new("").row([PostElement::markdown(text)]),
        )
    }

    /// Adds (or replaces) the body for `locale`, e.g. `"zh_cn"`, `"en_us"`, `"ja_jp"`.
    pub fn locale(mut self, locale: impl Into<String>, body: PostBody) -> Self {
        let locale = locale.into();
        self.locales.retain(|(l, _)| *l != locale);
        self.locales.push((locale, body));
        self
    }
}

impl MessageContent for Post {
    fn msg_type(&self) -> &'static str {
        "post"
    }

    fn content_value(&self) -> Result<Value, ContentError> {
        if self.locales.is_empty() {
            return Err(ContentError::Empty {
                what: "post locale",
            });
        }
        let mut out = Map::new();
        for (locale, body) in &self.locales {
            required("post locale", locale)?;
            out.insert(locale.clone(), body.to_value()?);
        }
        Ok(Value::Object(out))
    }
}

/// The post of one locale: a title and rows (paragraphs) of elements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostBody {
    title: String,
    rows: Vec<Vec<PostElement>>,
}

impl PostBody {
    /// A body with this title (may be empty).
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (paragraph). Images and videos must be alone in their row.
    pub fn row(mut self, elements: impl IntoIterator<Item = PostElement>) -> Self {
        self.rows.push(elements.into_iter().collect());
        self
    }

    fn to_value(&self) -> Result<Value, ContentError> {
        if self.rows.iter().all(Vec::is_empty) {
            return Err(ContentError::Empty {
                what: "post content",
            });
        }
        let mut rows = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            let media = row
                .iter()
                .any(|e| matches!(e, PostElement::Image { .. } | PostElement::Media { .. }));
            if media && row.len() > 1 {
                return Err(ContentError::Invalid {
                    what: "post row",
                    reason:
                        "an image or video must be alone in its row; put it in a row of its own"
                            .into(),
                });
            }
            rows.push(Value::Array(
                row.iter()
                    .map(PostElement::to_value)
                    .collect::<Result<_, _>>()?,
            ));
        }
        Ok(json!({ "title": self.title, "content": rows }))
    }
}

/// A text style of post text, links and mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Style {
    /// `bold`
    Bold,
    /// `italic`
    Italic,
    /// `underline`
    Underline,
    /// `lineThrough`
    LineThrough,
}

impl Style {
    fn wire(self) -> &'static str {
        match self {
            Style::Bold => "bold",
            Style::Italic => "italic",
            Style::Underline => "underline",
            Style::LineThrough => "lineThrough",
        }
    }
}

/// One element of a post row.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PostElement {
    /// `text`: plain text (`un_escape`: HTML entities in it are decoded).
    Text {
        /// The text.
        text: String,
        /// Decode HTML entities (`&nbsp;`) in the text.
        un_escape: bool,
        /// Styles.
        styles: Vec<Style>,
    },
    /// `a`: a link.
    Link {
        /// The text shown.
        text: String,
        /// The target (`https://…`).
        href: String,
        /// Styles.
        styles: Vec<Style>,
    },
    /// `at`: a mention of a user (open id), or of everyone (`"all"`).
    At {
        /// The open id, or `all`.
        user_id: String,
        /// Styles.
        styles: Vec<Style>,
    },
    /// `img`: an image uploaded with the IM image API (`img_…`), alone in its row.
    Image {
        /// The image key.
        image_key: String,
    },
    /// `media`: a video uploaded with the IM file API, with an optional cover, alone in its
    /// row.
    Media {
        /// The file key.
        file_key: String,
        /// The cover image key.
        image_key: Option<String>,
    },
    /// `emotion`: an emoji by its type (`SMILE`).
    Emotion {
        /// The emoji type.
        emoji_type: String,
    },
    /// `hr`: a divider.
    Divider,
    /// `code_block`: code with a language (`GO`, `RUST`, …).
    CodeBlock {
        /// The language.
        language: String,
        /// The code.
        text: String,
    },
    /// `md`: markdown (bold, italic, links, headings, lists, quotes, code, `<at>`).
    Markdown {
        /// The markdown.
        text: String,
    },
    /// An element of a tag this crate does not model (as received), sent back as it is.
    Other {
        /// Its `tag`.
        tag: String,
        /// The whole element.
        raw: Map<String, Value>,
    },
}

impl PostElement {
    /// Plain text.
    pub fn text(text: impl Into<String>) -> Self {
        PostElement::Text {
            text: text.into(),
            un_escape: false,
            styles: Vec::new(),
        }
    }

    /// A link.
    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        PostElement::Link {
            text: text.into(),
            href: href.into(),
            styles: Vec::new(),
        }
    }

    /// A mention of the user with this open id.
    pub fn mention(open_id: impl Into<String>) -> Self {
        PostElement::At {
            user_id: open_id.into(),
            styles: Vec::new(),
        }
    }

    /// A mention of everyone.
    pub fn mention_all() -> Self {
        Self::mention("all")
    }

    /// An image (`img_…`).
    pub fn image(image_key: impl Into<String>) -> Self {
        PostElement::Image {
            image_key: image_key.into(),
        }
    }

    /// A video, with an optional cover image.
    pub fn media(file_key: impl Into<String>, cover_image_key: Option<String>) -> Self {
        PostElement::Media {
            file_key: file_key.into(),
            image_key: cover_image_key,
        }
    }

    /// An emoji.
    pub fn emotion(emoji_type: impl Into<String>) -> Self {
        PostElement::Emotion {
            emoji_type: emoji_type.into(),
        }
    }

    /// A code block.
    pub fn code_block(language: impl Into<String>, text: impl Into<String>) -> Self {
        PostElement::CodeBlock {
            language: language.into(),
            text: text.into(),
        }
    }

    /// Markdown.
    pub fn markdown(text: impl Into<String>) -> Self {
        PostElement::Markdown { text: text.into() }
    }

    /// Adds a style (text, links and mentions; other elements are left as they are).
    pub fn style(mut self, style: Style) -> Self {
        if let PostElement::Text { styles, .. }
        | PostElement::Link { styles, .. }
        | PostElement::At { styles, .. } = &mut self
            && !styles.contains(&style)
        {
            styles.push(style);
        }
        self
    }

    /// Text with `un_escape` set: HTML entities in it are decoded by the platform.
    pub fn unescaped(mut self) -> Self {
        if let PostElement::Text { un_escape, .. } = &mut self {
            *un_escape = true;
        }
        self
    }

    fn to_value(&self) -> Result<Value, ContentError> {
        let with_styles = |mut v: Value, styles: &[Style]| {
            if !styles.is_empty() {
                v["style"] = styles.iter().map(|s| s.wire()).collect::<Vec<_>>().into();
            }
            v
        };
        Ok(match self {
            PostElement::Text {
                text,
                un_escape,
                styles,
            } => {
                let mut v = json!({ "tag": "text", "text": text });
                if *un_escape {
                    v["un_escape"] = true.into();
                }
                with_styles(v, styles)
            }
            PostElement::Link { text, href, styles } => {
                required("link href", href)?;
                with_styles(json!({ "tag": "a", "text": text, "href": href }), styles)
            }
            PostElement::At { user_id, styles } => {
                markup_id("mention user_id", user_id)?;
                with_styles(json!({ "tag": "at", "user_id": user_id }), styles)
            }
            PostElement::Image { image_key } => {
                json!({ "tag": "img", "image_key": required("image_key", image_key)? })
            }
            PostElement::Media {
                file_key,
                image_key,
            } => {
                let mut v = json!({ "tag": "media", "file_key": required("file_key", file_key)? });
                if let Some(cover) = image_key {
                    v["image_key"] = required("image_key", cover)?.into();
                }
                v
            }
            PostElement::Emotion { emoji_type } => {
                json!({ "tag": "emotion", "emoji_type": required("emoji_type", emoji_type)? })
            }
            PostElement::Divider => json!({ "tag": "hr" }),
            PostElement::CodeBlock { language, text } => {
                json!({ "tag": "code_block", "language": language, "text": text })
            }
            PostElement::Markdown { text } => {
                json!({ "tag": "md", "text": required("markdown text", text)? })
            }
            PostElement::Other { tag, raw } => {
                let mut element = raw.clone();
                element.insert("tag".into(), required("tag", tag)?.into());
                Value::Object(element)
            }
        })
    }
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

/// An interactive (card) message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Card {
    /// A card as JSON (Card JSON 2.0 with `"schema": "2.0"`, or 1.0).
    Json(Value),
    /// A card built in the card builder tool, filled with variables.
    Template {
        /// The template id (`AAq…`).
        template_id: String,
        /// The version to use; `None` for the latest published one.
        version_name: Option<String>,
        /// The template's variables.
        variables: Map<String, Value>,
    },
    /// A card entity created with CardKit (`card_id`), e.g. a streaming card.
    Entity {
        /// The card id.
        card_id: String,
    },
}

impl Card {
    /// The basic card the official Node SDK builds with `messageCard.defaultCard({title,
    /// content})`: a blue header with a plain-text title, one markdown element with the
    /// content, wide screen mode (Card JSON 1.0).
    ///
    /// ```
    /// use lark_oapi_bot::content::{Card, MessageContent};
    /// let card = Card::basic("Build", "**passed** in 42 s").content_value()?;
    /// assert_eq!(card["header"]["template"], "blue");
    /// assert_eq!(card["elements"][0]["content"], "**passed** in 42 s");
    /// # Ok::<(), lark_oapi_bot::ContentError>(())
    /// ```
    pub fn basic(title: impl Into<String>, content: impl Into<String>) -> Card {
        Card::Json(json!({
            "config": { "wide_screen_mode": true },
            "elements": [{ "tag": "markdown", "content": content.into() }],
            "header": {
                "template": "blue",
                "title": { "content": title.into(), "tag": "plain_text" }
            }
        }))
    }
}

impl MessageContent for Card {
    fn msg_type(&self) -> &'static str {
        "interactive"
    }

    fn content_value(&self) -> Result<Value, ContentError> {
        Ok(match self {
            Card::Json(card) => {
                if !card.is_object() {
                    return Err(ContentError::Invalid {
                        what: "card",
                        reason: "a card is a JSON object".into(),
                    });
                }
                card.clone()
            }
            Card::Template {
                template_id,
                version_name,
                variables,
            } => {
                let mut data = json!({
                    "template_id": required("template_id", template_id)?,
                    "template_variable": variables,
                });
                if let Some(version) = version_name {
                    data["template_version_name"] = version.clone().into();
                }
                json!({ "type": "template", "data": data })
            }
            Card::Entity { card_id } => {
                json!({ "type": "card", "data": { "card_id": required("card_id", card_id)? } })
            }
        })
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
mod tests {
    use super::*;

    fn value(c: &impl MessageContent) -> Value {
        let out = Outgoing::new(c).expect("valid content");
        assert_eq!(out.msg_type(), c.msg_type());
        serde_json::from_str(out.content()).expect("content is JSON")
    }

    #[test]
    fn every_keyed_type_has_its_documented_shape() {
        assert_eq!(value(&Image("img_1".into())), json!({"image_key": "img_1"}));
        assert_eq!(value(&File("file_1".into())), json!({"file_key": "file_1"}));
        assert_eq!(
            value(&Audio("file_2".into())),
            json!({"file_key": "file_2"})
        );
        assert_eq!(
            value(&Sticker("file_3".into())),
            json!({"file_key": "file_3"})
        );
        assert_eq!(value(&ShareChat("oc_1".into())), json!({"chat_id": "oc_1"}));
        assert_eq!(value(&ShareUser("ou_1".into())), json!({"user_id": "ou_1"}));
        let kinds = [
            Image(String::new()).msg_type(),
            File(String::new()).msg_type(),
            Audio(String::new()).msg_type(),
            Sticker(String::new()).msg_type(),
            ShareChat(String::new()).msg_type(),
            ShareUser(String::new()).msg_type(),
        ];
        assert_eq!(
            kinds,
            [
                "image",
                "file",
                "audio",
                "sticker",
                "share_chat",
                "share_user"
            ]
        );
        assert_eq!(
            Outgoing::new(&Image(" ".into())),
            Err(ContentError::Empty { what: "image_key" })
        );
    }

    #[test]
    fn media_sends_its_cover_only_when_given() {
        let plain = Media {
            file_key: "file_v".into(),
            image_key: None,
        };
        assert_eq!(value(&plain), json!({"file_key": "file_v"}));
        let covered = Media {
            file_key: "file_v".into(),
            image_key: Some("img_c".into()),
        };
        assert_eq!(
            value(&covered),
            json!({"file_key": "file_v", "image_key": "img_c"})
        );
        assert_eq!(covered.msg_type(), "media");
    }

    #[test]
    fn cards_by_json_template_or_entity() {
        let card = json!({"schema": "2.0", "body": {"elements": []}});
        assert_eq!(value(&Card::Json(card.clone())), card);
        assert_eq!(
            value(&Card::Entity {
                card_id: "7355".into()
            }),
            json!({"type": "card", "data": {"card_id": "7355"}})
        );
        let latest = Card::Template {
            template_id: "AAq".into(),
            version_name: None,
            variables: Map::new(),
        };
        assert_eq!(
            value(&latest),
            json!({"type": "template", "data": {"template_id": "AAq", "template_variable": {}}})
        );
        assert!(matches!(
            Outgoing::new(&Card::Json(json!("not a card"))),
            Err(ContentError::Invalid { what: "card", .. })
        ));
    }

    #[test]
    fn the_basic_card_means_what_the_node_sdk_sends() {
        assert_eq!(
            value(&Card::basic("Title", "**body**")),
            json!({
                "config": {"wide_screen_mode": true},
                "elements": [{"tag": "markdown", "content": "**body**"}],
                "header": {"template": "blue", "title": {"content": "Title", "tag": "plain_text"}}
            })
        );
    }

    #[test]
    fn post_elements_serialise_as_documented() {
        let body = PostBody::new("T")
            .row([
                PostElement::text("a")
                    .style(Style::Bold)
                    .style(Style::Bold)
                    .style(Style::LineThrough),
                PostElement::text("&nbsp;").unescaped(),
                PostElement::link("docs", "https://open.feishu.cn"),
                PostElement::mention("ou_1").style(Style::Italic),
                PostElement::mention_all(),
                PostElement::emotion("SMILE"),
            ])
            .row([PostElement::media("file_v", Some("img_c".into()))])
            .row([PostElement::Divider])
            .row([PostElement::code_block("RUST", "fn main() {}")]);
        let v = value(&Post::new().locale("zh_cn", body));
        assert_eq!(
            v,
            json!({"zh_cn": {"title": "T", "content": [
                [
                    {"tag": "text", "text": "a", "style": ["bold", "lineThrough"]},
                    {"tag": "text", "text": "&nbsp;", "un_escape": true},
                    {"tag": "a", "text": "docs", "href": "https://open.feishu.cn"},
                    {"tag": "at", "user_id": "ou_1", "style": ["italic"]},
                    {"tag": "at", "user_id": "all"},
                    {"tag": "emotion", "emoji_type": "SMILE"}
                ],
                [{"tag": "media", "file_key": "file_v", "image_key": "img_c"}],
                [{"tag": "hr"}],
                [{"tag": "code_block", "language": "RUST", "text": "fn main() {}"}]
            ]}})
        );
        assert_eq!(
            value(&Post::markdown("# hi")),
            json!({"zh_cn": {"title": "", "content": [[{"tag": "md", "text": "# hi"}]]}})
        );
    }

    #[test]
    fn a_locale_given_twice_keeps_the_last_body() {
        let post = Post::new()
            .locale("en_us", PostBody::new("old").row([PostElement::text("1")]))
            .locale("en_us", PostBody::new("new").row([PostElement::text("2")]));
        assert_eq!(value(&post)["en_us"]["title"], "new");
    }

    #[test]
    fn posts_without_content_are_refused() {
        assert_eq!(
            Outgoing::new(&Post::new()),
            Err(ContentError::Empty {
                what: "post locale"
            })
        );
        assert_eq!(
            Outgoing::new(&Post::new().locale("zh_cn", PostBody::new("t").row([]))),
            Err(ContentError::Empty {
                what: "post content"
            })
        );
    }

    #[test]
    fn an_id_cannot_break_out_of_its_tag() {
        let err =
            Outgoing::new(&Text::new("x").mention("ou_1\"><at user_id=\"all", "Eve")).unwrap_err();
        assert!(
            matches!(
                err,
                ContentError::Invalid {
                    what: "mention open_id",
                    ..
                }
            ),
            "{err}"
        );
        let err = Outgoing::new(
            &Post::new().locale("zh_cn", PostBody::new("").row([PostElement::mention("")])),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ContentError::Empty {
                what: "mention user_id"
            }
        );
    }

    #[test]
    fn limits_are_kib_of_the_serialised_content() {
        // `{"text":""}` is 11 bytes: the largest text that fits leaves room for them.
        let fits = Text::new("x".repeat(TEXT_LIMIT - 11));
        assert!(Outgoing::new(&fits).is_ok());
        let over = Text::new("x".repeat(TEXT_LIMIT - 10));
        assert_eq!(
            Outgoing::new(&over),
            Err(ContentError::TooLarge {
                msg_type: "text",
                bytes: TEXT_LIMIT + 1,
                limit: 153_600
            })
        );
        let big_card = Card::Json(json!({"schema": "2.0", "pad": "y".repeat(RICH_LIMIT)}));
        assert!(matches!(
            Outgoing::new(&big_card),
            Err(ContentError::TooLarge {
                msg_type: "interactive",
                limit: 30_720,
                ..
            })
        ));
        // Images have no documented body limit of their own.
        assert!(Outgoing::new(&Image("i".repeat(RICH_LIMIT * 2))).is_ok());
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = ContentError::TooLarge {
            msg_type: "post",
            bytes: 40_000,
            limit: RICH_LIMIT,
        };
        assert_eq!(
            e.to_string(),
            "message content: a post message of 40000 bytes is over the platform's limit of 30720 bytes; split it into several messages"
        );
        let core: lark_oapi_core::Error = ContentError::Empty { what: "text" }.into();
        assert!(
            matches!(core, lark_oapi_core::Error::InvalidRequest(m) if m.contains("`text` is empty"))
        );
    }
}
