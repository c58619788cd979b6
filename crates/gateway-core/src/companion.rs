//! Companion's S3 multipart endpoints (`/s3/multipart…`), as `@uppy/aws-s3` 4.x and 5.x call
//! them with the application's token in their `headers`, over the gateway's own multipart
//! uploads: the same rules, rows and events as `POST /files/{key}?uploads` and its siblings,
//! answered in the shapes `@uppy/companion` gives. Each part goes to a signed gateway URL
//! for that one part (`PUT /files/{key}?uploadId=…&partNumber=N&…&signature=…`), which may be
//! sent again: a part replaces its earlier copy.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::Reply;
use crate::key::ObjectKey;
use crate::presign::capability::{self, quota_param, Capability};
pub use crate::router::CompanionOp;
use crate::upload::location;

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

#[derive(Deserialize, Default)]
struct CreateBody {
    filename: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
}

#[derive(Deserialize)]
struct CompanionPart {
    #[serde(rename = "PartNumber")]
    part_number: u16,
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Deserialize)]
struct CompleteBody {
    parts: Vec<CompanionPart>,
}

/// `POST /s3/multipart` (`{filename, type, metadata}`): the key of the new upload (under the
/// token's prefix, keeping the file name's extension) and the gateway's start body for it.
/// `metadata` is not stored.
pub fn create_request(grant: &Grant, id: &str, body: &[u8]) -> Result<(ObjectKey, Vec<u8>)> {
    let req: CreateBody = if body.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        serde_json::from_slice(body).map_err(|e| bad(format!("the JSON body is malformed: {e}")))?
    };
    let key = grant.generated_key(id, req.filename.as_deref())?;
    let start = json!({ "content_type": req.content_type.filter(|t| !t.is_empty()) }).to_string();
    Ok((key, start.into_bytes()))
}

/// The answer to a start: `{key, uploadId, bucket}`, the key the upload started under (the
/// approval hook may have chosen it).
pub fn created<T>(started: &Reply<T>, bucket: &str) -> Reply<T> {
    let started = started.json_value();
    Reply::json(200, &json!({ "key": started["key"], "uploadId": started["upload_id"], "bucket": bucket }))
}

/// What signing part URLs needs besides the parts: this request's id (the URLs' nonce), the
/// gateway's origin, the URLs' lifetime in seconds and the time.
pub type PartUrlContext<'a> = (&'a str, &'a str, i64, i64);

/// A gateway URL that takes part `number` of upload `upload_id` of `key`.
fn part_url(
    config: &Config,
    grant: &Grant,
    key: &ObjectKey,
    (upload_id, number): (&str, u16),
    (nonce, origin, expires_in_s, now_ms): PartUrlContext<'_>,
) -> Result<String> {
    let secret = config.url_signing_secret.as_ref().ok_or_else(|| {
        GatewayError::new(
            ErrorKind::ConfigError,
            "the gateway is misconfigured: URL_SIGNING_SECRET must be set for part URLs",
        )
    })?;
    let cap = Capability {
        method: "PUT".to_owned(),
        key: key.to_string(),
        expires: now_ms.div_euclid(1000) + expires_in_s,
        owner: grant.sub.clone(),
        max_size: None,
        content_type: None,
        nonce: nonce.to_owned(),
        download: None,
        part: Some((upload_id.to_owned(), number)),
        upload: None,
        s3: false,
        direct: false,
        scan: None,
        metadata: None,
        quota: quota_param(grant),
    };
    Ok(format!("{origin}{}?{}", location(key), capability::sign(secret, &cap)?))
}

/// `GET /s3/multipart/{uploadId}/{partNumber}?key=`: `{url, expires}`, a gateway URL that
/// takes that part of that upload, within the token's lifetime.
pub fn sign_part<T>(
    config: &Config,
    grant: &Grant,
    key: &ObjectKey,
    part: (&str, u16),
    context: PartUrlContext<'_>,
) -> Result<Reply<T>> {
    grant.authorize(Scope::Write, key)?;
    let url = part_url(config, grant, key, part, context)?;
    Ok(Reply::json(200, &json!({ "url": url, "expires": context.2 })).with_header("Cache-Control", "no-store"))
}

/// `GET /s3/multipart/{uploadId}/batch?key=&partNumbers=1,2,…` (`numbers`, comma-separated):
/// `{presignedUrls: {"1": url, …}}`, Companion's batch form of [`sign_part`].
pub fn sign_parts<T>(
    config: &Config,
    grant: &Grant,
    key: &ObjectKey,
    (upload_id, numbers): (&str, &str),
    context: PartUrlContext<'_>,
) -> Result<Reply<T>> {
    grant.authorize(Scope::Write, key)?;
    let mut urls = serde_json::Map::new();
    for n in numbers.split(',') {
        let number = n
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| bad("partNumbers must be part numbers from 1 to 10000, comma-separated"))?;
        urls.insert(number.to_string(), json!(part_url(config, grant, key, (upload_id, number), context)?));
    }
    Ok(Reply::json(200, &json!({ "presignedUrls": urls })).with_header("Cache-Control", "no-store"))
}

/// `GET /s3/multipart/{uploadId}?key=`: the parts received, `[{PartNumber, Size, ETag}]`.
pub fn list<T>(listed: &Reply<T>) -> Reply<T> {
    let parts: Vec<Value> = listed.json_value()["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(|p| json!({ "PartNumber": p["part_number"], "Size": p["size"], "ETag": p["etag"] }))
                .collect()
        })
        .unwrap_or_default();
    Reply::json(200, &parts)
}

/// The gateway's completion body for Companion's `{parts: [{PartNumber, ETag}]}`.
pub fn completion_body(body: &[u8]) -> Result<Vec<u8>> {
    let req: CompleteBody = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the body must be {{\"parts\": [{{\"PartNumber\", \"ETag\"}}]}}: {e}")))?;
    let parts: Vec<Value> =
        req.parts.iter().map(|p| json!({ "part_number": p.part_number, "etag": p.etag.trim_matches('"') })).collect();
    Ok(json!({ "parts": parts }).to_string().into_bytes())
}

/// The answer to a completion: `{location, key, bucket}`.
pub fn completed<T>(
    (reply, job): (Reply<T>, FollowUp),
    origin: &str,
    key: &ObjectKey,
    bucket: &str,
) -> (Reply<T>, FollowUp) {
    let etag = reply.header("ETag").unwrap_or_default().to_owned();
    let answer = json!({ "location": format!("{origin}{}", location(key)), "key": key.as_str(), "bucket": bucket });
    (Reply::json(200, &answer).with_header("ETag", etag), job)
}
