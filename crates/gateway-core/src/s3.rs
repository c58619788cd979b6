//! The S3 protocol pieces the S3 backend needs, as pure functions: object URLs with S3's key
//! encoding (path-style or virtual-hosted), SigV4 signing through `aws-sigv4` with the time
//! passed in, and the mapping of S3's XML errors to gateway errors. The edge sends the
//! requests; nothing here does I/O or reads a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningInstructions, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use crate::encoding::{encode_query_value, hex};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::secret::Secret;

/// The payload hash sent with streamed bodies: the body is not part of the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string: the payload hash of body-less requests.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Where and as whom the S3 backend talks.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `S3_ENDPOINT`: scheme, host and optional port (no path).
    pub endpoint: url::Url,
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `S3_REGION` (`us-east-1` by default; `auto` for R2's S3 endpoint).
    pub region: String,
    /// `S3_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `S3_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
    /// `S3_FORCE_PATH_STYLE`: `https://host/bucket/key` instead of `https://bucket.host/key`.
    pub path_style: bool,
}

/// S3's encoding of a key in a URL path: every byte but the unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) and `/` is percent-encoded, so the path is its own canonical form.
pub fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    percent_encoding::utf8_percent_encode(key, KEEP).to_string()
}

impl S3Config {
    /// The URL of `key` in the bucket.
    pub fn object_url(&self, key: &str) -> String {
        let scheme = self.endpoint.scheme();
        let host = self.endpoint.host_str().unwrap_or_default();
        let port = self.endpoint.port().map(|p| format!(":{p}")).unwrap_or_default();
        if self.path_style {
            format!("{scheme}://{host}{port}/{}/{}", encode_key(&self.bucket), encode_key(key))
        } else {
            format!("{scheme}://{}.{host}{port}/{}", self.bucket, encode_key(key))
        }
    }
}

/// A request ready to send: the caller's headers plus the signature headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// `now_ms` (milliseconds since the Unix epoch) as the `SystemTime` the signer wants;
/// built from the epoch, so no clock is read (`SystemTime::now()` panics on wasm32).
pub fn system_time(now_ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0))
}

fn signing_failed(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::hidden(ErrorKind::Internal, "the request to the storage backend could not be signed", e.to_string())
}

/// Signs `method url` with `signed_headers` (sent and covered by the signature) and the given
/// payload hash (`UNSIGNED_PAYLOAD` or a hex SHA-256). Adds `x-amz-date`,
/// `x-amz-content-sha256`, `authorization` and, for temporary credentials, `x-amz-security-token`.
pub fn sign_request(
    cfg: &S3Config,
    method: &'static str,
    url: String,
    signed_headers: Vec<(String, String)>,
    payload_hash: &str,
    now_ms: i64,
) -> Result<SignedRequest> {
    let mut settings = s3_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let body = SignableBody::Precomputed(payload_hash.to_owned());
    let instructions = sign_with(cfg, settings, method, &url, &signed_headers, body, now_ms)?;
    let mut headers = signed_headers.clone();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(SignedRequest { method, url, headers })
}

/// S3 signs the path exactly as sent: no second encoding, no dot-segment normalisation.
fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// Signs `method url` with the configured credentials at `now_ms`.
fn sign_with(
    cfg: &S3Config,
    settings: SigningSettings,
    method: &str,
    url: &str,
    signed_headers: &[(String, String)],
    body: SignableBody<'_>,
    now_ms: i64,
) -> Result<SigningInstructions> {
    let credentials = Credentials::new(
        &cfg.access_key_id,
        cfg.secret_access_key.expose(),
        cfg.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "upload-gateway",
    );
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&cfg.region)
        .name("s3")
        .time(system_time(now_ms))
        .settings(settings)
        .build()
        .map_err(signing_failed)?
        .into();
    let signable =
        SignableRequest::new(method, url, signed_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), body)
            .map_err(signing_failed)?;
    Ok(sign(signable, &params).map_err(signing_failed)?.into_parts().0)
}

/// The text of the first `<tag>` element in an S3 XML body (S3's answers are flat enough
/// that no XML parser is needed for the few values the gateway reads).
pub fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].trim())
}

/// [`xml_text`] with XML's predefined entities decoded (upload ids and ETags).
pub fn xml_value(body: &str, tag: &str) -> Option<String> {
    xml_text(body, tag).map(|t| {
        t.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    })
}

/// A SigV4 query-string presigned URL: `method` on `key`, valid for `expires_in_s` seconds
/// from `now_ms`. The client must send `signed_headers` exactly as given; `query` pairs (such
/// as `response-content-disposition`) are covered by the signature too. The body is
/// `UNSIGNED-PAYLOAD`, as S3 requires of presigned uploads.
pub fn presign_url(
    cfg: &S3Config,
    method: &'static str,
    key: &str,
    signed_headers: &[(String, String)],
    query: &[(&str, String)],
    expires_in_s: u64,
    now_ms: i64,
) -> Result<String> {
    let mut settings = s3_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires_in_s));
    let mut url = cfg.object_url(key);
    let mut pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode_query_value(v))).collect();
    if !pairs.is_empty() {
        url = format!("{url}?{}", pairs.join("&"));
    }
    let instructions = sign_with(cfg, settings, method, &url, signed_headers, SignableBody::UnsignedPayload, now_ms)?;
    pairs.extend(instructions.params().iter().map(|(k, v)| format!("{k}={}", encode_query_value(v))));
    Ok(format!("{}?{}", cfg.object_url(key), pairs.join("&")))
}

/// The `<Code>` of an S3 XML error body.
pub fn error_code(body: &str) -> Option<&str> {
    xml_text(body, "Code")
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The `CompleteMultipartUpload` request body for `(part number, ETag)` pairs, in order.
pub fn complete_multipart_xml<'a>(parts: impl IntoIterator<Item = (u16, &'a str)>) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (number, etag) in parts {
        xml.push_str(&format!("<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>", xml_escape(etag)));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

/// Maps a failed S3 answer to a gateway error. Credentials and URLs never reach the client:
/// the store's own words go only to the log.
pub fn map_error(op: &str, status: u16, body: &str) -> GatewayError {
    let code = error_code(body).unwrap_or("");
    let internal = format!("S3 {op}: HTTP {status} {code}");
    match (code, status) {
        ("NoSuchUpload", _) => {
            GatewayError::new(ErrorKind::UploadNotFound, "the store no longer has this multipart upload")
        }
        ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall", _) => GatewayError::hidden(
            ErrorKind::BadRequest,
            "the store refused the parts; resend them and complete again",
            internal,
        ),
        ("NoSuchKey", _) | ("", 404) => GatewayError::new(ErrorKind::NotFound, "no object has this key"),
        ("PreconditionFailed", _) | (_, 412) => GatewayError::new(
            ErrorKind::PreconditionFailed,
            "the object's state does not match the request's precondition",
        ),
        ("BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch" | "InvalidChecksum", _) => {
            GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match the checksum sent with it")
        }
        ("IncompleteBody", _) => {
            GatewayError::new(ErrorKind::IncompleteBody, "the body ended before its Content-Length")
        }
        ("InvalidRange", _) | (_, 416) => {
            GatewayError::new(ErrorKind::RangeNotSatisfiable, "the range is not satisfiable")
        }
        ("SignatureDoesNotMatch" | "AccessDenied" | "InvalidAccessKeyId" | "ExpiredToken" | "InvalidToken", _)
        | (_, 401 | 403) => GatewayError::hidden(
            ErrorKind::StorageAuthFailed,
            "the storage backend refused the gateway's credentials",
            internal,
        ),
        ("SlowDown" | "ServiceUnavailable", _) | (_, 503) => GatewayError::hidden(
            ErrorKind::StorageUnavailable,
            "the storage backend is unavailable; retry later",
            internal,
        ),
        _ => GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", internal),
    }
}

/// A network failure reaching the store.
pub fn unreachable(op: &str, detail: &str) -> GatewayError {
    GatewayError::hidden(
        ErrorKind::StorageUnavailable,
        "the storage backend is unavailable; retry later",
        format!("S3 {op}: {detail}"),
    )
}

/// Whether a single PUT's answer confirms the digests the client sent. Not every
/// S3-compatible server checks them (moto ignores both), so a digest counts only when the
/// answer shows it held: the SHA-256 must come back in `x-amz-checksum-sha256` (S3 echoes a
/// checksum it verified), and an MD5 must equal the ETag whenever the ETag is an MD5 (single
/// PUTs without SSE-KMS/SSE-C). A SHA-256 the store did not echo is refused rather than
/// recorded unverified; an MD5 against a non-MD5 ETag rests on the store's own check.
pub fn check_put_digests(
    md5: Option<&[u8; 16]>,
    sha256: Option<&[u8; 32]>,
    etag: Option<&str>,
    echoed_sha256: Option<&str>,
) -> Result<()> {
    use base64::Engine;
    let mismatch =
        || GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match the checksum sent with it");
    if let Some(sent) = sha256 {
        let echoed = echoed_sha256.and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.trim()).ok());
        match echoed {
            Some(got) if got == sent[..] => {}
            Some(_) => return Err(mismatch()),
            None => {
                return Err(GatewayError::new(
                    ErrorKind::BadRequest,
                    "the storage backend did not confirm x-amz-checksum-sha256, so the upload was not recorded; \
                     send Content-MD5 instead",
                ))
            }
        }
    }
    if let Some(sent) = md5 {
        let tag = etag.map(|t| t.trim().trim_start_matches("W/").trim_matches('"').to_ascii_lowercase());
        if let Some(tag) = tag.filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())) {
            if tag != hex(sent) {
                return Err(mismatch());
            }
        }
    }
    Ok(())
}

/// An upload whose `fetch` to the store failed without an answer. The runtime reports the
/// store dropping the connection and the client's body ending early with the same error, and
/// the request body cannot be inspected afterwards (the failed `fetch` still holds it), so
/// the gateway cannot tell whose fault it was. It says so with a `503`: a client that sent its
/// whole body retries, and one that cut its body short is gone or knows why. Blaming the
/// client (`400 incomplete_body`) would stop a correct client from retrying a store fault.
pub fn upload_cut_off(err: GatewayError) -> GatewayError {
    if err.kind != ErrorKind::StorageUnavailable {
        return err;
    }
    GatewayError {
        kind: ErrorKind::StorageUnavailable,
        detail: "the upload was cut off before the storage backend confirmed it; send it again".to_owned(),
        internal: err.internal,
    }
}
