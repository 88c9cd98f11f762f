//! One call to send a message or reply to one.

use lark_oapi_core::pacing::limits;
use lark_oapi_core::{Client, Method, RequestOptions, RequestSpec, Response, Result};
use serde::Deserialize;

use crate::content::{MessageContent, Outgoing, check_size};

/// Who a message goes to, as the `receive_id_type` of the send API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Receiver {
    /// A chat (`oc_…`).
    Chat(String),
    /// A user by open id (`ou_…`).
    OpenId(String),
    /// A user by union id (`on_…`).
    UnionId(String),
    /// A user by user id.
    UserId(String),
    /// A user by email address.
    Email(String),
}

impl Receiver {
    /// The receiver an id names by its shape: `oc_` a chat, `ou_` an open id, `on_` a union
    /// id, one with `@` an email, anything else a user id.
    ///
    /// ```
    /// use lark_oapi_bot::Receiver;
    /// assert_eq!(Receiver::infer("oc_84983ff6516d731e5b5f68d4ea2e1da5"), Receiver::Chat("oc_84983ff6516d731e5b5f68d4ea2e1da5".into()));
    /// assert_eq!(Receiver::infer("ann@example.com"), Receiver::Email("ann@example.com".into()));
    /// assert_eq!(Receiver::infer("5d9bdxxx"), Receiver::UserId("5d9bdxxx".into()));
    /// ```
    pub fn infer(id: &str) -> Receiver {
        let id = id.to_owned();
        if id.starts_with("oc_") {
            Receiver::Chat(id)
        } else if id.starts_with("ou_") {
            Receiver::OpenId(id)
        } else if id.starts_with("on_") {
            Receiver::UnionId(id)
        } else if id.contains('@') {
            Receiver::Email(id)
        } else {
            Receiver::UserId(id)
        }
    }

    /// The `receive_id_type` query value.
    pub fn id_type(&self) -> &'static str {
        match self {
            Receiver::Chat(_) => "chat_id",
            Receiver::OpenId(_) => "open_id",
            Receiver::UnionId(_) => "union_id",
            Receiver::UserId(_) => "user_id",
            Receiver::Email(_) => "email",
        }
    }

    /// The `receive_id`.
    pub fn id(&self) -> &str {
        match self {
            Receiver::Chat(id)
            | Receiver::OpenId(id)
            | Receiver::UnionId(id)
            | Receiver::UserId(id)
            | Receiver::Email(id) => id,
        }
    }
}

/// The message the platform created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SentMessage {
    /// Its id (`om_…`), to reply to, edit or recall it.
    pub message_id: String,
    /// The chat it is in.
    pub chat_id: Option<String>,
    /// The message it replies to, if any.
    pub parent_id: Option<String>,
    /// The first message of its reply chain, if any.
    pub root_id: Option<String>,
    /// The thread it is in, if any.
    pub thread_id: Option<String>,
    /// Its `msg_type`.
    pub msg_type: Option<String>,
}

#[derive(serde::Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    receive_id: Option<&'a str>,
    msg_type: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    uuid: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    reply_in_thread: bool,
}

impl Body<'_> {
    /// The body serialised once, checked against the size limit of its message type.
    fn encode(&self) -> Result<Vec<u8>> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| lark_oapi_core::Error::InvalidRequest(format!("message body: {e}")))?;
        check_size(self.msg_type, bytes.len())?;
        Ok(bytes)
    }
}

/// Sends `content` to `to`, whose kind is inferred from its shape ([`Receiver::infer`]).
///
/// ```no_run
/// use lark_oapi_bot::content::Text;
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// lark_oapi_bot::send(&client, "oc_84983ff6516d731e5b5f68d4ea2e1da5", &Text::new("deployed")).await?;
/// # Ok(()) }
/// ```
pub async fn send(
    client: &Client,
    to: &str,
    content: &(impl MessageContent + ?Sized),
) -> Result<Response<SentMessage>> {
    send_to(client, &Receiver::infer(to), content, None).await
}

/// Sends `content` to `to`. `uuid`: the same uuid within an hour sends at most one message
/// (safe to retry).
///
/// Sends are paced with the client's [`Pacer`](lark_oapi_core::pacing::Pacer) under
/// [`pace_key`] at the platform's 5 per second per chat or user: a burst waits for its
/// slots (shared between processes when the pacer is), and a send whose slot is further
/// away than the pacer's bound fails with [`Error::Paced`](lark_oapi_core::Error::Paced)
/// before anything is sent. Replies are not paced per chat (the chat of the message replied
/// to is not known here); pace them with `CallOptions::pace` and [`pace_key`] when it is.
pub async fn send_to(
    client: &Client,
    to: &Receiver,
    content: &(impl MessageContent + ?Sized),
    uuid: Option<&str>,
) -> Result<Response<SentMessage>> {
    let out = Outgoing::new(content)?;
    let receive_id = to.id();
    if receive_id.trim().is_empty() {
        return Err(crate::ContentError::Empty { what: "receive_id" }.into());
    }
    let body = Body {
        receive_id: Some(receive_id),
        msg_type: out.msg_type(),
        content: out.content(),
        uuid,
        reply_in_thread: false,
    }
    .encode()?;
    let spec = RequestSpec::new(Method::POST, "/open-apis/im/v1/messages")
        .query("receive_id_type", to.id_type())
        .json_bytes(body)
        .with_options(RequestOptions::new().pace(pace_key(to), limits::MESSAGES_PER_RECEIVER));
    client.send(&spec).await
}

/// The key under which sends to `to` are paced (5 per second per chat or user):
/// `im:<receive_id_type>:<receive_id>`. Pace other calls to the same receiver under it,
/// with the client's pacer, to keep them together under the limit.
///
/// ```
/// use lark_oapi_bot::{Receiver, pace_key};
/// assert_eq!(pace_key(&Receiver::infer("oc_84983ff6516d731e5b5f68d4ea2e1da5")), "im:chat_id:oc_84983ff6516d731e5b5f68d4ea2e1da5");
/// ```
pub fn pace_key(to: &Receiver) -> String {
    format!("im:{}:{}", to.id_type(), to.id())
}

/// Replies to the message `message_id` with `content`; `in_thread` replies in its thread
/// (starting one if there is none).
///
/// ```no_run
/// use lark_oapi_bot::content::Post;
/// # async fn run(client: lark_oapi_core::Client, message_id: &str) -> lark_oapi_core::Result<()> {
/// lark_oapi_bot::reply(&client, message_id, &Post::markdown("**done** in 3 s"), false).await?;
/// # Ok(()) }
/// ```
pub async fn reply(
    client: &Client,
    message_id: &str,
    content: &(impl MessageContent + ?Sized),
    in_thread: bool,
) -> Result<Response<SentMessage>> {
    let out = Outgoing::new(content)?;
    let body = Body {
        receive_id: None,
        msg_type: out.msg_type(),
        content: out.content(),
        uuid: None,
        reply_in_thread: in_thread,
    }
    .encode()?;
    let spec = RequestSpec::new(Method::POST, "/open-apis/im/v1/messages/:message_id/reply")
        .path_param("message_id", message_id)
        .json_bytes(body);
    client.send(&spec).await
}
