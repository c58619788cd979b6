//! One request through the gateway: build the core's view of it, let the core decide, send
//! the reply, and schedule the follow-up with `waitUntil`: the event onto the `EVENTS` queue
//! (its consumer does the rest), or, without a queue, one best-effort delivery right there.

use std::rc::Rc;

use gateway_core::config::Config;
use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::events;
use gateway_core::followup::{self, FollowUp, Outcome};
use gateway_core::gateway::Gateway;
use gateway_core::http::{body_plan, whole_body, BodyPlan, Input, Reply, RequestHead};
use gateway_core::log::{self, Line};
use gateway_core::metrics::{self, DataPoint};
use gateway_core::sweep;
use gateway_core::upload;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::ReadableStream;
use worker::{console_error, console_log, console_warn, Context, Env};

use crate::backend::Backend;
use crate::convert::{request_head, response};
use crate::env::config;
use crate::events::QueueBinding;
use crate::metadata::Metadata;
use crate::webhook::FetchSender;

pub(crate) fn now_ms() -> i64 {
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

/// Writes one JSON log line at its level.
pub(crate) fn emit(line: &Line) {
    match line.level {
        "error" => console_error!("{}", line.json()),
        "warn" => console_warn!("{}", line.json()),
        _ => console_log!("{}", line.json()),
    }
}

/// Writes a data point to the `METRICS` Analytics Engine dataset, if one is bound. Metrics are
/// best-effort: a failed write is logged, never answered.
pub(crate) fn record(env: &Env, point: &DataPoint) {
    let Ok(dataset) = env.analytics_engine("METRICS") else { return };
    let strings = |v: &[String]| v.iter().map(|s| JsValue::from_str(s)).collect::<js_sys::Array>();
    let obj = js_sys::Object::new();
    crate::js::set(&obj, "indexes", strings(&point.indexes));
    crate::js::set(&obj, "blobs", strings(&point.blobs));
    crate::js::set(&obj, "doubles", point.doubles.iter().map(|d| JsValue::from_f64(*d)).collect::<js_sys::Array>());
    let target: &JsValue = dataset.as_ref();
    let written =
        crate::js::get(target, "writeDataPoint").dyn_into::<js_sys::Function>().and_then(|f| f.call1(target, &obj));
    if let Err(e) = written {
        emit(&Line::new("error", "metrics_problem").detail(crate::js::error_message(&e)));
    }
}

/// A request refused before the core saw it (an unreadable head, a broken configuration).
fn fail(id: &str, head: Option<&RequestHead>, started: i64, err: GatewayError) -> worker::Result<web_sys::Response> {
    let line = match head {
        Some(head) => log::request_line(head, id, err.status(), Some(&err), now_ms() - started),
        None => Line::new("error", "request").request_id(id).detail(err.log_line()),
    };
    emit(&line);
    response(Reply::<ReadableStream>::problem_for(&err, id)).map_err(|e| worker::Error::JsError(format!("{e:?}")))
}

pub async fn serve(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let started = now_ms();
    let id = request_id();
    let head = match request_head(&req) {
        Ok(h) => h,
        Err(e) => return fail(&id, None, started, e),
    };
    #[cfg(feature = "contract")]
    if let Some(answer) = crate::contract::serve(&head.path, &req, &env).await {
        return answer;
    }
    let cfg = match config(&env) {
        Ok(c) => c,
        Err(e) => return fail(&id, Some(&head), started, e),
    };
    let (store, meta) = match (Backend::from_env(&env, &cfg), crate::metadata::open(&env, &cfg)) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(e), _) | (_, Err(e)) => return fail(&id, Some(&head), started, e),
    };
    let queue = QueueBinding::from_env(&env);
    let callers = crate::ratelimit::Binding::from_env(&env, crate::ratelimit::CALLERS);
    let addresses = crate::ratelimit::Binding::from_env(&env, crate::ratelimit::ADDRESSES);
    let gateway = Gateway {
        config: &cfg,
        store: &store,
        presigner: store.presigner(),
        meta: &meta,
        queue: queue.as_ref(),
        now_ms: now_ms(),
        request_id: &id,
        idp: crate::idp::verifier(),
        limits: gateway_core::ratelimit::Limits {
            callers: callers.as_ref().map(|b| b as &dyn gateway_core::ratelimit::RateLimiter),
            addresses: addresses.as_ref().map(|b| b as &dyn gateway_core::ratelimit::RateLimiter),
            period_s: cfg.rate_limit_period_s,
        },
        hook: cfg.approval.as_ref().map(|_| &crate::approval::FetchHook as &dyn gateway_core::approval::ApprovalHook),
    };
    let body = req.body();
    let input = match body_plan(&head, body.is_some()) {
        BodyPlan::Stream => Input::Stream(body),
        BodyPlan::Refuse(err) => Input::Refused(err),
        BodyPlan::Read { cap } => read_whole(body, cap).await,
    };
    let handled = gateway.handle(&head, input).await;
    let mut line = log::request_line(&head, &id, handled.reply.status, handled.error.as_ref(), now_ms() - started);
    line.event_id = handled.followup.as_ref().map(|job| job.event.id.clone());
    meta.db().usage().log(&mut line);
    emit(&line);
    record(&env, &metrics::request_point(&line, cfg.storage.name()));
    for problem in &handled.problems {
        emit(&Line::new("error", "problem").request_id(&id).detail(problem.as_str()));
    }
    if let Some(job) = handled.followup.filter(FollowUp::has_work) {
        ctx.wait_until(run_followup(cfg.clone(), store, meta, queue, job, id));
    }
    response(handled.reply).map_err(|e| worker::Error::JsError(format!("{e:?}")))
}

/// A small body, read whole under the core's plan: counted while reading, so it never costs
/// more than `cap` bytes, whatever it declared.
async fn read_whole(body: Option<ReadableStream>, cap: usize) -> Input<ReadableStream> {
    let Some(body) = body else { return Input::Bytes(Vec::new()) };
    match crate::js::read_at_most(&body, cap).await {
        Ok((bytes, more)) => whole_body(bytes, more),
        Err(e) => Input::Refused(GatewayError::hidden(
            ErrorKind::IncompleteBody,
            "the body could not be read",
            crate::js::error_message(&e),
        )),
    }
}

thread_local! {
    static WARNED_BEST_EFFORT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Background work: never fails the request; logs what went wrong. The replaced version is
/// deleted (or left to the sweep), then the event goes onto the queue, whose consumer sniffs
/// and delivers it with retries; its outbox row stays for the sweep if the send fails. (An
/// announced upload sent its pending-commit message before it answered.)
async fn run_followup(
    cfg: Rc<Config>,
    store: Backend,
    meta: Metadata,
    queue: Option<QueueBinding>,
    job: FollowUp,
    id: String,
) {
    let (started, before) = (now_ms(), meta.db().usage());
    let mut problems = Vec::new();
    if let Some(old) = &job.replaced {
        problems.extend(upload::discard_replaced(&store, &meta, old).await);
    }
    match &queue {
        // An announced upload's pending-commit message is on the queue already.
        Some(_) if job.queued => {}
        Some(queue) => problems.extend(events::dispatch(queue, std::slice::from_ref(&job.event)).await.problems),
        None => problems.extend(deliver_once(&cfg, &store, &meta, &job).await),
    }
    let about = |line: Line| Line { key: Some(job.event.key.clone()), event_id: Some(job.event.id.clone()), ..line };
    for problem in &problems {
        emit(&about(Line::new("error", "followup_problem").request_id(&id).detail(problem.as_str())));
    }
    let mut done = about(Line::new("info", "followup").request_id(&id));
    done.duration_ms = Some(now_ms() - started);
    meta.db().usage().since(before).log(&mut done);
    emit(&done);
}

/// Without a queue: one delivery attempt, in `waitUntil`, never retried. Says so once per isolate.
async fn deliver_once(cfg: &Config, store: &Backend, meta: &Metadata, job: &FollowUp) -> Vec<String> {
    if !WARNED_BEST_EFFORT.with(|w| w.replace(true)) {
        emit(&Line::new("warn", "events_best_effort").detail(
            "no EVENTS queue is bound: follow-up work runs once after each answer, unretried and lost if the isolate \
             goes away",
        ));
    }
    let report = followup::deliver(store, meta, &FetchSender, cfg.webhook.as_ref(), &job.event, 1, now_ms()).await;
    match report.outcome {
        Outcome::Delivered(_) => Vec::new(),
        Outcome::Retry(_, why) => vec![format!("the follow-up failed and without a queue is not retried: {why}")],
        Outcome::Rejected(status) => vec![format!("the webhook refused the event with {status}")],
    }
}

/// The scheduled cleanup: reconciles stale upload journal entries with the store.
pub async fn sweep(env: Env) {
    let setup = config(&env).and_then(|cfg| {
        Ok((Backend::from_env(&env, &cfg)?, crate::metadata::open(&env, &cfg)?, cfg.quarantine.clone()))
    });
    let (store, meta, cfg_quarantine) = match setup {
        Ok(parts) => parts,
        Err(e) => {
            emit(&Line::new("error", "sweep_problem").detail(e.log_line()));
            return;
        }
    };
    if let crate::metadata::Sql::Shards(shards) = meta.db() {
        return sweep_shards(shards).await;
    }
    let mut report = sweep::run(&store, &meta, now_ms(), sweep::DEFAULT_PENDING_GRACE_MS).await;
    if let Some(q) = &cfg_quarantine {
        report.absorb(gateway_core::quarantine::sweep_scans(&store, &meta, q, now_ms()).await);
    }
    let resent = match QueueBinding::from_env(&env) {
        Some(queue) => events::resend(&queue, &meta, now_ms(), sweep::SWEEP_BATCH).await,
        None => events::Dispatched::default(),
    };
    report.problems.extend(resent.problems);
    emit(&Line::new("info", "sweep").detail(format!(
        "{} journal entries settled, {} unrecorded objects removed; {} expired uploads aborted; {} events re-sent",
        report.examined, report.orphans_removed, report.multiparts_aborted, resent.sent
    )));
    for problem in &report.problems {
        emit(&Line::new("error", "sweep_problem").detail(problem.as_str()));
    }
}

/// The Cron Trigger on shards: each shard whose reported work is due sweeps itself (its alarm
/// does so at its earliest due work; this is the backstop for an alarm that was lost).
async fn sweep_shards(shards: &crate::shard::DurableShards) {
    match shards.sweep_overdue(now_ms()).await {
        Ok((s, failed)) => {
            emit(&Line::new("info", "sweep").detail(format!(
                "{} journal entries settled, {} unrecorded objects removed; {} expired uploads aborted; {} events re-sent; \
                 {} shards swept, {} failed",
                s.examined,
                s.orphans_removed,
                s.multiparts_aborted,
                s.resent,
                s.shards,
                failed.len()
            )));
            for e in &failed {
                emit(&Line::new("error", "sweep_problem").detail(format!("a shard's sweep failed: {}", e.log_line())));
            }
        }
        Err(e) => {
            emit(&Line::new("error", "sweep_problem").detail(format!("listing the shards failed: {}", e.log_line())))
        }
    }
    // A split's shard keys nobody has called yet are named, so their shards move their keys in.
    match shards.adopt(crate::shard::ADOPT_PER_RUN).await {
        Ok(0) => {}
        Ok(n) => emit(&Line::new("info", "sweep").detail(format!("{n} split shard keys set to move their keys in"))),
        Err(e) => emit(&Line::new("error", "sweep_problem").detail(format!("adopting split keys: {}", e.log_line()))),
    }
}
