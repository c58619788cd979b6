//! The multipart routes on `/files/{key}`: start (`POST ?uploads`), send a part
//! (`PUT ?uploadId=…&partNumber=N`), list the parts (`GET ?uploadId=…`), complete
//! (`POST ?uploadId=…`) and abort (`DELETE ?uploadId=…`). A part is checked against the
//! recorded ones before its body is read, then streamed to the store like a single PUT.
//! Clients see only the gateway's upload id; the store's id stays in the metadata database.

use serde::{Deserialize, Serialize};

use super::rules::{
    check_complete, check_part_against, parse_part_number, Part, MAX_PARTS, MAX_PART_BYTES, MIN_PART_BYTES,
};
use crate::approval::{Approval, Ask, Kind, Metadata};
use crate::config::Config;
use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::{parse_length, Reply, RequestHead};
use crate::key::{ObjectKey, StoredName};
use crate::metadata::ObjectRecord;
use crate::metadata::{
    multipart_entry, Commit, MultipartIndex, MultipartUpload, ObjectIndex, PartAttempt, UploadJournal,
    DEFAULT_PENDING_GRACE_MS,
};
use crate::quarantine::initial_scan;
use crate::quota::{self, Quota, QuotaIndex, Reservation};
use crate::router::Route;
use crate::store::{Multipart, ObjectMeta, PutPart};
use crate::time::rfc3339;
use crate::upload::{
    check_content_type, committed_or_discard, created, due_at, location, log_cleanup, object_record, settle,
    DEFAULT_CONTENT_TYPE,
};

/// The largest object R2 and S3 assemble from parts (5 TiB).
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// The most an object assembled from parts (multipart or tus) may hold for this caller: the
/// token's `max_size`, and never over 5 TiB.
pub fn object_limit(grant: &Grant) -> u64 {
    grant.max_size.map_or(MAX_OBJECT_BYTES, |m| m.min(MAX_OBJECT_BYTES))
}

/// `413` unless an upload of `total` bytes fits [`object_limit`].
pub fn check_object_size(grant: &Grant, total: u64) -> Result<()> {
    let limit = object_limit(grant);
    if total > limit {
        return Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("the upload would be {total} bytes; the limit for this upload is {limit} bytes"),
        ));
    }
    Ok(())
}

/// A multipart operation, read from the route and the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Start,
    Part(String),
    List(String),
    Complete(String),
    Abort(String),
}

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// The multipart operation a request asks for, if any: `?uploads` on POST, `?uploadId=` on
/// PUT, GET, POST and DELETE. A POST with neither is not multipart (it may be a confirm).
pub fn request_op(route: &Route, head: &RequestHead) -> Option<(Op, ObjectKey)> {
    let upload_id = head.query_param("uploadId");
    let starts = head.query_pairs().any(|(k, _)| k == "uploads");
    let (op, key) = match (route, upload_id) {
        (Route::Post(key), None) if starts => (Op::Start, key),
        (Route::Post(key), Some(id)) => (Op::Complete(id), key),
        (Route::Upload(key), Some(id)) => (Op::Part(id), key),
        (Route::Download(key), Some(id)) => (Op::List(id), key),
        (Route::Delete(key), Some(id)) => (Op::Abort(id), key),
        _ => return None,
    };
    Some((op, key.clone()))
}

/// One caller's multipart request on one key.
pub struct Session<'a, S, M> {
    pub config: &'a Config,
    pub store: &'a S,
    pub meta: &'a M,
    pub grant: &'a Grant,
    pub key: ObjectKey,
    pub now_ms: i64,
    /// The upload's parts went straight to the store (URLs it signed), so its parts are the
    /// store's own list of them rather than the parts the gateway recorded.
    pub parts_in_store: bool,
    /// Asks the approval hook about a start (none: a start through a URL approved when signed).
    pub approval: Approval<'a>,
    /// Metadata the approval hook set when a start's URL was signed (JSON).
    pub metadata: Option<String>,
}

#[derive(Deserialize, Default)]
struct StartBody {
    content_type: Option<String>,
    size: Option<u64>,
}

#[derive(Deserialize)]
struct ClientPart {
    part_number: u16,
    etag: String,
}

#[derive(Deserialize, Default)]
struct CompleteBody {
    parts: Option<Vec<ClientPart>>,
    /// The object's size as the client expects it.
    size: Option<u64>,
}

#[derive(Serialize)]
struct PartView {
    part_number: u16,
    size: u64,
    etag: String,
}

fn part_view(p: &Part) -> PartView {
    PartView { part_number: p.number, size: p.size, etag: quoted(&p.etag) }
}

/// Part ETags as HTTP entity tags: R2 gives them bare, S3 quoted.
fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

/// A small JSON body; an empty one means all defaults.
fn parse_json<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| bad(format!("the JSON body is malformed: {e}")))
}

impl<S: Multipart, M: ObjectIndex + UploadJournal + MultipartIndex + QuotaIndex> Session<'_, S, M> {
    fn total_limit(&self) -> u64 {
        object_limit(self.grant)
    }

    /// A part is one request body: at most `MAX_UPLOAD_BYTES`, and never over 5 GiB.
    fn part_limit(&self) -> u64 {
        self.config.max_upload_bytes.min(MAX_PART_BYTES)
    }

    /// `413` unless `upload` may hold `total` bytes: within the caller's limit and any lower
    /// one the approval hook set when it started.
    fn check_total(&self, upload: &MultipartUpload, total: u64) -> Result<()> {
        check_object_size(&self.grant.limited_to(upload.max_size), total)
    }

    /// The caller's live upload `id` of this key.
    async fn load(&self, id: &str) -> Result<MultipartUpload> {
        self.grant.authorize(Scope::Write, &self.key)?;
        self.live(self.meta.multipart(id).await?)
    }

    /// `found`, if it is the caller's live upload of this key.
    fn live(&self, found: Option<MultipartUpload>) -> Result<MultipartUpload> {
        let missing =
            || GatewayError::new(ErrorKind::UploadNotFound, "no multipart upload with this id is open for this key");
        let upload = found.ok_or_else(missing)?;
        if upload.key != self.key.as_str() {
            return Err(missing());
        }
        if upload.owner != self.grant.sub {
            return Err(GatewayError::new(ErrorKind::Forbidden, "this multipart upload belongs to another caller"));
        }
        if upload.expires_at == 0 {
            return Err(GatewayError::new(ErrorKind::UploadNotFound, "the multipart upload was aborted"));
        }
        if self.now_ms >= upload.expires_at {
            return Err(GatewayError::new(
                ErrorKind::UploadNotFound,
                format!("the multipart upload expired at {}", rfc3339(upload.expires_at)),
            ));
        }
        Ok(upload)
    }

    fn describe(&self, upload: &MultipartUpload) -> serde_json::Value {
        serde_json::json!({
            "upload_id": upload.id,
            "key": upload.key,
            "content_type": upload.content_type,
            "size": upload.declared_size,
            "part_size_min": MIN_PART_BYTES,
            "part_size_max": self.part_limit(),
            "max_parts": MAX_PARTS,
            "expires_at": rfc3339(upload.expires_at),
        })
    }

    /// `POST ?uploads`: checks scope, key, type and the declared size, then opens the upload
    /// in the store and records it.
    pub async fn start<T>(&self, id: &str, body: &[u8]) -> Result<Reply<T>> {
        self.grant.authorize(Scope::Write, &self.key)?;
        let req: StartBody = parse_json(body)?;
        let content_type = match req.content_type.as_deref() {
            None => DEFAULT_CONTENT_TYPE.to_owned(),
            Some(v) => essence(v).ok_or_else(|| {
                GatewayError::new(ErrorKind::UnsupportedMediaType, "content_type is not a valid media type")
            })?,
        };
        check_content_type(self.config, self.grant, &content_type)?;
        let part_limit = self.part_limit();
        if part_limit < MIN_PART_BYTES && req.size.is_none_or(|size| size > part_limit) {
            return Err(bad(format!(
                "multipart uploads need parts of at least {MIN_PART_BYTES} bytes, but MAX_UPLOAD_BYTES caps request bodies at {part_limit}"
            )));
        }
        if let Some(size) = req.size {
            if size == 0 {
                return Err(bad("a multipart upload needs at least one byte; upload empty files with a single PUT"));
            }
            check_object_size(self.grant, size)?;
            if size.div_ceil(part_limit) > u64::from(MAX_PARTS) {
                return Err(bad(format!(
                    "{size} bytes need more than {MAX_PARTS} parts of at most {part_limit} bytes (MAX_UPLOAD_BYTES)"
                )));
            }
        }
        let asked = Ask {
            kind: Kind::Multipart,
            sub: &self.grant.sub,
            key: self.key.as_str(),
            size: req.size,
            content_type: Some(&content_type),
            metadata: &Metadata::new(),
        };
        let approved = self.approval.ask(self.grant, asked).await?;
        if let Some(size) = req.size {
            check_object_size(&approved.grant, size)?;
        }
        let key = approved.key.unwrap_or_else(|| self.key.clone());
        // The id names the key's shard, so calls that name only the upload reach it.
        let id = &self.config.shards.routed_id(key.as_str(), id);
        let name = StoredName::version(&key, id);
        let expires_at = self.now_ms.saturating_add(self.config.multipart_ttl_ms);
        // The object it will make counts against the owner's quota from now on; its parts as
        // they come.
        let object = Reservation {
            id,
            owner: &self.grant.sub,
            key: key.as_str(),
            bytes: 0,
            objects: 1,
            until_ms: expires_at.saturating_add(DEFAULT_PENDING_GRACE_MS),
            replaces: true,
        };
        quota::reserve(self.meta, self.grant, object, self.now_ms).await?;
        let store_upload_id = match self.store.create_multipart(&name, &content_type).await {
            Ok(store_upload_id) => store_upload_id,
            Err(err) => {
                quota::release(self.meta, self.grant, key.as_str(), id).await;
                return Err(err);
            }
        };
        let upload = MultipartUpload {
            id: id.to_owned(),
            key: key.to_string(),
            owner: self.grant.sub.clone(),
            store_upload_id,
            content_type,
            declared_size: req.size,
            created_at: self.now_ms,
            expires_at,
            storage_key: name.to_string(),
            // The limit in force at the start holds to the end (the hook's, or a URL's).
            max_size: approved.grant.max_size,
            metadata: approved.metadata.or_else(|| self.metadata.clone()),
        };
        if let Err(err) = self.meta.begin_multipart(&upload).await {
            // Unrecorded, so no sweep can find it; the store's own expiry is the backstop.
            if let Err(e) = self.store.abort_multipart(&name, &upload.store_upload_id).await {
                log_cleanup("aborting the unrecorded multipart upload", &name, &e);
            }
            quota::release(self.meta, self.grant, key.as_str(), id).await;
            return Err(err);
        }
        let link = format!("{}?uploadId={}", location(&key), upload.id);
        Ok(Reply::json(201, &self.describe(&upload)).with_header("Location", link))
    }

    /// `PUT ?uploadId=…&partNumber=N`: every rule is checked before the body is read. The
    /// request (`attempt`, its id) owns its reservation: if it fails, it releases only that,
    /// never a part another request recorded; if it succeeds, its part replaces the recorded one.
    pub async fn put_part(
        &self,
        id: &str,
        attempt: &str,
        head: &RequestHead,
        body: Option<S::Body>,
    ) -> Result<Reply<S::Stream>> {
        let number = parse_part_number(&head.query_param("partNumber").unwrap_or_default())?;
        let length = match head.header("content-length") {
            None => return Err(GatewayError::new(ErrorKind::LengthRequired, "parts need a Content-Length header")),
            Some(v) => parse_length(v).ok_or_else(|| bad("Content-Length must be a whole number of bytes"))?,
        };
        if head.header("content-md5").is_some() || head.header("x-amz-checksum-sha256").is_some() {
            // R2 cannot verify a digest per part; refusing is better than silently not checking.
            return Err(bad(
                "parts do not take Content-MD5 or x-amz-checksum-sha256; check the completed object's SHA-256 instead",
            ));
        }
        let part_limit = self.part_limit();
        if length > part_limit {
            return Err(GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!("the part is {length} bytes; parts may be at most {part_limit} bytes"),
            ));
        }
        self.grant.authorize(Scope::Write, &self.key)?;
        // One round trip before the body: the upload, a summary of its other parts (a constant
        // number of rows however many it has) and the reservation of this part's bytes,
        // atomically against the parts in flight too, made only for the caller's open upload.
        // The rules below may still refuse the part: its reservation is then released.
        let reservation = PartAttempt {
            upload_id: id.to_owned(),
            attempt: attempt.to_owned(),
            number,
            size: length,
            until_ms: due_at(self.now_ms, length),
        };
        // With a quota, the part's bytes are reserved against it in the same round trip;
        // recording the part, or releasing its attempt, ends that reservation too.
        let quota = self.grant.quota.filter(Quota::limits);
        let (key, owner) = (self.key.as_str(), self.grant.sub.as_str());
        let prepared = match self
            .meta
            .prepare_part(&reservation, key, owner, self.total_limit(), quota.as_ref(), self.now_ms)
            .await
        {
            Ok(prepared) => prepared,
            Err(err) => {
                quota::release(self.meta, self.grant, key, attempt).await;
                return Err(err);
            }
        };
        if let Some(quota) = quota.filter(|_| prepared.over_quota) {
            return Err(
                quota::refusal(self.meta, &quota, &reservation.quota_reservation(key, owner), self.now_ms).await
            );
        }
        let checked = self.live(prepared.upload).and_then(|upload| {
            check_part_against(&prepared.others, upload.declared_size, number, length)?;
            self.check_total(&upload, prepared.others.bytes + length)?;
            Ok(upload)
        });
        let upload = match checked {
            Ok(upload) if prepared.reserved => upload,
            Ok(_) => {
                return Err(GatewayError::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "the parts being sent would exceed the limit of {} bytes for this upload",
                        self.total_limit()
                    ),
                ))
            }
            Err(err) => {
                if prepared.reserved {
                    if let Err(e) = self.meta.release_part(id, attempt).await {
                        log_cleanup(
                            "releasing the reservation of a refused part of",
                            &StoredName::recorded(self.key.to_string()),
                            &e,
                        );
                    }
                }
                return Err(err);
            }
        };
        let name = StoredName::recorded(upload.storage_key);
        let put = PutPart { name: name.clone(), upload_id: upload.store_upload_id, number, body, length };
        let etag = match self.store.upload_part(put).await {
            Ok(etag) => etag,
            Err(err) => {
                if let Err(e) = self.meta.release_part(id, attempt).await {
                    log_cleanup("releasing the reservation of a failed part of", &name, &e);
                }
                return Err(err);
            }
        };
        let part = Part { number, size: length, etag };
        // `UploadNotFound` if the upload was completed or aborted while this part streamed.
        self.meta.record_part(id, attempt, &part).await?;
        let view = part_view(&part);
        let tag = view.etag.clone();
        Ok(Reply::json(200, &view).with_header("ETag", tag))
    }

    /// `GET ?uploadId=…`: the upload and the parts received so far, for a client resuming.
    /// The parts received of upload `id`: those the gateway recorded (a part still in flight
    /// has no ETag yet), or the store's own list where the parts went straight to it.
    async fn received(&self, id: &str, upload: &MultipartUpload) -> Result<Vec<Part>> {
        if self.parts_in_store {
            let name = StoredName::recorded(upload.storage_key.clone());
            self.store.list_parts(&name, &upload.store_upload_id).await
        } else {
            self.meta.parts(id, self.now_ms).await
        }
    }

    pub async fn list<T>(&self, id: &str) -> Result<Reply<T>> {
        let upload = self.load(id).await?;
        let mut parts = self.received(id, &upload).await?;
        // Parts still in flight are not received yet: a resuming client sends them again.
        parts.retain(|p| !p.etag.is_empty());
        parts.sort_by_key(|p| p.number);
        let mut doc = self.describe(&upload);
        doc["parts"] = serde_json::to_value(parts.iter().map(part_view).collect::<Vec<_>>()).unwrap_or_default();
        Ok(Reply::json(200, &doc))
    }

    /// `POST ?uploadId=…`: assembles every recorded part, which are exactly the parts the
    /// gateway acknowledged (the latest acknowledged copy of each number), or nothing: the
    /// client's list and size, if sent, must match them (409 otherwise), and a part number in
    /// flight without an acknowledged copy refuses the completion. Then records the object
    /// exactly as a single PUT does. The upload's stored name is journaled from its start, so
    /// the sweep can reconcile an object whose row could not be written. One metadata round
    /// trip before the store assembles, one after.
    pub async fn complete<T>(&self, id: &str, body: &[u8]) -> Result<(Reply<T>, FollowUp)> {
        self.grant.authorize(Scope::Write, &self.key)?;
        // One round trip before the store assembles: the upload, its parts and its journal entry.
        let (found, mut recorded) =
            self.meta.prepare_completion(id, self.key.as_str(), &self.grant.sub, self.now_ms).await?;
        let upload = match self.live(found) {
            Ok(upload) => upload,
            Err(err) if err.kind == ErrorKind::UploadNotFound => return self.completed_before(id, err).await,
            Err(err) => return Err(err),
        };
        let req: CompleteBody = parse_json(body)?;
        let client_list: Option<Vec<(u16, String)>> =
            req.parts.map(|list| list.into_iter().map(|p| (p.part_number, p.etag)).collect());
        if self.parts_in_store {
            let name = StoredName::recorded(upload.storage_key.clone());
            recorded = self.store.list_parts(&name, &upload.store_upload_id).await?;
            // A store that lists no ETags (s3s-fs): the client's, which the store checks when
            // it assembles the parts.
            for part in recorded.iter_mut().filter(|p| p.etag.is_empty()) {
                let sent = client_list.iter().flatten().find(|(n, _)| *n == part.number);
                part.etag = sent.map(|(_, etag)| etag.clone()).unwrap_or_default();
            }
        }
        let parts = check_complete(&recorded, upload.declared_size, client_list.as_deref(), req.size)?;
        let total: u64 = parts.iter().map(|p| p.size).sum();
        self.check_total(&upload, total)?;
        let name = StoredName::recorded(upload.storage_key.clone());
        // Journaled since the upload started: a completion that fails after the store assembled
        // leaves the object to the entry's sweep, and a refused one leaves the entry for the
        // upload's other completions.
        let pending = multipart_entry(&upload);
        let stored = match self.store.complete_multipart(&name, &upload.store_upload_id, &parts).await {
            Ok(stored) => stored,
            // A refusal assembled nothing.
            Err(err) if err.kind == ErrorKind::BadRequest => return Err(err),
            // Any other failure may have come after the store assembled the object (this
            // attempt's answer lost, or an earlier attempt's: the store then no longer knows
            // the upload, which s3s-fs reports as AccessDenied). Only this upload assembles
            // under its name, so an object there of the parts' total size is its own.
            Err(err) => match self.store.head(&name).await {
                Ok(Some(found)) if found.size == total => {
                    ObjectMeta { uploaded_ms: found.uploaded_ms.max(self.now_ms), ..found }
                }
                Ok(None) if err.kind == ErrorKind::UploadNotFound => {
                    if let Err(e) = self.meta.remove_multipart(id).await {
                        log_cleanup("forgetting the multipart upload", &name, &e);
                    }
                    return Err(err);
                }
                // The store refused to complete an upload it no longer has while no object is
                // there: another completion of it is still assembling, or the store lost it (s3s-fs
                // answers AccessDenied to both). The same credentials created the upload and
                // stored its parts, so they are not to blame: a retry finds the object or the
                // row, or the store's own answer.
                Ok(None) | Err(_) if err.kind == ErrorKind::StorageAuthFailed => {
                    return Err(GatewayError::hidden(
                        ErrorKind::StorageUnavailable,
                        "the store could not complete the upload now; retry the completion",
                        err.log_line(),
                    ))
                }
                // Otherwise the journal entry and the upload stay: a retry completes it, or
                // the sweep deletes an unrecorded object once the entry is due.
                _ => return Err(err),
            },
        };
        let record = ObjectRecord {
            scan: initial_scan(self.config),
            metadata: upload.metadata.clone(),
            ..object_record(self.grant, &self.key, &upload.content_type, &name, &stored, self.now_ms)
        };
        // On an error the entry and the upload stay: a retry finds the assembled object.
        let committed = match settle(self.meta, &record, self.meta.complete_multipart(id, &record).await).await? {
            // Aborted, or the sweep took the entry: the entry's sweep deletes the object.
            Commit::Claimed => {
                return Err(GatewayError::new(ErrorKind::UploadNotFound, "the upload was aborted meanwhile"))
            }
            committed => committed,
        };
        let replaced = committed_or_discard(self.store, self.meta, &pending, committed).await?;
        Ok(created(&self.key, &record, replaced))
    }

    /// A completion of an upload that is no longer open: if an earlier completion of it
    /// committed (its answer lost, or a double submit), the key's row names the upload's own
    /// stored name, and the answer is that completion's `201` again. Otherwise `err` stands.
    async fn completed_before<T>(&self, id: &str, err: GatewayError) -> Result<(Reply<T>, FollowUp)> {
        let name = StoredName::version(&self.key, id);
        match self.meta.get(self.key.as_str()).await {
            Ok(Some(row)) if row.storage_key == name.as_str() && row.owner == self.grant.sub => {
                Ok(created(&self.key, &row, None))
            }
            _ => Err(err),
        }
    }

    /// `DELETE ?uploadId=…`: ends the upload first, so no completion can commit it once the
    /// client is told it is gone (a completion that already committed makes this a 404), then
    /// discards the parts in the store and forgets the upload. If the store's abort fails, the
    /// ended upload is the sweep's: it is past its expiry.
    pub async fn abort<T>(&self, id: &str) -> Result<Reply<T>> {
        let upload = self.load(id).await?;
        if !self.meta.end_multipart(id, self.now_ms.saturating_add(DEFAULT_PENDING_GRACE_MS)).await? {
            return Err(GatewayError::new(ErrorKind::UploadNotFound, "the upload was completed or aborted meanwhile"));
        }
        let name = StoredName::recorded(upload.storage_key);
        let result = match self.store.abort_multipart(&name, &upload.store_upload_id).await {
            Ok(()) => self.meta.remove_multipart(id).await.map_err(|e| ("forgetting the aborted multipart upload", e)),
            Err(e) => Err(("aborting the multipart upload in the store", e)),
        };
        if let Err((op, e)) = result {
            log_cleanup(op, &name, &e);
        }
        Ok(Reply::empty(204))
    }
}
