//! The cleanup sweep decides what to delete after a crash, a lost answer or a failed cleanup.
//! These tests pin that it never removes the object a row names, removes every stored name
//! its journal owns that no row names, waits until an entry is due, claims an entry before it
//! deletes (so a late commit fails instead of answering 201 for a deleted object), and is
//! harmless when repeated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::metadata::{Commit, PendingUpload, UploadJournal};
use gateway_core::sweep::{sweep_pending, SweepReport};

const HOUR: i64 = 60 * 60 * 1000;
const KEY: &str = "alice/report.txt";

fn journal(w: &World, id: &str, storage_key: &str, due_at: i64) {
    let entry = PendingUpload {
        id: id.into(),
        key: KEY.into(),
        owner: "alice".into(),
        started_at: NOW_MS,
        storage_key: storage_key.into(),
        due_at,
    };
    w.meta.pending.borrow_mut().insert(id.into(), entry);
}

/// A stored object no row names, as an upload cut off before its commit leaves it; returns
/// its stored name.
fn orphan(w: &World, bytes: &[u8]) -> String {
    w.upload("alice", KEY, "text/plain", bytes);
    w.meta.rows.borrow_mut().remove(KEY).unwrap().storage_key
}

fn sweep(w: &World, now: i64) -> SweepReport {
    block_on(sweep_pending(&w.store, &w.meta, now))
}

#[test]
fn an_uncommitted_object_is_deleted_and_its_entry_cleared() {
    let w = World::default_config();
    let name = orphan(&w, b"half a story");
    journal(&w, "stale", &name, NOW_MS + HOUR);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.orphans_removed, 1);
    assert!(w.stored_versions(KEY).is_empty());
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn the_object_a_row_names_survives_an_entry_for_it() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"committed");
    let name = w.row(KEY).unwrap().storage_key;
    journal(&w, "stale", &name, NOW_MS + HOUR);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!((r.examined, r.orphans_removed), (1, 0));
    assert_eq!(w.object(KEY).unwrap(), b"committed");
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn an_uncommitted_version_beside_a_committed_one_is_deleted_and_the_committed_one_kept() {
    let w = World::default_config();
    let stray = orphan(&w, b"never committed");
    w.upload("alice", KEY, "text/plain", b"committed");
    journal(&w, "stale", &stray, NOW_MS + HOUR);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.orphans_removed, 1);
    assert_eq!(w.object(KEY).unwrap(), b"committed");
    assert_eq!(w.stored_versions(KEY), vec![w.row(KEY).unwrap().storage_key]);
}

#[test]
fn entries_not_yet_due_are_left_alone() {
    let w = World::default_config();
    let name = orphan(&w, b"still streaming");
    journal(&w, "young", &name, NOW_MS + HOUR);
    let r = sweep(&w, NOW_MS + HOUR - 1);
    assert_eq!(r.examined, 0);
    assert_eq!(w.stored_versions(KEY).len(), 1);
    assert_eq!(w.meta.pending.borrow().len(), 1);
}

#[test]
fn a_long_upload_is_due_only_after_its_body_could_have_arrived_at_a_slow_pace() {
    use gateway_core::upload::{due_at, SLOWEST_UPLOAD_BYTES_PER_SECOND};
    let mb100 = 100_000_000u64;
    let due = due_at(NOW_MS, mb100);
    // 100 MB at 200 kbit/s takes 4000 s: longer than the hour of grace, shorter than its due time.
    assert!(due > NOW_MS + 4000 * 1000, "{}", due - NOW_MS);
    assert_eq!(due, NOW_MS + HOUR + (mb100 * 1000 / SLOWEST_UPLOAD_BYTES_PER_SECOND) as i64);
}

#[test]
fn an_upload_that_outlives_its_due_time_is_refused_at_commit_rather_than_answered_201_for_a_deleted_object() {
    let w = World::default_config();
    // The body is stored and the entry written; the sweep runs before the commit.
    let name = orphan(&w, b"slow");
    journal(&w, "slow-upload", &name, NOW_MS + HOUR);
    sweep(&w, NOW_MS + 2 * HOUR);
    let mut record = gateway_core::metadata::ObjectRecord {
        key: KEY.into(),
        owner: "alice".into(),
        size: 4,
        content_type: "text/plain".into(),
        etag: "\"x\"".into(),
        checksum_sha256: None,
        checksum_md5: None,
        status: "complete".into(),
        detected_type: None,
        type_matches: None,
        created_at: NOW_MS,
        completed_at: Some(NOW_MS),
        storage_key: name.clone(),
        scan: None,
        metadata: None,
    };
    assert_eq!(block_on(w.meta.commit_upload("slow-upload", &record, false, None)).unwrap(), Commit::Claimed);
    assert!(w.row(KEY).is_none());
    // A claimed entry whose delete failed cannot be committed through either.
    let other = orphan(&w, b"other");
    journal(&w, "claimed", &other, NOW_MS);
    w.store.fail_deletes.set(true);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.problems.len(), 1, "{r:?}");
    record.storage_key = other;
    assert_eq!(block_on(w.meta.commit_upload("claimed", &record, false, None)).unwrap(), Commit::Claimed);
}

#[test]
fn two_entries_for_one_key_are_settled_independently() {
    let w = World::default_config();
    let a = orphan(&w, b"leftover a");
    let b = orphan(&w, b"leftover b, longer");
    journal(&w, "a", &a, NOW_MS);
    journal(&w, "b", &b, NOW_MS + 1);
    let r = sweep(&w, NOW_MS + 3 * HOUR);
    assert_eq!((r.examined, r.orphans_removed), (2, 2));
    assert!(w.stored_versions(KEY).is_empty());
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn sweeping_twice_changes_nothing_the_second_time() {
    let w = World::default_config();
    w.upload("alice", "alice/keep.txt", "text/plain", b"keep");
    let name = orphan(&w, b"leftover");
    journal(&w, "stale", &name, NOW_MS);
    sweep(&w, NOW_MS + 2 * HOUR);
    let second = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(second, SweepReport::default());
    assert_eq!(w.object("alice/keep.txt").unwrap(), b"keep");
}

#[test]
fn a_database_failure_is_reported_not_panicked_and_the_entry_stays() {
    let w = World::default_config();
    let name = orphan(&w, b"leftover");
    journal(&w, "stale", &name, NOW_MS);
    w.meta.fail_writes.set(true);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(w.meta.pending.borrow().len(), 1, "the entry stays for the next run");
    w.meta.fail_writes.set(false);
    assert_eq!(sweep(&w, NOW_MS + 2 * HOUR).orphans_removed, 1);
}
