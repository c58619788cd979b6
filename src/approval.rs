//! [`ApprovalHook`] over the Workers `fetch` API: the request and the reading of its answer
//! race the configured deadline, so a hook that hangs costs an upload at most that long.

use std::time::Duration;

use futures_util::future::{select, Either, LocalBoxFuture};
use gateway_core::approval::{ApprovalHook, MAX_ANSWER_BYTES};
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

pub struct FetchHook;

async fn post(url: &str, signed: &[(&'static str, String)], body: &str) -> Result<(u16, String), String> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json").map_err(|e| e.to_string())?;
    for (name, value) in signed {
        headers.set(name, value).map_err(|e| e.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req).send().await.map_err(|e| e.to_string())?;
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if text.len() > MAX_ANSWER_BYTES {
        return Err(format!("the answer is over {MAX_ANSWER_BYTES} bytes"));
    }
    Ok((resp.status_code(), text))
}

impl ApprovalHook for FetchHook {
    fn post<'a>(
        &'a self,
        url: &'a str,
        headers: &'a [(&'static str, String)],
        body: &'a str,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'a, Result<(u16, String), String>> {
        Box::pin(async move {
            let answer = Box::pin(post(url, headers, body));
            let deadline = Box::pin(Delay::from(Duration::from_millis(u64::from(timeout_ms))));
            match select(answer, deadline).await {
                Either::Left((answered, _)) => answered,
                Either::Right(_) => Err(format!("no answer within {timeout_ms} ms")),
            }
        })
    }
}
