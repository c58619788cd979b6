//! One metadata call as it travels to a shard, and its execution there.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::{Event, EventOutbox};
use crate::metadata::{
    ListCursor, MetadataStore, MultipartUpload, ObjectRecord, PartAttempt, PendingUpload, PresignedUpload, TusAdvance,
    TusUpload,
};
use crate::multipart::rules::Part;

/// A metadata call: one variant per method of the metadata interfaces, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Call {
    Get { key: String },
    List { owner: String, prefix: String, limit: u32, cursor: Option<ListCursor> },
    DeleteRow { row: ObjectRecord, now_ms: i64 },
    RecordDetection { key: String, storage_key: String, detected: Option<String>, matches: Option<bool> },
    BeginUpload { pending: PendingUpload },
    CommitUpload { pending_id: String, rec: ObjectRecord, if_absent: bool, deadline_ms: Option<i64> },
    AbandonUpload { key: String, pending_id: String },
    DueUploads { now_ms: i64, limit: u32 },
    ClaimUpload { key: String, id: String },
    CreateMultipart { upload: MultipartUpload },
    Multipart { id: String },
    Parts { id: String, now_ms: i64 },
    OtherParts { id: String, number: u16 },
    ReservePart { attempt: PartAttempt, limit: u64, now_ms: i64 },
    ReleasePart { id: String, attempt: String },
    RecordPart { id: String, attempt: String, part: Part },
    CompleteMultipart { id: String, rec: ObjectRecord },
    EndMultipart { id: String },
    RemoveMultipart { id: String },
    ExpiredMultiparts { now_ms: i64, limit: u32 },
    RecordPresigned { presigned: PresignedUpload, due_at: i64 },
    Presigned { key: String, owner: String },
    ConfirmPresigned { nonce: String, rec: ObjectRecord },
    UseNonce { key: String, nonce: String, expires_at: i64 },
    PurgePresigned { before_ms: i64 },
    CreateTus { upload: TusUpload },
    Tus { id: String },
    LeaseTus { id: String, offset: u64, lease: String, until_ms: i64, now_ms: i64 },
    ReleaseTus { id: String, lease: String },
    AdvanceTus { id: String, lease: String, advance: TusAdvance },
    RemoveTus { id: String },
    ExpiredTus { now_ms: i64, limit: u32 },
    CommitAnnounced { pending_id: String, rec: ObjectRecord, deadline_ms: i64, if_absent: bool },
    AnnouncedVersions { wanted: Vec<(String, String)> },
    PurgeReplaced { before_ms: i64 },
    UnsentEvents { before_ms: i64, limit: u32 },
    ClearEvents { sent: Vec<Event> },
}

/// A call's answer as it travels back: its result, or the error with its kind's code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Ok(serde_json::Value),
    Err { code: String, detail: String, internal: Option<String> },
}

impl Answer {
    pub fn of(result: Result<serde_json::Value>) -> Answer {
        match result {
            Ok(v) => Answer::Ok(v),
            Err(e) => Answer::Err { code: e.code().to_owned(), detail: e.detail, internal: e.internal },
        }
    }

    /// The result the shard sent, as `T`.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        match self {
            Answer::Ok(v) => serde_json::from_value(v).map_err(|e| garbled(&e.to_string())),
            Answer::Err { code, detail, internal } => {
                let kind = ErrorKind::ALL.iter().copied().find(|k| k.code() == code).unwrap_or(ErrorKind::Internal);
                Err(GatewayError { kind, detail, internal })
            }
        }
    }
}

/// A shard's answer that could not be read.
pub fn garbled(detail: &str) -> GatewayError {
    GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", format!("shard answer: {detail}"))
}

fn json<T: Serialize>(v: Result<T>) -> Result<serde_json::Value> {
    serde_json::to_value(v?).map_err(|e| garbled(&e.to_string()))
}

/// Runs `call` against `m` (a shard's own database).
pub async fn execute<M: MetadataStore + EventOutbox>(m: &M, call: Call) -> Result<serde_json::Value> {
    use Call::*;
    match call {
        Get { key } => json(m.get(&key).await),
        List { owner, prefix, limit, cursor } => json(m.list(&owner, &prefix, limit, cursor.as_ref()).await),
        DeleteRow { row, now_ms } => json(m.delete_row(&row, now_ms).await),
        RecordDetection { key, storage_key, detected, matches } => {
            json(m.record_detection(&key, &storage_key, detected.as_deref(), matches).await)
        }
        BeginUpload { pending } => json(m.begin_upload(&pending).await),
        CommitUpload { pending_id, rec, if_absent, deadline_ms } => {
            json(m.commit_upload(&pending_id, &rec, if_absent, deadline_ms).await)
        }
        AbandonUpload { key, pending_id } => json(m.abandon_upload(&key, &pending_id).await),
        DueUploads { now_ms, limit } => json(m.due_uploads(now_ms, limit).await),
        ClaimUpload { key, id } => json(m.claim_upload(&key, &id).await),
        CreateMultipart { upload } => json(m.create_multipart(&upload).await),
        Multipart { id } => json(m.multipart(&id).await),
        Parts { id, now_ms } => json(m.parts(&id, now_ms).await),
        OtherParts { id, number } => json(m.other_parts(&id, number).await),
        ReservePart { attempt, limit, now_ms } => json(m.reserve_part(&attempt, limit, now_ms).await),
        ReleasePart { id, attempt } => json(m.release_part(&id, &attempt).await),
        RecordPart { id, attempt, part } => json(m.record_part(&id, &attempt, &part).await),
        CompleteMultipart { id, rec } => json(m.complete_multipart(&id, &rec).await),
        EndMultipart { id } => json(m.end_multipart(&id).await),
        RemoveMultipart { id } => json(m.remove_multipart(&id).await),
        ExpiredMultiparts { now_ms, limit } => json(m.expired_multiparts(now_ms, limit).await),
        RecordPresigned { presigned, due_at } => json(m.record_presigned(&presigned, due_at).await),
        Presigned { key, owner } => json(m.presigned(&key, &owner).await),
        ConfirmPresigned { nonce, rec } => json(m.confirm_presigned(&nonce, &rec).await),
        UseNonce { key, nonce, expires_at } => json(m.use_nonce(&key, &nonce, expires_at).await),
        PurgePresigned { before_ms } => json(m.purge_presigned(before_ms).await),
        CreateTus { upload } => json(m.create_tus(&upload).await),
        Tus { id } => json(m.tus(&id).await),
        LeaseTus { id, offset, lease, until_ms, now_ms } => {
            json(m.lease_tus(&id, offset, &lease, until_ms, now_ms).await)
        }
        ReleaseTus { id, lease } => json(m.release_tus(&id, &lease).await),
        AdvanceTus { id, lease, advance } => json(m.advance_tus(&id, &lease, &advance).await),
        RemoveTus { id } => json(m.remove_tus(&id).await),
        ExpiredTus { now_ms, limit } => json(m.expired_tus(now_ms, limit).await),
        CommitAnnounced { pending_id, rec, deadline_ms, if_absent } => {
            json(m.commit_announced(&pending_id, &rec, deadline_ms, if_absent).await)
        }
        AnnouncedVersions { wanted } => json(m.announced_versions(&wanted).await),
        PurgeReplaced { before_ms } => json(m.purge_replaced(before_ms).await),
        UnsentEvents { before_ms, limit } => json(m.unsent_events(before_ms, limit).await),
        ClearEvents { sent } => json(m.clear_events(&sent).await),
    }
}
