//! The tus 1.0.0 wire format: versions, extensions, the headers a request may carry and how
//! each is read. Nothing here touches storage; a malformed or unsupported header is a 4xx
//! decided from the head alone.

use base64::Engine;

use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{parse_length, RequestHead};

pub const VERSION: &str = "1.0.0";
/// What this server implements. Checksum and concatenation are not among them, and a request
/// that uses them is refused rather than half-served.
pub const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,termination,expiration";
/// The body type of every request that carries upload bytes.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// The method a tus request means: `X-HTTP-Method-Override` on a `POST` wins (tus-java-client
/// and some proxies can only send `POST`).
pub fn effective_method(head: &RequestHead) -> http::Method {
    if head.method == http::Method::POST {
        if let Some(m) = head.header("x-http-method-override") {
            if let Ok(m) = http::Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()) {
                return m;
            }
        }
    }
    head.method.clone()
}

/// Every request but `OPTIONS` must speak 1.0.0; another version is `412` (the reply then
/// names the versions this server speaks).
pub fn check_version(head: &RequestHead) -> Result<()> {
    match head.header("tus-resumable").map(str::trim) {
        Some(VERSION) => Ok(()),
        Some(other) => Err(GatewayError::new(
            ErrorKind::PreconditionFailed,
            format!("this server speaks tus {VERSION}, not {other}"),
        )),
        None => Err(GatewayError::new(ErrorKind::PreconditionFailed, format!("send `Tus-Resumable: {VERSION}`"))),
    }
}

/// Extensions this server does not implement, refused with a clear 4xx.
pub fn refuse_unsupported(head: &RequestHead) -> Result<()> {
    if head.header("upload-concat").is_some() {
        return Err(bad("the concatenation extension is not supported: upload the file as one upload"));
    }
    if head.header("upload-checksum").is_some() {
        return Err(bad("the checksum extension is not supported; check the finished object's SHA-256 instead"));
    }
    Ok(())
}

/// A number header: digits only.
fn number(head: &RequestHead, name: &str) -> Result<Option<u64>> {
    match head.header(name) {
        None => Ok(None),
        Some(v) => parse_length(v).map(Some).ok_or_else(|| bad(format!("{name} must be a whole number"))),
    }
}

/// What a creation request declares about the upload's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Known(u64),
    /// `Upload-Defer-Length: 1`: the length comes with a later `PATCH`.
    Deferred,
}

pub fn creation_length(head: &RequestHead) -> Result<Length> {
    let deferred = head.header("upload-defer-length").map(str::trim);
    match (number(head, "upload-length")?, deferred) {
        (Some(_), Some(_)) => Err(bad("send Upload-Length or Upload-Defer-Length, not both")),
        (Some(n), None) => Ok(Length::Known(n)),
        (None, Some("1")) => Ok(Length::Deferred),
        (None, Some(_)) => Err(bad("Upload-Defer-Length must be 1")),
        (None, None) => Err(bad("send Upload-Length (or Upload-Defer-Length: 1)")),
    }
}

/// `Upload-Offset` of a `PATCH`: required.
pub fn patch_offset(head: &RequestHead) -> Result<u64> {
    number(head, "upload-offset")?.ok_or_else(|| bad("a PATCH needs Upload-Offset"))
}

/// `Upload-Length` sent with a `PATCH` (deferred uploads declare it once).
pub fn patch_length(head: &RequestHead) -> Result<Option<u64>> {
    number(head, "upload-length")
}

/// A body of upload bytes must be `application/offset+octet-stream`; `415` otherwise.
pub fn check_body_type(head: &RequestHead) -> Result<()> {
    let ok =
        head.header("content-type").and_then(crate::content_type::essence).is_some_and(|t| t == OFFSET_OCTET_STREAM);
    if ok {
        Ok(())
    } else {
        Err(GatewayError::new(
            ErrorKind::UnsupportedMediaType,
            format!("upload bytes must be sent as {OFFSET_OCTET_STREAM}"),
        ))
    }
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone has an empty value).
/// The raw header is kept to answer `HEAD` with it as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub raw: Option<String>,
    pub pairs: Vec<(String, String)>,
}

impl Metadata {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub fn metadata(head: &RequestHead) -> Result<Metadata> {
    let Some(raw) = head.header("upload-metadata") else { return Ok(Metadata::default()) };
    let mut pairs = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = item.split_once(' ').map_or((item, ""), |(k, v)| (k, v.trim()));
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("Upload-Metadata keys must be visible ASCII without spaces or commas"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| bad(format!("the Upload-Metadata value of `{key}` is not base64")))?;
        let text =
            String::from_utf8(bytes).map_err(|_| bad(format!("the Upload-Metadata value of `{key}` is not UTF-8")))?;
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(bad(format!("Upload-Metadata names `{key}` twice")));
        }
        pairs.push((key.to_owned(), text));
    }
    Ok(Metadata { raw: Some(raw.to_owned()), pairs })
}
