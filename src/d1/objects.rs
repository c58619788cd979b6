//! The object index on table `objects`.

use gateway_core::error::Result;
use gateway_core::events::Event;
use gateway_core::metadata::{ListCursor, ObjectIndex, ObjectRecord, STATUS_COMPLETE};
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::commit::names;
use super::{opt_bool, D1Metadata};

/// A row as D1 returns it (numbers arrive as JS numbers, booleans as 0/1).
#[derive(Deserialize)]
pub(super) struct Row {
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

pub(super) const COLUMNS: &str = "key, owner, size, content_type, etag, checksum_sha256, checksum_md5, status, \
                       detected_type, type_matches, created_at, completed_at, storage_key";

impl ObjectIndex for D1Metadata {
    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM objects WHERE key = ?1");
        let row: Option<Row> = self.first("select", self.statement(&sql, &[JsValue::from_str(key)])?).await?;
        Ok(row.map(Into::into))
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
        let rows: Vec<Row> = self.all("list", self.statement(&sql, &args)?).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_row(&self, row: &ObjectRecord, now_ms: i64) -> Result<bool> {
        let args = [JsValue::from_str(&row.key), JsValue::from_str(&row.storage_key), JsValue::from_f64(now_ms as f64)];
        let mut statements = vec![
            self.statement(
                "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at, claimed) \
                 SELECT 'gc:' || storage_key, key, owner, ?3, storage_key, ?3, 0 FROM objects \
                 WHERE key = ?1 AND storage_key = ?2",
                &args,
            )?,
            self.statement(
                &format!(
                    "INSERT OR IGNORE INTO replaced_versions ({COLUMNS}, replaced_at) \
                     SELECT {COLUMNS}, ?3 FROM objects WHERE key = ?1 AND storage_key = ?2 AND announced = 1"
                ),
                &args,
            )?,
        ];
        if self.events {
            statements.push(self.record_event(&Event::deleted(row, now_ms), now_ms, &names(4, 5), &args[..2])?);
        }
        statements.push(self.statement("DELETE FROM objects WHERE key = ?1 AND storage_key = ?2", &args[..2])?);
        let results = self.batch("delete", statements).await?;
        Ok(results.last().and_then(|r| r.meta().ok().flatten()).and_then(|m| m.changes).unwrap_or(0) > 0)
    }

    async fn record_detection(
        &self,
        key: &str,
        storage_key: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()> {
        self.run(
            "update",
            self.statement(
                "UPDATE objects SET detected_type = ?1, type_matches = ?2 WHERE key = ?3 AND storage_key = ?4",
                &[
                    detected.map_or(JsValue::NULL, JsValue::from_str),
                    opt_bool(matches),
                    JsValue::from_str(key),
                    JsValue::from_str(storage_key),
                ],
            )?,
        )
        .await?;
        Ok(())
    }
}
