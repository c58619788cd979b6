//! `PUT /files/{key}` end to end through `Gateway::handle` with the in-memory store and
//! metadata: a 2xx must mean object and row both exist, and every refusal (401/403/411/413/
//! 415/400/412, store or database failure) must leave neither a new object nor a new row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::*;
use futures_executor::block_on;
use gateway_core::metadata::STATUS_COMPLETE;
use gateway_core::sweep;
use gateway_core::time::rfc3339;
use md5::{Digest, Md5};
use serde_json::json;
use sha2::Sha256;

const KEY: &str = "alice/docs/hello.txt";
const PATH: &str = "/files/alice/docs/hello.txt";
const BODY: &[u8] = b"hello, world\n";

fn alice() -> String {
    token("alice", json!({}))
}

fn nothing_stored(w: &World) {
    assert!(w.store.objects.borrow().is_empty(), "an object was left behind");
    assert!(w.meta.pending.borrow().values().all(|p| !w.store.objects.borrow().contains_key(&p.storage_key)));
    assert!(w.meta.rows.borrow().is_empty(), "a row was left behind");
}

#[test]
fn successful_upload_answers_201_with_etag_location_and_a_row() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-type", "text/plain; charset=utf-8"));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert!(h.error.is_none());

    let name = w.row(KEY).unwrap().storage_key;
    assert!(name.starts_with(&format!("{KEY}~")), "each upload is stored under its own name: {name}");
    let stored = w.store.objects.borrow().get(&name).cloned().unwrap();
    assert_eq!(stored.bytes, BODY);
    let etag = stored.meta.etag.clone();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(h.reply.header("ETag"), Some(etag.as_str()));
    assert_eq!(h.reply.header("Location"), Some(PATH));
    assert_eq!(h.reply.header("Content-Type"), Some("application/json"));

    let body = json_body(&h.reply);
    assert_eq!(body["key"], KEY);
    assert_eq!(body["size"], BODY.len());
    assert_eq!(body["etag"], etag.as_str());
    assert_eq!(body["content_type"], "text/plain");
    assert_eq!(body["uploaded_at"], rfc3339(NOW_MS));

    let row = w.row(KEY).unwrap();
    assert_eq!(row.owner, "alice");
    assert_eq!(row.size, BODY.len() as u64);
    assert_eq!(row.content_type, "text/plain");
    assert_eq!(row.etag, etag);
    assert_eq!(row.status, STATUS_COMPLETE);
    assert_eq!(row.created_at, NOW_MS);
    assert_eq!(row.completed_at, Some(NOW_MS));
    assert_eq!((row.detected_type, row.type_matches), (None, None));

    let job = h.followup.unwrap();
    assert_eq!(job.event, gateway_core::events::Event::uploaded(&w.row(KEY).unwrap()));
    assert_eq!(job.event.key, KEY);
    assert_eq!(job.event.owner, "alice");
    assert_eq!(job.event.etag, etag);
    assert_eq!(job.event.size, BODY.len() as u64);
    let outboxed = w.meta.outbox.borrow().get(&job.event.id).map(|(e, _)| e.clone());
    assert_eq!(outboxed, Some(job.event), "the commit recorded the same event in the outbox");
}

#[test]
fn etag_is_the_md5_of_the_body_in_the_memory_store() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    let md5 = gateway_core::encoding::hex(&Md5::digest(BODY));
    assert_eq!(h.reply.header("ETag"), Some(format!("\"{md5}\"").as_str()));
}

#[test]
fn location_percent_encodes_the_key() {
    let w = World::default_config();
    let h = w.send(Req::put("/files/alice/caf%C3%A9%20menu+1.txt", BODY).bearer(&alice()));
    assert_eq!(h.reply.status, 201);
    assert_eq!(h.reply.header("Location"), Some("/files/alice/caf%C3%A9%20menu%2B1.txt"));
    assert!(w.object("alice/café menu+1.txt").is_some());
    assert_eq!(json_body(&h.reply)["key"], "alice/café menu+1.txt");
}

#[test]
fn missing_content_type_is_recorded_as_octet_stream() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_eq!(h.reply.status, 201);
    assert_eq!(w.row(KEY).unwrap().content_type, "application/octet-stream");
}

#[test]
fn empty_body_with_content_length_zero_is_stored() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, b"").bearer(&alice()));
    assert_eq!(h.reply.status, 201);
    assert_eq!(w.object(KEY), Some(Vec::new()));
    assert_eq!(w.row(KEY).unwrap().size, 0);
}

#[test]
fn upload_without_content_length_is_411() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY).without("content-length").bearer(&alice()));
    assert_problem(&h, 411, "length_required");
    nothing_stored(&w);
}

#[test]
fn malformed_content_length_is_400() {
    let w = World::default_config();
    for v in ["abc", "-1", "1.0", ""] {
        let h = w.send(Req::put(PATH, BODY).without("content-length").header("content-length", v).bearer(&alice()));
        assert_problem(&h, 400, "bad_request");
    }
    nothing_stored(&w);
}

#[test]
fn body_over_max_upload_bytes_is_413_before_any_byte_is_stored() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "10")]));
    let h = w.send(Req::put(PATH, b"01234567890").bearer(&alice()));
    assert_problem(&h, 413, "payload_too_large");
    assert!(json_body(&h.reply)["detail"].as_str().unwrap().contains("10 bytes"));
    nothing_stored(&w);
    // Exactly at the limit is fine.
    assert_eq!(w.send(Req::put(PATH, b"0123456789").bearer(&alice())).reply.status, 201);
}

#[test]
fn declared_length_alone_triggers_413_without_a_body() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "1000")]));
    let req = Req::new(http::Method::PUT, PATH).header("content-length", "5000000000").bearer(&alice());
    assert_problem(&w.send(req), 413, "payload_too_large");
    nothing_stored(&w);
}

#[test]
fn body_over_the_tokens_max_size_is_413() {
    let w = World::default_config();
    let t = token("alice", json!({"max_size": 5}));
    let h = w.send(Req::put(PATH, b"123456").bearer(&t));
    assert_problem(&h, 413, "payload_too_large");
    assert!(json_body(&h.reply)["detail"].as_str().unwrap().contains("5 bytes"));
    nothing_stored(&w);
    assert_eq!(w.send(Req::put(PATH, b"12345").bearer(&t)).reply.status, 201);
}

#[test]
fn the_smaller_of_config_and_token_limits_applies() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "4")]));
    let generous = token("alice", json!({"max_size": 1000}));
    assert_problem(&w.send(Req::put(PATH, b"12345").bearer(&generous)), 413, "payload_too_large");
}

#[test]
fn content_type_outside_allowed_content_types_is_415() {
    let w = World::new(config_with(&[("ALLOWED_CONTENT_TYPES", "image/*,application/pdf")]));
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-type", "text/html"));
    assert_problem(&h, 415, "unsupported_media_type");
    nothing_stored(&w);
    // No Content-Type means application/octet-stream, which is not listed either.
    assert_problem(&w.send(Req::put(PATH, BODY).bearer(&alice())), 415, "unsupported_media_type");
    let ok = w.send(Req::put("/files/alice/p.png", PNG).bearer(&alice()).header("content-type", "image/png"));
    assert_eq!(ok.reply.status, 201);
}

#[test]
fn content_type_outside_the_tokens_content_types_is_415() {
    let w = World::new(config_with(&[("ALLOWED_CONTENT_TYPES", "image/*,application/pdf")]));
    let t = token("alice", json!({"content_types": ["application/pdf"]}));
    let h = w.send(Req::put("/files/alice/p.png", PNG).bearer(&t).header("content-type", "image/png"));
    assert_problem(&h, 415, "unsupported_media_type");
    nothing_stored(&w);
    let ok = w.send(Req::put("/files/alice/d.pdf", PDF).bearer(&t).header("content-type", "application/pdf"));
    assert_eq!(ok.reply.status, 201);
}

#[test]
fn malformed_content_type_header_is_415() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-type", "not a type"));
    assert_problem(&h, 415, "unsupported_media_type");
    nothing_stored(&w);
}

#[test]
fn content_md5_mismatch_leaves_no_object_and_no_row() {
    let w = World::default_config();
    let wrong = b64(&Md5::digest(b"something else"));
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-md5", &wrong));
    assert_problem(&h, 400, "checksum_mismatch");
    nothing_stored(&w);
}

#[test]
fn sha256_checksum_mismatch_leaves_no_object_and_no_row() {
    let w = World::default_config();
    let wrong = b64(&Sha256::digest(b"something else"));
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("x-amz-checksum-sha256", &wrong));
    assert_problem(&h, 400, "checksum_mismatch");
    nothing_stored(&w);
}

#[test]
fn matching_checksums_are_accepted_and_recorded_on_the_row() {
    let w = World::default_config();
    let md5 = b64(&Md5::digest(BODY));
    let sha = b64(&Sha256::digest(BODY));
    let h =
        w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-md5", &md5).header("x-amz-checksum-sha256", &sha));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let row = w.row(KEY).unwrap();
    assert_eq!(row.checksum_md5.as_deref(), Some(md5.as_str()));
    assert_eq!(row.checksum_sha256.as_deref(), Some(sha.as_str()));
}

#[test]
fn malformed_checksum_headers_are_400_bad_request() {
    let w = World::default_config();
    let sha_as_md5 = b64(&Sha256::digest(BODY));
    for (name, value) in
        [("content-md5", "not base64!"), ("content-md5", sha_as_md5.as_str()), ("x-amz-checksum-sha256", "AAAA")]
    {
        let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header(name, value));
        assert_problem(&h, 400, "bad_request");
    }
    nothing_stored(&w);
}

#[test]
fn body_shorter_than_its_content_length_is_400_incomplete_body() {
    let w = World::default_config();
    let req = Req::put(PATH, BODY).without("content-length").header("content-length", "100").bearer(&alice());
    assert_problem(&w.send(req), 400, "incomplete_body");
    nothing_stored(&w);
}

#[test]
fn database_down_fails_the_upload_and_leaves_nothing_stored() {
    let w = World::default_config();
    w.meta.fail_writes.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_problem(&h, 500, "database_error");
    assert!(!serde_json::to_string(&json_body(&h.reply)).unwrap().contains("injected"));
    nothing_stored(&w);
}

#[test]
fn metadata_failure_after_a_successful_put_deletes_the_object_once_its_entry_is_claimed() {
    let w = World::default_config();
    w.meta.fail_commits.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_problem(&h, 500, "database_error");
    nothing_stored(&w);
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_failed_commit_whose_entry_cannot_be_claimed_stays_journaled_for_the_sweep() {
    let w = World::default_config();
    w.meta.fail_commits.set(true);
    w.meta.fail_writes.set(false);
    w.store.fail_deletes.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_problem(&h, 500, "database_error");
    assert_eq!(w.send(Req::get(PATH).bearer(&alice())).reply.status, 404);
    let pending = w.meta.pending.borrow();
    assert_eq!(pending.len(), 1, "the cut-off write stays journaled for the sweep");
    assert_eq!(pending.values().next().unwrap().key, KEY);
}

#[test]
fn storage_failure_is_502_and_writes_no_row_and_clears_the_journal() {
    let w = World::default_config();
    w.store.fail_puts.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_problem(&h, 502, "storage_error");
    nothing_stored(&w);
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_successful_upload_leaves_no_journal_entry() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", BODY);
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn if_none_match_star_on_an_existing_key_is_412_and_keeps_the_old_object() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    let before = w.row(KEY).unwrap();
    let h = w.send_at(NOW_MS + 1000, Req::put(PATH, b"replacement").bearer(&alice()).header("if-none-match", "*"));
    assert_problem(&h, 412, "precondition_failed");
    assert_eq!(w.object(KEY).unwrap(), b"original");
    assert_eq!(w.row(KEY).unwrap(), before);
}

#[test]
fn if_none_match_star_on_a_new_key_uploads() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("if-none-match", "*"));
    assert_eq!(h.reply.status, 201);
    assert_eq!(w.object(KEY).unwrap(), BODY);
}

#[test]
fn upload_preconditions_other_than_if_none_match_star_are_400() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    let etag = w.row(KEY).unwrap().etag;
    for (name, value) in [("if-none-match", "\"abc\""), ("if-match", etag.as_str()), ("if-match", "*")] {
        let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header(name, value));
        assert_problem(&h, 400, "bad_request");
    }
    assert_eq!(w.object(KEY).unwrap(), b"original");
}

#[test]
fn plain_put_on_an_existing_key_replaces_object_and_row() {
    let w = World::default_config();
    let first = w.upload("alice", KEY, "text/plain", b"version one");
    let second = w.upload_at(NOW_MS + 5000, "alice", KEY, "text/markdown", b"version two!");
    assert_ne!(first.event.etag, second.event.etag);
    assert_eq!(w.object(KEY).unwrap(), b"version two!");
    let row = w.row(KEY).unwrap();
    assert_eq!(row.etag, second.event.etag);
    assert_eq!(row.content_type, "text/markdown");
    assert_eq!(row.created_at, NOW_MS + 5000);
    assert_eq!(w.meta.rows.borrow().len(), 1);
}

#[test]
fn upload_under_another_prefix_is_403() {
    let w = World::default_config();
    let h = w.send(Req::put("/files/bob/x.txt", BODY).bearer(&alice()));
    assert_problem(&h, 403, "forbidden");
    nothing_stored(&w);
}

#[test]
fn upload_without_write_scope_is_403() {
    let w = World::default_config();
    let t = token("alice", json!({"scope": "read list delete"}));
    let h = w.send(Req::put(PATH, BODY).bearer(&t));
    assert_problem(&h, 403, "forbidden");
    assert!(json_body(&h.reply)["detail"].as_str().unwrap().contains("write"));
    nothing_stored(&w);
}

#[test]
fn exact_key_token_may_upload_only_that_key() {
    let w = World::default_config();
    let t = token("alice", json!({"key": "alice/avatar.png"}));
    assert_problem(&w.send(Req::put(PATH, BODY).bearer(&t)), 403, "forbidden");
    nothing_stored(&w);
    assert_eq!(w.send(Req::put("/files/alice/avatar.png", PNG).bearer(&t)).reply.status, 201);
}

#[test]
fn refusals_are_decided_before_the_body_matters() {
    // Each request carries a body that records being read: a refusal must come without it.
    let w = World::new(config_with(&[("ALLOWED_CONTENT_TYPES", "text/plain,image/png,application/octet-stream")]));
    w.upload("alice", KEY, "text/plain", b"already here");
    let cases: Vec<(&str, Req, u16, &str)> = vec![
        ("no token", Req::put(PATH, BODY), 401, "missing_token"),
        ("a bad token", Req::put(PATH, BODY).bearer("not.a.token"), 401, "invalid_token"),
        // Authorisation comes first: a forbidden key is 403 even without Content-Length.
        ("a key outside the prefix", Req::new(http::Method::PUT, "/files/bob/x").bearer(&alice()), 403, "forbidden"),
        ("no length", Req::put(PATH, BODY).without("content-length").bearer(&alice()), 411, "length_required"),
        (
            "too large",
            Req::put(PATH, BODY).without("content-length").header("content-length", "999999999999").bearer(&alice()),
            413,
            "payload_too_large",
        ),
        (
            "a refused type",
            Req::put(PATH, BODY).header("content-type", "text/html").bearer(&alice()),
            415,
            "unsupported_media_type",
        ),
        ("a key not in NFC", Req::put("/files/alice/cafe%CC%81.txt", BODY).bearer(&alice()), 400, "invalid_key"),
        (
            "an existing key under If-None-Match",
            Req::put(PATH, BODY).header("if-none-match", "*").bearer(&alice()),
            412,
            "precondition_failed",
        ),
        (
            "a part of an unknown upload",
            Req::put(&format!("{PATH}?uploadId=nope&partNumber=1"), BODY).bearer(&alice()),
            404,
            "upload_not_found",
        ),
    ];
    for (what, req, status, code) in cases {
        let (h, read) = w.send_unread(req);
        assert_eq!((h.reply.status, h.error.as_ref().map(|e| e.kind.code())), (status, Some(code)), "{what}");
        assert!(!read, "{what}: the body was read before the refusal");
    }
    // The guard does see a body that is read: an accepted upload hands it to the store.
    let (_, read) = w.send_unread(Req::put("/files/alice/other.txt", BODY).bearer(&alice()));
    assert!(read, "an accepted upload's body reaches the store");
}

#[test]
fn upload_without_token_is_401_and_stores_nothing() {
    let w = World::default_config();
    let h = w.send(Req::put(PATH, BODY));
    assert_problem(&h, 401, "missing_token");
    assert_eq!(h.reply.header("WWW-Authenticate"), Some("Bearer"));
    nothing_stored(&w);
}

#[test]
fn upload_with_expired_token_is_401_token_expired() {
    let w = World::default_config();
    let t = hs256(&json!({"sub": "alice", "exp": NOW_S - 3600}));
    let h = w.send(Req::put(PATH, BODY).bearer(&t));
    assert_problem(&h, 401, "token_expired");
    nothing_stored(&w);
}

#[test]
fn owner_is_the_tokens_sub_even_under_a_shared_prefix() {
    let w = World::default_config();
    let t = token("carol", json!({"prefix": "shared/"}));
    assert_eq!(w.send(Req::put("/files/shared/plan.txt", BODY).bearer(&t)).reply.status, 201);
    assert_eq!(w.row("shared/plan.txt").unwrap().owner, "carol");
}

#[test]
fn a_body_the_store_kept_despite_a_bad_digest_is_removed() {
    let w = World::default_config();
    w.store.keeps_refused_bodies.set(true);
    let bad = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-md5", &bad));
    assert_problem(&h, 400, "checksum_mismatch");
    nothing_stored(&w);
}

#[test]
fn a_refused_overwrite_leaves_the_previous_object_and_row_in_place() {
    // The store kept the refused body (as s3s-fs does, and as R2 does when only the MD5 of an
    // MD5 + SHA-256 pair is wrong): it sits under the refused write's own name and is removed.
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    let before = w.row(KEY).unwrap();
    w.store.keeps_refused_bodies.set(true);
    let bad = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-md5", &bad));
    assert_problem(&h, 400, "checksum_mismatch");
    assert_eq!(w.object(KEY).unwrap(), b"original", "the previous file is still served");
    assert_eq!(w.row(KEY).unwrap(), before);
    assert_eq!(w.stored_versions(KEY), vec![before.storage_key], "the refused body is gone");
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_refused_upload_leaves_the_committed_object_alone_when_the_store_kept_it() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    let bad = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()).header("content-md5", &bad));
    assert_problem(&h, 400, "checksum_mismatch");
    assert_eq!(w.object(KEY).unwrap(), b"original");
    assert!(w.row(KEY).is_some());
}

#[test]
fn a_failed_journal_write_is_retried_before_the_commit_which_needs_it() {
    let w = World::default_config();
    w.meta.fail_begins.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.object(KEY).unwrap(), BODY);
    assert!(w.row(KEY).is_some());
}

#[test]
fn a_failed_commit_of_an_overwrite_leaves_the_previous_object_and_row() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    let before = w.row(KEY).unwrap();
    w.meta.fail_commits.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_problem(&h, 500, "database_error");
    assert_eq!(w.object(KEY).unwrap(), b"original");
    assert_eq!(w.row(KEY).unwrap(), before);
    // The commit's outcome was settled by claiming its entry: the new body is gone again.
    assert_eq!(w.stored_versions(KEY), vec![before.storage_key]);
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_commit_whose_answer_was_lost_is_answered_201_because_the_row_says_it_happened() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    w.meta.loses_commit_answers.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.object(KEY).unwrap(), BODY);
}

#[test]
fn a_put_whose_answer_was_lost_is_a_5xx_that_leaves_the_key_as_it_was() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"original");
    let before = w.row(KEY).unwrap();
    w.store.loses_put_answers.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_eq!(h.reply.status, 503, "{:?}", h.error);
    assert_eq!(w.object(KEY).unwrap(), b"original");
    assert_eq!(w.row(KEY).unwrap(), before);
    assert_eq!(w.stored_versions(KEY), vec![before.storage_key], "the stored body was deleted again");
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_lost_put_answer_whose_cleanup_also_fails_stays_journaled_until_the_sweep_deletes_it() {
    let w = World::default_config();
    w.store.loses_put_answers.set(true);
    w.store.fail_deletes.set(true);
    let h = w.send(Req::put(PATH, BODY).bearer(&alice()));
    assert_eq!(h.reply.status, 503);
    assert!(
        h.problems.iter().any(|p| p.contains("deleting the unrecorded object") && p.contains(KEY)),
        "{:?}",
        h.problems
    );
    assert_eq!(w.send(Req::get(PATH).bearer(&alice())).reply.status, 404, "an unrecorded object is never served");
    w.store.fail_deletes.set(false);
    w.store.loses_put_answers.set(false);
    let report = block_on(sweep::run(&w.store, &w.meta, NOW_MS + 2 * 3600 * 1000, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!(report.orphans_removed, 1, "{report:?}");
    assert!(w.stored_versions(KEY).is_empty());
}

#[test]
fn concurrent_uploads_of_a_key_each_keep_their_own_bytes_and_the_row_names_the_last_commit() {
    let w = World::default_config();
    w.upload_at(NOW_MS, "alice", KEY, "text/plain", b"first");
    let first = w.row(KEY).unwrap();
    w.upload_at(NOW_MS + 10, "alice", KEY, "text/plain", b"second, longer");
    let second = w.row(KEY).unwrap();
    assert_ne!(first.storage_key, second.storage_key);
    assert_eq!(w.object(KEY).unwrap(), b"second, longer");
    assert_eq!(second.size, 14, "the row describes the bytes it names");
    // The first version is journaled for deletion (the follow-up deletes it; here the sweep).
    assert!(w.meta.pending.borrow().values().any(|p| p.storage_key == first.storage_key));
}
