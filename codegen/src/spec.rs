//! The `api-specs/` model: what the JSON descriptors say, checked, with errors that name the
//! file and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A descriptor problem: the file, the JSON path inside it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The descriptor file.
    pub file: PathBuf,
    /// Where in the file, e.g. `resources[2].methods[0].path`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: `{}`: {}",
            self.file.display(),
            self.field,
            self.message
        )
    }
}

impl std::error::Error for SpecError {}

/// `projects.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectsFile {
    /// Every project.
    pub projects: Vec<ProjectEntry>,
    /// Number of methods over all files (checked against the files).
    pub methods: usize,
    /// Number of events over all files.
    pub events: usize,
}

/// One project and its versions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    /// e.g. `im`.
    pub name: String,
    /// e.g. `["v1", "v2"]`.
    pub versions: Vec<String>,
    /// The version reachable without naming it, if any.
    pub default_version: Option<String>,
}

/// `apis/<project>/<version>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    /// Project name.
    pub project: String,
    /// Version name.
    pub version: String,
    /// Resources, each with methods.
    pub resources: Vec<Resource>,
    /// Named types of this project-version.
    pub types: BTreeMap<String, TypeDef>,
}

/// A resource (`message`, `chat_members`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// snake_case name.
    pub name: String,
    /// Its methods.
    pub methods: Vec<Method>,
}

/// One API method.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    /// snake_case name.
    pub name: String,
    /// GET, POST, PUT, PATCH or DELETE.
    pub http_method: String,
    /// Path template with `:name` parameters.
    pub path: String,
    /// One-line summary (Chinese).
    pub summary: Option<String>,
    /// Description (Chinese).
    pub description: Option<String>,
    /// English description.
    pub description_en: Option<String>,
    /// Official doc link.
    pub doc_url: Option<String>,
    /// Accepted tokens: tenant, app, user.
    pub token_types: Vec<String>,
    /// Path parameters in path order.
    pub path_params: Vec<Param>,
    /// Query parameters.
    pub query_params: Vec<Param>,
    /// Request body.
    pub body: Option<Body>,
    /// Response.
    pub response: ResponseSpec,
    /// Pagination, if the method is a list.
    pub pagination: Option<Pagination>,
    /// A "ByCard" variant of another method on the same endpoint.
    pub by_card: bool,
}

/// A path or query parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// Wire name.
    pub name: String,
    /// `string`, `int`, `bool`, `float`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Required.
    pub required: bool,
    /// An array, sent as repeated keys.
    pub repeated: bool,
    /// English description.
    pub description: Option<String>,
    /// Allowed values.
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    /// `int64` for numbers travelling as strings.
    pub format: Option<String>,
}

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// `json` or `multipart`.
    pub kind: String,
    /// The named type.
    #[serde(rename = "type")]
    pub ty: String,
}

/// The response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// `json` or `binary`.
    pub kind: String,
    /// Type of `data`, if any.
    #[serde(rename = "type")]
    pub ty: Option<String>,
}

/// How a list method paginates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    /// Name of the page-token parameter.
    pub page_token_param: Option<String>,
    /// `query` or `body`.
    pub page_token_in: Option<String>,
    /// Name of the page-size parameter.
    pub page_size_param: Option<String>,
    /// The array in `data`.
    pub items_field: Option<String>,
    /// The "more" flag in `data`.
    pub has_more_field: Option<String>,
    /// The next-token field in `data`.
    pub next_token_field: Option<String>,
}

/// A named type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeDef {
    /// Description.
    pub description: Option<String>,
    /// Fields in declaration order.
    pub fields: Vec<Field>,
}

/// A field of a named type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Wire name.
    pub name: String,
    /// Type expression: `string`, `int`, `float`, `bool`, `file`, `any`, `[]T`, `map<string,T>`, or a named type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Required in requests.
    pub required: bool,
    /// Description.
    pub description: Option<String>,
    /// Allowed values.
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    /// `int64`.
    pub format: Option<String>,
}

/// `events/<group>/<version>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFile {
    /// Group (project) name.
    pub project: String,
    /// Version.
    pub version: String,
    /// Events.
    pub events: Vec<Event>,
    /// Named types.
    pub types: BTreeMap<String, TypeDef>,
}

/// One event or callback.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// e.g. `im.message.receive_v1`.
    pub event_type: String,
    /// `2.0` or `1.0`.
    pub schema: String,
    /// Envelope type name.
    pub envelope_type: Option<String>,
    /// Payload type name.
    pub payload_type: String,
    /// Response type name (callbacks).
    pub response_type: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// Everything under `api-specs/`, loaded and checked.
#[derive(Debug, Clone)]
pub struct Specs {
    /// `projects.json`.
    pub projects: ProjectsFile,
    /// API files by (project, version).
    pub apis: BTreeMap<(String, String), ApiFile>,
    /// Event files by (group, version).
    pub events: BTreeMap<(String, String), EventFile>,
}

fn load_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError {
        file: path.to_path_buf(),
        field: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    let mut de = serde_json::Deserializer::from_str(&text);
    T::deserialize(&mut de).map_err(|e| SpecError {
        file: path.to_path_buf(),
        field: format!("line {} column {}", e.line(), e.column()),
        message: e.to_string(),
    })
}

/// Replaces "tuple" types by lists. The dataset derives some types from JavaScript tuples,
/// which come out as objects with fields `0`, `1`, … plus every `Array.prototype` member
/// (`length`, `toString`, …, `reduceRight`); on the wire they are JSON arrays. References to
/// such a type become `[]any` (the element types the tuple was guessed from are not reliable
/// enough to fail a delivery on), and the type is dropped.
fn tuples_as_lists(types: &mut BTreeMap<String, TypeDef>) {
    let mut tuples = BTreeMap::new();
    for (name, t) in types.iter() {
        let has = |n: &str| t.fields.iter().any(|f| f.name == n);
        if !(has("0") && has("length") && has("toString") && has("reduceRight")) {
            continue;
        }
        tuples.insert(name.clone(), "[]any".to_owned());
    }
    if tuples.is_empty() {
        return;
    }
    for name in tuples.keys() {
        types.remove(name);
    }
    fn rewrite(expr: &str, tuples: &BTreeMap<String, String>) -> String {
        if let Some(inner) = expr.strip_prefix("[]") {
            return format!("[]{}", rewrite(inner, tuples));
        }
        if let Some(inner) = expr
            .strip_prefix("map<string,")
            .and_then(|r| r.strip_suffix('>'))
        {
            return format!("map<string,{}>", rewrite(inner, tuples));
        }
        match tuples.get(expr) {
            Some(list) => list.clone(),
            None => expr.to_owned(),
        }
    }
    for t in types.values_mut() {
        for f in &mut t.fields {
            f.ty = rewrite(&f.ty, &tuples);
        }
    }
}

/// The `<project>/<version>.json` files under `dir`, sorted (none if `dir` is missing).
pub fn json_files(dir: &Path) -> Result<Vec<PathBuf>, SpecError> {
    let err = |e: std::io::Error| SpecError {
        file: dir.to_path_buf(),
        field: String::new(),
        message: format!("cannot list: {e}"),
    };
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for project in std::fs::read_dir(dir).map_err(err)? {
        let project = project.map_err(err)?.path();
        if project.is_dir() {
            for file in std::fs::read_dir(&project).map_err(err)? {
                let file = file.map_err(err)?.path();
                if file.extension().is_some_and(|e| e == "json") {
                    out.push(file);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Specs {
    /// Loads and validates `api-specs/`.
    pub fn load(dir: &Path) -> Result<Specs, SpecError> {
        let projects: ProjectsFile = load_json(&dir.join("projects.json"))?;
        let mut apis = BTreeMap::new();
        for file in json_files(&dir.join("apis"))? {
            let mut api: ApiFile = load_json(&file)?;
            tuples_as_lists(&mut api.types);
            validate_api(&file, &api)?;
            apis.insert((api.project.clone(), api.version.clone()), api);
        }
        let mut events = BTreeMap::new();
        for file in json_files(&dir.join("events"))? {
            let mut ev: EventFile = load_json(&file)?;
            tuples_as_lists(&mut ev.types);
            validate_events(&file, &ev)?;
            events.insert((ev.project.clone(), ev.version.clone()), ev);
        }
        let specs = Specs {
            projects,
            apis,
            events,
        };
        specs.validate_totals(&dir.join("projects.json"))?;
        Ok(specs)
    }

    fn validate_totals(&self, file: &Path) -> Result<(), SpecError> {
        let err = |field: &str, message: String| SpecError {
            file: file.to_path_buf(),
            field: field.to_owned(),
            message,
        };
        let methods: usize = self
            .apis
            .values()
            .flat_map(|a| &a.resources)
            .map(|r| r.methods.len())
            .sum();
        if methods != self.projects.methods {
            return Err(err(
                "methods",
                format!(
                    "says {} but the API files hold {methods}",
                    self.projects.methods
                ),
            ));
        }
        let events: usize = self.events.values().map(|e| e.events.len()).sum();
        if events != self.projects.events {
            return Err(err(
                "events",
                format!(
                    "says {} but the event files hold {events}",
                    self.projects.events
                ),
            ));
        }
        for (i, p) in self.projects.projects.iter().enumerate() {
            for v in &p.versions {
                if !self.apis.contains_key(&(p.name.clone(), v.clone())) {
                    return Err(err(
                        &format!("projects[{i}].versions"),
                        format!("{}/{v} has no apis/{}/{v}.json", p.name, p.name),
                    ));
                }
            }
            if let Some(d) = &p.default_version
                && !p.versions.contains(d)
            {
                return Err(err(
                    &format!("projects[{i}].default_version"),
                    format!("{d} is not one of {:?}", p.versions),
                ));
            }
        }
        Ok(())
    }
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

const SCALARS: &[&str] = &["string", "int", "float", "bool", "file", "any"];

/// Checks a type expression; returns the named types it references.
pub(crate) fn referenced_types(expr: &str) -> Result<Vec<&str>, String> {
    if let Some(inner) = expr.strip_prefix("[]") {
        return referenced_types(inner);
    }
    if let Some(rest) = expr.strip_prefix("map<") {
        let inner = rest
            .strip_suffix('>')
            .and_then(|r| r.strip_prefix("string,"))
            .ok_or_else(|| format!("malformed map type {expr:?}; write map<string,T>"))?;
        return referenced_types(inner);
    }
    if SCALARS.contains(&expr) {
        return Ok(vec![]);
    }
    if expr.is_empty()
        || !expr.starts_with(|c: char| c.is_ascii_uppercase())
        || !expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "unknown type {expr:?}; expected a scalar ({}), []T, map<string,T> or a named type",
            SCALARS.join(", ")
        ));
    }
    Ok(vec![expr])
}

fn validate_types(file: &Path, types: &BTreeMap<String, TypeDef>) -> Result<(), SpecError> {
    for (name, t) in types {
        let mut seen = BTreeSet::new();
        for (i, f) in t.fields.iter().enumerate() {
            let field = format!("types.{name}.fields[{i}]");
            let err = |message: String| SpecError {
                file: file.to_path_buf(),
                field: field.clone(),
                message,
            };
            if f.name.is_empty() {
                return Err(err("empty field name".into()));
            }
            if !seen.insert(&f.name) {
                return Err(err(format!("duplicate field {:?}", f.name)));
            }
            for r in referenced_types(&f.ty).map_err(err)? {
                if !types.contains_key(r) {
                    return Err(err(format!("type {r:?} is not defined in this file")));
                }
            }
        }
    }
    Ok(())
}

fn validate_api(file: &Path, api: &ApiFile) -> Result<(), SpecError> {
    let at = |field: String, message: String| SpecError {
        file: file.to_path_buf(),
        field,
        message,
    };
    if !is_snake(&api.project) || !is_snake(&api.version) {
        return Err(at(
            "project".into(),
            "project and version must be snake_case".into(),
        ));
    }
    validate_types(file, &api.types)?;
    let mut resources = BTreeSet::new();
    for (ri, r) in api.resources.iter().enumerate() {
        if !is_snake(&r.name) || !resources.insert(&r.name) {
            return Err(at(
                format!("resources[{ri}].name"),
                format!("{:?} must be a unique snake_case name", r.name),
            ));
        }
        let mut methods = BTreeSet::new();
        for (mi, m) in r.methods.iter().enumerate() {
            let base = format!("resources[{ri}].methods[{mi}]");
            let err = |field: &str, message: String| at(format!("{base}.{field}"), message);
            if !is_snake(&m.name) || !methods.insert(&m.name) {
                return Err(err(
                    "name",
                    format!("{:?} must be a unique snake_case name", m.name),
                ));
            }
            if !matches!(
                m.http_method.as_str(),
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
            ) {
                return Err(err(
                    "http_method",
                    format!("unknown HTTP method {:?}", m.http_method),
                ));
            }
            if !m.path.starts_with("/open-apis/") {
                return Err(err(
                    "path",
                    format!("{:?} must start with /open-apis/", m.path),
                ));
            }
            let template: Vec<&str> = m
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix(':'))
                .collect();
            let declared: Vec<&str> = m.path_params.iter().map(|p| p.name.as_str()).collect();
            if template != declared {
                return Err(err(
                    "path_params",
                    format!(
                        "path {} has parameters {template:?} but path_params lists {declared:?}",
                        m.path
                    ),
                ));
            }
            for t in &m.token_types {
                if !matches!(t.as_str(), "tenant" | "app" | "user") {
                    return Err(err("token_types", format!("unknown token type {t:?}")));
                }
            }
            for (qi, q) in m.query_params.iter().chain(&m.path_params).enumerate() {
                if !matches!(q.ty.as_str(), "string" | "int" | "bool" | "float")
                    || q.name.is_empty()
                {
                    return Err(err(
                        &format!("query_params[{qi}]"),
                        format!("parameter {:?} has unsupported type {:?}", q.name, q.ty),
                    ));
                }
            }
            if let Some(b) = &m.body {
                if !matches!(b.kind.as_str(), "json" | "multipart") {
                    return Err(err(
                        "body.kind",
                        format!("{:?} is not json or multipart", b.kind),
                    ));
                }
                if !api.types.contains_key(&b.ty) {
                    return Err(err(
                        "body.type",
                        format!("type {:?} is not defined in this file", b.ty),
                    ));
                }
                // A few GET methods are documented with a JSON body (approval
                // external_task.list, ...); the runtime sends it only for them.
            }
            match (m.response.kind.as_str(), &m.response.ty) {
                ("json", Some(t)) if !api.types.contains_key(t) => {
                    return Err(err(
                        "response.type",
                        format!("type {t:?} is not defined in this file"),
                    ));
                }
                ("json", _) | ("binary", None) => {}
                (kind, _) => {
                    return Err(err(
                        "response",
                        format!(
                            "kind {kind:?} with type {:?} is not a json or binary response",
                            m.response.ty
                        ),
                    ));
                }
            }
            if let Some(p) = &m.pagination {
                if let Some(field) = &p.items_field {
                    let data = m.response.ty.as_ref().and_then(|t| api.types.get(t));
                    let found = data.and_then(|d| d.fields.iter().find(|f| &f.name == field));
                    match found {
                        Some(f) if f.ty.starts_with("[]") => {}
                        _ => {
                            return Err(err(
                                "pagination.items_field",
                                format!("{field:?} is not an array field of the response type"),
                            ));
                        }
                    }
                }
                if let Some(loc) = &p.page_token_in
                    && !matches!(loc.as_str(), "query" | "body")
                {
                    return Err(err(
                        "pagination.page_token_in",
                        format!("{loc:?} is not query or body"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn validate_events(file: &Path, ev: &EventFile) -> Result<(), SpecError> {
    validate_types(file, &ev.types)?;
    for (i, e) in ev.events.iter().enumerate() {
        for (field, ty) in [
            ("payload_type", Some(&e.payload_type)),
            ("envelope_type", e.envelope_type.as_ref()),
            ("response_type", e.response_type.as_ref()),
        ] {
            if let Some(t) = ty
                && !ev.types.contains_key(t)
            {
                return Err(SpecError {
                    file: file.to_path_buf(),
                    field: format!("events[{i}].{field}"),
                    message: format!("type {t:?} is not defined in this file"),
                });
            }
        }
        if !matches!(e.schema.as_str(), "1.0" | "2.0") {
            return Err(SpecError {
                file: file.to_path_buf(),
                field: format!("events[{i}].schema"),
                message: format!("{:?} is not 1.0 or 2.0", e.schema),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_expressions() {
        assert_eq!(referenced_types("[]Message").unwrap(), ["Message"]);
        assert_eq!(referenced_types("map<string,[]User>").unwrap(), ["User"]);
        assert!(referenced_types("string").unwrap().is_empty());
        assert!(referenced_types("map<int,string>").is_err());
        assert!(referenced_types("lower").is_err());
    }

    fn write_spec(dir: &Path, api: &str) {
        std::fs::create_dir_all(dir.join("apis/im")).unwrap();
        std::fs::write(
            dir.join("projects.json"),
            r#"{"projects":[{"name":"im","versions":["v1"],"default_version":"v1"}],"methods":1,"events":0}"#,
        )
        .unwrap();
        std::fs::write(dir.join("apis/im/v1.json"), api).unwrap();
    }

    fn api_with(method_patch: &str) -> String {
        format!(
            r#"{{"project":"im","version":"v1","types":{{"Body":{{"description":null,"fields":[{{"name":"a","type":"Missing","required":false,"description":null}}]}}}},
            "resources":[{{"name":"message","methods":[{{"name":"get","http_method":"GET","path":"/open-apis/im/v1/messages/:message_id",
            "summary":null,"description":null,"description_en":null,"doc_url":null,"token_types":["tenant"],
            "path_params":[{{"name":"message_id","type":"string","required":true,"repeated":false,"description":null}}],
            "query_params":[],"body":null,"response":{{"kind":"json","type":null}},"pagination":null,"by_card":false{method_patch}}}]}}]}}"#
        )
    }

    #[test]
    fn bad_descriptors_name_the_file_and_the_field() {
        let dir = std::env::temp_dir().join(format!("lark-spec-test-{}", std::process::id()));
        write_spec(&dir, &api_with(""));
        let err = Specs::load(&dir).unwrap_err();
        assert!(err.file.ends_with("apis/im/v1.json"));
        assert_eq!(err.field, "types.Body.fields[0]");
        assert!(err.message.contains("\"Missing\" is not defined"), "{err}");

        let good_types = r#""types":{}"#;
        let api = api_with("").replace(
            r#""types":{"Body":{"description":null,"fields":[{"name":"a","type":"Missing","required":false,"description":null}]}}"#,
            good_types,
        );
        write_spec(
            &dir,
            &api.replace(r#""http_method":"GET""#, r#""http_method":"FETCH""#),
        );
        let err = Specs::load(&dir).unwrap_err();
        assert_eq!(err.field, "resources[0].methods[0].http_method");

        write_spec(
            &dir,
            &api.replace(r#""name":"message_id","type""#, r#""name":"msg_id","type""#),
        );
        let err = Specs::load(&dir).unwrap_err();
        assert_eq!(err.field, "resources[0].methods[0].path_params");

        write_spec(
            &dir,
            &api.replace(r#""by_card":false"#, r#""by_card":false,"extra":1"#),
        );
        let err = Specs::load(&dir).unwrap_err();
        assert!(err.message.contains("unknown field `extra`"), "{err}");

        write_spec(&dir, &api);
        Specs::load(&dir).expect("the corrected descriptor loads");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tuple_types_become_lists_of_any() {
        let field = |name: &str, ty: &str| Field {
            name: name.into(),
            ty: ty.into(),
            required: false,
            description: None,
            enum_values: None,
            format: None,
        };
        let tuple = TypeDef {
            description: None,
            fields: ["0", "1", "length", "toString", "reduceRight"]
                .iter()
                .map(|n| field(n, "int"))
                .collect(),
        };
        let holder = TypeDef {
            description: None,
            fields: vec![
                field("range", "[]Pair"),
                field("one", "Pair"),
                field("n", "int"),
            ],
        };
        let mut types = BTreeMap::from([("Pair".to_owned(), tuple), ("Holder".to_owned(), holder)]);
        tuples_as_lists(&mut types);
        assert!(!types.contains_key("Pair"));
        let tys: Vec<&str> = types["Holder"]
            .fields
            .iter()
            .map(|f| f.ty.as_str())
            .collect();
        assert_eq!(tys, ["[][]any", "[]any", "int"]);
    }
}
