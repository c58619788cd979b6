//! Webhook requests: the JSON posted to `WEBHOOK_URL` for each event and the headers that let
//! a receiver check it came from this gateway, recently, and deduplicate it.
//!
//! The signature is `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under `WEBHOOK_SECRET`,
//! where `<timestamp>` is the `X-Upload-Timestamp` header (Unix seconds): a receiver that
//! refuses timestamps older than a few minutes cannot be fed a captured request later.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::encoding::hex;
use crate::events::Event;

/// `sha256=<hex>` over `<timestamp>.<body>`.
pub const SIGNATURE_HEADER: &str = "X-Upload-Signature";
/// When the request was signed, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Upload-Timestamp";
/// The event's id: the same on every attempt and every copy.
pub const EVENT_ID_HEADER: &str = "X-Upload-Event-Id";
/// Which attempt this is, from 1.
pub const ATTEMPT_HEADER: &str = "X-Upload-Attempt";

/// What sniffing an uploaded object found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub detected_type: Option<String>,
    /// Whether the detected type agrees with the declared one (`None`: unknown format).
    pub type_matches: Option<bool>,
}

/// The request body: the event, what the consumer found, and this attempt's details.
#[derive(Debug, Clone, Serialize)]
pub struct Payload<'a> {
    #[serde(flatten)]
    pub event: &'a Event,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detection: Option<Detection>,
    pub attempt: u32,
    /// When this attempt was sent (RFC 3339).
    pub sent_at: String,
    /// With quarantine: where a scanner fetches a pending version's bytes, for this attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_download: Option<crate::scan_link::ScanLink>,
}

/// `sha256=<hex HMAC-SHA256 of message under secret>`.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(message);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// The signature header value for `body` signed at `timestamp` under `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    hmac_sha256(secret, format!("{timestamp}.{body}").as_bytes())
}

/// Every header of the webhook request but `Content-Type`.
pub fn signed_headers(
    secret: &[u8],
    event: &Event,
    attempt: u32,
    timestamp: i64,
    body: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (SIGNATURE_HEADER, sign(secret, timestamp, body)),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (EVENT_ID_HEADER, event.id.clone()),
        (ATTEMPT_HEADER, attempt.to_string()),
    ]
}
