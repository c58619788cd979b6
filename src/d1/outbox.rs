//! [`EventOutbox`] on table `event_outbox`, and the statements a commit or a delete adds to
//! its transaction to record its event.

use gateway_core::error::Result;
use gateway_core::events::{Event, EventOutbox};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::D1Metadata;

impl D1Metadata {
    /// Records `event` at `at_ms` if `condition` (SQL over ?4…) holds when the statement runs.
    pub(crate) fn record_event(
        &self,
        event: &Event,
        at_ms: i64,
        condition: &str,
        condition_args: &[JsValue],
    ) -> Result<D1PreparedStatement> {
        let mut args =
            vec![JsValue::from_str(&event.id), JsValue::from_str(&event.to_json()), JsValue::from_f64(at_ms as f64)];
        args.extend_from_slice(condition_args);
        self.statement(
            &format!("INSERT OR IGNORE INTO event_outbox (id, body, created_at) SELECT ?1, ?2, ?3 WHERE {condition}"),
            &args,
        )
    }
}

impl EventOutbox for D1Metadata {
    async fn unsent_events(&self, before_ms: i64, limit: u32) -> Result<Vec<Event>> {
        #[derive(Deserialize)]
        struct Row {
            body: String,
        }
        let rows: Vec<Row> = self
            .all(
                "outbox list",
                self.statement(
                    "SELECT body FROM event_outbox WHERE created_at < ?1 ORDER BY created_at, id LIMIT ?2",
                    &[JsValue::from_f64(before_ms as f64), JsValue::from_f64(f64::from(limit))],
                )?,
            )
            .await?;
        Ok(rows.iter().filter_map(|r| Event::from_json(&r.body)).collect())
    }

    async fn clear_events(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for a whole batch: the ids as a JSON array.
        let list = serde_json::to_string(ids).unwrap_or_default();
        self.run(
            "outbox clear",
            self.statement(
                "DELETE FROM event_outbox WHERE id IN (SELECT value FROM json_each(?1))",
                &[JsValue::from_str(&list)],
            )?,
        )
        .await?;
        Ok(())
    }
}
