//! tus 1.0.0 end to end through `Gateway::handle` with the in-memory store and metadata: the
//! headers tus clients rely on, every chunk size landing as the same object, offsets that
//! never claim a byte the store lacks, races refused, and the gateway's own rules (owner,
//! key, type, size) applied before any byte is stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::*;
use futures_executor::block_on;
use gateway_core::metadata::TusIndex;
use http::Method;
use serde_json::json;

const MIB: usize = 1024 * 1024;

fn alice() -> String {
    token("alice", json!({}))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn tus(method: Method, path: &str) -> Req {
    Req::new(method, path).header("tus-resumable", "1.0.0").bearer(&alice())
}

/// Creates an upload of `length` bytes (or deferred) with `metadata`; returns its path.
fn create(w: &World, length: Option<usize>, metadata: &str) -> String {
    let mut req = tus(Method::POST, "/tus/").header("upload-metadata", metadata);
    req = match length {
        Some(n) => req.header("upload-length", &n.to_string()),
        None => req.header("upload-defer-length", "1"),
    };
    let h = w.send(req);
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let location = h.reply.header("Location").unwrap().to_owned();
    assert!(location.starts_with(&format!("{ORIGIN}/tus/")), "{location}");
    location.trim_start_matches(ORIGIN).to_owned()
}

fn patch_req(path: &str, offset: usize, bytes: &[u8]) -> Req {
    tus(Method::PATCH, path)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", &offset.to_string())
        .header("content-length", &bytes.len().to_string())
        .body(bytes)
}

fn patch(w: &World, path: &str, offset: usize, bytes: &[u8]) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(patch_req(path, offset, bytes))
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// Sends `data` in `chunk`-byte PATCHes; the final offset each answer gave.
fn upload(w: &World, path: &str, data: &[u8], chunk: usize) {
    let mut at = 0;
    while at < data.len() {
        let end = (at + chunk).min(data.len());
        let h = patch(w, path, at, &data[at..end]);
        assert_eq!(h.reply.status, 204, "at {at}: {:?}", h.error);
        assert_eq!(h.reply.header("Upload-Offset"), Some(end.to_string().as_str()));
        assert_eq!(h.reply.header("Tus-Resumable"), Some("1.0.0"));
        at = end;
    }
}

/// The object `key` serves, as the store holds it.
fn object(w: &World, key: &str) -> Vec<u8> {
    let row = w.row(key).expect("no row for the finished upload");
    w.store.objects.borrow().get(&row.storage_key).expect("the row names nothing").bytes.clone()
}

fn key_meta(key: &str) -> String {
    format!("key {},filetype {}", b64(key), b64("application/octet-stream"))
}

#[test]
fn options_advertises_the_version_extensions_and_maximum_without_authentication() {
    let w = World::default_config();
    let h = w.send(Req::new(Method::OPTIONS, "/tus/"));
    assert_eq!(h.reply.status, 204);
    assert_eq!(h.reply.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(
        h.reply.header("Tus-Extension"),
        Some("creation,creation-with-upload,creation-defer-length,termination,expiration")
    );
    assert_eq!(h.reply.header("Tus-Max-Size"), Some("5497558138880"), "5 TiB without a token");
    assert_eq!(h.reply.header("Tus-Resumable"), None, "OPTIONS answers carry no Tus-Resumable");
    let limited = token("alice", json!({"max_size": 1000}));
    let h = w.send(Req::new(Method::OPTIONS, "/tus/").bearer(&limited));
    assert_eq!(h.reply.header("Tus-Max-Size"), Some("1000"), "the caller's own limit with a token");
}

#[test]
fn another_protocol_version_is_412_naming_the_one_spoken() {
    let w = World::default_config();
    let old = |v: &str| Req::new(Method::POST, "/tus/").bearer(&alice()).header("tus-resumable", v);
    let h = w.send(old("0.2.2").header("upload-length", "3"));
    let h2 = w.send(Req::new(Method::POST, "/tus/").bearer(&alice()).header("upload-length", "3"));
    for h in [h, h2] {
        assert_problem(&h, 412, "precondition_failed");
        assert_eq!(h.reply.header("Tus-Version"), Some("1.0.0"));
    }
}

#[test]
fn head_reports_offset_length_and_metadata_as_sent_and_is_never_cached() {
    let w = World::default_config();
    let meta = format!("filename {},filetype {}", b64("cat.png"), b64("image/png"));
    let path = create(&w, Some(10), &meta);
    let h = w.send(tus(Method::HEAD, &path));
    assert_eq!(h.reply.status, 200);
    assert_eq!(h.reply.header("Upload-Offset"), Some("0"));
    assert_eq!(h.reply.header("Upload-Length"), Some("10"));
    assert_eq!(h.reply.header("Upload-Metadata"), Some(meta.as_str()));
    assert_eq!(h.reply.header("Cache-Control"), Some("no-store"));
    assert!(h.reply.header("Upload-Expires").is_some());
}

#[test]
fn a_whole_file_in_one_patch_becomes_the_object_with_its_row_and_follow_up() {
    let w = World::default_config();
    let path = create(&w, Some(11), &key_meta("alice/whole.bin"));
    let h = patch(&w, &path, 0, b"hello world");
    assert_eq!(h.reply.status, 204, "{:?}", h.error);
    assert!(h.followup.is_some(), "a finished upload gets the follow-up every upload gets");
    assert_eq!(object(&w, "alice/whole.bin"), b"hello world");
    assert_eq!(w.row("alice/whole.bin").unwrap().owner, "alice");
    // Finished: HEAD says so, so a client resuming with the stored URL is done.
    assert_eq!(w.send(tus(Method::HEAD, &path)).reply.header("Upload-Offset"), Some("11"));
}

#[test]
fn every_chunk_size_lands_as_the_same_object() {
    let data = pattern(12 * MIB + 77);
    for chunk in [64 * 1024, 500 * 1024, 5 * MIB, 8 * MIB, 3 * MIB + 7, data.len()] {
        let w = World::default_config();
        let key = format!("alice/chunks-{chunk}.bin");
        let path = create(&w, Some(data.len()), &key_meta(&key));
        upload(&w, &path, &data, chunk);
        assert!(object(&w, &key) == data, "chunk size {chunk}: the object differs");
        // Only the finished object is left: staged chunks were deleted once used.
        let names: Vec<String> = w.store.objects.borrow().keys().cloned().collect();
        assert_eq!(names, vec![w.row(&key).unwrap().storage_key], "chunk size {chunk}");
        assert!(w.meta.pending.borrow().is_empty(), "chunk size {chunk}: journal entries left");
    }
}

#[test]
fn a_first_chunk_that_can_be_a_part_fixes_the_part_size_so_no_byte_is_staged() {
    let w = World::default_config();
    let data = pattern(20 * MIB);
    let path = create(&w, Some(data.len()), &key_meta("alice/aligned.bin"));
    let h = patch(&w, &path, 0, &data[..8 * MIB]);
    assert_eq!(h.reply.status, 204);
    assert_eq!(w.store.objects.borrow().len(), 0, "the chunk went straight into a part");
    upload_from(&w, &path, &data, 8 * MIB, 8 * MIB);
    assert!(object(&w, "alice/aligned.bin") == data);
}

fn upload_from(w: &World, path: &str, data: &[u8], from: usize, chunk: usize) {
    let mut at = from;
    while at < data.len() {
        let end = (at + chunk).min(data.len());
        assert_eq!(patch(w, path, at, &data[at..end]).reply.status, 204, "at {at}");
        at = end;
    }
}

#[test]
fn creation_with_upload_stores_the_first_chunk() {
    let w = World::default_config();
    let req = tus(Method::POST, "/tus/")
        .header("upload-length", "11")
        .header("upload-metadata", &key_meta("alice/early.bin"))
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", "5")
        .body(b"hello");
    let h = w.send(req);
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(h.reply.header("Upload-Offset"), Some("5"));
    let path = h.reply.header("Location").unwrap().trim_start_matches(ORIGIN).to_owned();
    assert_eq!(patch(&w, &path, 5, b" world").reply.status, 204);
    assert_eq!(object(&w, "alice/early.bin"), b"hello world");
}

#[test]
fn a_deferred_length_is_declared_once_with_a_patch() {
    let w = World::default_config();
    let path = create(&w, None, &key_meta("alice/deferred.bin"));
    assert_eq!(w.send(tus(Method::HEAD, &path)).reply.header("Upload-Defer-Length"), Some("1"));
    assert_eq!(patch(&w, &path, 0, b"abc").reply.status, 204);
    assert_eq!(w.send(patch_req(&path, 3, b"def").header("upload-length", "6")).reply.status, 204);
    assert_eq!(object(&w, "alice/deferred.bin"), b"abcdef");
}

#[test]
fn an_empty_upload_is_finished_at_its_creation() {
    let w = World::default_config();
    create(&w, Some(0), &key_meta("alice/empty.bin"));
    assert_eq!(object(&w, "alice/empty.bin"), b"");
}

#[test]
fn a_patch_at_another_offset_is_409_and_changes_nothing_and_its_body_is_not_read() {
    let w = World::default_config();
    let path = create(&w, Some(10), &key_meta("alice/o.bin"));
    assert_eq!(patch(&w, &path, 0, b"12345").reply.status, 204);
    let req = tus(Method::PATCH, &path)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "3")
        .header("content-length", "5")
        .body(b"xxxxx");
    let (h, read) = w.send_unread(req);
    assert_problem(&h, 409, "offset_mismatch");
    assert!(!read, "the body was read before the refusal");
    assert_eq!(w.send(tus(Method::HEAD, &path)).reply.header("Upload-Offset"), Some("5"));
}

#[test]
fn refusals_of_a_patch_come_before_the_body() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "1048576")]));
    let path = create(&w, Some(4 * MIB), &key_meta("alice/r.bin"));
    let base = |r: Req| r.header("upload-offset", "0").header("content-length", "4");
    let cases = [
        ("no octet-stream type", base(tus(Method::PATCH, &path)).header("content-type", "text/plain"), 415),
        (
            "no offset",
            tus(Method::PATCH, &path)
                .header("content-type", "application/offset+octet-stream")
                .header("content-length", "4"),
            400,
        ),
        (
            "a checksum",
            base(tus(Method::PATCH, &path))
                .header("content-type", "application/offset+octet-stream")
                .header("upload-checksum", "sha1 x"),
            400,
        ),
        (
            "an unknown upload",
            base(tus(Method::PATCH, "/tus/abc123")).header("content-type", "application/offset+octet-stream"),
            404,
        ),
    ];
    for (what, req, status) in cases {
        let (h, read) = w.send_unread(req.body(b"abcd"));
        assert_eq!(h.reply.status, status, "{what}: {:?}", h.error);
        assert!(!read, "{what}: the body was read");
    }
    let big = tus(Method::PATCH, &path)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .header("content-length", &(2 * MIB).to_string());
    let (h, read) = w.send_unread(big.body(b"x"));
    assert_problem(&h, 413, "payload_too_large");
    assert!(h.error.unwrap().detail.contains("chunkSize"), "the 413 tells the client what to set");
    assert!(!read);
}

#[test]
fn another_callers_upload_is_403() {
    let w = World::default_config();
    let path = create(&w, Some(3), &format!("filetype {}", b64("text/plain")));
    let bob = Req::new(Method::HEAD, &path).header("tus-resumable", "1.0.0").bearer(&token("bob", json!({})));
    assert_problem(&w.send(bob), 403, "forbidden");
}

#[test]
fn the_key_comes_from_metadata_within_the_tokens_prefix_or_is_generated_keeping_the_extension() {
    let w = World::default_config();
    let outside = tus(Method::POST, "/tus/").header("upload-length", "1").header("upload-metadata", &key_meta("bob/x"));
    assert_problem(&w.send(outside), 403, "forbidden");
    let path = create(&w, Some(2), &format!("filename {}", b64("Holiday Photo.JPG")));
    assert_eq!(patch(&w, &path, 0, b"ok").reply.status, 204);
    let rows = w.meta.rows.borrow();
    let key = rows.keys().next().unwrap();
    assert!(key.starts_with("alice/") && key.ends_with(".jpg"), "{key}");
}

#[test]
fn the_declared_type_is_checked_and_the_length_against_the_tokens_limit() {
    let w = World::new(config_with(&[("ALLOWED_CONTENT_TYPES", "image/*")]));
    let pdf = tus(Method::POST, "/tus/")
        .header("upload-length", "1")
        .header("upload-metadata", &format!("filetype {}", b64("application/pdf")));
    assert_problem(&w.send(pdf), 415, "unsupported_media_type");
    let w = World::default_config();
    let small = token("alice", json!({"max_size": 100}));
    let big =
        Req::new(Method::POST, "/tus/").header("tus-resumable", "1.0.0").bearer(&small).header("upload-length", "101");
    assert_problem(&w.send(big), 413, "payload_too_large");
    assert!(w.meta.tus.borrow().is_empty(), "nothing was recorded");
}

#[test]
fn termination_discards_the_upload_and_every_later_request_is_404() {
    let w = World::default_config();
    let data = pattern(6 * MIB);
    let path = create(&w, Some(data.len()), &key_meta("alice/t.bin"));
    assert_eq!(patch(&w, &path, 0, &data[..MIB]).reply.status, 204);
    assert_eq!(w.send(tus(Method::DELETE, &path)).reply.status, 204);
    assert_problem(&w.send(tus(Method::HEAD, &path)), 404, "upload_not_found");
    assert_problem(&patch(&w, &path, MIB, &data[MIB..]), 404, "upload_not_found");
    assert!(w.store.objects.borrow().is_empty(), "the staged chunk is gone");
}

#[test]
fn a_request_racing_another_on_one_upload_is_423_and_the_offset_stays() {
    let w = World::default_config();
    let path = create(&w, Some(10), &key_meta("alice/race.bin"));
    let id = path.trim_start_matches("/tus/");
    // Another request holds the lease while its body streams.
    assert!(block_on(w.meta.lease_tus(id, 0, "other-request", NOW_MS + 60_000, NOW_MS)).unwrap());
    assert_problem(&patch(&w, &path, 0, b"12345"), 423, "upload_locked");
    assert_eq!(w.send(tus(Method::HEAD, &path)).reply.header("Upload-Offset"), Some("0"));
}

#[test]
fn a_chunk_the_store_failed_to_take_leaves_the_offset_where_it_was() {
    let w = World::default_config();
    let path = create(&w, Some(10), &key_meta("alice/f.bin"));
    w.store.fail_puts.set(true);
    assert_eq!(patch(&w, &path, 0, b"12345").reply.status, 502);
    w.store.fail_puts.set(false);
    assert_eq!(w.send(tus(Method::HEAD, &path)).reply.header("Upload-Offset"), Some("0"));
    upload(&w, &path, b"0123456789", 5);
    assert_eq!(object(&w, "alice/f.bin"), b"0123456789");
}

#[test]
fn an_expired_upload_is_410_and_the_sweep_removes_it_and_its_bytes() {
    let w = World::default_config();
    let path = create(&w, Some(6 * MIB), &key_meta("alice/e.bin"));
    assert_eq!(patch(&w, &path, 0, &pattern(MIB)).reply.status, 204);
    let ttl = w.config.multipart_ttl_ms;
    let lasting = token("alice", json!({"exp": NOW_S + 30 * 86_400}));
    let late = Req::new(Method::HEAD, &path).header("tus-resumable", "1.0.0").bearer(&lasting);
    assert_problem(&w.send_at(NOW_MS + ttl + 1, late), 410, "upload_expired");
    let report = block_on(gateway_core::sweep::run(&w.store, &w.meta, NOW_MS + ttl + 2 * 3_600_000, 0));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(w.meta.tus.borrow().is_empty());
    assert!(w.store.objects.borrow().is_empty(), "the staged chunk was swept");
}

#[test]
fn a_post_overridden_to_patch_is_a_patch() {
    let w = World::default_config();
    let path = create(&w, Some(3), &key_meta("alice/ov.bin"));
    let req = tus(Method::POST, &path)
        .header("x-http-method-override", "PATCH")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .header("content-length", "3")
        .body(b"abc");
    assert_eq!(w.send(req).reply.status, 204);
    assert_eq!(object(&w, "alice/ov.bin"), b"abc");
}

#[test]
fn an_empty_patch_that_does_not_finish_the_upload_is_400_never_a_204_that_leaves_the_offset() {
    let w = World::default_config();
    let path = create(&w, Some(10), &key_meta("alice/z.bin"));
    assert_problem(&patch(&w, &path, 0, b""), 400, "bad_request");
    // A deferred upload may end with an empty PATCH declaring the length reached.
    let path = create(&w, None, &key_meta("alice/zd.bin"));
    assert_eq!(patch(&w, &path, 0, b"abc").reply.status, 204);
    assert_eq!(w.send(patch_req(&path, 3, b"").header("upload-length", "3")).reply.status, 204);
    assert_eq!(object(&w, "alice/zd.bin"), b"abc");
}

#[test]
fn a_retried_last_request_on_a_finished_upload_learns_it_is_done() {
    let w = World::default_config();
    let data = pattern(7 * MIB);
    let path = create(&w, Some(data.len()), &key_meta("alice/done.bin"));
    upload(&w, &path, &data, 5 * MIB);
    let again = patch(&w, &path, data.len(), b"");
    assert_eq!(again.reply.status, 204, "{:?}", again.error);
    assert_eq!(again.reply.header("Upload-Offset"), Some(data.len().to_string().as_str()));
    assert!(object(&w, "alice/done.bin") == data);
}

#[test]
fn one_byte_chunks_work_too() {
    let w = World::default_config();
    let data = pattern(3000);
    let path = create(&w, Some(data.len()), &key_meta("alice/bytes.bin"));
    upload(&w, &path, &data, 1);
    assert!(object(&w, "alice/bytes.bin") == data);
    assert!(w.meta.pending.borrow().is_empty(), "every staged byte was cleaned up");
}

#[test]
fn a_patch_whose_bytes_would_pass_upload_length_is_413_as_tusd_answers() {
    let w = World::default_config();
    let path = create(&w, Some(4), "");
    let h = patch(&w, &path, 0, b"abcdef");
    assert_problem(&h, 413, "payload_too_large");
    assert_eq!(patch(&w, &path, 0, b"abcd").reply.status, 204, "the offset stayed at 0");
    let first = tus(Method::POST, "/tus/")
        .header("upload-length", "2")
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", "3")
        .body(b"abc");
    assert_problem(&w.send(first), 413, "payload_too_large");
}
