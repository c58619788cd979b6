//! Storage quotas per owner: how many bytes (and, optionally, objects) an owner may keep.
//!
//! Usage is what the owner's rows take (`owner_usage`, kept by triggers with every change to a
//! row, so overwrites count the difference and deletes free space) plus what is in flight: the
//! parts and tus bytes already stored, and reservations. Every write reserves what it will add
//! before its body is read — a single PUT its length, a part or tus chunk its length, a
//! multipart, tus or direct upload the object it will make — in one conditional statement that
//! checks the limit, so concurrent uploads can never take an owner past it. The statement that
//! records the write (the commit, the part, the chunk) removes its reservation in the same
//! transaction; a failed or abandoned write releases it, and one whose Worker died expires.
//! The sweep recomputes `owner_usage` from the rows in batches and reports any drift.
//!
//! A limit comes from the token's `quota` claim (self-minted tokens), else the issuer's
//! `quota` (`JWT_ISSUERS`), else `QUOTA_BYTES` / `QUOTA_OBJECTS`; without any, nothing is
//! reserved and no round trip is added. On D1 one database counts every owner. On Durable
//! Objects each shard counts what owners take there, and an owner writing outside its own
//! namespace's shard is also counted there, its home, as a whole
//! ([`crate::shard::ledger`]): held to one limit across every shard.

use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::Grant;
pub use crate::grant::Quota;
use crate::http::Reply;
pub use crate::metadata::{Drift, QuotaIndex, Reservation, Usage};

/// Reserves `r` against `grant`'s quota, if it has one: `403 quota_exceeded` with the usage
/// and the limit in the problem document when the write would not fit.
pub async fn reserve<M: QuotaIndex>(meta: &M, grant: &Grant, r: Reservation<'_>, now_ms: i64) -> Result<()> {
    let Some(quota) = grant.quota.filter(Quota::limits) else { return Ok(()) };
    if meta.reserve_quota(&r, &quota, now_ms).await? {
        return Ok(());
    }
    Err(refusal(meta, &quota, &r, now_ms).await)
}

/// The refusal of reservation `r`, which did not fit `quota`: with the usage as its limit was
/// checked.
pub async fn refusal<M: QuotaIndex>(meta: &M, quota: &Quota, r: &Reservation<'_>, now_ms: i64) -> GatewayError {
    let usage = meta.usage_checked(r.owner, r.key, now_ms).await.unwrap_or_default();
    exceeded(quota, &usage, r.bytes, r.objects)
}

/// Releases reservation `id` of a write to `key` by the holder of `grant` that will not be
/// recorded; only where `grant` has a quota (otherwise none was made). A failure is logged: the
/// reservation then lapses at its time.
pub async fn release<M: QuotaIndex>(meta: &M, grant: &Grant, key: &str, id: &str) {
    if grant.quota.is_some_and(|q| q.limits()) {
        if let Err(e) = meta.release_quota(key, id).await {
            crate::log::error(&format!("releasing the quota reservation of `{key}` failed: {}", e.log_line()));
        }
    }
}

/// The refusal of a write of `bytes` (and `objects`) that `usage` leaves no room for.
pub fn exceeded(quota: &Quota, usage: &Usage, bytes: u64, objects: u64) -> GatewayError {
    let detail = match (quota.bytes, quota.objects) {
        (Some(limit), _) if usage.bytes + usage.reserved_bytes + bytes > limit => format!(
            "this upload of {bytes} bytes would exceed the storage quota of {limit} bytes ({} bytes used, {} in \
             flight)",
            usage.bytes, usage.reserved_bytes
        ),
        (_, Some(limit)) if usage.objects + usage.reserved_objects + objects > limit => {
            format!(
                "this upload would exceed the quota of {limit} objects ({} stored, {} in flight)",
                usage.objects, usage.reserved_objects
            )
        }
        _ => "this upload would exceed the storage quota".to_owned(),
    };
    GatewayError::new(ErrorKind::QuotaExceeded, detail).with_extensions(serde_json::json!({
        "usage": usage,
        "limit": quota,
    }))
}

/// `GET /usage`: the caller's usage, what is in flight, and its limits, in bytes.
pub async fn usage_reply<T, M: QuotaIndex>(meta: &M, grant: &Grant, now_ms: i64) -> Result<Reply<T>> {
    let usage = meta.usage(&grant.sub, &grant.prefix, now_ms).await?;
    let limit = grant.quota.unwrap_or_default();
    let remaining = limit.bytes.map(|l| l.saturating_sub(usage.bytes + usage.reserved_bytes));
    Ok(Reply::json(
        200,
        &serde_json::json!({
            "owner": grant.sub,
            "bytes": usage.bytes,
            "objects": usage.objects,
            "reserved_bytes": usage.reserved_bytes,
            "reserved_objects": usage.reserved_objects,
            "limit": limit,
            "remaining_bytes": remaining,
        }),
    )
    .with_header("Cache-Control", "no-store"))
}

/// The sweep's part: a batch of up to `limit` owners' usage recomputed from their rows, drift
/// reported.
pub async fn reconcile<M: QuotaIndex>(meta: &M, limit: u32, now_ms: i64, problems: &mut Vec<String>) {
    match meta.reconcile_usage(limit, now_ms).await {
        Ok(drifted) => problems.extend(drifted.into_iter().map(|d| {
            format!(
                "the usage of `{}` had drifted: recorded {} bytes in {} objects, its rows hold {} bytes in {}; repaired",
                d.owner, d.recorded.0, d.recorded.1, d.actual.0, d.actual.1
            )
        })),
        Err(e) => problems.push(format!("reconciling quota usage failed: {}", e.log_line())),
    }
}
