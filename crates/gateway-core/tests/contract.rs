//! The store and metadata contracts against the in-memory fakes. The same cases run against
//! the R2 binding, the S3 store and D1 inside the built Worker (`tests/contract.test.mjs`), so
//! a fake that passes here behaves like the backends the request logic will meet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_executor::block_on;
use gateway_core::contract;
use gateway_core::testing::{MemoryMetadata, MemoryStore};

fn failures(outcomes: Vec<contract::Outcome>) -> Vec<String> {
    outcomes.into_iter().filter_map(|o| o.failure.map(|f| format!("{}: {f}", o.case))).collect()
}

#[test]
fn the_memory_store_keeps_the_store_contract() {
    let failed = failures(block_on(contract::store(&MemoryStore::default())));
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn the_memory_metadata_keeps_the_metadata_contract() {
    let failed = failures(block_on(contract::metadata(&MemoryMetadata::default())));
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn the_contracts_have_every_case_they_name() {
    // A case list that silently shrank would pass vacuously.
    assert_eq!(block_on(contract::store(&MemoryStore::default())).len(), 15);
    assert_eq!(block_on(contract::metadata(&MemoryMetadata::default())).len(), 40);
}
