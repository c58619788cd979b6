//! The metadata interfaces on the D1 binding `DB` (schema in `migrations/`), one file per
//! table group, each implementing its core trait under the trait's own names: `objects`
//! ([`gateway_core::metadata::ObjectIndex`]), `journal` (`UploadJournal`), `multipart`
//! (`MultipartIndex`), `presign` (`PresignLedger`), `tus` (`TusIndex`), `outbox`
//! (`EventOutbox`), `announced` (`AnnouncedCommits`); `commit` builds the one transaction
//! every commit is.

use gateway_core::error::{ErrorKind, GatewayError, Result};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

mod announced;
mod commit;
mod journal;
mod multipart;
mod objects;
mod outbox;
mod presign;
mod tus;

pub struct D1Metadata {
    db: D1Database,
    /// Whether commits and deletes record their events in the outbox (an `EVENTS` queue is
    /// bound to send them).
    events: bool,
    /// Rows the statements run through this handle wrote, as D1 reports them (`rows_written`,
    /// which counts index entries too): the unit D1 bills and its primary's write load.
    written: std::cell::Cell<u64>,
}

impl D1Metadata {
    pub fn from_env(env: &Env) -> Result<D1Metadata> {
        let events = crate::events::QueueBinding::from_env(env).is_some();
        let db = env.d1("DB").map_err(|e| {
            GatewayError::hidden(
                ErrorKind::ConfigError,
                "the gateway is misconfigured: the D1 binding DB is missing",
                e.to_string(),
            )
        })?;
        Ok(D1Metadata { db, events, written: std::cell::Cell::new(0) })
    }

    /// Rows written so far through this handle.
    pub fn rows_written(&self) -> u64 {
        self.written.get()
    }

    /// Adds a statement's written rows to the count.
    fn counted(&self, result: D1Result) -> D1Result {
        let rows = result.meta().ok().flatten().and_then(|m| m.rows_written).unwrap_or(0);
        self.written.set(self.written.get() + rows as u64);
        result
    }

    /// Runs one statement that writes, counting its rows.
    pub(crate) async fn run(&self, op: &str, statement: D1PreparedStatement) -> Result<D1Result> {
        statement.run().await.map(|r| self.counted(r)).map_err(|e| db_error(op, e))
    }

    /// Runs statements as one batch (a transaction), counting their rows.
    pub(crate) async fn batch(&self, op: &str, statements: Vec<D1PreparedStatement>) -> Result<Vec<D1Result>> {
        let results = self.db.batch(statements).await.map_err(|e| db_error(op, e))?;
        Ok(results.into_iter().map(|r| self.counted(r)).collect())
    }

    pub(crate) fn statement(&self, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement> {
        self.db.prepare(sql).bind(args).map_err(|e| db_error("bind", e))
    }

    /// Runs statements as one transaction (a D1 batch).
    pub(crate) async fn transaction(&self, op: &str, statements: Vec<D1PreparedStatement>) -> Result<()> {
        self.batch(op, statements).await?;
        Ok(())
    }
}

pub(crate) fn db_error(op: &str, err: worker::Error) -> GatewayError {
    GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", format!("D1 {op}: {err}"))
}

pub(crate) fn opt_str(v: &Option<String>) -> JsValue {
    v.as_deref().map_or(JsValue::NULL, JsValue::from_str)
}

pub(crate) fn opt_bool(v: Option<bool>) -> JsValue {
    v.map_or(JsValue::NULL, |b| JsValue::from_f64(if b { 1.0 } else { 0.0 }))
}
