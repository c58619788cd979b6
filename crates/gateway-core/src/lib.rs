//! The runtime-agnostic core of the upload gateway: configuration, JWT authentication,
//! authorisation, key rules, upload policy, ranges and preconditions, content sniffing,
//! webhook signing, errors, and the request→decision logic over small capability interfaces
//! (storage: [`store::Objects`], [`store::Multipart`], [`store::Presign`]; metadata:
//! [`metadata::ObjectIndex`], [`metadata::UploadJournal`], [`metadata::MultipartIndex`],
//! [`metadata::PresignLedger`]), and the whole S3 protocol ([`s3::S3Store`], over a one-call
//! HTTP executor). It has no Worker or JS dependency and reads no clock: the edge (the Worker
//! crate) passes time in, executes the requests the core builds, and moves the bytes.

pub mod announce;
pub mod approval;
pub mod auth;
pub mod capability;
pub mod companion;
pub mod conditional;
pub mod config;
pub mod content_type;
pub mod cors;
pub mod download;
pub mod encoding;
pub mod error;
pub mod events;
pub mod followup;
pub mod form;
pub mod gateway;
pub mod grant;
pub mod http;
pub mod idp;
pub mod key;
pub mod log;
pub mod manage;
pub mod metadata;
pub mod metrics;
pub mod multipart;
pub mod presign;
pub mod quarantine;
pub mod quota;
pub mod r2;
pub mod range;
pub mod ratelimit;
pub mod router;
pub mod s3;
pub mod s3_dialect;
pub mod scan_link;
pub mod secret;
pub mod shard;
pub mod sign_request;
pub mod sniff;
pub mod sql;
pub mod store;
pub mod sweep;
pub mod time;
pub mod tus;
pub mod upload;
pub mod webhook;

#[cfg(any(test, feature = "testing"))]
pub mod contract;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
