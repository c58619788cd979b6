//! The tus index on tables `tus_uploads`, `tus_chunks` and `tus_parts`
//! (`migrations/0007_tus_uploads.sql`). Every write of a request is conditional on its lease
//! and the offset it started from, in one batch whose last statement moves the offset.

use gateway_core::error::Result;
use gateway_core::metadata::{TusAdvance, TusIndex, TusState, TusUpload};
use gateway_core::multipart::Part;
use gateway_core::tus::plan::Chunk;
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::{db_error, opt_str, D1Metadata};

#[derive(Deserialize)]
struct UploadRow {
    id: String,
    key: String,
    owner: String,
    storage_key: String,
    content_type: String,
    metadata: Option<String>,
    length: Option<f64>,
    upload_offset: f64,
    part_size: Option<f64>,
    parts: f64,
    store_upload_id: Option<String>,
    created_at: f64,
    expires_at: f64,
}

impl From<UploadRow> for TusUpload {
    fn from(r: UploadRow) -> Self {
        TusUpload {
            id: r.id,
            key: r.key,
            owner: r.owner,
            storage_key: r.storage_key,
            content_type: r.content_type,
            metadata: r.metadata,
            length: r.length.map(|v| v as u64),
            offset: r.upload_offset as u64,
            part_size: r.part_size.map(|v| v as u64),
            parts: r.parts as u16,
            store_upload_id: r.store_upload_id,
            created_at: r.created_at as i64,
            expires_at: r.expires_at as i64,
        }
    }
}

#[derive(Deserialize)]
struct ChunkRow {
    start: f64,
    length: f64,
    name: String,
}

#[derive(Deserialize)]
struct PartRow {
    part_number: f64,
    size: f64,
    etag: String,
}

const COLUMNS: &str = "id, key, owner, storage_key, content_type, metadata, length, upload_offset, part_size, parts, \
                       store_upload_id, created_at, expires_at";

/// "Request ?2 holds upload ?1 at offset ?3."
const HELD: &str = "EXISTS (SELECT 1 FROM tus_uploads WHERE id = ?1 AND lease = ?2 AND upload_offset = ?3)";

fn num(v: u64) -> JsValue {
    JsValue::from_f64(v as f64)
}

fn opt_num(v: Option<u64>) -> JsValue {
    v.map_or(JsValue::NULL, num)
}

fn changed(result: &worker::D1Result) -> bool {
    result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) > 0
}

impl TusIndex for D1Metadata {
    async fn create_tus(&self, u: &TusUpload) -> Result<()> {
        let sql = format!(
            "INSERT INTO tus_uploads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        );
        let args = [
            JsValue::from_str(&u.id),
            JsValue::from_str(&u.key),
            JsValue::from_str(&u.owner),
            JsValue::from_str(&u.storage_key),
            JsValue::from_str(&u.content_type),
            opt_str(&u.metadata),
            opt_num(u.length),
            num(u.offset),
            opt_num(u.part_size),
            JsValue::from_f64(f64::from(u.parts)),
            opt_str(&u.store_upload_id),
            JsValue::from_f64(u.created_at as f64),
            JsValue::from_f64(u.expires_at as f64),
        ];
        self.run("tus insert", self.statement(&sql, &args)?).await?;
        Ok(())
    }

    async fn tus(&self, id: &str) -> Result<Option<TusState>> {
        let arg = [JsValue::from_str(id)];
        let statements = vec![
            self.statement(&format!("SELECT {COLUMNS} FROM tus_uploads WHERE id = ?1"), &arg)?,
            self.statement("SELECT start, length, name FROM tus_chunks WHERE upload_id = ?1 ORDER BY start", &arg)?,
            self.statement(
                "SELECT part_number, size, etag FROM tus_parts WHERE upload_id = ?1 ORDER BY part_number",
                &arg,
            )?,
        ];
        let results = self.batch("tus select", statements).await?;
        let fail = |e| db_error("tus select", e);
        let Some(upload) =
            results.first().map(|r| r.results::<UploadRow>()).transpose().map_err(fail)?.and_then(|mut v| v.pop())
        else {
            return Ok(None);
        };
        let chunks: Vec<ChunkRow> = results.get(1).map(|r| r.results()).transpose().map_err(fail)?.unwrap_or_default();
        let parts: Vec<PartRow> = results.get(2).map(|r| r.results()).transpose().map_err(fail)?.unwrap_or_default();
        Ok(Some(TusState {
            upload: upload.into(),
            staged: chunks
                .into_iter()
                .map(|c| Chunk { start: c.start as u64, length: c.length as u64, name: c.name })
                .collect(),
            parts: parts
                .into_iter()
                .map(|p| Part { number: p.part_number as u16, size: p.size as u64, etag: p.etag })
                .collect(),
        }))
    }

    async fn lease_tus(&self, id: &str, offset: u64, lease: &str, until_ms: i64, now_ms: i64) -> Result<bool> {
        let result = self
            .run(
                "tus lease",
                self.statement(
                    "UPDATE tus_uploads SET lease = ?2, lease_until = ?3 WHERE id = ?1 AND upload_offset = ?4 \
                 AND (lease IS NULL OR lease_until < ?5)",
                    &[
                        JsValue::from_str(id),
                        JsValue::from_str(lease),
                        JsValue::from_f64(until_ms as f64),
                        num(offset),
                        JsValue::from_f64(now_ms as f64),
                    ],
                )?,
            )
            .await?;
        Ok(changed(&result))
    }

    async fn release_tus(&self, id: &str, lease: &str) -> Result<()> {
        self.run(
            "tus release",
            self.statement(
                "UPDATE tus_uploads SET lease = NULL, lease_until = NULL WHERE id = ?1 AND lease = ?2",
                &[JsValue::from_str(id), JsValue::from_str(lease)],
            )?,
        )
        .await?;
        Ok(())
    }

    async fn advance_tus(&self, id: &str, lease: &str, a: &TusAdvance) -> Result<bool> {
        let held = [JsValue::from_str(id), JsValue::from_str(lease), num(a.from)];
        let with = |extra: &[JsValue]| [&held[..], extra].concat();
        let mut statements = Vec::new();
        // The consumed chunks go first: a merged chunk takes the start of the first of them.
        for name in &a.consumed {
            statements.push(self.statement(
                &format!("DELETE FROM tus_chunks WHERE upload_id = ?1 AND name = ?4 AND {HELD}"),
                &with(&[JsValue::from_str(name)]),
            )?);
        }
        if let Some(c) = &a.chunk {
            statements.push(self.statement(
                &format!("INSERT INTO tus_chunks (upload_id, start, length, name) SELECT ?1, ?4, ?5, ?6 WHERE {HELD}"),
                &with(&[num(c.start), num(c.length), JsValue::from_str(&c.name)]),
            )?);
        }
        for p in &a.parts {
            statements.push(self.statement(
                &format!(
                    "INSERT OR REPLACE INTO tus_parts (upload_id, part_number, size, etag) SELECT ?1, ?4, ?5, ?6 WHERE {HELD}"
                ),
                &with(&[JsValue::from_f64(f64::from(p.number)), num(p.size), JsValue::from_str(&p.etag)]),
            )?);
        }
        statements.push(self.statement(
            "UPDATE tus_uploads SET upload_offset = ?4, length = COALESCE(length, ?5), \
             part_size = COALESCE(part_size, ?6), store_upload_id = COALESCE(store_upload_id, ?7), \
             parts = (SELECT count(*) FROM tus_parts WHERE upload_id = ?1), lease = NULL, lease_until = NULL \
             WHERE id = ?1 AND lease = ?2 AND upload_offset = ?3",
            &with(&[num(a.to), opt_num(a.length), opt_num(a.part_size), opt_str(&a.store_upload_id)]),
        )?);
        let results = self.batch("tus advance", statements).await?;
        Ok(results.last().is_some_and(changed))
    }

    async fn remove_tus(&self, id: &str) -> Result<()> {
        let arg = [JsValue::from_str(id)];
        let statements = vec![
            self.statement("DELETE FROM tus_chunks WHERE upload_id = ?1", &arg)?,
            self.statement("DELETE FROM tus_parts WHERE upload_id = ?1", &arg)?,
            self.statement("DELETE FROM tus_uploads WHERE id = ?1", &arg)?,
        ];
        self.transaction("tus delete", statements).await
    }

    async fn expired_tus(&self, now_ms: i64, limit: u32) -> Result<Vec<TusUpload>> {
        let sql = format!("SELECT {COLUMNS} FROM tus_uploads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2");
        let rows: Vec<UploadRow> = self
            .all(
                "tus expired",
                self.statement(&sql, &[JsValue::from_f64(now_ms as f64), JsValue::from_f64(f64::from(limit))])?,
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
