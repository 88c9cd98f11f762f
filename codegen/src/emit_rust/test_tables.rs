//! The generated test tables: every event to its typed handler, and every method sent to
//! the mock platform with its path, query and body checked.

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

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

/// Where the sample answers of the round-trip table go (a JSON object: label -> data).
pub(super) const ROUNDTRIP_ANSWERS: &str = "tests/integration/tests/suite/generated/answers.json";

/// Sample data of a response type, every field set (nested models to a depth, lists with one
/// item, maps with one key). Strings are `s` and ints `7` followed by six digits, numbered so
/// that each value is unique and can be looked for in what the SDK decoded.
fn sample_data(ty: &TypeRef, v: &Version, n: &mut u32, stack: &mut Vec<String>) -> Option<Value> {
    *n += 1;
    let leaf = *n;
    Some(match ty {
        TypeRef::String => Value::String(format!("s{leaf:06}")),
        TypeRef::Int => Value::from(7_000_000 + i64::from(leaf)),
        TypeRef::Float => Value::from(1.5),
        TypeRef::Bool => Value::Bool(true),
        TypeRef::Any => serde_json::json!({ "any": format!("s{leaf:06}") }),
        TypeRef::File => return None,
        TypeRef::Enum(e) => {
            let en = v.enums.iter().find(|x| &x.name == e)?;
            Value::String(en.variants.first()?.1.clone())
        }
        TypeRef::List(inner) => Value::Array(sample_data(inner, v, n, stack).into_iter().collect()),
        TypeRef::Map(inner) => {
            let mut map = serde_json::Map::new();
            if let Some(item) = sample_data(inner, v, n, stack) {
                map.insert("k".into(), item);
            }
            Value::Object(map)
        }
        TypeRef::Model(name) => {
            let target = resolve_alias(name, &v.aliases);
            if stack.len() > 3 || stack.contains(&target) {
                return None;
            }
            let model = v.models.iter().find(|m| m.name == target)?;
            stack.push(target);
            let mut map = serde_json::Map::new();
            for f in &model.fields {
                if let Some(value) = sample_data(&f.ty, v, n, stack) {
                    map.insert(f.name.clone(), value);
                }
            }
            stack.pop();
            Value::Object(map)
        }
    })
}

/// The round-trip test table: every method is built with sample arguments and sent to the
/// mock platform, which answers with sample data built from the method's response type; the
/// method, path and query the mock recorded are asserted, and that every sample value
/// arrived in the typed response.
pub fn emit_roundtrip_tests(ir: &Ir, out: &mut Output) -> Result<(), Error> {
    let mut tests = Vec::new();
    let mut answers: Vec<(String, Value)> = Vec::new();
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
                        Response::Binary => quote! {{
                            let bytes = file_answer(&mock, #label, #path);
                            downloaded(call.send().await, &bytes).await
                        }},
                        Response::Json(model) => {
                            let data = match model {
                                Some(model) => {
                                    let ty = TypeRef::Model(model.clone());
                                    sample_data(&ty, v, &mut 0, &mut Vec::new())
                                }
                                None => Some(serde_json::json!({ "echo": "s000001" })),
                            };
                            answers.push((label.clone(), data.unwrap_or_default()));
                            let flat = m.flat_envelope;
                            quote! {{
                                let sample = answer(&mock, #label, #path, #flat);
                                decoded(call.send().await, &sample)
                            }}
                        }
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
    let typed = answers.len();
    let header = inner_doc(&format!(
        "Round trip of every generated method ({total}) against the mock platform: each is\nbuilt with sample arguments and sent; the method, path and query the mock recorded are\nasserted. The mock answers each of the {typed} JSON methods with sample data of its response\ntype (`answers.json`), and every sample value must arrive in the typed response.\n\n{HEADER}"
    ));
    let file = quote! {
        #header

        #[allow(unused_imports)]
        use lark_oapi::CallOptions;
        use lark_oapi::{Client, Config, Domain, Error, RetryPolicy};
        use lark_oapi_mock::{APP_ID, APP_SECRET, Fault, MockPlatform};
        use serde_json::Value;
        use std::collections::HashMap;
        use std::sync::LazyLock;

        /// The sample data each JSON method is answered with, by label.
        static ANSWERS: LazyLock<HashMap<String, Value>> = LazyLock::new(|| {
            serde_json::from_str(include_str!("answers.json")).expect("answers.json is JSON")
        });

        /// Queues the sample answer of `label` for its path; returns the sample data.
        fn answer(mock: &MockPlatform, label: &str, path: &str, flat: bool) -> Value {
            let data = ANSWERS.get(label).cloned().unwrap_or_else(|| panic!("{label}: no sample answer"));
            let body = match (&data, flat) {
                (Value::Object(fields), true) => {
                    let mut body = fields.clone();
                    body.insert("code".into(), 0.into());
                    body.insert("msg".into(), "ok".into());
                    Value::Object(body)
                }
                _ => serde_json::json!({ "code": 0, "msg": "success", "data": data }),
            };
            mock.push_fault(path, Fault::RawJson { http_status: 200, body: body.to_string() });
            data
        }

        /// The unique sample values (`s` or `7` and six digits) of some sample data.
        fn sample_values(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) if s.len() == 7 && s.starts_with('s') && s[1..].bytes().all(|b| b.is_ascii_digit()) => out.push(s.clone()),
                Value::Number(n) if n.as_i64().is_some_and(|i| (7_000_000..8_000_000).contains(&i)) => out.push(n.to_string()),
                Value::Array(items) => items.iter().for_each(|v| sample_values(v, out)),
                Value::Object(map) => map.values().for_each(|v| sample_values(v, out)),
                _ => {}
            }
        }

        /// The call succeeded and its typed response holds every sample value it was sent.
        fn decoded<T: std::fmt::Debug>(result: lark_oapi::Result<T>, sample: &Value) -> Result<(), Error> {
            let response = format!("{:?}", result?);
            let mut expected = Vec::new();
            sample_values(sample, &mut expected);
            let missing: Vec<&String> = expected
                .iter()
                .filter(|v| !response.contains(&format!("\"{v}\"")) && !contains_number(&response, v))
                .collect();
            assert!(missing.is_empty(), "sample values not decoded: {missing:?}\nin {response}");
            Ok(())
        }

        /// `number` as a whole number in `text` (not inside a longer one).
        fn contains_number(text: &str, number: &str) -> bool {
            text.match_indices(number).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + number.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
            })
        }

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

        /// Queues a file answer for a download path; returns its bytes (the label's own).
        fn file_answer(mock: &MockPlatform, label: &str, path: &str) -> Vec<u8> {
            let body = format!("file of {label}").into_bytes();
            mock.push_fault(path, Fault::File { name: format!("{label}.bin"), body: body.clone() });
            body
        }

        /// The download succeeded with the file's name and exactly its bytes.
        async fn downloaded(result: lark_oapi::Result<lark_oapi::Download>, bytes: &[u8]) -> Result<(), Error> {
            let download = result?;
            assert!(download.file_name().is_some_and(|n| n.ends_with(".bin")), "file name: {:?}", download.file_name());
            assert_eq!(download.bytes().await?.as_ref(), bytes);
            Ok(())
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
                panic!("{label}: the call failed: {e}");
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
    // One line per method, so that a spec change shows as a line in the diff.
    let lines: Vec<String> = answers
        .iter()
        .map(|(label, data)| format!("{}: {data}", Value::String(label.clone())))
        .collect();
    out.files.insert(
        PathBuf::from(ROUNDTRIP_ANSWERS),
        format!("{{\n{}\n}}\n", lines.join(",\n")),
    );
    Ok(())
}
