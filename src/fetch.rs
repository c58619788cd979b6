//! The S3 store's one call, over the runtime's `fetch`: the core built and signed the request
//! and reads the answer; this only converts types and moves bytes. An upload body is the
//! incoming request's own stream, set as the `fetch` body untouched, so the runtime sends it
//! with its known `Content-Length` (S3 refuses chunked bodies of unknown length).

use gateway_core::s3::{Answer, Digests, HttpExecutor, HttpRequest, NoAnswer, Payload};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response};

use crate::js;

pub struct FetchExecutor;

fn no_answer(e: &JsValue) -> NoAnswer {
    NoAnswer { detail: js::error_message(e) }
}

impl HttpExecutor for FetchExecutor {
    type Body = ReadableStream;
    type Answer = FetchAnswer;
    type Hashing = crate::digest::Hashing;

    async fn hash(
        &self,
        body: ReadableStream,
        length: u64,
        wanted: Digests,
    ) -> Result<(ReadableStream, crate::digest::Hashing), NoAnswer> {
        crate::digest::hash(body, length, wanted).await
    }

    async fn send(&self, request: HttpRequest<ReadableStream>) -> Result<FetchAnswer, NoAnswer> {
        let headers = web_sys::Headers::new().map_err(|e| no_answer(&e))?;
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(|e| no_answer(&e))?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(request.method);
        init.set_headers(&headers);
        match request.body {
            Payload::Empty => {}
            Payload::Text(text) => init.set_body(&JsValue::from_str(&text)),
            Payload::Stream(Some(stream)) => init.set_body(&stream),
            Payload::Stream(None) => init.set_body(&JsValue::from_str("")),
        }
        let req = web_sys::Request::new_with_str_and_init(&request.url, &init).map_err(|e| no_answer(&e))?;
        let global = js_sys::global();
        let fetch = js::get(&global, "fetch").dyn_into::<js_sys::Function>().map_err(|e| no_answer(&e))?;
        let promise = fetch.call1(&global, &req).map_err(|e| no_answer(&e))?;
        let response = JsFuture::from(js_sys::Promise::from(promise)).await.map_err(|e| no_answer(&e))?;
        response.dyn_into::<Response>().map(FetchAnswer).map_err(|e| no_answer(&e))
    }
}

pub struct FetchAnswer(Response);

impl Answer for FetchAnswer {
    type Stream = ReadableStream;

    fn status(&self) -> u16 {
        self.0.status()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.0.headers().get(name).ok().flatten()
    }

    async fn read_at_most(self, cap: usize) -> Result<(Vec<u8>, bool), NoAnswer> {
        match self.0.body() {
            Some(body) => js::read_at_most(&body, cap).await.map_err(|e| no_answer(&e)),
            None => Ok((Vec::new(), false)),
        }
    }

    fn discard(self) {
        js::discard_body(&self.0);
    }

    fn into_stream(self) -> Option<ReadableStream> {
        self.0.body()
    }
}
