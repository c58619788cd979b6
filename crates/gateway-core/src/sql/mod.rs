//! The metadata interfaces ([`crate::metadata`]) in SQL, written once for every SQLite the
//! gateway runs on: D1, a Durable Object's own SQLite ([`crate::shard`]) and, in tests, a
//! native SQLite. Each runs statements through [`SqlDatabase`], one batch per call: the unit
//! of a round trip and of a transaction. The schema is `migrations/` ([`schema`]).

use serde::de::DeserializeOwned;

use crate::error::{ErrorKind, GatewayError, Result};

mod announced;
mod commit;
mod journal;
mod multipart;
mod objects;
mod outbox;
mod presign;
pub(crate) mod quota;
pub mod schema;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod tus;

/// A bound value. Numbers are integers (ms timestamps, sizes, counters), which every SQLite
/// here stores as such; D1 and Durable Objects receive them as JS numbers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Value {
        Value::Int(i64::from(v))
    }
}

/// Booleans as SQLite keeps them: 1 and 0.
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(i64::from(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Value {
        v.clone().map_or(Value::Null, Into::into)
    }
}

/// `args![a, b, …]`: the values bound to `?1`, `?2`, ….
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::sql::Value::from($v)),*] };
}
pub use args;

/// One statement with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Statement {
    pub sql: String,
    pub args: Vec<Value>,
}

pub fn stmt(sql: impl Into<String>, args: Vec<Value>) -> Statement {
    Statement { sql: sql.into(), args }
}

/// What one statement of a batch returned.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Its rows, each a JSON object by column name.
    pub rows: Vec<serde_json::Value>,
    /// Rows the statement itself inserted, updated or deleted (not its triggers').
    pub changes: u64,
    /// Rows written as the database reports them (index entries and triggers' writes too).
    pub rows_written: u64,
}

impl Outcome {
    pub fn changed(&self) -> bool {
        self.changes > 0
    }

    /// Its rows as `T`.
    pub fn decode<T: DeserializeOwned>(&self, op: &str) -> Result<Vec<T>> {
        self.rows.iter().map(|r| T::deserialize(r).map_err(|e| error(op, &e.to_string()))).collect()
    }
}

/// Which database a batch belongs in, where the metadata is sharded ([`crate::shard`]); a
/// single database runs every batch itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// The database of this key (or of a stored name of it).
    Key(&'a str),
    /// The databases of these keys: each runs the batch, their outcomes joined ([`join`]).
    Keys(Vec<&'a str>),
    /// The database an upload id names; none (every statement changes nothing and finds
    /// nothing) for an id that names none.
    Id(&'a str),
    /// The databases of every key that starts with this prefix (a listing): one database if
    /// the prefix pins its keys' shard, else as [`Route::Prefix`].
    Under(&'a str),
    /// Every database holding a namespace that starts with this prefix (`""`: every one),
    /// their outcomes joined.
    Prefix(&'a str),
    /// The database that keeps this owner's quota ledger: on shards, the shard of the owner's
    /// own namespace (its home), wherever its keys are.
    Owner(&'a str),
    /// The database the batch is run on, whatever it holds (migrations, a shard's own work).
    Here,
}

/// A SQLite database reached in batches: each call runs its statements in order as one
/// transaction (all or nothing) and is one round trip.
#[allow(async_fn_in_trait)]
pub trait SqlDatabase {
    async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>>;

    /// The database of `owner`'s quota ledger ([`Route::Owner`]), named, where it is not the
    /// database of `key`: never, in one database.
    fn home_apart(&self, _key: &str, _owner: &str) -> Option<String> {
        None
    }

    /// The database of `owner`'s quota ledger, named, where a batch for upload `id` may run in
    /// another ([`Route::Id`]): never, in one database.
    fn home_apart_id(&self, _id: &str, _owner: &str) -> Option<String> {
        None
    }
}

/// A shared database is the database.
impl<D: SqlDatabase> SqlDatabase for std::rc::Rc<D> {
    async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        (**self).batch(route, op, statements).await
    }

    fn home_apart(&self, key: &str, owner: &str) -> Option<String> {
        (**self).home_apart(key, owner)
    }

    fn home_apart_id(&self, id: &str, owner: &str) -> Option<String> {
        (**self).home_apart_id(id, owner)
    }
}

/// The outcomes of one batch run in several databases, statement by statement: the rows of
/// all, the changes of all.
pub fn join(runs: Vec<Vec<Outcome>>) -> Vec<Outcome> {
    let mut joined: Vec<Outcome> = Vec::new();
    for run in runs {
        for (i, o) in run.into_iter().enumerate() {
            match joined.get_mut(i) {
                Some(j) => {
                    j.rows.extend(o.rows);
                    j.changes += o.changes;
                    j.rows_written += o.rows_written;
                }
                None => joined.push(o),
            }
        }
    }
    joined
}

/// The error every failed call becomes: the cause is logged, never shown.
pub fn error(op: &str, detail: &str) -> GatewayError {
    GatewayError::hidden(ErrorKind::DatabaseError, "the metadata database failed", format!("{op}: {detail}"))
}

/// The metadata interfaces over a [`SqlDatabase`] with the schema of `migrations/`.
pub struct SqlMetadata<D> {
    db: D,
    /// Whether commits and deletes record their events in the outbox (an `EVENTS` queue is
    /// bound to send them).
    events: bool,
}

impl<D: SqlDatabase> SqlMetadata<D> {
    pub fn new(db: D, events: bool) -> SqlMetadata<D> {
        SqlMetadata { db, events }
    }

    pub fn db(&self) -> &D {
        &self.db
    }

    pub(crate) async fn batch(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        self.db.batch(route, op, statements).await
    }

    /// Runs one statement.
    pub(crate) async fn run(&self, route: Route<'_>, op: &str, statement: Statement) -> Result<Outcome> {
        Ok(self.batch(route, op, vec![statement]).await?.pop().unwrap_or_default())
    }

    /// Runs one read: all its rows.
    pub(crate) async fn all<T: DeserializeOwned>(
        &self,
        route: Route<'_>,
        op: &str,
        statement: Statement,
    ) -> Result<Vec<T>> {
        self.run(route, op, statement).await?.decode(op)
    }

    /// Runs one read: its first row, if any.
    pub(crate) async fn first<T: DeserializeOwned>(
        &self,
        route: Route<'_>,
        op: &str,
        statement: Statement,
    ) -> Result<Option<T>> {
        Ok(self.all(route, op, statement).await?.into_iter().next())
    }

    /// Runs statements as one transaction.
    pub(crate) async fn transaction(&self, route: Route<'_>, op: &str, statements: Vec<Statement>) -> Result<()> {
        self.batch(route, op, statements).await?;
        Ok(())
    }
}
