//! The scanner's URL in each delivery of a quarantined upload's event ([`crate::quarantine`]):
//! a gateway `GET` URL that reads that one version, pending or not, minted afresh for every
//! delivery attempt so a retried event never carries a dead one.

use serde::{Deserialize, Serialize};

use crate::capability::{self, Capability};
use crate::error::Result;
use crate::events::{Event, EventKind};
use crate::key::ObjectKey;
use crate::secret::Secret;
use crate::time::rfc3339;

/// How long a scanner's URL works: each delivery attempt of an event gets a fresh one.
pub const SCAN_URL_TTL_S: i64 = 15 * 60;

/// Where a scanner fetches the bytes of an event's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanLink {
    pub url: String,
    /// RFC 3339; ask for the event again (a redelivery) for a fresh URL.
    pub expires_at: String,
}

/// The scanner's URL for `event`'s version at `now_ms`, if it is an upload waiting for its
/// verdict: a gateway `GET` URL under `public_url`, signed with `secret`, that reads that one
/// version, quarantined or not.
pub fn scan_link((secret, public_url): &(Secret, url::Url), event: &Event, now_ms: i64) -> Result<Option<ScanLink>> {
    if !matches!(&event.kind, EventKind::Uploaded { scan: Some(_), .. }) {
        return Ok(None);
    }
    let expires = now_ms.div_euclid(1000) + SCAN_URL_TTL_S;
    let cap = Capability {
        method: "GET".to_owned(),
        key: event.key.clone(),
        expires,
        owner: event.owner.clone(),
        max_size: None,
        content_type: None,
        nonce: event.id.clone(),
        download: None,
        part: None,
        upload: None,
        s3: false,
        direct: false,
        scan: Some(event.etag.clone()),
        metadata: None,
        quota: None,
    };
    let key = ObjectKey::new(event.key.clone())?;
    let origin = public_url.origin().ascii_serialization();
    let url = format!("{origin}{}?{}", key.path(), capability::sign(secret, &cap)?);
    Ok(Some(ScanLink { url, expires_at: rfc3339(expires * 1000) }))
}
