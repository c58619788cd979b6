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
    /// What the statements run through this handle cost so far.
    usage: std::cell::Cell<D1Usage>,
}

/// D1 work, as a log line reports it: calls (round trips: one per statement run alone, one per
/// batch), statements, and the rows they wrote as D1 reports them (`rows_written`, which counts
/// index entries too: the unit D1 bills and its primary's write load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct D1Usage {
    pub calls: u64,
    pub statements: u64,
    pub rows_written: u64,
}

impl D1Usage {
    /// The work done since `before`.
    pub fn since(self, before: D1Usage) -> D1Usage {
        D1Usage {
            calls: self.calls - before.calls,
            statements: self.statements - before.statements,
            rows_written: self.rows_written - before.rows_written,
        }
    }

    /// Puts the figures on `line`.
    pub fn log(self, line: &mut gateway_core::log::Line) {
        line.d1_calls = Some(self.calls);
        line.d1_statements = Some(self.statements);
        line.rows_written = Some(self.rows_written);
    }
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
        Ok(D1Metadata { db, events, usage: std::cell::Cell::new(D1Usage::default()) })
    }

    /// The work done so far through this handle.
    pub fn usage(&self) -> D1Usage {
        self.usage.get()
    }

    /// Counts one call of `statements` statements that wrote `rows`.
    fn count(&self, statements: usize, rows: u64) {
        let u = self.usage.get();
        self.usage.set(D1Usage {
            calls: u.calls + 1,
            statements: u.statements + statements as u64,
            rows_written: u.rows_written + rows,
        });
    }

    fn rows_of(result: &D1Result) -> u64 {
        result.meta().ok().flatten().and_then(|m| m.rows_written).unwrap_or(0) as u64
    }

    /// Runs one statement that writes, counting it.
    pub(crate) async fn run(&self, op: &str, statement: D1PreparedStatement) -> Result<D1Result> {
        let result = statement.run().await.map_err(|e| db_error(op, e))?;
        self.count(1, Self::rows_of(&result));
        Ok(result)
    }

    /// Runs statements as one batch (a transaction), counting them.
    pub(crate) async fn batch(&self, op: &str, statements: Vec<D1PreparedStatement>) -> Result<Vec<D1Result>> {
        let n = statements.len();
        let results = self.db.batch(statements).await.map_err(|e| db_error(op, e))?;
        self.count(n, results.iter().map(Self::rows_of).sum());
        Ok(results)
    }

    /// Runs one read, counting it: its first row, if any.
    pub(crate) async fn first<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        statement: D1PreparedStatement,
    ) -> Result<Option<T>> {
        let row = statement.first(None).await.map_err(|e| db_error(op, e))?;
        self.count(1, 0);
        Ok(row)
    }

    /// Runs one read, counting it: all its rows.
    pub(crate) async fn all<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        statement: D1PreparedStatement,
    ) -> Result<Vec<T>> {
        let result = statement.all().await.map_err(|e| db_error(op, e))?;
        self.count(1, 0);
        result.results().map_err(|e| db_error(op, e))
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
