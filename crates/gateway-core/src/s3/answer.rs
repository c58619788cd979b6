//! Reading S3's answers: its flat XML, its error codes mapped to gateway errors, and whether
//! a single PUT's answer confirms the digests the client sent.

use super::exec::Digests;
use crate::encoding::hex;
use crate::error::{ErrorKind, GatewayError, Result};

/// The text of the first element named `tag` (its local name, whatever its namespace prefix)
/// in an S3 XML body, trimmed, with entities, character references (`&#34;`, as Go's
/// `encoding/xml` writes `"`; MinIO, SeaweedFS) and CDATA decoded. `None` if there is no such
/// element or the XML is malformed before its end.
pub fn xml_text(body: &str, tag: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let mut text: Option<String> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if text.is_none() && e.local_name().as_ref() == tag => text = Some(String::new()),
            Event::Empty(e) if text.is_none() && e.local_name().as_ref() == tag => return Some(String::new()),
            Event::Text(t) => {
                if let Some(out) = text.as_mut() {
                    out.push_str(t.as_ref());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(out) = text.as_mut() {
                    out.push(resolve(&r)?);
                }
            }
            Event::CData(c) => {
                if let Some(out) = text.as_mut() {
                    out.push_str(c.as_ref());
                }
            }
            Event::End(e) if text.is_some() && e.local_name().as_ref() == tag => {
                return text.map(|t| t.trim().to_owned())
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The XML of every element named `tag` (its local name, whatever its namespace prefix) in
/// `body`, in order, each from its start tag to its end tag, for reading repeated elements
/// (`Part`) one at a time with [`xml_text`]. `None` if the XML is malformed or ends early.
pub fn xml_elements(body: &str, tag: &str) -> Option<Vec<String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut open: Option<(usize, usize)> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if open.is_none() && e.local_name().as_ref() == tag {
                    open = Some((before, depth));
                }
                depth += 1;
            }
            Event::End(e) => {
                depth = depth.checked_sub(1)?;
                if let Some((start, at)) = open {
                    if at == depth && e.local_name().as_ref() == tag {
                        let end = usize::try_from(reader.buffer_position()).ok()?;
                        found.push(body.get(start..end)?.to_owned());
                        open = None;
                    }
                }
            }
            Event::Empty(e) if open.is_none() && e.local_name().as_ref() == tag => {
                let end = usize::try_from(reader.buffer_position()).ok()?;
                found.push(body.get(before..end)?.to_owned());
            }
            Event::Eof if depth == 0 => return Some(found),
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The character an entity or character reference (`amp`, `#34`, `#x22`) stands for.
fn resolve(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c);
    }
    match r.as_ref() {
        "quot" => Some('"'),
        "apos" => Some('\''),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        _ => None,
    }
}

/// The local name of an XML body's root element (`Error`, `CompleteMultipartUploadResult`),
/// whatever its prefix; `None` if the body has no element.
pub fn xml_root(body: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => return Some(e.local_name().as_ref().to_owned()),
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether `tag` is a strong HTTP entity tag (RFC 9110: `"` etagc* `"`). An ETag read from a
/// store's XML that is not one was misread or misencoded by the store.
pub fn is_entity_tag(tag: &str) -> bool {
    tag.len() >= 2
        && tag.starts_with('"')
        && tag.ends_with('"')
        && tag[1..tag.len() - 1].bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
}

/// [`xml_text`], for the values the gateway keeps (upload ids and ETags).
pub fn xml_value(body: &str, tag: &str) -> Option<String> {
    xml_text(body, tag)
}

/// The `<Code>` of an S3 XML error body.
pub fn error_code(body: &str) -> Option<String> {
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
    let code = error_code(body).unwrap_or_default();
    let internal = format!("S3 {op}: HTTP {status} {code}");
    match (code.as_str(), status) {
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

/// The MD5 of no bytes.
pub(crate) const EMPTY_MD5: [u8; 16] =
    [0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e];

/// With `S3_CHECKSUMS=gateway`: every digest the client sent must equal the one the runtime
/// computed over the bytes that went to the store.
pub fn check_gateway_digests(sent: &Digests, found: &Digests) -> Result<()> {
    let differs = |s: Option<&[u8]>, f: Option<&[u8]>| s.is_some() && s != f;
    if differs(sent.sha256.as_ref().map(|d| &d[..]), found.sha256.as_ref().map(|d| &d[..]))
        || differs(sent.md5.as_ref().map(|d| &d[..]), found.md5.as_ref().map(|d| &d[..]))
    {
        return Err(GatewayError::new(
            ErrorKind::ChecksumMismatch,
            "the body does not match the checksum sent with it",
        ));
    }
    Ok(())
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
                     send Content-MD5 instead, or set S3_CHECKSUMS=gateway for a store that checks no digests",
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
