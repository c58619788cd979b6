//! `POST /form`: a browser form upload, authorised by the gateway's signature over its policy
//! rather than a token. The fields before the file are read and checked first (signature,
//! expiry, every condition, the key and the gateway's own size and type rules); only then
//! does the file go to the store, by the ordinary upload path, as a body of known length.

use std::cell::RefCell;
use std::rc::Rc;

use super::parse::{boundary, malformed, FormHead};
use super::policy::{verify, FormPolicy, SIGNATURE_FIELD};
use crate::config::Config;
use crate::encoding::encode_query_value;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scope, Scopes};
use crate::http::{parse_length, Reply, RequestHead};
use crate::key::ObjectKey;
use crate::store::Compose;
use crate::upload::{location, plan_of, UploadPlan};

/// The field a gateway form names its owner in (the `sub` of the token that asked for it).
pub const OWNER_FIELD: &str = "x-gateway-owner";
/// The field that makes a form single-use.
pub const NONCE_FIELD: &str = "x-gateway-nonce";
/// The field that carries the metadata the approval hook set for the form's upload (JSON).
pub const METADATA_FIELD: &str = "x-gateway-metadata";
/// The field that carries the storage quota of the token that asked for the form (JSON).
pub const QUOTA_FIELD: &str = "x-gateway-quota";
/// What a `key` field's value may hold for the file's own name.
pub const FILENAME_TEMPLATE: &str = "${filename}";

/// How a form upload is answered, as S3 answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Success {
    /// `success_action_status` 200 or 204 (the default): an empty answer of that status.
    Empty(u16),
    /// `success_action_status` 201: S3's `PostResponse` XML document.
    Document,
    /// `success_action_redirect`: a `303` to that URL with `bucket`, `key` and `etag` added.
    Redirect(String),
}

/// A checked form upload, ready for the store.
pub struct Received<B> {
    pub grant: Grant,
    pub key: ObjectKey,
    pub plan: UploadPlan,
    pub body: B,
    /// The form's nonce and until when it could be used (ms since the epoch).
    pub nonce: String,
    pub expires_ms: i64,
    pub success: Success,
    /// The form's own fault, once the edge finds one while the file streams.
    pub fault: Rc<RefCell<Option<GatewayError>>>,
    /// Metadata the approval hook set when the form was signed (JSON).
    pub metadata: Option<String>,
}

fn field<'h>(head: &'h FormHead, name: &str) -> Option<&'h str> {
    head.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The file's own name from a browser's `filename` (some send a whole path).
fn base_name(filename: &str) -> &str {
    filename.rsplit(['/', '\\']).next().unwrap_or(filename)
}

/// The key the form asks for: its `key` field, with the file's name for [`FILENAME_TEMPLATE`].
fn key_of(head: &FormHead) -> Result<ObjectKey> {
    let wanted = field(head, "key").ok_or_else(|| malformed("it has no `key` field"))?;
    if !wanted.contains(FILENAME_TEMPLATE) {
        return ObjectKey::new(wanted.to_owned());
    }
    let name = head
        .filename
        .as_deref()
        .map(base_name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| malformed("its `key` takes the file's name, but the file part has no `filename`"))?;
    ObjectKey::new(wanted.replace(FILENAME_TEMPLATE, name))
}

/// The authority a verified policy stands for: writing, as its owner, the key its `key`
/// condition allows (a prefix, or an exact key, whose part before a file-name template is a
/// prefix), within its size range, until it expires.
fn grant_of(policy: &FormPolicy, owner: &str) -> Grant {
    let exact = policy.exact("key");
    let prefix = policy
        .prefix("key")
        .or_else(|| exact.and_then(|k| k.split_once(FILENAME_TEMPLATE)).map(|(before, _)| before))
        .unwrap_or_default();
    Grant {
        sub: owner.to_owned(),
        scopes: Scopes::only(Scope::Write),
        prefix: prefix.to_owned(),
        exact_key: exact.filter(|k| !k.contains(FILENAME_TEMPLATE)).map(str::to_owned),
        max_size: policy.length_range().map(|(_, max)| max),
        content_types: None,
        expires_ms: Some(policy.expiration_ms),
        quota: policy.exact(QUOTA_FIELD).and_then(|q| serde_json::from_str(q).ok()),
    }
}

fn success_of(head: &FormHead) -> Success {
    if let Some(url) = field(head, "success_action_redirect").filter(|u| !u.is_empty()) {
        return Success::Redirect(url.to_owned());
    }
    match field(head, "success_action_status") {
        Some("200") => Success::Empty(200),
        Some("201") => Success::Document,
        _ => Success::Empty(204),
    }
}

/// Reads and checks a form upload up to its file: nothing is stored by the time this answers.
pub async fn receive<S: Compose>(
    config: &Config,
    store: &S,
    head: &RequestHead,
    body: Option<S::Body>,
    now_ms: i64,
) -> Result<Received<S::Body>> {
    let secret = config.url_signing_secret.as_ref().ok_or_else(|| {
        GatewayError::new(
            ErrorKind::InvalidSignature,
            "this gateway does not take form uploads (no URL_SIGNING_SECRET)",
        )
    })?;
    let boundary = boundary(head.header("content-type").unwrap_or_default())?;
    let total = match head.header("content-length") {
        None => return Err(GatewayError::new(ErrorKind::LengthRequired, "form uploads need a Content-Length header")),
        Some(v) => parse_length(v).ok_or_else(|| malformed("its Content-Length is not a whole number of bytes"))?,
    };
    let body = body.ok_or_else(|| malformed("it has no body"))?;
    let form = store.form(body, &boundary, total).await?;
    let fields = &form.head;
    let encoded = field(fields, "policy").ok_or_else(|| malformed("it has no `policy` field"))?;
    let signature = field(fields, SIGNATURE_FIELD).ok_or_else(|| {
        GatewayError::new(ErrorKind::InvalidSignature, format!("the form has no `{SIGNATURE_FIELD}` field"))
    })?;
    let policy = verify(secret, encoded, signature)?;
    policy.check_fields(&fields.fields, now_ms)?;
    policy.check_size(form.length)?;
    let (owner, nonce) = match (policy.exact(OWNER_FIELD), policy.exact(NONCE_FIELD)) {
        (Some(owner), Some(nonce)) => (owner.to_owned(), nonce.to_owned()),
        _ => return Err(malformed("its policy names no owner and nonce")),
    };
    let key = key_of(fields)?;
    let grant = grant_of(&policy, &owner);
    let content_type = field(fields, "Content-Type").or(fields.content_type.as_deref());
    grant.authorize(Scope::Write, &key)?;
    let plan = plan_of(config, &grant, form.length, content_type)?;
    Ok(Received {
        success: success_of(fields),
        grant,
        key,
        plan,
        body: form.body,
        nonce,
        expires_ms: policy.expiration_ms,
        fault: form.fault,
        metadata: policy.exact(METADATA_FIELD).map(str::to_owned),
    })
}

/// The answer to a stored form upload of `key`, whose stored version has `etag` (as the
/// `ETag` header gives it, quoted), as S3 gives it: `Location` and `ETag` headers, and the
/// body or redirect the form asked for.
pub fn answer<T>(success: &Success, origin: &str, bucket: &str, key: &ObjectKey, etag: &str) -> Reply<T> {
    let quoted = etag.to_owned();
    let location = format!("{origin}{}", location(key));
    let reply = match success {
        Success::Empty(status) => Reply::empty(*status),
        Success::Document => {
            let text = |v: &str| quick_xml::escape::escape(v).into_owned();
            Reply::xml(
                201,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket>\
                     <Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    text(&location),
                    text(bucket),
                    text(key.as_str()),
                    text(&quoted)
                ),
            )
        }
        Success::Redirect(url) => {
            let query = [("bucket", bucket), ("key", key.as_str()), ("etag", quoted.as_str())]
                .iter()
                .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
                .collect::<Vec<_>>()
                .join("&");
            let sep = if url.contains('?') { '&' } else { '?' };
            Reply::empty(303).with_header("Location", format!("{url}{sep}{query}"))
        }
    };
    let reply = reply.with_header("ETag", quoted);
    if matches!(success, Success::Redirect(_)) {
        reply
    } else {
        reply.with_header("Location", location)
    }
}
