//! tus 1.0.0 resumable uploads under `/tus/`: creation (with upload and deferred length),
//! `HEAD`, `PATCH`, termination and expiration, with the gateway's own auth, key rules,
//! limits and records. `protocol` reads the wire format, `plan` decides where each chunk's
//! bytes go, `session` runs the requests.

pub mod plan;
pub mod protocol;
pub mod session;
