//! In-memory fakes of [`ObjectStore`], [`MetadataStore`] and [`WebhookSender`] for native
//! tests of the request logic. They enforce what the real backends enforce (checksums,
//! conditional writes, declared lengths) and can be told to fail.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::conditional::{Precondition, ReadConditions};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::WebhookSender;
use crate::key::ObjectKey;
use crate::metadata::{
    ListCursor, MetadataStore, MultipartUpload, ObjectRecord, PendingUpload, PresignedUpload, STATUS_COMPLETE,
};
use crate::multipart::Part;
use crate::range::ByteRangeSpec;
use crate::store::{GetResult, ObjectMeta, ObjectStore, PutObject, PutPart, PutResult};

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
    /// Behaves like servers that store a body even when refusing it for a bad digest.
    pub keeps_refused_bodies: Cell<bool>,
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
    crate::webhook::hex(bytes)
}

impl ObjectStore for MemoryStore {
    type Body = Vec<u8>;
    type Stream = Vec<u8>;

    async fn put(&self, req: PutObject<Vec<u8>>) -> Result<PutResult> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        let bytes = req.body.unwrap_or_default();
        if bytes.len() as u64 != req.length {
            return Err(GatewayError::new(ErrorKind::IncompleteBody, "the body did not match its Content-Length"));
        }
        let md5 = Md5::digest(&bytes);
        let bad_digest = req.md5.is_some_and(|d| d[..] != md5[..])
            || req.sha256.is_some_and(|d| d[..] != Sha256::digest(&bytes)[..]);
        if bad_digest && !self.keeps_refused_bodies.get() {
            return Err(GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match its checksum"));
        }
        let mut objects = self.objects.borrow_mut();
        if req.if_absent && objects.contains_key(req.key.as_str()) {
            return Ok(PutResult::AlreadyExists);
        }
        let meta = ObjectMeta {
            size: bytes.len() as u64,
            etag: format!("\"{}\"", hex(&md5)),
            uploaded_ms: self.clock_ms.get(),
            content_type: Some(req.content_type),
        };
        objects.insert(req.key.to_string(), StoredBytes { bytes, meta: meta.clone() });
        if bad_digest {
            return Err(GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match its checksum"));
        }
        Ok(PutResult::Stored(meta))
    }

    async fn get(
        &self,
        key: &ObjectKey,
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
                None => Ok(GetResult::Unsatisfiable { size: obj.meta.size }),
                Some(r) => Ok(GetResult::Found {
                    meta: obj.meta.clone(),
                    range: Some(r),
                    body: obj.bytes[r.start as usize..=r.end as usize].to_vec(),
                }),
            },
        }
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>> {
        Ok(self.objects.borrow().get(key.as_str()).map(|o| o.meta.clone()))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.objects.borrow_mut().remove(key.as_str());
        Ok(())
    }

    async fn read_prefix(&self, key: &ObjectKey, n: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.objects.borrow().get(key.as_str()).map(|o| o.bytes[..n.min(o.bytes.len())].to_vec()))
    }

    async fn create_multipart(&self, _key: &ObjectKey, content_type: &str) -> Result<String> {
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
            return Err(GatewayError::new(ErrorKind::IncompleteBody, "the body did not match its Content-Length"));
        }
        let etag = hex(&Md5::digest(&bytes));
        let mut uploads = self.multiparts.borrow_mut();
        let upload = uploads.get_mut(&part.upload_id).ok_or_else(no_such_upload)?;
        upload.parts.insert(part.number, bytes);
        Ok(etag)
    }

    async fn complete_multipart(&self, key: &ObjectKey, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        let OpenUpload { content_type, parts: stored } =
            self.multiparts.borrow_mut().remove(upload_id).ok_or_else(no_such_upload)?;
        let mut bytes = Vec::new();
        for p in parts {
            let part = stored.get(&p.number).filter(|b| hex(&Md5::digest(b)) == p.etag);
            bytes.extend_from_slice(part.ok_or_else(|| GatewayError::new(ErrorKind::BadRequest, "invalid part"))?);
        }
        let meta = ObjectMeta {
            size: bytes.len() as u64,
            etag: format!("\"{}-{}\"", hex(&Md5::digest(&bytes)), parts.len()),
            uploaded_ms: self.clock_ms.get(),
            content_type: Some(content_type),
        };
        self.objects.borrow_mut().insert(key.to_string(), StoredBytes { bytes, meta: meta.clone() });
        Ok(meta)
    }

    async fn abort_multipart(&self, _key: &ObjectKey, upload_id: &str) -> Result<()> {
        if self.fail_puts.get() {
            return Err(GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "injected"));
        }
        self.multiparts.borrow_mut().remove(upload_id);
        Ok(())
    }
}

/// A metadata store in memory.
#[derive(Default)]
pub struct MemoryMetadata {
    pub rows: RefCell<BTreeMap<String, ObjectRecord>>,
    pub pending: RefCell<BTreeMap<String, PendingUpload>>,
    /// Fails every write.
    pub fail_writes: Cell<bool>,
    /// Fails only commits (the journal entry is written, the row is not).
    pub fail_commits: Cell<bool>,
    /// Fails only journal writes.
    pub fail_begins: Cell<bool>,
    pub multiparts: RefCell<BTreeMap<String, MultipartUpload>>,
    /// Upload id → part number → part.
    pub parts: RefCell<BTreeMap<String, BTreeMap<u16, Part>>>,
    pub presigned: RefCell<BTreeMap<String, PresignedUpload>>,
    /// Spent nonces and their expiry.
    pub nonces: RefCell<BTreeMap<String, i64>>,
}

impl MemoryMetadata {
    fn check(&self) -> Result<()> {
        if self.fail_writes.get() {
            Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"))
        } else {
            Ok(())
        }
    }
}

impl MetadataStore for MemoryMetadata {
    async fn begin_upload(&self, pending: &PendingUpload) -> Result<()> {
        self.check()?;
        if self.fail_begins.get() {
            return Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"));
        }
        self.pending.borrow_mut().insert(pending.id.clone(), pending.clone());
        Ok(())
    }

    async fn commit_upload(&self, pending_id: &str, rec: &ObjectRecord) -> Result<()> {
        self.check()?;
        if self.fail_commits.get() {
            return Err(GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", "injected"));
        }
        let mut rows = self.rows.borrow_mut();
        if rows.get(&rec.key).is_none_or(|old| old.completed_at <= rec.completed_at) {
            rows.insert(rec.key.clone(), rec.clone());
        }
        self.pending.borrow_mut().remove(pending_id);
        Ok(())
    }

    async fn abandon_upload(&self, pending_id: &str) -> Result<()> {
        self.check()?;
        self.pending.borrow_mut().remove(pending_id);
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.check()?;
        self.rows.borrow_mut().remove(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>> {
        Ok(self.rows.borrow().get(key).cloned())
    }

    async fn stale_uploads(&self, before_ms: i64, limit: u32) -> Result<Vec<PendingUpload>> {
        let mut stale: Vec<PendingUpload> =
            self.pending.borrow().values().filter(|p| p.started_at < before_ms).cloned().collect();
        stale.sort_by_key(|p| p.started_at);
        stale.truncate(limit as usize);
        Ok(stale)
    }

    async fn defer_upload(&self, id: &str, started_at: i64) -> Result<()> {
        self.check()?;
        if let Some(p) = self.pending.borrow_mut().get_mut(id) {
            p.started_at = started_at;
        }
        Ok(())
    }

    async fn other_upload_pending(&self, key: &str, except_id: &str, since_ms: i64) -> Result<bool> {
        Ok(self.pending.borrow().values().any(|p| p.key == key && p.id != except_id && p.started_at > since_ms))
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

    async fn record_detection(
        &self,
        key: &str,
        etag: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()> {
        self.check()?;
        if let Some(row) = self.rows.borrow_mut().get_mut(key).filter(|r| r.etag == etag) {
            row.detected_type = detected.map(str::to_owned);
            row.type_matches = matches;
        }
        Ok(())
    }

    async fn create_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.check()?;
        self.multiparts.borrow_mut().insert(upload.id.clone(), upload.clone());
        Ok(())
    }

    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>> {
        Ok(self.multiparts.borrow().get(id).cloned())
    }

    async fn parts(&self, id: &str) -> Result<Vec<Part>> {
        Ok(self.parts.borrow().get(id).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    async fn record_part(&self, id: &str, part: &Part) -> Result<()> {
        self.check()?;
        self.parts.borrow_mut().entry(id.to_owned()).or_default().insert(part.number, part.clone());
        Ok(())
    }

    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<()> {
        self.commit_upload(id, rec).await?;
        self.remove_multipart(id).await
    }

    async fn remove_multipart(&self, id: &str) -> Result<()> {
        self.check()?;
        self.multiparts.borrow_mut().remove(id);
        self.parts.borrow_mut().remove(id);
        Ok(())
    }

    async fn record_presigned(&self, p: &PresignedUpload) -> Result<()> {
        self.check()?;
        let entry =
            PendingUpload { id: p.nonce.clone(), key: p.key.clone(), owner: p.owner.clone(), started_at: p.expires_at };
        self.pending.borrow_mut().insert(p.nonce.clone(), entry);
        self.presigned.borrow_mut().insert(p.nonce.clone(), p.clone());
        Ok(())
    }

    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>> {
        let mut found: Vec<PresignedUpload> =
            self.presigned.borrow().values().filter(|p| p.key == key && p.owner == owner).cloned().collect();
        found.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        Ok(found)
    }

    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<()> {
        self.commit_upload(nonce, rec).await?;
        self.presigned.borrow_mut().remove(nonce);
        Ok(())
    }

    async fn use_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool> {
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

    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>> {
        let mut expired: Vec<MultipartUpload> =
            self.multiparts.borrow().values().filter(|u| u.expires_at < now_ms).cloned().collect();
        expired.sort_by_key(|u| u.expires_at);
        expired.truncate(limit as usize);
        Ok(expired)
    }
}

/// Records webhook deliveries and answers with `status`.
#[derive(Default)]
pub struct RecordingSender {
    pub sent: RefCell<Vec<(String, String, String)>>,
    pub status: Cell<u16>,
}

impl WebhookSender for RecordingSender {
    async fn send(&self, url: &str, signature: &str, body: String) -> std::result::Result<u16, String> {
        self.sent.borrow_mut().push((url.to_owned(), signature.to_owned(), body));
        match self.status.get() {
            0 => Err("connection refused".to_owned()),
            s => Ok(s),
        }
    }
}
