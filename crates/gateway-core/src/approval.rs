//! The blocking approval hook (`APPROVAL_HOOK_URL`): before an upload reads a byte of its body
//! (a single PUT, a multipart or tus creation, a presign, a confirm), the gateway asks the
//! operator's own backend. The request is JSON signed like the webhook (`X-Upload-Signature`
//! over `<timestamp>.<body>` under `APPROVAL_HOOK_SECRET`); the answer decides:
//!
//! - `200 {"allow": true}` lets the upload go on as asked;
//! - `200 {"allow": true, "key": …, "metadata": {…}, "max_size": …}` lets it go on changed: a
//!   key the caller's token covers, metadata recorded with the object (and in its event and
//!   listing), a lower size limit;
//! - `200 {"allow": false, "status": 4xx, "message": "…"}` refuses it with that status and
//!   message (403 and a generic message when absent);
//! - anything else, or no answer within `APPROVAL_HOOK_TIMEOUT_MS`, is a failed hook: `503
//!   approval_unavailable`, or the upload goes on unchanged with `APPROVAL_HOOK_ON_FAILURE=allow`.
//!
//! The gateway's own checks run first, so the hook only sees uploads the gateway would accept.

use std::collections::BTreeMap;

use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

use crate::config::{ApprovalConfig, OnFailure};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scope};
use crate::key::ObjectKey;
use crate::webhook::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// The request's id, so the receiver can correlate it with the gateway's logs.
pub const REQUEST_ID_HEADER: &str = "X-Upload-Request-Id";

/// The largest answer read from the hook.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Metadata recorded with an upload: names to strings.
pub type Metadata = BTreeMap<String, String>;

/// Posts one approval request to the hook: its status and (at most [`MAX_ANSWER_BYTES`] of)
/// body, or why there was none within `timeout_ms`.
pub trait ApprovalHook {
    fn post<'a>(
        &'a self,
        url: &'a str,
        headers: &'a [(&'static str, String)],
        body: &'a str,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'a, std::result::Result<(u16, String), String>>;
}

/// Which upload is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `PUT /files/{key}` with a token.
    Put,
    /// The start of a multipart upload (the gateway's, S3's dialect, Companion's).
    Multipart,
    /// A tus creation.
    Tus,
    /// A presigned upload URL or form (`/presign`, `/s3/params`, `/s3/sign`).
    Presign,
    /// `POST /files/{key}/confirm` of a direct upload.
    Confirm,
}

/// What the hook is asked about.
#[derive(Debug, Clone, Serialize)]
pub struct Ask<'a> {
    pub kind: Kind,
    /// The caller's `sub`.
    pub sub: &'a str,
    pub key: &'a str,
    /// Bytes, when known before the body (a PUT's length, a declared total, a confirmed size).
    pub size: Option<u64>,
    /// The declared type (`null`: a form that takes its file's own type).
    pub content_type: Option<&'a str>,
    pub metadata: &'a Metadata,
}

/// What the hook allowed: the caller's grant with the hook's lower size limit, the hook's key
/// if it chose one, and the metadata it set (a JSON object of strings), if it set any.
#[derive(Debug, Clone)]
pub struct Approved {
    pub grant: Grant,
    pub key: Option<ObjectKey>,
    pub metadata: Option<String>,
}

/// The most names metadata may have.
pub const MAX_METADATA_ENTRIES: usize = 32;
/// The most bytes metadata may take, as JSON (S3 allows 2 KB of user metadata).
pub const MAX_METADATA_BYTES: usize = 2048;

/// Metadata as recorded: JSON, `None` when empty; why not, if it breaks the limits (names of
/// letters, digits, `-`, `_` and `.`, at most 64 bytes; [`MAX_METADATA_ENTRIES`] names;
/// [`MAX_METADATA_BYTES`] in all).
pub fn recorded_metadata(metadata: &Metadata) -> std::result::Result<Option<String>, String> {
    if metadata.is_empty() {
        return Ok(None);
    }
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(format!("metadata may have at most {MAX_METADATA_ENTRIES} names"));
    }
    let bad = metadata
        .keys()
        .find(|k| k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    if let Some(name) = bad {
        return Err(format!("the metadata name `{name}` is not 1–64 letters, digits, `-`, `_` or `.`"));
    }
    let json = serde_json::to_string(metadata).map_err(|e| e.to_string())?;
    if json.len() > MAX_METADATA_BYTES {
        return Err(format!("metadata may take at most {MAX_METADATA_BYTES} bytes as JSON"));
    }
    Ok(Some(json))
}

/// The hook's answer body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    allow: bool,
    key: Option<String>,
    metadata: Option<Metadata>,
    max_size: Option<u64>,
    status: Option<u16>,
    message: Option<String>,
}

/// The hook of a deployment, if it has one, for one request.
#[derive(Clone, Copy)]
pub struct Approval<'a> {
    pub config: Option<&'a ApprovalConfig>,
    pub hook: Option<&'a dyn ApprovalHook>,
    pub now_ms: i64,
    pub request_id: &'a str,
}

impl Approval<'_> {
    /// No hook: every upload goes on as asked.
    pub fn none(now_ms: i64) -> Approval<'static> {
        Approval { config: None, hook: None, now_ms, request_id: "" }
    }

    /// Asks the hook about `ask` by the holder of `grant`: what it allowed, or the refusal to
    /// answer with.
    pub async fn ask(&self, grant: &Grant, ask: Ask<'_>) -> Result<Approved> {
        let unchanged = || Approved { grant: grant.clone(), key: None, metadata: None };
        let (Some(config), Some(hook)) = (self.config, self.hook) else { return Ok(unchanged()) };
        let body = serde_json::to_string(&ask).map_err(|e| {
            GatewayError::hidden(ErrorKind::Internal, "the approval request could not be built", e.to_string())
        })?;
        let timestamp = self.now_ms.div_euclid(1000);
        let headers = [
            (SIGNATURE_HEADER, sign(config.secret.expose().as_bytes(), timestamp, &body)),
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (REQUEST_ID_HEADER, self.request_id.to_owned()),
        ];
        let answered = hook.post(config.url.as_str(), &headers, &body, config.timeout_ms).await;
        match answered.and_then(|(status, text)| decide(grant, &ask, status, &text)) {
            Ok(Ok(approved)) => Ok(approved),
            Ok(Err(refusal)) => Err(refusal),
            Err(why) => match config.on_failure {
                OnFailure::Deny => Err(GatewayError::hidden(
                    ErrorKind::ApprovalUnavailable,
                    "the upload could not be approved: the approval hook did not answer as it must; retry later",
                    why,
                )),
                OnFailure::Allow => {
                    crate::log::error(&format!("the approval hook failed, the upload went on as asked: {why}"));
                    Ok(unchanged())
                }
            },
        }
    }
}

/// Reads the hook's answer: `Ok(Ok(_))` allowed, `Ok(Err(_))` refused, `Err(why)` not an answer
/// the hook may give.
fn decide(grant: &Grant, ask: &Ask<'_>, status: u16, text: &str) -> std::result::Result<Result<Approved>, String> {
    if status != 200 {
        return Err(format!("the hook answered {status}"));
    }
    let answer: Answer = serde_json::from_str(text).map_err(|e| format!("the hook's answer is not one: {e}"))?;
    if !answer.allow {
        if answer.key.is_some() || answer.metadata.is_some() || answer.max_size.is_some() {
            return Err("a refusal carries no key, metadata or max_size".to_owned());
        }
        let status = answer.status.unwrap_or(403);
        if !(400..500).contains(&status) {
            return Err(format!("a refusal's status must be 4xx, not {status}"));
        }
        let message = answer.message.filter(|m| !m.trim().is_empty());
        return Ok(Err(GatewayError::new(
            ErrorKind::NotApproved,
            message.unwrap_or_else(|| "the upload was not approved".to_owned()),
        )
        .with_status(status)));
    }
    if answer.status.is_some() || answer.message.is_some() {
        return Err("an approval carries no status or message".to_owned());
    }
    let key = match answer.key {
        None => None,
        Some(k) if k == ask.key => None,
        Some(_) if ask.kind == Kind::Confirm => {
            return Err("a confirm's object is already stored: its key cannot change".to_owned())
        }
        Some(k) => {
            let k = ObjectKey::new(k).map_err(|e| format!("the hook's key is not a valid key: {}", e.detail))?;
            grant
                .authorize(Scope::Write, &k)
                .map_err(|_| format!("the hook's key `{k}` is outside the caller's token"))?;
            Some(k)
        }
    };
    let metadata = match &answer.metadata {
        Some(m) => recorded_metadata(m).map_err(|why| format!("the hook's metadata: {why}"))?,
        None => None,
    };
    Ok(Ok(Approved { grant: grant.limited_to(answer.max_size), key, metadata }))
}
