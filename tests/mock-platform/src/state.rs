//! Shared mutable state of one mock instance.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::user_auth::UserAuth;
use crate::ws::WsState;
use crate::{APP_TICKET, Fault, RecordedRequest};

/// Default number of items served by a paginated list.
pub(crate) const DEFAULT_LIST_SIZE: usize = 45;
/// Default `expire` of issued tokens, in seconds.
pub(crate) const DEFAULT_TOKEN_EXPIRE: i64 = 7200;
/// The wildcard fault path.
pub(crate) const ANY_PATH: &str = "*";

/// Locks `m`, ignoring poisoning (a panic elsewhere must not take the mock down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which kind of token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Tenant,
    App,
}

#[derive(Debug)]
struct TokenRecord {
    kind: TokenKind,
    tenant_key: Option<String>,
    expires_at: Instant,
    revoked: bool,
}

/// What a valid token stands for.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub(crate) tenant_key: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    log_prefix: String,
    token_salt: String,
    seq: AtomicU64,
    recording: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    queued_faults: AtomicUsize,
    tokens: Mutex<HashMap<String, TokenRecord>>,
    token_expire: AtomicI64,
    app_ticket: Mutex<String>,
    list_sizes: Mutex<HashMap<String, usize>>,
    pub(crate) started: Instant,
    /// The long-connection server.
    pub(crate) ws: WsState,
    /// Login codes and user tokens.
    pub(crate) users: UserAuth,
    /// Codes of the OAuth 2 authorize step.
    pub(crate) oauth: Mutex<crate::oauth::OAuthCodes>,
    /// Sent messages.
    pub(crate) messages: crate::messages::Store,
    /// CardKit card entities.
    pub(crate) cards: crate::cardkit::Cards,
    /// Custom bots.
    pub(crate) hooks: crate::webhook::Hooks,
}

impl Shared {
    #[cfg(test)]
    pub(crate) fn new(port: u16) -> Shared {
        Shared::new_at(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), false)
    }

    /// State for a mock listening on `addr`.
    pub(crate) fn new_at(addr: SocketAddr, tls: bool) -> Shared {
        let port = addr.port();
        // Connection URLs must name an address clients can reach.
        let ws_host = if addr.ip().is_unspecified() {
            SocketAddr::from((Ipv4Addr::LOCALHOST, port))
        } else {
            addr
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() as i64;
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let log_prefix = format!(
            "{y:04}{mo:02}{d:02}{:02}{:02}{:02}mock{port:05}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        let token_salt = format!("{:x}", (now.as_nanos() as u64) ^ (u64::from(port) << 48));
        Shared {
            log_prefix,
            token_salt,
            seq: AtomicU64::new(1),
            recording: AtomicBool::new(true),
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(HashMap::new()),
            queued_faults: AtomicUsize::new(0),
            tokens: Mutex::new(HashMap::new()),
            token_expire: AtomicI64::new(DEFAULT_TOKEN_EXPIRE),
            app_ticket: Mutex::new(APP_TICKET.to_owned()),
            list_sizes: Mutex::new(HashMap::new()),
            started: Instant::now(),
            // TLS: the name the test certificate is for.
            ws: WsState::new(if tls {
                format!("wss://localhost:{port}")
            } else {
                format!("ws://{ws_host}")
            }),
            users: UserAuth::new(),
            oauth: Mutex::default(),
            messages: Default::default(),
            cards: Default::default(),
            hooks: Default::default(),
        }
    }

    /// A number unique within this instance (log ids, message ids, keys, tokens).
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_log_id(&self) -> String {
        format!("{}{:06}", self.log_prefix, self.next_seq())
    }

    // ---- request log -------------------------------------------------------

    pub(crate) fn recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    pub(crate) fn set_recording(&self, enabled: bool) {
        self.recording.store(enabled, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, req: RecordedRequest) {
        lock(&self.requests).push(req);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub(crate) fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.requests)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    // ---- faults ------------------------------------------------------------

    pub(crate) fn push_fault(&self, path: &str, fault: Fault) {
        let mut faults = lock(&self.faults);
        faults.entry(path.to_owned()).or_default().push_back(fault);
        self.queued_faults.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn clear_faults(&self) {
        let mut faults = lock(&self.faults);
        faults.clear();
        self.queued_faults.store(0, Ordering::Relaxed);
    }

    /// Takes the next fault queued for `path`, else (when `wildcard`) for `"*"`.
    pub(crate) fn take_fault(&self, path: &str, wildcard: bool) -> Option<Fault> {
        if self.queued_faults.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut faults = lock(&self.faults);
        let mut take = |key: &str| {
            let queue = faults.get_mut(key)?;
            let fault = queue.pop_front();
            if queue.is_empty() {
                faults.remove(key);
            }
            fault
        };
        let fault = take(path).or_else(|| if wildcard { take(ANY_PATH) } else { None });
        if fault.is_some() {
            self.queued_faults.fetch_sub(1, Ordering::Relaxed);
        }
        fault
    }

    // ---- tokens ------------------------------------------------------------

    /// Salt of this instance's tokens, so tokens of different instances never match.
    pub(crate) fn token_salt(&self) -> &str {
        &self.token_salt
    }

    pub(crate) fn token_expire(&self) -> i64 {
        self.token_expire.load(Ordering::Relaxed)
    }

    pub(crate) fn set_token_expire(&self, secs: i64) {
        self.token_expire.store(secs, Ordering::Relaxed);
    }

    /// Issues a new token of `kind`; returns it with its `expire` in seconds.
    pub(crate) fn issue_token(&self, kind: TokenKind, tenant_key: Option<String>) -> (String, i64) {
        let expire = self.token_expire();
        let prefix = match kind {
            TokenKind::Tenant => "t-",
            TokenKind::App => "a-",
        };
        let token = format!("{prefix}mock{}g{}", self.token_salt, self.next_seq());
        let now = Instant::now();
        let lifetime = Duration::from_secs(expire.max(0).unsigned_abs());
        let expires_at = now
            .checked_add(lifetime)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        lock(&self.tokens).insert(
            token.clone(),
            TokenRecord {
                kind,
                tenant_key,
                expires_at,
                revoked: false,
            },
        );
        (token, expire)
    }

    /// `Some` if `token` was issued as `kind` and is neither revoked nor expired.
    pub(crate) fn check_token(&self, token: &str, kind: TokenKind) -> Option<TokenInfo> {
        let tokens = lock(&self.tokens);
        let rec = tokens.get(token)?;
        if rec.kind != kind || rec.revoked || Instant::now() >= rec.expires_at {
            return None;
        }
        Some(TokenInfo {
            tenant_key: rec.tenant_key.clone(),
        })
    }

    pub(crate) fn revoke_tokens(&self) {
        for rec in lock(&self.tokens).values_mut() {
            rec.revoked = true;
        }
    }

    pub(crate) fn app_ticket(&self) -> String {
        lock(&self.app_ticket).clone()
    }

    pub(crate) fn set_app_ticket(&self, ticket: &str) {
        *lock(&self.app_ticket) = ticket.to_owned();
    }

    // ---- lists -------------------------------------------------------------

    pub(crate) fn list_size(&self, path: &str) -> usize {
        lock(&self.list_sizes)
            .get(path)
            .copied()
            .unwrap_or(DEFAULT_LIST_SIZE)
    }

    pub(crate) fn set_list_size(&self, path: &str, total: usize) {
        lock(&self.list_sizes).insert(path.to_owned(), total);
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
    }

    #[test]
    fn fault_queues_are_fifo_and_wildcard_is_fallback() {
        let sh = Shared::new(1);
        assert!(sh.take_fault("/a", true).is_none());
        sh.push_fault("/a", Fault::ServerError(500));
        sh.push_fault("/a", Fault::ServerError(502));
        sh.push_fault(ANY_PATH, Fault::MalformedJson);
        assert!(matches!(
            sh.take_fault("/a", true),
            Some(Fault::ServerError(500))
        ));
        assert!(sh.take_fault("/b", false).is_none());
        assert!(matches!(
            sh.take_fault("/b", true),
            Some(Fault::MalformedJson)
        ));
        assert!(matches!(
            sh.take_fault("/a", true),
            Some(Fault::ServerError(502))
        ));
        assert!(sh.take_fault("/a", true).is_none());
    }

    #[test]
    fn log_ids_are_unique_ascii() {
        let sh = Shared::new(8080);
        let a = sh.next_log_id();
        let b = sh.next_log_id();
        assert_ne!(a, b);
        assert!(a.is_ascii() && a.contains("mock08080"));
    }
}
