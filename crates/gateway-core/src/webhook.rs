//! Webhook events: the JSON posted to `WEBHOOK_URL` after an upload and its HMAC-SHA256
//! signature header, so receivers can check the event came from this gateway.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::encoding::hex;

/// Header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Upload-Signature";

/// The event body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UploadEvent {
    pub r#type: &'static str,
    pub key: String,
    pub owner: String,
    pub size: u64,
    pub etag: String,
    pub content_type: String,
    pub detected_type: Option<String>,
    pub type_matches: Option<bool>,
    pub uploaded_at: String,
    /// When the event was sent (RFC 3339), so receivers can refuse stale replays.
    pub sent_at: String,
}

/// The signature header value for `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}
