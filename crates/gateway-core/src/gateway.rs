//! The request→decision logic: route, authenticate, dispatch to a handler, and turn any
//! error into a problem reply with CORS headers. Generic over the store and metadata
//! interfaces so it runs natively in tests and at the edge alike.

use crate::auth::verify;
use crate::config::Config;
use crate::cors;
use crate::download;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::followup::FollowUp;
use crate::grant::Grant;
use crate::http::{Input, Reply, RequestHead};
use crate::manage;
use crate::metadata::MetadataStore;
use crate::multipart::{request_op, Op, Session};
use crate::router::{route, Route, OBJECT_METHODS};
use crate::store::ObjectStore;
use crate::upload;

/// One request's view of the gateway: its configuration, stores and the current time.
pub struct Gateway<'a, S, M> {
    pub config: &'a Config,
    pub store: &'a S,
    pub meta: &'a M,
    pub now_ms: i64,
    /// A unique id for this request (the upload journal's key).
    pub request_id: &'a str,
}

/// A reply, the follow-up to schedule, and the error to log, if any.
pub struct Handled<T> {
    pub reply: Reply<T>,
    pub followup: Option<FollowUp>,
    pub error: Option<GatewayError>,
}

/// Reads `Authorization: Bearer <token>`.
pub fn bearer(head: &RequestHead) -> Result<&str> {
    let value = head
        .header("authorization")
        .ok_or_else(|| GatewayError::new(ErrorKind::MissingToken, "send `Authorization: Bearer <token>`"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(GatewayError::new(ErrorKind::MissingToken, "send `Authorization: Bearer <token>`")),
    }
}

impl<S: ObjectStore, M: MetadataStore> Gateway<'_, S, M> {
    fn authenticate(&self, head: &RequestHead) -> Result<Grant> {
        verify(&self.config.jwt, bearer(head)?, self.now_ms)
    }

    pub async fn handle(&self, head: &RequestHead, body: Input<S::Body>) -> Handled<S::Stream> {
        let (reply, followup, error) = match self.dispatch(head, body).await {
            Ok((reply, followup)) => (reply, followup, None),
            Err(err) => {
                let mut reply = Reply::problem(&err);
                if err.kind == ErrorKind::MethodNotAllowed {
                    reply = reply.with_header("Allow", allow_for(&head.path));
                }
                if err.kind == ErrorKind::MissingToken
                    || err.kind == ErrorKind::InvalidToken
                    || err.kind == ErrorKind::TokenExpired
                {
                    reply = reply.with_header("WWW-Authenticate", "Bearer");
                }
                (reply, None, Some(err))
            }
        };
        Handled { reply: cors::decorate(&self.config.cors_origins, head, reply), followup, error }
    }

    async fn dispatch(
        &self,
        head: &RequestHead,
        input: Input<S::Body>,
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        let route = route(&head.method, &head.path)?;
        let (body, bytes) = match input {
            Input::Stream(body) => (body, Vec::new()),
            Input::Bytes(bytes) => (None, bytes),
        };
        if let Some((op, key)) = request_op(&route, head)? {
            return self.multipart(head, op, key, body, &bytes).await;
        }
        let reply = match route {
            Route::Health => Reply::json(200, &serde_json::json!({"status": "ok"})),
            Route::Preflight => cors::preflight(&self.config.cors_origins, head),
            Route::List => manage::list(self.meta, &self.authenticate(head)?, head).await?,
            Route::Upload(key) => {
                let grant = self.authenticate(head)?;
                let plan = upload::plan(self.config, &grant, &key, head)?;
                let up = upload::Upload { grant: &grant, key, plan, id: self.request_id, now_ms: self.now_ms };
                let (reply, job) = upload::execute(self.store, self.meta, up, body).await?;
                return Ok((reply, Some(job)));
            }
            Route::Download(key) => download::get(self.store, &self.authenticate(head)?, &key, head).await?,
            Route::Head(key) => download::head_object(self.store, &self.authenticate(head)?, &key, head).await?,
            Route::Delete(key) => manage::delete(self.store, self.meta, &self.authenticate(head)?, &key).await?,
            // `request_op` handles every POST or refuses it.
            Route::Post(_) => return Err(GatewayError::new(ErrorKind::Internal, "unrouted POST")),
        };
        Ok((reply, None))
    }

    async fn multipart(
        &self,
        head: &RequestHead,
        op: Op,
        key: crate::key::ObjectKey,
        body: Option<S::Body>,
        bytes: &[u8],
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        let grant = self.authenticate(head)?;
        let session = Session {
            config: self.config,
            store: self.store,
            meta: self.meta,
            grant: &grant,
            key,
            now_ms: self.now_ms,
        };
        let reply = match op {
            Op::Start => session.start(self.request_id, bytes).await?,
            Op::Part(id) => session.put_part(&id, head, body).await?,
            Op::List(id) => session.list(&id).await?,
            Op::Abort(id) => session.abort(&id).await?,
            Op::Complete(id) => {
                let (reply, job) = session.complete(&id, bytes).await?;
                return Ok((reply, Some(job)));
            }
        };
        Ok((reply, None))
    }
}

fn allow_for(path: &str) -> &'static str {
    match path {
        "/healthz" => "GET, HEAD",
        "/files" | "/files/" => "GET, OPTIONS",
        _ => OBJECT_METHODS,
    }
}
