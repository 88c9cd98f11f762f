//! Non-Rust outputs through `minijinja` templates in `templates/`: the `lark-oapi`
//! manifest with one feature per project, the feature table and the API catalogue.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde_json::{Value, json};

use crate::ir::{Ir, Response};
use crate::{Error, Output};

/// Features on by default, chosen from measured build times (see the generator issue note):
/// messaging and the directory, what most bots use.
pub const DEFAULT_FEATURES: &[&str] = &["im", "contact"];

/// (template file, output path) pairs.
const TEMPLATES: &[(&str, &str)] = &[
    ("sdk-generated.Cargo.toml.j2", "sdk-generated/Cargo.toml"),
    ("features.md.j2", "docs/features.md"),
    ("api-catalogue.md.j2", "docs/api-catalogue.md"),
];

/// The data the templates see.
pub fn context(ir: &Ir) -> Value {
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
                "model_count": p.versions.iter().map(|v| v.models.len()).sum::<usize>(),
                "default": DEFAULT_FEATURES.contains(&p.name.as_str()),
                "methods": methods,
            })
        })
        .collect();
    json!({
        "projects": projects,
        "method_count": ir.method_count(),
        "default_features": DEFAULT_FEATURES,
    })
}

/// Renders every template.
pub fn emit(ir: &Ir, specs_dir: &Path, out: &mut Output) -> Result<(), Error> {
    let dir = specs_dir
        .parent()
        .map(|p| p.join("templates"))
        .unwrap_or_else(|| PathBuf::from("templates"));
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    let mut sources = Vec::new();
    for (name, _) in TEMPLATES {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
        sources.push((*name, text));
    }
    for (name, text) in &sources {
        env.add_template(name, text)
            .map_err(|e| Error::Template(format!("{name}: {e}")))?;
    }
    let ctx = context(ir);
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
