//! Small helpers for reading and building plain JS objects.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub fn get(obj: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

pub fn set(obj: &js_sys::Object, name: &str, value: impl Into<JsValue>) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(name), &value.into());
}

/// The message of a thrown JS value (an `Error`'s `message`, or its string form).
pub fn error_message(err: &JsValue) -> String {
    get(err, "message").as_string().or_else(|| err.as_string()).unwrap_or_else(|| format!("{err:?}"))
}

pub fn bytes(data: &[u8]) -> js_sys::Uint8Array {
    js_sys::Uint8Array::from(data)
}

fn call0(obj: &JsValue, method: &str) -> Result<JsValue, JsValue> {
    get(obj, method).dyn_into::<js_sys::Function>()?.call0(obj)
}

/// `obj.method(...args)`, for up to two arguments.
pub fn call(obj: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let f = get(obj, method).dyn_into::<js_sys::Function>()?;
    match args {
        [] => f.call0(obj),
        [a] => f.call1(obj, a),
        [a, b] => f.call2(obj, a, b),
        _ => Err(JsValue::from_str("too many arguments")),
    }
}

/// Reads `stream` until it ends or more than `cap` bytes have arrived, then cancels it: at
/// most `cap` bytes are kept, and `true` says there were more. Never reads a whole body that
/// is larger than expected (a store that ignores `Range`, an oversized error or JSON body).
pub async fn read_at_most(stream: &web_sys::ReadableStream, cap: usize) -> Result<(Vec<u8>, bool), JsValue> {
    let reader = call0(stream, "getReader")?;
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(js_sys::Promise::from(call0(&reader, "read")?)).await?;
        if get(&chunk, "done").as_bool() == Some(true) {
            return Ok((out, false));
        }
        let value = js_sys::Uint8Array::new(&get(&chunk, "value"));
        let room = cap - out.len();
        if value.length() as usize > room {
            out.extend(value.subarray(0, room as u32).to_vec());
            drop(call0(&reader, "cancel"));
            return Ok((out, true));
        }
        out.extend(value.to_vec());
    }
}

/// Lets go of a response body nobody will read, so its connection is released now rather
/// than when the garbage collector finds it.
pub fn discard_body(res: &web_sys::Response) {
    if let Some(body) = res.body() {
        drop(body.cancel());
    }
}
