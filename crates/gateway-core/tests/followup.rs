//! The follow-up runs after the client has its 201: it must catch Content-Type spoofing and
//! record the verdict on the right row, deliver a webhook event whose signature receivers can
//! verify with `webhook::sign`, and report — never panic or fail — when anything goes wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::config::Config;
use gateway_core::followup::{run, FollowUp, FollowUpReport};
use gateway_core::testing::RecordingSender;
use gateway_core::time::rfc3339;
use gateway_core::webhook::sign;
use serde_json::{json, Value};

const HOOK_URL: &str = "https://hooks.example/uploads";
const HOOK_SECRET: &str = "whsec-test-0123456789";
const LATER_MS: i64 = NOW_MS + 2_500;

fn hook_config() -> Config {
    config_with(&[("WEBHOOK_URL", HOOK_URL), ("WEBHOOK_SECRET", HOOK_SECRET)])
}

fn sender(status: u16) -> RecordingSender {
    let s = RecordingSender::default();
    s.status.set(status);
    s
}

fn follow(w: &World, s: &RecordingSender, job: &FollowUp) -> FollowUpReport {
    futures_executor::block_on(run(&w.store, &w.meta, s, w.config.webhook.as_ref(), job, LATER_MS))
}

#[test]
fn png_declared_as_text_plain_is_detected_and_recorded_as_a_mismatch() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    let report = follow(&w, &sender(200), &job);
    assert_eq!(report.detected, Some("image/png"));
    assert_eq!(report.matches, Some(false));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let row = w.row("alice/notes.txt").unwrap();
    assert_eq!(row.detected_type.as_deref(), Some("image/png"));
    assert_eq!(row.type_matches, Some(false));
}

#[test]
fn honest_upload_is_recorded_as_a_match() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/cat.png", "image/png", PNG);
    let report = follow(&w, &sender(200), &job);
    assert_eq!((report.detected, report.matches), (Some("image/png"), Some(true)));
    let row = w.row("alice/cat.png").unwrap();
    assert_eq!((row.detected_type.as_deref(), row.type_matches), (Some("image/png"), Some(true)));
}

#[test]
fn unknown_binary_gets_no_verdict() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/blob", "application/x-custom", b"\x00\x01\x02\xfe\xff");
    let report = follow(&w, &sender(200), &job);
    assert_eq!((report.detected, report.matches), (None, None));
    let row = w.row("alice/blob").unwrap();
    assert_eq!((row.detected_type, row.type_matches), (None, None));
}

#[test]
fn verdict_shows_up_in_the_listing() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/fake.jpg", "image/jpeg", PNG);
    follow(&w, &sender(200), &job);
    let h = w.send(Req::get("/files").bearer(&token("alice", json!({}))));
    let item = &json_body(&h.reply)["items"][0];
    assert_eq!(item["detected_type"], "image/png");
    assert_eq!(item["type_matches"], false);
}

#[test]
fn stale_follow_up_does_not_overwrite_a_newer_uploads_row() {
    let w = World::default_config();
    let old_job = w.upload("alice", "alice/file", "text/plain", b"plain text");
    w.upload_at(NOW_MS + 1000, "alice", "alice/file", "text/plain", PNG);
    // The old job now reads the new bytes, but its etag no longer matches the row.
    follow(&w, &sender(200), &old_job);
    let row = w.row("alice/file").unwrap();
    assert_eq!((row.detected_type, row.type_matches), (None, None));
}

#[test]
fn webhook_body_signature_verifies_with_webhook_sign() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    let s = sender(204);
    let report = follow(&w, &s, &job);
    assert_eq!(report.webhook_status, Some(204));
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let sent = s.sent.borrow();
    assert_eq!(sent.len(), 1);
    let (url, signature, body) = &sent[0];
    assert_eq!(url, HOOK_URL);
    assert_eq!(signature, &sign(HOOK_SECRET.as_bytes(), body.as_bytes()));
    assert!(signature.starts_with("sha256=") && signature.len() == 7 + 64);
    // Signed under another secret, or over another body, it would not verify.
    assert_ne!(signature, &sign(b"wrong-secret", body.as_bytes()));
    assert_ne!(signature, &sign(HOOK_SECRET.as_bytes(), body.replace("alice", "mallory").as_bytes()));
}

#[test]
fn webhook_event_describes_the_upload_and_the_verdict() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    let s = sender(200);
    follow(&w, &s, &job);
    let body: Value = serde_json::from_str(&s.sent.borrow()[0].2).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "object.uploaded",
            "key": "alice/notes.txt",
            "owner": "alice",
            "size": PNG.len(),
            "etag": job.etag,
            "content_type": "text/plain",
            "detected_type": "image/png",
            "type_matches": false,
            "uploaded_at": rfc3339(NOW_MS),
            "sent_at": rfc3339(LATER_MS),
        })
    );
}

#[test]
fn webhook_error_status_is_reported_in_problems() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let report = follow(&w, &sender(500), &job);
    assert_eq!(report.webhook_status, Some(500));
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("500"), "{:?}", report.problems);
    // Detection still happened.
    assert_eq!(w.row("alice/a.txt").unwrap().type_matches, Some(true));
}

#[test]
fn unreachable_webhook_is_reported_in_problems_without_panicking() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let s = sender(0); // the fake answers "connection refused"
    let report = follow(&w, &s, &job);
    assert_eq!(report.webhook_status, None);
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("connection refused"), "{:?}", report.problems);
    assert_eq!(s.sent.borrow().len(), 1);
    assert_eq!(report.detected, Some("text/plain"));
}

#[test]
fn without_webhook_configuration_nothing_is_sent() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert!(s.sent.borrow().is_empty());
    assert_eq!(report.webhook_status, None);
    assert!(report.problems.is_empty());
}

#[test]
fn object_deleted_before_inspection_is_reported_and_the_webhook_still_goes_out() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    w.store.objects.borrow_mut().clear();
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert_eq!((report.detected, report.matches), (None, None));
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("gone"), "{:?}", report.problems);
    let body: Value = serde_json::from_str(&s.sent.borrow()[0].2).unwrap();
    assert_eq!(body["detected_type"], Value::Null);
    assert_eq!(report.webhook_status, Some(200));
}

#[test]
fn database_failure_while_recording_is_reported_not_raised() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    w.meta.fail_writes.set(true);
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert_eq!(report.detected, Some("image/png"));
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("database"), "{:?}", report.problems);
    assert_eq!(s.sent.borrow().len(), 1, "the webhook is still delivered");
    assert_eq!(w.row("alice/notes.txt").unwrap().type_matches, None);
}

#[test]
fn sniffing_looks_only_at_the_first_512_bytes() {
    // A NUL far into the object does not turn leading text into "unknown binary".
    let w = World::default_config();
    let mut body = vec![b'a'; 600];
    body.push(0);
    let job = w.upload("alice", "alice/log.txt", "text/plain", &body);
    let report = follow(&w, &sender(200), &job);
    assert_eq!((report.detected, report.matches), (Some("text/plain"), Some(true)));
}
