//! Splitting a namespace that already holds keys (`gateway_core::shard::moving`): each key
//! moves whole to its new shard, on demand and in the background, with its history, sessions
//! and spent nonces; listings never miss a key; late callers with the old layout and upload ids
//! that name the old shard are sent on; a step whose answer was lost is imported once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::Cell;

use futures_executor::block_on;
use gateway_core::error::Result;
use gateway_core::metadata::{
    Commit, MultipartIndex, MultipartUpload, ObjectIndex, ObjectRecord, PartAttempt, PendingUpload, PresignLedger,
    UploadJournal,
};
use gateway_core::multipart::rules::Part;
use gateway_core::shard::local::LocalShards;
use gateway_core::shard::moving::{self, Call, Sources};
use gateway_core::shard::{shard_of_namespace, Layout};
use gateway_core::sql::{args, stmt, Route, SqlDatabase, SqlMetadata};

type Sharded = SqlMetadata<LocalShards>;

fn record(key: &str, at: i64, size: u64) -> ObjectRecord {
    common::version(key, "zeta", size, at, &format!("{key}~{at}"))
}

fn put(m: &Sharded, key: &str, at: i64) {
    let rec = record(key, at, at as u64);
    let id = format!("up-{key}-{at}");
    let entry = PendingUpload {
        id: id.clone(),
        key: key.to_owned(),
        owner: "zeta".to_owned(),
        started_at: at,
        storage_key: rec.storage_key.clone(),
        due_at: at + 1000,
    };
    block_on(m.begin_upload(&entry)).unwrap();
    let done = block_on(m.commit_upload(&id, &rec, false, None)).unwrap();
    assert!(matches!(done, Commit::Committed { .. }), "{done:?}");
}

/// A multipart upload of `key` begun in `m` (its id made from `raw`, naming the key's shard).
fn begin_multipart(m: &Sharded, key: &str, raw: &str) -> MultipartUpload {
    let upload = MultipartUpload {
        id: m.db().layout.routed_id(key, raw),
        key: key.to_owned(),
        owner: "zeta".to_owned(),
        store_upload_id: format!("store-{raw}"),
        content_type: "video/mp4".to_owned(),
        declared_size: None,
        created_at: 1,
        expires_at: 1_000_000,
        storage_key: format!("{key}~m"),
        max_size: None,
        metadata: None,
    };
    block_on(m.begin_multipart(&upload)).unwrap();
    upload
}

/// The metadata before `zeta` is split (every key of it in one shard), and after, on the same
/// shards.
fn before_and_after() -> (Sharded, Sharded) {
    let whole = SqlMetadata::new(LocalShards::default(), true);
    let mut split = whole.db().clone();
    split.layout = Layout::new(vec!["zeta".to_owned()]);
    (whole, SqlMetadata::new(split, true))
}

/// How many rows of `table` for `key` shard key `ns`'s shard holds.
fn rows(m: &Sharded, ns: &str, table: &str, key: &str) -> usize {
    let db = block_on(m.db().shard(&shard_of_namespace(ns))).unwrap();
    let sql = format!("SELECT 1 AS x FROM {table} WHERE key = ?1");
    block_on(db.batch(Route::Here, "test", vec![stmt(sql, args![key])])).unwrap()[0].rows.len()
}

fn listed(m: &Sharded, prefix: &str) -> Vec<String> {
    block_on(m.list("zeta", prefix, 100, None)).unwrap().into_iter().map(|r| r.key).collect()
}

#[test]
fn a_split_namespace_serves_each_key_it_held_with_its_history_from_the_keys_new_shard() {
    let (whole, split) = before_and_after();
    put(&whole, "zeta/us/a", 1);
    put(&whole, "zeta/us/a", 2);
    put(&whole, "zeta/uk/b", 3);
    put(&whole, "zeta/top.txt", 4);
    assert_eq!(
        rows(&whole, "zeta", "replaced_versions", "zeta/us/a") + rows(&whole, "zeta", "pending_uploads", "zeta/us/a"),
        1,
        "the overwrite's journal entry"
    );

    // The first call for a key of the split namespace moves that key in, whole.
    let got = block_on(split.get("zeta/us/a")).unwrap().expect("the key is served from its new shard");
    assert_eq!((got.created_at, got.storage_key.as_str()), (2, "zeta/us/a~2"));
    assert_eq!(rows(&split, "zeta/us", "objects", "zeta/us/a"), 1);
    assert_eq!(rows(&split, "zeta", "objects", "zeta/us/a"), 0, "never in two shards");
    assert_eq!(rows(&split, "zeta/us", "pending_uploads", "zeta/us/a"), 1, "its journal entry moved with it");
    assert_eq!(
        rows(&split, "zeta", "objects", "zeta/uk/b"),
        1,
        "a key nobody asked for stays until the background moves it"
    );

    // Listings see every key once: those moved, those not yet, across the namespace and within.
    let all = vec!["zeta/top.txt", "zeta/uk/b", "zeta/us/a"];
    assert_eq!(listed(&split, "zeta/"), all);
    assert_eq!(listed(&split, "zeta/uk/"), vec!["zeta/uk/b"], "a team not yet moved is listed from the old shard");
    // A new key of another team registers its shard; its old key is listed once.
    put(&split, "zeta/uk/c", 5);
    assert_eq!(listed(&split, "zeta/"), vec!["zeta/uk/c", "zeta/top.txt", "zeta/uk/b", "zeta/us/a"]);
    assert_eq!(listed(&split, "zeta/uk/"), vec!["zeta/uk/c", "zeta/uk/b"]);

    // The alarms move the rest; the old shard keeps only what is still its own.
    block_on(split.db().finish_moves()).unwrap();
    assert_eq!(rows(&split, "zeta", "objects", "zeta/uk/b"), 0);
    assert_eq!(rows(&split, "zeta/uk", "objects", "zeta/uk/b"), 1);
    assert_eq!(rows(&split, "zeta", "objects", "zeta/top.txt"), 1, "nobody has named its shard key yet");
    // The Cron Trigger names what is left (a key directly under a split namespace is a shard
    // key of its own), and the alarms move it.
    assert_eq!(block_on(split.db().adopt(10)).unwrap(), 1);
    block_on(split.db().finish_moves()).unwrap();
    assert_eq!(rows(&split, "zeta", "objects", "zeta/top.txt"), 0);
    assert_eq!(rows(&split, "zeta/top.txt", "objects", "zeta/top.txt"), 1);
    assert_eq!(block_on(split.db().adopt(10)).unwrap(), 0, "nothing left where it was");
    assert_eq!(listed(&split, "zeta/"), vec!["zeta/uk/c", "zeta/top.txt", "zeta/uk/b", "zeta/us/a"]);
    let page: Vec<String> =
        block_on(split.list("zeta", "zeta/", 2, None)).unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(page, vec!["zeta/uk/c", "zeta/top.txt"]);

    // An overwrite after the move journals the version it replaced in the key's new shard.
    put(&split, "zeta/us/a", 6);
    assert_eq!(block_on(split.get("zeta/us/a")).unwrap().unwrap().created_at, 6);
    assert_eq!(rows(&split, "zeta/us", "pending_uploads", "zeta/us/a"), 2);
}

#[test]
fn a_late_caller_with_the_old_layout_is_sent_to_the_keys_new_shard() {
    let (whole, split) = before_and_after();
    put(&whole, "zeta/us/a", 1);
    assert!(block_on(split.get("zeta/us/a")).unwrap().is_some());
    // A Worker still on the old layout asks the old shard, which sends it on.
    put(&whole, "zeta/us/a", 2);
    assert_eq!(block_on(whole.get("zeta/us/a")).unwrap().unwrap().created_at, 2);
    assert_eq!(block_on(split.get("zeta/us/a")).unwrap().unwrap().created_at, 2);
    assert_eq!(rows(&split, "zeta", "objects", "zeta/us/a"), 0);
    // Even for a key the old shard never held.
    put(&whole, "zeta/us/new", 3);
    assert_eq!(rows(&split, "zeta/us", "objects", "zeta/us/new"), 1);
}

#[test]
fn a_multipart_upload_begun_before_the_split_completes_through_the_keys_new_shard() {
    let (whole, split) = before_and_after();
    let key = "zeta/us/video.mp4";
    let upload = begin_multipart(&whole, key, "raw1");
    let id = upload.id.clone();
    let part = |n: u16| {
        let attempt =
            PartAttempt { upload_id: id.clone(), attempt: format!("req-{n}"), number: n, size: 5, until_ms: 900_000 };
        (attempt, Part { number: n, size: 5, etag: format!("\"p{n}\"") })
    };
    let (a1, p1) = part(1);
    assert!(block_on(whole.reserve_part(&a1, 1 << 30, 10)).unwrap());
    block_on(whole.record_part(&id, &a1.attempt, &p1)).unwrap();

    // The key moves (a call names it), its session with it; the id still names the old shard.
    assert!(block_on(split.get(key)).unwrap().is_none());
    let (a2, p2) = part(2);
    assert!(block_on(split.reserve_part(&a2, 1 << 30, 20)).unwrap(), "the old shard sends the id on");
    block_on(split.record_part(&id, &a2.attempt, &p2)).unwrap();
    let parts = block_on(split.parts(&id, 30)).unwrap();
    assert_eq!(parts.iter().map(|p| p.number).collect::<Vec<_>>().len(), 2);
    let others = block_on(split.other_parts(&id, 3)).unwrap();
    assert_eq!((others.count, others.bytes), (2, 10), "the parts are counted once in the new shard");

    let mut rec = record(key, 40, 10);
    rec.storage_key = upload.storage_key.clone();
    let done = block_on(split.complete_multipart(&id, &rec)).unwrap();
    assert!(matches!(done, Commit::Committed { .. }), "{done:?}");
    assert_eq!(rows(&split, "zeta/us", "objects", key), 1);
    assert!(block_on(split.multipart(&id)).unwrap().is_none());
}

#[test]
fn a_url_spent_before_the_split_stays_spent_after_it() {
    let (whole, split) = before_and_after();
    assert!(block_on(whole.use_nonce("zeta/us/a", "n-1", 9_999)).unwrap());
    put(&whole, "zeta/us/a", 1);
    assert!(!block_on(split.use_nonce("zeta/us/a", "n-1", 9_999)).unwrap(), "replayed after the split");
    assert!(block_on(split.use_nonce("zeta/us/a", "n-2", 9_999)).unwrap());
}

/// Shards that fail the first call of one kind: before it reaches the source (`reaches`
/// false) or after the source answered (the answer lost on its way back).
struct FailsOnce {
    shards: LocalShards,
    kind: fn(&Call) -> bool,
    reaches: bool,
    failed: Cell<bool>,
}

impl FailsOnce {
    fn new(shards: &LocalShards, kind: fn(&Call) -> bool, reaches: bool) -> FailsOnce {
        FailsOnce { shards: shards.clone(), kind, reaches, failed: Cell::new(false) }
    }
}

impl Sources for FailsOnce {
    async fn ask(&self, shard: &str, call: &Call) -> Result<serde_json::Value> {
        let fail = (self.kind)(call) && !self.failed.replace(true);
        if fail && !self.reaches {
            return Err(gateway_core::sql::error("move", "connection refused"));
        }
        let answer = self.shards.ask(shard, call).await?;
        if fail {
            return Err(gateway_core::sql::error("move", "connection reset"));
        }
        Ok(answer)
    }
}

fn export(call: &Call) -> bool {
    matches!(call, Call::Export { .. })
}

fn release(call: &Call) -> bool {
    matches!(call, Call::Release { .. })
}

/// The shard of `zeta/us`, begun on its move (a call for a key it has not held), and its name.
fn target(split: &Sharded) -> (std::rc::Rc<gateway_core::sql::sqlite::NativeSqlite>, String) {
    assert!(block_on(split.get("zeta/us/new")).unwrap().is_none());
    let name = shard_of_namespace("zeta/us");
    (block_on(split.db().shard(&name)).unwrap(), name)
}

fn handoffs(split: &Sharded) -> usize {
    let source = block_on(split.db().shard(&shard_of_namespace("zeta"))).unwrap();
    block_on(source.batch(Route::Here, "test", vec![stmt("SELECT step FROM shard_handoff", args![])])).unwrap()[0]
        .rows
        .len()
}

#[test]
fn a_key_whose_old_shard_cannot_be_reached_is_refused_and_stays_whole_where_it_was() {
    let (whole, split) = before_and_after();
    put(&whole, "zeta/us/a", 1);
    let (db, name) = target(&split);
    let down = FailsOnce::new(split.db(), export, false);
    let read = vec![stmt("SELECT key FROM objects WHERE key = ?1", args!["zeta/us/a"])];
    let keys = vec!["zeta/us/a".to_owned()];
    let concerns = moving::Concerns { keys: &keys, ..Default::default() };
    assert!(
        block_on(moving::run(&*db, &down, &name, concerns, "select", read.clone())).is_err(),
        "refused, not answered empty"
    );
    assert_eq!(rows(&split, "zeta", "objects", "zeta/us/a"), 1, "still whole in the old shard");
    match block_on(moving::run(&*db, &down, &name, concerns, "select", read)).unwrap() {
        moving::Ran::Here(found) => assert_eq!(found[0].rows.len(), 1, "moved in and found once the old shard answers"),
        moved => panic!("{moved:?}"),
    }
    assert_eq!(rows(&split, "zeta", "objects", "zeta/us/a"), 0);
}

#[test]
fn a_step_imported_but_not_released_is_released_once_and_never_imported_again() {
    let (whole, split) = before_and_after();
    put(&whole, "zeta/us/a", 1);
    let (db, name) = target(&split);
    let flaky = FailsOnce::new(split.db(), release, false);
    assert!(block_on(moving::advance(&*db, &flaky, &name, 5)).is_err(), "the release never arrives");
    assert_eq!(rows(&split, "zeta/us", "objects", "zeta/us/a"), 1, "imported");
    assert_eq!(handoffs(&split), 1, "the old shard still keeps the step");
    assert!(!block_on(moving::advance(&*db, &flaky, &name, 5)).unwrap());
    assert_eq!(rows(&split, "zeta/us", "objects", "zeta/us/a"), 1, "imported once");
    assert_eq!(handoffs(&split), 0, "released");
}

#[test]
fn a_step_whose_answer_was_lost_is_asked_again_and_its_rows_imported_once() {
    let (whole, split) = before_and_after();
    for (i, key) in ["zeta/us/a", "zeta/us/b", "zeta/us/c"].into_iter().enumerate() {
        put(&whole, key, i as i64 + 1);
    }
    let (db, name) = target(&split);
    let flaky = FailsOnce::new(split.db(), export, true);
    assert!(block_on(moving::advance(&*db, &flaky, &name, 5)).is_err(), "the first answer is lost");
    assert_eq!(rows(&split, "zeta", "objects", "zeta/us/a"), 0, "the source handed the keys over");
    assert_eq!(rows(&split, "zeta/us", "objects", "zeta/us/a"), 0, "not yet imported");
    assert_eq!(
        listed(&split, "zeta/us/"),
        vec!["zeta/us/c", "zeta/us/b", "zeta/us/a"],
        "a listing finishes the step first"
    );
    assert!(!block_on(moving::advance(&*db, &flaky, &name, 5)).unwrap(), "nothing left to move");
    for key in ["zeta/us/a", "zeta/us/b", "zeta/us/c"] {
        assert_eq!(rows(&split, "zeta/us", "objects", key), 1, "{key} imported once");
    }
    assert_eq!(handoffs(&split), 0, "every step released");
}

#[test]
fn a_split_of_a_split_namespace_moves_each_key_from_wherever_it_is_to_its_deepest_shard() {
    let (whole, once) = before_and_after();
    put(&whole, "zeta/eu/paris/a", 1);
    put(&whole, "zeta/eu/berlin/b", 2);
    // Split once: paris's key moves to the shard of `zeta/eu`; berlin's stays in `zeta`'s.
    assert!(block_on(once.get("zeta/eu/paris/a")).unwrap().is_some());
    assert_eq!(rows(&once, "zeta/eu", "objects", "zeta/eu/paris/a"), 1);
    assert_eq!(rows(&once, "zeta", "objects", "zeta/eu/berlin/b"), 1);
    // Split again, deeper: each key is taken from the shard that holds it.
    let mut twice = once.db().clone();
    twice.layout = Layout::new(vec!["zeta".to_owned(), "zeta/eu".to_owned()]);
    let twice = SqlMetadata::new(twice, true);
    assert_eq!(block_on(twice.get("zeta/eu/paris/a")).unwrap().unwrap().created_at, 1);
    assert_eq!(block_on(twice.get("zeta/eu/berlin/b")).unwrap().unwrap().created_at, 2);
    assert_eq!(rows(&twice, "zeta/eu/paris", "objects", "zeta/eu/paris/a"), 1);
    assert_eq!(rows(&twice, "zeta/eu/berlin", "objects", "zeta/eu/berlin/b"), 1);
    block_on(twice.db().finish_moves()).unwrap();
    for ns in ["zeta", "zeta/eu"] {
        for key in ["zeta/eu/paris/a", "zeta/eu/berlin/b"] {
            assert_eq!(rows(&twice, ns, "objects", key), 0, "{key} left in {ns}");
        }
    }
    assert_eq!(listed(&twice, "zeta/"), vec!["zeta/eu/berlin/b", "zeta/eu/paris/a"]);
    assert_eq!(listed(&twice, "zeta/eu/"), vec!["zeta/eu/berlin/b", "zeta/eu/paris/a"]);
}

#[test]
fn a_background_step_takes_fewer_keys_when_their_sessions_have_many_parts() {
    let (whole, split) = before_and_after();
    let ids: Vec<String> =
        ["a", "b", "c"].iter().map(|k| begin_multipart(&whole, &format!("zeta/us/{k}"), k).id).collect();
    // 8,000 parts each: three keys' rows are more than one step hands over.
    let source = block_on(split.db().shard(&shard_of_namespace("zeta"))).unwrap();
    let numbers = serde_json::to_string(&(1..=8000).collect::<Vec<u32>>()).unwrap();
    for id in &ids {
        let sql = "INSERT INTO multipart_parts (upload_id, part_number, size, etag) SELECT ?1, value, 5, '\"p\"' FROM json_each(?2)";
        block_on(source.batch(Route::Here, "test", vec![stmt(sql, args![id, &numbers])])).unwrap();
    }
    let (db, name) = target(&split);
    let sessions = |ns: &str| {
        let db = block_on(split.db().shard(&shard_of_namespace(ns))).unwrap();
        let sql = "SELECT part_count FROM multipart_uploads ORDER BY key";
        let found = block_on(db.batch(Route::Here, "test", vec![stmt(sql, args![])])).unwrap();
        found[0].rows.iter().map(|r| r["part_count"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    assert!(block_on(moving::advance(&*db, split.db(), &name, 1)).unwrap(), "keys remain after one step");
    assert_eq!(sessions("zeta/us"), vec![8000], "one key's session, its parts counted once");
    assert!(!block_on(moving::advance(&*db, split.db(), &name, 10)).unwrap());
    assert_eq!(sessions("zeta/us"), vec![8000, 8000, 8000]);
    assert!(sessions("zeta").is_empty());
}
