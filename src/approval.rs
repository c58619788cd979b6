//! [`ApprovalHook`] over the Workers `fetch` API: the request and the reading of its answer
//! race the configured deadline, so a hook that hangs costs an upload at most that long.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use gateway_core::approval::{ApprovalHook, MAX_ANSWER_BYTES};

use crate::webhook::{post_json, within};

pub struct FetchHook;

impl ApprovalHook for FetchHook {
    fn post<'a>(
        &'a self,
        url: &'a str,
        headers: &'a [(&'static str, String)],
        body: &'a str,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'a, Result<(u16, String), String>> {
        Box::pin(within(Duration::from_millis(u64::from(timeout_ms)), async move {
            let mut answer = post_json(url, headers, body).await?;
            let text = answer.text().await.map_err(|e| e.to_string())?;
            if text.len() > MAX_ANSWER_BYTES {
                return Err(format!("the answer is over {MAX_ANSWER_BYTES} bytes"));
            }
            Ok((answer.status_code(), text))
        }))
    }
}
