//! `POST /files/{key}/confirm`: after a direct upload to the store, checks that the object is
//! really there and is what was presigned, then records it exactly as a gateway upload (row,
//! follow-up). An object that does not match is deleted.

use crate::approval::{Approval, Ask, Kind, Metadata};
use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::Reply;
use crate::key::{ObjectKey, StoredName};
use crate::metadata::ObjectRecord;
use crate::metadata::{Commit, ObjectIndex, PresignLedger, PresignedUpload, UploadJournal};
use crate::multipart::session::check_object_size;
use crate::store::{ObjectMeta, Objects};
use crate::upload::{created, log_cleanup, object_record, settle};

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// The key a confirm path names: `/files/{key}/confirm` arrives as the key `{key}/confirm`.
pub fn confirmed_key(key: &ObjectKey) -> Option<ObjectKey> {
    key.as_str().strip_suffix("/confirm").and_then(|k| ObjectKey::new(k.to_owned()).ok())
}

/// How long after its URL expired a direct upload may still be confirmed. The URL's journal
/// entry falls due only after this window (and the transfer allowance), and a confirm commits
/// only through an unclaimed entry, so a confirm never races the sweep.
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

pub async fn confirm<S: Objects, M: ObjectIndex + UploadJournal + PresignLedger>(
    store: &S,
    meta: &M,
    grant: &Grant,
    key: ObjectKey,
    now_ms: i64,
    approval: Approval<'_>,
    scan: Option<String>,
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
    // Each URL writes its own stored name: the newest one that holds a matching object wins.
    let mut why = None;
    for signed in &open {
        let name = StoredName::recorded(signed.storage_key.clone());
        let Some(object) = store.head(&name).await? else { continue };
        if let Some(reason) = mismatch(signed, &object) {
            // Not what was signed: removed now (its journal entry covers a failed delete).
            let fate = match store.delete(&name).await {
                Ok(()) => "it was deleted",
                Err(e) => {
                    log_cleanup("deleting the mismatched direct upload", &name, &e);
                    "it will be deleted"
                }
            };
            why.get_or_insert(format!("{reason}; {fate}"));
            continue;
        }
        let asked = Ask {
            kind: Kind::Confirm,
            sub: &grant.sub,
            key: key.as_str(),
            size: Some(object.size),
            content_type: Some(&signed.content_type),
            metadata: &Metadata::new(),
        };
        // A refused upload is removed now; one the hook could not decide stays for a retry
        // within the confirm window (and for the sweep after it).
        let approved = approval.ask(grant, asked).await.and_then(|a| {
            check_object_size(&a.grant, object.size)?;
            Ok(a)
        });
        let approved = match approved {
            Ok(approved) => approved,
            Err(err) => {
                if err.kind != ErrorKind::ApprovalUnavailable {
                    if let Err(e) = store.delete(&name).await {
                        log_cleanup("deleting the refused direct upload", &name, &e);
                    }
                }
                return Err(err);
            }
        };
        let record = ObjectRecord {
            scan: scan.clone(),
            // The confirm's own answer, else the presign's.
            metadata: approved.metadata.or_else(|| signed.metadata.clone()),
            ..object_record(grant, &key, &signed.content_type, &name, &object, now_ms)
        };
        let committed = settle(meta, &record, meta.confirm_presigned(&signed.nonce, &record).await).await?;
        return match committed {
            Commit::Committed { replaced } => Ok(created(&key, &record, replaced)),
            Commit::KeyExists | Commit::Claimed => {
                Err(GatewayError::new(ErrorKind::NotFound, "this direct upload can no longer be confirmed"))
            }
        };
    }
    Err(match why {
        Some(why) => bad(format!("the uploaded object does not match what was presigned: {why}")),
        None => bad("the object has not been uploaded yet; PUT it to the presigned URL first"),
    })
}
