//! Content of received messages (`im.message.receive_v1`, and the items of the message
//! get/list APIs), parsed into one typed value per message type.
//!
//! Parsing never fails a delivery: a type this crate does not know, or a shape it cannot
//! read, is kept raw in [`Received::Unknown`] with the reason. Mentions arrive as
//! placeholders (`@_user_1`, `@_all`) that [`Received::plain_text`] resolves against the
//! message's `mentions`; a received `post` comes flat (`{"title","content"}`) or per locale
//! (`{"zh_cn":{…}}`), and both read the same here.
//!
//! ```
//! use lark_oapi_bot::received::{Mention, Received};
//! let mentions = [Mention::new("@_user_1", "Ann").open_id("ou_1")];
//! let got = Received::parse("text", r#"{"text":"@_user_1 deploy please"}"#);
//! assert_eq!(got, Received::Text { text: "@_user_1 deploy please".into() });
//! assert_eq!(got.plain_text(&mentions), "@Ann deploy please");
//! ```

mod fetch;
pub use fetch::{Forwarded, expand_forward, fetch};

use serde_json::{Map, Value};

use crate::content::{PostElement, Style};

/// Locales of a received post, in the order one is picked.
const LOCALES: [&str; 3] = ["zh_cn", "en_us", "ja_jp"];

/// Someone a message mentions: the placeholder in its text, and who it stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mention {
    /// The placeholder, e.g. `@_user_1` (`@_all` for everyone).
    pub key: String,
    /// The name shown.
    pub name: String,
    /// The user's open id.
    pub open_id: Option<String>,
    /// The user's union id.
    pub union_id: Option<String>,
    /// The user's user id.
    pub user_id: Option<String>,
}

impl Mention {
    /// A mention of placeholder `key` shown as `name`.
    pub fn new(key: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// With the user's open id.
    pub fn open_id(mut self, open_id: impl Into<String>) -> Self {
        self.open_id = Some(open_id.into());
        self
    }

    /// The mentions of a message as the event carries them (`[{"key","name","id":{…}}]`);
    /// entries without a key are skipped.
    pub fn from_event(mentions: &Value) -> Vec<Mention> {
        let Some(items) = mentions.as_array() else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|m| {
                let key = m.get("key")?.as_str()?.to_owned();
                let id = |k: &str| {
                    m.pointer(&format!("/id/{k}"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                Some(Mention {
                    name: text(m, "name"),
                    open_id: id("open_id"),
                    union_id: id("union_id"),
                    user_id: id("user_id"),
                    key,
                })
            })
            .collect()
    }
}

/// A received message: where it is, who sent it, what it says.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReceivedMessage {
    /// Its id (`om_…`), to reply to it.
    pub message_id: String,
    /// The chat it is in.
    pub chat_id: String,
    /// `p2p` or `group` (events only).
    pub chat_type: Option<String>,
    /// The sender's open id.
    pub sender_open_id: Option<String>,
    /// Its `msg_type`.
    pub msg_type: String,
    /// Its parsed content.
    pub content: Received,
    /// Whom it mentions.
    pub mentions: Vec<Mention>,
}

impl ReceivedMessage {
    /// From the `event` object of `im.message.receive_v1` (`{"sender":…,"message":…}`, the
    /// payload of a raw event).
    pub fn from_event(event: &Value) -> ReceivedMessage {
        let message = event.get("message").unwrap_or(&Value::Null);
        let msg_type = text(message, "message_type");
        ReceivedMessage {
            message_id: text(message, "message_id"),
            chat_id: text(message, "chat_id"),
            chat_type: opt_text(message, "chat_type"),
            sender_open_id: event
                .pointer("/sender/sender_id/open_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            content: Received::parse(&msg_type, &text(message, "content")),
            mentions: Mention::from_event(message.get("mentions").unwrap_or(&Value::Null)),
            msg_type,
        }
    }

    /// From an item of the message get/list APIs (`{"msg_type","body":{"content"},…}`),
    /// whose mentions carry one id and its `id_type`.
    pub fn from_item(item: &Value) -> ReceivedMessage {
        let msg_type = text(item, "msg_type");
        let content = item
            .pointer("/body/content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mentions = item
            .get("mentions")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|m| {
                        let mut mention = Mention::new(m.get("key")?.as_str()?, text(m, "name"));
                        let id = opt_text(m, "id");
                        match m.get("id_type").and_then(Value::as_str) {
                            Some("user_id") => mention.user_id = id,
                            Some("union_id") => mention.union_id = id,
                            _ => mention.open_id = id,
                        }
                        Some(mention)
                    })
                    .collect()
            })
            .unwrap_or_default();
        ReceivedMessage {
            message_id: text(item, "message_id"),
            chat_id: text(item, "chat_id"),
            chat_type: None,
            sender_open_id: item
                .pointer("/sender/id")
                .and_then(Value::as_str)
                .filter(|_| {
                    item.pointer("/sender/id_type").and_then(Value::as_str) == Some("open_id")
                })
                .map(str::to_owned),
            content: Received::parse(&msg_type, content),
            mentions,
            msg_type,
        }
    }

    /// The message as plain text, mentions resolved (see [`Received::plain_text`]).
    pub fn plain_text(&self) -> String {
        self.content.plain_text(&self.mentions)
    }

    /// Whether the message mentions the user (or bot) with this open id.
    pub fn mentions_open_id(&self, open_id: &str) -> bool {
        self.mentions
            .iter()
            .any(|m| m.open_id.as_deref() == Some(open_id))
    }
}

/// From the typed payload of `im.message.receive_v1` (`on_im_message_receive_v1`'s
/// `event.payload`), taken apart: its strings move into the message, none is copied.
///
/// ```
/// use lark_oapi_bot::received::{Received, ReceivedMessage};
/// use lark_oapi_apis_6::im::v1::events::P2ImMessageReceiveV1Data;
///
/// let mut payload = P2ImMessageReceiveV1Data::default();
/// payload.message.message_type = "text".into();
/// payload.message.content = r#"{"text":"hello"}"#.into();
/// let message = ReceivedMessage::from(payload);
/// assert_eq!(message.content, Received::Text { text: "hello".into() });
/// ```
impl From<lark_oapi_apis_6::im::v1::events::P2ImMessageReceiveV1Data> for ReceivedMessage {
    fn from(event: lark_oapi_apis_6::im::v1::events::P2ImMessageReceiveV1Data) -> Self {
        let message = event.message;
        let mentions = message
            .mentions
            .into_iter()
            .flatten()
            .map(|m| Mention {
                key: m.key,
                name: m.name,
                open_id: m.id.open_id,
                union_id: m.id.union_id,
                user_id: m.id.user_id,
            })
            .collect();
        ReceivedMessage {
            content: Received::parse(&message.message_type, &message.content),
            message_id: message.message_id,
            chat_id: message.chat_id,
            chat_type: Some(message.chat_type).filter(|t| !t.is_empty()),
            sender_open_id: event.sender.sender_id.and_then(|id| id.open_id),
            mentions,
            msg_type: message.message_type,
        }
    }
}

/// From a borrowed payload (a copy of it is taken apart; pass the payload by value to
/// avoid the copy).
impl From<&lark_oapi_apis_6::im::v1::events::P2ImMessageReceiveV1Data> for ReceivedMessage {
    fn from(event: &lark_oapi_apis_6::im::v1::events::P2ImMessageReceiveV1Data) -> Self {
        Self::from(event.clone())
    }
}

/// A received post: the locale picked (none when it came flat), its title and rows.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ReceivedPost {
    /// The locale read (`zh_cn` first, then `en_us`, `ja_jp`, then any).
    pub locale: Option<String>,
    /// The title.
    pub title: String,
    /// Rows of elements; a tag this crate does not model is `PostElement::Other`.
    pub rows: Vec<Vec<PostElement>>,
}

impl ReceivedPost {
    /// The image keys in the post (`img` elements and `md` images), to download them.
    pub fn image_keys(&self) -> Vec<&str> {
        let mut keys = Vec::new();
        for e in self.rows.iter().flatten() {
            match e {
                PostElement::Image { image_key } => keys.push(image_key.as_str()),
                PostElement::Markdown { text } => {
                    for part in text.split("](").skip(1) {
                        if let Some(key) = part.split(')').next().filter(|k| k.starts_with("img_"))
                        {
                            keys.push(key);
                        }
                    }
                }
                _ => {}
            }
        }
        keys
    }
}

/// The content of a received message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Received {
    /// `text`, with mention placeholders as sent (see [`Received::plain_text`]).
    Text {
        /// The text.
        text: String,
    },
    /// `post`, normalised across its received shapes.
    Post(ReceivedPost),
    /// `image`.
    Image {
        /// The image key, to download it with the message-resource API.
        image_key: String,
    },
    /// `file` (and `folder`).
    File {
        /// The file key.
        file_key: String,
        /// The file name.
        file_name: String,
    },
    /// `audio`.
    Audio {
        /// The file key.
        file_key: String,
        /// Its length in milliseconds.
        duration_ms: Option<i64>,
    },
    /// `media` (video).
    Media {
        /// The file key.
        file_key: String,
        /// The file name.
        file_name: String,
        /// Its length in milliseconds.
        duration_ms: Option<i64>,
        /// The cover's image key.
        image_key: Option<String>,
    },
    /// `sticker`.
    Sticker {
        /// The sticker's file key.
        file_key: String,
    },
    /// `interactive`: the card as the event renders it (possibly a degraded form; the full
    /// card comes from the message get API with `card_msg_content_type=raw_card_content`).
    Card(Value),
    /// `share_chat`.
    ShareChat {
        /// The chat shared.
        chat_id: String,
    },
    /// `share_user`.
    ShareUser {
        /// The user shared.
        user_id: String,
    },
    /// `merge_forward`: the event's content says nothing; fetch the message by id to read
    /// the forwarded messages.
    MergeForward,
    /// `location`.
    Location {
        /// The place's name.
        name: String,
        /// Latitude, as sent (a string).
        latitude: String,
        /// Longitude, as sent (a string).
        longitude: String,
    },
    /// `system`: a template with `{name}` placeholders and their values.
    System {
        /// The template text rendered with its values.
        text: String,
    },
    /// `todo`: a task shared to the chat.
    Todo {
        /// Its summary: a title and rows of post elements.
        summary: ReceivedPost,
        /// When it is due, in milliseconds since the epoch.
        due_time_ms: Option<i64>,
        /// The task's id, when the content carries one.
        task_id: Option<String>,
    },
    /// `vote`.
    Vote {
        /// What is voted on.
        topic: String,
        /// The choices.
        options: Vec<String>,
    },
    /// `calendar`, `share_calendar_event` and `general_calendar`: an event card.
    Calendar {
        /// Which of the three it is.
        kind: String,
        /// The event's title.
        summary: String,
        /// Start, in milliseconds since the epoch.
        start_time_ms: Option<i64>,
        /// End, in milliseconds since the epoch.
        end_time_ms: Option<i64>,
    },
    /// `video_chat`: a meeting card.
    VideoChat {
        /// The meeting's topic.
        topic: String,
        /// Start, in milliseconds since the epoch.
        start_time_ms: Option<i64>,
    },
    /// `hongbao` (a red packet).
    Hongbao {
        /// Its greeting.
        text: String,
    },
    /// A message type this crate does not model, or a shape
    /// it could not read: the raw content, and why it was not parsed.
    Unknown {
        /// The message type.
        msg_type: String,
        /// The content as received.
        content: String,
        /// Why it was not parsed into one of the other variants.
        reason: String,
    },
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn opt_text(v: &Value, key: &str) -> Option<String> {
    Some(text(v, key)).filter(|s| !s.is_empty())
}

fn millis(v: &Value, key: &str) -> Option<i64> {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Received {
    /// Parses the `content` of a message of `msg_type`. Never fails: see
    /// [`Received::Unknown`].
    pub fn parse(msg_type: &str, content: &str) -> Received {
        let unknown = |reason: &str| Received::Unknown {
            msg_type: msg_type.to_owned(),
            content: content.to_owned(),
            reason: reason.to_owned(),
        };
        let v: Value = match serde_json::from_str(content) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return unknown("the content is not a JSON object"),
            Err(e) => return unknown(&format!("the content is not JSON: {e}")),
        };
        if msg_type == "post" {
            // Taken apart in place: the strings move into the post, none is copied.
            return parse_post(v)
                .map(Received::Post)
                .unwrap_or_else(|| unknown("a required key is missing or empty"));
        }
        let key = |k: &str| Some(text(&v, k)).filter(|s| !s.is_empty());
        let parsed = match msg_type {
            "text" => v
                .get("text")
                .and_then(Value::as_str)
                .map(|t| Received::Text { text: t.to_owned() }),
            "image" => key("image_key").map(|image_key| Received::Image { image_key }),
            "file" | "folder" => key("file_key").map(|file_key| Received::File {
                file_key,
                file_name: text(&v, "file_name"),
            }),
            "audio" => key("file_key").map(|file_key| Received::Audio {
                file_key,
                duration_ms: millis(&v, "duration"),
            }),
            "media" | "video" => key("file_key").map(|file_key| Received::Media {
                file_key,
                file_name: text(&v, "file_name"),
                duration_ms: millis(&v, "duration"),
                image_key: opt_text(&v, "image_key"),
            }),
            "sticker" => key("file_key").map(|file_key| Received::Sticker { file_key }),
            "interactive" => Some(Received::Card(v.clone())),
            "share_chat" => key("chat_id").map(|chat_id| Received::ShareChat { chat_id }),
            "share_user" => key("user_id").map(|user_id| Received::ShareUser { user_id }),
            "merge_forward" => Some(Received::MergeForward),
            "location" => Some(Received::Location {
                name: text(&v, "name"),
                latitude: text(&v, "latitude"),
                longitude: text(&v, "longitude"),
            }),
            "system" => v
                .get("template")
                .and_then(Value::as_str)
                .map(|t| Received::System {
                    text: render_system(t, &v),
                }),
            "todo" => v
                .get("summary")
                .cloned()
                .and_then(parse_post)
                .map(|summary| Received::Todo {
                    summary,
                    due_time_ms: millis(&v, "due_time"),
                    task_id: opt_text(&v, "task_id"),
                }),
            "vote" => key("topic").map(|topic| Received::Vote {
                topic,
                options: v
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            "calendar" | "share_calendar_event" | "general_calendar" => {
                key("summary").map(|summary| Received::Calendar {
                    kind: msg_type.to_owned(),
                    summary,
                    start_time_ms: millis(&v, "start_time"),
                    end_time_ms: millis(&v, "end_time"),
                })
            }
            "video_chat" => key("topic").map(|topic| Received::VideoChat {
                topic,
                start_time_ms: millis(&v, "start_time"),
            }),
            "hongbao" => v
                .get("text")
                .and_then(Value::as_str)
                .map(|t| Received::Hongbao { text: t.to_owned() }),
            _ => return unknown("a message type this SDK does not model"),
        };
        parsed.unwrap_or_else(|| unknown("a required key is missing or empty"))
    }

    /// The message as plain text: mentions as `@Name`, a post's title and rows (links as
    /// `text (href)`, images as `[image]`), other types as a short label.
    pub fn plain_text(&self, mentions: &[Mention]) -> String {
        match self {
            Received::Text { text } => resolve_mentions(text, mentions),
            Received::Post(post) => {
                let mut lines = Vec::new();
                if !post.title.is_empty() {
                    lines.push(post.title.clone());
                }
                for row in &post.rows {
                    let line: String = row.iter().map(|e| element_text(e, mentions)).collect();
                    lines.push(line);
                }
                lines.join("\n")
            }
            Received::Image { .. } => "[image]".into(),
            Received::File { file_name, .. } => format!("[file: {file_name}]"),
            Received::Audio { .. } => "[audio]".into(),
            Received::Media { file_name, .. } => format!("[video: {file_name}]"),
            Received::Sticker { .. } => "[sticker]".into(),
            Received::Card(_) => "[card]".into(),
            Received::ShareChat { chat_id } => format!("[chat: {chat_id}]"),
            Received::ShareUser { user_id } => format!("[user: {user_id}]"),
            Received::MergeForward => "[forwarded messages]".into(),
            Received::Location { name, .. } => format!("[location: {name}]"),
            Received::System { text } => text.clone(),
            Received::Todo { summary, .. } => {
                let body = Received::Post(summary.clone()).plain_text(mentions);
                format!("[todo] {body}")
            }
            Received::Vote { topic, options } => format!("[vote] {topic}: {}", options.join(" / ")),
            Received::Calendar { summary, .. } => format!("[event] {summary}"),
            Received::VideoChat { topic, .. } => format!("[meeting] {topic}"),
            Received::Hongbao { text } => format!("[red packet] {text}"),
            Received::Unknown { content, .. } => serde_json::from_str::<Value>(content)
                .ok()
                .and_then(|v| v.get("text").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default(),
        }
    }
}

/// `@_user_1` → `@Ann`, `@_all` → `@all`; longer keys first, so `@_user_10` is not read as
/// `@_user_1` followed by `0`.
fn resolve_mentions(text: &str, mentions: &[Mention]) -> String {
    let mut sorted: Vec<&Mention> = mentions.iter().filter(|m| !m.key.is_empty()).collect();
    sorted.sort_by_key(|m| std::cmp::Reverse(m.key.len()));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        for m in &sorted {
            if tail.starts_with(m.key.as_str()) {
                out.push('@');
                out.push_str(&m.name);
                rest = &tail[m.key.len()..];
                continue 'scan;
            }
        }
        if let Some(after) = tail.strip_prefix("@_all") {
            out.push_str("@all");
            rest = after;
            continue;
        }
        out.push('@');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

fn element_text(e: &PostElement, mentions: &[Mention]) -> String {
    match e {
        PostElement::Text { text, .. } => resolve_mentions(text, mentions),
        PostElement::Link { text, href, .. } => format!("{text} ({href})"),
        PostElement::At { user_id, .. } => {
            let by_id = mentions.iter().find(|m| {
                m.open_id.as_deref() == Some(user_id)
                    || m.user_id.as_deref() == Some(user_id)
                    || &m.key == user_id
            });
            match (by_id, user_id.as_str()) {
                (Some(m), _) => format!("@{}", m.name),
                (None, "all") => "@all".into(),
                (None, id) => format!("@{id}"),
            }
        }
        PostElement::Image { .. } => "[image]".into(),
        PostElement::Media { .. } => "[video]".into(),
        PostElement::Emotion { emoji_type } => format!("[{emoji_type}]"),
        PostElement::Divider => "---".into(),
        PostElement::CodeBlock { text, .. } => text.clone(),
        PostElement::Markdown { text } => resolve_mentions(text, mentions),
        PostElement::Other { .. } => String::new(),
    }
}

/// A post as received: flat, or under a locale key.
fn parse_post(v: Value) -> Option<ReceivedPost> {
    let Value::Object(mut map) = v else {
        return None;
    };
    let (locale, mut body) = if map.get("content").is_some_and(Value::is_array) {
        (None, map)
    } else {
        let picked = LOCALES
            .iter()
            .find(|l| map.contains_key(**l))
            .map(|l| (*l).to_owned())
            .or_else(|| {
                map.iter()
                    .find(|(_, b)| b.get("content").is_some_and(Value::is_array))
                    .map(|(k, _)| k.clone())
            })?;
        let Some(Value::Object(body)) = map.remove(&picked) else {
            return None;
        };
        (Some(picked), body)
    };
    let Some(Value::Array(rows)) = body.remove("content") else {
        return None;
    };
    Some(ReceivedPost {
        locale,
        title: take_text(&mut body, "title"),
        rows: rows
            .into_iter()
            .map(|row| match row {
                Value::Array(els) => els.into_iter().map(parse_element).collect(),
                _ => Vec::new(),
            })
            .collect(),
    })
}

/// Removes `key` from `map` as text (numbers too); absent or another type is empty.
fn take_text(map: &mut Map<String, Value>, key: &str) -> String {
    match map.remove(key) {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn parse_styles(map: &Map<String, Value>) -> Vec<Style> {
    map.get("style")
        .and_then(Value::as_array)
        .map(|styles| {
            styles
                .iter()
                .filter_map(|s| match s.as_str()? {
                    "bold" => Some(Style::Bold),
                    "italic" => Some(Style::Italic),
                    "underline" => Some(Style::Underline),
                    "lineThrough" => Some(Style::LineThrough),
                    "codeInline" => Some(Style::CodeInline),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_element(v: Value) -> PostElement {
    let Value::Object(mut m) = v else {
        return PostElement::Other {
            tag: String::new(),
            raw: Map::new(),
        };
    };
    let tag = m.get("tag").and_then(Value::as_str).unwrap_or_default();
    let known = matches!(
        tag,
        "text" | "a" | "at" | "img" | "media" | "emotion" | "hr" | "code_block" | "md"
    );
    if !known {
        return PostElement::Other {
            tag: tag.to_owned(),
            raw: m,
        };
    }
    let tag = take_text(&mut m, "tag");
    let m = &mut m;
    match tag.as_str() {
        "text" => PostElement::Text {
            text: take_text(m, "text"),
            un_escape: m.get("un_escape").and_then(Value::as_bool).unwrap_or(false),
            styles: parse_styles(m),
        },
        "a" => PostElement::Link {
            text: take_text(m, "text"),
            href: take_text(m, "href"),
            styles: parse_styles(m),
        },
        "at" => PostElement::At {
            user_id: take_text(m, "user_id"),
            styles: parse_styles(m),
        },
        "img" => PostElement::Image {
            image_key: take_text(m, "image_key"),
        },
        "media" => PostElement::Media {
            file_key: take_text(m, "file_key"),
            image_key: Some(take_text(m, "image_key")).filter(|k| !k.is_empty()),
        },
        "emotion" => PostElement::Emotion {
            emoji_type: take_text(m, "emoji_type"),
        },
        "hr" => PostElement::Divider,
        "code_block" => PostElement::CodeBlock {
            language: take_text(m, "language"),
            text: take_text(m, "text"),
        },
        _ => PostElement::Markdown {
            text: take_text(m, "text"),
        },
    }
}

/// A system message's template with its `{name}` placeholders filled: a list of users as
/// their names joined by `, `, other values as text.
fn render_system(template: &str, v: &Value) -> String {
    let mut out = template.to_owned();
    if let Some(map) = v.as_object() {
        for (k, value) in map {
            let placeholder = format!("{{{k}}}");
            if !out.contains(&placeholder) {
                continue;
            }
            let rendered = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => s.clone(),
                        other => text(other, "name"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Value::Object(_) => text(value, "text"),
                other => other.to_string(),
            };
            out = out.replace(&placeholder, &rendered);
        }
    }
    out
}

#[cfg(test)]
mod tests;
