//! Card JSON written straight from the builder's values, without a `serde_json::Value` tree
//! in between (checks run before, in `Element::check`).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use super::element::{Behavior, Button, Column, Element, Picker};
use super::{CardBuilder, Header};

/// Serialises the wrapped value as Card JSON (the impls stay out of the public API).
pub(crate) struct Ser<'a, T: ?Sized>(pub(crate) &'a T);

/// `{"tag":"plain_text","content":…}`.
struct Plain<'a>(&'a str);

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("tag", "plain_text")?;
        m.serialize_entry("content", self.0)?;
        m.end()
    }
}

/// A slice of items, each serialised through [`Ser`].
struct List<'a, T>(&'a [T]);

impl<'a, T> Serialize for List<'a, T>
where
    Ser<'a, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Ser(item))?;
        }
        seq.end()
    }
}

/// `(text, value)` options.
struct Options<'a>(&'a [(String, String)]);

impl Serialize for Options<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (text, value) in self.0 {
            seq.serialize_element(&OptionItem(text, value))?;
        }
        seq.end()
    }
}

struct OptionItem<'a>(&'a str, &'a str);

impl Serialize for OptionItem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("text", &Plain(self.0))?;
        m.serialize_entry("value", self.1)?;
        m.end()
    }
}

impl Serialize for Ser<'_, Behavior> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        match self.0 {
            Behavior::Callback(value) => {
                m.serialize_entry("type", "callback")?;
                m.serialize_entry("value", value)?;
            }
            Behavior::OpenUrl(url) => {
                m.serialize_entry("type", "open_url")?;
                m.serialize_entry("default_url", url)?;
            }
        }
        m.end()
    }
}

impl Serialize for Ser<'_, Button> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("tag", "button")?;
        m.serialize_entry("text", &Plain(&b.text))?;
        m.serialize_entry("type", b.kind)?;
        if !b.behaviors.is_empty() {
            m.serialize_entry("behaviors", &List(&b.behaviors))?;
        }
        if let Some(action) = b.form_action {
            m.serialize_entry("form_action_type", action)?;
        }
        if let Some(name) = &b.name {
            m.serialize_entry("name", name)?;
        }
        if let Some(id) = &b.element_id {
            m.serialize_entry("element_id", id)?;
        }
        m.end()
    }
}

impl Serialize for Ser<'_, Column> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("name", &c.name)?;
        m.serialize_entry("display_name", &c.display_name)?;
        m.serialize_entry("data_type", c.wire_type())?;
        m.serialize_entry("width", "auto")?;
        m.end()
    }
}

/// One weighted column of a column set.
struct WeightedColumn<'a>(u32, &'a [Element]);

impl Serialize for WeightedColumn<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("tag", "column")?;
        m.serialize_entry("width", "weighted")?;
        m.serialize_entry("weight", &self.0.max(1))?;
        m.serialize_entry("elements", &List(self.1))?;
        m.end()
    }
}

struct Columns<'a>(&'a [(u32, Vec<Element>)]);

impl Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (weight, els) in self.0 {
            seq.serialize_element(&WeightedColumn(*weight, els))?;
        }
        seq.end()
    }
}

/// `{"title":{"tag":"markdown","content":…}}` of a collapsible panel.
struct PanelHeader<'a>(&'a str);

impl Serialize for PanelHeader<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("title", &Markdown(self.0))?;
        m.end()
    }
}

struct Markdown<'a>(&'a str);

impl Serialize for Markdown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("tag", "markdown")?;
        m.serialize_entry("content", self.0)?;
        m.end()
    }
}

impl Serialize for Ser<'_, Element> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Element::Button(b) = self.0 {
            return Ser(b).serialize(s);
        }
        let mut m = s.serialize_map(None)?;
        match self.0 {
            Element::Markdown {
                content,
                element_id,
            } => {
                m.serialize_entry("tag", "markdown")?;
                m.serialize_entry("content", content)?;
                if let Some(id) = element_id {
                    m.serialize_entry("element_id", id)?;
                }
            }
            Element::Text(text) => {
                m.serialize_entry("tag", "div")?;
                m.serialize_entry("text", &Plain(text))?;
            }
            Element::Image { img_key, alt } => {
                m.serialize_entry("tag", "img")?;
                m.serialize_entry("img_key", img_key)?;
                m.serialize_entry("alt", &Plain(alt))?;
            }
            Element::Divider => m.serialize_entry("tag", "hr")?,
            Element::Button(_) => {}
            Element::Columns(columns) => {
                m.serialize_entry("tag", "column_set")?;
                m.serialize_entry("columns", &Columns(columns))?;
            }
            Element::Collapsible {
                title,
                expanded,
                elements,
            } => {
                m.serialize_entry("tag", "collapsible_panel")?;
                m.serialize_entry("expanded", expanded)?;
                m.serialize_entry("header", &PanelHeader(title))?;
                m.serialize_entry("elements", &List(elements))?;
            }
            Element::Form { name, elements } => {
                m.serialize_entry("tag", "form")?;
                m.serialize_entry("name", name)?;
                m.serialize_entry("elements", &List(elements))?;
            }
            Element::Input { name, placeholder } => {
                m.serialize_entry("tag", "input")?;
                m.serialize_entry("name", name)?;
                m.serialize_entry("placeholder", &Plain(placeholder))?;
            }
            Element::Select { name, options } | Element::MultiSelect { name, options } => {
                let tag = if matches!(self.0, Element::Select { .. }) {
                    "select_static"
                } else {
                    "multi_select_static"
                };
                m.serialize_entry("tag", tag)?;
                m.serialize_entry("name", name)?;
                m.serialize_entry("options", &Options(options))?;
            }
            Element::SelectPerson { name, multiple } => {
                let tag = if *multiple {
                    "multi_select_person"
                } else {
                    "select_person"
                };
                m.serialize_entry("tag", tag)?;
                m.serialize_entry("name", name)?;
            }
            Element::Picker {
                kind,
                name,
                placeholder,
            } => {
                let tag = match kind {
                    Picker::Date => "date_picker",
                    Picker::Time => "picker_time",
                    Picker::DateTime => "picker_datetime",
                };
                m.serialize_entry("tag", tag)?;
                m.serialize_entry("name", name)?;
                m.serialize_entry("placeholder", &Plain(placeholder))?;
            }
            Element::Checker {
                name,
                text,
                checked,
            } => {
                m.serialize_entry("tag", "checker")?;
                m.serialize_entry("name", name)?;
                m.serialize_entry("text", &Plain(text))?;
                m.serialize_entry("checked", checked)?;
            }
            Element::Chart(spec) => {
                m.serialize_entry("tag", "chart")?;
                m.serialize_entry("chart_spec", spec)?;
            }
            Element::Table {
                columns,
                rows,
                page_size,
            } => {
                m.serialize_entry("tag", "table")?;
                m.serialize_entry("page_size", page_size)?;
                m.serialize_entry("columns", &List(columns))?;
                m.serialize_entry("rows", rows)?;
            }
            Element::Person { open_id } => {
                m.serialize_entry("tag", "person")?;
                m.serialize_entry("user_id", open_id)?;
                m.serialize_entry("show_avatar", &true)?;
                m.serialize_entry("show_name", &true)?;
            }
            Element::Container {
                behaviors,
                elements,
            } => {
                m.serialize_entry("tag", "interactive_container")?;
                m.serialize_entry("behaviors", &List(behaviors))?;
                m.serialize_entry("elements", &List(elements))?;
            }
        }
        m.end()
    }
}

/// A text tag of the header.
struct TextTag<'a>(&'a str, &'a str);

impl Serialize for TextTag<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("tag", "text_tag")?;
        m.serialize_entry("text", &Plain(self.0))?;
        m.serialize_entry("color", self.1)?;
        m.end()
    }
}

struct Tags<'a>(&'a [(String, String)]);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (text, color) in self.0 {
            seq.serialize_element(&TextTag(text, color))?;
        }
        seq.end()
    }
}

impl Serialize for Ser<'_, Header> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("title", &Plain(&h.title))?;
        if let Some(sub) = &h.subtitle {
            m.serialize_entry("subtitle", &Plain(sub))?;
        }
        if let Some(t) = h.template {
            m.serialize_entry("template", t.wire())?;
        }
        if let Some(icon) = &h.icon {
            m.serialize_entry("icon", icon)?;
        }
        if !h.tags.is_empty() {
            m.serialize_entry("text_tag_list", &Tags(&h.tags))?;
        }
        m.end()
    }
}

/// The card's `config`.
struct Config<'a>(&'a CardBuilder);

impl Serialize for Config<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        // `update_multi` is true in 2.0 and only true is allowed: never sent as false.
        m.serialize_entry("update_multi", &true)?;
        if c.streaming {
            m.serialize_entry("streaming_mode", &true)?;
        }
        if let Some(summary) = &c.summary {
            m.serialize_entry("summary", &Summary(summary))?;
        }
        if let Some(mode) = c.width_mode {
            m.serialize_entry("width_mode", mode)?;
        }
        m.end()
    }
}

struct Summary<'a>(&'a str);

impl Serialize for Summary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("content", self.0)?;
        m.end()
    }
}

struct Body<'a>(&'a [Element]);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("elements", &List(self.0))?;
        m.end()
    }
}

struct Link<'a>(&'a str);

impl Serialize for Link<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("url", self.0)?;
        m.end()
    }
}

impl Serialize for Ser<'_, CardBuilder> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("schema", "2.0")?;
        m.serialize_entry("config", &Config(c))?;
        if let Some(h) = &c.header {
            m.serialize_entry("header", &Ser(h))?;
        }
        if let Some(url) = &c.link {
            m.serialize_entry("card_link", &Link(url))?;
        }
        m.serialize_entry("body", &Body(&c.elements))?;
        m.end()
    }
}

/// The card as a `Value` (for callers that edit it before sending).
pub(crate) fn to_value(card: &CardBuilder) -> Value {
    // Writing into a `Value` cannot fail for these types.
    serde_json::to_value(Ser(card)).unwrap_or_default()
}
