//! Bodies the edge builds, on either backend, as `FixedLengthStream`s: streams of known length,
//! as R2's `put` and S3 over `fetch` need. [`Compose`]: a body made of ranges of stored objects
//! (a tus upload's staged chunks), each opened as the store's own download stream and piped in
//! order, so the bytes move inside the runtime and never enter Wasm memory. [`buffered`]: a
//! small upload body read whole (to be sniffed before it is stored) and given back as a body.

use gateway_core::conditional::ReadConditions;
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::key::StoredName;
use gateway_core::range::ByteRangeSpec;
use gateway_core::store::{body_cut_off, Buffered, Compose, CutOff, GetResult, Objects};
use gateway_core::tus::plan::Piece;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStream;

use crate::backend::Backend;
use crate::js;

fn failed(detail: impl Into<String>) -> GatewayError {
    GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", detail)
}

fn call(obj: &JsValue, method: &str, args: &[&JsValue]) -> std::result::Result<JsValue, JsValue> {
    let f = js::get(obj, method).dyn_into::<js_sys::Function>()?;
    match args {
        [] => f.call0(obj),
        [a] => f.call1(obj, a),
        [a, b] => f.call2(obj, a, b),
        _ => Err(JsValue::from_str("too many arguments")),
    }
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

/// A `FixedLengthStream` of `length` bytes: its readable and writable sides.
fn fixed_length(length: u64) -> Result<(ReadableStream, JsValue)> {
    let ctor: js_sys::Function = js::get(&js_sys::global(), "FixedLengthStream").unchecked_into();
    let fixed = js_sys::Reflect::construct(&ctor, &js_sys::Array::of1(&JsValue::from_f64(length as f64)))
        .map_err(|e| failed(format!("FixedLengthStream: {}", js::error_message(&e))))?;
    let readable = js::get(&fixed, "readable")
        .dyn_into::<ReadableStream>()
        .map_err(|e| failed(format!("FixedLengthStream: {}", js::error_message(&e))))?;
    Ok((readable, js::get(&fixed, "writable")))
}

/// Reads an upload body of `length` bytes whole and gives it back as a body holding them.
pub async fn buffered(body: ReadableStream, length: u64) -> Result<Buffered<ReadableStream>> {
    let cut_off = |why: String| body_cut_off(CutOff::ClientBody, why);
    let (bytes, more) = js::read_at_most(&body, length as usize).await.map_err(|e| cut_off(js::error_message(&e)))?;
    if more || bytes.len() as u64 != length {
        return Err(cut_off(format!("{} bytes of a body of {length}", bytes.len())));
    }
    let (readable, writable) = fixed_length(length)?;
    let chunk = js::bytes(&bytes);
    // Queued now (the close after the write), awaited in the background: the store's request
    // reads the bytes, and a failure reaches it as an error.
    let writer = call(&writable, "getWriter", &[]).map_err(|e| failed(format!("buffer: {}", js::error_message(&e))))?;
    let steps: Vec<JsValue> =
        [call(&writer, "write", &[&chunk]), call(&writer, "close", &[])].into_iter().flatten().collect();
    wasm_bindgen_futures::spawn_local(async move {
        for step in steps {
            if JsFuture::from(js_sys::Promise::from(step)).await.is_err() {
                return;
            }
        }
    });
    Ok(Buffered::Read(bytes, readable))
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
        let (readable, writable) = fixed_length(length)?;
        wasm_bindgen_futures::spawn_local(pipe_all(streams, writable));
        Ok(readable)
    }
}
