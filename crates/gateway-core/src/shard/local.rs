//! Shards in one process, each a native SQLite: the [`Transport`] the native tests and
//! benchmarks run the sharded metadata on. Every call and answer goes through JSON, as it
//! does between a Worker and its Durable Objects.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::call::{execute, Answer, Call};
use super::{registry, Transport};
use crate::error::Result;
use crate::sql::schema::{migrate, MIGRATIONS};
use crate::sql::sqlite::NativeSqlite;
use crate::sql::{SqlDatabase, SqlMetadata};

/// Shards by name, created (and migrated) on first use, and the directory.
#[derive(Clone)]
pub struct LocalShards {
    shards: Rc<RefCell<BTreeMap<String, Rc<SqlMetadata<NativeSqlite>>>>>,
    directory: Rc<NativeSqlite>,
    /// Every call sent, by shard: what the tests count round trips with.
    pub sent: Rc<RefCell<Vec<(String, Call)>>>,
}

impl LocalShards {
    pub async fn new() -> Result<LocalShards> {
        let directory = NativeSqlite::in_memory()?;
        directory.batch("schema", registry::schema()).await?;
        Ok(LocalShards { shards: Rc::default(), directory: Rc::new(directory), sent: Rc::default() })
    }

    /// Shard `name`'s own database.
    pub async fn shard(&self, name: &str) -> Result<Rc<SqlMetadata<NativeSqlite>>> {
        if let Some(found) = self.shards.borrow().get(name) {
            return Ok(found.clone());
        }
        let db = NativeSqlite::in_memory()?;
        migrate(&db, MIGRATIONS.len()).await?;
        db.batch("schema", registry::schema()).await?;
        let meta = Rc::new(SqlMetadata::new(db, true));
        self.shards.borrow_mut().insert(name.to_owned(), meta.clone());
        Ok(meta)
    }

    /// The names of the shards that exist.
    pub fn names(&self) -> Vec<String> {
        self.shards.borrow().keys().cloned().collect()
    }
}

impl Transport for LocalShards {
    async fn send(&self, shard: &str, namespace: Option<&str>, call: &Call) -> Result<Answer> {
        self.sent.borrow_mut().push((shard.to_owned(), call.clone()));
        let wire = serde_json::to_string(call).unwrap_or_default();
        let meta = self.shard(shard).await?;
        if let Some(ns) = namespace {
            if !registry::known(meta.db(), ns).await? {
                registry::register(&*self.directory, ns, shard, 0).await?;
                registry::remember(meta.db(), ns).await?;
            }
        }
        let call: Call = serde_json::from_str(&wire).map_err(|e| super::call::garbled(&e.to_string()))?;
        let answer = Answer::of(execute(&*meta, call).await);
        let wire = serde_json::to_string(&answer).unwrap_or_default();
        serde_json::from_str(&wire).map_err(|e| super::call::garbled(&e.to_string()))
    }

    async fn namespaces(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        registry::namespaces(&*self.directory, prefix).await
    }
}
