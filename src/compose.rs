//! [`Compose`] on either backend: a body made of ranges of stored objects (a tus upload's
//! staged chunks). Each range is opened as the store's own download stream, and the streams are
//! piped in order into a `FixedLengthStream`, whose readable side is the body: a stream of
//! known length, as R2's `put` and S3 over `fetch` need. The bytes move inside the runtime and
//! never enter Wasm memory. A small upload read whole is a JavaScript `ArrayBuffer`, stored as
//! a `Response` body over it (known length again); only its first bytes are copied into Wasm.

use gateway_core::conditional::ReadConditions;
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::form::parse::FormFile;
use gateway_core::key::StoredName;
use gateway_core::range::ByteRangeSpec;
use gateway_core::store::{body_cut_off, length_mismatch, Compose, CutOff, GetResult, Objects};
use gateway_core::tus::plan::Piece;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStream;

use crate::backend::Backend;
use crate::js::{self, call};

fn failed(detail: impl Into<String>) -> GatewayError {
    GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", detail)
}

/// Pipes `streams` into `writable` one after another, then closes it; a failing stream aborts
/// it, so the reader of the composed body fails too.
async fn pipe_all(streams: Vec<ReadableStream>, writable: JsValue) {
    let opts = js_sys::Object::new();
    js::set(&opts, "preventClose", true);
    for stream in streams {
        let piped = call(&stream, "pipeTo", &[&writable, &opts]).map(js_sys::Promise::from);
        let done = match piped {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            drop(call(&writable, "abort", &[&e]));
            return;
        }
    }
    if let Ok(writer) = call(&writable, "getWriter", &[]) {
        drop(call(&writer, "close", &[]));
    }
}

impl Compose for Backend {
    async fn compose(&self, pieces: &[Piece], length: u64) -> Result<ReadableStream> {
        let mut streams = Vec::with_capacity(pieces.len());
        for p in pieces.iter().filter(|p| p.length > 0) {
            let name = StoredName::recorded(p.name.clone());
            let range = ByteRangeSpec::FromTo(p.offset, p.offset + p.length - 1);
            match self.get(&name, Some(range), &ReadConditions::default()).await? {
                GetResult::Found { body, .. } => streams.push(body),
                _ => return Err(failed(format!("compose: the staged chunk `{name}` is missing"))),
            }
        }
        let global = js_sys::global();
        let ctor: js_sys::Function = js::get(&global, "FixedLengthStream").unchecked_into();
        let fixed = js_sys::Reflect::construct(&ctor, &js_sys::Array::of1(&JsValue::from_f64(length as f64)))
            .map_err(|e| failed(format!("compose: {}", js::error_message(&e))))?;
        wasm_bindgen_futures::spawn_local(pipe_all(streams, js::get(&fixed, "writable")));
        js::get(&fixed, "readable")
            .dyn_into::<ReadableStream>()
            .map_err(|e| failed(format!("compose: {}", js::error_message(&e))))
    }

    async fn form(&self, body: ReadableStream, boundary: &str, total: u64) -> Result<FormFile<ReadableStream>> {
        crate::form::read(body, boundary, total).await
    }

    async fn buffer(&self, body: ReadableStream, length: u64, prefix: usize) -> Result<(ReadableStream, Vec<u8>)> {
        let internal = |e: JsValue| failed(format!("buffer: {}", js::error_message(&e)));
        let whole = web_sys::Response::new_with_opt_readable_stream(Some(&body)).and_then(|r| r.array_buffer());
        let bytes = JsFuture::from(whole.map_err(internal)?)
            .await
            .map_err(|e| body_cut_off(CutOff::ClientBody, format!("buffer: {}", js::error_message(&e))))?;
        let bytes: js_sys::ArrayBuffer = bytes.unchecked_into();
        if u64::from(bytes.byte_length()) != length {
            return Err(length_mismatch());
        }
        let n = prefix.min(bytes.byte_length() as usize) as u32;
        let head = js_sys::Uint8Array::new_with_byte_offset_and_length(&bytes, 0, n).to_vec();
        let stream = web_sys::Response::new_with_opt_buffer_source(Some(&bytes))
            .map_err(internal)?
            .body()
            .ok_or_else(|| failed("buffer: the response has no body"))?;
        Ok((stream, head))
    }
}
