//! A body that records being read, and a store that takes it: for tests that a refusal was
//! decided before the body. Every call goes to the memory store except the two that would
//! read an upload body (`put`, `upload_part`), which mark the body read and fail.

use std::cell::Cell;
use std::rc::Rc;

use super::MemoryStore;
use crate::conditional::ReadConditions;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::form::parse::FormFile;
use crate::key::StoredName;
use crate::multipart::rules::Part;
use crate::range::ByteRangeSpec;
use crate::store::{Compose, GetResult, Multipart, ObjectMeta, Objects, PutObject, PutPart};

/// An upload body whose bytes nobody may see. `read` becomes `true` once a store takes it.
#[derive(Debug, Clone, Default)]
pub struct UnreadBody {
    pub read: Rc<Cell<bool>>,
}

/// The memory store, taking [`UnreadBody`] uploads.
pub struct BodyGuard<'a>(pub &'a MemoryStore);

fn read(body: Option<UnreadBody>) -> GatewayError {
    if let Some(body) = body {
        body.read.set(true);
    }
    GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", "the body was read")
}

impl Objects for BodyGuard<'_> {
    type Body = UnreadBody;
    type Stream = Vec<u8>;

    async fn put(&self, req: PutObject<UnreadBody>) -> Result<ObjectMeta> {
        Err(read(req.body))
    }

    async fn get(
        &self,
        name: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<Vec<u8>>> {
        self.0.get(name, range, conditions).await
    }

    async fn head(&self, name: &StoredName) -> Result<Option<ObjectMeta>> {
        self.0.head(name).await
    }

    async fn delete(&self, name: &StoredName) -> Result<()> {
        self.0.delete(name).await
    }

    async fn read_prefix(&self, name: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        self.0.read_prefix(name, n).await
    }
}

impl Multipart for BodyGuard<'_> {
    async fn create_multipart(&self, name: &StoredName, content_type: &str) -> Result<String> {
        self.0.create_multipart(name, content_type).await
    }

    async fn upload_part(&self, part: PutPart<UnreadBody>) -> Result<String> {
        Err(read(part.body))
    }

    async fn complete_multipart(&self, name: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        self.0.complete_multipart(name, upload_id, parts).await
    }

    async fn abort_multipart(&self, name: &StoredName, upload_id: &str) -> Result<()> {
        self.0.abort_multipart(name, upload_id).await
    }

    async fn list_parts(&self, name: &StoredName, upload_id: &str) -> Result<Vec<Part>> {
        self.0.list_parts(name, upload_id).await
    }
}

impl Compose for BodyGuard<'_> {
    /// A composed body comes from the store, not the request: a fresh one.
    async fn compose(&self, _pieces: &[crate::tus::plan::Piece], _length: u64) -> Result<UnreadBody> {
        Ok(UnreadBody::default())
    }

    /// Reading a body whole reads it.
    async fn buffer(&self, body: UnreadBody, _length: u64, _prefix: usize) -> Result<(UnreadBody, Vec<u8>)> {
        body.read.set(true);
        Ok((body, Vec::new()))
    }

    /// A form's fields are in its body: reading them reads it.
    async fn form(&self, body: UnreadBody, _boundary: &str, _total: u64) -> Result<FormFile<UnreadBody>> {
        Err(read(Some(body)))
    }
}
