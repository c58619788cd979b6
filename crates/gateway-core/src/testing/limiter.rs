//! A rate limiter that counts in memory, `limit` requests per key, for native tests of what
//! the gateway does with a limiter's answers (the Workers binding itself is tested in the
//! built Worker, `tests/ratelimit.test.mjs`).

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::LocalBoxFuture;

use crate::ratelimit::RateLimiter;

#[derive(Default)]
pub struct CountingLimiter {
    pub limit: u32,
    /// Requests counted per key.
    pub counts: RefCell<HashMap<String, u32>>,
    /// Answer with an error instead, as a failing binding would.
    pub broken: std::cell::Cell<bool>,
}

impl CountingLimiter {
    pub fn new(limit: u32) -> CountingLimiter {
        CountingLimiter { limit, ..CountingLimiter::default() }
    }
}

impl RateLimiter for CountingLimiter {
    fn limit<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, std::result::Result<bool, String>> {
        Box::pin(async move {
            if self.broken.get() {
                return Err("the limiter is unreachable".to_owned());
            }
            let mut counts = self.counts.borrow_mut();
            let count = counts.entry(key.to_owned()).or_default();
            if *count >= self.limit {
                return Ok(false);
            }
            *count += 1;
            Ok(true)
        })
    }
}
