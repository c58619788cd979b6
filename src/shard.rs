//! Metadata in SQLite Durable Objects (`METADATA=durable-objects`, binding `SHARDS`): the
//! class [`MetadataShard`], whose objects are the shards of `gateway_core::shard` (one per
//! namespace, named by the core) and the namespace directory (the object named
//! [`DIRECTORY`]), and [`DurableShards`], the Worker's way to them. A shard migrates its own
//! schema on first use (the same `migrations/` as D1), runs each batch it is sent in one
//! transaction, and keeps its alarm at its earliest due work, which the alarm then sweeps. It
//! reports that time to the directory when its alarm moves and after each sweep, and the Cron
//! Trigger asks the shards whose reported time has passed to sweep: the backstop for a lost
//! alarm, without asking every shard.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_util::future::join_all;
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::events;
use gateway_core::log::Line;
use gateway_core::shard::ledger::{self, Homes};
use gateway_core::shard::moving::{self, Concerns, Ran, Sources};
use gateway_core::shard::{concerns, due, registry, shard_of_namespace, Layout, Target, Targets, MAX_HOPS};
use gateway_core::sql::schema::{migrate, MIGRATIONS};
use gateway_core::sql::{error, join, Outcome, Route, SqlDatabase, SqlMetadata, Statement};
use gateway_core::sweep;
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response, State};

use crate::backend::Backend;
use crate::d1::D1Usage;
use crate::events::QueueBinding;
use crate::metadata::{Metadata, Sql};
use crate::serve::{emit, now_ms};

/// The name of the directory object.
pub const DIRECTORY: &str = "directory";

/// A Durable Object's own SQLite, each batch one `transactionSync`.
pub struct ShardSql {
    storage: worker::Storage,
}

impl SqlDatabase for ShardSql {
    async fn batch(&self, _route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let sql = self.storage.sql();
        let out: Rc<RefCell<Vec<Outcome>>> = Rc::default();
        let sink = out.clone();
        let run = Closure::once(move || -> std::result::Result<JsValue, JsValue> {
            for s in &statements {
                let args: Vec<JsValue> = s.args.iter().map(crate::d1::js_value).collect();
                let cursor = sql.exec_raw(&s.sql, args).map_err(|e| JsValue::from_str(&e.to_string()))?;
                let rows: Vec<serde_json::Value> = cursor.to_array().map_err(|e| JsValue::from_str(&e.to_string()))?;
                // Rows written, triggers' and indexes' included: more than zero exactly when the
                // statement itself changed a row, which is all `changes` is read for.
                let written = cursor.rows_written() as u64;
                sink.borrow_mut().push(Outcome { rows, changes: written, rows_written: written });
            }
            Ok(JsValue::UNDEFINED)
        });
        let raw: &JsValue = self.storage.as_raw().as_ref();
        crate::js::call(raw, "transactionSync", &[run.as_ref().unchecked_ref()])
            .map_err(|e| error(op, &crate::js::error_message(&e)))?;
        Ok(out.take())
    }
}

/// What a Worker sends an object.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    /// A batch for shard `shard` (an object does not know its own name); `namespace`: the key
    /// namespace it concerns, if any, which the shard registers the first time it sees it;
    /// `keys`, `id`, `listing`: what it concerns, for a move under way.
    Batch {
        shard: String,
        namespace: Option<String>,
        op: String,
        statements: Vec<Statement>,
        keys: Vec<String>,
        id: Option<String>,
        listing: Option<(String, bool)>,
    },
    /// To the directory: shard `shard` holds `namespace`; answers the shards that may hold its
    /// keys from before a split.
    Register { namespace: String, shard: String },
    /// From a shard taking in keys a split moved to it (`gateway_core::shard::moving`).
    Move { call: moving::Call },
    /// To an owner's home: what the owner takes in another shard (`gateway_core::shard::ledger`).
    QuotaReport { report: ledger::Report },
    /// To the directory: the namespaces starting with `prefix`, with their shards.
    Namespaces { prefix: String },
    /// To the directory: shard `shard`'s earliest due work was at `due_at` (`None`: nothing
    /// due) when it looked, at `reported_at`.
    Due { shard: String, due_at: Option<i64>, reported_at: i64 },
    /// To the directory: the shards whose reported work is due by `now_ms`.
    Overdue { now_ms: i64 },
    /// Sweep this shard now (the Cron Trigger's backstop).
    Sweep,
    /// Test builds only: statements run in shard `shard` as they are, registering nothing and
    /// leaving the alarm as it is, then the shard's due time reported to the directory: work a
    /// test leaves due is work whose alarm was lost.
    #[cfg(feature = "contract")]
    Test { shard: String, statements: Vec<Statement> },
}

/// An object's answer: its result, or its error with the error's code.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(serde_json::Value),
    Err { code: String, detail: String, internal: Option<String> },
}

impl Answer {
    fn of(result: Result<serde_json::Value>) -> Answer {
        match result {
            Ok(v) => Answer::Ok(v),
            Err(e) => Answer::Err { code: e.code().to_owned(), detail: e.detail, internal: e.internal },
        }
    }

    fn into_result<T: serde::de::DeserializeOwned>(self, op: &str) -> Result<T> {
        match self {
            Answer::Ok(v) => serde_json::from_value(v).map_err(|e| error(op, &format!("shard answer: {e}"))),
            Answer::Err { code, detail, internal } => {
                let kind = ErrorKind::ALL.iter().copied().find(|k| k.code() == code).unwrap_or(ErrorKind::Internal);
                Err(GatewayError { kind, detail, internal, status_override: None, extensions: None })
            }
        }
    }
}

fn to_json<T: Serialize>(v: T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| error("shard answer", &e.to_string()))
}

/// What sweeping shards did, summed over them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Swept {
    pub shards: usize,
    pub examined: usize,
    pub orphans_removed: usize,
    pub multiparts_aborted: usize,
    pub resent: usize,
}

/// One object of the class: a shard, or the directory.
#[durable_object(alarm)]
pub struct MetadataShard {
    state: State,
    env: Env,
    /// Whether this instance has brought its schema up to date.
    ready: Cell<bool>,
    /// The alarm time this instance last set or read (`None`: not known yet).
    armed: Cell<Option<i64>>,
    /// This shard's name, once a call or its own table told it.
    name: RefCell<Option<String>>,
    /// The due time last reported to the directory (`Some(None)`: nothing due; `None`: not
    /// known to this instance, or never reported).
    reported: Cell<Option<Option<i64>>>,
    /// Held by each batch and each step of a move.
    lock: futures_util::lock::Mutex<()>,
}

impl MetadataShard {
    fn sql(&self) -> ShardSql {
        ShardSql { storage: self.state.storage() }
    }

    /// This object's metadata, for its own sweep.
    fn meta(&self) -> Metadata {
        SqlMetadata::new(Sql::Here(self.sql()), QueueBinding::from_env(&self.env).is_some())
    }

    /// Brings the schema up to date once per instance (each migration one transaction).
    async fn ready(&self) -> Result<()> {
        if !self.ready.get() {
            let db = self.sql();
            migrate(&db, MIGRATIONS.len()).await?;
            db.batch(Route::Here, "schema", registry::schema()).await?;
            self.ready.set(true);
        }
        Ok(())
    }

    async fn handle(&self, message: Message) -> Result<serde_json::Value> {
        self.ready().await?;
        let db = self.sql();
        match message {
            Message::Batch { shard, namespace, op, statements, keys, id, listing } => {
                // One batch at a time while keys may move in: a step is never under way while a
                // batch runs, and the awaits below let other requests in.
                let one = self.lock.lock().await;
                if self.name.borrow().is_none() {
                    registry::remember_name(&db, &shard).await?;
                    self.name.replace(Some(shard.clone()));
                }
                let peers = Peers(binding(&self.env)?);
                if let Some(ns) = &namespace {
                    if !registry::known(&db, ns).await? {
                        let register = Message::Register { namespace: ns.clone(), shard: shard.clone() };
                        let from: Vec<String> = send(&peers.0, DIRECTORY, &register).await?.into_result("register")?;
                        moving::inherit(&db, &peers, &shard, ns, &from).await?;
                        registry::remember(&db, ns).await?;
                    }
                }
                let concerns = Concerns {
                    keys: &keys,
                    id: id.as_deref(),
                    listing: listing.as_ref().map(|(p, alone)| (p.as_str(), *alone)),
                };
                let ran = moving::run(&db, &peers, &shard, concerns, &op, statements).await?;
                drop(one);
                self.arm().await;
                to_json(ran)
            }
            Message::Register { namespace, shard } => {
                let from = registry::sources(&db, &namespace).await?;
                registry::register(&db, &namespace, &shard, now_ms()).await?;
                to_json(from)
            }
            Message::Move { call } => {
                // Never while this shard is taking keys in itself (a split of a split): what it
                // hands over is what it holds once its own step is done. Calls go from a shard
                // key's shard to those of shorter ones only, so the locks never wait in a circle.
                let _one = self.lock.lock().await;
                moving::answer(&db, call).await
            }
            Message::QuotaReport { report } => {
                ledger::receive(&db, &report).await?;
                Ok(serde_json::Value::Null)
            }
            Message::Namespaces { prefix } => to_json(registry::namespaces(&db, &prefix).await?),
            Message::Due { shard, due_at, reported_at } => {
                registry::note_due(&db, &shard, due_at, reported_at).await?;
                Ok(serde_json::Value::Null)
            }
            Message::Overdue { now_ms } => to_json(registry::overdue(&db, now_ms).await?),
            Message::Sweep => to_json(self.sweep().await?),
            #[cfg(feature = "contract")]
            Message::Test { shard, statements } => {
                let outcomes = db.batch(Route::Here, "test sql", statements).await?;
                let due_at = due::next_due(&db, scan_timeout(&self.env)).await?;
                note_due(&self.env, Message::Due { shard, due_at, reported_at: now_ms() }).await;
                registry::set_reported(&db, due_at).await?;
                self.reported.set(Some(due_at));
                to_json(outcomes)
            }
        }
    }

    /// Sets the alarm to the earliest due work, unless it is set at least as early, and tells
    /// the directory the time if it is not the one last reported (after the answer: the report
    /// is for the backstop, not for this request), so a busy shard reports once per alarm.
    async fn arm(&self) {
        // Work due in the past (an aborted upload's expiry is 0) is due now: an alarm time must
        // be positive.
        let due = match self.next_due().await {
            Ok(Some(due)) => due.max(now_ms()),
            Ok(None) => return,
            Err(e) => {
                return emit(&Line::new("error", "sweep_problem").detail(format!("arming the alarm: {}", e.log_line())))
            }
        };
        let storage = self.state.storage();
        if self.armed.get().is_none() {
            self.armed.set(storage.get_alarm().await.ok().flatten());
        }
        if self.armed.get().is_none_or(|at| at > due) {
            match storage.set_alarm(moment(due)).await {
                Ok(()) => self.armed.set(Some(due)),
                Err(e) => emit(&Line::new("error", "sweep_problem").detail(format!("setting the alarm: {e}"))),
            }
        }
        // Unset (the set failed): the work's own time, for the Cron Trigger to find.
        let at = Some(due.min(self.armed.get().unwrap_or(due)));
        if self.reported.get().is_none() {
            self.reported.set(registry::reported(&self.sql()).await.ok().flatten());
        }
        if self.reported.get() != Some(at) {
            if let Some(message) = self.due_report(at) {
                // Remembered before it is sent: a lost report is made good by the next sweep's.
                if registry::set_reported(&self.sql(), at).await.is_ok() {
                    self.reported.set(Some(at));
                }
                let env = self.env.clone();
                self.state.wait_until(async move { note_due(&env, message).await });
            }
        }
    }

    /// The earliest due work: the sweep's ([`due::next_due`]), or now while keys a split moved
    /// here are still to move in or owners' homes are owed a report.
    async fn next_due(&self) -> Result<Option<i64>> {
        let due = due::next_due(&self.sql(), scan_timeout(&self.env)).await?;
        if moving::unfinished(&self.sql()).await? || ledger::due(&self.sql()).await? {
            let now = now_ms();
            return Ok(Some(due.map_or(now, |at| at.min(now))));
        }
        Ok(due)
    }

    /// Moves in up to [`MOVE_STEPS`] steps of keys a split moved here: when to go on (ms from
    /// now), if keys remain.
    async fn move_in(&self) -> Option<i64> {
        let name = self.name.borrow().clone()?;
        let _one = self.lock.lock().await;
        let moved = match binding(&self.env) {
            Ok(ns) => moving::advance(&self.sql(), &Peers(ns), &name, MOVE_STEPS).await,
            Err(e) => Err(e),
        };
        match moved {
            Ok(more) => more.then_some(1_000),
            Err(e) => {
                emit(&Line::new("error", "sweep_problem").detail(format!("moving keys in: {}", e.log_line())));
                Some(60_000)
            }
        }
    }

    /// Reports to the homes of owners writing here what changed for them: when to try again
    /// (ms from now), if some are still owed.
    async fn report_quotas(&self) -> Option<i64> {
        let name = self.name.borrow().clone()?;
        let sent = match binding(&self.env) {
            Ok(ns) => ledger::send(&self.sql(), &Peers(ns), &name, QUOTA_REPORTS).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            emit(&Line::new("error", "sweep_problem").detail(format!("reporting quota usage: {}", e.log_line())));
            return Some(60_000);
        }
        // More owners than one run reports: on at once.
        ledger::due(&self.sql()).await.unwrap_or(true).then_some(1_000)
    }

    /// The report of this shard's due time `due_at` for the directory, if the shard knows its
    /// name.
    fn due_report(&self, due_at: Option<i64>) -> Option<Message> {
        let shard = self.name.borrow().clone()?;
        Some(Message::Due { shard, due_at, reported_at: now_ms() })
    }

    /// The sweep of this shard alone (its alarm, or the Cron Trigger's backstop): settles its
    /// due journal entries and expired uploads, re-sends its old outbox rows, re-arms.
    async fn sweep(&self) -> Result<Swept> {
        self.ready().await?;
        if self.name.borrow().is_none() {
            self.name.replace(registry::own_name(&self.sql()).await.ok().flatten());
        }
        let moving_on = self.move_in().await;
        let reporting = self.report_quotas().await;
        let cfg = crate::env::config(&self.env)?;
        let store = Backend::from_env(&self.env, &cfg)?;
        let meta = self.meta();
        let now = now_ms();
        let mut report = sweep::run(&store, &meta, now, sweep::DEFAULT_PENDING_GRACE_MS).await;
        if let Some(q) = &cfg.quarantine {
            report.absorb(gateway_core::quarantine::sweep_scans(&store, &meta, q, now).await);
        }
        let mut resent = 0;
        if let Some(queue) = QueueBinding::from_env(&self.env) {
            let dispatched = events::resend(&queue, &meta, now, sweep::SWEEP_BATCH).await;
            resent = dispatched.sent;
            report.problems.extend(dispatched.problems);
        }
        // Work still due (a step that failed, a full batch) is tried again a minute on; keys
        // still to move in, a second on (a minute, after a failed step).
        self.armed.set(None);
        let mut next =
            due::next_due(&self.sql(), scan_timeout(&self.env)).await.ok().flatten().map(|due| due.max(now + 60_000));
        if let Some(retry) = moving_on.into_iter().chain(reporting).min() {
            next = Some(next.map_or(now + retry, |at| at.min(now + retry)));
        }
        if let Some(at) = next {
            if self.state.storage().set_alarm(moment(at)).await.is_ok() {
                self.armed.set(Some(at));
            }
        }
        if let Some(message) = self.due_report(next) {
            note_due(&self.env, message).await;
            if registry::set_reported(&self.sql(), next).await.is_ok() {
                self.reported.set(Some(next));
            }
        }
        for problem in &report.problems {
            emit(&Line::new("error", "sweep_problem").detail(problem.as_str()));
        }
        Ok(Swept {
            shards: 1,
            examined: report.examined,
            orphans_removed: report.orphans_removed,
            multiparts_aborted: report.multiparts_aborted,
            resent,
        })
    }
}

impl DurableObject for MetadataShard {
    fn new(state: State, env: Env) -> Self {
        MetadataShard {
            state,
            env,
            ready: Cell::new(false),
            armed: Cell::new(None),
            name: RefCell::new(None),
            reported: Cell::new(None),
            lock: futures_util::lock::Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let body = req.text().await?;
        let result = match serde_json::from_str::<Message>(&body) {
            Ok(message) => self.handle(message).await,
            Err(e) => Err(GatewayError::hidden(ErrorKind::BadRequest, "a malformed shard message", e.to_string())),
        };
        Response::from_json(&Answer::of(result))
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(e) = self.sweep().await {
            emit(&Line::new("error", "sweep_problem").detail(e.log_line()));
        }
        Response::ok("")
    }
}

/// Steps of a move an alarm takes (each [`moving::STEP_KEYS`] keys).
const MOVE_STEPS: u32 = 25;

/// Owners a shard reports on at most per alarm.
const QUOTA_REPORTS: u32 = 100;

/// The other shards, as a shard taking in keys or reporting to owners' homes reaches them.
struct Peers(ObjectNamespace);

impl Homes for Peers {
    async fn report(&self, home: &str, report: &ledger::Report) -> Result<()> {
        send(&self.0, home, &Message::QuotaReport { report: report.clone() }).await?.into_result("quota report")
    }
}

impl Sources for Peers {
    async fn ask(&self, shard: &str, call: &moving::Call) -> Result<serde_json::Value> {
        send(&self.0, shard, &Message::Move { call: call.clone() }).await?.into_result("move")
    }
}

/// Sends a shard's due-time report to the directory; a failure is logged (the shard's alarm
/// stands, and its next report replaces this one).
async fn note_due(env: &Env, message: Message) {
    let sent = match binding(env) {
        Ok(ns) => send(&ns, DIRECTORY, &message).await.and_then(|a| a.into_result::<()>("due report")),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        emit(&Line::new("error", "sweep_problem").detail(format!("reporting the due time: {}", e.log_line())));
    }
}

/// The moment `ms` (since the Unix epoch) as an alarm time (an `i64` would be an offset).
/// With quarantine, how long a version may wait for its verdict: its deadline is due work.
fn scan_timeout(env: &Env) -> Option<i64> {
    crate::env::config(env).ok().and_then(|c| c.quarantine.as_ref().map(|q| q.timeout_ms))
}

fn moment(ms: i64) -> worker::ScheduledTime {
    worker::ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(ms as f64)))
}

/// Sends `message` to object `name`: its answer.
async fn send(ns: &ObjectNamespace, name: &str, message: &Message) -> Result<Answer> {
    let failed = |e: worker::Error| error("shard call", &e.to_string());
    let body = serde_json::to_string(message).map_err(|e| error("shard call", &e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init("https://shard/", &init).map_err(failed)?;
    let mut res = ns.get_by_name(name).map_err(failed)?.fetch_with_request(req).await.map_err(failed)?;
    let text = res.text().await.map_err(failed)?;
    serde_json::from_str(&text).map_err(|e| error("shard call", &format!("shard answer: {e}")))
}

fn binding(env: &Env) -> Result<ObjectNamespace> {
    env.durable_object("SHARDS").map_err(|e| {
        GatewayError::hidden(
            ErrorKind::ConfigError,
            "the gateway is misconfigured: METADATA is durable-objects but the Durable Object binding SHARDS is missing",
            e.to_string(),
        )
    })
}

/// The shards, as a Worker reaches them: each batch sent to the shard its route names, one
/// request each (several, concurrently, for a route that spans shards).
pub struct DurableShards {
    ns: ObjectNamespace,
    /// Which shard holds each key.
    layout: Layout,
    /// The work done through this handle, for the log lines.
    pub usage: Cell<D1Usage>,
}

impl DurableShards {
    pub fn from_env(env: &Env, layout: Layout) -> Result<DurableShards> {
        Ok(DurableShards { ns: binding(env)?, layout, usage: Cell::new(D1Usage::default()) })
    }

    /// The shards of the registered namespaces starting with `prefix`.
    pub async fn shards(&self, prefix: &str) -> Result<Vec<String>> {
        let found: Vec<(String, String)> =
            send(&self.ns, DIRECTORY, &Message::Namespaces { prefix: prefix.to_owned() })
                .await?
                .into_result("directory")?;
        let mut shards: Vec<String> = found.into_iter().map(|(_, s)| s).collect();
        shards.sort();
        shards.dedup();
        Ok(shards)
    }

    /// Asks each shard whose reported work is due by `now_ms` (its alarm should have fired) to
    /// sweep itself: what they did together, and the failures.
    pub async fn sweep_overdue(&self, now_ms: i64) -> Result<(Swept, Vec<GatewayError>)> {
        let shards: Vec<String> =
            send(&self.ns, DIRECTORY, &Message::Overdue { now_ms }).await?.into_result("directory")?;
        let runs = join_all(
            shards
                .iter()
                .map(|s| async move { send(&self.ns, s, &Message::Sweep).await?.into_result::<Swept>("sweep") }),
        )
        .await;
        let mut total = Swept::default();
        let mut failed = Vec::new();
        for run in runs {
            match run {
                Ok(s) => {
                    total.shards += s.shards;
                    total.examined += s.examined;
                    total.orphans_removed += s.orphans_removed;
                    total.multiparts_aborted += s.multiparts_aborted;
                    total.resent += s.resent;
                }
                Err(e) => failed.push(e),
            }
        }
        Ok((total, failed))
    }
}

impl DurableShards {
    /// Runs a batch in shard `target`, following what it concerns where a split moved it.
    async fn run_at(
        &self,
        route: &Route<'_>,
        target: &Target,
        directory: bool,
        op: &str,
        statements: &[Statement],
    ) -> Result<Vec<Outcome>> {
        let mut at = target.clone();
        let mut hops = 0;
        loop {
            let c = concerns(route, &at, directory);
            let message = Message::Batch {
                shard: at.shard.clone(),
                namespace: at.namespace.clone(),
                op: op.to_owned(),
                statements: statements.to_vec(),
                keys: at.keys.clone(),
                id: c.id.map(str::to_owned),
                listing: c.listing.map(|(p, alone)| (p.to_owned(), alone)),
            };
            match send(&self.ns, &at.shard, &message).await?.into_result::<Ran>(op)? {
                Ran::Here(outcomes) => return Ok(outcomes),
                Ran::Moved(to) if hops < MAX_HOPS => {
                    hops += 1;
                    at = Target { shard: to, namespace: None, keys: target.keys.clone() };
                }
                Ran::Moved(to) => return Err(error(op, &format!("moved more than {MAX_HOPS} times, last to {to}"))),
            }
        }
    }
}

/// Split shard keys a Cron Trigger names at most ([`DurableShards::adopt`]).
pub const ADOPT_PER_RUN: usize = 50;

impl DurableShards {
    /// Names the shard keys of a split whose keys are still where they were, up to `budget`
    /// (`gateway_core::shard::moving::adopt`): how many.
    pub async fn adopt(&self, budget: usize) -> Result<usize> {
        let peers = Peers(self.ns.clone());
        moving::adopt(&peers, &self.layout, budget, async |ns: &str| {
            let target = Target { shard: shard_of_namespace(ns), namespace: Some(ns.to_owned()), keys: Vec::new() };
            self.run_at(&Route::Here, &target, false, "adopt", &[]).await.map(|_| ())
        })
        .await
    }
}

impl SqlDatabase for DurableShards {
    fn home_apart(&self, key: &str, owner: &str) -> Option<String> {
        self.layout.home_apart(key, owner)
    }

    fn home_apart_id(&self, id: &str, owner: &str) -> Option<String> {
        self.layout.home_apart_id(id, owner)
    }

    async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let (targets, directory) = match self.layout.targets(&route) {
            Targets::Shards(shards) => (shards, false),
            Targets::Directory(prefix) => (self.shards(&prefix).await?.into_iter().map(Target::of).collect(), true),
        };
        let n = statements.len();
        let runs = join_all(targets.iter().map(|t| self.run_at(&route, t, directory, op, &statements)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        for run in &runs {
            self.usage.set(self.usage.get().plus_call(n, run));
        }
        // A batch that reaches no shard (an id that names none) finds nothing, changes nothing.
        if runs.is_empty() {
            return Ok(statements.iter().map(|_| Outcome::default()).collect());
        }
        Ok(join(runs))
    }
}

#[cfg(feature = "contract")]
impl DurableShards {
    /// Test builds only: one statement run in the shard of `key`, or in every registered shard,
    /// the rows joined: the integration tests' view of the shards, as D1's binding is on D1.
    pub async fn test_sql(&self, key: Option<&str>, statement: Statement) -> Result<Outcome> {
        let shards = match key {
            Some(key) => vec![self.layout.shard_of(key)],
            None => self.shards("").await?,
        };
        let runs = join_all(shards.iter().map(|s| async {
            let message = Message::Test { shard: s.clone(), statements: vec![statement.clone()] };
            send(&self.ns, s, &message).await?.into_result::<Vec<Outcome>>("test sql")
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        Ok(join(runs).pop().unwrap_or_default())
    }
}
