//! [`Objects`] and [`Multipart`] on the R2 binding; no [`gateway_core::store::Presign`]: the
//! binding has no URLs. Upload bodies are the incoming request's own stream, handed to `put`
//! untouched (its known length is what R2 requires); download bodies are R2's stream,
//! returned untouched. Checksums and preconditions are given to R2 so that R2 itself refuses
//! a bad body or a lost race; what its errors mean is `gateway_core::r2`'s to say.

use gateway_core::conditional::{EtagCondition, ReadConditions};
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::key::StoredName;
use gateway_core::multipart::Part;
use gateway_core::range::{ByteRangeSpec, ResolvedRange};
use gateway_core::store::{GetResult, Multipart, ObjectMeta, Objects, PutObject, PutPart};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStream;
use worker::Env;
use worker_sys::{R2Bucket, R2MultipartUpload};

use crate::js;

pub struct R2Store {
    bucket: R2Bucket,
}

impl R2Store {
    pub fn from_env(env: &Env) -> Result<R2Store> {
        let bucket = env.bucket("BUCKET").map_err(|e| {
            GatewayError::hidden(
                ErrorKind::ConfigError,
                "the gateway is misconfigured: the R2 binding BUCKET is missing",
                e.to_string(),
            )
        })?;
        Ok(R2Store { bucket: bucket.as_ref().clone().unchecked_into() })
    }
}

fn storage_error(op: &str, err: &JsValue) -> GatewayError {
    gateway_core::r2::classify(op, &js::error_message(err))
}

async fn call(op: &str, promise: std::result::Result<js_sys::Promise, JsValue>) -> Result<JsValue> {
    let promise = promise.map_err(|e| storage_error(op, &e))?;
    JsFuture::from(promise).await.map_err(|e| storage_error(op, &e))
}

fn meta_of(obj: &JsValue) -> ObjectMeta {
    let http = js::get(obj, "httpMetadata");
    ObjectMeta {
        size: js::get(obj, "size").as_f64().unwrap_or(0.0) as u64,
        etag: js::get(obj, "httpEtag").as_string().unwrap_or_default(),
        uploaded_ms: js::get(obj, "uploaded").dyn_into::<js_sys::Date>().map(|d| d.get_time() as i64).unwrap_or(0),
        content_type: js::get(&http, "contentType").as_string(),
    }
}

/// The conditions as a `Headers` object, which R2 evaluates with HTTP semantics.
fn conditions_headers(if_match: Option<&str>, if_none_match: Option<&str>) -> Result<web_sys::Headers> {
    let fail = |e: JsValue| storage_error("headers", &e);
    let h = web_sys::Headers::new().map_err(fail)?;
    if let Some(v) = if_match {
        h.set("if-match", v).map_err(fail)?;
    }
    if let Some(v) = if_none_match {
        h.set("if-none-match", v).map_err(fail)?;
    }
    Ok(h)
}

fn range_object(spec: ByteRangeSpec) -> js_sys::Object {
    let r = js_sys::Object::new();
    match spec {
        ByteRangeSpec::FromTo(a, b) => {
            js::set(&r, "offset", a as f64);
            js::set(&r, "length", b.saturating_sub(a).saturating_add(1) as f64);
        }
        ByteRangeSpec::From(a) => js::set(&r, "offset", a as f64),
        ByteRangeSpec::Suffix(n) => js::set(&r, "suffix", n as f64),
    }
    r
}

/// A body for R2: the request's stream, or an empty string for an empty body.
fn body_value(body: Option<ReadableStream>) -> JsValue {
    body.map_or_else(|| JsValue::from_str(""), Into::into)
}

impl R2Store {
    fn resume(&self, key: &StoredName, upload_id: &str) -> Result<R2MultipartUpload> {
        self.bucket
            .resume_multipart_upload(key.to_string(), upload_id.to_owned())
            .map(JsCast::unchecked_into)
            .map_err(|e| storage_error("resume", &e))
    }
}

impl Objects for R2Store {
    type Body = ReadableStream;
    type Stream = ReadableStream;

    async fn put(&self, req: PutObject<ReadableStream>) -> Result<ObjectMeta> {
        let opts = js_sys::Object::new();
        let http = js_sys::Object::new();
        js::set(&http, "contentType", req.content_type.as_str());
        js::set(&opts, "httpMetadata", http);
        // R2 verifies one digest per put: SHA-256 when sent, else MD5. An MD5 sent alongside a
        // SHA-256 is compared with the MD5 R2 computes for every single-part object.
        match (req.sha256, req.md5) {
            (Some(sha), _) => js::set(&opts, "sha256", js::bytes(&sha).buffer()),
            (None, Some(md5)) => js::set(&opts, "md5", js::bytes(&md5).buffer()),
            (None, None) => {}
        }
        let obj = call("put", self.bucket.put(req.name.to_string(), body_value(req.body), opts.into())).await?;
        if obj.is_null() {
            return Err(storage_error("put", &JsValue::from_str("R2 returned no object")));
        }
        if let (Some(_), Some(md5)) = (req.sha256, req.md5) {
            let stored = js::get(&js::get(&obj, "checksums"), "md5");
            let stored = stored.dyn_into::<js_sys::ArrayBuffer>().map(|b| js_sys::Uint8Array::new(&b).to_vec()).ok();
            if stored.as_deref() != Some(&md5[..]) {
                // Stored but refused: only under this write's own name, which the core deletes.
                return Err(GatewayError::new(ErrorKind::ChecksumMismatch, "the body does not match its Content-MD5"));
            }
        }
        Ok(meta_of(&obj))
    }

    async fn get(
        &self,
        key: &StoredName,
        range: Option<ByteRangeSpec>,
        conditions: &ReadConditions,
    ) -> Result<GetResult<ReadableStream>> {
        let opts = js_sys::Object::new();
        if !conditions.is_empty() {
            let m = conditions.if_match.as_ref().map(EtagCondition::to_header);
            let n = conditions.if_none_match.as_ref().map(EtagCondition::to_header);
            js::set(&opts, "onlyIf", conditions_headers(m.as_deref(), n.as_deref())?);
        }
        if let Some(spec) = range {
            js::set(&opts, "range", range_object(spec));
        }
        let obj = match call("get", self.bucket.get(key.to_string(), opts.into())).await {
            Ok(obj) => obj,
            Err(e) if e.kind == ErrorKind::RangeNotSatisfiable => return Ok(GetResult::Unsatisfiable),
            Err(e) => return Err(e),
        };
        if obj.is_null() || obj.is_undefined() {
            return Ok(GetResult::Missing);
        }
        let meta = meta_of(&obj);
        let Ok(body) = js::get(&obj, "body").dyn_into::<ReadableStream>() else {
            return Ok(GetResult::ConditionFailed(meta));
        };
        let served = range.and_then(|_| {
            let r = js::get(&obj, "range");
            let offset = js::get(&r, "offset").as_f64().unwrap_or(0.0) as u64;
            let length = js::get(&r, "length").as_f64().unwrap_or(meta.size as f64) as u64;
            let end = offset.saturating_add(length).saturating_sub(1).min(meta.size.saturating_sub(1));
            (length > 0 && offset <= end).then_some(ResolvedRange { start: offset, end, size: meta.size })
        });
        Ok(GetResult::Found { meta, range: served, body })
    }

    async fn head(&self, key: &StoredName) -> Result<Option<ObjectMeta>> {
        let obj = call("head", self.bucket.head(key.to_string())).await?;
        Ok((!obj.is_null() && !obj.is_undefined()).then(|| meta_of(&obj)))
    }

    async fn delete(&self, key: &StoredName) -> Result<()> {
        call("delete", self.bucket.delete(key.to_string())).await.map(|_| ())
    }

    async fn read_prefix(&self, key: &StoredName, n: usize) -> Result<Option<Vec<u8>>> {
        let opts = js_sys::Object::new();
        let range = js_sys::Object::new();
        js::set(&range, "offset", 0.0);
        js::set(&range, "length", n as f64);
        js::set(&opts, "range", range);
        let obj = match call("get", self.bucket.get(key.to_string(), opts.into())).await {
            Ok(obj) => obj,
            // An empty object has no satisfiable range (the simulator answers an unspecified
            // error rather than R2's invalid range): it has no bytes to sniff either.
            Err(e) => {
                return match self.head(key).await? {
                    Some(meta) if meta.size == 0 => Ok(Some(Vec::new())),
                    Some(_) => Err(e),
                    None => Ok(None),
                }
            }
        };
        if obj.is_null() || obj.is_undefined() {
            return Ok(None);
        }
        let promise = js::get(&obj, "arrayBuffer");
        let f = promise.dyn_into::<js_sys::Function>().map_err(|e| storage_error("get", &e))?;
        let buf = JsFuture::from(js_sys::Promise::from(f.call0(&obj).map_err(|e| storage_error("get", &e))?))
            .await
            .map_err(|e| storage_error("get", &e))?;
        Ok(Some(js_sys::Uint8Array::new(&buf).to_vec()))
    }
}

impl Multipart for R2Store {
    async fn create_multipart(&self, key: &StoredName, content_type: &str) -> Result<String> {
        let opts = js_sys::Object::new();
        let http = js_sys::Object::new();
        js::set(&http, "contentType", content_type);
        js::set(&opts, "httpMetadata", http);
        let upload =
            call("create multipart", self.bucket.create_multipart_upload(key.to_string(), opts.into())).await?;
        upload.unchecked_into::<R2MultipartUpload>().upload_id().map_err(|e| storage_error("create multipart", &e))
    }

    async fn upload_part(&self, part: PutPart<ReadableStream>) -> Result<String> {
        let upload = self.resume(&part.name, &part.upload_id)?;
        let uploaded = call("upload part", upload.upload_part(part.number, body_value(part.body))).await?;
        Ok(js::get(&uploaded, "etag").as_string().unwrap_or_default())
    }

    async fn complete_multipart(&self, key: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        let list: Vec<JsValue> = parts
            .iter()
            .map(|p| {
                let o = js_sys::Object::new();
                js::set(&o, "partNumber", f64::from(p.number));
                js::set(&o, "etag", p.etag.as_str());
                o.into()
            })
            .collect();
        let obj = call("complete multipart", self.resume(key, upload_id)?.complete(list)).await?;
        Ok(meta_of(&obj))
    }

    async fn abort_multipart(&self, key: &StoredName, upload_id: &str) -> Result<()> {
        match call("abort multipart", self.resume(key, upload_id)?.abort()).await {
            Err(e) if e.kind != ErrorKind::UploadNotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The binding cannot list an upload's parts; it is only asked for uploads whose parts went
    /// straight to the store, which needs the store's presigned URLs that only S3 has.
    async fn list_parts(&self, _key: &StoredName, _upload_id: &str) -> Result<Vec<Part>> {
        Err(GatewayError::new(ErrorKind::BadRequest, "the R2 binding cannot list a multipart upload's parts"))
    }
}
