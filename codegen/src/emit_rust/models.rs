//! `models.rs` of a version: structs (with their JSON writers, readers and required-field
//! checks), aliases and string enums.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::*;
pub(super) fn emit_models(
    p: &Project,
    v: &Version,
    dir: &str,
    out: &mut Output,
) -> Result<(), Error> {
    let enums = v.enums.iter().map(emit_enum);
    let checked = checked_models(&v.models, &v.aliases);
    let models = v.models.iter().map(|m| emit_model(m, &checked, &v.aliases));
    let aliases = v.aliases.iter().map(emit_alias);
    let module_doc = inner_doc(&format!(
        "Data types of the `{}` {} APIs.\n\n{HEADER}",
        p.name, v.name
    ));
    let file = quote! {
        #module_doc
        #![allow(unused_imports)]
        use lark_oapi_core::__private::json::{self, FromJson, JsonError, JsonWriter, ToJson};
        use serde_json::Value;

        #(#enums)*
        #(#models)*
        #(#aliases)*
    };
    put(out, &format!("{dir}/models.rs"), file)
}

pub(super) fn emit_alias(a: &Alias) -> TokenStream {
    let name = id(&a.name);
    let target = id(&a.target);
    let d = match &a.doc {
        Some(text) => doc(text),
        None => doc(&format!("`{}`", a.wire_name)),
    };
    // Not through `doc`, which escapes brackets: this one is a link.
    let link = format!(" The same fields as [`{}`]: one type, two names.", a.target);
    quote! {
        #d
        #[doc = ""]
        #[doc = #link]
        pub type #name = #target;
    }
}

pub(super) fn emit_enum(e: &Enum) -> TokenStream {
    let name = id(&e.name);
    let variants = e.variants.iter().map(|(v, wire)| {
        let v = id(v);
        let d = match e.value_docs.get(wire) {
            Some(meaning) => doc(&format!("`{wire}`: {meaning}")),
            None => doc(&format!("`{wire}`")),
        };
        quote! { #d #v, }
    });
    let as_str = e.variants.iter().map(|(v, wire)| {
        let v = id(v);
        quote! { Self::#v => #wire, }
    });
    let from = e.variants.iter().map(|(v, wire)| {
        let v = id(v);
        quote! { #wire => Self::#v, }
    });
    let d = format!(
        " One of: {}. Values this version of the SDK does not know are kept in `Unknown`.",
        e.variants
            .iter()
            .map(|(_, w)| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    quote! {
        #[doc = #d]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(from = "String", into = "String"))]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            /// A value not listed when this SDK was generated (readable, not buildable: convert
            /// the wire string with `From<&str>` instead).
            Unknown(lark_oapi_core::UnknownValue),
        }
        impl #name {
            /// The value on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#as_str)*
                    Self::Unknown(other) => other.as_str(),
                }
            }
        }
        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#from)*
                    other => Self::Unknown(lark_oapi_core::__private::unknown_value(other.to_owned())),
                }
            }
        }
        impl From<String> for #name {
            fn from(value: String) -> Self {
                match Self::from(value.as_str()) {
                    Self::Unknown(_) => Self::Unknown(lark_oapi_core::__private::unknown_value(value)),
                    known => known,
                }
            }
        }
        impl From<#name> for String {
            fn from(value: #name) -> String {
                match value {
                    #name::Unknown(other) => other.into_string(),
                    known => known.as_str().to_owned(),
                }
            }
        }
        impl json::Absent for #name {
            fn absent() -> Self {
                Self::Unknown(lark_oapi_core::__private::unknown_value(String::new()))
            }
        }
        impl FromJson for #name {
            fn from_json(value: Value) -> Result<Self, JsonError> {
                String::from_json(value).map(Self::from)
            }
            fn from_reader(r: &mut json::Reader<'_>) -> Result<Self, JsonError> {
                json::read_enum(r)
            }
        }
        impl ToJson for #name {
            fn write_json(&self, w: &mut JsonWriter) {
                w.string(self.as_str());
            }
        }
    }
}

/// The model a field holds, directly or in a list or an `Option`.
fn model_of(t: &TypeRef) -> Option<&str> {
    match t {
        TypeRef::Model(n) => Some(n),
        TypeRef::List(inner) => model_of(inner),
        _ => None,
    }
}

/// The model an alias stands for (or the name itself).
pub(super) fn resolve_alias(name: &str, aliases: &[Alias]) -> String {
    aliases
        .iter()
        .find(|a| a.name == name)
        .map_or_else(|| name.to_owned(), |a| a.target.clone())
}

/// Whether a field is a required one whose unset value can be told: an `Option` (enums,
/// files) that is `None`, or a string that is empty.
fn checks_itself(f: &FieldIr) -> bool {
    f.required
        && if f.optional {
            f.ty != TypeRef::File
        } else {
            f.ty == TypeRef::String
        }
}

/// The encoded models with a required field to check when sent, directly or in a nested
/// model: a required string (empty means unset), a required enum or other `Option`.
pub(super) fn checked_models(models: &[Model], aliases: &[Alias]) -> BTreeSet<String> {
    let mut checked = BTreeSet::new();
    loop {
        let before = checked.len();
        for m in models.iter().filter(|m| m.encode && !m.multipart) {
            if checked.contains(&m.name) {
                continue;
            }
            let has = m.fields.iter().any(|f| {
                checks_itself(f)
                    || model_of(&f.ty).is_some_and(|n| checked.contains(&resolve_alias(n, aliases)))
            });
            if has {
                checked.insert(m.name.clone());
            }
        }
        if checked.len() == before {
            return checked;
        }
    }
}

pub(super) fn emit_model(m: &Model, checked: &BTreeSet<String>, aliases: &[Alias]) -> TokenStream {
    let name = id(&m.name);
    let fields = m.fields.iter().map(|f| {
        let ident = id(&f.ident);
        let ty = field_type(f);
        let d = match &f.doc {
            Some(text) => doc(text),
            None => doc(&format!("`{}`", f.name)),
        };
        let rename = if m.multipart {
            quote! {}
        } else {
            serde_rename(f)
        };
        quote! { #d #rename pub #ident: #ty, }
    });
    let d = match &m.doc {
        Some(text) => doc(text),
        None => doc(&format!("`{}`", m.wire_name)),
    };
    if m.multipart {
        let parts = m.fields.iter().map(|f| {
            let ident = id(&f.ident);
            let wire = &f.name;
            let value = |v: TokenStream| match &f.ty {
                TypeRef::File => quote! { form = form.file(#wire, #v); },
                TypeRef::String => quote! { form = form.text(#wire, #v); },
                TypeRef::Int | TypeRef::Float | TypeRef::Bool => {
                    quote! { form = form.text(#wire, #v); }
                }
                TypeRef::Enum(_) => quote! { form = form.text(#wire, #v.as_str()); },
                _ => {
                    quote! { form = form.text(#wire, String::from_utf8_lossy(&json::to_vec(&#v))); }
                }
            };
            if f.optional && f.required {
                let set = value(quote! { v });
                quote! {
                    match self.#ident {
                        Some(v) => { #set }
                        None => form = form.missing_part(#wire),
                    }
                }
            } else if f.required && f.ty == TypeRef::String {
                let set = value(quote! { self.#ident });
                quote! {
                    if self.#ident.is_empty() { form = form.missing_part(#wire); } else { #set }
                }
            } else if f.optional {
                let set = value(quote! { v });
                quote! { if let Some(v) = self.#ident { #set } }
            } else {
                value(quote! { self.#ident })
            }
        });
        return quote! {
            #d
            #[derive(Debug, Default)]
            pub struct #name { #(#fields)* }
            impl #name {
                /// The multipart form sent on the wire.
                pub fn into_multipart(self) -> lark_oapi_core::Multipart {
                    let mut form = lark_oapi_core::Multipart::new();
                    #(#parts)*
                    form
                }
            }
        };
    }
    let decode = m.decode.then(|| {
        let wire_name = &m.wire_name;
        let arms = m.fields.iter().map(|f| {
            let ident = id(&f.ident);
            let wire = &f.name;
            quote! { #wire => v.put(&mut self.#ident), }
        });
        // One match over the keys as they come, shared by both decoders (a parsed `Value`
        // and one pass over the text, see `json::Reader`); the loops are in the runtime.
        let body = if m.fields.is_empty() {
            quote! { let _ = key; v.skip() }
        } else {
            quote! { match key { #(#arms)* _ => v.skip(), } }
        };
        quote! {
            impl FromJson for #name {
                fn from_json(value: Value) -> Result<Self, JsonError> {
                    json::decode_struct(value)
                }
                fn from_reader(r: &mut json::Reader<'_>) -> Result<Self, JsonError> {
                    json::read_struct(r)
                }
            }
            impl json::DecodeFields for #name {
                const NAME: &'static str = #wire_name;
                fn decode_field(&mut self, key: &str, v: json::Input<'_, '_>) -> Result<(), JsonError> {
                    #body
                }
            }
        }
    });
    let encode = m.encode.then(|| {
        let card = m.card_template.then(|| card_content(m));
        let writes = m
            .fields
            .iter()
            .filter(|f| !(m.card_template && is_card_field(f)))
            .map(|f| {
                let ident = id(&f.ident);
                let wire = &f.name;
                if f.optional {
                    quote! { w.field_opt(#wire, &self.#ident); }
                } else {
                    quote! { w.field(#wire, &self.#ident); }
                }
            });
        let checks = checked.contains(&m.name).then(|| {
            let checks = m.fields.iter().filter_map(|f| {
                let ident = id(&f.ident);
                let wire = &f.name;
                if f.required && f.optional && f.ty != TypeRef::File {
                    Some(quote! { if self.#ident.is_none() { return Some(#wire.to_owned()); } })
                } else if f.required && !f.optional && f.ty == TypeRef::String {
                    Some(quote! { if self.#ident.is_empty() { return Some(#wire.to_owned()); } })
                } else if model_of(&f.ty).is_some_and(|n| checked.contains(&resolve_alias(n, aliases))) {
                    Some(quote! { if let Some(p) = json::nested(#wire, &self.#ident) { return Some(p); } })
                } else {
                    None
                }
            });
            quote! {
                fn missing_required(&self) -> Option<String> {
                    #(#checks)*
                    None
                }
            }
        });
        quote! {
            impl ToJson for #name {
                fn write_json(&self, w: &mut JsonWriter) {
                    w.begin_object();
                    #(#writes)*
                    #card
                    w.end_object();
                }
                #checks
            }
        }
    });
    quote! {
        #d
        #[derive(Debug, Clone, Default, PartialEq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
        pub struct #name { #(#fields)* }
        #decode
        #encode
    }
}

fn is_card_field(f: &FieldIr) -> bool {
    f.name == "template_id" || f.name == "template_variable"
}

/// `msg_type` + `content` of a ByCard body, from its `template_id` and `template_variable`.
fn card_content(m: &Model) -> TokenStream {
    let field = |name: &str| m.fields.iter().find(|f| f.name == name);
    let id_expr = match field("template_id") {
        Some(f) if f.optional => {
            let i = id(&f.ident);
            quote! { self.#i.as_deref().unwrap_or_default() }
        }
        Some(f) => {
            let i = id(&f.ident);
            quote! { &self.#i }
        }
        None => quote! { "" },
    };
    let vars_expr = match field("template_variable") {
        Some(f) if f.optional => {
            let i = id(&f.ident);
            quote! { self.#i.as_ref() }
        }
        Some(f) => {
            let i = id(&f.ident);
            quote! { Some(&self.#i) }
        }
        None => quote! { None },
    };
    quote! {
        w.field("msg_type", "interactive");
        w.field("content", &lark_oapi_core::card::template_content(#id_expr, #vars_expr));
    }
}
