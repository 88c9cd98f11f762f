//! # lark-oapi-codegen
//!
//! Reads `api-specs/` ([`spec`]), resolves it into an IR where every Rust name is decided
//! ([`ir`], [`names`]; the platform's flattened doc texts restored by `doc_text`), and emits Rust with `quote` + `prettyplease` ([`emit_rust`]) and
//! the non-Rust files through `minijinja` templates ([`emit_docs`]). Output is a map of
//! paths to contents, byte-for-byte deterministic; [`Output::sync`] writes it or checks it.

mod doc_text;
pub mod emit_docs;
pub mod emit_rust;
pub mod ir;
pub mod names;
mod operation_flags;
pub mod spec;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why generation failed.
#[derive(Debug)]
pub enum Error {
    /// A descriptor is wrong.
    Spec(spec::SpecError),
    /// A template failed to render.
    Template(String),
    /// Emitted Rust did not parse (a generator bug).
    Rust(String),
    /// Two spec items would get the same Rust name.
    Naming(String),
    /// Reading or writing a file failed.
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spec(e) => write!(f, "bad descriptor: {e}"),
            Error::Template(e) => write!(f, "template: {e}"),
            Error::Rust(e) => write!(f, "emitted Rust does not parse: {e}"),
            Error::Naming(e) => write!(f, "name conflict: {e}"),
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for Error {}

impl From<spec::SpecError> for Error {
    fn from(e: spec::SpecError) -> Self {
        Error::Spec(e)
    }
}

/// Directories whose every file the generator owns (relative to the workspace root).
pub const MANAGED_DIRS: &[&str] = &[
    "sdk-generated/src/generated",
    "sdk-generated/apis",
    "tests/integration/tests/suite/generated",
];

/// Generated files, by path relative to the workspace root.
#[derive(Debug, Default)]
pub struct Output {
    /// Path -> contents.
    pub files: BTreeMap<PathBuf, String>,
}

/// What [`Output::sync`] found or did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Files that differed (written, or reported by `--check`).
    pub changed: Vec<PathBuf>,
    /// Files in managed directories that no spec produces (removed, or reported).
    pub orphans: Vec<PathBuf>,
    /// Files already up to date.
    pub unchanged: usize,
}

impl SyncReport {
    /// No drift.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.orphans.is_empty()
    }

    /// Files produced.
    pub fn total(&self) -> usize {
        self.changed.len() + self.unchanged
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.changed {
            writeln!(f, "  differs: {}", p.display())?;
        }
        for p in &self.orphans {
            writeln!(f, "  orphan (no spec produces it): {}", p.display())?;
        }
        Ok(())
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

impl Output {
    /// Writes the files under `root` (or, with `check`, only compares), and removes (or
    /// reports) orphans in [`MANAGED_DIRS`].
    pub fn sync(&self, root: &Path, check: bool) -> Result<SyncReport, Error> {
        let mut report = SyncReport::default();
        for (rel, content) in &self.files {
            let path = root.join(rel);
            let same = std::fs::read(&path).is_ok_and(|old| old == content.as_bytes());
            if same {
                report.unchanged += 1;
                continue;
            }
            report.changed.push(rel.clone());
            if !check {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
                }
                std::fs::write(&path, content).map_err(|e| Error::Io(path.clone(), e))?;
            }
        }
        for dir in MANAGED_DIRS {
            let mut found = Vec::new();
            walk(&root.join(dir), &mut found).map_err(|e| Error::Io(root.join(dir), e))?;
            found.sort();
            for path in found {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                if !self.files.contains_key(&rel) {
                    if !check {
                        std::fs::remove_file(&path).map_err(|e| Error::Io(path.clone(), e))?;
                    }
                    report.orphans.push(rel);
                }
            }
        }
        if !check {
            remove_empty_dirs(root)?;
        }
        Ok(report)
    }
}

fn remove_empty_dirs(root: &Path) -> Result<(), Error> {
    fn prune(dir: &Path) -> std::io::Result<bool> {
        let mut empty = true;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                if prune(&path)? {
                    std::fs::remove_dir(&path)?;
                } else {
                    empty = false;
                }
            } else {
                empty = false;
            }
        }
        Ok(empty)
    }
    for dir in MANAGED_DIRS {
        let d = root.join(dir);
        if d.exists() {
            prune(&d).map_err(|e| Error::Io(d.clone(), e))?;
        }
    }
    Ok(())
}

/// Generates everything from the `api-specs/` directory at `specs_dir`.
pub fn generate(specs_dir: &Path) -> Result<Output, Error> {
    let specs = spec::Specs::load(specs_dir)?;
    let mut ir = ir::Ir::build(&specs);
    // The generator's own data, beside the specs: `<workspace>/codegen/*.json`.
    let data_dir = specs_dir
        .parent()
        .map_or_else(|| PathBuf::from("codegen"), |root| root.join("codegen"));
    let read = |name: &str| {
        let path = data_dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| Error::Io(path, e))
    };
    operation_flags::apply(&mut ir, &read("operation-flags.json")?)?;
    let groups = emit_rust::crate_groups(&ir, &read("crates.json")?)?;
    let mut output = Output::default();
    emit_rust::emit(&ir, &groups, &mut output)?;
    emit_docs::emit(&ir, &groups, specs_dir, &mut output)?;
    Ok(output)
}
