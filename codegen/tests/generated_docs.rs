//! A lint over the committed generated code: its docs must read as if a person wrote them.
//!
//! Each check names one way the platform's flattened texts used to come out wrong; the
//! whole output must have none of them, and each check is shown to fire on a sample.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Findings by check, each with `file:line: text`.
type Findings = BTreeMap<&'static str, Vec<String>>;

/// A run of `///` lines and the item line after it.
struct DocBlock {
    line: usize,
    text: Vec<String>,
    item: String,
}

fn doc_blocks(source: &str) -> Vec<DocBlock> {
    let mut blocks = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut start = 0;
    for (n, raw) in source.lines().enumerate() {
        let line = raw.trim();
        if let Some(doc) = line.strip_prefix("///") {
            if current.is_empty() {
                start = n + 1;
            }
            current.push(doc.strip_prefix(' ').unwrap_or(doc).to_owned());
        } else if !current.is_empty()
            && !line.starts_with("#[")
            && !line.starts_with(')')
            && !line.starts_with("feature")
            && !line.starts_with("derive")
            && !line.starts_with("serde")
        {
            blocks.push(DocBlock {
                line: start,
                text: std::mem::take(&mut current),
                item: line.to_owned(),
            });
        }
    }
    blocks
}

/// Code spans of one doc line.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The line with its code spans blanked out.
fn prose(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// Words that begin a hyphenated compound: a title ending in one was cut at its hyphen.
const CUT_HEADS: &[&str] = &[
    "co", "e", "follow", "multi", "non", "pre", "re", "self", "sub", "third", "un",
];

fn lint(file: &str, source: &str, out: &mut Findings) {
    let blocks = doc_blocks(source);
    let mut at = |check: &'static str, line: usize, text: &str| {
        out.entry(check)
            .or_default()
            .push(format!("{file}:{line}: {text}"));
    };
    // Enums: variants documented by their wire value alone.
    let mut bare_variants: HashMap<String, Vec<String>> = HashMap::new();
    let mut current_enum = None;
    let mut titles: HashMap<String, usize> = HashMap::new();
    for b in &blocks {
        for (i, l) in b.text.iter().enumerate() {
            let n = b.line + i;
            for span in code_spans(l) {
                if span.contains("&lt;") || span.contains("&gt;") || span.contains("\\[") {
                    at("escaped text in a code span", n, l);
                }
            }
            let p = prose(l);
            if squashed_item(&p) {
                at("list item glued to the text before it", n, l);
            }
            if bracketed_name(&p) || l.contains("\\[`") {
                at("bracketed link name without a URL", n, l);
            }
        }
        let first = b.text.first().map(String::as_str).unwrap_or_default();
        if let Some(name) = b
            .item
            .strip_prefix("pub struct ")
            .or_else(|| b.item.strip_prefix("pub type "))
        {
            let name = name
                .split([' ', '{', '<', '=', ';'])
                .next()
                .unwrap_or_default();
            if b.text.len() == 1 && first == format!("`{name}`") {
                at("model documented only by its name", b.line, first);
            }
        }
        if let Some(e) = b.item.strip_prefix("pub enum ") {
            current_enum = Some(e.trim_end_matches(" {").to_owned());
        } else if b.item.starts_with("pub ") {
            current_enum = None;
        }
        if let Some(e) = &current_enum
            && !b.item.starts_with("pub ")
            && b.text.len() == 1
            && let Some(wire) = first.strip_prefix('`').and_then(|w| w.strip_suffix('`'))
        {
            bare_variants
                .entry(e.clone())
                .or_default()
                .push(wire.to_owned());
        }
        let is_method = b.text.iter().any(|l| {
            ["`GET ", "`POST ", "`PUT ", "`PATCH ", "`DELETE "]
                .iter()
                .any(|m| l.starts_with(m))
        });
        if b.item.starts_with("pub fn ") && is_method {
            let title = first.split(" (").next().unwrap_or_default();
            let last = title.rsplit(' ').next().unwrap_or_default().to_lowercase();
            let detail_start = b.text.get(2).map(String::as_str).unwrap_or_default();
            let cut_tail = detail_start.split_once('-').is_some_and(|(w, rest)| {
                !w.is_empty()
                    && w.chars().all(|c| c.is_ascii_lowercase())
                    && rest.starts_with(|c: char| c.is_uppercase())
            });
            if CUT_HEADS.contains(&last.as_str()) || cut_tail {
                at("title cut at a hyphen", b.line, first);
            }
            *titles.entry(first.to_owned()).or_default() += 1;
        }
    }
    for (title, count) in titles {
        if count > 1 {
            at("two methods with one title", 0, &title);
        }
    }
    // A bare variant whose meaning the docs of a field of that enum spell out.
    for b in &blocks {
        let Some(field_ty) = b.item.strip_prefix("pub ").and_then(|f| f.split_once(": ")) else {
            continue;
        };
        let text = b.text.join("\n");
        for (e, wires) in &bare_variants {
            let typed = field_ty.1.trim_end_matches(',');
            let uses = typed == e || typed.contains(&format!("<{e}>"));
            if !uses {
                continue;
            }
            for w in wires {
                if describes(&text, w) {
                    at(
                        "enum value described by the spec but not its variant",
                        b.line,
                        &format!("{e}::{w} in {}", field_ty.0),
                    );
                }
            }
        }
    }
}

/// Whether a field text says what `value` means (`value(…)`, `` `value`: ``, `- value:`).
fn describes(text: &str, value: &str) -> bool {
    text.contains(&format!("`{value}`:"))
        || text.contains(&format!("{value}("))
        || text.contains(&format!("- {value}:"))
        || text.contains(&format!("* {value}:"))
}

/// `… rejected- 2: approved`, `Fixed* 2: Free`, `Options:a(x),b(y)`.
fn squashed_item(prose: &str) -> bool {
    let chars: Vec<char> = prose.chars().collect();
    for i in 1..chars.len().saturating_sub(2) {
        let marker = matches!(chars[i], '-' | '*') && chars[i + 1] == ' ';
        let glued = !chars[i - 1].is_whitespace() && chars[i - 1] != '*';
        // `*name* text`: the close of an emphasis, not a list marker.
        let closes_emphasis =
            chars[i] == '*' && chars[..i].iter().filter(|&&c| c == '*').count() % 2 == 1;
        let glued = glued && !closes_emphasis;
        if marker && glued {
            let rest: String = chars[i + 2..].iter().take(40).collect();
            let word = rest.split(' ').next().unwrap_or_default();
            if word.ends_with(':') || word.ends_with('：') || rest.trim_start().starts_with(':') {
                return true;
            }
        }
    }
    prose
        .split("Options:")
        .nth(1)
        .is_some_and(|rest| rest.contains("),"))
}

/// `\[Some page\]`: a link name whose URL was lost, left as escaped brackets.
fn bracketed_name(prose: &str) -> bool {
    prose.split("\\[").skip(1).any(|rest| {
        rest.starts_with(|c: char| c.is_alphabetic())
            && rest
                .split_once("\\]")
                .is_some_and(|(name, _)| !name.contains(['{', '"', '=', '\'']))
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_generated_docs_have_none_of_the_known_defects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("sdk-generated/apis"), &mut files);
    rust_files(&root.join("sdk-generated/src/generated"), &mut files);
    files.sort();
    assert!(files.len() > 300, "generated files found: {}", files.len());
    let mut findings = Findings::new();
    let mut blocks = 0;
    for f in &files {
        let source = std::fs::read_to_string(f).expect("readable file");
        blocks += doc_blocks(&source).len();
        let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        lint(&name, &source, &mut findings);
    }
    assert!(blocks > 30_000, "doc blocks read: {blocks}");
    let report: Vec<String> = findings
        .iter()
        .map(|(check, hits)| {
            let sample: Vec<&String> = hits.iter().take(5).collect();
            format!(
                "{check}: {}\n  {}",
                hits.len(),
                sample
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            )
        })
        .collect();
    assert!(
        findings.is_empty(),
        "generated-docs lint:\n{}",
        report.join("\n")
    );
}

#[test]
fn each_check_fires_on_a_sample_of_its_defect() {
    let sample = r#"
/// Push follow (添加跟随气泡)
///
/// up-Call this interface
///
/// `POST /open-apis/im/v1/messages/:message_id/push_follow_up`
pub fn push_follow_up(&self) {}
/// Send message (发送消息)
///
/// `POST /open-apis/im/v1/messages`
pub fn create(&self) {}
/// Send message (发送消息)
///
/// `POST /open-apis/im/v1/messages`
pub fn create_by_card(&self) {}
/// Use `Vec&lt;u8&gt;` here. See \[How to get an ID\]. Values:* 1: Fixed* 2: Free
pub struct Thing {
    /// Kind. Options:a(first),b(second)
    pub kind: Option<Kind>,
}
/// `Other`
pub struct Other {}
/// One of: `a`.
pub enum Kind {
    /// `a`
    A,
}
"#;
    let mut findings = Findings::new();
    lint("sample.rs", sample, &mut findings);
    let checks: Vec<&str> = findings.keys().copied().collect();
    assert_eq!(
        checks,
        [
            "bracketed link name without a URL",
            "enum value described by the spec but not its variant",
            "escaped text in a code span",
            "list item glued to the text before it",
            "model documented only by its name",
            "title cut at a hyphen",
            "two methods with one title",
        ],
        "{findings:#?}"
    );
}
