//! A form POST's body at the edge ([`gateway_core::store::Compose::form`]): its first chunks
//! are read until the core has the fields before the file, then the file's bytes go on to the
//! store through a `FixedLengthStream` of the file's length. Each chunk is copied into Wasm
//! only to be scanned; what goes to the store is the request's own chunk, cut with `subarray`.
//! The file's last byte is written only once the core has accepted the form's ending, so a
//! malformed form never completes a store write.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::form::parse::{read_head, FileScan, FormFile, MAX_HEAD_BYTES};
use gateway_core::store::{body_cut_off, CutOff};
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStream;

use crate::js::{self, call};

type Fault = Rc<RefCell<Option<GatewayError>>>;

fn failed(detail: impl Into<String>) -> GatewayError {
    GatewayError::hidden(ErrorKind::Internal, "the form could not be read", detail)
}

fn cut(e: &JsValue) -> GatewayError {
    body_cut_off(CutOff::ClientBody, format!("form: {}", js::error_message(e)))
}

/// How much of the body one read asks for. A form's file is read in pieces this large where
/// the runtime allows (workerd's BYOB `readAtLeast`), so it costs a few reads per megabyte
/// rather than one per network chunk: every read is a trip between JavaScript and Wasm.
const READ_BYTES: u32 = 128 * 1024;

/// The body's reader: a BYOB one where the body is a byte stream (a request body in workerd).
struct Reader {
    reader: JsValue,
    byob: bool,
}

impl Reader {
    fn of(body: &ReadableStream) -> std::result::Result<Reader, JsValue> {
        let options = js_sys::Object::new();
        js::set(&options, "mode", "byob");
        match call(body, "getReader", &[&options]) {
            Ok(reader) => Ok(Reader { reader, byob: true }),
            Err(_) => Ok(Reader { reader: call(body, "getReader", &[])?, byob: false }),
        }
    }

    /// The next piece of the body, or `None` at its end. Each BYOB read gets a buffer of its
    /// own: a written piece may still be on its way to the store after its write settled.
    async fn next(&self) -> std::result::Result<Option<Uint8Array>, JsValue> {
        let read = if self.byob {
            let view = Uint8Array::new_with_length(READ_BYTES);
            let at_least = JsValue::from_f64(f64::from(READ_BYTES));
            call(&self.reader, "readAtLeast", &[&at_least, &view]).or_else(|_| call(&self.reader, "read", &[&view]))?
        } else {
            call(&self.reader, "read", &[])?
        };
        let chunk = JsFuture::from(Promise::from(read)).await?;
        let value = js::get(&chunk, "value");
        if js::get(&chunk, "done").as_bool() == Some(true) && value.is_undefined() {
            return Ok(None);
        }
        let bytes = Uint8Array::new(&value);
        if bytes.length() == 0 {
            // A BYOB read that found the end hands back an empty view.
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    fn cancel(&self, reason: &JsValue) {
        drop(call(&self.reader, "cancel", &[reason]));
    }
}

/// Writes `bytes` on; the promise settles once the store has taken them, which holds the
/// reading back while the store is slower than the client.
async fn write(writer: &Option<JsValue>, bytes: &JsValue) -> std::result::Result<(), JsValue> {
    match writer {
        Some(writer) => JsFuture::from(Promise::from(call(writer, "write", &[bytes])?)).await.map(drop),
        None => Ok(()),
    }
}

/// Reads the form's head from `body`, then answers with the file as a stream of its length.
pub async fn read(body: ReadableStream, boundary: &str, total: u64) -> Result<FormFile<ReadableStream>> {
    let reader = Reader::of(&body).map_err(|e| failed(js::error_message(&e)))?;
    // The chunks read for the head, from the body's first byte on: the pump starts with them.
    let mut pending = VecDeque::new();
    let mut prefix: Vec<u8> = Vec::new();
    let head = loop {
        if let Some(head) = read_head(&prefix, boundary)? {
            break head;
        }
        let Some(chunk) = reader.next().await.map_err(|e| cut(&e))? else {
            return Err(gateway_core::form::parse::read_whole(&prefix, boundary).err().unwrap_or_else(|| {
                GatewayError::new(ErrorKind::BadRequest, "the form is malformed: it ended before its file")
            }));
        };
        let room = MAX_HEAD_BYTES.saturating_sub(prefix.len()).min(chunk.length() as usize);
        prefix.extend(chunk.subarray(0, room as u32).to_vec());
        pending.push_back(chunk);
    };
    let scan = FileScan::new(&head, boundary, total)?;
    let length = scan.file_len();
    let fault: Fault = Rc::default();
    if length == 0 {
        // Nothing to hold back: the whole form is checked before the empty file is stored.
        pump(reader, None, pending, scan, fault.clone()).await?;
        // A body of known length zero, as the store needs.
        let empty = web_sys::Response::new_with_opt_str(Some("")).map_err(|e| failed(js::error_message(&e)))?;
        let body = empty.body().ok_or_else(|| failed("an empty response has no body"))?;
        return Ok(FormFile { head, body, length, fault });
    }
    let global = js_sys::global();
    let ctor: js_sys::Function = js::get(&global, "FixedLengthStream").unchecked_into();
    let fixed = js_sys::Reflect::construct(&ctor, &js_sys::Array::of1(&JsValue::from_f64(length as f64)))
        .map_err(|e| failed(js::error_message(&e)))?;
    let writer = call(&js::get(&fixed, "writable"), "getWriter", &[]).map_err(|e| failed(js::error_message(&e)))?;
    let file = js::get(&fixed, "readable").dyn_into::<ReadableStream>().map_err(|e| failed(js::error_message(&e)))?;
    let pumped = pump(reader, Some(writer), pending, scan, fault.clone());
    wasm_bindgen_futures::spawn_local(async move { drop(pumped.await) });
    Ok(FormFile { head, body: file, length, fault })
}

/// The file's bytes into `writer` (none for an empty file), the last one once the form's
/// ending is accepted; on a malformed form, the fault is noted and the stream aborted, so the
/// store write fails.
async fn pump(
    reader: Reader,
    writer: Option<JsValue>,
    mut pending: VecDeque<Uint8Array>,
    mut scan: FileScan,
    fault: Fault,
) -> Result<()> {
    let mut held = None;
    let outcome: Result<()> = async {
        // Chunks are written in order as the scan passes them; the writer's promise holds
        // the reading back while the store is slower than the client.
        let mut read = 0u64;
        loop {
            let chunk = match pending.pop_front() {
                Some(chunk) => chunk,
                None => match reader.next().await.map_err(|e| cut(&e))? {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            let fed = scan.feed(read, &chunk.to_vec())?;
            read += u64::from(chunk.length());
            held = held.take().or(fed.last.map(|i| chunk.subarray(i as u32, i as u32 + 1)));
            if !fed.now.is_empty() {
                let bytes = chunk.subarray(fed.now.start as u32, fed.now.end as u32);
                write(&writer, &bytes).await.map_err(|e| cut(&e))?;
            }
        }
        scan.finish()?;
        if let Some(last) = held.take() {
            write(&writer, &last).await.map_err(|e| cut(&e))?;
        }
        if let Some(writer) = &writer {
            let closed = call(writer, "close", &[]).map_err(|e| cut(&e))?;
            JsFuture::from(Promise::from(closed)).await.map_err(|e| cut(&e))?;
        }
        Ok(())
    }
    .await;
    if let Err(err) = &outcome {
        let reason = JsValue::from_str(&err.detail);
        if err.kind == ErrorKind::BadRequest {
            *fault.borrow_mut() = Some(err.clone());
        }
        if let Some(writer) = &writer {
            drop(call(writer, "abort", &[&reason]));
        }
        reader.cancel(&reason);
    }
    outcome
}
