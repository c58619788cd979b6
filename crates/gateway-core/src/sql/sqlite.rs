//! [`SqlDatabase`] on a native SQLite (rusqlite), for tests and benchmarks: the same SQL the
//! Worker runs on D1 and in Durable Objects, run here by `cargo test`.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{error, Outcome, Route, SqlDatabase, Statement, Value};
use crate::error::Result;

/// A native SQLite database, with foreign keys enforced as D1 enforces them.
pub struct NativeSqlite {
    conn: Connection,
}

impl NativeSqlite {
    /// A fresh database in memory.
    pub fn in_memory() -> Result<NativeSqlite> {
        let conn = Connection::open_in_memory().map_err(|e| error("open", &e.to_string()))?;
        conn.execute_batch("PRAGMA foreign_keys = ON").map_err(|e| error("open", &e.to_string()))?;
        Ok(NativeSqlite { conn })
    }

    fn run(&self, s: &Statement) -> rusqlite::Result<Outcome> {
        let mut prepared = self.conn.prepare(&s.sql)?;
        let names: Vec<String> = prepared.column_names().iter().map(|n| (*n).to_owned()).collect();
        let readonly = prepared.readonly();
        for (i, v) in s.args.iter().enumerate() {
            match v {
                Value::Null => prepared.raw_bind_parameter(i + 1, rusqlite::types::Null)?,
                Value::Int(n) => prepared.raw_bind_parameter(i + 1, n)?,
                Value::Text(t) => prepared.raw_bind_parameter(i + 1, t)?,
            }
        }
        let mut rows = Vec::new();
        let mut cursor = prepared.raw_query();
        while let Some(row) = cursor.next()? {
            let mut object = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i)? {
                    ValueRef::Null | ValueRef::Blob(_) => serde_json::Value::Null,
                    ValueRef::Integer(n) => n.into(),
                    ValueRef::Real(f) => f.into(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                };
                object.insert(name.clone(), value);
            }
            rows.push(serde_json::Value::Object(object));
        }
        let changes = if readonly { 0 } else { self.conn.changes() };
        Ok(Outcome { rows, changes, rows_written: changes })
    }
}

impl SqlDatabase for NativeSqlite {
    async fn batch(&self, _route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let fail = |e: rusqlite::Error| error(op, &e.to_string());
        let tx = self.conn.unchecked_transaction().map_err(fail)?;
        let outcomes = statements.iter().map(|s| self.run(s)).collect::<rusqlite::Result<Vec<_>>>().map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(outcomes)
    }
}
