//! The `EVENTS` queue producer binding as the core's [`EventQueue`]. Messages are JSON (the
//! event exactly as `gateway_core::events` writes it), so they read the same in the dashboard,
//! in a pull consumer and in the dead-letter queue.
//!
//! The binding is called through its JS `send` method rather than `worker::Queue`, whose
//! lookup insists on the runtime's own queue class: anything with the Queue producer API (a
//! queue, or a Worker standing in for one through RPC) can be bound.

use gateway_core::events::{Event, EventQueue};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

#[wasm_bindgen]
extern "C" {
    /// Anything with the Queue producer's `send(body, options)`.
    type Producer;

    /// A method call (`binding.send(…)`), as an RPC stub needs.
    #[wasm_bindgen(method, catch)]
    fn send(this: &Producer, body: &JsValue, options: &JsValue) -> Result<JsValue, JsValue>;
}

pub struct QueueBinding(Producer);

impl QueueBinding {
    /// The `EVENTS` binding, if the deployment has one.
    pub fn from_env(env: &Env) -> Option<QueueBinding> {
        let binding = crate::js::get(env.as_ref(), "EVENTS");
        (!binding.is_undefined() && !binding.is_null()).then(|| QueueBinding(binding.unchecked_into()))
    }
}

impl EventQueue for QueueBinding {
    async fn send(&self, event: &Event) -> Result<(), String> {
        let message = js_sys::JSON::parse(&event.to_json()).map_err(|e| crate::js::error_message(&e))?;
        let options = js_sys::Object::new();
        crate::js::set(&options, "contentType", "json");
        let sent = self.0.send(&message, &options).map_err(|e| crate::js::error_message(&e))?;
        JsFuture::from(js_sys::Promise::resolve(&sent)).await.map_err(|e| crate::js::error_message(&e))?;
        Ok(())
    }
}
