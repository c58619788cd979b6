//! The one call the S3 store needs from its runtime: send a request, get the answer. The core
//! builds and signs every request and reads every answer; an executor only moves them. Bodies
//! are the runtime's own: a request body is the incoming request's stream (passed on
//! untouched, so its known `Content-Length` goes with it), a response body is read only as
//! far as the core asks ([`Answer::read_at_most`]) or handed back whole as a download stream.

/// A request body.
pub enum Payload<B> {
    /// No body (GET, HEAD, DELETE, create and abort multipart).
    Empty,
    /// A small body the core wrote (the completion XML).
    Text(String),
    /// An upload body: the incoming request's stream, `None` for an empty one.
    Stream(Option<B>),
}

/// A signed request, ready to send.
pub struct HttpRequest<B> {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Payload<B>,
}

/// A request that got no answer: the connection failed or was cut. `detail` is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer {
    pub detail: String,
}

/// Sends requests. No `Send` bound: JS handles are not `Send`.
#[allow(async_fn_in_trait)]
pub trait HttpExecutor {
    /// An upload body as the runtime receives it.
    type Body;
    type Answer: Answer;
    type Hashing: BodyDigests;

    async fn send(&self, request: HttpRequest<Self::Body>) -> Result<Self::Answer, NoAnswer>;

    /// Has the runtime hash `body` (`length` bytes) as it streams on, for a store that does not
    /// check digests: the body to send in its place, of the same known length, and the digests
    /// asked for, once it has streamed. The bytes never enter the core.
    async fn hash(
        &self,
        body: Self::Body,
        length: u64,
        wanted: Digests,
    ) -> Result<(Self::Body, Self::Hashing), NoAnswer>;
}

/// Digests of a body: those asked for ([`HttpExecutor::hash`]), or those found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Digests {
    pub sha256: Option<[u8; 32]>,
    pub md5: Option<[u8; 16]>,
}

/// The digests of a body being hashed, known once the body has streamed.
#[allow(async_fn_in_trait)]
pub trait BodyDigests {
    /// The digests asked for; `Err` (for the log) if the body failed before its end.
    async fn digests(self) -> Result<Digests, String>;
}

/// An answer whose body has not been read.
#[allow(async_fn_in_trait)]
pub trait Answer {
    /// The body as a download stream.
    type Stream;

    fn status(&self) -> u16;
    /// A header's value; names are case-insensitive.
    fn header(&self, name: &str) -> Option<String>;
    /// Reads the body until it ends or more than `cap` bytes have arrived, then lets go of it:
    /// at most `cap` bytes, and `true` if there were more.
    async fn read_at_most(self, cap: usize) -> Result<(Vec<u8>, bool), NoAnswer>;
    /// Lets go of a body nobody will read, so its connection is released now.
    fn discard(self);
    /// The body as a stream for the client; `None` if the answer has none.
    fn into_stream(self) -> Option<Self::Stream>;
}
