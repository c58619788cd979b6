//! Quotas on tables `owner_usage` (kept by triggers on `objects`), `quota_reservations` and
//! `quota_reconcile` (`migrations/0015_quotas.sql`).

use serde::Deserialize;

use super::{args, stmt, Outcome, Route, SqlDatabase, SqlMetadata, Statement};
use crate::error::Result;
use crate::quota::{Drift, Quota, QuotaIndex, Reservation, Usage};

/// What owner ?{o}'s rows in this database take: bytes, objects.
fn stored(column: &str, o: u8) -> String {
    stored_of(column, &format!("?{o}"))
}

/// What the rows of the owner named by SQL expression `owner` take here: bytes, objects.
pub(crate) fn stored_of(column: &str, owner: &str) -> String {
    format!("(SELECT COALESCE(SUM({column}), 0) FROM owner_usage WHERE owner = {owner})")
}

/// The bytes the owner named by SQL expression `owner` has stored here in uploads not yet
/// finished: parts of open multipart uploads, bytes of unfinished tus uploads.
pub(crate) fn held_of(owner: &str) -> String {
    format!(
        "((SELECT COALESCE(SUM(part_bytes), 0) FROM multipart_uploads WHERE owner = {owner} AND expires_at > 0) \
         + (SELECT COALESCE(SUM(upload_offset), 0) FROM tus_uploads WHERE owner = {owner} \
            AND (length IS NULL OR upload_offset < length)))"
    )
}

/// A home's own copy of a reservation made for a write in another shard: `home` is empty.
pub(crate) const COPY: &str = "";

/// The reservations counted: every one where a limit is checked; where usage is shown, not a
/// home's copies, which their write's own shard shows.
fn counted(copies: bool) -> &'static str {
    if copies {
        ""
    } else {
        " AND (home IS NULL OR home != '')"
    }
}

/// The bytes owner ?{o} has in flight at ?{n}: reservations not lapsed, parts of open
/// multipart uploads, bytes of unfinished tus uploads.
fn in_flight_bytes(o: u8, n: u8, copies: bool) -> String {
    format!(
        "((SELECT COALESCE(SUM(bytes), 0) FROM quota_reservations WHERE owner = ?{o} AND until_ms > ?{n}{}) + {})",
        counted(copies),
        held_of(&format!("?{o}"))
    )
}

/// The objects owner ?{o} has in flight at ?{n}: reservations not lapsed.
fn in_flight_objects(o: u8, n: u8, copies: bool) -> String {
    format!(
        "(SELECT COALESCE(SUM(objects), 0) FROM quota_reservations WHERE owner = ?{o} AND until_ms > ?{n}{})",
        counted(copies)
    )
}

/// Removes reservation ?{id}: the statement that records a write carries it.
pub(super) fn release(id: u8) -> String {
    format!("DELETE FROM quota_reservations WHERE id = ?{id}")
}

/// The removal of reservation `id`, as a statement of its own.
pub(super) fn released(id: &str) -> Statement {
    stmt(release(1), args![id])
}

/// What other shards reported owner ?{o} takes there (`quota_remote`, kept only at the owner's
/// home shard): bytes or objects.
fn remote(column: &str, o: u8) -> String {
    format!("(SELECT COALESCE(SUM({column}), 0) FROM quota_remote WHERE owner = ?{o})")
}

/// How long past its own time a reservation made at the owner's home for a write elsewhere
/// lasts, if the report that it ended never came: the key's shard reports within seconds.
pub const HOME_GRACE_MS: i64 = 60 * 60 * 1000;

/// The conditional insert of reservation `r`: made only if it fits the limits with what the
/// owner takes in this database, what other shards reported, and what is in flight. An
/// owner's own version at the key is replaced by the write where `replaced` is that version's
/// database: it does not count twice. `home`: the owner's home shard, named in the row where it
/// is another database, so the row's end is reported there.
fn reservation(
    r: &Reservation<'_>,
    quota: &Quota,
    now_ms: i64,
    home: Option<&str>,
    until_ms: i64,
    replaced: bool,
) -> Statement {
    let replaced_bytes = "?10 * COALESCE((SELECT size FROM objects WHERE key = ?9 AND owner = ?2), 0)";
    let replaced_objects = "?10 * (SELECT COUNT(*) FROM objects WHERE key = ?9 AND owner = ?2)";
    let sql = format!(
        "INSERT OR IGNORE INTO quota_reservations (id, owner, bytes, objects, until_ms, home) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?11 \
         WHERE (?6 IS NULL OR {} + {} + {} + ?3 - {replaced_bytes} <= ?6) \
         AND (?7 IS NULL OR {} + {} + {} + ?4 - {replaced_objects} <= ?7)",
        stored("bytes", 2),
        remote("bytes", 2),
        in_flight_bytes(2, 8, true),
        stored("objects", 2),
        remote("objects", 2),
        in_flight_objects(2, 8, true),
    );
    let replaces = i64::from(r.replaces && replaced);
    stmt(
        sql,
        args![r.id, r.owner, r.bytes, r.objects, until_ms, quota.bytes, quota.objects, now_ms, r.key, replaces, home],
    )
}

/// The conditional insert of reservation `r` where the owner's quota ledger is this database
/// (always, in one database): for a batch that makes its write only if this one was made.
pub(super) fn reservation_here(r: &Reservation<'_>, quota: &Quota, now_ms: i64) -> Statement {
    reservation(r, quota, now_ms, None, r.until_ms, true)
}

/// The condition a write's records are made under in the batch that reserves its quota: its
/// reservation, whose id is each record's ?1, was made.
pub(super) const RESERVED: &str = "EXISTS (SELECT 1 FROM quota_reservations WHERE id = ?1)";

/// `{insert} VALUES ({values})`, or with `condition`, the same row made only if it holds.
pub(super) fn insert_if(insert: &str, values: &str, condition: Option<&str>) -> String {
    match condition {
        None => format!("{insert} VALUES ({values})"),
        Some(c) => format!("{insert} SELECT {values} WHERE {c}"),
    }
}

impl<D: SqlDatabase> SqlMetadata<D> {
    /// Runs `records`, the statements that record a write to `key` (built under the condition
    /// given them), with `quota`'s reservation first in the same batch, where the owner's ledger
    /// is the key's database: `false` when the reservation did not fit, and then nothing was
    /// recorded. Where the ledger is another database, the quota is reserved first, as
    /// [`QuotaIndex::reserve_quota`] does there.
    pub(super) async fn record_reserving(
        &self,
        op: &str,
        key: &str,
        quota: Option<(&Reservation<'_>, &Quota)>,
        now_ms: i64,
        records: impl FnOnce(Option<&str>) -> Vec<Statement>,
    ) -> Result<bool> {
        let here = match quota {
            Some((r, q)) if self.db.home_apart(r.key, r.owner).is_some() => {
                if !self.reserve_quota(r, q, now_ms).await? {
                    return Ok(false);
                }
                None
            }
            quota => quota,
        };
        let mut statements: Vec<Statement> = here.iter().map(|(r, q)| reservation_here(r, q, now_ms)).collect();
        statements.extend(records(here.map(|_| RESERVED)));
        let results = self.batch(Route::Key(key), op, statements).await?;
        Ok(here.is_none() || results.first().is_some_and(Outcome::changed))
    }
}

/// The read of owner ?1's usage at ?2 in one database: with `ledger`, as its home counts it for
/// the limit (other shards' reports and the home's copies of their reservations in); without,
/// what this database alone holds.
fn usage_select(ledger: bool) -> String {
    let (bytes, objects) = if ledger {
        let sum = |column| format!("{} + {}", stored(column, 1), remote(column, 1));
        (sum("bytes"), sum("objects"))
    } else {
        (stored("bytes", 1), stored("objects", 1))
    };
    format!(
        "SELECT {bytes} AS bytes, {objects} AS objects, {} AS reserved_bytes, {} AS reserved_objects",
        in_flight_bytes(1, 2, ledger),
        in_flight_objects(1, 2, ledger),
    )
}

/// A usage read's row (numbers as SQLite and JavaScript hand them out).
#[derive(Deserialize)]
struct UsageRow {
    bytes: f64,
    objects: f64,
    reserved_bytes: f64,
    reserved_objects: f64,
}

impl From<UsageRow> for Usage {
    fn from(r: UsageRow) -> Usage {
        Usage {
            bytes: r.bytes.max(0.0) as u64,
            objects: r.objects.max(0.0) as u64,
            reserved_bytes: r.reserved_bytes.max(0.0) as u64,
            reserved_objects: r.reserved_objects.max(0.0) as u64,
        }
    }
}

impl<D: SqlDatabase> QuotaIndex for SqlMetadata<D> {
    /// One conditional insert: the check and the reservation are one statement. On shards, a
    /// write whose key is not in its owner's home shard reserves there too, concurrently: the
    /// home sees every write of the owner, wherever its key, so the limit holds across shards.
    async fn reserve_quota(&self, r: &Reservation<'_>, quota: &Quota, now_ms: i64) -> Result<bool> {
        let Some(home) = self.db.home_apart(r.key, r.owner) else {
            let statement = reservation_here(r, quota, now_ms);
            return Ok(self.run(Route::Key(r.key), "quota reserve", statement).await?.changed());
        };
        let local = self.batch(
            Route::Key(r.key),
            "quota reserve",
            vec![
                reservation(r, quota, now_ms, Some(&home), r.until_ms, true),
                stmt(
                    "INSERT INTO quota_homes (owner, home) VALUES (?1, ?2) ON CONFLICT(owner) DO NOTHING",
                    args![r.owner, &home],
                ),
            ],
        );
        // The home cannot see the owner's version at the key: an overwrite counts whole there.
        let at_home = reservation(r, quota, now_ms, Some(COPY), r.until_ms.saturating_add(HOME_GRACE_MS), false);
        let at_home = self.run(Route::Owner(r.owner), "quota reserve at home", at_home);
        let (local, at_home) = futures_util::future::join(local, at_home).await;
        let made_here = local.as_ref().is_ok_and(|o| o.first().is_some_and(Outcome::changed));
        let made_home = at_home.as_ref().is_ok_and(Outcome::changed);
        if made_here && made_home {
            return Ok(true);
        }
        // Whichever was made is undone; a failed undo is logged and lapses at its time.
        let undo = |route, op: &'static str| async move {
            if let Err(e) = self.run(route, op, released(r.id)).await {
                crate::log::error(&format!("undoing the quota reservation of `{}` failed: {}", r.key, e.log_line()));
            }
        };
        if made_here {
            undo(Route::Key(r.key), "quota release").await;
        }
        if made_home {
            undo(Route::Owner(r.owner), "quota release at home").await;
        }
        local?;
        at_home?;
        Ok(false)
    }

    async fn release_quota(&self, key: &str, id: &str) -> Result<()> {
        self.run(Route::Key(key), "quota release", released(id)).await?;
        Ok(())
    }

    async fn usage(&self, owner: &str, prefix: &str, now_ms: i64) -> Result<Usage> {
        let sql = usage_select(false);
        // An owner's rows are in the databases of the keys it may write: each one's usage, summed.
        let rows: Vec<UsageRow> =
            self.all(Route::Under(prefix), "quota usage", stmt(sql, args![owner, now_ms])).await?;
        Ok(rows.into_iter().fold(Usage::default(), |sum, r| sum.plus(r.into())))
    }

    async fn usage_checked(&self, owner: &str, key: &str, now_ms: i64) -> Result<Usage> {
        if self.db.home_apart(key, owner).is_none() {
            return self.usage(owner, key, now_ms).await;
        }
        let sql = usage_select(true);
        let row: Option<UsageRow> =
            self.first(Route::Owner(owner), "quota ledger", stmt(sql, args![owner, now_ms])).await?;
        Ok(row.map_or_else(Usage::default, Into::into))
    }

    /// One transaction: the batch after the cursor, what drifted in it, its repair, the cursor
    /// moved on (back to the start once a batch is the last), lapsed reservations forgotten.
    async fn reconcile_usage(&self, limit: u32, now_ms: i64) -> Result<Vec<Drift>> {
        #[derive(Deserialize)]
        struct Row {
            owner: String,
            bytes: f64,
            objects: f64,
            actual_bytes: f64,
            actual_objects: f64,
        }
        let batch = "SELECT owner FROM owner_usage WHERE owner > (SELECT cursor FROM quota_reconcile) \
                     ORDER BY owner LIMIT ?1";
        let actual = "(SELECT COALESCE(SUM(size), 0) FROM objects o WHERE o.owner = u.owner) AS actual_bytes, \
                      (SELECT COUNT(*) FROM objects o WHERE o.owner = u.owner) AS actual_objects";
        let statements = vec![
            stmt(
                format!(
                    "SELECT owner, bytes, objects, {actual} FROM owner_usage u WHERE owner IN ({batch}) \
                     AND (bytes != actual_bytes OR objects != actual_objects)"
                ),
                args![limit],
            ),
            stmt(
                format!(
                    "UPDATE owner_usage SET bytes = (SELECT COALESCE(SUM(size), 0) FROM objects o \
                     WHERE o.owner = owner_usage.owner), objects = (SELECT COUNT(*) FROM objects o \
                     WHERE o.owner = owner_usage.owner) WHERE owner IN ({batch})"
                ),
                args![limit],
            ),
            stmt(
                format!(
                    "UPDATE quota_reconcile SET cursor = CASE WHEN (SELECT COUNT(*) FROM ({batch})) < ?1 THEN '' \
                     ELSE (SELECT MAX(owner) FROM ({batch})) END"
                ),
                args![limit],
            ),
            stmt("UPDATE quota_reconcile SET reconciled_at = ?1", args![now_ms]),
            stmt("DELETE FROM quota_reservations WHERE until_ms < ?1", args![now_ms]),
        ];
        let results = self.batch(Route::Prefix(""), "quota reconcile", statements).await?;
        let drifted: Vec<Row> = match results.first() {
            Some(found) => found.decode("quota reconcile")?,
            None => Vec::new(),
        };
        Ok(drifted
            .into_iter()
            .map(|r| Drift {
                owner: r.owner,
                recorded: (r.bytes as u64, r.objects as u64),
                actual: (r.actual_bytes as u64, r.actual_objects as u64),
            })
            .collect())
    }
}
