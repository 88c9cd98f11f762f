//! `interactive` (card) messages.

use serde_json::{Map, Value, json};

use super::{ContentError, MessageContent, required};

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

    fn content_json(&self) -> Result<String, ContentError> {
        match self {
            // Serialised in place: no copy of a large card.
            Card::Json(card) if card.is_object() => Ok(super::json_text(card)),
            _ => self.content_value().map(|v| super::json_text(&v)),
        }
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
