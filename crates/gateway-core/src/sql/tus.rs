//! The tus index on tables `tus_uploads`, `tus_chunks` and `tus_parts`
//! (`migrations/0007_tus_uploads.sql`). Every write of a request is conditional on its lease
//! and the offset it started from, in one batch whose last statement moves the offset.

use serde::Deserialize;

use super::commit::commit_answer;
use super::multipart::PartRow;
use super::{args, stmt, Outcome, Route, SqlDatabase, SqlMetadata, Statement, Value};
use crate::error::Result;
use crate::metadata::{
    ChunkLease, ChunkLeased, Commit, ObjectRecord, PendingUpload, QuotaHeld, TusAdvance, TusIndex, TusState, TusUpload,
};
use crate::quota::{Quota, Reservation};
use crate::tus::plan::Chunk;

#[derive(Deserialize)]
struct UploadRow {
    id: String,
    key: String,
    owner: String,
    storage_key: String,
    content_type: String,
    metadata: Option<String>,
    length: Option<f64>,
    upload_offset: f64,
    part_size: Option<f64>,
    parts: f64,
    store_upload_id: Option<String>,
    created_at: f64,
    expires_at: f64,
    max_size: Option<f64>,
    object_metadata: Option<String>,
}

impl From<UploadRow> for TusUpload {
    fn from(r: UploadRow) -> Self {
        TusUpload {
            id: r.id,
            key: r.key,
            owner: r.owner,
            storage_key: r.storage_key,
            content_type: r.content_type,
            metadata: r.metadata,
            length: r.length.map(|v| v as u64),
            offset: r.upload_offset as u64,
            part_size: r.part_size.map(|v| v as u64),
            parts: r.parts as u16,
            store_upload_id: r.store_upload_id,
            created_at: r.created_at as i64,
            expires_at: r.expires_at as i64,
            max_size: r.max_size.map(|v| v as u64),
            object_metadata: r.object_metadata,
        }
    }
}

#[derive(Deserialize)]
struct ChunkRow {
    start: f64,
    length: f64,
    name: String,
}

const COLUMNS: &str = "id, key, owner, storage_key, content_type, metadata, length, upload_offset, part_size, parts, \
                       store_upload_id, created_at, expires_at, max_size, object_metadata";

/// "Request ?2 holds upload ?1 at offset ?3."
const HELD: &str = "EXISTS (SELECT 1 FROM tus_uploads WHERE id = ?1 AND lease = ?2 AND upload_offset = ?3)";
/// Upload ?1's object is the one its key's row names.
const RECORDED: &str = "EXISTS (SELECT 1 FROM tus_uploads t JOIN objects o ON o.key = t.key \
                        AND o.storage_key = t.storage_key WHERE t.id = ?1)";

/// What advance `a` of upload ?1 under lease ?2 from offset ?3 records, each statement only
/// while `held` (over ?1…?3) holds; the last moves the offset and gives the lease back.
fn advance(id: &str, lease: &str, a: &TusAdvance, held: &str) -> Vec<Statement> {
    let with = |extra: Vec<Value>| [args![id, lease, a.from], extra].concat();
    let mut statements = Vec::new();
    // The consumed chunks go first: a merged chunk takes the start of the first of them.
    for name in &a.consumed {
        statements.push(stmt(
            format!("DELETE FROM tus_chunks WHERE upload_id = ?1 AND name = ?4 AND {held}"),
            with(args![name]),
        ));
    }
    if let Some(c) = &a.chunk {
        statements.push(stmt(
            format!("INSERT INTO tus_chunks (upload_id, start, length, name) SELECT ?1, ?4, ?5, ?6 WHERE {held}"),
            with(args![c.start, c.length, &c.name]),
        ));
    }
    for p in &a.parts {
        statements.push(stmt(
            format!(
                "INSERT OR REPLACE INTO tus_parts (upload_id, part_number, size, etag) SELECT ?1, ?4, ?5, ?6 WHERE {held}"
            ),
            with(args![p.number, p.size, &p.etag]),
        ));
    }
    // The chunk's quota reservation (the request's) ends with the request's record of it.
    statements.push(super::quota::released(lease));
    statements.push(stmt(
        format!(
            "UPDATE tus_uploads SET upload_offset = ?4, length = COALESCE(length, ?5), \
             part_size = COALESCE(part_size, ?6), store_upload_id = COALESCE(store_upload_id, ?7), \
             parts = (SELECT count(*) FROM tus_parts WHERE upload_id = ?1), lease = NULL, lease_until = NULL \
             WHERE id = ?1 AND {held}"
        ),
        with(args![a.to, a.length, a.part_size, &a.store_upload_id]),
    ));
    statements
}

/// Takes upload ?1 for request ?2 until ?3, if its offset is ?4 and no lease is live at ?5.
const LEASE: &str = "UPDATE tus_uploads SET lease = ?2, lease_until = ?3 WHERE id = ?1 AND upload_offset = ?4 \
                     AND (lease IS NULL OR lease_until < ?5)";

/// The reads of upload `id`'s state: the upload, its staged chunks, its parts.
fn state_statements(id: &str) -> Vec<Statement> {
    vec![
        stmt(format!("SELECT {COLUMNS} FROM tus_uploads WHERE id = ?1"), args![id]),
        stmt("SELECT start, length, name FROM tus_chunks WHERE upload_id = ?1 ORDER BY start", args![id]),
        stmt("SELECT part_number, size, etag FROM tus_parts WHERE upload_id = ?1 ORDER BY part_number", args![id]),
    ]
}

/// The state [`state_statements`] read.
fn decode_state(results: &[Outcome], op: &str) -> Result<Option<TusState>> {
    let [upload, chunks, parts] = results else { return Err(super::error(op, "missing results")) };
    let Some(upload) = upload.decode::<UploadRow>(op)?.pop() else { return Ok(None) };
    Ok(Some(TusState {
        upload: upload.into(),
        staged: chunks
            .decode::<ChunkRow>(op)?
            .into_iter()
            .map(|c| Chunk { start: c.start as u64, length: c.length as u64, name: c.name })
            .collect(),
        parts: parts.decode::<PartRow>(op)?.into_iter().map(Into::into).collect(),
    }))
}

/// Records upload `u`.
fn insert(u: &TusUpload) -> Statement {
    insert_if(u, None)
}

/// The record of [`insert`], made only if `condition` holds.
fn insert_if(u: &TusUpload, condition: Option<&str>) -> Statement {
    let sql = super::quota::insert_if(
        &format!("INSERT INTO tus_uploads ({COLUMNS})"),
        "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15",
        condition,
    );
    let values = args![
        &u.id,
        &u.key,
        &u.owner,
        &u.storage_key,
        &u.content_type,
        &u.metadata,
        u.length,
        u.offset,
        u.part_size,
        u.parts,
        &u.store_upload_id,
        u.created_at,
        u.expires_at,
        u.max_size,
        &u.object_metadata,
    ];
    stmt(sql, values)
}

impl<D: SqlDatabase> TusIndex for SqlMetadata<D> {
    async fn create_tus(&self, u: &TusUpload) -> Result<()> {
        self.run(Route::Key(&u.key), "tus insert", insert(u)).await?;
        Ok(())
    }

    /// The journal entry and the upload in one transaction, with the quota's reservation.
    async fn begin_tus(
        &self,
        u: &TusUpload,
        entry: &PendingUpload,
        quota: Option<(&Reservation<'_>, &Quota)>,
        now_ms: i64,
    ) -> Result<bool> {
        self.record_reserving("tus begin", &u.key, quota, now_ms, |c| {
            vec![super::journal::begin_if(entry, c), insert_if(u, c)]
        })
        .await
    }

    async fn tus(&self, id: &str) -> Result<Option<TusState>> {
        let op = "tus select";
        let results = self.batch(Route::Id(id), op, state_statements(id)).await?;
        decode_state(&results, op)
    }

    /// The lease first, then the state as of after it, in one batch. With a quota counted in
    /// this database, the chunk's reservation comes first and the lease requires it; the last
    /// statement removes it if the lease was not taken.
    async fn lease_loaded(&self, ask: &ChunkLease<'_>, now_ms: i64) -> Result<ChunkLeased> {
        let op = "tus lease";
        let id = ask.id;
        // The upload's key is not known before this step; the reservation does not need it
        // (a chunk replaces nothing), only the choice of where the owner's quota is counted.
        let quota = ask.quota.filter(|_| self.db().home_apart_id(id, ask.owner).is_none());
        let mut lease =
            stmt(format!("{LEASE} AND owner = ?6"), args![id, ask.lease, ask.until_ms, ask.offset, now_ms, ask.owner]);
        let mut statements = Vec::new();
        if let Some(quota) = quota {
            statements.push(super::quota::reservation_here(&ask.quota_reservation(""), quota, now_ms));
            lease.sql.push_str(" AND EXISTS (SELECT 1 FROM quota_reservations WHERE id = ?2)");
        }
        statements.push(lease);
        statements.extend(state_statements(id));
        if quota.is_some() {
            statements.push(stmt(
                "DELETE FROM quota_reservations WHERE id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM tus_uploads WHERE id = ?2 AND lease = ?1)",
                args![ask.lease, id],
            ));
        }
        let results = self.batch(Route::Id(id), op, statements).await?;
        let (held, results) = match quota {
            None => (QuotaHeld::NotHeld, results.as_slice()),
            Some(_) => {
                let fits = results.first().is_some_and(Outcome::changed);
                let rest = results.get(1..results.len().saturating_sub(1)).unwrap_or_default();
                (if fits { QuotaHeld::Reserved } else { QuotaHeld::Exceeded }, rest)
            }
        };
        let leased = results.first().is_some_and(Outcome::changed);
        let state = decode_state(results.get(1..).unwrap_or_default(), op)?;
        // A reservation made but whose lease was not taken was removed by the last statement.
        let quota = if held == QuotaHeld::Reserved && !leased { QuotaHeld::NotHeld } else { held };
        Ok(ChunkLeased { state, leased, quota })
    }

    async fn lease_tus(&self, id: &str, offset: u64, lease: &str, until_ms: i64, now_ms: i64) -> Result<bool> {
        Ok(self
            .run(Route::Id(id), "tus lease", stmt(LEASE, args![id, lease, until_ms, offset, now_ms]))
            .await?
            .changed())
    }

    async fn release_tus(&self, id: &str, lease: &str) -> Result<()> {
        let sql = "UPDATE tus_uploads SET lease = NULL, lease_until = NULL WHERE id = ?1 AND lease = ?2";
        let statements = vec![stmt(sql, args![id, lease]), super::quota::released(lease)];
        self.transaction(Route::Id(id), "tus release", statements).await
    }

    async fn advance_tus(&self, id: &str, lease: &str, a: &TusAdvance) -> Result<bool> {
        let results = self.batch(Route::Id(id), "tus advance", advance(id, lease, a, HELD)).await?;
        Ok(results.last().is_some_and(Outcome::changed))
    }

    /// The commit, then the advance, only where the key's row names the upload's object by
    /// then (this commit's, or an earlier request's): one transaction.
    async fn finish_tus(&self, id: &str, lease: &str, a: &TusAdvance, rec: &ObjectRecord) -> Result<(Commit, bool)> {
        let op = "tus finish";
        let mut statements = self.commit_statements(id, rec, false, true, None, None);
        let commit_len = statements.len();
        statements.extend(advance(id, lease, a, &format!("{HELD} AND {RECORDED}")));
        let results = self.batch(Route::Key(&rec.key), op, statements).await?;
        let advanced = results.len() > commit_len && results.last().is_some_and(Outcome::changed);
        Ok((commit_answer(&results, rec, false, op), advanced))
    }

    async fn remove_tus(&self, id: &str) -> Result<()> {
        let statements = vec![
            stmt("DELETE FROM tus_chunks WHERE upload_id = ?1", args![id]),
            stmt("DELETE FROM tus_parts WHERE upload_id = ?1", args![id]),
            stmt("DELETE FROM tus_uploads WHERE id = ?1", args![id]),
            super::quota::released(id),
        ];
        self.transaction(Route::Id(id), "tus delete", statements).await
    }

    async fn expired_tus(&self, now_ms: i64, limit: u32) -> Result<Vec<TusUpload>> {
        let sql = format!("SELECT {COLUMNS} FROM tus_uploads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2");
        let mut rows: Vec<UploadRow> =
            self.all(Route::Prefix(""), "tus expired", stmt(sql, args![now_ms, limit])).await?;
        rows.sort_by(|a, b| a.expires_at.total_cmp(&b.expires_at));
        rows.truncate(limit as usize);
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
