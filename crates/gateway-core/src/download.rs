//! `GET` and `HEAD /files/{key}`: streamed downloads with single byte ranges and
//! `If-Match` / `If-None-Match`. The store's stream is handed back to the edge untouched.

use crate::conditional::{EntityTag, EtagCondition, Precondition, ReadConditions};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scope};
use crate::http::{Body, Reply, RequestHead};
use crate::key::ObjectKey;
use crate::presign::disposition::attachment;
use crate::range::{self, unsatisfied_content_range, ByteRangeSpec};
use crate::store::{GetResult, ObjectMeta, ObjectStore};
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

pub async fn get<S: ObjectStore>(
    store: &S,
    grant: &Grant,
    key: &ObjectKey,
    head: &RequestHead,
) -> Result<Reply<S::Stream>> {
    grant.authorize(Scope::Read, key)?;
    let mut conditions = read_conditions(head);
    let mut spec = head.header("range").and_then(range::parse);
    if let (Some(_), Some(validator)) = (spec, head.header("if-range")) {
        // RFC 9110 §13.1.5: the range only if the object is still the one the client has
        // (strong ETag match; a date never matches here), else the whole object. The ETag is
        // then pinned with If-Match, so a change in between answers 412 instead of mixing.
        let current = store.head(key).await?.ok_or_else(not_found)?;
        match EntityTag::parse(validator).filter(|t| !t.weak && validator.trim_start().starts_with('"')) {
            Some(tag) if EntityTag::parse(&current.etag).is_some_and(|c| !c.weak && c.opaque == tag.opaque) => {
                conditions.if_match.get_or_insert(EtagCondition::Tags(vec![tag]));
            }
            _ => spec = None,
        }
    }
    if spec == Some(ByteRangeSpec::Suffix(0)) {
        // "The last 0 bytes" is never satisfiable; stores disagree on how to say so.
        let meta = store.head(key).await?.ok_or_else(not_found)?;
        return Ok(unsatisfiable(meta.size));
    }
    match store.get(key, spec, &conditions).await? {
        GetResult::Missing => Err(not_found()),
        GetResult::ConditionFailed(meta) => {
            let outcome = match conditions.evaluate(Some(&meta.etag)) {
                // The store refused without an ETag that tells why: If-None-Match alone is a 304.
                Precondition::Proceed if conditions.if_match.is_none() => Precondition::NotModified,
                Precondition::Proceed => Precondition::Failed,
                other => other,
            };
            precondition_reply(outcome, &meta)
        }
        GetResult::Unsatisfiable { size } => Ok(unsatisfiable(size)),
        GetResult::Found { meta, range, body } => {
            // Stores that cannot evaluate every precondition natively still get it right here.
            match conditions.evaluate(Some(&meta.etag)) {
                Precondition::Proceed => {}
                other => return precondition_reply(other, &meta),
            }
            let content_type = meta.content_type.clone().unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
            let reply = match range {
                Some(r) => Reply { status: 206, headers: Vec::new(), body: Body::Stream(body) }
                    .with_header("Content-Range", r.content_range())
                    .with_header("Content-Length", r.len().to_string()),
                None => Reply { status: 200, headers: Vec::new(), body: Body::Stream(body) }
                    .with_header("Content-Length", meta.size.to_string()),
            };
            Ok(with_disposition(with_meta(reply.with_header("Content-Type", content_type), &meta), head))
        }
    }
}

pub async fn head_object<S: ObjectStore>(
    store: &S,
    grant: &Grant,
    key: &ObjectKey,
    head: &RequestHead,
) -> Result<Reply<S::Stream>> {
    grant.authorize(Scope::Read, key)?;
    let meta = store.head(key).await?.ok_or_else(not_found)?;
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
