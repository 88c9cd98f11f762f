//! `text` messages.

use serde_json::{Value, json};

use super::{ContentError, MessageContent, markup_id, required};

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
