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
use crate::metadata::{ListCursor, MetadataStore, ObjectRecord, PendingUpload, STATUS_COMPLETE};
use crate::range::ByteRangeSpec;
use crate::store::{GetResult, ObjectMeta, ObjectStore, PutObject, PutResult};

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
