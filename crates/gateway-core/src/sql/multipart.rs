//! The multipart index on tables `multipart_uploads`, `multipart_parts` (recorded parts) and
//! `multipart_attempts` (parts in flight, one row per attempt)
//! (`migrations/0003_multipart_uploads.sql`, counters from `0006`, attempts from `0011`).

use serde::Deserialize;

use super::objects::names;
use super::{args, stmt, Outcome, Route, SqlDatabase, SqlMetadata, Statement, Value};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::metadata::{
    multipart_entry, Commit, MultipartIndex, MultipartUpload, ObjectRecord, PartAttempt, PreparedPart,
    DEFAULT_PENDING_GRACE_MS,
};
use crate::multipart::rules::{OtherParts, Part};
use crate::quota::{Quota, QuotaIndex};

#[derive(Deserialize)]
struct UploadRow {
    id: String,
    key: String,
    owner: String,
    store_upload_id: String,
    content_type: String,
    declared_size: Option<f64>,
    created_at: f64,
    expires_at: f64,
    storage_key: Option<String>,
    max_size: Option<f64>,
    metadata: Option<String>,
}

impl From<UploadRow> for MultipartUpload {
    fn from(r: UploadRow) -> Self {
        MultipartUpload {
            id: r.id,
            key: r.key.clone(),
            owner: r.owner,
            store_upload_id: r.store_upload_id,
            content_type: r.content_type,
            declared_size: r.declared_size.map(|v| v as u64),
            created_at: r.created_at as i64,
            expires_at: r.expires_at as i64,
            storage_key: r.storage_key.unwrap_or(r.key),
            max_size: r.max_size.map(|v| v as u64),
            metadata: r.metadata,
        }
    }
}

/// A part as the database returns it (tables `multipart_parts` and `tus_parts`).
#[derive(Deserialize)]
pub(super) struct PartRow {
    part_number: f64,
    size: f64,
    etag: String,
}

impl From<PartRow> for Part {
    fn from(p: PartRow) -> Part {
        Part { number: p.part_number as u16, size: p.size as u64, etag: p.etag }
    }
}

const UPLOAD_COLUMNS: &str =
    "id, key, owner, store_upload_id, content_type, declared_size, created_at, expires_at, storage_key, max_size, metadata";

/// Records upload `u`.
fn insert(u: &MultipartUpload) -> Statement {
    let sql = format!(
        "INSERT INTO multipart_uploads ({UPLOAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    );
    let values = args![
        &u.id,
        &u.key,
        &u.owner,
        &u.store_upload_id,
        &u.content_type,
        u.declared_size,
        u.created_at,
        u.expires_at,
        &u.storage_key,
        u.max_size,
        &u.metadata,
    ];
    stmt(sql, values)
}

/// Upload ?1's recorded parts and, with an empty ETag, each number in flight at ?2 without one.
const PARTS: &str = "SELECT part_number, size, etag FROM multipart_parts WHERE upload_id = ?1 \
                     UNION ALL SELECT part_number, MAX(size) AS size, '' AS etag FROM multipart_attempts a \
                     WHERE upload_id = ?1 AND until_ms > ?2 AND NOT EXISTS (SELECT 1 FROM multipart_parts p \
                     WHERE p.upload_id = ?1 AND p.part_number = a.part_number) GROUP BY part_number \
                     ORDER BY part_number";

/// Forgets upload ?1 (the last statement removes its row) when `condition` holds.
fn forget_statements(condition: &str, values: &[Value]) -> Vec<Statement> {
    ["multipart_parts WHERE upload_id", "multipart_attempts WHERE upload_id", "multipart_uploads WHERE id"]
        .iter()
        .map(|t| stmt(format!("DELETE FROM {t} = ?1 AND {condition}"), values.to_vec()))
        .collect()
}

/// The summary of upload ?1's parts other than number ?2 ([`OtherParts`]): the counters (kept
/// by triggers, `migrations/0006`) and index lookups, a constant number of rows however many
/// parts the upload has.
fn summary(id: &str, number: u16) -> Statement {
    let others = "FROM multipart_parts WHERE upload_id = ?1 AND part_number <> ?2 ORDER BY part_number";
    let sql = format!(
        "SELECT (SELECT part_count FROM multipart_uploads WHERE id = ?1) AS part_count, \
         (SELECT part_bytes FROM multipart_uploads WHERE id = ?1) AS part_bytes, \
         (SELECT size FROM multipart_parts WHERE upload_id = ?1 AND part_number = ?2) AS own_size, \
         (SELECT part_number {others} DESC LIMIT 1) AS high_number, \
         (SELECT size {others} DESC LIMIT 1) AS high_size, \
         (SELECT part_number {others} ASC LIMIT 1) AS low_number, \
         (SELECT size {others} ASC LIMIT 1) AS low_size"
    );
    stmt(sql, args![id, number])
}

fn summarised(found: &Outcome) -> Result<OtherParts> {
    #[derive(Deserialize)]
    struct Summary {
        part_count: Option<f64>,
        part_bytes: Option<f64>,
        own_size: Option<f64>,
        high_number: Option<f64>,
        high_size: Option<f64>,
        low_number: Option<f64>,
        low_size: Option<f64>,
    }
    let Some(r) = found.decode::<Summary>("parts summary")?.pop() else { return Ok(OtherParts::default()) };
    let own = r.own_size.map(|s| s as u64);
    let highest = r.high_number.zip(r.high_size).map(|(n, s)| (n as u16, s as u64));
    Ok(OtherParts {
        count: (r.part_count.unwrap_or(0.0) as u32).saturating_sub(u32::from(own.is_some())),
        bytes: (r.part_bytes.unwrap_or(0.0) as u64).saturating_sub(own.unwrap_or(0)),
        highest,
        common: r
            .low_number
            .zip(r.low_size)
            .filter(|(n, _)| highest.is_some_and(|(h, _)| *n as u16 != h))
            .map(|(_, s)| s as u64),
    })
}

/// Reserves attempt `a`'s bytes in one statement, so the check and the insert are atomic. Each
/// part number counts with the largest of its recorded size and its live attempts' sizes: the
/// recorded bytes (a counter) plus, per number in flight, what its largest attempt adds over
/// the recorded part. It reads the attempts in flight, a handful, not every part. With
/// `caller` (key, owner), only for that caller's upload of that key, open at `now_ms`. The
/// upload's own `max_size` (the approval hook's) lowers `limit`.
fn reserve(a: &PartAttempt, limit: u64, now_ms: i64, caller: Option<(&str, &str)>) -> Statement {
    let sql = "INSERT INTO multipart_attempts (upload_id, attempt, part_number, size, until_ms) \
               SELECT ?1, ?2, ?3, ?4, ?6 WHERE (SELECT part_bytes FROM multipart_uploads WHERE id = ?1) \
               + (SELECT COALESCE(SUM(extra), 0) FROM (SELECT MAX(0, MAX(c.size) - COALESCE((SELECT p.size \
               FROM multipart_parts p WHERE p.upload_id = ?1 AND p.part_number = c.part_number), 0)) AS extra \
               FROM (SELECT part_number, size FROM multipart_attempts WHERE upload_id = ?1 AND until_ms > ?7 \
               UNION ALL SELECT CAST(?3 AS INTEGER), CAST(?4 AS INTEGER)) AS c GROUP BY c.part_number)) \
               <= MIN(?5, COALESCE((SELECT max_size FROM multipart_uploads WHERE id = ?1), ?5))";
    let mut values = args![&a.upload_id, &a.attempt, a.number, a.size, limit, a.until_ms, now_ms];
    match caller {
        None => stmt(sql, values),
        Some((key, owner)) => {
            values.extend(args![key, owner]);
            stmt(
                format!(
                    "{sql} AND EXISTS (SELECT 1 FROM multipart_uploads WHERE id = ?1 AND key = ?8 AND owner = ?9 \
                     AND expires_at > ?7)"
                ),
                values,
            )
        }
    }
}

impl<D: SqlDatabase> MultipartIndex for SqlMetadata<D> {
    async fn create_multipart(&self, u: &MultipartUpload) -> Result<()> {
        self.run(Route::Key(&u.key), "multipart insert", insert(u)).await?;
        Ok(())
    }

    /// The entry and the upload in one transaction.
    async fn begin_multipart(&self, u: &MultipartUpload) -> Result<()> {
        let statements = vec![super::journal::begin(&multipart_entry(u)), insert(u)];
        self.transaction(Route::Key(&u.key), "multipart begin", statements).await
    }

    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE id = ?1");
        let row: Option<UploadRow> = self.first(Route::Id(id), "multipart select", stmt(sql, args![id])).await?;
        Ok(row.map(Into::into))
    }

    async fn parts(&self, id: &str, now_ms: i64) -> Result<Vec<Part>> {
        let rows: Vec<PartRow> = self.all(Route::Id(id), "parts select", stmt(PARTS, args![id, now_ms])).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The upload, its parts and the backfilled entry ([`multipart_entry`], built from the
    /// row) in one batch.
    async fn prepare_completion(
        &self,
        id: &str,
        key: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<(Option<MultipartUpload>, Vec<Part>)> {
        let statements = vec![
            stmt(format!("SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE id = ?1"), args![id]),
            stmt(PARTS, args![id, now_ms]),
            stmt(
                "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) \
                 SELECT id, key, owner, created_at, COALESCE(storage_key, key), expires_at + ?2 \
                 FROM multipart_uploads WHERE id = ?1 AND key = ?3 AND owner = ?4 AND expires_at > ?5",
                args![id, DEFAULT_PENDING_GRACE_MS, key, owner, now_ms],
            ),
        ];
        let op = "completion prepare";
        let results = self.batch(Route::Id(id), op, statements).await?;
        let [upload, parts, _] = results.as_slice() else { return Ok((None, Vec::new())) };
        let upload = upload.decode::<UploadRow>(op)?.pop().map(Into::into);
        Ok((upload, parts.decode::<PartRow>(op)?.into_iter().map(Into::into).collect()))
    }

    /// The counters (kept by triggers, `migrations/0006`) and two index lookups: a constant
    /// number of rows however many parts the upload has.
    async fn other_parts(&self, id: &str, number: u16) -> Result<OtherParts> {
        let found = self.run(Route::Id(id), "parts summary", summary(id, number)).await?;
        summarised(&found)
    }

    async fn reserve_part(&self, a: &PartAttempt, limit: u64, now_ms: i64) -> Result<bool> {
        Ok(self.run(Route::Id(&a.upload_id), "part reserve", reserve(a, limit, now_ms, None)).await?.changed())
    }

    /// The three in one batch: the upload, the summary, the reservation (conditional on the
    /// upload being the caller's and open).
    ///
    /// With a quota, its reservation is the batch's first statement and the attempt is made
    /// only if that reservation was, and the last removes the reservation if the attempt was
    /// not made: still one round trip. Where the owner's quota ledger is another database (on
    /// shards, a key outside the owner's home), the quota is reserved first, as
    /// [`QuotaIndex::reserve_quota`] does there.
    async fn prepare_part(
        &self,
        a: &PartAttempt,
        key: &str,
        owner: &str,
        limit: u64,
        quota: Option<&Quota>,
        now_ms: i64,
    ) -> Result<PreparedPart> {
        let id = a.upload_id.as_str();
        let bytes = a.quota_reservation(key, owner);
        let apart = quota.is_some() && self.db().home_apart(key, owner).is_some();
        if let Some(quota) = quota.filter(|_| apart) {
            if !self.reserve_quota(&bytes, quota, now_ms).await? {
                return Ok(PreparedPart { over_quota: true, ..PreparedPart::default() });
            }
        }
        let here = quota.filter(|_| !apart);
        let mut attempt = reserve(a, limit, now_ms, Some((key, owner)));
        let mut statements = Vec::new();
        if let Some(quota) = here {
            statements.push(super::quota::reservation_here(&bytes, quota, now_ms));
            attempt.sql.push_str(" AND EXISTS (SELECT 1 FROM quota_reservations WHERE id = ?2)");
        }
        statements.extend([
            stmt(format!("SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE id = ?1"), args![id]),
            summary(id, a.number),
            attempt,
        ]);
        if here.is_some() {
            statements.push(stmt(
                "DELETE FROM quota_reservations WHERE id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM multipart_attempts WHERE upload_id = ?2 AND attempt = ?1)",
                args![&a.attempt, id],
            ));
        }
        let op = "part prepare";
        let results = self.batch(Route::Id(id), op, statements).await?;
        let (fits, results) = match here {
            Some(_) => (results.first().is_some_and(Outcome::changed), results.get(1..).unwrap_or_default()),
            None => (true, results.as_slice()),
        };
        let [upload, others, reserved, ..] = results else { return Ok(PreparedPart::default()) };
        if apart && !reserved.changed() {
            self.release_quota(key, bytes.id).await?;
        }
        Ok(PreparedPart {
            upload: upload.decode::<UploadRow>(op)?.pop().map(Into::into),
            others: summarised(others)?,
            reserved: reserved.changed(),
            over_quota: !fits,
        })
    }

    async fn release_part(&self, id: &str, attempt: &str) -> Result<()> {
        let sql = "DELETE FROM multipart_attempts WHERE upload_id = ?1 AND attempt = ?2";
        let statements = vec![stmt(sql, args![id, attempt]), super::quota::released(attempt)];
        self.transaction(Route::Id(id), "part release", statements).await
    }

    /// The part (only while the upload is open) and the end of its attempt's reservation, in
    /// one transaction.
    async fn record_part(&self, id: &str, attempt: &str, p: &Part) -> Result<()> {
        let statements = vec![
            stmt(
                "INSERT INTO multipart_parts (upload_id, part_number, size, etag) SELECT ?1, ?2, ?3, ?4 \
                 WHERE EXISTS (SELECT 1 FROM multipart_uploads WHERE id = ?1 AND expires_at > 0) \
                 ON CONFLICT(upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag",
                args![id, p.number, p.size, &p.etag],
            ),
            stmt("DELETE FROM multipart_attempts WHERE upload_id = ?1 AND attempt = ?2", args![id, attempt]),
            super::quota::released(attempt),
        ];
        let results = self.batch(Route::Id(id), "part insert", statements).await?;
        if !results.first().is_some_and(Outcome::changed) {
            return Err(GatewayError::new(ErrorKind::UploadNotFound, "the upload was completed or aborted meanwhile"));
        }
        Ok(())
    }

    /// The object's row, the journal entry and the upload, in one transaction, committed only
    /// while the upload is recorded; the upload is forgotten only if the commit happened.
    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<Commit> {
        let mut statements =
            self.commit_statements(id, rec, false, true, Some(("multipart_uploads", "expires_at > 0 AND id")), None);
        statements.extend(forget_statements(&names(2, 3), &[id.into(), (&rec.key).into(), (&rec.storage_key).into()]));
        self.commit("multipart complete", rec, statements, false).await
    }

    async fn end_multipart(&self, id: &str, settle_by_ms: i64) -> Result<bool> {
        let statements = vec![
            // The object the upload was to make is no longer in flight.
            super::quota::released(id),
            stmt(
                "UPDATE pending_uploads SET due_at = MIN(due_at, ?2) WHERE id = ?1 \
                 AND EXISTS (SELECT 1 FROM multipart_uploads WHERE id = ?1 AND expires_at > 0)",
                args![id, settle_by_ms],
            ),
            stmt("UPDATE multipart_uploads SET expires_at = 0 WHERE id = ?1 AND expires_at > 0", args![id]),
        ];
        let results = self.batch(Route::Id(id), "multipart end", statements).await?;
        Ok(results.last().is_some_and(Outcome::changed))
    }

    /// The upload, its parts and attempts, and the quota reservation of the object it was to
    /// make (the sweep forgets an expired upload this way).
    async fn remove_multipart(&self, id: &str) -> Result<()> {
        let mut statements = forget_statements("1", &[id.into()]);
        statements.push(super::quota::released(id));
        self.transaction(Route::Id(id), "multipart delete", statements).await
    }

    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2"
        );
        let mut rows: Vec<UploadRow> =
            self.all(Route::Prefix(""), "multipart expired", stmt(sql, args![now_ms, limit])).await?;
        rows.sort_by(|a, b| a.expires_at.total_cmp(&b.expires_at));
        rows.truncate(limit as usize);
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
