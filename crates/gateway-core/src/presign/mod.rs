//! Presigned URLs: `POST /presign` ([`urls`]), gateway-mode URL signatures ([`capability`]),
//! browser forms ([`form`]), the confirm step of direct uploads ([`confirm`]) and download
//! file names ([`disposition`]).

pub mod confirm;
pub mod disposition;
pub mod form;
pub mod urls;

/// Gateway URLs' signatures live at the top level: scan URLs in events are signed too.
pub use crate::capability;

use crate::approval::Approval;
use crate::config::Config;
use crate::grant::Grant;
use crate::store::Presign;

/// `expires_in` when the client gives none.
pub const DEFAULT_EXPIRES_IN_S: i64 = 300;

/// What a presign request needs besides its body.
#[derive(Clone, Copy)]
pub struct PresignContext<'a> {
    pub config: &'a Config,
    /// The store's presigning, where it has one.
    pub presigner: Option<&'a dyn Presign>,
    pub grant: &'a Grant,
    pub now_ms: i64,
    /// Unique per request: the generated key's name and the URL's nonce.
    pub id: &'a str,
    pub origin: &'a str,
    /// Asks the approval hook about an upload URL or form before it is signed.
    pub approval: Approval<'a>,
}

/// `wanted` seconds, lowered to `PRESIGN_MAX_TTL_SECONDS` and to what remains of the
/// caller's own authority: a URL never outlives the token it was made with.
pub(crate) fn lifetime(config: &Config, grant: &Grant, wanted: i64, now_ms: i64) -> i64 {
    let left = grant.expires_ms.map_or(i64::MAX, |exp| (exp - now_ms).div_euclid(1000));
    wanted.min(config.presign_max_ttl_s).min(left).max(1)
}
