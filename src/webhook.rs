//! [`WebhookSender`] over the Workers `fetch` API, with a deadline so a slow receiver cannot
//! hold a queue consumer (or, without a queue, the `waitUntil` follow-up) for long.

use gateway_core::followup::WebhookSender;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

/// How long the receiver has to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct FetchSender;

impl WebhookSender for FetchSender {
    async fn send(&self, url: &str, signed: &[(&'static str, String)], body: String) -> Result<u16, String> {
        let headers = Headers::new();
        headers.set("Content-Type", "application/json").map_err(|e| e.to_string())?;
        for (name, value) in signed {
            headers.set(name, value).map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
        let fetch = Fetch::Request(req);
        let send = Box::pin(fetch.send());
        let deadline = Box::pin(Delay::from(WEBHOOK_TIMEOUT));
        // Bound to a local so the borrowed `fetch` outlives the select's leftovers.
        #[allow(clippy::let_and_return)]
        let status = match select(send, deadline).await {
            Either::Left((res, _)) => res.map(|r| r.status_code()).map_err(|e| e.to_string()),
            Either::Right(_) => Err(format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs())),
        };
        status
    }
}
