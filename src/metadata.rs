//! The configured metadata database (`METADATA`): D1 ([`crate::d1`]) or the Durable Object
//! shards ([`crate::shard`]), under the one SQL implementation of the metadata interfaces
//! (`gateway_core::sql::SqlMetadata`), so the request path is written and compiled once.

use gateway_core::config::{Config, MetadataBackend};
use gateway_core::error::Result;
use gateway_core::sql::{Outcome, Route, SqlDatabase, SqlMetadata, Statement};
use worker::Env;

use crate::d1::{D1Sql, D1Usage};
use crate::shard::{DurableShards, ShardSql};

/// The metadata interfaces on the configured database.
pub type Metadata = SqlMetadata<Sql>;

pub enum Sql {
    D1(D1Sql),
    /// The shards, from a Worker.
    Shards(DurableShards),
    /// A shard's own database, inside its Durable Object.
    Here(ShardSql),
}

/// The metadata as `cfg` configures it, with events recorded in the outbox when an `EVENTS`
/// queue is bound.
pub fn open(env: &Env, cfg: &Config) -> Result<Metadata> {
    let db = match cfg.metadata {
        MetadataBackend::D1 => Sql::D1(crate::d1::open(env)?),
        MetadataBackend::DurableObjects => Sql::Shards(DurableShards::from_env(env, cfg.shards.clone())?),
    };
    Ok(SqlMetadata::new(db, crate::events::QueueBinding::from_env(env).is_some()))
}

impl Sql {
    /// The metadata work done so far, for the log lines: D1's calls, statements and rows; on
    /// shards, the round trips to them and their statements and rows.
    pub fn usage(&self) -> D1Usage {
        match self {
            Sql::D1(d) => d.usage(),
            Sql::Shards(s) => s.usage.get(),
            Sql::Here(_) => D1Usage::default(),
        }
    }
}

impl SqlDatabase for Sql {
    fn home_apart(&self, key: &str, owner: &str) -> Option<String> {
        match self {
            Sql::Shards(s) => s.home_apart(key, owner),
            Sql::D1(_) | Sql::Here(_) => None,
        }
    }

    fn home_apart_id(&self, id: &str, owner: &str) -> Option<String> {
        match self {
            Sql::Shards(s) => s.home_apart_id(id, owner),
            Sql::D1(_) | Sql::Here(_) => None,
        }
    }

    async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        match self {
            Sql::D1(d) => d.batch(route, op, statements).await,
            Sql::Shards(s) => s.batch(route, op, statements).await,
            Sql::Here(h) => h.batch(route, op, statements).await,
        }
    }
}
