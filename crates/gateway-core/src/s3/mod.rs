//! The S3 store: every S3 request the gateway makes is built, signed and read here, and sent
//! through a one-call [`HttpExecutor`] the edge implements over `fetch`. Object URLs use S3's
//! key encoding (path-style or virtual-hosted); SigV4 signing goes through `aws-sigv4` with
//! the time taken from the store's clock (passed in, never read here); answers are read
//! for status, headers, XML and S3's "200 with an error". Nothing here does I/O itself.

mod answer;
mod config;
mod exec;
mod multipart;
mod sign;
mod store;

pub use answer::{
    check_gateway_digests, check_put_digests, complete_multipart_xml, error_code, is_entity_tag, map_error,
    unreachable, xml_elements, xml_root, xml_text, xml_value,
};
pub use config::{encode_key, Checksums, S3Config};
pub use exec::{Answer, BodyDigests, Digests, HttpExecutor, HttpRequest, NoAnswer, Payload};
pub use sign::{presign_url, sign_request, system_time, SignedRequest, EMPTY_SHA256, UNSIGNED_PAYLOAD};
pub use store::S3Store;
