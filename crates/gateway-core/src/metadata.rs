//! The metadata interfaces (D1 in production), one per table group: [`ObjectIndex`],
//! [`UploadJournal`], [`MultipartIndex`], [`PresignLedger`]. One row per key names the stored
//! object that key serves. Every write goes to a stored name of its own ([`crate::key::StoredName`]) and
//! becomes visible only when its commit makes the row name it; the upload journal owns every
//! stored name no row names yet (or any longer), so the sweep can delete it. See
//! `docs/architecture.md` for the guarantees and the failure cases.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::multipart::rules::{OtherParts, Part};

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
    /// The stored name of the version this key serves.
    pub storage_key: String,
    /// [`SCAN_PENDING`] while a quarantined version waits for its verdict (served to nobody);
    /// `None` once cleared, and without quarantine.
    pub scan: Option<String>,
    /// Metadata the approval hook set: a JSON object of strings.
    pub metadata: Option<String>,
}

/// The `scan` of a quarantined version waiting for its verdict.
pub const SCAN_PENDING: &str = "pending";

/// Position in a newest-first listing: the last row returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCursor {
    pub created_at: i64,
    pub key: String,
}

/// A journal entry: it owns one stored name that no row may name yet, or any longer. Written
/// while an upload's body streams (removed by its commit), and for the object a commit or a
/// delete replaced (removed once that object is deleted). Once `due_at` has passed, the sweep
/// claims the entry (no commit can succeed after that) and deletes the stored name unless the
/// key's row names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    pub id: String,
    pub key: String,
    pub owner: String,
    pub started_at: i64,
    /// The stored name the entry owns.
    pub storage_key: String,
    /// When the sweep may act on it, milliseconds since the Unix epoch: late enough that the
    /// upload cannot still be streaming at a reasonable pace.
    pub due_at: i64,
}

/// The journal entry id for a stored name that must be deleted (a replaced or deleted object).
pub fn garbage_id(storage_key: &str) -> String {
    format!("gc:{storage_key}")
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// The row was removed: the version it named.
    Removed(Box<ObjectRecord>),
    /// The key has no row.
    NoRow,
    /// The row names a version created after the delete began (an upload that started later,
    /// as after a client gave up on this delete): it stays.
    Newer,
}

/// How a commit ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Commit {
    /// The row names the new object and the journal entry is gone. `replaced` is the stored
    /// name the row named before, now journaled for deletion; never the committed name itself
    /// (a repeated commit of the row's own version replaces nothing).
    Committed { replaced: Option<String> },
    /// The commit was `if_absent` and the key has a row: nothing changed.
    KeyExists,
    /// The journal entry is gone or claimed by the sweep (the upload outlived its due time),
    /// or the multipart upload or presigned upload committed through it is gone (completed,
    /// confirmed or aborted already): nothing changed. The row tells whether the version was
    /// committed before; if not, the sweep deletes the object.
    Claimed,
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
    /// Where the store assembles the object.
    pub storage_key: String,
    /// A lower limit on the object's size that the approval hook set (bytes).
    pub max_size: Option<u64>,
    /// Metadata the approval hook set, recorded with the object (a JSON object of strings).
    pub metadata: Option<String>,
}

/// One request's attempt to store a part: the reservation it holds while its body streams,
/// which only that attempt releases or turns into the recorded part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartAttempt {
    pub upload_id: String,
    /// The request's own id.
    pub attempt: String,
    pub number: u16,
    pub size: u64,
    /// After this (ms since the Unix epoch) the reservation no longer counts: the attempt
    /// cannot still be streaming at a plausible pace, its Worker is gone.
    pub until_ms: i64,
}

impl PartAttempt {
    /// The reservation of the attempt's bytes against the quota of `owner`, writing to `key`:
    /// its id is the attempt's, so recording the part or releasing the attempt ends it too.
    pub fn quota_reservation<'a>(&'a self, key: &'a str, owner: &'a str) -> Reservation<'a> {
        Reservation {
            id: &self.attempt,
            owner,
            key,
            bytes: self.size,
            objects: 0,
            until_ms: self.until_ms,
            replaces: false,
        }
    }
}

/// What [`MultipartIndex::prepare_part`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreparedPart {
    pub upload: Option<MultipartUpload>,
    pub others: OtherParts,
    /// Whether the attempt's bytes are reserved (against the quota too, where one was given).
    pub reserved: bool,
    /// Whether the attempt's bytes would have taken the owner past the quota given: nothing
    /// is reserved then.
    pub over_quota: bool,
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
    /// The stored name the URL writes to.
    pub storage_key: String,
    /// Metadata the approval hook set, recorded with the object at its confirm.
    pub metadata: Option<String>,
}

/// How many unconfirmed direct upload URLs [`PresignLedger::presigned`] returns for one key
/// and owner, newest first: a confirm matches the object against these.
pub const PRESIGNED_PER_KEY: u32 = 20;

/// One version condemned by quarantine (a scanner's `infected` verdict, or no verdict in time):
/// its ETag and the reason its event gives.
#[derive(Debug, Clone, Copy)]
pub struct Condemned<'a> {
    pub etag: &'a str,
    pub reason: &'a str,
}

/// The object index (table `objects`): one row per key, naming the version it serves. No
/// `Send` bound on any of these traits: JS handles are not `Send`.
#[allow(async_fn_in_trait)]
pub trait ObjectIndex {
    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>>;
    /// `owner`'s complete rows whose key starts with `prefix`, newest first, after `cursor`.
    async fn list(
        &self,
        owner: &str,
        prefix: &str,
        limit: u32,
        cursor: Option<&ListCursor>,
    ) -> Result<Vec<ObjectRecord>>;
    /// Atomically removes the row of `key` if the version it names was created at or before
    /// `now_ms` (when the delete began), journals that version's stored name for deletion (due
    /// at `now_ms`) and records its `object.deleted` event, with id `event_id`, in the outbox.
    /// With `condemned`, only if the row names that version (by ETag), and the event says why
    /// (otherwise [`Deletion::Newer`]).
    async fn delete_key(
        &self,
        key: &str,
        now_ms: i64,
        event_id: &str,
        condemned: Option<Condemned<'_>>,
    ) -> Result<Deletion>;
    /// Serves the version of `key` whose ETag is `etag`, if the row names it and it is waiting
    /// for its verdict (`scan` becomes `None`). The row as it is after, if there is one.
    async fn clear_scan(&self, key: &str, etag: &str) -> Result<Option<ObjectRecord>>;
    /// Up to `limit` quarantined versions created before `before_ms`, oldest first: the ones
    /// whose verdict is overdue.
    async fn overdue_scans(&self, before_ms: i64, limit: u32) -> Result<Vec<ObjectRecord>>;
    /// Records the follow-up's finding on the row of `key`, only while it names the stored
    /// object that was sniffed, `storage_key` (a newer version must not get another object's
    /// verdict, even one with the same ETag).
    async fn record_detection(
        &self,
        key: &str,
        storage_key: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()>;
}

/// The upload journal (table `pending_uploads`): the owner of every stored name no row names.
#[allow(async_fn_in_trait)]
pub trait UploadJournal {
    /// Journals an upload (concurrently with the store write).
    async fn begin_upload(&self, pending: &PendingUpload) -> Result<()>;
    /// Atomically, and only while journal entry `pending_id` is unclaimed: makes the row of
    /// `rec.key` name `rec.storage_key`, journals the stored name it named before for deletion,
    /// records the `object.uploaded` event in the outbox ([`crate::events::EventOutbox`]) and clears the
    /// entry. With `if_absent`, nothing changes if the key has a row. With `deadline_ms`, only
    /// while the database's own clock is before it (`Claimed` after): the journaled fallback of
    /// an announced upload, whose pending-commit message may exist and delete the object once
    /// the deadline has passed.
    async fn commit_upload(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        if_absent: bool,
        deadline_ms: Option<i64>,
    ) -> Result<Commit>;
    /// Clears a journal entry (its stored name is known to be gone, or is named by the row).
    /// `key` is the entry's key or one of its stored names: like every call naming a key, it
    /// decides which database holds the entry ([`crate::shard`]).
    async fn abandon_upload(&self, key: &str, pending_id: &str) -> Result<()>;
    /// Journal entries due by `now_ms`, oldest first.
    async fn due_uploads(&self, now_ms: i64, limit: u32) -> Result<Vec<PendingUpload>>;
    /// Marks a journal entry as the sweep's: no commit through it can succeed afterwards.
    /// `false` if the entry is gone. `key` as for [`UploadJournal::abandon_upload`].
    async fn claim_upload(&self, key: &str, id: &str) -> Result<bool>;
}

/// How long a journal entry waits before the sweep may act on it (plus, for an upload, the
/// time its body takes at a slow pace: [`crate::upload::due_at`]).
pub const DEFAULT_PENDING_GRACE_MS: i64 = 60 * 60 * 1000;

/// The journal entry of multipart upload `u`'s stored name, due a grace period after the upload
/// expires (a completion is refused from its expiry on, so none is still assembling then).
pub fn multipart_entry(u: &MultipartUpload) -> PendingUpload {
    PendingUpload {
        id: u.id.clone(),
        key: u.key.clone(),
        owner: u.owner.clone(),
        started_at: u.created_at,
        storage_key: u.storage_key.clone(),
        due_at: u.expires_at.saturating_add(DEFAULT_PENDING_GRACE_MS),
    }
}

/// The multipart index (tables `multipart_uploads`, `multipart_parts`).
#[allow(async_fn_in_trait)]
pub trait MultipartIndex {
    /// Records a started multipart upload.
    async fn create_multipart(&self, upload: &MultipartUpload) -> Result<()>;
    /// Journals the stored name a new upload assembles under ([`multipart_entry`]) and records
    /// the upload, in one round trip (one transaction where the backend has them): from its
    /// start on, whatever the store assembles there is the sweep's unless a row names it.
    async fn begin_multipart(&self, upload: &MultipartUpload) -> Result<()>
    where
        Self: UploadJournal,
    {
        self.begin_upload(&multipart_entry(upload)).await?;
        self.create_multipart(upload).await
    }
    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>>;
    /// Everything a completion reads before it assembles, in one round trip: upload `id` as
    /// [`MultipartIndex::multipart`] reads it and its parts as [`MultipartIndex::parts`] lists
    /// them. If it is `owner`'s upload of `key`, open at `now_ms`, its journal entry is written
    /// too where it is missing (an upload recorded before uploads were journaled from their
    /// start).
    async fn prepare_completion(
        &self,
        id: &str,
        key: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<(Option<MultipartUpload>, Vec<Part>)>
    where
        Self: UploadJournal,
    {
        let upload = self.multipart(id).await?;
        let parts = self.parts(id, now_ms).await?;
        if let Some(u) = upload.as_ref().filter(|u| u.key == key && u.owner == owner && u.expires_at > now_ms) {
            self.begin_upload(&multipart_entry(u)).await?;
        }
        Ok((upload, parts))
    }
    /// The parts recorded for upload `id`, in any order, and, with an empty ETag, each part
    /// number that has no recorded part but an attempt in flight at `now_ms`.
    async fn parts(&self, id: &str, now_ms: i64) -> Result<Vec<Part>>;
    /// What the check of part `number` needs to know about the upload's other recorded parts,
    /// read in a constant number of rows however many parts there are.
    async fn other_parts(&self, id: &str, number: u16) -> Result<OtherParts>;
    /// Atomically reserves `attempt`'s bytes before its body streams, unless the recorded
    /// parts and the attempts in flight at `now_ms` could together exceed `limit` bytes: each
    /// part number counts with the largest of its recorded size and its attempts' sizes, since
    /// any one of them may be the part that stays; an upload's own `max_size` (the approval
    /// hook's) lowers `limit`. `false` when they could.
    async fn reserve_part(&self, attempt: &PartAttempt, limit: u64, now_ms: i64) -> Result<bool>;
    /// Everything a part needs before its body streams, in one round trip: upload
    /// `attempt.upload_id` as [`MultipartIndex::multipart`] reads it, the summary of its other
    /// parts ([`MultipartIndex::other_parts`]) and the attempt's reservation against `limit`
    /// ([`MultipartIndex::reserve_part`]), made only if the upload is `owner`'s upload of `key`
    /// and open at `now_ms`. With `quota`, the attempt's bytes are also reserved against it
    /// ([`PartAttempt::quota_reservation`], as [`QuotaIndex::reserve_quota`] does), and the
    /// attempt is made only if they fit; an attempt not made leaves no quota reservation. The
    /// caller releases the attempt if its own rules then refuse the part.
    async fn prepare_part(
        &self,
        attempt: &PartAttempt,
        key: &str,
        owner: &str,
        limit: u64,
        quota: Option<&crate::grant::Quota>,
        now_ms: i64,
    ) -> Result<PreparedPart>
    where
        Self: QuotaIndex,
    {
        let bytes = attempt.quota_reservation(key, owner);
        if let Some(quota) = quota {
            if !self.reserve_quota(&bytes, quota, now_ms).await? {
                return Ok(PreparedPart { over_quota: true, ..PreparedPart::default() });
            }
        }
        let id = &attempt.upload_id;
        let upload = self.multipart(id).await?;
        let others = self.other_parts(id, attempt.number).await?;
        let open = upload.as_ref().is_some_and(|u| u.key == key && u.owner == owner && u.expires_at > now_ms);
        let reserved = open && self.reserve_part(attempt, limit, now_ms).await?;
        if quota.is_some() && !reserved {
            self.release_quota(key, bytes.id).await?;
        }
        Ok(PreparedPart { upload, others, reserved, over_quota: false })
    }

    /// Drops the reservation of attempt `attempt` (its upload failed). Never touches a
    /// recorded part or another attempt's reservation.
    async fn release_part(&self, id: &str, attempt: &str) -> Result<()>;
    /// Records a stored part, replacing the recorded part with the same number, and drops
    /// attempt `attempt`'s reservation; only while the upload is open (not ended by an abort):
    /// otherwise `UploadNotFound`, and nothing is recorded.
    async fn record_part(&self, id: &str, attempt: &str, part: &Part) -> Result<()>;
    /// Atomically commits the assembled object (as `commit_upload` does, through journal entry
    /// `id`) and forgets the multipart upload and its parts, only while the upload is still
    /// recorded and not ended: a completion that comes after another one, or after an abort,
    /// is `Claimed` and changes nothing.
    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<Commit>;
    /// Ends upload `id` for an abort: its `expires_at` becomes 0, so no completion can commit
    /// it afterwards and the sweep finishes it if the store's abort fails, and its journal
    /// entry comes due by `settle_by_ms` (a completion still assembling has until then; the
    /// sweep then deletes what it assembled). `false` if it was gone or ended already
    /// (completed or aborted meanwhile).
    async fn end_multipart(&self, id: &str, settle_by_ms: i64) -> Result<bool>;
    /// Forgets a multipart upload, its parts and its attempts, and releases the quota
    /// reservation of the object it was to make.
    async fn remove_multipart(&self, id: &str) -> Result<()>;
    /// Multipart uploads whose `expires_at` is before `now_ms`, oldest first.
    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>>;
}

/// The presign ledger (tables `presigned_uploads`, `used_nonces`).
#[allow(async_fn_in_trait)]
pub trait PresignLedger {
    /// Records a direct upload URL and journals its stored name, due `due_at` (after the URL
    /// can no longer be used and an upload started just before its expiry has finished). With
    /// `quota`, its reservation is made too ([`QuotaIndex::reserve_quota`]), and the URL is
    /// recorded only if it fits: `false` when it did not, and nothing was recorded.
    async fn record_presigned(
        &self,
        p: &PresignedUpload,
        due_at: i64,
        quota: Option<(&Reservation<'_>, &crate::grant::Quota)>,
        now_ms: i64,
    ) -> Result<bool>;
    /// The unconfirmed direct upload URLs `owner` was given for `key`, newest first, at most
    /// [`PRESIGNED_PER_KEY`].
    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>>;
    /// Atomically, while journal entry `nonce` is unclaimed and the presigned upload is still
    /// recorded (a second confirm of it is `Claimed` and changes nothing), makes the row name
    /// the confirmed object (journaling the name it replaces), records its event in the outbox
    /// and forgets the presigned upload. The entry
    /// stays until it is due: the URL could store its name again after a delete.
    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<Commit>;
    /// Spends a single-use URL's nonce: `true` the first time, `false` ever after (until
    /// `expires_at` has passed and the sweep purged it, when the URL is useless anyway).
    /// `key` is the key the URL or form writes, whose database keeps its nonces.
    async fn use_nonce(&self, key: &str, nonce: &str, expires_at: i64) -> Result<bool>;
    /// Drops spent nonces and unconfirmed presigned uploads that expired before `before_ms`.
    async fn purge_presigned(&self, before_ms: i64) -> Result<()>;
}

/// A tus upload in progress. `id` is the one in its URL; `storage_key` is where the store
/// assembles it (journaled from the creation on, like a multipart upload's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TusUpload {
    pub id: String,
    pub key: String,
    pub owner: String,
    pub storage_key: String,
    pub content_type: String,
    /// `Upload-Metadata` as the client sent it.
    pub metadata: Option<String>,
    /// `None` while deferred.
    pub length: Option<u64>,
    /// Bytes the store holds: parts plus staged chunks.
    pub offset: u64,
    /// Fixed by the first request that needs it.
    pub part_size: Option<u64>,
    /// Parts the store holds.
    pub parts: u16,
    /// The store's multipart upload, once the first part is sent.
    pub store_upload_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub expires_at: i64,
    /// A lower limit on the object's size that the approval hook set (bytes).
    pub max_size: Option<u64>,
    /// Metadata the approval hook set, recorded with the object (a JSON object of strings).
    pub object_metadata: Option<String>,
}

/// A tus upload with its staged chunks (in order) and its parts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TusState {
    pub upload: TusUpload,
    pub staged: Vec<crate::tus::plan::Chunk>,
    pub parts: Vec<Part>,
}

/// What one `PATCH` stored, recorded if it still holds the upload's lease at `from`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TusAdvance {
    pub from: u64,
    pub to: u64,
    pub length: Option<u64>,
    pub part_size: Option<u64>,
    pub store_upload_id: Option<String>,
    /// The chunk this request staged.
    pub chunk: Option<crate::tus::plan::Chunk>,
    /// Parts this request stored.
    pub parts: Vec<Part>,
    /// Staged chunks now wholly inside parts.
    pub consumed: Vec<String>,
}

/// A request's ask for a tus upload's lease before its chunk streams
/// ([`TusIndex::lease_loaded`]).
#[derive(Debug, Clone, Copy)]
pub struct ChunkLease<'a> {
    pub id: &'a str,
    pub owner: &'a str,
    /// The offset the chunk starts at: the lease is taken only there.
    pub offset: u64,
    /// The request's own id: the lease's, and its quota reservation's.
    pub lease: &'a str,
    pub until_ms: i64,
    /// The chunk's length, and the quota to reserve it against, if any.
    pub bytes: u64,
    pub quota: Option<&'a crate::grant::Quota>,
}

impl ChunkLease<'_> {
    /// The reservation of the chunk's bytes against the owner's quota, for a write to `key`.
    pub fn quota_reservation<'a>(&'a self, key: &'a str) -> Reservation<'a> {
        Reservation {
            id: self.lease,
            owner: self.owner,
            key,
            bytes: self.bytes,
            objects: 0,
            until_ms: self.until_ms,
            replaces: false,
        }
    }
}

/// What [`TusIndex::lease_loaded`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkLeased {
    pub state: Option<TusState>,
    /// Whether the lease was taken.
    pub leased: bool,
    pub quota: QuotaHeld,
}

/// Whether a lease's step reserved the chunk's bytes against the quota asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaHeld {
    /// Nothing is reserved: no quota was given, or the owner's quota is counted in another
    /// database (the caller reserves the bytes itself once it has the lease), or no lease was
    /// taken for another reason.
    NotHeld,
    /// Reserved with the lease.
    Reserved,
    /// They would have taken the owner past the quota: no lease was taken.
    Exceeded,
}

/// The tus index (tables `tus_uploads`, `tus_chunks`, `tus_parts`).
#[allow(async_fn_in_trait)]
pub trait TusIndex {
    async fn create_tus(&self, upload: &TusUpload) -> Result<()>;
    /// Journals the stored name a new upload will assemble under (`entry`) and records the
    /// upload, in one round trip (one transaction where the backend has them). With `quota`,
    /// its reservation is made too ([`QuotaIndex::reserve_quota`]), and the upload is recorded
    /// only if it fits: `false` when it did not, and nothing was recorded.
    async fn begin_tus(
        &self,
        upload: &TusUpload,
        entry: &PendingUpload,
        quota: Option<(&Reservation<'_>, &crate::grant::Quota)>,
        now_ms: i64,
    ) -> Result<bool>
    where
        Self: UploadJournal + QuotaIndex,
    {
        if let Some((r, quota)) = quota {
            if !self.reserve_quota(r, quota, now_ms).await? {
                return Ok(false);
            }
        }
        self.begin_upload(entry).await?;
        self.create_tus(upload).await?;
        Ok(true)
    }
    async fn tus(&self, id: &str) -> Result<Option<TusState>>;
    /// Takes upload `id` for one request, if its offset is `offset` and no other request holds
    /// it (or that request's lease ran out before `now_ms`). `false` otherwise.
    async fn lease_tus(&self, id: &str, offset: u64, lease: &str, until_ms: i64, now_ms: i64) -> Result<bool>;
    /// Before a chunk's body streams, in one round trip: upload `ask.id` with its chunks and
    /// parts (as [`TusIndex::tus`] reads it) and, if it is `ask.owner`'s, the lease
    /// ([`TusIndex::lease_tus`]). With `ask.quota`, the chunk's bytes may be reserved against it
    /// in the same step, the lease then taken only if they fit ([`ChunkLeased::quota`]); a lease
    /// not taken leaves no reservation. The caller gives the lease back if its own checks then
    /// refuse the chunk.
    async fn lease_loaded(&self, ask: &ChunkLease<'_>, now_ms: i64) -> Result<ChunkLeased>
    where
        Self: QuotaIndex,
    {
        let state = self.tus(ask.id).await?;
        let Some(key) = state.as_ref().filter(|s| s.upload.owner == ask.owner).map(|s| s.upload.key.clone()) else {
            return Ok(ChunkLeased { state, leased: false, quota: QuotaHeld::NotHeld });
        };
        let bytes = ask.quota_reservation(&key);
        if let Some(quota) = ask.quota {
            if !self.reserve_quota(&bytes, quota, now_ms).await? {
                return Ok(ChunkLeased { state, leased: false, quota: QuotaHeld::Exceeded });
            }
        }
        let leased = self.lease_tus(ask.id, ask.offset, ask.lease, ask.until_ms, now_ms).await?;
        let quota = match ask.quota {
            Some(_) if leased => QuotaHeld::Reserved,
            Some(_) => {
                self.release_quota(&key, bytes.id).await?;
                QuotaHeld::NotHeld
            }
            None => QuotaHeld::NotHeld,
        };
        Ok(ChunkLeased { state, leased, quota })
    }

    /// Gives the lease back without recording anything.
    async fn release_tus(&self, id: &str, lease: &str) -> Result<()>;
    /// Atomically, only while `lease` holds the upload at `advance.from`: records what the
    /// request stored, moves the offset to `advance.to` and gives the lease back.
    async fn advance_tus(&self, id: &str, lease: &str, advance: &TusAdvance) -> Result<bool>;
    /// The last request of upload `id`, in one round trip (one transaction where the backend
    /// has them): commits its object `rec` through journal entry `id` as
    /// [`UploadJournal::commit_upload`] does (plain, no deadline), then, only if the key's row
    /// names the upload's object by then, makes `advance` as [`TusIndex::advance_tus`] does.
    /// The commit's outcome and whether the advance was made.
    async fn finish_tus(
        &self,
        id: &str,
        lease: &str,
        advance: &TusAdvance,
        rec: &ObjectRecord,
    ) -> Result<(Commit, bool)>
    where
        Self: UploadJournal + ObjectIndex,
    {
        let committed = self.commit_upload(id, rec, false, None).await?;
        let recorded = self.get(&rec.key).await?.is_some_and(|row| row.storage_key == rec.storage_key);
        Ok((committed, recorded && self.advance_tus(id, lease, advance).await?))
    }
    /// Forgets the upload, its chunks and parts.
    async fn remove_tus(&self, id: &str) -> Result<()>;
    /// Uploads whose `expires_at` is before `now_ms`, oldest first.
    async fn expired_tus(&self, now_ms: i64, limit: u32) -> Result<Vec<TusUpload>>;
}

/// Versions as [`AnnouncedCommits::announced_versions`] finds them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnnouncedVersions {
    /// For each version asked about, in order: as [`AnnouncedVersion::version`].
    pub versions: Vec<Option<ObjectRecord>>,
    /// The database's own clock (ms since the Unix epoch).
    pub db_now_ms: i64,
}

/// A version as [`AnnouncedCommits::announced_version`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedVersion {
    /// The version's row, or the copy kept when it was replaced or deleted; `None`: never
    /// committed (or committed and replaced so long ago that the copy is gone).
    pub version: Option<ObjectRecord>,
    /// The database's own clock (ms since the Unix epoch), which alone decides deadlines.
    pub db_now_ms: i64,
}

/// Commits that a pending-commit message on the queue settles instead of a journal entry (the
/// small single PUT, see [`crate::announce`]), so the request writes only the row.
#[allow(async_fn_in_trait)]
pub trait AnnouncedCommits {
    /// Makes the row of `rec.key` name `rec`'s version, in one statement that applies only
    /// while the database's own clock is before `deadline_ms` and no journal entry
    /// `pending_id` is claimed; the row is marked announced. Like every commit it journals a
    /// replaced version for deletion, and a replaced announced row is also copied to the
    /// replaced versions, which the pending message reads. `Claimed`: too late or claimed.
    async fn commit_announced(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        deadline_ms: i64,
        if_absent: bool,
    ) -> Result<Commit>;
    /// Versions (key, stored name), in one read: each one's row, or the copy kept when an
    /// announced row was replaced or deleted; and the database's clock.
    async fn announced_versions(&self, wanted: &[(String, String)]) -> Result<AnnouncedVersions>;
    /// [`AnnouncedCommits::announced_versions`] of one version.
    async fn announced_version(&self, key: &str, storage_key: &str) -> Result<AnnouncedVersion> {
        let found = self.announced_versions(&[(key.to_owned(), storage_key.to_owned())]).await?;
        Ok(AnnouncedVersion { version: found.versions.into_iter().next().flatten(), db_now_ms: found.db_now_ms })
    }
    /// Forgets the copies of versions replaced or deleted before `before_ms`.
    async fn purge_replaced(&self, before_ms: i64) -> Result<()>;
}

/// What one write in flight reserves, until the statement that records it.
#[derive(Debug, Clone, Copy)]
pub struct Reservation<'a> {
    /// The write's own id: its request's for a body (a PUT, a part, a tus chunk), the upload's
    /// or URL's for the object it will make (its journal entry's id, which its commit names).
    pub id: &'a str,
    pub owner: &'a str,
    /// The key written: an owner's own version there is replaced, so it does not count twice.
    pub key: &'a str,
    pub bytes: u64,
    pub objects: u64,
    /// When it lapses if nothing releases it (ms since the Unix epoch).
    pub until_ms: i64,
    /// Whether the write replaces the owner's own version at `key` by itself (a single PUT,
    /// the object an upload makes), so that version does not count twice; a part or a chunk
    /// does not (the version stays until the upload completes).
    pub replaces: bool,
}

/// An owner's usage in one database, or summed over several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// What the owner's rows take.
    pub bytes: u64,
    pub objects: u64,
    /// What is in flight: parts and tus bytes stored, reservations.
    pub reserved_bytes: u64,
    pub reserved_objects: u64,
}

impl Usage {
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            bytes: self.bytes + other.bytes,
            objects: self.objects + other.objects,
            reserved_bytes: self.reserved_bytes + other.reserved_bytes,
            reserved_objects: self.reserved_objects + other.reserved_objects,
        }
    }
}

/// An owner whose recorded usage differed from its rows, as the reconciliation found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub owner: String,
    pub recorded: (u64, u64),
    pub actual: (u64, u64),
}

/// The quota interface of the metadata.
#[allow(async_fn_in_trait)]
pub trait QuotaIndex {
    /// Atomically records reservation `r` unless it would take its owner past `quota` at
    /// `now_ms` (an owner's own version at `r.key` does not count, as the write replaces it).
    /// `false` when it would.
    async fn reserve_quota(&self, r: &Reservation<'_>, quota: &crate::grant::Quota, now_ms: i64) -> Result<bool>;
    /// Drops reservation `id` of a write to `key` (it failed or was given up).
    async fn release_quota(&self, key: &str, id: &str) -> Result<()>;
    /// `owner`'s usage in the databases of keys under `prefix` at `now_ms`.
    async fn usage(&self, owner: &str, prefix: &str, now_ms: i64) -> Result<Usage>;
    /// `owner`'s usage as its limit is checked for a write to `key`: where the owner's quota
    /// ledger is another database than `key`'s, the ledger's count, which takes every database in.
    async fn usage_checked(&self, owner: &str, key: &str, now_ms: i64) -> Result<Usage> {
        self.usage(owner, key, now_ms).await
    }
    /// Recomputes the recorded usage of up to `limit` owners from their rows (the next batch
    /// after the last one), the drifted ones, and forgets reservations that lapsed before
    /// `now_ms`.
    async fn reconcile_usage(&self, limit: u32, now_ms: i64) -> Result<Vec<Drift>>;
}

/// The whole metadata database, for code that needs all of it (the router, the sweep).
pub trait MetadataStore:
    ObjectIndex + UploadJournal + MultipartIndex + PresignLedger + TusIndex + AnnouncedCommits + QuotaIndex
{
}

impl<T: ObjectIndex + UploadJournal + MultipartIndex + PresignLedger + TusIndex + AnnouncedCommits + QuotaIndex>
    MetadataStore for T
{
}
