//! [`AnnouncedCommits`] on tables `objects` and `replaced_versions` (the copies the trigger
//! `objects_version_replaced` and a delete keep of announced rows).

use gateway_core::error::Result;
use gateway_core::metadata::{AnnouncedCommits, AnnouncedVersions, Commit, ObjectRecord};
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
        self.commit("announced commit", rec, statements, if_absent).await
    }

    async fn announced_versions(&self, wanted: &[(String, String)]) -> Result<AnnouncedVersions> {
        // The versions as a JSON array of [key, stored name] pairs, each read by its primary
        // key (a key's row, and its copies by key and name). One read transaction: the clock
        // and the versions as of the same moment.
        let args = [JsValue::from_str(&serde_json::to_string(wanted).unwrap_or_default())];
        let statements = vec![
            self.statement(&format!("SELECT {DB_NOW_MS} AS now"), &[])?,
            self.statement(
                &format!(
                    "SELECT {COLUMNS} FROM objects WHERE key IN (SELECT json_extract(value, '$[0]') FROM json_each(?1)) \
                     UNION ALL SELECT {COLUMNS} FROM replaced_versions WHERE (key, storage_key) IN \
                     (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))"
                ),
                &args,
            )?,
        ];
        let results = self.batch("announced versions", statements).await?;
        #[derive(Deserialize)]
        struct Now {
            now: f64,
        }
        let now = results
            .first()
            .and_then(|r| r.results::<Now>().ok())
            .and_then(|rows| rows.into_iter().next())
            .ok_or_else(|| db_error("announced versions", worker::Error::RustError("no clock".into())))?;
        let found: Vec<ObjectRecord> = match results.get(1) {
            Some(r) => r.results::<Row>().map_err(|e| db_error("announced versions", e))?,
            None => Vec::new(),
        }
        .into_iter()
        .map(Into::into)
        .collect();
        let versions = wanted
            .iter()
            .map(|(key, name)| found.iter().find(|r| r.key == *key && r.storage_key == *name).cloned())
            .collect();
        Ok(AnnouncedVersions { versions, db_now_ms: now.now as i64 })
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
