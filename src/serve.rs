//! One request through the gateway: build the core's view of it, let the core decide, send
//! the reply, and schedule the follow-up with `waitUntil`.

use std::rc::Rc;

use gateway_core::config::Config;
use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::followup::{self, FollowUp};
use gateway_core::gateway::Gateway;
use gateway_core::http::{reads_whole_body, Input, Reply, RequestHead, SMALL_BODY_LIMIT};
use gateway_core::sweep;
use gateway_core::upload::parse_length;
use wasm_bindgen::JsCast;
use web_sys::ReadableStream;
use worker::{console_error, console_log, Context, Env};

use crate::backend::Backend;
use crate::convert::{request_head, response};
use crate::d1::D1Metadata;
use crate::env::config;
use crate::webhook::FetchSender;

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// `crypto.randomUUID()`, falling back to time and `Math.random` where it is missing.
fn request_id() -> String {
    let crypto = crate::js::get(&js_sys::global(), "crypto");
    crate::js::get(&crypto, "randomUUID")
        .dyn_into::<js_sys::Function>()
        .ok()
        .and_then(|f| f.call0(&crypto).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| format!("{}-{}", now_ms(), (js_sys::Math::random() * 1e16) as u64))
}

fn fail(err: GatewayError) -> worker::Result<web_sys::Response> {
    console_error!("{}", err.log_line());
    response(Reply::<ReadableStream>::problem(&err)).map_err(|e| worker::Error::JsError(format!("{e:?}")))
}

pub async fn serve(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let head = match request_head(&req) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let cfg = match config(&env) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let (store, meta) = match (Backend::from_env(&env, &cfg), D1Metadata::from_env(&env)) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let id = request_id();
    let gateway = Gateway { config: &cfg, store: &store, meta: &meta, now_ms: now_ms(), request_id: &id };
    let input = if reads_whole_body(&head) {
        read_small_body(&req, &head).await.map_or_else(Input::Refused, Input::Bytes)
    } else {
        Input::Stream(req.body())
    };
    let handled = gateway.handle(&head, input).await;
    if let Some(err) = &handled.error {
        if err.status() >= 500 {
            console_error!("{} {} -> {}", head.method, head.path, err.log_line());
        } else {
            console_log!("{} {} -> {}", head.method, head.path, err.log_line());
        }
    }
    for problem in &handled.problems {
        console_error!("{} {}: {problem}", head.method, head.path);
    }
    if let Some(job) = handled.followup {
        ctx.wait_until(run_followup(cfg.clone(), store, meta, job));
    }
    response(handled.reply).map_err(|e| worker::Error::JsError(format!("{e:?}")))
}

/// A small JSON body, read whole; refused before reading when it declares too many bytes.
async fn read_small_body(req: &web_sys::Request, head: &RequestHead) -> Result<Vec<u8>, GatewayError> {
    let too_large = || {
        GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("this request's body may be at most {SMALL_BODY_LIMIT} bytes"),
        )
    };
    if head.header("content-length").and_then(parse_length).is_some_and(|n| n > SMALL_BODY_LIMIT) {
        return Err(too_large());
    }
    let Some(body) = req.body() else { return Ok(Vec::new()) };
    if head.header("content-length").is_none() {
        // Without a declared length the cap could only be checked after buffering.
        return Err(GatewayError::new(ErrorKind::LengthRequired, "request bodies need a Content-Length header"));
    }
    let read_failed = |e: wasm_bindgen::JsValue| {
        GatewayError::hidden(ErrorKind::IncompleteBody, "the body could not be read", crate::js::error_message(&e))
    };
    // Counted while reading: a body never costs more than the cap, whatever it declared.
    let (bytes, more) = crate::js::read_at_most(&body, SMALL_BODY_LIMIT as usize).await.map_err(read_failed)?;
    if more {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Background work: never fails the request; logs what went wrong.
async fn run_followup(cfg: Rc<Config>, store: Backend, meta: D1Metadata, job: FollowUp) {
    let report = followup::run(&store, &meta, &FetchSender, cfg.webhook.as_ref(), &job, now_ms()).await;
    for problem in &report.problems {
        console_error!("follow-up for {}: {problem}", job.key);
    }
}

/// The scheduled cleanup: reconciles stale upload journal entries with the store.
pub async fn sweep(env: Env) {
    let setup = config(&env).and_then(|cfg| Ok((Backend::from_env(&env, &cfg)?, D1Metadata::from_env(&env)?)));
    let (store, meta) = match setup {
        Ok(parts) => parts,
        Err(e) => {
            console_error!("sweep: {}", e.log_line());
            return;
        }
    };
    let report = sweep::run(&store, &meta, now_ms(), sweep::DEFAULT_PENDING_GRACE_MS).await;
    console_log!(
        "sweep: {} journal entries settled, {} unrecorded objects removed; {} expired multipart uploads aborted",
        report.examined,
        report.orphans_removed,
        report.multiparts_aborted
    );
    for problem in &report.problems {
        console_error!("sweep: {problem}");
    }
}
