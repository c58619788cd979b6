//! bench/reference-worker.js in Rust: check an HS256 JWT, stream the body to S3 (SigV4 with
//! `UNSIGNED-PAYLOAD`, the request's own body passed to `fetch`), insert a D1 row, send one
//! queue message; the consumer reads each batch's rows in one query and acknowledges them.
//! Only what the reference does, so that the benchmark separates the cost of running Rust
//! through wasm-bindgen from the cost of the gateway's own work.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine;
use gateway_core::config::{Config, Storage};
use gateway_core::s3::{sign_request, S3Config, UNSIGNED_PAYLOAD};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env};

thread_local! {
    static S3: RefCell<Option<Rc<S3Config>>> = const { RefCell::new(None) };
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()))
}

fn s3(env: &Env) -> Option<Rc<S3Config>> {
    if let Some(cfg) = S3.with(|c| c.borrow().clone()) {
        return Some(cfg);
    }
    let cfg = match Config::from_lookup(|name| var(env, name)).ok()?.storage {
        Storage::S3(s3) => Rc::new(s3),
        _ => return None,
    };
    S3.with(|c| *c.borrow_mut() = Some(cfg.clone()));
    Some(cfg)
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: f64,
}

fn verify(token: &str, secret: &str, now_s: f64) -> Option<Claims> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{h}.{p}").as_bytes());
    mac.verify_slice(&b64.decode(s).ok()?).ok()?;
    let claims: Claims = serde_json::from_slice(&b64.decode(p).ok()?).ok()?;
    (claims.exp > now_s).then_some(claims)
}

fn text(status: u16, body: &str) -> worker::Result<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    web_sys::Response::new_with_opt_str_and_init(Some(body), &init)
        .map_err(|e| worker::Error::JsError(format!("{e:?}")))
}

fn get(obj: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn call(obj: &JsValue, method: &str, args: &js_sys::Array) -> Result<JsValue, JsValue> {
    get(obj, method).dyn_into::<js_sys::Function>()?.apply(obj, args)
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> worker::Result<web_sys::Response> {
    let js = |e: JsValue| worker::Error::JsError(format!("{e:?}"));
    let url = req.url();
    let path = url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or("/");
    if path == "/healthz" {
        return text(200, "ok");
    }
    let Some(key) = path.strip_prefix("/files/").filter(|_| req.method() == "PUT") else {
        return text(404, "not found");
    };
    let now_ms = js_sys::Date::now();
    let headers = req.headers();
    let token = headers.get("authorization").map_err(js)?.unwrap_or_default();
    let secret = var(&env, "JWT_SECRET").unwrap_or_default();
    let Some(claims) = verify(token.strip_prefix("Bearer ").unwrap_or_default(), &secret, now_ms / 1000.0) else {
        return text(401, "unauthorized");
    };
    if !key.starts_with(&format!("{}/", claims.sub)) {
        return text(403, "forbidden");
    }
    let Some(size) = headers.get("content-length").map_err(js)?.and_then(|v| v.parse::<u64>().ok()) else {
        return text(411, "length required");
    };
    let content_type = headers.get("content-type").map_err(js)?.unwrap_or_else(|| "application/octet-stream".into());
    let Some(cfg) = s3(&env) else { return text(500, "S3 is not configured") };
    let signed = sign_request(
        &cfg,
        "PUT",
        cfg.object_url(key),
        vec![("content-type".to_owned(), content_type.clone())],
        UNSIGNED_PAYLOAD,
        now_ms as i64,
    )
    .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let out = web_sys::Headers::new().map_err(js)?;
    for (name, value) in &signed.headers {
        out.set(name, value).map_err(js)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method("PUT");
    init.set_headers(&out);
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    let outbound = web_sys::Request::new_with_str_and_init(&signed.url, &init).map_err(js)?;
    let global = js_sys::global();
    let promise = call(&global, "fetch", &js_sys::Array::of1(&outbound)).map_err(js)?;
    let res: web_sys::Response = JsFuture::from(js_sys::Promise::from(promise)).await.map_err(js)?.unchecked_into();
    if !res.ok() {
        return text(502, &format!("storage error {}", res.status()));
    }
    let etag = res.headers().get("etag").map_err(js)?.unwrap_or_default();
    if let Some(body) = res.body() {
        drop(body.cancel());
    }
    let db = env.d1("DB")?;
    db.prepare(
        "INSERT OR REPLACE INTO objects (key, owner, size, content_type, etag, status, created_at, completed_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&[
        key.into(),
        claims.sub.as_str().into(),
        (size as f64).into(),
        content_type.as_str().into(),
        etag.as_str().into(),
        "complete".into(),
        now_ms.into(),
        now_ms.into(),
    ])?
    .run()
    .await?;
    let queue = get(env.as_ref(), "EVENTS");
    if !queue.is_undefined() {
        let message = serde_json::json!({ "type": "object.uploaded", "key": key, "etag": etag }).to_string();
        let message = js_sys::JSON::parse(&message).map_err(js)?;
        let sent = call(&queue, "send", &js_sys::Array::of1(&message)).map_err(js)?;
        JsFuture::from(js_sys::Promise::resolve(&sent)).await.map_err(js)?;
    }
    let answer = serde_json::json!({ "key": key, "size": size, "etag": etag }).to_string();
    let init = web_sys::ResponseInit::new();
    init.set_status(201);
    let headers = web_sys::Headers::new().map_err(js)?;
    headers.set("content-type", "application/json").map_err(js)?;
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&answer), &init).map_err(js)
}

/// Reads the batch's rows in one query, then acknowledges every message.
#[wasm_bindgen]
pub async fn queue(batch: JsValue, env: Env, _ctx: JsValue) -> Result<JsValue, JsValue> {
    let messages: Vec<JsValue> = get(&batch, "messages").dyn_into::<js_sys::Array>()?.iter().collect();
    let keys: Vec<String> = messages.iter().filter_map(|m| get(&get(m, "body"), "key").as_string()).collect();
    let list = serde_json::to_string(&keys).unwrap_or_default();
    let db = env.d1("DB").map_err(|e| JsValue::from_str(&e.to_string()))?;
    let read = db
        .prepare("SELECT key, etag FROM objects WHERE key IN (SELECT value FROM json_each(?1))")
        .bind(&[list.into()])
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    read.all().await.map_err(|e| JsValue::from_str(&e.to_string()))?;
    call(&batch, "ackAll", &js_sys::Array::new())?;
    Ok(JsValue::UNDEFINED)
}
