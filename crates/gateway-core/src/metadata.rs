//! The metadata interface (D1 in production): one row per stored object. The gateway writes
//! a row only after the store has accepted the object, so a row never claims an object that
//! is not there; see `docs/architecture.md` for the failure cases.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::multipart::Part;

/// Row status. Single uploads are written as `complete` once stored.
pub const STATUS_COMPLETE: &str = "complete";

/// One object's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub key: String,
    pub owner: String,
    pub size: u64,
    pub content_type: String,
    /// Quoted HTTP entity tag.
    pub etag: String,
    /// Base64 SHA-256 the client sent and the store verified.
    pub checksum_sha256: Option<String>,
    /// Base64 MD5 the client sent and the store verified.
    pub checksum_md5: Option<String>,
    pub status: String,
    /// What the follow-up's content sniffing found.
    pub detected_type: Option<String>,
    /// Whether the detected type agrees with `content_type` (`None`: unknown format).
    pub type_matches: Option<bool>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// Position in a newest-first listing: the last row returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCursor {
    pub created_at: i64,
    pub key: String,
}

/// An upload in flight: written while the body is streamed, removed when the object's row
/// is committed or the upload fails. One left behind marks a key whose write was cut off,
/// for the cleanup sweep to reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    pub id: String,
    pub key: String,
    pub owner: String,
    pub started_at: i64,
}

/// A multipart upload in progress. `id` is the gateway's own id, the one clients see;
/// `store_upload_id` is the store's and never leaves the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    pub id: String,
    pub key: String,
    pub owner: String,
    pub store_upload_id: String,
    pub content_type: String,
    /// The total size declared at the start, when the client gave one.
    pub declared_size: Option<u64>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub expires_at: i64,
}

/// A direct-to-store upload URL handed out and not yet confirmed: what was signed, so the
/// confirm step can check the object against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedUpload {
    pub nonce: String,
    pub key: String,
    pub owner: String,
    pub content_type: String,
    /// The exact size signed into the URL, when the client declared one.
    pub size: Option<u64>,
    /// The most the object may hold.
    pub max_size: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub expires_at: i64,
}

/// The metadata store. No `Send` bound: JS handles are not `Send`.
#[allow(async_fn_in_trait)]
pub trait MetadataStore {
    /// Journals an upload (concurrently with the store write).
    async fn begin_upload(&self, pending: &PendingUpload) -> Result<()>;
    /// Atomically writes the object's row and clears its journal entry. An existing row is
    /// replaced only by a record whose `completed_at` is not older: when two uploads of a key
    /// race, the row describes the one the store kept (the last to finish).
    async fn commit_upload(&self, pending_id: &str, rec: &ObjectRecord) -> Result<()>;
    /// Clears the journal entry of an upload that stored nothing.
    async fn abandon_upload(&self, pending_id: &str) -> Result<()>;
    /// Removes the row of `key`, if any.
    async fn remove(&self, key: &str) -> Result<()>;
    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>>;
    /// Journal entries started before `before_ms`, oldest first.
    async fn stale_uploads(&self, before_ms: i64, limit: u32) -> Result<Vec<PendingUpload>>;
    /// Moves a journal entry's start to `started_at`: a deferred entry steps to the back of
    /// the queue instead of holding up the entries behind it.
    async fn defer_upload(&self, id: &str, started_at: i64) -> Result<()>;
    /// Whether an upload of `key` other than `except_id`, started after `since_ms`, is journaled.
    async fn other_upload_pending(&self, key: &str, except_id: &str, since_ms: i64) -> Result<bool>;
    /// `owner`'s complete rows whose key starts with `prefix`, newest first, after `cursor`.
    async fn list(
        &self,
        owner: &str,
        prefix: &str,
        limit: u32,
        cursor: Option<&ListCursor>,
    ) -> Result<Vec<ObjectRecord>>;
    /// Records the follow-up's finding on the row of `key`, only if it still has `etag`
    /// (a newer upload of the same key must not get an older object's verdict).
    async fn record_detection(
        &self,
        key: &str,
        etag: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()>;

    /// Records a started multipart upload.
    async fn create_multipart(&self, upload: &MultipartUpload) -> Result<()>;
    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>>;
    /// The parts recorded for upload `id`, in any order.
    async fn parts(&self, id: &str) -> Result<Vec<Part>>;
    /// Records a stored part, replacing an earlier part with the same number.
    async fn record_part(&self, id: &str, part: &Part) -> Result<()>;
    /// Atomically writes the assembled object's row (as `commit_upload` does, clearing the
    /// journal entry `id`) and forgets the multipart upload and its parts.
    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<()>;
    /// Forgets a multipart upload and its parts.
    async fn remove_multipart(&self, id: &str) -> Result<()>;
    /// Multipart uploads whose `expires_at` is before `now_ms`, oldest first.
    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>>;

    /// Records a direct upload URL and journals its key (as an upload starting at the URL's
    /// expiry, so the sweep reconciles the key only after the URL can no longer be used).
    async fn record_presigned(&self, p: &PresignedUpload) -> Result<()>;
    /// The unconfirmed direct upload URLs `owner` was given for `key`, newest first.
    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>>;
    /// Atomically writes the confirmed object's row (as `commit_upload`, clearing journal
    /// entry `nonce`) and forgets the presigned upload.
    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<()>;
    /// Spends a single-use URL's nonce: `true` the first time, `false` ever after (until
    /// `expires_at` has passed and the sweep purged it, when the URL is useless anyway).
    async fn use_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool>;
    /// Drops spent nonces and unconfirmed presigned uploads that expired before `before_ms`.
    async fn purge_presigned(&self, before_ms: i64) -> Result<()>;
}
