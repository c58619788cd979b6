//! Request rate limits, counted by the edge's limiters (the Workers Rate Limiting binding): a
//! caller's requests by its verified identity, and requests without a token (signed gateway
//! URLs, form POSTs) by the client's address. A limiter that is not bound limits nothing; one
//! that fails lets the request through (a counter outage must not stop uploads) and is logged.

use futures_util::future::LocalBoxFuture;

use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::Grant;
use crate::http::RequestHead;

/// One limiter: `true` while `key` is within its limit for the current period (and counts
/// this request against it).
pub trait RateLimiter {
    fn limit<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, std::result::Result<bool, String>>;
}

/// The limiters a deployment has and the period they count over.
#[derive(Clone, Copy, Default)]
pub struct Limits<'a> {
    /// Counts each caller's requests (binding `RATE_LIMIT_CALLERS`).
    pub callers: Option<&'a dyn RateLimiter>,
    /// Counts each client address's requests without a token (binding `RATE_LIMIT_ADDRESSES`).
    pub addresses: Option<&'a dyn RateLimiter>,
    /// The limiters' period in seconds (`RATE_LIMIT_PERIOD_SECONDS`: 10 or 60, as the binding's).
    pub period_s: u32,
}

/// Who a request counts against.
pub enum Subject<'s> {
    /// A caller with a verified token.
    Caller(&'s Grant),
    /// A request without a token, by the client address Cloudflare saw.
    Address(&'s RequestHead),
}

impl Subject<'_> {
    /// The limiter's key: the caller's `sub`, or the `CF-Connecting-IP` header (which
    /// Cloudflare sets on every request; a client cannot choose it).
    fn key(&self) -> String {
        match self {
            Subject::Caller(grant) => format!("caller:{}", grant.sub),
            Subject::Address(head) => format!("address:{}", head.header("cf-connecting-ip").unwrap_or("unknown")),
        }
    }
}

impl Limits<'_> {
    /// Counts this request against `subject`'s limit: `429 rate_limited` once it is spent.
    pub async fn check(&self, subject: Subject<'_>, now_ms: i64) -> Result<()> {
        let limiter = match subject {
            Subject::Caller(_) => self.callers,
            Subject::Address(_) => self.addresses,
        };
        let Some(limiter) = limiter else { return Ok(()) };
        match limiter.limit(&subject.key()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(GatewayError::new(
                ErrorKind::RateLimited,
                format!("too many requests; retry in {} s (Retry-After)", retry_after_s(now_ms, self.period_s)),
            )),
            Err(e) => {
                crate::log::error(&format!("the rate limiter failed, the request was let through: {e}"));
                Ok(())
            }
        }
    }
}

/// Seconds until the current period ends: the limiters count in fixed windows of the period,
/// aligned to the Unix epoch, so a refused caller is counted afresh then. At least 1.
pub fn retry_after_s(now_ms: i64, period_s: u32) -> u64 {
    let period_ms = i64::from(period_s.max(1)) * 1000;
    let left_ms = period_ms - now_ms.rem_euclid(period_ms);
    u64::try_from(left_ms.div_euclid(1000) + i64::from(left_ms % 1000 != 0)).unwrap_or(1).max(1)
}
