//! `POST /presign`: hands out a URL that lets a client upload or download one object without
//! a token — either a URL straight to the store (`direct`, from the store's [`Presign`]
//! capability: S3's SigV4 query signature) or a signed URL to the gateway itself (`gateway`). Every check a token-authenticated request would face (scope,
//! key, type, size) happens here, and what is allowed is signed into the URL.

use serde::{Deserialize, Serialize};

use super::capability::{self, quota_param, Capability};
use super::disposition::attachment;
use super::form::{approved_max, issue, FormRequest};
use super::{lifetime, PresignContext, DEFAULT_EXPIRES_IN_S};
use crate::approval::{Ask, Kind, Metadata};
use crate::config::Config;
use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::Scope;
use crate::http::{Reply, RequestHead};
use crate::key::{ObjectKey, StoredName};
use crate::metadata::{ObjectIndex, PresignLedger, PresignedUpload};
use crate::presign::confirm::CONFIRM_WINDOW_MS;
use crate::quarantine::check_served;
use crate::quota::{self, Quota, QuotaIndex, Reservation};
use crate::store::{DirectUrl, Presign};
use crate::time::rfc3339;
use crate::upload::{check_content_type, due_at, location, size_limit, DEFAULT_CONTENT_TYPE};

/// Where a presigned URL points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Straight to the S3 store (SigV4 query signature).
    Direct,
    /// To the gateway, which verifies its own HMAC signature.
    Gateway,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Gateway => "gateway",
        }
    }
}

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// The mode asked for, or the backend's default: direct where the store can presign (S3),
/// gateway otherwise (R2).
pub fn choose_mode(config: &Config, presigner: Option<&dyn Presign>, asked: Option<&str>) -> Result<Mode> {
    let mode = match asked {
        None if presigner.is_some() => Mode::Direct,
        None => Mode::Gateway,
        Some("direct") => Mode::Direct,
        Some("gateway") => Mode::Gateway,
        Some(_) => return Err(bad("mode must be `direct`, `gateway` or `form`")),
    };
    if mode == Mode::Direct && presigner.is_none() {
        return Err(bad("direct URLs need the S3 backend; on the R2 binding use mode `gateway`"));
    }
    if mode == Mode::Gateway && config.url_signing_secret.is_none() {
        return Err(GatewayError::new(
            ErrorKind::ConfigError,
            "the gateway is misconfigured: URL_SIGNING_SECRET must be set for gateway URLs",
        ));
    }
    Ok(mode)
}

/// Types a browser runs or renders as a document: served from the store's origin they must
/// download, since no `nosniff` or CSP header can be attached to a direct URL.
fn is_active_content(content_type: &str) -> bool {
    matches!(content_type, "text/html" | "image/svg+xml" | "application/xhtml+xml" | "text/xml" | "application/xml")
}

/// One URL to sign.
pub struct UrlRequest<'a> {
    pub mode: Mode,
    pub method: &'static str,
    pub key: &'a ObjectKey,
    /// The stored name a direct URL reaches: the upload's own version, or the one the key serves.
    pub stored: &'a StoredName,
    pub owner: &'a str,
    pub content_type: Option<&'a str>,
    /// Exact size (direct: signed as `Content-Length`).
    pub size: Option<u64>,
    /// Upper bound (gateway PUT URLs).
    pub max_size: Option<u64>,
    pub download: Option<&'a str>,
    pub expires_in_s: i64,
    pub nonce: &'a str,
    /// The gateway's own origin, for gateway URLs.
    pub origin: &'a str,
    /// Metadata the approval hook set for the upload (JSON; gateway PUT URLs carry it).
    pub metadata: Option<&'a str>,
    /// The asking token's quota (JSON; gateway PUT URLs carry it).
    pub quota: Option<&'a str>,
}

/// The signed URL and the headers the client must send with it.
pub fn sign_url(
    config: &Config,
    presigner: Option<&dyn Presign>,
    r: &UrlRequest<'_>,
    now_ms: i64,
) -> Result<(String, Vec<(String, String)>)> {
    let mut headers = Vec::new();
    if let Some(t) = r.content_type {
        headers.push(("content-type".to_owned(), t.to_owned()));
    }
    match r.mode {
        Mode::Direct => {
            let Some(presigner) = presigner else { return Err(bad("direct URLs need the S3 backend")) };
            if let Some(n) = r.size {
                headers.push(("content-length".to_owned(), n.to_string()));
            }
            if r.method == "PUT" {
                // A direct URL only creates: reused after its confirm, or aimed at a key that
                // holds an object, it cannot replace what the gateway recorded.
                headers.push(("if-none-match".to_owned(), "*".to_owned()));
            }
            let mut query: Vec<(&str, String)> = Vec::new();
            if r.method == "GET" {
                // The store serves the stored name: the file name and type are the key's, and
                // active content (HTML, SVG, XML) always downloads rather than renders.
                let active = r.content_type.is_some_and(is_active_content);
                if let Some(name) = r.download.or(active.then(|| r.key.file_name())) {
                    query.push(("response-content-disposition", attachment(name)));
                }
                if let Some(t) = r.content_type {
                    query.push(("response-content-type", t.to_owned()));
                }
            }
            let expires = u64::try_from(r.expires_in_s).unwrap_or(0);
            let signed_headers: Vec<(String, String)> = if r.method == "GET" { Vec::new() } else { headers.clone() };
            let direct = DirectUrl {
                method: r.method,
                name: r.stored,
                signed_headers: &signed_headers,
                query: &query,
                expires_in_s: expires,
            };
            let url = presigner.presign(&direct, now_ms)?;
            Ok((url, headers))
        }
        Mode::Gateway => {
            let Some(secret) = &config.url_signing_secret else {
                return Err(GatewayError::new(ErrorKind::ConfigError, "URL_SIGNING_SECRET is not set"));
            };
            let cap = Capability {
                method: r.method.to_owned(),
                key: r.key.to_string(),
                expires: now_ms.div_euclid(1000) + r.expires_in_s,
                owner: r.owner.to_owned(),
                max_size: r.max_size,
                content_type: r.content_type.map(str::to_owned),
                nonce: r.nonce.to_owned(),
                download: r.download.map(str::to_owned),
                part: None,
                upload: None,
                s3: false,
                direct: false,
                scan: None,
                metadata: r.metadata.map(str::to_owned),
                quota: r.quota.map(str::to_owned),
            };
            let url = format!("{}{}?{}", r.origin, location(r.key), capability::sign(secret, &cap)?);
            Ok((url, headers))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PresignBody {
    key: Option<String>,
    method: Option<String>,
    content_type: Option<String>,
    size: Option<u64>,
    expires_in: Option<i64>,
    mode: Option<String>,
    filename: Option<String>,
    success_action_status: Option<u16>,
    success_action_redirect: Option<String>,
}

#[derive(Serialize)]
struct PresignAnswer<'a> {
    url: String,
    method: &'a str,
    headers: serde_json::Map<String, serde_json::Value>,
    key: &'a str,
    expires_at: String,
    mode: &'a str,
}

/// `POST /presign`.
pub async fn presign<T, M: ObjectIndex + PresignLedger + QuotaIndex>(
    ctx: &PresignContext<'_>,
    meta: &M,
    body: &[u8],
) -> Result<Reply<T>> {
    let req: PresignBody = if body.iter().all(u8::is_ascii_whitespace) {
        PresignBody::default()
    } else {
        serde_json::from_slice(body).map_err(|e| bad(format!("the JSON body is malformed: {e}")))?
    };
    if req.mode.as_deref() == Some("form") {
        if req.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case("POST")) {
            return Err(bad("a form is sent with `POST`"));
        }
        let form = FormRequest {
            key: req.key,
            content_type: req.content_type,
            size: req.size,
            expires_in: req.expires_in,
            success_action_status: req.success_action_status,
            success_action_redirect: req.success_action_redirect,
        };
        return issue(ctx, form).await;
    }
    if req.success_action_status.is_some() || req.success_action_redirect.is_some() {
        return Err(bad("`success_action_status` and `success_action_redirect` are for mode `form`"));
    }
    let (method, scope) = match req.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("PUT") => ("PUT", Scope::Write),
        Some("GET") => ("GET", Scope::Read),
        Some(_) => return Err(bad("method must be `PUT` or `GET`")),
    };
    let grant = ctx.grant;
    grant.require(scope)?;
    let key = match (req.key, method) {
        (Some(k), _) => ObjectKey::new(k)?,
        (None, "PUT") => grant.generated_key(ctx.id, req.filename.as_deref())?,
        (None, _) => return Err(bad("a GET URL needs the `key` to download")),
    };
    grant.authorize(scope, &key)?;
    let mode = choose_mode(ctx.config, ctx.presigner, req.mode.as_deref())?;
    let expires_in_s = match req.expires_in {
        None => DEFAULT_EXPIRES_IN_S,
        Some(n) if n >= 1 => n,
        Some(_) => return Err(bad("expires_in must be at least 1 second")),
    };
    let expires_in_s = lifetime(ctx.config, grant, expires_in_s, ctx.now_ms);
    let (content_type, max_size) = if method == "PUT" {
        let ct = match req.content_type.as_deref() {
            None => DEFAULT_CONTENT_TYPE.to_owned(),
            Some(v) => essence(v).filter(|t| !t.contains('*')).ok_or_else(|| {
                GatewayError::new(ErrorKind::UnsupportedMediaType, "content_type must be one exact media type")
            })?,
        };
        check_content_type(ctx.config, grant, &ct)?;
        let limit = size_limit(ctx.config, grant);
        if mode == Mode::Direct && req.size.is_none() {
            // The store enforces only what is signed: without a signed length a direct URL
            // would take any size, whatever the token's limit.
            return Err(bad("direct upload URLs need the file's `size` in bytes, which is signed into the URL"));
        }
        if let Some(n) = req.size.filter(|n| *n > limit) {
            return Err(GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!("the file is {n} bytes; the limit for this upload is {limit} bytes"),
            ));
        }
        (Some(ct), Some(req.size.unwrap_or(limit)))
    } else {
        (None, None)
    };
    let (key, max_size, metadata) = match max_size {
        Some(max) => {
            let asked = Ask {
                kind: Kind::Presign,
                sub: &grant.sub,
                key: key.as_str(),
                size: req.size,
                content_type: content_type.as_deref(),
                metadata: &Metadata::new(),
            };
            let approved = ctx.approval.ask(grant, asked).await?;
            let max = approved_max(max, req.size, size_limit(ctx.config, &approved.grant))?;
            (approved.key.unwrap_or(key), Some(max), approved.metadata)
        }
        None => (key, None, None),
    };
    let download = if method == "GET" { req.filename.as_deref() } else { None };
    let quota = quota_param(grant);
    // A direct GET URL reaches the version the key serves now, typed as recorded.
    let (stored, served_type) = match (mode, method) {
        (Mode::Direct, "GET") => {
            let row = meta.get(key.as_str()).await?;
            let row = row.ok_or_else(|| GatewayError::new(ErrorKind::NotFound, "no object has this key"))?;
            check_served(&row, None)?;
            (StoredName::recorded(row.storage_key), Some(row.content_type))
        }
        _ => (StoredName::version(&key, ctx.id), None),
    };
    let url_req = UrlRequest {
        mode,
        method,
        key: &key,
        stored: &stored,
        owner: &grant.sub,
        content_type: content_type.as_deref().or(served_type.as_deref()),
        size: if mode == Mode::Direct { req.size } else { None },
        max_size,
        download,
        expires_in_s,
        nonce: ctx.id,
        origin: ctx.origin,
        metadata: metadata.as_deref(),
        quota: quota.as_deref(),
    };
    let (url, headers) = sign_url(ctx.config, ctx.presigner, &url_req, ctx.now_ms)?;
    let expires_at = ctx.now_ms.div_euclid(1000).saturating_add(expires_in_s).saturating_mul(1000);
    if mode == Mode::Direct && method == "PUT" {
        // The confirm step checks the object against this record; the journal entry lets the
        // sweep remove an upload that is never confirmed.
        let size = req.size.unwrap_or(0);
        let record = PresignedUpload {
            nonce: ctx.id.to_owned(),
            key: key.to_string(),
            owner: grant.sub.clone(),
            content_type: content_type.clone().unwrap_or_default(),
            size: req.size,
            max_size: max_size.unwrap_or(0),
            created_at: ctx.now_ms,
            expires_at,
            storage_key: stored.to_string(),
            metadata: metadata.clone(),
        };
        // The object the URL will make counts against the owner's quota until it is confirmed
        // or the confirm window has closed.
        let object = Reservation {
            id: ctx.id,
            owner: &grant.sub,
            key: key.as_str(),
            bytes: size,
            objects: 1,
            until_ms: expires_at.saturating_add(CONFIRM_WINDOW_MS),
            replaces: true,
        };
        // Due once the URL is dead, the confirm window has closed and an upload begun just
        // before the expiry has had time to arrive.
        let due = due_at(expires_at.saturating_add(CONFIRM_WINDOW_MS), size);
        let quota = grant.quota.filter(Quota::limits);
        match meta.record_presigned(&record, due, quota.as_ref().map(|q| (&object, q)), ctx.now_ms).await {
            Ok(true) => {}
            Ok(false) => return Err(quota::refusal(meta, &quota.unwrap_or_default(), &object, ctx.now_ms).await),
            Err(err) => {
                quota::release(meta, grant, key.as_str(), ctx.id).await;
                return Err(err);
            }
        }
    }
    let answer = PresignAnswer {
        url,
        method,
        headers: headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect(),
        key: key.as_str(),
        expires_at: rfc3339(expires_at),
        mode: mode.name(),
    };
    Ok(Reply::json(200, &answer).with_header("Cache-Control", "no-store"))
}

/// `GET /files/{key}?redirect=1[&download=name]`: a `302` to a short-lived URL for the object
/// (direct on S3, gateway on R2), so the bytes need not pass through this request.
pub async fn redirect<T, M: ObjectIndex + PresignLedger>(
    ctx: &PresignContext<'_>,
    meta: &M,
    key: &ObjectKey,
    head: &RequestHead,
) -> Result<Reply<T>> {
    let PresignContext { config, presigner, grant, now_ms, id, .. } = *ctx;
    grant.authorize(Scope::Read, key)?;
    let download = head.query_param("download");
    let row = meta.get(key.as_str()).await?;
    let row = row.ok_or_else(|| GatewayError::new(ErrorKind::NotFound, "no object has this key"))?;
    check_served(&row, None)?;
    let stored = StoredName::recorded(row.storage_key);
    let mode = choose_mode(config, presigner, None)?;
    let url_req = UrlRequest {
        mode,
        method: "GET",
        key,
        stored: &stored,
        owner: &grant.sub,
        content_type: (mode == Mode::Direct).then_some(row.content_type.as_str()),
        size: None,
        max_size: None,
        download: download.as_deref(),
        expires_in_s: lifetime(config, grant, DEFAULT_EXPIRES_IN_S, now_ms),
        nonce: id,
        origin: &head.origin,
        metadata: None,
        quota: None,
    };
    let (url, _) = sign_url(config, presigner, &url_req, now_ms)?;
    Ok(Reply::empty(302).with_header("Location", url).with_header("Cache-Control", "no-store"))
}
