//! Every Rust name the generator emits is decided here: case conversion, keywords,
//! names that start with a digit, names that collide with what generated code uses, and
//! collisions between names that map to the same identifier.

use std::collections::BTreeSet;

/// Rust keywords (strict and reserved, all editions up to 2024).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Type names generated code refers to unqualified: a model with one of these names is renamed.
const RESERVED_TYPES: &[&str] = &[
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Box",
    "Value",
    "Default",
    "Map",
    "FromJson",
    "ToJson",
    "JsonError",
    "JsonWriter",
    "Client",
    "Response",
    "Error",
    "FilePart",
    "Multipart",
    "RequestSpec",
    "RequestOptions",
];

/// Splits a name into lowercase words at `_`, `-`, `.`, spaces and case changes
/// (`chatMembers` -> chat, members; `HTTPServer` -> http, server; `v2Beta` -> v2, beta).
pub fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `snake_case` (not yet made a valid identifier).
pub fn snake(name: &str) -> String {
    words(name).join("_")
}

/// `CamelCase` (not yet made a valid identifier).
pub fn camel(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_uppercase().chain(cs).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Makes `name` a valid identifier: keywords become raw (`r#type`) or get a `_` suffix
/// where raw is not allowed (`self_`); a leading digit gets a `_` prefix; anything empty
/// becomes `_unnamed`.
pub fn ident(name: &str) -> String {
    if name.is_empty() {
        return "_unnamed".into();
    }
    if NOT_RAW.contains(&name) {
        return format!("{name}_");
    }
    if KEYWORDS.contains(&name) {
        return format!("r#{name}");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return format!("_{name}");
    }
    name.to_owned()
}

/// A module, function, method or field name from a wire name.
pub fn snake_ident(name: &str) -> String {
    ident(&snake(name))
}

/// A type or variant name.
pub fn type_ident(name: &str) -> String {
    let c = camel(name);
    if c.is_empty() {
        return "Unnamed".into();
    }
    if c.starts_with(|ch: char| ch.is_ascii_digit()) {
        return format!("V{c}");
    }
    if KEYWORDS.contains(&c.as_str()) || NOT_RAW.contains(&c.as_str()) {
        return format!("{c}Type");
    }
    c
}

/// The Rust name of a model type named `name` in the dataset (already CamelCase there).
pub fn model_type(name: &str) -> String {
    if RESERVED_TYPES.contains(&name) {
        return format!("{name}Model");
    }
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return name.to_owned();
    }
    type_ident(name)
}

/// Hands out unique names within one scope: a second `a_b` becomes `a_b_2`.
#[derive(Debug, Default)]
pub struct Scope {
    taken: BTreeSet<String>,
}

impl Scope {
    /// A scope where `reserved` names are already taken.
    pub fn with_reserved(reserved: &[&str]) -> Self {
        Self {
            taken: reserved.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Whether `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    /// `candidate`, or `candidate_2`, `candidate_3`... (`Candidate2` style for type names).
    pub fn claim(&mut self, candidate: &str) -> String {
        if self.taken.insert(candidate.to_owned()) {
            return candidate.to_owned();
        }
        let camel = candidate.starts_with(|c: char| c.is_ascii_uppercase());
        let base = candidate.trim_start_matches("r#");
        for n in 2.. {
            let next = if camel {
                format!("{base}{n}")
            } else {
                format!("{base}_{n}")
            };
            if self.taken.insert(next.clone()) {
                return next;
            }
        }
        unreachable!()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversion() {
        assert_eq!(snake("chatMembers"), "chat_members");
        assert_eq!(snake("add_managers"), "add_managers");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("user-id.type"), "user_id_type");
        assert_eq!(camel("chat_members"), "ChatMembers");
        assert_eq!(camel("open_id"), "OpenId");
        assert_eq!(camel("NoNeedCheck"), "NoNeedCheck");
        assert_eq!(camel("v2"), "V2");
    }

    #[test]
    fn keywords_and_digits() {
        assert_eq!(snake_ident("type"), "r#type");
        assert_eq!(snake_ident("move"), "r#move");
        assert_eq!(snake_ident("match"), "r#match");
        assert_eq!(snake_ident("enum"), "r#enum");
        assert_eq!(snake_ident("self"), "self_");
        assert_eq!(snake_ident("super"), "super_");
        assert_eq!(snake_ident("2fa_enabled"), "_2fa_enabled");
        assert_eq!(snake_ident(""), "_unnamed");
        assert_eq!(type_ident("1"), "V1");
        assert_eq!(type_ident("self"), "SelfType");
        assert_eq!(type_ident("type"), "Type");
        assert_eq!(type_ident("open_id"), "OpenId");
    }

    #[test]
    fn models_that_collide_with_what_generated_code_uses() {
        assert_eq!(model_type("Option"), "OptionModel");
        assert_eq!(model_type("Value"), "ValueModel");
        assert_eq!(model_type("Message"), "Message");
    }

    #[test]
    fn collisions_get_numbered() {
        let mut s = Scope::with_reserved(&["send"]);
        assert_eq!(s.claim("send"), "send_2");
        assert_eq!(s.claim("user_id"), "user_id");
        assert_eq!(s.claim("user_id"), "user_id_2");
        assert_eq!(s.claim("OpenId"), "OpenId");
        assert_eq!(s.claim("OpenId"), "OpenId2");
        assert_eq!(s.claim("r#type"), "r#type");
        assert_eq!(s.claim("r#type"), "type_2");
    }
}
