//! An owner's quota across shards (`gateway_core::shard::ledger`): an owner writing under
//! several namespaces is held to one limit, at its home shard, whatever shards its keys are in;
//! reports from the keys' shards turn reservations into usage and free what deletes free.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures_executor::block_on;
use gateway_core::metadata::{Deletion, ObjectIndex, PendingUpload, QuotaIndex, Reservation, UploadJournal};
use gateway_core::quota::Quota;
use gateway_core::shard::local::LocalShards;
use gateway_core::sql::SqlMetadata;

type Sharded = SqlMetadata<LocalShards>;

const LIMIT: Quota = Quota { bytes: Some(10), objects: None };

fn reserve(m: &Sharded, id: &str, key: &str, bytes: u64) -> bool {
    let r = Reservation { id, owner: "alice", key, bytes, objects: 1, until_ms: 1_000, replaces: true };
    block_on(m.reserve_quota(&r, &LIMIT, 10)).unwrap()
}

/// Records the write reserved as `id`: its journal entry, then its commit.
fn commit(m: &Sharded, id: &str, key: &str, size: u64) {
    let storage_key = format!("{key}~{id}");
    let entry = PendingUpload {
        id: id.to_owned(),
        key: key.to_owned(),
        owner: "alice".to_owned(),
        started_at: 10,
        storage_key: storage_key.clone(),
        due_at: 500,
    };
    block_on(m.begin_upload(&entry)).unwrap();
    let rec = common::version(key, "alice", size, 10, &storage_key);
    block_on(m.commit_upload(id, &rec, false, None)).unwrap();
}

#[test]
fn an_owner_writing_under_several_namespaces_is_held_to_one_limit_across_their_shards() {
    let m: Sharded = SqlMetadata::new(LocalShards::default(), true);
    assert!(m.db().layout.home_apart("p1/a", "alice").is_some(), "the keys are not in alice's home shard");
    assert!(reserve(&m, "w1", "p1/a", 6));
    assert!(reserve(&m, "w0", "alice/z", 1));
    let shown = block_on(m.usage("alice", "", 10)).unwrap();
    assert_eq!(shown.reserved_bytes, 7, "each reservation shown once, not with the home's copy");
    block_on(m.release_quota("alice/z", "w0")).unwrap();
    assert!(!reserve(&m, "w2", "p2/b", 6), "6 + 6 over 10, in two other shards");
    assert!(!reserve(&m, "w3", "alice/c", 6), "nor at home");
    commit(&m, "w1", "p1/a", 6);
    // Until p1's shard reports, the home counts the write as reserved: still 6.
    assert!(!reserve(&m, "w4", "p2/b", 5));
    assert_eq!(block_on(m.db().send_reports()).unwrap(), 2, "p1 its write, p2 the ones it let go");
    assert!(!reserve(&m, "w5", "p2/b", 5), "6 stored in p1's shard, as reported");
    assert!(reserve(&m, "w6", "alice/c", 4), "4 at home fits beside them");
    block_on(m.release_quota("alice/c", "w6")).unwrap();
    // What a delete frees is free once reported.
    let deleted = block_on(m.delete_key("p1/a", 20, "evt-del", None)).unwrap();
    assert!(matches!(deleted, Deletion::Removed(_)), "{deleted:?}");
    assert!(!reserve(&m, "w7", "p2/b", 10), "not yet reported");
    block_on(m.db().send_reports()).unwrap();
    assert!(reserve(&m, "w8", "p2/b", 10));
}

#[test]
fn a_released_reservation_is_dropped_at_the_home_once_its_shard_reports() {
    let m: Sharded = SqlMetadata::new(LocalShards::default(), true);
    assert!(reserve(&m, "w1", "p1/a", 6));
    // Released (its upload failed): the home drops it once p1's shard reports.
    block_on(m.release_quota("p1/a", "w1")).unwrap();
    assert!(!reserve(&m, "w2", "p2/b", 6));
    block_on(m.db().send_reports()).unwrap();
    assert!(reserve(&m, "w3", "p2/b", 6));
    assert_eq!(block_on(m.db().send_reports()).unwrap(), 0, "nothing changed since, nothing to report");
}
