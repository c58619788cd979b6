//! When a shard next has work for the sweep: the time its alarm is set to, so each shard
//! sweeps itself without a scan of every shard.

use serde::Deserialize;

use crate::error::Result;
use crate::events::OUTBOX_GRACE_MS;
use crate::sql::{args, stmt, Route, SqlDatabase};
use crate::sweep::{DEFAULT_PENDING_GRACE_MS, REPLACED_RETENTION_MS};

/// How often a shard with owners reconciles their usage with its rows ([`crate::quota`]).
pub const RECONCILE_EVERY_MS: i64 = 24 * 60 * 60 * 1000;

/// The earliest moment (ms since the Unix epoch) at which [`crate::sweep::run`] or
/// [`crate::events::resend`] would find work in `db`: a journal entry due, a multipart or tus
/// upload expired, an outbox row old enough to re-send, a spent nonce or unconfirmed
/// presigned upload to purge, a replaced version's copy to forget, and, with quarantine's
/// `scan_timeout_ms`, a version whose verdict is overdue, and the daily reconciliation of its
/// owners' usage. `None`: nothing pending.
pub async fn next_due<D: SqlDatabase>(db: &D, scan_timeout_ms: Option<i64>) -> Result<Option<i64>> {
    // One column per table (Durable Objects' SQLite allows few terms in a compound SELECT).
    #[derive(Deserialize)]
    struct Due {
        journal: Option<f64>,
        multipart: Option<f64>,
        tus: Option<f64>,
        outbox: Option<f64>,
        nonces: Option<f64>,
        presigned: Option<f64>,
        replaced: Option<f64>,
        scans: Option<f64>,
        usage: Option<f64>,
    }
    let sql = "SELECT (SELECT MIN(due_at) FROM pending_uploads) AS journal, \
               (SELECT MIN(expires_at) FROM multipart_uploads) AS multipart, \
               (SELECT MIN(expires_at) FROM tus_uploads) AS tus, \
               (SELECT MIN(created_at) + ?1 FROM event_outbox) AS outbox, \
               (SELECT MIN(expires_at) + ?2 FROM used_nonces) AS nonces, \
               (SELECT MIN(expires_at) + ?2 FROM presigned_uploads) AS presigned, \
               (SELECT MIN(replaced_at) + ?3 FROM replaced_versions) AS replaced, \
               (SELECT MIN(created_at) + ?4 FROM objects WHERE scan IS NOT NULL AND ?4 IS NOT NULL) AS scans, \
               (SELECT reconciled_at + ?5 FROM quota_reconcile WHERE EXISTS (SELECT 1 FROM owner_usage)) AS usage";
    let found = db
        .batch(
            Route::Here,
            "next due",
            vec![stmt(
                sql,
                args![
                    OUTBOX_GRACE_MS,
                    DEFAULT_PENDING_GRACE_MS,
                    REPLACED_RETENTION_MS,
                    scan_timeout_ms,
                    RECONCILE_EVERY_MS
                ],
            )],
        )
        .await?;
    let due: Vec<Due> = match found.first() {
        Some(o) => o.decode("next due")?,
        None => Vec::new(),
    };
    Ok(due.into_iter().next().and_then(|d| {
        [d.journal, d.multipart, d.tus, d.outbox, d.nonces, d.presigned, d.replaced, d.scans, d.usage]
            .into_iter()
            .flatten()
            .min_by(f64::total_cmp)
            .map(|t| t as i64)
    }))
}
