//! The Workers Rate Limiting bindings (`[[ratelimits]]`) as the core's limiters: `limit({key})`
//! on the binding, read straight from the environment so any object with that method serves
//! (the platform's, or Miniflare's simulation of it).

use futures_util::future::LocalBoxFuture;
use gateway_core::ratelimit::RateLimiter;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::js;

/// Counts callers' requests.
pub const CALLERS: &str = "RATE_LIMIT_CALLERS";
/// Counts requests without a token by client address.
pub const ADDRESSES: &str = "RATE_LIMIT_ADDRESSES";

pub struct Binding(JsValue);

impl Binding {
    /// The binding `name`, if the deployment has one.
    pub fn from_env(env: &Env, name: &str) -> Option<Binding> {
        let value = js::get(env.as_ref(), name);
        (!value.is_undefined() && !value.is_null()).then_some(Binding(value))
    }
}

impl RateLimiter for Binding {
    fn limit<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, std::result::Result<bool, String>> {
        Box::pin(async move {
            let options = js_sys::Object::new();
            js::set(&options, "key", key);
            let promise = js::call(&self.0, "limit", &[&options]).map_err(|e| js::error_message(&e))?;
            let outcome = JsFuture::from(js_sys::Promise::from(promise)).await.map_err(|e| js::error_message(&e))?;
            js::get(&outcome, "success").as_bool().ok_or_else(|| "the limiter answered no `success`".to_owned())
        })
    }
}
