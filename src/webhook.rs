//! [`WebhookSender`] over the Workers `fetch` API, with a deadline so a slow receiver cannot
//! hold a queue consumer (or, without a queue, the `waitUntil` follow-up) for long; and the
//! signed JSON POST it and the approval hook share.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};
use gateway_core::followup::WebhookSender;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit, Response};

/// How long the receiver has to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct FetchSender;

/// POSTs JSON `body` to `url` with the `signed` headers.
pub async fn post_json(url: &str, signed: &[(&'static str, String)], body: &str) -> Result<Response, String> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json").map_err(|e| e.to_string())?;
    for (name, value) in signed {
        headers.set(name, value).map_err(|e| e.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    Fetch::Request(req).send().await.map_err(|e| e.to_string())
}

/// `work`'s outcome, or why there was none within `limit`.
pub async fn within<T>(limit: Duration, work: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    match select(Box::pin(work), Box::pin(Delay::from(limit))).await {
        Either::Left((done, _)) => done,
        Either::Right(_) => Err(format!("no answer within {} ms", limit.as_millis())),
    }
}

impl WebhookSender for FetchSender {
    async fn send(&self, url: &str, signed: &[(&'static str, String)], body: String) -> Result<u16, String> {
        within(WEBHOOK_TIMEOUT, async { post_json(url, signed, &body).await.map(|r| r.status_code()) }).await
    }
}
