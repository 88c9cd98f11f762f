//! The generated test tables: every event to its typed handler, and every method sent to
//! the mock platform with its path, query and body checked.

use proc_macro2::TokenStream;
use quote::quote;

use super::*;
/// Where the generated event-registration test goes.
pub const EVENTS_TEST: &str = "tests/integration/tests/suite/generated/events.rs";

/// The event test: one dispatcher with every generated `on_<event>` registration, and
/// one delivery per event type that must reach its own typed handler.
pub fn emit_event_tests(ir: &Ir, out: &mut Output) -> Result<(), Error> {
    let mut registrations = Vec::new();
    let mut total = 0usize;
    for p in &ir.projects {
        for v in &p.versions {
            let Some(events) = &v.events else { continue };
            for ev in &events.events {
                total += 1;
                if !has_handler(&ev.event_type) {
                    continue;
                }
                let method = id(&format!("on_{}", names::snake(&ev.event_type)));
                let t = &ev.event_type;
                registrations.push(quote! { .#method(counter(&seen, #t)) });
            }
        }
    }
    let handled = registrations.len();
    let header = inner_doc(&format!(
        "Every event type with a generated `on_<event>` registration ({handled} of the {total} events;\nthe legacy card callback is served by `CardActionHandler`): one dispatcher registers them\nall, and one delivery of each type must reach its own typed handler.\n\n{HEADER}"
    ));
    let file = quote! {
        #header

        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        use lark_oapi::dispatcher::{Event, EventDispatcher, HandlerResult};
        use lark_oapi::prelude::*;

        type Seen = Arc<Mutex<HashMap<&'static str, usize>>>;

        /// A typed handler that counts its deliveries and answers with the default answer.
        fn counter<P, A: Default>(
            seen: &Seen,
            event_type: &'static str,
        ) -> impl Fn(Event<P>) -> std::future::Ready<HandlerResult<A>> + Send + Sync + 'static {
            let seen = seen.clone();
            move |_event| {
                *seen.lock().unwrap().entry(event_type).or_default() += 1;
                std::future::ready(Ok(A::default()))
            }
        }

        /// Event types served by `CardActionHandler` instead (not wire names).
        fn has_registration(event_type: &str) -> bool {
            event_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        }

        fn dispatcher(seen: Seen) -> EventDispatcher {
            EventDispatcher::builder()
                #(#registrations)*
                .build()
        }

        #[tokio::test]
        async fn every_event_type_reaches_its_typed_handler() {
            let seen = Seen::default();
            let d = dispatcher(seen.clone());
            let events: Vec<_> = lark_oapi::event_types()
                .into_iter()
                .filter(|(t, _)| has_registration(t))
                .collect();
            assert_eq!(events.len(), #handled, "one registration per event type");
            for (i, (event_type, schema)) in events.iter().enumerate() {
                let body = if *schema == "2.0" {
                    serde_json::json!({
                        "schema": "2.0",
                        "header": {"event_id": format!("ev-{i}"), "event_type": event_type, "token": ""},
                        "event": {}
                    })
                } else {
                    serde_json::json!({
                        "uuid": format!("uuid-{i}"), "token": "", "type": "event_callback",
                        "event": {"type": event_type}
                    })
                };
                let reply = d.handle("POST", &[], body.to_string().as_bytes()).await;
                assert_eq!(reply.status, 200, "{event_type}: {}", String::from_utf8_lossy(&reply.body));
                assert_eq!(seen.lock().unwrap().get(event_type), Some(&1), "{event_type} reached its handler");
            }
            assert_eq!(seen.lock().unwrap().len(), #handled);
        }
    };
    let text = render(file, EVENTS_TEST)?;
    out.files.insert(PathBuf::from(EVENTS_TEST), text);
    Ok(())
}

/// Where the generated round-trip test table goes.
pub const ROUNDTRIP_TEST: &str = "tests/integration/tests/suite/generated/cases.rs";

/// A sample value for a parameter, as Rust and as it must appear on the wire.
fn sample(p: &Param, v: &Version) -> (TokenStream, String) {
    match &p.ty {
        ParamType::String => {
            let s = format!("s-{}", p.name);
            (quote! { #s }, s)
        }
        ParamType::Int => (quote! { 7 }, "7".into()),
        ParamType::Float => (quote! { 1.5 }, "1.5".into()),
        ParamType::Bool => (quote! { true }, "true".into()),
        ParamType::Enum(e) => {
            let wire = v
                .enums
                .iter()
                .find(|x| &x.name == e)
                .and_then(|x| x.variants.first())
                .map(|(_, w)| w.clone())
                .unwrap_or_default();
            (quote! { #wire }, wire)
        }
    }
}

/// A value of model `name` with every required field set (nested models too, to a depth),
/// for the round-trip table.
fn sample_model(name: &str, p: &Project, v: &Version, depth: usize) -> TokenStream {
    let target = resolve_alias(name, &v.aliases);
    let (pm, vm) = (id(&p.module), id(&v.module));
    let ty = id(&target);
    let Some(model) = v.models.iter().find(|m| m.name == target) else {
        return quote! { Default::default() };
    };
    let mut set = Vec::new();
    for f in model.fields.iter().filter(|f| f.required) {
        let ident = id(&f.ident);
        let value = match &f.ty {
            TypeRef::String => Some(quote! { "sample".into() }),
            TypeRef::File => Some(quote! { lark_oapi::FilePart::bytes(b"roundtrip".to_vec()) }),
            TypeRef::Enum(e) => v.enums.iter().find(|en| &en.name == e).and_then(|en| {
                let (variant, _) = en.variants.first()?;
                let (e, variant) = (id(e), id(variant));
                Some(quote! { lark_oapi::#pm::#vm::models::#e::#variant })
            }),
            TypeRef::Model(n) if depth < 4 => Some(sample_model(n, p, v, depth + 1)),
            TypeRef::List(inner) => match &**inner {
                TypeRef::Model(n) if depth < 4 => {
                    let item = sample_model(n, p, v, depth + 1);
                    Some(quote! { vec![#item] })
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(value) = value {
            set.push(if f.optional {
                quote! { #ident: Some(#value), }
            } else {
                quote! { #ident: #value, }
            });
        }
    }
    let rest = (set.len() < model.fields.len()).then(|| quote! { ..Default::default() });
    quote! { lark_oapi::#pm::#vm::models::#ty { #(#set)* #rest } }
}

/// The round-trip test table: every method is built with sample arguments, sent to the
/// mock platform, and the method, path and query the mock recorded are asserted.
pub fn emit_roundtrip_tests(ir: &Ir, out: &mut Output) -> Result<(), Error> {
    let mut tests = Vec::new();
    for p in &ir.projects {
        let mut cases = Vec::new();
        for v in &p.versions {
            for r in &v.resources {
                for m in &r.methods {
                    let (pm, vm, rm, f) =
                        (id(&p.module), id(&v.module), id(&r.module), id(&m.function));
                    let mut path = m.path.clone();
                    let mut args = Vec::new();
                    for a in &m.path_params {
                        let value = format!("p-{}", a.name);
                        path = path.replace(&format!(":{}", a.name), &value);
                        args.push(quote! { #value });
                    }
                    let mut setters = Vec::new();
                    let mut query = Vec::new();
                    for q in m.query_params.iter().filter(|q| q.required) {
                        let (rust, wire) = sample(q, v);
                        let setter = id(&q.ident);
                        if q.repeated {
                            setters.push(quote! { .#setter([#rust]) });
                        } else {
                            setters.push(quote! { .#setter(#rust) });
                        }
                        let name = &q.name;
                        query.push(quote! { (#name, #wire) });
                    }
                    if let Some(body) = &m.body {
                        // Every field the specs require is set (the SDK refuses the call
                        // otherwise), uploads with a small file in each required file part.
                        let sample = sample_model(&body.model, p, v, 0);
                        setters.push(quote! { .body(#sample) });
                    }
                    let user_only = !m.token_types.is_empty()
                        && !m.token_types.iter().any(|t| t == "tenant" || t == "app");
                    if user_only {
                        setters.push(quote! { .user_access_token("u-roundtrip") });
                    }
                    let http = &m.http_method;
                    let label = format!("{}.{}.{}.{}", p.name, v.name, r.name, m.name);
                    let outcome = match &m.response {
                        Response::Binary => quote! { download_outcome(call.send().await) },
                        Response::Json(_) => quote! { outcome(call.send().await) },
                    };
                    let get_with_body = m.http_method == "GET" && m.body.is_some();
                    let auth = !m.no_auth;
                    cases.push(quote! {
                        {
                            let call = client.#pm().#vm().#rm().#f(#(#args),*) #(#setters)*;
                            let result = #outcome;
                            check(&mock, result, &Case { label: #label, method: #http, path: #path, query: &[#(#query),*], get_with_body: #get_with_body, auth: #auth });
                        }
                    });
                }
            }
        }
        if cases.is_empty() {
            continue;
        }
        let test = id(&format!("roundtrip_{}", p.module.trim_start_matches("r#")));
        tests.push(quote! {
            #[tokio::test]
            pub(crate) async fn #test() {
                let (mock, client) = setup().await;
                #(#cases)*
            }
        });
    }
    let total = ir.method_count();
    let header = inner_doc(&format!(
        "Round trip of every generated method ({total}) against the mock platform: each is\nbuilt with sample arguments and sent; the method, path and query the mock recorded are\nasserted.\n\n{HEADER}"
    ));
    let file = quote! {
        #header

        #[allow(unused_imports)]
        use lark_oapi::CallOptions;
        use lark_oapi::{Client, Config, Domain, Error, RetryPolicy};
        use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform};

        pub(crate) async fn setup() -> (MockPlatform, Client) {
            let mock = MockPlatform::start().await.expect("mock platform starts");
            let client = Client::new(
                Config::builder(APP_ID, APP_SECRET)
                    .domain(Domain::custom(mock.base_url()))
                    .retry_policy(RetryPolicy::disabled())
                    .build()
                    .expect("valid config"),
            );
            // Fetch the token now, so that every request recorded later is the call's own.
            client.tenant_access_token(None).await.expect("token");
            client.app_access_token().await.expect("app token");
            mock.clear_requests();
            (mock, client)
        }

        /// What a call ended with: the platform (mock) answered, or the SDK refused.
        fn outcome<T>(result: lark_oapi::Result<T>) -> Result<(), Error> {
            match result {
                Ok(_) => Ok(()),
                Err(e @ (Error::Api(_) | Error::Decode(_) | Error::Http(_))) => {
                    let _ = e;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }

        fn download_outcome(result: lark_oapi::Result<lark_oapi::Download>) -> Result<(), Error> {
            outcome(result)
        }

        /// What one method must put on the wire.
        struct Case {
            label: &'static str,
            method: &'static str,
            path: &'static str,
            query: &'static [(&'static str, &'static str)],
            get_with_body: bool,
            auth: bool,
        }

        fn check(mock: &MockPlatform, result: Result<(), Error>, case: &Case) {
            let Case { label, method, path, query, get_with_body, auth } = *case;
            if let Err(e) = result {
                panic!("{label}: the SDK refused the call: {e}");
            }
            let recorded = mock.requests();
            mock.clear_requests();
            assert_eq!(recorded.len(), 1, "{label}: expected one request, got {recorded:#?}");
            let r = &recorded[0];
            assert_eq!(r.method, method, "{label}");
            assert_eq!(r.path, path, "{label}");
            for (k, v) in query {
                assert_eq!(r.query_values(k), [*v], "{label}: query {k}");
            }
            if method == "GET" && !get_with_body {
                assert!(r.body.is_empty(), "{label}: a GET carried a body");
            }
            if auth {
                assert!(r.header("authorization").is_some_and(|a| a.starts_with("Bearer ")), "{label}");
            } else {
                assert!(r.header("authorization").is_none(), "{label}: token endpoints take no token");
            }
        }

        #(#tests)*
    };
    let text = render(file, ROUNDTRIP_TEST)?;
    out.files.insert(PathBuf::from(ROUNDTRIP_TEST), text);
    Ok(())
}
