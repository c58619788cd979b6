//! What an identity provider's verified token grants: its time claims, audience and required
//! claims checked, the owner read from the issuer's subject claim, the prefix built around it,
//! and the IdP's permissions mapped to gateway scopes. Only the issuer's configuration decides
//! the limits: a token's own `prefix`, `key`, `max_size` or `content_types` claims, which a
//! user may be able to set at some IdPs (profile metadata), are never read here.

use serde_json::Value;

use super::issuer::Issuer;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scopes};
use crate::key::is_nfc;

/// Clock skew tolerated on `exp` and `nbf`, for every token.
pub const LEEWAY_SECONDS: i64 = 60;

fn invalid(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::InvalidToken, detail)
}

/// A time claim in seconds since the epoch (a JSON number), in ms.
fn seconds(claims: &Value, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|s| s.is_finite())
            .map(|s| Some((s * 1000.0) as i64))
            .ok_or_else(|| invalid(format!("the token's `{name}` claim is not a number"))),
    }
}

/// `exp` (required) and `nbf`, with [`LEEWAY_SECONDS`] of clock skew; the expiry in ms.
pub(crate) fn check_time(claims: &Value, now_ms: i64) -> Result<i64> {
    let leeway = LEEWAY_SECONDS * 1000;
    let exp = seconds(claims, "exp")?.ok_or_else(|| invalid("the token lacks a required claim (exp)"))?;
    if now_ms > exp.saturating_add(leeway) {
        return Err(GatewayError::new(ErrorKind::TokenExpired, "the token has expired"));
    }
    if seconds(claims, "nbf")?.is_some_and(|nbf| now_ms.saturating_add(leeway) < nbf) {
        return Err(GatewayError::new(ErrorKind::TokenExpired, "the token is not valid yet (nbf)"));
    }
    Ok(exp)
}

/// The token's `aud`: one string or an array of strings.
fn audiences(claims: &Value) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A subject that can stand in a key prefix: not empty, no `/`, no `..`, no control
/// characters, in NFC (keys are compared byte for byte, and R2 stores names in NFC).
fn check_subject(subject: &str) -> Result<()> {
    let ok = !subject.is_empty()
        && !subject.contains('/')
        && !subject.contains("..")
        && !subject.chars().any(char::is_control)
        && is_nfc(subject);
    if ok {
        Ok(())
    } else {
        Err(invalid("the token's subject cannot name a key prefix (empty, `/`, `..`, control characters, not NFC)"))
    }
}

/// The IdP values of the scopes claim: an array of strings, or one string split at spaces
/// and commas (Entra's `scp`, Clerk's `o.per`).
fn permission_values(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => s.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect(),
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// What `claims`, already verified as signed by `issuer`, grant at `now_ms`.
pub fn grant(issuer: &Issuer, claims: &Value, now_ms: i64) -> Result<Grant> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
        return Err(invalid("the token's issuer is not accepted"));
    }
    let expires_ms = check_time(claims, now_ms)?;
    if !issuer.audience.is_empty() && !audiences(claims).iter().any(|a| issuer.audience.iter().any(|w| w == a)) {
        return Err(invalid("the token is not meant for this audience"));
    }
    for (path, wanted) in &issuer.require {
        if path.find(claims) != Some(wanted) {
            return Err(invalid(format!(
                "the token's `{}` claim does not have the value this gateway requires",
                path.0
            )));
        }
    }
    let subject = match issuer.subject.find(claims) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(invalid(format!("the token has no `{}` claim to name its owner", issuer.subject.0))),
    };
    check_subject(&subject)?;
    let scopes = match &issuer.scopes {
        None => Scopes::ALL,
        Some(map) => {
            let values = map.claim.find(claims).map(permission_values).unwrap_or_default();
            values.iter().filter_map(|v| map.map.get(*v)).fold(Scopes::NONE, |acc, s| acc.union(*s))
        }
    };
    Ok(Grant {
        prefix: issuer.prefix.render(&subject),
        sub: subject,
        scopes,
        exact_key: None,
        max_size: issuer.max_size,
        content_types: issuer.content_types.clone(),
        expires_ms: Some(expires_ms),
        quota: issuer.quota,
    })
}
