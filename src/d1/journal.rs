//! The upload journal on table `pending_uploads`.

use gateway_core::error::Result;
use gateway_core::metadata::{Commit, ObjectRecord, PendingUpload, UploadJournal};
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::D1Metadata;

#[derive(Deserialize)]
struct PendingRow {
    id: String,
    key: String,
    owner: String,
    started_at: f64,
    storage_key: String,
    due_at: f64,
}

impl UploadJournal for D1Metadata {
    async fn begin_upload(&self, p: &PendingUpload) -> Result<()> {
        // OR IGNORE: a retried write of the same entry is harmless (and keeps a claim).
        self.run(
            "journal",
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
            )?,
        )
        .await?;
        Ok(())
    }

    async fn commit_upload(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        if_absent: bool,
        deadline_ms: Option<i64>,
    ) -> Result<Commit> {
        // One transaction: the row names the object exactly when the journal entry goes.
        let statements = self.commit_statements(pending_id, rec, if_absent, true, None, deadline_ms)?;
        self.commit("commit", rec, statements, if_absent).await
    }

    async fn abandon_upload(&self, pending_id: &str) -> Result<()> {
        self.run(
            "abandon",
            self.statement("DELETE FROM pending_uploads WHERE id = ?1", &[JsValue::from_str(pending_id)])?,
        )
        .await?;
        Ok(())
    }

    async fn due_uploads(&self, now_ms: i64, limit: u32) -> Result<Vec<PendingUpload>> {
        let rows: Vec<PendingRow> = self
            .all(
                "journal",
                self.statement(
                    "SELECT id, key, owner, started_at, storage_key, due_at FROM pending_uploads \
                 WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
                    &[JsValue::from_f64(now_ms as f64), JsValue::from_f64(f64::from(limit))],
                )?,
            )
            .await?;
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
            .run(
                "claim",
                self.statement("UPDATE pending_uploads SET claimed = 1 WHERE id = ?1", &[JsValue::from_str(id)])?,
            )
            .await?;
        Ok(result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) > 0)
    }
}
