//! [`EventOutbox`] on table `event_outbox`, and the statement a commit or a delete adds to its
//! transaction to record its event.

use serde::Deserialize;

use super::{args, stmt, Route, SqlDatabase, SqlMetadata, Statement, Value};
use crate::error::Result;
use crate::events::{Event, EventOutbox};

impl<D: SqlDatabase> SqlMetadata<D> {
    /// Records `event` at `at_ms` if `condition` (SQL over ?4…, bound to `condition_args`)
    /// holds when the statement runs.
    pub(super) fn record_event(
        &self,
        event: &Event,
        at_ms: i64,
        condition: &str,
        condition_args: Vec<Value>,
    ) -> Statement {
        let mut values = args![&event.id, event.to_json(), at_ms];
        values.extend(condition_args);
        stmt(
            format!("INSERT OR IGNORE INTO event_outbox (id, body, created_at) SELECT ?1, ?2, ?3 WHERE {condition}"),
            values,
        )
    }
}

impl<D: SqlDatabase> EventOutbox for SqlMetadata<D> {
    async fn unsent_events(&self, before_ms: i64, limit: u32) -> Result<Vec<Event>> {
        #[derive(Deserialize)]
        struct Row {
            body: String,
            created_at: f64,
        }
        let mut rows: Vec<Row> = self
            .all(
                Route::Prefix(""),
                "outbox list",
                stmt(
                    "SELECT body, created_at FROM event_outbox WHERE created_at < ?1 ORDER BY created_at, id LIMIT ?2",
                    args![before_ms, limit],
                ),
            )
            .await?;
        // Oldest first across every database the read ran in.
        rows.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        rows.truncate(limit as usize);
        Ok(rows.iter().filter_map(|r| Event::from_json(&r.body)).collect())
    }

    async fn clear_events(&self, sent: &[Event]) -> Result<()> {
        if sent.is_empty() {
            return Ok(());
        }
        // One statement for a whole batch: the ids as a JSON array.
        let ids: Vec<&str> = sent.iter().map(|e| e.id.as_str()).collect();
        let list = serde_json::to_string(&ids).unwrap_or_default();
        let keys = sent.iter().map(|e| e.key.as_str()).collect();
        self.run(
            Route::Keys(keys),
            "outbox clear",
            stmt("DELETE FROM event_outbox WHERE id IN (SELECT value FROM json_each(?1))", args![list]),
        )
        .await?;
        Ok(())
    }
}
