//! Shared setup for the gateway-core integration tests: a fixed clock, test keys (the
//! published RFC 8037 Ed25519 and RFC 7515 A.3 P-256 keys), token minting with jwt-compact,
//! configuration from a variable list, and a small in-memory "world" that drives
//! `Gateway::handle` with the crate's own fakes.

#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use futures_executor::block_on;
use gateway_core::config::Config;
use gateway_core::config::Storage;
use gateway_core::error::GatewayError;
use gateway_core::followup::FollowUp;
use gateway_core::gateway::{Gateway, Handled};
use gateway_core::http::{body_plan, whole_body, Body, BodyPlan, Input, Reply, RequestHead};
use gateway_core::metadata::ObjectRecord;
use gateway_core::s3::S3Store;
use gateway_core::store::{Compose, Multipart, Presign};
use gateway_core::testing::limiter::CountingLimiter;
use gateway_core::testing::scripted::Scripted;
use gateway_core::testing::unread::{BodyGuard, UnreadBody};
use gateway_core::testing::{MemoryMetadata, MemoryQueue, MemoryStore};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde_json::{json, Value};

/// The test clock: 2025-06-15T15:06:40Z, a whole second.
pub const NOW_MS: i64 = 1_750_000_000_000;
pub const NOW_S: i64 = NOW_MS / 1000;

/// Where test requests are addressed.
pub const ORIGIN: &str = "https://gateway.test";

/// A 40-byte HS256 secret (above the 32-byte minimum).
pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnopq";

// ---------------------------------------------------------------- keys

/// RFC 8037 Appendix A.1 Ed25519 private key (`d`) and public key (`x`).
pub const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
pub const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

/// RFC 7515 Appendix A.3 P-256 key.
pub const RFC7515_A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
pub const RFC7515_A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
pub const RFC7515_A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

pub fn b64url(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

pub fn unb64url(s: &str) -> Vec<u8> {
    B64URL.decode(s).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// The RFC 8037 Ed25519 key pair.
pub fn ed_key() -> ed25519_compact::KeyPair {
    let seed: [u8; 32] = unb64url(RFC8037_D).try_into().unwrap();
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed))
}

/// A second, unrelated Ed25519 key pair.
pub fn other_ed_key() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7u8; 32]))
}

/// The RFC 7515 A.3 P-256 signing key.
pub fn es_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&unb64url(RFC7515_A3_D)).unwrap()
}

/// A public JWK (as JSON) of an Ed25519 key, with `kid`.
pub fn ed_jwk(pk: &ed25519_compact::PublicKey, kid: &str) -> Value {
    let mut v = serde_json::to_value(JsonWebKey::from(pk)).unwrap();
    v["kid"] = json!(kid);
    v
}

/// A public JWK (as JSON) of a P-256 key, with `kid`.
pub fn es_jwk(sk: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let mut v = serde_json::to_value(JsonWebKey::from(sk.verifying_key())).unwrap();
    v["kid"] = json!(kid);
    v
}

pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

// ---------------------------------------------------------------- tokens

/// Claims for `sub` valid for an hour from `NOW_S`, merged with `extra`.
pub fn claims_for(sub: &str, extra: Value) -> Value {
    let mut c = json!({ "sub": sub, "exp": NOW_S + 3600 });
    merge(&mut c, extra);
    c
}

/// Overwrites `base`'s members with `extra`'s; a `null` in `extra` removes the member.
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

fn header(kid: Option<&str>) -> Header {
    match kid {
        Some(kid) => Header::empty().with_key_id(kid),
        None => Header::empty(),
    }
}

/// An HS256 token over raw JSON `claims` (`exp`, `nbf` included as given), signed by jwt-compact.
pub fn hs256_with(secret: &[u8], claims: &Value) -> String {
    Hs256.token(&Header::empty(), &Claims::new(claims.clone()), &Hs256Key::new(secret)).unwrap()
}

pub fn hs256(claims: &Value) -> String {
    hs256_with(SECRET.as_bytes(), claims)
}

/// A valid HS256 token for `sub` with `extra` claims.
pub fn token(sub: &str, extra: Value) -> String {
    hs256(&claims_for(sub, extra))
}

pub fn eddsa(kp: &ed25519_compact::KeyPair, kid: Option<&str>, claims: &Value) -> String {
    Ed25519.token(&header(kid), &Claims::new(claims.clone()), &kp.sk).unwrap()
}

pub fn es256(sk: &p256::ecdsa::SigningKey, kid: Option<&str>, claims: &Value) -> String {
    Es256.token(&header(kid), &Claims::new(claims.clone()), sk).unwrap()
}

/// A compact JWS put together by hand, for tokens no honest library would mint.
pub fn handmade(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64url(&sig))
}

// ---------------------------------------------------------------- config

/// Parses a configuration from `vars` (name, value).
pub fn try_config(vars: &[(&str, &str)]) -> Result<Config, GatewayError> {
    let owned: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(move |name| owned.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

/// `JWT_SECRET` = [`SECRET`] plus `extra`.
/// Asserts a 500 `config_error` whose detail names `var`.
pub fn assert_names(err: &GatewayError, var: &str) {
    assert_eq!(err.kind, gateway_core::error::ErrorKind::ConfigError, "{err}");
    assert_eq!(err.status(), 500);
    assert!(err.detail.contains(var), "detail `{}` does not name {var}", err.detail);
}

pub fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("JWT_SECRET", SECRET)];
    vars.extend_from_slice(extra);
    try_config(&vars).unwrap()
}

pub fn config() -> Config {
    config_with(&[])
}

/// The variables of an S3 store at `127.0.0.1:9000` whose requests the tests never send: what
/// presigning needs.
pub const S3_VARS: &[(&str, &str)] = &[
    ("STORAGE", "s3"),
    ("S3_ENDPOINT", "http://127.0.0.1:9000"),
    ("S3_BUCKET", "uploads"),
    ("S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("S3_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
];

// ---------------------------------------------------------------- requests

/// The body as the edge hands it to the core: read whole under the core's plan (`POST`), or
/// streamed, as `stream` makes it.
fn edge_input<B>(head: &RequestHead, body: Option<Vec<u8>>, stream: impl FnOnce(Vec<u8>) -> Input<B>) -> Input<B> {
    match body_plan(head, body.is_some()) {
        BodyPlan::Refuse(err) => Input::Refused(err),
        BodyPlan::Read { cap } => {
            let bytes = body.unwrap_or_default();
            let more = bytes.len() > cap;
            whole_body(bytes.into_iter().take(cap).collect(), more)
        }
        BodyPlan::Stream => match body {
            Some(bytes) => stream(bytes),
            None => Input::Stream(None),
        },
    }
}

/// A request head plus an optional body.
pub struct Req {
    pub head: RequestHead,
    pub body: Option<Vec<u8>>,
}

impl Req {
    /// `target` is a path with an optional `?query`.
    pub fn new(method: Method, target: &str) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Req {
            head: RequestHead {
                method,
                origin: ORIGIN.to_owned(),
                path: path.to_owned(),
                query: query.to_owned(),
                headers: HeaderMap::new(),
            },
            body: None,
        }
    }

    pub fn get(target: &str) -> Req {
        Req::new(Method::GET, target)
    }

    pub fn head(target: &str) -> Req {
        Req::new(Method::HEAD, target)
    }

    pub fn delete(target: &str) -> Req {
        Req::new(Method::DELETE, target)
    }

    /// A PUT with `bytes` as body and a matching `Content-Length`.
    pub fn put(target: &str, bytes: &[u8]) -> Req {
        Req::new(Method::PUT, target).header("content-length", &bytes.len().to_string()).body(bytes)
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.head.headers.append(
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    pub fn without(mut self, name: &str) -> Req {
        self.head.headers.remove(name);
        self
    }

    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The body; a `POST` also gets the `Content-Length` every client sends with a JSON body
    /// (uploads state theirs explicitly, or test its absence).
    pub fn body(mut self, bytes: &[u8]) -> Req {
        if self.head.method == Method::POST && !self.head.headers.contains_key("content-length") {
            self = self.header("content-length", &bytes.len().to_string());
        }
        self.body = Some(bytes.to_vec());
        self
    }
}

// ---------------------------------------------------------------- the world

/// A configuration with an in-memory store and metadata database.
pub struct World {
    pub config: Config,
    pub store: MemoryStore,
    /// With `STORAGE=s3`: the S3 store's presigning (its requests are never sent).
    pub presigner: Option<S3Store<Scripted>>,
    pub meta: MemoryMetadata,
    /// The `EVENTS` queue, when the deployment has one ([`World::with_queue`]): small uploads are
    /// then announced on it.
    pub queue: Option<MemoryQueue>,
    /// Requests handled so far: each gets an id of its own, as the edge's random UUIDs are.
    pub requests: std::cell::Cell<u64>,
    /// The isolate's key sets of identity providers, and where they are fetched from.
    pub idp_keys: gateway_core::idp::keys::RemoteKeys,
    pub idp_fetcher: gateway_core::testing::idp::TableFetcher,
    /// The rate limiters, when the deployment binds them ([`World::with_rate_limit`]): callers'
    /// and addresses'.
    pub limiters: Option<(CountingLimiter, CountingLimiter)>,
    /// The approval hook, when `APPROVAL_HOOK_URL` is set ([`World::with_hook`]).
    pub hook: Option<gateway_core::testing::hook::ScriptedHook>,
}

impl World {
    pub fn new(config: Config) -> World {
        let store = MemoryStore::default();
        store.clock_ms.set(NOW_MS);
        let presigner = match &config.storage {
            Storage::S3(s3) => Some(S3Store::new(s3.clone(), Scripted::new(), || NOW_MS)),
            Storage::R2 => None,
        };
        World {
            config,
            store,
            presigner,
            meta: MemoryMetadata::default(),
            queue: None,
            requests: Default::default(),
            idp_keys: Default::default(),
            idp_fetcher: Default::default(),
            limiters: None,
            hook: None,
        }
    }

    /// A world whose approval hook is `hook` (the config must set `APPROVAL_HOOK_URL`).
    pub fn with_hook(config: Config, hook: gateway_core::testing::hook::ScriptedHook) -> World {
        World { hook: Some(hook), ..World::new(config) }
    }

    /// A deployment with an `EVENTS` queue.
    /// A deployment whose callers and client addresses may each send `limit` requests.
    pub fn with_rate_limit(config: Config, limit: u32) -> World {
        World { limiters: Some((CountingLimiter::new(limit), CountingLimiter::new(limit))), ..World::new(config) }
    }

    pub fn with_queue(config: Config) -> World {
        World { queue: Some(MemoryQueue::default()), ..World::new(config) }
    }

    pub fn default_config() -> World {
        World::new(config())
    }

    /// Handles `req` at `NOW_MS`.
    pub fn send(&self, req: Req) -> Handled<Vec<u8>> {
        self.send_at(NOW_MS, req)
    }

    /// Handles `req` with the gateway's clock and the store's upload clock at `now_ms`.
    pub fn send_at(&self, now_ms: i64, req: Req) -> Handled<Vec<u8>> {
        block_on(self.send_async(now_ms, req))
    }

    /// [`World::send_at`] as a future, for schedules that interleave requests with `join`.
    pub async fn send_async(&self, now_ms: i64, req: Req) -> Handled<Vec<u8>> {
        let input = edge_input(&req.head, req.body, |bytes| Input::Stream(Some(bytes)));
        self.handle_async(&self.store, now_ms, &req.head, input).await
    }

    /// Handles `req` at `NOW_MS` with a body that records being read (its bytes are never
    /// seen): the reply, and whether any store took the body.
    pub fn send_unread(&self, req: Req) -> (Handled<Vec<u8>>, bool) {
        let body = UnreadBody::default();
        let read = body.read.clone();
        let stream = body.clone();
        let input = edge_input(&req.head, req.body, move |_| Input::Stream(Some(stream)));
        let handled = self.handle(&BodyGuard(&self.store), NOW_MS, &req.head, input);
        (handled, read.get())
    }

    fn handle<S: Multipart<Stream = Vec<u8>> + Compose>(
        &self,
        store: &S,
        now_ms: i64,
        head: &RequestHead,
        input: Input<S::Body>,
    ) -> Handled<Vec<u8>> {
        block_on(self.handle_async(store, now_ms, head, input))
    }

    async fn handle_async<S: Multipart<Stream = Vec<u8>> + Compose>(
        &self,
        store: &S,
        now_ms: i64,
        head: &RequestHead,
        input: Input<S::Body>,
    ) -> Handled<Vec<u8>> {
        self.store.clock_ms.set(now_ms);
        self.requests.set(self.requests.get() + 1);
        let request_id = format!("req-{now_ms}-{}", self.requests.get());
        let presigner = self.presigner.as_ref().map(|p| p as &dyn Presign);
        let gw = Gateway {
            config: &self.config,
            store,
            presigner,
            meta: &self.meta,
            queue: self.queue.as_ref(),
            now_ms,
            request_id: &request_id,
            idp: gateway_core::idp::IdpVerifier {
                keys: &self.idp_keys,
                fetcher: &self.idp_fetcher,
                verifier: &gateway_core::testing::idp::NativeVerifier,
            },
            limits: gateway_core::ratelimit::Limits {
                callers: self.limiters.as_ref().map(|(c, _)| c as &dyn gateway_core::ratelimit::RateLimiter),
                addresses: self.limiters.as_ref().map(|(_, a)| a as &dyn gateway_core::ratelimit::RateLimiter),
                period_s: self.config.rate_limit_period_s,
            },
            hook: self.hook.as_ref().map(|h| h as &dyn gateway_core::approval::ApprovalHook),
        };
        gw.handle(head, input).await
    }

    /// Uploads `bytes` to `key` as `sub` with `content_type`; panics unless 201.
    pub fn upload(&self, sub: &str, key: &str, content_type: &str, bytes: &[u8]) -> FollowUp {
        self.upload_at(NOW_MS, sub, key, content_type, bytes)
    }

    pub fn upload_at(&self, now_ms: i64, sub: &str, key: &str, content_type: &str, bytes: &[u8]) -> FollowUp {
        let h = self.send_at(
            now_ms,
            Req::put(&format!("/files/{key}"), bytes)
                .bearer(&token(sub, json!({})))
                .header("content-type", content_type),
        );
        assert_eq!(h.reply.status, 201, "upload of {key} failed: {:?}", h.error);
        h.followup.unwrap()
    }

    /// The bytes `key` serves (the object its row names) or, without a row, any object stored
    /// under one of the key's versioned names: a leftover that should not be there.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        let objects = self.store.objects.borrow();
        if let Some(row) = self.row(key) {
            return objects.get(&row.storage_key).map(|o| o.bytes.clone());
        }
        self.stored_versions(key).first().and_then(|name| objects.get(name)).map(|o| o.bytes.clone())
    }

    /// Every stored name of `key`'s versions (and the key itself, as stored before versions).
    pub fn stored_versions(&self, key: &str) -> Vec<String> {
        let versioned = format!("{key}~");
        self.store
            .objects
            .borrow()
            .keys()
            .filter(|n| *n == key || (n.starts_with(&versioned) && n.len() == versioned.len() + 32))
            .cloned()
            .collect()
    }

    pub fn row(&self, key: &str) -> Option<ObjectRecord> {
        self.meta.rows.borrow().get(key).cloned()
    }
}

// ---------------------------------------------------------------- replies

/// The JSON body of a reply (problem or result).
pub fn json_body(reply: &Reply<Vec<u8>>) -> Value {
    match &reply.body {
        Body::Json(text) => serde_json::from_str(text).unwrap(),
        Body::Empty => panic!("expected a JSON body, got an empty one"),
        Body::Stream(_) => panic!("expected a JSON body, got a stream"),
    }
}

/// The streamed bytes of a download reply.
pub fn stream_body(reply: &Reply<Vec<u8>>) -> Vec<u8> {
    match &reply.body {
        Body::Stream(bytes) => bytes.clone(),
        Body::Empty => panic!("expected a stream body, got an empty one"),
        Body::Json(text) => panic!("expected a stream body, got JSON {text}"),
    }
}

pub fn is_empty_body(reply: &Reply<Vec<u8>>) -> bool {
    matches!(reply.body, Body::Empty)
}

/// Asserts a problem reply: status, `application/problem+json` and the code in the body.
pub fn assert_problem(h: &Handled<Vec<u8>>, status: u16, code: &str) {
    assert_eq!(h.reply.status, status, "unexpected status; error: {:?}", h.error);
    assert_eq!(h.reply.header("content-type"), Some("application/problem+json"));
    let body = json_body(&h.reply);
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status);
    assert_eq!(h.error.as_ref().map(|e| e.code()), Some(code));
    assert!(h.followup.is_none(), "a failed request must not schedule a follow-up");
}

// ---------------------------------------------------------------- sample content

pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
pub const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
pub const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";

/// A tus `PATCH` of `bytes` at `offset` to upload `path` with `token`, declaring the upload's
/// `length` if given.
pub fn tus_patch_with(path: &str, token: &str, offset: usize, bytes: &[u8], length: Option<usize>) -> Req {
    let req = Req::new(Method::PATCH, path)
        .header("tus-resumable", "1.0.0")
        .bearer(token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", &offset.to_string())
        .header("content-length", &bytes.len().to_string())
        .body(bytes);
    match length {
        Some(n) => req.header("upload-length", &n.to_string()),
        None => req,
    }
}

/// Puts an object into the store behind the gateway's back, as a direct upload through the
/// oldest URL open for `key` does.
pub fn direct_upload(w: &World, key: &str, bytes: &[u8], content_type: &str) -> gateway_core::store::ObjectMeta {
    let name = w
        .meta
        .presigned
        .borrow()
        .values()
        .filter(|p| p.key == key)
        .min_by_key(|p| p.created_at)
        .unwrap()
        .storage_key
        .clone();
    let put = gateway_core::store::PutObject {
        name: gateway_core::key::StoredName::recorded(name),
        body: Some(bytes.to_vec()),
        length: bytes.len() as u64,
        content_type: content_type.to_owned(),
        md5: None,
        sha256: None,
    };
    futures_executor::block_on(gateway_core::store::Objects::put(&w.store, put)).unwrap()
}

/// A complete version of `key`, `size` bytes, written by `owner` at `at` under `storage_key`.
pub fn version(key: &str, owner: &str, size: u64, at: i64, storage_key: &str) -> ObjectRecord {
    ObjectRecord {
        key: key.to_owned(),
        owner: owner.to_owned(),
        size,
        content_type: "text/plain".to_owned(),
        etag: format!("\"e{at}\""),
        checksum_sha256: None,
        checksum_md5: None,
        status: gateway_core::metadata::STATUS_COMPLETE.to_owned(),
        detected_type: None,
        type_matches: None,
        created_at: at,
        completed_at: Some(at),
        storage_key: storage_key.to_owned(),
        scan: None,
        metadata: None,
    }
}
