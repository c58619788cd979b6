//! Shards in one process, each a native SQLite: the sharded [`SqlDatabase`] the native tests
//! and benchmarks run the metadata on, routing each batch as the Worker's does. Statements
//! and outcomes go through JSON, as they do between a Worker and its Durable Objects.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::{registry, Layout, Targets};
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

    /// Runs `statements` in shard `shard`, as a Durable Object does: registers `namespace`
    /// with the directory the first time, then one transaction.
    async fn send(
        &self,
        shard: &str,
        namespace: Option<&str>,
        op: &str,
        statements: &[Statement],
    ) -> Result<Vec<Outcome>> {
        self.sent.borrow_mut().push((shard.to_owned(), op.to_owned()));
        let db = self.shard(shard).await?;
        if let Some(ns) = namespace {
            if !registry::known(&*db, ns).await? {
                let directory = self.directory().await?;
                // As the directory object does: a namespace a split took from a shard that
                // still holds its keys is refused.
                for parent in registry::parents(ns) {
                    if let Some(held_by) = registry::shard_for(&*directory, parent).await? {
                        if registry::holds(&*self.shard(&held_by).await?, &format!("{parent}/")).await? {
                            return Err(registry::split_refused(parent, ns));
                        }
                    }
                }
                registry::register(&*directory, ns, shard, 0).await?;
                registry::remember(&*db, ns).await?;
            }
        }
        let wire = serde_json::to_string(statements).map_err(|e| error(op, &e.to_string()))?;
        let statements: Vec<Statement> = serde_json::from_str(&wire).map_err(|e| error(op, &e.to_string()))?;
        let outcomes = db.batch(Route::Here, op, statements).await?;
        let wire = serde_json::to_string(&outcomes).map_err(|e| error(op, &e.to_string()))?;
        serde_json::from_str(&wire).map_err(|e| error(op, &e.to_string()))
    }
}

impl SqlDatabase for LocalShards {
    async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let targets = match self.layout.targets(&route) {
            Targets::Shards(shards) => shards,
            Targets::Directory(prefix) => {
                let mut shards: Vec<String> = registry::namespaces(&*self.directory().await?, &prefix)
                    .await?
                    .into_iter()
                    .map(|(_, s)| s)
                    .collect();
                shards.sort();
                shards.dedup();
                shards.into_iter().map(|s| (s, None)).collect()
            }
        };
        let mut runs = Vec::new();
        for (shard, ns) in &targets {
            runs.push(self.send(shard, ns.as_deref(), op, &statements).await?);
        }
        // A batch that reaches no shard (an id that names none) finds nothing, changes nothing.
        if runs.is_empty() {
            return Ok(statements.iter().map(|_| Outcome::default()).collect());
        }
        Ok(join(runs))
    }
}
