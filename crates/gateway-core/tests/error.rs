//! The problem documents clients see: stable codes, right statuses, no leaked internals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::*;

#[test]
fn problem_document_hides_the_internal_cause() {
    let err = GatewayError::hidden(
        ErrorKind::StorageError,
        "the storage backend failed",
        "R2 put: secret-bucket-name exploded",
    );
    let json = serde_json::to_string(&err.problem()).unwrap();
    assert!(!json.contains("secret-bucket-name"));
    assert!(err.log_line().contains("secret-bucket-name"));
    assert_eq!(err.status(), 502);
}

#[test]
fn problem_document_has_rfc9457_members_and_code() {
    let err = GatewayError::new(ErrorKind::PayloadTooLarge, "over 10 bytes");
    let v = serde_json::to_value(err.problem()).unwrap();
    assert_eq!(v["status"], 413);
    assert_eq!(v["code"], "payload_too_large");
    assert_eq!(v["title"], "Payload too large");
    assert_eq!(v["detail"], "over 10 bytes");
    assert!(v["type"].as_str().unwrap().ends_with("/payload-too-large"));
}

/// The variants of `ErrorKind` as written in the source, with the status each doc comment
/// states (`/// 401: …`): the list the tests check is generated, not typed.
fn declared_kinds() -> Vec<(String, u16)> {
    let source = include_str!("../src/error.rs");
    let body = source.split("error_kinds! {").nth(1).unwrap().split("\n}").next().unwrap();
    let mut kinds = Vec::new();
    let mut status = None;
    for line in body.lines().map(str::trim) {
        if let Some(doc) = line.strip_prefix("/// ") {
            status = status.or_else(|| doc.split(':').next().and_then(|s| s.parse::<u16>().ok()));
        } else if let Some(name) = line.strip_suffix(',') {
            kinds.push((name.to_owned(), status.take().expect("each variant's doc states its status")));
        }
    }
    kinds
}

#[test]
fn every_error_kind_has_the_status_its_doc_states_and_a_code_of_its_own() {
    let declared = declared_kinds();
    let all: Vec<String> = ErrorKind::ALL.iter().map(|k| format!("{k:?}")).collect();
    assert_eq!(all, declared.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), "ErrorKind::ALL lists every variant");
    for (kind, (name, status)) in ErrorKind::ALL.iter().zip(&declared) {
        assert_eq!(kind.status(), *status, "{name}");
        assert!(!kind.code().is_empty() && kind.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
    }
    // One code per kind, except that an unreachable store (503) and a failing one (502) are
    // both `storage_error`: clients treat them alike, and the status tells them apart.
    let mut codes: Vec<(&str, u16)> = ErrorKind::ALL.iter().map(|k| (k.code(), k.status())).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ErrorKind::ALL.len());
    let shared: Vec<_> = ErrorKind::ALL.iter().filter(|k| k.code() == "storage_error").collect();
    assert_eq!(shared, [&ErrorKind::StorageError, &ErrorKind::StorageUnavailable]);
}
