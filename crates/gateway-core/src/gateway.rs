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
use crate::presign::capability::{self, Capability};
use crate::presign::confirm::{confirm, confirmed_key};
use crate::presign::urls::{presign, redirect, PresignContext};
use crate::router::{route, Route, OBJECT_METHODS};
use crate::store::{Multipart, Presign};
use crate::upload;

/// One request's view of the gateway: its configuration, stores and the current time.
pub struct Gateway<'a, S, M> {
    pub config: &'a Config,
    pub store: &'a S,
    /// The store's presigning capability, where it has one (S3; not the R2 binding).
    pub presigner: Option<&'a dyn Presign>,
    pub meta: &'a M,
    pub now_ms: i64,
    /// A unique id for this request (the upload journal's key).
    pub request_id: &'a str,
}

/// A reply, the follow-up to schedule, the error to log, if any, and the problems met after
/// the outcome was decided (failed cleanups), also for the log.
pub struct Handled<T> {
    pub reply: Reply<T>,
    pub followup: Option<FollowUp>,
    pub error: Option<GatewayError>,
    pub problems: Vec<String>,
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

impl<S: Multipart, M: MetadataStore> Gateway<'_, S, M> {
    fn authenticate(&self, head: &RequestHead) -> Result<Grant> {
        verify(&self.config.jwt, bearer(head)?, self.now_ms)
    }

    /// The caller of an object route: a token, or a presigned gateway URL for this key.
    fn caller(&self, head: &RequestHead, key: &crate::key::ObjectKey) -> Result<(Grant, Option<Capability>)> {
        if !capability::is_signed(head) {
            return Ok((self.authenticate(head)?, None));
        }
        let secret = self.config.url_signing_secret.as_ref().ok_or_else(|| {
            GatewayError::new(ErrorKind::InvalidSignature, "this gateway does not accept signed URLs")
        })?;
        let cap = capability::verify(secret, head, key, self.now_ms)?;
        Ok((cap.grant(), Some(cap)))
    }

    pub async fn handle(&self, head: &RequestHead, body: Input<S::Body>) -> Handled<S::Stream> {
        crate::log::take();
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
        let problems = crate::log::take();
        Handled { reply: cors::decorate(&self.config.cors_origins, head, reply), followup, error, problems }
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
            Input::Refused(err) => return Err(err),
        };
        if let Some((op, key)) = request_op(&route, head) {
            return self.multipart(head, op, key, body, &bytes).await;
        }
        let reply = match route {
            Route::Health => Reply::json(200, &serde_json::json!({"status": "ok"})),
            Route::Preflight => cors::preflight(&self.config.cors_origins, head),
            Route::List => manage::list(self.meta, &self.authenticate(head)?, head).await?,
            Route::Presign => {
                let grant = self.authenticate(head)?;
                presign(&self.presign_context(&grant, head), self.meta, &bytes).await?
            }
            Route::Upload(key) => {
                let (grant, cap) = self.caller(head, &key)?;
                let plan = upload::plan(self.config, &grant, &key, head)?;
                if let Some(cap) = cap {
                    // A presigned upload URL works once: spent before the body is read.
                    if !self.meta.use_nonce(&cap.nonce, cap.expires.saturating_mul(1000)).await? {
                        return Err(GatewayError::new(ErrorKind::UrlAlreadyUsed, "this upload URL was already used"));
                    }
                }
                let up = upload::Upload { grant: &grant, key, plan, id: self.request_id, now_ms: self.now_ms };
                let (reply, job) = upload::execute(self.store, self.meta, up, body).await?;
                return Ok((reply, Some(job)));
            }
            Route::Post(key) => {
                let key = confirmed_key(&key).ok_or_else(|| {
                    GatewayError::new(
                        ErrorKind::BadRequest,
                        "POST on an object takes `?uploads` (start a multipart upload) or `?uploadId=…` (complete \
                         one); POST /files/{key}/confirm confirms a direct upload",
                    )
                })?;
                let grant = self.authenticate(head)?;
                let (reply, job) = confirm(self.store, self.meta, &grant, key, self.now_ms).await?;
                return Ok((reply, Some(job)));
            }
            Route::Download(key) => {
                let (grant, cap) = self.caller(head, &key)?;
                if cap.is_none() && head.query_param("redirect").is_some_and(|v| v == "1" || v == "true") {
                    redirect(&self.presign_context(&grant, head), self.meta, &key, head).await?
                } else {
                    download::get(self.store, self.meta, &grant, &key, head).await?
                }
            }
            Route::Head(key) => download::head_object(self.meta, &self.caller(head, &key)?.0, &key, head).await?,
            Route::Delete(key) => {
                manage::delete(self.store, self.meta, &self.authenticate(head)?, &key, self.now_ms).await?
            }
        };
        Ok((reply, None))
    }

    fn presign_context<'c>(&'c self, grant: &'c Grant, head: &'c RequestHead) -> PresignContext<'c> {
        PresignContext {
            config: self.config,
            presigner: self.presigner,
            grant,
            now_ms: self.now_ms,
            id: self.request_id,
            origin: &head.origin,
        }
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
        "/presign" => "POST, OPTIONS",
        _ => OBJECT_METHODS,
    }
}
