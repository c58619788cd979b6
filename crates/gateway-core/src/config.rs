//! Gateway configuration, parsed once from the Worker's variables and secrets into a typed
//! struct. A missing or malformed value is a `config_error` that names the variable; nothing
//! is silently defaulted over a bad value. This module reads no environment itself: the edge
//! hands in a lookup function.

use crate::auth::{JwtConfig, KeySet};
use crate::content_type::TypePattern;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::http_url;
use crate::s3::{Checksums, S3Config};
use crate::secret::Secret;

/// Default for `MAX_UPLOAD_BYTES`: the request-body cap of the free and pro plans.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 104_857_600;
/// Default for `MULTIPART_TTL_SECONDS`: how long a multipart upload may stay unfinished.
pub const DEFAULT_MULTIPART_TTL_SECONDS: u64 = 24 * 60 * 60;
/// R2 aborts unfinished multipart uploads after 7 days on its own; a longer TTL would promise
/// clients time the store does not give.
pub const MAX_MULTIPART_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;
/// Default for `PRESIGN_MAX_TTL_SECONDS`: the longest a presigned URL may live.
pub const DEFAULT_PRESIGN_MAX_TTL_SECONDS: u64 = 900;
/// SigV4 presigned URLs live at most 7 days.
pub const MAX_PRESIGN_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;
/// The largest single object R2 and S3 accept in one PUT.
pub const SINGLE_PUT_CEILING: u64 = 5 * 1024 * 1024 * 1024;
/// HS256 secrets shorter than this are refused: they can be brute-forced offline.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// Which object store the gateway writes to, with what that store needs.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // One per configuration, never copied in bulk.
pub enum Storage {
    /// The `BUCKET` R2 binding.
    R2,
    /// Any S3-compatible store, through SigV4-signed `fetch`.
    S3(S3Config),
}

impl Storage {
    /// `r2` or `s3`, as `STORAGE` names it.
    pub fn name(&self) -> &'static str {
        match self {
            Storage::R2 => "r2",
            Storage::S3(_) => "s3",
        }
    }
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all (same-origin and non-browser clients only).
    None,
    /// `*`: any origin (for development).
    Any,
    /// Exactly these origins (scheme://host[:port]).
    List(Vec<String>),
}

impl CorsOrigins {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        match (self, origin) {
            (CorsOrigins::None, _) | (_, None) => None,
            (CorsOrigins::Any, Some(_)) => Some("*".to_owned()),
            (CorsOrigins::List(list), Some(o)) => list.iter().find(|a| a.as_str() == o).cloned(),
        }
    }
}

/// Where follow-up events are posted.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `WEBHOOK_URL`: an absolute http(s) URL.
    pub url: url::Url,
    /// `WEBHOOK_SECRET`: the HMAC-SHA256 key for the signature header.
    pub secret: Secret,
    /// With `QUARANTINE=true`: what signs the scanner's URL each upload event carries
    /// (`URL_SIGNING_SECRET`) and the origin it names (`PUBLIC_URL`).
    pub scan_links: Option<(Secret, url::Url)>,
}

/// Default for `EVENT_RETRY_DELAY_SECONDS`: the wait after a delivery's first failed attempt.
pub const DEFAULT_EVENT_RETRY_DELAY_SECONDS: u64 = 30;
/// Default for `EVENT_MAX_RETRIES`: the `max_retries` of the queue consumer in `wrangler.toml`.
pub const DEFAULT_EVENT_MAX_RETRIES: u32 = 10;
/// Cloudflare Queues allows at most 100 retries.
pub const MAX_EVENT_RETRIES: u32 = 100;

/// Default for `UPLOAD_COMMIT_WINDOW_SECONDS`.
pub const DEFAULT_UPLOAD_COMMIT_WINDOW_SECONDS: u64 = 60;
/// The longest commit window allowed.
pub const MAX_UPLOAD_COMMIT_WINDOW_SECONDS: u64 = 60 * 60;

/// How the queue consumer retries a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRetry {
    /// `EVENT_RETRY_DELAY_SECONDS`: the first delay; each later one doubles, up to 12 hours.
    pub delay_s: u32,
    /// `EVENT_MAX_RETRIES`: the consumer's `max_retries`, so the last attempt is logged and
    /// counted as dead-lettered; it must equal the value in `wrangler.toml`.
    pub max_retries: u32,
}

/// Default for `APPROVAL_HOOK_TIMEOUT_MS`: how long an upload waits for the approval hook.
pub const DEFAULT_APPROVAL_HOOK_TIMEOUT_MS: u32 = 3000;
/// The longest wait allowed for the approval hook.
pub const MAX_APPROVAL_HOOK_TIMEOUT_MS: u32 = 30_000;

/// What an upload does when the approval hook fails (`APPROVAL_HOOK_ON_FAILURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// `deny` (the default): `503 approval_unavailable`.
    Deny,
    /// `allow`: the upload goes on as asked, and the failure is logged.
    Allow,
}

/// The blocking approval hook ([`crate::approval`]).
#[derive(Debug, Clone)]
pub struct ApprovalConfig {
    /// `APPROVAL_HOOK_URL`: an absolute http(s) URL.
    pub url: url::Url,
    /// `APPROVAL_HOOK_SECRET`: the HMAC-SHA256 key of the signature header.
    pub secret: Secret,
    /// `APPROVAL_HOOK_TIMEOUT_MS`: how long to wait for the answer (default 3000, 100 to 30000).
    pub timeout_ms: u32,
    /// `APPROVAL_HOOK_ON_FAILURE`: `deny` (default) or `allow`.
    pub on_failure: OnFailure,
}

/// Default for `QUARANTINE_TIMEOUT_SECONDS`: how long a new version may wait for its verdict.
pub const DEFAULT_QUARANTINE_TIMEOUT_SECONDS: u64 = 24 * 60 * 60;
/// The longest wait allowed for a verdict.
pub const MAX_QUARANTINE_TIMEOUT_SECONDS: u64 = 7 * 24 * 60 * 60;

/// What happens to a quarantined version with no verdict after its timeout
/// (`QUARANTINE_ON_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// `delete` (the default): removed as an infected one is.
    Delete,
    /// `release`: served, as a clean one is.
    Release,
}

/// Quarantine until scanned ([`crate::quarantine`]).
#[derive(Debug, Clone)]
pub struct QuarantineConfig {
    /// `QUARANTINE_TIMEOUT_SECONDS` in milliseconds.
    pub timeout_ms: i64,
    /// `QUARANTINE_ON_TIMEOUT`: `delete` (default) or `release`.
    pub on_timeout: OnTimeout,
    /// `PUBLIC_URL`: the gateway's own public origin, which the scan URLs in events name.
    pub public_url: url::Url,
}

/// Where the gateway keeps its metadata (`METADATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataBackend {
    /// `d1` (the default): one D1 database, the `DB` binding.
    D1,
    /// `durable-objects`: SQLite Durable Objects, one per namespace ([`crate::shard`]), the
    /// `SHARDS` binding.
    DurableObjects,
}

/// Everything the gateway needs to know, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// `STORAGE`: the backend (`r2`, or `s3` with the `S3_*` settings).
    pub storage: Storage,
    /// `METADATA`: `d1` (default) or `durable-objects`.
    pub metadata: MetadataBackend,
    /// `METADATA_SPLIT`: comma-separated namespaces (or deeper shard keys) whose keys are held
    /// one path segment deeper, each in a shard of its own ([`crate::shard::Layout`]).
    pub shards: crate::shard::Layout,
    /// `MAX_UPLOAD_BYTES`: the largest body accepted by a single PUT (default 100 MiB).
    pub max_upload_bytes: u64,
    /// `MULTIPART_TTL_SECONDS` in milliseconds: how long a multipart upload may stay unfinished
    /// before the sweep aborts it (default 24 h, at most 7 days).
    pub multipart_ttl_ms: i64,
    /// `URL_SIGNING_SECRET`: the HMAC key of gateway-mode presigned URLs (at least 32 bytes);
    /// without it, only direct (S3) presigned URLs are offered.
    pub url_signing_secret: Option<Secret>,
    /// `PRESIGN_MAX_TTL_SECONDS`: the cap on `expires_in` (default 900, at most 7 days).
    pub presign_max_ttl_s: i64,
    /// `ALLOWED_CONTENT_TYPES`: comma-separated types (`image/*` wildcards); `None` allows all.
    pub allowed_content_types: Option<Vec<TypePattern>>,
    /// JWT verification (`JWT_SECRET`, `JWT_PUBLIC_KEYS`, `JWT_ISSUER`, `JWT_AUDIENCE`).
    pub jwt: JwtConfig,
    /// `WEBHOOK_URL` + `WEBHOOK_SECRET`: optional event delivery after each upload.
    pub webhook: Option<WebhookConfig>,
    /// `APPROVAL_HOOK_URL` + `APPROVAL_HOOK_SECRET`: an optional blocking approval hook.
    pub approval: Option<ApprovalConfig>,
    /// `QUARANTINE=true`: new versions are served to nobody until a scanner's verdict.
    pub quarantine: Option<QuarantineConfig>,
    /// `QUOTA_BYTES`, `QUOTA_OBJECTS`: every owner's storage quota unless its token's `quota`
    /// claim or its issuer's `quota` says otherwise.
    pub quota: Option<crate::quota::Quota>,
    /// `CORS_ORIGINS`: comma-separated origins or `*`; unset means no CORS headers.
    pub cors_origins: CorsOrigins,
    pub event_retry: EventRetry,
    /// `UPLOAD_COMMIT_WINDOW_SECONDS` in milliseconds: how long after its start (plus the
    /// body's time at the slowest pace the sweep waits for) an announced small upload may still
    /// commit; after that its pending-commit message deletes the object (default 60 s).
    pub commit_window_ms: i64,
    /// `RATE_LIMIT_PERIOD_SECONDS`: the period of the rate-limiting bindings
    /// (`RATE_LIMIT_CALLERS`, `RATE_LIMIT_ADDRESSES`), 10 or 60 as theirs must be (default 60);
    /// what `Retry-After` is measured in.
    pub rate_limit_period_s: u32,
}

/// Words that mark a value copied from an example file rather than generated.
const PLACEHOLDER_MARKERS: [&str; 4] = ["replace-with", "changeme", "change-me", "your-secret"];

/// Refuses a secret that is too short or still an example file's placeholder (such as the one
/// in `.dev.vars.example`, which is long enough to pass a length check if deployed as is).
fn secret(var: &str, value: String, min_bytes: usize) -> Result<Secret> {
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDER_MARKERS.iter().any(|m| lower.contains(m)) {
        return Err(config_error(var, "is a placeholder; set a random value (e.g. `openssl rand -base64 32`)"));
    }
    if value.len() < min_bytes {
        return Err(config_error(var, format!("must be at least {min_bytes} bytes")));
    }
    Ok(Secret::new(value))
}

fn config_error(var: &str, why: impl std::fmt::Display) -> GatewayError {
    GatewayError::hidden(
        ErrorKind::ConfigError,
        format!("the gateway is misconfigured: {var} {why}"),
        format!("configuration variable {var}"),
    )
}

impl Config {
    /// Parses the configuration from `lookup(name)`, which returns a variable or secret.
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let storage = match get("STORAGE").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("r2") => Storage::R2,
            Some("s3") => Storage::S3(s3_config(&get)?),
            Some(_) => return Err(config_error("STORAGE", "must be `r2` or `s3`")),
        };

        let metadata = match get("METADATA").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("d1") => MetadataBackend::D1,
            Some("durable-objects") => MetadataBackend::DurableObjects,
            Some(_) => return Err(config_error("METADATA", "must be `d1` or `durable-objects`")),
        };

        let split: Vec<String> = get("METADATA_SPLIT")
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        if split.iter().any(|s| s.starts_with('/') || s.ends_with('/') || s.contains("//")) {
            return Err(config_error(
                "METADATA_SPLIT",
                "must list key prefixes of whole path segments, without a leading or trailing `/` (e.g. `acme,acme/eu`)",
            ));
        }
        let shards = crate::shard::Layout::new(split);

        let max_upload_bytes = match get("MAX_UPLOAD_BYTES") {
            None => DEFAULT_MAX_UPLOAD_BYTES,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 && n <= SINGLE_PUT_CEILING => n,
                _ => {
                    return Err(config_error(
                        "MAX_UPLOAD_BYTES",
                        format!("must be a whole number of bytes from 1 to {SINGLE_PUT_CEILING}"),
                    ))
                }
            },
        };

        let allowed_content_types = match get("ALLOWED_CONTENT_TYPES") {
            None => None,
            Some(v) => Some(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(TypePattern::parse)
                    .collect::<Option<Vec<_>>>()
                    .filter(|list| !list.is_empty())
                    .ok_or_else(|| {
                        config_error("ALLOWED_CONTENT_TYPES", "must list media types such as `image/*,application/pdf`")
                    })?,
            ),
        };

        let hs256_secret = get("JWT_SECRET").map(|s| secret("JWT_SECRET", s, MIN_HS256_SECRET_BYTES)).transpose()?;
        let public_keys = match get("JWT_PUBLIC_KEYS") {
            None => KeySet::default(),
            Some(doc) => KeySet::from_jwks(&doc).map_err(|why| config_error("JWT_PUBLIC_KEYS", why))?,
        };
        let issuers = match get("JWT_ISSUERS") {
            None => Vec::new(),
            Some(doc) => crate::idp::issuer::parse_issuers(&doc).map_err(|why| config_error("JWT_ISSUERS", why))?,
        };
        if hs256_secret.is_none() && public_keys.is_empty() && issuers.is_empty() {
            return Err(config_error("JWT_SECRET", "or JWT_PUBLIC_KEYS or JWT_ISSUERS must be set"));
        }
        let jwt =
            JwtConfig { hs256_secret, public_keys, issuer: get("JWT_ISSUER"), audience: get("JWT_AUDIENCE"), issuers };

        let mut webhook = match (get("WEBHOOK_URL"), get("WEBHOOK_SECRET")) {
            (None, _) => None,
            (Some(_), None) => return Err(config_error("WEBHOOK_SECRET", "must be set when WEBHOOK_URL is")),
            (Some(u), Some(secret)) => {
                let url =
                    http_url(&u, "must be an absolute http(s) URL").map_err(|why| config_error("WEBHOOK_URL", why))?;
                Some(WebhookConfig { url, secret: Secret::new(secret), scan_links: None })
            }
        };

        let approval = approval_config(&get)?;

        let multipart_ttl_ms =
            seconds(&get, "MULTIPART_TTL_SECONDS", DEFAULT_MULTIPART_TTL_SECONDS, MAX_MULTIPART_TTL_SECONDS)? * 1000;

        let url_signing_secret = get("URL_SIGNING_SECRET").map(|s| secret("URL_SIGNING_SECRET", s, 32)).transpose()?;
        let quarantine = quarantine_config(&get, url_signing_secret.is_some())?;
        let count = |var: &str| {
            get(var)
                .map(|v| v.parse::<u64>().map_err(|_| config_error(var, "must be a whole number (bytes or objects)")))
                .transpose()
        };
        let quota = crate::quota::Quota { bytes: count("QUOTA_BYTES")?, objects: count("QUOTA_OBJECTS")? };
        let quota = quota.limits().then_some(quota);
        if let (Some(hook), Some(q), Some(secret)) = (webhook.as_mut(), &quarantine, &url_signing_secret) {
            hook.scan_links = Some((secret.clone(), q.public_url.clone()));
        }
        let presign_max_ttl_s =
            seconds(&get, "PRESIGN_MAX_TTL_SECONDS", DEFAULT_PRESIGN_MAX_TTL_SECONDS, MAX_PRESIGN_TTL_SECONDS)?;

        let cors_origins = match get("CORS_ORIGINS") {
            None => CorsOrigins::None,
            Some(v) if v == "*" => CorsOrigins::Any,
            Some(v) => {
                let list: Vec<String> =
                    v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
                if list
                    .iter()
                    .any(|o| url::Url::parse(o).map(|u| u.origin().ascii_serialization() != *o).unwrap_or(true))
                {
                    return Err(config_error(
                        "CORS_ORIGINS",
                        "must be `*` or comma-separated origins like `https://app.example.com`",
                    ));
                }
                CorsOrigins::List(list)
            }
        };

        let event_retry = EventRetry {
            delay_s: u32::try_from(seconds(
                &get,
                "EVENT_RETRY_DELAY_SECONDS",
                DEFAULT_EVENT_RETRY_DELAY_SECONDS,
                u64::from(crate::events::MAX_RETRY_DELAY_S),
            )?)
            .unwrap_or(crate::events::MAX_RETRY_DELAY_S),
            max_retries: match get("EVENT_MAX_RETRIES") {
                None => DEFAULT_EVENT_MAX_RETRIES,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n <= MAX_EVENT_RETRIES).ok_or_else(|| {
                    config_error("EVENT_MAX_RETRIES", format!("must be a whole number from 0 to {MAX_EVENT_RETRIES}"))
                })?,
            },
        };

        let commit_window_ms = seconds(
            &get,
            "UPLOAD_COMMIT_WINDOW_SECONDS",
            DEFAULT_UPLOAD_COMMIT_WINDOW_SECONDS,
            MAX_UPLOAD_COMMIT_WINDOW_SECONDS,
        )? * 1000;

        let rate_limit_period_s = match get("RATE_LIMIT_PERIOD_SECONDS").as_deref() {
            None | Some("60") => 60,
            Some("10") => 10,
            Some(_) => {
                return Err(config_error(
                    "RATE_LIMIT_PERIOD_SECONDS",
                    "must be 10 or 60, the periods a rate-limiting binding can have (and the same as theirs)",
                ))
            }
        };

        Ok(Config {
            storage,
            metadata,
            shards,
            max_upload_bytes,
            multipart_ttl_ms,
            url_signing_secret,
            presign_max_ttl_s,
            allowed_content_types,
            jwt,
            webhook,
            approval,
            quarantine,
            quota,
            cors_origins,
            event_retry,
            commit_window_ms,
            rate_limit_period_s,
        })
    }
}

/// A duration setting in whole seconds from 1 to `max`, or `default` when unset.
/// The `APPROVAL_HOOK_*` variables: none without a URL.
fn approval_config(get: &impl Fn(&str) -> Option<String>) -> Result<Option<ApprovalConfig>> {
    let Some(u) = get("APPROVAL_HOOK_URL") else {
        for var in ["APPROVAL_HOOK_SECRET", "APPROVAL_HOOK_TIMEOUT_MS", "APPROVAL_HOOK_ON_FAILURE"] {
            if get(var).is_some() {
                return Err(config_error(var, "is set but APPROVAL_HOOK_URL is not"));
            }
        }
        return Ok(None);
    };
    let url = http_url(&u, "must be an absolute http(s) URL").map_err(|why| config_error("APPROVAL_HOOK_URL", why))?;
    let secret = match get("APPROVAL_HOOK_SECRET") {
        None => return Err(config_error("APPROVAL_HOOK_SECRET", "must be set when APPROVAL_HOOK_URL is")),
        Some(s) => secret("APPROVAL_HOOK_SECRET", s, 32)?,
    };
    let timeout_ms = match get("APPROVAL_HOOK_TIMEOUT_MS") {
        None => DEFAULT_APPROVAL_HOOK_TIMEOUT_MS,
        Some(v) => {
            v.parse::<u32>().ok().filter(|n| (100..=MAX_APPROVAL_HOOK_TIMEOUT_MS).contains(n)).ok_or_else(|| {
                config_error(
                    "APPROVAL_HOOK_TIMEOUT_MS",
                    format!("must be whole milliseconds from 100 to {MAX_APPROVAL_HOOK_TIMEOUT_MS}"),
                )
            })?
        }
    };
    let on_failure = match get("APPROVAL_HOOK_ON_FAILURE").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("deny") => OnFailure::Deny,
        Some("allow") => OnFailure::Allow,
        Some(_) => return Err(config_error("APPROVAL_HOOK_ON_FAILURE", "must be `deny` or `allow`")),
    };
    Ok(Some(ApprovalConfig { url, secret, timeout_ms, on_failure }))
}

/// The `QUARANTINE*` variables: none unless `QUARANTINE=true`. Scanners fetch a version through
/// a gateway URL, so `URL_SIGNING_SECRET` and `PUBLIC_URL` must be set.
fn quarantine_config(get: &impl Fn(&str) -> Option<String>, url_secret: bool) -> Result<Option<QuarantineConfig>> {
    match get("QUARANTINE").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => return Ok(None),
        Some("true") => {}
        Some(_) => return Err(config_error("QUARANTINE", "must be `true` or `false`")),
    }
    if !url_secret {
        return Err(config_error(
            "URL_SIGNING_SECRET",
            "must be set with QUARANTINE=true: scanners fetch new versions through gateway URLs",
        ));
    }
    let public_url = match get("PUBLIC_URL") {
        None => {
            return Err(config_error("PUBLIC_URL", "must be set with QUARANTINE=true (the gateway's own https origin)"))
        }
        Some(u) => http_url(&u, "must be the gateway's absolute http(s) origin, e.g. `https://uploads.example.com`")
            .ok()
            .filter(|u| u.path() == "/" && u.query().is_none())
            .ok_or_else(|| config_error("PUBLIC_URL", "must be the gateway's http(s) origin, without a path"))?,
    };
    let timeout_ms =
        seconds(get, "QUARANTINE_TIMEOUT_SECONDS", DEFAULT_QUARANTINE_TIMEOUT_SECONDS, MAX_QUARANTINE_TIMEOUT_SECONDS)?
            * 1000;
    let on_timeout = match get("QUARANTINE_ON_TIMEOUT").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("delete") => OnTimeout::Delete,
        Some("release") => OnTimeout::Release,
        Some(_) => return Err(config_error("QUARANTINE_ON_TIMEOUT", "must be `delete` or `release`")),
    };
    Ok(Some(QuarantineConfig { timeout_ms, on_timeout, public_url }))
}

fn seconds(get: &impl Fn(&str) -> Option<String>, name: &str, default: u64, max: u64) -> Result<i64> {
    let value = match get(name) {
        None => default,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| config_error(name, format!("must be whole seconds from 1 to {max}")))?,
    };
    Ok(i64::try_from(value).unwrap_or(i64::MAX))
}

/// The `S3_*` variables. Path style defaults to on for any endpoint that is not AWS's, where
/// virtual-hosted buckets need DNS that local and self-hosted stores rarely have.
fn s3_config(get: &impl Fn(&str) -> Option<String>) -> Result<S3Config> {
    let required = |name: &str| get(name).ok_or_else(|| config_error(name, "must be set when STORAGE is `s3`"));
    let usual = "must be an http(s) URL with no path, like `https://s3.us-east-1.amazonaws.com`";
    let endpoint = http_url(&required("S3_ENDPOINT")?, usual)
        .and_then(|u| if matches!(u.path(), "" | "/") && u.query().is_none() { Ok(u) } else { Err(usual.to_owned()) })
        .map_err(|why| config_error("S3_ENDPOINT", why))?;
    let bucket = required("S3_BUCKET")?;
    if bucket.len() < 3
        || bucket.len() > 63
        || !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(config_error("S3_BUCKET", "must be a valid bucket name (3–63 characters: a-z, 0-9, `-`, `.`)"));
    }
    let region = get("S3_REGION").unwrap_or_else(|| "us-east-1".to_owned());
    if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(config_error("S3_REGION", "must be a region name such as `us-east-1` or `auto`"));
    }
    let is_aws = endpoint.host_str().is_some_and(|h| h.ends_with(".amazonaws.com"));
    let path_style = match get("S3_FORCE_PATH_STYLE").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => !is_aws,
        Some("true" | "1" | "yes") => true,
        Some("false" | "0" | "no") => false,
        Some(_) => return Err(config_error("S3_FORCE_PATH_STYLE", "must be `true` or `false` (or 1/0, yes/no)")),
    };
    let checksums = match get("S3_CHECKSUMS").as_deref() {
        None | Some("store") => Checksums::Store,
        Some("gateway") => Checksums::Gateway,
        Some(_) => {
            return Err(config_error(
                "S3_CHECKSUMS",
                "must be `store` (the store verifies digests) or `gateway` (the gateway does)",
            ))
        }
    };
    Ok(S3Config {
        endpoint,
        bucket,
        region,
        access_key_id: required("S3_ACCESS_KEY_ID")?,
        secret_access_key: Secret::new(required("S3_SECRET_ACCESS_KEY")?),
        session_token: get("S3_SESSION_TOKEN").map(Secret::new),
        path_style,
        checksums,
    })
}
