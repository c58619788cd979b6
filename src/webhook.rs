//! [`WebhookSender`] over the Workers `fetch` API.

use gateway_core::followup::WebhookSender;
use gateway_core::webhook::SIGNATURE_HEADER;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub struct FetchSender;

impl WebhookSender for FetchSender {
    async fn send(&self, url: &str, signature: &str, body: String) -> Result<u16, String> {
        let headers = Headers::new();
        headers.set("Content-Type", "application/json").map_err(|e| e.to_string())?;
        headers.set(SIGNATURE_HEADER, signature).map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
        let res = Fetch::Request(req).send().await.map_err(|e| e.to_string())?;
        Ok(res.status_code())
    }
}
