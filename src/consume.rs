//! The `EVENTS` queue's consumer: each message is one event and one delivery attempt
//! ([`followup::deliver`]). A batch first clears its events' outbox rows. Delivered or refused events are acknowledged; anything worth
//! another attempt is retried with a growing delay, and once the consumer's `max_retries` is
//! spent the queue moves it to the dead-letter queue. Every attempt is logged and counted.

use gateway_core::config::DEFAULT_EVENT_RETRY_DELAY_SECONDS;
use gateway_core::events::{retry_delay_s, Delivery, Event, EventOutbox};
use gateway_core::followup;
use gateway_core::log::{self, Line};
use gateway_core::metrics::event_point;
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use crate::backend::Backend;
use crate::d1::D1Metadata;
use crate::env::config;
use crate::serve::{emit, now_ms, record};
use crate::webhook::FetchSender;

/// Calls `message.retry({ delaySeconds })` or `message.ack()`.
fn settle(message: &JsValue, retry_after_s: Option<u32>) {
    let (method, args) = match retry_after_s {
        Some(delay) => {
            let options = js_sys::Object::new();
            crate::js::set(&options, "delaySeconds", delay);
            ("retry", js_sys::Array::of1(&options))
        }
        None => ("ack", js_sys::Array::new()),
    };
    let called = crate::js::get(message, method).dyn_into::<js_sys::Function>().and_then(|f| f.apply(message, &args));
    if let Err(e) = called {
        emit(&Line::new("error", "event_problem").detail(format!("{method} failed: {}", crate::js::error_message(&e))));
    }
}

/// A message body as text: JSON messages arrive parsed, text ones as strings.
fn body_text(message: &JsValue) -> String {
    let body = crate::js::get(message, "body");
    body.as_string().or_else(|| js_sys::JSON::stringify(&body).ok().and_then(|s| s.as_string())).unwrap_or_default()
}

pub async fn consume(batch: JsValue, env: Env) {
    let messages: Vec<JsValue> =
        crate::js::get(&batch, "messages").dyn_into::<js_sys::Array>().map(|a| a.iter().collect()).unwrap_or_default();
    let setup = config(&env).and_then(|cfg| Ok((Backend::from_env(&env, &cfg)?, D1Metadata::from_env(&env)?, cfg)));
    let (store, meta, cfg) = match setup {
        Ok(parts) => parts,
        Err(e) => {
            emit(&Line::new("error", "event_problem").detail(e.log_line()));
            for message in &messages {
                settle(message, Some(DEFAULT_EVENT_RETRY_DELAY_SECONDS as u32));
            }
            return;
        }
    };
    // These events are on the queue now: their outbox rows go, in one statement for the batch
    // (a failure leaves them for the sweep, which sends another copy under the same id).
    let events: Vec<Option<Event>> = messages.iter().map(|m| Event::from_json(&body_text(m))).collect();
    let ids: Vec<String> = events.iter().flatten().map(|e| e.id.clone()).collect();
    if let Err(e) = meta.clear_events(&ids).await {
        emit(&Line::new("error", "event_problem").detail(format!("clearing the outbox: {}", e.log_line())));
    }
    let mut batch = Line::new("info", "event_batch");
    batch.count = Some(messages.len() as u64);
    batch.rows_written = Some(meta.rows_written());
    emit(&batch);
    for (message, event) in messages.iter().zip(events) {
        let (started, rows_before) = (now_ms(), meta.rows_written());
        let attempt = crate::js::get(message, "attempts").as_f64().map_or(1, |n| n.max(1.0) as u32);
        let retry_after = retry_delay_s(cfg.event_retry.delay_s, attempt);
        let Some(event) = event else {
            // Not an event this version can read: kept (in the end, in the dead-letter queue).
            // Only its start is logged: a message nobody vetted may hold anything.
            let text: String = body_text(message).chars().take(120).collect();
            let mut line = Line::new("error", "event_unreadable").detail(text);
            line.attempt = Some(attempt);
            emit(&line);
            settle(message, Some(retry_after));
            continue;
        };
        let report =
            followup::deliver(&store, &meta, &FetchSender, cfg.webhook.as_ref(), &event, attempt, now_ms()).await;
        let (delivery, status) = report.delivery(attempt, cfg.event_retry.max_retries);
        settle(message, matches!(delivery, Delivery::Retried | Delivery::DeadLettered).then_some(retry_after));
        let mut line = log::event_line(delivery, &event, attempt, status, report.detail(), now_ms() - started);
        line.rows_written = Some(meta.rows_written() - rows_before);
        emit(&line);
        record(
            &env,
            &event_point(delivery, event.type_name(), cfg.storage.name(), status, attempt, now_ms() - started),
        );
    }
}
