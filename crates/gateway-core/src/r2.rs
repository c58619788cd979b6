//! What the R2 binding's failures mean. The binding reports a failure only as a thrown error
//! whose message ends in R2's numeric code (`… (10037)`) or, for the request body's own stream
//! failing, a runtime message; this module turns that message into a gateway error, so the
//! edge's R2 store only calls the binding and converts types.

use crate::error::{ErrorKind, GatewayError};
use crate::store::{body_cut_off, CutOff};

/// R2's numeric error codes, as they appear at the end of a binding error's message.
const BAD_DIGEST: &str = "(10037)";
const INVALID_RANGE: &str = "(10039)";
const ENTITY_TOO_SMALL: &str = "(10011)";
const NO_SUCH_UPLOAD: &str = "(10024)";
const INVALID_PART: &str = "(10025)";

/// The gateway error for the R2 binding failing `op` with `message`. Operations that stream
/// an upload body (`put`, `upload part`) treat the runtime's "Network connection lost" as the
/// client's body ending early ([`CutOff::ClientBody`]): the binding reads the request stream
/// itself, and its own faults carry an R2 code.
pub fn classify(op: &str, message: &str) -> GatewayError {
    if message.contains(BAD_DIGEST) || message.contains("did not match what we received") {
        return GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match the checksum sent with it");
    }
    if message.contains(NO_SUCH_UPLOAD) {
        return GatewayError::new(ErrorKind::UploadNotFound, "the store no longer has this multipart upload");
    }
    if message.contains(INVALID_PART) || message.contains(ENTITY_TOO_SMALL) {
        return GatewayError::hidden(
            ErrorKind::BadRequest,
            "the store refused the parts; resend them and complete again",
            message,
        );
    }
    if message.contains(INVALID_RANGE) {
        return GatewayError::hidden(ErrorKind::RangeNotSatisfiable, "the range is not satisfiable", message);
    }
    if matches!(op, "put" | "upload part") && message.contains("Network connection lost") {
        return body_cut_off(CutOff::ClientBody, message);
    }
    GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", format!("R2 {op}: {message}"))
}
