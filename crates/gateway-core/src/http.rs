//! The core's view of an HTTP exchange: the request head the edge extracts (the body stays
//! with the edge) and the reply the edge turns back into a response.

use http::{HeaderMap, Method};
use serde::Serialize;

use crate::error::{ErrorKind, GatewayError};

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

/// `Content-Length` as RFC 9110 defines it: digits only (no sign, no spaces inside).
pub fn parse_length(v: &str) -> Option<u64> {
    let v = v.trim();
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok()).flatten()
}

/// The largest body the edge reads whole (the JSON of `POST` routes; a completion listing
/// 10,000 parts fits).
pub const SMALL_BODY_LIMIT: u64 = 1024 * 1024;

/// A request body as the core receives it: an upload's stream, untouched, or the bytes of a
/// small JSON body, which the edge reads whole for `POST` requests (see [`body_plan`]).
pub enum Input<B> {
    Stream(Option<B>),
    Bytes(Vec<u8>),
    /// A small body the edge refused to read (too large, no length); answered like any
    /// other refusal, with CORS headers.
    Refused(GatewayError),
}

/// How the edge takes a request's body, decided from the head before a byte is read.
#[derive(Debug)]
pub enum BodyPlan {
    /// Hand the stream to the core untouched (uploads).
    Stream,
    /// Read it whole, counting: at most `cap` bytes are kept; pass what was read to
    /// [`whole_body`].
    Read { cap: usize },
    /// There is a body, and it is refused unread.
    Refuse(GatewayError),
}

fn too_large() -> GatewayError {
    GatewayError::new(
        ErrorKind::PayloadTooLarge,
        format!("this request's body may be at most {SMALL_BODY_LIMIT} bytes"),
    )
}

/// `POST` bodies are small JSON read whole, up to [`SMALL_BODY_LIMIT`]; a body that declares
/// more is refused unread, and so is one without a `Content-Length`, whose size could only
/// be checked after buffering. Every other body streams to the core, `POST`s under `/tus/`
/// and form uploads (`POST /form`) included.
pub fn body_plan(head: &RequestHead, has_body: bool) -> BodyPlan {
    // tus creation may carry the first chunk, and an overridden POST may be a PATCH.
    let tus = head.path == "/tus" || head.path.starts_with("/tus/");
    if head.method != Method::POST || tus || head.path == "/form" {
        return BodyPlan::Stream;
    }
    let declared = head.header("content-length");
    if declared.and_then(parse_length).is_some_and(|n| n > SMALL_BODY_LIMIT) {
        return BodyPlan::Refuse(too_large());
    }
    if has_body && declared.is_none() {
        return BodyPlan::Refuse(GatewayError::new(
            ErrorKind::LengthRequired,
            "request bodies need a Content-Length header",
        ));
    }
    BodyPlan::Read { cap: SMALL_BODY_LIMIT as usize }
}

/// The input for a body read under [`BodyPlan::Read`]: `more` says bytes beyond the cap
/// arrived, whatever the body declared.
pub fn whole_body<B>(bytes: Vec<u8>, more: bool) -> Input<B> {
    if more {
        Input::Refused(too_large())
    } else {
        Input::Bytes(bytes)
    }
}

/// A response body: nothing, text (JSON, or the XML a form upload may ask for), or a stream
/// owned by the edge.
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

    /// An XML document (what S3 answers a form upload that asks for `201`).
    pub fn xml(status: u16, text: String) -> Self {
        Reply { status, headers: vec![("Content-Type", "application/xml".to_owned())], body: Body::Json(text) }
    }

    pub fn problem(err: &GatewayError) -> Self {
        Self::problem_doc(err, err.problem())
    }

    /// The problem of request `request_id`: the id is in the body and in `X-Request-Id`.
    pub fn problem_for(err: &GatewayError, request_id: &str) -> Self {
        Self::problem_doc(err, err.problem_for(request_id)).with_header("X-Request-Id", request_id)
    }

    fn problem_doc(err: &GatewayError, doc: crate::error::Problem) -> Self {
        let text = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
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

    /// The JSON of a reply the gateway built (`Null` for any other body), for the routes that
    /// answer another protocol's shape of a gateway answer (Companion's, S3's).
    pub fn json_value(&self) -> serde_json::Value {
        match &self.body {
            Body::Json(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A configured absolute http(s) URL with a host, or why not: `usual`, or, for a host name
/// that is not ASCII, to write it in its `xn--` form. The build leaves IDNA's Unicode tables
/// out (docs/architecture.md, "Module size"); the runtime hands requests over in ASCII anyway.
pub(crate) fn http_url(value: &str, usual: &str) -> std::result::Result<url::Url, String> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        Err(url::ParseError::IdnaError) => {
            Err(format!("{usual}; write a host name that is not ASCII in its `xn--` (punycode) form"))
        }
        _ => Err(usual.to_owned()),
    }
}
