//! The object index on table `objects`.

use serde::Deserialize;

use super::{args, stmt, Route, SqlDatabase, SqlMetadata};
use crate::error::Result;
use crate::events::VERSION;
use crate::metadata::{Condemned, Deletion, ListCursor, ObjectIndex, ObjectRecord, STATUS_COMPLETE};
use crate::time::rfc3339;

/// A row as the database returns it (numbers may arrive as JS numbers, booleans as 0/1).
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
    scan: Option<String>,
    metadata: Option<String>,
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
            scan: r.scan,
            metadata: r.metadata,
        }
    }
}

/// "The row of key ?{key} names stored name ?{name}": true exactly when a commit through a
/// journal entry for that name happened, since no other write ever uses the name.
pub(super) fn names(key: u8, name: u8) -> String {
    format!("EXISTS (SELECT 1 FROM objects WHERE key = ?{key} AND storage_key = ?{name})")
}

pub(super) const COLUMNS: &str = "key, owner, size, content_type, etag, checksum_sha256, checksum_md5, status, \
                       detected_type, type_matches, created_at, completed_at, storage_key, scan, metadata";

impl<D: SqlDatabase> ObjectIndex for SqlMetadata<D> {
    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>> {
        let row: Option<Row> = self
            .first(Route::Key(key), "select", stmt(format!("SELECT {COLUMNS} FROM objects WHERE key = ?1"), args![key]))
            .await?;
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
        let values =
            args![owner, STATUS_COMPLETE, prefix, cursor.map(|c| c.created_at), cursor.map(|c| c.key.as_str()), limit];
        // A prefix within one shard is one database's; a shorter one (a token whose prefix spans
        // namespaces) is every matching database's, merged newest first.
        let rows: Vec<Row> = self.all(Route::Under(prefix), "list", stmt(sql, values)).await?;
        let mut rows: Vec<ObjectRecord> = rows.into_iter().map(Into::into).collect();
        rows.sort_by(|a, b| (b.created_at, &b.key).cmp(&(a.created_at, &a.key)));
        // A key being moved by a split may come from its old shard and its new one: the newest.
        let mut seen = std::collections::HashSet::new();
        rows.retain(|r| seen.insert(r.key.clone()));
        rows.truncate(limit as usize);
        Ok(rows)
    }

    /// One transaction: read the row, then, only if its version is not newer than the delete,
    /// journal its stored name, keep a copy of an announced version, record the event (its body
    /// built from the row by the database, as [`crate::events::Event::deleted`] builds it) and
    /// remove the row.
    async fn delete_key(
        &self,
        key: &str,
        now_ms: i64,
        event_id: &str,
        condemned: Option<Condemned<'_>>,
    ) -> Result<Deletion> {
        // The version: not newer than the delete, and, when condemned, the one with that ETag.
        let (version, values) = match condemned {
            None => ("key = ?1 AND created_at <= ?2", args![key, now_ms]),
            Some(c) => ("key = ?1 AND created_at <= ?2 AND etag = ?3", args![key, now_ms, c.etag]),
        };
        let mut statements = vec![
            stmt(format!("SELECT {COLUMNS} FROM objects WHERE key = ?1"), args![key]),
            stmt(
                format!(
                    "INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at, claimed) \
                     SELECT 'gc:' || COALESCE(storage_key, key), key, owner, ?2, COALESCE(storage_key, key), ?2, 0 \
                     FROM objects WHERE {version}"
                ),
                values.clone(),
            ),
            stmt(
                format!(
                    "INSERT OR IGNORE INTO replaced_versions ({COLUMNS}, replaced_at) \
                     SELECT {COLUMNS}, ?2 FROM objects WHERE {version} AND announced = 1"
                ),
                values.clone(),
            ),
        ];
        if self.events {
            // The version is written into the statement: a bound JS number may arrive as a
            // real, which JSON would spell `1.0`. Arguments ?1–?3 are the version's.
            let (reason, extra) = match condemned {
                None => (String::new(), args![event_id, rfc3339(now_ms)]),
                Some(c) => ("'reason', ?6, ".to_owned(), args![event_id, rfc3339(now_ms), c.reason]),
            };
            let (id, at) = if condemned.is_some() { ("?4", "?5") } else { ("?3", "?4") };
            let mut event_values = values.clone();
            event_values.extend(extra);
            statements.push(stmt(
                format!(
                    "INSERT OR IGNORE INTO event_outbox (id, body, created_at) \
                     SELECT {id}, json_object('type', 'object.deleted', 'deleted_at', {at}, {reason}'version', \
                     {VERSION}, 'id', {id}, 'key', key, 'owner', owner, 'size', size, 'etag', etag), ?2 FROM objects \
                     WHERE {version}"
                ),
                event_values,
            ));
        }
        statements.push(stmt(format!("DELETE FROM objects WHERE {version}"), values));
        let op = "delete";
        let results = self.batch(Route::Key(key), op, statements).await?;
        let row: Option<Row> = match results.first() {
            Some(found) => found.decode(op)?.pop(),
            None => None,
        };
        Ok(match row {
            None => Deletion::NoRow,
            Some(_) if !results.last().is_some_and(super::Outcome::changed) => Deletion::Newer,
            Some(row) => Deletion::Removed(Box::new(row.into())),
        })
    }

    /// One transaction: clear the version's `scan` while the row names it, then read the row.
    async fn clear_scan(&self, key: &str, etag: &str) -> Result<Option<ObjectRecord>> {
        let statements = vec![
            stmt("UPDATE objects SET scan = NULL WHERE key = ?1 AND etag = ?2 AND scan IS NOT NULL", args![key, etag]),
            stmt(format!("SELECT {COLUMNS} FROM objects WHERE key = ?1"), args![key]),
        ];
        let results = self.batch(Route::Key(key), "verdict", statements).await?;
        let row: Option<Row> = match results.get(1) {
            Some(found) => found.decode("verdict")?.pop(),
            None => None,
        };
        Ok(row.map(Into::into))
    }

    async fn overdue_scans(&self, before_ms: i64, limit: u32) -> Result<Vec<ObjectRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE scan IS NOT NULL AND created_at < ?1 ORDER BY created_at LIMIT ?2"
        );
        let rows: Vec<Row> = self.all(Route::Prefix(""), "overdue scans", stmt(sql, args![before_ms, limit])).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn record_detection(
        &self,
        key: &str,
        storage_key: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()> {
        self.run(
            Route::Key(key),
            "update",
            stmt(
                "UPDATE objects SET detected_type = ?1, type_matches = ?2 WHERE key = ?3 AND storage_key = ?4",
                args![detected, matches, key, storage_key],
            ),
        )
        .await?;
        Ok(())
    }
}
