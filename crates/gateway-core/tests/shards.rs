//! The sharded metadata (`gateway_core::shard`): the whole metadata contract through shards
//! (every call and answer through JSON, each shard its own SQLite), routing, isolation, and
//! listings across namespaces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures_executor::block_on;
use gateway_core::contract;
use gateway_core::metadata::{ListCursor, ObjectIndex, ObjectRecord, PendingUpload, UploadJournal};
use gateway_core::shard::local::LocalShards;
use gateway_core::shard::{shard_of_id, Layout};
use gateway_core::sql::SqlMetadata;

type Sharded = SqlMetadata<LocalShards>;

fn sharded() -> Sharded {
    SqlMetadata::new(LocalShards::default(), true)
}

fn record(key: &str, owner: &str, at: i64) -> ObjectRecord {
    ObjectRecord { etag: "\"e\"".to_owned(), ..common::version(key, owner, 1, at, &format!("{key}~{at}")) }
}

fn put(m: &Sharded, key: &str, owner: &str, at: i64) {
    let rec = record(key, owner, at);
    let id = format!("up-{key}-{at}");
    let entry = PendingUpload {
        id: id.clone(),
        key: key.to_owned(),
        owner: owner.to_owned(),
        started_at: at,
        storage_key: rec.storage_key.clone(),
        due_at: at + 1000,
    };
    block_on(m.begin_upload(&entry)).unwrap();
    block_on(m.commit_upload(&id, &rec, false, None)).unwrap();
}

#[test]
fn the_metadata_contract_holds_through_shards() {
    let m = sharded();
    let outcomes = block_on(contract::metadata(&m));
    let failed: Vec<_> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
    assert!(outcomes.len() > 20);
}

fn shard_of(key: &str) -> String {
    Layout::default().shard_of(key)
}

#[test]
fn a_keys_namespace_is_its_first_segment_and_routed_ids_name_its_shard() {
    let layout = Layout::default();
    assert_eq!(layout.shard_key("alice/photos/a.jpg"), "alice");
    assert_eq!(layout.shard_key("loose.txt"), "loose.txt");
    assert_eq!(shard_of("alice/a"), shard_of("alice/b/c"));
    assert_ne!(shard_of("alice/a"), shard_of("bob/a"));
    let id = layout.routed_id("alice/a", "0123abcd");
    assert_eq!(shard_of_id(&id), Some(shard_of("alice/x").as_str()));
    assert_eq!(shard_of_id("0123abcd"), None);
    assert_eq!(shard_of_id("zzzzzzzzzzzzzzzzzx"), None);
    assert_eq!(shard_of_id(&"0".repeat(32)), None);
}

#[test]
fn each_call_that_names_a_key_goes_to_that_keys_shard_alone() {
    let m = sharded();
    put(&m, "alice/a", "alice", 1);
    put(&m, "bob/a", "bob", 2);
    let sent = m.db().sent.borrow().clone();
    assert!(sent.iter().all(|(shard, _)| *shard == shard_of("alice/a") || *shard == shard_of("bob/a")));
    assert_eq!(sent.len(), 4, "one round trip per call: {sent:#?}");
    // Each shard holds its own namespace's rows and nothing else.
    let alice = SqlMetadata::new(block_on(m.db().shard(&shard_of("alice/a"))).unwrap(), true);
    assert!(block_on(alice.get("bob/a")).unwrap().is_none(), "alice's shard holds bob's row");
    assert!(block_on(alice.get("alice/a")).unwrap().is_some());
    assert_eq!(m.db().names().len(), 2);
}

#[test]
fn an_upload_id_nobody_made_finds_no_upload_without_a_round_trip() {
    use gateway_core::metadata::{MultipartIndex, TusIndex};
    let m = sharded();
    assert!(block_on(m.multipart("not-routed")).unwrap().is_none());
    assert!(block_on(m.tus("not-routed")).unwrap().is_none());
    assert!(!block_on(m.end_multipart("not-routed", 0)).unwrap());
    assert!(m.db().sent.borrow().is_empty());
}

#[test]
fn a_listing_across_namespaces_merges_every_shard_newest_first_and_pages_exactly() {
    let m = sharded();
    // One owner writing under several namespaces (a token whose prefix spans them), with
    // another owner's rows beside them.
    for (i, ns) in ["team-a", "team-b", "team-c", "other"].iter().enumerate() {
        for j in 0..5 {
            put(&m, &format!("{ns}/f{j}"), "carol", (j * 10 + i) as i64);
        }
    }
    put(&m, "team-a/dave", "dave", 100);
    let mut seen = Vec::new();
    let mut cursor: Option<ListCursor> = None;
    loop {
        let page = block_on(m.list("carol", "team-", 4, cursor.as_ref())).unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|r| ListCursor { created_at: r.created_at, key: r.key.clone() });
        seen.extend(page.into_iter().map(|r| (r.created_at, r.key)));
    }
    let mut expected: Vec<(i64, String)> = (0..3)
        .flat_map(|i| (0..5).map(move |j| ((j * 10 + i) as i64, format!("{}/f{j}", ["team-a", "team-b", "team-c"][i]))))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
    // A prefix inside one namespace asks that namespace's shard only.
    let before = m.db().sent.borrow().len();
    let own = block_on(m.list("carol", "team-b/", 100, None)).unwrap();
    assert_eq!(own.len(), 5);
    assert_eq!(m.db().sent.borrow().len(), before + 1);
}

#[test]
fn a_shards_alarm_time_is_its_earliest_pending_work() {
    use gateway_core::events::{EventOutbox, OUTBOX_GRACE_MS};
    use gateway_core::shard::due::{next_due, RECONCILE_EVERY_MS};
    let m = sharded();
    let shard = shard_of("erin/a");
    let local = block_on(m.db().shard(&shard)).unwrap();
    assert_eq!(block_on(next_due(&*local, None)).unwrap(), None, "an empty shard has nothing due");
    let entry = PendingUpload {
        id: "up-1".to_owned(),
        key: "erin/a".to_owned(),
        owner: "erin".to_owned(),
        started_at: 10,
        storage_key: "erin/a~1".to_owned(),
        due_at: 5_000,
    };
    block_on(m.begin_upload(&entry)).unwrap();
    assert_eq!(block_on(next_due(&*local, None)).unwrap(), Some(5_000));
    // The commit clears the entry and records its event: next due is the event's re-send.
    block_on(m.commit_upload("up-1", &record("erin/a", "erin", 1), false, None)).unwrap();
    assert_eq!(block_on(next_due(&*local, None)).unwrap(), Some(1 + OUTBOX_GRACE_MS));
    let sent = block_on(m.unsent_events(i64::MAX, 10)).unwrap();
    block_on(m.clear_events(&sent)).unwrap();
    // What stays is the daily reconciliation of the shard's owners' usage, due a day after the
    // last one (never, at first), then a day after it ran.
    assert_eq!(block_on(next_due(&*local, None)).unwrap(), Some(RECONCILE_EVERY_MS), "once the event is sent");
    block_on(gateway_core::quota::QuotaIndex::reconcile_usage(&m, 100, 7_000)).unwrap();
    assert_eq!(block_on(next_due(&*local, None)).unwrap(), Some(7_000 + RECONCILE_EVERY_MS));
}

#[test]
fn a_quarantined_versions_verdict_deadline_is_due_work_only_with_quarantine_on() {
    use gateway_core::events::EventOutbox;
    use gateway_core::shard::due::{next_due, RECONCILE_EVERY_MS};
    let m = sharded();
    let local = block_on(m.db().shard(&shard_of("erin/q"))).unwrap();
    let entry = PendingUpload {
        id: "up-q".to_owned(),
        key: "erin/q".to_owned(),
        owner: "erin".to_owned(),
        started_at: 10,
        storage_key: "erin/q~1".to_owned(),
        due_at: 5_000,
    };
    block_on(m.begin_upload(&entry)).unwrap();
    let pending = ObjectRecord { scan: Some("pending".to_owned()), ..record("erin/q", "erin", 100) };
    block_on(m.commit_upload("up-q", &pending, false, None)).unwrap();
    block_on(m.clear_events(&block_on(m.unsent_events(i64::MAX, 10)).unwrap())).unwrap();
    assert_eq!(block_on(next_due(&*local, Some(60_000))).unwrap(), Some(60_100));
    let without = block_on(next_due(&*local, None)).unwrap();
    assert_eq!(without, Some(RECONCILE_EVERY_MS), "without quarantine only the usage reconciliation is due");
}

#[test]
fn a_split_namespace_holds_each_second_segment_in_its_own_shard() {
    let layout = Layout::new(vec!["acme".to_owned(), "acme/eu".to_owned()]);
    assert_eq!(layout.shard_key("acme/us/a.txt"), "acme/us");
    assert_eq!(layout.shard_key("acme/eu/paris/a.txt"), "acme/eu/paris");
    assert_eq!(layout.shard_key("acme/top.txt"), "acme/top.txt");
    assert_eq!(layout.shard_key("alice/acme/a.txt"), "alice");
    assert_eq!(layout.pinned("acme/us/"), Some("acme/us"));
    assert_eq!(layout.pinned("acme/"), None, "a split namespace's prefix spans its shards");
    assert_eq!(layout.pinned("alice/x/"), Some("alice"));
    assert_eq!(layout.pinned("ali"), None);
    let id = layout.routed_id("acme/us/a.txt", "raw");
    assert_eq!(shard_of_id(&id), Some(layout.shard_of("acme/us/b.txt").as_str()));
    assert_ne!(layout.shard_of("acme/us/a"), layout.shard_of("acme/uk/a"));
}

#[test]
fn a_split_namespace_keeps_each_keys_history_in_one_shard_and_lists_across_its_shards() {
    use gateway_core::metadata::UploadJournal as _;
    let layout = Layout::new(vec!["acme".to_owned()]);
    let m = SqlMetadata::new(LocalShards::with_layout(layout.clone()), true);
    for (i, team) in ["us", "uk", "de"].iter().enumerate() {
        for j in 0..3 {
            put(&m, &format!("acme/{team}/f{j}"), "acme", (j * 10 + i) as i64);
        }
    }
    // An overwrite replaces the version in its key's shard, which journals the old one there.
    put(&m, "acme/us/f0", "acme", 100);
    let us = SqlMetadata::new(block_on(m.db().shard(&layout.shard_of("acme/us/x"))).unwrap(), true);
    assert_eq!(block_on(us.get("acme/us/f0")).unwrap().unwrap().storage_key, "acme/us/f0~100");
    let due: Vec<String> =
        block_on(us.due_uploads(i64::MAX, 100)).unwrap().into_iter().map(|p| p.storage_key).collect();
    assert!(due.contains(&"acme/us/f0~0".to_owned()), "the replaced version is not journaled in its shard: {due:?}");
    assert!(block_on(us.get("acme/uk/f0")).unwrap().is_none(), "the us shard holds the uk team's row");
    assert_eq!(m.db().names().len(), 3, "one shard per team");
    // The namespace's listing spans its shards, newest first, page by page.
    let mut seen = Vec::new();
    let mut cursor: Option<ListCursor> = None;
    loop {
        let page = block_on(m.list("acme", "acme/", 4, cursor.as_ref())).unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|r| ListCursor { created_at: r.created_at, key: r.key.clone() });
        seen.extend(page.into_iter().map(|r| r.key));
    }
    assert_eq!(seen.len(), 9);
    assert_eq!(seen.first().map(String::as_str), Some("acme/us/f0"));
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 9, "a key listed twice: {seen:?}");
    // A prefix inside one team's shard asks that shard alone.
    let before = m.db().sent.borrow().len();
    assert_eq!(block_on(m.list("acme", "acme/uk/", 10, None)).unwrap().len(), 3);
    assert_eq!(m.db().sent.borrow().len(), before + 1);
}

#[test]
fn the_directory_lists_the_shards_whose_reported_work_is_due_and_keeps_the_latest_report() {
    use gateway_core::shard::registry::{note_due, overdue, own_name, remember_name, schema};
    use gateway_core::sql::sqlite::NativeSqlite;
    use gateway_core::sql::{Route, SqlDatabase};
    let directory = NativeSqlite::in_memory().unwrap();
    block_on(directory.batch(Route::Here, "schema", schema())).unwrap();
    block_on(note_due(&directory, "s-a", Some(1_000), 10)).unwrap();
    block_on(note_due(&directory, "s-b", Some(500), 10)).unwrap();
    block_on(note_due(&directory, "s-c", None, 10)).unwrap();
    block_on(note_due(&directory, "s-d", Some(5_000), 10)).unwrap();
    assert_eq!(block_on(overdue(&directory, 1_000)).unwrap(), ["s-b", "s-a"], "due by then, earliest first");
    assert!(block_on(overdue(&directory, 499)).unwrap().is_empty());
    // A sweep's later report (nothing due) replaces the earlier one; an older report that
    // arrives after it changes nothing.
    block_on(note_due(&directory, "s-a", None, 20)).unwrap();
    block_on(note_due(&directory, "s-a", Some(900), 15)).unwrap();
    assert_eq!(block_on(overdue(&directory, 1_000)).unwrap(), ["s-b"]);
    block_on(remember_name(&directory, "s-x")).unwrap();
    block_on(remember_name(&directory, "s-x")).unwrap();
    assert_eq!(block_on(own_name(&directory)).unwrap().as_deref(), Some("s-x"));
}

#[test]
fn a_shard_remembers_the_due_time_it_last_reported() {
    use gateway_core::shard::registry::{reported, schema, set_reported};
    use gateway_core::sql::sqlite::NativeSqlite;
    use gateway_core::sql::{Route, SqlDatabase};
    let shard = NativeSqlite::in_memory().unwrap();
    block_on(shard.batch(Route::Here, "schema", schema())).unwrap();
    assert_eq!(block_on(reported(&shard)).unwrap(), None, "never reported");
    block_on(set_reported(&shard, Some(5_000))).unwrap();
    assert_eq!(block_on(reported(&shard)).unwrap(), Some(Some(5_000)));
    block_on(set_reported(&shard, None)).unwrap();
    assert_eq!(block_on(reported(&shard)).unwrap(), Some(None), "nothing due, reported");
}

#[test]
fn an_upload_ids_batch_counts_its_owners_quota_in_place_only_where_the_id_names_the_owners_own_shard() {
    let flat = Layout::default();
    let own = flat.routed_id("alice/a.bin", "u1");
    assert_eq!(flat.home_apart_id(&own, "alice"), None);
    let other = flat.routed_id("team/a.bin", "u2");
    assert_eq!(flat.home_apart_id(&other, "alice"), Some(flat.shard_of("alice/x")));
    assert!(flat.home_apart_id("not-routed", "alice").is_some());
    // After a split of the owner's namespace an id made before it may be handed on elsewhere.
    let split = Layout::new(vec!["alice".to_owned()]);
    assert!(split.home_apart_id(&own, "alice").is_some());
    let unrelated = Layout::new(vec!["alicea".to_owned(), "bob/x".to_owned()]);
    assert_eq!(unrelated.home_apart_id(&own, "alice"), None);
    assert!(Layout::new(vec!["alice/us".to_owned()]).home_apart_id(&own, "alice").is_some());
}
