//! Small helpers for reading and building plain JS objects.

use wasm_bindgen::JsValue;

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
