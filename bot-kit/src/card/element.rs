//! Body elements of a Card JSON 2.0 card and their checks.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::content::ContentError;

/// What a button does when pressed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Behavior {
    /// Sends `card.action.trigger` to the app with this value.
    Callback(Value),
    /// Opens a URL.
    OpenUrl(String),
}

impl Behavior {
    fn to_value(&self) -> Value {
        match self {
            Behavior::Callback(value) => json!({ "type": "callback", "value": value }),
            Behavior::OpenUrl(url) => json!({ "type": "open_url", "default_url": url }),
        }
    }
}

/// A button.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    text: String,
    kind: &'static str,
    behaviors: Vec<Behavior>,
    form_action: Option<&'static str>,
    name: Option<String>,
    element_id: Option<String>,
    /// A value that could not be serialised, reported when the card is built.
    error: Option<String>,
}

impl Button {
    /// A default-style button with this text.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            kind: "default",
            behaviors: Vec::new(),
            form_action: None,
            name: None,
            element_id: None,
            error: None,
        }
    }

    /// The primary style.
    pub fn primary(mut self) -> Self {
        self.kind = "primary";
        self
    }

    /// The danger style.
    pub fn danger(mut self) -> Self {
        self.kind = "danger";
        self
    }

    /// Calls back the app with `value` (read it from the action's `value`).
    pub fn callback(mut self, value: Value) -> Self {
        self.behaviors.push(Behavior::Callback(value));
        self
    }

    /// Calls back the app with `value` serialised (read it back typed with
    /// [`CardAction::value`](crate::card::action::CardAction::value)). A value that does
    /// not serialise to a JSON object is an error when the card is built.
    ///
    /// ```
    /// use lark_oapi_bot::card::{Button, CardBuilder};
    /// #[derive(serde::Serialize)]
    /// struct Approve { request: u64 }
    /// let card = CardBuilder::new().element(Button::new("Approve").callback_with(&Approve { request: 7 }).into());
    /// assert_eq!(card.to_value()?["body"]["elements"][0]["behaviors"][0]["value"]["request"], 7);
    /// # Ok::<(), lark_oapi_bot::ContentError>(())
    /// ```
    pub fn callback_with<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(v @ Value::Object(_)) => self.behaviors.push(Behavior::Callback(v)),
            Ok(other) => {
                self.error = Some(format!(
                    "a callback value is a JSON object; this one serialises to {other}"
                ))
            }
            Err(e) => self.error = Some(format!("the callback value does not serialise: {e}")),
        }
        self
    }

    /// Opens `url`.
    pub fn open_url(mut self, url: impl Into<String>) -> Self {
        self.behaviors.push(Behavior::OpenUrl(url.into()));
        self
    }

    /// Inside a form: submits it (the values arrive as the action's `form_value`).
    pub fn submit(mut self, name: impl Into<String>) -> Self {
        self.form_action = Some("submit");
        self.name = Some(name.into());
        self
    }

    /// An element id (for updating the button later).
    pub fn id(mut self, element_id: impl Into<String>) -> Self {
        self.element_id = Some(element_id.into());
        self
    }

    fn to_value(&self) -> Value {
        let mut v = json!({
            "tag": "button",
            "text": { "tag": "plain_text", "content": self.text },
            "type": self.kind,
        });
        if !self.behaviors.is_empty() {
            v["behaviors"] = self
                .behaviors
                .iter()
                .map(Behavior::to_value)
                .collect::<Vec<_>>()
                .into();
        }
        if let Some(action) = self.form_action {
            v["form_action_type"] = action.into();
        }
        if let Some(name) = &self.name {
            v["name"] = name.clone().into();
        }
        if let Some(id) = &self.element_id {
            v["element_id"] = id.clone().into();
        }
        v
    }
}

/// A body element.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Element {
    /// `markdown` (with `<at>`, `<font color>`, links, lists, code).
    Markdown {
        /// The markdown.
        content: String,
        /// An element id (streaming updates address the element by it).
        element_id: Option<String>,
    },
    /// `div` with plain text.
    Text(String),
    /// `img` by image key, with alt text.
    Image {
        /// The image key (`img_…`).
        img_key: String,
        /// The alt text.
        alt: String,
    },
    /// `hr`.
    Divider,
    /// `button`.
    Button(Button),
    /// `column_set` of columns, each a weight and elements.
    Columns(Vec<(u32, Vec<Element>)>),
    /// `collapsible_panel` with a title.
    Collapsible {
        /// The panel's title (markdown).
        title: String,
        /// Open at first.
        expanded: bool,
        /// Its elements.
        elements: Vec<Element>,
    },
    /// `form` named `name`: inputs and a submit button.
    Form {
        /// The form's name.
        name: String,
        /// Its elements.
        elements: Vec<Element>,
    },
    /// `input` named `name`, with a placeholder.
    Input {
        /// The field's name (key of `form_value`).
        name: String,
        /// The placeholder.
        placeholder: String,
    },
    /// `select_static` named `name`, with `(text, value)` options.
    Select {
        /// The field's name.
        name: String,
        /// `(text, value)` options.
        options: Vec<(String, String)>,
    },
    /// `multi_select_static` named `name`, with `(text, value)` options (the picks arrive
    /// as the action's `options`, or a list in `form_value`).
    MultiSelect {
        /// The field's name.
        name: String,
        /// `(text, value)` options.
        options: Vec<(String, String)>,
    },
    /// `select_person` (or `multi_select_person` when `multiple`) named `name`: pick users.
    SelectPerson {
        /// The field's name.
        name: String,
        /// Several people.
        multiple: bool,
    },
    /// A date, time or date-time picker named `name` (values arrive like
    /// `"2024-04-01 +0800"`, with the action's `timezone`).
    Picker {
        /// Which picker.
        kind: Picker,
        /// The field's name.
        name: String,
        /// The placeholder.
        placeholder: String,
    },
    /// `checker` named `name`: a tick box with a label (arrives as the action's `checked`).
    Checker {
        /// The field's name.
        name: String,
        /// The label.
        text: String,
        /// Ticked at first.
        checked: bool,
    },
    /// `chart` with a VChart spec.
    Chart(Value),
    /// `table`: typed columns and rows of values by column name; only at the body's top
    /// level, three per card at most. The sources agree on the tag and the top-level rule;
    /// the column fields (`name`, `display_name`, `data_type`, `width`) and `page_size` come
    /// from the platform's component docs as quoted by its CLI (UNVERIFIED against a
    /// server).
    Table {
        /// The columns.
        columns: Vec<Column>,
        /// The rows: column name → value.
        rows: Vec<Map<String, Value>>,
        /// Rows per page (1 to 10).
        page_size: u32,
    },
    /// `person`: a user's avatar and name, by open id (`user_id`, `show_avatar`,
    /// `show_name`; field names UNVERIFIED beyond the tag).
    Person {
        /// The user's open id.
        open_id: String,
    },
    /// `interactive_container`: elements that together act as one clickable area (it cannot
    /// hold a form or a table).
    Container {
        /// What a click does.
        behaviors: Vec<Behavior>,
        /// Its elements.
        elements: Vec<Element>,
    },
}

/// The kind of a picker element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Picker {
    /// `date_picker`
    Date,
    /// `picker_time`
    Time,
    /// `picker_datetime`
    DateTime,
}

/// The type of a table column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataType {
    /// `text`
    Text,
    /// `lark_md`
    Markdown,
    /// `number`
    Number,
    /// `date` (milliseconds since the epoch)
    Date,
    /// `persons` (open ids)
    Persons,
}

/// A table column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    name: String,
    display_name: String,
    data_type: DataType,
}

impl Column {
    /// A column `name` (the key in each row) shown as `display_name`.
    pub fn new(
        name: impl Into<String>,
        display_name: impl Into<String>,
        data_type: DataType,
    ) -> Self {
        Column {
            name: name.into(),
            display_name: display_name.into(),
            data_type,
        }
    }

    fn to_value(&self) -> Value {
        let data_type = match self.data_type {
            DataType::Text => "text",
            DataType::Markdown => "lark_md",
            DataType::Number => "number",
            DataType::Date => "date",
            DataType::Persons => "persons",
        };
        json!({ "name": self.name, "display_name": self.display_name, "data_type": data_type, "width": "auto" })
    }
}

impl From<Button> for Element {
    fn from(b: Button) -> Self {
        Element::Button(b)
    }
}

/// Where an element sits, for the rules of what may hold what.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Place {
    nested: bool,
    in_form: bool,
    in_container: bool,
}

impl Place {
    pub(crate) const ROOT: Place = Place {
        nested: false,
        in_form: false,
        in_container: false,
    };

    fn inside(self) -> Place {
        Place {
            nested: true,
            ..self
        }
    }
}

fn invalid(what: &'static str, reason: &str) -> ContentError {
    ContentError::Invalid {
        what,
        reason: reason.into(),
    }
}

fn named(what: &'static str, name: &str) -> Result<(), ContentError> {
    if name.trim().is_empty() {
        return Err(ContentError::Empty { what });
    }
    Ok(())
}

fn plain(text: &str) -> Value {
    json!({ "tag": "plain_text", "content": text })
}

fn options(options: &[(String, String)]) -> Vec<Value> {
    options
        .iter()
        .map(|(text, value)| json!({ "text": plain(text), "value": value }))
        .collect()
}

impl Element {
    /// Markdown.
    pub fn markdown(content: impl Into<String>) -> Self {
        Element::Markdown {
            content: content.into(),
            element_id: None,
        }
    }

    /// Markdown with an element id.
    pub fn markdown_with_id(content: impl Into<String>, element_id: impl Into<String>) -> Self {
        Element::Markdown {
            content: content.into(),
            element_id: Some(element_id.into()),
        }
    }

    /// Whether this is a table (the card allows three).
    pub(crate) fn is_table(&self) -> bool {
        matches!(self, Element::Table { .. })
    }

    pub(crate) fn to_value(
        &self,
        ids: &mut BTreeSet<String>,
        place: Place,
    ) -> Result<Value, ContentError> {
        let elements = |els: &[Element],
                        ids: &mut BTreeSet<String>,
                        place: Place|
         -> Result<Vec<Value>, ContentError> {
            els.iter().map(|e| e.to_value(ids, place)).collect()
        };
        let mut v = match self {
            Element::Markdown { content, .. } => json!({ "tag": "markdown", "content": content }),
            Element::Text(text) => json!({ "tag": "div", "text": plain(text) }),
            Element::Image { img_key, alt } => {
                if img_key.trim().is_empty() {
                    return Err(ContentError::Empty { what: "img_key" });
                }
                json!({ "tag": "img", "img_key": img_key, "alt": plain(alt) })
            }
            Element::Divider => json!({ "tag": "hr" }),
            Element::Button(b) => {
                if let Some(reason) = &b.error {
                    return Err(ContentError::Invalid {
                        what: "button",
                        reason: reason.clone(),
                    });
                }
                if b.form_action.is_some() && !place.in_form {
                    return Err(invalid("button", "a submit button belongs inside a form"));
                }
                b.to_value()
            }
            Element::Columns(columns) => {
                let mut out = Vec::with_capacity(columns.len());
                for (weight, els) in columns {
                    out.push(json!({
                        "tag": "column",
                        "width": "weighted",
                        "weight": weight.max(&1),
                        "elements": elements(els, ids, place.inside())?,
                    }));
                }
                json!({ "tag": "column_set", "columns": out })
            }
            Element::Collapsible {
                title,
                expanded,
                elements: els,
            } => json!({
                "tag": "collapsible_panel",
                "expanded": expanded,
                "header": { "title": { "tag": "markdown", "content": title } },
                "elements": elements(els, ids, place.inside())?,
            }),
            Element::Form {
                name,
                elements: els,
            } => {
                if place.in_form {
                    return Err(invalid("form", "a form cannot hold another form"));
                }
                if place.in_container {
                    return Err(invalid(
                        "form",
                        "an interactive container cannot hold a form",
                    ));
                }
                named("form name", name)?;
                let inner = Place {
                    in_form: true,
                    ..place.inside()
                };
                json!({ "tag": "form", "name": name, "elements": elements(els, ids, inner)? })
            }
            Element::Input { name, placeholder } => {
                named("input name", name)?;
                json!({ "tag": "input", "name": name, "placeholder": plain(placeholder) })
            }
            Element::Select { name, options: o } => {
                named("select name", name)?;
                json!({ "tag": "select_static", "name": name, "options": options(o) })
            }
            Element::MultiSelect { name, options: o } => {
                named("select name", name)?;
                json!({ "tag": "multi_select_static", "name": name, "options": options(o) })
            }
            Element::SelectPerson { name, multiple } => {
                named("select name", name)?;
                let tag = if *multiple {
                    "multi_select_person"
                } else {
                    "select_person"
                };
                json!({ "tag": tag, "name": name })
            }
            Element::Picker {
                kind,
                name,
                placeholder,
            } => {
                named("picker name", name)?;
                let tag = match kind {
                    Picker::Date => "date_picker",
                    Picker::Time => "picker_time",
                    Picker::DateTime => "picker_datetime",
                };
                json!({ "tag": tag, "name": name, "placeholder": plain(placeholder) })
            }
            Element::Checker {
                name,
                text,
                checked,
            } => {
                named("checker name", name)?;
                json!({ "tag": "checker", "name": name, "text": plain(text), "checked": checked })
            }
            Element::Chart(spec) => json!({ "tag": "chart", "chart_spec": spec }),
            Element::Table {
                columns,
                rows,
                page_size,
            } => {
                if place.nested {
                    return Err(invalid(
                        "table",
                        "a table sits at the top level of the body, not inside another element",
                    ));
                }
                if columns.is_empty() {
                    return Err(ContentError::Empty {
                        what: "table columns",
                    });
                }
                if !(1..=10).contains(page_size) {
                    return Err(invalid("page_size", "rows per page are 1 to 10"));
                }
                for row in rows {
                    if let Some(key) = row.keys().find(|k| !columns.iter().any(|c| &c.name == *k)) {
                        return Err(ContentError::Invalid {
                            what: "table row",
                            reason: format!("{key:?} is not the name of a column"),
                        });
                    }
                }
                json!({
                    "tag": "table",
                    "page_size": page_size,
                    "columns": columns.iter().map(Column::to_value).collect::<Vec<_>>(),
                    "rows": rows,
                })
            }
            Element::Person { open_id } => {
                named("person open_id", open_id)?;
                json!({ "tag": "person", "user_id": open_id, "show_avatar": true, "show_name": true })
            }
            Element::Container {
                behaviors,
                elements: els,
            } => {
                let inner = Place {
                    in_container: true,
                    ..place.inside()
                };
                json!({
                    "tag": "interactive_container",
                    "behaviors": behaviors.iter().map(Behavior::to_value).collect::<Vec<_>>(),
                    "elements": elements(els, ids, inner)?,
                })
            }
        };
        let id = match self {
            Element::Markdown { element_id, .. } => element_id.clone(),
            Element::Button(b) => b.element_id.clone(),
            _ => None,
        };
        if let Some(id) = id {
            check_element_id(&id)?;
            if !ids.insert(id.clone()) {
                return Err(ContentError::Invalid {
                    what: "element_id",
                    reason: format!("{id:?} is used twice; element ids are unique in a card"),
                });
            }
            v["element_id"] = id.into();
        }
        Ok(v)
    }
}

/// Element ids: a letter first, then letters, digits or `_`, at most 20 characters. The
/// sources this crate was built from document no format (UNVERIFIED): this is a conservative
/// choice, so that an id the builder accepts is a plain identifier any schema takes; it is
/// pinned by a test and may be relaxed when the platform's rule is known.
pub(crate) fn check_element_id(id: &str) -> Result<(), ContentError> {
    let ok = id.len() <= 20
        && id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ContentError::Invalid {
            what: "element_id",
            reason: format!("{id:?}: use a letter, then letters, digits or `_`, 20 at most"),
        })
    }
}
