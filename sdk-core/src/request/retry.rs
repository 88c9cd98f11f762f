//! Retry policy, backoff and the client-wide retry budget.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// When and how often a failed call is tried again.
///
/// Retried: connection failures before the request was sent (any method); rate limits
/// (HTTP 429, or codes 99991400 / 11232: the platform did not process the call); codes the
/// platform says to try again (1061045 resource contention, 20050 token service error), any
/// method; transient server errors (HTTP 5xx, codes 1500 / 1503 / 1551 / 1557), timeouts
/// and connections dropped mid-call, for idempotent methods
/// (GET, HEAD, PUT, DELETE, OPTIONS) unless [`RetryPolicy::retry_non_idempotent`] is set.
/// A token rejected as invalid is evicted and the call replayed once, outside this policy.
///
/// Waits are exponential with full jitter, capped by `max_backoff`; after a rate limit the
/// wait is the platform's `x-ogw-ratelimit-reset` (plus jitter) when it sends one, and the
/// call fails at once if that is longer than `max_rate_limit_wait`. Every retry also draws
/// from a budget shared by the client (as the AWS SDKs' standard mode does), so that during
/// an outage retries stop instead of multiplying the load.
///
/// ```
/// use std::time::Duration;
/// use lark_oapi_core::RetryPolicy;
/// let policy = RetryPolicy::default().max_retries(5).max_backoff(Duration::from_secs(2));
/// let none = RetryPolicy::disabled();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_rate_limit_wait: Duration,
    pub(crate) retry_non_idempotent: bool,
    pub(crate) budget: Option<u32>,
    pub(crate) max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    /// 3 retries, 100 ms initial backoff, 5 s cap, rate-limit waits up to 30 s, a budget of 500.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(30),
            retry_non_idempotent: false,
            budget: Some(DEFAULT_BUDGET),
            max_elapsed: None,
        }
    }
}

pub(crate) const DEFAULT_BUDGET: u32 = 500;
const RETRY_COST: u32 = 5;
const TIMEOUT_RETRY_COST: u32 = 10;

impl RetryPolicy {
    /// No retries at all (the invalid-token replay still happens once).
    pub fn disabled() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Maximum number of retries after the first attempt.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// First backoff; doubles each retry (with full jitter).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Upper bound of one backoff.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Longest rate-limit wait the client accepts before giving up with the rate-limit error.
    pub fn max_rate_limit_wait(mut self, d: Duration) -> Self {
        self.max_rate_limit_wait = d;
        self
    }

    /// Also retry POST and PATCH on 5xx, timeouts and dropped connections (may duplicate
    /// side effects such as sent messages; off by default).
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// A bound on the whole call, retries included: no retry whose wait would end later
    /// than this after the call began (the last attempt still has its own timeout). Off by
    /// default; the per-attempt timeout and `max_retries` bound the call then.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lark_oapi_core::RetryPolicy;
    /// let policy = RetryPolicy::default().max_elapsed(Duration::from_secs(10));
    /// ```
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = Some(d);
        self
    }

    /// Size of the client-wide retry budget (each retry costs 5, a retry after a timeout 10;
    /// each success refunds). `None` removes the budget. Taken from the client's policy only.
    pub fn budget(mut self, capacity: Option<u32>) -> Self {
        self.budget = capacity;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.initial_backoff > self.max_backoff {
            return Err(Error::Config(format!(
                "retry initial_backoff {:?} is larger than max_backoff {:?}",
                self.initial_backoff, self.max_backoff
            )));
        }
        if self.budget == Some(0) {
            return Err(Error::Config(
                "a retry budget of 0 allows no retry; use RetryPolicy::disabled() or budget(None)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Full-jitter exponential backoff for retry number `retry` (0-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max_backoff);
        jitter(exp)
    }
}

/// A random duration in `[d/2, d]`: spreads retries while keeping a floor.
pub(crate) fn jitter(d: Duration) -> Duration {
    let nanos = d.as_nanos().min(u64::MAX as u128) as u64;
    if nanos < 2 {
        return d;
    }
    Duration::from_nanos(nanos / 2 + fastrand::u64(0..=nanos / 2))
}

/// The client-wide retry budget (a token bucket).
#[derive(Debug)]
pub(crate) struct RetryBudget {
    capacity: u32,
    available: AtomicU32,
}

impl RetryBudget {
    pub(crate) fn new(capacity: Option<u32>) -> Self {
        let capacity = capacity.unwrap_or(u32::MAX);
        Self {
            capacity,
            available: AtomicU32::new(capacity),
        }
    }

    /// Takes the cost of one retry; `None` if the budget is spent.
    pub(crate) fn acquire(&self, after_timeout: bool) -> Option<u32> {
        let cost = if after_timeout {
            TIMEOUT_RETRY_COST
        } else {
            RETRY_COST
        };
        self.available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| a.checked_sub(cost))
            .ok()
            .map(|_| cost)
    }

    /// A call succeeded: refund what its retries cost, or 1 if it needed none.
    pub(crate) fn release(&self, spent: u32) {
        let refund = if spent == 0 { 1 } else { spent };
        let cap = self.capacity;
        let _ = self
            .available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| {
                (a < cap).then(|| a.saturating_add(refund).min(cap))
            });
    }

    pub(crate) fn available(&self) -> u32 {
        self.available.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350));
        for _ in 0..50 {
            let b0 = p.backoff(0);
            assert!(b0 >= Duration::from_millis(50) && b0 <= Duration::from_millis(100));
            let b5 = p.backoff(5);
            assert!(b5 >= Duration::from_millis(175) && b5 <= Duration::from_millis(350));
        }
        // huge retry numbers do not overflow
        assert!(p.backoff(u32::MAX) <= Duration::from_millis(350));
    }

    #[test]
    fn budget_runs_out_and_refills() {
        let b = RetryBudget::new(Some(12));
        assert_eq!(b.acquire(false), Some(5));
        assert_eq!(b.acquire(false), Some(5));
        assert_eq!(b.acquire(false), None, "2 left, a retry costs 5");
        assert_eq!(b.acquire(true), None);
        b.release(5);
        assert_eq!(b.available(), 7);
        b.release(0);
        assert_eq!(b.available(), 8);
        for _ in 0..10 {
            b.release(5);
        }
        assert_eq!(b.available(), 12, "never above capacity");
    }

    #[test]
    fn invalid_policies_are_config_errors() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_secs(10))
            .max_backoff(Duration::from_secs(1));
        assert!(matches!(p.validate(), Err(Error::Config(m)) if m.contains("initial_backoff")));
        assert!(RetryPolicy::default().budget(Some(0)).validate().is_err());
    }
}
