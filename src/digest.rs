//! Digests of an upload body computed by the runtime while the body streams to a store that
//! checks none (`S3_CHECKSUMS=gateway`): the body is teed, one branch piped into a
//! `FixedLengthStream` (so `fetch` still sends its `Content-Length`), the other into one
//! `crypto.DigestStream` per digest asked for. A small body (at most
//! [`BUFFERED_UPLOAD_MAX_BYTES`], perhaps read whole already, whose tee the runtime cannot pipe
//! into a `FixedLengthStream`) is read into an `ArrayBuffer` and hashed with
//! `crypto.subtle.digest`. The bytes stay in the runtime; only the digests (32 and 16 bytes)
//! enter Wasm.

use gateway_core::announce::BUFFERED_UPLOAD_MAX_BYTES;
use gateway_core::s3::{BodyDigests, Digests, NoAnswer};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStream;

use crate::js;

/// The digests of a body being hashed: each algorithm's `DigestStream.digest` promise.
pub struct Hashing {
    sha256: Option<js_sys::Promise>,
    md5: Option<js_sys::Promise>,
}

fn failed(e: &JsValue) -> NoAnswer {
    NoAnswer { detail: format!("hashing the body: {}", js::error_message(e)) }
}

fn construct(global: &JsValue, path: &[&str], arg: &JsValue) -> Result<JsValue, JsValue> {
    let ctor = path.iter().fold(global.clone(), |obj, name| js::get(&obj, name));
    js_sys::Reflect::construct(&ctor.dyn_into::<js_sys::Function>()?, &js_sys::Array::of1(arg))
}

fn pipe_to(stream: &JsValue, writable: &JsValue) -> Result<(), JsValue> {
    let pipe: js_sys::Function = js::get(stream, "pipeTo").dyn_into()?;
    let piped = js_sys::Promise::from(pipe.call1(stream, writable)?);
    // Awaited so that its failure is handled: a failing body aborts the writable, and the
    // request reading it (the store's PUT, or the digest) fails and says so.
    wasm_bindgen_futures::spawn_local(async move { drop(JsFuture::from(piped).await) });
    Ok(())
}

/// Splits `stream` in two: a branch for the store and one for the digests.
fn tee(stream: &ReadableStream) -> (JsValue, JsValue) {
    let branches = stream.tee();
    (branches.get(0), branches.get(1))
}

/// The digest names `wanted` asks for, in the order [`Hashing`] keeps them.
fn algorithms(wanted: Digests) -> Vec<&'static str> {
    [(wanted.sha256.is_some(), "SHA-256"), (wanted.md5.is_some(), "MD5")]
        .iter()
        .filter(|(asked, _)| *asked)
        .map(|(_, algorithm)| *algorithm)
        .collect()
}

/// The digests' promises, in the order of [`algorithms`], sorted into a [`Hashing`].
fn sorted(wanted: Digests, promises: Vec<js_sys::Promise>) -> Hashing {
    let mut promises = promises.into_iter();
    let sha256 = wanted.sha256.and_then(|_| promises.next());
    let md5 = wanted.md5.and_then(|_| promises.next());
    Hashing { sha256, md5 }
}

/// Starts hashing `body` (`length` bytes): the stream to send in its place, and the digests.
pub async fn hash(body: ReadableStream, length: u64, wanted: Digests) -> Result<(ReadableStream, Hashing), NoAnswer> {
    if length <= BUFFERED_UPLOAD_MAX_BYTES {
        return hash_whole(body, wanted).await;
    }
    let global = js_sys::global();
    let (send, mut rest) = tee(&body);
    let algorithms = algorithms(wanted);
    let mut promises = Vec::with_capacity(algorithms.len());
    for (i, algorithm) in algorithms.iter().enumerate() {
        let branch = if i + 1 < algorithms.len() {
            let (this, next) = tee(rest.unchecked_ref());
            rest = next;
            this
        } else {
            rest.clone()
        };
        let digest =
            construct(&global, &["crypto", "DigestStream"], &JsValue::from_str(algorithm)).map_err(|e| failed(&e))?;
        pipe_to(&branch, &digest).map_err(|e| failed(&e))?;
        promises.push(js_sys::Promise::from(js::get(&digest, "digest")));
    }
    let fixed =
        construct(&global, &["FixedLengthStream"], &JsValue::from_f64(length as f64)).map_err(|e| failed(&e))?;
    pipe_to(&send, &js::get(&fixed, "writable")).map_err(|e| failed(&e))?;
    let readable = js::get(&fixed, "readable").dyn_into::<ReadableStream>().map_err(|e| failed(&e))?;
    Ok((readable, sorted(wanted, promises)))
}

/// A small body: read into an `ArrayBuffer`, hashed by `crypto.subtle`, sent as a `Response`
/// body over the same buffer (a known length again).
async fn hash_whole(body: ReadableStream, wanted: Digests) -> Result<(ReadableStream, Hashing), NoAnswer> {
    let whole = web_sys::Response::new_with_opt_readable_stream(Some(&body))
        .and_then(|r| r.array_buffer())
        .map_err(|e| failed(&e))?;
    let buffer = JsFuture::from(whole).await.map_err(|e| failed(&e))?;
    let subtle = js::get(&js::get(&js_sys::global(), "crypto"), "subtle");
    let digest: js_sys::Function = js::get(&subtle, "digest").dyn_into().map_err(|e| failed(&e))?;
    let mut promises = Vec::new();
    for algorithm in algorithms(wanted) {
        let promise = digest.call2(&subtle, &JsValue::from_str(algorithm), &buffer).map_err(|e| failed(&e))?;
        promises.push(js_sys::Promise::from(promise));
    }
    let source: js_sys::Object = buffer.unchecked_into();
    let stream = web_sys::Response::new_with_opt_buffer_source(Some(&source))
        .map_err(|e| failed(&e))?
        .body()
        .ok_or_else(|| NoAnswer { detail: "hashing the body: the response has no body".to_owned() })?;
    Ok((stream, sorted(wanted, promises)))
}

async fn bytes<const N: usize>(promise: Option<js_sys::Promise>) -> Result<Option<[u8; N]>, String> {
    let Some(promise) = promise else { return Ok(None) };
    let buffer = JsFuture::from(promise).await.map_err(|e| js::error_message(&e))?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    <[u8; N]>::try_from(bytes).map(Some).map_err(|b| format!("a digest of {} bytes", b.len()))
}

impl BodyDigests for Hashing {
    async fn digests(self) -> Result<Digests, String> {
        Ok(Digests { sha256: bytes(self.sha256).await?, md5: bytes(self.md5).await? })
    }
}
