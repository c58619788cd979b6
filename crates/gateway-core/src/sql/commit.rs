//! The commit transaction: the row names the new version exactly when the journal entry goes,
//! and only while the entry is unclaimed.

use serde::Deserialize;

use super::objects::{names, COLUMNS};
use super::{args, stmt, Outcome, Route, SqlDatabase, SqlMetadata, Statement, Value};
use crate::error::Result;
use crate::events::Event;
use crate::metadata::{Commit, ObjectRecord};

/// The database's own clock, in ms since the Unix epoch: what announced commits' deadlines
/// are measured against, so the Worker's and the consumer's clocks never matter.
pub(super) const DB_NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/// Writes the row of ?1…?13, ?18 and ?19 (the columns of [`COLUMNS`]) with `announced` = ?16 if
/// `condition` holds; on a key that has a row, replaces it unless ?15 (`if_absent`) is 1. A
/// replaced version is journaled (and an announced one copied) by the trigger
/// `objects_version_replaced`, in the same statement.
pub(super) fn upsert(condition: &str) -> String {
    format!(
        "INSERT INTO objects ({COLUMNS}, announced) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?18, ?19, ?16 \
         WHERE {condition} \
         ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, size = excluded.size, \
         content_type = excluded.content_type, etag = excluded.etag, checksum_sha256 = excluded.checksum_sha256, \
         checksum_md5 = excluded.checksum_md5, status = excluded.status, detected_type = excluded.detected_type, \
         type_matches = excluded.type_matches, created_at = excluded.created_at, completed_at = excluded.completed_at, \
         storage_key = excluded.storage_key, scan = excluded.scan, metadata = excluded.metadata, announced = excluded.announced WHERE ?15 = 0"
    )
}

/// The arguments of [`upsert`]: the row, then ?14 `pending_id`, ?15 `if_absent`,
/// ?16 `announced` (a deadline is given: a pending-commit message may read the row), ?17 the
/// deadline (NULL without one), ?18 the row's `scan`, ?19 its `metadata`.
pub(super) fn upsert_args(
    rec: &ObjectRecord,
    pending_id: &str,
    if_absent: bool,
    deadline_ms: Option<i64>,
) -> Vec<Value> {
    let mut values = args![
        &rec.key,
        &rec.owner,
        rec.size,
        &rec.content_type,
        &rec.etag,
        &rec.checksum_sha256,
        &rec.checksum_md5,
        &rec.status,
        &rec.detected_type,
        rec.type_matches,
        rec.created_at,
        rec.completed_at,
        &rec.storage_key,
        pending_id,
        if_absent,
        deadline_ms.is_some(),
    ];
    values.extend(args![deadline_ms, &rec.scan, &rec.metadata]);
    values
}

/// The name the row of `key` names (the first statement of every commit).
pub(super) fn named_before(key: &str) -> Statement {
    stmt("SELECT storage_key FROM objects WHERE key = ?1", args![key])
}

impl<D: SqlDatabase> SqlMetadata<D> {
    /// The commit transaction, every write conditional on journal entry `pending_id` being
    /// unclaimed: read the name the row names (statement 0), write the row (statement 1; no
    /// change on an `if_absent` conflict; a replaced version is journaled by the trigger),
    /// record the version's event if events are on (only while the entry is open and the row
    /// names the version: a retried commit does not record it twice), and, with `clear_entry`,
    /// clear the entry. With `source` (`table.column`), the row and the event are written only
    /// while that table still has a row whose column is `pending_id`: the multipart or
    /// presigned upload being committed, which a first commit forgets, so a second one of the
    /// same upload changes nothing. With `deadline_ms`, the row is written only while the
    /// database's own clock is before it. [`SqlMetadata::commit`] reads the answer.
    pub(super) fn commit_statements(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        if_absent: bool,
        clear_entry: bool,
        source: Option<(&str, &str)>,
        deadline_ms: Option<i64>,
    ) -> Vec<Statement> {
        let source_open = |n: u8| {
            source.map_or_else(String::new, |(table, column)| {
                format!(" AND EXISTS (SELECT 1 FROM {table} WHERE {column} = ?{n})")
            })
        };
        let before = if deadline_ms.is_some() { format!(" AND {DB_NOW_MS} < ?17") } else { String::new() };
        let open =
            format!("EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?14 AND claimed = 0){}{before}", source_open(14));
        let mut statements =
            vec![named_before(&rec.key), stmt(upsert(&open), upsert_args(rec, pending_id, if_absent, deadline_ms))];
        if self.events {
            statements.push(self.record_event(
                &Event::uploaded(rec),
                rec.created_at,
                &format!(
                    "EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?4 AND claimed = 0){} AND {}",
                    source_open(4),
                    names(5, 6)
                ),
                args![pending_id, &rec.key, &rec.storage_key],
            ));
        }
        if clear_entry {
            statements.push(stmt(
                format!("DELETE FROM pending_uploads WHERE id = ?1 AND claimed = 0 AND {}", names(2, 3)),
                args![pending_id, &rec.key, &rec.storage_key],
            ));
        }
        // The write's quota reservation (its journal entry's id) ends with its commit.
        statements.push(super::quota::released(pending_id));
        statements
    }

    /// Runs a commit transaction built by [`SqlMetadata::commit_statements`] (plus
    /// statements after it).
    pub(super) async fn commit(
        &self,
        op: &str,
        rec: &ObjectRecord,
        statements: Vec<Statement>,
        if_absent: bool,
    ) -> Result<Commit> {
        let results = self.batch(Route::Key(&rec.key), op, statements).await?;
        Ok(commit_answer(&results, rec, if_absent, op))
    }
}

/// How a commit batch ended: statement 0 read the name the row named, statement 1 wrote it.
pub(super) fn commit_answer(results: &[Outcome], rec: &ObjectRecord, if_absent: bool, op: &str) -> Commit {
    #[derive(Deserialize)]
    struct Named {
        storage_key: Option<String>,
    }
    let before: Option<String> = results
        .first()
        .and_then(|r| r.decode::<Named>(op).ok())
        .and_then(|rows| rows.into_iter().next())
        .and_then(|r| r.storage_key);
    let written = results.get(1).is_some_and(Outcome::changed);
    match (written, if_absent && before.is_some()) {
        // A repeated commit of the version the row already names replaces nothing: its
        // stored name is the live object, never garbage.
        (true, _) => Commit::Committed { replaced: before.filter(|b| *b != rec.storage_key) },
        (false, true) => Commit::KeyExists,
        (false, false) => Commit::Claimed,
    }
}
