//! `PUT /files/{key}`: every check that can refuse an upload runs in [`plan`] from the request
//! head alone, before a byte of the body is read; [`execute`] then streams the body to the
//! store and records the row.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures_util::future::join;
use serde::Serialize;

use crate::config::Config;
use crate::content_type::{allowed, essence};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::Event;
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::{parse_length, Reply, RequestHead};
use crate::key::{ObjectKey, StoredName};
use crate::metadata::{garbage_id, Commit, ObjectIndex, ObjectRecord, PendingUpload, UploadJournal, STATUS_COMPLETE};
use crate::store::{ObjectMeta, Objects, PutObject};
use crate::sweep::DEFAULT_PENDING_GRACE_MS;
use crate::time::rfc3339;

/// The declared type when the client sends none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// A checked upload, ready to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPlan {
    pub length: u64,
    /// The declared `Content-Type`, normalised to its essence.
    pub content_type: String,
    pub md5: Option<[u8; 16]>,
    pub sha256: Option<[u8; 32]>,
    pub if_absent: bool,
}

fn bad(detail: &str) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

fn decode_digest<const N: usize>(value: &str, header: &str) -> Result<[u8; N]> {
    B64.decode(value.trim())
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or_else(|| bad(&format!("{header} must be the base64 of a {N}-byte digest")))
}

/// The effective byte limit for this caller: the smaller of `MAX_UPLOAD_BYTES` and `max_size`.
pub fn size_limit(config: &Config, grant: &Grant) -> u64 {
    grant.max_size.map_or(config.max_upload_bytes, |m| m.min(config.max_upload_bytes))
}

/// Refuses with 415 unless both the configuration and the token allow `content_type`.
pub fn check_content_type(config: &Config, grant: &Grant, content_type: &str) -> Result<()> {
    if allowed(config.allowed_content_types.as_deref(), content_type)
        && allowed(grant.content_types.as_deref(), content_type)
    {
        Ok(())
    } else {
        Err(GatewayError::new(ErrorKind::UnsupportedMediaType, format!("content type `{content_type}` is not allowed")))
    }
}

/// Decides from the head alone whether the upload may proceed.
pub fn plan(config: &Config, grant: &Grant, key: &ObjectKey, head: &RequestHead) -> Result<UploadPlan> {
    grant.authorize(Scope::Write, key)?;
    let length = match head.header("content-length") {
        None => return Err(GatewayError::new(ErrorKind::LengthRequired, "uploads need a Content-Length header")),
        Some(v) => parse_length(v).ok_or_else(|| bad("Content-Length must be a whole number of bytes"))?,
    };
    let UploadPlan { content_type, .. } = plan_of(config, grant, length, head.header("content-type"))?;
    let md5 = head.header("content-md5").map(|v| decode_digest::<16>(v, "Content-MD5")).transpose()?;
    let sha256 =
        head.header("x-amz-checksum-sha256").map(|v| decode_digest::<32>(v, "x-amz-checksum-sha256")).transpose()?;
    let if_absent = match head.header("if-none-match").map(str::trim) {
        None => false,
        Some("*") => true,
        Some(_) => return Err(bad("uploads accept only `If-None-Match: *`")),
    };
    if head.headers.contains_key("if-match") {
        return Err(bad("uploads do not support If-Match"));
    }
    Ok(UploadPlan { length, content_type, md5, sha256, if_absent })
}

/// `413` unless a body of `length` bytes is within this caller's limit.
pub fn check_length(config: &Config, grant: &Grant, length: u64) -> Result<()> {
    let limit = size_limit(config, grant);
    if length > limit {
        return Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("the body is {length} bytes; the limit for this upload is {limit} bytes"),
        ));
    }
    Ok(())
}

/// The plan of a body of `length` bytes declaring `content_type` (a header's value), with no
/// digest or precondition: the size and type rules every upload meets, for a caller already
/// authorised to write its key.
pub fn plan_of(config: &Config, grant: &Grant, length: u64, content_type: Option<&str>) -> Result<UploadPlan> {
    check_length(config, grant, length)?;
    let content_type = match content_type {
        None => DEFAULT_CONTENT_TYPE.to_owned(),
        Some(v) => essence(v).ok_or_else(|| {
            GatewayError::new(ErrorKind::UnsupportedMediaType, "the Content-Type is not a valid media type")
        })?,
    };
    check_content_type(config, grant, &content_type)?;
    Ok(UploadPlan { length, content_type, md5: None, sha256: None, if_absent: false })
}

/// The `201 Created` body.
#[derive(Debug, Serialize)]
pub struct UploadResult<'a> {
    pub key: &'a str,
    pub size: u64,
    pub etag: &'a str,
    pub content_type: &'a str,
    pub uploaded_at: String,
}

/// A key as a `/files/...` path, each segment percent-encoded.
pub fn location(key: &ObjectKey) -> String {
    key.path()
}

/// One checked upload: who, where, what, and this request's id and time.
pub struct Upload<'a> {
    pub grant: &'a Grant,
    pub key: ObjectKey,
    pub plan: UploadPlan,
    /// The request id, which keys the upload's journal entry.
    pub id: &'a str,
    pub now_ms: i64,
    /// The new version's `scan` ([`crate::quarantine::initial_scan`]).
    pub scan: Option<String>,
    /// Metadata the approval hook set (JSON), recorded with the version.
    pub metadata: Option<String>,
}

/// Journals the upload while streaming the body to its own stored name, then commits the row
/// that makes the key serve it. A 2xx always means the row names this object; anything else
/// leaves the key as it was: a failed or refused write only ever touched its own stored name,
/// which is deleted again (or, when even that fails, left to the sweep by the journal entry).
///
/// The journal write runs concurrently with the store write rather than before it: it is
/// needed only once the object exists, and doing it first would add a database round trip
/// to every upload. If it fails it is tried once more before the commit, which needs it.
pub async fn execute<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    up: Upload<'_>,
    body: Option<S::Body>,
) -> Result<(Reply<S::Stream>, FollowUp)> {
    let name = StoredName::version(&up.key, up.id);
    let pending = journal_entry(&up, &name);
    refuse_if_present(meta, &up).await?;
    let (journaled, stored) = join(meta.begin_upload(&pending), store_body(store, &name, &up.plan, body)).await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(err) => {
            discard(store, meta, &pending).await;
            return Err(err);
        }
    };
    let record = record_of(&up, &name, &stored);
    let replaced = commit_journaled(store, meta, &pending, &record, up.plan.if_absent, None, journaled).await?;
    Ok(created(&up.key, &record, replaced))
}

/// The journal entry of upload `up` to stored name `name`.
pub(crate) fn journal_entry(up: &Upload<'_>, name: &StoredName) -> PendingUpload {
    PendingUpload {
        id: up.id.to_owned(),
        key: up.key.to_string(),
        owner: up.grant.sub.clone(),
        started_at: up.now_ms,
        storage_key: name.to_string(),
        due_at: due_at(up.now_ms, up.plan.length),
    }
}

/// An `If-None-Match: *` upload to a key that has an object is refused before its body is read
/// (the commit checks again).
pub(crate) async fn refuse_if_present<M: ObjectIndex>(meta: &M, up: &Upload<'_>) -> Result<()> {
    if up.plan.if_absent && meta.get(up.key.as_str()).await?.is_some() {
        return Err(key_exists());
    }
    Ok(())
}

/// The row of upload `up`, now stored under `name`.
pub(crate) fn record_of(up: &Upload<'_>, name: &StoredName, stored: &ObjectMeta) -> ObjectRecord {
    ObjectRecord {
        checksum_sha256: up.plan.sha256.map(|d| B64.encode(d)),
        checksum_md5: up.plan.md5.map(|d| B64.encode(d)),
        scan: up.scan.clone(),
        metadata: up.metadata.clone(),
        ..object_record(up.grant, &up.key, &up.plan.content_type, name, stored, up.now_ms)
    }
}

/// Commits `record` through journal entry `pending` (before `deadline_ms` by the database's
/// clock, if given), whose write `journaled` reports (tried once more if it failed). The
/// replaced stored name, if the commit happened; otherwise the object is removed (or left to
/// the sweep) and the refusal returned.
pub(crate) async fn commit_journaled<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    pending: &PendingUpload,
    record: &ObjectRecord,
    if_absent: bool,
    deadline_ms: Option<i64>,
    journaled: Result<()>,
) -> Result<Option<String>> {
    if let Err(err) = journaled {
        if meta.begin_upload(pending).await.is_err() {
            discard(store, meta, pending).await;
            return Err(err);
        }
    }
    let committed = match meta.commit_upload(&pending.id, record, if_absent, deadline_ms).await {
        Ok(committed) => committed,
        Err(err) => recover(store, meta, pending, err).await?,
    };
    committed_or_discard(store, meta, pending, committed).await
}

/// The 412 of an `If-None-Match: *` upload whose key has an object.
pub(crate) fn key_exists() -> GatewayError {
    GatewayError::new(ErrorKind::PreconditionFailed, "an object with this key already exists")
}

/// When the sweep may treat an upload of `length` bytes started at `started_ms` as abandoned:
/// after the grace period plus the time the body takes at a slow but plausible pace, so a
/// long transfer is never swept while it streams (and if it still is, its commit fails).
pub fn due_at(started_ms: i64, length: u64) -> i64 {
    started_ms.saturating_add(DEFAULT_PENDING_GRACE_MS).saturating_add(transfer_ms(length))
}

/// How long `length` bytes take at [`SLOWEST_UPLOAD_BYTES_PER_SECOND`].
pub fn transfer_ms(length: u64) -> i64 {
    i64::try_from(length.saturating_mul(1000) / SLOWEST_UPLOAD_BYTES_PER_SECOND).unwrap_or(i64::MAX)
}

/// The slowest pace the sweep waits for (16 KiB/s: 100 MB in under two hours).
pub const SLOWEST_UPLOAD_BYTES_PER_SECOND: u64 = 16 * 1024;

/// A commit whose answer was lost may still have happened, and one refused as `Claimed` may
/// find its version committed by an earlier request for the same upload (a repeated confirm or
/// completion): the row says whether it was. If it cannot be read either, the error stands and
/// the journal entry stays for the sweep.
pub(crate) async fn settle<M: ObjectIndex + UploadJournal>(
    meta: &M,
    rec: &ObjectRecord,
    result: Result<Commit>,
) -> Result<Commit> {
    let named = |row: &Option<ObjectRecord>| row.as_ref().is_some_and(|row| row.storage_key == rec.storage_key);
    match result {
        // The batch that wrote the row also journaled the name it replaced; the version is
        // committed once, by whichever request did it, and nothing it replaced is ours.
        Err(err) => match meta.get(&rec.key).await {
            Ok(row) if named(&row) => Ok(Commit::Committed { replaced: None }),
            _ => Err(err),
        },
        Ok(Commit::Claimed) => match meta.get(&rec.key).await {
            Ok(row) if named(&row) => Ok(Commit::Committed { replaced: None }),
            _ => Ok(Commit::Claimed),
        },
        ok => ok,
    }
}

/// A commit that failed may still have happened (its answer lost). Claiming the journal entry
/// settles it: after the claim no commit through the entry can apply, so the row then tells
/// for good. Named: the upload stands. Not named: the object is deleted and the error stands.
/// If even the claim fails, the entry stays for the sweep, which does the same later.
async fn recover<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    pending: &PendingUpload,
    err: GatewayError,
) -> Result<Commit> {
    // `false`: the entry is gone, cleared by the commit itself or settled by the sweep.
    let Ok(claimed) = meta.claim_upload(&pending.key, &pending.id).await else { return Err(err) };
    match meta.get(&pending.key).await {
        Ok(Some(row)) if row.storage_key == pending.storage_key => Ok(Commit::Committed { replaced: None }),
        Ok(_) if claimed => {
            discard(store, meta, pending).await;
            Err(err)
        }
        _ => Err(err),
    }
}

/// The replaced name of a commit that happened; otherwise the upload's own object is removed
/// and the refusal returned.
pub(crate) async fn committed_or_discard<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    pending: &PendingUpload,
    commit: Commit,
) -> Result<Option<String>> {
    match commit {
        Commit::Committed { replaced } => Ok(replaced),
        Commit::KeyExists => {
            discard(store, meta, pending).await;
            Err(key_exists())
        }
        // The sweep owns the entry now and deletes the object.
        Commit::Claimed => Err(outlived()),
    }
}

/// The refusal of a commit that came too late.
pub(crate) fn outlived() -> GatewayError {
    GatewayError::new(
        ErrorKind::StorageUnavailable,
        "the upload outlived the time allowed for it and was not recorded; send it again",
    )
}

/// Removes an upload's own stored object, then its journal entry. The entry is cleared only
/// once the delete succeeded: until then it is what lets the sweep finish the job.
pub(crate) async fn discard<S: Objects, M: UploadJournal>(store: &S, meta: &M, pending: &PendingUpload) {
    discard_named(store, meta, &StoredName::recorded(pending.storage_key.clone()), &pending.id).await;
}

/// [`discard`] by stored name and journal entry id.
pub(crate) async fn discard_named<S: Objects, M: UploadJournal>(store: &S, meta: &M, name: &StoredName, entry: &str) {
    if let Err(problem) = delete_and_clear(store, meta, name, entry, "the unrecorded object").await {
        crate::log::error(&problem);
    }
}

/// Deletes stored name `name` (`what` says which object it is, for the log), then clears its
/// journal entry `entry`, only once the delete succeeded. The problem, if either failed.
async fn delete_and_clear<S: Objects, M: UploadJournal>(
    store: &S,
    meta: &M,
    name: &StoredName,
    entry: &str,
    what: &str,
) -> std::result::Result<(), String> {
    match store.delete(name).await {
        Ok(()) => meta
            .abandon_upload(name.as_str(), entry)
            .await
            .map_err(|e| cleanup_problem("clearing the journal entry of", name, &e)),
        Err(e) => Err(cleanup_problem(&format!("deleting {what}"), name, &e)),
    }
}

/// Deletes the version an upload replaced and clears its journal entry (or leaves both for the
/// sweep). Returns the problem, for the log.
pub async fn discard_replaced<S: Objects, M: UploadJournal>(store: &S, meta: &M, old: &StoredName) -> Option<String> {
    delete_and_clear(store, meta, old, &garbage_id(old.as_str()), "the replaced version").await.err()
}

fn cleanup_problem(op: &str, name: &StoredName, err: &GatewayError) -> String {
    format!("cleanup: {op} `{name}` failed (left to the sweep): {}", err.log_line())
}

/// A cleanup that failed: logged with the stored name and the operation; the journal entry
/// that remains lets the sweep finish it.
pub(crate) fn log_cleanup(op: &str, name: &StoredName, err: &GatewayError) {
    crate::log::error(&cleanup_problem(op, name, err));
}

pub(crate) async fn store_body<S: Objects>(
    store: &S,
    name: &StoredName,
    plan: &UploadPlan,
    body: Option<S::Body>,
) -> Result<ObjectMeta> {
    let put = PutObject {
        name: name.clone(),
        body,
        length: plan.length,
        content_type: plan.content_type.clone(),
        md5: plan.md5,
        sha256: plan.sha256,
    };
    let stored = store.put(put).await?;
    if stored.size != plan.length {
        // The store took a different number of bytes than declared: the caller removes it.
        return Err(crate::store::length_mismatch());
    }
    Ok(stored)
}

/// The row of an object the store now holds.
pub(crate) fn object_record(
    grant: &Grant,
    key: &ObjectKey,
    content_type: &str,
    name: &StoredName,
    stored: &ObjectMeta,
    now_ms: i64,
) -> ObjectRecord {
    ObjectRecord {
        key: key.to_string(),
        owner: grant.sub.clone(),
        size: stored.size,
        content_type: content_type.to_owned(),
        etag: stored.etag.clone(),
        checksum_sha256: None,
        checksum_md5: None,
        status: STATUS_COMPLETE.to_owned(),
        detected_type: None,
        type_matches: None,
        created_at: now_ms,
        completed_at: Some(stored.uploaded_ms),
        storage_key: name.to_string(),
        scan: None,
        metadata: None,
    }
}

/// The `201 Created` reply for the committed object `record` and its follow-up work.
pub(crate) fn created<T>(key: &ObjectKey, record: &ObjectRecord, replaced: Option<String>) -> (Reply<T>, FollowUp) {
    let body = UploadResult {
        key: key.as_str(),
        size: record.size,
        etag: &record.etag,
        content_type: &record.content_type,
        uploaded_at: rfc3339(record.completed_at.unwrap_or(record.created_at)),
    };
    let reply = Reply::json(201, &body).with_header("ETag", record.etag.clone()).with_header("Location", location(key));
    (reply, FollowUp { event: Event::uploaded(record), replaced: replaced.map(StoredName::recorded), queued: false })
}
