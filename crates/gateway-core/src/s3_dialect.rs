//! The gateway's answers in S3's dialect, for gateway URLs signed with `dialect=s3` (those
//! `POST /s3/sign` hands to `@uppy/aws-s3`'s `signRequest`): the same operations as the
//! gateway's own multipart and upload routes, their JSON answers rewritten as the XML S3
//! clients parse, the client's `CompleteMultipartUpload` XML read into the gateway's
//! completion body, and every error as S3's `<Error>` document.

use quick_xml::escape::escape;
use serde_json::json;

use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{Reply, RequestHead};
use crate::key::ObjectKey;
use crate::presign::capability::DIALECT_PARAM;
use crate::s3::{xml_elements, xml_root, xml_text};
use crate::upload::location;

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Whether the request came on a URL in S3's dialect. Unverified: it only chooses the form of
/// the answer, never what is allowed.
pub fn requested(head: &RequestHead) -> bool {
    head.query_param(DIALECT_PARAM).is_some_and(|v| v == "s3")
}

fn text(v: &str) -> String {
    escape(v).into_owned()
}

/// The S3 error code closest to `kind`, so S3 clients report what they would from S3.
pub fn error_code(kind: ErrorKind) -> &'static str {
    use ErrorKind::*;
    match kind {
        MissingToken | InvalidToken | Forbidden | UrlExpired | UrlAlreadyUsed | PolicyConditionFailed | NotApproved => {
            "AccessDenied"
        }
        TokenExpired => "ExpiredToken",
        InvalidSignature => "SignatureDoesNotMatch",
        InvalidKey | UnsupportedMediaType => "InvalidArgument",
        BadRequest | OffsetMismatch => "InvalidRequest",
        LengthRequired => "MissingContentLength",
        PayloadTooLarge => "EntityTooLarge",
        PreconditionFailed => "PreconditionFailed",
        RangeNotSatisfiable => "InvalidRange",
        ChecksumMismatch => "BadDigest",
        IncompleteBody => "IncompleteBody",
        NotFound => "NoSuchKey",
        UploadNotFound | UploadExpired => "NoSuchUpload",
        MethodNotAllowed => "MethodNotAllowed",
        PartsMismatch => "InvalidPart",
        UploadLocked => "OperationAborted",
        RateLimited => "SlowDown",
        ScanPending => "InvalidObjectState",
        QuotaExceeded => "QuotaExceeded",
        StorageUnavailable | IssuerUnavailable | ApprovalUnavailable => "ServiceUnavailable",
        StorageError | StorageAuthFailed | DatabaseError | ConfigError | Internal => "InternalError",
    }
}

/// `err` as S3's `<Error>` document, with the gateway's status and its stable code beside S3's.
/// The type is exactly `application/xml`: `@uppy/aws-s3` reads the code only then.
pub fn error<T>(err: &GatewayError, request_id: &str) -> Reply<T> {
    let problem = err.problem();
    let doc = format!(
        "{PROLOG}<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId><GatewayCode>{}</GatewayCode></Error>",
        error_code(err.kind),
        text(&problem.detail),
        text(request_id),
        err.code(),
    );
    Reply::xml(err.status(), doc)
}

/// A stored object or part: S3 answers `200` with its `ETag` and no body.
pub fn stored<T>(reply: &Reply<T>) -> Reply<T> {
    Reply::empty(200).with_header("ETag", reply.header("ETag").unwrap_or_default().to_owned())
}

/// A started multipart upload: `InitiateMultipartUploadResult`.
pub fn initiated<T>(started: &Reply<T>, bucket: &str, key: &ObjectKey) -> Reply<T> {
    let upload_id = started.json_value()["upload_id"].as_str().unwrap_or_default().to_owned();
    Reply::xml(
        200,
        format!(
            "{PROLOG}<InitiateMultipartUploadResult xmlns=\"{NAMESPACE}\"><Bucket>{}</Bucket><Key>{}</Key>\
             <UploadId>{}</UploadId></InitiateMultipartUploadResult>",
            text(bucket),
            text(key.as_str()),
            text(&upload_id)
        ),
    )
}

/// The parts received: `ListPartsResult`, every part on one page.
pub fn listed<T>(listed: &Reply<T>, bucket: &str, key: &ObjectKey, upload_id: &str) -> Reply<T> {
    let doc = listed.json_value();
    let mut parts = String::new();
    for p in doc["parts"].as_array().into_iter().flatten() {
        parts.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag><Size>{}</Size></Part>",
            p["part_number"],
            text(p["etag"].as_str().unwrap_or_default()),
            p["size"]
        ));
    }
    Reply::xml(
        200,
        format!(
            "{PROLOG}<ListPartsResult xmlns=\"{NAMESPACE}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId>\
             <PartNumberMarker>0</PartNumberMarker><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>{parts}\
             </ListPartsResult>",
            text(bucket),
            text(key.as_str()),
            text(upload_id)
        ),
    )
}

/// The gateway's completion body (`{"parts": [{part_number, etag}]}`) for S3's
/// `<CompleteMultipartUpload>` document: each `<Part>` with its `PartNumber` and `ETag`.
pub fn completion_body(body: &[u8]) -> Result<Vec<u8>> {
    let bad =
        |detail: &str| GatewayError::new(ErrorKind::BadRequest, format!("the CompleteMultipartUpload XML {detail}"));
    let body = std::str::from_utf8(body).map_err(|_| bad("is not UTF-8"))?;
    let elements = xml_elements(body, "Part").ok_or_else(|| bad("is malformed"))?;
    if xml_root(body).as_deref() != Some("CompleteMultipartUpload") {
        return Err(bad("must have the root element CompleteMultipartUpload"));
    }
    let mut parts = Vec::new();
    for element in &elements {
        let number = xml_text(element, "PartNumber")
            .and_then(|n| n.parse::<u16>().ok())
            .ok_or_else(|| bad("has a Part without a PartNumber from 1 to 10000"))?;
        let etag = xml_text(element, "ETag").ok_or_else(|| bad("has a Part without an ETag"))?;
        parts.push(json!({ "part_number": number, "etag": etag.trim_matches('"') }));
    }
    if parts.is_empty() {
        return Err(bad("names no Part"));
    }
    Ok(json!({ "parts": parts }).to_string().into_bytes())
}

/// A completed upload: `CompleteMultipartUploadResult` with the object's gateway URL.
pub fn completed<T>(reply: &Reply<T>, origin: &str, bucket: &str, key: &ObjectKey) -> Reply<T> {
    let etag = reply.header("ETag").unwrap_or_default().to_owned();
    Reply::xml(
        200,
        format!(
            "{PROLOG}<CompleteMultipartUploadResult xmlns=\"{NAMESPACE}\"><Location>{}</Location><Bucket>{}</Bucket>\
             <Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
            text(&format!("{origin}{}", location(key))),
            text(bucket),
            text(key.as_str()),
            text(&etag)
        ),
    )
    .with_header("ETag", etag)
}
