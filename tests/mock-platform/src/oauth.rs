//! OAuth 2 with PKCE: the authorize step (`GET /open-apis/authen/v1/authorize`, answered at
//! once with the redirect a user who approves gets: codes bound to the challenge, redirect
//! URI and scopes) and the v2 token endpoint (`POST /open-apis/authen/v2/oauth/token`,
//! JSON or form bodies, the app's id and secret in the body, the verifier checked, refresh
//! tokens rotated and scopes narrowed), refusing in OAuth style: `error`,
//! `error_description` and a numeric `code`.
//!
//! Codes the platform documents: 20026 (refresh token invalid), 20037 (expired), 20064
//! (revoked), 20073 (already used). The others are the mock's own numbers (the platform's
//! for these cases are not documented): 20002 invalid client, 20003 invalid or used code,
//! 20004 expired code, 20005 verifier mismatch, 20006 redirect URI mismatch, 20027 scope
//! not granted, 20001 malformed request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::handler::{Ctx, Incoming, json_response, parse_query};
use crate::state::lock;
use crate::{APP_ID, APP_SECRET};

/// The authorize path.
pub(crate) const AUTHORIZE_PATH: &str = "/open-apis/authen/v1/authorize";
/// The v2 token endpoint.
pub(crate) const TOKEN_PATH: &str = "/open-apis/authen/v2/oauth/token";
/// The user who approves every authorization until [`crate::MockPlatform::set_oauth_user`].
pub const OAUTH_USER: &str = "ou_mock_oauth_user";

const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// A code the authorize step issued.
#[derive(Debug)]
pub(crate) struct PkceCode {
    open_id: String,
    challenge: String,
    redirect_uri: String,
    scope: String,
    expires_at: Instant,
    used: bool,
}

/// The authorize step's codes, and who approves.
#[derive(Debug, Default)]
pub(crate) struct OAuthCodes {
    codes: HashMap<String, PkceCode>,
    user: Option<String>,
    devices: HashMap<String, DeviceGrant>,
    device_script: Option<DeviceFlowScript>,
}

/// The client assertion token endpoint (on the accounts host; here the mock's base).
pub(crate) const ASSERTION_TOKEN_PATH: &str = "/oauth/v3/token";

/// The device authorization path (on the accounts host; here the mock's base).
pub(crate) const DEVICE_PATH: &str = "/oauth/v1/device_authorization";

/// What the next poll of a device code is answered.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePoll {
    /// `authorization_pending`: the user has not decided yet.
    Pending,
    /// `slow_down`: polling too fast.
    SlowDown,
    /// `access_denied`: the user refused (ends the flow).
    Denied,
    /// `expired_token` (ends the flow).
    Expired,
    /// The user approved: the tokens.
    Approved,
}

/// How the next device authorizations behave; see
/// [`MockPlatform::script_device_flow`](crate::MockPlatform::script_device_flow).
#[derive(Debug, Clone)]
pub struct DeviceFlowScript {
    /// `expires_in` of the answer, in seconds.
    pub expires_in: u64,
    /// `interval` of the answer, in seconds.
    pub interval: u64,
    /// The answers to the polls, in order; after the last, polls are approved.
    pub polls: Vec<DevicePoll>,
}

impl Default for DeviceFlowScript {
    fn default() -> Self {
        Self {
            expires_in: 240,
            interval: 5,
            polls: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct DeviceGrant {
    open_id: String,
    scope: String,
    polls: std::collections::VecDeque<DevicePoll>,
    expires_at: Instant,
    done: bool,
}

fn refuse(
    ctx: &Ctx<'_>,
    status: StatusCode,
    code: i64,
    error: &str,
    description: &str,
) -> Response {
    let body = json!({
        "code": code,
        "error": error,
        "error_description": description,
        "log_id": ctx.log_id,
    });
    json_response(status, body.to_string().into_bytes())
}

/// `GET /open-apis/authen/v1/authorize`: checks the request and redirects back with a code
/// (as if the user approved) and the `state`.
pub(crate) fn authorize(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let q = |k: &str| req.query_first(k).unwrap_or_default().to_owned();
    let (client_id, redirect_uri, challenge) =
        (q("client_id"), q("redirect_uri"), q("code_challenge"));
    let problem = if client_id != APP_ID {
        Some("unknown client_id")
    } else if q("response_type") != "code" {
        Some("response_type must be code")
    } else if redirect_uri.is_empty() {
        Some("redirect_uri is required")
    } else if q("code_challenge_method") != "S256" {
        Some("code_challenge_method must be S256")
    } else if !(43..=128).contains(&challenge.len()) {
        Some("code_challenge must be 43 to 128 characters")
    } else if q("state").is_empty() {
        Some("state is required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20001,
            "invalid_request",
            problem,
        );
    }
    let code = format!("pkce-{}-{}", ctx.sh.token_salt(), ctx.sh.next_seq());
    {
        let mut codes = lock(&ctx.sh.oauth);
        let open_id = codes.user.clone().unwrap_or_else(|| OAUTH_USER.to_owned());
        codes.codes.insert(
            code.clone(),
            PkceCode {
                open_id,
                challenge,
                redirect_uri: redirect_uri.clone(),
                scope: q("scope"),
                expires_at: Instant::now() + CODE_LIFETIME,
                used: false,
            },
        );
    }
    let mut location = match reqwest_free_url(&redirect_uri) {
        Some(url) => url,
        None => {
            return refuse(
                ctx,
                StatusCode::BAD_REQUEST,
                20001,
                "invalid_request",
                "redirect_uri is not a URL",
            );
        }
    };
    location.push(if redirect_uri.contains('?') { '&' } else { '?' });
    location.push_str(&format!(
        "code={}&state={}",
        encode(&code),
        encode(&q("state"))
    ));
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, value);
    }
    resp
}

/// `redirect_uri` if it looks like an absolute http(s) URL without a fragment.
fn reqwest_free_url(uri: &str) -> Option<String> {
    let ok = (uri.starts_with("https://") || uri.starts_with("http://")) && !uri.contains('#');
    ok.then(|| uri.to_owned())
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The fields of a JSON or form body.
fn fields(req: &Incoming) -> HashMap<String, String> {
    let form = req
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        return parse_query(&String::from_utf8_lossy(&req.body))
            .into_iter()
            .collect();
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect(),
        _ => HashMap::new(),
    }
}

/// `POST /open-apis/authen/v2/oauth/token`.
pub(crate) fn token(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let f = fields(req);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != APP_ID || get("client_secret") != APP_SECRET {
        return refuse(
            ctx,
            StatusCode::UNAUTHORIZED,
            20002,
            "invalid_client",
            "client_id or client_secret is wrong",
        );
    }
    grant(ctx, &f)
}

/// The JWT client assertion's type.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Whether `assertion` has the shape of a signed JWT (JWS compact form: three base64url
/// parts, a JSON header naming its `alg`, a JSON payload). Its claims and signature are not
/// checked: the platform's rules for them are not documented.
pub(crate) fn assertion_shape(assertion: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err("the client assertion is not a JWT (three dot-separated parts)");
    };
    let json = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
    };
    let header = json(header).ok_or("the JWT header is not base64url JSON")?;
    if !header.get("alg").is_some_and(Value::is_string) {
        return Err("the JWT header has no alg");
    }
    json(payload).ok_or("the JWT payload is not base64url JSON")?;
    if signature.is_empty() || URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err("the JWT signature is missing or not base64url");
    }
    Ok(())
}

/// `POST /oauth/v3/token` (the accounts host's endpoint): a client assertion in place of
/// the secret; the jwt-bearer grant gives a tenant access token, the user grants as on v2.
pub(crate) fn assertion_token(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let f = fields(req);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let checked = if get("client_id") != APP_ID {
        Err("unknown client_id")
    } else if f.contains_key("client_secret") {
        Err("a client assertion replaces client_secret: send one, not both")
    } else if get("client_assertion_type") != ASSERTION_TYPE {
        Err("client_assertion_type must be the JWT bearer type")
    } else {
        assertion_shape(get("client_assertion"))
    };
    if let Err(problem) = checked {
        return refuse(
            ctx,
            StatusCode::UNAUTHORIZED,
            20002,
            "invalid_client",
            problem,
        );
    }
    if get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        let (token, expire) = ctx.sh.issue_token(crate::state::TokenKind::Tenant, None);
        let body = json!({
            "code": 0,
            "access_token": token,
            "expires_in": expire,
            "token_type": "Bearer",
        });
        return json_response(StatusCode::OK, body.to_string().into_bytes());
    }
    grant(ctx, &f)
}

/// The user grants, once the client is authenticated.
fn grant(ctx: &Ctx<'_>, f: &HashMap<String, String>) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    match get("grant_type") {
        "authorization_code" => {
            code_grant(ctx, get("code"), get("code_verifier"), get("redirect_uri"))
        }
        "refresh_token" => refresh_grant(
            ctx,
            get("refresh_token"),
            f.get("scope").map(String::as_str),
        ),
        "urn:ietf:params:oauth:grant-type:device_code" => device_grant(ctx, get("device_code")),
        other => refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20001,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

fn code_grant(ctx: &Ctx<'_>, code: &str, verifier: &str, redirect_uri: &str) -> Response {
    let mut codes = lock(&ctx.sh.oauth);
    let Some(grant) = codes.codes.get_mut(code) else {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20003,
            "invalid_grant",
            "the authorization code is invalid",
        );
    };
    if grant.used {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20003,
            "invalid_grant",
            "the authorization code was already used",
        );
    }
    // Spent by any exchange attempt from here on, as a real one-time code.
    grant.used = true;
    if Instant::now() >= grant.expires_at {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20004,
            "invalid_grant",
            "the authorization code has expired",
        );
    }
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20005,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    if redirect_uri != grant.redirect_uri {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20006,
            "invalid_grant",
            "redirect_uri differs from the authorization's",
        );
    }
    let (open_id, scope) = (grant.open_id.clone(), grant.scope.clone());
    drop(codes);
    issue(ctx, &open_id, &scope)
}

fn refresh_grant(ctx: &Ctx<'_>, refresh_token: &str, narrowed: Option<&str>) -> Response {
    let granted = match ctx.sh.users.spend_refresh(refresh_token) {
        Ok(granted) => granted,
        Err((code, msg)) => {
            return refuse(ctx, StatusCode::BAD_REQUEST, code, "invalid_grant", msg);
        }
    };
    let (open_id, granted_scope) = granted;
    let scope = match narrowed {
        Some(want) => {
            let have: Vec<&str> = granted_scope.split_whitespace().collect();
            if let Some(extra) = want.split_whitespace().find(|s| !have.contains(s)) {
                return refuse(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    20027,
                    "invalid_scope",
                    &format!("scope {extra} was not granted"),
                );
            }
            want.to_owned()
        }
        None => granted_scope,
    };
    issue(ctx, &open_id, &scope)
}

/// A token answer at the top level, as the v2 endpoint gives it; a refresh token only with
/// `offline_access`.
fn issue(ctx: &Ctx<'_>, open_id: &str, scope: &str) -> Response {
    let offline = scope.split_whitespace().any(|s| s == "offline_access");
    let t = ctx.sh.users.issue_oauth(
        open_id,
        scope,
        offline,
        ctx.sh.next_seq(),
        ctx.sh.token_salt(),
    );
    let mut body = json!({
        "code": 0,
        "access_token": t.access,
        "expires_in": t.access_expire,
        "token_type": "Bearer",
        "scope": scope,
    });
    if let Some(refresh) = t.refresh {
        body["refresh_token"] = json!(refresh);
        body["refresh_token_expires_in"] = json!(t.refresh_expire);
    }
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

impl OAuthCodes {
    pub(crate) fn set_user(&mut self, open_id: Option<String>) {
        self.user = open_id;
    }

    pub(crate) fn script_devices(&mut self, script: DeviceFlowScript) {
        self.device_script = Some(script);
    }
}

/// `POST /oauth/v1/device_authorization`: the app's id and secret as HTTP Basic, a form
/// with `client_id` and `scope`.
pub(crate) fn device_authorization(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{APP_ID}:{APP_SECRET}"))
    );
    if req.authorization.as_deref() != Some(basic.as_str()) {
        return refuse(
            ctx,
            StatusCode::UNAUTHORIZED,
            20002,
            "invalid_client",
            "HTTP Basic client credentials are wrong or missing",
        );
    }
    let form: HashMap<String, String> = parse_query(&String::from_utf8_lossy(&req.body))
        .into_iter()
        .collect();
    if form.get("client_id").map(String::as_str) != Some(APP_ID) {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20001,
            "invalid_request",
            "client_id is missing or differs from the credentials",
        );
    }
    let mut codes = lock(&ctx.sh.oauth);
    let script = codes.device_script.clone().unwrap_or_default();
    let seq = ctx.sh.next_seq();
    let device_code = format!("dev-{}-{seq}", ctx.sh.token_salt());
    let user_code = format!("MOCK-{:04}", seq % 10_000);
    let open_id = codes.user.clone().unwrap_or_else(|| OAUTH_USER.to_owned());
    codes.devices.insert(
        device_code.clone(),
        DeviceGrant {
            open_id,
            scope: form.get("scope").cloned().unwrap_or_default(),
            polls: script.polls.into_iter().collect(),
            expires_at: Instant::now() + Duration::from_secs(script.expires_in),
            done: false,
        },
    );
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": "https://accounts.mock/device",
        "verification_uri_complete": format!("https://accounts.mock/device?user_code={user_code}"),
        "expires_in": script.expires_in,
        "interval": script.interval,
    });
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

fn device_grant(ctx: &Ctx<'_>, device_code: &str) -> Response {
    let mut codes = lock(&ctx.sh.oauth);
    let Some(grant) = codes.devices.get_mut(device_code) else {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20003,
            "invalid_grant",
            "unknown device_code",
        );
    };
    if grant.done {
        return refuse(
            ctx,
            StatusCode::BAD_REQUEST,
            20003,
            "invalid_grant",
            "the device_code was already used",
        );
    }
    let step = if Instant::now() >= grant.expires_at {
        DevicePoll::Expired
    } else {
        grant.polls.pop_front().unwrap_or(DevicePoll::Approved)
    };
    let (error, description) = match step {
        DevicePoll::Pending => ("authorization_pending", "the user has not approved yet"),
        DevicePoll::SlowDown => ("slow_down", "polling too fast"),
        DevicePoll::Denied => ("access_denied", "the user refused"),
        DevicePoll::Expired => ("expired_token", "the device code has expired"),
        DevicePoll::Approved => {
            grant.done = true;
            let (open_id, scope) = (grant.open_id.clone(), grant.scope.clone());
            drop(codes);
            return issue(ctx, &open_id, &scope);
        }
    };
    if matches!(step, DevicePoll::Denied | DevicePoll::Expired) {
        grant.done = true;
    }
    drop(codes);
    refuse(ctx, StatusCode::BAD_REQUEST, 20007, error, description)
}
