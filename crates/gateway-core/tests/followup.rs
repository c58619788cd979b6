//! Delivering an event (the queue consumer's work, once per attempt): it must catch
//! Content-Type spoofing and record the verdict on the right row, post a webhook whose
//! signature, timestamp, event id and attempt a receiver can check, and say which failures are
//! worth another attempt — never panic or fail the upload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::config::Config;
use gateway_core::events::Event;
use gateway_core::followup::{deliver, FollowUp, Outcome, Report};
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

fn attempt(w: &World, s: &RecordingSender, event: &Event, n: u32) -> Report {
    futures_executor::block_on(deliver(&w.store, &w.meta, s, w.config.webhook.as_ref(), event, n, LATER_MS))
}

fn follow(w: &World, s: &RecordingSender, job: &FollowUp) -> Report {
    attempt(w, s, &job.event, 1)
}

fn detected(report: &Report) -> (Option<&str>, Option<bool>) {
    let d = report.detection.as_ref().expect("an upload event is inspected");
    (d.detected_type.as_deref(), d.type_matches)
}

#[test]
fn png_declared_as_text_plain_is_detected_and_recorded_as_a_mismatch() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    let report = follow(&w, &sender(200), &job);
    assert_eq!(detected(&report), (Some("image/png"), Some(false)));
    assert_eq!(report.outcome, Outcome::Delivered(None));
    let row = w.row("alice/notes.txt").unwrap();
    assert_eq!(row.detected_type.as_deref(), Some("image/png"));
    assert_eq!(row.type_matches, Some(false));
}

#[test]
fn honest_upload_is_recorded_as_a_match() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/cat.png", "image/png", PNG);
    let report = follow(&w, &sender(200), &job);
    assert_eq!(detected(&report), (Some("image/png"), Some(true)));
    let row = w.row("alice/cat.png").unwrap();
    assert_eq!((row.detected_type.as_deref(), row.type_matches), (Some("image/png"), Some(true)));
}

#[test]
fn unknown_binary_gets_no_verdict() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/blob", "application/x-custom", b"\x00\x01\x02\xfe\xff");
    let report = follow(&w, &sender(200), &job);
    assert_eq!(detected(&report), (None, None));
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
fn an_older_versions_event_does_not_touch_the_newer_uploads_row() {
    let w = World::default_config();
    let old_job = w.upload("alice", "alice/file", "text/plain", b"plain text");
    w.upload_at(NOW_MS + 1000, "alice", "alice/file", "text/plain", PNG);
    let report = follow(&w, &sender(200), &old_job);
    assert_eq!(detected(&report), (None, None));
    assert!(report.notes[0].contains("replaced or deleted"), "{:?}", report.notes);
    assert_eq!(report.outcome, Outcome::Delivered(None), "the event itself is still delivered");
    let row = w.row("alice/file").unwrap();
    assert_eq!((row.detected_type, row.type_matches), (None, None));
}

#[test]
fn the_signature_covers_the_timestamp_and_the_body() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    let s = sender(204);
    let report = follow(&w, &s, &job);
    assert_eq!(report.outcome, Outcome::Delivered(Some(204)));

    let sent = s.sent.borrow();
    assert_eq!(sent.len(), 1);
    let hook = &sent[0];
    assert_eq!(hook.url, HOOK_URL);
    let timestamp: i64 = hook.header("X-Upload-Timestamp").unwrap().parse().unwrap();
    assert_eq!(timestamp, LATER_MS / 1000);
    let signature = hook.header("X-Upload-Signature").unwrap();
    assert_eq!(signature, sign(HOOK_SECRET.as_bytes(), timestamp, &hook.body));
    assert!(signature.starts_with("sha256=") && signature.len() == 7 + 64);
    // Under another secret, over another body, or replayed with a fresh timestamp, it would not verify.
    assert_ne!(signature, sign(b"wrong-secret", timestamp, &hook.body));
    assert_ne!(signature, sign(HOOK_SECRET.as_bytes(), timestamp, &hook.body.replace("alice", "mallory")));
    assert_ne!(signature, sign(HOOK_SECRET.as_bytes(), timestamp + 600, &hook.body));
}

#[test]
fn every_attempt_carries_the_same_event_id_and_its_own_attempt_number() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let s = sender(503);
    attempt(&w, &s, &job.event, 1);
    attempt(&w, &s, &job.event, 2);
    let sent = s.sent.borrow();
    let ids: Vec<_> = sent.iter().map(|h| h.header("X-Upload-Event-Id").unwrap()).collect();
    assert_eq!(ids, [job.event.id.as_str(), job.event.id.as_str()]);
    let attempts: Vec<_> = sent.iter().map(|h| h.header("X-Upload-Attempt").unwrap()).collect();
    assert_eq!(attempts, ["1", "2"]);
    assert_eq!(serde_json::from_str::<Value>(&sent[1].body).unwrap()["attempt"], 2);
}

#[test]
fn the_webhook_body_is_the_versioned_event_with_the_verdict() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    let s = sender(200);
    follow(&w, &s, &job);
    let body: Value = serde_json::from_str(&s.sent.borrow()[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "object.uploaded",
            "version": 1,
            "id": job.event.id,
            "key": "alice/notes.txt",
            "owner": "alice",
            "size": PNG.len(),
            "etag": job.event.etag,
            "content_type": "text/plain",
            "detected_type": "image/png",
            "type_matches": false,
            "uploaded_at": rfc3339(NOW_MS),
            "attempt": 1,
            "sent_at": rfc3339(LATER_MS),
        })
    );
}

#[test]
fn a_delete_event_is_posted_without_inspecting_anything() {
    let w = World::new(hook_config());
    w.upload("alice", "alice/gone.txt", "text/plain", b"bye");
    let h = w.send_at(NOW_MS + 10, Req::delete("/files/alice/gone.txt").bearer(&token("alice", json!({}))));
    assert_eq!(h.reply.status, 204);
    let job = h.followup.expect("a delete has a follow-up");
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert_eq!((report.outcome, report.detection), (Outcome::Delivered(Some(200)), None));
    let body: Value = serde_json::from_str(&s.sent.borrow()[0].body).unwrap();
    assert_eq!(body["type"], "object.deleted");
    assert_eq!(body["key"], "alice/gone.txt");
    assert_eq!(body["deleted_at"], rfc3339(NOW_MS + 10));
    assert!(body.get("detected_type").is_none(), "{body}");
}

#[test]
fn unreachable_timeouts_throttling_and_server_errors_are_retried() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    for status in [0, 408, 429, 500, 502, 503] {
        let report = follow(&w, &sender(status), &job);
        let expected = (status != 0).then_some(status);
        assert!(matches!(report.outcome, Outcome::Retry(s, _) if s == expected), "{status}: {:?}", report.outcome);
    }
    // Detection happened regardless of the webhook.
    assert_eq!(w.row("alice/a.txt").unwrap().type_matches, Some(true));
}

#[test]
fn other_client_errors_and_redirects_are_rejected_not_retried() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    for status in [301, 400, 401, 404, 410, 422] {
        assert_eq!(follow(&w, &sender(status), &job).outcome, Outcome::Rejected(status));
    }
}

#[test]
fn without_webhook_configuration_nothing_is_sent() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert!(s.sent.borrow().is_empty());
    assert_eq!(report.outcome, Outcome::Delivered(None));
}

#[test]
fn object_deleted_before_inspection_is_noted_and_the_webhook_still_goes_out() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    w.store.objects.borrow_mut().clear();
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert_eq!(detected(&report), (None, None));
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    let body: Value = serde_json::from_str(&s.sent.borrow()[0].body).unwrap();
    assert_eq!(body["detected_type"], Value::Null);
    assert_eq!(report.outcome, Outcome::Delivered(Some(200)));
}

#[test]
fn a_database_failure_while_recording_is_retried_before_the_webhook_is_sent() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    w.meta.fail_writes.set(true);
    let s = sender(200);
    let report = follow(&w, &s, &job);
    assert!(matches!(&report.outcome, Outcome::Retry(None, why) if why.contains("database")), "{:?}", report.outcome);
    assert!(s.sent.borrow().is_empty(), "the receiver gets the event once it has the verdict");
    w.meta.fail_writes.set(false);
    let report = attempt(&w, &s, &job.event, 2);
    assert_eq!(report.outcome, Outcome::Delivered(Some(200)));
    assert_eq!(w.row("alice/notes.txt").unwrap().type_matches, Some(false));
}

#[test]
fn a_retry_after_the_verdict_was_recorded_writes_nothing_again() {
    let w = World::new(hook_config());
    let job = w.upload("alice", "alice/notes.txt", "text/plain", PNG);
    follow(&w, &sender(503), &job);
    w.meta.fail_writes.set(true);
    let report = attempt(&w, &sender(200), &job.event, 2);
    assert_eq!(report.outcome, Outcome::Delivered(Some(200)), "no write was needed");
    assert_eq!(detected(&report), (Some("image/png"), Some(false)));
}

#[test]
fn sniffing_looks_only_at_the_first_512_bytes() {
    // A NUL far into the object does not turn leading text into "unknown binary".
    let w = World::default_config();
    let mut body = vec![b'a'; 600];
    body.push(0);
    let job = w.upload("alice", "alice/log.txt", "text/plain", &body);
    let report = follow(&w, &sender(200), &job);
    assert_eq!(detected(&report), (Some("text/plain"), Some(true)));
}

#[test]
fn a_failed_attempt_is_retried_until_the_last_retry_and_then_called_dead_lettered() {
    use gateway_core::events::Delivery;
    let failed = Report {
        outcome: Outcome::Retry(Some(503), "the webhook answered 503".to_owned()),
        detection: None,
        notes: vec![],
    };
    assert_eq!(failed.delivery(1, 2), (Delivery::Retried, Some(503)));
    assert_eq!(failed.delivery(2, 2), (Delivery::Retried, Some(503)));
    assert_eq!(
        failed.delivery(3, 2),
        (Delivery::DeadLettered, Some(503)),
        "attempt 3 follows the second and last retry"
    );
    let refused = Report { outcome: Outcome::Rejected(400), detection: None, notes: vec!["a note".to_owned()] };
    assert_eq!(refused.delivery(1, 2), (Delivery::Rejected, Some(400)));
    assert_eq!(refused.detail().as_deref(), Some("the webhook answered 400; a note"));
    let done = Report { outcome: Outcome::Delivered(None), detection: None, notes: vec![] };
    assert_eq!((done.delivery(7, 2), done.detail()), ((Delivery::Delivered, None), None));
}

#[test]
fn each_delivery_outcome_has_its_own_log_line_naming_the_event_and_attempt() {
    use gateway_core::events::Delivery;
    use gateway_core::log::event_line;
    let w = World::default_config();
    let event = w.upload("alice", "alice/a.txt", "text/plain", b"hello").event;
    let line =
        event_line(Delivery::DeadLettered, &event, 11, Some(503), Some("the webhook answered 503".to_owned()), 12);
    let json: Value = serde_json::from_str(&line.json()).unwrap();
    assert_eq!(
        json,
        json!({"level": "error", "msg": "event_dead_lettered", "key": "alice/a.txt", "status": 503, "duration_ms": 12,
               "event_id": event.id, "attempt": 11, "detail": "the webhook answered 503"})
    );
    let names: Vec<_> = [Delivery::Delivered, Delivery::Retried, Delivery::Rejected]
        .map(|d| event_line(d, &event, 1, None, None, 0).msg)
        .into();
    assert_eq!(names, ["event_delivered", "event_retried", "event_rejected"]);
}
