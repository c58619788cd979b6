//! The presign ledger on tables `presigned_uploads` and `used_nonces`
//! (`migrations/0004_presigned_urls.sql`).

use gateway_core::error::Result;
use gateway_core::metadata::{Commit, ObjectRecord, PresignLedger, PresignedUpload, PRESIGNED_PER_KEY};
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::commit::names;
use super::D1Metadata;

#[derive(Deserialize)]
struct PresignedRow {
    nonce: String,
    key: String,
    owner: String,
    content_type: String,
    size: Option<f64>,
    max_size: f64,
    created_at: f64,
    expires_at: f64,
    storage_key: Option<String>,
}

const COLUMNS: &str = "nonce, key, owner, content_type, size, max_size, created_at, expires_at, storage_key";

fn num(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

impl PresignLedger for D1Metadata {
    async fn record_presigned(&self, p: &PresignedUpload, due_at: i64) -> Result<()> {
        let sql = format!("INSERT INTO presigned_uploads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        let args = [
            JsValue::from_str(&p.nonce),
            JsValue::from_str(&p.key),
            JsValue::from_str(&p.owner),
            JsValue::from_str(&p.content_type),
            p.size.map_or(JsValue::NULL, |n| num(n as f64)),
            num(p.max_size as f64),
            num(p.created_at as f64),
            num(p.expires_at as f64),
            JsValue::from_str(&p.storage_key),
        ];
        let journal = [
            JsValue::from_str(&p.nonce),
            JsValue::from_str(&p.key),
            JsValue::from_str(&p.owner),
            num(p.created_at as f64),
            JsValue::from_str(&p.storage_key),
            num(due_at as f64),
        ];
        let statements = vec![
            self.statement(&sql, &args)?,
            self.statement(
                "INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &journal,
            )?,
        ];
        self.transaction("presign", statements).await
    }

    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM presigned_uploads WHERE key = ?1 AND owner = ?2 ORDER BY created_at DESC \
             LIMIT {PRESIGNED_PER_KEY}"
        );
        let rows: Vec<PresignedRow> = self
            .all("presigned select", self.statement(&sql, &[JsValue::from_str(key), JsValue::from_str(owner)])?)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| PresignedUpload {
                nonce: r.nonce,
                owner: r.owner,
                content_type: r.content_type,
                size: r.size.map(|n| n as u64),
                max_size: r.max_size as u64,
                created_at: r.created_at as i64,
                expires_at: r.expires_at as i64,
                storage_key: r.storage_key.unwrap_or_else(|| r.key.clone()),
                key: r.key,
            })
            .collect())
    }

    /// The row and the presigned upload's removal in one transaction; the URL's journal entry
    /// stays until it is due, since the URL could store its name again after a delete.
    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<Commit> {
        let mut statements =
            self.commit_statements(nonce, rec, false, false, Some(("presigned_uploads", "nonce")), None)?;
        let args = [JsValue::from_str(nonce), JsValue::from_str(&rec.key), JsValue::from_str(&rec.storage_key)];
        statements.push(
            self.statement(&format!("DELETE FROM presigned_uploads WHERE nonce = ?1 AND {}", names(2, 3)), &args)?,
        );
        self.commit("confirm", rec, statements, false).await
    }

    /// `INSERT OR IGNORE` tells a first use (one row written) from a repeat (none).
    async fn use_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool> {
        let result = self
            .run(
                "nonce",
                self.statement(
                    "INSERT OR IGNORE INTO used_nonces (nonce, expires_at) VALUES (?1, ?2)",
                    &[JsValue::from_str(nonce), num(expires_at as f64)],
                )?,
            )
            .await?;
        let written = result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0);
        Ok(written > 0)
    }

    async fn purge_presigned(&self, before_ms: i64) -> Result<()> {
        let args = [num(before_ms as f64)];
        let statements = vec![
            self.statement("DELETE FROM used_nonces WHERE expires_at < ?1", &args)?,
            self.statement("DELETE FROM presigned_uploads WHERE expires_at < ?1", &args)?,
        ];
        self.transaction("presign purge", statements).await
    }
}
