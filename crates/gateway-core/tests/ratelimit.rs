//! Rate limits: a caller's requests counted by its verified identity, requests without a token
//! by the client address, `429 rate_limited` with `Retry-After` once a limit is spent, and no
//! limits at all when the deployment binds no limiter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::ratelimit::retry_after_s;
use serde_json::json;

fn alice() -> String {
    token("alice", json!({}))
}

#[test]
fn a_caller_past_its_limit_is_refused_429_with_retry_after_and_other_callers_are_not() {
    let w = World::with_rate_limit(config(), 2);
    for _ in 0..2 {
        assert_eq!(w.send(Req::get("/files").bearer(&alice())).reply.status, 200);
    }
    let (h, read) = w.send_unread(Req::put("/files/alice/a.txt", b"bytes").bearer(&alice()));
    assert_problem(&h, 429, "rate_limited");
    assert!(!read, "a refused upload read its body");
    let retry: u64 = h.reply.header("Retry-After").unwrap().parse().unwrap();
    assert_eq!(retry, retry_after_s(NOW_MS, 60));
    assert!((1..=60).contains(&retry));
    assert!(w.object("alice/a.txt").is_none());
    let bob = token("bob", json!({}));
    assert_eq!(w.send(Req::get("/files").bearer(&bob)).reply.status, 200, "another caller was limited");
}

#[test]
fn the_caller_is_counted_by_its_verified_identity_not_by_its_token() {
    let w = World::with_rate_limit(config(), 1);
    assert_eq!(w.send(Req::get("/files").bearer(&alice())).reply.status, 200);
    // A fresh token for the same caller counts against the same limit.
    let again = token("alice", json!({"jti": "another"}));
    assert_problem(&w.send(Req::get("/files").bearer(&again)), 429, "rate_limited");
    // An invalid token is refused for what it is, and counts against nobody.
    assert_problem(&w.send(Req::get("/files").bearer("not-a-token")), 401, "invalid_token");
    let counted: u32 = w.limiters.as_ref().unwrap().0.counts.borrow().values().sum();
    assert_eq!(counted, 1);
}

#[test]
fn requests_without_a_token_are_counted_by_client_address_before_their_body() {
    let w = World::with_rate_limit(config(), 1);
    let form = |ip: &str| {
        Req::new(http::Method::POST, "/form")
            .header("cf-connecting-ip", ip)
            .header("content-type", "multipart/form-data; boundary=x")
            .body(b"--x--\r\n")
    };
    assert_ne!(w.send(form("192.0.2.1")).reply.status, 429);
    let (h, read) = w.send_unread(form("192.0.2.1"));
    assert_problem(&h, 429, "rate_limited");
    assert!(!read, "a refused form read its body");
    assert_ne!(w.send(form("192.0.2.2")).reply.status, 429, "another address was limited");
    let keys: Vec<String> = w.limiters.as_ref().unwrap().1.counts.borrow().keys().cloned().collect();
    assert!(keys.iter().all(|k| k.starts_with("address:")), "{keys:?}");
}

#[test]
fn a_failing_limiter_lets_requests_through() {
    let w = World::with_rate_limit(config(), 0);
    w.limiters.as_ref().unwrap().0.broken.set(true);
    assert_eq!(w.send(Req::get("/files").bearer(&alice())).reply.status, 200);
}

#[test]
fn without_limiters_nothing_is_limited() {
    let w = World::default_config();
    for _ in 0..50 {
        assert_eq!(w.send(Req::get("/files").bearer(&alice())).reply.status, 200);
    }
}

#[test]
fn retry_after_is_the_rest_of_the_current_period_and_at_least_a_second() {
    assert_eq!(retry_after_s(0, 60), 60);
    assert_eq!(retry_after_s(59_001, 60), 1);
    assert_eq!(retry_after_s(59_999, 60), 1);
    assert_eq!(retry_after_s(60_000, 60), 60);
    assert_eq!(retry_after_s(12_500, 10), 8);
}

#[test]
fn the_rate_limit_period_is_10_or_60_seconds() {
    assert_eq!(config_with(&[("RATE_LIMIT_PERIOD_SECONDS", "10")]).rate_limit_period_s, 10);
    assert_eq!(config().rate_limit_period_s, 60);
    let err = try_config(&[("JWT_SECRET", SECRET), ("RATE_LIMIT_PERIOD_SECONDS", "30")]).unwrap_err();
    assert_names(&err, "RATE_LIMIT_PERIOD_SECONDS");
}
