//! The imitated APIs behind the authorization check.

use std::convert::Infallible;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::RecordedPart;
use crate::handler::{Ctx, Incoming, decode_segment, violation};

/// Download bodies are produced in chunks of this size.
const CHUNK: usize = 64 * 1024;
/// Period of the download pattern (`download_byte`).
const PERIOD: usize = 251;

/// Routes an authorized `/open-apis/` request.
pub(crate) async fn route(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let rest = req.path.strip_prefix("/open-apis/").unwrap_or_default();
    let segs: Vec<&str> = rest.split('/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["im", "v1", "messages"]) => crate::messages::send(ctx, req, None),
        ("POST", ["im", "v1", "messages", id, "reply"]) if !id.is_empty() => {
            crate::messages::send(ctx, req, Some(&decode_segment(id)))
        }
        ("PUT", ["im", "v1", "messages", id]) if !id.is_empty() => {
            crate::messages::update(ctx, req, &decode_segment(id))
        }
        ("GET", ["im", "v1", "messages", id]) if !id.is_empty() => {
            crate::messages::get(ctx, &decode_segment(id))
        }
        ("DELETE", ["im", "v1", "messages", id]) if !id.is_empty() => {
            crate::messages::recall(ctx, &decode_segment(id))
        }
        ("POST" | "PUT" | "PATCH" | "DELETE", ["cardkit", "v1", rest @ ..]) => {
            match crate::cardkit::route(ctx, req, rest) {
                Some(resp) => resp,
                None => echo(ctx, req),
            }
        }
        ("POST", ["authen", "v1", "oidc", "access_token"]) => {
            crate::user_auth::grant(ctx, req, false)
        }
        ("POST", ["authen", "v1", "oidc", "refresh_access_token"]) => {
            crate::user_auth::grant(ctx, req, true)
        }
        ("GET", ["authen", "v1", "user_info"]) => crate::user_auth::user_info(ctx, req),
        ("GET", ["contact", "v3", "users"]) => list(ctx, req, ListKind::Users),
        ("GET", ["contact", "v3", "users", "find_by_department"]) => {
            list(ctx, req, ListKind::Users)
        }
        ("GET", ["im", "v1", "chats"]) => list(ctx, req, ListKind::Chats),
        ("GET", ["im", "v1", "messages"]) => list(ctx, req, ListKind::Messages),
        ("GET", ["drive", "v1", "files"]) => list(ctx, req, ListKind::Files),
        ("POST", ["im", "v1", "images"]) => upload(ctx, req, UploadKind::Image),
        ("POST", ["im", "v1", "files"]) => upload(ctx, req, UploadKind::File),
        ("POST", ["drive", "v1", "files", "upload_all"]) => upload(ctx, req, UploadKind::Drive),
        ("GET", ["im", "v1", "images", key])
        | ("GET", ["im", "v1", "files", key])
        | ("GET", ["drive", "v1", "files", key, "download"])
        | ("GET", ["im", "v1", "messages", _, "resources", key])
            if !key.is_empty() =>
        {
            download(ctx, &decode_segment(key))
        }
        _ => echo(ctx, req),
    }
}

// ---- paginated lists ---------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum ListKind {
    Users,
    Chats,
    Messages,
    Files,
}

fn list_item(kind: ListKind, i: usize) -> Value {
    match kind {
        ListKind::Users => json!({
            "user_id": format!("u_{i}"),
            "open_id": format!("ou_{i}"),
            "union_id": format!("on_{i}"),
            "name": format!("User {i}")
        }),
        ListKind::Chats => json!({"chat_id": format!("oc_{i}"), "name": format!("Chat {i}")}),
        ListKind::Messages => json!({"message_id": format!("om_{i}"), "msg_type": "text"}),
        ListKind::Files => {
            json!({"token": format!("f_{i}"), "name": format!("File {i}"), "type": "file"})
        }
    }
}

fn list(ctx: &Ctx<'_>, req: &Incoming, kind: ListKind) -> Response {
    let total = ctx.sh.list_size(&req.path);
    let page_size = match req.query_first("page_size") {
        None => 20,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return ctx.field_error(vec![violation(
                    "page_size",
                    "page_size must be an integer between 1 and 100",
                )]);
            }
        },
    };
    let offset = match req.query_first("page_token") {
        None | Some("") => 0,
        Some(token) => match token
            .strip_prefix("pt_")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(offset) if offset <= total => offset,
            _ => {
                return ctx.field_error(vec![violation("page_token", "page_token is invalid")]);
            }
        },
    };
    let end = offset.saturating_add(page_size).min(total);
    let items: Vec<Value> = (offset..end).map(|i| list_item(kind, i)).collect();
    let has_more = end < total;
    let (items_key, token_key) = match kind {
        ListKind::Files => ("files", "next_page_token"),
        _ => ("items", "page_token"),
    };
    let mut data = serde_json::Map::new();
    data.insert(items_key.into(), Value::Array(items));
    data.insert("has_more".into(), Value::Bool(has_more));
    if has_more {
        data.insert(token_key.into(), Value::from(format!("pt_{end}")));
    }
    ctx.ok(Value::Object(data))
}

// ---- uploads -------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum UploadKind {
    Image,
    File,
    Drive,
}

fn upload(ctx: &Ctx<'_>, req: &Incoming, kind: UploadKind) -> Response {
    let Some(mp) = &req.multipart else {
        return ctx.field_error(vec![violation(
            "content-type",
            "the request must be multipart/form-data",
        )]);
    };
    if let Some(err) = &mp.error {
        return ctx.field_error(vec![violation(
            "body",
            &format!("malformed multipart body: {err}"),
        )]);
    }
    let part = |name: &str| mp.parts.iter().find(|p| p.name == name);
    let text = |name: &str| part(name).and_then(|p| p.text.as_deref());
    let (required, file_field): (&[&str], &str) = match kind {
        UploadKind::Image => (&["image_type"], "image"),
        UploadKind::File => (&["file_type", "file_name"], "file"),
        UploadKind::Drive => (&["file_name", "parent_type", "parent_node", "size"], "file"),
    };
    let mut violations: Vec<Value> = required
        .iter()
        .filter(|name| text(name).is_none_or(str::is_empty))
        .map(|name| violation(name, &format!("{name} is required")))
        .collect();
    let file: Option<&RecordedPart> = part(file_field);
    if file.is_none() {
        violations.push(violation(
            file_field,
            &format!("{file_field} is required (a file part)"),
        ));
    }
    let Some(file) = file.filter(|_| violations.is_empty()) else {
        return ctx.field_error(violations);
    };
    // A file part without a `filename` is accepted, as the platform does: the vendors'
    // own upload samples (Python `open(path, "rb")`, Node `fs.readFileSync` Buffers)
    // send none.
    match kind {
        UploadKind::Image => {
            if !matches!(text("image_type"), Some("message" | "avatar")) {
                return ctx.field_error(vec![violation(
                    "image_type",
                    "image_type must be message or avatar",
                )]);
            }
            ctx.ok(json!({"image_key": format!("img_mock_{}", ctx.sh.next_seq())}))
        }
        UploadKind::File => {
            if let Some(duration) = text("duration").filter(|d| !d.is_empty())
                && duration.trim().parse::<u64>().is_err()
            {
                return ctx.field_error(vec![violation(
                    "duration",
                    "duration must be an integer (milliseconds)",
                )]);
            }
            ctx.ok(json!({"file_key": format!("file_mock_{}", ctx.sh.next_seq())}))
        }
        UploadKind::Drive => {
            let size = text("size").and_then(|s| s.trim().parse::<u64>().ok());
            if size != Some(file.len) {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    1061002,
                    "params error: size does not match the file length",
                    None,
                );
            }
            ctx.ok(json!({"file_token": format!("box_mock_{}", ctx.sh.next_seq())}))
        }
    }
}

// ---- downloads -------------------------------------------------------------------

/// RFC 5987 `attr-char`s stay literal; everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `name` made safe for a quoted `filename="..."` parameter.
fn quoted_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `PERIOD + CHUNK` bytes of the download pattern; every chunk is a slice of it.
fn pattern() -> Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN
        .get_or_init(|| {
            (0..(CHUNK + PERIOD) as u64)
                .map(crate::download_byte)
                .collect::<Vec<u8>>()
                .into()
        })
        .clone()
}

/// A body of `len` pattern bytes, produced lazily in 64 KiB zero-copy chunks.
fn pattern_body(len: u64) -> Body {
    let pattern = pattern();
    let chunk = CHUNK as u64;
    let chunks = len.div_ceil(chunk);
    let stream = futures_util::stream::iter((0..chunks).map(move |c| {
        let offset = c * chunk;
        let size = (len - offset).min(chunk) as usize;
        let start = (offset % PERIOD as u64) as usize;
        Ok::<Bytes, Infallible>(pattern.slice(start..start + size))
    }));
    Body::from_stream(stream)
}

fn download(ctx: &Ctx<'_>, key: &str) -> Response {
    match key {
        "missing" => return ctx.error(StatusCode::OK, 234001, "file not found", None),
        "gone" => return ctx.error(StatusCode::NOT_FOUND, 234002, "resource deleted", None),
        _ => {}
    }
    let safe = quoted_safe(key);
    let (body, content_type, len, disposition) = match key
        .strip_prefix("bytes-")
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) => {
            let utf8_name = format!("文件-{key}.bin");
            let disposition = format!(
                "attachment; filename=\"{safe}.bin\"; filename*=UTF-8''{}",
                utf8_percent_encode(&utf8_name, ATTR_CHAR)
            );
            (pattern_body(n), "application/octet-stream", n, disposition)
        }
        None => {
            let text = format!("hello {key}");
            let len = text.len() as u64;
            let disposition = format!("attachment; filename=\"{safe}.txt\"");
            (
                Body::from(text),
                "text/plain; charset=utf-8",
                len,
                disposition,
            )
        }
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    resp
}

// ---- echo -------------------------------------------------------------------------

fn echo(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let query: Vec<Value> = req.query.iter().map(|(k, v)| json!([k, v])).collect();
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body).unwrap_or(Value::Null)
    };
    let (token_type, tenant_key) = match &req.auth {
        Some(auth) => (Some(auth.token_type), auth.tenant_key.clone()),
        None => (None, None),
    };
    ctx.ok(json!({
        "method": req.method,
        "path": req.path,
        "query": query,
        "content_type": req.content_type,
        "body_len": req.body_len,
        "body": body,
        "token_type": token_type,
        "tenant_key": tenant_key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_chunks_match_download_byte() {
        let pattern = pattern();
        for offset in [0u64, 65_536, 131_072, 250 * 65_536] {
            let start = (offset % PERIOD as u64) as usize;
            let chunk = pattern.slice(start..start + CHUNK);
            for (i, b) in chunk.iter().enumerate() {
                assert_eq!(*b, crate::download_byte(offset + i as u64));
            }
        }
    }

    #[test]
    fn filename_encoding() {
        assert_eq!(
            utf8_percent_encode("文件-bytes-5.bin", ATTR_CHAR).to_string(),
            "%E6%96%87%E4%BB%B6-bytes-5.bin"
        );
        assert_eq!(quoted_safe("a\"b\\c文"), "a_b_c_");
    }
}
