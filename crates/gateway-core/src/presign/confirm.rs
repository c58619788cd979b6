//! `POST /files/{key}/confirm`: after a direct upload to the store, checks that the object is
//! really there and is what was presigned, then records it exactly as a gateway upload (row,
//! follow-up). An object that does not match is deleted.

use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::Reply;
use crate::key::ObjectKey;
use crate::metadata::MetadataStore;
use crate::store::ObjectStore;
use crate::upload::{created, object_record};

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// The key a confirm path names: `/files/{key}/confirm` arrives as the key `{key}/confirm`.
pub fn confirmed_key(key: &ObjectKey) -> Option<ObjectKey> {
    key.as_str().strip_suffix("/confirm").and_then(|k| ObjectKey::new(k.to_owned()).ok())
}

pub async fn confirm<S: ObjectStore, M: MetadataStore>(
    store: &S,
    meta: &M,
    grant: &Grant,
    key: ObjectKey,
    now_ms: i64,
) -> Result<(Reply<S::Stream>, FollowUp)> {
    grant.authorize(Scope::Write, &key)?;
    let signed = meta.presigned(key.as_str(), &grant.sub).await?.ok_or_else(|| {
        GatewayError::new(ErrorKind::NotFound, "no direct upload of this key is waiting to be confirmed")
    })?;
    let found = store.head(&key).await?;
    let row = meta.get(key.as_str()).await?;
    // An object the gateway already recorded is not the presigned upload.
    let Some(object) = found.filter(|o| row.as_ref().is_none_or(|r| r.etag != o.etag)) else {
        return Err(bad("the object has not been uploaded yet; PUT it to the presigned URL first"));
    };
    let declared = object.content_type.as_deref().and_then(essence);
    let problem = match signed.size {
        Some(size) if object.size != size => Some(format!("it is {} bytes, not the {size} presigned", object.size)),
        None if object.size > signed.max_size => {
            Some(format!("it is {} bytes, over the {} allowed", object.size, signed.max_size))
        }
        _ if declared.as_deref() != Some(signed.content_type.as_str()) => Some(format!(
            "its type is {}, not the {} presigned",
            declared.as_deref().unwrap_or("unknown"),
            signed.content_type
        )),
        _ => None,
    };
    if let Some(why) = problem {
        store.delete(&key).await?;
        return Err(bad(format!("the uploaded object does not match what was presigned: {why}; it was deleted")));
    }
    let record = object_record(grant, &key, &signed.content_type, &object, now_ms);
    meta.confirm_presigned(&signed.nonce, &record).await?;
    Ok(created(grant, key, signed.content_type, object))
}
