//! The Worker edge of the upload gateway: entry points only. Everything the gateway decides
//! lives in the `gateway-core` crate; the modules here turn Worker types into core types,
//! implement the core's store and metadata interfaces on R2 and D1, and move the bytes.

mod approval;
mod backend;
mod compose;
mod consume;
#[cfg(feature = "contract")]
mod contract;
mod convert;
mod d1;
mod digest;
mod env;
mod events;
mod fetch;
mod form;
mod idp;
mod js;
mod metadata;
mod r2;
mod ratelimit;
mod serve;
mod shard;
mod webhook;

use worker::{event, Context, Env, ScheduleContext, ScheduledEvent};

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    serve::serve(req, env, ctx).await
}

/// The Cron Trigger: the cleanup sweep (see `gateway_core::sweep`).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    serve::sweep(env).await
}

/// The `EVENTS` queue consumer (see `consume`). Exported by hand rather than with
/// `#[event(queue)]`: workers-rs 0.8's `Message` does not expose `attempts`, which the retry
/// delay and the webhook's attempt header need. worker-build routes an export named `queue`
/// to the runtime's queue handler exactly as it does the macro's.
mod queue_export {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;

    #[wasm_bindgen]
    pub async fn queue(batch: JsValue, env: worker::Env, _ctx: JsValue) -> Result<JsValue, JsValue> {
        crate::consume::consume(batch, env).await;
        Ok(JsValue::UNDEFINED)
    }
}
