//! Custom-bot webhooks (`POST /open-apis/bot/v2/hook/:token`): no Authorization header;
//! the token names the bot, whose security settings (signature secret, keywords) the test
//! registers with [`crate::MockPlatform::add_webhook`].
//!
//! Every answer is HTTP 200; `code` tells: `19001` unknown token, `19002` no `msg_type`,
//! `19021` bad signature or a timestamp more than an hour away, `19024` no keyword,
//! `9499` a body that does not parse (content given as a string, over 20 KB), `11232`
//! over 5 per second or 100 per minute.
//!
//! Signature, per the platform's custom-bot guide: `sign = base64(HMAC-SHA256(key =
//! timestamp + "\n" + secret, message = ""))`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::handler::{Ctx, Incoming};
use crate::state::lock;

/// Largest request body a webhook accepts.
pub const WEBHOOK_BODY_LIMIT: usize = 20 * 1024;

/// The security settings of one custom bot.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The signature secret, when "signature verification" is on.
    pub secret: Option<String>,
    /// Custom keywords: a message must contain one of them (none: no check).
    pub keywords: Vec<String>,
}

impl WebhookConfig {
    /// No signature, no keywords.
    pub fn open() -> WebhookConfig {
        WebhookConfig::default()
    }

    /// Signature verification with `secret`.
    pub fn signed(secret: &str) -> WebhookConfig {
        WebhookConfig {
            secret: Some(secret.to_owned()),
            keywords: Vec::new(),
        }
    }

    /// Adds a custom keyword.
    pub fn keyword(mut self, word: &str) -> WebhookConfig {
        self.keywords.push(word.to_owned());
        self
    }
}

#[derive(Debug)]
struct Hook {
    config: WebhookConfig,
    accepted: Vec<Value>,
    recent: VecDeque<Instant>,
}

/// Every registered custom bot.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    hooks: Mutex<HashMap<String, Hook>>,
}

impl Hooks {
    pub(crate) fn add(&self, token: &str, config: WebhookConfig) {
        lock(&self.hooks).insert(
            token.to_owned(),
            Hook {
                config,
                accepted: Vec::new(),
                recent: VecDeque::new(),
            },
        );
    }

    pub(crate) fn accepted(&self, token: &str) -> Vec<Value> {
        lock(&self.hooks)
            .get(token)
            .map(|h| h.accepted.clone())
            .unwrap_or_default()
    }
}

/// The signature of `timestamp` under `secret`.
pub fn webhook_sign(timestamp: &str, secret: &str) -> String {
    let key = format!("{timestamp}\n{secret}");
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn answer(ctx: &Ctx<'_>, code: i64, msg: &str) -> Response {
    ctx.json(
        StatusCode::OK,
        &json!({"code": code, "msg": msg, "data": {}}),
    )
}

/// Handles `POST /open-apis/bot/v2/hook/:token`.
pub(crate) fn handle(ctx: &Ctx<'_>, req: &Incoming, token: &str) -> Response {
    if req.method != "POST" {
        return answer(ctx, 9499, "Bad Request");
    }
    let mut hooks = lock(&ctx.sh.hooks.hooks);
    let Some(hook) = hooks.get_mut(token) else {
        return answer(
            ctx,
            19001,
            "param invalid: incoming webhook access token invalid",
        );
    };
    if req.body.len() > WEBHOOK_BODY_LIMIT {
        return answer(ctx, 9499, "Bad Request: the body is over 20 KB");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return answer(ctx, 9499, "Bad Request");
    };
    let Some(msg_type) = body.get("msg_type").and_then(Value::as_str) else {
        return answer(ctx, 19002, "params error, msg_type need");
    };
    if let Some(secret) = &hook.config.secret {
        let ts = body.get("timestamp").and_then(Value::as_str).unwrap_or("");
        let sign = body.get("sign").and_then(Value::as_str).unwrap_or("");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let fresh = ts.parse::<i64>().is_ok_and(|t| (now - t).abs() <= 3600);
        if !fresh || sign.is_empty() || webhook_sign(ts, secret) != sign {
            return answer(
                ctx,
                19021,
                "sign match fail or timestamp is not within one hour from current time",
            );
        }
    }
    let payload = if msg_type == "interactive" {
        body.get("card")
    } else {
        body.get("content")
    };
    if !payload.is_some_and(Value::is_object) {
        return answer(ctx, 9499, "Bad Request: fail to parse content");
    }
    if !hook.config.keywords.is_empty() {
        let text = payload.map(Value::to_string).unwrap_or_default();
        if !hook
            .config
            .keywords
            .iter()
            .any(|k| text.contains(k.as_str()))
        {
            return answer(ctx, 19024, "Key Words Not Found");
        }
    }
    let now = Instant::now();
    while hook
        .recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        hook.recent.pop_front();
    }
    let last_second = hook
        .recent
        .iter()
        .filter(|t| now.duration_since(**t) < Duration::from_secs(1))
        .count();
    if last_second >= 5 || hook.recent.len() >= 100 {
        return answer(ctx, 11232, "frequency limited");
    }
    hook.recent.push_back(now);
    hook.accepted.push(Value::Object(body));
    drop(hooks);
    answer(ctx, 0, "success")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_hmac_keyed_by_timestamp_and_secret() {
        // Computed with Python: base64(hmac.new(b"1700000000\nsecret", b"", sha256).digest()).
        assert_eq!(
            webhook_sign("1700000000", "secret"),
            "fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA="
        );
    }
}
