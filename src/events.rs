//! The `EVENTS` queue producer binding as the core's [`EventQueue`]. Messages are JSON (the
//! event or pending-commit message exactly as `gateway_core::events` writes it), so they read
//! the same in the dashboard, in a pull consumer and in the dead-letter queue.
//!
//! The binding is called through its JS `send` method rather than `worker::Queue`, whose
//! lookup insists on the runtime's own queue class: anything with the Queue producer API (a
//! queue, or a Worker standing in for one through RPC) can be bound.

use gateway_core::events::{Event, EventQueue, PendingCommit};
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

impl QueueBinding {
    /// Sends JSON text as a JSON message, delivered no sooner than `delay_s` seconds from now.
    async fn send_json(&self, json: &str, delay_s: u32) -> Result<(), String> {
        let message = js_sys::JSON::parse(json).map_err(|e| crate::js::error_message(&e))?;
        let options = js_sys::Object::new();
        crate::js::set(&options, "contentType", "json");
        if delay_s > 0 {
            crate::js::set(&options, "delaySeconds", delay_s);
        }
        let sent = self.0.send(&message, &options).map_err(|e| crate::js::error_message(&e))?;
        JsFuture::from(js_sys::Promise::resolve(&sent)).await.map_err(|e| crate::js::error_message(&e))?;
        Ok(())
    }
}

impl EventQueue for QueueBinding {
    async fn send(&self, event: &Event) -> Result<(), String> {
        self.send_json(&event.to_json(), 0).await
    }

    async fn announce(&self, pending: &PendingCommit, delay_s: u32) -> Result<(), String> {
        self.send_json(&pending.to_json(), delay_s).await
    }
}
