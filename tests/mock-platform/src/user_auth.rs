//! User authorization: login codes, user access tokens and single-use refresh tokens
//! (`/open-apis/authen/v1/oidc/*`, `/open-apis/authen/v1/user_info`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::handler::{Ctx, Incoming};
use crate::state::lock;

/// Default lifetime of a user access token, in seconds.
pub(crate) const DEFAULT_ACCESS_EXPIRE: i64 = 7200;
/// Default lifetime of a refresh token, in seconds (30 days).
pub(crate) const DEFAULT_REFRESH_EXPIRE: i64 = 30 * 86_400;
/// A login code is valid this long.
const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// The prefix of user access tokens the mock issued (and therefore checks).
pub(crate) const ISSUED_USER_TOKEN_PREFIX: &str = "u-mock";

#[derive(Debug)]
struct Grant {
    open_id: String,
    expires_at: Instant,
    revoked: bool,
    used: bool,
    /// The scopes granted (refresh tokens).
    scope: String,
    /// Issued by the v2 (OAuth 2) endpoint: refused by the OIDC one, and the other way round.
    oauth2: bool,
}

/// Tokens the v2 endpoint issued.
pub(crate) struct Issued {
    pub(crate) access: String,
    pub(crate) access_expire: i64,
    pub(crate) refresh: Option<String>,
    pub(crate) refresh_expire: i64,
}

/// The scope the OIDC endpoints grant.
const OIDC_SCOPE: &str = "contact:user.base:readonly offline_access";

#[derive(Debug)]
struct Grants {
    codes: HashMap<String, Grant>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    access_expire: i64,
    refresh_expire: i64,
    refreshes: usize,
}

/// Every user grant issued by one mock instance.
#[derive(Debug)]
pub(crate) struct UserAuth {
    grants: Mutex<Grants>,
}

/// Why a user access token was refused: the platform code and message.
pub(crate) type Refusal = (i64, &'static str);

fn after(secs: i64) -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(secs.max(0).unsigned_abs()))
        .unwrap_or(now + Duration::from_secs(86_400 * 365))
}

impl UserAuth {
    pub(crate) fn new() -> Self {
        Self {
            grants: Mutex::new(Grants {
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                access_expire: DEFAULT_ACCESS_EXPIRE,
                refresh_expire: DEFAULT_REFRESH_EXPIRE,
                refreshes: 0,
            }),
        }
    }

    pub(crate) fn issue_code(&self, code: String, open_id: &str) {
        lock(&self.grants).codes.insert(
            code,
            Grant {
                open_id: open_id.to_owned(),
                expires_at: Instant::now() + CODE_LIFETIME,
                revoked: false,
                used: false,
                scope: OIDC_SCOPE.into(),
                oauth2: false,
            },
        );
    }

    pub(crate) fn set_expire(&self, access_secs: i64, refresh_secs: i64) {
        let mut g = lock(&self.grants);
        g.access_expire = access_secs;
        g.refresh_expire = refresh_secs;
    }

    pub(crate) fn revoke_all(&self) {
        let g = &mut *lock(&self.grants);
        for grant in g.access.values_mut().chain(g.refresh.values_mut()) {
            grant.revoked = true;
        }
    }

    /// Expires every access token issued so far (refresh tokens stay valid).
    pub(crate) fn expire_access(&self) {
        let now = Instant::now();
        for grant in lock(&self.grants).access.values_mut() {
            grant.expires_at = now;
        }
    }

    pub(crate) fn refreshes(&self) -> usize {
        lock(&self.grants).refreshes
    }

    /// The user a token issued by the mock stands for.
    pub(crate) fn check_access(&self, token: &str) -> Result<String, Refusal> {
        let g = lock(&self.grants);
        let Some(grant) = g.access.get(token) else {
            return Err((99991668, "Invalid user access token."));
        };
        if grant.revoked {
            return Err((99991668, "User access token has been revoked."));
        }
        if Instant::now() >= grant.expires_at {
            return Err((99991677, "User access token has expired."));
        }
        Ok(grant.open_id.clone())
    }

    /// Records a new access token (and refresh token) for `open_id`.
    fn record(
        g: &mut Grants,
        open_id: &str,
        tokens: [Option<&String>; 2],
        scope: &str,
        oauth2: bool,
    ) {
        let (access_expire, refresh_expire) = (g.access_expire, g.refresh_expire);
        for (map, token, expire) in [
            (&mut g.access, tokens[0], access_expire),
            (&mut g.refresh, tokens[1], refresh_expire),
        ] {
            let Some(token) = token else { continue };
            map.insert(
                token.clone(),
                Grant {
                    open_id: open_id.to_owned(),
                    expires_at: after(expire),
                    revoked: false,
                    used: false,
                    scope: scope.to_owned(),
                    oauth2,
                },
            );
        }
    }

    /// Tokens of the v2 endpoint for `open_id` (a refresh token only when `offline`).
    pub(crate) fn issue_oauth(
        &self,
        open_id: &str,
        scope: &str,
        offline: bool,
        seq: u64,
        salt: &str,
    ) -> Issued {
        let mut g = lock(&self.grants);
        let access = format!("{ISSUED_USER_TOKEN_PREFIX}{salt}o{seq}");
        let refresh = offline.then(|| format!("ur-mock{salt}o{seq}"));
        Self::record(
            &mut g,
            open_id,
            [Some(&access), refresh.as_ref()],
            scope,
            true,
        );
        Issued {
            access,
            access_expire: g.access_expire,
            refresh,
            refresh_expire: g.refresh_expire,
        }
    }

    /// Spends a refresh token of the v2 endpoint: who it was for and what it granted.
    pub(crate) fn spend_refresh(&self, token: &str) -> Result<(String, String), Refusal> {
        let mut g = lock(&self.grants);
        g.refreshes += 1;
        let now = Instant::now();
        let grant = match g.refresh.get_mut(token) {
            Some(grant) if grant.oauth2 => grant,
            _ => return Err((20026, "refresh token invalid")),
        };
        if grant.revoked {
            return Err((20064, "refresh token revoked"));
        }
        if grant.used {
            return Err((20073, "refresh token already used"));
        }
        if now >= grant.expires_at {
            return Err((20037, "refresh token expired"));
        }
        grant.used = true;
        Ok((grant.open_id.clone(), grant.scope.clone()))
    }

    /// A new access token and refresh token for `open_id`, as the response `data`.
    fn issue_tokens(&self, g: &mut Grants, open_id: &str, seq: u64, salt: &str) -> Value {
        let access = format!("{ISSUED_USER_TOKEN_PREFIX}{salt}g{seq}");
        let refresh = format!("ur-mock{salt}g{seq}");
        let (access_expire, refresh_expire) = (g.access_expire, g.refresh_expire);
        Self::record(
            g,
            open_id,
            [Some(&access), Some(&refresh)],
            OIDC_SCOPE,
            false,
        );
        json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": access_expire,
            "refresh_token": refresh,
            "refresh_expires_in": refresh_expire,
            "scope": OIDC_SCOPE,
        })
    }
}

/// `POST /open-apis/authen/v1/oidc/access_token` and `.../oidc/refresh_access_token`.
pub(crate) fn grant(ctx: &Ctx<'_>, req: &Incoming, refresh: bool) -> Response {
    if req.auth.as_ref().map(|a| a.token_type) != Some("app") {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            99991664,
            "this endpoint needs an app_access_token",
            None,
        );
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let (grant_type, secret) = if refresh {
        ("refresh_token", field("refresh_token"))
    } else {
        ("authorization_code", field("code"))
    };
    if field("grant_type") != grant_type {
        return ctx.field_error(vec![crate::handler::violation(
            "grant_type",
            "grant_type is wrong for this endpoint",
        )]);
    }
    let seq = ctx.sh.next_seq();
    let salt = ctx.sh.token_salt();
    let users = &ctx.sh.users;
    let mut g = lock(&users.grants);
    let now = Instant::now();
    let (map, unknown) = if refresh {
        g.refreshes += 1;
        (&mut g.refresh, (20026, "refresh token invalid"))
    } else {
        (&mut g.codes, (20007, "authorization code invalid"))
    };
    let refusal = match map.get_mut(secret) {
        // A refresh token of the v2 endpoint is not one of these.
        None => Some(unknown),
        Some(grant) if grant.oauth2 => Some(unknown),
        Some(grant) if grant.revoked => Some((20064, "refresh token revoked")),
        Some(grant) if grant.used => Some(if refresh {
            (20073, "refresh token already used")
        } else {
            unknown
        }),
        Some(grant) if now >= grant.expires_at => Some(if refresh {
            (20037, "refresh token expired")
        } else {
            unknown
        }),
        Some(grant) => {
            grant.used = true;
            None
        }
    };
    if let Some((code, msg)) = refusal {
        drop(g);
        return ctx.error(StatusCode::BAD_REQUEST, code, msg, None);
    }
    let open_id = map
        .get(secret)
        .map(|g| g.open_id.clone())
        .unwrap_or_default();
    let data = users.issue_tokens(&mut g, &open_id, seq, salt);
    drop(g);
    ctx.ok(data)
}

/// `GET /open-apis/authen/v1/user_info`: who the user token belongs to.
pub(crate) fn user_info(ctx: &Ctx<'_>, req: &Incoming) -> Response {
    let Some(open_id) = req.auth.as_ref().and_then(|a| a.open_id.clone()) else {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            99991668,
            "this endpoint needs a user_access_token issued by the platform",
            None,
        );
    };
    ctx.ok(json!({
    "open_id": open_id,
    "name": format!("Mock user {open_id}"),
        }))
}
