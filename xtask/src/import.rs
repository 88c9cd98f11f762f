//! `cargo xtask import-specs <dir>`: the dataset (`shared/lark-api`) -> `api-specs/`.
//!
//! Keeps what the generator needs, in the shape it reads: one file per project-version
//! with resources, methods and named types; one per event group; `projects.json` with the
//! projects, their versions and default versions. Deterministic: keys sorted, lists in the
//! dataset's stable order, pretty-printed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

type Result<T> = std::result::Result<T, String>;

fn read(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

fn write(path: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    if fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn get<'a>(v: &'a Value, key: &str, ctx: &str) -> Result<&'a Value> {
    v.get(key).ok_or_else(|| format!("{ctx}: missing `{key}`"))
}

fn pick(v: &Value, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            out.insert((*k).to_owned(), x.clone());
        }
    }
    Value::Object(out)
}

fn field(f: &Value) -> Value {
    let mut out = pick(f, &["name", "type", "description", "enum", "format"]);
    out["required"] = Value::Bool(f.get("required") == Some(&Value::Bool(true)));
    out
}

fn types(types: &Value) -> Value {
    let mut out = Map::new();
    if let Some(map) = types.as_object() {
        for (name, t) in map {
            let fields: Vec<Value> = t
                .get("fields")
                .and_then(Value::as_array)
                .map(|fs| fs.iter().map(field).collect())
                .unwrap_or_default();
            out.insert(
                name.clone(),
                json!({ "description": t.get("description").cloned().unwrap_or(Value::Null), "fields": fields }),
            );
        }
    }
    Value::Object(out)
}

fn method(m: &Value, ctx: &str) -> Result<Value> {
    let mut out = pick(
        m,
        &[
            "name",
            "http_method",
            "path",
            "summary",
            "description",
            "description_en",
            "doc_url",
            "token_types",
            "pagination",
            "by_card",
        ],
    );
    let params = |key: &str| -> Vec<Value> {
        m.get(key)
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        let mut q = pick(p, &["name", "type", "description", "enum", "format"]);
                        q["required"] = Value::Bool(p.get("required") == Some(&Value::Bool(true)));
                        q["repeated"] = Value::Bool(p.get("repeated") == Some(&Value::Bool(true)));
                        q
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    out["path_params"] = Value::Array(params("path_params"));
    out["query_params"] = Value::Array(params("query_params"));
    out["body"] = match m.get("request_body") {
        Some(Value::Object(b)) => {
            let kind = match b.get("content_type").and_then(Value::as_str) {
                Some("multipart/form-data") => "multipart",
                Some("application/json") => "json",
                other => return Err(format!("{ctx}: unknown request content type {other:?}")),
            };
            json!({ "kind": kind, "type": b.get("type").cloned().unwrap_or(Value::Null) })
        }
        _ => Value::Null,
    };
    let resp = get(m, "response", ctx)?;
    out["response"] = json!({
        "kind": resp.get("kind").cloned().unwrap_or(json!("json")),
        "type": resp.get("data_type").cloned().unwrap_or(Value::Null),
    });
    Ok(out)
}

fn event(e: &Value) -> Value {
    pick(
        e,
        &[
            "event_type",
            "schema",
            "envelope_type",
            "payload_type",
            "response_type",
            "summary",
            "description",
        ],
    )
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a directory of the dataset",
            dir.display()
        ));
    }
    lark_oapi_codegen::spec::json_files(dir).map_err(|e| e.to_string())
}

/// Imports `dataset` into `specs`; returns the number of methods and events written.
pub(crate) fn import(dataset: &Path, specs: &Path) -> Result<(usize, usize)> {
    let index = read(&dataset.join("index.json"))?;
    let mut written: Vec<PathBuf> = Vec::new();
    let mut methods = 0;
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in json_files(&dataset.join("apis"))? {
        let d = read(&file)?;
        let ctx = file.display().to_string();
        let project = get(&d, "project", &ctx)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let version = get(&d, "version", &ctx)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut resources = Vec::new();
        for r in get(&d, "resources", &ctx)?.as_array().into_iter().flatten() {
            let name = get(r, "name", &ctx)?;
            let mut ms = Vec::new();
            for m in get(r, "methods", &ctx)?.as_array().into_iter().flatten() {
                let mctx = format!("{ctx}: {}.{}", name, m.get("name").unwrap_or(&Value::Null));
                ms.push(method(m, &mctx)?);
                methods += 1;
            }
            resources.push(json!({ "name": name, "methods": ms }));
        }
        let out = json!({
            "project": project, "version": version,
            "resources": resources,
            "types": types(get(&d, "types", &ctx)?),
        });
        let path = specs
            .join("apis")
            .join(&project)
            .join(format!("{version}.json"));
        write(&path, &out)?;
        written.push(path);
        versions.entry(project).or_default().push(version);
    }
    let mut events = 0;
    for file in json_files(&dataset.join("events"))? {
        let d = read(&file)?;
        let ctx = file.display().to_string();
        let group = file
            .parent()
            .and_then(Path::file_name)
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let version = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let evs: Vec<Value> = get(&d, "events", &ctx)?
            .as_array()
            .into_iter()
            .flatten()
            .map(event)
            .collect();
        events += evs.len();
        let out = json!({
            "project": group, "version": version,
            "events": evs,
            "types": types(get(&d, "types", &ctx)?),
        });
        let path = specs
            .join("events")
            .join(&group)
            .join(format!("{version}.json"));
        write(&path, &out)?;
        written.push(path);
    }
    let defaults = index.get("default_versions").cloned().unwrap_or(json!({}));
    let projects: Vec<Value> = versions
        .iter()
        .map(|(name, vs)| {
            json!({ "name": name, "versions": vs, "default_version": defaults.get(name).cloned().unwrap_or(Value::Null) })
        })
        .collect();
    let path = specs.join("projects.json");
    write(
        &path,
        &json!({ "projects": projects, "methods": methods, "events": events }),
    )?;
    written.push(path);
    // Files a previous import wrote that this dataset no longer has.
    for sub in ["apis", "events"] {
        for file in json_files(&specs.join(sub)).unwrap_or_default() {
            if !written.contains(&file) {
                fs::remove_file(&file)
                    .map_err(|e| format!("removing stale {}: {e}", file.display()))?;
            }
        }
    }
    Ok((methods, events))
}
