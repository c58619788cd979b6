//! `POST /presign` with `"mode": "form"`: a browser form that uploads one file to the gateway
//! (`POST /form`) without a token, the way S3's form POST does. The answer is the form's
//! action URL and its hidden fields; the `policy` field holds what the token allowed, as S3
//! policy conditions (the key, the type, the size range, the success answer, the owner and a
//! single-use nonce), and the gateway signs it under `URL_SIGNING_SECRET`.

use serde::Serialize;

use super::{lifetime, PresignContext, DEFAULT_EXPIRES_IN_S};
use crate::approval::{Ask, Kind, Metadata};
use crate::content_type::essence;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::form::policy::{sign, Condition, FormPolicy, SIGNATURE_FIELD};
use crate::form::receive::{FILENAME_TEMPLATE, METADATA_FIELD, NONCE_FIELD, OWNER_FIELD, QUOTA_FIELD};
use crate::grant::Scope;
use crate::http::Reply;
use crate::key::ObjectKey;
use crate::time::rfc3339;
use crate::upload::{check_content_type, size_limit};

/// A form request: the presign body's fields that apply to forms.
pub struct FormRequest {
    /// The exact key, or one holding `${filename}`; by default the token's prefix followed by
    /// the file's own name.
    pub key: Option<String>,
    /// The one type the file must be stored as (the form's `Content-Type` field).
    pub content_type: Option<String>,
    /// The largest file the form takes, below the token's and the gateway's own limit.
    pub size: Option<u64>,
    pub expires_in: Option<i64>,
    pub success_action_status: Option<u16>,
    pub success_action_redirect: Option<String>,
}

#[derive(Serialize)]
struct FormAnswer<'a> {
    method: &'static str,
    url: String,
    /// The fields to send, in any order, before the file, which goes last.
    fields: serde_json::Map<String, serde_json::Value>,
    key: &'a str,
    expires_at: String,
    mode: &'static str,
}

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// A form, signed.
struct Issued {
    url: String,
    fields: serde_json::Map<String, serde_json::Value>,
    key: String,
    expiration_ms: i64,
}

/// `POST /presign` with `"mode": "form"`: the form for `req`.
pub async fn issue<T>(ctx: &PresignContext<'_>, req: FormRequest) -> Result<Reply<T>> {
    let form = build(ctx, req).await?;
    let answer = FormAnswer {
        method: "POST",
        url: form.url,
        fields: form.fields,
        key: &form.key,
        expires_at: rfc3339(form.expiration_ms),
        mode: "form",
    };
    Ok(Reply::json(200, &answer).with_header("Cache-Control", "no-store"))
}

#[derive(Serialize)]
struct CompanionParams {
    method: &'static str,
    url: String,
    fields: serde_json::Map<String, serde_json::Value>,
    /// Seconds the form stays usable, as Companion's `s3/params` gives it.
    expires: i64,
}

/// `GET /s3/params?filename=…&type=…`, the endpoint `@uppy/aws-s3` 4.x and 5.x call (as
/// Companion's) for a file below their multipart threshold: a form for a new key under the
/// token's prefix that keeps the file name's extension, as `POST /presign` generates one, and
/// the file's type. Companion's answer shape; other query parameters (`metadata[…]`) are not
/// stored.
pub async fn companion_params<T>(
    ctx: &PresignContext<'_>,
    filename: Option<&str>,
    content_type: Option<&str>,
) -> Result<Reply<T>> {
    let key = ctx.grant.generated_key(ctx.id, filename)?;
    let content_type = content_type.filter(|t| essence(t).is_some_and(|e| !e.contains('*'))).map(str::to_owned);
    let req = FormRequest {
        key: Some(key.to_string()),
        content_type,
        size: None,
        expires_in: None,
        success_action_status: None,
        success_action_redirect: None,
    };
    let form = build(ctx, req).await?;
    let expires = (form.expiration_ms - ctx.now_ms).div_euclid(1000);
    let answer = CompanionParams { method: "POST", url: form.url, fields: form.fields, expires };
    Ok(Reply::json(200, &answer).with_header("Cache-Control", "no-store"))
}

/// The largest file a form or URL takes once the approval hook set its `limit`: `413` if the
/// declared `size` is over it.
pub(crate) fn approved_max(max: u64, size: Option<u64>, limit: u64) -> Result<u64> {
    match size {
        Some(n) if n > limit => Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("the file is {n} bytes; the limit for this upload is {limit} bytes"),
        )),
        _ => Ok(max.min(limit)),
    }
}

/// The form for `req`, after every check a token-authenticated upload would face.
async fn build(ctx: &PresignContext<'_>, req: FormRequest) -> Result<Issued> {
    let grant = ctx.grant;
    grant.require(Scope::Write)?;
    let secret = ctx.config.url_signing_secret.as_ref().ok_or_else(|| {
        GatewayError::new(
            ErrorKind::ConfigError,
            "the gateway is misconfigured: URL_SIGNING_SECRET must be set for forms",
        )
    })?;
    let key = match (req.key, &grant.exact_key) {
        (Some(k), _) => k,
        (None, Some(exact)) => exact.clone(),
        (None, None) => format!("{}{FILENAME_TEMPLATE}", grant.prefix),
    };
    // Checked with a stand-in name: whatever file name replaces the template is checked again
    // when the form arrives.
    grant.authorize(Scope::Write, &ObjectKey::new(key.replace(FILENAME_TEMPLATE, "file"))?)?;
    let content_type = req
        .content_type
        .as_deref()
        .map(|v| {
            essence(v).filter(|t| !t.contains('*')).ok_or_else(|| {
                GatewayError::new(ErrorKind::UnsupportedMediaType, "content_type must be one exact media type")
            })
        })
        .transpose()?;
    if let Some(t) = &content_type {
        check_content_type(ctx.config, grant, t)?;
    }
    let limit = size_limit(ctx.config, grant);
    let max = match req.size {
        Some(n) if n > limit => {
            return Err(GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!("the form may take at most {limit} bytes; `size` asks for {n}"),
            ))
        }
        Some(n) => n,
        None => limit,
    };
    let asked = Ask {
        kind: Kind::Presign,
        sub: &grant.sub,
        key: &key,
        size: req.size,
        content_type: content_type.as_deref(),
        metadata: &Metadata::new(),
    };
    let approved = ctx.approval.ask(grant, asked).await?;
    let max = approved_max(max, req.size, size_limit(ctx.config, &approved.grant))?;
    let key = approved.key.map_or(key, |k| k.to_string());
    let metadata = approved.metadata;
    let success = match (req.success_action_status, req.success_action_redirect) {
        (Some(_), Some(_)) => return Err(bad("give `success_action_status` or `success_action_redirect`, not both")),
        (Some(s), None) if [200, 201, 204].contains(&s) => Some(("success_action_status", s.to_string())),
        (Some(_), None) => return Err(bad("success_action_status must be 200, 201 or 204")),
        (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://") => {
            Some(("success_action_redirect", url))
        }
        (None, Some(_)) => return Err(bad("success_action_redirect must be an absolute http(s) URL")),
        (None, None) => None,
    };
    let expires_in_s = match req.expires_in {
        None => DEFAULT_EXPIRES_IN_S,
        Some(n) if n >= 1 => n,
        Some(_) => return Err(bad("expires_in must be at least 1 second")),
    };
    let expires_in_s = lifetime(ctx.config, grant, expires_in_s, ctx.now_ms);
    let expiration_ms = ctx.now_ms.saturating_add(expires_in_s.saturating_mul(1000));

    let mut fields: Vec<(&str, String)> = vec![("key", key.clone())];
    if let Some(t) = &content_type {
        fields.push(("Content-Type", t.clone()));
    }
    if let Some((name, value)) = &success {
        fields.push((name, value.clone()));
    }
    fields.push((OWNER_FIELD, grant.sub.clone()));
    fields.push((NONCE_FIELD, ctx.id.to_owned()));
    if let Some(m) = metadata {
        fields.push((METADATA_FIELD, m));
    }
    if let Some(q) = crate::capability::quota_param(grant) {
        fields.push((QUOTA_FIELD, q));
    }
    // Without a `Content-Type` field the file is stored as its own part declares it, checked
    // against the gateway's type rules when the form arrives.
    let mut conditions: Vec<Condition> =
        fields.iter().map(|(f, v)| Condition::Eq { field: (*f).to_owned(), value: v.clone() }).collect();
    conditions.push(Condition::LengthRange { min: 0, max });
    let policy = FormPolicy { expiration_ms, conditions };
    let encoded = policy.encoded();
    let signature = sign(secret, &encoded)?;
    fields.push(("policy", encoded));
    fields.push((SIGNATURE_FIELD, signature));
    Ok(Issued {
        url: format!("{}/form", ctx.origin),
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), serde_json::Value::String(v))).collect(),
        key,
        expiration_ms,
    })
}
