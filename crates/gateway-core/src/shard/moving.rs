//! Splitting a namespace that already holds keys: each new shard key's shard (the target)
//! takes its keys from the shards that held them (its sources) while it serves them, with no
//! pause, and no key is ever in two shards' live rows or in none.
//!
//! - **Begin.** A target's first call registers its shard key with the directory, which names
//!   the shards of the namespaces it was split from. The target asks each to move its namespace
//!   out ([`Call::MoveOut`]: the key named by the namespace and every key under it): from then on a source runs no batch for a key of it and
//!   answers [`Ran::Moved`] instead, which sends the caller to the target. The source hands
//!   over its spent nonces too (they name no key, and a presigned URL used before the split
//!   must stay used after it).
//! - **Keys move whole, a step at a time.** A step ([`Call::Export`]) takes some keys' every
//!   row out of the source in one transaction: versions and replaced versions, journal
//!   entries, multipart and tus sessions with their parts and chunks, presigned uploads. The
//!   source keeps what it handed over under the step's id until the target has imported it
//!   ([`Call::Release`]); the target records the step before it asks and imports in one
//!   transaction, so a step whose answer was lost is asked again, answered the same, and never
//!   imported twice. Upload ids that name the source keep working: it answers Moved for the
//!   sessions it handed over.
//! - **On demand and in the background.** A batch for a key that has not moved yet moves it
//!   first (a step for that key alone); the target's alarm moves the rest in key order.
//! - **Listings** that reach the target before the move is done are answered with its own
//!   rows and its sources' rows of its namespace, read while no step is under way, so no key is
//!   missed; a listing that also asked a source directly may see a key twice, which the
//!   listing merges ([`crate::sql`]'s `list` keeps the newest).
//! - Outbox rows and quota reservations stay in the source: it still sends the events it
//!   recorded, and a reservation whose write committed in the target lapses at its time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encoding::hex;
use crate::error::Result;
use crate::sql::{args, error, join, stmt, Outcome, Route, SqlDatabase, Statement, Value};

/// Keys a background step moves.
pub const STEP_KEYS: u32 = 200;

/// Rows a background step hands over, at most (unless one key has more).
const STEP_ROWS: usize = 20_000;

/// Tables with a `key` column: each key's rows in them move together.
const KEYED: [&str; 6] =
    ["objects", "replaced_versions", "pending_uploads", "multipart_uploads", "tus_uploads", "presigned_uploads"];

/// Tables of a session's parts and chunks, with the session table their `upload_id` names.
const CHILDREN: [(&str, &str); 4] = [
    ("multipart_parts", "multipart_uploads"),
    ("multipart_attempts", "multipart_uploads"),
    ("tus_chunks", "tus_uploads"),
    ("tus_parts", "tus_uploads"),
];

/// The tables of a move, in every shard (created on first use, idempotently).
pub fn schema() -> Vec<Statement> {
    [
        // Source: namespaces moved out, to which shard; sessions handed over; steps not yet
        // confirmed, with what they handed over.
        "CREATE TABLE IF NOT EXISTS shard_moved_out (namespace TEXT PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS shard_moved_ids (id TEXT PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS shard_handoff (step TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID",
        // Target: what it inherits from each source and how far the background has come; keys
        // moved on demand beyond that; steps asked and not yet released.
        "CREATE TABLE IF NOT EXISTS shard_inherits (namespace TEXT NOT NULL, source TEXT NOT NULL, \
         after TEXT NOT NULL DEFAULT '', begun INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0, \
         PRIMARY KEY (namespace, source)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS shard_pulled (source TEXT NOT NULL, key TEXT NOT NULL, \
         PRIMARY KEY (source, key)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS shard_steps (step TEXT PRIMARY KEY, source TEXT NOT NULL, namespace TEXT NOT NULL, \
         keys TEXT, after TEXT NOT NULL, imported INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    ]
    .into_iter()
    .map(|sql| stmt(sql, args![]))
    .collect()
}

/// What a target asks a source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Move the keys of `namespace` out to shard `target`; answers the spent nonces.
    MoveOut { namespace: String, target: String },
    /// Hand over, as step `step`, the rows of `keys` (of `namespace`), or of the next `limit`
    /// keys after `after`; the same answer every time the step is asked.
    Export { step: String, namespace: String, target: String, keys: Option<Vec<String>>, after: String, limit: u32 },
    /// The target has imported step `step`: forget it.
    Release { step: String },
    /// Run a listing's statements here, as they are.
    List { statements: Vec<Statement> },
    /// The first key under `split/` held here and not moved out: one whose shard key has yet to
    /// take it in (asked by the Cron Trigger, which knows the layout).
    Unmoved { split: String },
}

/// A source's way to answer a [`Call`], as a target reaches it.
#[allow(async_fn_in_trait)]
pub trait Sources {
    async fn ask(&self, shard: &str, call: &Call) -> Result<serde_json::Value>;
}

/// What a step hands over: each table's rows, the keys it took, and whether keys after them
/// remain (for a background step).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Handoff {
    pub keys: Vec<String>,
    pub tables: Vec<(String, Vec<serde_json::Map<String, serde_json::Value>>)>,
    pub more: bool,
}

/// A spent nonce.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nonce {
    nonce: String,
    expires_at: i64,
}

/// Whether `key` is of namespace `ns`: named by it, or under it.
pub fn of(key: &str, ns: &str) -> bool {
    key.strip_prefix(ns).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// [`of`] in SQL, for the column `key` and namespace `ns` (a parameter or a column).
fn of_sql(ns: &str) -> String {
    format!("(key = {ns} OR substr(key, 1, length({ns}) + 1) = {ns} || '/')")
}

/// Whether a listing of `prefix` may list keys of namespace `ns`.
fn lists(prefix: &str, ns: &str) -> bool {
    ns.starts_with(prefix) || prefix.strip_prefix(ns).is_some_and(|rest| rest.starts_with('/'))
}

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value, op: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| error(op, &format!("move answer: {e}")))
}

fn encode<T: Serialize>(value: T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| error("move", &e.to_string()))
}

async fn one<D: SqlDatabase>(db: &D, op: &str, statement: Statement) -> Result<Outcome> {
    Ok(db.batch(Route::Here, op, vec![statement]).await?.pop().unwrap_or_default())
}

/// A source's answer to `call`.
pub async fn answer<D: SqlDatabase>(db: &D, call: Call) -> Result<serde_json::Value> {
    match call {
        Call::MoveOut { namespace, target } => {
            let sql = "INSERT INTO shard_moved_out (namespace, target) VALUES (?1, ?2) \
                       ON CONFLICT(namespace) DO UPDATE SET target = excluded.target";
            let results = db
                .batch(
                    Route::Here,
                    "move out",
                    vec![
                        stmt(sql, args![namespace, target]),
                        stmt("SELECT nonce, expires_at FROM used_nonces", args![]),
                    ],
                )
                .await?;
            let nonces: Vec<Nonce> = results.get(1).map(|o| o.decode("move out")).transpose()?.unwrap_or_default();
            encode(nonces)
        }
        Call::Export { step, namespace, target, keys, after, limit } => {
            encode(export(db, &step, &namespace, &target, keys, &after, limit).await?)
        }
        Call::Release { step } => {
            one(db, "move release", stmt("DELETE FROM shard_handoff WHERE step = ?1", args![step])).await?;
            Ok(serde_json::Value::Null)
        }
        Call::List { statements } => encode(db.batch(Route::Here, "move list", statements).await?),
        Call::Unmoved { split } => encode(unmoved(db, &split).await?),
    }
}

async fn unmoved<D: SqlDatabase>(db: &D, split: &str) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct First {
        key: Option<String>,
    }
    let statements = KEYED
        .iter()
        .map(|t| {
            let sql = format!(
                "SELECT min(key) AS key FROM {t} WHERE substr(key, 1, length(?1) + 1) = ?1 || '/' \
                 AND NOT EXISTS (SELECT 1 FROM shard_moved_out m WHERE {})",
                of_sql("m.namespace")
            );
            stmt(sql, args![split])
        })
        .collect();
    let mut first: Option<String> = None;
    for o in db.batch(Route::Here, "move unmoved", statements).await? {
        for k in o.decode::<First>("move unmoved")?.into_iter().filter_map(|f| f.key) {
            if first.as_ref().is_none_or(|f| k < *f) {
                first = Some(k);
            }
        }
    }
    Ok(first)
}

/// The shard keys a split left keys of in the shards they were split from, as far as `budget`
/// allows, the first of each split namespace first: each is registered by `touch` (a call
/// that names it), and its shard then moves its keys in. Needed once per shard key: a shard
/// key nobody calls would otherwise leave its keys where they were (served, listed, but not
/// moved).
pub async fn adopt<S: Sources>(
    sources: &S,
    layout: &super::Layout,
    budget: usize,
    touch: impl AsyncFn(&str) -> Result<()>,
) -> Result<usize> {
    let mut touched: Vec<String> = Vec::new();
    for split in layout.split() {
        let source = super::shard_of_namespace(split);
        while touched.len() < budget {
            let call = Call::Unmoved { split: split.clone() };
            let Some(key) = decode::<Option<String>>(sources.ask(&source, &call).await?, "move unmoved")? else {
                break;
            };
            let ns = layout.shard_key(&key).to_owned();
            // Registered already but not moving it (it was registered before its source was):
            // its keys stay served where they are.
            if touched.contains(&ns) {
                break;
            }
            touch(&ns).await?;
            touched.push(ns);
        }
    }
    Ok(touched.len())
}

/// The namespaces moved out of a shard, longest first, with their targets.
#[derive(Debug, Clone, Default)]
struct MovedOut(Vec<(String, String)>);

impl MovedOut {
    /// The target of the longest namespace moved out that `key` is of.
    fn target(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(ns, _)| of(key, ns)).map(|(_, t)| t.as_str())
    }
}

/// Everything a shard knows of the moves it takes part in, read in one statement.
#[derive(Debug, Clone, Default)]
struct Moves {
    out: MovedOut,
    /// The target of the upload id the batch names, if the shard handed its session over.
    id_moved_to: Option<String>,
    inherits: Vec<Inherit>,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
struct Inherit {
    namespace: String,
    source: String,
    after: String,
    begun: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct Step {
    step: String,
    source: String,
    namespace: String,
    keys: Option<String>,
    after: String,
    imported: i64,
}

async fn moves<D: SqlDatabase>(db: &D, id: Option<&str>) -> Result<Moves> {
    #[derive(Deserialize)]
    struct Out {
        namespace: String,
        target: String,
    }
    #[derive(Deserialize)]
    struct Id {
        target: String,
    }
    let results = db
        .batch(
            Route::Here,
            "moves",
            vec![
                stmt("SELECT namespace, target FROM shard_moved_out ORDER BY length(namespace) DESC", args![]),
                stmt("SELECT target FROM shard_moved_ids WHERE id = ?1", args![id]),
                stmt("SELECT namespace, source, after, begun FROM shard_inherits WHERE done = 0", args![]),
                stmt("SELECT step, source, namespace, keys, after, imported FROM shard_steps", args![]),
            ],
        )
        .await?;
    let part = |i: usize| results.get(i).cloned().unwrap_or_default();
    let out: Vec<Out> = part(0).decode("moves")?;
    let ids: Vec<Id> = part(1).decode("moves")?;
    Ok(Moves {
        out: MovedOut(out.into_iter().map(|o| (o.namespace, o.target)).collect()),
        id_moved_to: ids.into_iter().next().map(|i| i.target),
        inherits: part(2).decode("moves")?,
        steps: part(3).decode("moves")?,
    })
}

/// Whether a shard takes part in a move as a target (it has anything to finish), for the
/// alarm: then it is due now.
pub async fn unfinished<D: SqlDatabase>(db: &D) -> Result<bool> {
    let m = moves(db, None).await?;
    Ok(!m.inherits.is_empty() || !m.steps.is_empty())
}

/// The keys of `namespace` that step `step` of source `db` hands to `target`: `keys`, or the
/// next `limit` after `after`. Answered again, unchanged, until the step is released.
async fn export<D: SqlDatabase>(
    db: &D,
    step: &str,
    namespace: &str,
    target: &str,
    keys: Option<Vec<String>>,
    after: &str,
    limit: u32,
) -> Result<Handoff> {
    #[derive(Deserialize)]
    struct Body {
        body: String,
    }
    let found: Vec<Body> = one(db, "move export", stmt("SELECT body FROM shard_handoff WHERE step = ?1", args![step]))
        .await?
        .decode("move export")?;
    if let Some(b) = found.into_iter().next() {
        return serde_json::from_str(&b.body).map_err(|e| error("move export", &e.to_string()));
    }
    let out = moves(db, None).await?.out;
    if !out.0.iter().any(|(ns, t)| ns == namespace && t == target) {
        return Err(error("move export", &format!("`{namespace}` is not moving out to {target}")));
    }
    // Only keys this move owns: a longer namespace moved out elsewhere is that move's.
    let ours = |k: &String| of(k, namespace) && out.target(k) == Some(target);
    let range = keys.is_none();
    let (chosen, mut more) = match keys {
        Some(keys) => (keys.into_iter().filter(ours).collect::<BTreeSet<String>>(), false),
        None => {
            let (op, from) = if after.is_empty() { (">=", namespace) } else { (">", after) };
            // The first keys of each table (a compound SELECT of six is more than Durable
            // Objects allow); the first `limit` of their union are among them.
            // A key of a longer namespace moved out elsewhere is that move's.
            let statements = KEYED
                .iter()
                .map(|t| {
                    let sql = format!(
                        "SELECT DISTINCT key FROM {t} WHERE key {op} ?1 AND {} \
                         AND NOT EXISTS (SELECT 1 FROM shard_moved_out m WHERE length(m.namespace) > length(?2) \
                         AND {}) ORDER BY key LIMIT ?3",
                        of_sql("?2"),
                        of_sql("m.namespace")
                    );
                    stmt(sql, args![from, namespace, limit * 2])
                })
                .collect();
            #[derive(Deserialize)]
            struct Key {
                key: String,
            }
            let mut all = BTreeSet::new();
            for o in db.batch(Route::Here, "move keys", statements).await? {
                all.extend(o.decode::<Key>("move keys")?.into_iter().map(|k| k.key));
            }
            let more = all.len() > limit as usize;
            (all.into_iter().take(limit as usize).collect(), more)
        }
    };
    let mut chosen: Vec<String> = chosen.into_iter().collect();
    // A background step takes fewer keys when theirs are many rows (sessions of many parts),
    // so no handoff grows past what one message carries.
    let (list, tables) = loop {
        let list = serde_json::to_string(&chosen).map_err(|e| error("move export", &e.to_string()))?;
        let tables = rows_of(db, &list).await?;
        let rows: usize = tables.iter().map(|(_, r)| r.len()).sum();
        if !range || rows <= STEP_ROWS || chosen.len() <= 1 {
            break (list, tables);
        }
        chosen.truncate(chosen.len() / 2);
        more = true;
    };
    let handoff = Handoff { keys: chosen, tables, more };
    let body = serde_json::to_string(&handoff).map_err(|e| error("move export", &e.to_string()))?;
    // What was read leaves the live tables with the step's record, in one transaction: no
    // await lies between the read and this write, so nothing changed them in between.
    let mut writes = vec![stmt("INSERT INTO shard_handoff (step, body) VALUES (?1, ?2)", args![step, body])];
    for parent in ["multipart_uploads", "tus_uploads"] {
        let sql =
            format!("INSERT OR REPLACE INTO shard_moved_ids (id, target) SELECT id, ?2 FROM {parent} WHERE {WITHIN}");
        writes.push(stmt(sql, args![&list, target]));
    }
    writes
        .extend(CHILDREN.iter().map(|(t, p)| stmt(format!("DELETE FROM {t} WHERE {}", sessions_of(p)), args![&list])));
    writes.extend(KEYED.iter().map(|t| stmt(format!("DELETE FROM {t} WHERE {WITHIN}"), args![&list])));
    db.batch(Route::Here, "move export", writes).await?;
    Ok(handoff)
}

/// The rows of the keys of a JSON list (`?1`).
const WITHIN: &str = "key IN (SELECT value FROM json_each(?1))";

/// Where the sessions of the keys of a list (`?1`) in session table `parent` are.
fn sessions_of(parent: &str) -> String {
    format!("upload_id IN (SELECT id FROM {parent} WHERE {WITHIN})")
}

/// Every row of the keys of JSON list `list`, table by table.
async fn rows_of<D: SqlDatabase>(
    db: &D,
    list: &str,
) -> Result<Vec<(String, Vec<serde_json::Map<String, serde_json::Value>>)>> {
    let mut reads: Vec<Statement> =
        KEYED.iter().map(|t| stmt(format!("SELECT * FROM {t} WHERE {WITHIN}"), args![list])).collect();
    reads
        .extend(CHILDREN.iter().map(|(t, p)| stmt(format!("SELECT * FROM {t} WHERE {}", sessions_of(p)), args![list])));
    let names = KEYED.iter().copied().chain(CHILDREN.iter().map(|(t, _)| *t));
    let read = db.batch(Route::Here, "move export", reads).await?;
    names.zip(read).map(|(t, o)| Ok((t.to_owned(), o.decode("move export")?))).collect()
}

/// The statements that insert a handoff's rows. A multipart session arrives with no parts
/// counted: inserting its parts counts them (the trigger of migration 0006).
fn imports(handoff: &Handoff) -> Vec<Statement> {
    let mut out = Vec::new();
    for (table, rows) in &handoff.tables {
        for row in rows {
            let mut row = row.clone();
            if table == "multipart_uploads" {
                row.insert("part_count".into(), 0.into());
                row.insert("part_bytes".into(), 0.into());
            }
            let columns: Vec<&str> = row.keys().map(String::as_str).collect();
            let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let values = row.values().map(value).collect();
            let sql = format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), marks.join(", "));
            out.push(stmt(sql, values));
        }
    }
    out
}

/// A row's JSON value bound again: SQLite hands integers out as numbers (JavaScript's, on
/// Durable Objects) and takes them back as integers.
fn value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).map_or(Value::Null, Value::Int)
        }
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Bool(b) => Value::from(*b),
        _ => Value::Null,
    }
}

/// Starts the moves of target `me`'s shard key `ns` out of each of `sources` (the shards of
/// the namespaces it was split from).
pub async fn inherit<D: SqlDatabase, S: Sources>(
    db: &D,
    sources: &S,
    me: &str,
    ns: &str,
    from: &[String],
) -> Result<()> {
    let statements = from
        .iter()
        .filter(|s| s.as_str() != me)
        .map(|s| stmt("INSERT OR IGNORE INTO shard_inherits (namespace, source) VALUES (?1, ?2)", args![ns, s]))
        .collect::<Vec<_>>();
    if !statements.is_empty() {
        db.batch(Route::Here, "inherit", statements).await?;
        settle(db, sources, me, &moves(db, None).await?).await?;
    }
    Ok(())
}

/// Finishes what a target left half done: moves not yet begun, steps not yet imported or
/// released.
async fn settle<D: SqlDatabase, S: Sources>(db: &D, sources: &S, me: &str, m: &Moves) -> Result<()> {
    for i in m.inherits.iter().filter(|i| i.begun == 0) {
        let call = Call::MoveOut { namespace: i.namespace.clone(), target: me.to_owned() };
        let nonces: Vec<Nonce> = decode(sources.ask(&i.source, &call).await?, "move out")?;
        let mut statements: Vec<Statement> = nonces
            .iter()
            .map(|n| {
                stmt(
                    "INSERT OR IGNORE INTO used_nonces (nonce, expires_at) VALUES (?1, ?2)",
                    args![&n.nonce, n.expires_at],
                )
            })
            .collect();
        statements.push(stmt(
            "UPDATE shard_inherits SET begun = 1 WHERE namespace = ?1 AND source = ?2",
            args![&i.namespace, &i.source],
        ));
        db.batch(Route::Here, "move begin", statements).await?;
    }
    for s in &m.steps {
        let keys: Option<Vec<String>> = match &s.keys {
            Some(k) => Some(serde_json::from_str(k).map_err(|e| error("move step", &e.to_string()))?),
            None => None,
        };
        finish_step(db, sources, me, s, keys).await?;
    }
    Ok(())
}

/// Asks, imports and releases step `s`, each part once.
async fn finish_step<D: SqlDatabase, S: Sources>(
    db: &D,
    sources: &S,
    me: &str,
    s: &Step,
    keys: Option<Vec<String>>,
) -> Result<()> {
    if s.imported == 0 {
        let call = Call::Export {
            step: s.step.clone(),
            namespace: s.namespace.clone(),
            target: me.to_owned(),
            keys: keys.clone(),
            after: s.after.clone(),
            limit: STEP_KEYS,
        };
        let handoff: Handoff = decode(sources.ask(&s.source, &call).await?, "move export")?;
        // The rows and the mark that they are in, in one transaction: a step found marked is
        // only released again.
        let mut statements = imports(&handoff);
        statements.push(stmt("UPDATE shard_steps SET imported = 1 WHERE step = ?1", args![&s.step]));
        match keys {
            Some(keys) => {
                let list = serde_json::to_string(&keys).map_err(|e| error("move step", &e.to_string()))?;
                statements.push(stmt(
                    "INSERT OR IGNORE INTO shard_pulled (source, key) SELECT ?1, value FROM json_each(?2)",
                    args![&s.source, list],
                ));
            }
            None => {
                let last = handoff.keys.last().cloned().unwrap_or_else(|| s.after.clone());
                statements.push(stmt(
                    "UPDATE shard_inherits SET after = ?3, done = ?4 WHERE namespace = ?1 AND source = ?2",
                    args![&s.namespace, &s.source, last, !handoff.more],
                ));
                if !handoff.more {
                    statements.push(stmt(
                        format!("DELETE FROM shard_pulled WHERE source = ?1 AND {}", of_sql("?2")),
                        args![&s.source, &s.namespace],
                    ));
                }
            }
        }
        db.batch(Route::Here, "move import", statements).await?;
    }
    sources.ask(&s.source, &Call::Release { step: s.step.clone() }).await?;
    one(db, "move step", stmt("DELETE FROM shard_steps WHERE step = ?1", args![&s.step])).await?;
    Ok(())
}

/// Records and runs a step of target `me`: `keys` from `source`, or its next keys in order.
async fn step<D: SqlDatabase, S: Sources>(
    db: &D,
    sources: &S,
    me: &str,
    inherit: &Inherit,
    keys: Option<Vec<String>>,
) -> Result<()> {
    let list = keys.as_ref().map(serde_json::to_string).transpose().map_err(|e| error("move step", &e.to_string()))?;
    // The same step asked again has the same id; a new one a new id.
    let what = list.as_deref().map_or_else(|| format!("after:{}", inherit.after), |l| format!("keys:{l}"));
    let id = format!(
        "{me}:{}",
        hex(&Sha256::digest(format!("{}\n{}\n{what}", inherit.source, inherit.namespace).as_bytes())[..12])
    );
    let sql = "INSERT OR IGNORE INTO shard_steps (step, source, namespace, keys, after) VALUES (?1, ?2, ?3, ?4, ?5)";
    one(db, "move step", stmt(sql, args![&id, &inherit.source, &inherit.namespace, list, &inherit.after])).await?;
    let s = Step {
        step: id,
        source: inherit.source.clone(),
        namespace: inherit.namespace.clone(),
        keys: None,
        after: inherit.after.clone(),
        imported: 0,
    };
    finish_step(db, sources, me, &s, keys).await
}

/// Where a batch runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ran {
    /// Here, with these outcomes.
    Here(Vec<Outcome>),
    /// Not here: what it concerns moved to this shard.
    Moved(String),
}

/// What a batch concerns, for the moves: the keys it names in this shard, the upload id it
/// names, the prefix it lists (and whether only this shard was asked for it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Concerns<'a> {
    pub keys: &'a [String],
    pub id: Option<&'a str>,
    pub listing: Option<(&'a str, bool)>,
}

/// Runs a batch in shard `me` where moves may be under way: a source sends away what it moved
/// out; a target moves in the keys the batch names before running it, and answers a listing
/// with its sources' rows of its namespaces too. The caller runs no other batch of this
/// shard meanwhile (a Durable Object holds its lock).
pub async fn run<D: SqlDatabase, S: Sources>(
    db: &D,
    sources: &S,
    me: &str,
    concerns: Concerns<'_>,
    op: &str,
    statements: Vec<Statement>,
) -> Result<Ran> {
    let m = moves(db, concerns.id).await?;
    if let Some(to) =
        m.id_moved_to.clone().or_else(|| concerns.keys.iter().find_map(|k| m.out.target(k).map(str::to_owned)))
    {
        return Ok(Ran::Moved(to));
    }
    if m.inherits.is_empty() && m.steps.is_empty() {
        return Ok(Ran::Here(db.batch(Route::Here, op, statements).await?));
    }
    settle(db, sources, me, &m).await?;
    let m = moves(db, None).await?;
    for inherit in &m.inherits {
        let under: Vec<&String> =
            concerns.keys.iter().filter(|k| of(k, &inherit.namespace) && **k > inherit.after).collect();
        if under.is_empty() {
            continue;
        }
        let list = serde_json::to_string(&under).map_err(|e| error("move pull", &e.to_string()))?;
        #[derive(Deserialize)]
        struct Key {
            key: String,
        }
        let sql = "SELECT key FROM shard_pulled WHERE source = ?1 AND key IN (SELECT value FROM json_each(?2))";
        let pulled: BTreeSet<String> = one(db, "move pull", stmt(sql, args![&inherit.source, list]))
            .await?
            .decode::<Key>("move pull")?
            .into_iter()
            .map(|k| k.key)
            .collect();
        let needed: Vec<String> = under.into_iter().filter(|k| !pulled.contains(*k)).cloned().collect();
        if !needed.is_empty() {
            step(db, sources, me, inherit, Some(needed)).await?;
        }
    }
    let mut outcomes = db.batch(Route::Here, op, statements.clone()).await?;
    if let Some((prefix, alone)) = concerns.listing {
        for inherit in m.inherits.iter().filter(|i| lists(prefix, &i.namespace)) {
            let theirs: Vec<Outcome> = decode(
                sources.ask(&inherit.source, &Call::List { statements: statements.clone() }).await?,
                "move list",
            )?;
            let theirs = theirs
                .into_iter()
                .map(|mut o| {
                    // Rows of keys it still holds of the namespace; rows of no key (sums) only
                    // where nobody else asked the source.
                    o.rows.retain(|r| match r.get("key").and_then(|k| k.as_str()) {
                        Some(k) => of(k, &inherit.namespace),
                        None => alone,
                    });
                    o
                })
                .collect();
            outcomes = join(vec![outcomes, theirs]);
        }
    }
    Ok(Ran::Here(outcomes))
}

/// Moves up to `steps` background steps of target `me`: whether keys remain to move.
pub async fn advance<D: SqlDatabase, S: Sources>(db: &D, sources: &S, me: &str, steps: u32) -> Result<bool> {
    for _ in 0..steps {
        let m = moves(db, None).await?;
        settle(db, sources, me, &m).await?;
        let m = moves(db, None).await?;
        let Some(inherit) = m.inherits.first() else { return Ok(false) };
        step(db, sources, me, inherit, None).await?;
    }
    unfinished(db).await
}
