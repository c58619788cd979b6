//! The cleanup sweep decides what to delete after a crash or a failed commit. These tests pin
//! that it never removes a committed object, never leaves a row for a missing object or an
//! uncommitted object behind, leaves in-flight uploads alone, and is harmless when repeated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::metadata::PendingUpload;
use gateway_core::sweep::{sweep_pending, SweepReport};

const HOUR: i64 = 60 * 60 * 1000;
const KEY: &str = "alice/report.txt";

fn journal(w: &World, id: &str, key: &str, started_at: i64) {
    let entry = PendingUpload { id: id.into(), key: key.into(), owner: "alice".into(), started_at };
    w.meta.pending.borrow_mut().insert(id.into(), entry);
}

/// An object in the store without a row, as an upload cut off before its commit leaves it.
fn orphan(w: &World, key: &str, bytes: &[u8]) {
    w.upload("alice", key, "text/plain", bytes);
    w.meta.rows.borrow_mut().remove(key);
}

fn sweep(w: &World, now: i64) -> SweepReport {
    block_on(sweep_pending(&w.store, &w.meta, now, HOUR))
}

#[test]
fn an_uncommitted_object_is_deleted_and_its_entry_cleared() {
    let w = World::default_config();
    orphan(&w, KEY, b"half a story");
    journal(&w, "stale", KEY, NOW_MS);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.orphans_removed, 1);
    assert!(w.object(KEY).is_none());
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_committed_object_survives_a_stale_entry() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"committed");
    journal(&w, "stale", KEY, NOW_MS);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!((r.examined, r.orphans_removed, r.stale_rows_removed), (1, 0, 0));
    assert_eq!(w.object(KEY).unwrap(), b"committed");
    assert!(w.row(KEY).is_some());
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn a_row_whose_object_is_gone_is_removed() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"committed");
    w.store.objects.borrow_mut().remove(KEY);
    journal(&w, "stale", KEY, NOW_MS);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.stale_rows_removed, 1);
    assert!(w.row(KEY).is_none());
}

#[test]
fn an_uncommitted_object_that_replaced_a_committed_one_takes_the_row_with_it() {
    let w = World::default_config();
    w.upload("alice", KEY, "text/plain", b"committed");
    let row = w.row(KEY).unwrap();
    orphan(&w, KEY, b"replacement");
    w.meta.rows.borrow_mut().insert(KEY.into(), row);
    assert_ne!(w.object(KEY).unwrap(), b"committed");
    journal(&w, "stale", KEY, NOW_MS);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!((r.orphans_removed, r.stale_rows_removed), (1, 1));
    assert!(w.object(KEY).is_none());
    assert!(w.row(KEY).is_none());
}

#[test]
fn entries_younger_than_the_grace_period_are_left_alone() {
    let w = World::default_config();
    orphan(&w, KEY, b"still streaming");
    journal(&w, "young", KEY, NOW_MS);
    let r = sweep(&w, NOW_MS + HOUR / 2);
    assert_eq!(r.examined, 0);
    assert!(w.object(KEY).is_some());
    assert_eq!(w.meta.pending.borrow().len(), 1);
}

#[test]
fn a_key_with_an_upload_in_flight_is_deferred() {
    let w = World::default_config();
    orphan(&w, KEY, b"maybe the new upload's");
    journal(&w, "stale", KEY, NOW_MS);
    journal(&w, "in-flight", KEY, NOW_MS + 2 * HOUR - 1000);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.deferred, 1);
    assert!(w.object(KEY).is_some());
    // The deferred entry steps to the back of the queue, behind entries that are due.
    assert_eq!(w.meta.pending.borrow()["stale"].started_at, NOW_MS + 2 * HOUR);
}

#[test]
fn two_stale_entries_for_one_key_do_not_block_each_other() {
    let w = World::default_config();
    orphan(&w, KEY, b"leftover");
    journal(&w, "a", KEY, NOW_MS);
    journal(&w, "b", KEY, NOW_MS + 1);
    let r = sweep(&w, NOW_MS + 3 * HOUR);
    assert_eq!((r.examined, r.deferred, r.orphans_removed), (2, 0, 1));
    assert!(w.object(KEY).is_none());
    assert!(w.meta.pending.borrow().is_empty());
}

#[test]
fn sweeping_twice_changes_nothing_the_second_time() {
    let w = World::default_config();
    w.upload("alice", "alice/keep.txt", "text/plain", b"keep");
    orphan(&w, KEY, b"leftover");
    journal(&w, "stale", KEY, NOW_MS);
    sweep(&w, NOW_MS + 2 * HOUR);
    let second = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(second, SweepReport::default());
    assert_eq!(w.object("alice/keep.txt").unwrap(), b"keep");
}

#[test]
fn a_database_failure_is_reported_not_panicked() {
    let w = World::default_config();
    orphan(&w, KEY, b"leftover");
    journal(&w, "stale", KEY, NOW_MS);
    w.meta.fail_writes.set(true);
    let r = sweep(&w, NOW_MS + 2 * HOUR);
    assert_eq!(r.problems.len(), 1);
    assert!(w.object(KEY).is_none(), "the orphan is deleted before the row write fails");
    assert_eq!(w.meta.pending.borrow().len(), 1, "the entry stays for the next run");
}
