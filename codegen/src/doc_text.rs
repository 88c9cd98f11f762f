//! The platform's doc strings as rustdoc.
//!
//! The dataset's texts come from tools that flattened them: a method's English text is
//! `Category-…-Title-Description` in one string, lists lost their line breaks
//! (`Optional values are:* 1: Fixed* 2: Free`, `Options:asc(…),desc(…)`), `<md-enum>`
//! markup and `<br>` tags are left in, and link names lost their URLs. This module puts the
//! structure back ([`Titles`], [`normalize`]), finds what each enum value means
//! ([`value_docs`]) and renders lines rustdoc reads as intended ([`doc`]).

use proc_macro2::TokenStream;
use quote::quote;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Words that begin a hyphenated compound (`third-party`, `self-built`, `follow-up`): a
/// hyphen after one of them joins words instead of separating a title from its category.
const COMPOUND_HEADS: &[&str] = &[
    "all",
    "back",
    "bubble",
    "check",
    "cross",
    "enterprise",
    "follow",
    "full",
    "lower",
    "meta",
    "multi",
    "next",
    "non",
    "off",
    "post",
    "pre",
    "prev",
    "real",
    "robot",
    "self",
    "semi",
    "server",
    "sub",
    "tag",
    "tenant",
    "third",
    "three",
    "top",
    "upper",
    "user",
];

/// Splits the `Category-…-Title-Description` texts of methods into title and description.
///
/// The category path has no fixed depth (`Docs-Space-File-Upload files-Multipart Upload-…`),
/// titles and descriptions hold hyphens of their own (`Push follow-up`, `third-party`), so a
/// text alone is ambiguous. What disambiguates it is the others: a category is a prefix that
/// several texts share and branch from.
pub(crate) struct Titles {
    /// Distinct segments that follow each shared prefix.
    branches: HashMap<Vec<String>, BTreeSet<String>>,
}

impl Titles {
    /// Learns the category paths from every method text of the dataset.
    pub(crate) fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Titles {
        let mut branches: HashMap<Vec<String>, BTreeSet<String>> = HashMap::new();
        for text in texts {
            let segs = segments(text);
            for k in 1..segs.len() {
                branches
                    .entry(segs[..k].to_vec())
                    .or_default()
                    .insert(segs[k].clone());
            }
        }
        Titles { branches }
    }

    /// (title, description) of one method text.
    pub(crate) fn split(&self, text: &str) -> (Option<String>, Option<String>) {
        let segs = segments(text);
        if segs.len() < 2 {
            return (None, nonempty(text));
        }
        // The title follows the deepest prefix other texts branch from (at least the
        // documented `Category-Sub-`), and leaves something after it when it can.
        let shared = (1..segs.len())
            .filter(|&k| self.branches.get(&segs[..k]).is_some_and(|b| b.len() >= 2))
            .max()
            .unwrap_or(0);
        let mut title = shared.max(2).min(segs.len() - 1);
        // A description does not start a new capitalised segment after its first: if it
        // would, the "title" was one more category level no other text shares.
        while title + 2 < segs.len() && !starts_lowercase(&segs[title + 2]) {
            title += 1;
        }
        let description = segs[title + 1..].join("-");
        (nonempty(&segs[title]), nonempty(&description))
    }
}

fn nonempty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|t| !t.is_empty())
}

fn starts_lowercase(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_lowercase())
}

/// The segments of a method text: split at hyphens between two non-spaces (and at ` -X`),
/// then rejoined where the hyphen is inside a compound word.
fn segments(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts: Vec<String> = vec![String::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let separates = c == '-'
            && prev.is_some_and(|p| !p.is_whitespace())
            && next.is_some_and(|n| !n.is_whitespace());
        let spaced = c == ' '
            && prev.is_some_and(|p| !p.is_whitespace())
            && next == Some('-')
            && chars.get(i + 2).is_some_and(|n| n.is_uppercase());
        if separates || spaced {
            parts.push(String::new());
            i += if spaced { 2 } else { 1 };
            continue;
        }
        parts.last_mut().expect("never empty").push(c);
        i += 1;
    }
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        match out.last_mut() {
            Some(last) if joins(last, &p) => {
                last.push('-');
                last.push_str(&p);
            }
            _ => out.push(p),
        }
    }
    out
}

/// Whether a hyphen between `left` and `right` is inside a word (`e-HR`, `Wi-Fi`, `to-dos`,
/// `third-party`, `639-1`, a UUID) rather than between segments.
fn joins(left: &str, right: &str) -> bool {
    let head = left.trim_end_matches(|c: char| c.is_ascii_alphanumeric());
    let last = &left[head.len()..];
    // The tail of a compound (`follow-up`) does not start another one.
    let tail = head.ends_with('-');
    let first: String = right
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    if last.is_empty() || first.is_empty() {
        return false;
    }
    let digits = |s: &str| s.chars().any(|c| c.is_ascii_digit());
    (last.len() <= 2 && !tail)
        || (COMPOUND_HEADS.contains(&last.to_ascii_lowercase().as_str()) && starts_lowercase(right))
        || (digits(last) && digits(&first))
}

/// Spec text with its line structure restored: `<md-enum>` items, `Options:v(…),w(…)`
/// and glued `- `/`* `/`2. ` items become list lines, `<br>` and `;;` line breaks, and
/// `**Note**`-style headings start a paragraph.
pub(crate) fn normalize(text: &str) -> String {
    let text = md_enum_items(text.trim());
    let text = text
        .replace("< br >", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n")
        .replace("<br>", "\n")
        .replace(";;", "\n\n")
        .replace("**Optional values are**:", "\n\n**Optional values are**:\n")
        .replace("**Optional values are:**", "\n\n**Optional values are:**\n")
        .replace(
            "** Optional values are: **",
            "\n\n**Optional values are:**\n",
        );
    let text = options_lists(&text);
    let text = glued_items(&text);
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    // No runs of blank lines, none at the ends.
    let mut out = String::new();
    let mut blank = false;
    for l in lines {
        if l.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(l);
    }
    out
}

/// `<md-enum><md-enum-item key="k" >text</md-enum-item>…</md-enum>` as `- `k`: text` lines.
fn md_enum_items(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("<md-enum") {
        out.push_str(&rest[..at]);
        let tag = &rest[at..];
        let Some(close) = tag.find('>') else {
            out.push_str(tag);
            return out;
        };
        let head = &tag[..close];
        rest = &tag[close + 1..];
        if let Some(key) = head
            .split("key=\"")
            .nth(1)
            .and_then(|k| k.split('"').next())
        {
            let end = rest.find("</md-enum-item>").unwrap_or(rest.len());
            out.push_str(&format!("\n- `{key}`: {}", rest[..end].trim()));
            rest = rest[end..]
                .strip_prefix("</md-enum-item>")
                .unwrap_or(&rest[end..]);
        }
    }
    out.push_str(rest);
    out.replace("</md-enum>", "\n")
}

/// `Options:a(meaning),b(meaning)` as `Options:` and one `- `a`: meaning` line per value.
fn options_lists(text: &str) -> String {
    let Some(at) = text.find("Options:") else {
        return text.to_owned();
    };
    let (head, tail) = text.split_at(at + "Options:".len());
    let items = option_items(tail);
    if items.is_empty() {
        return text.to_owned();
    }
    let mut out = head.to_owned();
    let mut used = 0;
    for (value, meaning, end) in items {
        match meaning.is_empty() {
            true => out.push_str(&format!("\n- `{value}`")),
            false => out.push_str(&format!("\n- `{value}`: {meaning}")),
        }
        used = end;
    }
    let after = tail[used..].trim_start_matches(',');
    if !after.trim().is_empty() {
        out.push('\n');
        out.push_str(after);
    }
    out
}

/// `(value, meaning, end offset)` of each `value(meaning)` item at the start of `s`.
fn option_items(s: &str) -> Vec<(String, String, usize)> {
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &s[pos..];
        let lead = rest.len() - rest.trim_start_matches([',', ' ']).len();
        let rest = &rest[lead..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
            .unwrap_or(rest.len());
        if name_len == 0 || !rest[name_len..].starts_with('(') {
            break;
        }
        let mut depth = 0usize;
        let mut close = None;
        for (i, c) in rest[name_len..].char_indices() {
            match c {
                '(' | '（' => depth += 1,
                ')' | '）' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(name_len + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else { break };
        items.push((
            rest[..name_len].to_owned(),
            rest[name_len + 1..close].trim().to_owned(),
            pos + lead + close + 1,
        ));
        pos += lead + close + 1;
    }
    items
}

/// A list marker glued to the text before it (`rejected- `2`: approved`, `Fixed* 2:`,
/// `documentation.2. Field`, `**Note**` after a sentence) moved to a line of its own.
fn glued_items(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_code = false;
    let mut bold_open = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let at = |k: usize| chars.get(i + k).copied();
        if c == '`' {
            in_code = !in_code;
        }
        if c == '\n' {
            in_code = false;
        }
        if !in_code {
            let glued = prev.is_some_and(|p| !p.is_whitespace() && p != '*');
            let bullet = matches!(c, '-' | '*')
                && at(1) == Some(' ')
                && at(2).is_some_and(|n| !n.is_whitespace());
            let numbered = c.is_ascii_digit()
                && matches!(prev, Some('.' | '。' | '；' | ';'))
                && i.checked_sub(2).is_none_or(|p| !chars[p].is_ascii_digit())
                && at(1) == Some('.')
                && at(2) == Some(' ');
            if c == '*' && at(1) == Some('*') {
                // Bold: a heading such as `**Note**:` opens a paragraph of its own.
                if !bold_open && glued && is_heading(&chars[i + 2..]) {
                    out.push_str("\n\n");
                }
                bold_open = !bold_open;
                out.push_str("**");
                i += 2;
                continue;
            }
            if glued && (bullet || numbered) {
                out.push('\n');
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Whether bold text starting here is a heading word (`Note**`, `Notice:**`, …).
fn is_heading(rest: &[char]) -> bool {
    let s: String = rest.iter().take(40).collect();
    let Some(end) = s.find("**") else {
        return false;
    };
    let word = s[..end].trim().trim_end_matches([':', '：']);
    matches!(
        word,
        "Note" | "Notes" | "Notice" | "Attention" | "Example" | "Examples" | "Default value"
    )
}

/// What each of `values` means, as a (normalized) field text describes it: list lines
/// `- `v`: meaning` (from `Options:`, `<md-enum>` or a flattened list) or `v: meaning`.
pub(crate) fn value_docs(text: &str, values: &[String]) -> BTreeMap<String, String> {
    let mut docs = BTreeMap::new();
    for line in text.lines() {
        let item = line.trim();
        let Some(item) = item
            .strip_prefix("- ")
            .or_else(|| item.strip_prefix("* "))
            .map(str::trim)
        else {
            continue;
        };
        let Some(sep) = item.find([':', '：']) else {
            continue;
        };
        let key = item[..sep].trim().trim_matches(['`', '\'', '"']).trim();
        let meaning = item[sep..].trim_start_matches([':', '：']).trim();
        if !meaning.is_empty() && values.iter().any(|v| v == key) {
            docs.entry(key.to_owned())
                .or_insert_with(|| meaning.to_owned());
        }
    }
    docs
}

/// Doc attributes for free text: one `///` line per text line, made safe for rustdoc
/// (no code blocks that would become doctests).
pub(crate) fn doc(text: &str) -> TokenStream {
    let text = text.replace("```", "'''").replace('\t', "    ");
    let mut lines: Vec<String> = Vec::new();
    let mut in_list = false;
    for l in text.lines().map(str::trim) {
        if l.is_empty() {
            lines.push(String::new());
            in_list = false;
            continue;
        }
        let item = is_list_item(l);
        // A plain line after a list ends it (markdown would read it as part of the last
        // item, and clippy rejects that lazy continuation).
        if in_list && !item {
            lines.push(String::new());
        }
        in_list = item;
        lines.push(format!(" {}", rustdoc_line(l)));
    }
    quote! { #( #[doc = #lines] )* }
}

/// `- x`, `* x`, `+ x` or `12. x`.
fn is_list_item(line: &str) -> bool {
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    ["- ", "* ", "+ "].iter().any(|m| line.starts_with(m))
        || (digits > 0 && line[digits..].starts_with(". "))
}

/// One line of spec text as rustdoc markdown: `[text](http..)` links are kept, a bracketed
/// name with no URL becomes emphasis (rustdoc would read it as an intra-doc link), code
/// spans are kept verbatim, HTML tags are shown as text, and bare URLs are wrapped in
/// `<...>` so they become links instead of warnings.
fn rustdoc_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while !rest.is_empty() {
        if let Some((text, url, after)) = markdown_link(rest) {
            out.push('[');
            out.push_str(&text.replace('[', "\\[").replace(']', "\\]"));
            out.push_str("](");
            out.push_str(url);
            out.push(')');
            rest = after;
            continue;
        }
        if let Some(code) = rest.strip_prefix('`')
            && let Some(end) = code.find('`')
        {
            out.push('`');
            out.push_str(&code[..end]);
            out.push('`');
            rest = &code[end + 1..];
            continue;
        }
        if let Some((name, after)) = link_name(rest) {
            if is_code_span(name) {
                out.push_str(name);
            } else if (name.starts_with("https://") || name.starts_with("http://"))
                && !name.contains(char::is_whitespace)
            {
                out.push('<');
                out.push_str(name);
                out.push('>');
            } else {
                out.push('*');
                out.push_str(&escape_text(name));
                out.push('*');
            }
            rest = after;
            continue;
        }
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest
                .find(|c: char| {
                    !c.is_ascii_graphic() || matches!(c, '<' | '>' | '"' | '(' | ')' | '[' | ']')
                })
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push_str(&escape_text(&rest[..c.len_utf8()]));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Text outside code: brackets escaped, the platform's own HTML tags shown as text.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `[Some page name]` at the start of `s` (a link whose URL the dataset lost): the name and
/// what follows. Brackets around code-like text (`[1, 2]`, `["a"]`) are not names.
fn link_name(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find(']')?;
    let name = inner[..close].trim();
    let first = name.chars().next()?;
    let code_like = name.contains(['[', '{', '}', '"', '\'', '=', '`', '*']);
    ((first.is_alphabetic() && !code_like) || is_code_span(name))
        .then_some((name, &inner[close + 1..]))
}

/// `` `one code span` `` and nothing else.
fn is_code_span(s: &str) -> bool {
    s.len() > 2 && s.starts_with('`') && s.ends_with('`') && s[1..s.len() - 1].find('`').is_none()
}

/// `[text](http...)` at the start of `s`: the text, the URL and what follows.
fn markdown_link(s: &str) -> Option<(&str, &str, &str)> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find(']')?;
    let text = &inner[..close];
    if text.contains('[') {
        return None;
    }
    let after = inner[close + 1..].strip_prefix('(')?;
    // Web links, and the generator's own links to sibling methods.
    if !(after.starts_with("http://")
        || after.starts_with("https://")
        || after.starts_with("Self::"))
    {
        return None;
    }
    let end = after.find(')')?;
    let url = &after[..end];
    if url.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    Some((text, url, &after[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_text_becomes_safe_rustdoc() {
        assert_eq!(
            rustdoc_line("调用[发送消息](https://open.feishu.cn/x/create)接口"),
            "调用[发送消息](https://open.feishu.cn/x/create)接口"
        );
        assert_eq!(
            rustdoc_line(
                "see https://open.feishu.cn/doc. Then [a] [b](c) [1, 2] [`x`] [https://a.cn/b]"
            ),
            "see <https://open.feishu.cn/doc>. Then *a* *b*(c) \\[1, 2\\] `x` <https://a.cn/b>"
        );
        assert_eq!(
            rustdoc_line("文档：https://a.cn/x。"),
            "文档：<https://a.cn/x>。"
        );
        assert_eq!(rustdoc_line("[[x](https://a)"), "\\[[x](https://a)");
        assert_eq!(
            rustdoc_line("<md-enum-item>a</md-enum-item>"),
            "&lt;md-enum-item&gt;a&lt;/md-enum-item&gt;"
        );
        // Code spans are verbatim: markdown shows `<` there as it is.
        assert_eq!(
            rustdoc_line("use `Vec<[u8]>` or <b>"),
            "use `Vec<[u8]>` or &lt;b&gt;"
        );
    }

    fn titles(texts: &[&str]) -> Titles {
        Titles::new(texts.iter().copied())
    }

    #[test]
    fn titles_keep_their_own_hyphens() {
        let t = titles(&[
            "Messaging-Message management-Push follow-up-Call this interface to add a bubble",
            "Messaging-Message management-Send message-Call this to send a third-party card",
        ]);
        assert_eq!(
            t.split(
                "Messaging-Message management-Push follow-up-Call this interface to add a bubble"
            ),
            (
                Some("Push follow-up".into()),
                Some("Call this interface to add a bubble".into())
            )
        );
        assert_eq!(
            t.split(
                "Messaging-Message management-Send message-Call this to send a third-party card"
            )
            .1,
            Some("Call this to send a third-party card".into())
        );
    }

    #[test]
    fn category_depth_is_learned_from_texts_that_branch() {
        let t = titles(&[
            "Hire-Candidate management-Recruitment process follow-up-Get tasks-Get employee tasks",
            "Hire-Candidate management-Recruitment process follow-up-Batch get to-dos-Batch get to-dos",
            "Hire-Candidate management-Delivery process-Offer-Get offer-Get offer details",
        ]);
        assert_eq!(
            t.split("Hire-Candidate management-Recruitment process follow-up-Batch get to-dos-Batch get to-dos"),
            (Some("Batch get to-dos".into()), Some("Batch get to-dos".into()))
        );
        // No other text branches below `Delivery process`, yet `Offer` is one more level:
        // a description does not continue with a capitalised segment.
        assert_eq!(
            t.split("Hire-Candidate management-Delivery process-Offer-Get offer-Get offer details"),
            (Some("Get offer".into()), Some("Get offer details".into()))
        );
        // Three segments and nothing shared: category, sub-category, title.
        assert_eq!(
            t.split("ACS-Access Record-Get access record list"),
            (Some("Get access record list".into()), None)
        );
        assert_eq!(
            t.split("Only a sentence"),
            (None, Some("Only a sentence".into()))
        );
        // Hyphens inside words: short heads, compounds, numbers.
        assert_eq!(
            t.split("Hire-Onboard-Update e-HR importing task-Sync Wi-Fi and ISO 639-1 data")
                .0,
            Some("Update e-HR importing task".into())
        );
    }

    #[test]
    fn flattened_lists_get_their_lines_back() {
        assert_eq!(
            normalize("Order. Options:asc(Oldest first (default)),desc(Newest first)"),
            "Order. Options:\n- `asc`: Oldest first (default)\n- `desc`: Newest first"
        );
        assert_eq!(
            normalize("Attendance types** Optional values are: *** 1: Fixed shift* 2: Free shift"),
            "Attendance types\n\n**Optional values are:**\n* 1: Fixed shift\n* 2: Free shift"
        );
        assert_eq!(
            normalize("Status - `1`: rejected- `2`: approved**Note**: only `1-2`"),
            "Status - `1`: rejected\n- `2`: approved\n\n**Note**: only `1-2`"
        );
        assert_eq!(
            normalize(
                "Fields:<md-enum><md-enum-item key=\"summary\" >task summary</md-enum-item><md-enum-item key=\"due\">due</md-enum-item></md-enum>"
            ),
            "Fields:\n- `summary`: task summary\n- `due`: due"
        );
        assert_eq!(
            normalize("Read this.2. Then that< br >Default: 1;;Next"),
            "Read this.\n2. Then that\nDefault: 1\n\nNext"
        );
    }

    #[test]
    fn enum_values_are_described_by_the_field_text() {
        let values = ["asc".to_owned(), "desc".to_owned(), "none".to_owned()];
        let docs = value_docs(
            &normalize("Options:asc(Oldest first),desc(Newest first)"),
            &values,
        );
        assert_eq!(docs.get("asc").map(String::as_str), Some("Oldest first"));
        assert_eq!(docs.get("desc").map(String::as_str), Some("Newest first"));
        assert_eq!(docs.get("none"), None);
        let docs = value_docs(&normalize("Kind:* `asc`: up* 'desc': down"), &values);
        assert_eq!(docs.len(), 2, "{docs:?}");
    }
}
