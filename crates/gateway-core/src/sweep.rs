//! The cleanup sweep (run by the Cron Trigger): reconciles upload journal entries that were
//! never cleared — an isolate that died between the store write and the commit, or a commit
//! that failed — with what the store actually holds, so that no row claims a missing object
//! and no uncommitted object lingers — and aborts multipart uploads past their expiry, in the
//! store and in the database. Running it twice is harmless.

use crate::error::Result;
use crate::key::ObjectKey;
use crate::metadata::{MetadataStore, PendingUpload};
use crate::store::ObjectStore;

/// Journal entries younger than this are left alone: their upload may still be streaming.
pub const DEFAULT_PENDING_GRACE_MS: i64 = 60 * 60 * 1000;
/// An expired multipart upload whose abort keeps failing is forgotten this long after its
/// expiry (R2 aborts unfinished uploads after 7 days itself), so it cannot block the sweep.
pub const FORGET_UNABORTABLE_AFTER_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Entries handled per run; the next run picks up the rest.
pub const SWEEP_BATCH: u32 = 100;

/// What one entry turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object at the key is the committed one (or there is neither object nor row).
    Consistent,
    /// An object nobody committed was deleted.
    RemovedOrphanObject,
    /// A row claimed an object that is gone (or was replaced by an orphan); it was removed.
    RemovedStaleRow,
    /// Both of the above.
    RemovedBoth,
    /// Another upload of the key is in flight; left for a later run.
    Deferred,
}

/// The per-run summary, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub examined: usize,
    pub orphans_removed: usize,
    pub stale_rows_removed: usize,
    pub deferred: usize,
    pub multiparts_aborted: usize,
    pub problems: Vec<String>,
}

/// One scheduled run: stale journal entries, then expired multipart uploads.
pub async fn run<S: ObjectStore, M: MetadataStore>(store: &S, meta: &M, now_ms: i64, grace_ms: i64) -> SweepReport {
    let mut report = sweep_pending(store, meta, now_ms, grace_ms).await;
    sweep_multiparts(store, meta, now_ms, &mut report).await;
    // Spent nonces and unconfirmed direct uploads are useless once their URL has expired; the
    // objects of the latter are reconciled through their journal entries above.
    if let Err(e) = meta.purge_presigned(now_ms - grace_ms).await {
        report.problems.push(format!("purging expired presigned URLs failed: {}", e.log_line()));
    }
    report
}

/// Sweeps journal entries older than `grace_ms`.
pub async fn sweep_pending<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    now_ms: i64,
    grace_ms: i64,
) -> SweepReport {
    let mut report = SweepReport::default();
    let entries = match meta.stale_uploads(now_ms - grace_ms, SWEEP_BATCH).await {
        Ok(e) => e,
        Err(e) => {
            report.problems.push(format!("listing the upload journal failed: {}", e.log_line()));
            return report;
        }
    };
    for entry in entries {
        report.examined += 1;
        match reconcile(store, meta, &entry, now_ms - grace_ms).await {
            Ok(outcome) => {
                if matches!(outcome, Outcome::RemovedOrphanObject | Outcome::RemovedBoth) {
                    report.orphans_removed += 1;
                }
                if matches!(outcome, Outcome::RemovedStaleRow | Outcome::RemovedBoth) {
                    report.stale_rows_removed += 1;
                }
                if outcome == Outcome::Deferred {
                    report.deferred += 1;
                }
            }
            Err(e) => report.problems.push(format!("reconciling `{}` failed: {}", entry.key, e.log_line())),
        }
    }
    report
}

/// Aborts multipart uploads whose expiry has passed: their parts are discarded in the store
/// and the upload is forgotten. An upload the store no longer knows is simply forgotten.
pub async fn sweep_multiparts<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    now_ms: i64,
    report: &mut SweepReport,
) {
    let expired = match meta.expired_multiparts(now_ms, SWEEP_BATCH).await {
        Ok(e) => e,
        Err(e) => {
            report.problems.push(format!("listing expired multipart uploads failed: {}", e.log_line()));
            return;
        }
    };
    for upload in expired {
        let aborted = match ObjectKey::new(upload.key.clone()) {
            Ok(key) => store.abort_multipart(&key, &upload.store_upload_id).await,
            Err(_) => Ok(()),
        };
        match aborted {
            Ok(()) => match meta.remove_multipart(&upload.id).await {
                Ok(()) => report.multiparts_aborted += 1,
                Err(e) => {
                    report.problems.push(format!("forgetting upload of `{}` failed: {}", upload.key, e.log_line()))
                }
            },
            Err(e) => {
                report.problems.push(format!("aborting upload of `{}` failed: {}", upload.key, e.log_line()));
                if now_ms - upload.expires_at > FORGET_UNABORTABLE_AFTER_MS
                    && meta.remove_multipart(&upload.id).await.is_ok()
                {
                    report.problems.push(format!("forgot upload of `{}` after a week of failed aborts", upload.key));
                }
            }
        }
    }
}

/// Brings one key's row and object into agreement, then clears the entry. An upload of the
/// same key journaled after `cutoff_ms` may still be streaming, so the key is then left alone.
pub async fn reconcile<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    entry: &PendingUpload,
    cutoff_ms: i64,
) -> Result<Outcome> {
    let Ok(key) = ObjectKey::new(entry.key.clone()) else {
        meta.abandon_upload(&entry.id).await?;
        return Ok(Outcome::Consistent);
    };
    if meta.other_upload_pending(&entry.key, &entry.id, cutoff_ms).await? {
        // Looked at again a grace period from now, behind the entries that are due.
        meta.defer_upload(&entry.id, cutoff_ms.saturating_add(DEFAULT_PENDING_GRACE_MS)).await?;
        return Ok(Outcome::Deferred);
    }
    let object = store.head(&key).await?;
    let row = meta.get(&entry.key).await?;
    let outcome = match (&object, &row) {
        (Some(o), Some(r)) if o.etag == r.etag => Outcome::Consistent,
        (None, None) => Outcome::Consistent,
        (Some(_), None) => {
            store.delete(&key).await?;
            Outcome::RemovedOrphanObject
        }
        (None, Some(_)) => {
            meta.remove(&entry.key).await?;
            Outcome::RemovedStaleRow
        }
        (Some(_), Some(_)) => {
            // An uncommitted object replaced the committed one: neither can be trusted now.
            meta.remove(&entry.key).await?;
            store.delete(&key).await?;
            Outcome::RemovedBoth
        }
    };
    meta.abandon_upload(&entry.id).await?;
    Ok(outcome)
}
