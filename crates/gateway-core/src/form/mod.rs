//! Browser form POST uploads (`multipart/form-data` with a signed policy, S3's convention):
//! the policy and its conditions ([`policy`]), reading the form as it streams ([`parse`]),
//! and checking a form upload before its file is stored ([`receive`]).

pub mod parse;
pub mod policy;
pub mod receive;
