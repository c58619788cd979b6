//! The upload journal on table `pending_uploads`.

use serde::Deserialize;

use super::{args, stmt, Outcome, Route, SqlDatabase, SqlMetadata, Statement};
use crate::error::Result;
use crate::metadata::{Commit, ObjectRecord, PendingUpload, UploadJournal};

#[derive(Deserialize)]
struct PendingRow {
    id: String,
    key: String,
    owner: String,
    started_at: f64,
    storage_key: String,
    due_at: f64,
}

/// Journals entry `p`. OR IGNORE: a retried write of the same entry is harmless (and keeps a
/// claim).
pub(super) fn begin(p: &PendingUpload) -> Statement {
    begin_if(p, None)
}

/// The entry of [`begin`], made only if `condition` holds.
pub(super) fn begin_if(p: &PendingUpload, condition: Option<&str>) -> Statement {
    let sql = super::quota::insert_if(
        "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at)",
        "?1, ?2, ?3, ?4, ?5, ?6",
        condition,
    );
    stmt(sql, args![&p.id, &p.key, &p.owner, p.started_at, &p.storage_key, p.due_at])
}

impl<D: SqlDatabase> UploadJournal for SqlMetadata<D> {
    async fn begin_upload(&self, p: &PendingUpload) -> Result<()> {
        self.run(Route::Key(&p.key), "journal", begin(p)).await?;
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
        let statements = self.commit_statements(pending_id, rec, if_absent, true, None, deadline_ms);
        self.commit("commit", rec, statements, if_absent).await
    }

    async fn abandon_upload(&self, key: &str, pending_id: &str) -> Result<()> {
        self.run(Route::Key(key), "abandon", stmt("DELETE FROM pending_uploads WHERE id = ?1", args![pending_id]))
            .await?;
        Ok(())
    }

    async fn due_uploads(&self, now_ms: i64, limit: u32) -> Result<Vec<PendingUpload>> {
        let mut rows: Vec<PendingRow> = self
            .all(
                Route::Prefix(""),
                "journal",
                stmt(
                    "SELECT id, key, owner, started_at, storage_key, due_at FROM pending_uploads \
                     WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
                    args![now_ms, limit],
                ),
            )
            .await?;
        rows.sort_by(|a, b| a.due_at.total_cmp(&b.due_at));
        rows.truncate(limit as usize);
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

    async fn claim_upload(&self, key: &str, id: &str) -> Result<bool> {
        let result = self
            .run(Route::Key(key), "claim", stmt("UPDATE pending_uploads SET claimed = 1 WHERE id = ?1", args![id]))
            .await?;
        Ok(Outcome::changed(&result))
    }
}
