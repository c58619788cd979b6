//! The presign ledger on tables `presigned_uploads` and `used_nonces`
//! (`migrations/0004_presigned_urls.sql`).

use serde::Deserialize;

use super::objects::names;
use super::quota::insert_if;
use super::{args, stmt, Route, SqlDatabase, SqlMetadata};
use crate::error::Result;
use crate::metadata::{Commit, ObjectRecord, PresignLedger, PresignedUpload, PRESIGNED_PER_KEY};
use crate::quota::{Quota, Reservation};

#[derive(Deserialize)]
struct PresignedRow {
    nonce: String,
    key: String,
    owner: String,
    content_type: String,
    size: Option<f64>,
    max_size: f64,
    created_at: f64,
    expires_at: f64,
    storage_key: Option<String>,
    metadata: Option<String>,
}

const COLUMNS: &str = "nonce, key, owner, content_type, size, max_size, created_at, expires_at, storage_key, metadata";

impl<D: SqlDatabase> PresignLedger for SqlMetadata<D> {
    async fn record_presigned(
        &self,
        p: &PresignedUpload,
        due_at: i64,
        quota: Option<(&Reservation<'_>, &Quota)>,
        now_ms: i64,
    ) -> Result<bool> {
        let records = |condition: Option<&str>| {
            let url = insert_if(
                &format!("INSERT INTO presigned_uploads ({COLUMNS})"),
                "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10",
                condition,
            );
            let entry = insert_if(
                "INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at)",
                "?1, ?2, ?3, ?4, ?5, ?6",
                condition,
            );
            vec![
                stmt(
                    url,
                    args![
                        &p.nonce,
                        &p.key,
                        &p.owner,
                        &p.content_type,
                        p.size,
                        p.max_size,
                        p.created_at,
                        p.expires_at,
                        &p.storage_key,
                        &p.metadata
                    ],
                ),
                stmt(entry, args![&p.nonce, &p.key, &p.owner, p.created_at, &p.storage_key, due_at]),
            ]
        };
        self.record_reserving("presign", &p.key, quota, now_ms, records).await
    }

    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM presigned_uploads WHERE key = ?1 AND owner = ?2 ORDER BY created_at DESC \
             LIMIT {PRESIGNED_PER_KEY}"
        );
        let rows: Vec<PresignedRow> =
            self.all(Route::Key(key), "presigned select", stmt(sql, args![key, owner])).await?;
        Ok(rows
            .into_iter()
            .map(|r| PresignedUpload {
                nonce: r.nonce,
                owner: r.owner,
                content_type: r.content_type,
                size: r.size.map(|n| n as u64),
                max_size: r.max_size as u64,
                created_at: r.created_at as i64,
                expires_at: r.expires_at as i64,
                storage_key: r.storage_key.unwrap_or_else(|| r.key.clone()),
                key: r.key,
                metadata: r.metadata,
            })
            .collect())
    }

    /// The row and the presigned upload's removal in one transaction; the URL's journal entry
    /// stays until it is due, since the URL could store its name again after a delete.
    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<Commit> {
        let mut statements =
            self.commit_statements(nonce, rec, false, false, Some(("presigned_uploads", "nonce")), None);
        statements.push(stmt(
            format!("DELETE FROM presigned_uploads WHERE nonce = ?1 AND {}", names(2, 3)),
            args![nonce, &rec.key, &rec.storage_key],
        ));
        self.commit("confirm", rec, statements, false).await
    }

    /// `INSERT OR IGNORE` tells a first use (one row written) from a repeat (none).
    async fn use_nonce(&self, key: &str, nonce: &str, expires_at: i64) -> Result<bool> {
        let sql = "INSERT OR IGNORE INTO used_nonces (nonce, expires_at) VALUES (?1, ?2)";
        Ok(self.run(Route::Key(key), "nonce", stmt(sql, args![nonce, expires_at])).await?.changed())
    }

    async fn purge_presigned(&self, before_ms: i64) -> Result<()> {
        let statements = vec![
            stmt("DELETE FROM used_nonces WHERE expires_at < ?1", args![before_ms]),
            stmt("DELETE FROM presigned_uploads WHERE expires_at < ?1", args![before_ms]),
        ];
        self.transaction(Route::Prefix(""), "presign purge", statements).await
    }
}
