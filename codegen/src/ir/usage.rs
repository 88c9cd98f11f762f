//! Doc text of the IR: spec texts normalized, method titles, and models the specs do not
//! describe described by where they are used.

use std::collections::BTreeMap;

use super::*;

/// A spec text as doc text with its line structure restored.
pub(super) fn doc_of(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(doc_text::normalize)
        .filter(|t| !t.is_empty())
}

/// The English title of a method, else its Chinese summary.
fn method_title(m: &spec::Method, titles: &Titles) -> Option<String> {
    m.description_en
        .as_deref()
        .and_then(|t| titles.split(t).0)
        .or_else(|| m.summary.clone())
}

/// What the methods of a file take and answer, as (type, sentence) in method order.
pub(super) fn method_uses(api: &ApiFile, titles: &Titles) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    for r in &api.resources {
        for m in &r.methods {
            let call = format!("`{}.{}.{}.{}`", api.project, api.version, r.name, m.name);
            let what = method_title(m, titles)
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            if let Some(b) = &m.body {
                uses.push((b.ty.clone(), format!("The request body of {call}{what}.")));
            }
            if let Some(t) = &m.response.ty {
                uses.push((t.clone(), format!("The data {call}{what} answers with.")));
            }
        }
    }
    uses
}

/// A model the specs do not describe is described by its first use: one of `roots` (what a
/// method takes or answers, what an event carries), else a field of another model.
pub(super) fn usage_docs(
    roots: Vec<(String, String)>,
    types: &BTreeMap<String, TypeDef>,
    model_names: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut docs = BTreeMap::new();
    for (ty, sentence) in roots {
        docs.entry(ty).or_insert(sentence);
    }
    for (owner, t) in types {
        for f in &t.fields {
            for used in spec::referenced_types(&f.ty).unwrap_or_default() {
                if used != owner.as_str() {
                    docs.entry(used.to_owned()).or_insert_with(|| {
                        format!("The `{}` of `{}`.", f.name, model_names[owner])
                    });
                }
            }
        }
    }
    docs
}

/// What the events of a file carry and answer, as (type, sentence).
pub(super) fn event_uses(file: &EventFile) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    for e in &file.events {
        let name = &e.event_type;
        uses.push((
            e.payload_type.clone(),
            format!("The payload of the `{name}` event."),
        ));
        if let Some(t) = &e.envelope_type {
            uses.push((t.clone(), format!("The envelope of the `{name}` event.")));
        }
        if let Some(t) = &e.response_type {
            uses.push((t.clone(), format!("The answer to the `{name}` callback.")));
        }
    }
    uses
}
