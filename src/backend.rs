//! The configured storage backend, so the request path is written once for both: the R2
//! binding or the core's S3 store over `fetch`. Each capability is forwarded to the backend
//! that has it; only S3 can presign.

use gateway_core::conditional::ReadConditions;
use gateway_core::config::{Config, Storage};
use gateway_core::error::Result;
use gateway_core::key::StoredName;
use gateway_core::multipart::Part;
use gateway_core::range::ByteRangeSpec;
use gateway_core::s3::S3Store;
use gateway_core::store::{GetResult, Multipart, ObjectMeta, Objects, Presign, PutObject, PutPart};
use web_sys::ReadableStream;
use worker::Env;

use crate::fetch::FetchExecutor;
use crate::r2::R2Store;

pub enum Backend {
    R2(R2Store),
    S3(S3Store<FetchExecutor>),
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl Backend {
    pub fn from_env(env: &Env, cfg: &Config) -> Result<Backend> {
        match &cfg.storage {
            Storage::R2 => Ok(Backend::R2(R2Store::from_env(env)?)),
            Storage::S3(s3) => Ok(Backend::S3(S3Store::new(s3.clone(), FetchExecutor, now_ms))),
        }
    }

    /// The backend's presigning, where it has one.
    pub fn presigner(&self) -> Option<&dyn Presign> {
        match self {
            Backend::R2(_) => None,
            Backend::S3(s) => Some(s),
        }
    }
}

/// Calls `$call` on whichever store the backend is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::R2($s) => $call,
            Backend::S3($s) => $call,
        }
    };
}

impl Objects for Backend {
    type Body = ReadableStream;
    type Stream = ReadableStream;

    async fn put(&self, req: PutObject<ReadableStream>) -> Result<ObjectMeta> {
        each!(self, s => s.put(req).await)
    }

    async fn get(
        &self,
        name: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<ReadableStream>> {
        each!(self, s => s.get(name, range, conditions).await)
    }

    async fn head(&self, name: &StoredName) -> Result<Option<ObjectMeta>> {
        each!(self, s => s.head(name).await)
    }

    async fn delete(&self, name: &StoredName) -> Result<()> {
        each!(self, s => s.delete(name).await)
    }

    async fn read_prefix(&self, name: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        each!(self, s => s.read_prefix(name, n).await)
    }
}

impl Multipart for Backend {
    async fn create_multipart(&self, name: &StoredName, content_type: &str) -> Result<String> {
        each!(self, s => s.create_multipart(name, content_type).await)
    }

    async fn upload_part(&self, part: PutPart<ReadableStream>) -> Result<String> {
        each!(self, s => s.upload_part(part).await)
    }

    async fn complete_multipart(&self, name: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        each!(self, s => s.complete_multipart(name, upload_id, parts).await)
    }

    async fn abort_multipart(&self, name: &StoredName, upload_id: &str) -> Result<()> {
        each!(self, s => s.abort_multipart(name, upload_id).await)
    }

    async fn list_parts(&self, name: &StoredName, upload_id: &str) -> Result<Vec<Part>> {
        each!(self, s => s.list_parts(name, upload_id).await)
    }
}
