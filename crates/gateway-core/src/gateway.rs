//! The request→decision logic: route, authenticate, dispatch to a handler, and turn any
//! error into a problem reply with CORS headers. Generic over the store and metadata
//! interfaces so it runs natively in tests and at the edge alike.

use crate::announce::{self, Announcer};
use crate::approval::{Approval, ApprovalHook, Ask, Kind, Metadata};
use crate::auth::verify;
use crate::companion::{self, CompanionOp};
use crate::config::{Config, Storage};
use crate::cors;
use crate::download;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::EventQueue;
use crate::followup::FollowUp;
use crate::form::receive::{answer, receive};
use crate::grant::Grant;
use crate::http::{Input, Reply, RequestHead};
use crate::idp::{issuer_of, IdpVerifier};
use crate::manage;
use crate::metadata::MetadataStore;
use crate::multipart::{request_op, Op, Session};
use crate::presign::capability::{self, Capability};
use crate::presign::confirm::{confirm, confirmed_key};
use crate::presign::form::companion_params;
use crate::presign::urls::{presign, redirect};
use crate::presign::{lifetime, PresignContext, DEFAULT_EXPIRES_IN_S};
use crate::quarantine::{initial_scan, verdict, verdict_key};
use crate::quota::{self, Reservation};
use crate::ratelimit::{retry_after_s, Limits, Subject};
use crate::router::{route, Route, TusOp, OBJECT_METHODS, TUS_METHODS, TUS_UPLOAD_METHODS};
use crate::s3_dialect;
use crate::sign_request;
use crate::store::{Compose, Multipart, Presign};
use crate::tus::protocol as tus_protocol;
use crate::tus::session::{options as tus_options, TusSession};
use crate::upload;

/// One request's view of the gateway: its configuration, stores and the current time.
pub struct Gateway<'a, S, M, Q> {
    pub config: &'a Config,
    pub store: &'a S,
    /// The store's presigning capability, where it has one (S3; not the R2 binding).
    pub presigner: Option<&'a dyn Presign>,
    pub meta: &'a M,
    /// The `EVENTS` queue, if the deployment has one: small uploads are announced on it.
    pub queue: Option<&'a Q>,
    pub now_ms: i64,
    /// A unique id for this request (the upload journal's key).
    pub request_id: &'a str,
    /// What verifying tokens needs from the edge: the runtime's signature checks, and for
    /// identity providers' tokens (`JWT_ISSUERS`) the isolate's key sets and a fetcher.
    pub idp: IdpVerifier<'a>,
    /// The request rate limiters the deployment binds (none: no limits).
    pub limits: Limits<'a>,
    /// What posts to the approval hook, when `APPROVAL_HOOK_URL` is set.
    pub hook: Option<&'a dyn ApprovalHook>,
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

impl<S: Multipart + Compose, M: MetadataStore, Q: EventQueue> Gateway<'_, S, M, Q> {
    /// The one authentication of every route: a token naming a configured identity provider
    /// as its `iss` is verified as that issuer's (and only so); any other is a self-minted
    /// token (`JWT_SECRET`, `JWT_PUBLIC_KEYS`).
    async fn authenticate(&self, head: &RequestHead) -> Result<Grant> {
        let issuers = &self.config.jwt.issuers;
        let token = match bearer(head) {
            Ok(token) => token,
            // An issuer may send its token in a header of its own (Cloudflare Access).
            Err(err) => issuers.iter().find_map(|i| i.header.as_deref().and_then(|h| head.header(h))).ok_or(err)?,
        };
        let grant = match issuer_of(issuers, token) {
            Some(issuer) => self.idp.verify(issuer, token, self.now_ms).await?,
            None => verify(&self.config.jwt, token, self.now_ms, self.idp.verifier).await?,
        };
        self.limits.check(Subject::Caller(&grant), self.now_ms).await?;
        Ok(self.quota_of(grant))
    }

    /// `grant` with the deployment's default quota unless its token (or URL, or form) has one.
    fn quota_of(&self, grant: Grant) -> Grant {
        Grant { quota: grant.quota.or(self.config.quota), ..grant }
    }

    /// The caller of an object route: a token, or a presigned gateway URL for this key.
    async fn caller(&self, head: &RequestHead, key: &crate::key::ObjectKey) -> Result<(Grant, Option<Capability>)> {
        if !capability::is_signed(head) {
            return Ok((self.authenticate(head).await?, None));
        }
        self.limits.check(Subject::Address(head), self.now_ms).await?;
        let secret = self.config.url_signing_secret.as_ref().ok_or_else(|| {
            GatewayError::new(ErrorKind::InvalidSignature, "this gateway does not accept signed URLs")
        })?;
        let cap = capability::verify(secret, head, key, self.now_ms)?;
        Ok((self.quota_of(cap.grant()), Some(cap)))
    }

    pub async fn handle(&self, head: &RequestHead, body: Input<S::Body>) -> Handled<S::Stream> {
        let (dispatched, problems) = crate::log::scoped(self.dispatch(head, body)).await;
        let (reply, followup, error) = match dispatched {
            Ok((reply, followup)) => (reply, followup, None),
            Err(err) => {
                let mut reply = if s3_dialect::requested(head) {
                    s3_dialect::error(&err, self.request_id)
                } else {
                    Reply::problem_for(&err, self.request_id)
                };
                if err.kind == ErrorKind::MethodNotAllowed {
                    reply = reply.with_header("Allow", allow_for(&head.path));
                }
                if is_tus(&head.path) && err.kind == ErrorKind::PreconditionFailed {
                    reply = reply.with_header("Tus-Version", tus_protocol::VERSION);
                }
                if err.kind == ErrorKind::RateLimited {
                    let period = self.limits.period_s;
                    reply = reply.with_header("Retry-After", retry_after_s(self.now_ms, period).to_string());
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
        let reply = if reply.header("X-Request-Id").is_none() {
            reply.with_header("X-Request-Id", self.request_id)
        } else {
            reply
        };
        let reply = if is_tus(&head.path) && head.method != http::Method::OPTIONS {
            reply.with_header("Tus-Resumable", tus_protocol::VERSION)
        } else {
            reply
        };
        Handled { reply: cors::decorate(&self.config.cors_origins, head, reply), followup, error, problems }
    }

    async fn dispatch(
        &self,
        head: &RequestHead,
        input: Input<S::Body>,
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        let method = if is_tus(&head.path) { tus_protocol::effective_method(head) } else { head.method.clone() };
        let route = route(&method, &head.path)?;
        let (body, bytes) = match input {
            Input::Stream(body) => (body, Vec::new()),
            Input::Bytes(bytes) => (None, bytes),
            Input::Refused(err) => return Err(err),
        };
        if let Some((op, key)) = request_op(&route, head) {
            return self.multipart(head, op, key, body, &bytes).await;
        }
        let reply = match route {
            Route::Tus(op) => return self.tus(head, op, body).await,
            Route::Health => Reply::json(200, &serde_json::json!({"status": "ok"})),
            Route::Preflight => cors::preflight(&self.config.cors_origins, head, self.config.jwt.token_headers()),
            Route::List => manage::list(self.meta, &self.authenticate(head).await?, head).await?,
            Route::Usage => quota::usage_reply(self.meta, &self.authenticate(head).await?, self.now_ms).await?,
            Route::Presign => {
                let grant = self.authenticate(head).await?;
                presign(&self.presign_context(&grant, head), self.meta, &bytes).await?
            }
            Route::SignRequest => {
                let grant = self.authenticate(head).await?;
                sign_request::sign(&self.presign_context(&grant, head), self.meta, &bytes).await?
            }
            Route::Companion(op) => return self.companion(head, op, &bytes).await,
            Route::CompanionParams => {
                let grant = self.authenticate(head).await?;
                let (filename, content_type) = (head.query_param("filename"), head.query_param("type"));
                let ctx = self.presign_context(&grant, head);
                companion_params(&ctx, filename.as_deref(), content_type.as_deref()).await?
            }
            Route::Upload(key) => {
                let (grant, cap) = self.caller(head, &key).await?;
                let mut plan = upload::plan(self.config, &grant, &key, head)?;
                let s3 = cap.as_ref().is_some_and(|c| c.s3);
                // A URL's upload was approved when the URL was signed; a token's is asked now.
                let (grant, key, metadata) = match &cap {
                    Some(cap) => (grant, key, cap.metadata.clone()),
                    None => {
                        let asked = Ask {
                            kind: Kind::Put,
                            sub: &grant.sub,
                            key: key.as_str(),
                            size: Some(plan.length),
                            content_type: Some(&plan.content_type),
                            metadata: &Metadata::new(),
                        };
                        let approved = self.approval().ask(&grant, asked).await?;
                        upload::check_length(self.config, &approved.grant, plan.length)?;
                        (approved.grant, approved.key.unwrap_or(key), approved.metadata)
                    }
                };
                match cap {
                    // An S3 client sends a URL again after a failure: in S3's dialect a URL may be
                    // reused, but only creates, so a repeat of one that succeeded changes nothing.
                    Some(_) if s3 => plan.if_absent = true,
                    // A presigned upload URL works once: spent before the body is read.
                    Some(cap) => {
                        self.spend(&cap.key, &cap.nonce, cap.expires.saturating_mul(1000), "this upload URL").await?
                    }
                    None => {}
                }
                let (id, now_ms, scan) = (self.request_id, self.now_ms, initial_scan(self.config));
                let up = upload::Upload { grant: &grant, key, plan, id, now_ms, scan, metadata };
                let (reply, job) = self.store_upload(up, body).await?;
                let reply = if s3 { s3_dialect::stored(&reply) } else { reply };
                return Ok((reply, Some(job)));
            }
            Route::Form => {
                self.limits.check(Subject::Address(head), self.now_ms).await?;
                let form = receive(self.config, self.store, head, body, self.now_ms).await?;
                // A form works once: spent before its file is stored.
                self.spend(form.key.as_str(), &form.nonce, form.expires_ms, "this form").await?;
                let key = form.key.clone();
                let grant = self.quota_of(form.grant);
                let up = upload::Upload {
                    grant: &grant,
                    key,
                    plan: form.plan,
                    id: self.request_id,
                    now_ms: self.now_ms,
                    scan: initial_scan(self.config),
                    metadata: form.metadata,
                };
                let (_, job) = match self.store_upload(up, Some(form.body)).await {
                    Ok(stored) => stored,
                    // The store write failed because the form was malformed: say that.
                    Err(err) => return Err(form.fault.borrow_mut().take().unwrap_or(err)),
                };
                let reply = answer(&form.success, &head.origin, self.bucket(), &form.key, &job.event.etag);
                return Ok((reply, Some(job)));
            }
            Route::Post(key) => {
                if let Some(key) = verdict_key(&key) {
                    let grant = self.authenticate(head).await?;
                    let at = (self.request_id, self.now_ms);
                    return verdict(self.config, self.store, self.meta, &grant, &key, &bytes, at).await;
                }
                let key = confirmed_key(&key).ok_or_else(|| {
                    GatewayError::new(
                        ErrorKind::BadRequest,
                        "POST on an object takes `?uploads` (start a multipart upload) or `?uploadId=…` (complete \
                         one); POST /files/{key}/confirm confirms a direct upload, and POST \
                         /files/{key}/verdict gives a scanner's verdict",
                    )
                })?;
                let grant = self.authenticate(head).await?;
                let scan = initial_scan(self.config);
                let (reply, job) =
                    confirm(self.store, self.meta, &grant, key, self.now_ms, self.approval(), scan).await?;
                return Ok((reply, Some(job)));
            }
            Route::Download(key) => {
                let (grant, cap) = self.caller(head, &key).await?;
                if cap.is_none() && head.query_param("redirect").is_some_and(|v| v == "1" || v == "true") {
                    redirect(&self.presign_context(&grant, head), self.meta, &key, head).await?
                } else {
                    let scan = cap.as_ref().and_then(|c| c.scan.as_deref());
                    download::get(self.store, self.meta, &grant, &key, head, scan).await?
                }
            }
            Route::Head(key) => {
                let (grant, cap) = self.caller(head, &key).await?;
                let scan = cap.as_ref().and_then(|c| c.scan.as_deref());
                download::head_object(self.meta, &grant, &key, head, scan).await?
            }
            Route::Delete(key) => {
                let grant = self.authenticate(head).await?;
                return manage::delete(self.store, self.meta, &grant, &key, self.request_id, self.now_ms).await;
            }
        };
        Ok((reply, None))
    }

    /// The approval hook of this request.
    fn approval(&self) -> Approval<'_> {
        Approval {
            config: self.config.approval.as_ref(),
            hook: self.hook,
            now_ms: self.now_ms,
            request_id: self.request_id,
        }
    }

    /// Spends a single-use URL's or form's `nonce`: `what` was already used if it was spent.
    async fn spend(&self, key: &str, nonce: &str, expires_ms: i64, what: &str) -> Result<()> {
        if self.meta.use_nonce(key, nonce, expires_ms).await? {
            Ok(())
        } else {
            Err(GatewayError::new(ErrorKind::UrlAlreadyUsed, format!("{what} was already used")))
        }
    }

    /// A multipart session of `grant` on `key`.
    fn session<'s>(&'s self, grant: &'s Grant, key: crate::key::ObjectKey) -> Session<'s, S, M> {
        Session {
            config: self.config,
            store: self.store,
            meta: self.meta,
            grant,
            key,
            now_ms: self.now_ms,
            parts_in_store: false,
            approval: self.approval(),
            metadata: None,
        }
    }

    /// The bucket S3-shaped answers name: the S3 store's, none on the R2 binding.
    fn bucket(&self) -> &str {
        match &self.config.storage {
            Storage::S3(s3) => s3.bucket.as_str(),
            Storage::R2 => "",
        }
    }

    /// Stores a checked single upload: announced when small and a queue is bound, journaled
    /// otherwise.
    async fn store_upload(
        &self,
        up: upload::Upload<'_>,
        body: Option<S::Body>,
    ) -> Result<(Reply<S::Stream>, FollowUp)> {
        // The body's bytes are reserved against the owner's quota before it is read; the commit
        // removes the reservation, a failed upload releases it.
        let (id, key) = (up.id, up.key.clone());
        let reservation = Reservation {
            id,
            owner: &up.grant.sub,
            key: key.as_str(),
            bytes: up.plan.length,
            objects: 1,
            until_ms: upload::due_at(up.now_ms, up.plan.length),
            replaces: true,
        };
        quota::reserve(self.meta, up.grant, reservation, self.now_ms).await?;
        let grant = up.grant;
        let stored = match self.queue.filter(|_| announce::applies(&up)) {
            Some(queue) => {
                let announcer = Announcer { queue, window_ms: self.config.commit_window_ms };
                announce::execute(self.store, self.meta, &announcer, up, body).await
            }
            None => upload::execute(self.store, self.meta, up, body).await,
        };
        if stored.is_err() {
            quota::release(self.meta, grant, key.as_str(), id).await;
        }
        stored
    }

    fn presign_context<'c>(&'c self, grant: &'c Grant, head: &'c RequestHead) -> PresignContext<'c> {
        PresignContext {
            config: self.config,
            presigner: self.presigner,
            grant,
            now_ms: self.now_ms,
            id: self.request_id,
            origin: &head.origin,
            approval: self.approval(),
        }
    }

    async fn tus(
        &self,
        head: &RequestHead,
        op: TusOp,
        body: Option<S::Body>,
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        if op == TusOp::Options {
            let preflight: Reply<S::Stream> =
                cors::preflight(&self.config.cors_origins, head, self.config.jwt.token_headers());
            let mut reply = tus_options(self.authenticate(head).await.ok().as_ref());
            reply.headers.extend(preflight.headers);
            return Ok((reply, None));
        }
        // Every other tus request: the version first (a client speaking another one learns
        // which this server speaks), then the token.
        tus_protocol::check_version(head)?;
        let grant = self.authenticate(head).await?;
        let session = TusSession {
            config: self.config,
            store: self.store,
            meta: self.meta,
            grant: &grant,
            now_ms: self.now_ms,
            request_id: self.request_id,
            origin: &head.origin,
            approval: self.approval(),
        };
        match op {
            TusOp::Options | TusOp::Create => session.create(head, body).await,
            TusOp::Head(id) => Ok((session.head(&id).await?, None)),
            TusOp::Patch(id) => session.patch(&id, head, body).await,
            TusOp::Terminate(id) => Ok((session.terminate(&id).await?, None)),
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
        // A request may come with a gateway URL for that one request: Companion's part URLs,
        // or any multipart request in S3's dialect.
        let (grant, s3, parts_in_store, metadata) = if capability::is_signed(head) {
            let (grant, cap) = self.caller(head, &key).await?;
            let cap = cap.filter(|c| signed_for(c, &op)).ok_or_else(|| {
                GatewayError::new(ErrorKind::Forbidden, "this URL is not for this request on this upload")
            })?;
            (grant, cap.s3, cap.direct, cap.metadata)
        } else {
            (self.authenticate(head).await?, false, false, None)
        };
        if s3 {
            // A start through a URL was approved when the URL was signed, with its metadata.
            let approval = Approval::none(self.now_ms);
            let session = Session { parts_in_store, approval, metadata, ..self.session(&grant, key) };
            return self.multipart_s3(head, op, session, body, bytes).await;
        }
        let session = self.session(&grant, key);
        let reply = match op {
            Op::Start => session.start(self.request_id, bytes).await?,
            Op::Part(id) => session.put_part(&id, self.request_id, head, body).await?,
            Op::List(id) => session.list(&id).await?,
            Op::Abort(id) => session.abort(&id).await?,
            Op::Complete(id) => {
                let (reply, job) = session.complete(&id, bytes).await?;
                return Ok((reply, Some(job)));
            }
        };
        Ok((reply, None))
    }

    /// A multipart request on a URL in S3's dialect: the start's type comes in its
    /// `Content-Type`, the completion's parts in S3's XML, and every answer is S3's.
    async fn multipart_s3(
        &self,
        head: &RequestHead,
        op: Op,
        session: Session<'_, S, M>,
        body: Option<S::Body>,
        bytes: &[u8],
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        let key = session.key.clone();
        let bucket = self.bucket();
        let reply = match op {
            Op::Start => {
                let start = serde_json::json!({ "content_type": head.header("content-type") }).to_string();
                s3_dialect::initiated(&session.start(self.request_id, start.as_bytes()).await?, bucket, &key)
            }
            Op::Part(id) => s3_dialect::stored(&session.put_part(&id, self.request_id, head, body).await?),
            Op::List(id) => s3_dialect::listed(&session.list(&id).await?, bucket, &key, &id),
            Op::Abort(id) => session.abort(&id).await?,
            Op::Complete(id) => {
                let (reply, job) = session.complete(&id, &s3_dialect::completion_body(bytes)?).await?;
                return Ok((s3_dialect::completed(&reply, &head.origin, bucket, &key), Some(job)));
            }
        };
        Ok((reply, None))
    }
}

impl<S: Multipart + Compose, M: MetadataStore, Q: EventQueue> Gateway<'_, S, M, Q> {
    /// Companion's multipart endpoints over the gateway's own multipart uploads.
    async fn companion(
        &self,
        head: &RequestHead,
        op: CompanionOp,
        bytes: &[u8],
    ) -> Result<(Reply<S::Stream>, Option<FollowUp>)> {
        let grant = self.authenticate(head).await?;
        let session = |key| self.session(&grant, key);
        let expires_in_s = lifetime(self.config, &grant, DEFAULT_EXPIRES_IN_S, self.now_ms);
        let part_urls = (self.request_id, head.origin.as_str(), expires_in_s, self.now_ms);
        let key = || {
            let key = head.query_param("key").ok_or_else(|| {
                GatewayError::new(ErrorKind::BadRequest, "Companion's multipart requests name the object in `?key=`")
            })?;
            crate::key::ObjectKey::new(key)
        };
        match op {
            CompanionOp::Create => {
                let (key, start) = companion::create_request(&grant, self.request_id, bytes)?;
                let started = session(key).start(self.request_id, &start).await?;
                Ok((companion::created(&started, self.bucket()), None))
            }
            CompanionOp::SignPart(id, number) => {
                Ok((companion::sign_part(self.config, &grant, &key()?, (&id, number), part_urls)?, None))
            }
            CompanionOp::SignParts(id) => {
                let numbers = head.query_param("partNumbers").ok_or_else(|| {
                    GatewayError::new(ErrorKind::BadRequest, "the batch form names its parts in `?partNumbers=1,2,…`")
                })?;
                Ok((companion::sign_parts(self.config, &grant, &key()?, (&id, &numbers), part_urls)?, None))
            }
            CompanionOp::List(id) => Ok((companion::list(&session(key()?).list(&id).await?), None)),
            CompanionOp::Complete(id) => {
                let key = key()?;
                let body = companion::completion_body(bytes)?;
                let done = session(key.clone()).complete(&id, &body).await?;
                let (reply, job) = companion::completed(done, &head.origin, &key, self.bucket());
                Ok((reply, Some(job)))
            }
            CompanionOp::Abort(id) => {
                session(key()?).abort::<S::Stream>(&id).await?;
                Ok((Reply::json(200, &serde_json::json!({})), None))
            }
        }
    }
}

/// Whether gateway URL `cap` was signed for multipart request `op`: a part URL for that
/// part's upload, a start URL (`POST`, no upload) for a start, an upload's list, completion or
/// abort URL for that upload.
fn signed_for(cap: &Capability, op: &Op) -> bool {
    match op {
        Op::Part(id) => cap.part.as_ref().is_some_and(|(upload, _)| upload == id),
        Op::Start => cap.s3 && cap.method == "POST" && cap.upload.is_none() && cap.part.is_none(),
        Op::List(id) | Op::Complete(id) | Op::Abort(id) => cap.s3 && cap.upload.as_deref() == Some(id.as_str()),
    }
}

fn is_tus(path: &str) -> bool {
    path == "/tus" || path.starts_with("/tus/")
}

fn allow_for(path: &str) -> &'static str {
    match path {
        "/tus" | "/tus/" => TUS_METHODS,
        p if is_tus(p) => TUS_UPLOAD_METHODS,
        "/healthz" => "GET, HEAD",
        "/files" | "/files/" | "/usage" => "GET, OPTIONS",
        "/presign" | "/form" | "/s3/sign" => "POST, OPTIONS",
        "/s3/params" => "GET, OPTIONS",
        "/s3/multipart" => "POST, OPTIONS",
        p if p.starts_with("/s3/multipart/") => "GET, POST, DELETE, OPTIONS",
        _ => OBJECT_METHODS,
    }
}
