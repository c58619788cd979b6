//! Upload events: one per committed object version (`object.uploaded`) and per deleted one
//! (`object.deleted`). A commit or a delete records its event in the metadata outbox in the
//! same transaction ([`EventOutbox`]); the edge then hands it to the `EVENTS` queue. The
//! queue's consumer clears the outbox rows of each batch it receives, in one statement, and
//! delivers each event ([`crate::followup::deliver`]), retried with growing delays; the sweep
//! re-sends rows that are still there long after they were written.
//!
//! The message schema is versioned ([`VERSION`]); an upload event's `id` is derived from the
//! stored version it describes and a deletion's from the request that deleted it (the only
//! one that can: it removed the row), so every copy of an event (a re-send, a retry) carries
//! the same id and receivers can deduplicate.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encoding::hex;
use crate::error::Result as MetaResult;
use crate::metadata::ObjectRecord;
use crate::time::rfc3339;

/// The schema version of every event this gateway writes.
pub const VERSION: u32 = 1;
/// Outbox rows younger than this may still be on their way: sent by the request that wrote
/// them (its `waitUntil` runs for at most 30 s after the answer) and waiting in the queue for
/// the consumer, which clears them. The sweep re-sends older ones (a copy with the same id, if
/// the first was only slow).
pub const OUTBOX_GRACE_MS: i64 = 5 * 60 * 1000;
/// The longest delay a queue retry may ask for (Cloudflare Queues' limit: 12 hours).
pub const MAX_RETRY_DELAY_S: u32 = 12 * 60 * 60;

/// What happened to the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    #[serde(rename = "object.uploaded")]
    Uploaded {
        content_type: String,
        uploaded_at: String,
        /// `pending` when the version is quarantined until a scanner's verdict.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scan: Option<String>,
        /// What the approval hook recorded with the version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<std::collections::BTreeMap<String, String>>,
    },
    #[serde(rename = "object.deleted")]
    Deleted {
        deleted_at: String,
        /// Why a version was deleted other than by its owner: `infected` (a scanner's verdict)
        /// or `scan_timeout` (no verdict in time, `QUARANTINE_ON_TIMEOUT=delete`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// One event, as queued and as posted to the webhook (which adds what the consumer found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
    pub version: u32,
    pub id: String,
    pub key: String,
    pub owner: String,
    pub size: u64,
    pub etag: String,
}

/// A stable id for an event about one stored version: every copy carries it.
fn event_id(kind: &str, storage_key: &str) -> String {
    let digest = Sha256::digest(format!("{kind}\n{storage_key}").as_bytes());
    format!("evt_{}", &hex(&digest)[..32])
}

impl Event {
    /// The event of the version `rec` describes, as its commit records it.
    pub fn uploaded(rec: &ObjectRecord) -> Event {
        Event::about(
            rec,
            EventKind::Uploaded {
                content_type: rec.content_type.clone(),
                uploaded_at: rfc3339(rec.completed_at.unwrap_or(rec.created_at)),
                scan: rec.scan.clone(),
                metadata: rec.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()),
            },
        )
    }

    /// The event of deleting the version `rec` describes, at `now_ms`, with the id the delete
    /// chose ([`Event::deletion_id`]) and recorded in the outbox.
    pub fn deleted(rec: &ObjectRecord, now_ms: i64, id: &str, reason: Option<&str>) -> Event {
        let kind = EventKind::Deleted { deleted_at: rfc3339(now_ms), reason: reason.map(str::to_owned) };
        Event { id: id.to_owned(), ..Event::about(rec, kind) }
    }

    /// The id of the `object.deleted` event of request `request_id`'s delete of `key`: chosen
    /// before the delete reads the row, so the row's removal and its event are one transaction.
    pub fn deletion_id(key: &str, request_id: &str) -> String {
        event_id("object.deleted", &format!("{key}\n{request_id}"))
    }

    fn about(rec: &ObjectRecord, kind: EventKind) -> Event {
        let mut event = Event {
            kind,
            version: VERSION,
            id: String::new(),
            key: rec.key.clone(),
            owner: rec.owner.clone(),
            size: rec.size,
            etag: rec.etag.clone(),
        };
        event.id = event_id(event.type_name(), &rec.storage_key);
        event
    }

    /// `object.uploaded` or `object.deleted`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            EventKind::Uploaded { .. } => "object.uploaded",
            EventKind::Deleted { .. } => "object.deleted",
        }
    }

    pub fn to_json(&self) -> String {
        // Strings and numbers only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a queued or outboxed event; `None` for anything this version cannot act on.
    pub fn from_json(text: &str) -> Option<Event> {
        serde_json::from_str::<Event>(text).ok().filter(|e| e.version == VERSION)
    }
}

/// The message a small single PUT sends before its store write instead of journaling the upload
/// (see [`crate::announce`]): the queue's consumer later finds out whether the version was
/// committed, and delivers its `object.uploaded` event, or deletes the object that never was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCommit {
    /// Always `upload.pending`.
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    /// The id of the `object.uploaded` event the version will have.
    pub id: String,
    pub key: String,
    /// The uploading token's `sub`.
    #[serde(default)]
    pub owner: String,
    pub storage_key: String,
    /// The commit can apply only before this time (ms since the Unix epoch) by the database's
    /// own clock.
    pub deadline_ms: i64,
}

/// The `type` of a [`PendingCommit`] message.
pub const PENDING_COMMIT: &str = "upload.pending";

impl PendingCommit {
    pub fn new(key: &str, storage_key: &str, deadline_ms: i64) -> PendingCommit {
        PendingCommit {
            kind: PENDING_COMMIT.to_owned(),
            version: VERSION,
            id: event_id("object.uploaded", storage_key),
            key: key.to_owned(),
            owner: String::new(),
            storage_key: storage_key.to_owned(),
            deadline_ms,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A message on the `EVENTS` queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueMessage {
    Event(Event),
    Pending(PendingCommit),
}

impl QueueMessage {
    /// `None` for anything this version cannot act on.
    pub fn from_json(text: &str) -> Option<QueueMessage> {
        match serde_json::from_str::<PendingCommit>(text) {
            Ok(p) if p.kind == PENDING_COMMIT && p.version == VERSION => Some(QueueMessage::Pending(p)),
            _ => Event::from_json(text).map(QueueMessage::Event),
        }
    }
}

/// The event outbox (table `event_outbox`): every commit that makes a row name a new version,
/// and every delete of a row, records its event ([`Event`]) here in the same
/// transaction, so no committed change is without its event. A deployment without an event
/// queue records none. Rows go once the event is on the queue.
#[allow(async_fn_in_trait)]
pub trait EventOutbox {
    /// Events recorded before `before_ms` and still here, oldest first.
    async fn unsent_events(&self, before_ms: i64, limit: u32) -> MetaResult<Vec<Event>>;
    /// Forgets events that are on the queue (one statement however many).
    async fn clear_events(&self, sent: &[Event]) -> MetaResult<()>;
}

/// The `EVENTS` queue (a producer binding at the edge).
#[allow(async_fn_in_trait)]
pub trait EventQueue {
    /// Sends one event. An error may still have sent it (the answer was lost); the outbox row
    /// stays either way and the sweep sends it again, under the same id.
    async fn send(&self, event: &Event) -> Result<(), String>;
    /// Sends a pending-commit message, to be delivered no sooner than `delay_s` seconds from
    /// now. An error may still have sent it.
    async fn announce(&self, pending: &PendingCommit, delay_s: u32) -> Result<(), String>;
}

/// What [`dispatch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub sent: usize,
    /// For the log.
    pub problems: Vec<String>,
}

/// Hands recorded events to the queue. Their outbox rows stay until the consumer receives them
/// and clears them; an event that could not be sent is re-sent by the sweep.
pub async fn dispatch<Q: EventQueue>(queue: &Q, events: &[Event]) -> Dispatched {
    let mut done = Dispatched::default();
    for event in events {
        match queue.send(event).await {
            Ok(()) => done.sent += 1,
            Err(e) => done.problems.push(format!("queueing event {} failed, the sweep re-sends it: {e}", event.id)),
        }
    }
    done
}

/// The sweep's part: re-sends events recorded before `now_ms - OUTBOX_GRACE_MS` whose rows are
/// still there (the request's own send failed, or its isolate went away first), and clears the
/// rows of those it sent, so a consumer that is not running does not get a copy every run.
pub async fn resend<Q: EventQueue, O: EventOutbox>(queue: &Q, outbox: &O, now_ms: i64, limit: u32) -> Dispatched {
    let events = match outbox.unsent_events(now_ms - OUTBOX_GRACE_MS, limit).await {
        Ok(events) => events,
        Err(e) => {
            return Dispatched { sent: 0, problems: vec![format!("listing the event outbox failed: {}", e.log_line())] }
        }
    };
    let mut sent = Vec::new();
    let mut done = Dispatched::default();
    for event in &events {
        match queue.send(event).await {
            Ok(()) => sent.push(event.clone()),
            Err(e) => {
                done.problems.push(format!("re-sending event {} failed, the next run tries again: {e}", event.id))
            }
        }
    }
    done.sent = sent.len();
    if let Err(e) = outbox.clear_events(&sent).await {
        // Sent, so at worst the next run sends another copy with the same id.
        done.problems.push(format!("clearing {} re-sent events failed: {}", sent.len(), e.log_line()));
    }
    done
}

/// What became of one delivery attempt, as metrics and the log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Failed; the queue tries again later.
    Retried,
    /// Failed for the last time; the queue moves it to the dead-letter queue.
    DeadLettered,
    /// Refused by the receiver; not retried.
    Rejected,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Retried => "retried",
            Delivery::DeadLettered => "dead_lettered",
            Delivery::Rejected => "rejected",
        }
    }
}

/// How long a failed delivery waits before its next attempt: `base_s` after the first
/// attempt, doubling each time, at most [`MAX_RETRY_DELAY_S`].
pub fn retry_delay_s(base_s: u32, attempt: u32) -> u32 {
    let doublings = attempt.saturating_sub(1).min(20);
    base_s.saturating_mul(1u32 << doublings).min(MAX_RETRY_DELAY_S)
}
