//! CardKit card entities (`/open-apis/cardkit/v1/cards…`) with the platform's rules.
//!
//! Each operation on a card must carry a `sequence` greater than the last accepted one
//! (`300317`), a repeated `uuid` is answered with success and not executed again, at most
//! [`OPS_PER_SEC`] operations are accepted per card in any second (`230020`), element
//! content needs streaming mode on (`300309`) and at most [`ELEMENT_TEXT_LIMIT`] characters
//! (`230099` with `ErrCode: 11310`), a card whose message was recalled answers `230011` (deleted: `231003`),
//! and a card entity can be sent once. Codes 300309 and 300317 are the ones users of the
//! platform report; 300301 (no such card) and 300302 (no such element) are the mock's.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::handler::{Ctx, Incoming, violation};
use crate::state::lock;

/// Operations accepted per card entity in any one second.
pub const OPS_PER_SEC: usize = 10;
/// Characters one element's text may hold.
pub const ELEMENT_TEXT_LIMIT: usize = 30_000;

const CODE_RATE_LIMITED: i64 = 230020;
const CODE_STREAMING_CLOSED: i64 = 300309;
const CODE_SEQUENCE: i64 = 300317;
const CODE_NO_CARD: i64 = 300301;
const CODE_NO_ELEMENT: i64 = 300302;
const CODE_V1_CARD: i64 = 200610;

/// One accepted operation on a card, as [`crate::MockPlatform::card`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CardOp {
    /// `content`, `settings`, `update`, `element_update`, `element_patch`,
    /// `element_create` or `element_delete`.
    pub kind: &'static str,
    /// Its `sequence`.
    pub sequence: i64,
    /// Its `uuid`, if it had one.
    pub uuid: Option<String>,
    /// When the mock accepted it.
    pub at: Instant,
}

/// The state of one card entity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CardState {
    /// The card JSON as it stands now.
    pub card: Value,
    /// Whether streaming mode is on.
    pub streaming: bool,
    /// `config.summary.content`, if set.
    pub summary: Option<String>,
    /// Accepted operations, oldest first.
    pub ops: Vec<CardOp>,
    /// Codes of refused operations, oldest first.
    pub refused: Vec<i64>,
    /// The message that carries it, once sent.
    pub message_id: Option<String>,
}

impl CardState {
    /// The text (`content`) of the element with `element_id`.
    pub fn element_text(&self, element_id: &str) -> Option<String> {
        find_element(&self.card, element_id)
            .and_then(|e| e.get("content"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

fn find_element<'v>(node: &'v Value, id: &str) -> Option<&'v Value> {
    match node {
        Value::Object(map) => {
            if map.get("element_id").and_then(Value::as_str) == Some(id) {
                return Some(node);
            }
            map.values().find_map(|v| find_element(v, id))
        }
        Value::Array(items) => items.iter().find_map(|v| find_element(v, id)),
        _ => None,
    }
}

fn find_element_mut<'v>(node: &'v mut Value, id: &str) -> Option<&'v mut Value> {
    let hit = matches!(node, Value::Object(map)
        if map.get("element_id").and_then(Value::as_str) == Some(id));
    if hit {
        return Some(node);
    }
    match node {
        Value::Object(map) => map.values_mut().find_map(|v| find_element_mut(v, id)),
        Value::Array(items) => items.iter_mut().find_map(|v| find_element_mut(v, id)),
        _ => None,
    }
}

#[derive(Debug)]
struct Entity {
    state: CardState,
    last_sequence: i64,
    uuids: HashSet<String>,
    recent: VecDeque<Instant>,
    sent: bool,
}

/// Every card entity of one mock instance.
#[derive(Debug, Default)]
pub(crate) struct Cards {
    cards: Mutex<HashMap<String, Entity>>,
    order: Mutex<Vec<String>>,
}

impl Cards {
    pub(crate) fn snapshot(&self, card_id: &str) -> Option<CardState> {
        lock(&self.cards).get(card_id).map(|e| e.state.clone())
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        lock(&self.order).clone()
    }

    /// Turns streaming off, as the platform does ten minutes after it was turned on.
    pub(crate) fn close_streaming(&self, card_id: &str) -> bool {
        match lock(&self.cards).get_mut(card_id) {
            Some(e) => {
                e.state.streaming = false;
                set_config(&mut e.state.card, "streaming_mode", Value::Bool(false));
                true
            }
            None => false,
        }
    }

    /// A send of the card entity: it must exist and not have been sent before.
    pub(crate) fn mark_sent(&self, card_id: &str) -> Result<(), String> {
        match lock(&self.cards).get_mut(card_id) {
            None => Err(format!("card entity {card_id} does not exist")),
            Some(e) if e.sent => Err(format!("card entity {card_id} has been sent before")),
            Some(e) => {
                e.sent = true;
                Ok(())
            }
        }
    }

    pub(crate) fn link_message(&self, card_id: &str, message_id: &str) {
        if let Some(e) = lock(&self.cards).get_mut(card_id) {
            e.state.message_id = Some(message_id.to_owned());
        }
    }
}

fn set_config(card: &mut Value, key: &str, value: Value) {
    if let Some(obj) = card.as_object_mut() {
        let config = obj
            .entry("config")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(config) = config.as_object_mut() {
            config.insert(key.to_owned(), value);
        }
    }
}

fn summary_of(card: &Value) -> Option<String> {
    card.pointer("/config/summary/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn refuse(ctx: &Ctx<'_>, code: i64, msg: &str) -> Response {
    ctx.error(StatusCode::BAD_REQUEST, code, msg, None)
}

fn body_object(req: &Incoming) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&req.body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Parses the `card_json` string of a create or full update; `Err` is the answer.
fn parse_card(
    ctx: &Ctx<'_>,
    kind: Option<&str>,
    data: Option<&str>,
) -> Result<Value, Box<Response>> {
    match (kind, data) {
        (Some("card_json"), Some(data)) => match serde_json::from_str::<Value>(data) {
            Ok(card) if card.get("schema").and_then(Value::as_str) == Some("2.0") => {
                if card.pointer("/config/update_multi") == Some(&Value::Bool(false)) {
                    return Err(Box::new(refuse(
                        ctx,
                        230099,
                        "update_multi:false is not allowed",
                    )));
                }
                Ok(card)
            }
            Ok(_) => Err(Box::new(refuse(
                ctx,
                CODE_V1_CARD,
                "body is nil (only Card JSON 2.0)",
            ))),
            Err(_) => Err(Box::new(
                ctx.field_error(vec![violation("data", "data is not valid JSON")]),
            )),
        },
        (Some("template"), Some(data)) => match serde_json::from_str::<Value>(data) {
            Ok(tpl) if tpl.get("template_id").is_some() => Ok(json!({
                "schema": "2.0", "template": tpl, "body": {"elements": []}
            })),
            _ => Err(Box::new(ctx.field_error(vec![violation(
                "data",
                "data needs a template_id",
            )]))),
        },
        _ => Err(Box::new(ctx.field_error(vec![violation(
            "type",
            "type must be card_json or template, with data a JSON string",
        )]))),
    }
}

/// Routes `/open-apis/cardkit/v1/…`; `None` when the path is not one of them.
pub(crate) fn route(ctx: &Ctx<'_>, req: &Incoming, segs: &[&str]) -> Option<Response> {
    let dec = crate::handler::decode_segment;
    Some(match (req.method.as_str(), segs) {
        ("POST", ["cards"]) => create(ctx, req),
        ("PUT", ["cards", id]) => operate(ctx, req, &dec(id), Op::Update),
        ("PATCH", ["cards", id, "settings"]) => operate(ctx, req, &dec(id), Op::Settings),
        ("POST", ["cards", id, "elements"]) => operate(ctx, req, &dec(id), Op::ElementCreate),
        ("PUT", ["cards", id, "elements", el, "content"]) => {
            operate(ctx, req, &dec(id), Op::Content(dec(el)))
        }
        ("PUT", ["cards", id, "elements", el]) => {
            operate(ctx, req, &dec(id), Op::ElementUpdate(dec(el)))
        }
        ("PATCH", ["cards", id, "elements", el]) => {
            operate(ctx, req, &dec(id), Op::ElementPatch(dec(el)))
        }
        ("DELETE", ["cards", id, "elements", el]) => {
            operate(ctx, req, &dec(id), Op::ElementDelete(dec(el)))
        }
        _ => return None,
    })
}

fn create(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let Some(body) = body_object(req) else {
        return ctx.field_error(vec![violation("body", "the body must be a JSON object")]);
    };
    let kind = body.get("type").and_then(Value::as_str);
    let data = body.get("data").and_then(Value::as_str);
    let card = match parse_card(ctx, kind, data) {
        Ok(card) => card,
        Err(resp) => return *resp,
    };
    let id = format!("7{:018}", ctx.sh.next_seq());
    let streaming = card.pointer("/config/streaming_mode") == Some(&Value::Bool(true));
    let state = CardState {
        summary: summary_of(&card),
        card,
        streaming,
        ops: Vec::new(),
        refused: Vec::new(),
        message_id: None,
    };
    lock(&ctx.sh.cards.cards).insert(
        id.clone(),
        Entity {
            state,
            last_sequence: 0,
            uuids: HashSet::new(),
            recent: VecDeque::new(),
            sent: false,
        },
    );
    lock(&ctx.sh.cards.order).push(id.clone());
    ctx.ok(json!({ "card_id": id }))
}

enum Op {
    Update,
    Settings,
    ElementCreate,
    Content(String),
    ElementUpdate(String),
    ElementPatch(String),
    ElementDelete(String),
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Update => "update",
            Op::Settings => "settings",
            Op::ElementCreate => "element_create",
            Op::Content(_) => "content",
            Op::ElementUpdate(_) => "element_update",
            Op::ElementPatch(_) => "element_patch",
            Op::ElementDelete(_) => "element_delete",
        }
    }
}

/// A refused operation: the code and message to answer with.
type Refused = (i64, String);

fn operate(ctx: &Ctx<'_>, req: &Incoming, card_id: &str, op: Op) -> Response {
    let Some(body) = body_object(req) else {
        return ctx.field_error(vec![violation("body", "the body must be a JSON object")]);
    };
    let sequence = match body.get("sequence").and_then(Value::as_i64) {
        Some(s) if (1..=i64::from(i32::MAX)).contains(&s) => s,
        _ => {
            return ctx.field_error(vec![violation(
                "sequence",
                "sequence is required: an integer from 1 to 2147483647",
            )]);
        }
    };
    let uuid = body.get("uuid").and_then(Value::as_str).map(str::to_owned);
    let mut cards = lock(&ctx.sh.cards.cards);
    let Some(entity) = cards.get_mut(card_id) else {
        return refuse(ctx, CODE_NO_CARD, &format!("card {card_id} not found"));
    };
    if uuid.as_ref().is_some_and(|u| entity.uuids.contains(u)) {
        return ctx.ok(json!({}));
    }
    let now = Instant::now();
    let refused = check(ctx, entity, sequence, now).and_then(|()| apply(entity, &op, &body));
    match refused {
        Err((code, msg)) => {
            entity.state.refused.push(code);
            drop(cards);
            refuse(ctx, code, &msg)
        }
        Ok(()) => {
            entity.last_sequence = sequence;
            entity.recent.push_back(now);
            if let Some(uuid) = &uuid {
                entity.uuids.insert(uuid.clone());
            }
            entity.state.ops.push(CardOp {
                kind: op.kind(),
                sequence,
                uuid,
                at: now,
            });
            drop(cards);
            ctx.ok(json!({}))
        }
    }
}

/// The rules every operation passes before it is applied.
fn check(ctx: &Ctx<'_>, entity: &mut Entity, sequence: i64, now: Instant) -> Result<(), Refused> {
    if let Some(code) = entity
        .state
        .message_id
        .as_ref()
        .and_then(|id| ctx.sh.messages.gone(id))
    {
        return Err((code, crate::messages::gone_message(code).into()));
    }
    if sequence <= entity.last_sequence {
        return Err((CODE_SEQUENCE, "sequence number compare failed".into()));
    }
    while entity
        .recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        entity.recent.pop_front();
    }
    if entity.recent.len() >= OPS_PER_SEC {
        return Err((
            CODE_RATE_LIMITED,
            "card operations over the frequency limit".into(),
        ));
    }
    Ok(())
}

fn json_string_field(body: &Map<String, Value>, key: &str) -> Result<Value, Refused> {
    body.get(key)
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            (
                crate::handler::CODE_FIELD_VALIDATION,
                format!("`{key}` must be a JSON-encoded string"),
            )
        })
}

fn text_limit(text: &str) -> Result<(), Refused> {
    let chars = text.chars().count();
    if chars > ELEMENT_TEXT_LIMIT {
        return Err((
            crate::messages::CODE_CARD_CONTENT,
            format!(
                "Failed to create card content, ErrCode: 11310; ErrMsg: element exceeds limit \
                 ({chars} characters, at most {ELEMENT_TEXT_LIMIT})"
            ),
        ));
    }
    Ok(())
}

fn apply(entity: &mut Entity, op: &Op, body: &Map<String, Value>) -> Result<(), Refused> {
    let no_element = |id: &str| (CODE_NO_ELEMENT, format!("element {id} not found"));
    let card = &mut entity.state.card;
    match op {
        Op::Content(el) => {
            if !entity.state.streaming {
                return Err((CODE_STREAMING_CLOSED, "streaming mode is closed".into()));
            }
            let text = body
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    (
                        crate::handler::CODE_FIELD_VALIDATION,
                        "content is required and must not be empty".into(),
                    )
                })?;
            text_limit(text)?;
            let element = find_element_mut(card, el).ok_or_else(|| no_element(el))?;
            element["content"] = Value::from(text);
        }
        Op::Settings => {
            let settings = json_string_field(body, "settings")?;
            let Some(map) = settings.as_object() else {
                return Err((200621, "settings must be an object".into()));
            };
            if let Some(key) = map.keys().find(|k| *k != "config" && *k != "card_link") {
                return Err((200621, format!("unknown property `{key}` in settings")));
            }
            if let Some(Value::Object(config)) = map.get("config") {
                for (k, v) in config {
                    set_config(card, k, v.clone());
                }
                if let Some(on) = config.get("streaming_mode").and_then(Value::as_bool) {
                    entity.state.streaming = on;
                }
            }
            if let Some(link) = map.get("card_link") {
                card["card_link"] = link.clone();
            }
            entity.state.summary = summary_of(card);
        }
        Op::Update => {
            let inner = body.get("card").and_then(Value::as_object);
            let kind = inner.and_then(|c| c.get("type")).and_then(Value::as_str);
            let data = inner.and_then(|c| c.get("data")).and_then(Value::as_str);
            let new = match (kind, data.map(serde_json::from_str::<Value>)) {
                (Some("card_json"), Some(Ok(new)))
                    if new.get("schema").and_then(Value::as_str) == Some("2.0") =>
                {
                    new
                }
                _ => return Err((CODE_V1_CARD, "card must be Card JSON 2.0".into())),
            };
            entity.state.streaming =
                new.pointer("/config/streaming_mode") == Some(&Value::Bool(true));
            *card = new;
            entity.state.summary = summary_of(card);
        }
        Op::ElementUpdate(el) => {
            let new = json_string_field(body, "element")?;
            if let Some(text) = new.get("content").and_then(Value::as_str) {
                text_limit(text)?;
            }
            let element = find_element_mut(card, el).ok_or_else(|| no_element(el))?;
            *element = new;
        }
        Op::ElementPatch(el) => {
            let patch = json_string_field(body, "partial_element")?;
            if patch.get("tag").is_some() {
                return Err((200621, "partial_element cannot change `tag`".into()));
            }
            let element = find_element_mut(card, el).ok_or_else(|| no_element(el))?;
            if let (Some(dst), Some(src)) = (element.as_object_mut(), patch.as_object()) {
                for (k, v) in src {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
        Op::ElementCreate => {
            let elements = json_string_field(body, "elements")?;
            let Value::Array(new) = elements else {
                return Err((200621, "elements must be an array".into()));
            };
            let list = card
                .pointer_mut("/body/elements")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| (200621, "the card has no body.elements".into()))?;
            list.extend(new);
        }
        Op::ElementDelete(el) => {
            let list = card
                .pointer_mut("/body/elements")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| no_element(el))?;
            let before = list.len();
            list.retain(|e| e.get("element_id").and_then(Value::as_str) != Some(el.as_str()));
            if list.len() == before {
                return Err(no_element(el));
            }
        }
    }
    Ok(())
}
