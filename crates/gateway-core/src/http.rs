//! The core's view of an HTTP exchange: the request head the edge extracts (the body stays
//! with the edge) and the reply the edge turns back into a response.

use http::{HeaderMap, Method};
use serde::Serialize;

use crate::error::GatewayError;

/// Method, path, query and headers of a request; never its body.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: Method,
    /// Scheme, host and port the request was addressed to (`https://uploads.example.com`),
    /// for URLs that point back at the gateway.
    pub origin: String,
    /// The percent-encoded path, as in the URL.
    pub path: String,
    /// The raw query string without `?` (empty when absent).
    pub query: String,
    pub headers: HeaderMap,
}

impl RequestHead {
    /// A header's value when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query parameters.
    pub fn query_pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        url::form_urlencoded::parse(self.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// The largest body the edge reads whole (the JSON of `POST` routes; a completion listing
/// 10,000 parts fits).
pub const SMALL_BODY_LIMIT: u64 = 1024 * 1024;

/// A request body as the core receives it: an upload's stream, untouched, or the bytes of a
/// small JSON body, which the edge reads whole for `POST` requests (see [`reads_whole_body`]).
pub enum Input<B> {
    Stream(Option<B>),
    Bytes(Vec<u8>),
    /// A small body the edge refused to read (too large, no length); answered like any
    /// other refusal, with CORS headers.
    Refused(GatewayError),
}

/// Whether the edge should read this request's body whole, up to [`SMALL_BODY_LIMIT`].
pub fn reads_whole_body(head: &RequestHead) -> bool {
    head.method == Method::POST
}

/// A response body: nothing, JSON text, or a stream owned by the edge.
pub enum Body<S> {
    Empty,
    Json(String),
    Stream(S),
}

/// A response the edge sends as is.
pub struct Reply<S> {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body<S>,
}

impl<S> Reply<S> {
    pub fn empty(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: Body::Empty }
    }

    pub fn json(status: u16, value: &impl Serialize) -> Self {
        let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
        Reply { status, headers: vec![("Content-Type", "application/json".to_owned())], body: Body::Json(text) }
    }

    pub fn problem(err: &GatewayError) -> Self {
        let text = serde_json::to_string(&err.problem()).unwrap_or_else(|_| "{}".to_owned());
        Reply {
            status: err.status(),
            headers: vec![("Content-Type", "application/problem+json".to_owned())],
            body: Body::Json(text),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
