//! Worker request → core [`RequestHead`], core [`Reply`] → Worker response. Bodies are
//! passed as JS stream handles; no body byte is read here.

use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::http::{Body, Reply, RequestHead};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use wasm_bindgen::JsValue;
use web_sys::ReadableStream;

pub fn request_head(req: &web_sys::Request) -> Result<RequestHead, GatewayError> {
    let bad = |what: &str| GatewayError::new(ErrorKind::BadRequest, what);
    let method = Method::from_bytes(req.method().as_bytes()).map_err(|_| bad("unknown method"))?;
    let url = url::Url::parse(&req.url()).map_err(|_| bad("malformed URL"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in worker::Headers(req.headers()).entries() {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.append(n, v);
        }
    }
    Ok(RequestHead {
        method,
        origin: url.origin().ascii_serialization(),
        path: url.path().to_owned(),
        query: url.query().unwrap_or_default().to_owned(),
        headers,
    })
}

pub fn response(reply: Reply<ReadableStream>) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    match reply.body {
        Body::Empty => web_sys::Response::new_with_opt_str_and_init(None, &init),
        Body::Json(text) => web_sys::Response::new_with_opt_str_and_init(Some(&text), &init),
        Body::Stream(stream) => web_sys::Response::new_with_opt_readable_stream_and_init(Some(&stream), &init),
    }
}
