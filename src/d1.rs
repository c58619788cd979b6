//! The metadata database on the D1 binding `DB` (`METADATA=d1`, the default): the core's SQL
//! ([`gateway_core::sql`], schema in `migrations/`) run through D1, one batch per call,
//! counting what each call cost for the log lines.

use std::cell::Cell;

use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::sql::{error, Outcome, Route, SqlDatabase, Statement, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1Result, Env};

pub struct D1Sql {
    db: D1Database,
    /// What the statements run through this handle cost so far.
    usage: Cell<D1Usage>,
}

/// D1 work, as a log line reports it: calls (round trips: one per batch), statements, and the
/// rows they wrote as D1 reports them (`rows_written`, which counts index entries too: the unit
/// D1 bills and its primary's write load).
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

    /// With one more call, of `statements` statements that had `outcomes`.
    pub fn plus_call(self, statements: usize, outcomes: &[Outcome]) -> D1Usage {
        D1Usage {
            calls: self.calls + 1,
            statements: self.statements + statements as u64,
            rows_written: self.rows_written + outcomes.iter().map(|o| o.rows_written).sum::<u64>(),
        }
    }

    /// Puts the figures on `line`.
    pub fn log(self, line: &mut gateway_core::log::Line) {
        line.d1_calls = Some(self.calls);
        line.d1_statements = Some(self.statements);
        line.rows_written = Some(self.rows_written);
    }
}

/// The D1 binding `DB`.
pub fn open(env: &Env) -> Result<D1Sql> {
    let db = env.d1("DB").map_err(|e| {
        GatewayError::hidden(
            ErrorKind::ConfigError,
            "the gateway is misconfigured: the D1 binding DB is missing",
            e.to_string(),
        )
    })?;
    Ok(D1Sql { db, usage: Cell::new(D1Usage::default()) })
}

impl D1Sql {
    /// The work done so far through this handle.
    pub fn usage(&self) -> D1Usage {
        self.usage.get()
    }
}

/// A bound value as a JS value: numbers as JS numbers (every value here is well within 2^53).
pub fn js_value(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Int(n) => JsValue::from_f64(*n as f64),
        Value::Text(t) => JsValue::from_str(t),
    }
}

fn outcome(op: &str, result: &D1Result) -> Result<Outcome> {
    let meta = result.meta().ok().flatten();
    Ok(Outcome {
        rows: result.results::<serde_json::Value>().map_err(|e| error(op, &format!("D1: {e}")))?,
        changes: meta.as_ref().and_then(|m| m.changes).unwrap_or(0) as u64,
        rows_written: meta.and_then(|m| m.rows_written).unwrap_or(0) as u64,
    })
}

impl SqlDatabase for D1Sql {
    /// One database: every route is this one.
    async fn batch(&self, _route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let fail = |e: worker::Error| error(op, &format!("D1: {e}"));
        let prepared = statements
            .iter()
            .map(|s| {
                let args: Vec<JsValue> = s.args.iter().map(js_value).collect();
                self.db.prepare(&s.sql).bind(&args)
            })
            .collect::<worker::Result<Vec<_>>>()
            .map_err(fail)?;
        let results = self.db.batch(prepared).await.map_err(fail)?;
        let outcomes = results.iter().map(|r| outcome(op, r)).collect::<Result<Vec<_>>>()?;
        self.usage.set(self.usage.get().plus_call(statements.len(), &outcomes));
        Ok(outcomes)
    }
}
