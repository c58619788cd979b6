//! The directory of namespaces (one small database, a Durable Object of its own at the edge):
//! which namespaces exist and which shard holds each, for the calls that concern every shard
//! (a listing across namespaces), and when each shard's earliest work is due, for the sweep's
//! backstop. A shard registers a namespace the first time a call names one of its keys, and
//! remembers that it did, so each namespace costs the directory one write ever; it reports
//! its due time when its alarm moves and after each sweep, so the Cron Trigger asks only the
//! shards whose alarm should have fired by then.

use serde::de::DeserializeOwned;
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
        stmt(
            "CREATE TABLE IF NOT EXISTS shard_due (shard TEXT PRIMARY KEY, due_at INTEGER, \
             reported_at INTEGER NOT NULL) WITHOUT ROWID",
            args![],
        ),
        stmt("CREATE TABLE IF NOT EXISTS shard_self (name TEXT PRIMARY KEY) WITHOUT ROWID", args![]),
        stmt(
            "CREATE TABLE IF NOT EXISTS shard_reported (one INTEGER PRIMARY KEY CHECK (one = 1), due_at INTEGER)",
            args![],
        ),
    ]
    .into_iter()
    .chain(super::moving::schema())
    .collect()
}

/// The rows of one read.
async fn read<D: SqlDatabase, T: DeserializeOwned>(db: &D, op: &str, statement: Statement) -> Result<Vec<T>> {
    match db.batch(Route::Here, op, vec![statement]).await?.first() {
        Some(found) => found.decode(op),
        None => Ok(Vec::new()),
    }
}

/// Records, in the directory, that shard `shard`'s earliest due work was at `due_at` (`None`:
/// nothing due) when it looked at `reported_at`, unless a later report is there already:
/// reports may arrive out of order.
pub async fn note_due<D: SqlDatabase>(db: &D, shard: &str, due_at: Option<i64>, reported_at: i64) -> Result<()> {
    let sql = "INSERT INTO shard_due (shard, due_at, reported_at) VALUES (?1, ?2, ?3) ON CONFLICT(shard) \
               DO UPDATE SET due_at = excluded.due_at, reported_at = excluded.reported_at \
               WHERE excluded.reported_at >= shard_due.reported_at";
    db.batch(Route::Here, "due", vec![stmt(sql, args![shard, due_at, reported_at])]).await?;
    Ok(())
}

/// The shards whose reported work is due by `now_ms`, earliest first: those whose alarm should
/// have fired.
pub async fn overdue<D: SqlDatabase>(db: &D, now_ms: i64) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        shard: String,
    }
    let sql = "SELECT shard FROM shard_due WHERE due_at <= ?1 ORDER BY due_at, shard";
    let rows: Vec<Row> = read(db, "overdue", stmt(sql, args![now_ms])).await?;
    Ok(rows.into_iter().map(|r| r.shard).collect())
}

/// The due time a shard last reported to the directory: `None` if it never did, `Some(None)`
/// for "nothing due".
pub async fn reported<D: SqlDatabase>(db: &D) -> Result<Option<Option<i64>>> {
    #[derive(Deserialize)]
    struct Row {
        due_at: Option<f64>,
    }
    let rows: Vec<Row> = read(db, "reported", stmt("SELECT due_at FROM shard_reported", args![])).await?;
    Ok(rows.into_iter().next().map(|r| r.due_at.map(|v| v as i64)))
}

/// Remembers, in a shard, the due time it reports, so it reports only a change.
pub async fn set_reported<D: SqlDatabase>(db: &D, due_at: Option<i64>) -> Result<()> {
    let sql = "INSERT INTO shard_reported (one, due_at) VALUES (1, ?1) ON CONFLICT(one) DO UPDATE SET due_at = excluded.due_at";
    db.batch(Route::Here, "reported", vec![stmt(sql, args![due_at])]).await?;
    Ok(())
}

/// A shard's own name, as it remembered it ([`remember_name`]).
pub async fn own_name<D: SqlDatabase>(db: &D) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let rows: Vec<Row> = read(db, "name", stmt("SELECT name FROM shard_self LIMIT 1", args![])).await?;
    Ok(rows.into_iter().next().map(|r| r.name))
}

/// Remembers, in a shard, its own name (a Durable Object is not told it; the calls name it),
/// for the reports its alarm makes.
pub async fn remember_name<D: SqlDatabase>(db: &D, name: &str) -> Result<()> {
    let sql = "INSERT OR IGNORE INTO shard_self (name) VALUES (?1)";
    db.batch(Route::Here, "name", vec![stmt(sql, args![name])]).await?;
    Ok(())
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

/// The namespaces a split could have taken namespace `ns` from: each run of its leading
/// segments (`acme` for `acme/us`).
pub fn parents(ns: &str) -> impl Iterator<Item = &str> {
    ns.match_indices('/').filter_map(move |(i, _)| ns.get(..i))
}

/// The shard the directory has for namespace `ns`, if it has one.
pub async fn shard_for<D: SqlDatabase>(db: &D, ns: &str) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        shard: String,
    }
    let sql = "SELECT shard FROM shard_directory WHERE namespace = ?1";
    let rows: Vec<Row> = read(db, "directory", stmt(sql, args![ns])).await?;
    Ok(rows.into_iter().next().map(|r| r.shard))
}

/// The shards that may hold keys of namespace `ns` from before a split made it a shard key of
/// its own: those of the registered namespaces it was split from.
pub async fn sources<D: SqlDatabase>(db: &D, ns: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for parent in parents(ns) {
        found.extend(shard_for(db, parent).await?);
    }
    Ok(found)
}

/// Records, in the directory, that shard `shard` holds namespace `ns`.
pub async fn register<D: SqlDatabase>(db: &D, ns: &str, shard: &str, now_ms: i64) -> Result<()> {
    let sql = "INSERT OR IGNORE INTO shard_directory (namespace, shard, registered_at) VALUES (?1, ?2, ?3)";
    db.batch(Route::Here, "register", vec![stmt(sql, args![ns, shard, now_ms])]).await?;
    Ok(())
}

/// The directory's namespaces whose keys may start with `prefix`, with their shards: those
/// starting with it, and those it starts within (`acme`, for `acme/us` when `acme` was split
/// after it held keys).
pub async fn namespaces<D: SqlDatabase>(db: &D, prefix: &str) -> Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        namespace: String,
        shard: String,
    }
    let sql = "SELECT namespace, shard FROM shard_directory WHERE substr(namespace, 1, length(?1)) = ?1 \
         OR substr(?1, 1, length(namespace) + 1) = namespace || '/' ORDER BY namespace";
    let rows: Vec<Row> = read(db, "directory", stmt(sql, args![prefix])).await?;
    Ok(rows.into_iter().map(|r| (r.namespace, r.shard)).collect())
}
