//! The edge's part in verifying identity providers' tokens ([`gateway_core::idp`]): their key
//! sets fetched with the runtime's `fetch` (with a timeout), kept per isolate, and signatures
//! checked with the runtime's WebCrypto (`crypto.subtle.verify`), whose RSA and ECDSA run
//! natively instead of in Wasm. Imported keys are kept per isolate too, so a key is imported
//! once, not per request.

use std::cell::RefCell;
use std::collections::BTreeMap;

use futures_util::future::LocalBoxFuture;
use gateway_core::idp::jwk::{Alg, KeyMaterial};
use gateway_core::idp::keys::{Fetched, KeyFetcher, RemoteKeys, FETCH_TIMEOUT_MS};
use gateway_core::idp::{IdpVerifier, SignatureVerifier};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::js;

/// The most of a key set or OpenID configuration that is read.
const KEYS_LIMIT: usize = 1024 * 1024;

thread_local! {
    /// The isolate's key sets: they outlive requests, as the isolate does.
    static KEYS: &'static RemoteKeys = Box::leak(Box::new(RemoteKeys::default()));
    /// Imported WebCrypto keys by algorithm and key.
    static IMPORTED: RefCell<BTreeMap<String, JsValue>> = const { RefCell::new(BTreeMap::new()) };
}

/// Fetches key sets with `fetch`, giving up after [`FETCH_TIMEOUT_MS`].
pub struct FetchKeys;

/// Checks signatures with `crypto.subtle`.
pub struct WebCrypto;

/// The verifier for one request, on the isolate's key sets.
pub fn verifier() -> IdpVerifier<'static> {
    IdpVerifier { keys: KEYS.with(|k| *k), fetcher: &FetchKeys, verifier: &WebCrypto }
}

fn message(e: &JsValue) -> String {
    js::error_message(e)
}

fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = js::get(obj, method).dyn_into()?;
    f.apply(obj, &args.iter().collect::<js_sys::Array>())
}

async fn fetch(url: &str) -> Result<Fetched, String> {
    let global = js_sys::global();
    let init = js_sys::Object::new();
    let signal = call(&js::get(&global, "AbortSignal"), "timeout", &[JsValue::from(FETCH_TIMEOUT_MS)])
        .map_err(|e| message(&e))?;
    js::set(&init, "signal", signal);
    let promise = call(&global, "fetch", &[JsValue::from_str(url), init.into()]).map_err(|e| message(&e))?;
    let response: web_sys::Response = JsFuture::from(js_sys::Promise::from(promise))
        .await
        .map_err(|e| message(&e))?
        .dyn_into()
        .map_err(|e| message(&e))?;
    let cache_control = response.headers().get("cache-control").ok().flatten();
    let body = match response.body() {
        Some(stream) => js::read_at_most(&stream, KEYS_LIMIT).await.map_err(|e| message(&e))?.0,
        None => Vec::new(),
    };
    Ok(Fetched { status: response.status(), cache_control, body: String::from_utf8_lossy(&body).into_owned() })
}

impl KeyFetcher for FetchKeys {
    fn get<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, String>> {
        Box::pin(fetch(url))
    }

    fn pause(&self, ms: u32) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move {
            let timer = js_sys::Promise::new(&mut |resolve, _| {
                drop(call(&js_sys::global(), "setTimeout", &[resolve.into(), JsValue::from(ms)]));
            });
            drop(JsFuture::from(timer).await);
        })
    }
}

/// `importKey` and `verify` parameters of `alg`.
fn params(alg: Alg) -> (js_sys::Object, js_sys::Object) {
    let import = js_sys::Object::new();
    let verify = js_sys::Object::new();
    let hash = js_sys::Object::new();
    js::set(&hash, "name", alg.hash());
    match alg {
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 => {
            js::set(&import, "name", "RSASSA-PKCS1-v1_5");
            js::set(&import, "hash", hash);
            js::set(&verify, "name", "RSASSA-PKCS1-v1_5");
        }
        Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
            js::set(&import, "name", "RSA-PSS");
            js::set(&import, "hash", hash);
            js::set(&verify, "name", "RSA-PSS");
            let salt = match alg {
                Alg::Ps384 => 48,
                Alg::Ps512 => 64,
                _ => 32,
            };
            js::set(&verify, "saltLength", salt);
        }
        Alg::Es256 => {
            js::set(&import, "name", "ECDSA");
            js::set(&import, "namedCurve", "P-256");
            js::set(&verify, "name", "ECDSA");
            js::set(&verify, "hash", hash);
        }
        Alg::EdDsa | Alg::Hs256 => {
            js::set(&import, "name", "Ed25519");
            js::set(&verify, "name", "Ed25519");
        }
    }
    (import, verify)
}

async fn imported(subtle: &JsValue, alg: Alg, key: &KeyMaterial, import: &js_sys::Object) -> Result<JsValue, JsValue> {
    let jwk = key.to_jwk().to_string();
    let id = format!("{}:{jwk}", alg.name());
    if let Some(found) = IMPORTED.with(|m| m.borrow().get(&id).cloned()) {
        return Ok(found);
    }
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let args = [JsValue::from_str("jwk"), js_sys::JSON::parse(&jwk)?, import.into(), JsValue::FALSE, usages.into()];
    let key = JsFuture::from(js_sys::Promise::from(call(subtle, "importKey", &args)?)).await?;
    IMPORTED.with(|m| m.borrow_mut().insert(id, key.clone()));
    Ok(key)
}

async fn check(alg: Alg, key: &KeyMaterial, input: &[u8], signature: &[u8]) -> Result<bool, JsValue> {
    let subtle = js::get(&js::get(&js_sys::global(), "crypto"), "subtle");
    let (import, verify) = params(alg);
    let key = imported(&subtle, alg, key, &import).await?;
    let args = [verify.into(), key, js::bytes(signature).into(), js::bytes(input).into()];
    let valid = JsFuture::from(js_sys::Promise::from(call(&subtle, "verify", &args)?)).await?;
    Ok(valid.as_bool() == Some(true))
}

impl SignatureVerifier for WebCrypto {
    fn verify<'a>(
        &'a self,
        alg: Alg,
        key: &'a KeyMaterial,
        input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { check(alg, key, input, signature).await.map_err(|e| message(&e)) })
    }
}
