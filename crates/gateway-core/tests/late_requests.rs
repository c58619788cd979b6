//! Late and repeated requests through `Gateway::handle`: a re-sent part cut off after its first
//! copy was acknowledged, an attempt whose metadata calls run after its retry finished,
//! overlapping completions, an abort racing a completion. These exist because each schedule
//! once made a 2xx describe fewer bytes than the client was told it had sent, or deleted an
//! object a 2xx promised. The held calls ([`MemoryMetadata::hold`]) stand in for a Worker whose
//! client went away but which keeps running, and for a slow database answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::*;
use futures_executor::block_on;
use futures_util::future::join;
use gateway_core::gateway::Handled;
use gateway_core::sweep;
use gateway_core::testing::Gate;
use http::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const KEY: &str = "alice/x.bin";
const MIB: usize = 1024 * 1024;

fn alice() -> String {
    token("alice", json!({}))
}

fn start(w: &World) -> String {
    let h = w.send(Req::new(Method::POST, &format!("/files/{KEY}?uploads")).bearer(&alice()));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    json_body(&h.reply)["upload_id"].as_str().unwrap().to_owned()
}

fn part_req(id: &str, number: u16, bytes: &[u8]) -> Req {
    Req::put(&format!("/files/{KEY}?uploadId={id}&partNumber={number}"), bytes).bearer(&alice())
}

fn send_part(w: &World, id: &str, number: u16, bytes: &[u8]) -> Value {
    let h = w.send(part_req(id, number, bytes));
    assert_eq!(h.reply.status, 200, "part {number}: {:?}", h.error);
    json_body(&h.reply)
}

fn complete_req(id: &str, body: &str) -> Req {
    Req::new(Method::POST, &format!("/files/{KEY}?uploadId={id}")).bearer(&alice()).body(body.as_bytes())
}

/// The reproduction's parts: two of 5 MiB and a short last one of 777,777 bytes.
fn three_parts() -> [Vec<u8>; 3] {
    [vec![b'a'; 5 * MIB], vec![b'b'; 5 * MIB], vec![b'c'; 777_777]]
}

/// Starts an upload and sends [`three_parts`], each acknowledged.
fn all_parts_sent(w: &World) -> (String, [Vec<u8>; 3]) {
    let id = start(w);
    let parts = three_parts();
    for (i, bytes) in parts.iter().enumerate() {
        send_part(w, &id, i as u16 + 1, bytes);
    }
    (id, parts)
}

/// Runs `first` until its held call reaches `gate`, then `second()` to its answer, then lets
/// `first` finish: the first request's held metadata call lands after the second request.
fn overtaken(
    w: &World,
    gate: &Gate,
    first: Req,
    second: impl AsyncFnOnce() -> Handled<Vec<u8>>,
) -> [Handled<Vec<u8>>; 2] {
    let late = w.send_async(NOW_MS, first);
    let overtaking = async {
        gate.arrival().await;
        let answer = second().await;
        gate.open();
        answer
    };
    let (a, b) = block_on(join(late, overtaking));
    [a, b]
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[test]
fn a_cut_off_resend_of_an_acknowledged_part_keeps_that_part_in_the_completion() {
    let w = World::default_config();
    let (id, parts) = all_parts_sent(&w);
    // The client re-sends part 3 and goes away halfway: the store's write of it fails.
    w.store.fail_puts.set(true);
    assert_eq!(w.send(part_req(&id, 3, &parts[2])).reply.status, 502);
    w.store.fail_puts.set(false);
    let done = w.send(complete_req(&id, ""));
    assert_eq!(done.reply.status, 201, "{:?}", done.error);
    let all = parts.concat();
    assert_eq!(json_body(&done.reply)["size"], all.len() as u64);
    assert_eq!(sha256(&w.object(KEY).unwrap()), sha256(&all), "the object is not every acknowledged part");
}

#[test]
fn an_attempt_that_reserves_after_its_retry_was_acknowledged_cannot_drop_the_retry() {
    let w = World::default_config();
    let id = start(&w);
    let parts = three_parts();
    send_part(&w, &id, 1, &parts[0]);
    send_part(&w, &id, 2, &parts[1]);
    // Attempt A of part 3 is slow to reserve; its client gives up and retries (B), which is
    // acknowledged; then A reserves and its store write fails.
    let gate = w.meta.hold("reserve_part");
    let [a, b] = overtaken(&w, &gate, part_req(&id, 3, &parts[2]), async || {
        let b = w.send_async(NOW_MS, part_req(&id, 3, &parts[2])).await;
        w.store.fail_puts.set(true);
        b
    });
    w.store.fail_puts.set(false);
    assert_eq!(b.reply.status, 200, "{:?}", b.error);
    assert_eq!(a.reply.status, 502, "{:?}", a.error);
    let done = w.send(complete_req(&id, ""));
    assert_eq!(done.reply.status, 201, "{:?}", done.error);
    assert_eq!(sha256(&w.object(KEY).unwrap()), sha256(&parts.concat()));
}

#[test]
fn a_failed_attempt_released_after_its_retry_was_recorded_leaves_the_retry() {
    let w = World::default_config();
    let id = start(&w);
    let parts = three_parts();
    send_part(&w, &id, 1, &parts[0]);
    send_part(&w, &id, 2, &parts[1]);
    w.store.fail_puts.set(true);
    let gate = w.meta.hold("release_part");
    let [a, b] = overtaken(&w, &gate, part_req(&id, 3, &parts[2]), async || {
        w.store.fail_puts.set(false);
        w.send_async(NOW_MS, part_req(&id, 3, &parts[2])).await
    });
    assert_eq!((a.reply.status, b.reply.status), (502, 200));
    let done = w.send(complete_req(&id, &json!({"size": parts.concat().len()}).to_string()));
    assert_eq!(done.reply.status, 201, "{:?}", done.error);
}

#[test]
fn a_completion_with_a_size_other_than_the_acknowledged_parts_is_refused_with_409() {
    let w = World::default_config();
    let (id, parts) = all_parts_sent(&w);
    let short = w.send(complete_req(&id, &json!({"size": 10 * MIB}).to_string()));
    assert_problem(&short, 409, "parts_mismatch");
    assert!(w.object(KEY).is_none(), "a refused completion assembled something");
    let right = w.send(complete_req(&id, &json!({"size": parts.concat().len()}).to_string()));
    assert_eq!(right.reply.status, 201, "{:?}", right.error);
}

#[test]
fn overlapping_completions_both_answer_201_and_neither_deletes_the_object() {
    let w = World::default_config();
    let (id, parts) = all_parts_sent(&w);
    let gate = w.meta.hold("complete_multipart");
    let [first, second] =
        overtaken(&w, &gate, complete_req(&id, ""), async || w.send_async(NOW_MS, complete_req(&id, "")).await);
    assert_eq!((first.reply.status, second.reply.status), (201, 201), "{:?} {:?}", first.error, second.error);
    for h in [&first, &second] {
        assert_eq!(h.followup.as_ref().unwrap().replaced, None, "a completion would delete its own object");
    }
    assert_eq!(sha256(&w.object(KEY).unwrap()), sha256(&parts.concat()));
    let later = NOW_MS + 86_400_000;
    block_on(sweep::run(&w.store, &w.meta, later, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!(sha256(&w.object(KEY).unwrap()), sha256(&parts.concat()), "the sweep deleted the object");
}

#[test]
fn an_abort_answered_while_a_completion_was_committing_wins_and_nothing_is_served() {
    let w = World::default_config();
    let (id, _) = all_parts_sent(&w);
    let gate = w.meta.hold("complete_multipart");
    let abort = Req::delete(&format!("/files/{KEY}?uploadId={id}")).bearer(&alice());
    let [completion, aborted] = overtaken(&w, &gate, complete_req(&id, ""), async || w.send_async(NOW_MS, abort).await);
    assert_eq!(aborted.reply.status, 204, "{:?}", aborted.error);
    assert_problem(&completion, 404, "upload_not_found");
    assert!(w.row(KEY).is_none(), "the completion committed after the abort answered 204");
    let later = NOW_MS + 86_400_000;
    block_on(sweep::run(&w.store, &w.meta, later, sweep::DEFAULT_PENDING_GRACE_MS));
    assert!(w.store.objects.borrow().is_empty(), "the assembled object outlived the sweep");
}

fn tus_req(method: Method, path: &str) -> Req {
    Req::new(method, path).bearer(&alice()).header("tus-resumable", "1.0.0")
}

fn tus_create(w: &World, key: &str, length: usize) -> String {
    let meta = format!("key {}", base64::engine::general_purpose::STANDARD.encode(key));
    let create =
        tus_req(Method::POST, "/tus/").header("upload-length", &length.to_string()).header("upload-metadata", &meta);
    let h = w.send(create);
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    h.reply.header("Location").unwrap().trim_start_matches(ORIGIN).to_owned()
}

fn tus_patch(path: &str, offset: usize, bytes: &[u8]) -> Req {
    tus_req(Method::PATCH, path)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", &offset.to_string())
        .header("content-length", &bytes.len().to_string())
        .body(bytes)
}

#[test]
fn a_tus_termination_answered_while_the_last_patch_commits_wins_and_nothing_is_served() {
    let w = World::default_config();
    let path = tus_create(&w, "alice/t.bin", 10);
    assert_eq!(w.send(tus_patch(&path, 0, b"01234")).reply.status, 204);
    let gate = w.meta.hold("commit_upload");
    let terminate = tus_req(Method::DELETE, &path);
    let [last, terminated] =
        overtaken(&w, &gate, tus_patch(&path, 5, b"56789"), async || w.send_async(NOW_MS, terminate).await);
    assert_eq!(terminated.reply.status, 204, "{:?}", terminated.error);
    assert_problem(&last, 410, "upload_expired");
    assert!(w.row("alice/t.bin").is_none(), "the last PATCH committed after the termination answered 204");
    let later = NOW_MS + 30 * 86_400_000;
    block_on(sweep::run(&w.store, &w.meta, later, sweep::DEFAULT_PENDING_GRACE_MS));
    assert!(w.store.objects.borrow().is_empty(), "the assembled object outlived the sweep");
}

#[test]
fn a_tus_last_patch_whose_commit_answer_was_lost_answers_204_and_its_retry_too() {
    let w = World::default_config();
    let path = tus_create(&w, "alice/lost.bin", 10);
    assert_eq!(w.send(tus_patch(&path, 0, b"01234")).reply.status, 204);
    w.meta.loses_commit_answers.set(true);
    let h = w.send(tus_patch(&path, 5, b"56789"));
    w.meta.loses_commit_answers.set(false);
    assert_eq!(h.reply.status, 204, "the commit happened: {:?}", h.error);
    assert_eq!(w.object("alice/lost.bin").unwrap(), b"0123456789");
}

#[test]
fn a_tus_last_patch_retried_after_its_commit_and_a_lost_answer_learns_it_is_done() {
    let w = World::default_config();
    // A first part of 5 MiB, then a short last one: the store's multipart upload is completed
    // by the last request, so its retry cannot store anything again.
    let first = vec![b'a'; 5 * MIB];
    let path = tus_create(&w, "alice/retried.bin", first.len() + 5);
    assert_eq!(w.send(tus_patch(&path, 0, &first)).reply.status, 204);
    // The commit applied, then every read of the row failed too: the request answers 5xx.
    w.meta.loses_commit_answers.set(true);
    w.meta.fail_reads.set(true);
    assert!(w.send(tus_patch(&path, first.len(), b"56789")).reply.status >= 500);
    w.meta.loses_commit_answers.set(false);
    w.meta.fail_reads.set(false);
    let retry = w.send(tus_patch(&path, first.len(), b"56789"));
    assert_eq!(retry.reply.status, 204, "{:?}", retry.error);
    assert_eq!(retry.reply.header("Upload-Offset"), Some((first.len() + 5).to_string().as_str()));
    assert_eq!(w.object("alice/retried.bin").unwrap(), [first, b"56789".to_vec()].concat());
}

#[test]
fn a_completion_retried_after_the_first_committed_answers_the_same_201() {
    let w = World::default_config();
    let (id, _) = all_parts_sent(&w);
    let first = w.send(complete_req(&id, ""));
    assert_eq!(first.reply.status, 201);
    // The client never saw that answer and sends the completion again.
    let again = w.send(complete_req(&id, ""));
    assert_eq!(again.reply.status, 201, "{:?}", again.error);
    assert_eq!(json_body(&again.reply)["etag"], json_body(&first.reply)["etag"]);
    assert_eq!(again.followup.unwrap().replaced, None);
    // Another caller's retry learns nothing.
    let bob = Req::new(Method::POST, &format!("/files/{KEY}?uploadId={id}"))
        .bearer(&token("bob", json!({"prefix": "alice/"})));
    assert_problem(&w.send(bob), 404, "upload_not_found");
}

/// s3s-fs answers `AccessDenied` to completing an upload another completion took and is still
/// assembling: that is no credentials problem, and a retry settles it.
#[test]
fn a_completion_denied_while_another_completion_assembles_is_a_retryable_503() {
    let w = World::default_config();
    let (id, parts) = all_parts_sent(&w);
    w.store.denies_gone_uploads.set(true);
    // The other completion has taken the store's upload and not written the object yet.
    let taken = w.store.multiparts.borrow_mut().pop_first().unwrap();
    let h = w.send(complete_req(&id, ""));
    assert_problem(&h, 503, "storage_error");
    assert!(json_body(&h.reply)["detail"].as_str().unwrap().contains("retry"));
    assert!(w.meta.multiparts.borrow().contains_key(&id), "the upload stays open for the retry");
    // The other completion finishes assembling; the retry records it.
    w.store.multiparts.borrow_mut().insert(taken.0, taken.1);
    w.store.denies_gone_uploads.set(false);
    let retry = w.send(complete_req(&id, ""));
    assert_eq!(retry.reply.status, 201, "{:?}", retry.error);
    assert_eq!(sha256(&w.object(KEY).unwrap()), sha256(&parts.concat()));
}
