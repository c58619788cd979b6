//! [`AnnouncedCommits`] on tables `objects` and `replaced_versions` (the copies the trigger
//! `objects_version_replaced` and a delete keep of announced rows).

use serde::Deserialize;

use super::commit::{named_before, upsert, upsert_args, DB_NOW_MS};
use super::objects::{Row, COLUMNS};
use super::{args, error, stmt, Route, SqlDatabase, SqlMetadata};
use crate::error::Result;
use crate::metadata::{AnnouncedCommits, AnnouncedVersions, Commit, ObjectRecord};

impl<D: SqlDatabase> AnnouncedCommits for SqlMetadata<D> {
    /// The name the row names (statement 0), then the row, written in one statement only
    /// before `deadline_ms` by the database's clock and while no journal entry `pending_id` is
    /// claimed.
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
            named_before(&rec.key),
            stmt(upsert(&condition), upsert_args(rec, pending_id, if_absent, Some(deadline_ms))),
            super::quota::released(pending_id),
        ];
        self.commit("announced commit", rec, statements, if_absent).await
    }

    async fn announced_versions(&self, wanted: &[(String, String)]) -> Result<AnnouncedVersions> {
        // The versions as a JSON array of [key, stored name] pairs, each read by its primary
        // key (a key's row, and its copies by key and name). One read transaction: the clock
        // and the versions as of the same moment.
        if wanted.is_empty() {
            return Ok(AnnouncedVersions { versions: Vec::new(), db_now_ms: 0 });
        }
        let pairs = serde_json::to_string(wanted).unwrap_or_default();
        let statements = vec![
            stmt(format!("SELECT {DB_NOW_MS} AS now"), Vec::new()),
            stmt(
                format!(
                    "SELECT {COLUMNS} FROM objects WHERE key IN (SELECT json_extract(value, '$[0]') FROM json_each(?1)) \
                     UNION ALL SELECT {COLUMNS} FROM replaced_versions WHERE (key, storage_key) IN \
                     (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))"
                ),
                args![pairs],
            ),
        ];
        let op = "announced versions";
        let keys = wanted.iter().map(|(key, _)| key.as_str()).collect();
        let results = self.batch(Route::Keys(keys), op, statements).await?;
        #[derive(Deserialize)]
        struct Now {
            now: f64,
        }
        let [now, found] = results.as_slice() else { return Err(error(op, "missing results")) };
        // Each database the read ran in gave its clock: the earliest decides. A version found
        // missing is known missing only once every database read it after the deadline.
        let now = now
            .decode::<Now>(op)?
            .into_iter()
            .min_by(|a, b| a.now.total_cmp(&b.now))
            .ok_or_else(|| error(op, "no clock"))?;
        let found: Vec<ObjectRecord> = found.decode::<Row>(op)?.into_iter().map(Into::into).collect();
        let versions = wanted
            .iter()
            .map(|(key, name)| found.iter().find(|r| r.key == *key && r.storage_key == *name).cloned())
            .collect();
        Ok(AnnouncedVersions { versions, db_now_ms: now.now as i64 })
    }

    async fn purge_replaced(&self, before_ms: i64) -> Result<()> {
        self.run(
            Route::Prefix(""),
            "replaced purge",
            stmt("DELETE FROM replaced_versions WHERE replaced_at < ?1", args![before_ms]),
        )
        .await?;
        Ok(())
    }
}
