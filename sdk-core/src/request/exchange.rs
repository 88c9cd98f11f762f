//! One HTTP exchange: the URL and headers of an attempt, the request on the wire, and the
//! answer classified into what it delivered or why it failed and how to retry.
//!
//! Knows the configuration only: no client, no tokens, no retry loop (that is
//! [`send`](super::send), which calls [`attempt`] once per try).

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue,
    TRANSFER_ENCODING, USER_AGENT,
};
use serde::Deserialize;

use crate::config::Config;
use crate::error::{
    ApiError, ErrorDetail, ErrorHelp, FieldViolation, HttpError, OAuthError, PermissionViolation,
    TransportError, excerpt, value_text,
};
use crate::error::{Error, ErrorClass, Result};
use crate::request::{RequestBody, RequestSpec};
use crate::response::RawResponse;
use crate::secret::SecretString;

const HELPDESK_HEADER: &str = "x-lark-helpdesk-authorization";
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// What a successful exchange delivers.
pub(crate) enum Delivered {
    /// JSON (or any non-streamed) body, read in full.
    Buffered(RawResponse),
    /// A 2xx non-JSON body left unread, for downloads.
    Streaming {
        response: reqwest::Response,
        log_id: Option<String>,
    },
}

/// Why an attempt failed, and whether another may succeed.
pub(crate) enum Retry {
    No,
    /// The fetched token was rejected: evict it and replay once.
    TokenInvalid,
    /// Back off and try again, if the policy allows.
    Backoff {
        after_timeout: bool,
        rate_limit_wait: Option<Duration>,
        needs_idempotent: bool,
    },
}

/// The URL of `spec`: the configured base with its path and query, or an absolute URL.
pub(crate) fn url_for(config: &Config, spec: &RequestSpec) -> Result<reqwest::Url> {
    let path = spec.path.as_str();
    let mut url = if path.starts_with("https://") || path.starts_with("http://") {
        reqwest::Url::parse(path)
            .map_err(|e| Error::InvalidRequest(format!("{path:?} is not a valid URL: {e}")))?
    } else if path.starts_with('/') {
        if path.contains(['?', '#']) {
            return Err(Error::InvalidRequest(format!(
                "path {path:?} contains `?` or `#`; pass query parameters with `.query(..)`"
            )));
        }
        // The host was validated and parsed once at build time: only the path is set here.
        let mut url = config.base.clone();
        if config.base_path.is_empty() {
            url.set_path(path);
        } else {
            let mut full = String::with_capacity(config.base_path.len() + path.len());
            full.push_str(&config.base_path);
            full.push_str(path);
            url.set_path(&full);
        }
        url
    } else {
        return Err(Error::InvalidRequest(format!(
            "path {path:?} must start with `/` (e.g. /open-apis/im/v1/messages) or be an absolute URL"
        )));
    };
    if !spec.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &spec.query {
            pairs.append_pair(k, v);
        }
    }
    Ok(url)
}

/// The HTTP request of one attempt: the SDK's headers (User-Agent, Content-Type, the
/// token, the help desk credential), then the caller's, which replace the SDK's.
pub(crate) async fn build_request(
    config: &Config,
    spec: &RequestSpec,
    url: &reqwest::Url,
    authorization: Option<&HeaderValue>,
    extra: &[(HeaderName, HeaderValue)],
) -> Result<reqwest::Request> {
    let mut headers = HeaderMap::with_capacity(4 + extra.len());
    headers.insert(USER_AGENT, config.user_agent.clone());
    if let RequestBody::Json(_) = &spec.body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    }
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, value.clone());
    }
    // The runtime knows no endpoint: a credential given for this call, or the client's
    // when the operation asks for it (generated help desk calls, `helpdesk_auth()`).
    let helpdesk = spec
        .options
        .helpdesk
        .as_ref()
        .or(config.helpdesk.as_ref().filter(|_| spec.helpdesk_auth));
    if let Some(cred) = helpdesk {
        let mut value = HeaderValue::from_str(cred.header_value()).map_err(|_| {
            Error::InvalidRequest("the help desk credential is not a valid header value".into())
        })?;
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static(HELPDESK_HEADER), value);
    }
    // A header the caller sets replaces the SDK's (HTTP allows one `User-Agent`, one
    // `Content-Type`); several values the caller gives for one name are all sent.
    let mut replaced: Vec<&HeaderName> = Vec::with_capacity(extra.len());
    for (name, value) in extra {
        if replaced.contains(&name) {
            headers.append(name.clone(), value.clone());
        } else {
            headers.insert(name.clone(), value.clone());
            replaced.push(name);
        }
    }
    let builder = config
        .http
        .request(spec.method.clone(), url.clone())
        .headers(headers);
    let builder = match &spec.body {
        RequestBody::Empty => builder,
        RequestBody::Json(bytes) => builder.body(bytes.clone()),
        RequestBody::Multipart(form) => builder.multipart(form.to_form().await?),
    };
    builder
        .build()
        .map_err(|e| Error::InvalidRequest(format!("the request could not be built: {e}")))
}

/// One HTTP exchange, classified.
pub(crate) async fn attempt(
    config: &Config,
    spec: &RequestSpec,
    request: reqwest::Request,
    timeout: Option<Duration>,
    stream: bool,
) -> std::result::Result<Delivered, (Error, Retry)> {
    // A timeout too large to add to the clock means none.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t).map(|at| (at, t)));
    let sent = with_deadline(deadline, config.http.execute(request)).await;
    let response = match sent {
        Err(after) => return Err(timeout_error(after)),
        Ok(Err(e)) => return Err(transport_error(spec, e, timeout)),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    let log_id = log_id_of(response.headers());
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case("application/json"))
        });
    if stream && status.is_success() && !is_json {
        return Ok(Delivered::Streaming { response, log_id });
    }
    let mut response = response;
    let headers = std::mem::take(response.headers_mut());
    let body = match with_deadline(deadline, response.bytes()).await {
        Err(after) => return Err(timeout_error(after)),
        Ok(Err(e)) => return Err(transport_error(spec, e, timeout)),
        Ok(Ok(b)) => b,
    };
    classify(spec, status, headers, body, log_id)
}

pub(crate) fn bearer_header(token: &SecretString) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        Error::InvalidRequest("the access token contains characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

pub(crate) fn extra_headers(spec: &RequestSpec) -> Result<Vec<(HeaderName, HeaderValue)>> {
    spec.options
        .headers
        .iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::InvalidRequest(format!("{name:?} is not a valid HTTP header name"))
            })?;
            if name == AUTHORIZATION {
                return Err(Error::InvalidRequest(
                    "set tokens with user_access_token()/tenant_access_token()/app_access_token(), not an Authorization header".into(),
                ));
            }
            if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == HOST {
                return Err(Error::InvalidRequest(format!(
                    "the `{name}` header is set by the HTTP client from the request itself; remove it"
                )));
            }
            if name == CONTENT_TYPE && matches!(spec.body, RequestBody::Multipart(_)) {
                return Err(Error::InvalidRequest(
                    "a multipart body's `content-type` carries its boundary and is set by the SDK; remove the header".into(),
                ));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::InvalidRequest(format!("the value of header `{name}` is not a valid header value"))
            })?;
            Ok((name, value))
        })
        .collect()
}

async fn with_deadline<F: std::future::Future>(
    deadline: Option<(Instant, Duration)>,
    fut: F,
) -> std::result::Result<F::Output, Duration> {
    match deadline {
        None => Ok(fut.await),
        Some((at, total)) => tokio::time::timeout_at(at.into(), fut)
            .await
            .map_err(|_| total),
    }
}

fn timeout_error(after: Duration) -> (Error, Retry) {
    (
        Error::Timeout { after },
        Retry::Backoff {
            after_timeout: true,
            rate_limit_wait: None,
            needs_idempotent: true,
        },
    )
}

fn request_label(spec: &RequestSpec) -> String {
    let method = spec.method.as_str();
    let mut label = String::with_capacity(method.len() + 1 + spec.path.len());
    label.push_str(method);
    label.push(' ');
    label.push_str(&spec.path);
    label
}

/// `timeout`: the attempt's, reported when reqwest's own timer fired first.
fn transport_error(
    spec: &RequestSpec,
    e: reqwest::Error,
    timeout: Option<Duration>,
) -> (Error, Retry) {
    if e.is_timeout() {
        return timeout_error(timeout.unwrap_or_default());
    }
    let connect = e.is_connect();
    // One level; the causes are the error's `source()` chain.
    let message = if connect {
        "opening the connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else if e.is_request() {
        "sending the request failed"
    } else {
        "the HTTP exchange failed"
    }
    .to_owned();
    (
        Error::Transport(Box::new(TransportError {
            request: request_label(spec),
            connect,
            message,
            source: Some(Box::new(e)),
        })),
        Retry::Backoff {
            after_timeout: false,
            rate_limit_wait: None,
            needs_idempotent: !connect,
        },
    )
}

pub(crate) fn log_id_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-tt-logid")
        .or_else(|| headers.get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The envelope fields the pipeline needs. Only `code` decides: `msg` and `error` are read
/// leniently (a `null`, a number, an `error` string instead of an object), so an odd detail
/// can never turn a failure into a success or lose its code.
struct Head {
    code: i64,
    msg: String,
    error: ErrorBody,
}

#[derive(Deserialize)]
struct RawHead {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    msg: serde_json::Value,
    #[serde(default)]
    error: serde_json::Value,
}

#[derive(Default)]
struct ErrorBody {
    log_id: Option<String>,
    troubleshooter: Option<String>,
    field_violations: Vec<FieldViolation>,
    permission_violations: Vec<PermissionViolation>,
    details: Vec<ErrorDetail>,
    helps: Vec<ErrorHelp>,
}

impl ErrorBody {
    fn lenient(error: serde_json::Value) -> Self {
        let serde_json::Value::Object(mut map) = error else {
            return Self::default();
        };
        let text = |v: Option<serde_json::Value>| v.and_then(value_text);
        /// Each element on its own: one malformed entry does not hide the others.
        fn list<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Vec<T> {
            match v {
                Some(serde_json::Value::Array(items)) => items
                    .into_iter()
                    .filter_map(|i| serde_json::from_value(i).ok())
                    .collect(),
                _ => Vec::new(),
            }
        }
        Self {
            log_id: text(map.remove("log_id")),
            troubleshooter: text(map.remove("troubleshooter")),
            field_violations: list(map.remove("field_violations")),
            permission_violations: list(map.remove("permission_violations")),
            details: list(map.remove("details")),
            helps: list(map.remove("helps")),
        }
    }
}

/// The envelope of a JSON body; `None` if the body is not one (no integer `code`).
fn head_of(body: &[u8]) -> Option<Head> {
    // Fast path for the common success shape.
    if body.starts_with(br#"{"code":0,"#) || body == br#"{"code":0}"# {
        return Some(Head {
            code: 0,
            msg: String::new(),
            error: ErrorBody::default(),
        });
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let raw = serde_json::from_slice::<RawHead>(body).ok()?;
    let code = match &raw.code {
        serde_json::Value::Number(n) => n.as_i64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let msg = value_text(raw.msg).unwrap_or_default();
    Some(Head {
        code,
        msg,
        error: ErrorBody::lenient(raw.error),
    })
}

/// `error` and `error_description` of an OAuth-style refusal (RFC 6749 §5.2: `error` is a
/// string; the platform's envelopes carry an object there).
fn oauth_fields(body: &[u8]) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        error: serde_json::Value,
        #[serde(default)]
        error_description: serde_json::Value,
    }
    let raw = serde_json::from_slice::<Raw>(body).ok()?;
    let serde_json::Value::String(error) = raw.error else {
        return None;
    };
    Some((error, value_text(raw.error_description).unwrap_or_default()))
}

/// How an attempt that failed with `class` is retried.
fn backoff(class: ErrorClass, rate_limit_wait: impl FnOnce() -> Option<Duration>) -> Retry {
    let (rate_limit_wait, needs_idempotent) = match class {
        ErrorClass::RateLimited => (rate_limit_wait(), false),
        ErrorClass::TryAgain => (None, false),
        ErrorClass::Transient => (None, true),
        ErrorClass::Final | ErrorClass::TokenRejected => return Retry::No,
    };
    Retry::Backoff {
        after_timeout: false,
        rate_limit_wait,
        needs_idempotent,
    }
}

fn classify(
    spec: &RequestSpec,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    log_id: Option<String>,
) -> std::result::Result<Delivered, (Error, Retry)> {
    let code = status.as_u16();
    let rate_limit_wait = || {
        headers
            .get("x-ogw-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
    };
    let head = head_of(&body);
    let failed = !status.is_success() || head.as_ref().is_some_and(|h| h.code != 0);
    if failed
        && spec.options.oauth_errors
        && let Some((error, error_description)) = oauth_fields(&body)
    {
        let numeric = head.as_ref().map(|h| h.code).filter(|c| *c != 0);
        let retry = match ErrorClass::of(numeric.unwrap_or(0), code) {
            ErrorClass::TokenRejected => Retry::TokenInvalid,
            class => backoff(class, rate_limit_wait),
        };
        let e = OAuthError {
            error,
            error_description,
            code: numeric,
            http_status: code,
            log_id,
            request: request_label(spec),
        };
        return Err((Error::OAuth(Box::new(e)), retry));
    }
    match head {
        Some(head) if head.code == 0 && status.is_success() => {
            Ok(Delivered::Buffered(RawResponse {
                status: code,
                headers,
                body,
                log_id,
                request: request_label(spec),
            }))
        }
        Some(head) if head.code != 0 => {
            let err = head.error;
            let api = ApiError {
                code: head.code,
                msg: head.msg,
                log_id: log_id.clone().or(err.log_id),
                http_status: code,
                troubleshooter: err.troubleshooter,
                field_violations: err.field_violations,
                permission_violations: err.permission_violations,
                details: err.details,
                helps: err.helps,
                request: request_label(spec),
            };
            let retry = match ErrorClass::of(api.code, code) {
                ErrorClass::TokenRejected => Retry::TokenInvalid,
                class => backoff(class, rate_limit_wait),
            };
            Err((Error::Api(Box::new(api)), retry))
        }
        _ if status.is_success() => Ok(Delivered::Buffered(RawResponse {
            status: code,
            headers,
            body,
            log_id,
            request: request_label(spec),
        })),
        _ => {
            let retry = backoff(ErrorClass::of(0, code), rate_limit_wait);
            Err((
                Error::Http(Box::new(HttpError {
                    status: code,
                    log_id,
                    body_excerpt: excerpt(&body),
                    request: request_label(spec),
                })),
                retry,
            ))
        }
    }
}
