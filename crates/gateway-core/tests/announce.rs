//! Announced uploads: with an event queue, a single PUT of at most 64 KiB is read whole,
//! sniffed, announced on the queue while it is stored, and committed in one statement before
//! its deadline; it writes its row and nothing else. Its pending-commit message later finds the
//! version (its row, or the copy kept when it was replaced or deleted) and delivers its event,
//! waits while it may still commit, or deletes the object that never will be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::announce::{hand_off, resolve, resolve_all, Resolution, BUFFERED_UPLOAD_MAX_BYTES, CHECK_DELAY_S};
use gateway_core::events::{Event, PendingCommit, QueueMessage};
use gateway_core::key::StoredName;
use gateway_core::metadata::{garbage_id, UploadJournal};
use gateway_core::store::{Objects, PutObject};
use gateway_core::sweep::{self, REPLACED_RETENTION_MS};
use gateway_core::upload::transfer_ms;
use serde_json::json;

fn world() -> World {
    World::with_queue(config())
}

fn put(key: &str, content_type: &str, bytes: &[u8]) -> Req {
    Req::put(&format!("/files/{key}"), bytes).bearer(&token("alice", json!({}))).header("content-type", content_type)
}

/// The pending-commit messages sent so far.
fn announced(w: &World) -> Vec<(PendingCommit, u32)> {
    w.queue.as_ref().unwrap().pending.borrow().clone()
}

/// Stores `bytes` under stored name `name` with no row: an upload that never committed.
fn store_unrecorded(w: &World, name: &str, bytes: &[u8]) -> StoredName {
    let name = StoredName::recorded(name.to_owned());
    let put = PutObject {
        name: name.clone(),
        body: Some(bytes.to_vec()),
        length: bytes.len() as u64,
        content_type: "text/plain".into(),
        md5: None,
        sha256: None,
    };
    block_on(w.store.put(put)).unwrap();
    name
}

fn settle(w: &World, pending: &PendingCommit, attempt: u32) -> Resolution {
    block_on(resolve(&w.store, &w.meta, pending, attempt)).unwrap()
}

#[test]
fn a_small_upload_writes_only_its_row_complete_with_its_sniffed_type() {
    let w = world();
    let job = w.upload("alice", "alice/a.png", "image/png", PNG);
    let row = w.row("alice/a.png").unwrap();
    assert_eq!((row.detected_type.as_deref(), row.type_matches), (Some("image/png"), Some(true)));
    assert!(w.meta.pending.borrow().is_empty(), "no journal entry");
    assert!(w.meta.outbox.borrow().is_empty(), "no outbox row");
    assert!(job.queued, "the event travels with the pending-commit message");
    let sent = announced(&w);
    assert_eq!(sent.len(), 1);
    let (pending, delay) = &sent[0];
    assert_eq!(*delay, CHECK_DELAY_S);
    assert_eq!((pending.key.as_str(), pending.storage_key.as_str()), ("alice/a.png", row.storage_key.as_str()));
    assert_eq!(pending.id, Event::uploaded(&row).id, "the id the version's event has");
    let window = w.config.commit_window_ms;
    assert_eq!(pending.deadline_ms, NOW_MS + window + transfer_ms(PNG.len() as u64));
    assert_eq!(QueueMessage::from_json(&pending.to_json()), Some(QueueMessage::Pending(pending.clone())));
}

#[test]
fn only_an_announced_upload_that_replaced_nothing_leaves_no_work_after_its_answer() {
    let w = world();
    assert!(!w.upload("alice", "alice/a.txt", "text/plain", b"one").has_work(), "a new key");
    assert!(w.upload("alice", "alice/a.txt", "text/plain", b"two").has_work(), "the replaced version to delete");
    let body = vec![b'x'; BUFFERED_UPLOAD_MAX_BYTES as usize + 1];
    assert!(w.upload("alice", "alice/big.bin", "text/plain", &body).has_work(), "a journaled upload's event to send");
}

#[test]
fn a_declared_type_the_bytes_contradict_is_recorded_at_the_commit() {
    let w = world();
    w.upload("alice", "alice/a.png", "image/png", PDF);
    let row = w.row("alice/a.png").unwrap();
    assert_eq!((row.detected_type.as_deref(), row.type_matches), (Some("application/pdf"), Some(false)));
}

#[test]
fn a_body_over_the_buffer_limit_is_journaled_as_without_a_queue() {
    let w = world();
    let body = vec![b'x'; BUFFERED_UPLOAD_MAX_BYTES as usize + 1];
    let job = w.upload("alice", "alice/big.bin", "application/octet-stream", &body);
    assert!(!job.queued);
    assert!(announced(&w).is_empty());
    assert_eq!(w.meta.outbox.borrow().len(), 1, "its event is in the outbox");
    assert!(w.row("alice/big.bin").unwrap().detected_type.is_none(), "sniffed after the answer");
}

#[test]
fn a_refused_upload_is_refused_before_its_body_is_read() {
    let w = world();
    let (h, read) = w.send_unread(put("bob/a.txt", "text/plain", b"hello"));
    assert_eq!(h.reply.status, 403);
    assert!(!read, "the body was read before the grant was checked");
    assert!(announced(&w).is_empty());
}

#[test]
fn a_commit_past_the_deadline_by_the_database_clock_is_refused_and_its_object_deleted() {
    let w = world();
    w.meta.clock.set(NOW_MS + w.config.commit_window_ms + 1000);
    let h = w.send(put("alice/a.txt", "text/plain", b"hello"));
    assert_problem(&h, 503, "storage_error");
    assert!(w.row("alice/a.txt").is_none());
    assert!(w.stored_versions("alice/a.txt").is_empty(), "the unrecorded object is gone");
}

#[test]
fn a_commit_after_its_journal_entry_was_claimed_is_refused() {
    let w = world();
    let h = w.send(put("alice/a.txt", "text/plain", b"first"));
    assert_eq!(h.reply.status, 201);
    // The next request's id is known: claim its entry before it commits.
    let id = format!("req-{NOW_MS}-{}", w.requests.get() + 1);
    w.meta.pending.borrow_mut().insert(
        id.clone(),
        gateway_core::metadata::PendingUpload {
            id: id.clone(),
            key: "alice/a.txt".into(),
            owner: "alice".into(),
            started_at: NOW_MS,
            storage_key: "x".into(),
            due_at: NOW_MS,
        },
    );
    w.meta.claimed.borrow_mut().insert(id);
    let h = w.send(put("alice/a.txt", "text/plain", b"second"));
    assert_problem(&h, 503, "storage_error");
    assert_eq!(w.object("alice/a.txt").unwrap(), b"first");
}

#[test]
fn if_none_match_on_a_key_that_has_an_object_is_refused_and_leaves_nothing() {
    let w = world();
    w.upload("alice", "alice/a.txt", "text/plain", b"first");
    let h = w.send(put("alice/a.txt", "text/plain", b"second").header("if-none-match", "*"));
    assert_problem(&h, 412, "precondition_failed");
    assert_eq!(w.stored_versions("alice/a.txt").len(), 1, "only the first upload's object");
    assert_eq!(announced(&w).len(), 1, "the refused upload announced nothing");
}

#[test]
fn when_the_announcement_cannot_be_sent_the_upload_is_journaled_and_its_event_outboxed() {
    let w = world();
    w.queue.as_ref().unwrap().down.set(true);
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    assert!(!job.queued);
    assert!(w.meta.pending.borrow().is_empty(), "the journal entry went with the commit");
    assert_eq!(w.meta.outbox.borrow().keys().cloned().collect::<Vec<_>>(), vec![job.event.id.clone()]);
    assert_eq!(w.object("alice/a.txt").unwrap(), b"hello");
}

/// The send failed after the queue took the message: the message deletes the object once the
/// deadline has passed unless a row names it, so the journaled fallback must not commit later.
#[test]
fn an_announcement_whose_answer_was_lost_falls_back_to_a_commit_bound_by_the_same_deadline() {
    let w = world();
    w.queue.as_ref().unwrap().loses_answers.set(true);
    // The database's clock is past the deadline by the time the fallback commits.
    w.meta.clock.set(NOW_MS + w.config.commit_window_ms + 1000);
    let h = w.send(put("alice/a.txt", "text/plain", b"hello"));
    let (pending, _) = announced(&w).remove(0);
    assert_eq!(settle(&w, &pending, 1), Resolution::Abandoned, "past the deadline, the message deletes the object");
    assert_problem(&h, 503, "storage_error");
    assert!(w.row("alice/a.txt").is_none(), "a row names the object its message deleted");
}

#[test]
fn an_announcement_whose_answer_was_lost_commits_before_the_deadline_and_its_message_finds_it() {
    let w = world();
    w.queue.as_ref().unwrap().loses_answers.set(true);
    let h = w.send(put("alice/a.txt", "text/plain", b"hello"));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let (pending, _) = announced(&w).remove(0);
    assert!(matches!(settle(&w, &pending, 1), Resolution::Committed(_)));
    w.upload("alice", "alice/a.txt", "text/plain", b"newer");
    let found = settle(&w, &pending, 2);
    assert!(matches!(found, Resolution::Committed(_)), "the replaced version's copy was not kept: {found:?}");
}

#[test]
fn a_lost_commit_answer_is_settled_by_claiming_an_entry_due_at_the_deadline() {
    let w = world();
    w.meta.loses_commit_answers.set(true);
    let h = w.send(put("alice/a.txt", "text/plain", b"hello"));
    assert_eq!(h.reply.status, 201, "the commit happened: {:?}", h.error);
    let (pending, _) = announced(&w).remove(0);
    let entries = w.meta.pending.borrow();
    let entry = entries.values().find(|e| e.storage_key == pending.storage_key).unwrap();
    assert_eq!(entry.due_at, pending.deadline_ms);
    assert!(w.meta.claimed.borrow().contains(&entry.id), "no commit can apply after the claim");
}

#[test]
fn a_committed_version_resolves_to_its_row() {
    let w = world();
    w.upload("alice", "alice/a.png", "image/png", PNG);
    let (pending, _) = announced(&w).remove(0);
    assert_eq!(settle(&w, &pending, 1), Resolution::Committed(Box::new(w.row("alice/a.png").unwrap())));
}

#[test]
fn a_version_not_committed_yet_is_looked_at_again_sooner_than_its_deadline() {
    let w = world();
    let pending = PendingCommit::new("alice/a.txt", "alice/a.txt~0123", NOW_MS + 10_000);
    w.meta.clock.set(NOW_MS);
    assert_eq!(settle(&w, &pending, 1), Resolution::Wait(1));
    assert_eq!(settle(&w, &pending, 3), Resolution::Wait(4), "doubling");
    assert_eq!(settle(&w, &pending, 6), Resolution::Wait(10), "but never past the deadline");
    w.meta.clock.set(NOW_MS + 9_500);
    assert_eq!(settle(&w, &pending, 6), Resolution::Wait(1));
}

#[test]
fn a_version_never_committed_is_deleted_once_past_the_deadline() {
    let w = world();
    let name = store_unrecorded(&w, "alice/a.txt~0123", b"orphan");
    let pending = PendingCommit::new("alice/a.txt", name.as_str(), NOW_MS);
    w.meta.clock.set(NOW_MS);
    assert_eq!(settle(&w, &pending, 1), Resolution::Abandoned);
    assert!(block_on(w.store.head(&name)).unwrap().is_none());
}

#[test]
fn a_version_replaced_before_its_message_is_read_is_still_found_until_the_copy_is_purged() {
    let w = world();
    w.upload("alice", "alice/a.txt", "text/plain", b"one");
    let first = w.row("alice/a.txt").unwrap();
    w.upload_at(NOW_MS + 1, "alice", "alice/a.txt", "text/plain", b"two");
    assert!(w.meta.pending.borrow().contains_key(&garbage_id(&first.storage_key)), "journaled for deletion");
    let (pending, _) = announced(&w).remove(0);
    assert_eq!(settle(&w, &pending, 1), Resolution::Committed(Box::new(first.clone())));
    let report = block_on(sweep::run(&w.store, &w.meta, NOW_MS + REPLACED_RETENTION_MS + 2, 0));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    w.meta.clock.set(pending.deadline_ms);
    assert_eq!(settle(&w, &pending, 1), Resolution::Abandoned, "too late: the copy is gone");
}

#[test]
fn a_version_deleted_before_its_message_is_read_is_still_found() {
    let w = world();
    w.upload("alice", "alice/a.txt", "text/plain", b"one");
    let row = w.row("alice/a.txt").unwrap();
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&token("alice", json!({}))));
    assert_eq!(h.reply.status, 204);
    let (pending, _) = announced(&w).remove(0);
    w.meta.clock.set(pending.deadline_ms + 1);
    assert_eq!(settle(&w, &pending, 1), Resolution::Committed(Box::new(row)));
}

#[test]
fn a_batch_of_pending_messages_is_settled_message_by_message_in_order() {
    let w = world();
    w.upload("alice", "alice/a.txt", "text/plain", b"one");
    let (committed, _) = announced(&w).remove(0);
    let waiting = PendingCommit::new("alice/b.txt", "alice/b.txt~0123", NOW_MS + 5_000);
    let late = PendingCommit::new("alice/c.txt", "alice/c.txt~4567", NOW_MS - 1);
    w.meta.clock.set(NOW_MS);
    let settled = block_on(resolve_all(&w.store, &w.meta, &[(&waiting, 2), (&committed, 1), (&late, 1)]));
    let row = w.row("alice/a.txt").unwrap();
    assert_eq!(
        settled,
        vec![Ok(Resolution::Wait(2)), Ok(Resolution::Committed(Box::new(row))), Ok(Resolution::Abandoned)]
    );
}

#[test]
fn a_message_handed_to_the_sweep_gets_its_object_deleted_unless_committed() {
    let w = world();
    w.upload("alice", "alice/kept.txt", "text/plain", b"kept");
    let (committed, _) = announced(&w).remove(0);
    assert_eq!(committed.owner, "alice");
    let name = store_unrecorded(&w, "alice/lost.txt~0123", b"lost");
    let lost = PendingCommit::new("alice/lost.txt", name.as_str(), NOW_MS);
    for pending in [&committed, &lost] {
        let entry = hand_off(pending, NOW_MS + 1);
        assert!(entry.due_at >= pending.deadline_ms, "never due before the deadline");
        block_on(w.meta.begin_upload(&entry)).unwrap();
    }
    let report = block_on(sweep::run(&w.store, &w.meta, committed.deadline_ms + 1, 0));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(block_on(w.store.head(&name)).unwrap().is_none(), "the never-committed object was deleted");
    assert_eq!(w.object("alice/kept.txt").unwrap(), b"kept", "the committed one stays");
    assert!(w.meta.pending.borrow().is_empty());
}
