//! A scripted [`HttpExecutor`]: it answers the S3 store's requests from a list, in order, and
//! keeps every request it was sent, so a test drives the store request by request and asserts
//! on exactly what it sent and how it read each answer.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use crate::s3::{Answer, BodyDigests, Digests, HttpExecutor, HttpRequest, NoAnswer, Payload};

/// One request as the store sent it. A streamed body is the test's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// `None` for no body; a text body's bytes; a streamed body's bytes (empty for `None`).
    pub body: Option<Vec<u8>>,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A canned answer. `bytes_read` counts what the store read of its body.
#[derive(Debug, Clone, Default)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub bytes_read: Rc<Cell<usize>>,
    pub discarded: Rc<Cell<bool>>,
}

impl Canned {
    pub fn new(status: u16) -> Canned {
        Canned { status, ..Canned::default() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Canned {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Canned {
        self.body = body.into();
        self
    }
}

/// Answers in order; a request beyond the script gets no answer (and is still recorded).
#[derive(Default)]
pub struct Scripted {
    answers: RefCell<VecDeque<Result<Canned, NoAnswer>>>,
    pub sent: RefCell<Vec<Sent>>,
    /// Bodies handed to [`HttpExecutor::hash`].
    pub hashed: Cell<usize>,
}

impl Scripted {
    pub fn new() -> Scripted {
        Scripted::default()
    }

    /// Queues an answer; returns its counters so the test can see how it was read.
    pub fn answer(&self, canned: Canned) -> (Rc<Cell<usize>>, Rc<Cell<bool>>) {
        let counters = (canned.bytes_read.clone(), canned.discarded.clone());
        self.answers.borrow_mut().push_back(Ok(canned));
        counters
    }

    /// Queues a request that gets no answer (a dropped connection).
    pub fn no_answer(&self, detail: &str) {
        self.answers.borrow_mut().push_back(Err(NoAnswer { detail: detail.to_owned() }));
    }

    /// The `i`th request sent.
    pub fn request(&self, i: usize) -> Option<Sent> {
        self.sent.borrow().get(i).cloned()
    }

    /// How many answers the script still holds.
    pub fn unused(&self) -> usize {
        self.answers.borrow().len()
    }
}

impl HttpExecutor for Scripted {
    type Body = Vec<u8>;
    type Answer = Canned;
    type Hashing = Digests;

    /// Hashes the test's bytes natively, as the runtime's `DigestStream` would; counts the call.
    async fn hash(&self, body: Vec<u8>, _length: u64, wanted: Digests) -> Result<(Vec<u8>, Digests), NoAnswer> {
        use md5::Digest;
        self.hashed.set(self.hashed.get() + 1);
        let found = Digests {
            sha256: wanted.sha256.map(|_| sha2::Sha256::digest(&body).into()),
            md5: wanted.md5.map(|_| md5::Md5::digest(&body).into()),
        };
        Ok((body, found))
    }

    async fn send(&self, request: HttpRequest<Vec<u8>>) -> Result<Canned, NoAnswer> {
        let body = match request.body {
            Payload::Empty => None,
            Payload::Text(text) => Some(text.into_bytes()),
            Payload::Stream(bytes) => Some(bytes.unwrap_or_default()),
        };
        self.sent.borrow_mut().push(Sent { method: request.method, url: request.url, headers: request.headers, body });
        let next = self.answers.borrow_mut().pop_front();
        next.unwrap_or_else(|| Err(NoAnswer { detail: "the script has no answer for this request".to_owned() }))
    }
}

impl Answer for Canned {
    type Stream = Vec<u8>;

    fn status(&self) -> u16 {
        self.status
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    async fn read_at_most(self, cap: usize) -> Result<(Vec<u8>, bool), NoAnswer> {
        let n = self.body.len().min(cap);
        self.bytes_read.set(n);
        Ok((self.body[..n].to_vec(), self.body.len() > cap))
    }

    fn discard(self) {
        self.discarded.set(true);
    }

    fn into_stream(self) -> Option<Vec<u8>> {
        Some(self.body)
    }
}

impl BodyDigests for Digests {
    async fn digests(self) -> Result<Digests, String> {
        Ok(self)
    }
}
