//! Quarantine until scanned (`QUARANTINE=true`): every new version is recorded with `scan =
//! pending` and its bytes are served to nobody (GET, HEAD, ranges, redirects, presigned GET
//! URLs: `409 scan_pending`) until a scanner's verdict, `POST /files/{key}/verdict` with a
//! token holding the `scan` scope, clears it (`clean`: served from then on) or condemns it
//! (`infected`: deleted, its `object.deleted` event says `reason: infected`). A verdict is bound
//! to the version by its ETag, so one for a version the key no longer serves changes nothing.
//! A version still pending after `QUARANTINE_TIMEOUT_SECONDS` is deleted (`reason:
//! scan_timeout`) or released, as `QUARANTINE_ON_TIMEOUT` says, by the sweep. Each delivery of
//! an upload event carries a scanner's URL for that version ([`crate::scan_link`]).

use serde::{Deserialize, Serialize};

use crate::config::{Config, OnTimeout, QuarantineConfig};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::Event;
use crate::followup::FollowUp;
use crate::grant::{Grant, Scope};
use crate::http::Reply;
use crate::key::ObjectKey;
use crate::manage::{remove, Removal};
use crate::metadata::{Condemned, MetadataStore, ObjectIndex, ObjectRecord, UploadJournal, SCAN_PENDING};
use crate::store::Objects;
use crate::sweep::{SweepReport, SWEEP_BATCH};

/// The `reason` of a version deleted by an `infected` verdict.
pub const INFECTED: &str = "infected";
/// The `reason` of a version deleted for want of a verdict in time.
pub const SCAN_TIMEOUT: &str = "scan_timeout";

/// A new version's `scan`: pending while quarantine is on.
pub fn initial_scan(config: &Config) -> Option<String> {
    config.quarantine.as_ref().map(|_| SCAN_PENDING.to_owned())
}

/// Whether `row`'s bytes may be served: unless it is quarantined, or the request reads through a
/// scanner's URL for this very version (`scan`, its ETag). A scanner's URL for a version the
/// key no longer serves finds nothing.
pub fn check_served(row: &ObjectRecord, scan: Option<&str>) -> Result<()> {
    match scan {
        Some(etag) if etag != row.etag => {
            Err(GatewayError::new(ErrorKind::NotFound, "the version this URL is for is no longer the key's"))
        }
        Some(_) => Ok(()),
        None if row.scan.is_some() => Err(pending()),
        None => Ok(()),
    }
}

fn pending() -> GatewayError {
    GatewayError::new(ErrorKind::ScanPending, "this version is quarantined until a malware scan clears it")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerdictBody {
    /// The ETag the upload answered (quotes optional).
    version: String,
    verdict: String,
}

#[derive(Serialize)]
struct VerdictAnswer<'a> {
    key: &'a str,
    version: &'a str,
    verdict: &'a str,
    /// `served` (clean) or `deleted` (infected).
    status: &'a str,
}

fn stale() -> GatewayError {
    GatewayError::new(
        ErrorKind::PreconditionFailed,
        "the key does not serve this version (it was replaced or deleted): the verdict changed nothing",
    )
}

/// The key of `POST /files/{key}/verdict`, if that is the route.
pub fn verdict_key(key: &ObjectKey) -> Option<ObjectKey> {
    key.as_str().strip_suffix("/verdict").and_then(|k| ObjectKey::new(k.to_owned()).ok())
}

/// `POST /files/{key}/verdict` `{"version": "<ETag>", "verdict": "clean" | "infected"}`.
pub async fn verdict<S: Objects, M: ObjectIndex + UploadJournal>(
    config: &Config,
    store: &S,
    meta: &M,
    grant: &Grant,
    key: &ObjectKey,
    body: &[u8],
    (request_id, now_ms): (&str, i64),
) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
    grant.authorize(Scope::Scan, key)?;
    if config.quarantine.is_none() {
        return Err(GatewayError::new(ErrorKind::NotFound, "this gateway quarantines nothing (QUARANTINE is off)"));
    }
    let req: VerdictBody = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            ErrorKind::BadRequest,
            format!("send {{\"version\": \"<ETag>\", \"verdict\": \"clean\" | \"infected\"}}: {e}"),
        )
    })?;
    let version = format!("\"{}\"", req.version.trim().trim_matches('"'));
    let answer = |status| VerdictAnswer { key: key.as_str(), version: &version, verdict: &req.verdict, status };
    match req.verdict.as_str() {
        "clean" => match meta.clear_scan(key.as_str(), &version).await? {
            Some(row) if row.etag == version => Ok((Reply::json(200, &answer("served")), None)),
            _ => Err(stale()),
        },
        "infected" => {
            let condemned = Condemned { etag: &version, reason: INFECTED };
            let id = Event::deletion_id(key.as_str(), request_id);
            match remove(store, meta, key, &id, now_ms, Some(condemned)).await? {
                Removal::Removed(job) => Ok((Reply::json(200, &answer("deleted")), Some(*job))),
                Removal::NoRow | Removal::Newer => Err(stale()),
            }
        }
        _ => Err(GatewayError::new(ErrorKind::BadRequest, "verdict must be `clean` or `infected`")),
    }
}

/// The sweep's part: versions whose verdict is overdue are deleted or released, as configured.
/// A deletion's event id is derived from the version, so a repeated sweep records it once.
pub async fn sweep_scans<S: Objects, M: MetadataStore>(
    store: &S,
    meta: &M,
    q: &QuarantineConfig,
    now_ms: i64,
) -> SweepReport {
    let mut report = SweepReport::default();
    let overdue = match meta.overdue_scans(now_ms - q.timeout_ms, SWEEP_BATCH).await {
        Ok(rows) => rows,
        Err(e) => {
            report.problems.push(format!("listing overdue scans failed: {}", e.log_line()));
            return report;
        }
    };
    for row in overdue {
        report.examined += 1;
        let done = match q.on_timeout {
            OnTimeout::Release => meta.clear_scan(&row.key, &row.etag).await.map(|_| ()),
            OnTimeout::Delete => match ObjectKey::new(row.key.clone()) {
                Ok(key) => {
                    let id = Event::deletion_id(&row.key, &format!("{SCAN_TIMEOUT}\n{}", row.storage_key));
                    let condemned = Condemned { etag: &row.etag, reason: SCAN_TIMEOUT };
                    remove(store, meta, &key, &id, now_ms, Some(condemned)).await.map(|_| ())
                }
                Err(e) => Err(e),
            },
        };
        if let Err(e) = done {
            report.problems.push(format!("settling the overdue scan of `{}` failed: {}", row.key, e.log_line()));
        }
    }
    report
}
