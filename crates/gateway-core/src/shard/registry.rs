//! The directory of namespaces (one small database, a Durable Object of its own at the edge):
//! which namespaces exist and which shard holds each, for the calls that concern every shard
//! (the sweep's backstop, a listing across namespaces). A shard registers a namespace the
//! first time a call names one of its keys, and remembers that it did, so each namespace
//! costs the directory one write ever.

use serde::Deserialize;

use crate::error::Result;
use crate::sql::{args, stmt, Route, SqlDatabase, Statement};

/// The directory's schema (and the table a shard remembers its namespaces in), created on
/// first use; `IF NOT EXISTS` makes it idempotent.
pub fn schema() -> Vec<Statement> {
    vec![
        stmt(
            "CREATE TABLE IF NOT EXISTS shard_directory (namespace TEXT PRIMARY KEY, shard TEXT NOT NULL, \
             registered_at INTEGER NOT NULL) WITHOUT ROWID",
            args![],
        ),
        stmt("CREATE TABLE IF NOT EXISTS shard_namespaces (namespace TEXT PRIMARY KEY) WITHOUT ROWID", args![]),
    ]
}

/// Whether a shard has registered namespace `ns` already.
pub async fn known<D: SqlDatabase>(db: &D, ns: &str) -> Result<bool> {
    let found = db
        .batch(
            Route::Here,
            "namespace",
            vec![stmt("SELECT 1 AS x FROM shard_namespaces WHERE namespace = ?1", args![ns])],
        )
        .await?;
    Ok(found.first().is_some_and(|o| !o.rows.is_empty()))
}

/// Remembers, in a shard, that `ns` is registered.
pub async fn remember<D: SqlDatabase>(db: &D, ns: &str) -> Result<()> {
    db.batch(
        Route::Here,
        "namespace",
        vec![stmt("INSERT OR IGNORE INTO shard_namespaces (namespace) VALUES (?1)", args![ns])],
    )
    .await?;
    Ok(())
}

/// Records, in the directory, that shard `shard` holds namespace `ns`.
pub async fn register<D: SqlDatabase>(db: &D, ns: &str, shard: &str, now_ms: i64) -> Result<()> {
    let sql = "INSERT OR IGNORE INTO shard_directory (namespace, shard, registered_at) VALUES (?1, ?2, ?3)";
    db.batch(Route::Here, "register", vec![stmt(sql, args![ns, shard, now_ms])]).await?;
    Ok(())
}

/// The directory's namespaces starting with `prefix`, with their shards.
pub async fn namespaces<D: SqlDatabase>(db: &D, prefix: &str) -> Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        namespace: String,
        shard: String,
    }
    let sql =
        "SELECT namespace, shard FROM shard_directory WHERE substr(namespace, 1, length(?1)) = ?1 ORDER BY namespace";
    let found = db.batch(Route::Here, "directory", vec![stmt(sql, args![prefix])]).await?;
    let rows: Vec<Row> = match found.first() {
        Some(o) => o.decode("directory")?,
        None => Vec::new(),
    };
    Ok(rows.into_iter().map(|r| (r.namespace, r.shard)).collect())
}
