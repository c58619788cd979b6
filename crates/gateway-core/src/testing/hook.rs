//! An approval hook that answers from a script and keeps what it was sent, for native tests
//! of what the gateway asks and does with each answer (the edge's `fetch` with its deadline is
//! tested in the built Worker against a local receiver, `tests/approval.test.mjs`).

use std::cell::RefCell;

use futures_util::future::LocalBoxFuture;

use crate::approval::ApprovalHook;

/// One request the hook received.
#[derive(Debug, Clone)]
pub struct Posted {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
    /// The body as sent, which the signature covers.
    pub raw: String,
    pub timeout_ms: u32,
}

type Script = Box<dyn Fn(&serde_json::Value) -> Result<(u16, String), String>>;

pub struct ScriptedHook {
    pub posted: RefCell<Vec<Posted>>,
    script: RefCell<Script>,
}

impl ScriptedHook {
    /// A hook answering each request with `script(body)`: a status and body, or a failure to
    /// answer (unreachable, timed out).
    pub fn new(script: impl Fn(&serde_json::Value) -> Result<(u16, String), String> + 'static) -> ScriptedHook {
        ScriptedHook { posted: RefCell::new(Vec::new()), script: RefCell::new(Box::new(script)) }
    }

    /// A hook answering `200` with `answer` to everything.
    pub fn answering(answer: serde_json::Value) -> ScriptedHook {
        ScriptedHook::new(move |_| Ok((200, answer.to_string())))
    }

    /// Answers from now on with `script`.
    pub fn script(&self, script: impl Fn(&serde_json::Value) -> Result<(u16, String), String> + 'static) {
        *self.script.borrow_mut() = Box::new(script);
    }

    /// The bodies received, in order.
    pub fn asked(&self) -> Vec<serde_json::Value> {
        self.posted.borrow().iter().map(|p| p.body.clone()).collect()
    }
}

impl ApprovalHook for ScriptedHook {
    fn post<'a>(
        &'a self,
        url: &'a str,
        headers: &'a [(&'static str, String)],
        body: &'a str,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'a, Result<(u16, String), String>> {
        Box::pin(async move {
            let parsed: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
            self.posted.borrow_mut().push(Posted {
                url: url.to_owned(),
                headers: headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
                body: parsed.clone(),
                raw: body.to_owned(),
                timeout_ms,
            });
            (self.script.borrow())(&parsed)
        })
    }
}
