//! [`AnnouncedCommits`] on tables `objects` and `replaced_versions` (the copies the trigger
//! `objects_version_replaced` and a delete keep of announced rows).

use gateway_core::error::Result;
use gateway_core::metadata::{AnnouncedCommits, AnnouncedVersion, Commit, ObjectRecord};
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::commit::{upsert, upsert_args, DB_NOW_MS};
use super::objects::{Row, COLUMNS};
use super::{db_error, D1Metadata};

impl AnnouncedCommits for D1Metadata {
    /// The name the row names (statement 0), then the row, written in one statement only
    /// before `deadline_ms` by D1's clock and while no journal entry `pending_id` is claimed.
    async fn commit_announced(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        deadline_ms: i64,
        if_absent: bool,
    ) -> Result<Commit> {
        let condition =
            format!("{DB_NOW_MS} < ?17 AND NOT EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?14 AND claimed = 1)");
        let statements = vec![
            self.statement("SELECT storage_key FROM objects WHERE key = ?1", &[JsValue::from_str(&rec.key)])?,
            self.statement(&upsert(&condition), &upsert_args(rec, pending_id, if_absent, Some(deadline_ms)))?,
        ];
        self.commit("announced commit", statements, if_absent).await
    }

    async fn announced_version(&self, key: &str, storage_key: &str) -> Result<AnnouncedVersion> {
        let args = [JsValue::from_str(key), JsValue::from_str(storage_key)];
        // One read transaction: the clock and the version as of the same moment.
        let statements = vec![
            self.statement(&format!("SELECT {DB_NOW_MS} AS now"), &[])?,
            self.statement(
                &format!(
                    "SELECT {COLUMNS} FROM objects WHERE key = ?1 AND storage_key = ?2 \
                     UNION ALL SELECT {COLUMNS} FROM replaced_versions WHERE key = ?1 AND storage_key = ?2 LIMIT 1"
                ),
                &args,
            )?,
        ];
        let results = self.batch("announced version", statements).await?;
        #[derive(Deserialize)]
        struct Now {
            now: f64,
        }
        let now = results
            .first()
            .and_then(|r| r.results::<Now>().ok())
            .and_then(|rows| rows.into_iter().next())
            .ok_or_else(|| db_error("announced version", worker::Error::RustError("no clock".into())))?;
        let version = match results.get(1) {
            Some(r) => r.results::<Row>().map_err(|e| db_error("announced version", e))?.into_iter().next(),
            None => None,
        };
        Ok(AnnouncedVersion { version: version.map(Into::into), db_now_ms: now.now as i64 })
    }

    async fn purge_replaced(&self, before_ms: i64) -> Result<()> {
        self.run(
            "replaced purge",
            self.statement(
                "DELETE FROM replaced_versions WHERE replaced_at < ?1",
                &[JsValue::from_f64(before_ms as f64)],
            )?,
        )
        .await?;
        Ok(())
    }
}
