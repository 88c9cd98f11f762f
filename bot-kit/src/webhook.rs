//! Custom bots: the group bots that post through a webhook URL, with no app behind them.
//!
//! A [`Webhook`] needs only the bot's URL (and its signature secret when "signature
//! verification" is on in the bot's security settings). It sends the same typed content
//! as the app API, in the shape webhooks want: `content` as an object, a card as the
//! top-level `card`; it checks the 20 KB body limit and the types a custom bot can send
//! before any I/O, and paces its sends under the documented 5 per second and 100 per
//! minute.
//!
//! # Signature
//!
//! Libraries disagree on the HMAC (some key it with the secret and sign
//! `timestamp + "\n" + secret`, as DingTalk does). This follows the platform's custom-bot
//! guide: the **key** is `timestamp + "\n" + secret` and the message is empty, `sign =
//! base64(HMAC-SHA256(key, ""))`, with the timestamp in seconds ([`sign`]).
//!
//! ```no_run
//! use lark_oapi_bot::content::Text;
//! use lark_oapi_bot::webhook::Webhook;
//! # async fn run() -> lark_oapi_core::Result<()> {
//! let hook = Webhook::new("https://open.feishu.cn/open-apis/bot/v2/hook/2a7c…")?
//!     .secret("the bot's signature secret");
//! hook.send(&Text::new("deploy finished")).await?;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use lark_oapi_core::{
    Client, Config, Domain, Error, Method, RequestSpec, Result, SecretString, TokenTypes,
};
use serde_json::{Map, Value};
use sha2::Sha256;
use tokio::sync::Mutex;

use crate::content::{ContentError, MessageContent, Outgoing};

/// Largest request body a custom bot accepts.
pub const BODY_LIMIT: usize = 20 * 1024;
/// Sends per second a custom bot accepts.
pub const PER_SECOND: usize = 5;
/// Sends per minute a custom bot accepts.
pub const PER_MINUTE: usize = 100;
/// The codes a custom bot answers with (HTTP 200, in the body's `code`).
pub mod codes {
    /// The webhook token is not valid.
    pub const TOKEN_INVALID: i64 = 19001;
    /// The body has no `msg_type`.
    pub const MSG_TYPE_MISSING: i64 = 19002;
    /// The signature does not match, or the timestamp is more than an hour away.
    pub const SIGN_MISMATCH: i64 = 19021;
    /// The message holds none of the bot's keywords.
    pub const KEYWORD_MISSING: i64 = 19024;
    /// Over the bot's frequency limit.
    pub const FREQUENCY_LIMIT: i64 = 11232;
    /// The body could not be read (e.g. `content` given as a string).
    pub const BAD_REQUEST: i64 = 9499;
}

/// Added to each rate window.
const JITTER_MARGIN: Duration = Duration::from_millis(50);
/// The message types a custom bot can send.
pub const SENDABLE: [&str; 5] = ["text", "post", "image", "share_chat", "interactive"];

/// The `sign` of a request at `timestamp` (Unix seconds) under `secret`: base64 of the
/// HMAC-SHA256 keyed with `timestamp + "\n" + secret` over an empty message.
///
/// ```
/// // Computed independently: Python's base64(hmac.new(b"1700000000\nsecret", b"", sha256).digest()).
/// assert_eq!(
///     lark_oapi_bot::webhook::sign(1700000000, "secret"),
///     "fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA="
/// );
/// ```
pub fn sign(timestamp: u64, secret: &str) -> String {
    let key = format!("{timestamp}\n{secret}");
    // HMAC takes a key of any length: this never fails.
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A custom bot's webhook. Its token is a credential: `Debug` and errors show the host
/// and path with the token redacted.
pub struct Webhook {
    client: Client,
    path: String,
    secret: Option<SecretString>,
    max_wait: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("path", &REDACTED_PATH)
            .field("signed", &self.secret.is_some())
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

/// The webhook path as `Debug` and errors show it.
const REDACTED_PATH: &str = "/open-apis/bot/v2/hook/<redacted>";

impl Webhook {
    /// The webhook at `url` (`https://open.feishu.cn/open-apis/bot/v2/hook/<token>`, or the
    /// Lark host). The URL is checked here, before any I/O.
    pub fn new(url: &str) -> Result<Webhook> {
        let (base, path) = split_url(url)?;
        // Webhook calls send no Authorization: the client's app credentials are never
        // used, so a custom bot needs none.
        let config = Config::builder("custom-bot-webhook", "unused")
            .domain(Domain::custom(base))
            .build()?;
        Ok(Webhook {
            client: Client::new(config),
            path,
            secret: None,
            max_wait: Duration::from_secs(15),
            sent: Mutex::new(VecDeque::new()),
        })
    }

    /// The signature secret, for a bot with signature verification on.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(SecretString::new(secret.into()));
        self
    }

    /// How long a send may wait for its turn under the bot's rate limits before it fails
    /// (default 15 s).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The JSON body a send of `content` at `timestamp` posts, checked.
    pub fn body(
        &self,
        content: &(impl MessageContent + ?Sized),
        timestamp: u64,
    ) -> std::result::Result<Vec<u8>, ContentError> {
        let out = Outgoing::new(content)?;
        let msg_type = out.msg_type();
        if !SENDABLE.contains(&msg_type) {
            return Err(ContentError::Invalid {
                what: "msg_type",
                reason: format!(
                    "a custom bot cannot send `{msg_type}`; it sends {}",
                    SENDABLE.join(", ")
                ),
            });
        }
        let value = content.content_value()?;
        if value.get("type").and_then(Value::as_str) == Some("card") {
            return Err(ContentError::Invalid {
                what: "card",
                reason:
                    "a custom bot cannot send a card entity (it has no app); send the card JSON"
                        .into(),
            });
        }
        let mut body = Map::new();
        if let Some(secret) = &self.secret {
            body.insert("timestamp".into(), timestamp.to_string().into());
            body.insert("sign".into(), sign(timestamp, secret.expose()).into());
        }
        body.insert("msg_type".into(), msg_type.into());
        let key = if msg_type == "interactive" {
            "card"
        } else {
            "content"
        };
        body.insert(key.into(), value);
        let bytes = serde_json::to_vec(&body).map_err(|e| ContentError::Invalid {
            what: "content",
            reason: e.to_string(),
        })?;
        if bytes.len() > BODY_LIMIT {
            return Err(ContentError::TooLarge {
                msg_type,
                bytes: bytes.len(),
                limit: BODY_LIMIT,
            });
        }
        Ok(bytes)
    }

    /// Sends `content`. A bad signature or a timestamp off by more than an hour is the
    /// platform's error [`codes::SIGN_MISMATCH`], a missing keyword
    /// [`codes::KEYWORD_MISSING`]. Sends are paced below the bot's limits; should the
    /// platform still answer its frequency limit ([`codes::FREQUENCY_LIMIT`]), the client's
    /// retry policy tries again.
    pub async fn send(&self, content: &(impl MessageContent + ?Sized)) -> Result<()> {
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        // Checked before waiting; signed again after, so the timestamp is fresh.
        let mut body = self.body(content, now())?;
        if self.wait_turn().await? && self.secret.is_some() {
            body = self.body(content, now())?;
        }
        let spec = RequestSpec::new(Method::POST, self.path.clone())
            .token_types(TokenTypes::NONE)
            .json_bytes(body);
        self.client
            .send::<Value>(&spec)
            .await
            .map(|_| ())
            .map_err(|mut e| {
                if let Error::Api(api) = &mut e {
                    api.request = format!("POST {REDACTED_PATH}");
                }
                e
            })
    }

    /// Takes the next turn under 5 per second and 100 per minute and waits for it;
    /// `true` if it waited. Turns are reserved before waiting, so concurrent sends each
    /// wait for their own turn and `max_wait` bounds each wait.
    async fn wait_turn(&self) -> Result<bool> {
        let mut sent = self.sent.lock().await;
        let now = Instant::now();
        while sent.front().is_some_and(|t| {
            now.saturating_duration_since(*t) >= Duration::from_secs(60) + JITTER_MARGIN
        }) {
            sent.pop_front();
        }
        let mut at = now;
        // A margin over each window, so that network jitter cannot bunch sends that left
        // a window apart into one window at the platform.
        if sent.len() >= PER_MINUTE {
            at = at.max(sent[sent.len() - PER_MINUTE] + Duration::from_secs(60) + JITTER_MARGIN);
        }
        if sent.len() >= PER_SECOND {
            at = at.max(sent[sent.len() - PER_SECOND] + Duration::from_secs(1) + JITTER_MARGIN);
        }
        let wait = at - now;
        if wait > self.max_wait {
            return Err(Error::InvalidRequest(format!(
                "the custom bot's rate limit ({PER_SECOND}/s, {PER_MINUTE}/min) would hold \
                 this send for {wait:?}, more than max_wait {:?}; send less often or raise max_wait",
                self.max_wait
            )));
        }
        sent.push_back(at);
        drop(sent);
        tokio::time::sleep_until(at.into()).await;
        Ok(!wait.is_zero())
    }
}

/// Splits a webhook URL into the base (scheme and host) and the path.
fn split_url(url: &str) -> Result<(String, String)> {
    // The token is a credential: errors name the URL up to it.
    let shown = url
        .find("/hook/")
        .map_or(url, |i| &url[..i + "/hook/".len()]);
    let bad = |why: &str| {
        Error::InvalidRequest(format!(
            "webhook URL {shown:?}… {why}; copy it from the bot's settings \
             (https://open.feishu.cn/open-apis/bot/v2/hook/<token>)"
        ))
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("is not an http(s) URL"))?;
    let slash = rest.find('/').ok_or_else(|| bad("has no path"))?;
    let path = &rest[slash..];
    let token = path
        .strip_prefix("/open-apis/bot/v2/hook/")
        .ok_or_else(|| bad("is not a /open-apis/bot/v2/hook/ URL"))?;
    if token.is_empty() || token.contains(['/', '?', '#']) {
        return Err(bad("has no token after /hook/"));
    }
    let base = &url[..url.len() - path.len()];
    Ok((base.to_owned(), path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{Card, File, Text};

    fn hook() -> Webhook {
        Webhook::new("https://open.feishu.cn/open-apis/bot/v2/hook/abc").unwrap()
    }

    #[test]
    fn urls_are_checked() {
        let (base, path) =
            split_url("https://open.larksuite.com/open-apis/bot/v2/hook/t1").unwrap();
        assert_eq!(base, "https://open.larksuite.com");
        assert_eq!(path, "/open-apis/bot/v2/hook/t1");
        for bad in [
            "open.feishu.cn/open-apis/bot/v2/hook/t",
            "https://open.feishu.cn/open-apis/bot/v2/hook/",
            "https://open.feishu.cn/open-apis/im/v1/messages",
            "https://open.feishu.cn",
        ] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_is_an_object_and_cards_are_top_level() {
        let body: Value =
            serde_json::from_slice(&hook().body(&Text::new("hi"), 1).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"msg_type": "text", "content": {"text": "hi"}})
        );
        let card = Card::basic("T", "c");
        let body: Value = serde_json::from_slice(&hook().body(&card, 1).unwrap()).unwrap();
        assert_eq!(body["msg_type"], "interactive");
        assert_eq!(body["card"]["header"]["template"], "blue");
        assert!(body.get("content").is_none());
    }

    #[test]
    fn signed_bodies_carry_timestamp_and_sign() {
        let body = hook()
            .secret("s3")
            .body(&Text::new("hi"), 1_700_000_000)
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], sign(1_700_000_000, "s3"));
    }

    #[test]
    fn what_a_custom_bot_cannot_send_is_refused() {
        assert!(hook().body(&File("file_1".into()), 1).is_err());
        let entity = Card::Entity {
            card_id: "7".into(),
        };
        assert!(hook().body(&entity, 1).is_err());
        let err = hook()
            .body(&Text::new("x".repeat(BODY_LIMIT)), 1)
            .unwrap_err();
        assert!(
            matches!(
                err,
                ContentError::TooLarge {
                    limit: BODY_LIMIT,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn the_secret_and_the_token_stay_out_of_debug_and_errors() {
        let hook = Webhook::new("https://open.feishu.cn/open-apis/bot/v2/hook/tok-very-secret")
            .unwrap()
            .secret("very-secret-value");
        let text = format!("{hook:?}");
        assert!(!text.contains("very-secret"), "{text}");
        let err = Webhook::new("https://open.feishu.cn/open-apis/bot/v2/hook/tok-very-secret/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("very-secret"), "{err}");
    }
}
