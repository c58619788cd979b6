//! In-memory fakes of the store capabilities ([`Objects`], [`Multipart`]), the metadata
//! interfaces ([`ObjectIndex`] and the rest), the event queue and [`WebhookSender`] for native
//! tests of the request logic. They enforce what the real backends enforce (checksums,
//! conditional writes, declared lengths) and can be told to fail. [`scripted`] drives the
//! real S3 store request by request; [`unread`] holds a body that records being read.

pub mod hook;
pub mod idp;
pub mod limiter;
#[cfg(feature = "native-crypto")]
pub mod native_verifier;
pub mod scripted;
pub mod unread;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::conditional::{Precondition, ReadConditions};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::{Event, EventOutbox, EventQueue, PendingCommit};
use crate::followup::WebhookSender;
use crate::key::StoredName;
use crate::metadata::{
    garbage_id, AnnouncedCommits, AnnouncedVersions, Commit, Condemned, Deletion, ListCursor, MultipartIndex,
    MultipartUpload, ObjectIndex, ObjectRecord, PartAttempt, PendingUpload, PresignLedger, PresignedUpload,
    UploadJournal, PRESIGNED_PER_KEY, STATUS_COMPLETE,
};
use crate::multipart::rules::{OtherParts, Part};
use crate::range::ByteRangeSpec;
use crate::store::{GetResult, Multipart, ObjectMeta, Objects, PutObject, PutPart};

#[derive(Debug, Clone)]
pub struct StoredBytes {
    pub bytes: Vec<u8>,
    pub meta: ObjectMeta,
}

/// An object store in memory. `clock_ms` stamps uploads.
#[derive(Default)]
pub struct MemoryStore {
    pub objects: RefCell<BTreeMap<String, StoredBytes>>,
    pub clock_ms: Cell<i64>,
    pub fail_puts: Cell<bool>,
    /// Answers the completion of an upload it no longer has `AccessDenied`, as s3s-fs does.
    pub denies_gone_uploads: Cell<bool>,
    /// Lists an upload's parts without their ETags, as s3s-fs does.
    pub lists_no_etags: Cell<bool>,
    /// Behaves like servers that store a body even when refusing it for a bad digest.
    pub keeps_refused_bodies: Cell<bool>,
    /// Stores each put (and assembles each completion), then fails as if its answer was lost.
    pub loses_put_answers: Cell<bool>,
    /// Fails every delete.
    pub fail_deletes: Cell<bool>,
    /// Fails every start of a multipart upload.
    pub fail_multipart_starts: Cell<bool>,
    /// Open multipart uploads by store upload id.
    pub multiparts: RefCell<BTreeMap<String, OpenUpload>>,
    uploads_started: Cell<u32>,
}

/// A multipart upload the fake store holds parts for.
#[derive(Debug, Clone, Default)]
pub struct OpenUpload {
    pub content_type: String,
    pub parts: BTreeMap<u16, Vec<u8>>,
}

fn no_such_upload() -> GatewayError {
    GatewayError::new(ErrorKind::UploadNotFound, "no such upload")
}

fn hex(bytes: &[u8]) -> String {
    crate::encoding::hex(bytes)
}

impl MemoryStore {
    /// A write's answer, or with `loses_put_answers` the error of an answer lost after the
    /// write took effect.
    fn answer(&self, meta: ObjectMeta) -> Result<ObjectMeta> {
        if self.loses_put_answers.get() {
            return Err(GatewayError::hidden(
                ErrorKind::StorageUnavailable,
                "the storage backend failed",
                "lost answer",
            ));
        }
        Ok(meta)
    }
}

impl Objects for MemoryStore {
    type Body = Vec<u8>;
    type Stream = Vec<u8>;

    async fn put(&self, req: PutObject<Vec<u8>>) -> Result<ObjectMeta> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        let bytes = req.body.unwrap_or_default();
        if bytes.len() as u64 != req.length {
            return Err(crate::store::length_mismatch());
        }
        let md5 = Md5::digest(&bytes);
        let bad_digest = req.md5.is_some_and(|d| d[..] != md5[..])
            || req.sha256.is_some_and(|d| d[..] != Sha256::digest(&bytes)[..]);
        if bad_digest && !self.keeps_refused_bodies.get() {
            return Err(GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match its checksum"));
        }
        let mut objects = self.objects.borrow_mut();
        let meta = ObjectMeta {
            size: bytes.len() as u64,
            etag: format!("\"{}\"", hex(&md5)),
            uploaded_ms: self.clock_ms.get(),
            content_type: Some(req.content_type),
        };
        objects.insert(req.name.to_string(), StoredBytes { bytes, meta: meta.clone() });
        if bad_digest {
            return Err(GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match its checksum"));
        }
        self.answer(meta)
    }

    async fn get(
        &self,
        key: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<Vec<u8>>> {
        let objects = self.objects.borrow();
        let Some(obj) = objects.get(key.as_str()) else { return Ok(GetResult::Missing) };
        if conditions.evaluate(Some(&obj.meta.etag)) != Precondition::Proceed {
            return Ok(GetResult::ConditionFailed(obj.meta.clone()));
        }
        match range {
            None => Ok(GetResult::Found { meta: obj.meta.clone(), range: None, body: obj.bytes.clone() }),
            Some(spec) => match spec.resolve(obj.meta.size) {
                None => Ok(GetResult::Unsatisfiable),
                Some(r) => Ok(GetResult::Found {
                    meta: obj.meta.clone(),
                    range: Some(r),
                    body: obj.bytes[r.start as usize..=r.end as usize].to_vec(),
                }),
            },
        }
    }

    async fn head(&self, key: &StoredName) -> Result<Option<ObjectMeta>> {
        Ok(self.objects.borrow().get(key.as_str()).map(|o| o.meta.clone()))
    }

    async fn delete(&self, key: &StoredName) -> Result<()> {
        if self.fail_deletes.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageUnavailable, "the storage backend failed", "injected"));
        }
        self.objects.borrow_mut().remove(key.as_str());
        Ok(())
    }

    async fn read_prefix(&self, key: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.objects.borrow().get(key.as_str()).map(|o| o.bytes[..n.min(o.bytes.len())].to_vec()))
    }
}

impl crate::store::Compose for MemoryStore {
    async fn compose(&self, pieces: &[crate::tus::plan::Piece], length: u64) -> Result<Vec<u8>> {
        let objects = self.objects.borrow();
        let mut body = Vec::new();
        for p in pieces {
            let obj = objects.get(&p.name).ok_or_else(|| {
                GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "a piece is missing")
            })?;
            let start = p.offset as usize;
            let end = start + p.length as usize;
            let bytes = obj.bytes.get(start..end).ok_or_else(|| {
                GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "a piece is out of range")
            })?;
            body.extend_from_slice(bytes);
        }
        if body.len() as u64 != length {
            return Err(GatewayError::hidden(ErrorKind::Internal, "the pieces do not add up", "compose length"));
        }
        Ok(body)
    }

    async fn buffer(&self, body: Vec<u8>, length: u64, prefix: usize) -> Result<(Vec<u8>, Vec<u8>)> {
        if body.len() as u64 != length {
            return Err(crate::store::length_mismatch());
        }
        let head = body[..prefix.min(body.len())].to_vec();
        Ok((body, head))
    }

    /// The whole body is at hand: a malformed form is refused here, before any store write.
    /// The edge finds a part after the file or a wrong ending only as the file streams, after
    /// the form's nonce is spent; its store write then fails, so nothing is kept either way.
    async fn form(&self, body: Vec<u8>, boundary: &str, total: u64) -> Result<crate::form::parse::FormFile<Vec<u8>>> {
        if body.len() as u64 != total {
            return Err(crate::store::length_mismatch());
        }
        let (head, file) = crate::form::parse::read_whole(&body, boundary)?;
        let length = file.len() as u64;
        Ok(crate::form::parse::FormFile { head, body: file, length, fault: Default::default() })
    }
}

impl Multipart for MemoryStore {
    async fn create_multipart(&self, _key: &StoredName, content_type: &str) -> Result<String> {
        if self.fail_multipart_starts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageUnavailable, "the storage backend failed", "injected"));
        }
        self.uploads_started.set(self.uploads_started.get() + 1);
        let id = format!("store-upload-{}", self.uploads_started.get());
        self.multiparts
            .borrow_mut()
            .insert(id.clone(), OpenUpload { content_type: content_type.to_owned(), parts: BTreeMap::new() });
        Ok(id)
    }

    async fn upload_part(&self, part: PutPart<Vec<u8>>) -> Result<String> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        let bytes = part.body.unwrap_or_default();
        if bytes.len() as u64 != part.length {
            return Err(crate::store::length_mismatch());
        }
        let etag = hex(&Md5::digest(&bytes));
        let mut uploads = self.multiparts.borrow_mut();
        let upload = uploads.get_mut(&part.upload_id).ok_or_else(no_such_upload)?;
        upload.parts.insert(part.number, bytes);
        Ok(etag)
    }

    async fn complete_multipart(&self, key: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        let mut uploads = self.multiparts.borrow_mut();
        let OpenUpload { content_type, parts: stored } = uploads.get(upload_id).ok_or_else(|| {
            if self.denies_gone_uploads.get() {
                GatewayError::hidden(ErrorKind::StorageAuthFailed, "the storage backend refused", "AccessDenied")
            } else {
                no_such_upload()
            }
        })?;
        // As S3: a completion naming a part the store lacks is refused and the upload stays.
        let mut bytes = Vec::new();
        for p in parts {
            let part = stored.get(&p.number).filter(|b| hex(&Md5::digest(b)) == p.etag.trim_matches('"'));
            bytes.extend_from_slice(part.ok_or_else(|| GatewayError::new(ErrorKind::BadRequest, "invalid part"))?);
        }
        let content_type = content_type.clone();
        uploads.remove(upload_id);
        drop(uploads);
        let meta = ObjectMeta {
            size: bytes.len() as u64,
            etag: format!("\"{}-{}\"", hex(&Md5::digest(&bytes)), parts.len()),
            uploaded_ms: self.clock_ms.get(),
            content_type: Some(content_type),
        };
        self.objects.borrow_mut().insert(key.to_string(), StoredBytes { bytes, meta: meta.clone() });
        self.answer(meta)
    }

    async fn abort_multipart(&self, _key: &StoredName, upload_id: &str) -> Result<()> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        self.multiparts.borrow_mut().remove(upload_id);
        Ok(())
    }

    async fn list_parts(&self, _key: &StoredName, upload_id: &str) -> Result<Vec<Part>> {
        let uploads = self.multiparts.borrow();
        let upload = uploads.get(upload_id).ok_or_else(no_such_upload)?;
        Ok(upload
            .parts
            .iter()
            .map(|(n, bytes)| Part {
                number: *n,
                size: bytes.len() as u64,
                etag: if self.lists_no_etags.get() { String::new() } else { hex(&Md5::digest(bytes)) },
            })
            .collect())
    }
}

/// A metadata store in memory.
#[derive(Default)]
pub struct MemoryMetadata {
    pub rows: RefCell<BTreeMap<String, ObjectRecord>>,
    pub pending: RefCell<BTreeMap<String, PendingUpload>>,
    /// Journal entries the sweep has claimed.
    pub claimed: RefCell<std::collections::BTreeSet<String>>,
    /// Applies each commit, then fails as if its answer was lost.
    pub loses_commit_answers: Cell<bool>,
    /// Fails every write.
    pub fail_writes: Cell<bool>,
    /// Fails every read of an object's row.
    pub fail_reads: Cell<bool>,
    /// Fails only commits (the journal entry is written, the row is not).
    pub fail_commits: Cell<bool>,
    /// Fails the next journal write.
    pub fail_begins: Cell<bool>,
    pub multiparts: RefCell<BTreeMap<String, MultipartUpload>>,
    /// Upload id → part number → recorded part.
    pub parts: RefCell<BTreeMap<String, BTreeMap<u16, Part>>>,
    /// Parts in flight: (upload id, attempt) → the attempt's reservation.
    pub attempts: RefCell<BTreeMap<(String, String), PartAttempt>>,
    pub presigned: RefCell<BTreeMap<String, PresignedUpload>>,
    /// Spent nonces and their expiry.
    pub nonces: RefCell<BTreeMap<String, i64>>,
    /// tus uploads by id, with their staged chunks, parts and lease (holder, until).
    pub tus: RefCell<BTreeMap<String, MemoryTus>>,
    /// The event outbox: event id → (event, recorded at).
    pub outbox: RefCell<BTreeMap<String, (Event, i64)>>,
    /// Stored names whose rows were committed announced.
    pub announced: RefCell<std::collections::BTreeSet<String>>,
    /// Copies of announced rows replaced or deleted: (key, stored name) → (row, when).
    pub replaced: RefCell<BTreeMap<(String, String), (ObjectRecord, i64)>>,
    /// The database's own clock, which decides announced commits' deadlines.
    pub clock: Cell<i64>,
    /// Calls held back until their gate opens ([`MemoryMetadata::hold`]).
    pub holds: RefCell<Vec<(&'static str, Gate)>>,
    /// Quota reservations: id → (owner, bytes, objects, until).
    pub quota_reservations: RefCell<BTreeMap<String, (String, u64, u64, i64)>>,
}

/// A point a held call waits at: the test sees when the call reached it and opens it later,
/// so one request's metadata calls run after another request's (a late attempt, a retry that
/// overtook the request it retries).
#[derive(Debug, Clone, Default)]
pub struct Gate {
    reached: std::rc::Rc<Cell<bool>>,
    open: std::rc::Rc<Cell<bool>>,
}

impl Gate {
    /// Whether the held call has arrived at the gate.
    pub fn reached(&self) -> bool {
        self.reached.get()
    }

    /// Lets the held call go on.
    pub fn open(&self) {
        self.open.set(true);
    }

    /// Resolves once the held call has arrived (for the test's side of a schedule).
    pub async fn arrival(&self) {
        let reached = self.reached.clone();
        until(move || reached.get()).await;
    }

    async fn pass(&self) {
        self.reached.set(true);
        let open = self.open.clone();
        until(move || open.get()).await;
    }
}

/// Resolves once `ready` holds, yielding to the executor in between (every poll wakes itself,
/// so a single-threaded `join` polls the other side meanwhile).
async fn until(ready: impl Fn() -> bool) {
    futures_util::future::poll_fn(|cx| {
        if ready() {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

/// One tus upload as the memory metadata holds it.
#[derive(Debug, Clone)]
pub struct MemoryTus {
    pub state: crate::metadata::TusState,
    pub lease: Option<(String, i64)>,
}

impl MemoryMetadata {
    /// Holds the next call of `call` (a metadata method's name) at a gate until the test opens
    /// it. The call runs, as D1 would, only after the gate opens.
    pub fn hold(&self, call: &'static str) -> Gate {
        let gate = Gate::default();
        self.holds.borrow_mut().push((call, gate.clone()));
        gate
    }

    /// Waits at the gate of a hold on `call`, if there is one (taking it: one call each).
    async fn held(&self, call: &str) {
        let gate = {
            let mut holds = self.holds.borrow_mut();
            let at = holds.iter().position(|(c, _)| *c == call);
            at.map(|i| holds.remove(i).1)
        };
        if let Some(gate) = gate {
            gate.pass().await;
        }
    }

    /// The attempts of upload `id` still in flight at `now_ms`.
    fn live_attempts(&self, id: &str, now_ms: i64) -> Vec<PartAttempt> {
        let attempts = self.attempts.borrow();
        attempts.values().filter(|a| a.upload_id == id && a.until_ms > now_ms).cloned().collect()
    }

    /// The journal entry for the stored object a removed or replaced row named.
    fn journal_garbage(&self, old: &ObjectRecord, now_ms: i64) {
        let id = garbage_id(&old.storage_key);
        let entry = PendingUpload {
            id: id.clone(),
            key: old.key.clone(),
            owner: old.owner.clone(),
            started_at: now_ms,
            storage_key: old.storage_key.clone(),
            due_at: now_ms,
        };
        self.pending.borrow_mut().entry(id).or_insert(entry);
        if self.announced.borrow().contains(&old.storage_key) {
            let copy = (old.key.clone(), old.storage_key.clone());
            self.replaced.borrow_mut().entry(copy).or_insert_with(|| (old.clone(), now_ms));
        }
    }

    /// One commit transaction, as the D1 batch runs it.
    fn commit(&self, pending_id: &str, rec: &ObjectRecord, if_absent: bool, clear_entry: bool) -> Result<Commit> {
        self.quota_reservations.borrow_mut().remove(pending_id);
        let open = self.pending.borrow().contains_key(pending_id) && !self.claimed.borrow().contains(pending_id);
        self.write_row(rec, if_absent, open, || {
            self.outbox.borrow_mut().insert(Event::uploaded(rec).id, (Event::uploaded(rec), rec.created_at));
            if clear_entry {
                self.pending.borrow_mut().remove(pending_id);
            }
        })
    }

    /// What every commit does: refused (`Claimed`) unless `open`, `KeyExists` for an
    /// `if_absent` commit on a key with a row; otherwise the row written, a replaced version
    /// journaled, then the commit's own writes (`also`).
    fn write_row(&self, rec: &ObjectRecord, if_absent: bool, open: bool, also: impl FnOnce()) -> Result<Commit> {
        self.check()?;
        if self.fail_commits.get() {
            return Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"));
        }
        if !open {
            return Ok(Commit::Claimed);
        }
        let old = self.rows.borrow().get(&rec.key).cloned();
        if if_absent && old.is_some() {
            return Ok(Commit::KeyExists);
        }
        let replaced = old.filter(|o| o.storage_key != rec.storage_key);
        if let Some(old) = &replaced {
            self.journal_garbage(old, rec.created_at);
        }
        self.rows.borrow_mut().insert(rec.key.clone(), rec.clone());
        also();
        if self.loses_commit_answers.get() {
            return Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "lost answer"));
        }
        Ok(Commit::Committed { replaced: replaced.map(|o| o.storage_key) })
    }

    fn check(&self) -> Result<()> {
        if self.fail_writes.get() {
            Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"))
        } else {
            Ok(())
        }
    }
}

impl ObjectIndex for MemoryMetadata {
    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>> {
        if self.fail_reads.get() {
            return Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"));
        }
        Ok(self.rows.borrow().get(key).cloned())
    }

    async fn list(
        &self,
        owner: &str,
        prefix: &str,
        limit: u32,
        cursor: Option<&ListCursor>,
    ) -> Result<Vec<ObjectRecord>> {
        let mut rows: Vec<ObjectRecord> = self
            .rows
            .borrow()
            .values()
            .filter(|r| r.owner == owner && r.key.starts_with(prefix) && r.status == STATUS_COMPLETE)
            .filter(|r| cursor.is_none_or(|c| (r.created_at, r.key.as_str()) < (c.created_at, c.key.as_str())))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (b.created_at, &b.key).cmp(&(a.created_at, &a.key)));
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn delete_key(
        &self,
        key: &str,
        now_ms: i64,
        event_id: &str,
        condemned: Option<Condemned<'_>>,
    ) -> Result<Deletion> {
        self.check()?;
        let mut rows = self.rows.borrow_mut();
        match rows.get(key) {
            None => return Ok(Deletion::NoRow),
            Some(row) if row.created_at > now_ms => return Ok(Deletion::Newer),
            Some(row) if condemned.is_some_and(|c| c.etag != row.etag) => return Ok(Deletion::Newer),
            Some(_) => {}
        }
        let Some(row) = rows.remove(key) else { return Ok(Deletion::NoRow) };
        drop(rows);
        self.journal_garbage(&row, now_ms);
        let event = Event::deleted(&row, now_ms, event_id, condemned.map(|c| c.reason));
        self.outbox.borrow_mut().insert(event.id.clone(), (event, now_ms));
        Ok(Deletion::Removed(Box::new(row)))
    }

    async fn clear_scan(&self, key: &str, etag: &str) -> Result<Option<ObjectRecord>> {
        self.check()?;
        let mut rows = self.rows.borrow_mut();
        if let Some(row) = rows.get_mut(key).filter(|r| r.etag == etag) {
            row.scan = None;
        }
        Ok(rows.get(key).cloned())
    }

    async fn overdue_scans(&self, before_ms: i64, limit: u32) -> Result<Vec<ObjectRecord>> {
        self.check()?;
        let mut rows: Vec<ObjectRecord> =
            self.rows.borrow().values().filter(|r| r.scan.is_some() && r.created_at < before_ms).cloned().collect();
        rows.sort_by_key(|r| r.created_at);
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn record_detection(
        &self,
        key: &str,
        storage_key: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()> {
        self.check()?;
        if let Some(row) = self.rows.borrow_mut().get_mut(key).filter(|r| r.storage_key == storage_key) {
            row.detected_type = detected.map(str::to_owned);
            row.type_matches = matches;
        }
        Ok(())
    }
}

impl UploadJournal for MemoryMetadata {
    async fn begin_upload(&self, pending: &PendingUpload) -> Result<()> {
        self.check()?;
        if self.fail_begins.replace(false) {
            return Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"));
        }
        self.pending.borrow_mut().entry(pending.id.clone()).or_insert_with(|| pending.clone());
        Ok(())
    }

    async fn commit_upload(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        if_absent: bool,
        deadline_ms: Option<i64>,
    ) -> Result<Commit> {
        self.held("commit_upload").await;
        if deadline_ms.is_some_and(|d| self.clock.get() >= d) {
            self.check()?;
            return Ok(Commit::Claimed);
        }
        let committed = self.commit(pending_id, rec, if_absent, true);
        // As D1 marks the row: a pending-commit message may read it once it is replaced.
        if deadline_ms.is_some() && self.rows.borrow().get(&rec.key).is_some_and(|r| r.storage_key == rec.storage_key) {
            self.announced.borrow_mut().insert(rec.storage_key.clone());
        }
        committed
    }

    async fn abandon_upload(&self, _key: &str, pending_id: &str) -> Result<()> {
        self.check()?;
        self.pending.borrow_mut().remove(pending_id);
        self.claimed.borrow_mut().remove(pending_id);
        Ok(())
    }

    async fn due_uploads(&self, now_ms: i64, limit: u32) -> Result<Vec<PendingUpload>> {
        let mut due: Vec<PendingUpload> =
            self.pending.borrow().values().filter(|p| p.due_at <= now_ms).cloned().collect();
        due.sort_by_key(|p| (p.due_at, p.started_at));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn claim_upload(&self, _key: &str, id: &str) -> Result<bool> {
        self.check()?;
        if !self.pending.borrow().contains_key(id) {
            return Ok(false);
        }
        self.claimed.borrow_mut().insert(id.to_owned());
        Ok(true)
    }
}

impl MultipartIndex for MemoryMetadata {
    async fn create_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.check()?;
        self.multiparts.borrow_mut().insert(upload.id.clone(), upload.clone());
        Ok(())
    }

    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>> {
        Ok(self.multiparts.borrow().get(id).cloned())
    }

    async fn parts(&self, id: &str, now_ms: i64) -> Result<Vec<Part>> {
        let mut parts: BTreeMap<u16, Part> = self.parts.borrow().get(id).cloned().unwrap_or_default();
        for a in self.live_attempts(id, now_ms) {
            let slot = parts.entry(a.number).or_insert_with(|| Part { number: a.number, size: 0, etag: String::new() });
            if slot.etag.is_empty() {
                slot.size = slot.size.max(a.size);
            }
        }
        Ok(parts.into_values().collect())
    }

    async fn other_parts(&self, id: &str, number: u16) -> Result<OtherParts> {
        let parts: Vec<Part> = self.parts.borrow().get(id).map(|m| m.values().cloned().collect()).unwrap_or_default();
        Ok(OtherParts::of(&parts, number))
    }

    async fn reserve_part(&self, attempt: &PartAttempt, limit: u64, now_ms: i64) -> Result<bool> {
        self.held("reserve_part").await;
        self.check()?;
        let id = &attempt.upload_id;
        let Some(upload) = self.multiparts.borrow().get(id).cloned() else { return Ok(false) };
        let mut worst: BTreeMap<u16, u64> = self
            .parts
            .borrow()
            .get(&upload.id)
            .map_or_else(BTreeMap::new, |m| m.values().map(|p| (p.number, p.size)).collect());
        for a in self.live_attempts(id, now_ms).iter().chain(std::iter::once(attempt)) {
            let size = worst.entry(a.number).or_default();
            *size = (*size).max(a.size);
        }
        if worst.values().sum::<u64>() > upload.max_size.map_or(limit, |m| m.min(limit)) {
            return Ok(false);
        }
        self.attempts.borrow_mut().insert((id.clone(), attempt.attempt.clone()), attempt.clone());
        Ok(true)
    }

    async fn release_part(&self, id: &str, attempt: &str) -> Result<()> {
        self.held("release_part").await;
        self.check()?;
        self.attempts.borrow_mut().remove(&(id.to_owned(), attempt.to_owned()));
        self.quota_reservations.borrow_mut().remove(attempt);
        Ok(())
    }

    async fn record_part(&self, id: &str, attempt: &str, part: &Part) -> Result<()> {
        self.held("record_part").await;
        self.check()?;
        // As the batch: the attempt's quota reservation ends whether or not the part is recorded.
        self.quota_reservations.borrow_mut().remove(attempt);
        if self.multiparts.borrow().get(id).is_none_or(|u| u.expires_at <= 0) {
            return Err(GatewayError::new(ErrorKind::UploadNotFound, "the upload was completed or aborted meanwhile"));
        }
        self.parts.borrow_mut().entry(id.to_owned()).or_default().insert(part.number, part.clone());
        self.attempts.borrow_mut().remove(&(id.to_owned(), attempt.to_owned()));
        Ok(())
    }

    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<Commit> {
        self.held("complete_multipart").await;
        if self.multiparts.borrow().get(id).is_none_or(|u| u.expires_at <= 0) {
            self.check()?;
            // As D1's batch: the entry's clearing does not depend on the upload, only on the
            // row naming the version (a repeated completion's entry goes).
            let named = self.rows.borrow().get(&rec.key).is_some_and(|r| r.storage_key == rec.storage_key);
            if named && !self.claimed.borrow().contains(id) {
                self.pending.borrow_mut().remove(id);
            }
            return Ok(Commit::Claimed);
        }
        let lost = self.loses_commit_answers.replace(false);
        let committed = self.commit(id, rec, false, true);
        self.loses_commit_answers.set(lost);
        let committed = committed?;
        if matches!(committed, Commit::Committed { .. }) {
            self.remove_multipart(id).await?;
            if lost {
                return Err(GatewayError::hidden(
                    ErrorKind::DatabaseError,
                    "the metadata database failed",
                    "lost answer",
                ));
            }
        }
        Ok(committed)
    }

    async fn end_multipart(&self, id: &str, settle_by_ms: i64) -> Result<bool> {
        self.check()?;
        self.quota_reservations.borrow_mut().remove(id);
        let mut uploads = self.multiparts.borrow_mut();
        let Some(upload) = uploads.get_mut(id).filter(|u| u.expires_at > 0) else { return Ok(false) };
        upload.expires_at = 0;
        if let Some(entry) = self.pending.borrow_mut().get_mut(id) {
            entry.due_at = entry.due_at.min(settle_by_ms);
        }
        Ok(true)
    }

    async fn remove_multipart(&self, id: &str) -> Result<()> {
        self.check()?;
        self.parts.borrow_mut().remove(id);
        self.attempts.borrow_mut().retain(|(upload, _), _| upload != id);
        self.quota_reservations.borrow_mut().remove(id);
        self.multiparts.borrow_mut().remove(id);
        Ok(())
    }

    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>> {
        let mut expired: Vec<MultipartUpload> =
            self.multiparts.borrow().values().filter(|u| u.expires_at < now_ms).cloned().collect();
        expired.sort_by_key(|u| u.expires_at);
        expired.truncate(limit as usize);
        Ok(expired)
    }
}

impl PresignLedger for MemoryMetadata {
    async fn record_presigned(
        &self,
        p: &PresignedUpload,
        due_at: i64,
        quota: Option<(&crate::metadata::Reservation<'_>, &crate::grant::Quota)>,
        now_ms: i64,
    ) -> Result<bool> {
        self.check()?;
        if let Some((r, quota)) = quota {
            if !crate::quota::QuotaIndex::reserve_quota(self, r, quota, now_ms).await? {
                return Ok(false);
            }
        }
        let entry = PendingUpload {
            id: p.nonce.clone(),
            key: p.key.clone(),
            owner: p.owner.clone(),
            started_at: p.created_at,
            storage_key: p.storage_key.clone(),
            due_at,
        };
        self.pending.borrow_mut().insert(p.nonce.clone(), entry);
        self.presigned.borrow_mut().insert(p.nonce.clone(), p.clone());
        Ok(true)
    }

    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>> {
        let mut found: Vec<PresignedUpload> =
            self.presigned.borrow().values().filter(|p| p.key == key && p.owner == owner).cloned().collect();
        found.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        found.truncate(PRESIGNED_PER_KEY as usize);
        Ok(found)
    }

    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<Commit> {
        self.held("confirm_presigned").await;
        if !self.presigned.borrow().contains_key(nonce) {
            self.check()?;
            return Ok(Commit::Claimed);
        }
        let committed = self.commit(nonce, rec, false, false)?;
        if matches!(committed, Commit::Committed { .. }) {
            self.presigned.borrow_mut().remove(nonce);
        }
        Ok(committed)
    }

    async fn use_nonce(&self, _key: &str, nonce: &str, expires_at: i64) -> Result<bool> {
        self.check()?;
        let mut nonces = self.nonces.borrow_mut();
        if nonces.contains_key(nonce) {
            return Ok(false);
        }
        nonces.insert(nonce.to_owned(), expires_at);
        Ok(true)
    }

    async fn purge_presigned(&self, before_ms: i64) -> Result<()> {
        self.check()?;
        self.nonces.borrow_mut().retain(|_, exp| *exp >= before_ms);
        self.presigned.borrow_mut().retain(|_, p| p.expires_at >= before_ms);
        Ok(())
    }
}

impl AnnouncedCommits for MemoryMetadata {
    async fn commit_announced(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        deadline_ms: i64,
        if_absent: bool,
    ) -> Result<Commit> {
        self.quota_reservations.borrow_mut().remove(pending_id);
        let open = self.clock.get() < deadline_ms && !self.claimed.borrow().contains(pending_id);
        self.write_row(rec, if_absent, open, || {
            self.announced.borrow_mut().insert(rec.storage_key.clone());
        })
    }

    async fn announced_versions(&self, wanted: &[(String, String)]) -> Result<AnnouncedVersions> {
        let find = |(key, name): &(String, String)| {
            let row = self.rows.borrow().get(key).filter(|r| r.storage_key == *name).cloned();
            row.or_else(|| self.replaced.borrow().get(&(key.clone(), name.clone())).map(|(r, _)| r.clone()))
        };
        Ok(AnnouncedVersions { versions: wanted.iter().map(find).collect(), db_now_ms: self.clock.get() })
    }

    async fn purge_replaced(&self, before_ms: i64) -> Result<()> {
        self.check()?;
        self.replaced.borrow_mut().retain(|_, (_, at)| *at >= before_ms);
        Ok(())
    }
}

impl EventOutbox for MemoryMetadata {
    async fn unsent_events(&self, before_ms: i64, limit: u32) -> Result<Vec<Event>> {
        let mut events: Vec<(Event, i64)> =
            self.outbox.borrow().values().filter(|(_, at)| *at < before_ms).cloned().collect();
        events.sort_by_key(|(_, at)| *at);
        Ok(events.into_iter().take(limit as usize).map(|(e, _)| e).collect())
    }

    async fn clear_events(&self, sent: &[Event]) -> Result<()> {
        self.check()?;
        let mut outbox = self.outbox.borrow_mut();
        for event in sent {
            outbox.remove(&event.id);
        }
        Ok(())
    }
}

/// An event queue in memory; refuses every send while `down` is set.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: RefCell<Vec<Event>>,
    /// Pending-commit messages and the delay each asked for.
    pub pending: RefCell<Vec<(PendingCommit, u32)>>,
    pub down: Cell<bool>,
    /// Takes each pending-commit message, then fails as if the answer was lost.
    pub loses_answers: Cell<bool>,
}

impl MemoryQueue {
    fn check(&self) -> std::result::Result<(), String> {
        if self.down.get() {
            return Err("the queue is unavailable".to_owned());
        }
        Ok(())
    }
}

impl EventQueue for MemoryQueue {
    async fn send(&self, event: &Event) -> std::result::Result<(), String> {
        self.check()?;
        self.sent.borrow_mut().push(event.clone());
        Ok(())
    }

    async fn announce(&self, pending: &PendingCommit, delay_s: u32) -> std::result::Result<(), String> {
        self.check()?;
        self.pending.borrow_mut().push((pending.clone(), delay_s));
        if self.loses_answers.get() {
            return Err("the queue's answer was lost".to_owned());
        }
        Ok(())
    }
}

/// One recorded webhook request.
#[derive(Debug, Clone)]
pub struct SentHook {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl SentHook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Records webhook deliveries and answers with `status` (0: unreachable).
#[derive(Default)]
pub struct RecordingSender {
    pub sent: RefCell<Vec<SentHook>>,
    pub status: Cell<u16>,
}

impl WebhookSender for RecordingSender {
    async fn send(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: String,
    ) -> std::result::Result<u16, String> {
        self.sent.borrow_mut().push(SentHook { url: url.to_owned(), headers: headers.to_vec(), body });
        match self.status.get() {
            0 => Err("connection refused".to_owned()),
            s => Ok(s),
        }
    }
}

impl crate::contract::ContractStore for MemoryStore {
    fn body(bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }

    async fn collect(stream: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
        Ok(stream)
    }
}

impl crate::metadata::TusIndex for MemoryMetadata {
    async fn create_tus(&self, upload: &crate::metadata::TusUpload) -> Result<()> {
        self.check()?;
        let state = crate::metadata::TusState { upload: upload.clone(), staged: Vec::new(), parts: Vec::new() };
        self.tus.borrow_mut().insert(upload.id.clone(), MemoryTus { state, lease: None });
        Ok(())
    }

    async fn tus(&self, id: &str) -> Result<Option<crate::metadata::TusState>> {
        Ok(self.tus.borrow().get(id).map(|t| t.state.clone()))
    }

    async fn lease_tus(&self, id: &str, offset: u64, lease: &str, until_ms: i64, now_ms: i64) -> Result<bool> {
        self.check()?;
        let mut all = self.tus.borrow_mut();
        let Some(t) = all.get_mut(id) else { return Ok(false) };
        let free = t.lease.as_ref().is_none_or(|(_, until)| *until < now_ms);
        if t.state.upload.offset != offset || !free {
            return Ok(false);
        }
        t.lease = Some((lease.to_owned(), until_ms));
        Ok(true)
    }

    async fn release_tus(&self, id: &str, lease: &str) -> Result<()> {
        self.quota_reservations.borrow_mut().remove(lease);
        if let Some(t) = self.tus.borrow_mut().get_mut(id) {
            if t.lease.as_ref().is_some_and(|(holder, _)| holder == lease) {
                t.lease = None;
            }
        }
        Ok(())
    }

    async fn advance_tus(&self, id: &str, lease: &str, a: &crate::metadata::TusAdvance) -> Result<bool> {
        self.check()?;
        // As the batch: the chunk's quota reservation ends whether or not the advance is made.
        self.quota_reservations.borrow_mut().remove(lease);
        let mut all = self.tus.borrow_mut();
        let Some(t) = all.get_mut(id) else { return Ok(false) };
        let held = t.lease.as_ref().is_some_and(|(holder, _)| holder == lease);
        if !held || t.state.upload.offset != a.from {
            return Ok(false);
        }
        let u = &mut t.state.upload;
        u.offset = a.to;
        u.length = u.length.or(a.length);
        u.part_size = u.part_size.or(a.part_size);
        u.store_upload_id = u.store_upload_id.clone().or(a.store_upload_id.clone());
        if let Some(c) = &a.chunk {
            t.state.staged.push(c.clone());
        }
        for p in &a.parts {
            t.state.parts.retain(|q| q.number != p.number);
            t.state.parts.push(p.clone());
        }
        t.state.parts.sort_by_key(|p| p.number);
        t.state.upload.parts = t.state.parts.len() as u16;
        t.state.staged.retain(|c| !a.consumed.contains(&c.name));
        t.lease = None;
        Ok(true)
    }

    async fn remove_tus(&self, id: &str) -> Result<()> {
        self.check()?;
        self.tus.borrow_mut().remove(id);
        self.quota_reservations.borrow_mut().remove(id);
        Ok(())
    }

    async fn expired_tus(&self, now_ms: i64, limit: u32) -> Result<Vec<crate::metadata::TusUpload>> {
        let mut expired: Vec<_> =
            self.tus.borrow().values().map(|t| t.state.upload.clone()).filter(|u| u.expires_at < now_ms).collect();
        expired.sort_by_key(|u| u.expires_at);
        expired.truncate(limit as usize);
        Ok(expired)
    }
}

impl crate::quota::QuotaIndex for MemoryMetadata {
    async fn reserve_quota(
        &self,
        r: &crate::quota::Reservation<'_>,
        quota: &crate::quota::Quota,
        now_ms: i64,
    ) -> Result<bool> {
        self.check()?;
        let usage = self.usage(r.owner, "", now_ms).await?;
        let own = self.rows.borrow().get(r.key).filter(|row| r.replaces && row.owner == r.owner).map(|row| row.size);
        let fits_bytes =
            quota.bytes.is_none_or(|limit| usage.bytes + usage.reserved_bytes + r.bytes <= limit + own.unwrap_or(0));
        let fits_objects = quota
            .objects
            .is_none_or(|limit| usage.objects + usage.reserved_objects + r.objects <= limit + u64::from(own.is_some()));
        if !(fits_bytes && fits_objects) || self.quota_reservations.borrow().contains_key(r.id) {
            return Ok(false);
        }
        let entry = (r.owner.to_owned(), r.bytes, r.objects, r.until_ms);
        self.quota_reservations.borrow_mut().insert(r.id.to_owned(), entry);
        Ok(true)
    }

    async fn release_quota(&self, _key: &str, id: &str) -> Result<()> {
        self.check()?;
        self.quota_reservations.borrow_mut().remove(id);
        Ok(())
    }

    async fn usage(&self, owner: &str, _prefix: &str, now_ms: i64) -> Result<crate::quota::Usage> {
        let rows = self.rows.borrow();
        let mine = rows.values().filter(|r| r.owner == owner);
        let (bytes, objects) = mine.fold((0, 0), |(b, n), r| (b + r.size, n + 1));
        let reservations = self.quota_reservations.borrow();
        let live = reservations.values().filter(|(o, _, _, until)| o == owner && *until > now_ms);
        let (mut reserved_bytes, reserved_objects) = live.fold((0, 0), |(b, n), (_, rb, ro, _)| (b + rb, n + ro));
        for id in
            self.multiparts.borrow().iter().filter(|(_, u)| u.owner == owner && u.expires_at > 0).map(|(id, _)| id)
        {
            reserved_bytes += self.parts.borrow().get(id).map_or(0, |p| p.values().map(|p| p.size).sum::<u64>());
        }
        for t in self.tus.borrow().values().map(|t| &t.state.upload).filter(|u| u.owner == owner) {
            if t.length != Some(t.offset) {
                reserved_bytes += t.offset;
            }
        }
        Ok(crate::quota::Usage { bytes, objects, reserved_bytes, reserved_objects })
    }

    /// Usage is computed from the rows here, so it never drifts; lapsed reservations go.
    async fn reconcile_usage(&self, _limit: u32, now_ms: i64) -> Result<Vec<crate::quota::Drift>> {
        self.check()?;
        self.quota_reservations.borrow_mut().retain(|_, (_, _, _, until)| *until >= now_ms);
        Ok(Vec::new())
    }
}
