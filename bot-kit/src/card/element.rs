//! Body elements of a Card JSON 2.0 card and their checks.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

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

/// A button.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub(crate) text: String,
    pub(crate) kind: &'static str,
    pub(crate) behaviors: Vec<Behavior>,
    pub(crate) form_action: Option<&'static str>,
    pub(crate) name: Option<String>,
    pub(crate) element_id: Option<String>,
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
    pub(crate) name: String,
    pub(crate) display_name: String,
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

    pub(crate) fn wire_type(&self) -> &'static str {
        match self.data_type {
            DataType::Text => "text",
            DataType::Markdown => "lark_md",
            DataType::Number => "number",
            DataType::Date => "date",
            DataType::Persons => "persons",
        }
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

    pub(crate) fn check<'a>(
        &'a self,
        ids: &mut BTreeSet<&'a str>,
        place: Place,
    ) -> Result<(), ContentError> {
        let all = |els: &'a [Element], ids: &mut BTreeSet<&'a str>, place: Place| {
            els.iter().try_for_each(|e| e.check(ids, place))
        };
        match self {
            Element::Markdown { .. } | Element::Text(_) | Element::Divider | Element::Chart(_) => {}
            Element::Image { img_key, .. } => {
                if img_key.trim().is_empty() {
                    return Err(ContentError::Empty { what: "img_key" });
                }
            }
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
            }
            Element::Columns(columns) => {
                for (_, els) in columns {
                    all(els, ids, place.inside())?;
                }
            }
            Element::Collapsible { elements, .. } => all(elements, ids, place.inside())?,
            Element::Form { name, elements } => {
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
                all(elements, ids, inner)?;
            }
            Element::Input { name, .. } => named("input name", name)?,
            Element::Select { name, .. }
            | Element::MultiSelect { name, .. }
            | Element::SelectPerson { name, .. } => named("select name", name)?,
            Element::Picker { name, .. } => named("picker name", name)?,
            Element::Checker { name, .. } => named("checker name", name)?,
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
            }
            Element::Person { open_id } => named("person open_id", open_id)?,
            Element::Container { elements, .. } => {
                let inner = Place {
                    in_container: true,
                    ..place.inside()
                };
                all(elements, ids, inner)?;
            }
        }
        if let Some(id) = self.element_id() {
            check_element_id(id)?;
            if !ids.insert(id) {
                return Err(ContentError::Invalid {
                    what: "element_id",
                    reason: format!("{id:?} is used twice; element ids are unique in a card"),
                });
            }
        }
        Ok(())
    }

    /// The element's id, for the kinds that take one.
    pub(crate) fn element_id(&self) -> Option<&str> {
        match self {
            Element::Markdown { element_id, .. } => element_id.as_deref(),
            Element::Button(b) => b.element_id.as_deref(),
            _ => None,
        }
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
