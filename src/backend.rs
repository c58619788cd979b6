//! The configured storage backend as one [`ObjectStore`], so the request path is written once
//! for both: the R2 binding or an S3-compatible store.

use gateway_core::conditional::ReadConditions;
use gateway_core::config::{Config, StorageKind};
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::key::StoredName;
use gateway_core::multipart::Part;
use gateway_core::range::ByteRangeSpec;
use gateway_core::store::{GetResult, ObjectMeta, ObjectStore, PutObject, PutPart};
use web_sys::ReadableStream;
use worker::Env;

use crate::r2::R2Store;
use crate::s3::S3Store;

pub enum Backend {
    R2(R2Store),
    S3(S3Store),
}

impl Backend {
    pub fn from_env(env: &Env, cfg: &Config) -> Result<Backend> {
        match (cfg.storage, &cfg.s3) {
            (StorageKind::R2, _) => Ok(Backend::R2(R2Store::from_env(env)?)),
            (StorageKind::S3, Some(s3)) => Ok(Backend::S3(S3Store::new(s3.clone()))),
            (StorageKind::S3, None) => {
                Err(GatewayError::new(ErrorKind::ConfigError, "the gateway is misconfigured: S3 settings are missing"))
            }
        }
    }
}

impl ObjectStore for Backend {
    type Body = ReadableStream;
    type Stream = ReadableStream;

    async fn put(&self, req: PutObject<ReadableStream>) -> Result<ObjectMeta> {
        match self {
            Backend::R2(s) => s.put(req).await,
            Backend::S3(s) => s.put(req).await,
        }
    }

    async fn get(
        &self,
        key: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<ReadableStream>> {
        match self {
            Backend::R2(s) => s.get(key, range, conditions).await,
            Backend::S3(s) => s.get(key, range, conditions).await,
        }
    }

    async fn head(&self, key: &StoredName) -> Result<Option<ObjectMeta>> {
        match self {
            Backend::R2(s) => s.head(key).await,
            Backend::S3(s) => s.head(key).await,
        }
    }

    async fn delete(&self, key: &StoredName) -> Result<()> {
        match self {
            Backend::R2(s) => s.delete(key).await,
            Backend::S3(s) => s.delete(key).await,
        }
    }

    async fn read_prefix(&self, key: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        match self {
            Backend::R2(s) => s.read_prefix(key, n).await,
            Backend::S3(s) => s.read_prefix(key, n).await,
        }
    }

    async fn create_multipart(&self, key: &StoredName, content_type: &str) -> Result<String> {
        match self {
            Backend::R2(s) => s.create_multipart(key, content_type).await,
            Backend::S3(s) => s.create_multipart(key, content_type).await,
        }
    }

    async fn upload_part(&self, part: PutPart<ReadableStream>) -> Result<String> {
        match self {
            Backend::R2(s) => s.upload_part(part).await,
            Backend::S3(s) => s.upload_part(part).await,
        }
    }

    async fn complete_multipart(&self, key: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        match self {
            Backend::R2(s) => s.complete_multipart(key, upload_id, parts).await,
            Backend::S3(s) => s.complete_multipart(key, upload_id, parts).await,
        }
    }

    async fn abort_multipart(&self, key: &StoredName, upload_id: &str) -> Result<()> {
        match self {
            Backend::R2(s) => s.abort_multipart(key, upload_id).await,
            Backend::S3(s) => s.abort_multipart(key, upload_id).await,
        }
    }
}
