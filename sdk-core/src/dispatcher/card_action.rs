//! The legacy message-card callback, served on its own request URL.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::{Map, Value};

use super::{
    Answer, BODY_READ_TIMEOUT, HANDLER_TIMEOUT, HandlerResult, Reply, challenge_reply, finish,
    header, timestamp_fresh,
};
use crate::auth::BoxFuture;
use crate::event_crypto::{AesKey, verify_card_signature};
use crate::json::FromJson;

type BoxedCardHandler = Arc<dyn Fn(Map<String, Value>) -> BoxFuture<'static, Reply> + Send + Sync>;

/// The legacy message-card callback (`card.action.trigger_v1`), delivered to the card
/// request URL: SHA-1 signature with the Verification Token over the raw body and a
/// timestamp window, optional encryption, url_verification, and the handler's answer (a
/// replacement card or a toast, see [`LegacyCardAnswer`]) as the body.
///
/// The handler gets the body decoded into any [`FromJson`] type: the generated
/// `lark_oapi::legacy::v1::events::InteractiveCardActionEvent`, or a raw [`Value`].
///
/// ```
/// # async fn demo() {
/// use lark_oapi_core::dispatcher::{CardActionHandler, LegacyCardAnswer};
/// use serde_json::Value;
/// let handler = CardActionHandler::new(|body: Value| async move {
///     let clicked = body["action"]["value"]["choice"].as_str().unwrap_or("?").to_owned();
///     Ok(LegacyCardAnswer::toast_success(format!("you chose {clicked}")))
/// });
/// let body = br#"{"open_id":"ou_1","action":{"value":{"choice":"a"},"tag":"button"}}"#;
/// let reply = handler.handle("POST", &[], body).await;
/// assert_eq!(reply.status, 200);
/// assert_eq!(&reply.body[..], br#"{"toast":{"content":"you chose a","type":"success"}}"#);
/// # }
/// ```
#[derive(Clone)]
pub struct CardActionHandler {
    verification_token: Option<String>,
    aes_key: Option<AesKey>,
    timestamp_window: Duration,
    max_body: usize,
    body_read_timeout: Duration,
    handler_timeout: Duration,
    handler: BoxedCardHandler,
}

impl fmt::Debug for CardActionHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardActionHandler")
            .field("timestamp_window", &self.timestamp_window)
            .finish_non_exhaustive()
    }
}

/// The answer to a legacy card action: nothing, a toast, or a card that replaces the one
/// clicked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LegacyCardAnswer {
    /// Acknowledge only.
    Nothing,
    /// A toast: its kind (`success`, `error`, `warning`, `info`) and text.
    Toast {
        /// `success`, `error`, `warning` or `info`.
        kind: String,
        /// The text shown.
        content: String,
    },
    /// A replacement card (message-card JSON).
    Card(Value),
}

impl LegacyCardAnswer {
    /// A `success` toast.
    pub fn toast_success(content: impl Into<String>) -> Self {
        Self::Toast {
            kind: "success".into(),
            content: content.into(),
        }
    }

    /// An `error` toast.
    pub fn toast_error(content: impl Into<String>) -> Self {
        Self::Toast {
            kind: "error".into(),
            content: content.into(),
        }
    }
}

impl Answer for LegacyCardAnswer {
    fn into_answer(self) -> Option<Value> {
        match self {
            Self::Nothing => None,
            Self::Toast { kind, content } => Some(serde_json::json!({
                "toast": { "type": kind, "content": content }
            })),
            Self::Card(card) => Some(card),
        }
    }
}

impl CardActionHandler {
    /// Answers card actions with `handler`, which gets the whole callback body decoded into
    /// `P` and answers with `A` (e.g. [`LegacyCardAnswer`], a raw [`Value`] card, or `()`).
    pub fn new<P, A, F, Fut>(handler: F) -> Self
    where
        P: FromJson + Send + 'static,
        A: Answer + 'static,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult<A>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Self {
            verification_token: None,
            aes_key: None,
            timestamp_window: Duration::from_secs(300),
            max_body: 1 << 20,
            body_read_timeout: BODY_READ_TIMEOUT,
            handler_timeout: HANDLER_TIMEOUT,
            handler: Arc::new(move |body| {
                let typed = P::from_json(Value::Object(body));
                let handler = handler.clone();
                Box::pin(async move {
                    let outcome = match typed {
                        Ok(body) => finish(handler(body).await),
                        Err(e) => {
                            return Reply::msg(
                                400,
                                &format!("the card action did not decode: {e}"),
                            );
                        }
                    };
                    if outcome.status != 200 {
                        tracing::warn!(error = ?outcome.message, "card action handler failed");
                    }
                    outcome.into_reply()
                })
            }),
        }
    }

    /// The Verification Token: signatures and challenge tokens are checked with it.
    pub fn verification_token(mut self, token: impl Into<String>) -> Self {
        self.verification_token = Some(token.into());
        self
    }

    /// The Encrypt Key, if card callbacks are encrypted.
    pub fn encrypt_key(mut self, key: impl AsRef<str>) -> Self {
        self.aes_key = Some(AesKey::new(key.as_ref()));
        self
    }

    /// How far a signed request's timestamp may be from now (5 minutes by default).
    pub fn timestamp_window(mut self, window: Duration) -> Self {
        self.timestamp_window = window;
        self
    }

    /// Largest body accepted (1 MiB by default; the axum adapter applies it itself).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long an adapter that reads the body (the axum adapter) waits for all of it
    /// (10 s by default): then 408, and the connection is closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Longest the handler may run (60 s by default): it is then stopped and the callback
    /// answered 500. The platform waits only 3 s for a card callback's answer, so answer
    /// first and do long work in a spawned task.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// The body size limit and read timeout, for adapters that read the body.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn body_limits(&self) -> (usize, Duration) {
        (self.max_body, self.body_read_timeout)
    }

    /// Handles one callback request: method, headers and the exact body bytes.
    pub async fn handle(&self, method: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
        if !method.eq_ignore_ascii_case("POST") {
            return Reply::msg(405, "card callbacks are delivered with POST");
        }
        if body.len() > self.max_body {
            return Reply::msg(413, "body too large");
        }
        // The signature covers the raw body, so it is checked before anything is decrypted.
        // An unsigned (or wrongly signed) body may only be the challenge, which the platform
        // does not sign; every other outcome gets the same 401, so an unsigned sender learns
        // nothing about the plaintext (no padding oracle).
        let authentic = match &self.verification_token {
            None => true,
            Some(token) => {
                let ts = header(headers, "x-lark-request-timestamp").unwrap_or_default();
                let nonce = header(headers, "x-lark-request-nonce").unwrap_or_default();
                let sig = header(headers, "x-lark-signature").unwrap_or_default();
                verify_card_signature(ts, nonce, token, body, sig)
                    && timestamp_fresh(ts, self.timestamp_window)
            }
        };
        let refused = || {
            Reply::msg(
                401,
                "card callback signature mismatch, or a stale or missing request timestamp",
            )
        };
        let Ok(Value::Object(outer)) = serde_json::from_slice::<Value>(body) else {
            return if authentic {
                Reply::msg(400, "the body is not a JSON object")
            } else {
                refused()
            };
        };
        let mut map = match (str_of(&outer, "encrypt"), &self.aes_key) {
            (Some(_), None) => {
                return Reply::msg(400, "encrypted body but no Encrypt Key is configured");
            }
            (Some(sealed), Some(key)) => {
                let plain = key.decrypt(sealed);
                match plain.as_deref().map(serde_json::from_slice::<Value>) {
                    Ok(Ok(Value::Object(m))) => m,
                    _ if !authentic => return refused(),
                    Err(e) => return Reply::msg(400, &e.to_string()),
                    Ok(_) => return Reply::msg(400, "the decrypted body is not a JSON object"),
                }
            }
            (None, _) => outer,
        };
        if str_of(&map, "type") == Some("url_verification") {
            let challenge = map.remove("challenge").unwrap_or(Value::Null);
            let token = self.verification_token.as_deref();
            return challenge_reply(token, str_of(&map, "token"), challenge);
        }
        if !authentic {
            return refused();
        }
        // A panic or a stuck handler is answered like a failure, never with silence.
        let handled = std::panic::AssertUnwindSafe((self.handler)(map)).catch_unwind();
        match tokio::time::timeout(self.handler_timeout, handled).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => {
                tracing::warn!("card action handler panicked");
                Reply::msg(500, "the handler panicked")
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.handler_timeout, "card action handler timed out");
                Reply::msg(
                    500,
                    &format!(
                        "the handler did not finish within {:?} (the handler timeout) and was stopped",
                        self.handler_timeout
                    ),
                )
            }
        }
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}
