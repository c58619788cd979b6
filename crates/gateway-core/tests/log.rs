//! What operators read: every answer carries the request's id (also in problem bodies), and
//! the request's log line is one JSON object with the fields Workers Logs filters on, and never
//! a token, a signature or a query string.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::log::{request_line, route_name, Line};
use http::Method;
use serde_json::{json, Value};

#[test]
fn every_answer_carries_its_request_id_and_a_problem_body_names_it_too() {
    let w = World::default_config();
    let ok = w.send(Req::put("/files/alice/a.txt", b"hi").bearer(&token("alice", json!({}))));
    let id = ok.reply.header("X-Request-Id").expect("a 201 without X-Request-Id").to_owned();
    assert!(id.starts_with("req-"), "{id}");
    let refused = w.send(Req::put("/files/alice/a.txt", b"hi"));
    let rid = refused.reply.header("X-Request-Id").expect("a 401 without X-Request-Id").to_owned();
    assert_ne!(rid, id, "each request has an id of its own");
    assert_eq!(json_body(&refused.reply)["request_id"], Value::String(rid));
    assert_eq!(refused.reply.headers.iter().filter(|(n, _)| *n == "X-Request-Id").count(), 1);
}

#[test]
fn a_request_line_is_json_with_route_status_code_key_bytes_and_duration() {
    let req = Req::put("/files/alice/docs/a.txt", b"hello").bearer("secret.token.value");
    let err = GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "S3 put: HTTP 500");
    let line: Value = serde_json::from_str(&request_line(&req.head, "req-1", 502, Some(&err), 42).json()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "request");
    assert_eq!(line["request_id"], "req-1");
    assert_eq!(line["method"], "PUT");
    assert_eq!(line["route"], "upload");
    assert_eq!(line["status"], 502);
    assert_eq!(line["code"], "storage_error");
    assert_eq!(line["key"], "alice/docs/a.txt");
    assert_eq!(line["bytes"], 5);
    assert_eq!(line["duration_ms"], 42);
    assert!(line["detail"].as_str().unwrap().contains("S3 put: HTTP 500"), "the internal cause is for the log");
}

#[test]
fn a_log_line_never_holds_a_token_a_signature_or_a_query_string() {
    let signed = "/files/alice/a.txt?method=PUT&expires=9&owner=alice&nonce=n&signature=deadbeefsignature";
    let req = Req::new(Method::PUT, signed).bearer("eyJhbGciOiJIUzI1NiJ9.payload.sig").header("content-length", "3");
    for status in [201, 403] {
        let text = request_line(&req.head, "req-2", status, None, 1).json();
        for secret in ["deadbeefsignature", "eyJhbGciOiJIUzI1NiJ9", "nonce=", "?"] {
            assert!(!text.contains(secret), "{text} holds {secret}");
        }
    }
}

#[test]
fn routes_have_stable_names_for_the_log() {
    let name = |m: Method, p: &str| route_name(&Req::new(m, p).head).0;
    assert_eq!(name(Method::PUT, "/files/a/b"), Some("upload"));
    assert_eq!(name(Method::PUT, "/files/a/b?uploadId=x&partNumber=1"), Some("multipart.part"));
    assert_eq!(name(Method::POST, "/files/a/b?uploads"), Some("multipart"));
    assert_eq!(name(Method::POST, "/files/a/b/confirm"), Some("confirm"));
    assert_eq!(name(Method::PATCH, "/tus/abc"), Some("tus.patch"));
    assert_eq!(name(Method::GET, "/nowhere"), None);
    assert_eq!(Line::new("info", "sweep").json(), r#"{"level":"info","msg":"sweep"}"#);
}

#[test]
fn a_request_becomes_one_metrics_data_point_in_the_documented_column_order() {
    use gateway_core::metrics::request_point;
    let req = Req::put("/files/alice/a.txt", b"hello").bearer("t");
    let refused = GatewayError::new(ErrorKind::PayloadTooLarge, "too big");
    let point = request_point(&request_line(&req.head, "req-3", 413, Some(&refused), 7), "s3");
    assert_eq!(point.indexes, vec!["upload"]);
    assert_eq!(point.blobs, vec!["upload", "4xx", "payload_too_large", "s3", "PUT"]);
    assert_eq!(point.doubles, vec![413.0, 5.0, 7.0]);
    let ok = request_point(&request_line(&req.head, "req-4", 201, None, 3), "r2");
    assert_eq!(ok.blobs[1..4], ["2xx".to_owned(), String::new(), "r2".to_owned()]);
}

#[test]
fn each_delivery_attempt_becomes_one_event_data_point_in_the_documented_column_order() {
    use gateway_core::events::Delivery;
    use gateway_core::metrics::event_point;
    let point = event_point(Delivery::Retried, "object.uploaded", "r2", Some(503), 2, 41);
    assert_eq!(point.indexes, vec!["event"]);
    assert_eq!(point.blobs, vec!["event", "retried", "object.uploaded", "r2"]);
    assert_eq!(point.doubles, vec![503.0, 2.0, 41.0]);
    let names: Vec<_> =
        [Delivery::Delivered, Delivery::Retried, Delivery::DeadLettered, Delivery::Rejected].map(Delivery::name).into();
    assert_eq!(names, ["delivered", "retried", "dead_lettered", "rejected"]);
    let unreachable = event_point(Delivery::DeadLettered, "object.deleted", "s3", None, 11, 10_000);
    assert_eq!(unreachable.doubles[0], 0.0);
}

/// Pending once, then ready: lets another future run in between, as concurrent requests do.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

#[test]
fn interleaved_requests_each_get_only_their_own_problems() {
    use gateway_core::log::{error, scoped};
    let request = |name: &'static str| {
        scoped(async move {
            error(&format!("{name}: first"));
            YieldOnce(false).await;
            error(&format!("{name}: second"));
        })
    };
    let ((_, a), (_, b)) = futures_executor::block_on(futures_util::future::join(request("a"), request("b")));
    assert_eq!(a, vec!["a: first", "a: second"]);
    assert_eq!(b, vec!["b: first", "b: second"]);
}
