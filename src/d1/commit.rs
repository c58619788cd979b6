//! The commit transaction: the row names the new version exactly when the journal entry goes,
//! and only while the entry is unclaimed.

use gateway_core::error::Result;
use gateway_core::events::Event;
use gateway_core::metadata::{Commit, ObjectRecord};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::objects::COLUMNS;
use super::{opt_bool, opt_str, D1Metadata};

/// "The row of key ?{key} names stored name ?{name}": true exactly when a commit through a
/// journal entry for that name happened, since no other write ever uses the name.
pub(crate) fn names(key: u8, name: u8) -> String {
    format!("EXISTS (SELECT 1 FROM objects WHERE key = ?{key} AND storage_key = ?{name})")
}

impl D1Metadata {
    /// The commit transaction, every write conditional on journal entry `pending_id` being
    /// unclaimed: read the name the row names (statement 0), journal it for deletion if it is
    /// replaced, write the row (statement 2; no change on an `if_absent` conflict), record the
    /// version's event if events are on (only while the entry is open and the row names the
    /// version: a retried commit does not record it twice), and, with `clear_entry`, clear the
    /// entry. [`commit_outcome`] reads the answer.
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
        if self.events {
            statements.push(self.record_event(
                &Event::uploaded(rec),
                rec.created_at,
                &format!("EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?4 AND claimed = 0) AND {}", names(5, 6)),
                &[JsValue::from_str(pending_id), key.clone(), name.clone()],
            )?);
        }
        if clear_entry {
            statements.push(self.statement(
                &format!("DELETE FROM pending_uploads WHERE id = ?1 AND claimed = 0 AND {}", names(2, 3)),
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
        let results = self.batch(op, statements).await?;
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
}
