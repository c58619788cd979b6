//! What a storage backend can do, one small trait per capability: [`Objects`] (every backend),
//! [`Multipart`] (every backend today) and [`Presign`] (only stores a client can reach
//! directly: S3; the R2 binding has no URLs and does not implement it). Bodies are opaque to
//! the core: the edge hands a store the request's own stream (`Body`) and gets back the
//! store's stream (`Stream`) for downloads, so bytes move past the core without being read
//! by it. Stores map their native failures to [`GatewayError`]s (`checksum_mismatch`,
//! `incomplete_body`, `storage_error`; [`body_cut_off`] for an upload stream that broke).
//! Stores see only [`StoredName`]s: each write has a name of its own, and which one a key
//! serves is the metadata database's business.

use crate::conditional::ReadConditions;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::form::parse::FormFile;
use crate::key::StoredName;
use crate::multipart::rules::Part;
use crate::range::{ByteRangeSpec, ResolvedRange};

/// A single-request upload, fully checked before the store sees it.
pub struct PutObject<B> {
    pub name: StoredName,
    /// The request body; `None` for an empty body.
    pub body: Option<B>,
    /// The declared `Content-Length`; the store must end in an error if the body differs.
    pub length: u64,
    pub content_type: String,
    /// `Content-MD5`, to be enforced by the store.
    pub md5: Option<[u8; 16]>,
    /// `x-amz-checksum-sha256`, to be enforced by the store.
    pub sha256: Option<[u8; 32]>,
}

/// One part of a multipart upload, checked before the store sees it.
pub struct PutPart<B> {
    pub name: StoredName,
    /// The store's own id for the multipart upload.
    pub upload_id: String,
    pub number: u16,
    /// The request body; `None` for an empty body.
    pub body: Option<B>,
    /// The declared `Content-Length`; the store must end in an error if the body differs.
    pub length: u64,
}

/// What the store says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    /// The HTTP entity tag, quoted.
    pub etag: String,
    /// Upload time, milliseconds since the Unix epoch.
    pub uploaded_ms: i64,
    pub content_type: Option<String>,
}

/// The outcome of a get.
pub enum GetResult<S> {
    Missing,
    /// The read preconditions failed; the store sent no body.
    ConditionFailed(ObjectMeta),
    /// The requested range lies outside the object (whose size the caller knows from its row).
    Unsatisfiable,
    Found {
        meta: ObjectMeta,
        /// The served range, when a range was requested.
        range: Option<ResolvedRange>,
        body: S,
    },
}

/// Objects: every backend. No `Send` bound: JS handles are not `Send`.
#[allow(async_fn_in_trait)]
pub trait Objects {
    /// An upload body as the edge receives it.
    type Body;
    /// A download body as the edge returns it.
    type Stream;

    /// Stores the body under its name. An error means the outcome is unknown unless the store
    /// definitely refused (the caller deletes the name either way).
    async fn put(&self, req: PutObject<Self::Body>) -> Result<ObjectMeta>;
    async fn get(
        &self,
        name: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<Self::Stream>>;
    async fn head(&self, name: &StoredName) -> Result<Option<ObjectMeta>>;
    /// Deletes the object; deleting a missing one is not an error.
    async fn delete(&self, name: &StoredName) -> Result<()>;
    /// Up to `n` leading bytes of an object (for content sniffing); `None` if it is gone.
    async fn read_prefix(&self, name: &StoredName, n: usize) -> Result<Option<Vec<u8>>>;
}

/// Multipart uploads: parts streamed one request each, assembled under one stored name.
#[allow(async_fn_in_trait)]
pub trait Multipart: Objects {
    /// Starts a multipart upload that will be assembled under `name`; returns the store's id.
    async fn create_multipart(&self, name: &StoredName, content_type: &str) -> Result<String>;
    /// Stores one part, streamed like a put; returns the part's ETag as the store gave it.
    async fn upload_part(&self, part: PutPart<Self::Body>) -> Result<String>;
    /// Assembles `parts` (in order) into the object. An unknown upload is `upload_not_found`.
    async fn complete_multipart(&self, name: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta>;
    /// Discards the upload and its parts. An upload that no longer exists is not an error.
    async fn abort_multipart(&self, name: &StoredName, upload_id: &str) -> Result<()>;
    /// The parts the store holds for the upload, by number: what a client sent to the store
    /// itself, with URLs the store signed. An ETag the store does not list is empty. An
    /// unknown upload is `upload_not_found`.
    async fn list_parts(&self, name: &StoredName, upload_id: &str) -> Result<Vec<Part>>;
}

/// Bodies made inside the runtime: composed from ranges of stored objects (how the tus store
/// turns staged chunks into parts), or a small upload read whole. Either way the bytes stay in
/// the runtime's memory, not the gateway's.
#[allow(async_fn_in_trait)]
pub trait Compose: Objects {
    /// An upload body of `length` bytes: the pieces' bytes in order, read as it is sent.
    async fn compose(&self, pieces: &[crate::tus::plan::Piece], length: u64) -> Result<Self::Body>;
    /// Reads a small upload body of `length` declared bytes whole; returns a body of the same
    /// bytes, of known length, to store, and its first `prefix` bytes (to sniff). A body that
    /// ends early or runs long is `incomplete_body`.
    async fn buffer(&self, body: Self::Body, length: u64, prefix: usize) -> Result<(Self::Body, Vec<u8>)>;
    /// A form POST's body of `total` bytes ([`crate::form`]): reads the fields before the file
    /// ([`crate::form::parse::read_head`]) and answers them with the file's bytes as a body of
    /// known length, passed on as they arrive while [`crate::form::parse::FileScan`] checks
    /// the rest of the form. The file's last byte waits until the form's ending is checked, so
    /// a malformed form never completes a store write; a form whose file is empty is checked
    /// whole before this answers.
    async fn form(&self, body: Self::Body, boundary: &str, total: u64) -> Result<FormFile<Self::Body>>;
}

/// One URL a client uses at the store itself, without the gateway in the path.
pub struct DirectUrl<'a> {
    pub method: &'static str,
    pub name: &'a StoredName,
    /// Headers the client must send exactly as given; the signature covers them.
    pub signed_headers: &'a [(String, String)],
    /// Query pairs the signature covers (such as `response-content-disposition`).
    pub query: &'a [(&'a str, String)],
    pub expires_in_s: u64,
}

/// Presigned URLs: a store clients can reach directly. Pure signing, no I/O.
pub trait Presign {
    /// The URL for `url`, valid from `now_ms` for its lifetime.
    fn presign(&self, url: &DirectUrl<'_>, now_ms: i64) -> Result<String>;
}

/// The refusal of a body whose size is not its declared `Content-Length` (the store took more
/// or fewer bytes, or reading it whole found another size).
pub fn length_mismatch() -> GatewayError {
    GatewayError::new(ErrorKind::IncompleteBody, "the body did not match its Content-Length")
}

/// What a backend knows when the stream of an upload body to it broke before it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutOff {
    /// The runtime reported the request body itself failing: the client's stream ended early.
    ClientBody,
    /// The store's answer never came. The runtime reports the store dropping the connection
    /// and the client's body ending early alike, so whose fault it was is unknown.
    NoAnswer,
}

/// The one rule for an upload whose body stream broke, on every backend: the client's own
/// stream failing is its fault (`400 incomplete_body`, sending more of it is pointless); an
/// answer that never came is a retryable `503`, because blaming the client would stop a
/// correct client from retrying a store fault, and one that cut its body short is gone or
/// knows why.
pub fn body_cut_off(cause: CutOff, internal: impl Into<String>) -> GatewayError {
    match cause {
        CutOff::ClientBody => {
            GatewayError::hidden(ErrorKind::IncompleteBody, "the body ended before its Content-Length", internal)
        }
        CutOff::NoAnswer => GatewayError::hidden(
            ErrorKind::StorageUnavailable,
            "the upload was cut off before the storage backend confirmed it; send it again",
            internal,
        ),
    }
}
