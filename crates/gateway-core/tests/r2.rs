//! The R2 binding reports failures only as error messages; these are the messages workerd's
//! R2 simulator and R2 itself give, and what the gateway makes of each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::ErrorKind;
use gateway_core::r2::classify;

#[test]
fn a_bad_digest_is_checksum_mismatch_in_either_wording() {
    let coded = "put: The Content-MD5 you specified did not match what we received. (10037)";
    assert_eq!(classify("put", coded).kind, ErrorKind::ChecksumMismatch);
    let sha = "put: The SHA-256 checksum you specified did not match what we received.";
    assert_eq!(classify("put", sha).kind, ErrorKind::ChecksumMismatch);
}

#[test]
fn multipart_refusals_name_the_upload_or_the_parts() {
    assert_eq!(
        classify("upload part", "uploadPart: The specified multipart upload does not exist. (10024)").kind,
        ErrorKind::UploadNotFound
    );
    let part =
        classify("complete multipart", "complete: One or more of the specified parts could not be found. (10025)");
    assert_eq!((part.kind, part.status()), (ErrorKind::BadRequest, 400));
    assert!(part.detail.contains("resend them"), "{part}");
    let small = classify(
        "complete multipart",
        "complete: Your proposed upload is smaller than the minimum allowed object size. (10011)",
    );
    assert_eq!(small.kind, ErrorKind::BadRequest);
}

#[test]
fn an_invalid_range_is_range_not_satisfiable() {
    assert_eq!(
        classify("get", "get: The requested range is not satisfiable (10039)").kind,
        ErrorKind::RangeNotSatisfiable
    );
}

#[test]
fn the_request_body_failing_under_an_upload_is_the_clients_incomplete_body() {
    for op in ["put", "upload part"] {
        let err = classify(op, "Network connection lost.");
        assert_eq!((err.kind, err.status()), (ErrorKind::IncompleteBody, 400), "{op}");
    }
    // The same words on a call with no request body are the store's failure.
    assert_eq!(classify("get", "Network connection lost.").kind, ErrorKind::StorageError);
}

#[test]
fn anything_else_is_a_storage_error_that_keeps_the_message_for_the_log_only() {
    let err = classify("head", "internal error (10001)");
    assert_eq!((err.kind, err.status()), (ErrorKind::StorageError, 502));
    assert!(!err.detail.contains("10001"), "{err}");
    assert_eq!(err.internal.as_deref(), Some("R2 head: internal error (10001)"));
}
