//! `GET` and `HEAD /files/{key}`: streamed downloads with single byte ranges and
//! `If-Match` / `If-None-Match`. The store's stream is handed back to the edge untouched.

use crate::conditional::{EntityTag, EtagCondition, Precondition, ReadConditions};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scope};
use crate::http::{Body, Reply, RequestHead};
use crate::key::{ObjectKey, StoredName};
use crate::metadata::{ObjectIndex, ObjectRecord};
use crate::presign::disposition::attachment;
use crate::quarantine::check_served;
use crate::range::{self, unsatisfied_content_range, ByteRangeSpec};
use crate::store::{GetResult, ObjectMeta, Objects};
use crate::time::http_date;
use crate::upload::DEFAULT_CONTENT_TYPE;

pub fn read_conditions(head: &RequestHead) -> ReadConditions {
    ReadConditions {
        if_match: head.header("if-match").and_then(EtagCondition::parse),
        if_none_match: head.header("if-none-match").and_then(EtagCondition::parse),
    }
}

fn not_found() -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, "no object has this key")
}

/// `?download=<name>` asks for the object as an attachment with that file name.
fn with_disposition<S>(reply: Reply<S>, head: &RequestHead) -> Reply<S> {
    match head.query_param("download") {
        Some(name) => reply.with_header("Content-Disposition", attachment(&name)),
        None => reply,
    }
}

/// Stored files are served as data, never as active content on the gateway's origin (which
/// also serves the page): no type sniffing, and scripts in an HTML or SVG upload do not run.
fn with_meta<S>(reply: Reply<S>, meta: &ObjectMeta) -> Reply<S> {
    reply
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Content-Security-Policy", "default-src 'none'; sandbox")
        .with_header("ETag", meta.etag.clone())
        .with_header("Last-Modified", http_date(meta.uploaded_ms))
        .with_header("Accept-Ranges", "bytes")
}

fn precondition_reply<S>(outcome: Precondition, meta: &ObjectMeta) -> Result<Reply<S>> {
    match outcome {
        Precondition::NotModified => Ok(with_meta(Reply::empty(304), meta)),
        _ => Err(GatewayError::new(ErrorKind::PreconditionFailed, "the object does not match If-Match")),
    }
}

fn unsatisfiable<S>(size: u64) -> Reply<S> {
    Reply::problem(&GatewayError::new(ErrorKind::RangeNotSatisfiable, format!("the object is {size} bytes")))
        .with_header("Content-Range", unsatisfied_content_range(size))
}

/// What the key's row says about the version it serves, as the store would.
fn row_meta(row: &ObjectRecord) -> ObjectMeta {
    ObjectMeta {
        size: row.size,
        etag: row.etag.clone(),
        uploaded_ms: row.completed_at.unwrap_or(row.created_at),
        content_type: Some(row.content_type.clone()),
    }
}

/// The version `key` serves: its row, if its bytes may be served (not quarantined, or read
/// through a scanner's URL for version `scan`). A stored object no row names is never served.
async fn current<M: ObjectIndex>(meta: &M, key: &ObjectKey, scan: Option<&str>) -> Result<ObjectRecord> {
    let row = meta.get(key.as_str()).await?.ok_or_else(not_found)?;
    check_served(&row, scan)?;
    Ok(row)
}

pub async fn get<S: Objects, M: ObjectIndex>(
    store: &S,
    meta: &M,
    grant: &Grant,
    key: &ObjectKey,
    head: &RequestHead,
    scan: Option<&str>,
) -> Result<Reply<S::Stream>> {
    grant.authorize(Scope::Read, key)?;
    let row = current(meta, key, scan).await?;
    match serve(store, &row, head).await? {
        Some(reply) => Ok(reply),
        None => {
            // The version was replaced (and deleted) between reading the row and the store:
            // serve the new one. A row still naming a missing object is a fault for the log.
            let again = current(meta, key, scan).await?;
            if again.storage_key == row.storage_key {
                crate::log::error(&format!("the row of `{key}` names `{}`, which the store lacks", row.storage_key));
                return Err(not_found());
            }
            serve(store, &again, head).await?.ok_or_else(not_found)
        }
    }
}

/// Serves the version `row` names; `None` if the store no longer has it.
async fn serve<S: Objects>(store: &S, row: &ObjectRecord, head: &RequestHead) -> Result<Option<Reply<S::Stream>>> {
    let name = StoredName::recorded(row.storage_key.clone());
    let current = row_meta(row);
    let mut conditions = read_conditions(head);
    let mut spec = head.header("range").and_then(range::parse);
    if let (Some(_), Some(validator)) = (spec, head.header("if-range")) {
        // RFC 9110 §13.1.5: the range only if the object is still the one the client has
        // (strong ETag match; a date never matches here), else the whole object. The ETag is
        // then pinned with If-Match, so a change in between answers 412 instead of mixing.
        match EntityTag::parse(validator).filter(|t| !t.weak && validator.trim_start().starts_with('"')) {
            Some(tag) if EntityTag::parse(&current.etag).is_some_and(|c| !c.weak && c.opaque == tag.opaque) => {
                conditions.if_match.get_or_insert(EtagCondition::Tags(vec![tag]));
            }
            _ => spec = None,
        }
    }
    if spec == Some(ByteRangeSpec::Suffix(0)) {
        // "The last 0 bytes" is never satisfiable; stores disagree on how to say so.
        return Ok(Some(unsatisfiable(current.size)));
    }
    let reply = match store.get(&name, spec, &conditions).await? {
        GetResult::Missing => return Ok(None),
        GetResult::ConditionFailed(meta) => {
            let outcome = match conditions.evaluate(Some(&meta.etag)) {
                // The store refused without an ETag that tells why: If-None-Match alone is a 304.
                Precondition::Proceed if conditions.if_match.is_none() => Precondition::NotModified,
                Precondition::Proceed => Precondition::Failed,
                other => other,
            };
            precondition_reply(outcome, &meta)?
        }
        GetResult::Unsatisfiable => unsatisfiable(current.size),
        GetResult::Found { meta, range, body } => {
            // Stores that cannot evaluate every precondition natively still get it right here.
            match conditions.evaluate(Some(&meta.etag)) {
                Precondition::Proceed => {}
                other => return precondition_reply(other, &meta).map(Some),
            }
            let content_type = meta.content_type.clone().unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
            let reply = match range {
                Some(r) => Reply { status: 206, headers: Vec::new(), body: Body::Stream(body) }
                    .with_header("Content-Range", r.content_range())
                    .with_header("Content-Length", r.len().to_string()),
                None => Reply { status: 200, headers: Vec::new(), body: Body::Stream(body) }
                    .with_header("Content-Length", meta.size.to_string()),
            };
            with_disposition(with_meta(reply.with_header("Content-Type", content_type), &meta), head)
        }
    };
    Ok(Some(reply))
}

/// `HEAD`: answered from the row alone, which records what the store reported at the commit.
pub async fn head_object<S, M: ObjectIndex>(
    meta: &M,
    grant: &Grant,
    key: &ObjectKey,
    head: &RequestHead,
    scan: Option<&str>,
) -> Result<Reply<S>> {
    grant.authorize(Scope::Read, key)?;
    let meta = row_meta(&current(meta, key, scan).await?);
    match read_conditions(head).evaluate(Some(&meta.etag)) {
        Precondition::Proceed => {}
        other => return precondition_reply(other, &meta),
    }
    let content_type = meta.content_type.clone().unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
    let reply = Reply::empty(200)
        .with_header("Content-Length", meta.size.to_string())
        .with_header("Content-Type", content_type);
    Ok(with_disposition(with_meta(reply, &meta), head))
}
