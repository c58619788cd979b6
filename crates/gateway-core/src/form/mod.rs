//! Browser form POST uploads (`multipart/form-data` with a signed policy, S3's convention):
//! the policy and its conditions ([`policy`]), and reading the form as it streams
//! ([`parse`]).

pub mod parse;
pub mod policy;
