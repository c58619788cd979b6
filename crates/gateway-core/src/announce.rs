//! Announced uploads: how a small single PUT is made safe without a journal entry, so that it
//! writes one row (the object's) and nothing else.
//!
//! A body of at most [`BUFFERED_UPLOAD_MAX_BYTES`] is read whole inside the runtime and sniffed
//! before it is stored, so its row is complete when it is written. Before the store write
//! finishes, the upload sends a [`PendingCommit`] message to the `EVENTS` queue, due
//! [`CHECK_DELAY_S`] later. The commit is one statement that applies only before the message's
//! deadline by the database's own clock ([`AnnouncedCommits::commit_announced`]). The consumer
//! then [`resolve`]s the message: the version's row (or the copy kept when it was replaced or
//! deleted) means it was committed, and its `object.uploaded` event is delivered; no row before
//! the deadline means "look again later"; no row after it means it never will be, and the
//! object is deleted. The message is the journal entry and the outbox row at once.
//!
//! Without a queue, or when the message cannot be sent, the upload falls back to the journal.

use futures_util::future::join;

use crate::error::{GatewayError, Result};
use crate::events::{EventQueue, PendingCommit};
use crate::followup::FollowUp;
use crate::http::Reply;
use crate::key::StoredName;
use crate::metadata::{AnnouncedCommits, Commit, ObjectIndex, ObjectRecord, PendingUpload, UploadJournal};
use crate::sniff::{detect, type_matches, SNIFF_BYTES};
use crate::store::{Compose, Objects};
use crate::upload::{self, Upload};

/// The largest single-PUT body that is read whole and announced instead of journaled: small
/// enough that a few dozen at once are nothing to an isolate's memory.
pub const BUFFERED_UPLOAD_MAX_BYTES: u64 = 64 * 1024;
/// How long after its upload's store write a pending-commit message is first looked at: by
/// then nearly every commit has happened, so one look settles it.
pub const CHECK_DELAY_S: u32 = 1;

/// The queue announced uploads are sent to, and how long their commits may take.
pub struct Announcer<'a, Q> {
    pub queue: &'a Q,
    /// [`crate::config::Config::commit_window_ms`].
    pub window_ms: i64,
}

/// Whether upload `up` is announced rather than journaled (with a queue to announce it on).
pub fn applies(up: &Upload<'_>) -> bool {
    up.plan.length <= BUFFERED_UPLOAD_MAX_BYTES
}

/// The single PUT of a small body: read whole and sniffed, announced while it is stored, then
/// committed complete in one statement. The same answers as [`upload::execute`]: a 2xx means
/// the row names this object; anything else leaves the key as it was, the object deleted now
/// or by its pending-commit message after the deadline. If the message cannot be sent, the
/// upload is journaled instead (and its event recorded in the outbox).
pub async fn execute<S: Compose, M: ObjectIndex + UploadJournal + AnnouncedCommits, Q: EventQueue>(
    store: &S,
    meta: &M,
    announcer: &Announcer<'_, Q>,
    up: Upload<'_>,
    body: Option<S::Body>,
) -> Result<(Reply<S::Stream>, FollowUp)> {
    let name = StoredName::version(&up.key, up.id);
    upload::refuse_if_present(meta, &up).await?;
    let (body, head) = match body {
        Some(body) => {
            let (body, head) = store.buffer(body, up.plan.length, SNIFF_BYTES).await?;
            (Some(body), head)
        }
        None => (None, Vec::new()),
    };
    let deadline_ms = up.now_ms.saturating_add(announcer.window_ms).saturating_add(upload::transfer_ms(up.plan.length));
    let pending = PendingCommit {
        owner: up.grant.sub.clone(),
        ..PendingCommit::new(up.key.as_str(), name.as_str(), deadline_ms)
    };
    let (announced, stored) =
        join(announcer.queue.announce(&pending, CHECK_DELAY_S), upload::store_body(store, &name, &up.plan, body)).await;
    let entry = PendingUpload { due_at: deadline_ms, ..upload::journal_entry(&up, &name) };
    let stored = match stored {
        Ok(stored) => stored,
        Err(err) => {
            if announced.is_ok() {
                drop_unrecorded(store, &name).await;
            } else {
                // Nothing else knows of the object: a journal entry lets the sweep finish.
                let entry = upload::journal_entry(&up, &name);
                drop(meta.begin_upload(&entry).await);
                upload::discard(store, meta, &entry).await;
            }
            return Err(err);
        }
    };
    let detected = detect(&head);
    let record = ObjectRecord {
        detected_type: detected.map(str::to_owned),
        type_matches: type_matches(&up.plan.content_type, detected),
        ..upload::record_of(&up, &name, &stored)
    };
    if let Err(why) = announced {
        // The send may have failed after the queue took the message, which then deletes the
        // object once the deadline has passed unless a row names it: so this commit, too,
        // applies only before the deadline.
        crate::log::error(&format!("announcing upload `{name}` failed, journaling it instead: {why}"));
        let entry = upload::journal_entry(&up, &name);
        let journaled = meta.begin_upload(&entry).await;
        let replaced =
            upload::commit_journaled(store, meta, &entry, &record, up.plan.if_absent, Some(deadline_ms), journaled)
                .await?;
        return Ok(upload::created(&up.key, &record, replaced));
    }
    let committed = match meta.commit_announced(&entry.id, &record, deadline_ms, up.plan.if_absent).await {
        Ok(committed) => committed,
        Err(err) => return settle_lost(store, meta, &entry, &record, err).await.map(|r| queued(&up, &record, r)),
    };
    match committed {
        Commit::Committed { replaced } => Ok(queued(&up, &record, replaced)),
        Commit::KeyExists => {
            drop_unrecorded(store, &name).await;
            Err(upload::key_exists())
        }
        Commit::Claimed => {
            drop_unrecorded(store, &name).await;
            Err(upload::outlived())
        }
    }
}

/// The 201 of an announced upload: its event is on the queue already.
fn queued<T>(up: &Upload<'_>, record: &ObjectRecord, replaced: Option<String>) -> (Reply<T>, FollowUp) {
    let (reply, followup) = upload::created(&up.key, record, replaced);
    (reply, FollowUp { queued: true, ..followup })
}

/// A commit whose answer was lost may still have happened. A claimed journal entry (due at the
/// deadline, for the sweep) makes sure no commit applies from now on; the row then tells. If
/// even that fails, the pending-commit message settles it after the deadline.
async fn settle_lost<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    entry: &PendingUpload,
    record: &ObjectRecord,
    err: GatewayError,
) -> Result<Option<String>> {
    let claimed = match meta.begin_upload(entry).await {
        Ok(()) => meta.claim_upload(&entry.key, &entry.id).await.unwrap_or(false),
        Err(_) => false,
    };
    if !claimed {
        return Err(err);
    }
    match meta.get(&record.key).await {
        // The statement that wrote the row also journaled the name it replaced.
        Ok(Some(row)) if row.storage_key == record.storage_key => Ok(None),
        Ok(_) => {
            drop_unrecorded(store, &StoredName::recorded(record.storage_key.clone())).await;
            Err(err)
        }
        Err(_) => Err(err),
    }
}

/// Deletes an announced upload's object that no row names; if that fails, its pending-commit
/// message deletes it after the deadline.
async fn drop_unrecorded<S: Objects>(store: &S, name: &StoredName) {
    if let Err(e) = store.delete(name).await {
        crate::log::error(&format!(
            "cleanup: deleting the unrecorded object `{name}` failed (left to its pending-commit message): {}",
            e.log_line()
        ));
    }
}

/// What a pending-commit message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The version was committed: its event is due.
    Committed(Box<ObjectRecord>),
    /// Not committed, and it still may be: look again after this many seconds.
    Wait(u32),
    /// Never committed and never will be: its stored object has been deleted.
    Abandoned,
}

/// Settles `pending` on attempt `attempt` (from 1). An error (the database or the store
/// failed) is worth another attempt.
pub async fn resolve<S: Objects, M: AnnouncedCommits>(
    store: &S,
    meta: &M,
    pending: &PendingCommit,
    attempt: u32,
) -> Result<Resolution, String> {
    let mut settled = resolve_all(store, meta, &[(pending, attempt)]).await;
    settled.pop().unwrap_or_else(|| Err("nothing was settled".to_owned()))
}

/// Settles a batch of pending-commit messages, each with its attempt, with one database read
/// for all of them (a queue batch's).
pub async fn resolve_all<S: Objects, M: AnnouncedCommits>(
    store: &S,
    meta: &M,
    batch: &[(&PendingCommit, u32)],
) -> Vec<Result<Resolution, String>> {
    if batch.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<(String, String)> = batch.iter().map(|(p, _)| (p.key.clone(), p.storage_key.clone())).collect();
    let found = match meta.announced_versions(&wanted).await {
        Ok(found) => found,
        Err(e) => {
            let why = format!("reading the versions failed: {}", e.log_line());
            return batch.iter().map(|_| Err(why.clone())).collect();
        }
    };
    let mut settled = Vec::with_capacity(batch.len());
    for ((pending, attempt), version) in batch.iter().zip(found.versions) {
        settled.push(match version {
            Some(version) => Ok(Resolution::Committed(Box::new(version))),
            None if found.db_now_ms < pending.deadline_ms => {
                Ok(Resolution::Wait(wait_s(pending.deadline_ms - found.db_now_ms, *attempt)))
            }
            // Past the deadline by the database's clock: no commit can apply any more.
            None => store
                .delete(&StoredName::recorded(pending.storage_key.clone()))
                .await
                .map(|()| Resolution::Abandoned)
                .map_err(|e| format!("deleting the unrecorded object failed: {}", e.log_line())),
        });
    }
    settled
}

/// The journal entry that hands a pending-commit message's stored name to the sweep when the
/// message is about to go to the dead-letter queue unsettled (the database or the store kept
/// failing): due once the deadline has passed, so the sweep deletes the object unless the
/// key's row names it, as for any journaled upload, and keeps trying until it can.
pub fn hand_off(pending: &PendingCommit, now_ms: i64) -> PendingUpload {
    PendingUpload {
        id: format!("pending:{}", pending.storage_key),
        key: pending.key.clone(),
        owner: pending.owner.clone(),
        started_at: now_ms,
        storage_key: pending.storage_key.clone(),
        due_at: now_ms.max(pending.deadline_ms),
    }
}

/// How long to wait before looking again: doubling from one second, but never past the
/// deadline (`left_ms` away), after which one look decides.
fn wait_s(left_ms: i64, attempt: u32) -> u32 {
    let left_s = u32::try_from((left_ms + 999) / 1000).unwrap_or(u32::MAX).max(1);
    let backoff = 1u32 << attempt.saturating_sub(1).min(16);
    backoff.min(left_s)
}
