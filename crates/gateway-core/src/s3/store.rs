//! [`Objects`] and [`Presign`] on an S3-compatible store. Upload bodies go to the executor
//! untouched, so the runtime sends them with their known `Content-Length` (S3 refuses chunked
//! bodies of unknown length); download bodies are the store's stream, returned untouched.

use base64::Engine;

use sha2::Digest;

use super::answer::{check_gateway_digests, EMPTY_MD5};
use super::exec::{Answer, BodyDigests, Digests, HttpExecutor, HttpRequest, Payload};
use super::{check_put_digests, map_error, presign_url, sign_request, unreachable, Checksums, S3Config};
use super::{EMPTY_SHA256, UNSIGNED_PAYLOAD};
use crate::conditional::ReadConditions;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::key::StoredName;
use crate::range::{parse_content_range, ByteRangeSpec};
use crate::store::{body_cut_off, CutOff, DirectUrl, GetResult, ObjectMeta, Objects, Presign, PutObject};
use crate::time::parse_http_date;

/// The S3 store over executor `E`; `clock` gives milliseconds since the Unix epoch.
pub struct S3Store<E> {
    pub(super) cfg: S3Config,
    exec: E,
    pub(super) clock: fn() -> i64,
}

pub(super) type Headers = Vec<(String, String)>;

/// One S3 request: `signed` headers are covered by the signature, `unsigned` ones only sent.
/// A request with a streamed body sends it as `UNSIGNED-PAYLOAD`; one without signs the
/// empty hash.
pub(super) struct Call<B> {
    pub op: &'static str,
    pub method: &'static str,
    /// The query string without `?`, already in canonical form (empty for none).
    pub query: String,
    pub signed: Headers,
    pub unsigned: Headers,
    pub body: Payload<B>,
}

impl<B> Call<B> {
    pub fn new(op: &'static str, method: &'static str) -> Call<B> {
        Call { op, method, query: String::new(), signed: Vec::new(), unsigned: Vec::new(), body: Payload::Empty }
    }
}

pub(super) fn header(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

/// The most of an S3 error body that is read; real ones are a few hundred bytes.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A body the store sent without a field it must have.
pub(super) fn missing(op: &str, what: &str) -> GatewayError {
    GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", format!("S3 {op}: no {what}"))
}

/// A response body as text, reading at most `cap` bytes (empty if it cannot be read).
pub(super) async fn text_at_most<A: Answer>(answer: A, cap: usize) -> String {
    answer.read_at_most(cap).await.map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
}

pub(super) fn is_ok(status: u16) -> bool {
    (200..300).contains(&status)
}

fn meta_of<A: Answer>(answer: &A) -> ObjectMeta {
    let length = answer.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size = answer.header("content-range").and_then(|v| parse_content_range(&v)).map_or(length, |r| r.size);
    ObjectMeta {
        size,
        etag: answer.header("etag").unwrap_or_default(),
        uploaded_ms: answer.header("last-modified").and_then(|v| parse_http_date(&v)).unwrap_or(0),
        content_type: answer.header("content-type"),
    }
}

fn range_header(spec: ByteRangeSpec) -> String {
    match spec {
        ByteRangeSpec::FromTo(a, b) => format!("bytes={a}-{b}"),
        ByteRangeSpec::From(a) => format!("bytes={a}-"),
        ByteRangeSpec::Suffix(n) => format!("bytes=-{n}"),
    }
}

impl<E: HttpExecutor> S3Store<E> {
    pub fn new(cfg: S3Config, exec: E, clock: fn() -> i64) -> S3Store<E> {
        S3Store { cfg, exec, clock }
    }

    /// The executor the store sends through.
    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// Signs and sends one request; a request that got no answer is `storage_unavailable`.
    pub(super) async fn send(&self, name: &StoredName, call: Call<E::Body>) -> Result<E::Answer> {
        let Call { op, method, query, signed, unsigned, body } = call;
        let payload = if matches!(body, Payload::Empty) { EMPTY_SHA256 } else { UNSIGNED_PAYLOAD };
        let mut url = self.cfg.object_url(name.as_str());
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let signed = sign_request(&self.cfg, method, url, signed, payload, (self.clock)())?;
        let mut headers = signed.headers;
        headers.extend(unsigned);
        let request = HttpRequest { method, url: signed.url, headers, body };
        self.exec.send(request).await.map_err(|e| unreachable(op, &e.detail))
    }

    /// The store's error for a non-2xx answer: at most the first 64 KiB of its XML body.
    pub(super) async fn error(op: &str, answer: E::Answer) -> GatewayError {
        let status = answer.status();
        map_error(op, status, &text_at_most(answer, ERROR_BODY_LIMIT).await)
    }

    /// Sends an upload body. A request cut off before the store answered is the one rule's
    /// [`CutOff::NoAnswer`]: the runtime cannot say whose fault it was.
    pub(super) async fn send_upload(&self, name: &StoredName, call: Call<E::Body>) -> Result<E::Answer> {
        match self.send(name, call).await {
            Err(e) if e.kind == ErrorKind::StorageUnavailable => {
                Err(body_cut_off(CutOff::NoAnswer, e.internal.unwrap_or_default()))
            }
            other => other,
        }
    }
}

impl<E: HttpExecutor> Objects for S3Store<E> {
    type Body = E::Body;
    type Stream = <E::Answer as Answer>::Stream;

    /// With `S3_CHECKSUMS=gateway` and a digest sent, the runtime hashes the body on its way
    /// to the store and the digests are compared here; otherwise the store checks them and its
    /// answer must show it did ([`check_put_digests`]). A mismatch is refused after the store
    /// took the body: the caller deletes the object, as for any failed write.
    async fn put(&self, req: PutObject<E::Body>) -> Result<ObjectMeta> {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let sent = Digests { sha256: req.sha256, md5: req.md5 };
        let by_gateway = self.cfg.checksums == Checksums::Gateway && sent != Digests::default();
        let mut signed = vec![header("content-type", req.content_type.clone())];
        if let Some(md5) = req.md5 {
            signed.push(header("content-md5", b64(&md5)));
        }
        if let Some(sha) = req.sha256.filter(|_| !by_gateway) {
            signed.push(header("x-amz-checksum-sha256", b64(&sha)));
        }
        let (body, hashing) = match req.body {
            Some(body) if by_gateway => {
                let (body, hashing) =
                    self.exec.hash(body, req.length, sent).await.map_err(|e| unreachable("hash", &e.detail))?;
                (Some(body), Some(hashing))
            }
            body => (body, None),
        };
        let call = Call { signed, body: Payload::Stream(body), ..Call::new("put", "PUT") };
        let answer = self.send_upload(&req.name, call).await?;
        if !is_ok(answer.status()) {
            return Err(Self::error("put", answer).await);
        }
        let etag = answer.header("etag");
        let echoed = answer.header("x-amz-checksum-sha256");
        answer.discard();
        if by_gateway {
            let found = match hashing {
                Some(hashing) => hashing.digests().await.map_err(|e| unreachable("hash", &e))?,
                // An empty body: its digests need no runtime.
                None => Digests { sha256: Some(sha2::Sha256::digest([]).into()), md5: Some(EMPTY_MD5) },
            };
            check_gateway_digests(&sent, &found)?;
        } else {
            check_put_digests(req.md5.as_ref(), req.sha256.as_ref(), etag.as_deref(), echoed.as_deref())?;
        }
        Ok(ObjectMeta {
            size: req.length,
            etag: etag.unwrap_or_default(),
            uploaded_ms: (self.clock)(),
            content_type: Some(req.content_type),
        })
    }

    async fn get(
        &self,
        name: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<Self::Stream>> {
        let mut unsigned = Vec::new();
        if let Some(c) = &conditions.if_match {
            unsigned.push(header("if-match", c.to_header()));
        }
        if let Some(c) = &conditions.if_none_match {
            unsigned.push(header("if-none-match", c.to_header()));
        }
        let signed = range.map(|r| vec![header("range", range_header(r))]).unwrap_or_default();
        let answer = self.send(name, Call { signed, unsigned, ..Call::new("get", "GET") }).await?;
        match answer.status() {
            status @ (200 | 206) => {
                let meta = meta_of(&answer);
                let served = if status == 206 {
                    answer.header("content-range").and_then(|v| parse_content_range(&v))
                } else {
                    None
                };
                match answer.into_stream() {
                    Some(body) => Ok(GetResult::Found { meta, range: served, body }),
                    None => Err(missing("get", "body")),
                }
            }
            304 | 412 => {
                let meta = meta_of(&answer);
                answer.discard();
                Ok(GetResult::ConditionFailed(meta))
            }
            404 => {
                answer.discard();
                Ok(GetResult::Missing)
            }
            416 => {
                answer.discard();
                Ok(GetResult::Unsatisfiable)
            }
            _ => Err(Self::error("get", answer).await),
        }
    }

    async fn head(&self, name: &StoredName) -> Result<Option<ObjectMeta>> {
        let answer = self.send(name, Call::new("head", "HEAD")).await?;
        let status = answer.status();
        let meta = meta_of(&answer);
        answer.discard();
        match status {
            404 => Ok(None),
            _ if is_ok(status) => Ok(Some(meta)),
            _ => Err(map_error("head", status, "")),
        }
    }

    async fn delete(&self, name: &StoredName) -> Result<()> {
        let answer = self.send(name, Call::new("delete", "DELETE")).await?;
        if is_ok(answer.status()) || answer.status() == 404 {
            answer.discard();
            Ok(())
        } else {
            Err(Self::error("delete", answer).await)
        }
    }

    async fn read_prefix(&self, name: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        let signed = vec![header("range", format!("bytes=0-{}", n.saturating_sub(1)))];
        let answer = self.send(name, Call { signed, ..Call::new("get", "GET") }).await?;
        match answer.status() {
            404 => {
                answer.discard();
                Ok(None)
            }
            // An empty object has no satisfiable range; it has no bytes to sniff either.
            416 => {
                answer.discard();
                Ok(Some(Vec::new()))
            }
            // Only the first `n` bytes are read, even from a store that ignores `Range`.
            status if is_ok(status) => {
                Ok(Some(answer.read_at_most(n).await.map_err(|e| unreachable("get", &e.detail))?.0))
            }
            _ => Err(Self::error("get", answer).await),
        }
    }
}

impl<E> Presign for S3Store<E> {
    /// A SigV4 query-string URL; the body is `UNSIGNED-PAYLOAD`, as S3 requires of presigned
    /// uploads.
    fn presign(&self, url: &DirectUrl<'_>, now_ms: i64) -> Result<String> {
        presign_url(&self.cfg, url.method, url.name.as_str(), url.signed_headers, url.query, url.expires_in_s, now_ms)
    }
}
