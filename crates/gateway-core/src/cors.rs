//! CORS for browser clients: preflight answers and the headers added to every response
//! for an allowed origin (`CORS_ORIGINS`).

use crate::config::CorsOrigins;
use crate::http::{Reply, RequestHead};

/// Headers browsers may read from responses (part ETags, the new object's location, ranges).
/// The tus headers are among them: a browser that cannot read `Upload-Offset` or `Location`
/// cannot resume.
pub const EXPOSE_HEADERS: &str = "ETag, Location, Content-Length, Content-Range, Accept-Ranges, Last-Modified, \
     Content-Disposition, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Defer-Length, Upload-Expires, \
     Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, X-Request-Id";
pub const ALLOW_METHODS: &str = "GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Content-MD5, x-amz-checksum-sha256, If-None-Match, \
     If-Match, If-Range, Range, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Defer-Length, Tus-Resumable, \
     X-HTTP-Method-Override, X-Requested-With";

/// The answer to an `OPTIONS` preflight. `token_headers` are the headers configured issuers
/// send their tokens in (`JWT_ISSUERS` `header`), allowed beside [`ALLOW_HEADERS`].
pub fn preflight<'h, S>(
    origins: &CorsOrigins,
    head: &RequestHead,
    token_headers: impl Iterator<Item = &'h str>,
) -> Reply<S> {
    let reply = Reply::empty(204);
    match origins.allow(head.header("origin")) {
        None => reply,
        Some(_) => {
            let allowed = std::iter::once(ALLOW_HEADERS).chain(token_headers).collect::<Vec<_>>().join(", ");
            reply
                .with_header("Access-Control-Allow-Methods", ALLOW_METHODS)
                .with_header("Access-Control-Allow-Headers", allowed)
                .with_header("Access-Control-Max-Age", "86400")
        }
    }
}

/// Adds the CORS headers to any reply for an allowed origin.
pub fn decorate<S>(origins: &CorsOrigins, head: &RequestHead, reply: Reply<S>) -> Reply<S> {
    if matches!(origins, CorsOrigins::None) {
        return reply;
    }
    let reply = reply.with_header("Vary", "Origin");
    match origins.allow(head.header("origin")) {
        None => reply,
        Some(origin) => reply
            .with_header("Access-Control-Allow-Origin", origin)
            .with_header("Access-Control-Expose-Headers", EXPOSE_HEADERS),
    }
}
