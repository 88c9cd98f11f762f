//! Request intake: recording, the token endpoints, authorization, faults and
//! the shared response helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::state::{Shared, TokenKind};
use crate::{
    APP_ID, APP_SECRET, FNV1A64_INIT, Fault, RecordedPart, RecordedRequest, fnv1a64_update,
};

/// Raw bodies are recorded up to this many bytes.
const BODY_CAP: usize = 4 * 1024 * 1024;
/// Text values of multipart parts are kept up to this many bytes.
const TEXT_CAP: usize = 1024 * 1024;

const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

const PATH_TENANT_INTERNAL: &str = "/open-apis/auth/v3/tenant_access_token/internal";
const PATH_APP_INTERNAL: &str = "/open-apis/auth/v3/app_access_token/internal";
const PATH_APP_MARKETPLACE: &str = "/open-apis/auth/v3/app_access_token";
const PATH_TENANT_MARKETPLACE: &str = "/open-apis/auth/v3/tenant_access_token";
const PATH_TICKET_RESEND: &str = "/open-apis/auth/v3/app_ticket/resend";

pub(crate) const MSG_MISSING_TOKEN: &str =
    "Missing access token for authorization. Please make a request with token attached.";
pub(crate) const MSG_INVALID_TOKEN: &str =
    "Invalid access token for authorization. Please make a request with token attached.";
const MSG_INVALID_APP_TOKEN: &str =
    "Invalid app access token for authorization. Please make a request with token attached.";
const MSG_INVALID_USER_TOKEN: &str =
    "Invalid user access token for authorization. Please make a request with token attached.";
const MSG_BAD_TOKEN_FORMAT: &str =
    "Invalid access token format: the token must start with t-, a- or u-.";

pub(crate) const CODE_FIELD_VALIDATION: i64 = 99992402;

fn is_auth_path(path: &str) -> bool {
    matches!(
        path,
        PATH_TENANT_INTERNAL
            | PATH_APP_INTERNAL
            | PATH_APP_MARKETPLACE
            | PATH_TENANT_MARKETPLACE
            | PATH_TICKET_RESEND
    )
}

/// Builds the axum router: one fallback handler that does its own routing.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// Per-request context for building responses.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) sh: &'a Arc<Shared>,
    pub(crate) log_id: &'a str,
}

impl Ctx<'_> {
    /// A JSON response with `status`.
    pub(crate) fn json(&self, status: StatusCode, value: &Value) -> Response {
        json_response(status, serde_json::to_vec(value).unwrap_or_default())
    }

    /// `{"code":0,"msg":"success","data":data}`.
    pub(crate) fn ok(&self, data: Value) -> Response {
        self.json(
            StatusCode::OK,
            &json!({"code": 0, "msg": "success", "data": data}),
        )
    }

    /// The platform error envelope; `extra` is merged into the `error` object.
    pub(crate) fn error(
        &self,
        status: StatusCode,
        code: i64,
        msg: &str,
        extra: Option<Value>,
    ) -> Response {
        let mut error = serde_json::Map::new();
        error.insert("log_id".into(), Value::from(self.log_id));
        error.insert(
            "troubleshooter".into(),
            Value::from(format!(
                "https://open.feishu.cn/search?log_id={}",
                self.log_id
            )),
        );
        match extra {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    if k != "log_id" {
                        error.insert(k, v);
                    }
                }
            }
            Some(other) => {
                error.insert("details".into(), other);
            }
        }
        self.json(
            status,
            &json!({"code": code, "msg": msg, "error": Value::Object(error)}),
        )
    }

    /// HTTP 400, code 99992402 with `error.field_violations`.
    pub(crate) fn field_error(&self, violations: Vec<Value>) -> Response {
        self.error(
            StatusCode::BAD_REQUEST,
            CODE_FIELD_VALIDATION,
            "field validation failed",
            Some(json!({ "field_violations": violations })),
        )
    }
}

/// One `{field, description}` entry of `field_violations`.
pub(crate) fn violation(field: &str, description: &str) -> Value {
    json!({"field": field, "description": description})
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    resp
}

/// `StatusCode` for `code`, or 500 when it is not a valid status.
pub(crate) fn status_or_500(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Everything the handlers need to know about a request.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Bytes,
    pub(crate) body_len: u64,
    pub(crate) multipart: Option<MultipartOutcome>,
    pub(crate) auth: Option<AuthInfo>,
    /// The `Authorization` header as sent.
    pub(crate) authorization: Option<String>,
}

impl Incoming {
    /// The first value of query key `key`.
    pub(crate) fn query_first(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parts of a multipart body and the parse error that stopped reading, if any.
#[derive(Debug, Default)]
pub(crate) struct MultipartOutcome {
    pub(crate) parts: Vec<RecordedPart>,
    pub(crate) error: Option<String>,
}

/// The accepted credential of a request.
#[derive(Debug, Clone)]
pub(crate) struct AuthInfo {
    pub(crate) token_type: &'static str,
    pub(crate) tenant_key: Option<String>,
    /// The user of a user access token the mock issued.
    pub(crate) open_id: Option<String>,
}

async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let received_at = Instant::now();
    let log_id = sh.next_log_id();
    let ctx = Ctx {
        sh: &sh,
        log_id: &log_id,
    };
    let mut resp = dispatch(&ctx, req, received_at).await;
    if let Ok(value) = HeaderValue::from_str(&log_id) {
        let headers = resp.headers_mut();
        headers.insert(HeaderName::from_static("x-tt-logid"), value.clone());
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    resp
}

fn header_str<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn dispatch(ctx: &Ctx<'_>, req: Request, received_at: Instant) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/__mock" || path.starts_with("/__mock/") {
        return crate::control::handle(ctx, req, &path).await;
    }

    let (mut parts, body) = req.into_parts();
    // Taken before anything else: the upgrade handle lives in the extensions.
    let ws_upgrade = if path == crate::ws::WS_CONNECT_PATH {
        Some(WebSocketUpgrade::from_request_parts(&mut parts, &()).await)
    } else {
        None
    };
    let method = parts.method.as_str().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let query = raw_query.as_deref().map(parse_query).unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let content_type = header_str(&parts.headers, &CONTENT_TYPE).map(str::to_owned);
    let authorization = header_str(&parts.headers, &AUTHORIZATION).map(str::to_owned);
    let is_multipart = content_type.as_deref().is_some_and(|ct| {
        ct.trim_start()
            .get(..19)
            .is_some_and(|p| p.eq_ignore_ascii_case("multipart/form-data"))
    });

    let (body, body_len, multipart) = if is_multipart {
        let counter = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&counter);
        let counted = body.into_data_stream().inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                seen.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        });
        let req = Request::from_parts(parts, Body::from_stream(counted));
        let outcome = read_multipart(req).await;
        (Bytes::new(), counter.load(Ordering::Relaxed), Some(outcome))
    } else {
        let (body, len) = read_body_capped(body).await;
        (body, len, None)
    };

    if ctx.sh.recording() {
        ctx.sh.record(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            raw_query,
            query: query.clone(),
            headers,
            body: body.clone(),
            multipart: multipart.as_ref().map(|m| m.parts.clone()),
            received_at,
        });
    }

    let mut incoming = Incoming {
        method,
        path,
        query,
        content_type,
        body,
        body_len,
        multipart,
        auth: None,
        authorization: authorization.clone(),
    };

    if ws_upgrade.is_some() || incoming.path == crate::ws::WS_ENDPOINT_PATH {
        if let Some(resp) = apply_fault(ctx, &incoming.path, false).await {
            return resp;
        }
        return match ws_upgrade {
            Some(upgrade) => crate::ws::connect(ctx.sh, upgrade, &incoming.query),
            None => crate::ws::endpoint(ctx, &incoming.method, &incoming.body),
        };
    }
    // OAuth 2: the authorize step, the v2 token endpoint and the device authorization take
    // no token.
    let oauth = match (incoming.method.as_str(), incoming.path.as_str()) {
        ("GET", crate::oauth::AUTHORIZE_PATH) => {
            Some(crate::oauth::authorize as fn(&Ctx<'_>, &Incoming) -> Response)
        }
        ("POST", crate::oauth::TOKEN_PATH) => {
            Some(crate::oauth::token as fn(&Ctx<'_>, &Incoming) -> Response)
        }
        ("POST", crate::oauth::ASSERTION_TOKEN_PATH) => {
            Some(crate::oauth::assertion_token as fn(&Ctx<'_>, &Incoming) -> Response)
        }
        ("POST", crate::oauth::DEVICE_PATH) => {
            Some(crate::oauth::device_authorization as fn(&Ctx<'_>, &Incoming) -> Response)
        }
        _ => None,
    };
    if let Some(endpoint) = oauth {
        if let Some(resp) = apply_fault(ctx, &incoming.path, false).await {
            return resp;
        }
        return endpoint(ctx, &incoming);
    }
    if !incoming.path.starts_with("/open-apis/") {
        if let Some(resp) = apply_fault(ctx, &incoming.path, false).await {
            return resp;
        }
        return ctx.error(StatusCode::NOT_FOUND, 404, "not found", None);
    }
    if let Some(token) = incoming.path.strip_prefix(crate::WEBHOOK_PATH) {
        if let Some(resp) = apply_fault(ctx, &incoming.path, false).await {
            return resp;
        }
        return crate::webhook::handle(ctx, &incoming, &decode_segment(token));
    }
    let auth_path = is_auth_path(&incoming.path);
    if auth_path && incoming.method == "POST" {
        if let Some(resp) = apply_fault(ctx, &incoming.path, false).await {
            return resp;
        }
        return token_endpoint(ctx, &incoming);
    }
    match authorize(ctx.sh, authorization.as_deref()) {
        Ok(info) => incoming.auth = Some(info),
        Err((code, msg)) => return ctx.error(StatusCode::BAD_REQUEST, code, msg, None),
    }
    if let Some(resp) = apply_fault(ctx, &incoming.path, !auth_path).await {
        return resp;
    }
    crate::api::route(ctx, &incoming).await
}

/// Parses `a=1&b=2&a=3` into decoded pairs (`+` is a space).
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let s = if s.contains('+') {
        std::borrow::Cow::Owned(s.replace('+', " "))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// Percent-decodes one path segment.
pub(crate) fn decode_segment(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Reads the whole body, keeping at most [`BODY_CAP`] bytes; returns them and the
/// total length. A body that fails mid-way yields what arrived.
async fn read_body_capped(body: Body) -> (Bytes, u64) {
    let mut stream = body.into_data_stream();
    let mut kept: Vec<Bytes> = Vec::new();
    let mut kept_len = 0usize;
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        total += chunk.len() as u64;
        if kept_len < BODY_CAP {
            let take = chunk.len().min(BODY_CAP - kept_len);
            kept_len += take;
            kept.push(chunk.slice(..take));
        }
    }
    let body = match kept.len() {
        0 => Bytes::new(),
        1 => kept.pop().unwrap_or_default(),
        _ => {
            let mut buf = BytesMut::with_capacity(kept_len);
            for chunk in &kept {
                buf.extend_from_slice(chunk);
            }
            buf.freeze()
        }
    };
    (body, total)
}

/// Streams through a multipart body, hashing each part incrementally.
async fn read_multipart(req: Request) -> MultipartOutcome {
    let mut outcome = MultipartOutcome::default();
    let mut multipart = match Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(rejection) => {
            outcome.error = Some(rejection.body_text());
            return outcome;
        }
    };
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                outcome.error = Some(e.body_text());
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let mut len = 0u64;
        let mut digest = FNV1A64_INIT;
        let mut text: Option<Vec<u8>> = file_name.is_none().then(Vec::new);
        let mut failed = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    len += chunk.len() as u64;
                    digest = fnv1a64_update(digest, &chunk);
                    if let Some(buf) = text.as_mut() {
                        if buf.len() + chunk.len() <= TEXT_CAP {
                            buf.extend_from_slice(&chunk);
                        } else {
                            text = None;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome.error = Some(e.body_text());
                    failed = true;
                    break;
                }
            }
        }
        outcome.parts.push(RecordedPart {
            name,
            file_name,
            content_type,
            len,
            digest,
            text: text.and_then(|t| String::from_utf8(t).ok()),
        });
        if failed {
            break;
        }
    }
    outcome
}

/// Checks the `Authorization` header of a non-token endpoint; the error is
/// the platform code and message to answer with (HTTP 400).
fn authorize(sh: &Shared, header: Option<&str>) -> Result<AuthInfo, (i64, &'static str)> {
    let value = header.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err((99991661, MSG_MISSING_TOKEN));
    }
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err((99991671, MSG_BAD_TOKEN_FORMAT));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err((99991661, MSG_MISSING_TOKEN));
    }
    let (kind, token_type, invalid) = if token.starts_with("u-") {
        if token == "u-invalid" {
            return Err((99991668, MSG_INVALID_USER_TOKEN));
        }
        let open_id = if token.starts_with(crate::user_auth::ISSUED_USER_TOKEN_PREFIX) {
            Some(sh.users.check_access(token)?)
        } else {
            None
        };
        return Ok(AuthInfo {
            token_type: "user",
            tenant_key: None,
            open_id,
        });
    } else if token.starts_with("t-") {
        (TokenKind::Tenant, "tenant", (99991663, MSG_INVALID_TOKEN))
    } else if token.starts_with("a-") {
        (TokenKind::App, "app", (99991664, MSG_INVALID_APP_TOKEN))
    } else {
        return Err((99991671, MSG_BAD_TOKEN_FORMAT));
    };
    match sh.check_token(token, kind) {
        Some(info) => Ok(AuthInfo {
            token_type,
            tenant_key: info.tenant_key,
            open_id: None,
        }),
        None => Err(invalid),
    }
}

/// Takes and applies the next fault for `path`; `None` means "handle normally".
async fn apply_fault(ctx: &Ctx<'_>, path: &str, wildcard: bool) -> Option<Response> {
    let fault = ctx.sh.take_fault(path, wildcard)?;
    match fault {
        Fault::Delay(duration) => {
            tokio::time::sleep(duration).await;
            None
        }
        // Unwinds the connection task without running the panic hook: hyper
        // never writes a response and the socket is dropped.
        Fault::DropConnection => std::panic::resume_unwind(Box::new("mock: drop connection")),
        Fault::InvalidToken => {
            Some(ctx.error(StatusCode::BAD_REQUEST, 99991663, MSG_INVALID_TOKEN, None))
        }
        Fault::RateLimited { reset_secs } => {
            let mut resp = ctx.error(
                StatusCode::TOO_MANY_REQUESTS,
                99991400,
                "request trigger frequency limit",
                None,
            );
            let headers = resp.headers_mut();
            headers.insert(
                HeaderName::from_static("x-ogw-ratelimit-limit"),
                HeaderValue::from_static("50"),
            );
            headers.insert(
                HeaderName::from_static("x-ogw-ratelimit-reset"),
                HeaderValue::from(reset_secs),
            );
            Some(resp)
        }
        Fault::ServerError(status) => {
            let status = status_or_500(status);
            let code = if status == StatusCode::SERVICE_UNAVAILABLE {
                1503
            } else {
                1500
            };
            Some(ctx.error(status, code, "internal error", None))
        }
        Fault::MalformedJson => Some(json_response(
            StatusCode::OK,
            br#"{"code":0,"msg":"success","data":{"#.to_vec(),
        )),
        Fault::RawJson { http_status, body } => {
            Some(json_response(status_or_500(http_status), body.into_bytes()))
        }
        Fault::Api {
            http_status,
            code,
            msg,
            error,
        } => Some(ctx.error(status_or_500(http_status), code, &msg, error)),
        Fault::EventStream { steps } => Some(event_stream(steps)),
        Fault::File { name, body } => {
            let mut resp = Response::new(Body::from(body));
            let headers = resp.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let disposition = format!("attachment; filename=\"{}\"", name.replace('"', ""));
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(axum::http::header::CONTENT_DISPOSITION, value);
            }
            Some(resp)
        }
    }
}

/// A `text/event-stream` answer whose body follows `steps`.
fn event_stream(steps: Vec<crate::SseStep>) -> Response {
    use crate::SseStep;
    let body = futures_util::stream::unfold(steps.into_iter(), |mut steps| async move {
        loop {
            match steps.next()? {
                SseStep::Send(text) => return Some((Ok(Bytes::from(text)), steps)),
                SseStep::Wait(d) => tokio::time::sleep(d).await,
                SseStep::Cut => {
                    // hyper aborts the connection on a body error without flushing what it
                    // holds: give it time to write what was sent before the cut.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "mock: cut");
                    // Nothing follows the error: hyper drops the connection mid-body.
                    return Some((Err(cut), Vec::new().into_iter()));
                }
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    resp
}

/// The `/open-apis/auth/v3/*` endpoints (POST, JSON bodies, no Authorization).
fn token_endpoint(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    let fail = |code: i64, msg: &str| ctx.error(StatusCode::OK, code, msg, None);
    // `Some(error response)` when the app credentials are wrong.
    let check_app = || -> Option<Response> {
        if field("app_id") != Some(APP_ID) {
            return Some(fail(10003, "invalid param"));
        }
        if field("app_secret") != Some(APP_SECRET) {
            return Some(fail(10014, "app secret invalid"));
        }
        None
    };
    let respond = |value: Value| ctx.json(StatusCode::OK, &value);

    match req.path.as_str() {
        PATH_TENANT_INTERNAL => {
            if let Some(resp) = check_app() {
                return resp;
            }
            let (token, expire) = ctx.sh.issue_token(TokenKind::Tenant, None);
            respond(json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire}))
        }
        PATH_APP_INTERNAL => {
            if let Some(resp) = check_app() {
                return resp;
            }
            let (app, expire) = ctx.sh.issue_token(TokenKind::App, None);
            let (tenant, _) = ctx.sh.issue_token(TokenKind::Tenant, None);
            respond(json!({
                "code": 0, "msg": "ok",
                "app_access_token": app, "tenant_access_token": tenant, "expire": expire
            }))
        }
        PATH_APP_MARKETPLACE => {
            if let Some(resp) = check_app() {
                return resp;
            }
            if field("app_ticket") != Some(ctx.sh.app_ticket().as_str()) {
                return fail(10012, "app ticket invalid");
            }
            let (app, expire) = ctx.sh.issue_token(TokenKind::App, None);
            respond(json!({"code": 0, "msg": "ok", "app_access_token": app, "expire": expire}))
        }
        PATH_TENANT_MARKETPLACE => {
            let app_ok = field("app_access_token")
                .is_some_and(|t| ctx.sh.check_token(t, TokenKind::App).is_some());
            if !app_ok {
                return fail(99991664, "app access token invalid");
            }
            let Some(tenant_key) = field("tenant_key").filter(|k| !k.is_empty()) else {
                return ctx.field_error(vec![violation("tenant_key", "tenant_key is required")]);
            };
            let (tenant, expire) = ctx
                .sh
                .issue_token(TokenKind::Tenant, Some(tenant_key.to_owned()));
            respond(
                json!({"code": 0, "msg": "ok", "tenant_access_token": tenant, "expire": expire}),
            )
        }
        // PATH_TICKET_RESEND
        _ => {
            if let Some(resp) = check_app() {
                return resp;
            }
            respond(json!({"code": 0, "msg": "ok"}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_keeps_order_and_repeats() {
        let q = parse_query("a=1&b=x+y&a=%E6%96%87&flag&&c=");
        assert_eq!(
            q,
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y".to_owned()),
                ("a".to_owned(), "文".to_owned()),
                ("flag".to_owned(), String::new()),
                ("c".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            parse_query("k=%2B%zz"),
            vec![("k".to_owned(), "+%zz".to_owned())]
        );
    }
}
