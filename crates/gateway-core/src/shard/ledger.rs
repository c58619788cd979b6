//! An owner's quota across shards (`migrations/0016_quota_ledger.sql`). The owner's home is the
//! shard of its own namespace ([`crate::sql::Route::Owner`]); under the default `{sub}/` prefix
//! every key of the owner is there, and nothing here happens.
//!
//! A write whose key is in another shard reserves in both, concurrently (one round trip): in its
//! key's shard, as every write does, and at the home, against what the owner takes there, what
//! the other shards last reported it takes with them, and every reservation of the owner in
//! flight anywhere. Concurrent writes of one owner all meet at its home, so they can never take
//! it past its limit together.
//!
//! The key's shard reports to the home, from its alarm: what the owner takes there (rows, and
//! parts and tus bytes already stored) and which of the owner's reservations there ended. The
//! home takes both in one transaction: a report's usage replaces the last one from that shard,
//! and the reservations it names as ended are dropped. Until then the home counts the write
//! as reserved, so it counts it once throughout: never more (an overwrite of a key in another
//! shard counts whole until reported), never less. A report that never arrives is replaced by
//! the next, which carries what the last one did.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sql::quota::{held_of, stored_of};
use crate::sql::{args, stmt, Route, SqlDatabase};

/// What a shard tells an owner's home.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub owner: String,
    /// The reporting shard.
    pub from: String,
    /// What the owner takes there.
    pub bytes: i64,
    pub objects: i64,
    /// Greater with each report of that shard: an older one arriving late changes nothing.
    pub version: i64,
    /// The owner's reservations there that ended since the last report taken.
    pub settled: Vec<String>,
}

/// The homes reports go to.
#[allow(async_fn_in_trait)]
pub trait Homes {
    async fn report(&self, home: &str, report: &Report) -> Result<()>;
}

/// Reports, from shard `me`, what changed for owners whose home is another shard, each to its
/// home, at most `limit`; each one the home took is forgotten. The first failure, after trying
/// them all.
pub async fn send<D: SqlDatabase, H: Homes>(db: &D, homes: &H, me: &str, limit: u32) -> Result<usize> {
    #[derive(Deserialize)]
    struct Due {
        owner: String,
        home: String,
        version: i64,
        dirty: i64,
        bytes: i64,
        objects: i64,
        settled: String,
    }
    let sql = format!(
        "SELECT owner, home, version, dirty, ({} + {}) AS bytes, {} AS objects, \
         (SELECT json_group_array(id) FROM quota_settled s WHERE s.owner = h.owner) AS settled \
         FROM quota_homes h WHERE dirty > 0 ORDER BY owner LIMIT ?1",
        stored_of("bytes", "h.owner"),
        held_of("h.owner"),
        stored_of("objects", "h.owner"),
    );
    let found = db
        .batch(
            Route::Here,
            "quota reports",
            vec![
                stmt("UPDATE quota_homes SET version = version + 1 WHERE dirty > 0", args![]),
                stmt(sql, args![limit]),
            ],
        )
        .await?;
    let due: Vec<Due> = found.get(1).map(|o| o.decode("quota reports")).transpose()?.unwrap_or_default();
    let mut sent = 0;
    let mut failed = None;
    for d in due {
        let settled: Vec<String> = serde_json::from_str(&d.settled).unwrap_or_default();
        let report = Report {
            owner: d.owner.clone(),
            from: me.to_owned(),
            bytes: d.bytes,
            objects: d.objects,
            version: d.version,
            settled: settled.clone(),
        };
        match homes.report(&d.home, &report).await {
            Ok(()) => {
                // Changes since it was read stay to be reported: `dirty` counts them.
                let list = serde_json::to_string(&settled).unwrap_or_else(|_| "[]".to_owned());
                db.batch(
                    Route::Here,
                    "quota reported",
                    vec![
                        stmt("DELETE FROM quota_settled WHERE id IN (SELECT value FROM json_each(?1))", args![list]),
                        stmt(
                            "UPDATE quota_homes SET dirty = max(dirty - ?2, 0) WHERE owner = ?1",
                            args![&d.owner, d.dirty],
                        ),
                    ],
                )
                .await?;
                sent += 1;
            }
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

/// The home's receipt of `r`: the shard's usage, unless a later report is there already, and
/// the reservations it names as ended dropped, in one transaction.
pub async fn receive<D: SqlDatabase>(db: &D, r: &Report) -> Result<()> {
    let settled = serde_json::to_string(&r.settled).unwrap_or_else(|_| "[]".to_owned());
    db.batch(
        Route::Here,
        "quota report",
        vec![
            stmt(
                "INSERT INTO quota_remote (owner, shard, bytes, objects, version) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(owner, shard) DO UPDATE SET bytes = excluded.bytes, objects = excluded.objects, \
                 version = excluded.version WHERE excluded.version > quota_remote.version",
                args![&r.owner, &r.from, r.bytes, r.objects, r.version],
            ),
            stmt(
                "DELETE FROM quota_reservations WHERE owner = ?1 AND home = '' \
                 AND id IN (SELECT value FROM json_each(?2))",
                args![&r.owner, settled],
            ),
        ],
    )
    .await?;
    Ok(())
}

/// Whether a shard has reports to send: then its work is due now.
pub async fn due<D: SqlDatabase>(db: &D) -> Result<bool> {
    let found = db
        .batch(Route::Here, "quota due", vec![stmt("SELECT 1 AS x FROM quota_homes WHERE dirty > 0 LIMIT 1", args![])])
        .await?;
    Ok(found.first().is_some_and(|o| !o.rows.is_empty()))
}
