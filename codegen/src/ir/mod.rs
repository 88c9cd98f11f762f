//! The resolved model: projects, versions, resources, methods, models and enums, with every
//! Rust name decided and every type reference resolved. Emitters only read it.

use std::collections::{BTreeMap, BTreeSet};

use crate::doc_text::{self, Titles};
use crate::names::{self, Scope};
use crate::spec::{self, ApiFile, EventFile, Specs, TypeDef};

mod enums;
mod merge;
mod usage;

use enums::{Enums, finish_enums};
use merge::merge_identical;
use usage::{doc_of, event_uses, method_uses, usage_docs};

/// Everything to emit.
#[derive(Debug)]
pub struct Ir {
    /// Projects, sorted by name.
    pub projects: Vec<Project>,
}

/// One project (`im`): a cargo feature and a module.
#[derive(Debug)]
pub struct Project {
    /// Wire name.
    pub name: String,
    /// Module and accessor name.
    pub module: String,
    /// Handle type name (`Im`).
    pub handle: String,
    /// Versions.
    pub versions: Vec<Version>,
    /// Index into `versions` of the default version.
    pub default_version: Option<usize>,
    /// Name of the default version (the index is derived from it once versions are final).
    pub default_version_name: Option<String>,
}

/// One project-version (`im/v1`).
#[derive(Debug)]
pub struct Version {
    /// Wire name (`v1`).
    pub name: String,
    /// Module and accessor name.
    pub module: String,
    /// Handle type name (`V1`).
    pub handle: String,
    /// Resources.
    pub resources: Vec<Resource>,
    /// Model structs.
    pub models: Vec<Model>,
    /// Models with the same fields as another model, emitted as aliases of it.
    pub aliases: Vec<Alias>,
    /// String enums.
    pub enums: Vec<Enum>,
    /// Typed events delivered for this project-version, if any.
    pub events: Option<Events>,
}

/// The events of one project-version, with their own types (a namespace apart from the
/// API models).
#[derive(Debug)]
pub struct Events {
    /// Model structs of the event payloads.
    pub models: Vec<Model>,
    /// Payload models with the same fields as another, emitted as aliases of it.
    pub aliases: Vec<Alias>,
    /// String enums.
    pub enums: Vec<Enum>,
    /// The events.
    pub events: Vec<EventIr>,
}

/// One event or callback.
#[derive(Debug)]
pub struct EventIr {
    /// e.g. `im.message.receive_v1`.
    pub event_type: String,
    /// `1.0` or `2.0`.
    pub schema: String,
    /// Payload (`event`) type.
    pub payload: String,
    /// Envelope type.
    pub envelope: Option<String>,
    /// Response type (callbacks).
    pub response: Option<String>,
    /// Summary.
    pub doc: Option<String>,
}

/// One resource: a module with a handle and one builder per method.
#[derive(Debug)]
pub struct Resource {
    /// Wire name.
    pub name: String,
    /// Module and accessor name.
    pub module: String,
    /// Handle type name (`MessageApi`).
    pub handle: String,
    /// Methods.
    pub methods: Vec<Method>,
}

/// One API method.
#[derive(Debug)]
pub struct Method {
    /// Wire name.
    pub name: String,
    /// Accessor name on the resource handle.
    pub function: String,
    /// Builder type name.
    pub builder: String,
    /// HTTP method.
    pub http_method: String,
    /// Path template.
    pub path: String,
    /// Path parameters (arguments of the accessor).
    pub path_params: Vec<Param>,
    /// Query parameters (builder setters).
    pub query_params: Vec<Param>,
    /// Request body.
    pub body: Option<Body>,
    /// Response.
    pub response: Response,
    /// Pagination.
    pub pagination: Option<Pagination>,
    /// Accepted tokens.
    pub token_types: Vec<String>,
    /// Documentation lines.
    pub doc: Vec<String>,
    /// Official doc link.
    pub doc_url: Option<String>,
    /// A ByCard variant.
    pub by_card: bool,
    /// Sent without `Authorization` (from `operation-flags.json`).
    pub no_auth: bool,
    /// The answer's fields sit beside `code` and `msg` (from `operation-flags.json`).
    pub flat_envelope: bool,
    /// Sends the client's help desk credential (from `operation-flags.json`).
    pub helpdesk_auth: bool,
    /// Can answer with server-sent events: the builder gets `.sse(..)` (from
    /// `operation-flags.json`).
    pub event_stream: bool,
}

/// A path or query parameter.
#[derive(Debug)]
pub struct Param {
    /// Wire name.
    pub name: String,
    /// Setter / argument name.
    pub ident: String,
    /// Value type.
    pub ty: ParamType,
    /// Required.
    pub required: bool,
    /// Repeated key.
    pub repeated: bool,
    /// Description.
    pub doc: Option<String>,
}

/// Type of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// Text (also 64-bit ids).
    String,
    /// Integer.
    Int,
    /// Boolean.
    Bool,
    /// Float.
    Float,
    /// A generated string enum (its Rust name).
    Enum(String),
}

/// A request body.
#[derive(Debug)]
pub struct Body {
    /// The model's Rust name.
    pub model: String,
    /// Multipart (an upload).
    pub multipart: bool,
}

/// A response.
#[derive(Debug)]
pub enum Response {
    /// JSON; `data` decodes into this model, or into `serde_json::Value` when `None`.
    Json(Option<String>),
    /// A file.
    Binary,
}

/// Pagination of a list method.
#[derive(Debug)]
pub struct Pagination {
    /// Items field in `data`.
    pub items_field: String,
    /// Type of one item.
    pub item: TypeRef,
    /// Page-token parameter name.
    pub token_param: String,
    /// Token travels in the body.
    pub token_in_body: bool,
    /// Page-size parameter name.
    pub size_param: Option<String>,
    /// The "more" flag.
    pub has_more_field: String,
}

/// A model struct.
#[derive(Debug)]
pub struct Model {
    /// Name in the dataset.
    pub wire_name: String,
    /// Rust name.
    pub name: String,
    /// Description.
    pub doc: Option<String>,
    /// Fields.
    pub fields: Vec<FieldIr>,
    /// Needs `FromJson` (reachable from a response).
    pub decode: bool,
    /// Needs `ToJson` (reachable from a JSON request body).
    pub encode: bool,
    /// A multipart body (has file parts; converts into `Multipart`).
    pub multipart: bool,
    /// The body of a "ByCard" method: `template_id` + `template_variable` travel as an
    /// interactive message's `content`.
    pub card_template: bool,
}

/// A model with exactly the fields of another (names, types, optionality): emitted as
/// `pub type Name = Target;`, so its (de)serialization code is compiled once.
#[derive(Debug)]
pub struct Alias {
    /// Name in the dataset.
    pub wire_name: String,
    /// Rust name.
    pub name: String,
    /// Description.
    pub doc: Option<String>,
    /// The model it stands for (Rust name).
    pub target: String,
}

/// A field of a model.
#[derive(Debug)]
pub struct FieldIr {
    /// Wire name.
    pub name: String,
    /// Rust field name.
    pub ident: String,
    /// Type.
    pub ty: TypeRef,
    /// `Option<..>` (not required).
    pub optional: bool,
    /// Required by the spec (a required file part or enum is still an `Option`: checked when
    /// sent).
    pub required: bool,
    /// Description.
    pub doc: Option<String>,
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    /// `String`.
    String,
    /// `i64`.
    Int,
    /// `f64`.
    Float,
    /// `bool`.
    Bool,
    /// `serde_json::Value`.
    Any,
    /// A file part (multipart bodies).
    File,
    /// `Vec<T>`.
    List(Box<TypeRef>),
    /// `BTreeMap<String, T>`.
    Map(Box<TypeRef>),
    /// A model (Rust name).
    Model(String),
    /// A string enum (Rust name).
    Enum(String),
}

/// A string enum with an unknown-value fallback.
#[derive(Debug)]
pub struct Enum {
    /// Rust name.
    pub name: String,
    /// (variant ident, wire value).
    pub variants: Vec<(String, String)>,
    /// What a wire value means, where a field text using the enum says it.
    pub value_docs: BTreeMap<String, String>,
}

impl Ir {
    /// Resolves the specs.
    pub fn build(specs: &Specs) -> Ir {
        let titles = Titles::new(
            specs
                .apis
                .values()
                .flat_map(|a| &a.resources)
                .flat_map(|r| &r.methods)
                .filter_map(|m| m.description_en.as_deref()),
        );
        let mut projects = Vec::new();
        // Project modules sit at the root of lark-oapi next to the runtime's modules.
        let mut project_scope = Scope::with_reserved(&[
            "request",
            "config",
            "new",
            "card",
            "json",
            "event_crypto",
            "dispatcher",
            "prelude",
            "reqwest",
            "codes",
            "long_connection",
            "event_handlers",
            "event_types",
            "bot_kit",
            "pacing",
            "redis",
            "sse",
            "oauth",
        ]);
        for entry in &specs.projects.projects {
            let module = project_scope.claim(&names::snake_ident(&entry.name));
            let mut version_scope = Scope::default();
            let versions: Vec<Version> = entry
                .versions
                .iter()
                .map(|v| {
                    build_version(
                        &specs.apis[&(entry.name.clone(), v.clone())],
                        &mut version_scope,
                        &titles,
                    )
                })
                .collect();
            let default_version = entry
                .default_version
                .as_ref()
                .and_then(|d| entry.versions.iter().position(|v| v == d));
            projects.push(Project {
                name: entry.name.clone(),
                handle: names::type_ident(&entry.name),
                module,
                versions,
                default_version,
                default_version_name: entry.default_version.clone(),
            });
        }
        // Events: into the project-version they belong to, else a version (or project)
        // of their own that has events only.
        for ((group, version), file) in &specs.events {
            let events = build_events(file);
            let project = match projects.iter_mut().find(|p| &p.name == group) {
                Some(p) => p,
                None => {
                    projects.push(Project {
                        name: group.clone(),
                        module: project_scope.claim(&names::snake_ident(group)),
                        handle: names::type_ident(group),
                        versions: Vec::new(),
                        default_version: None,
                        default_version_name: None,
                    });
                    projects.last_mut().expect("just pushed")
                }
            };
            match project.versions.iter_mut().find(|v| &v.name == version) {
                Some(v) => v.events = Some(events),
                None => {
                    let taken: Vec<&str> =
                        project.versions.iter().map(|v| v.module.as_str()).collect();
                    let module = Scope::with_reserved(&taken).claim(&names::snake_ident(version));
                    project.versions.push(Version {
                        name: version.clone(),
                        handle: names::type_ident(version),
                        module,
                        resources: Vec::new(),
                        models: Vec::new(),
                        aliases: Vec::new(),
                        enums: Vec::new(),
                        events: Some(events),
                    });
                    project.versions.sort_by(|a, b| a.name.cmp(&b.name));
                }
            }
        }
        projects.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut projects {
            if let Some(d) = &p.default_version_name {
                p.default_version = p.versions.iter().position(|v| &v.name == d);
            }
        }
        Ir { projects }
    }

    /// Number of events.
    pub fn event_count(&self) -> usize {
        self.projects
            .iter()
            .flat_map(|p| &p.versions)
            .filter_map(|v| v.events.as_ref())
            .map(|e| e.events.len())
            .sum()
    }

    /// Number of methods.
    pub fn method_count(&self) -> usize {
        self.projects
            .iter()
            .flat_map(|p| &p.versions)
            .flat_map(|v| &v.resources)
            .map(|r| r.methods.len())
            .sum()
    }
}

fn build_version(api: &ApiFile, scope: &mut Scope, titles: &Titles) -> Version {
    let module = scope.claim(&names::snake_ident(&api.version));
    let (model_names, mut enums) = name_types(&api.types);

    // Which models are decoded, encoded, multipart.
    let mut decode = BTreeSet::new();
    let mut encode = BTreeSet::new();
    let mut multipart = BTreeSet::new();
    let mut card_templates = BTreeSet::new();
    for r in &api.resources {
        for m in &r.methods {
            if m.by_card
                && let Some(b) = &m.body
            {
                card_templates.insert(b.ty.clone());
            }
            if let Some(t) = &m.response.ty {
                reach(&api.types, t, &mut decode);
            }
            if let Some(b) = &m.body {
                if b.kind == "multipart" {
                    multipart.insert(b.ty.clone());
                    for f in &api.types[&b.ty].fields {
                        for t in spec::referenced_types(&f.ty).unwrap_or_default() {
                            reach(&api.types, t, &mut encode);
                        }
                    }
                } else {
                    reach(&api.types, &b.ty, &mut encode);
                }
            }
        }
    }

    let models = build_models(
        &api.types,
        &model_names,
        &mut enums,
        &Directions {
            decode,
            encode,
            multipart,
            card_templates,
        },
        &usage_docs(method_uses(api, titles), &api.types, &model_names),
    );
    // Uploads and card-template bodies have code of their own: never merged.
    let (models, aliases) = merge_identical(models, |m| m.multipart || m.card_template);

    let mut resource_scope =
        Scope::with_reserved(&["new", "client", "models", "events", "event_handlers"]);
    let resources = api
        .resources
        .iter()
        .map(|r| {
            let mut fn_scope = Scope::with_reserved(&["new", "client"]);
            let mut builder_scope = Scope::default();
            let methods = r
                .methods
                .iter()
                .map(|m| {
                    build_method(
                        m,
                        &model_names,
                        &mut enums,
                        &mut fn_scope,
                        &mut builder_scope,
                        api,
                        titles,
                    )
                })
                .collect();
            Resource {
                name: r.name.clone(),
                module: resource_scope.claim(&names::snake_ident(&r.name)),
                handle: format!("{}Api", names::type_ident(&r.name)),
                methods,
            }
        })
        .collect();

    let enum_list = finish_enums(enums);

    Version {
        name: api.version.clone(),
        handle: names::type_ident(&api.version),
        module,
        resources,
        models,
        aliases,
        enums: enum_list,
        events: None,
    }
}

/// Which models need which code.
struct Directions {
    decode: BTreeSet<String>,
    encode: BTreeSet<String>,
    multipart: BTreeSet<String>,
    card_templates: BTreeSet<String>,
}

/// Rust names of the named types of one file, and the enum namer (which must not take them).
fn name_types(types: &BTreeMap<String, TypeDef>) -> (BTreeMap<String, String>, Enums) {
    let mut type_scope = Scope::with_reserved(&[]);
    let mut model_names = BTreeMap::new();
    for name in types.keys() {
        model_names.insert(name.clone(), type_scope.claim(&names::model_type(name)));
    }
    let enums = Enums {
        by_name: BTreeMap::new(),
        by_values: BTreeMap::new(),
        docs: BTreeMap::new(),
        scope: type_scope,
    };
    (model_names, enums)
}

fn build_models(
    types: &BTreeMap<String, TypeDef>,
    model_names: &BTreeMap<String, String>,
    enums: &mut Enums,
    dirs: &Directions,
    usage: &BTreeMap<String, String>,
) -> Vec<Model> {
    let mut models = Vec::new();
    for (wire_name, t) in types {
        let name = model_names[wire_name].clone();
        let mut field_scope = Scope::default();
        let fields = t
            .fields
            .iter()
            .map(|f| {
                let doc = doc_of(&f.description);
                let mut ty = resolve(&f.ty, model_names);
                if let Some(values) = &f.enum_values
                    && !values.is_empty()
                {
                    let e = enums.resolve(wire_name, &f.name, values, doc.as_deref());
                    ty = match ty {
                        TypeRef::String => TypeRef::Enum(e),
                        TypeRef::List(inner) if *inner == TypeRef::String => {
                            TypeRef::List(Box::new(TypeRef::Enum(e)))
                        }
                        other => other,
                    };
                }
                FieldIr {
                    name: f.name.clone(),
                    ident: field_scope.claim(&names::snake_ident(&f.name)),
                    required: f.required,
                    // A required file part or enum is still an `Option` (checked when sent):
                    // neither has a value that could stand for "not set".
                    optional: !f.required || matches!(ty, TypeRef::File | TypeRef::Enum(_)),
                    ty,
                    doc,
                }
            })
            .collect();
        models.push(Model {
            wire_name: wire_name.clone(),
            name,
            doc: doc_of(&t.description).or_else(|| usage.get(wire_name).cloned()),
            fields,
            decode: dirs.decode.contains(wire_name),
            encode: dirs.encode.contains(wire_name),
            multipart: dirs.multipart.contains(wire_name),
            card_template: dirs.card_templates.contains(wire_name),
        });
    }

    models
}

/// The typed events of one project-version.
fn build_events(file: &EventFile) -> Events {
    let (model_names, mut enums) = name_types(&file.types);
    let mut decode = BTreeSet::new();
    let mut encode = BTreeSet::new();
    for e in &file.events {
        reach(&file.types, &e.payload_type, &mut decode);
        if let Some(t) = &e.envelope_type {
            reach(&file.types, t, &mut decode);
        }
        if let Some(t) = &e.response_type {
            reach(&file.types, t, &mut encode);
        }
    }
    let models = build_models(
        &file.types,
        &model_names,
        &mut enums,
        &Directions {
            decode,
            encode,
            multipart: BTreeSet::new(),
            card_templates: BTreeSet::new(),
        },
        &usage_docs(event_uses(file), &file.types, &model_names),
    );
    let events = file
        .events
        .iter()
        .map(|e| EventIr {
            event_type: e.event_type.clone(),
            schema: e.schema.clone(),
            payload: model_names[&e.payload_type].clone(),
            envelope: e.envelope_type.as_ref().map(|t| model_names[t].clone()),
            response: e.response_type.as_ref().map(|t| model_names[t].clone()),
            doc: doc_of(&e.summary).or_else(|| doc_of(&e.description)),
        })
        .collect();
    // Callback answers each implement `Answer`: never merged (their impls would collide).
    let (models, aliases) = merge_identical(models, |m| m.encode);
    Events {
        models,
        aliases,
        enums: finish_enums(enums),
        events,
    }
}

/// Marks `name` and every model it reaches.
fn reach(types: &BTreeMap<String, TypeDef>, name: &str, set: &mut BTreeSet<String>) {
    if !set.insert(name.to_owned()) {
        return;
    }
    if let Some(t) = types.get(name) {
        for f in &t.fields {
            for r in spec::referenced_types(&f.ty).unwrap_or_default() {
                reach(types, r, set);
            }
        }
    }
}

fn resolve(expr: &str, models: &BTreeMap<String, String>) -> TypeRef {
    if let Some(inner) = expr.strip_prefix("[]") {
        return TypeRef::List(Box::new(resolve(inner, models)));
    }
    if let Some(inner) = expr
        .strip_prefix("map<string,")
        .and_then(|r| r.strip_suffix('>'))
    {
        return TypeRef::Map(Box::new(resolve(inner, models)));
    }
    match expr {
        "string" => TypeRef::String,
        "int" => TypeRef::Int,
        "float" => TypeRef::Float,
        "bool" => TypeRef::Bool,
        "any" => TypeRef::Any,
        "file" => TypeRef::File,
        named => TypeRef::Model(models[named].clone()),
    }
}

fn build_method(
    m: &spec::Method,
    models: &BTreeMap<String, String>,
    enums: &mut Enums,
    fn_scope: &mut Scope,
    builder_scope: &mut Scope,
    api: &ApiFile,
    titles: &Titles,
) -> Method {
    let builder_base = format!("{}{}", names::type_ident(&m.name), "Request");
    let owner = names::type_ident(&m.name);
    let param = |p: &spec::Param, scope: &mut Scope, enums: &mut Enums| {
        let doc = doc_of(&p.description);
        let ty = match (&p.enum_values, p.ty.as_str()) {
            (Some(values), "string") if !values.is_empty() => {
                ParamType::Enum(enums.resolve(&owner, &p.name, values, doc.as_deref()))
            }
            (_, "int") => ParamType::Int,
            (_, "bool") => ParamType::Bool,
            (_, "float") => ParamType::Float,
            _ => ParamType::String,
        };
        Param {
            name: p.name.clone(),
            ident: scope.claim(&names::snake_ident(&p.name)),
            ty,
            required: p.required,
            repeated: p.repeated,
            doc,
        }
    };
    let mut arg_scope = Scope::with_reserved(&["self"]);
    let path_params = m
        .path_params
        .iter()
        .map(|p| param(p, &mut arg_scope, enums))
        .collect();
    // Setters share the builder's namespace with its fixed methods.
    let mut setter_scope = Scope::with_reserved(&[
        "send",
        "body",
        "options",
        "tenant_key",
        "user_access_token",
        "into_spec",
        "stream",
        "pages",
        "client",
        "spec",
    ]);
    let query_params = m
        .query_params
        .iter()
        .map(|p| param(p, &mut setter_scope, enums))
        .collect();
    let pagination = m.pagination.as_ref().and_then(|p| {
        let items_field = p.items_field.clone()?;
        let data = api.types.get(m.response.ty.as_ref()?)?;
        let field = data.fields.iter().find(|f| f.name == items_field)?;
        let item = match resolve(&field.ty, models) {
            TypeRef::List(inner) => *inner,
            _ => return None,
        };
        Some(Pagination {
            items_field,
            item,
            token_param: p
                .page_token_param
                .clone()
                .unwrap_or_else(|| "page_token".into()),
            token_in_body: p.page_token_in.as_deref() == Some("body"),
            size_param: p.page_size_param.clone(),
            has_more_field: p
                .has_more_field
                .clone()
                .unwrap_or_else(|| "has_more".into()),
        })
    });
    let mut doc = Vec::new();
    let (title, mut detail) = match m.description_en.as_deref() {
        Some(text) => titles.split(text),
        None => (None, None),
    };
    let mut title = title;
    if m.by_card {
        // The same text as the call it varies: say what differs.
        let base = names::snake_ident(m.name.trim_end_matches("_by_card"));
        title = title.map(|t| format!("{t} from a card template"));
        detail = Some(format!(
            "The same call as [`{base}`](Self::{base}), with the card given as a template \
             (id, version and variables) instead of a `content` JSON string."
        ));
    }
    let detail = detail.map(|d| doc_text::normalize(&d));
    match (&m.summary, title) {
        (Some(s), Some(t)) => doc.push(format!("{t} ({s})")),
        (Some(s), None) => doc.push(s.clone()),
        (None, Some(t)) => doc.push(t),
        (None, None) => doc.push(format!("`{} {}`", m.http_method, m.path)),
    }
    if let Some(d) = detail {
        doc.push(d);
    } else if let Some(d) = doc_of(&m.description) {
        doc.push(d);
    }
    Method {
        name: m.name.clone(),
        function: fn_scope.claim(&names::snake_ident(&m.name)),
        builder: builder_scope.claim(&builder_base),
        http_method: m.http_method.clone(),
        path: m.path.clone(),
        path_params,
        query_params,
        body: m.body.as_ref().map(|b| Body {
            model: models[&b.ty].clone(),
            multipart: b.kind == "multipart",
        }),
        response: match (m.response.kind.as_str(), &m.response.ty) {
            ("binary", _) => Response::Binary,
            (_, t) => Response::Json(t.as_ref().map(|t| models[t].clone())),
        },
        pagination,
        token_types: m.token_types.clone(),
        doc,
        doc_url: m.doc_url.clone(),
        by_card: m.by_card,
        no_auth: false,
        flat_envelope: false,
        helpdesk_auth: false,
        event_stream: false,
    }
}
