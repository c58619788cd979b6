//! SigV4 through `aws-sigv4`, with the time passed in: signed requests and presigned URLs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningInstructions, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use super::S3Config;
use crate::encoding::encode_query_value;
use crate::error::{ErrorKind, GatewayError, Result};

/// The payload hash sent with streamed bodies: the body is not part of the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string: the payload hash of body-less requests.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
