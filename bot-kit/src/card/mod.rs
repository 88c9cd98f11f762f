//! A Card JSON 2.0 builder: header, config, card link and body elements as typed values that
//! serialise to the fields the 2.0 schema accepts (it refuses unknown properties, error
//! 200621), checked before sending: element ids unique and well-formed, and the whole card
//! within the 30 KiB message limit.
//!
//! ```
//! use lark_oapi_bot::card::{Button, CardBuilder, Element, Header, Template};
//! use serde_json::json;
//! let card = CardBuilder::new()
//!     .header(Header::new("Deploy").subtitle("prod").template(Template::Green))
//!     .summary("Deploy finished")
//!     .element(Element::markdown("**done** in 42 s"))
//!     .element(Button::new("Roll back").danger().callback(json!({"action": "rollback"})).into())
//!     .build()?;
//! let lark_oapi_bot::content::Card::Json(value) = &card else { unreachable!() };
//! assert_eq!(value["schema"], "2.0");
//! assert_eq!(value["body"]["elements"][1]["behaviors"][0], json!({"type": "callback", "value": {"action": "rollback"}}));
//! # Ok::<(), lark_oapi_bot::ContentError>(())
//! ```

pub mod action;
mod element;
mod encode;

pub use element::{Behavior, Button, Column, DataType, Element, Picker};

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::content::{Card, ContentError, MessageContent, check_size};

/// A header colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Template {
    /// `blue`
    Blue,
    /// `wathet`
    Wathet,
    /// `turquoise`
    Turquoise,
    /// `green`
    Green,
    /// `yellow`
    Yellow,
    /// `orange`
    Orange,
    /// `red`
    Red,
    /// `carmine`
    Carmine,
    /// `violet`
    Violet,
    /// `purple`
    Purple,
    /// `indigo`
    Indigo,
    /// `grey`
    Grey,
    /// `default`
    Default,
}

impl Template {
    pub(crate) fn wire(self) -> &'static str {
        match self {
            Template::Blue => "blue",
            Template::Wathet => "wathet",
            Template::Turquoise => "turquoise",
            Template::Green => "green",
            Template::Yellow => "yellow",
            Template::Orange => "orange",
            Template::Red => "red",
            Template::Carmine => "carmine",
            Template::Violet => "violet",
            Template::Purple => "purple",
            Template::Indigo => "indigo",
            Template::Grey => "grey",
            Template::Default => "default",
        }
    }
}

/// The card's header: title, subtitle, colour, text tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub(crate) title: String,
    pub(crate) subtitle: Option<String>,
    pub(crate) template: Option<Template>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) icon: Option<Value>,
}

impl Header {
    /// A header with this (plain-text) title.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            subtitle: None,
            template: None,
            tags: Vec::new(),
            icon: None,
        }
    }

    /// A standard icon of the icon library by its token (`chat-forbidden_outlined`), with an
    /// optional colour.
    pub fn icon(mut self, token: impl Into<String>, color: Option<&str>) -> Self {
        let mut icon = json!({ "tag": "standard_icon", "token": token.into() });
        if let Some(c) = color {
            icon["color"] = c.into();
        }
        self.icon = Some(icon);
        self
    }

    /// An icon from an uploaded image (`img_…`).
    pub fn custom_icon(mut self, img_key: impl Into<String>) -> Self {
        self.icon = Some(json!({ "tag": "custom_icon", "img_key": img_key.into() }));
        self
    }

    /// A subtitle (one line).
    pub fn subtitle(mut self, subtitle: impl Into<String>) -> Self {
        self.subtitle = Some(subtitle.into());
        self
    }

    /// The header colour.
    pub fn template(mut self, template: Template) -> Self {
        self.template = Some(template);
        self
    }

    /// A text tag with its colour (`neutral`, `blue`, `green`, `red`, …; three at most are
    /// recommended).
    pub fn tag(mut self, text: impl Into<String>, color: impl Into<String>) -> Self {
        self.tags.push((text.into(), color.into()));
        self
    }
}

/// Tables one card may hold: the platform documents no number; one official client measured
/// a failure with four (`230099`, sub-code `11310`) and keeps three, which this builder
/// enforces.
pub const MAX_TABLES: usize = 3;

/// Builds a Card JSON 2.0 card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardBuilder {
    pub(crate) header: Option<Header>,
    pub(crate) summary: Option<String>,
    pub(crate) streaming: bool,
    pub(crate) width_mode: Option<&'static str>,
    pub(crate) link: Option<String>,
    pub(crate) elements: Vec<Element>,
}

impl CardBuilder {
    /// An empty card.
    pub fn new() -> Self {
        Self::default()
    }

    /// The header.
    pub fn header(mut self, header: Header) -> Self {
        self.header = Some(header);
        self
    }

    /// The preview in the chat list.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Streaming mode (for CardKit streaming updates).
    pub fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// Fill the chat's width instead of the default ~600 px.
    pub fn full_width(mut self) -> Self {
        self.width_mode = Some("fill");
        self
    }

    /// Where tapping the card leads.
    pub fn link(mut self, url: impl Into<String>) -> Self {
        self.link = Some(url.into());
        self
    }

    /// Appends a body element.
    pub fn element(mut self, element: Element) -> Self {
        self.elements.push(element);
        self
    }

    /// Checks what the schema would refuse, before anything is written.
    fn check(&self) -> Result<(), ContentError> {
        let tables = self.elements.iter().filter(|e| e.is_table()).count();
        if tables > MAX_TABLES {
            return Err(ContentError::Invalid {
                what: "table",
                reason: format!(
                    "{tables} tables; a card holds {MAX_TABLES} at most (the platform refuses more \
                     with 230099 / 11310): put the rest in another card"
                ),
            });
        }
        let mut ids = BTreeSet::new();
        for e in &self.elements {
            e.check(&mut ids, element::Place::ROOT)?;
        }
        Ok(())
    }

    /// The card as JSON, checked (for a card to edit before sending; [`build`](Self::build)
    /// or sending the builder itself writes the JSON text directly).
    pub fn to_value(&self) -> Result<Value, ContentError> {
        self.check()?;
        let card = encode::to_value(self);
        check_size("interactive", crate::content::json_len(&card))?;
        Ok(card)
    }

    /// The card as the JSON text of a message `content`, checked.
    pub fn to_json(&self) -> Result<String, ContentError> {
        self.check()?;
        let text =
            serde_json::to_string(&encode::Ser(self)).map_err(|e| ContentError::Invalid {
                what: "card",
                reason: e.to_string(),
            })?;
        check_size("interactive", text.len())?;
        Ok(text)
    }

    /// The card, ready to send ([`Card::Json`]).
    pub fn build(&self) -> Result<Card, ContentError> {
        self.to_value().map(Card::Json)
    }
}

/// A builder is content itself: `bot_kit::send(&client, to, &builder)` writes its JSON
/// text directly, with no intermediate value.
impl MessageContent for CardBuilder {
    fn msg_type(&self) -> &'static str {
        "interactive"
    }

    fn content_value(&self) -> Result<Value, ContentError> {
        self.to_value()
    }

    fn content_json(&self) -> Result<String, ContentError> {
        self.to_json()
    }
}

#[cfg(test)]
mod tests;
