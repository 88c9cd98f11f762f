//! Messages: send, reply, edit, get and recall, with the content of each `msg_type`
//! checked the way the platform checks it, and every message kept so that `get` (and a
//! pushed `im.message.receive_v1`) returns what was sent.
//!
//! Codes the mock answers with (HTTP 400): `230001` malformed content for its `msg_type`,
//! `230025` content over the size limit, `230011` the message was recalled, `231003` deleted, `230099` a card
//! entity that does not exist or was sent before. The platform documents `230011`; the
//! others are the codes the platform is reported to use for these cases, chosen here so
//! that tests can tell them apart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::APP_ID;
use crate::handler::{Ctx, Incoming, violation};
use crate::state::lock;

const RECEIVE_ID_TYPES: [&str; 5] = ["open_id", "user_id", "union_id", "email", "chat_id"];
/// Request body limit of a text message.
const TEXT_LIMIT: usize = 150 * 1024;
/// Request body limit of the other message types.
const RICH_LIMIT: usize = 30 * 1024;
/// The chat of messages sent to a user (the mock has one p2p chat).
const P2P_CHAT: &str = "oc_mock_chat";

pub(crate) const CODE_BAD_CONTENT: i64 = 230001;
pub(crate) const CODE_RECALLED: i64 = 230011;
pub(crate) const CODE_DELETED: i64 = 231003;
pub(crate) const CODE_TOO_LONG: i64 = 230025;
pub(crate) const CODE_CARD_CONTENT: i64 = 230099;

/// One stored message.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) msg_type: String,
    /// The content as the platform gives it back (`get`, events).
    pub(crate) content: String,
    pub(crate) chat_id: String,
    pub(crate) parent_id: String,
    pub(crate) root_id: String,
    pub(crate) create_time: String,
    pub(crate) update_time: String,
    pub(crate) updated: bool,
    pub(crate) deleted: bool,
    /// Why it is gone, once recalled (`230011`) or deleted (`231003`).
    pub(crate) gone: Option<i64>,
    /// `mentions` as a received message carries them.
    pub(crate) mentions: Vec<Value>,
    /// For a forwarded copy: the `merge_forward` message it is in.
    pub(crate) upper_message_id: Option<String>,
    /// For a `merge_forward` message: the forwarded copies, in order.
    pub(crate) children: Vec<String>,
}

/// Every message of one mock instance.
#[derive(Debug, Default)]
pub(crate) struct Store {
    messages: Mutex<HashMap<String, Stored>>,
}

impl Store {
    pub(crate) fn get(&self, id: &str) -> Option<Stored> {
        lock(&self.messages).get(id).cloned()
    }

    /// The code a recalled (`230011`) or deleted (`231003`) message `id` answers with.
    pub(crate) fn gone(&self, id: &str) -> Option<i64> {
        lock(&self.messages).get(id).and_then(|m| m.gone)
    }

    /// Appends the forwarded copies inside `m` (and inside those, depth first) to `items`,
    /// as the get API lists a `merge_forward` message.
    pub(crate) fn push_children(&self, m: &Stored, items: &mut Vec<Value>) {
        for child_id in &m.children {
            if let Some(child) = self.get(child_id) {
                items.push(message_json(child_id, &child));
                self.push_children(&child, items);
            }
        }
    }

    /// Forwards `ids` to `chat_id` as one `merge_forward` message of copies; `None` when
    /// one of them does not exist.
    pub(crate) fn forward(
        &self,
        next_id: &mut dyn FnMut() -> String,
        chat_id: &str,
        ids: &[&str],
    ) -> Option<String> {
        let container = next_id();
        let mut messages = lock(&self.messages);
        let mut children = Vec::new();
        for id in ids {
            children.push(copy_into(&mut messages, next_id, id, &container, chat_id)?);
        }
        let now = now_millis();
        messages.insert(
            container.clone(),
            Stored {
                msg_type: "merge_forward".into(),
                content: json!({"content": "Merged and Forwarded Message"}).to_string(),
                chat_id: chat_id.to_owned(),
                parent_id: String::new(),
                root_id: String::new(),
                create_time: now.clone(),
                update_time: now,
                updated: false,
                deleted: false,
                gone: None,
                mentions: Vec::new(),
                upper_message_id: None,
                children,
            },
        );
        Some(container)
    }

    /// Recalls (`code` 230011) or deletes (231003) `id`; false when there is no such message.
    pub(crate) fn remove(&self, id: &str, code: i64) -> bool {
        match lock(&self.messages).get_mut(id) {
            Some(m) => {
                m.deleted = true;
                m.gone = Some(code);
                true
            }
            None => false,
        }
    }

    /// Recalls `id`; false when there is no such message.
    pub(crate) fn recall(&self, id: &str) -> bool {
        self.remove(id, CODE_RECALLED)
    }
}

fn now_millis() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string()
}

/// An answer to a request the mock refuses.
struct Refusal {
    code: i64,
    msg: String,
}

impl Refusal {
    fn new(code: i64, msg: impl Into<String>) -> Refusal {
        Refusal {
            code,
            msg: msg.into(),
        }
    }
}

/// The fields of a valid message body.
struct Body {
    msg_type: String,
    content: String,
    receive_id: Option<String>,
}

/// What a sent content becomes on the platform.
struct Form {
    /// The content as the platform gives it back.
    content: String,
    /// The mentions it carries.
    mentions: Vec<Value>,
    /// The card entity it refers to, for a card reference.
    card_id: Option<String>,
}

/// Validates a message body; returns its fields or the violations.
fn message_fields(req: &Incoming, need_receive_id: bool) -> Result<Body, Vec<Value>> {
    let mut violations = Vec::new();
    if need_receive_id {
        match req.query_first("receive_id_type") {
            None | Some("") => {
                violations.push(violation("receive_id_type", "receive_id_type is required"))
            }
            Some(t) if !RECEIVE_ID_TYPES.contains(&t) => violations.push(violation(
                "receive_id_type",
                "receive_id_type must be one of open_id, user_id, union_id, email, chat_id",
            )),
            Some(_) => {}
        }
    }
    let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
    let Some(obj) = parsed.as_ref().and_then(Value::as_object) else {
        violations.push(violation("body", "the request body must be a JSON object"));
        return Err(violations);
    };
    let non_empty = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if need_receive_id && non_empty("receive_id").is_none() {
        violations.push(violation(
            "receive_id",
            "receive_id is required and must be a non-empty string",
        ));
    }
    let msg_type = non_empty("msg_type");
    if msg_type.is_none() {
        violations.push(violation(
            "msg_type",
            "msg_type is required and must be a non-empty string",
        ));
    }
    let content = non_empty("content");
    match content {
        None => violations.push(violation(
            "content",
            "content is required and must be a non-empty string holding JSON",
        )),
        Some(c) if serde_json::from_str::<Value>(c).is_err() => {
            violations.push(violation("content", "content is not valid JSON"))
        }
        Some(_) => {}
    }
    match (msg_type, content) {
        (Some(t), Some(c)) if violations.is_empty() => Ok(Body {
            msg_type: t.to_owned(),
            content: c.to_owned(),
            receive_id: non_empty("receive_id").map(str::to_owned),
        }),
        _ => Err(violations),
    }
}

fn str_field<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks `content` against the rules of `msg_type`; returns what it becomes.
fn received_form(ctx: &Ctx<'_>, msg_type: &str, content: &str) -> Result<Form, Refusal> {
    let bad = |why: &str| Refusal::new(CODE_BAD_CONTENT, format!("invalid message content: {why}"));
    let value: Value = serde_json::from_str(content).map_err(|_| bad("not JSON"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad("content must be a JSON object"))?;
    let need = |key: &'static str| {
        str_field(obj, key)
            .map(|_| ())
            .ok_or_else(|| bad(&format!("{msg_type} content needs a non-empty `{key}`")))
    };
    match msg_type {
        "text" => {
            let text = obj
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("text content needs a string `text`"))?;
            let (text, mentions) = placeholders(text);
            return Ok(Form {
                content: json!({ "text": text }).to_string(),
                mentions,
                card_id: None,
            });
        }
        "post" => {
            return post_received(obj)
                .map_err(|why| bad(&why))
                .map(|content| Form {
                    content,
                    mentions: Vec::new(),
                    card_id: None,
                });
        }
        "image" => need("image_key")?,
        "file" | "audio" | "media" | "sticker" => need("file_key")?,
        "share_chat" => need("chat_id")?,
        "share_user" => need("user_id")?,
        "interactive" => {
            return interactive(ctx, obj).map(|card_id| Form {
                content: content.to_owned(),
                mentions: Vec::new(),
                card_id,
            });
        }
        other => return Err(bad(&format!("unsupported msg_type `{other}`"))),
    }
    Ok(Form {
        content: content.to_owned(),
        mentions: Vec::new(),
        card_id: None,
    })
}

/// A sent post is locale-wrapped (`{"zh_cn":{"title","content"}}`); it comes back flat,
/// in its first locale, with mentions as `at` elements that name their placeholder.
fn post_received(obj: &Map<String, Value>) -> Result<String, String> {
    let Some((_, body)) = obj.iter().next() else {
        return Err("post content needs a locale (e.g. `zh_cn`)".into());
    };
    if obj.contains_key("content") {
        return Err("post content must be wrapped in a locale (e.g. `zh_cn`)".into());
    }
    for (locale, body) in obj {
        let rows = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("post locale `{locale}` needs a `content` array of rows"))?;
        for row in rows {
            let row = row
                .as_array()
                .ok_or_else(|| format!("post locale `{locale}`: each row must be an array"))?;
            if row
                .iter()
                .any(|e| e.get("tag").and_then(Value::as_str).is_none())
            {
                return Err(format!(
                    "post locale `{locale}`: every element needs a `tag`"
                ));
            }
        }
    }
    let flat = json!({
        "title": body.get("title").cloned().unwrap_or_else(|| Value::from("")),
        "content": body.get("content").cloned().unwrap_or_default(),
    });
    Ok(flat.to_string())
}

/// A card as JSON, a template reference or a card entity reference (its id returned).
fn interactive(ctx: &Ctx<'_>, obj: &Map<String, Value>) -> Result<Option<String>, Refusal> {
    let bad = |why: &str| Refusal::new(CODE_BAD_CONTENT, format!("invalid message content: {why}"));
    match obj.get("type").and_then(Value::as_str) {
        Some("card") => {
            let card_id = obj
                .get("data")
                .and_then(|d| d.get("card_id"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a card reference needs `data.card_id`"))?;
            ctx.sh
                .cards
                .mark_sent(card_id)
                .map(|()| Some(card_id.to_owned()))
                .map_err(|why| Refusal::new(CODE_CARD_CONTENT, why))
        }
        Some("template") => obj
            .get("data")
            .and_then(|d| d.get("template_id"))
            .and_then(Value::as_str)
            .map(|_| None)
            .ok_or_else(|| bad("a template card needs `data.template_id`")),
        Some(other) => Err(bad(&format!("unknown card content type `{other}`"))),
        None => {
            if obj.get("schema").and_then(Value::as_str) == Some("2.0") {
                match obj.get("body").and_then(|b| b.get("elements")) {
                    Some(Value::Array(_)) => Ok(None),
                    _ => Err(bad("a Card JSON 2.0 card needs `body.elements`")),
                }
            } else if obj.contains_key("elements")
                || obj.contains_key("i18n_elements")
                || obj.contains_key("header")
            {
                Ok(None)
            } else {
                Err(bad(
                    "a card needs `elements` (1.0) or `schema` 2.0 with `body`",
                ))
            }
        }
    }
}

/// The message of a recalled or deleted target.
pub(crate) fn gone_message(code: i64) -> &'static str {
    if code == CODE_DELETED {
        "the message has been deleted"
    } else {
        "the message has been recalled"
    }
}

fn gone_refusal(code: i64) -> Refusal {
    Refusal::new(code, gone_message(code))
}

fn refuse(ctx: &Ctx<'_>, refusal: Refusal) -> Response {
    ctx.error(StatusCode::BAD_REQUEST, refusal.code, &refusal.msg, None)
}

pub(crate) fn message_json(id: &str, m: &Stored) -> Value {
    json!({
        "message_id": id,
        "root_id": m.root_id,
        "parent_id": m.parent_id,
        "msg_type": m.msg_type,
        "create_time": m.create_time,
        "update_time": m.update_time,
        "deleted": m.deleted,
        "updated": m.updated,
        "chat_id": m.chat_id,
        "upper_message_id": m.upper_message_id,
        "sender": {
            "id": APP_ID,
            "id_type": "app_id",
            "sender_type": "app",
            "tenant_key": "mock_tenant"
        },
        "body": { "content": m.content },
        // The get/list APIs give one id per mention, with its type.
        "mentions": m.mentions.iter().map(|e| json!({
            "key": e["key"],
            "id": e.pointer("/id/open_id").cloned().unwrap_or_else(|| Value::from("")),
            "id_type": "open_id",
            "name": e["name"],
            "tenant_key": "mock_tenant",
        })).collect::<Vec<_>>(),
    })
}

fn check_size(msg_type: &str, body_len: usize) -> Result<(), Refusal> {
    let limit = if msg_type == "text" {
        TEXT_LIMIT
    } else {
        RICH_LIMIT
    };
    if body_len > limit {
        return Err(Refusal::new(
            CODE_TOO_LONG,
            format!("message content is too long: {body_len} bytes, at most {limit}"),
        ));
    }
    Ok(())
}

/// `POST /im/v1/messages` (`reply_to` = None) and `POST /im/v1/messages/:id/reply`.
pub(crate) fn send(ctx: &Ctx<'_>, req: &Incoming, reply_to: Option<&str>) -> Response {
    let body = match message_fields(req, reply_to.is_none()) {
        Ok(body) => body,
        Err(violations) => return ctx.field_error(violations),
    };
    let msg_type = body.msg_type;
    if let Err(refusal) = check_size(&msg_type, req.body.len()) {
        return refuse(ctx, refusal);
    }
    let store = &ctx.sh.messages;
    let parent = reply_to.and_then(|id| store.get(id));
    if let Some(code) = parent.as_ref().and_then(|p| p.gone) {
        return refuse(ctx, gone_refusal(code));
    }
    let form = match received_form(ctx, &msg_type, &body.content) {
        Ok(form) => form,
        Err(refusal) => return refuse(ctx, refusal),
    };
    let chat_id = match (&parent, req.query_first("receive_id_type")) {
        (Some(p), _) => p.chat_id.clone(),
        (None, Some("chat_id")) => body.receive_id.unwrap_or_else(|| P2P_CHAT.to_owned()),
        _ => P2P_CHAT.to_owned(),
    };
    let parent_id = reply_to.unwrap_or_default().to_owned();
    let root_id = match &parent {
        Some(p) if !p.root_id.is_empty() => p.root_id.clone(),
        _ => parent_id.clone(),
    };
    let now = now_millis();
    let stored = Stored {
        msg_type,
        content: form.content,
        chat_id,
        parent_id,
        root_id,
        create_time: now.clone(),
        update_time: now,
        updated: false,
        deleted: false,
        gone: None,
        mentions: form.mentions,
        upper_message_id: None,
        children: Vec::new(),
    };
    let id = format!("om_mock_{}", ctx.sh.next_seq());
    let answer = message_json(&id, &stored);
    if let Some(card_id) = &form.card_id {
        ctx.sh.cards.link_message(card_id, &id);
    }
    lock(&store.messages).insert(id, stored);
    ctx.ok(answer)
}

/// `PUT /im/v1/messages/:id` (edit a text or post message).
pub(crate) fn update(ctx: &Ctx<'_>, req: &Incoming, message_id: &str) -> Response {
    let Body {
        msg_type, content, ..
    } = match message_fields(req, false) {
        Ok(body) => body,
        Err(violations) => return ctx.field_error(violations),
    };
    let Form {
        content, mentions, ..
    } = match received_form(ctx, &msg_type, &content) {
        Ok(form) => form,
        Err(refusal) => return refuse(ctx, refusal),
    };
    let mut messages = lock(&ctx.sh.messages.messages);
    let now = now_millis();
    let entry = messages
        .entry(message_id.to_owned())
        .or_insert_with(|| Stored {
            msg_type: msg_type.clone(),
            content: String::new(),
            chat_id: P2P_CHAT.to_owned(),
            parent_id: String::new(),
            root_id: String::new(),
            create_time: now.clone(),
            update_time: now.clone(),
            updated: false,
            deleted: false,
            gone: None,
            mentions: Vec::new(),
            upper_message_id: None,
            children: Vec::new(),
        });
    if let Some(code) = entry.gone {
        drop(messages);
        return refuse(ctx, gone_refusal(code));
    }
    entry.msg_type = msg_type;
    entry.content = content;
    entry.mentions = mentions;
    entry.update_time = now;
    entry.updated = true;
    let answer = message_json(message_id, entry);
    drop(messages);
    ctx.ok(answer)
}

/// `GET /im/v1/messages/:id`: `{"items":[message]}`.
pub(crate) fn get(ctx: &Ctx<'_>, message_id: &str) -> Response {
    match ctx.sh.messages.get(message_id) {
        Some(m) => {
            let mut items = vec![message_json(message_id, &m)];
            ctx.sh.messages.push_children(&m, &mut items);
            ctx.ok(json!({ "items": items }))
        }
        None => ctx.error(
            StatusCode::BAD_REQUEST,
            CODE_BAD_CONTENT,
            &format!("message {message_id} not found"),
            None,
        ),
    }
}

/// `DELETE /im/v1/messages/:id` (recall).
pub(crate) fn recall(ctx: &Ctx<'_>, message_id: &str) -> Response {
    if ctx.sh.messages.recall(message_id) {
        ctx.ok(json!({}))
    } else {
        ctx.error(
            StatusCode::BAD_REQUEST,
            CODE_BAD_CONTENT,
            &format!("message {message_id} not found"),
            None,
        )
    }
}

/// The `im.message.receive_v1` event (schema 2.0 envelope) of stored message `id`, as a
/// user `sender_open_id` had sent it to a group.
pub(crate) fn receive_event(store: &Store, id: &str, sender_open_id: &str) -> Option<Value> {
    let m = store.get(id)?;
    Some(json!({
        "schema": "2.0",
        "header": {
            "event_id": format!("ev_{id}"),
            "event_type": "im.message.receive_v1",
            "create_time": m.create_time,
            "token": "",
            "app_id": APP_ID,
            "tenant_key": "mock_tenant"
        },
        "event": {
            "sender": {
                "sender_id": { "open_id": sender_open_id },
                "sender_type": "user",
                "tenant_key": "mock_tenant"
            },
            "message": {
                "message_id": id,
                "root_id": m.root_id,
                "parent_id": m.parent_id,
                "create_time": m.create_time,
                "update_time": m.update_time,
                "chat_id": m.chat_id,
                "chat_type": "group",
                "message_type": m.msg_type,
                "content": m.content,
                "mentions": m.mentions,
            }
        }
    }))
}

/// Copies message `id` (and, for a `merge_forward`, what it holds) as forwarded inside
/// `upper`; returns the copy's id.
fn copy_into(
    messages: &mut HashMap<String, Stored>,
    next_id: &mut dyn FnMut() -> String,
    id: &str,
    upper: &str,
    chat_id: &str,
) -> Option<String> {
    let original = messages.get(id)?.clone();
    let copy_id = next_id();
    let mut children = Vec::new();
    for child in &original.children {
        children.push(copy_into(messages, next_id, child, &copy_id, chat_id)?);
    }
    let copy = Stored {
        upper_message_id: Some(upper.to_owned()),
        chat_id: chat_id.to_owned(),
        children,
        ..original
    };
    messages.insert(copy_id.clone(), copy);
    Some(copy_id)
}

/// Replaces each `<at user_id="…">name</at>` of a sent text by the placeholder a received
/// text carries (`@_user_N`, `@_all` for everyone) and lists the mentions.
fn placeholders(text: &str) -> (String, Vec<Value>) {
    let mut out = String::with_capacity(text.len());
    let mut mentions = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<at ") {
        let Some(len) = rest[start..].find("</at>") else {
            break;
        };
        let tag = &rest[start..start + len];
        let (Some(id), Some(gt)) = (attr(tag, "user_id"), tag.find('>')) else {
            break;
        };
        let name = &tag[gt + 1..];
        out.push_str(&rest[..start]);
        if id == "all" {
            out.push_str("@_all");
            mentions
                .push(json!({"key": "@_all", "id": {}, "name": "all", "mentioned_type": "all"}));
        } else {
            let key = format!("@_user_{}", mentions.len() + 1);
            out.push_str(&key);
            mentions.push(json!({
                "key": key,
                "id": {"open_id": id},
                "name": name,
                "tenant_key": "mock_tenant",
                "mentioned_type": "user"
            }));
        }
        rest = &rest[start + len + "</at>".len()..];
    }
    out.push_str(rest);
    (out, mentions)
}

/// The value of `name="…"` in a tag.
fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[at..].find('"')?;
    Some(&tag[at..at + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_become_placeholders() {
        let (text, mentions) =
            placeholders(r#"hi <at user_id="ou_1">Ann</at> and <at user_id="all"></at>!"#);
        assert_eq!(text, "hi @_user_1 and @_all!");
        assert_eq!(mentions[0]["id"]["open_id"], "ou_1");
        assert_eq!(mentions[0]["name"], "Ann");
        assert_eq!(mentions[1]["key"], "@_all");
        assert_eq!(placeholders("plain <at").0, "plain <at");
    }
}
