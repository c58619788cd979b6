//! `POST /s3/sign`: the server half of `@uppy/aws-s3`'s `signRequest` (6.x, `S3mini`). The
//! client asks for each S3 request it is about to send — `{method, key, uploadId?,
//! partNumber?, contentType?}` for PutObject, CreateMultipartUpload, UploadPart, ListParts,
//! CompleteMultipartUpload and AbortMultipartUpload — and gets `{url, key, headers}`: a gateway
//! URL signed in S3's dialect for that one request on that one key, within the token's rights
//! and lifetime. The gateway then answers that request as S3 would ([`crate::s3_dialect`]).
//!
//! Keys: a new object is named under the token's prefix (the requested key, prefixed with it
//! unless it already starts with it; the token's exact key if it has one), returned as `key`
//! so the client uses it from then on. A URL for a new object only creates: a key that has an
//! object is refused here and again when the object commits.

use serde::Deserialize;
use serde_json::json;

use super::presign::capability::{self, Capability};
use super::presign::{lifetime, PresignContext, DEFAULT_EXPIRES_IN_S};
use crate::approval::{Ask, Kind, Metadata};
use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scope};
use crate::http::Reply;
use crate::key::{ObjectKey, StoredName};
use crate::metadata::{MultipartIndex, ObjectIndex};
use crate::store::{DirectUrl, Presign};
use crate::upload::{check_content_type, key_exists, location, size_limit, DEFAULT_CONTENT_TYPE};

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// What `S3mini` sends to `signRequest`: its `PresignableRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignBody {
    method: String,
    key: String,
    upload_id: Option<String>,
    part_number: Option<u32>,
    content_type: Option<String>,
    expires_in: Option<i64>,
    /// `gateway` (the default) or `direct`: parts straight to the S3 store.
    mode: Option<String>,
}

/// The S3 request a sign request is for.
#[derive(Debug, PartialEq, Eq)]
enum S3Request {
    PutObject,
    CreateMultipartUpload,
    UploadPart(String, u16),
    ListParts(String),
    CompleteMultipartUpload(String),
    AbortMultipartUpload(String),
}

fn classify(req: &SignBody) -> Result<S3Request> {
    let upload = req.upload_id.clone().filter(|id| !id.is_empty());
    let method = req.method.to_ascii_uppercase();
    Ok(match (method.as_str(), upload, req.part_number) {
        ("PUT", None, None) => S3Request::PutObject,
        ("POST", None, None) => S3Request::CreateMultipartUpload,
        ("PUT", Some(id), Some(n)) => {
            let n = u16::try_from(n).ok().filter(|n| (1..=10_000).contains(n));
            S3Request::UploadPart(id, n.ok_or_else(|| bad("partNumber must be from 1 to 10000"))?)
        }
        ("GET", Some(id), None) => S3Request::ListParts(id),
        ("POST", Some(id), None) => S3Request::CompleteMultipartUpload(id),
        ("DELETE", Some(id), None) => S3Request::AbortMultipartUpload(id),
        ("DELETE", None, None) => {
            return Err(bad("deleting an object is not signed here: send DELETE /files/{key} with the token"))
        }
        (_, _, Some(_)) => return Err(bad("partNumber goes with `PUT` and an uploadId")),
        _ => {
            return Err(bad(
                "not an S3 request this gateway signs: PUT (object or part), POST (start or complete a multipart \
                 upload), GET (list parts) or DELETE (abort) with an uploadId",
            ))
        }
    })
}

/// A PutObject's type: its `contentType` (default `application/octet-stream`), one exact type
/// the gateway and the token allow.
fn put_type(ctx: &PresignContext<'_>, grant: &Grant, asked: Option<&str>) -> Result<String> {
    let ct = match asked.filter(|t| !t.is_empty()) {
        None => DEFAULT_CONTENT_TYPE.to_owned(),
        Some(v) => essence(v).filter(|t| !t.contains('*')).ok_or_else(|| {
            GatewayError::new(ErrorKind::UnsupportedMediaType, "contentType must be one exact media type")
        })?,
    };
    check_content_type(ctx.config, grant, &ct)?;
    Ok(ct)
}

/// The key a new object is stored under: the token's exact key, the requested key if it is
/// under the token's prefix, or the requested key under that prefix.
fn new_key(grant: &Grant, requested: &str) -> Result<ObjectKey> {
    if let Some(k) = &grant.exact_key {
        return ObjectKey::new(k.clone());
    }
    let requested = requested.trim_start_matches('/');
    if requested.starts_with(&grant.prefix) {
        ObjectKey::new(requested.to_owned())
    } else {
        ObjectKey::new(format!("{}{requested}", grant.prefix))
    }
}

/// The token's own type rules, carried by a URL whose request declares its type only when
/// sent (a multipart start): its patterns, comma-separated.
fn type_rules(grant: &Grant) -> Option<String> {
    grant.content_types.as_ref().map(|list| list.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
}

/// A URL to the S3 store itself for part `number` of the caller's upload `upload_id` of `key`:
/// the store's own multipart upload and stored name, looked up from the gateway's record.
async fn direct_part_url<M: MultipartIndex>(
    ctx: &PresignContext<'_>,
    meta: &M,
    presigner: &dyn Presign,
    key: &ObjectKey,
    (upload_id, number): (&str, u16),
    expires_in_s: i64,
) -> Result<String> {
    let missing =
        || GatewayError::new(ErrorKind::UploadNotFound, "no multipart upload with this id is open for this key");
    let upload = meta.multipart(upload_id).await?.filter(|u| u.key == key.as_str()).ok_or_else(missing)?;
    if upload.owner != ctx.grant.sub {
        return Err(GatewayError::new(ErrorKind::Forbidden, "this multipart upload belongs to another caller"));
    }
    if ctx.now_ms >= upload.expires_at {
        return Err(missing());
    }
    let name = StoredName::recorded(upload.storage_key);
    let query = [("partNumber", number.to_string()), ("uploadId", upload.store_upload_id)];
    let url = DirectUrl {
        method: "PUT",
        name: &name,
        signed_headers: &[],
        query: &query,
        expires_in_s: u64::try_from(expires_in_s).unwrap_or(0),
    };
    presigner.presign(&url, ctx.now_ms)
}

/// `POST /s3/sign`.
pub async fn sign<T, M: ObjectIndex + MultipartIndex>(
    ctx: &PresignContext<'_>,
    meta: &M,
    body: &[u8],
) -> Result<Reply<T>> {
    let req: SignBody = serde_json::from_slice(body).map_err(|e| {
        bad(format!("the body must be the JSON of the request to sign ({{method, key, uploadId?, partNumber?}}): {e}"))
    })?;
    let request = classify(&req)?;
    let direct = match req.mode.as_deref() {
        None | Some("gateway") => None,
        Some("direct") => Some(ctx.presigner.ok_or_else(|| {
            bad("direct URLs need the S3 backend (the store signs them); on the R2 binding use mode `gateway`")
        })?),
        Some(_) => return Err(bad("mode must be `gateway` or `direct`")),
    };
    let grant = ctx.grant;
    let secret = ctx.config.url_signing_secret.as_ref().ok_or_else(|| {
        GatewayError::new(
            ErrorKind::ConfigError,
            "the gateway is misconfigured: URL_SIGNING_SECRET must be set to sign S3 requests",
        )
    })?;
    let expires_in_s = match req.expires_in {
        None => DEFAULT_EXPIRES_IN_S,
        Some(n) if n >= 1 => n,
        Some(_) => return Err(bad("expiresIn must be at least 1 second")),
    };
    let expires_in_s = lifetime(ctx.config, grant, expires_in_s, ctx.now_ms);
    let creates = matches!(request, S3Request::PutObject | S3Request::CreateMultipartUpload);
    let key = if creates { new_key(grant, &req.key)? } else { ObjectKey::new(req.key.clone())? };
    grant.authorize(Scope::Write, &key)?;
    let put_type = match request {
        S3Request::PutObject => Some(put_type(ctx, grant, req.content_type.as_deref())?),
        _ => None,
    };
    // A new object's URL is approved before it is signed; the requests it makes are not asked again.
    let approved;
    let (key, grant, metadata) = if creates {
        let asked = Ask {
            kind: if put_type.is_some() { Kind::Presign } else { Kind::Multipart },
            sub: &grant.sub,
            key: key.as_str(),
            size: None,
            content_type: put_type.as_deref().or(req.content_type.as_deref()),
            metadata: &Metadata::new(),
        };
        approved = ctx.approval.ask(grant, asked).await?;
        (approved.key.clone().unwrap_or(key), &approved.grant, approved.metadata.clone())
    } else {
        (key, grant, None)
    };
    let mut cap = Capability {
        method: String::new(),
        key: key.to_string(),
        expires: ctx.now_ms.div_euclid(1000) + expires_in_s,
        owner: grant.sub.clone(),
        max_size: grant.max_size,
        content_type: type_rules(grant),
        nonce: ctx.id.to_owned(),
        download: None,
        part: None,
        upload: None,
        s3: true,
        direct: false,
        scan: None,
        metadata,
        quota: capability::quota_param(grant),
    };
    let mut query = String::new();
    let mut headers = serde_json::Map::new();
    match request {
        S3Request::PutObject => {
            let ct = put_type.unwrap_or_default();
            cap.method = "PUT".to_owned();
            cap.max_size = Some(size_limit(ctx.config, grant));
            cap.content_type = Some(ct.clone());
            headers.insert("Content-Type".to_owned(), json!(ct));
        }
        S3Request::CreateMultipartUpload => {
            cap.method = "POST".to_owned();
            query.push_str("uploads&");
        }
        S3Request::UploadPart(id, number) => {
            if let Some(presigner) = direct {
                let url = direct_part_url(ctx, meta, presigner, &key, (&id, number), expires_in_s).await?;
                let answer = json!({ "url": url, "key": key.as_str(), "headers": {}, "expires": expires_in_s });
                return Ok(Reply::json(200, &answer).with_header("Cache-Control", "no-store"));
            }
            cap.method = "PUT".to_owned();
            cap.part = Some((id, number));
        }
        S3Request::ListParts(id) => {
            cap.method = "GET".to_owned();
            cap.upload = Some(id);
            cap.direct = direct.is_some();
        }
        S3Request::CompleteMultipartUpload(id) => {
            cap.method = "POST".to_owned();
            cap.upload = Some(id);
            cap.direct = direct.is_some();
        }
        S3Request::AbortMultipartUpload(id) => {
            cap.method = "DELETE".to_owned();
            cap.upload = Some(id);
        }
    }
    if creates && meta.get(key.as_str()).await?.is_some() {
        return Err(key_exists());
    }
    let url = format!("{}{}?{query}{}", ctx.origin, location(&key), capability::sign(secret, &cap)?);
    let answer = json!({ "url": url, "key": key.as_str(), "headers": headers, "expires": expires_in_s });
    Ok(Reply::json(200, &answer).with_header("Cache-Control", "no-store"))
}
