//! `POST /files/{key}/confirm`: after a direct upload to the store, checks that the object is
//! really there and is what was presigned, then records it exactly as a gateway upload (row,
//! follow-up). An object that does not match is deleted.

use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::Reply;
use crate::key::ObjectKey;
use crate::metadata::{MetadataStore, PresignedUpload};
use crate::store::{ObjectMeta, ObjectStore};
use crate::upload::{created, object_record};

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// The key a confirm path names: `/files/{key}/confirm` arrives as the key `{key}/confirm`.
pub fn confirmed_key(key: &ObjectKey) -> Option<ObjectKey> {
    key.as_str().strip_suffix("/confirm").and_then(|k| ObjectKey::new(k.to_owned()).ok())
}

/// How long after its URL expired a direct upload may still be confirmed. Shorter than the
/// sweep's grace, so a confirm never races the sweep deleting the unconfirmed object.
pub const CONFIRM_WINDOW_MS: i64 = 30 * 60 * 1000;

/// Why `object` is not what `signed` allowed, if it is not.
fn mismatch(signed: &PresignedUpload, object: &ObjectMeta) -> Option<String> {
    let declared = object.content_type.as_deref().and_then(essence);
    match signed.size {
        Some(size) if object.size != size => {
            return Some(format!("it is {} bytes, not the {size} presigned", object.size))
        }
        None if object.size > signed.max_size => {
            return Some(format!("it is {} bytes, over the {} allowed", object.size, signed.max_size))
        }
        _ => {}
    }
    (declared.as_deref() != Some(signed.content_type.as_str())).then(|| {
        format!("its type is {}, not the {} presigned", declared.as_deref().unwrap_or("unknown"), signed.content_type)
    })
}

pub async fn confirm<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    grant: &Grant,
    key: ObjectKey,
    now_ms: i64,
) -> Result<(Reply<S::Stream>, FollowUp)> {
    grant.authorize(Scope::Write, &key)?;
    let open: Vec<PresignedUpload> = meta
        .presigned(key.as_str(), &grant.sub)
        .await?
        .into_iter()
        .filter(|p| now_ms < p.expires_at.saturating_add(CONFIRM_WINDOW_MS))
        .collect();
    if open.is_empty() {
        return Err(GatewayError::new(ErrorKind::NotFound, "no direct upload of this key is waiting to be confirmed"));
    }
    let found = store.head(&key).await?;
    let row = meta.get(key.as_str()).await?;
    // An object the gateway already recorded is not the presigned upload.
    let Some(object) = found.filter(|o| row.as_ref().is_none_or(|r| r.etag != o.etag)) else {
        return Err(bad("the object has not been uploaded yet; PUT it to the presigned URL first"));
    };
    // With several URLs out for the key, the object may come from any of them.
    let Some(signed) = open.iter().find(|p| mismatch(p, &object).is_none()) else {
        let why = open.first().and_then(|p| mismatch(p, &object)).unwrap_or_default();
        store.delete(&key).await?;
        return Err(bad(format!("the uploaded object does not match what was presigned: {why}; it was deleted")));
    };
    let record = object_record(grant, &key, &signed.content_type, &object, now_ms);
    meta.confirm_presigned(&signed.nonce, &record).await?;
    Ok(created(grant, key, signed.content_type.clone(), object))
}
