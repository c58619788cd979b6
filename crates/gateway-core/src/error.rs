//! The one error type of the gateway. Every failure leaves the Worker as an RFC 9457
//! problem document carrying an HTTP status, a stable machine-readable `code` and a
//! message that is safe to show. Internal detail (store messages, config values) is
//! kept in `internal` for the log and never serialised.

use serde::Serialize;

/// A failure with everything needed to answer the client and to log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub kind: ErrorKind,
    /// Safe, client-facing explanation.
    pub detail: String,
    /// Extra detail for the log only (never sent).
    pub internal: Option<String>,
    /// The status to answer with instead of the kind's: an approval hook's refusal passes its
    /// own 4xx through.
    pub status_override: Option<u16>,
    /// Members the problem document carries besides the standard ones (a quota refusal's
    /// usage and limit).
    pub extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

/// Declares `ErrorKind` and `ErrorKind::ALL` from one list, so `ALL` cannot miss a kind.
macro_rules! error_kinds {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// The stable catalogue of problem codes. Each variant's doc states its HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorKind {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$name,)*];
        }
    };
}

error_kinds! {
    /// 401: no bearer token.
    MissingToken,
    /// 401: malformed token, bad signature, wrong algorithm, unknown key, bad claims.
    InvalidToken,
    /// 401: the token's `exp` has passed (beyond the leeway) or its `nbf` is ahead.
    TokenExpired,
    /// 403: a valid token outside its scope, prefix or exact key.
    Forbidden,
    /// 403: a presigned gateway URL whose signature does not match its parameters.
    InvalidSignature,
    /// 403: a presigned gateway URL past its expiry.
    UrlExpired,
    /// 410: a presigned upload URL that was already used.
    UrlAlreadyUsed,
    /// 403: a form POST whose fields or file break a condition of its policy.
    PolicyConditionFailed,
    /// 400: the object key breaks the key rules.
    InvalidKey,
    /// 400: a malformed header, query parameter or body.
    BadRequest,
    /// 411: an upload without `Content-Length`.
    LengthRequired,
    /// 413: the declared length is over the applicable limit.
    PayloadTooLarge,
    /// 415: the content type is not allowed.
    UnsupportedMediaType,
    /// 412: a precondition (`If-None-Match: *`, `If-Match`) failed.
    PreconditionFailed,
    /// 416: the `Range` cannot be satisfied for this object.
    RangeNotSatisfiable,
    /// 400: the store refused the body because its checksum did not match.
    ChecksumMismatch,
    /// 400: the body ended before, or ran past, its declared `Content-Length`.
    IncompleteBody,
    /// 404: no such object or route.
    NotFound,
    /// 404: no such multipart upload for this key (never started, completed, aborted or expired).
    UploadNotFound,
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 409: a tus `PATCH` whose `Upload-Offset` is not the upload's (nothing changed).
    OffsetMismatch,
    /// 409: a multipart completion whose part list or size is not the parts the gateway
    /// acknowledged, or that comes while a part is still arriving (nothing assembled).
    PartsMismatch,
    /// 423: another request is writing to this tus upload right now; retry.
    UploadLocked,
    /// 429: the caller (or, without a token, the client address) sent more requests than
    /// its limit allows in the current period; retry after `Retry-After` seconds.
    RateLimited,
    /// 410: the tus upload expired before it was finished.
    UploadExpired,
    /// 403: the write would take its owner past the storage quota (usage and limit in the
    /// problem document).
    QuotaExceeded,
    /// 409: the version the key serves is quarantined until a scanner's verdict clears it.
    ScanPending,
    /// 403: the operator's approval hook refused the upload (answered with the hook's own 4xx,
    /// when it chose one).
    NotApproved,
    /// 503: the approval hook did not answer as it must (timeout, error, malformed answer).
    ApprovalUnavailable,
    /// 502: the storage backend failed.
    StorageError,
    /// 502: the storage backend refused the gateway's own credentials (detail only logged).
    StorageAuthFailed,
    /// 503: the storage backend is unreachable or asked to slow down.
    StorageUnavailable,
    /// 503: an identity provider's keys were never fetched and cannot be now.
    IssuerUnavailable,
    /// 500: the metadata database failed.
    DatabaseError,
    /// 500: a configuration value is missing or malformed.
    ConfigError,
    /// 500: anything else unexpected.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        use ErrorKind::*;
        match self {
            MissingToken | InvalidToken | TokenExpired => 401,
            Forbidden | InvalidSignature | UrlExpired => 403,
            UrlAlreadyUsed => 410,
            PolicyConditionFailed => 403,
            InvalidKey | BadRequest | ChecksumMismatch | IncompleteBody => 400,
            LengthRequired => 411,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            PreconditionFailed => 412,
            RangeNotSatisfiable => 416,
            NotFound | UploadNotFound => 404,
            MethodNotAllowed => 405,
            OffsetMismatch | PartsMismatch => 409,
            UploadLocked => 423,
            RateLimited => 429,
            UploadExpired => 410,
            NotApproved => 403,
            ScanPending => 409,
            QuotaExceeded => 403,
            ApprovalUnavailable => 503,
            StorageError | StorageAuthFailed => 502,
            StorageUnavailable | IssuerUnavailable => 503,
            DatabaseError | ConfigError | Internal => 500,
        }
    }

    pub fn code(self) -> &'static str {
        use ErrorKind::*;
        match self {
            MissingToken => "missing_token",
            InvalidToken => "invalid_token",
            TokenExpired => "token_expired",
            Forbidden => "forbidden",
            InvalidSignature => "invalid_signature",
            UrlExpired => "url_expired",
            UrlAlreadyUsed => "url_already_used",
            PolicyConditionFailed => "policy_condition_failed",
            InvalidKey => "invalid_key",
            BadRequest => "bad_request",
            LengthRequired => "length_required",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            PreconditionFailed => "precondition_failed",
            RangeNotSatisfiable => "range_not_satisfiable",
            ChecksumMismatch => "checksum_mismatch",
            IncompleteBody => "incomplete_body",
            NotFound => "not_found",
            UploadNotFound => "upload_not_found",
            MethodNotAllowed => "method_not_allowed",
            OffsetMismatch => "offset_mismatch",
            PartsMismatch => "parts_mismatch",
            UploadLocked => "upload_locked",
            RateLimited => "rate_limited",
            UploadExpired => "upload_expired",
            NotApproved => "upload_not_approved",
            ScanPending => "scan_pending",
            QuotaExceeded => "quota_exceeded",
            ApprovalUnavailable => "approval_unavailable",
            StorageError | StorageUnavailable => "storage_error",
            StorageAuthFailed => "storage_auth_failed",
            IssuerUnavailable => "issuer_unavailable",
            DatabaseError => "database_error",
            ConfigError => "config_error",
            Internal => "internal_error",
        }
    }

    pub fn title(self) -> &'static str {
        use ErrorKind::*;
        match self {
            MissingToken => "Authentication required",
            InvalidToken => "Invalid token",
            TokenExpired => "Token expired",
            Forbidden => "Forbidden",
            InvalidSignature => "Invalid signature",
            UrlExpired => "URL expired",
            UrlAlreadyUsed => "URL already used",
            PolicyConditionFailed => "Policy condition failed",
            InvalidKey => "Invalid object key",
            BadRequest => "Bad request",
            LengthRequired => "Length required",
            PayloadTooLarge => "Payload too large",
            UnsupportedMediaType => "Unsupported media type",
            PreconditionFailed => "Precondition failed",
            RangeNotSatisfiable => "Range not satisfiable",
            ChecksumMismatch => "Checksum mismatch",
            IncompleteBody => "Incomplete body",
            NotFound => "Not found",
            UploadNotFound => "Upload not found",
            MethodNotAllowed => "Method not allowed",
            OffsetMismatch => "Offset mismatch",
            PartsMismatch => "Parts mismatch",
            UploadLocked => "Upload locked",
            RateLimited => "Too many requests",
            UploadExpired => "Upload expired",
            NotApproved => "Upload not approved",
            ScanPending => "Scan pending",
            QuotaExceeded => "Quota exceeded",
            ApprovalUnavailable => "Approval unavailable",
            StorageError => "Storage error",
            StorageAuthFailed => "Storage authentication failed",
            StorageUnavailable => "Storage unavailable",
            IssuerUnavailable => "Identity provider unavailable",
            DatabaseError => "Database error",
            ConfigError => "Configuration error",
            Internal => "Internal error",
        }
    }
}

impl GatewayError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), internal: None, status_override: None, extensions: None }
    }

    /// The same error with the members of `extra` (an object) in its problem document.
    pub fn with_extensions(self, extra: serde_json::Value) -> Self {
        match extra {
            serde_json::Value::Object(map) => Self { extensions: Some(Box::new(map)), ..self },
            _ => self,
        }
    }

    /// The same error answered with `status` (a 4xx the approval hook chose).
    pub fn with_status(self, status: u16) -> Self {
        Self { status_override: Some(status), ..self }
    }

    /// An error whose cause must be logged but not shown: the client sees only `detail`.
    pub fn hidden(kind: ErrorKind, detail: impl Into<String>, internal: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), internal: Some(internal.into()), status_override: None, extensions: None }
    }

    pub fn status(&self) -> u16 {
        self.status_override.unwrap_or_else(|| self.kind.status())
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The RFC 9457 document sent to the client.
    pub fn problem(&self) -> Problem {
        Problem {
            r#type: format!("https://upload-gateway.dev/problems/{}", self.code().replace('_', "-")),
            title: self.kind.title(),
            status: self.status(),
            detail: self.detail.clone(),
            code: self.code(),
            request_id: None,
            extensions: self.extensions.as_deref().cloned(),
        }
    }

    /// The problem document of a request with id `request_id`, which the log lines carry too.
    pub fn problem_for(&self, request_id: &str) -> Problem {
        Problem { request_id: Some(request_id.to_owned()), ..self.problem() }
    }

    /// One line for the log: code, safe detail and the internal cause when there is one.
    pub fn log_line(&self) -> String {
        match &self.internal {
            Some(cause) => format!("{} {}: {} ({cause})", self.status(), self.code(), self.detail),
            None => format!("{} {}: {}", self.status(), self.code(), self.detail),
        }
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail)
    }
}

impl std::error::Error for GatewayError {}

/// `application/problem+json` body.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub r#type: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    /// The request's id, as in its `X-Request-Id` and its log lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extension members (RFC 9457 §3.2), such as a quota refusal's `usage` and `limit`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
