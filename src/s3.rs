//! [`ObjectStore`] on any S3-compatible store: SigV4-signed `fetch` requests built by the
//! core's `s3` module. Upload bodies are the incoming request's own stream, passed to
//! `fetch` untouched, so the runtime sends them with their known `Content-Length` (S3
//! refuses chunked bodies of unknown length); download bodies are the store's stream.

use gateway_core::conditional::ReadConditions;
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::key::StoredName;
use gateway_core::multipart::Part;
use gateway_core::range::{parse_content_range, ByteRangeSpec};
use gateway_core::s3::{self, S3Config, EMPTY_SHA256, UNSIGNED_PAYLOAD};
use gateway_core::store::{GetResult, ObjectMeta, ObjectStore, PutObject, PutPart};
use gateway_core::time::parse_http_date;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response};

use crate::js;

pub struct S3Store {
    cfg: S3Config,
}

pub(crate) type Headers = Vec<(String, String)>;

/// One S3 request: `signed` headers are covered by the signature, `unsigned` ones only sent.
/// A request with a body sends it as `UNSIGNED-PAYLOAD`; one without signs the empty hash.
pub(crate) struct Call {
    pub op: &'static str,
    pub method: &'static str,
    /// The query string without `?`, already in canonical form (empty for none).
    pub query: String,
    pub signed: Headers,
    pub unsigned: Headers,
    pub body: Option<JsValue>,
}

impl Call {
    pub fn new(op: &'static str, method: &'static str) -> Call {
        Call { op, method, query: String::new(), signed: Vec::new(), unsigned: Vec::new(), body: None }
    }
}

pub(crate) fn header(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

pub(crate) fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl S3Store {
    pub fn new(cfg: S3Config) -> S3Store {
        S3Store { cfg }
    }

    /// Signs and sends one request.
    pub(crate) async fn send(&self, key: &StoredName, call: Call) -> Result<Response> {
        let Call { op, method, query, signed, unsigned, body } = call;
        let payload = if body.is_some() { UNSIGNED_PAYLOAD } else { EMPTY_SHA256 };
        let mut url = self.cfg.object_url(key.as_str());
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let req = s3::sign_request(&self.cfg, method, url, signed, payload, now_ms())?;
        let fail = |e: JsValue| s3::unreachable(op, &js::error_message(&e));
        let headers = web_sys::Headers::new().map_err(fail)?;
        for (name, value) in req.headers.iter().chain(unsigned.iter()) {
            headers.set(name, value).map_err(fail)?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        init.set_headers(&headers);
        if let Some(body) = &body {
            init.set_body(body);
        }
        let request = web_sys::Request::new_with_str_and_init(&req.url, &init).map_err(fail)?;
        let global = js_sys::global();
        let fetch = js::get(&global, "fetch").dyn_into::<js_sys::Function>().map_err(fail)?;
        let promise = fetch.call1(&global, &request).map_err(fail)?;
        let response = JsFuture::from(js_sys::Promise::from(promise))
            .await
            .map_err(|e| s3::unreachable(op, &js::error_message(&e)))?;
        response.dyn_into::<Response>().map_err(fail)
    }

    /// The store's error for a non-2xx answer: at most the first 64 KiB of its XML body.
    pub(crate) async fn error(op: &str, res: &Response) -> GatewayError {
        s3::map_error(op, res.status(), &text_at_most(res, ERROR_BODY_LIMIT).await)
    }
}

/// The most of an S3 error body that is read; real ones are a few hundred bytes.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A response body as text, reading at most `cap` bytes.
pub(crate) async fn text_at_most(res: &Response, cap: usize) -> String {
    match res.body() {
        Some(body) => js::read_at_most(&body, cap)
            .await
            .map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default(),
        None => String::new(),
    }
}

pub(crate) fn response_header(res: &Response, name: &str) -> Option<String> {
    res.headers().get(name).ok().flatten()
}

pub(crate) fn meta_of(res: &Response) -> ObjectMeta {
    let length = response_header(res, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size = response_header(res, "content-range").and_then(|v| parse_content_range(&v)).map_or(length, |r| r.size);
    ObjectMeta {
        size,
        etag: response_header(res, "etag").unwrap_or_default(),
        uploaded_ms: response_header(res, "last-modified").and_then(|v| parse_http_date(&v)).unwrap_or(0),
        content_type: response_header(res, "content-type"),
    }
}

fn range_header(spec: ByteRangeSpec) -> String {
    match spec {
        ByteRangeSpec::FromTo(a, b) => format!("bytes={a}-{b}"),
        ByteRangeSpec::From(a) => format!("bytes={a}-"),
        ByteRangeSpec::Suffix(n) => format!("bytes=-{n}"),
    }
}

/// A body for `fetch`: the request's stream, or an empty string for an empty body.
pub(crate) fn body_value(body: Option<ReadableStream>) -> JsValue {
    body.map_or_else(|| JsValue::from_str(""), Into::into)
}

impl ObjectStore for S3Store {
    type Body = ReadableStream;
    type Stream = ReadableStream;

    async fn put(&self, req: PutObject<ReadableStream>) -> Result<ObjectMeta> {
        let b64 = |d: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(d)
        };
        let mut signed = vec![header("content-type", req.content_type.clone())];
        if let Some(md5) = req.md5 {
            signed.push(header("content-md5", b64(&md5)));
        }
        if let Some(sha) = req.sha256 {
            signed.push(header("x-amz-checksum-sha256", b64(&sha)));
        }
        let call = Call { signed, body: Some(body_value(req.body)), ..Call::new("put", "PUT") };
        let res = match self.send(&req.name, call).await {
            Ok(res) => res,
            Err(err) => return Err(s3::upload_cut_off(err)),
        };
        if !res.ok() {
            return Err(Self::error("put", &res).await);
        }
        js::discard_body(&res);
        let etag = response_header(&res, "etag");
        s3::check_put_digests(
            req.md5.as_ref(),
            req.sha256.as_ref(),
            etag.as_deref(),
            response_header(&res, "x-amz-checksum-sha256").as_deref(),
        )?;
        Ok(ObjectMeta {
            size: req.length,
            etag: etag.unwrap_or_default(),
            uploaded_ms: now_ms(),
            content_type: Some(req.content_type),
        })
    }

    async fn get(
        &self,
        key: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<ReadableStream>> {
        let mut unsigned = Vec::new();
        if let Some(c) = &conditions.if_match {
            unsigned.push(header("if-match", c.to_header()));
        }
        if let Some(c) = &conditions.if_none_match {
            unsigned.push(header("if-none-match", c.to_header()));
        }
        let signed = range.map(|r| vec![header("range", range_header(r))]).unwrap_or_default();
        let res = self.send(key, Call { signed, unsigned, ..Call::new("get", "GET") }).await?;
        match res.status() {
            200 | 206 => {
                let meta = meta_of(&res);
                let served = if res.status() == 206 {
                    response_header(&res, "content-range").and_then(|v| parse_content_range(&v))
                } else {
                    None
                };
                match res.body() {
                    Some(body) => Ok(GetResult::Found { meta, range: served, body }),
                    None => Err(GatewayError::hidden(
                        ErrorKind::StorageError,
                        "the storage backend failed",
                        "S3 get: no body",
                    )),
                }
            }
            304 | 412 => {
                js::discard_body(&res);
                Ok(GetResult::ConditionFailed(meta_of(&res)))
            }
            404 => {
                js::discard_body(&res);
                Ok(GetResult::Missing)
            }
            416 => {
                js::discard_body(&res);
                Ok(match self.head(key).await? {
                    Some(meta) => GetResult::Unsatisfiable { size: meta.size },
                    None => GetResult::Missing,
                })
            }
            _ => Err(Self::error("get", &res).await),
        }
    }

    async fn head(&self, key: &StoredName) -> Result<Option<ObjectMeta>> {
        let res = self.send(key, Call::new("head", "HEAD")).await?;
        match res.status() {
            404 => Ok(None),
            _ if res.ok() => Ok(Some(meta_of(&res))),
            status => Err(s3::map_error("head", status, "")),
        }
    }

    async fn delete(&self, key: &StoredName) -> Result<()> {
        let res = self.send(key, Call::new("delete", "DELETE")).await?;
        if res.ok() || res.status() == 404 {
            js::discard_body(&res);
            Ok(())
        } else {
            Err(Self::error("delete", &res).await)
        }
    }

    async fn read_prefix(&self, key: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        let signed = vec![header("range", format!("bytes=0-{}", n.saturating_sub(1)))];
        let res = self.send(key, Call { signed, ..Call::new("get", "GET") }).await?;
        match res.status() {
            404 | 416 => {
                js::discard_body(&res);
                Ok((res.status() == 416).then(Vec::new))
            }
            _ if res.ok() => {
                // Only the first `n` bytes are read, even from a store that ignores `Range`.
                let Some(body) = res.body() else { return Ok(Some(Vec::new())) };
                let fail = |e: JsValue| s3::unreachable("get", &js::error_message(&e));
                Ok(Some(js::read_at_most(&body, n).await.map_err(fail)?.0))
            }
            _ => Err(Self::error("get", &res).await),
        }
    }

    async fn create_multipart(&self, key: &StoredName, content_type: &str) -> Result<String> {
        self.create_upload(key, content_type).await
    }

    async fn upload_part(&self, part: PutPart<ReadableStream>) -> Result<String> {
        self.put_part(part).await
    }

    async fn complete_multipart(&self, key: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        self.complete_upload(key, upload_id, parts).await
    }

    async fn abort_multipart(&self, key: &StoredName, upload_id: &str) -> Result<()> {
        self.abort_upload(key, upload_id).await
    }
}
