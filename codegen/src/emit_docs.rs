//! Non-Rust outputs through `minijinja` templates in `templates/`: the `lark-oapi`
//! manifest with one feature per project, the feature table and the API catalogue.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde_json::{Value, json};

use crate::ir::{Ir, Project, Response};
use crate::{Error, Output};

/// Features on by default, chosen from measured build times (see the generator issue note):
/// messaging and the directory, what most bots use.
pub const DEFAULT_FEATURES: &[&str] = &["im", "contact"];

/// The manifest template of each generated API crate.
const CRATE_TEMPLATE: &str = "apis-crate.Cargo.toml.j2";

/// (template file, output path) pairs.
const TEMPLATES: &[(&str, &str)] = &[
    ("sdk-generated.Cargo.toml.j2", "sdk-generated/Cargo.toml"),
    ("features.md.j2", "docs/features.md"),
    ("api-catalogue.md.j2", "docs/api-catalogue.md"),
];

/// The data the templates see.
pub fn context(ir: &Ir, groups: &[Vec<&Project>]) -> Value {
    let projects: Vec<Value> = ir
        .projects
        .iter()
        .map(|p| {
            let methods: Vec<Value> = p
                .versions
                .iter()
                .flat_map(|v| {
                    v.resources.iter().flat_map(move |r| {
                        r.methods.iter().map(move |m| {
                            let args = m.path_params.iter().map(|a| a.ident.clone()).collect::<Vec<_>>().join(", ");
                            json!({
                                "call": format!("client.{}().{}().{}().{}({args})", p.module, v.module, r.module, m.function),
                                "http_method": m.http_method,
                                "path": m.path,
                                "doc_url": m.doc_url,
                                "summary": m.doc.first(),
                                "paginated": m.pagination.is_some(),
                                "upload": m.body.as_ref().is_some_and(|b| b.multipart),
                                "download": matches!(m.response, Response::Binary),
                            })
                        })
                    })
                })
                .collect();
            json!({
                "name": p.name,
                "module": p.module,
                "versions": p.versions.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
                "default_version": p.default_version.map(|i| p.versions[i].name.clone()),
                "method_count": methods.len(),
                "model_count": p.versions.iter().map(|v| v.models.len() + v.aliases.len()).sum::<usize>(),
                "event_count": p.versions.iter().filter_map(|v| v.events.as_ref()).map(|e| e.events.len()).sum::<usize>(),
                "default": DEFAULT_FEATURES.contains(&p.name.as_str()),
                "methods": methods,
            })
        })
        .collect();

    let crates: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(n, g)| {
            json!({
                "name": format!("lark-oapi-apis-{}", n + 1),
                "dir": (n + 1).to_string(),
                "projects": g.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut projects = projects;
    for (n, g) in groups.iter().enumerate() {
        for p in g {
            if let Some(entry) = projects.iter_mut().find(|e| e["name"] == p.name.as_str()) {
                entry["crate"] = json!(format!("lark-oapi-apis-{}", n + 1));
            }
        }
    }
    json!({
        "crates": crates,
        "projects": projects,
        "method_count": ir.method_count(),
        "event_count": ir.event_count(),
        "default_features": DEFAULT_FEATURES,
    })
}

/// Renders every template.
pub fn emit(
    ir: &Ir,
    groups: &[Vec<&Project>],
    specs_dir: &Path,
    out: &mut Output,
) -> Result<(), Error> {
    let dir = specs_dir
        .parent()
        .map(|p| p.join("templates"))
        .unwrap_or_else(|| PathBuf::from("templates"));
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    let mut sources = Vec::new();
    for name in TEMPLATES.iter().map(|(n, _)| *n).chain([CRATE_TEMPLATE]) {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
        sources.push((name, text));
    }
    for (name, text) in &sources {
        let name: &str = name;
        env.add_template(name, text)
            .map_err(|e| Error::Template(format!("{name}: {e}")))?;
    }
    let ctx = context(ir, groups);
    // The feature table also lives in the README, between markers.
    let readme_path = dir
        .parent()
        .map(|p| p.join("README.md"))
        .unwrap_or_else(|| PathBuf::from("README.md"));
    if let Ok(readme) = std::fs::read_to_string(&readme_path) {
        let table = env
            .get_template("features.md.j2")
            .and_then(|t| t.render(&ctx))
            .map_err(|e| Error::Template(format!("features.md.j2: {e}")))?;
        let table: String = table
            .lines()
            .filter(|l| !l.starts_with("<!--") && !l.starts_with("# "))
            .collect::<Vec<_>>()
            .join("\n");
        if let Some(updated) = replace_between(&readme, README_START, README_END, table.trim()) {
            out.files.insert(PathBuf::from("README.md"), updated);
        }
    }
    for c in ctx["crates"].as_array().into_iter().flatten() {
        let mut crate_ctx = ctx.clone();
        crate_ctx["crate"] = c.clone();
        let rendered = env
            .get_template(CRATE_TEMPLATE)
            .and_then(|t| t.render(&crate_ctx))
            .map_err(|e| Error::Template(format!("{CRATE_TEMPLATE}: {e}")))?;
        let mut rendered = rendered;
        if !rendered.ends_with('\n') {
            rendered.push('\n');
        }
        let dir = c["dir"].as_str().unwrap_or_default();
        out.files.insert(
            PathBuf::from(format!("{}/{dir}/Cargo.toml", crate::emit_rust::APIS_DIR)),
            rendered,
        );
    }
    for (name, target) in TEMPLATES {
        let rendered = env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| Error::Template(format!("{name}: {e}")))?;
        let mut text = rendered;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        out.files.insert(PathBuf::from(target), text);
    }
    Ok(())
}

const README_START: &str = "<!-- features:start (generated by `cargo xtask codegen`) -->";
const README_END: &str = "<!-- features:end -->";

/// `text` with what lies between the two markers replaced by `content`.
fn replace_between(text: &str, start: &str, end: &str, content: &str) -> Option<String> {
    let a = text.find(start)? + start.len();
    let b = a + text[a..].find(end)?;
    Some(format!("{}\n{content}\n{}", &text[..a], &text[b..]))
}
