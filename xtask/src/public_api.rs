//! `cargo xtask public-api [--check]`: the public API of the runtime and the facade as a
//! sorted listing, one item per line, from rustdoc's JSON output (nightly toolchain).
//!
//! The listings are committed under `api/`; `--check` fails when the API changed and the
//! listing was not updated with it, so that every change of what users can name is a
//! reviewed diff. Items hidden with `#[doc(hidden)]` (the generator's `__private` module)
//! are not part of it, which is the point.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// One listed crate: the package, its features, and the listing's file.
struct Target {
    package: &'static str,
    lib_name: &'static str,
    features: &'static str,
    listing: &'static str,
}

/// The runtime with every runtime feature, the facade without any API project (its own
/// items and re-exports; the generated projects are checked by `codegen --check`), and the
/// bot kit, and the Redis-shared state.
const TARGETS: &[Target] = &[
    Target {
        package: "lark-oapi-core",
        lib_name: "lark_oapi_core",
        features: "events,long-connection,axum",
        listing: "api/lark-oapi-core.txt",
    },
    Target {
        package: "lark-oapi",
        lib_name: "lark_oapi",
        features: "events,long-connection,axum",
        listing: "api/lark-oapi.txt",
    },
    Target {
        package: "lark-oapi-bot",
        lib_name: "lark_oapi_bot",
        features: "",
        listing: "api/lark-oapi-bot.txt",
    },
    Target {
        package: "lark-oapi-redis",
        lib_name: "lark_oapi_redis",
        features: "",
        listing: "api/lark-oapi-redis.txt",
    },
];

pub(crate) fn run(root: &Path, check: bool) -> Result<(), String> {
    let mut drifted = Vec::new();
    for target in TARGETS {
        let json = rustdoc_json(root, target)?;
        let listing = listing(&json)?;
        let path = root.join(target.listing);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == listing {
            println!(
                "{}: {} items, unchanged",
                target.listing,
                listing.lines().count()
            );
            continue;
        }
        if check {
            drifted.push(diff(target.listing, &committed, &listing));
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&path, &listing).map_err(|e| format!("{}: {e}", path.display()))?;
            println!(
                "{}: {} items, written",
                target.listing,
                listing.lines().count()
            );
        }
    }
    if drifted.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the public API changed without its snapshot: review the lines below, then run `cargo xtask public-api` and commit api/\n{}",
            drifted.join("\n")
        ))
    }
}

fn rustdoc_json(root: &Path, target: &Target) -> Result<Value, String> {
    let target_dir = root.join("target/public-api");
    let status = Command::new("cargo")
        .current_dir(root)
        .args([
            "+nightly",
            "rustdoc",
            "--lib",
            "--quiet",
            "-p",
            target.package,
        ])
        .args(["--no-default-features", "--features", target.features])
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .status()
        .map_err(|e| {
            format!("running cargo +nightly rustdoc: {e} (is the nightly toolchain installed?)")
        })?;
    if !status.success() {
        return Err(format!(
            "cargo +nightly rustdoc -p {} failed",
            target.package
        ));
    }
    let file = target_dir.join(format!("doc/{}.json", target.lib_name));
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The sorted listing of everything reachable from the crate root.
fn listing(doc: &Value) -> Result<String, String> {
    let index = doc["index"]
        .as_object()
        .ok_or("rustdoc JSON without an index")?;
    let items: HashMap<String, &Value> = index.iter().map(|(k, v)| (k.clone(), v)).collect();
    let root = id_of(&doc["root"]).ok_or("rustdoc JSON without a root")?;
    let mut walker = Walker {
        items: &items,
        lines: BTreeSet::new(),
        seen: HashSet::new(),
    };
    let name = items
        .get(&root)
        .and_then(|i| i["name"].as_str())
        .unwrap_or("crate")
        .to_owned();
    walker.module(&root, &name);
    let mut out = String::new();
    for line in walker.lines {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

struct Walker<'a> {
    items: &'a HashMap<String, &'a Value>,
    lines: BTreeSet<String>,
    /// (item id, path) pairs already listed: an item re-exported twice is listed twice.
    seen: HashSet<(String, String)>,
}

impl<'a> Walker<'a> {
    fn item(&self, id: &str) -> Option<&'a Value> {
        self.items.get(id).copied()
    }

    fn module(&mut self, id: &str, path: &str) {
        let Some(item) = self.item(id) else { return };
        let Some(children) = item["inner"]["module"]["items"].as_array() else {
            return;
        };
        for child in children.iter().filter_map(id_of) {
            self.child(&child, path);
        }
    }

    fn child(&mut self, id: &str, parent: &str) {
        let Some(item) = self.item(id) else { return };
        let inner = &item["inner"];
        if let Some(use_) = inner.get("use") {
            let target = id_of(&use_["id"]);
            let name = use_["name"].as_str().unwrap_or_default();
            let glob = use_["is_glob"].as_bool().unwrap_or(false);
            match target
                .as_deref()
                .and_then(|t| self.item(t).map(|i| (t.to_owned(), i)))
            {
                Some((t, target_item)) if glob => {
                    if target_item["inner"].get("module").is_some() {
                        self.module(&t, parent);
                    }
                }
                Some((t, _)) => self.named(&t, &format!("{parent}::{name}")),
                None => {
                    let source = use_["source"].as_str().unwrap_or_default();
                    let star = if glob { "::*" } else { "" };
                    self.lines
                        .insert(format!("pub use {parent}::{name}{star} = {source}{star}"));
                }
            }
            return;
        }
        let Some(name) = item["name"].as_str() else {
            return;
        };
        self.named(id, &format!("{parent}::{name}"));
    }

    /// Lists item `id` under `path`.
    fn named(&mut self, id: &str, path: &str) {
        if !self.seen.insert((id.to_owned(), path.to_owned())) {
            return;
        }
        let Some(item) = self.item(id) else { return };
        let inner = &item["inner"];
        let Some((kind, body)) = inner.as_object().and_then(|o| o.iter().next()) else {
            return;
        };
        match kind.as_str() {
            "module" => {
                self.lines.insert(format!("mod {path}"));
                self.module(id, path);
            }
            "struct" => {
                let generics = generics(&body["generics"]);
                self.lines.insert(format!("struct {path}{generics}"));
                let kind = &body["kind"];
                if let Some(plain) = kind.get("plain") {
                    self.fields(&plain["fields"], path);
                    if plain["has_stripped_fields"].as_bool() == Some(true) {
                        self.lines
                            .insert(format!("struct {path} has private fields"));
                    }
                } else if let Some(tuple) = kind.get("tuple") {
                    let fields = self.tuple_fields(tuple);
                    self.lines.insert(format!("struct {path}{fields}"));
                }
                self.impls(&body["impls"], path);
            }
            "enum" => {
                let generics = generics(&body["generics"]);
                self.lines.insert(format!("enum {path}{generics}"));
                for v in body["variants"].as_array().into_iter().flatten() {
                    let Some(v) = id_of(v).and_then(|v| self.item(&v)) else {
                        continue;
                    };
                    let name = v["name"].as_str().unwrap_or_default();
                    let vk = &v["inner"]["variant"]["kind"];
                    let shape = if let Some(t) = vk.get("tuple") {
                        self.tuple_fields(t)
                    } else if let Some(s) = vk.get("struct") {
                        self.fields(&s["fields"], &format!("{path}::{name}"));
                        " { .. }".into()
                    } else {
                        String::new()
                    };
                    self.lines.insert(format!("variant {path}::{name}{shape}"));
                }
                self.impls(&body["impls"], path);
            }
            "trait" => {
                let generics = generics(&body["generics"]);
                let bounds = bounds(&body["bounds"]);
                let sup = if bounds.is_empty() {
                    String::new()
                } else {
                    format!(": {bounds}")
                };
                self.lines.insert(format!("trait {path}{generics}{sup}"));
                for m in body["items"].as_array().into_iter().flatten() {
                    if let Some(m) = id_of(m) {
                        self.assoc(&m, path);
                    }
                }
            }
            "function" => {
                self.lines.insert(function(path, body));
            }
            "type_alias" => {
                let generics = generics(&body["generics"]);
                self.lines
                    .insert(format!("type {path}{generics} = {}", ty(&body["type"])));
            }
            "constant" => {
                self.lines
                    .insert(format!("const {path}: {}", ty(&body["type"])));
            }
            "static" => {
                self.lines
                    .insert(format!("static {path}: {}", ty(&body["type"])));
            }
            "macro" => {
                self.lines.insert(format!("macro {path}!"));
            }
            other => {
                self.lines.insert(format!("{other} {path}"));
            }
        }
    }

    /// The types of a tuple struct's or variant's fields: `(A, B)` (`_` for a private one).
    fn tuple_fields(&self, fields: &Value) -> String {
        let types: Vec<String> = fields
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| match id_of(f).and_then(|f| self.item(&f)) {
                Some(f) => ty(&f["inner"]["struct_field"]),
                None => "_".into(),
            })
            .collect();
        format!("({})", types.join(", "))
    }

    fn fields(&mut self, fields: &Value, path: &str) {
        for f in fields.as_array().into_iter().flatten() {
            let Some(f) = id_of(f).and_then(|f| self.item(&f)) else {
                continue;
            };
            let name = f["name"].as_str().unwrap_or_default();
            self.lines.insert(format!(
                "field {path}::{name}: {}",
                ty(&f["inner"]["struct_field"])
            ));
        }
    }

    /// Inherent methods and the traits a type implements (blanket impls left out).
    fn impls(&mut self, impls: &Value, path: &str) {
        for i in impls.as_array().into_iter().flatten() {
            let Some(imp) = id_of(i).and_then(|i| self.item(&i)) else {
                continue;
            };
            let imp = &imp["inner"]["impl"];
            if !imp["blanket_impl"].is_null() {
                continue;
            }
            let generics = generics(&imp["generics"]);
            match imp.get("trait").filter(|t| !t.is_null()) {
                Some(tr) => {
                    let neg = if imp["is_negative"].as_bool() == Some(true) {
                        "!"
                    } else {
                        ""
                    };
                    self.lines.insert(format!(
                        "{path}: impl{generics} {neg}{} for {}",
                        path_ty(tr),
                        ty(&imp["for"])
                    ));
                }
                None => {
                    for m in imp["items"].as_array().into_iter().flatten() {
                        if let Some(m) = id_of(m) {
                            self.assoc(&m, path);
                        }
                    }
                }
            }
        }
    }

    /// An associated item (method, constant, type) of a type or trait.
    fn assoc(&mut self, id: &str, owner: &str) {
        let Some(item) = self.item(id) else { return };
        if item["visibility"].as_str() == Some("default")
            || item["visibility"].as_str() == Some("public")
        {
            let name = item["name"].as_str().unwrap_or_default();
            let path = format!("{owner}::{name}");
            let inner = &item["inner"];
            if let Some(f) = inner.get("function") {
                self.lines.insert(function(&path, f));
            } else if let Some(c) = inner.get("assoc_const") {
                self.lines
                    .insert(format!("const {path}: {}", ty(&c["type"])));
            } else if let Some(t) = inner.get("assoc_type") {
                let b = bounds(&t["bounds"]);
                self.lines.insert(format!("type {path}: {b}"));
            }
        }
    }
}

fn function(path: &str, f: &Value) -> String {
    let header = &f["header"];
    let mut quals = String::new();
    for (flag, word) in [
        ("is_const", "const "),
        ("is_async", "async "),
        ("is_unsafe", "unsafe "),
    ] {
        if header[flag].as_bool() == Some(true) {
            quals.push_str(word);
        }
    }
    let inputs: Vec<String> = f["sig"]["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            let name = pair[0].as_str().unwrap_or("_");
            let t = ty(&pair[1]);
            match name {
                "self" => match t.as_str() {
                    "Self" => "self".into(),
                    "&Self" => "&self".into(),
                    "&mut Self" => "&mut self".into(),
                    _ => format!("self: {t}"),
                },
                _ => format!("{name}: {t}"),
            }
        })
        .collect();
    let output = match &f["sig"]["output"] {
        Value::Null => String::new(),
        o => format!(" -> {}", ty(o)),
    };
    format!(
        "{quals}fn {path}{}({}){output}{}",
        generics(&f["generics"]),
        inputs.join(", "),
        where_clause(&f["generics"])
    )
}

fn generics(g: &Value) -> String {
    let params: Vec<String> = g["params"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            let kind = &p["kind"];
            if let Some(l) = kind.get("lifetime") {
                let outlives: Vec<&str> = l["outlives"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                return Some(if outlives.is_empty() {
                    name.to_owned()
                } else {
                    format!("{name}: {}", outlives.join(" + "))
                });
            }
            if let Some(t) = kind.get("type") {
                if t["is_synthetic"].as_bool() == Some(true) {
                    return None;
                }
                let b = bounds(&t["bounds"]);
                let mut s = name.to_owned();
                if !b.is_empty() {
                    s = format!("{s}: {b}");
                }
                if !t["default"].is_null() {
                    s = format!("{s} = {}", ty(&t["default"]));
                }
                return Some(s);
            }
            if let Some(c) = kind.get("const") {
                return Some(format!("const {name}: {}", ty(&c["type"])));
            }
            Some(name.to_owned())
        })
        .collect();
    if params.is_empty() {
        String::new()
    } else {
        format!("<{}>", params.join(", "))
    }
}

fn where_clause(g: &Value) -> String {
    let preds: Vec<String> = g["where_predicates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            if let Some(b) = p.get("bound_predicate") {
                format!("{}: {}", ty(&b["type"]), bounds(&b["bounds"]))
            } else {
                compact(p)
            }
        })
        .collect();
    if preds.is_empty() {
        String::new()
    } else {
        format!(" where {}", preds.join(", "))
    }
}

fn bounds(b: &Value) -> String {
    let parts: Vec<String> = b
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            if let Some(t) = b.get("trait_bound") {
                let maybe = if t["modifier"].as_str() == Some("maybe") {
                    "?"
                } else {
                    ""
                };
                format!("{maybe}{}", path_ty(&t["trait"]))
            } else if let Some(l) = b.get("outlives") {
                l.as_str().unwrap_or_default().to_owned()
            } else {
                compact(b)
            }
        })
        .collect();
    parts.join(" + ")
}

/// A path (`Name<Args>`) as written.
fn path_ty(p: &Value) -> String {
    let name = p["path"]
        .as_str()
        .or_else(|| p["name"].as_str())
        .unwrap_or_default();
    format!("{name}{}", args(&p["args"]))
}

fn args(a: &Value) -> String {
    if a.is_null() {
        return String::new();
    }
    if let Some(ab) = a.get("angle_bracketed") {
        let mut parts: Vec<String> = ab["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|arg| {
                if let Some(t) = arg.get("type") {
                    ty(t)
                } else if let Some(l) = arg.get("lifetime") {
                    l.as_str().unwrap_or_default().to_owned()
                } else {
                    compact(arg)
                }
            })
            .collect();
        for c in ab["constraints"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let binding = &c["binding"];
            if let Some(eq) = binding.get("equality") {
                let v = eq.get("type").map(ty).unwrap_or_else(|| compact(eq));
                parts.push(format!("{name} = {v}"));
            } else if let Some(b) = binding.get("constraint") {
                parts.push(format!("{name}: {}", bounds(b)));
            } else {
                parts.push(compact(c));
            }
        }
        if parts.is_empty() {
            return String::new();
        }
        return format!("<{}>", parts.join(", "));
    }
    if let Some(p) = a.get("parenthesized") {
        let inputs: Vec<String> = p["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ty)
            .collect();
        let out = match &p["output"] {
            Value::Null => String::new(),
            o => format!(" -> {}", ty(o)),
        };
        return format!("({}){out}", inputs.join(", "));
    }
    compact(a)
}

/// A type as written (close enough to Rust syntax to read, and stable to diff).
fn ty(t: &Value) -> String {
    let Some((kind, v)) = t.as_object().and_then(|o| o.iter().next()) else {
        return t.as_str().unwrap_or("_").to_owned();
    };
    match kind.as_str() {
        "resolved_path" => path_ty(v),
        "generic" | "primitive" => v.as_str().unwrap_or_default().to_owned(),
        "borrowed_ref" => {
            let lt = v["lifetime"]
                .as_str()
                .map(|l| format!("{l} "))
                .unwrap_or_default();
            let m = if v["is_mutable"].as_bool() == Some(true) {
                "mut "
            } else {
                ""
            };
            format!("&{lt}{m}{}", ty(&v["type"]))
        }
        "raw_pointer" => {
            let m = if v["is_mutable"].as_bool() == Some(true) {
                "mut"
            } else {
                "const"
            };
            format!("*{m} {}", ty(&v["type"]))
        }
        "tuple" => {
            let parts: Vec<String> = v.as_array().into_iter().flatten().map(ty).collect();
            format!("({})", parts.join(", "))
        }
        "slice" => format!("[{}]", ty(v)),
        "array" => format!("[{}; {}]", ty(&v["type"]), v["len"].as_str().unwrap_or("_")),
        "impl_trait" => format!("impl {}", bounds(v)),
        "dyn_trait" => {
            let traits: Vec<String> = v["traits"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| path_ty(&t["trait"]))
                .collect();
            let lt = v["lifetime"]
                .as_str()
                .map(|l| format!(" + {l}"))
                .unwrap_or_default();
            format!("dyn {}{lt}", traits.join(" + "))
        }
        "qualified_path" => {
            let name = v["name"].as_str().unwrap_or_default();
            let self_ty = ty(&v["self_type"]);
            match v.get("trait").filter(|t| !t.is_null()) {
                Some(tr) => format!("<{self_ty} as {}>::{name}", path_ty(tr)),
                None => format!("{self_ty}::{name}"),
            }
        }
        "function_pointer" => {
            let inputs: Vec<String> = v["sig"]["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ty(&p[1]))
                .collect();
            let out = match &v["sig"]["output"] {
                Value::Null => String::new(),
                o => format!(" -> {}", ty(o)),
            };
            format!("fn({}){out}", inputs.join(", "))
        }
        _ => compact(t),
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The lines only in one of the two listings.
fn diff(name: &str, old: &str, new: &str) -> String {
    let old: BTreeSet<&str> = old.lines().collect();
    let new: BTreeSet<&str> = new.lines().collect();
    let mut out = format!("--- {name} (committed)\n+++ {name} (the code now)\n");
    for line in old.difference(&new) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in new.difference(&old) {
        out.push_str(&format!("+ {line}\n"));
    }
    out
}
