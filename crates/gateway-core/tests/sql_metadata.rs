//! The SQL metadata (`gateway_core::sql`, the code D1 and the Durable Object shards run) on a
//! native SQLite: the whole metadata contract, and the schema migrated from every version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_executor::block_on;
use gateway_core::contract;
use gateway_core::sql::schema::{migrate, statements, MIGRATIONS};
use gateway_core::sql::sqlite::NativeSqlite;
use gateway_core::sql::{args, stmt, Route, SqlDatabase, SqlMetadata};

fn migrated(upto: usize) -> NativeSqlite {
    let db = NativeSqlite::in_memory().expect("open");
    block_on(migrate(&db, upto)).expect("migrate");
    db
}

fn assert_contract_holds(meta: &SqlMetadata<NativeSqlite>) {
    let outcomes = block_on(contract::metadata(meta));
    let failed: Vec<_> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
    assert!(outcomes.len() > 20, "only {} cases ran", outcomes.len());
}

#[test]
fn the_metadata_contract_holds_on_sqlite() {
    assert_contract_holds(&SqlMetadata::new(migrated(MIGRATIONS.len()), true));
}

#[test]
fn a_database_at_every_earlier_version_migrates_to_the_latest_and_keeps_its_rows() {
    for version in 1..MIGRATIONS.len() {
        let db = migrated(version);
        // A row as the first schema wrote it.
        block_on(db.batch(
            Route::Here,
            "seed",
            vec![stmt(
                "INSERT INTO objects (key, owner, size, content_type, etag, status, created_at) \
                 VALUES ('old/a', 'old', 3, 'text/plain', '\"e\"', 'complete', 1)",
                args![],
            )],
        ))
        .expect("seed");
        let applied = block_on(migrate(&db, MIGRATIONS.len())).expect("migrate");
        assert_eq!(applied, MIGRATIONS.len() - version, "from version {version}");
        let meta = SqlMetadata::new(db, true);
        let row = block_on(gateway_core::metadata::ObjectIndex::get(&meta, "old/a")).expect("get").expect("row kept");
        assert_eq!((row.size, row.storage_key.as_str()), (3, "old/a"), "from version {version}");
        assert_contract_holds(&meta);
    }
}

#[test]
fn migrating_again_applies_nothing() {
    let db = migrated(MIGRATIONS.len());
    assert_eq!(block_on(migrate(&db, MIGRATIONS.len())).expect("migrate"), 0);
}

#[test]
fn a_failed_migration_leaves_the_database_at_its_version() {
    let db = migrated(2);
    // A table in the way of migration 3 makes its transaction fail.
    block_on(db.batch(Route::Here, "block", vec![stmt("CREATE TABLE multipart_uploads (x INTEGER)", args![])]))
        .expect("block");
    assert!(block_on(migrate(&db, 3)).is_err());
    let tables = block_on(db.batch(
        Route::Here,
        "tables",
        vec![stmt("SELECT name FROM schema_migrations ORDER BY name", args![])],
    ))
    .expect("read");
    assert_eq!(tables[0].rows.len(), 2, "migration 3 must not be recorded");
}

#[test]
fn trigger_bodies_stay_one_statement() {
    let all: Vec<String> = MIGRATIONS.iter().flat_map(|(_, sql)| statements(sql)).collect();
    let triggers: Vec<&String> = all.iter().filter(|s| s.starts_with("CREATE TRIGGER")).collect();
    assert_eq!(triggers.len(), 10);
    assert!(triggers.iter().all(|t| t.ends_with("END;")), "{triggers:#?}");
    assert!(all.iter().all(|s| s.ends_with(';')), "every statement is whole");
}

#[test]
fn a_migrated_database_counts_its_existing_rows_and_the_sweep_repairs_usage_that_drifted() {
    use gateway_core::quota::{Drift, QuotaIndex, Usage};
    let db = migrated(MIGRATIONS.len() - 1);
    block_on(db.batch(
        Route::Here,
        "seed",
        vec![stmt(
            "INSERT INTO objects (key, owner, size, content_type, etag, status, created_at) \
             VALUES ('old/a', 'old', 3, 'text/plain', '\"e\"', 'complete', 1), \
             ('old/b', 'old', 4, 'text/plain', '\"f\"', 'complete', 2)",
            args![],
        )],
    ))
    .expect("seed");
    block_on(migrate(&db, MIGRATIONS.len())).expect("migrate");
    let meta = SqlMetadata::new(db, true);
    let usage = block_on(meta.usage("old", "old/", 0)).expect("usage");
    assert_eq!(usage, Usage { bytes: 7, objects: 2, ..Usage::default() }, "rows from before quotas are counted");
    // Usage changed behind the triggers' back is found and repaired by the next reconciliation.
    let corrupt = stmt("UPDATE owner_usage SET bytes = 100, objects = 9 WHERE owner = 'old'", args![]);
    block_on(meta.db().batch(Route::Here, "corrupt", vec![corrupt])).expect("corrupt");
    let drift = block_on(meta.reconcile_usage(10, 0)).expect("reconcile");
    assert_eq!(drift, vec![Drift { owner: "old".to_owned(), recorded: (100, 9), actual: (7, 2) }]);
    assert_eq!(block_on(meta.usage("old", "old/", 0)).expect("usage").bytes, 7);
    assert!(block_on(meta.reconcile_usage(10, 0)).expect("reconcile").is_empty(), "repaired usage drifted again");
}
