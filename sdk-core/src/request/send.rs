//! The request path, top to bottom. [`Runtime::execute`] checks the call before any I/O,
//! then, per attempt: picks the token ([`Runtime::authorization`]), runs one exchange
//! ([`exchange::attempt`]) and, when it fails, decides what comes next
//! ([`Runtime::after_failure`]): replay once with a fresh token, back off and try again, or
//! return the error.
//!
//! Non-generic on purpose: compiled once, whatever the number of typed endpoints on top.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderValue;
use tracing::Instrument as _;

use crate::auth::TokenKind;
use crate::auth::manager::{Platform, TokenManager};
use crate::config::Config;
use crate::error::{AuthErrorKind, Error, Result};
use crate::request::RequestSpec;
use crate::request::exchange::{self, Delivered, Retry, bearer_header};
use crate::request::retry::{RetryBudget, RetryPolicy, jitter};
use crate::response::RawResponse;
use crate::secret::SecretString;

/// What a [`Client`](crate::Client) holds behind its `Arc`: the configuration, the token
/// manager and the client-wide retry budget, and the pipeline that uses them.
pub(crate) struct Runtime {
    pub(crate) config: Config,
    pub(crate) tokens: TokenManager,
    pub(crate) budget: RetryBudget,
}

/// The token put on one attempt, and where it came from.
struct Auth {
    header: HeaderValue,
    fetched: Option<(TokenKind, Option<String>, SecretString)>,
    /// The user token from `on_behalf_of`, to refresh if the platform rejects it.
    user: Option<SecretString>,
}

/// What one call keeps from attempt to attempt.
struct Attempts<'a> {
    spec: &'a RequestSpec,
    policy: &'a RetryPolicy,
    idempotent: bool,
    started: Instant,
    retries: u32,
    /// Retry-budget tokens taken, given back on success.
    spent: u32,
    token_replayed: bool,
}

/// What follows a failed attempt.
enum Next {
    /// Send again now (with a new token).
    Replay,
    /// Send again after this delay.
    Wait(Duration),
    /// Return the error.
    Fail,
}

impl Platform for Runtime {
    fn config(&self) -> &Config {
        &self.config
    }

    fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    fn send_buffered<'a>(
        &'a self,
        spec: &'a RequestSpec,
    ) -> Pin<Box<dyn Future<Output = Result<RawResponse>> + Send + 'a>> {
        Box::pin(async move {
            match self.execute(spec, false).await? {
                Delivered::Buffered(raw) => Ok(raw),
                Delivered::Streaming { .. } => unreachable!("buffered mode never streams"),
            }
        })
    }
}

impl Runtime {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            tokens: TokenManager::new(&config),
            budget: RetryBudget::new(config.retry.budget),
            config,
        }
    }

    /// Sends `spec`, retrying per policy; `stream` leaves a 2xx non-JSON body unread.
    pub(crate) async fn execute(&self, spec: &RequestSpec, stream: bool) -> Result<Delivered> {
        let span = tracing::info_span!(
            "lark_request",
            method = %spec.method,
            path = %spec.path,
            status = tracing::field::Empty,
            log_id = tracing::field::Empty,
            retries = tracing::field::Empty,
        );
        self.execute_in_span(spec, stream).instrument(span).await
    }

    async fn execute_in_span(&self, spec: &RequestSpec, stream: bool) -> Result<Delivered> {
        check_before_io(spec)?;
        let url = exchange::url_for(&self.config, spec)?;
        // An absolute URL elsewhere (a link from a message, say) never gets a token the SDK
        // fetched: it would hand the app's credentials to that host.
        let foreign_host = (spec.path.starts_with("https://") || spec.path.starts_with("http://"))
            && url.origin() != self.config.base.origin();
        let extra_headers = exchange::extra_headers(spec)?;
        if !spec.options.pace.is_empty() {
            self.config.pacer.acquire_all(&spec.options.pace).await?;
        }
        let timeout = spec.options.timeout.or(self.config.timeout);
        let mut call = Attempts {
            spec,
            policy: spec.options.retry.as_ref().unwrap_or(&self.config.retry),
            idempotent: matches!(
                spec.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            ),
            started: Instant::now(),
            retries: 0,
            spent: 0,
            token_replayed: false,
        };
        loop {
            let auth = self.authorization(spec, foreign_host).await?;
            let authorization = auth.as_ref().map(|a| &a.header);
            let request =
                exchange::build_request(&self.config, spec, &url, authorization, &extra_headers)
                    .await?;
            let span = tracing::Span::current();
            span.record("retries", call.retries);
            let (error, retry) =
                match exchange::attempt(&self.config, spec, request, timeout, stream).await {
                    Ok(delivered) => {
                        self.budget.release(call.spent);
                        if let Delivered::Buffered(raw) = &delivered {
                            span.record("status", raw.status);
                            if let Some(id) = &raw.log_id {
                                span.record("log_id", id.as_str());
                            }
                        }
                        tracing::debug!(retries = call.retries, "request succeeded");
                        return Ok(delivered);
                    }
                    Err(failed) => failed,
                };
            if let Some(status) = error.http_status() {
                span.record("status", status);
            }
            if let Some(id) = error.log_id() {
                span.record("log_id", id);
            }
            match self
                .after_failure(&mut call, auth.as_ref(), &error, retry)
                .await?
            {
                Next::Replay => {}
                Next::Wait(delay) => tokio::time::sleep(delay).await,
                Next::Fail => return Err(error),
            }
        }
    }

    /// What follows an attempt that failed with `error`, as the exchange classified it.
    async fn after_failure(
        &self,
        call: &mut Attempts<'_>,
        auth: Option<&Auth>,
        error: &Error,
        retry: Retry,
    ) -> Result<Next> {
        Ok(match retry {
            Retry::TokenInvalid if !call.token_replayed => {
                if self.renew_rejected_token(call.spec, auth, error).await? {
                    call.token_replayed = true;
                    Next::Replay
                } else {
                    Next::Fail
                }
            }
            Retry::No | Retry::TokenInvalid => Next::Fail,
            Retry::Backoff {
                after_timeout,
                rate_limit_wait,
                needs_idempotent,
            } => match self.backoff_delay(
                call,
                error,
                after_timeout,
                rate_limit_wait,
                needs_idempotent,
            ) {
                Some(delay) => Next::Wait(delay),
                None => Next::Fail,
            },
        })
    }

    /// The platform rejected the token: refresh the user's (from `on_behalf_of`) or evict
    /// the fetched one. `true` when the call can be replayed with the new one (a body read
    /// from a stream cannot: the next call gets the new token).
    async fn renew_rejected_token(
        &self,
        spec: &RequestSpec,
        auth: Option<&Auth>,
        error: &Error,
    ) -> Result<bool> {
        if let (
            Some(Auth {
                user: Some(token), ..
            }),
            Some((users, key)),
        ) = (auth, &spec.options.on_behalf_of)
        {
            tracing::info!(
                code = error.code(),
                "user access token rejected: refreshing it and replaying once"
            );
            // A refresh that fails says more (e.g. "authorize the user again") than the
            // rejection.
            users.refresh_rejected(key, token).await?;
            return Ok(spec.body.replayable());
        }
        if let Some(Auth {
            fetched: Some((kind, tenant_key, token)),
            ..
        }) = auth
        {
            tracing::info!(
                code = error.code(),
                "access token rejected: evicting it and replaying once"
            );
            self.tokens
                .invalidate(self, *kind, tenant_key.as_deref(), token)
                .await;
            return Ok(spec.body.replayable());
        }
        Ok(false)
    }

    /// How long to wait before trying again, or `None` to give up: the policy's retry count,
    /// idempotency, a replayable body, the rate limit's reset, `max_elapsed` and the
    /// client-wide budget all have a say.
    fn backoff_delay(
        &self,
        call: &mut Attempts<'_>,
        error: &Error,
        after_timeout: bool,
        rate_limit_wait: Option<Duration>,
        needs_idempotent: bool,
    ) -> Option<Duration> {
        let policy = call.policy;
        if call.retries >= policy.max_retries
            || (needs_idempotent && !call.idempotent && !policy.retry_non_idempotent)
            || !call.spec.body.replayable()
        {
            return None;
        }
        let delay = match rate_limit_wait {
            Some(wait) if wait > policy.max_rate_limit_wait => {
                tracing::warn!(
                    ?wait,
                    "rate limited for longer than max_rate_limit_wait: giving up"
                );
                return None;
            }
            Some(wait) => wait.saturating_add(jitter(Duration::from_millis(100))),
            None => policy.backoff(call.retries),
        };
        if let Some(max) = policy.max_elapsed
            && call.started.elapsed().saturating_add(delay) > max
        {
            tracing::warn!(
                ?delay,
                ?max,
                "a retry would end past max_elapsed: giving up"
            );
            return None;
        }
        let Some(cost) = self.budget.acquire(after_timeout) else {
            tracing::warn!("retry budget exhausted: not retrying");
            return None;
        };
        call.spent += cost;
        call.retries += 1;
        tracing::info!(retry = call.retries, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
        Some(delay)
    }

    /// Picks the token for this attempt (see `RequestOptions` for the precedence).
    async fn authorization(&self, spec: &RequestSpec, foreign_host: bool) -> Result<Option<Auth>> {
        let o = &spec.options;
        // HTTP Basic with the app's credentials (the OAuth device authorization): set by the
        // SDK itself, never by a caller's header.
        if let Some(basic) = &o.basic_auth {
            let mut header =
                HeaderValue::from_str(&format!("Basic {}", basic.expose())).map_err(|_| {
                    Error::InvalidRequest("the app credentials are not header text".into())
                })?;
            header.set_sensitive(true);
            return Ok(Some(Auth {
                header,
                fetched: None,
                user: None,
            }));
        }
        if let Some(given) = o
            .user_access_token
            .as_ref()
            .or(if o.on_behalf_of.is_some() {
                None
            } else {
                o.tenant_access_token
                    .as_ref()
                    .or(o.app_access_token.as_ref())
            })
        {
            return Ok(Some(Auth {
                header: bearer_header(given)?,
                fetched: None,
                user: None,
            }));
        }
        if let Some((users, key)) = &o.on_behalf_of {
            let token = users.access_token(key).await?;
            return Ok(Some(Auth {
                header: bearer_header(&token)?,
                fetched: None,
                user: Some(token),
            }));
        }
        if foreign_host {
            tracing::debug!("absolute URL on another host: no fetched token attached");
            return Ok(None);
        }
        let types = spec.token_types;
        if types.is_none() {
            return Ok(None);
        }
        let kind = if types.contains(crate::TokenTypes::TENANT) {
            TokenKind::Tenant
        } else if types.contains(crate::TokenTypes::APP) {
            TokenKind::App
        } else {
            return Err(Error::auth(
                AuthErrorKind::UserTokenRequired,
                format!(
                    "{} {} accepts only a user_access_token; pass one with `.user_access_token(..)`",
                    spec.method, spec.path
                ),
            ));
        };
        let tenant_key = o.tenant_key.clone();
        let token = self.tokens.token(self, kind, tenant_key.as_deref()).await?;
        Ok(Some(Auth {
            header: self.tokens.bearer(kind, &token)?,
            fetched: Some((kind, tenant_key, token)),
            user: None,
        }))
    }
}

/// Mistakes kept while the call was built, and path parameters never filled.
fn check_before_io(spec: &RequestSpec) -> Result<()> {
    if let Some(message) = &spec.invalid {
        return Err(Error::InvalidRequest(message.clone()));
    }
    if let Some(param) = spec.path.split('/').find(|s| s.starts_with(':')) {
        return Err(Error::InvalidRequest(format!(
            "path parameter `{}` of {} was not set",
            &param[1..],
            spec.path
        )));
    }
    Ok(())
}
