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
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::{Reply, RequestHead};
use crate::key::ObjectKey;
use crate::metadata::{MetadataStore, ObjectRecord, PendingUpload, STATUS_COMPLETE};
use crate::store::{ObjectMeta, ObjectStore, PutObject, PutResult};
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

/// `Content-Length` as RFC 9110 defines it: digits only (no sign, no spaces inside).
pub fn parse_length(v: &str) -> Option<u64> {
    let v = v.trim();
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok()).flatten()
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
    let limit = size_limit(config, grant);
    if length > limit {
        return Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("the body is {length} bytes; the limit for this upload is {limit} bytes"),
        ));
    }
    let content_type = match head.header("content-type") {
        None => DEFAULT_CONTENT_TYPE.to_owned(),
        Some(v) => essence(v).ok_or_else(|| {
            GatewayError::new(ErrorKind::UnsupportedMediaType, "the Content-Type header is not a valid media type")
        })?,
    };
    check_content_type(config, grant, &content_type)?;
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
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let encoded: Vec<String> =
        key.as_str().split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
    format!("/files/{}", encoded.join("/"))
}

/// One checked upload: who, where, what, and this request's id and time.
pub struct Upload<'a> {
    pub grant: &'a Grant,
    pub key: ObjectKey,
    pub plan: UploadPlan,
    /// The request id, which keys the upload's journal entry.
    pub id: &'a str,
    pub now_ms: i64,
}

/// Journals the upload while streaming the body to the store, then commits the row. A 2xx
/// always means object and row both exist; a failure after the store accepted the body
/// deletes the object again and leaves the journal entry for the cleanup sweep.
///
/// The journal write runs concurrently with the store write rather than before it: it is
/// needed only once the object exists, and doing it first would add a database round trip
/// to every upload. If it fails, the commit is still attempted (it fails the same way when
/// the database is down, and the object is then deleted).
pub async fn execute<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    up: Upload<'_>,
    body: Option<S::Body>,
) -> Result<(Reply<S::Stream>, FollowUp)> {
    let pending = PendingUpload {
        id: up.id.to_owned(),
        key: up.key.to_string(),
        owner: up.grant.sub.clone(),
        started_at: up.now_ms,
    };
    let (_journaled, stored) = join(meta.begin_upload(&pending), store_body(store, &up.key, &up.plan, body)).await;
    match stored {
        Ok(stored) => commit(store, meta, up, stored).await,
        Err(err) => {
            if matches!(err.kind, ErrorKind::ChecksumMismatch | ErrorKind::IncompleteBody) {
                remove_refused_leftover(store, meta, &up.key, up.id).await;
            }
            let _ = meta.abandon_upload(up.id).await;
            Err(err)
        }
    }
}

/// A store must not keep a body it refused for a bad digest (nor one of the wrong length), but
/// some S3-compatible servers do. Whatever now sits at `key` is removed unless it is the committed object (its ETag is
/// the row's) or another upload of the key is in flight (it may be that upload's object).
/// If the leftover replaced a committed object, that row is removed too: it would claim an
/// object that is gone.
async fn remove_refused_leftover<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    key: &ObjectKey,
    upload_id: &str,
) {
    let Ok(Some(found)) = store.head(key).await else { return };
    let Ok(row) = meta.get(key.as_str()).await else { return };
    if row.as_ref().is_some_and(|r| r.etag == found.etag) {
        return;
    }
    if meta.other_upload_pending(key.as_str(), upload_id, i64::MIN).await.unwrap_or(true) {
        return;
    }
    if store.delete(key).await.is_ok() && row.is_some() {
        let _ = meta.remove(key.as_str()).await;
    }
}

async fn store_body<S: ObjectStore>(
    store: &S,
    key: &ObjectKey,
    plan: &UploadPlan,
    body: Option<S::Body>,
) -> Result<ObjectMeta> {
    let put = PutObject {
        key: key.clone(),
        body,
        length: plan.length,
        content_type: plan.content_type.clone(),
        md5: plan.md5,
        sha256: plan.sha256,
        if_absent: plan.if_absent,
    };
    let stored = match store.put(put).await? {
        PutResult::Stored(m) => m,
        PutResult::AlreadyExists => {
            return Err(GatewayError::new(ErrorKind::PreconditionFailed, "an object with this key already exists"))
        }
    };
    if stored.size != plan.length {
        // The store took a different number of bytes than declared: the caller removes it.
        return Err(GatewayError::new(ErrorKind::IncompleteBody, "the body did not match its Content-Length"));
    }
    Ok(stored)
}

/// The row of an object the store now holds.
pub(crate) fn object_record(
    grant: &Grant,
    key: &ObjectKey,
    content_type: &str,
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
    }
}

/// The `201 Created` reply for a committed object and its follow-up work.
pub(crate) fn created<T>(
    grant: &Grant,
    key: ObjectKey,
    content_type: String,
    stored: ObjectMeta,
) -> (Reply<T>, FollowUp) {
    let body = UploadResult {
        key: key.as_str(),
        size: stored.size,
        etag: &stored.etag,
        content_type: &content_type,
        uploaded_at: rfc3339(stored.uploaded_ms),
    };
    let reply =
        Reply::json(201, &body).with_header("ETag", stored.etag.clone()).with_header("Location", location(&key));
    let job = FollowUp {
        key,
        owner: grant.sub.clone(),
        size: stored.size,
        etag: stored.etag,
        content_type,
        uploaded_ms: stored.uploaded_ms,
    };
    (reply, job)
}

async fn commit<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    up: Upload<'_>,
    stored: ObjectMeta,
) -> Result<(Reply<S::Stream>, FollowUp)> {
    let Upload { grant, key, plan, id, now_ms } = up;
    let record = ObjectRecord {
        checksum_sha256: plan.sha256.map(|d| B64.encode(d)),
        checksum_md5: plan.md5.map(|d| B64.encode(d)),
        ..object_record(grant, &key, &plan.content_type, &stored, now_ms)
    };
    if let Err(err) = meta.commit_upload(id, &record).await {
        // The new object replaced whatever was there: delete it, and the row of the object it
        // replaced with it (best effort; the journal entry, if written, lets the sweep finish).
        let _ = store.delete(&key).await;
        let _ = meta.remove(key.as_str()).await;
        return Err(err);
    }
    Ok(created(grant, key, plan.content_type, stored))
}
