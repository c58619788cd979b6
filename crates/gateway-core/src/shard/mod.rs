//! Metadata sharded over many SQLite databases (Durable Objects at the edge), each holding
//! every row of the keys of its namespaces, so each decision is one call to one database.
//!
//! - **Shard key.** A key's namespace is its first path segment (the owner under the default
//!   `{sub}/` prefix; the whole key if it has no `/`). Everything that must be atomic with a
//!   key lives in its namespace's shard: its row and replaced versions, its journal entries,
//!   its multipart and tus sessions, its presigned uploads and spent nonces, and the outbox
//!   rows of its events. Shards share nothing, so no operation spans two of them.
//! - **Shard names.** A namespace's shard is named by [`shard_of_namespace`], 16 hex digits of
//!   its SHA-256. Multipart and tus ids carry the name ([`routed_id`]), so a request that
//!   names only an upload id reaches the right shard.
//! - **Batches.** The metadata is the same SQL ([`crate::sql::SqlMetadata`]) whether it runs
//!   on one database or on shards: each batch names its [`crate::sql::Route`] (the key or
//!   upload id it concerns), and a sharded [`crate::sql::SqlDatabase`] sends it to that shard,
//!   where it runs as one transaction: one round trip, as on D1. The few batches that concern
//!   every shard (the sweep's listings, a listing across namespaces) run in each shard the
//!   directory ([`registry`]) knows, and their rows are merged.

use sha2::{Digest, Sha256};

use crate::encoding::hex;

pub mod due;
#[cfg(feature = "sqlite")]
pub mod local;
pub mod registry;

/// The namespace of `key` (or of one of its stored names, which start with the key).
pub fn namespace(key: &str) -> &str {
    key.split_once('/').map_or(key, |(first, _)| first)
}

/// The shard that holds namespace `ns`.
pub fn shard_of_namespace(ns: &str) -> String {
    hex(&Sha256::digest(ns.as_bytes())[..8])
}

/// The shard that holds `key`.
pub fn shard_of(key: &str) -> String {
    shard_of_namespace(namespace(key))
}

/// An upload id for `key` made from `raw` that names the key's shard: `<shard>z<raw>` (`z`
/// is no hex digit; ids stay alphanumeric where `raw` is, as tus URLs need).
pub fn routed_id(key: &str, raw: &str) -> String {
    format!("{}z{raw}", shard_of(key))
}

/// The shard an id made by [`routed_id`] names; `None` for any other id.
pub fn shard_of_id(id: &str) -> Option<&str> {
    let shard = id.get(..16)?;
    let routed = id.get(16..17) == Some("z") && shard.bytes().all(|b| b.is_ascii_hexdigit());
    routed.then_some(shard)
}
