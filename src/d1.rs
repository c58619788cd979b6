//! [`MetadataStore`] on the D1 binding `DB` (schema in `migrations/`).

use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::metadata::{
    Commit, ListCursor, MetadataStore, MultipartUpload, ObjectRecord, PendingUpload, PresignedUpload, STATUS_COMPLETE,
};
use gateway_core::multipart::{OtherParts, Part};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

pub struct D1Metadata {
    db: D1Database,
}

impl D1Metadata {
    pub fn from_env(env: &Env) -> Result<D1Metadata> {
        let db = env.d1("DB").map_err(|e| {
            GatewayError::hidden(
                ErrorKind::ConfigError,
                "the gateway is misconfigured: the D1 binding DB is missing",
                e.to_string(),
            )
        })?;
        Ok(D1Metadata { db })
    }

    pub(crate) fn statement(&self, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement> {
        self.db.prepare(sql).bind(args).map_err(|e| db_error("bind", e))
    }

    /// The commit transaction, every write conditional on journal entry `pending_id` being
    /// unclaimed: read the name the row names (statement 0), journal it for deletion if it is
    /// replaced, write the row (statement 2; no change on an `if_absent` conflict), and, with
    /// `clear_entry`, clear the entry. [`commit_outcome`] reads the answer.
    pub(crate) fn commit_statements(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        if_absent: bool,
        clear_entry: bool,
    ) -> Result<Vec<D1PreparedStatement>> {
        let open = "EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?14 AND claimed = 0)";
        let upsert = format!(
            "INSERT INTO objects ({COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE {open} \
             ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, size = excluded.size, \
             content_type = excluded.content_type, etag = excluded.etag, checksum_sha256 = excluded.checksum_sha256, \
             checksum_md5 = excluded.checksum_md5, status = excluded.status, detected_type = excluded.detected_type, \
             type_matches = excluded.type_matches, created_at = excluded.created_at, completed_at = excluded.completed_at, \
             storage_key = excluded.storage_key WHERE ?15 = 0"
        );
        let args = [
            JsValue::from_str(&rec.key),
            JsValue::from_str(&rec.owner),
            JsValue::from_f64(rec.size as f64),
            JsValue::from_str(&rec.content_type),
            JsValue::from_str(&rec.etag),
            opt_str(&rec.checksum_sha256),
            opt_str(&rec.checksum_md5),
            JsValue::from_str(&rec.status),
            opt_str(&rec.detected_type),
            opt_bool(rec.type_matches),
            JsValue::from_f64(rec.created_at as f64),
            rec.completed_at.map_or(JsValue::NULL, |v| JsValue::from_f64(v as f64)),
            JsValue::from_str(&rec.storage_key),
            JsValue::from_str(pending_id),
            JsValue::from_f64(if if_absent { 1.0 } else { 0.0 }),
        ];
        let key = JsValue::from_str(&rec.key);
        let name = JsValue::from_str(&rec.storage_key);
        let mut statements = vec![
            self.statement("SELECT storage_key FROM objects WHERE key = ?1", std::slice::from_ref(&key))?,
            self.statement(
                "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at, claimed) \
                 SELECT 'gc:' || o.storage_key, o.key, o.owner, ?3, o.storage_key, ?3, 0 FROM objects o \
                 WHERE o.key = ?1 AND o.storage_key <> ?2 AND ?5 = 0 \
                 AND EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?4 AND claimed = 0)",
                &[
                    key.clone(),
                    name.clone(),
                    JsValue::from_f64(rec.created_at as f64),
                    JsValue::from_str(pending_id),
                    args[14].clone(),
                ],
            )?,
            self.statement(&upsert, &args)?,
        ];
        if clear_entry {
            statements.push(self.statement(
                &format!("DELETE FROM pending_uploads WHERE id = ?1 AND claimed = 0 AND {NAMES}"),
                &[JsValue::from_str(pending_id), key, name],
            )?);
        }
        Ok(statements)
    }

    /// Runs a commit transaction built by [`commit_statements`] (plus statements after it).
    pub(crate) async fn commit(
        &self,
        op: &str,
        statements: Vec<D1PreparedStatement>,
        if_absent: bool,
    ) -> Result<Commit> {
        let results = self.db.batch(statements).await.map_err(|e| db_error(op, e))?;
        #[derive(Deserialize)]
        struct Named {
            storage_key: Option<String>,
        }
        let before: Option<String> = results
            .first()
            .and_then(|r| r.results::<Named>().ok())
            .and_then(|rows| rows.into_iter().next())
            .and_then(|r| r.storage_key);
        let written = results.get(2).and_then(|r| r.meta().ok().flatten()).and_then(|m| m.changes).unwrap_or(0) > 0;
        Ok(match (written, if_absent && before.is_some()) {
            (true, _) => Commit::Committed { replaced: before },
            (false, true) => Commit::KeyExists,
            (false, false) => Commit::Claimed,
        })
    }

    /// Runs statements as one transaction (a D1 batch).
    pub(crate) async fn transaction(&self, op: &str, statements: Vec<D1PreparedStatement>) -> Result<()> {
        self.db.batch(statements).await.map_err(|e| db_error(op, e))?;
        Ok(())
    }
}

pub(crate) fn db_error(op: &str, err: worker::Error) -> GatewayError {
    GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", format!("D1 {op}: {err}"))
}

fn opt_str(v: &Option<String>) -> JsValue {
    v.as_deref().map_or(JsValue::NULL, JsValue::from_str)
}

fn opt_bool(v: Option<bool>) -> JsValue {
    v.map_or(JsValue::NULL, |b| JsValue::from_f64(if b { 1.0 } else { 0.0 }))
}

/// A row as D1 returns it (numbers arrive as JS numbers, booleans as 0/1).
#[derive(Deserialize)]
struct Row {
    key: String,
    owner: String,
    size: f64,
    content_type: String,
    etag: String,
    checksum_sha256: Option<String>,
    checksum_md5: Option<String>,
    status: String,
    detected_type: Option<String>,
    type_matches: Option<f64>,
    created_at: f64,
    completed_at: Option<f64>,
    storage_key: Option<String>,
}

impl From<Row> for ObjectRecord {
    fn from(r: Row) -> Self {
        ObjectRecord {
            key: r.key.clone(),
            owner: r.owner,
            size: r.size as u64,
            content_type: r.content_type,
            etag: r.etag,
            checksum_sha256: r.checksum_sha256,
            checksum_md5: r.checksum_md5,
            status: r.status,
            detected_type: r.detected_type,
            type_matches: r.type_matches.map(|v| v != 0.0),
            created_at: r.created_at as i64,
            completed_at: r.completed_at.map(|v| v as i64),
            storage_key: r.storage_key.unwrap_or(r.key),
        }
    }
}

#[derive(Deserialize)]
struct PendingRow {
    id: String,
    key: String,
    owner: String,
    started_at: f64,
    storage_key: String,
    due_at: f64,
}

const COLUMNS: &str = "key, owner, size, content_type, etag, checksum_sha256, checksum_md5, status, \
                       detected_type, type_matches, created_at, completed_at, storage_key";

/// "The row of key ?2 names stored name ?3": true exactly when a commit through a journal
/// entry for that name happened, since no other write ever uses the name.
pub(crate) const NAMES: &str = "EXISTS (SELECT 1 FROM objects WHERE key = ?2 AND storage_key = ?3)";

impl MetadataStore for D1Metadata {
    async fn begin_upload(&self, p: &PendingUpload) -> Result<()> {
        // OR IGNORE: a retried write of the same entry is harmless (and keeps a claim).
        self.statement(
            "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                JsValue::from_str(&p.id),
                JsValue::from_str(&p.key),
                JsValue::from_str(&p.owner),
                JsValue::from_f64(p.started_at as f64),
                JsValue::from_str(&p.storage_key),
                JsValue::from_f64(p.due_at as f64),
            ],
        )?
        .run()
        .await
        .map_err(|e| db_error("journal", e))?;
        Ok(())
    }

    async fn commit_upload(&self, pending_id: &str, rec: &ObjectRecord, if_absent: bool) -> Result<Commit> {
        // One transaction: the row names the object exactly when the journal entry goes.
        self.commit("commit", self.commit_statements(pending_id, rec, if_absent, true)?, if_absent).await
    }

    async fn abandon_upload(&self, pending_id: &str) -> Result<()> {
        self.statement("DELETE FROM pending_uploads WHERE id = ?1", &[JsValue::from_str(pending_id)])?
            .run()
            .await
            .map_err(|e| db_error("abandon", e))?;
        Ok(())
    }

    async fn delete_row(&self, key: &str, storage_key: &str, now_ms: i64) -> Result<bool> {
        let args = [JsValue::from_str(key), JsValue::from_str(storage_key), JsValue::from_f64(now_ms as f64)];
        let statements = vec![
            self.statement(
                "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at, claimed) \
                 SELECT 'gc:' || storage_key, key, owner, ?3, storage_key, ?3, 0 FROM objects \
                 WHERE key = ?1 AND storage_key = ?2",
                &args,
            )?,
            self.statement("DELETE FROM objects WHERE key = ?1 AND storage_key = ?2", &args[..2])?,
        ];
        let results = self.db.batch(statements).await.map_err(|e| db_error("delete", e))?;
        Ok(results.get(1).and_then(|r| r.meta().ok().flatten()).and_then(|m| m.changes).unwrap_or(0) > 0)
    }

    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM objects WHERE key = ?1");
        let row: Option<Row> =
            self.statement(&sql, &[JsValue::from_str(key)])?.first(None).await.map_err(|e| db_error("select", e))?;
        Ok(row.map(Into::into))
    }

    async fn due_uploads(&self, now_ms: i64, limit: u32) -> Result<Vec<PendingUpload>> {
        let result = self
            .statement(
                "SELECT id, key, owner, started_at, storage_key, due_at FROM pending_uploads \
                 WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
                &[JsValue::from_f64(now_ms as f64), JsValue::from_f64(f64::from(limit))],
            )?
            .all()
            .await
            .map_err(|e| db_error("journal", e))?;
        let rows: Vec<PendingRow> = result.results().map_err(|e| db_error("journal", e))?;
        Ok(rows
            .into_iter()
            .map(|r| PendingUpload {
                id: r.id,
                key: r.key,
                owner: r.owner,
                started_at: r.started_at as i64,
                storage_key: r.storage_key,
                due_at: r.due_at as i64,
            })
            .collect())
    }

    async fn claim_upload(&self, id: &str) -> Result<bool> {
        let result = self
            .statement("UPDATE pending_uploads SET claimed = 1 WHERE id = ?1", &[JsValue::from_str(id)])?
            .run()
            .await
            .map_err(|e| db_error("claim", e))?;
        Ok(result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) > 0)
    }

    async fn list(
        &self,
        owner: &str,
        prefix: &str,
        limit: u32,
        cursor: Option<&ListCursor>,
    ) -> Result<Vec<ObjectRecord>> {
        // substr() compares the prefix exactly (LIKE would treat `%` and `_` as wildcards).
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE owner = ?1 AND status = ?2 \
             AND substr(key, 1, length(?3)) = ?3 \
             AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND key < ?5)) \
             ORDER BY created_at DESC, key DESC LIMIT ?6"
        );
        let args = [
            JsValue::from_str(owner),
            JsValue::from_str(STATUS_COMPLETE),
            JsValue::from_str(prefix),
            cursor.map_or(JsValue::NULL, |c| JsValue::from_f64(c.created_at as f64)),
            cursor.map_or(JsValue::NULL, |c| JsValue::from_str(&c.key)),
            JsValue::from_f64(f64::from(limit)),
        ];
        let result = self.statement(&sql, &args)?.all().await.map_err(|e| db_error("list", e))?;
        let rows: Vec<Row> = result.results().map_err(|e| db_error("list", e))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn record_detection(
        &self,
        key: &str,
        etag: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()> {
        self.statement(
            "UPDATE objects SET detected_type = ?1, type_matches = ?2 WHERE key = ?3 AND etag = ?4",
            &[
                detected.map_or(JsValue::NULL, JsValue::from_str),
                opt_bool(matches),
                JsValue::from_str(key),
                JsValue::from_str(etag),
            ],
        )?
        .run()
        .await
        .map_err(|e| db_error("update", e))?;
        Ok(())
    }

    async fn create_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.insert_multipart(upload).await
    }

    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>> {
        self.select_multipart(id).await
    }

    async fn parts(&self, id: &str) -> Result<Vec<Part>> {
        self.select_parts(id).await
    }

    async fn other_parts(&self, id: &str, number: u16) -> Result<OtherParts> {
        self.select_other_parts(id, number).await
    }

    async fn reserve_part(&self, id: &str, number: u16, size: u64, limit: u64) -> Result<bool> {
        self.insert_reservation(id, number, size, limit).await
    }

    async fn release_part(&self, id: &str, number: u16) -> Result<()> {
        self.delete_reservation(id, number).await
    }

    async fn record_part(&self, id: &str, part: &Part) -> Result<()> {
        self.upsert_part(id, part).await
    }

    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<Commit> {
        self.finish_multipart(id, rec).await
    }

    async fn remove_multipart(&self, id: &str) -> Result<()> {
        self.forget_multipart(id).await
    }

    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>> {
        self.select_expired(now_ms, limit).await
    }

    async fn record_presigned(&self, p: &PresignedUpload, due_at: i64) -> Result<()> {
        self.insert_presigned(p, due_at).await
    }

    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>> {
        self.select_presigned(key, owner).await
    }

    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<Commit> {
        self.finish_presigned(nonce, rec).await
    }

    async fn use_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool> {
        self.spend_nonce(nonce, expires_at).await
    }

    async fn purge_presigned(&self, before_ms: i64) -> Result<()> {
        self.delete_expired_presigned(before_ms).await
    }
}
