//! The schema: `migrations/`, the files `wrangler d1 migrations apply` runs on D1, applied
//! the same way to every other SQLite the gateway keeps metadata in (each Durable Object
//! shard migrates its own on first use). Each migration runs as one transaction together
//! with the row that records it in `schema_migrations`, so a database is always at exactly
//! one version and migrating again changes nothing.

use serde::Deserialize;

use super::{args, stmt, Route, SqlDatabase, Statement};
use crate::error::Result;

/// Every migration, in order: its name and its SQL.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_objects", include_str!("../../../../migrations/0001_objects.sql")),
    ("0002_pending_uploads", include_str!("../../../../migrations/0002_pending_uploads.sql")),
    ("0003_multipart_uploads", include_str!("../../../../migrations/0003_multipart_uploads.sql")),
    ("0004_presigned_urls", include_str!("../../../../migrations/0004_presigned_urls.sql")),
    ("0005_stored_names", include_str!("../../../../migrations/0005_stored_names.sql")),
    ("0006_part_counters", include_str!("../../../../migrations/0006_part_counters.sql")),
    ("0007_tus_uploads", include_str!("../../../../migrations/0007_tus_uploads.sql")),
    ("0008_event_outbox", include_str!("../../../../migrations/0008_event_outbox.sql")),
    ("0009_journal_rows", include_str!("../../../../migrations/0009_journal_rows.sql")),
    ("0010_announced_uploads", include_str!("../../../../migrations/0010_announced_uploads.sql")),
    ("0011_part_attempts", include_str!("../../../../migrations/0011_part_attempts.sql")),
    ("0012_approved_limits", include_str!("../../../../migrations/0012_approved_limits.sql")),
    ("0013_quarantine", include_str!("../../../../migrations/0013_quarantine.sql")),
    ("0014_upload_metadata", include_str!("../../../../migrations/0014_upload_metadata.sql")),
    ("0015_quotas", include_str!("../../../../migrations/0015_quotas.sql")),
    ("0016_quota_ledger", include_str!("../../../../migrations/0016_quota_ledger.sql")),
];

/// A migration file's statements, one by one (the batch interfaces take single statements):
/// comments dropped, split at each `;` that ends a line, except inside a trigger's body,
/// which ends at `END;`.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or_default().trim_end();
        if code.trim().is_empty() {
            continue;
        }
        current.push_str(code);
        current.push('\n');
        let trigger = current.trim_start().to_ascii_uppercase().starts_with("CREATE TRIGGER");
        let ends = if trigger { code.trim().eq_ignore_ascii_case("END;") } else { code.ends_with(';') };
        if ends {
            out.push(std::mem::take(&mut current).trim().to_owned());
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// Brings `db` to version `upto` (the first `upto` migrations; [`MIGRATIONS`]`.len()` for the
/// latest): applies each one not yet recorded, in order. Returns how many it applied.
pub async fn migrate<D: SqlDatabase>(db: &D, upto: usize) -> Result<usize> {
    #[derive(Deserialize)]
    struct Applied {
        name: String,
    }
    let op = "migrate";
    let found = db
        .batch(
            Route::Here,
            op,
            vec![
                stmt(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
                    Vec::new(),
                ),
                stmt("SELECT name FROM schema_migrations", Vec::new()),
            ],
        )
        .await?;
    let applied: Vec<String> = match found.get(1) {
        Some(rows) => rows.decode::<Applied>(op)?.into_iter().map(|a| a.name).collect(),
        None => Vec::new(),
    };
    let mut count = 0;
    for (name, sql) in MIGRATIONS.iter().take(upto) {
        if applied.iter().any(|a| a == name) {
            continue;
        }
        let mut batch: Vec<Statement> = statements(sql).into_iter().map(|s| stmt(s, Vec::new())).collect();
        batch.push(stmt(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
            args![*name],
        ));
        db.batch(Route::Here, op, batch).await?;
        count += 1;
    }
    Ok(count)
}
