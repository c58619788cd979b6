//! The storage and metadata contracts (`gateway_core::contract`) run inside the Worker against
//! the real bindings: the configured store (R2 binding or S3 over `fetch`) and D1. Compiled
//! only with `--features contract`, into the separate build `tests/contract.test.mjs` uses; a
//! production build has no such route.

use gateway_core::contract::{self, ContractStore, Outcome};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::ReadableStream;
use worker::Env;

use crate::backend::Backend;
use crate::env::config;
use crate::js;

impl ContractStore for Backend {
    /// A `FixedLengthStream` holding `bytes`: a stream of known length, as request bodies are.
    fn body(bytes: &[u8]) -> ReadableStream {
        let global = js_sys::global();
        let ctor: js_sys::Function = js::get(&global, "FixedLengthStream").unchecked_into();
        let args = js_sys::Array::of1(&JsValue::from_f64(bytes.len() as f64));
        let stream = js_sys::Reflect::construct(&ctor, &args).unwrap_or(JsValue::UNDEFINED);
        let writer = js::get(&js::get(&stream, "writable"), "getWriter")
            .dyn_into::<js_sys::Function>()
            .and_then(|f| f.call0(&js::get(&stream, "writable")))
            .unwrap_or(JsValue::UNDEFINED);
        let call = |method: &str, arg: Option<JsValue>| {
            if let Ok(f) = js::get(&writer, method).dyn_into::<js_sys::Function>() {
                // The writes complete as the store reads the stream; nobody waits for them here.
                drop(match arg {
                    Some(a) => f.call1(&writer, &a),
                    None => f.call0(&writer),
                });
            }
        };
        if !bytes.is_empty() {
            call("write", Some(js::bytes(bytes).into()));
        }
        call("close", None);
        js::get(&stream, "readable").unchecked_into()
    }

    async fn collect(stream: ReadableStream) -> Result<Vec<u8>, String> {
        js::read_at_most(&stream, 64 * 1024 * 1024).await.map(|(bytes, _)| bytes).map_err(|e| js::error_message(&e))
    }
}

/// `POST /__contract/shards/sql` (`{sql, args, key?}`): the statement run in the shard of
/// `key`, or in every registered shard, `{results, changes}` joined: the integration tests'
/// view of the rows when the metadata is on shards, as D1's own binding is theirs on D1. The
/// shard's alarm is left alone and its due time reported: what a test leaves due is found by
/// the Cron Trigger, as work whose alarm was lost is.
async fn shards_sql(req: &web_sys::Request, env: &Env) -> worker::Result<web_sys::Response> {
    #[derive(serde::Deserialize)]
    struct Query {
        sql: String,
        #[serde(default)]
        args: Vec<gateway_core::sql::Value>,
        key: Option<String>,
    }
    let fail = |e: gateway_core::error::GatewayError| worker::Error::RustError(e.log_line());
    let js_fail = |e: JsValue| worker::Error::JsError(js::error_message(&e));
    let text = wasm_bindgen_futures::JsFuture::from(req.text().map_err(js_fail)?).await.map_err(js_fail)?;
    let q: Query = serde_json::from_str(&text.as_string().unwrap_or_default())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let layout = config(env).map_err(fail)?.shards.clone();
    let shards = crate::shard::DurableShards::from_env(env, layout).map_err(fail)?;
    let found = shards.test_sql(q.key.as_deref(), gateway_core::sql::stmt(q.sql, q.args)).await.map_err(fail)?;
    let json = serde_json::json!({ "results": found.rows, "changes": found.changes }).to_string();
    web_sys::Response::new_with_opt_str(Some(&json)).map_err(js_fail)
}

/// `GET /__contract/store` or `/__contract/metadata`: the cases' outcomes as JSON.
pub async fn serve(path: &str, req: &web_sys::Request, env: &Env) -> Option<worker::Result<web_sys::Response>> {
    if path == "/__contract/shards/sql" {
        return Some(shards_sql(req, env).await);
    }
    let outcomes: Vec<Outcome> = match path {
        "/__contract/store" => {
            let store = config(env).and_then(|cfg| Backend::from_env(env, &cfg));
            match store {
                Ok(store) => contract::store(&store).await,
                Err(e) => return Some(Err(worker::Error::RustError(e.log_line()))),
            }
        }
        "/__contract/metadata" => match config(env).and_then(|cfg| crate::metadata::open(env, &cfg)) {
            Ok(meta) => contract::metadata(&meta).await,
            Err(e) => return Some(Err(worker::Error::RustError(e.log_line()))),
        },
        _ => return None,
    };
    let json = serde_json::to_string(&outcomes).unwrap_or_default();
    Some(web_sys::Response::new_with_opt_str(Some(&json)).map_err(|e| worker::Error::JsError(js::error_message(&e))))
}
