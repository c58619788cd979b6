//! The object-store interface every backend implements. Bodies are opaque to the core: the
//! edge hands a store the request's own stream (`Body`) and gets back the store's stream
//! (`Stream`) for downloads, so bytes move past the core without being read by it.
//! Stores map their native failures to [`GatewayError`]s (`checksum_mismatch`,
//! `incomplete_body`, `storage_error`). Stores see only [`StoredName`]s: each write has a name
//! of its own, and which one a key serves is the metadata database's business.

use crate::conditional::ReadConditions;
use crate::error::Result;
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
    /// The requested range lies outside an object of `size` bytes.
    Unsatisfiable {
        size: u64,
    },
    Found {
        meta: ObjectMeta,
        /// The served range, when a range was requested.
        range: Option<ResolvedRange>,
        body: S,
    },
}

/// One storage backend. No `Send` bound: JS handles are not `Send`.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
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

    /// Starts a multipart upload that will be assembled under `name`; returns the store's id.
    async fn create_multipart(&self, name: &StoredName, content_type: &str) -> Result<String>;
    /// Stores one part, streamed like a put; returns the part's ETag as the store gave it.
    async fn upload_part(&self, part: PutPart<Self::Body>) -> Result<String>;
    /// Assembles `parts` (in order) into the object. An unknown upload is `upload_not_found`.
    async fn complete_multipart(&self, name: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta>;
    /// Discards the upload and its parts. An upload that no longer exists is not an error.
    async fn abort_multipart(&self, name: &StoredName, upload_id: &str) -> Result<()>;
}
