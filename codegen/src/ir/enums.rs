//! Naming the string enums of a version (one enum per distinct value set) and what their
//! values mean.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// Enum naming state of one project-version.
pub(super) struct Enums {
    /// (values) by Rust name.
    pub(super) by_name: BTreeMap<String, Vec<String>>,
    /// Rust name by (values).
    pub(super) by_values: BTreeMap<Vec<String>, Vec<String>>,
    /// What each value means, by enum Rust name (first text that says it wins).
    pub(super) docs: BTreeMap<String, BTreeMap<String, String>>,
    pub(super) scope: Scope,
}

impl Enums {
    /// The enum for `values`, named after `field` (or `owner` + `field` on a clash); `doc`
    /// (the field's normalized text) says what values mean.
    pub(super) fn resolve(
        &mut self,
        owner: &str,
        field: &str,
        values: &[String],
        doc: Option<&str>,
    ) -> String {
        let name = self.name(owner, field, values);
        if let Some(text) = doc {
            let known = self.docs.entry(name.clone()).or_default();
            for (value, meaning) in doc_text::value_docs(text, values) {
                known.entry(value).or_insert(meaning);
            }
        }
        name
    }

    fn name(&mut self, owner: &str, field: &str, values: &[String]) -> String {
        let key = values.to_vec();
        let base = names::model_type(&names::type_ident(field));
        if let Some(names) = self.by_values.get(&key)
            && let Some(n) = names.iter().find(|n| n.starts_with(&base))
        {
            return n.clone();
        }
        let candidate = if self.scope.contains(&base) {
            format!("{}{}", names::type_ident(owner), base)
        } else {
            base
        };
        let name = self.scope.claim(&candidate);
        self.by_name.insert(name.clone(), key.clone());
        self.by_values.entry(key).or_default().push(name.clone());
        name
    }
}

/// The enums a namer collected, sorted, with variant names decided.
pub(super) fn finish_enums(mut enums: Enums) -> Vec<Enum> {
    let mut list: Vec<Enum> = enums
        .by_name
        .into_iter()
        .map(|(name, values)| {
            let mut vs = Scope::with_reserved(&["Unknown"]);
            let mut seen = BTreeSet::new();
            let variants = values
                .into_iter()
                .filter(|v| seen.insert(v.clone()))
                .map(|v| (vs.claim(&names::type_ident(&v)), v))
                .collect();
            let value_docs = enums.docs.remove(&name).unwrap_or_default();
            Enum {
                name,
                variants,
                value_docs,
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}
