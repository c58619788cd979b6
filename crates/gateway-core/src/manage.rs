//! `DELETE /files/{key}` and `GET /files` (the caller's uploads, newest first).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::Serialize;

use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::Event;
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::{Reply, RequestHead};
use crate::key::{ObjectKey, StoredName};
use crate::metadata::{
    garbage_id, Condemned, Deletion, ListCursor, ObjectIndex, ObjectRecord, UploadJournal, STATUS_COMPLETE,
};
use crate::store::Objects;
use crate::time::rfc3339;
use crate::upload::log_cleanup;

pub const DEFAULT_LIST_LIMIT: u32 = 100;
pub const MAX_LIST_LIMIT: u32 = 1000;

/// Removes the row, which is what serves the key, in one transaction with a journal entry for
/// its stored object and its event; then deletes that object. A 204 means the key no longer
/// serves it; if the store delete fails, the entry lets the sweep finish it. The delete takes
/// the version the row names when it runs, unless that version was created after the delete
/// began (an upload that started later, as after a client gave up on this delete): that one
/// stays, and the answer is `412`.
pub async fn delete<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    grant: &Grant,
    key: &ObjectKey,
    request_id: &str,
    now_ms: i64,
) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
    grant.authorize(Scope::Delete, key)?;
    let event_id = Event::deletion_id(key.as_str(), request_id);
    match remove(store, meta, key, &event_id, now_ms, None).await {
        Ok(Removal::Removed(job)) => Ok((Reply::empty(204), Some(*job))),
        Ok(Removal::NoRow) => Err(GatewayError::new(ErrorKind::NotFound, "no object has this key")),
        Ok(Removal::Newer) => Err(GatewayError::new(
            ErrorKind::PreconditionFailed,
            "the object was replaced after this delete began; the new version stays",
        )),
        // The answer may be lost after the row went: if the key has no row now, it is deleted,
        // and what this request would have done after (the store delete, the event) is the
        // sweep's, through the journal entry and the outbox row.
        Err(err) => match meta.get(key.as_str()).await {
            Ok(None) => Ok((Reply::empty(204), None)),
            _ => Err(err),
        },
    }
}

/// What [`remove`] did.
pub enum Removal {
    /// The row went; its object was deleted (or left to the sweep); the event to send.
    Removed(Box<FollowUp>),
    /// The key has no row.
    NoRow,
    /// The row names another version: newer than the delete, or not the condemned one.
    Newer,
}

/// Removes the row of `key` (the version `condemned` names, if given) with its journal entry
/// and its event `event_id` in one transaction, then deletes its object.
pub async fn remove<S: Objects, M: ObjectIndex + UploadJournal>(
    store: &S,
    meta: &M,
    key: &ObjectKey,
    event_id: &str,
    now_ms: i64,
    condemned: Option<Condemned<'_>>,
) -> Result<Removal> {
    let row = match meta.delete_key(key.as_str(), now_ms, event_id, condemned).await? {
        Deletion::Removed(row) => *row,
        Deletion::NoRow => return Ok(Removal::NoRow),
        Deletion::Newer => return Ok(Removal::Newer),
    };
    let name = StoredName::recorded(row.storage_key.clone());
    match store.delete(&name).await {
        Ok(()) => {
            if let Err(e) = meta.abandon_upload(&row.key, &garbage_id(name.as_str())).await {
                log_cleanup("clearing the journal entry of deleted", &name, &e);
            }
        }
        Err(e) => log_cleanup("deleting", &name, &e),
    }
    let event = Event::deleted(&row, now_ms, event_id, condemned.map(|c| c.reason));
    Ok(Removal::Removed(Box::new(FollowUp { event, replaced: None, queued: false })))
}

/// The opaque `cursor` parameter.
pub fn encode_cursor(c: &ListCursor) -> String {
    B64URL.encode(serde_json::to_vec(c).unwrap_or_default())
}

pub fn decode_cursor(s: &str) -> Result<ListCursor> {
    B64URL
        .decode(s)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| GatewayError::new(ErrorKind::BadRequest, "the cursor is not one this gateway issued"))
}

/// The prefix a listing may use: the requested one, narrowed to what the token covers.
/// A request outside the token's prefix (or exact key) is refused.
pub fn listing_prefix(grant: &Grant, requested: &str) -> Result<String> {
    let covered = grant.exact_key.as_deref().unwrap_or(&grant.prefix);
    if requested.starts_with(covered) {
        Ok(requested.to_owned())
    } else if covered.starts_with(requested) {
        Ok(covered.to_owned())
    } else {
        Err(GatewayError::new(ErrorKind::Forbidden, "the token does not cover this prefix"))
    }
}

#[derive(Serialize)]
struct Item {
    key: String,
    size: u64,
    etag: String,
    content_type: String,
    uploaded_at: String,
    detected_type: Option<String>,
    type_matches: Option<bool>,
    /// `pending` while the version is quarantined (its bytes are served to nobody).
    #[serde(skip_serializing_if = "Option::is_none")]
    scan: Option<String>,
    /// What the approval hook recorded with the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<serde_json::Value>,
}

impl From<ObjectRecord> for Item {
    fn from(r: ObjectRecord) -> Item {
        Item {
            uploaded_at: rfc3339(r.completed_at.unwrap_or(r.created_at)),
            key: r.key,
            size: r.size,
            etag: r.etag,
            content_type: r.content_type,
            detected_type: r.detected_type,
            type_matches: r.type_matches,
            scan: r.scan,
            metadata: r.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()),
        }
    }
}

#[derive(Serialize)]
struct Page {
    items: Vec<Item>,
    cursor: Option<String>,
}

pub async fn list<S, M: ObjectIndex>(meta: &M, grant: &Grant, head: &RequestHead) -> Result<Reply<S>> {
    grant.require(Scope::List)?;
    let prefix = listing_prefix(grant, &head.query_param("prefix").unwrap_or_default())?;
    let limit = match head.query_param("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(v) => v.parse::<u32>().ok().filter(|n| (1..=MAX_LIST_LIMIT).contains(n)).ok_or_else(|| {
            GatewayError::new(ErrorKind::BadRequest, format!("limit must be a whole number from 1 to {MAX_LIST_LIMIT}"))
        })?,
    };
    let cursor = head.query_param("cursor").filter(|c| !c.is_empty()).map(|c| decode_cursor(&c)).transpose()?;
    if let Some(only) = &grant.exact_key {
        // A single-key token sees at most that one row.
        let row =
            meta.get(only).await?.filter(|r| r.owner == grant.sub && r.status == STATUS_COMPLETE && cursor.is_none());
        return Ok(Reply::json(200, &Page { items: row.into_iter().map(Item::from).collect(), cursor: None }));
    }
    // One row more than asked tells whether another page exists.
    let mut rows = meta.list(&grant.sub, &prefix, limit + 1, cursor.as_ref()).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| encode_cursor(&ListCursor { created_at: r.created_at, key: r.key.clone() }))
    } else {
        None
    };
    let items = rows.into_iter().map(Item::from).collect();
    Ok(Reply::json(200, &Page { items, cursor: next }))
}
