//! Pushes events to an app's HTTP endpoint the way the platform does (§5 and
//! §6.1 of the protocol notes): optionally encrypted, optionally signed, and
//! retried on a (scaled-down) schedule until the app answers HTTP 200.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::header::HOST;
use axum::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::crypto;

/// Responses larger than this are cut off in [`CallbackDelivery::last_body`].
const RESPONSE_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How [`send_callback`] builds and retries a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOptions {
    /// Encrypt the event: body `{"encrypt":"base64(IV ‖ AES-256-CBC(SHA-256(key), PKCS#7(event JSON)))"}`.
    pub encrypt_key: Option<String>,
    /// Add `X-Lark-Request-Timestamp`, `X-Lark-Request-Nonce` and
    /// `X-Lark-Signature` = hex SHA-256(timestamp ‖ nonce ‖ encrypt_key ‖ body).
    /// Meant to go with `encrypt_key`; without one the key part is empty.
    pub sign: bool,
    /// Legacy card callback: add the timestamp and nonce headers and
    /// `X-Lark-Signature` = hex SHA-1(timestamp ‖ nonce ‖ token ‖ body).
    /// Takes precedence over `sign`.
    pub card_verification_token: Option<String>,
    /// Pauses before the retries: one attempt, then one retry after each
    /// delay for as long as the answer is not HTTP 200.
    pub retry_delays: Vec<Duration>,
    /// Overrides `X-Lark-Request-Timestamp` (default: the current unix time in seconds).
    pub timestamp: Option<String>,
    /// Overrides `X-Lark-Request-Nonce` (default: 16 random alphanumerics).
    pub nonce: Option<String>,
    /// Changes one byte of the body after signing (negative tests). The
    /// change keeps the body printable ASCII and, where possible, valid JSON.
    pub tamper: bool,
    /// Deadline of each attempt (connect, request and response); a timeout
    /// counts as a transport error. Default 3 s, the platform's deadline.
    pub timeout: Duration,
}

impl Default for CallbackOptions {
    /// Plain JSON, unsigned, retries after 15, 30, 60 and 120 ms (the
    /// platform's 15 s / 5 min / 1 h / 6 h schedule, scaled down), 3 s timeout.
    fn default() -> Self {
        CallbackOptions {
            encrypt_key: None,
            sign: false,
            card_verification_token: None,
            retry_delays: [15, 30, 60, 120]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            timestamp: None,
            nonce: None,
            tamper: false,
            timeout: Duration::from_secs(3),
        }
    }
}

/// The outcome of [`send_callback`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackDelivery {
    /// The HTTP status of every attempt, in order; 0 for a transport error
    /// (refused connection, timeout, malformed response, unsupported URL).
    pub statuses: Vec<u16>,
    /// The response body of the last attempt (empty after a transport error).
    pub last_body: Vec<u8>,
}

impl CallbackDelivery {
    /// Whether the last attempt was answered with HTTP 200.
    pub fn delivered(&self) -> bool {
        self.statuses.last() == Some(&200)
    }
}

/// A callback request as the platform would send it (without transport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRequest {
    /// Header names and values, `Content-Type` first.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes (the signature covers these, unless tampered).
    pub body: Vec<u8>,
}

impl CallbackRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Builds the headers and body for delivering `event` with `opts`.
pub fn build_callback(event: &Value, opts: &CallbackOptions) -> CallbackRequest {
    let plain = serde_json::to_vec(event).unwrap_or_default();
    let mut body = match &opts.encrypt_key {
        Some(key) => serde_json::to_vec(&json!({"encrypt": crypto::encrypt(key, &plain)}))
            .unwrap_or_default(),
        None => plain,
    };
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let signature = if let Some(token) = &opts.card_verification_token {
        Some((token.as_str(), true))
    } else if opts.sign {
        Some((opts.encrypt_key.as_deref().unwrap_or_default(), false))
    } else {
        None
    };
    if let Some((secret, legacy_card)) = signature {
        let timestamp = opts.timestamp.clone().unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
                .to_string()
        });
        let nonce = opts
            .nonce
            .clone()
            .unwrap_or_else(|| (0..16).map(|_| fastrand::alphanumeric()).collect());
        let signature = if legacy_card {
            crypto::card_signature(&timestamp, &nonce, secret, &body)
        } else {
            crypto::event_signature(&timestamp, &nonce, secret, &body)
        };
        headers.push(("X-Lark-Request-Timestamp".to_owned(), timestamp));
        headers.push(("X-Lark-Request-Nonce".to_owned(), nonce));
        headers.push(("X-Lark-Signature".to_owned(), signature));
    }
    if opts.tamper {
        tamper(&mut body);
    }
    CallbackRequest { headers, body }
}

/// Changes one byte: the first ASCII letter or digit at or after the middle
/// becomes its neighbour (`a`→`b`, `z`→`a`, `9`→`0`), else the last byte is
/// flipped.
fn tamper(body: &mut [u8]) {
    let mid = body.len() / 2;
    let pos = (mid..body.len())
        .chain(0..mid)
        .find(|&i| body[i].is_ascii_alphanumeric());
    match pos {
        Some(i) => {
            body[i] = match body[i] {
                b'z' => b'a',
                b'Z' => b'A',
                b'9' => b'0',
                b => b + 1,
            }
        }
        None => {
            if let Some(last) = body.last_mut() {
                *last ^= 0x01;
            }
        }
    }
}

/// POSTs `event` to `url` (plain `http://` only) as the platform would:
/// one attempt, then a retry after each of `opts.retry_delays` while the
/// answer is not HTTP 200. Every attempt sends the same body and headers.
pub async fn send_callback(url: &str, event: &Value, opts: &CallbackOptions) -> CallbackDelivery {
    send_callback_spread(std::slice::from_ref(&url), event, opts).await
}

/// Like [`send_callback`] for an app behind a load balancer: each attempt goes to
/// one of `urls` picked at random, so that a delivery and its retries land on
/// different replicas. Answers [`CallbackDelivery`] with the attempts in order;
/// `urls` empty counts as a transport error.
pub async fn send_callback_spread(
    urls: &[impl AsRef<str>],
    event: &Value,
    opts: &CallbackOptions,
) -> CallbackDelivery {
    let request = build_callback(event, opts);
    let mut delivery = CallbackDelivery {
        statuses: Vec::new(),
        last_body: Vec::new(),
    };
    let mut delays = opts.retry_delays.iter();
    loop {
        let url = match urls.len() {
            0 => "",
            n => urls[fastrand::usize(..n)].as_ref(),
        };
        let (status, body) = match tokio::time::timeout(opts.timeout, attempt(url, &request)).await
        {
            Ok(Some(answer)) => answer,
            Ok(None) | Err(_) => (0, Vec::new()),
        };
        delivery.statuses.push(status);
        delivery.last_body = body;
        if status == 200 {
            break;
        }
        match delays.next() {
            Some(delay) => tokio::time::sleep(*delay).await,
            None => break,
        }
    }
    delivery
}

/// One HTTP/1.1 exchange on a fresh connection; `None` on any transport error.
async fn attempt(url: &str, request: &CallbackRequest) -> Option<(u16, Vec<u8>)> {
    let uri: Uri = url.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?.clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port)).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    // The connection driver ends when the exchange is over; abort it if we give up.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));

    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut builder = Request::post(path).header(HOST, authority.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let req = builder.body(Body::from(request.body.clone())).ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(Body::new(resp.into_body()), RESPONSE_BODY_LIMIT)
        .await
        .ok()?;
    drop(driver);
    Some((status, body.to_vec()))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_unsigned_by_default() {
        let req = build_callback(&json!({"a": 1}), &CallbackOptions::default());
        assert_eq!(req.body, br#"{"a":1}"#);
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(req.header("X-Lark-Signature").is_none());
    }

    #[test]
    fn encrypted_and_signed() {
        let opts = CallbackOptions {
            encrypt_key: Some("ek".into()),
            sign: true,
            timestamp: Some("1700000000".into()),
            nonce: Some("n".into()),
            ..CallbackOptions::default()
        };
        let req = build_callback(&json!({"a": 1}), &opts);
        let v: Value = serde_json::from_slice(&req.body).unwrap();
        let sealed = v["encrypt"].as_str().unwrap();
        assert_eq!(crypto::decrypt("ek", sealed).unwrap(), br#"{"a":1}"#);
        assert_eq!(req.header("x-lark-request-timestamp"), Some("1700000000"));
        assert_eq!(req.header("x-lark-request-nonce"), Some("n"));
        assert_eq!(
            req.header("x-lark-signature").unwrap(),
            crypto::event_signature("1700000000", "n", "ek", &req.body)
        );
    }

    #[test]
    fn legacy_card_signature_and_tamper() {
        let opts = CallbackOptions {
            card_verification_token: Some("vt".into()),
            timestamp: Some("1".into()),
            nonce: Some("2".into()),
            tamper: true,
            ..CallbackOptions::default()
        };
        let event = json!({"open_id": "ou_x", "action": {"value": {"k": "v"}}});
        let req = build_callback(&event, &opts);
        let original = serde_json::to_vec(&event).unwrap();
        assert_ne!(req.body, original);
        assert_eq!(req.body.len(), original.len());
        assert_eq!(
            req.body
                .iter()
                .zip(&original)
                .filter(|(a, b)| a != b)
                .count(),
            1
        );
        assert!(serde_json::from_slice::<Value>(&req.body).is_ok());
        assert_eq!(
            req.header("x-lark-signature").unwrap(),
            crypto::card_signature("1", "2", "vt", &original)
        );
    }

    #[test]
    fn tamper_edge_cases() {
        let mut empty: Vec<u8> = Vec::new();
        tamper(&mut empty);
        let mut punct = b"{}".to_vec();
        tamper(&mut punct);
        assert_eq!(punct, b"{|");
        let mut z = b"zz".to_vec();
        tamper(&mut z);
        assert_eq!(z, b"za");
    }
}
