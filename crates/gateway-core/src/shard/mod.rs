//! Metadata sharded over many SQLite databases (Durable Objects at the edge), each holding
//! every row of the keys of its namespaces, so each decision is one call to one database.
//!
//! - **Shard key.** A key's namespace is its first path segment (the owner under the default
//!   `{sub}/` prefix; the whole key if it has no `/`), or deeper for a namespace split by
//!   [`Layout`]. Everything that must be atomic with a
//!   key lives in its namespace's shard: its row and replaced versions, its journal entries,
//!   its multipart and tus sessions, its presigned uploads and spent nonces, and the outbox
//!   rows of its events. Shards share nothing, so no operation spans two of them; a split of
//!   a namespace that holds keys moves each key whole, in one step ([`moving`]).
//! - **Shard names.** A shard key's shard is named by [`shard_of_namespace`], 16 hex digits of
//!   its SHA-256. Multipart and tus ids carry the name ([`Layout::routed_id`]), so a request
//!   that names only an upload id reaches the right shard.
//! - **Batches.** The metadata is the same SQL ([`crate::sql::SqlMetadata`]) whether it runs
//!   on one database or on shards: each batch names its [`crate::sql::Route`] (the key or
//!   upload id it concerns), and a sharded [`crate::sql::SqlDatabase`] sends it to that shard,
//!   where it runs as one transaction: one round trip, as on D1. The few batches that concern
//!   every shard (the sweep's listings, a listing across namespaces) run in each shard the
//!   directory ([`registry`]) knows, and their rows are merged. A shard answers a batch for
//!   something a split moved away with where it went, and the batch follows it.

use sha2::{Digest, Sha256};

use crate::encoding::hex;
use crate::sql::Route;

pub mod due;
pub mod ledger;
#[cfg(feature = "sqlite")]
pub mod local;
pub mod moving;
pub mod registry;

/// How many times a batch follows what it concerns to the shard it moved to.
pub const MAX_HOPS: usize = 3;

/// The shard that holds shard key (namespace) `ns`.
pub fn shard_of_namespace(ns: &str) -> String {
    hex(&Sha256::digest(ns.as_bytes())[..8])
}

/// Which shard holds each key (`METADATA_SPLIT`). A key's shard key is its first path segment,
/// its namespace; a shard key listed in `split` is extended by the key's next segment, and so
/// on, so a split namespace's second segments each get a shard of their own (a key directly
/// under it, with no further `/`, is its own shard key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    split: Vec<String>,
}

/// Where a batch goes, by [`Layout::targets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// These shards.
    Shards(Vec<Target>),
    /// The shards of the directory's shard keys that start with this prefix.
    Directory(String),
}

/// One shard a batch goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub shard: String,
    /// The shard key to register there, if the batch names one.
    pub namespace: Option<String>,
    /// The keys of the batch this shard holds.
    pub keys: Vec<String>,
}

impl Target {
    /// Shard `shard`, for a batch that names no key there.
    pub fn of(shard: String) -> Target {
        Target { shard, namespace: None, keys: Vec::new() }
    }
}

/// What a batch with `route` concerns in shard `target` of `targets`, for a move under way
/// ([`moving`]).
pub fn concerns<'a>(route: &Route<'a>, target: &'a Target, targets_directory: bool) -> moving::Concerns<'a> {
    moving::Concerns {
        keys: &target.keys,
        id: match route {
            Route::Id(id) => Some(id),
            _ => None,
        },
        listing: match route {
            Route::Under(p) | Route::Prefix(p) => Some((p, !targets_directory)),
            _ => None,
        },
    }
}

impl Layout {
    /// Split shard keys, each without a leading or trailing `/`.
    pub fn new(split: Vec<String>) -> Layout {
        Layout { split }
    }

    /// The split shard keys.
    pub fn split(&self) -> &[String] {
        &self.split
    }

    /// The shard key of `key` (or of a stored name of it, which starts with the key).
    pub fn shard_key<'k>(&self, key: &'k str) -> &'k str {
        let next = |from: usize| key.get(from..).and_then(|rest| rest.find('/')).map_or(key.len(), |i| from + i);
        let mut end = next(0);
        while end < key.len() && self.split.iter().any(|s| key.get(..end) == Some(s.as_str())) {
            end = next(end + 1);
        }
        key.get(..end).unwrap_or(key)
    }

    /// The shard that holds `key`.
    pub fn shard_of(&self, key: &str) -> String {
        shard_of_namespace(self.shard_key(key))
    }

    /// The shard key every key that starts with `prefix` has, if they all have one: the prefix
    /// runs past the end of its own shard key.
    pub fn pinned<'p>(&self, prefix: &'p str) -> Option<&'p str> {
        let key = self.shard_key(prefix);
        (key.len() < prefix.len()).then_some(key)
    }

    /// The home of `owner`'s quota ledger ([`Route::Owner`]) where it is not `key`'s shard.
    pub fn home_apart(&self, key: &str, owner: &str) -> Option<String> {
        let home = shard_of_namespace(owner);
        (self.shard_of(key) != home).then_some(home)
    }

    /// The owner's home shard where a batch for upload `id` may run in another: where `id`
    /// names another shard, or where the owner's namespace was split (an id made before the
    /// split is handed on to the shard its key moved to).
    pub fn home_apart_id(&self, id: &str, owner: &str) -> Option<String> {
        let home = shard_of_namespace(owner);
        let split = self.split.iter().any(|s| s == owner || s.strip_prefix(owner).is_some_and(|r| r.starts_with('/')));
        (split || shard_of_id(id) != Some(home.as_str())).then_some(home)
    }

    /// An upload id for `key` made from `raw` that names the key's shard: `<shard>z<raw>` (`z`
    /// is no hex digit; ids stay alphanumeric where `raw` is, as tus URLs need).
    pub fn routed_id(&self, key: &str, raw: &str) -> String {
        format!("{}z{raw}", self.shard_of(key))
    }

    /// Where a batch with `route` goes.
    pub fn targets(&self, route: &Route<'_>) -> Targets {
        let at = |key: &str| Target {
            shard: self.shard_of(key),
            namespace: Some(self.shard_key(key).to_owned()),
            keys: vec![key.to_owned()],
        };
        match route {
            Route::Key(key) => Targets::Shards(vec![at(key)]),
            Route::Keys(keys) => {
                let mut shards: Vec<Target> = Vec::new();
                for key in keys {
                    let t = at(key);
                    match shards.iter_mut().find(|s| s.shard == t.shard) {
                        Some(s) => s.keys.extend(t.keys),
                        None => shards.push(t),
                    }
                }
                shards.sort_by(|a, b| a.shard.cmp(&b.shard));
                Targets::Shards(shards)
            }
            Route::Id(id) => Targets::Shards(shard_of_id(id).map(|s| Target::of(s.to_owned())).into_iter().collect()),
            // A listing of one shard key registers it as a write would: its shard may have keys
            // to take in from a namespace it was split from.
            Route::Under(prefix) => match self.pinned(prefix) {
                Some(key) => Targets::Shards(vec![Target {
                    shard: shard_of_namespace(key),
                    namespace: Some(key.to_owned()),
                    keys: Vec::new(),
                }]),
                None => Targets::Directory((*prefix).to_owned()),
            },
            Route::Prefix(prefix) => Targets::Directory((*prefix).to_owned()),
            Route::Owner(owner) => Targets::Shards(vec![Target::of(shard_of_namespace(owner))]),
            Route::Here => Targets::Shards(Vec::new()),
        }
    }
}

/// The shard an id made by [`routed_id`] names; `None` for any other id.
pub fn shard_of_id(id: &str) -> Option<&str> {
    let shard = id.get(..16)?;
    let routed = id.get(16..17) == Some("z") && shard.bytes().all(|b| b.is_ascii_hexdigit());
    routed.then_some(shard)
}
