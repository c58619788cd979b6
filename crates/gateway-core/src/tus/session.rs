//! The tus requests: creation (`POST /tus/`, with or without a first chunk), `HEAD`, `PATCH`,
//! termination (`DELETE`) and `OPTIONS`. Every check that can refuse a request runs before the
//! body is read. A `PATCH` first takes the upload's lease in D1 (compare-and-set on the offset,
//! so a racing request gets `409` or `423`), stores its bytes where the plan says, and records
//! them in one conditional write that moves the offset and gives the lease back: the offset
//! never claims a byte the store does not hold, and a request that fails records nothing.

use futures_util::future::join;

use super::plan::{plan, Chunk, Finish, Piece, Progress, Step};
use super::protocol::{self, Length, Metadata};
use crate::approval::{self, Approval, Ask, Kind};
use crate::config::Config;
use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::{parse_length, Reply, RequestHead};
use crate::key::{ObjectKey, StoredName};
use crate::metadata::ObjectRecord;
use crate::metadata::{
    ChunkLease, ChunkLeased, Commit, MetadataStore, PendingUpload, QuotaHeld, TusAdvance, TusState, TusUpload,
};
use crate::multipart::rules::Part;
use crate::multipart::session::{check_object_size, object_limit, MAX_OBJECT_BYTES};
use crate::quarantine::initial_scan;
use crate::quota::{self, Quota, Reservation};
use crate::store::{Compose, Multipart, ObjectMeta, PutObject, PutPart};
use crate::sweep::DEFAULT_PENDING_GRACE_MS;
use crate::time::http_date;
use crate::upload::{
    check_content_type, created, discard, discard_named, log_cleanup, object_record, settle, transfer_ms,
    DEFAULT_CONTENT_TYPE,
};

/// One caller's tus request.
pub struct TusSession<'a, S, M> {
    pub config: &'a Config,
    pub store: &'a S,
    pub meta: &'a M,
    pub grant: &'a Grant,
    pub now_ms: i64,
    /// This request's id: a new upload's id, a lease's holder, a staged chunk's name.
    pub request_id: &'a str,
    pub origin: &'a str,
    /// Asks the approval hook about a creation.
    pub approval: Approval<'a>,
}

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

fn not_found() -> GatewayError {
    GatewayError::new(ErrorKind::UploadNotFound, "no tus upload has this id")
}

/// What `OPTIONS` answers, to any caller: it describes the server. `Tus-Max-Size` is the
/// caller's own limit when the request carries a valid token (`grant`), else the largest
/// upload any token may make.
pub fn options<T>(grant: Option<&Grant>) -> Reply<T> {
    let max = grant.map_or(MAX_OBJECT_BYTES, object_limit);
    Reply::empty(204)
        .with_header("Tus-Version", protocol::VERSION)
        .with_header("Tus-Extension", protocol::EXTENSIONS)
        .with_header("Tus-Max-Size", max.to_string())
}

/// What a request holds of a tus upload before it writes a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Nothing: the write takes the lease and reserves its bytes itself.
    Nothing,
    /// The lease; the write reserves its bytes against a quota itself.
    Lease,
    /// The lease, with the bytes reserved against the quota in the same step.
    LeaseAndQuota,
}

impl<S: Multipart + Compose, M: MetadataStore> TusSession<'_, S, M> {
    /// The most `upload` may hold: the caller's limit, and any lower one the approval hook set
    /// when it was created.
    fn total_limit(&self, upload: &TusUpload) -> u64 {
        object_limit(&self.grant.limited_to(upload.max_size))
    }

    fn check_total(&self, upload: &TusUpload, total: u64) -> Result<()> {
        check_object_size(&self.grant.limited_to(upload.max_size), total)
    }

    /// A chunk is one request body: at most `MAX_UPLOAD_BYTES`.
    fn check_chunk(&self, length: u64) -> Result<()> {
        let max = self.config.max_upload_bytes;
        if length > max {
            return Err(GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "this request carries {length} bytes; one request may carry at most {max}: set the client's \
                     chunk size (tus-js-client and Uppy: `chunkSize`) to {max} or less"
                ),
            ));
        }
        Ok(())
    }

    fn location(&self, id: &str) -> String {
        format!("{}/tus/{id}", self.origin)
    }

    fn reply<T>(&self, status: u16, upload: &TusUpload) -> Reply<T> {
        Reply::empty(status)
            .with_header("Upload-Offset", upload.offset.to_string())
            .with_header("Upload-Expires", http_date(upload.expires_at))
            .with_header("Cache-Control", "no-store")
    }

    /// The caller's upload `id`, unexpired.
    async fn load(&self, id: &str) -> Result<TusState> {
        self.loaded(self.meta.tus(id).await?)
    }

    /// `found`, if the caller may write to it and it has not expired unfinished.
    fn loaded(&self, found: Option<TusState>) -> Result<TusState> {
        let state = found.ok_or_else(not_found)?;
        if state.upload.owner != self.grant.sub {
            return Err(GatewayError::new(ErrorKind::Forbidden, "this tus upload belongs to another caller"));
        }
        let key = ObjectKey::new(state.upload.key.clone())?;
        self.grant.authorize(Scope::Write, &key)?;
        let finished = state.upload.length == Some(state.upload.offset);
        if !finished && self.now_ms >= state.upload.expires_at {
            return Err(GatewayError::new(ErrorKind::UploadExpired, "this tus upload expired unfinished"));
        }
        Ok(state)
    }

    /// `POST /tus/`: checks key, type and length from the head, journals the stored name the
    /// upload will assemble under, records the upload, and stores a first chunk if one came.
    pub async fn create(
        &self,
        head: &RequestHead,
        body: Option<S::Body>,
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        protocol::refuse_unsupported(head)?;
        let length = protocol::creation_length(head)?;
        let meta = protocol::metadata(head)?;
        let key = match meta.get("key") {
            Some(k) => ObjectKey::new(k.to_owned())?,
            None => self.grant.generated_key(self.request_id, meta.get("filename"))?,
        };
        self.grant.authorize(Scope::Write, &key)?;
        let content_type = content_type(&meta)?;
        check_content_type(self.config, self.grant, &content_type)?;
        let known = match length {
            Length::Known(n) => Some(n),
            Length::Deferred => None,
        };
        if let Some(n) = known {
            check_object_size(self.grant, n)?;
        }
        // A first chunk comes typed as upload bytes; any other body (a client's empty one sent
        // chunked) carries none.
        let typed = protocol::check_body_type(head).is_ok();
        let chunk = if typed { self.chunk_length(head, body.is_some())? } else { None };
        if let Some(n) = chunk {
            self.check_chunk(n)?;
            if let Length::Known(total) = length {
                if n > total {
                    return Err(past_length(total));
                }
            }
        }
        let pairs: approval::Metadata = meta.pairs.iter().cloned().collect();
        let asked = Ask {
            kind: Kind::Tus,
            sub: &self.grant.sub,
            key: key.as_str(),
            size: known,
            content_type: Some(&content_type),
            metadata: &pairs,
        };
        let approved = self.approval.ask(self.grant, asked).await?;
        if let Some(n) = known {
            check_object_size(&approved.grant, n)?;
        }
        let key = approved.key.unwrap_or(key);
        // The id names the key's shard, so requests that name only the upload reach it.
        let id = self.config.shards.routed_id(key.as_str(), &self.request_id.replace('-', ""));
        let expires_at = self.now_ms.saturating_add(self.config.multipart_ttl_ms);
        let upload = TusUpload {
            id: id.clone(),
            key: key.to_string(),
            owner: self.grant.sub.clone(),
            storage_key: StoredName::version(&key, &id).to_string(),
            content_type,
            metadata: meta.raw.clone(),
            length: known,
            offset: 0,
            part_size: None,
            parts: 0,
            store_upload_id: None,
            created_at: self.now_ms,
            expires_at,
            // The limit in force at the start holds to the end (the hook's, or a URL's).
            max_size: approved.grant.max_size,
            object_metadata: approved.metadata,
        };
        // The stored name is the journal's from now until a row names it; due once the upload
        // has expired and its last request has had time to finish.
        let entry = PendingUpload {
            id: id.clone(),
            key: upload.key.clone(),
            owner: upload.owner.clone(),
            started_at: self.now_ms,
            storage_key: upload.storage_key.clone(),
            due_at: expires_at.saturating_add(DEFAULT_PENDING_GRACE_MS),
        };
        // The object it will make counts against the owner's quota from now on; its bytes as
        // they come.
        let object = Reservation {
            id: &id,
            owner: &self.grant.sub,
            key: key.as_str(),
            bytes: 0,
            objects: 1,
            until_ms: entry.due_at,
            replaces: true,
        };
        let quota = self.grant.quota.filter(Quota::limits);
        match self.meta.begin_tus(&upload, &entry, quota.as_ref().map(|q| (&object, q)), self.now_ms).await {
            Ok(true) => {}
            Ok(false) => return Err(quota::refusal(self.meta, &quota.unwrap_or_default(), &object, self.now_ms).await),
            Err(err) => {
                quota::release(self.meta, self.grant, key.as_str(), &id).await;
                return Err(err);
            }
        }
        let created_reply = |u: &TusUpload| self.reply(201, u).with_header("Location", self.location(&u.id));
        match (chunk, upload.length) {
            (Some(n), _) if n > 0 || upload.length == Some(0) => {
                let state = TusState { upload, staged: Vec::new(), parts: Vec::new() };
                let (after, job) = self.write(state, 0, n, None, body, Held::Nothing).await?;
                Ok((created_reply(&after), job))
            }
            (_, Some(0)) => {
                let state = TusState { upload, staged: Vec::new(), parts: Vec::new() };
                let (after, job) = self.write(state, 0, 0, None, None, Held::Nothing).await?;
                Ok((created_reply(&after), job))
            }
            _ => Ok((created_reply(&upload), None)),
        }
    }

    /// The length of a body of upload bytes: required when there is a body.
    fn chunk_length(&self, head: &RequestHead, has_body: bool) -> Result<Option<u64>> {
        match head.header("content-length") {
            Some(v) => parse_length(v).map(Some).ok_or_else(|| bad("Content-Length must be a whole number of bytes")),
            None if has_body => {
                Err(GatewayError::new(ErrorKind::LengthRequired, "chunks need a Content-Length header"))
            }
            None => Ok(None),
        }
    }

    /// `HEAD /tus/{id}`.
    pub async fn head<T>(&self, id: &str) -> Result<Reply<T>> {
        let state = self.load(id).await?;
        let u = &state.upload;
        let mut reply = self.reply(200, u);
        reply = match u.length {
            Some(n) => reply.with_header("Upload-Length", n.to_string()),
            None => reply.with_header("Upload-Defer-Length", "1"),
        };
        if let Some(m) = &u.metadata {
            reply = reply.with_header("Upload-Metadata", m.clone());
        }
        Ok(reply)
    }

    /// `PATCH /tus/{id}`.
    pub async fn patch(
        &self,
        id: &str,
        head: &RequestHead,
        body: Option<S::Body>,
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        protocol::refuse_unsupported(head)?;
        protocol::check_body_type(head)?;
        let offset = protocol::patch_offset(head)?;
        let declared = protocol::patch_length(head)?;
        let length = self
            .chunk_length(head, body.is_some())?
            .ok_or_else(|| GatewayError::new(ErrorKind::LengthRequired, "chunks need a Content-Length header"))?;
        self.check_chunk(length)?;
        // One round trip before the body: the upload's state and, if it is the caller's, its
        // lease at this offset, with the chunk's bytes reserved against a quota where the
        // owner's is counted in the same database. Any refusal below gives the lease back.
        let quota = self.grant.quota.filter(|q| q.limits() && length > 0);
        let ask = ChunkLease {
            id,
            owner: &self.grant.sub,
            offset,
            lease: self.request_id,
            until_ms: lease_until(self.now_ms, length),
            bytes: length,
            quota: quota.as_ref(),
        };
        let ChunkLeased { state: found, leased, quota: held } = self.meta.lease_loaded(&ask, self.now_ms).await?;
        let state = match self.loaded(found) {
            Ok(state) if offset == state.upload.offset => state,
            Ok(state) => {
                return Err(GatewayError::new(
                    ErrorKind::OffsetMismatch,
                    format!(
                        "the upload is at offset {}, not {offset}: send HEAD and resume from there",
                        state.upload.offset
                    ),
                ))
            }
            Err(err) => return Err(self.give_back(id, leased, err).await),
        };
        if state.upload.length == Some(offset) && length == 0 {
            // Finished already: a retried last request learns it is done.
            if leased {
                self.release(id).await;
            }
            return Ok((self.reply(204, &state.upload), None));
        }
        if let Some(quota) = quota.filter(|_| held == QuotaHeld::Exceeded) {
            let bytes = ask.quota_reservation(&state.upload.key);
            return Err(quota::refusal(self.meta, &quota, &bytes, self.now_ms).await);
        }
        if !leased {
            return Err(GatewayError::new(
                ErrorKind::UploadLocked,
                "another request is writing to this upload; retry once it has finished",
            ));
        }
        let held = if held == QuotaHeld::Reserved { Held::LeaseAndQuota } else { Held::Lease };
        let (after, job) = self.write(state, offset, length, declared, body, held).await?;
        Ok((self.reply(204, &after), job))
    }

    /// Stores `length` bytes at `offset` under the upload's lease and records them.
    async fn write(
        &self,
        state: TusState,
        offset: u64,
        length: u64,
        declared: Option<u64>,
        body: Option<S::Body>,
        held: Held,
    ) -> Result<(TusUpload, Option<FollowUp>)> {
        match self.checked_write(&state, offset, length, declared) {
            Ok(upload) => self.write_checked(state, upload, offset, length, body, held).await,
            Err(err) => Err(self.give_back(&state.upload.id, held != Held::Nothing, err).await),
        }
    }

    /// Gives the lease back if `leased`, then `err`.
    async fn give_back(&self, id: &str, leased: bool, err: GatewayError) -> GatewayError {
        if leased {
            self.release(id).await;
        }
        err
    }

    /// Gives this request's lease back; a failure only leaves it to run out.
    async fn release(&self, id: &str) {
        if let Err(e) = self.meta.release_tus(id, self.request_id).await {
            crate::log::error(&format!("releasing the lease of tus upload {id} failed: {}", e.log_line()));
        }
    }

    /// The upload as `length` more bytes at `offset` (and a length declared now) would leave
    /// it, if they may be written.
    fn checked_write(&self, state: &TusState, offset: u64, length: u64, declared: Option<u64>) -> Result<TusUpload> {
        let mut upload = state.upload.clone();
        match (upload.length, declared) {
            (Some(n), Some(d)) if n != d => return Err(bad(format!("the upload's length is already {n}"))),
            (None, Some(d)) => {
                if d < offset + length {
                    return Err(bad("Upload-Length is less than the bytes sent"));
                }
                self.check_total(&upload, d)?;
                upload.length = Some(d);
            }
            _ => {}
        }
        let end = offset + length;
        match upload.length {
            Some(n) if end > n => return Err(past_length(n)),
            None => self.check_total(&upload, end)?,
            _ => {}
        }
        // A 204 that does not move the offset would make a client send the same request forever.
        if length == 0 && upload.length != Some(end) {
            return Err(bad("a PATCH must carry bytes, unless it declares the length the upload has reached"));
        }
        Ok(upload)
    }

    /// Stores `length` bytes at `offset` under the upload's lease and records them: the lease
    /// and the quota reservation are taken here unless `held` says so.
    async fn write_checked(
        &self,
        state: TusState,
        mut upload: TusUpload,
        offset: u64,
        length: u64,
        body: Option<S::Body>,
        held: Held,
    ) -> Result<(TusUpload, Option<FollowUp>)> {
        let end = offset + length;
        if held == Held::Nothing
            && !self
                .meta
                .lease_tus(&upload.id, offset, self.request_id, lease_until(self.now_ms, length), self.now_ms)
                .await?
        {
            return Err(self.lease_refused(&upload.id, offset).await);
        }
        // With a quota not reserved with the lease, the chunk's bytes are reserved against it
        // now (one more round trip); recording the chunk, or giving the lease back, ends the
        // reservation.
        let bytes = Reservation {
            id: self.request_id,
            owner: &self.grant.sub,
            key: &upload.key,
            bytes: length,
            objects: 0,
            until_ms: lease_until(self.now_ms, length),
            replaces: false,
        };
        if length > 0 && held != Held::LeaseAndQuota {
            if let Err(err) = quota::reserve(self.meta, self.grant, bytes, self.now_ms).await {
                return Err(self.give_back(&upload.id, true, err).await);
            }
        }
        let key = ObjectKey::new(upload.key.clone())?;
        let chunk_name = StoredName::version(&key, &format!("{}/{}", upload.id, self.request_id));
        let merged_name = StoredName::version(&key, &format!("{}/{}/merged", upload.id, self.request_id));
        let progress = Progress {
            offset,
            length: upload.length,
            part_size: upload.part_size,
            parts: upload.parts,
            staged: state.staged.clone(),
        };
        let step = plan(
            &progress,
            length,
            self.total_limit(&upload),
            self.config.max_upload_bytes,
            chunk_name.as_str(),
            merged_name.as_str(),
        );
        let result = self.store_step(&upload, &state.parts, step, length, body).await;
        let (advance, finished) = match result {
            Ok(done) => done,
            // The retry of a last request whose answer was lost after it committed: the store
            // no longer has the upload, and the key's row names its object.
            Err(_) if upload.length == Some(end) && self.committed(&upload).await => {
                (TusAdvance { from: offset, to: end, length: upload.length, ..TusAdvance::default() }, None)
            }
            Err(err) => {
                if let Err(e) = self.meta.release_tus(&upload.id, self.request_id).await {
                    log_cleanup("giving back the lease of", &chunk_name, &e);
                }
                return Err(err);
            }
        };
        let advance = TusAdvance { from: offset, to: end, length: upload.length, ..advance };
        let (job, advanced) = match finished {
            Some(stored) => match self.commit(&upload, &key, stored, &advance).await {
                Ok((job, advanced)) => (Some(job), advanced),
                Err(err) => {
                    if let Err(e) = self.meta.release_tus(&upload.id, self.request_id).await {
                        log_cleanup("giving back the lease of", &chunk_name, &e);
                    }
                    return Err(err);
                }
            },
            None => (None, self.meta.advance_tus(&upload.id, self.request_id, &advance).await?),
        };
        if !advanced {
            if job.is_none() {
                // The lease ran out (or the upload was terminated) while this request streamed.
                return Err(GatewayError::new(ErrorKind::UploadLocked, "the upload changed meanwhile: send HEAD"));
            }
            crate::log::error(&format!("the finished tus upload `{}` could not be marked finished", upload.id));
        }
        self.clean_up(&advance.consumed).await;
        upload.offset = end;
        upload.part_size = upload.part_size.or(advance.part_size);
        Ok((upload, job))
    }

    /// Why the lease was not granted: the offset moved (`409`), the upload is gone (`404`),
    /// or another request holds it (`423`).
    async fn lease_refused(&self, id: &str, offset: u64) -> GatewayError {
        match self.meta.tus(id).await {
            Ok(None) => not_found(),
            Ok(Some(s)) if s.upload.offset != offset => GatewayError::new(
                ErrorKind::OffsetMismatch,
                format!("the upload is at offset {}, not {offset}: send HEAD and resume from there", s.upload.offset),
            ),
            Ok(Some(_)) => GatewayError::new(
                ErrorKind::UploadLocked,
                "another request is writing to this upload; retry once it has finished",
            ),
            Err(e) => e,
        }
    }

    /// The store's multipart upload for `upload`, opened on first use.
    async fn multipart_id(&self, upload: &TusUpload, name: &StoredName) -> Result<String> {
        match &upload.store_upload_id {
            Some(id) => Ok(id.clone()),
            None => self.store.create_multipart(name, &upload.content_type).await,
        }
    }

    /// Runs one planned step against the store: what to record, and the stored object if the
    /// step finished the upload.
    async fn store_step(
        &self,
        upload: &TusUpload,
        recorded: &[Part],
        step: Step,
        length: u64,
        body: Option<S::Body>,
    ) -> Result<(TusAdvance, Option<ObjectMeta>)> {
        let name = StoredName::recorded(upload.storage_key.clone());
        let mut advance = TusAdvance {
            from: 0,
            to: 0,
            length: None,
            part_size: None,
            store_upload_id: None,
            chunk: None,
            parts: Vec::new(),
            consumed: Vec::new(),
        };
        match step {
            Step::Whole => {
                let put = PutObject {
                    name,
                    body,
                    length,
                    content_type: upload.content_type.clone(),
                    md5: None,
                    sha256: None,
                };
                let stored = self.store.put(put).await?;
                Ok((advance, Some(stored)))
            }
            Step::Part { number, part_size, last } => {
                let store_id = self.multipart_id(upload, &name).await?;
                let put = PutPart { name: name.clone(), upload_id: store_id.clone(), number, body, length };
                let etag = self.store.upload_part(put).await?;
                advance.part_size = Some(part_size);
                advance.store_upload_id = Some(store_id.clone());
                advance.parts.push(Part { number, size: length, etag });
                let stored = if last {
                    Some(self.assemble(upload, &name, &store_id, recorded, &advance.parts).await?)
                } else {
                    None
                };
                Ok((advance, stored))
            }
            Step::Stage { chunk, part_size, first, parts, finish, consumed, staged: _, merge } => {
                advance.part_size = Some(part_size);
                if chunk.length > 0 {
                    self.stage(upload, &chunk, body).await?;
                    advance.chunk = Some(chunk.clone());
                }
                let mut store_id = upload.store_upload_id.clone();
                let needs_parts = !parts.is_empty() || matches!(finish, Finish::LastPart(_) | Finish::Complete);
                if needs_parts && store_id.is_none() {
                    store_id = Some(self.multipart_id(upload, &name).await?);
                }
                let mut number = first;
                let mut composed = Vec::new();
                for pieces in &parts {
                    let id = store_id.clone().unwrap_or_default();
                    composed.push(self.compose_part(&name, &id, number, pieces, part_size).await?);
                    number += 1;
                }
                let stored = match &finish {
                    Finish::Open => None,
                    Finish::Complete => {
                        let id = store_id.clone().unwrap_or_default();
                        Some(self.assemble(upload, &name, &id, recorded, &composed).await?)
                    }
                    Finish::LastPart(pieces) => {
                        let id = store_id.clone().unwrap_or_default();
                        let size = pieces.iter().map(|p| p.length).sum();
                        composed.push(self.compose_part(&name, &id, number, pieces, size).await?);
                        Some(self.assemble(upload, &name, &id, recorded, &composed).await?)
                    }
                    Finish::Single(pieces) => {
                        let size = pieces.iter().map(|p| p.length).sum();
                        let body = self.store.compose(pieces, size).await?;
                        let put = PutObject {
                            name: name.clone(),
                            body: Some(body),
                            length: size,
                            content_type: upload.content_type.clone(),
                            md5: None,
                            sha256: None,
                        };
                        Some(self.store.put(put).await?)
                    }
                };
                advance.store_upload_id = store_id;
                advance.parts = composed;
                advance.consumed = consumed;
                // The new chunk is recorded only if it stays staged.
                if advance.chunk.as_ref().is_some_and(|c| advance.consumed.contains(&c.name)) {
                    advance.chunk = None;
                }
                if let Some((merged, pieces)) = merge {
                    let body = self.store.compose(&pieces, merged.length).await?;
                    self.stage(upload, &merged, Some(body)).await?;
                    advance.chunk = Some(merged);
                }
                Ok((advance, stored))
            }
        }
    }

    /// Stores a chunk whole under its own name. Its journal entry (what lets the sweep find it
    /// if nothing else does) is written concurrently, as a single PUT's is, so staging costs no
    /// round trip before the body; a failed put deletes the name again.
    async fn stage(&self, upload: &TusUpload, chunk: &Chunk, body: Option<S::Body>) -> Result<()> {
        let entry = PendingUpload {
            id: chunk_entry(&chunk.name),
            key: upload.key.clone(),
            owner: upload.owner.clone(),
            started_at: self.now_ms,
            storage_key: chunk.name.clone(),
            due_at: upload.expires_at.saturating_add(DEFAULT_PENDING_GRACE_MS),
        };
        let put = PutObject {
            name: StoredName::recorded(chunk.name.clone()),
            body,
            length: chunk.length,
            content_type: protocol::OFFSET_OCTET_STREAM.to_owned(),
            md5: None,
            sha256: None,
        };
        let (journaled, stored) = join(self.meta.begin_upload(&entry), self.store.put(put)).await;
        if let Err(err) = stored {
            discard(self.store, self.meta, &entry).await;
            return Err(err);
        }
        if let Err(err) = journaled {
            if self.meta.begin_upload(&entry).await.is_err() {
                discard(self.store, self.meta, &entry).await;
                return Err(err);
            }
        }
        Ok(())
    }

    async fn compose_part(
        &self,
        name: &StoredName,
        store_id: &str,
        number: u16,
        pieces: &[Piece],
        size: u64,
    ) -> Result<Part> {
        let body = self.store.compose(pieces, size).await?;
        let put =
            PutPart { name: name.clone(), upload_id: store_id.to_owned(), number, body: Some(body), length: size };
        let etag = self.store.upload_part(put).await?;
        Ok(Part { number, size, etag })
    }

    /// Assembles the recorded parts and the new ones, in order.
    async fn assemble(
        &self,
        upload: &TusUpload,
        name: &StoredName,
        store_id: &str,
        recorded: &[Part],
        new: &[Part],
    ) -> Result<ObjectMeta> {
        let mut parts: Vec<Part> =
            recorded.iter().filter(|p| !new.iter().any(|n| n.number == p.number)).cloned().collect();
        parts.extend(new.iter().cloned());
        parts.sort_by_key(|p| p.number);
        let mut stored = self.store.complete_multipart(name, store_id, &parts).await?;
        stored.size = parts.iter().map(|p| p.size).sum();
        stored.content_type = Some(upload.content_type.clone());
        Ok(stored)
    }

    /// Whether the key's row names the upload's object: an earlier request finished it.
    async fn committed(&self, upload: &TusUpload) -> bool {
        matches!(self.meta.get(&upload.key).await, Ok(Some(row)) if row.storage_key == upload.storage_key)
    }

    /// Records the finished object as every upload is (the row names it, the version it
    /// replaced is journaled, and the follow-up runs) and the request's `advance`, in one round
    /// trip. A commit whose answer was lost is settled by the row, and the advance is made
    /// again (it changes nothing if it was made). The follow-up, and whether the advance was
    /// made.
    async fn commit(
        &self,
        upload: &TusUpload,
        key: &ObjectKey,
        stored: ObjectMeta,
        advance: &TusAdvance,
    ) -> Result<(FollowUp, bool)> {
        let name = StoredName::recorded(upload.storage_key.clone());
        let record = ObjectRecord {
            scan: initial_scan(self.config),
            metadata: upload.object_metadata.clone(),
            ..object_record(self.grant, key, &upload.content_type, &name, &stored, self.now_ms)
        };
        let (committed, advanced) = match self.meta.finish_tus(&upload.id, self.request_id, advance, &record).await {
            Ok((committed, advanced)) => (Ok(committed), Some(advanced)),
            Err(err) => (Err(err), None),
        };
        let replaced = match settle(self.meta, &record, committed).await? {
            Commit::Committed { replaced } => replaced,
            Commit::KeyExists => None,
            Commit::Claimed => {
                return Err(GatewayError::new(
                    ErrorKind::UploadExpired,
                    "the upload was terminated, or expired, before it was finished",
                ))
            }
        };
        let (_, job) = created::<()>(key, &record, replaced);
        let advanced = match advanced {
            Some(advanced) => advanced,
            None => self.meta.advance_tus(&upload.id, self.request_id, advance).await.unwrap_or(false),
        };
        Ok((job, advanced))
    }

    /// Deletes staged chunks that are now inside parts and clears their journal entries.
    async fn clean_up(&self, consumed: &[String]) {
        for chunk in consumed {
            discard_named(self.store, self.meta, &StoredName::recorded(chunk.clone()), &chunk_entry(chunk)).await;
        }
    }

    /// `DELETE /tus/{id}`: claims the upload's journal entry first, so a last request still
    /// running can no longer commit once this answers (the sweep then deletes what it
    /// assembled), then aborts the store's upload, deletes the staged chunks and forgets the
    /// upload; every later request is `404`. A finished upload's object stays (it is a file
    /// like any other now); only the tus record goes.
    pub async fn terminate<T>(&self, id: &str) -> Result<Reply<T>> {
        let state = self.load(id).await?;
        let u = &state.upload;
        let finished = u.length == Some(u.offset);
        if !finished {
            // `false`: the entry is gone, committed by a last request that finished it.
            self.meta.claim_upload(&u.key, id).await?;
        }
        if !finished {
            if let Some(store_id) = &u.store_upload_id {
                self.store.abort_multipart(&StoredName::recorded(u.storage_key.clone()), store_id).await?;
            }
        }
        self.meta.remove_tus(id).await?;
        let staged: Vec<String> = state.staged.iter().map(|c| c.name.clone()).collect();
        self.clean_up(&staged).await;
        Ok(Reply::empty(204))
    }
}

/// How long a request may hold an upload: five minutes plus its body's time at the slowest
/// pace the sweep waits for. A request that fails gives the lease back at once; only one whose
/// isolate died holds it until then, and its client gets `423` (which tus clients retry).
fn lease_until(now_ms: i64, length: u64) -> i64 {
    now_ms.saturating_add(LEASE_GRACE_MS).saturating_add(transfer_ms(length))
}

const LEASE_GRACE_MS: i64 = 5 * 60 * 1000;

/// The journal entry id of a staged chunk.
fn chunk_entry(name: &str) -> String {
    format!("tus:{name}")
}

/// The object's type: `filetype` (Uppy, tus-js-client) or `content_type`, else the default.
fn content_type(meta: &Metadata) -> Result<String> {
    match meta.get("filetype").or(meta.get("content_type")).filter(|t| !t.is_empty()) {
        None => Ok(DEFAULT_CONTENT_TYPE.to_owned()),
        Some(t) => essence(t)
            .ok_or_else(|| GatewayError::new(ErrorKind::UnsupportedMediaType, format!("`{t}` is not a media type"))),
    }
}

/// A chunk whose bytes would pass the upload's length: 413, as tusd and the tus compliance
/// suite answer it (`ERR_UPLOAD_SIZE_EXCEEDED`).
fn past_length(length: u64) -> GatewayError {
    GatewayError::new(ErrorKind::PayloadTooLarge, format!("the chunk runs past Upload-Length ({length})"))
}
