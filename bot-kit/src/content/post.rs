//! `post` (rich text) messages.

use serde_json::{Map, Value, json};

use super::{ContentError, MessageContent, markup_id, required};

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
    /// `codeInline`: inline code (seen in received posts; whether sending it is accepted
    /// is not documented).
    CodeInline,
}

impl Style {
    fn wire(self) -> &'static str {
        match self {
            Style::Bold => "bold",
            Style::Italic => "italic",
            Style::Underline => "underline",
            Style::LineThrough => "lineThrough",
            Style::CodeInline => "codeInline",
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
