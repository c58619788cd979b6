//! The `EVENTS` queue's consumer: each message is one event and one delivery attempt
//! ([`followup::deliver`]), or an announced upload's pending-commit message, which is settled
//! first ([`announce::resolve_all`], one D1 read for the batch's messages: delivered like an
//! event once committed, looked at again later while it may still commit, its object deleted
//! once it never will). A batch first clears its events' outbox rows. Delivered or refused
//! events are acknowledged; anything worth another attempt is retried with a growing delay,
//! and once the consumer's `max_retries` is spent the queue moves it to the dead-letter queue.
//! Every attempt is counted (a metrics data point) and logged, except a delivery to no webhook
//! that did no work of its own; the batch's line, written last, lists every message's event.

use gateway_core::announce::{self, Resolution};
use gateway_core::config::{Config, DEFAULT_EVENT_RETRY_DELAY_SECONDS};
use gateway_core::events::{retry_delay_s, Delivery, Event, EventOutbox, PendingCommit, QueueMessage};
use gateway_core::followup::{self, Report};
use gateway_core::log::{self, Line};
use gateway_core::metadata::UploadJournal;
use gateway_core::metrics::event_point;
use gateway_core::webhook::Detection;
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use crate::backend::Backend;
use crate::env::config;
use crate::metadata::Metadata;
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
    let setup =
        config(&env).and_then(|cfg| Ok((Backend::from_env(&env, &cfg)?, crate::metadata::open(&env, &cfg)?, cfg)));
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
    let parsed: Vec<Option<QueueMessage>> = messages.iter().map(|m| QueueMessage::from_json(&body_text(m))).collect();
    let sent: Vec<Event> = parsed
        .iter()
        .filter_map(|m| match m {
            Some(QueueMessage::Event(e)) => Some(e.clone()),
            _ => None,
        })
        .collect();
    if let Err(e) = meta.clear_events(&sent).await {
        emit(&Line::new("error", "event_problem").detail(format!("clearing the outbox: {}", e.log_line())));
    }
    // The batch's pending-commit messages are settled with one D1 read for all of them.
    let pending: Vec<(&PendingCommit, u32)> = messages
        .iter()
        .zip(&parsed)
        .filter_map(|(m, p)| match p {
            Some(QueueMessage::Pending(pending)) => Some((pending, attempts(m))),
            _ => None,
        })
        .collect();
    let mut settled = announce::resolve_all(&store, &meta, &pending).await.into_iter();
    // Logged once the batch is done: by then every message's own line, if it has one, is out.
    let mut batch = Line::new("info", "event_batch");
    batch.count = Some(messages.len() as u64);
    batch.event_ids = Some(
        parsed
            .iter()
            .flatten()
            .map(|m| match m {
                QueueMessage::Event(e) => e.id.clone(),
                QueueMessage::Pending(p) => p.id.clone(),
            })
            .collect(),
    );
    meta.db().usage().log(&mut batch);
    for (message, parsed) in messages.iter().zip(parsed) {
        let (started, before) = (now_ms(), meta.db().usage());
        let attempt = attempts(message);
        let retry_after = retry_delay_s(cfg.event_retry.delay_s, attempt);
        let (event, report) = match parsed {
            Some(QueueMessage::Event(event)) => {
                let report =
                    followup::deliver(&store, &meta, &FetchSender, cfg.webhook.as_ref(), &event, attempt, now_ms())
                        .await;
                (event, report)
            }
            Some(QueueMessage::Pending(pending)) => {
                let resolution = settled.next().unwrap_or_else(|| Err("not settled".to_owned()));
                match committed_event(&cfg, &meta, message, &pending, resolution, attempt, retry_after).await {
                    Some(delivered) => delivered,
                    None => continue,
                }
            }
            None => {
                // Not a message this version can read: kept (in the end, in the dead-letter
                // queue). Only its start is logged: a message nobody vetted may hold anything.
                let text: String = body_text(message).chars().take(120).collect();
                let mut line = Line::new("error", "event_unreadable").detail(text);
                line.attempt = Some(attempt);
                emit(&line);
                settle(message, Some(retry_after));
                continue;
            }
        };
        let (delivery, status) = report.delivery(attempt, cfg.event_retry.max_retries);
        settle(message, matches!(delivery, Delivery::Retried | Delivery::DeadLettered).then_some(retry_after));
        let used = meta.db().usage().since(before);
        // An event delivered to no webhook by a message that did no work of its own (an
        // announced upload's, whose type was sniffed before its commit) has nothing to tell
        // beyond the batch's line, which lists it.
        let quiet = cfg.webhook.is_none() && matches!(delivery, Delivery::Delivered) && used.calls == 0;
        if !quiet {
            let mut line = log::event_line(delivery, &event, attempt, status, report.detail(), now_ms() - started);
            used.log(&mut line);
            emit(&line);
        }
        record(
            &env,
            &event_point(delivery, event.type_name(), cfg.storage.name(), status, attempt, now_ms() - started),
        );
    }
    emit(&batch);
}

/// What became of a pending-commit message ([`announce::resolve_all`]). Committed: the
/// version's event and the attempt at posting it, for the caller to settle and log like any
/// event's. Otherwise the message is settled and logged here: looked at again later,
/// acknowledged once its object is deleted, or retried after a failure.
async fn committed_event(
    cfg: &Config,
    meta: &Metadata,
    message: &JsValue,
    pending: &PendingCommit,
    resolution: Result<Resolution, String>,
    attempt: u32,
    retry_after: u32,
) -> Option<(Event, Report)> {
    let (line, retry) = match resolution {
        Ok(Resolution::Committed(version)) => {
            let event = Event::uploaded(&version);
            let found = Detection { detected_type: version.detected_type, type_matches: version.type_matches };
            let report =
                followup::post(&FetchSender, cfg.webhook.as_ref(), &event, Some(found), Vec::new(), attempt, now_ms())
                    .await;
            return Some((event, report));
        }
        Ok(Resolution::Wait(delay_s)) => (
            pending_line("info", "upload_pending", pending, attempt)
                .detail(format!("not committed yet; looking again in {delay_s} s")),
            Some(delay_s),
        ),
        Ok(Resolution::Abandoned) => (
            pending_line("warn", "upload_abandoned", pending, attempt)
                .detail("never committed: its stored object was deleted"),
            None,
        ),
        Err(why) if attempt > cfg.event_retry.max_retries => {
            // Dead-lettered next: the journal takes the stored name over, so the sweep
            // removes the object if it was never committed even if nobody replays the message.
            let handed = match meta.begin_upload(&announce::hand_off(pending, now_ms())).await {
                Ok(()) => "handed to the sweep".to_owned(),
                Err(e) => format!("handing it to the sweep failed too: {}", e.log_line()),
            };
            (
                pending_line("error", "upload_pending_problem", pending, attempt).detail(format!("{why}; {handed}")),
                Some(retry_after),
            )
        }
        Err(why) => (pending_line("error", "upload_pending_problem", pending, attempt).detail(why), Some(retry_after)),
    };
    settle(message, retry);
    emit(&line);
    None
}

/// The message's delivery attempt, from 1.
fn attempts(message: &JsValue) -> u32 {
    crate::js::get(message, "attempts").as_f64().map_or(1, |n| n.max(1.0) as u32)
}

/// A log line about a pending-commit message.
fn pending_line(level: &'static str, msg: &'static str, pending: &PendingCommit, attempt: u32) -> Line {
    let mut line = Line::new(level, msg);
    line.key = Some(pending.key.clone());
    line.event_id = Some(pending.id.clone());
    line.attempt = Some(attempt);
    line
}
