//! Quotas on tables `owner_usage` (kept by triggers on `objects`), `quota_reservations` and
//! `quota_reconcile` (`migrations/0015_quotas.sql`).

use serde::Deserialize;

use super::{args, stmt, Route, SqlDatabase, SqlMetadata, Statement};
use crate::error::Result;
use crate::quota::{Drift, Quota, QuotaIndex, Reservation, Usage};

/// What owner ?{o}'s rows in this database take: bytes, objects.
fn stored(column: &str, o: u8) -> String {
    format!("(SELECT COALESCE(SUM({column}), 0) FROM owner_usage WHERE owner = ?{o})")
}

/// The bytes owner ?{o} has in flight at ?{n}: reservations not lapsed, parts of open
/// multipart uploads, bytes of unfinished tus uploads.
fn in_flight_bytes(o: u8, n: u8) -> String {
    format!(
        "((SELECT COALESCE(SUM(bytes), 0) FROM quota_reservations WHERE owner = ?{o} AND until_ms > ?{n}) \
         + (SELECT COALESCE(SUM(part_bytes), 0) FROM multipart_uploads WHERE owner = ?{o} AND expires_at > 0) \
         + (SELECT COALESCE(SUM(upload_offset), 0) FROM tus_uploads WHERE owner = ?{o} \
            AND (length IS NULL OR upload_offset < length)))"
    )
}

/// The objects owner ?{o} has in flight at ?{n}: reservations not lapsed.
fn in_flight_objects(o: u8, n: u8) -> String {
    format!("(SELECT COALESCE(SUM(objects), 0) FROM quota_reservations WHERE owner = ?{o} AND until_ms > ?{n})")
}

/// Removes reservation ?{id}: the statement that records a write carries it.
pub(super) fn release(id: u8) -> String {
    format!("DELETE FROM quota_reservations WHERE id = ?{id}")
}

/// The removal of reservation `id`, as a statement of its own.
pub(super) fn released(id: &str) -> Statement {
    stmt(release(1), args![id])
}

impl<D: SqlDatabase> QuotaIndex for SqlMetadata<D> {
    /// One conditional insert: the check and the reservation are one statement.
    async fn reserve_quota(&self, r: &Reservation<'_>, quota: &Quota, now_ms: i64) -> Result<bool> {
        // An owner's own version at the key is replaced by the write: it does not count twice.
        let replaced_bytes = "?10 * COALESCE((SELECT size FROM objects WHERE key = ?9 AND owner = ?2), 0)";
        let replaced_objects = "?10 * (SELECT COUNT(*) FROM objects WHERE key = ?9 AND owner = ?2)";
        let sql = format!(
            "INSERT OR IGNORE INTO quota_reservations (id, owner, bytes, objects, until_ms) \
             SELECT ?1, ?2, ?3, ?4, ?5 \
             WHERE (?6 IS NULL OR {} + {} + ?3 - {replaced_bytes} <= ?6) \
             AND (?7 IS NULL OR {} + {} + ?4 - {replaced_objects} <= ?7)",
            stored("bytes", 2),
            in_flight_bytes(2, 8),
            stored("objects", 2),
            in_flight_objects(2, 8),
        );
        let replaces = i64::from(r.replaces);
        let values =
            args![r.id, r.owner, r.bytes, r.objects, r.until_ms, quota.bytes, quota.objects, now_ms, r.key, replaces];
        let done = self.run(Route::Key(r.key), "quota reserve", stmt(sql, values)).await?;
        Ok(done.changed())
    }

    async fn release_quota(&self, key: &str, id: &str) -> Result<()> {
        self.run(Route::Key(key), "quota release", released(id)).await?;
        Ok(())
    }

    async fn usage(&self, owner: &str, prefix: &str, now_ms: i64) -> Result<Usage> {
        #[derive(Deserialize)]
        struct Row {
            bytes: f64,
            objects: f64,
            reserved_bytes: f64,
            reserved_objects: f64,
        }
        let sql = format!(
            "SELECT {} AS bytes, {} AS objects, {} AS reserved_bytes, {} AS reserved_objects",
            stored("bytes", 1),
            stored("objects", 1),
            in_flight_bytes(1, 2),
            in_flight_objects(1, 2),
        );
        // An owner's rows are in the databases of the keys it may write: each one's usage, summed.
        let rows: Vec<Row> = self.all(Route::Under(prefix), "quota usage", stmt(sql, args![owner, now_ms])).await?;
        Ok(rows.into_iter().fold(Usage::default(), |sum, r| {
            sum.plus(Usage {
                bytes: r.bytes.max(0.0) as u64,
                objects: r.objects.max(0.0) as u64,
                reserved_bytes: r.reserved_bytes.max(0.0) as u64,
                reserved_objects: r.reserved_objects.max(0.0) as u64,
            })
        }))
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
