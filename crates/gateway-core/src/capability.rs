//! Gateway-mode presigned URLs: a URL to the Worker itself whose query carries what it allows
//! (method, key, expiry, owner, size cap, content type, a nonce and an optional download name)
//! and an HMAC-SHA256 over all of it under `URL_SIGNING_SECRET`. Verifying one yields the
//! same [`Grant`] a token would, narrowed to that key and method, so the request then goes
//! through the ordinary upload or download path.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::content_type::TypePattern;
use crate::encoding::{encode_query_value, hex, unhex};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scope, Scopes};
use crate::http::RequestHead;
use crate::key::ObjectKey;
use crate::secret::Secret;

/// The query parameter that marks a request as carrying a capability instead of a token.
pub const SIGNATURE_PARAM: &str = "signature";

/// The query parameter of a URL in S3's dialect (`dialect=s3`).
pub const DIALECT_PARAM: &str = "dialect";

/// What a gateway URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// `PUT`, `GET` (a download `GET` URL also serves `HEAD`), or, for multipart URLs in S3's
    /// dialect, `POST` and `DELETE`.
    pub method: String,
    pub key: String,
    /// Seconds since the Unix epoch; the URL works strictly before this instant.
    pub expires: i64,
    /// The `sub` of the token that asked for the URL: the owner of what it uploads.
    pub owner: String,
    /// Upper bound on the body (`PUT`).
    pub max_size: Option<u64>,
    /// The exact type the body must declare (`PUT`), or the type patterns a multipart
    /// upload may declare, comma-separated.
    pub content_type: Option<String>,
    /// Makes each URL distinct; a `PUT` URL's nonce is spent on first use.
    pub nonce: String,
    /// A `GET` URL's attachment file name (`Content-Disposition`).
    pub download: Option<String>,
    /// A part URL's multipart upload and part number (`uploadId`, `partNumber`): a `PUT` of
    /// that one part, which may be sent again (a part replaces its earlier copy).
    pub part: Option<(String, u16)>,
    /// The multipart upload (`uploadId`) a `GET` (list), `POST` (complete) or `DELETE` (abort)
    /// URL is for.
    pub upload: Option<String>,
    /// S3's dialect (`dialect=s3`): the answers are S3's (XML bodies and errors), and a `PUT`
    /// of an object only creates it and may be sent again, as S3 clients retry a URL.
    pub s3: bool,
    /// A list or completion URL of an upload whose parts went straight to the store
    /// (`parts=store`): its parts are the store's own list of them.
    pub direct: bool,
    /// A scanner's `GET` URL (`scan=<ETag>`): reads that one version of the key even while
    /// it is quarantined, and no other.
    pub scan: Option<String>,
    /// Metadata the approval hook set for the upload the URL makes (JSON), recorded with it.
    pub metadata: Option<String>,
    /// The storage quota of the token that asked for the URL (JSON), which its writes reserve
    /// against.
    pub quota: Option<String>,
}

/// Each field length-prefixed, so no value can be shifted into its neighbour; an absent
/// optional field is `-`, which no length prefix can be, so absent and empty sign differently.
fn canonical(c: &Capability) -> String {
    let max = c.max_size.map(|n| n.to_string());
    let expires = c.expires.to_string();
    let fields = [
        Some(c.method.as_str()),
        Some(c.key.as_str()),
        Some(expires.as_str()),
        Some(c.owner.as_str()),
        max.as_deref(),
        c.content_type.as_deref(),
        Some(c.nonce.as_str()),
        c.download.as_deref(),
    ];
    let mut out = String::from("upload-gateway-url-v2\n");
    for f in fields {
        match f {
            Some(f) => out.push_str(&format!("{}:{f}\n", f.len())),
            None => out.push_str("-\n"),
        }
    }
    // Only part URLs sign these, so every other URL keeps its signature; a part URL's are
    // signed whole, so neither can be dropped, added or changed.
    if let Some((upload_id, number)) = &c.part {
        out.push_str(&format!("part:{}:{upload_id}\n{number}\n", upload_id.len()));
    }
    if let Some(upload_id) = &c.upload {
        out.push_str(&format!("upload:{}:{upload_id}\n", upload_id.len()));
    }
    if c.s3 {
        out.push_str("dialect:s3\n");
    }
    if c.direct {
        out.push_str("parts:store\n");
    }
    if let Some(etag) = &c.scan {
        out.push_str(&format!("scan:{}:{etag}\n", etag.len()));
    }
    if let Some(m) = &c.metadata {
        out.push_str(&format!("metadata:{}:{m}\n", m.len()));
    }
    if let Some(q) = &c.quota {
        out.push_str(&format!("quota:{}:{q}\n", q.len()));
    }
    out
}

/// A number as [`sign`] writes it: decimal digits, no sign, no leading zero. Any other
/// spelling is refused, so one URL has exactly one signed form.
fn canonical_number<T: std::str::FromStr + ToString>(text: &str) -> Option<T> {
    let n = text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse::<T>().ok()).flatten()?;
    (n.to_string() == text).then_some(n)
}

fn mac(secret: &Secret, c: &Capability) -> Result<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|e| GatewayError::hidden(ErrorKind::Internal, "the URL could not be signed", e.to_string()))?;
    mac.update(canonical(c).as_bytes());
    Ok(mac)
}

/// The query string (without `?`) of a signed gateway URL for `c`.
pub fn sign(secret: &Secret, c: &Capability) -> Result<String> {
    let signature = hex(&mac(secret, c)?.finalize().into_bytes());
    let mut pairs = vec![
        ("method", c.method.clone()),
        ("expires", c.expires.to_string()),
        ("owner", c.owner.clone()),
        ("nonce", c.nonce.clone()),
    ];
    if let Some(n) = c.max_size {
        pairs.push(("max_size", n.to_string()));
    }
    if let Some(t) = &c.content_type {
        pairs.push(("content_type", t.clone()));
    }
    if let Some(d) = &c.download {
        pairs.push(("download", d.clone()));
    }
    if let Some((upload_id, number)) = &c.part {
        pairs.push(("uploadId", upload_id.clone()));
        pairs.push(("partNumber", number.to_string()));
    }
    if let Some(upload_id) = &c.upload {
        pairs.push(("uploadId", upload_id.clone()));
    }
    if c.s3 {
        pairs.push((DIALECT_PARAM, "s3".to_owned()));
    }
    if c.direct {
        pairs.push(("parts", "store".to_owned()));
    }
    if let Some(etag) = &c.scan {
        pairs.push(("scan", etag.clone()));
    }
    if let Some(m) = &c.metadata {
        pairs.push(("metadata", m.clone()));
    }
    if let Some(q) = &c.quota {
        pairs.push(("quota", q.clone()));
    }
    pairs.push((SIGNATURE_PARAM, signature));
    Ok(pairs.iter().map(|(k, v)| format!("{k}={}", encode_query_value(v))).collect::<Vec<_>>().join("&"))
}

fn tampered() -> GatewayError {
    GatewayError::new(ErrorKind::InvalidSignature, "the URL's signature does not match its parameters")
}

/// Whether `request` is authorised by a gateway URL (it carries a `signature` parameter).
pub fn is_signed(head: &RequestHead) -> bool {
    head.query_pairs().any(|(k, _)| k == SIGNATURE_PARAM)
}

/// Checks a gateway URL against the request it arrived on: the signature over every
/// parameter (in constant time), the method, the key and the expiry.
pub fn verify(secret: &Secret, head: &RequestHead, key: &ObjectKey, now_ms: i64) -> Result<Capability> {
    let param = |name: &str| head.query_param(name);
    let expires = param("expires").and_then(|v| canonical_number::<i64>(&v)).ok_or_else(tampered)?;
    let c = Capability {
        method: param("method").ok_or_else(tampered)?,
        key: key.to_string(),
        expires,
        owner: param("owner").ok_or_else(tampered)?,
        max_size: match param("max_size") {
            None => None,
            Some(v) => Some(canonical_number::<u64>(&v).ok_or_else(tampered)?),
        },
        content_type: param("content_type"),
        nonce: param("nonce").ok_or_else(tampered)?,
        download: param("download"),
        part: match (param("uploadId"), param("partNumber")) {
            (None, None) | (Some(_), None) => None,
            (Some(id), Some(n)) => Some((id, canonical_number::<u16>(&n).ok_or_else(tampered)?)),
            (None, Some(_)) => return Err(tampered()),
        },
        upload: param("partNumber").is_none().then(|| param("uploadId")).flatten(),
        s3: match param(DIALECT_PARAM).as_deref() {
            None => false,
            Some("s3") => true,
            Some(_) => return Err(tampered()),
        },
        direct: match param("parts").as_deref() {
            None => false,
            Some("store") => true,
            Some(_) => return Err(tampered()),
        },
        scan: param("scan"),
        metadata: param("metadata"),
        quota: param("quota"),
    };
    let signature = param(SIGNATURE_PARAM).and_then(|s| unhex(&s)).ok_or_else(tampered)?;
    // `verify_slice` compares in constant time.
    mac(secret, &c)?.verify_slice(&signature).map_err(|_| tampered())?;
    let method_ok = match c.method.as_str() {
        "PUT" => head.method == http::Method::PUT,
        "GET" if c.upload.is_some() => head.method == http::Method::GET,
        "GET" => head.method == http::Method::GET || head.method == http::Method::HEAD,
        "POST" => head.method == http::Method::POST,
        "DELETE" => head.method == http::Method::DELETE,
        _ => false,
    };
    if !method_ok {
        return Err(GatewayError::new(ErrorKind::Forbidden, format!("this URL is for {} requests", c.method)));
    }
    if now_ms >= c.expires.saturating_mul(1000) {
        return Err(GatewayError::new(ErrorKind::UrlExpired, "this URL has expired; ask for a new one"));
    }
    Ok(c)
}

impl Capability {
    /// The grant the URL stands for: its one method on its one key, within its limits. Only a
    /// download reads; every other URL (an object or part `PUT`, a multipart start, list,
    /// completion or abort) writes.
    pub fn grant(&self) -> Grant {
        let reads = self.method == "GET" && self.upload.is_none();
        let scope = if reads { Scope::Read } else { Scope::Write };
        Grant {
            sub: self.owner.clone(),
            scopes: Scopes::only(scope),
            prefix: String::new(),
            exact_key: Some(self.key.clone()),
            max_size: self.max_size,
            // One exact type, or (a multipart start's URL) the token's patterns, comma-separated.
            content_types: self.content_type.as_deref().map(|t| t.split(',').filter_map(TypePattern::parse).collect()),
            expires_ms: Some(self.expires.saturating_mul(1000)),
            // Signed with the rest, so it is the one the asking token had.
            quota: self.quota.as_deref().and_then(|q| serde_json::from_str(q).ok()),
        }
    }
}

/// A grant's quota as a URL carries it.
pub fn quota_param(grant: &Grant) -> Option<String> {
    grant.quota.filter(crate::quota::Quota::limits).and_then(|q| serde_json::to_string(&q).ok())
}
