//! Work done after the client has its answer (`waitUntil` at the edge): sniff the stored
//! object's real type, record whether it matches the declared one, and post a signed
//! webhook event. Nothing here can fail the upload; problems are reported for the log.

use crate::config::WebhookConfig;
use crate::key::{ObjectKey, StoredName};
use crate::metadata::{garbage_id, ObjectIndex, UploadJournal};
use crate::sniff::{detect, type_matches, SNIFF_BYTES};
use crate::store::Objects;
use crate::time::rfc3339;
use crate::webhook::{sign, UploadEvent};

/// What the follow-up needs to know about a finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub key: ObjectKey,
    pub owner: String,
    pub size: u64,
    pub etag: String,
    pub content_type: String,
    pub uploaded_ms: i64,
    /// Where the new version is stored.
    pub stored: StoredName,
    /// The version the upload replaced, journaled for deletion; deleted here first.
    pub replaced: Option<StoredName>,
}

/// Sends a webhook request; answers the HTTP status.
#[allow(async_fn_in_trait)]
pub trait WebhookSender {
    async fn send(&self, url: &str, signature: &str, body: String) -> Result<u16, String>;
}

/// What the follow-up did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpReport {
    pub detected: Option<&'static str>,
    pub matches: Option<bool>,
    pub webhook_status: Option<u16>,
    pub problems: Vec<String>,
}

pub async fn run<S: Objects, M: ObjectIndex + UploadJournal, W: WebhookSender>(
    store: &S,
    meta: &M,
    sender: &W,
    webhook: Option<&WebhookConfig>,
    job: &FollowUp,
    now_ms: i64,
) -> FollowUpReport {
    let mut report = FollowUpReport::default();
    if let Some(old) = &job.replaced {
        // Off the request path: the replaced version is no longer served; its journal entry
        // goes once it is deleted, or stays for the sweep.
        match store.delete(old).await {
            Ok(()) => {
                if let Err(e) = meta.abandon_upload(&garbage_id(old.as_str())).await {
                    report.problems.push(format!("clearing the entry of replaced `{old}` failed: {}", e.log_line()));
                }
            }
            Err(e) => report.problems.push(format!("deleting replaced `{old}` failed: {}", e.log_line())),
        }
    }
    let head = if job.size == 0 { Ok(Some(Vec::new())) } else { store.read_prefix(&job.stored, SNIFF_BYTES).await };
    match head {
        Ok(Some(bytes)) => {
            report.detected = detect(&bytes);
            report.matches = type_matches(&job.content_type, report.detected);
            if let Err(e) = meta.record_detection(job.key.as_str(), &job.etag, report.detected, report.matches).await {
                report.problems.push(format!("recording the detected type failed: {}", e.log_line()));
            }
        }
        Ok(None) => report.problems.push("the object was gone before it could be inspected".to_owned()),
        Err(e) => report.problems.push(format!("reading the object's first bytes failed: {}", e.log_line())),
    }
    if let Some(hook) = webhook {
        let event = UploadEvent {
            r#type: "object.uploaded",
            key: job.key.to_string(),
            owner: job.owner.clone(),
            size: job.size,
            etag: job.etag.clone(),
            content_type: job.content_type.clone(),
            detected_type: report.detected.map(str::to_owned),
            type_matches: report.matches,
            uploaded_at: rfc3339(job.uploaded_ms),
            sent_at: rfc3339(now_ms),
        };
        let body = serde_json::to_string(&event).unwrap_or_default();
        let signature = sign(hook.secret.expose().as_bytes(), body.as_bytes());
        match sender.send(hook.url.as_str(), &signature, body).await {
            Ok(status) if (200..300).contains(&status) => report.webhook_status = Some(status),
            Ok(status) => {
                report.webhook_status = Some(status);
                report.problems.push(format!("the webhook answered {status}"));
            }
            Err(e) => report.problems.push(format!("the webhook could not be reached: {e}")),
        }
    }
    report
}
