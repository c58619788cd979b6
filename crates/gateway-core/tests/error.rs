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

#[test]
fn every_client_error_kind_is_4xx_and_codes_are_unique() {
    use ErrorKind::*;
    let all = [
        MissingToken,
        InvalidToken,
        TokenExpired,
        Forbidden,
        InvalidKey,
        BadRequest,
        LengthRequired,
        PayloadTooLarge,
        UnsupportedMediaType,
        PreconditionFailed,
        RangeNotSatisfiable,
        ChecksumMismatch,
        IncompleteBody,
        NotFound,
        MethodNotAllowed,
        StorageError,
        DatabaseError,
        ConfigError,
        Internal,
    ];
    let mut codes: Vec<_> = all.iter().map(|k| k.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    for k in &all[..15] {
        assert!((400..500).contains(&k.status()), "{k:?}");
    }
    for k in &all[15..] {
        assert!(k.status() >= 500, "{k:?}");
    }
}
