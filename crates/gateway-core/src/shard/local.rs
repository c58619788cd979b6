//! Shards in one process, each a native SQLite: the sharded [`SqlDatabase`] the native tests
//! and benchmarks run the metadata on, routing each batch as the Worker's does. Statements
//! and outcomes go through JSON, as they do between a Worker and its Durable Objects.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::ledger::{self, Homes, Report};
use super::moving::{self, Call, Concerns, Ran, Sources};
use super::{concerns, registry, Layout, Target, Targets, MAX_HOPS};
use crate::error::Result;
use crate::sql::schema::{migrate, MIGRATIONS};
use crate::sql::sqlite::NativeSqlite;
use crate::sql::{error, join, Outcome, Route, SqlDatabase, Statement};

/// Shards by name, created (and migrated) on first use, and the directory.
#[derive(Clone, Default)]
pub struct LocalShards {
    /// Which shard holds each key.
    pub layout: Layout,
    shards: Rc<RefCell<BTreeMap<String, Rc<NativeSqlite>>>>,
    directory: Rc<RefCell<Option<Rc<NativeSqlite>>>>,
    /// Every batch sent, by shard and operation: what the tests count round trips with.
    pub sent: Rc<RefCell<Vec<(String, String)>>>,
}

impl LocalShards {
    /// No shards yet, each key held as `layout` says.
    pub fn with_layout(layout: Layout) -> LocalShards {
        LocalShards { layout, ..LocalShards::default() }
    }

    /// Shard `name`'s own database.
    pub async fn shard(&self, name: &str) -> Result<Rc<NativeSqlite>> {
        if let Some(found) = self.shards.borrow().get(name) {
            return Ok(found.clone());
        }
        let db = NativeSqlite::in_memory()?;
        migrate(&db, MIGRATIONS.len()).await?;
        db.batch(Route::Here, "schema", registry::schema()).await?;
        let db = Rc::new(db);
        self.shards.borrow_mut().insert(name.to_owned(), db.clone());
        Ok(db)
    }

    async fn directory(&self) -> Result<Rc<NativeSqlite>> {
        if let Some(found) = self.directory.borrow().clone() {
            return Ok(found);
        }
        let db = NativeSqlite::in_memory()?;
        db.batch(Route::Here, "schema", registry::schema()).await?;
        let db = Rc::new(db);
        *self.directory.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    /// The names of the shards that exist.
    pub fn names(&self) -> Vec<String> {
        self.shards.borrow().keys().cloned().collect()
    }

    /// Runs `statements` in shard `target`, as a Durable Object does: registers its namespace
    /// with the directory the first time (and takes in what a split left in the shards it was
    /// split from), then one transaction, unless what it concerns moved elsewhere.
    async fn send(&self, target: &Target, concerns: Concerns<'_>, op: &str, statements: &[Statement]) -> Result<Ran> {
        self.sent.borrow_mut().push((target.shard.clone(), op.to_owned()));
        let db = self.shard(&target.shard).await?;
        if let Some(ns) = &target.namespace {
            if !registry::known(&*db, ns).await? {
                let directory = self.directory().await?;
                let from = registry::sources(&*directory, ns).await?;
                registry::register(&*directory, ns, &target.shard, 0).await?;
                moving::inherit(&*db, self, &target.shard, ns, &from).await?;
                registry::remember(&*db, ns).await?;
            }
        }
        let statements: Vec<Statement> = wire(op, &statements.to_vec())?;
        match moving::run(&*db, self, &target.shard, concerns, op, statements).await? {
            Ran::Here(outcomes) => Ok(Ran::Here(wire(op, &outcomes)?)),
            moved => Ok(moved),
        }
    }

    /// What the Cron Trigger does for a split: registers the shard keys whose keys are still
    /// where they were, up to `budget`. How many it registered.
    pub async fn adopt(&self, budget: usize) -> Result<usize> {
        moving::adopt(self, &self.layout, budget, async |ns: &str| {
            let target =
                Target { shard: super::shard_of_namespace(ns), namespace: Some(ns.to_owned()), keys: Vec::new() };
            self.send(&target, Concerns::default(), "adopt", &[]).await.map(|_| ())
        })
        .await
    }

    /// What each shard's alarm does for the owners whose home is elsewhere: reports.
    pub async fn send_reports(&self) -> Result<usize> {
        let mut sent = 0;
        for name in self.names() {
            sent += ledger::send(&*self.shard(&name).await?, self, &name, 100).await?;
        }
        Ok(sent)
    }

    /// What each shard's alarm does for the moves it takes in: every step, to the end.
    pub async fn finish_moves(&self) -> Result<()> {
        for name in self.names() {
            let db = self.shard(&name).await?;
            while moving::advance(&*db, self, &name, 100).await? {}
        }
        Ok(())
    }
}

/// A home takes a shard's report, through JSON.
impl Homes for LocalShards {
    async fn report(&self, home: &str, report: &Report) -> Result<()> {
        self.sent.borrow_mut().push((home.to_owned(), "quota report".to_owned()));
        ledger::receive(&*self.shard(home).await?, &wire("quota report", report)?).await
    }
}

/// `value` as it arrives after a trip through JSON, as between a Worker and its objects.
fn wire<T: serde::Serialize + serde::de::DeserializeOwned>(op: &str, value: &T) -> Result<T> {
    let text = serde_json::to_string(value).map_err(|e| error(op, &e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| error(op, &e.to_string()))
}

/// A source answers a target's call, through JSON.
impl Sources for LocalShards {
    async fn ask(&self, shard: &str, call: &Call) -> Result<serde_json::Value> {
        self.sent.borrow_mut().push((shard.to_owned(), "move".to_owned()));
        let db = self.shard(shard).await?;
        wire("move", &moving::answer(&*db, wire("move", call)?).await?)
    }
}

impl SqlDatabase for LocalShards {
    fn home_apart(&self, key: &str, owner: &str) -> Option<String> {
        self.layout.home_apart(key, owner)
    }

    fn home_apart_id(&self, id: &str, owner: &str) -> Option<String> {
        self.layout.home_apart_id(id, owner)
    }

    async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let (targets, directory) = match self.layout.targets(&route) {
            Targets::Shards(shards) => (shards, false),
            Targets::Directory(prefix) => {
                let mut shards: Vec<String> = registry::namespaces(&*self.directory().await?, &prefix)
                    .await?
                    .into_iter()
                    .map(|(_, s)| s)
                    .collect();
                shards.sort();
                shards.dedup();
                (shards.into_iter().map(Target::of).collect(), true)
            }
        };
        let mut runs = Vec::new();
        for target in &targets {
            let mut at = target.clone();
            // What moved is sent on to where it moved (once or twice: a split of a split).
            for hop in 0.. {
                match self.send(&at, concerns(&route, &at, directory), op, &statements).await? {
                    Ran::Here(outcomes) => {
                        runs.push(outcomes);
                        break;
                    }
                    Ran::Moved(to) if hop < MAX_HOPS => {
                        at = Target { shard: to, namespace: None, keys: target.keys.clone() }
                    }
                    Ran::Moved(to) => {
                        return Err(error(op, &format!("moved more than {MAX_HOPS} times, last to {to}")))
                    }
                }
            }
        }
        // A batch that reaches no shard (an id that names none) finds nothing, changes nothing.
        if runs.is_empty() {
            return Ok(statements.iter().map(|_| Outcome::default()).collect());
        }
        Ok(join(runs))
    }
}
