//! The multipart routes through `Gateway::handle` with the in-memory store and database:
//! start, parts, list, complete, abort, ownership, expiry and the sweep, and that every
//! refusal happens before a part's body reaches the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::multipart::MIN_PART_BYTES;
use gateway_core::sweep;
use http::Method;
use serde_json::{json, Value};

const KEY: &str = "alice/video.bin";
const MIB: usize = 1024 * 1024;

fn alice() -> String {
    token("alice", json!({}))
}

fn start(w: &World, body: Value) -> String {
    let h = w.send(
        Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&alice()).body(body.to_string().as_bytes()),
    );
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    json_body(&h.reply)["upload_id"].as_str().unwrap().to_owned()
}

fn part_req(id: &str, number: &str, bytes: &[u8]) -> Req {
    Req::put(&format!("/files/{KEY}?uploadId={id}&partNumber={number}"), bytes).bearer(&alice())
}

fn send_part(w: &World, id: &str, number: u16, bytes: &[u8]) -> Value {
    let h = w.send(part_req(id, &number.to_string(), bytes));
    assert_eq!(h.reply.status, 200, "part {number}: {:?}", h.error);
    json_body(&h.reply)
}

fn complete(w: &World, id: &str, body: &str) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploadId={id}")).bearer(&alice()).body(body.as_bytes()))
}

fn list(w: &World, id: &str, token: &str) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::get(&format!("/files/{KEY}?uploadId={id}")).bearer(token))
}

/// Three distinct parts: two of 5 MiB and a short last one.
fn three_parts() -> [Vec<u8>; 3] {
    [vec![b'a'; 5 * MIB], vec![b'b'; 5 * MIB], vec![b'c'; 1000]]
}

#[test]
fn three_parts_complete_into_one_object_with_a_row_and_follow_up() {
    let w = World::default_config();
    let id = start(&w, json!({"content_type": "video/mp4", "size": 10 * MIB + 1000}));
    let parts = three_parts();
    for (i, p) in parts.iter().enumerate() {
        let view = send_part(&w, &id, i as u16 + 1, p);
        assert_eq!(view["size"], p.len());
        assert!(view["etag"].as_str().unwrap().starts_with('"'));
    }
    let h = complete(&w, &id, "");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let body = json_body(&h.reply);
    assert_eq!(body["size"], 10 * MIB + 1000);
    assert_eq!(body["content_type"], "video/mp4");
    assert_eq!(w.object(KEY).unwrap(), parts.concat());
    let row = w.row(KEY).unwrap();
    assert_eq!(
        (row.size, row.owner.as_str(), row.etag.as_str()),
        ((10 * MIB + 1000) as u64, "alice", body["etag"].as_str().unwrap())
    );
    assert_eq!(h.followup.unwrap().event.key.as_str(), KEY);
    assert!(w.meta.multiparts.borrow().is_empty() && w.meta.parts.borrow().is_empty());
    assert!(w.meta.pending.borrow().is_empty(), "the completion's journal entry is cleared");
}

#[test]
fn start_answers_the_limits_and_expiry() {
    let w = World::new(config_with(&[("MULTIPART_TTL_SECONDS", "3600")]));
    let h = w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&alice()));
    assert_eq!(h.reply.status, 201);
    let body = json_body(&h.reply);
    assert_eq!(body["key"], KEY);
    assert_eq!(body["content_type"], "application/octet-stream");
    assert_eq!(body["part_size_min"], MIN_PART_BYTES);
    assert_eq!(body["part_size_max"], 104_857_600);
    assert_eq!(body["max_parts"], 10_000);
    assert_eq!(body["expires_at"], gateway_core::time::rfc3339(NOW_MS + 3_600_000));
    let id = body["upload_id"].as_str().unwrap();
    assert_eq!(h.reply.header("Location").unwrap(), format!("/files/{KEY}?uploadId={id}"));
    assert_eq!(w.store.multiparts.borrow().len(), 1);
}

#[test]
fn start_refuses_what_a_single_put_would_refuse() {
    let w = World::new(config_with(&[("ALLOWED_CONTENT_TYPES", "video/*")]));
    let post = |token: &str, body: &str| {
        w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(token).body(body.as_bytes()))
    };
    assert_problem(&post(&alice(), r#"{"content_type":"text/plain"}"#), 415, "unsupported_media_type");
    let small = token("alice", json!({"max_size": 1000}));
    assert_problem(&post(&small, r#"{"content_type":"video/mp4","size":1001}"#), 413, "payload_too_large");
    let reader = token("alice", json!({"scope": "read"}));
    assert_problem(&post(&reader, r#"{"content_type":"video/mp4"}"#), 403, "forbidden");
    assert_problem(&post(&token("bob", json!({})), "{}"), 403, "forbidden");
    assert_problem(&post(&alice(), r#"{"content_type":"video/mp4","size":0}"#), 400, "bad_request");
    assert_problem(&post(&alice(), "{not json"), 400, "bad_request");
    assert_problem(
        &post(&alice(), r#"{"content_type":"video/mp4","size":2000000000000000}"#),
        413,
        "payload_too_large",
    );
    assert!(w.store.multiparts.borrow().is_empty(), "nothing was opened in the store");
}

#[test]
fn a_declared_size_needing_over_10000_parts_is_refused() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "10485760")]));
    let body = json!({"size": 10_485_760u64 * 10_000 + 1}).to_string();
    let h = w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&alice()).body(body.as_bytes()));
    assert_problem(&h, 400, "bad_request");
    assert!(h.error.unwrap().detail.contains("10000 parts"));
}

#[test]
fn post_without_uploads_or_upload_id_is_400() {
    let w = World::default_config();
    assert_problem(&w.send(Req::new(Method::POST, &format!("/files/{KEY}")).bearer(&alice())), 400, "bad_request");
}

#[test]
fn listing_the_parts_lets_a_client_resume() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    let parts = three_parts();
    send_part(&w, &id, 1, &parts[0]);
    // The client forgets everything but the upload id, asks what arrived, and sends the rest.
    let h = list(&w, &id, &alice());
    assert_eq!(h.reply.status, 200);
    let listed = json_body(&h.reply);
    assert_eq!(listed["parts"].as_array().unwrap().len(), 1);
    assert_eq!(listed["parts"][0]["part_number"], 1);
    assert_eq!(listed["parts"][0]["size"], 5 * MIB);
    send_part(&w, &id, 2, &parts[1]);
    send_part(&w, &id, 3, &parts[2]);
    assert_eq!(complete(&w, &id, "").reply.status, 201);
    assert_eq!(w.object(KEY).unwrap(), parts.concat());
}

#[test]
fn resending_a_part_number_replaces_it() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'x'; 5 * MIB]);
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    send_part(&w, &id, 2, b"tail");
    assert_eq!(complete(&w, &id, "").reply.status, 201);
    assert_eq!(w.object(KEY).unwrap(), [vec![b'a'; 5 * MIB], b"tail".to_vec()].concat());
}

#[test]
fn a_short_middle_part_is_refused_before_its_body_is_stored() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    send_part(&w, &id, 3, &vec![b'c'; 5 * MIB]);
    let h = w.send(part_req(&id, "2", &vec![b'b'; MIB]));
    assert_problem(&h, 400, "bad_request");
    assert_eq!(w.store.multiparts.borrow().values().next().unwrap().parts.len(), 2, "part 2 never reached the store");
}

#[test]
fn unequal_part_sizes_are_refused() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    assert_problem(&w.send(part_req(&id, "2", &vec![b'b'; 6 * MIB])), 400, "bad_request");
}

#[test]
fn a_declared_size_fixes_every_part_size() {
    let w = World::default_config();
    let id = start(&w, json!({"size": 10 * MIB + 10}));
    // A short part 4 would imply parts of (10 MiB) / 3 bytes: not whole, and under 5 MiB.
    assert_problem(&w.send(part_req(&id, "4", &[b'x'; 10])), 400, "bad_request");
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    let h = w.send(part_req(&id, "3", &[b'x'; 11]));
    assert_problem(&h, 400, "bad_request");
    assert!(h.error.unwrap().detail.contains("part 3 must be 10 bytes"));
    send_part(&w, &id, 3, &[b'x'; 10]);
}

#[test]
fn part_numbers_outside_1_to_10000_are_refused() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    for n in ["0", "10001", "-1", "1.5", "x", ""] {
        assert_problem(&w.send(part_req(&id, n, b"abc")), 400, "bad_request");
    }
    let h = w.send(Req::put(&format!("/files/{KEY}?uploadId={id}"), b"abc").bearer(&alice()));
    assert_problem(&h, 400, "bad_request");
}

#[test]
fn a_part_needs_a_content_length_within_the_request_cap() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "6291456")]));
    let id = start(&w, json!({}));
    let h = w.send(part_req(&id, "1", b"abc").without("content-length"));
    assert_problem(&h, 411, "length_required");
    assert_problem(&w.send(part_req(&id, "1", &vec![0; 6 * MIB + 1])), 413, "payload_too_large");
}

#[test]
fn parts_may_not_exceed_the_tokens_max_size_in_total() {
    let w = World::default_config();
    let capped = token("alice", json!({"max_size": 6 * MIB}));
    let h = w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&capped));
    let id = json_body(&h.reply)["upload_id"].as_str().unwrap().to_owned();
    let put = |n: &str, len: usize| {
        w.send(Req::put(&format!("/files/{KEY}?uploadId={id}&partNumber={n}"), &vec![1; len]).bearer(&capped))
    };
    assert_eq!(put("1", 5 * MIB).reply.status, 200);
    assert_problem(&put("2", MIB + 1), 413, "payload_too_large");
}

#[test]
fn completing_with_a_wrong_part_list_is_refused_and_the_upload_stays_open() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    let p1 = send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    let p2 = send_part(&w, &id, 2, b"end");
    let wrong = json!({"parts": [{"part_number": 1, "etag": p1["etag"]}, {"part_number": 2, "etag": "\"beef\""}]});
    assert_problem(&complete(&w, &id, &wrong.to_string()), 409, "parts_mismatch");
    let missing = json!({"parts": [{"part_number": 1, "etag": p1["etag"]}]});
    assert_problem(&complete(&w, &id, &missing.to_string()), 409, "parts_mismatch");
    assert!(w.object(KEY).is_none());
    let right = json!({"parts": [{"part_number": 1, "etag": p1["etag"]}, {"part_number": 2, "etag": p2["etag"]}]});
    assert_eq!(complete(&w, &id, &right.to_string()).reply.status, 201);
}

#[test]
fn completing_with_a_missing_part_is_refused() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    send_part(&w, &id, 3, b"end");
    let h = complete(&w, &id, "");
    assert_problem(&h, 400, "bad_request");
    assert!(h.error.unwrap().detail.contains("part 2 is missing"));
}

#[test]
fn nobody_else_may_touch_an_upload() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    // Mallory's token covers the key too (a shared prefix), but the upload is Alice's.
    let mallory = token("mallory", json!({"prefix": "alice/"}));
    let target = format!("/files/{KEY}?uploadId={id}");
    let attempts = [
        Req::put(&format!("{target}&partNumber=1"), b"abc").bearer(&mallory),
        Req::get(&target).bearer(&mallory),
        Req::new(Method::POST, &target).bearer(&mallory),
        Req::delete(&target).bearer(&mallory),
    ];
    for req in attempts {
        assert_problem(&w.send(req), 403, "forbidden");
    }
    assert_eq!(w.meta.multiparts.borrow().len(), 1);
}

#[test]
fn an_upload_id_is_bound_to_its_key() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    let h = w.send(Req::get(&format!("/files/alice/other.bin?uploadId={id}")).bearer(&alice()));
    assert_problem(&h, 404, "upload_not_found");
    assert_problem(&list(&w, "no-such-id", &alice()), 404, "upload_not_found");
}

#[test]
fn abort_discards_the_parts_and_forgets_the_upload() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    let h = w.send(Req::delete(&format!("/files/{KEY}?uploadId={id}")).bearer(&alice()));
    assert_eq!(h.reply.status, 204);
    assert!(w.store.multiparts.borrow().is_empty());
    assert!(w.meta.multiparts.borrow().is_empty() && w.meta.parts.borrow().is_empty());
    assert_problem(&list(&w, &id, &alice()), 404, "upload_not_found");
    assert!(w.object(KEY).is_none());
}

#[test]
fn an_expired_upload_is_404_and_the_sweep_aborts_it() {
    let w = World::new(config_with(&[("MULTIPART_TTL_SECONDS", "60")]));
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    let later = NOW_MS + 60_000;
    let h = w.send_at(later, Req::get(&format!("/files/{KEY}?uploadId={id}")).bearer(&alice()));
    assert_problem(&h, 404, "upload_not_found");
    assert!(h.error.unwrap().detail.contains("expired"));

    let before = block_on(sweep::run(&w.store, &w.meta, NOW_MS + 59_000, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!(before.multiparts_aborted, 0, "not yet expired");
    let report = block_on(sweep::run(&w.store, &w.meta, later + 1, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!(report.multiparts_aborted, 1);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(w.store.multiparts.borrow().is_empty(), "the store's parts are discarded");
    assert!(w.meta.multiparts.borrow().is_empty() && w.meta.parts.borrow().is_empty());
    let again = block_on(sweep::run(&w.store, &w.meta, later + 1, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!(again.multiparts_aborted, 0, "a second run finds nothing");
}

#[test]
fn a_failed_commit_serves_nothing_and_a_retry_records_the_assembled_object() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, b"only part");
    w.meta.fail_commits.set(true);
    let h = complete(&w, &id, "");
    assert_problem(&h, 500, "database_error");
    assert!(w.row(KEY).is_none());
    assert!(w.meta.pending.borrow().contains_key(&id), "the sweep can remove it if no retry comes");
    w.meta.fail_commits.set(false);
    let h = complete(&w, &id, "");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.object(KEY).unwrap(), b"only part");
    assert!(w.meta.multiparts.borrow().is_empty() && w.meta.pending.borrow().is_empty());
}

#[test]
fn a_store_failure_on_a_part_records_nothing() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    w.store.fail_puts.set(true);
    assert_problem(&w.send(part_req(&id, "1", b"abc")), 502, "storage_error");
    assert!(w.meta.parts.borrow().is_empty());
}

#[test]
fn a_part_with_a_digest_header_is_refused_rather_than_left_unchecked() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    for header in ["content-md5", "x-amz-checksum-sha256"] {
        assert_problem(&w.send(part_req(&id, "1", b"abc").header(header, "AAAA")), 400, "bad_request");
    }
    assert!(w.meta.parts.borrow().is_empty());
}

#[test]
fn a_completion_whose_answer_was_lost_is_recorded_when_retried() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    send_part(&w, &id, 2, b"end");
    // The store assembled the object, but the isolate died before D1 heard of it.
    let store_id = w.meta.multiparts.borrow()[&id].store_upload_id.clone();
    let parts = block_on(gateway_core::metadata::MultipartIndex::parts(&w.meta, &id, NOW_MS)).unwrap();
    let mut parts = parts;
    parts.sort_by_key(|p| p.number);
    let name = gateway_core::key::StoredName::recorded(w.meta.multiparts.borrow()[&id].storage_key.clone());
    block_on(gateway_core::store::Multipart::complete_multipart(&w.store, &name, &store_id, &parts)).unwrap();

    let h = complete(&w, &id, "");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.row(KEY).unwrap().size, (5 * MIB + 3) as u64);
    assert!(w.meta.multiparts.borrow().is_empty() && w.meta.pending.borrow().is_empty());
}

#[test]
fn a_store_failure_at_completion_keeps_the_upload_and_its_journal_entry() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, b"only part");
    w.store.fail_puts.set(true);
    assert_problem(&complete(&w, &id, ""), 502, "storage_error");
    assert!(w.meta.pending.borrow().contains_key(&id), "the sweep can reconcile the key");
    w.store.fail_puts.set(false);
    assert_eq!(complete(&w, &id, "").reply.status, 201, "a retry completes it");
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn multipart_is_refused_when_max_upload_bytes_is_under_5_mib() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "1048576")]));
    let post = |body: &str| {
        w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&alice()).body(body.as_bytes()))
    };
    let h = post("{}");
    assert_problem(&h, 400, "bad_request");
    assert!(h.error.unwrap().detail.contains("MAX_UPLOAD_BYTES"));
    // A declared size that fits in one part still works.
    assert_eq!(post(r#"{"size": 1000}"#).reply.status, 201);
}

#[test]
fn an_upload_the_store_cannot_abort_is_retried_then_forgotten_after_a_week() {
    let w = World::new(config_with(&[("MULTIPART_TTL_SECONDS", "60")]));
    start(&w, json!({}));
    w.store.fail_puts.set(true);
    let expired = NOW_MS + 61_000;
    let report = block_on(sweep::run(&w.store, &w.meta, expired, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!((report.multiparts_aborted, report.problems.len()), (0, 1));
    assert_eq!(w.meta.multiparts.borrow().len(), 1, "kept for the next run");
    let week_later = expired + sweep::FORGET_UNABORTABLE_AFTER_MS;
    block_on(sweep::run(&w.store, &w.meta, week_later, sweep::DEFAULT_PENDING_GRACE_MS));
    assert!(w.meta.multiparts.borrow().is_empty(), "forgotten so it cannot block the sweep");
}

#[test]
fn parts_in_flight_count_against_max_size_so_concurrent_parts_cannot_overrun_it() {
    use gateway_core::metadata::MultipartIndex;
    let w = World::default_config();
    let capped = token("alice", json!({"max_size": 11 * MIB}));
    let h = w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&capped));
    let id = json_body(&h.reply)["upload_id"].as_str().unwrap().to_owned();
    // Part 1 of 6 MiB is streaming (reserved, not yet recorded) when part 2 arrives.
    let streaming = gateway_core::metadata::PartAttempt {
        upload_id: id.clone(),
        attempt: "streaming".to_owned(),
        number: 1,
        size: (6 * MIB) as u64,
        until_ms: NOW_MS + 60_000,
    };
    assert!(block_on(w.meta.reserve_part(&streaming, (11 * MIB) as u64, NOW_MS)).unwrap());
    let part2 = Req::put(&format!("/files/{KEY}?uploadId={id}&partNumber=2"), &vec![b'b'; 6 * MIB]).bearer(&capped);
    assert_problem(&w.send(part2), 413, "payload_too_large");
    // Parts in flight are not listed (a resuming client sends them again) and block completion.
    let listed = json_body(&list(&w, &id, &capped).reply);
    assert_eq!(listed["parts"], json!([]));
    let done = w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploadId={id}")).bearer(&capped));
    assert_problem(&done, 409, "parts_mismatch");
    assert!(json_body(&done.reply)["detail"].as_str().unwrap().contains("still being uploaded"));
}

#[test]
fn a_part_whose_upload_failed_releases_its_reservation() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    w.store.fail_puts.set(true);
    assert_problem(&w.send(part_req(&id, "1", &vec![b'a'; 5 * MIB])), 502, "storage_error");
    assert!(w.meta.parts.borrow().get(&id).is_none_or(|p| p.is_empty()));
    assert!(w.meta.attempts.borrow().is_empty(), "the failed attempt kept its reservation");
    w.store.fail_puts.set(false);
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
}

#[test]
fn a_completion_whose_own_answer_was_lost_is_recorded_in_the_same_request() {
    let w = World::default_config();
    let id = start(&w, json!({}));
    send_part(&w, &id, 1, &vec![b'a'; 5 * MIB]);
    send_part(&w, &id, 2, b"end");
    w.store.loses_put_answers.set(true);
    let h = complete(&w, &id, "");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.row(KEY).unwrap().size, (5 * MIB + 3) as u64);
    assert!(w.meta.multiparts.borrow().is_empty() && w.meta.pending.borrow().is_empty());
}
