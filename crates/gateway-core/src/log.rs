//! The log: every line the Worker writes is one JSON object ([`Line`]), so Workers Logs and
//! Logpush can filter and aggregate by field. Lines carry the request's id (also its
//! `X-Request-Id` and its problem body's `request_id`), never a token, signature, secret or
//! query string: paths are logged without their query, and errors by their code, safe detail
//! and internal cause only.
//!
//! Problems a request met after its outcome was decided (a cleanup that failed, a row that
//! names a missing object) are collected while the request runs and handed to the edge with the
//! reply ([`crate::gateway::Handled::problems`]), which logs them. They never change the reply.
//! Requests interleave on one thread (an isolate serves many at once), so each request's work
//! runs inside [`scoped`], which gives it a buffer of its own while it is polled.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::error::GatewayError;
use crate::http::RequestHead;
use crate::router::{route, Route, TusOp};

/// One log line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Line {
    pub level: &'static str,
    /// What happened, a stable word: `request`, `problem`, `followup_problem`, `sweep`, ….
    pub msg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// The request body's declared length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Rows the line's work wrote to D1 (`rows_written`, index entries included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_written: Option<u64>,
    /// The D1 calls (round trips) the line's work made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d1_calls: Option<u64>,
    /// The D1 statements those calls ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d1_statements: Option<u64>,
    /// How many items a batch line covers (queue messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The event a consumer or dispatch line is about, or that a request recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The events of a batch line's queue messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_ids: Option<Vec<String>>,
    /// Which delivery attempt (from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// An error's safe detail and internal cause, or a problem's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Line {
    pub fn new(level: &'static str, msg: &'static str) -> Line {
        Line { level, msg, ..Line::default() }
    }

    pub fn request_id(mut self, id: &str) -> Line {
        self.request_id = Some(id.to_owned());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Line {
        self.detail = Some(detail.into());
        self
    }

    /// The line as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| format!("{{\"level\":\"{}\",\"msg\":\"{}\"}}", self.level, self.msg))
    }
}

/// A route's stable name for the log and metrics, with the object key where there is one.
pub fn route_name(head: &RequestHead) -> (Option<&'static str>, Option<String>) {
    let method = if head.path == "/tus" || head.path.starts_with("/tus/") {
        crate::tus::protocol::effective_method(head)
    } else {
        head.method.clone()
    };
    let Ok(r) = route(&method, &head.path) else { return (None, None) };
    let multipart = head.query_pairs().any(|(k, _)| k == "uploadId" || k == "uploads");
    let (name, key) = match r {
        Route::Health => ("health", None),
        Route::Preflight => ("preflight", None),
        Route::List => ("list", None),
        Route::Usage => ("usage", None),
        Route::Presign => ("presign", None),
        Route::Form => ("form", None),
        Route::CompanionParams => ("s3.params", None),
        Route::SignRequest => ("s3.sign", None),
        Route::Companion(_) => ("s3.multipart", None),
        Route::Upload(k) if multipart => ("multipart.part", Some(k)),
        Route::Upload(k) => ("upload", Some(k)),
        Route::Post(k) if multipart => ("multipart", Some(k)),
        Route::Post(k) => ("confirm", Some(k)),
        Route::Download(k) if multipart => ("multipart.list", Some(k)),
        Route::Download(k) => ("download", Some(k)),
        Route::Head(k) => ("head", Some(k)),
        Route::Delete(k) if multipart => ("multipart.abort", Some(k)),
        Route::Delete(k) => ("delete", Some(k)),
        Route::Tus(TusOp::Options) => ("tus.options", None),
        Route::Tus(TusOp::Create) => ("tus.create", None),
        Route::Tus(TusOp::Head(_)) => ("tus.head", None),
        Route::Tus(TusOp::Patch(_)) => ("tus.patch", None),
        Route::Tus(TusOp::Terminate(_)) => ("tus.terminate", None),
    };
    (Some(name), key.map(|k| k.to_string()))
}

/// The one line each request gets: what was asked, how it ended, how long it took.
pub fn request_line(
    head: &RequestHead,
    request_id: &str,
    status: u16,
    error: Option<&GatewayError>,
    duration_ms: i64,
) -> Line {
    let (route, key) = route_name(head);
    let level = match status {
        500.. => "error",
        400.. => "warn",
        _ => "info",
    };
    Line {
        level,
        msg: "request",
        request_id: Some(request_id.to_owned()),
        method: Some(head.method.to_string()),
        route,
        status: Some(status),
        code: error.map(GatewayError::code),
        key,
        duration_ms: Some(duration_ms),
        bytes: head.header("content-length").and_then(crate::http::parse_length),
        detail: error.map(GatewayError::log_line),
        ..Line::default()
    }
}

thread_local! {
    static PROBLEMS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records a problem for the log.
pub fn error(message: &str) {
    PROBLEMS.with(|p| p.borrow_mut().push(message.to_owned()));
}

/// Runs `work` with a problem buffer of its own: resolves to its output and the problems it
/// recorded, however other work on the thread interleaves with it.
pub fn scoped<F: Future>(work: F) -> Scoped<F> {
    Scoped { work: Box::pin(work), own: Vec::new() }
}

pub struct Scoped<F: Future> {
    work: Pin<Box<F>>,
    own: Vec<String>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = (F::Output, Vec<String>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let swap = |own: &mut Vec<String>| PROBLEMS.with(|p| std::mem::swap(&mut *p.borrow_mut(), own));
        swap(&mut this.own);
        let polled = this.work.as_mut().poll(cx);
        swap(&mut this.own);
        match polled {
            Poll::Ready(out) => Poll::Ready((out, std::mem::take(&mut this.own))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The line of one event delivery attempt.
pub fn event_line(
    delivery: crate::events::Delivery,
    event: &crate::events::Event,
    attempt: u32,
    status: Option<u16>,
    detail: Option<String>,
    duration_ms: i64,
) -> Line {
    use crate::events::Delivery;
    let (level, msg) = match delivery {
        Delivery::Delivered => ("info", "event_delivered"),
        Delivery::Retried => ("warn", "event_retried"),
        Delivery::DeadLettered => ("error", "event_dead_lettered"),
        Delivery::Rejected => ("error", "event_rejected"),
    };
    Line {
        level,
        msg,
        key: Some(event.key.clone()),
        status,
        duration_ms: Some(duration_ms),
        event_id: Some(event.id.clone()),
        attempt: Some(attempt),
        detail,
        ..Line::default()
    }
}
