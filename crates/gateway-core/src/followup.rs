//! The work an event asks for, done off the request path: for an upload, sniff the stored
//! object's real type and record whether it matches the declared one; then post the signed
//! webhook. The queue's consumer runs [`deliver`] for each attempt and retries what it says
//! to retry; without a queue the edge runs it once from `waitUntil`. Nothing here can fail the
//! upload.

use crate::config::WebhookConfig;
use crate::events::{Delivery, Event, EventKind};
use crate::key::StoredName;
use crate::metadata::ObjectIndex;
use crate::scan_link::scan_link;
use crate::sniff::{detect, type_matches, SNIFF_BYTES};
use crate::store::Objects;
use crate::time::rfc3339;
use crate::webhook::{signed_headers, Detection, Payload};

/// What the edge does after answering a request that changed an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// The event the change recorded.
    pub event: Event,
    /// The version an upload replaced, journaled for deletion: deleted first.
    pub replaced: Option<StoredName>,
    /// The event is on the queue already, carried by the upload's pending-commit message.
    pub queued: bool,
}

impl FollowUp {
    /// Whether anything is left to do after the answer: a replaced version to delete, or an
    /// event to send. An announced upload that replaced nothing has none (its event travels
    /// with its pending-commit message), so the edge schedules nothing and logs nothing for it.
    pub fn has_work(&self) -> bool {
        self.replaced.is_some() || !self.queued
    }
}

/// Sends a webhook request with these headers; answers the HTTP status.
#[allow(async_fn_in_trait)]
pub trait WebhookSender {
    async fn send(&self, url: &str, headers: &[(&'static str, String)], body: String) -> Result<u16, String>;
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: the webhook answered 2xx (`Some(status)`), or there is no webhook.
    Delivered(Option<u16>),
    /// Worth another attempt: the receiver was unreachable, timed out, or answered 408, 429 or
    /// 5xx (its status); or the object could not be read or its finding recorded. With why.
    Retry(Option<u16>, String),
    /// The receiver refused the event (another 4xx, or a 3xx): another attempt would not help.
    Rejected(u16),
}

/// What one attempt did, for the log and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub outcome: Outcome,
    pub detection: Option<Detection>,
    /// Things worth logging that did not decide the outcome.
    pub notes: Vec<String>,
}

impl Report {
    /// What became of this attempt, given the consumer's `max_retries`: a failure is retried,
    /// and called dead-lettered on the attempt after the last retry (the queue then parks it).
    /// With the webhook's status, where it answered.
    pub fn delivery(&self, attempt: u32, max_retries: u32) -> (Delivery, Option<u16>) {
        match &self.outcome {
            Outcome::Delivered(status) => (Delivery::Delivered, *status),
            Outcome::Rejected(status) => (Delivery::Rejected, Some(*status)),
            Outcome::Retry(status, _) if attempt > max_retries => (Delivery::DeadLettered, *status),
            Outcome::Retry(status, _) => (Delivery::Retried, *status),
        }
    }

    /// Why the attempt did not deliver, and the notes, for the log.
    pub fn detail(&self) -> Option<String> {
        let why = match &self.outcome {
            Outcome::Delivered(_) => None,
            Outcome::Rejected(status) => Some(format!("the webhook answered {status}")),
            Outcome::Retry(_, why) => Some(why.clone()),
        };
        why.into_iter().chain(self.notes.iter().cloned()).reduce(|a, b| format!("{a}; {b}"))
    }
}

/// Attempt `attempt` (from 1) at delivering `event`.
pub async fn deliver<S: Objects, M: ObjectIndex, W: WebhookSender>(
    store: &S,
    meta: &M,
    sender: &W,
    webhook: Option<&WebhookConfig>,
    event: &Event,
    attempt: u32,
    now_ms: i64,
) -> Report {
    let mut notes = Vec::new();
    let detection = match &event.kind {
        EventKind::Uploaded { content_type, .. } => match inspect(store, meta, event, content_type).await {
            Ok(Some(found)) => Some(found),
            Ok(None) => {
                notes.push("the version was replaced or deleted before it could be inspected".to_owned());
                Some(Detection { detected_type: None, type_matches: None })
            }
            Err(why) => return Report { outcome: Outcome::Retry(None, why), detection: None, notes },
        },
        EventKind::Deleted { .. } => None,
    };
    post(sender, webhook, event, detection, notes, attempt, now_ms).await
}

/// Attempt `attempt` at posting `event`, whose object's type `detection` is known already.
pub async fn post<W: WebhookSender>(
    sender: &W,
    webhook: Option<&WebhookConfig>,
    event: &Event,
    detection: Option<Detection>,
    notes: Vec<String>,
    attempt: u32,
    now_ms: i64,
) -> Report {
    let Some(hook) = webhook else {
        return Report { outcome: Outcome::Delivered(None), detection, notes };
    };
    let scan_download = match hook.scan_links.as_ref().map(|links| scan_link(links, event, now_ms)).transpose() {
        Ok(link) => link.flatten(),
        Err(e) => return Report { outcome: Outcome::Retry(None, e.log_line()), detection, notes },
    };
    let payload = Payload { event, detection: detection.clone(), attempt, sent_at: rfc3339(now_ms), scan_download };
    let body = serde_json::to_string(&payload).unwrap_or_default();
    let headers = signed_headers(hook.secret.expose().as_bytes(), event, attempt, now_ms / 1000, &body);
    let outcome = match sender.send(hook.url.as_str(), &headers, body).await {
        Ok(status @ 200..=299) => Outcome::Delivered(Some(status)),
        Ok(status @ (408 | 429 | 500..)) => Outcome::Retry(Some(status), format!("the webhook answered {status}")),
        Ok(status) => Outcome::Rejected(status),
        Err(e) => Outcome::Retry(None, format!("the webhook could not be reached: {e}")),
    };
    Report { outcome, detection, notes }
}

/// Sniffs the version the event describes, if the key's row still serves it, and records the
/// finding on the row unless it is there already (a retry). `Ok(None)`: the row serves another
/// version or none; `Err`: the store or the database failed, worth a retry.
async fn inspect<S: Objects, M: ObjectIndex>(
    store: &S,
    meta: &M,
    event: &Event,
    declared: &str,
) -> Result<Option<Detection>, String> {
    let row = meta.get(&event.key).await.map_err(|e| format!("reading the row failed: {}", e.log_line()))?;
    let Some(row) = row.filter(|r| r.etag == event.etag) else { return Ok(None) };
    let head = if row.size == 0 {
        Some(Vec::new())
    } else {
        store
            .read_prefix(&StoredName::recorded(row.storage_key.clone()), SNIFF_BYTES)
            .await
            .map_err(|e| format!("reading the object's first bytes failed: {}", e.log_line()))?
    };
    let Some(head) = head else { return Ok(None) };
    let detected = detect(&head);
    let matches = type_matches(declared, detected);
    if (row.detected_type.as_deref(), row.type_matches) != (detected, matches) {
        meta.record_detection(&event.key, &row.storage_key, detected, matches)
            .await
            .map_err(|e| format!("recording the detected type failed: {}", e.log_line()))?;
    }
    Ok(Some(Detection { detected_type: detected.map(str::to_owned), type_matches: matches }))
}
