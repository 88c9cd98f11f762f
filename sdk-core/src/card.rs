//! Message cards: the `content` string of interactive messages.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::json::{self, JsonWriter};

/// The `content` of a message that shows a card template: the JSON text
/// `{"type":"template","data":{"template_id":…,"template_variable":{…}}}`.
///
/// ```
/// use std::collections::BTreeMap;
/// let vars = BTreeMap::from([("name".to_owned(), serde_json::json!("Ada"))]);
/// let content = lark_oapi_core::card::template_content("AAqk1x", Some(&vars));
/// assert_eq!(content, r#"{"type":"template","data":{"template_id":"AAqk1x","template_variable":{"name":"Ada"}}}"#);
/// ```
pub fn template_content(template_id: &str, variables: Option<&BTreeMap<String, Value>>) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field("type", "template");
    w.field(
        "data",
        &TemplateData {
            template_id,
            variables,
        },
    );
    w.end_object();
    String::from_utf8(w.into_bytes()).unwrap_or_default()
}

/// The `content` of a message that shows a card given as JSON (msg_type `interactive`).
///
/// A card given as a JSON *string* holding the card's JSON text (already encoded once) is
/// used as is rather than encoded a second time, which the platform would refuse.
///
/// ```
/// use lark_oapi_core::card::interactive_content;
/// let card = serde_json::json!({"elements": [{"tag": "markdown", "content": "**hi**"}]});
/// let content = interactive_content(&card);
/// assert_eq!(content, r#"{"elements":[{"content":"**hi**","tag":"markdown"}]}"#);
/// // Already-encoded text is not encoded again.
/// assert_eq!(interactive_content(&serde_json::Value::String(content.clone())), content);
/// ```
pub fn interactive_content(card: &Value) -> String {
    if let Value::String(text) = card
        && serde_json::from_str::<serde_json::Map<String, Value>>(text).is_ok()
    {
        return text.clone();
    }
    String::from_utf8(json::to_vec(card)).unwrap_or_default()
}

struct TemplateData<'a> {
    template_id: &'a str,
    variables: Option<&'a BTreeMap<String, Value>>,
}

impl json::ToJson for TemplateData<'_> {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.field("template_id", self.template_id);
        if let Some(vars) = self.variables {
            w.field("template_variable", vars);
        }
        w.end_object();
    }
}
