//! Multipart uploads: the part rules ([`rules`]) and the routes built on them ([`session`]).

pub mod rules;
pub mod session;

pub use rules::{
    check_complete, check_part, check_part_against, parse_part_number, OtherParts, Part, MAX_PARTS, MAX_PART_BYTES,
    MIN_PART_BYTES,
};
pub use session::{request_op, Op, Session, MAX_OBJECT_BYTES};
