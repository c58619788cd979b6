//! The cleanup sweep (run by the Cron Trigger): settles journal entries that are due — an
//! upload whose isolate died before its commit, a commit or cleanup that failed, the version
//! an overwrite or a delete left behind — by deleting each entry's stored name unless the
//! key's row names it, and aborts multipart uploads past their expiry, in the store and in
//! the database. An entry is claimed before anything is deleted, so an upload still
//! streaming can never be answered 201 for an object the sweep removes: its commit fails
//! instead. Running it twice is harmless.

use crate::error::Result;
use crate::key::StoredName;
use crate::metadata::{MetadataStore, PendingUpload};
use crate::store::{Multipart, Objects};

pub use crate::metadata::DEFAULT_PENDING_GRACE_MS;
/// An expired multipart upload whose abort keeps failing is forgotten this long after its
/// expiry (R2 aborts unfinished uploads after 7 days itself), so it cannot block the sweep.
pub const FORGET_UNABORTABLE_AFTER_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How long copies of replaced or deleted announced rows are kept (see [`crate::announce`]):
/// longer than a queue keeps a message (Cloudflare Queues: at most 14 days), so a pending-commit
/// message retried that long still finds its version.
pub const REPLACED_RETENTION_MS: i64 = 15 * 24 * 60 * 60 * 1000;
/// Entries handled per run; the next run picks up the rest.
pub const SWEEP_BATCH: u32 = 100;

/// What one entry turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The key's row names the entry's object (or the entry was already gone): kept.
    Committed,
    /// An object no row names was deleted.
    RemovedOrphanObject,
    /// No row names the entry's name and the store had nothing under it.
    NothingStored,
}

/// The per-run summary, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub examined: usize,
    pub orphans_removed: usize,
    pub multiparts_aborted: usize,
    pub problems: Vec<String>,
}

impl SweepReport {
    /// Adds `other`'s counts and problems to this report.
    pub fn absorb(&mut self, other: SweepReport) {
        self.examined += other.examined;
        self.orphans_removed += other.orphans_removed;
        self.multiparts_aborted += other.multiparts_aborted;
        self.problems.extend(other.problems);
    }
}

/// One scheduled run: due journal entries, then expired multipart uploads.
pub async fn run<S: Multipart, M: MetadataStore>(store: &S, meta: &M, now_ms: i64, grace_ms: i64) -> SweepReport {
    let mut report = sweep_pending(store, meta, now_ms).await;
    sweep_multiparts(store, meta, now_ms, &mut report).await;
    sweep_tus(store, meta, now_ms, &mut report).await;
    // Spent nonces and unconfirmed direct uploads are useless once their URL has expired; the
    // objects of the latter are reconciled through their journal entries above.
    if let Err(e) = meta.purge_presigned(now_ms - grace_ms).await {
        report.problems.push(format!("purging expired presigned URLs failed: {}", e.log_line()));
    }
    if let Err(e) = meta.purge_replaced(now_ms - REPLACED_RETENTION_MS).await {
        report.problems.push(format!("purging old copies of replaced versions failed: {}", e.log_line()));
    }
    crate::quota::reconcile(meta, SWEEP_BATCH, now_ms, &mut report.problems).await;
    report
}

/// Settles the journal entries due by `now_ms`.
pub async fn sweep_pending<S: Objects, M: MetadataStore>(store: &S, meta: &M, now_ms: i64) -> SweepReport {
    let mut report = SweepReport::default();
    let entries = match meta.due_uploads(now_ms, SWEEP_BATCH).await {
        Ok(e) => e,
        Err(e) => {
            report.problems.push(format!("listing the upload journal failed: {}", e.log_line()));
            return report;
        }
    };
    for entry in entries {
        report.examined += 1;
        match reconcile(store, meta, &entry).await {
            Ok(Outcome::RemovedOrphanObject) => report.orphans_removed += 1,
            Ok(_) => {}
            Err(e) => report.problems.push(format!(
                "settling `{}` (key `{}`) failed, retried next run: {}",
                entry.storage_key,
                entry.key,
                e.log_line()
            )),
        }
    }
    report
}

/// Aborts multipart uploads whose expiry has passed: their parts are discarded in the store
/// and the upload is forgotten. An upload the store no longer knows is simply forgotten.
pub async fn sweep_multiparts<S: Multipart, M: MetadataStore>(
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
        let name = StoredName::recorded(upload.storage_key.clone());
        let aborted = store.abort_multipart(&name, &upload.store_upload_id).await;
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

/// Forgets tus uploads whose expiry has passed, aborting the store's upload of an unfinished
/// one. Their stored names (the upload's own and its staged chunks') are journal entries due
/// after the expiry, which `sweep_pending` settles like any other.
pub async fn sweep_tus<S: Multipart, M: MetadataStore>(store: &S, meta: &M, now_ms: i64, report: &mut SweepReport) {
    let expired = match meta.expired_tus(now_ms, SWEEP_BATCH).await {
        Ok(e) => e,
        Err(e) => {
            report.problems.push(format!("listing expired tus uploads failed: {}", e.log_line()));
            return;
        }
    };
    for upload in expired {
        let finished = upload.length == Some(upload.offset);
        if let (false, Some(store_id)) = (finished, &upload.store_upload_id) {
            let name = StoredName::recorded(upload.storage_key.clone());
            if let Err(e) = store.abort_multipart(&name, store_id).await {
                report.problems.push(format!("aborting tus upload of `{}` failed: {}", upload.key, e.log_line()));
                if now_ms - upload.expires_at <= FORGET_UNABORTABLE_AFTER_MS {
                    continue;
                }
            }
        }
        match meta.remove_tus(&upload.id).await {
            Ok(()) => report.multiparts_aborted += usize::from(!finished),
            Err(e) => {
                report.problems.push(format!("forgetting tus upload of `{}` failed: {}", upload.key, e.log_line()))
            }
        }
    }
}

/// Settles one entry: claims it (from then on no commit through it can succeed), keeps its
/// object if the key's row names it, deletes it otherwise, then clears the entry. A failure
/// leaves the entry claimed, to be settled again on the next run.
pub async fn reconcile<S: Objects, M: MetadataStore>(store: &S, meta: &M, entry: &PendingUpload) -> Result<Outcome> {
    if !meta.claim_upload(&entry.key, &entry.id).await? {
        return Ok(Outcome::Committed);
    }
    let named = meta.get(&entry.key).await?.is_some_and(|row| row.storage_key == entry.storage_key);
    let outcome = if named {
        Outcome::Committed
    } else {
        let name = StoredName::recorded(entry.storage_key.clone());
        let existed = store.head(&name).await?.is_some();
        store.delete(&name).await?;
        if existed {
            Outcome::RemovedOrphanObject
        } else {
            Outcome::NothingStored
        }
    };
    meta.abandon_upload(&entry.key, &entry.id).await?;
    Ok(outcome)
}
