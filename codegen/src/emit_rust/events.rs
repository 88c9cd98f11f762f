//! Typed events: the payload models and `on_<event>` handler registration of a version.

use quote::quote;

use super::*;
pub(super) fn emit_events(
    p: &Project,
    v: &Version,
    e: &Events,
    dir: &str,
    out: &mut Output,
) -> Result<(), Error> {
    let enums = e.enums.iter().map(emit_enum);
    let checked = checked_models(&e.models, &e.aliases);
    let models = e.models.iter().map(|m| emit_model(m, &checked, &e.aliases));
    let aliases = e.aliases.iter().map(emit_alias);
    let consts = e.events.iter().map(|ev| {
        let name = id(&names::snake(&ev.event_type).to_uppercase());
        let wire = &ev.event_type;
        let mut text = ev.doc.clone().unwrap_or_else(|| format!("`{wire}`"));
        text.push_str(&format!(
            "\n\nSchema {}; payload `{}`",
            ev.schema, ev.payload
        ));
        if let Some(r) = &ev.response {
            text.push_str(&format!("; the handler answers `{r}`"));
        }
        text.push('.');
        let d = doc(&text);
        quote! { #d pub const #name: &str = #wire; }
    });
    let table = e.events.iter().map(|ev| {
        let (t, schema) = (&ev.event_type, &ev.schema);
        quote! { (#t, #schema), }
    });
    let module_doc = inner_doc(&format!(
        "Events of `{}` {}: their type names and payload types.\n\n{HEADER}",
        p.name, v.name
    ));
    let file = quote! {
        #module_doc
        #![allow(unused_imports)]
        use lark_oapi_core::__private::json::{self, FromJson, JsonError, JsonWriter, ToJson};
        use serde_json::Value;

        /// Every event of this module: (event type, envelope schema).
        pub const EVENT_TYPES: &[(&str, &str)] = &[#(#table)*];
        #(#consts)*
        #(#enums)*
        #(#models)*
        #(#aliases)*
    };
    put(out, &format!("{dir}/events.rs"), file)
}

/// Whether an event type is a wire name that gets an `on_<event>` method (the legacy
/// card callback, listed among the events with a descriptive name, is served by
/// `CardActionHandler` instead).
pub(crate) fn has_handler(event_type: &str) -> bool {
    !event_type.is_empty()
        && event_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

/// The name of the trait holding the `on_<event>` methods of a project version.
pub(crate) fn handlers_trait(p: &Project, v: &Version) -> String {
    format!(
        "{}{}EventHandlers",
        names::camel(&p.name),
        names::camel(&v.name)
    )
}

/// `event_handlers.rs`: a trait of typed `on_<event>` registrations, one per event, and
/// the `Answer` impls of callback responses. `false` if the version has none.
pub(super) fn emit_event_handlers(
    p: &Project,
    v: &Version,
    e: &Events,
    dir: &str,
    out: &mut Output,
) -> Result<bool, Error> {
    let events: Vec<_> = e
        .events
        .iter()
        .filter(|ev| has_handler(&ev.event_type))
        .collect();
    if events.is_empty() {
        return Ok(false);
    }
    let trait_name = id(&handlers_trait(p, v));
    let methods = events.iter().map(|ev| {
        let method = id(&format!("on_{}", names::snake(&ev.event_type)));
        let konst = id(&names::snake(&ev.event_type).to_uppercase());
        let payload = id(&ev.payload);
        let answer = match &ev.response {
            Some(r) => {
                let r = id(r);
                quote! { super::events::#r }
            }
            None => quote! { () },
        };
        let summary = ev.doc.clone().unwrap_or_default();
        let mut text = format!(
            "Handles `{}`{}: the handler gets an [`Event`] with a [`{}`](super::events::{}) payload",
            ev.event_type,
            if summary.is_empty() || summary.starts_with('@') {
                String::new()
            } else {
                let first = summary.lines().next().unwrap_or_default();
                format!(" ({})", first.replace('[', "\\[").replace(']', "\\]"))
            },
            ev.payload,
            ev.payload,
        );
        match &ev.response {
            Some(r) => text.push_str(&format!(" and answers with a [`{r}`](super::events::{r}).")),
            None => text.push('.'),
        }
        let d = format!(" {text}");
        quote! {
            #[doc = #d]
            fn #method<F, Fut>(self, handler: F) -> Self
            where
                F: Fn(Event<super::events::#payload>) -> Fut + Send + Sync + 'static,
                Fut: Future<Output = HandlerResult<#answer>> + Send + 'static,
            {
                self.on_event(super::events::#konst, handler)
            }
        }
    });
    let answers = events
        .iter()
        .filter_map(|ev| ev.response.as_ref())
        .map(|r| {
            let r = id(r);
            quote! {
                impl Answer for super::events::#r {
                    fn into_answer(self) -> Option<Value> {
                        lark_oapi_core::__private::answer_json(&self)
                    }
                }
            }
        });
    let module_doc = inner_doc(&format!(
        "Typed handler registration for the events of `{}` {}: bring [`{}`] into scope (it is in \
         `lark_oapi::prelude`) and call its `on_<event>` methods on an `EventDispatcher` builder.\n\n{HEADER}",
        p.name,
        v.name,
        handlers_trait(p, v)
    ));
    let trait_doc = doc(&format!(
        "The `on_<event>` registrations of `{}` {}, for `EventDispatcherBuilder`.",
        p.name, v.name
    ));
    let file = quote! {
        #module_doc
        #![allow(unused_imports)]
        use std::future::Future;
        use lark_oapi_core::__private::RegisterHandlers;
        use lark_oapi_core::dispatcher::{Answer, Event, HandlerResult};
        use serde_json::Value;

        #trait_doc
        pub trait #trait_name: RegisterHandlers {
            #(#methods)*
        }

        impl<T: RegisterHandlers> #trait_name for T {}

        #(#answers)*
    };
    put(out, &format!("{dir}/event_handlers.rs"), file)?;
    Ok(true)
}
