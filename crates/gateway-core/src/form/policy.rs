//! The policy of a browser form POST upload, in S3's POST policy format: a JSON document
//! (`expiration` and `conditions`) sent base64-encoded in the form's `policy` field, with the
//! gateway's signature over it. The conditions are S3's three kinds: an exact value
//! (`{"field": "value"}` or `["eq", "$field", "value"]`), a prefix
//! (`["starts-with", "$field", "prefix"]`) and the file's size range
//! (`["content-length-range", min, max]`). As on S3, field names match without regard to
//! ASCII case, values exactly, and every field the form sends (but `file`, `policy`, the
//! signature and `x-ignore-*` fields) must be named by a condition, so a form can carry
//! nothing the policy did not allow.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::encoding::{hex, unhex};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::secret::Secret;
use crate::time::{parse_rfc3339, rfc3339};

/// The form field that carries the gateway's signature of the `policy` field.
pub const SIGNATURE_FIELD: &str = "x-gateway-signature";

/// One condition of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The field is present with exactly this value.
    Eq { field: String, value: String },
    /// The field is present and its value starts with this prefix (any value if empty).
    StartsWith { field: String, prefix: String },
    /// The file's size in bytes is within `min..=max`.
    LengthRange { min: u64, max: u64 },
}

/// A POST policy: until when it may be used, and what the form must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPolicy {
    /// Milliseconds since the Unix epoch; the policy works strictly before this instant.
    pub expiration_ms: i64,
    pub conditions: Vec<Condition>,
}

fn malformed(why: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, format!("the form's policy is malformed: {}", why.into()))
}

fn failed(why: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::PolicyConditionFailed, why)
}

/// `$name` as a condition names a field.
fn field_ref(value: &Value) -> Option<String> {
    value.as_str()?.strip_prefix('$').filter(|name| !name.is_empty()).map(str::to_owned)
}

fn condition_of(value: &Value) -> Result<Condition> {
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (field, value) = map.iter().next().ok_or_else(|| malformed("an empty condition"))?;
            let value = value.as_str().ok_or_else(|| malformed(format!("the value of `{field}` is not a string")))?;
            Ok(Condition::Eq { field: field.clone(), value: value.to_owned() })
        }
        Value::Array(items) => match items.as_slice() {
            [op, field, value] if op == "eq" || op == "starts-with" => {
                let field = field_ref(field).ok_or_else(|| malformed("a condition names no `$field`"))?;
                let value =
                    value.as_str().ok_or_else(|| malformed(format!("the value for `{field}` is not a string")))?;
                Ok(if op == "eq" {
                    Condition::Eq { field, value: value.to_owned() }
                } else {
                    Condition::StartsWith { field, prefix: value.to_owned() }
                })
            }
            [op, min, max] if op == "content-length-range" => match (min.as_u64(), max.as_u64()) {
                (Some(min), Some(max)) if min <= max => Ok(Condition::LengthRange { min, max }),
                _ => Err(malformed("`content-length-range` needs two whole numbers, the first not above the second")),
            },
            _ => Err(malformed(format!("unknown condition {value}"))),
        },
        _ => Err(malformed(format!("unknown condition {value}"))),
    }
}

impl FormPolicy {
    /// The policy as the JSON document S3 defines.
    pub fn to_json(&self) -> String {
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|c| match c {
                Condition::Eq { field, value } => json!(["eq", format!("${field}"), value]),
                Condition::StartsWith { field, prefix } => json!(["starts-with", format!("${field}"), prefix]),
                Condition::LengthRange { min, max } => json!(["content-length-range", min, max]),
            })
            .collect();
        json!({ "expiration": rfc3339(self.expiration_ms), "conditions": conditions }).to_string()
    }

    /// Reads a policy document (the JSON, not its base64).
    pub fn from_json(text: &str) -> Result<FormPolicy> {
        let doc: Value = serde_json::from_str(text).map_err(|_| malformed("it is not JSON"))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .ok_or_else(|| malformed("`expiration` is not an ISO 8601 time"))?;
        let conditions = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("`conditions` is not a list"))?
            .iter()
            .map(condition_of)
            .collect::<Result<Vec<_>>>()?;
        Ok(FormPolicy { expiration_ms: expiration, conditions })
    }

    /// The `policy` field: the document, base64-encoded.
    pub fn encoded(&self) -> String {
        B64.encode(self.to_json())
    }

    /// The size range the file must fall in, if the policy has one (the narrowest, if several).
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().fold(None, |acc, c| match (c, acc) {
            (Condition::LengthRange { min, max }, None) => Some((*min, *max)),
            (Condition::LengthRange { min, max }, Some((lo, hi))) => Some((lo.max(*min), hi.min(*max))),
            (_, acc) => acc,
        })
    }

    /// The value every `eq` condition on `field` requires, if one does.
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.conditions.iter().find_map(|c| match c {
            Condition::Eq { field: f, value } if f.eq_ignore_ascii_case(field) => Some(value.as_str()),
            _ => None,
        })
    }

    /// The prefix a `starts-with` condition on `field` requires, if one does.
    pub fn prefix(&self, field: &str) -> Option<&str> {
        self.conditions.iter().find_map(|c| match c {
            Condition::StartsWith { field: f, prefix } if f.eq_ignore_ascii_case(field) => Some(prefix.as_str()),
            _ => None,
        })
    }

    /// Checks the form's fields (name, value; the file's own part excluded) against the
    /// policy at `now_ms`: it has not expired, every condition on a field holds, and every
    /// field is named by a condition. The size range is checked as the file arrives.
    pub fn check_fields(&self, fields: &[(String, String)], now_ms: i64) -> Result<()> {
        if now_ms >= self.expiration_ms {
            return Err(GatewayError::new(ErrorKind::UrlExpired, "the form's policy has expired; ask for a new form"));
        }
        let value = |name: &str| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        for c in &self.conditions {
            match c {
                Condition::Eq { field, value: wanted } if value(field) != Some(wanted.as_str()) => {
                    return Err(failed(format!("the form's field `{field}` must be `{wanted}`")));
                }
                Condition::StartsWith { field, prefix } if !value(field).is_some_and(|v| v.starts_with(prefix)) => {
                    return Err(failed(format!("the form's field `{field}` must start with `{prefix}`")));
                }
                _ => {}
            }
        }
        let covered = |name: &str| {
            self.conditions.iter().any(|c| match c {
                Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field.eq_ignore_ascii_case(name),
                Condition::LengthRange { .. } => false,
            })
        };
        let exempt = |name: &str| {
            name.eq_ignore_ascii_case("policy")
                || name.eq_ignore_ascii_case(SIGNATURE_FIELD)
                || name.to_ascii_lowercase().starts_with("x-ignore-")
        };
        match fields.iter().find(|(name, _)| !exempt(name) && !covered(name)) {
            Some((name, _)) => Err(failed(format!("the form's field `{name}` is not allowed by its policy"))),
            None => Ok(()),
        }
    }

    /// Checks a file of `size` bytes against the size range.
    pub fn check_size(&self, size: u64) -> Result<()> {
        match self.length_range() {
            Some((_, max)) if size > max => Err(GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!("the file is larger than the form allows ({max} bytes)"),
            )),
            Some((min, _)) if size < min => {
                Err(failed(format!("the file is smaller than the form allows ({min} bytes)")))
            }
            _ => Ok(()),
        }
    }
}

fn mac(secret: &Secret, encoded: &str) -> Result<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|e| GatewayError::hidden(ErrorKind::Internal, "the form could not be signed", e.to_string()))?;
    mac.update(b"upload-gateway-form-v1\n");
    mac.update(encoded.as_bytes());
    Ok(mac)
}

/// The signature field's value for the `policy` field `encoded`.
pub fn sign(secret: &Secret, encoded: &str) -> Result<String> {
    Ok(hex(&mac(secret, encoded)?.finalize().into_bytes()))
}

/// The policy of a form whose `policy` field is `encoded` and whose signature field is
/// `signature`, if the signature is the gateway's (compared in constant time).
pub fn verify(secret: &Secret, encoded: &str, signature: &str) -> Result<FormPolicy> {
    let tampered = || GatewayError::new(ErrorKind::InvalidSignature, "the form's signature does not match its policy");
    let signature = unhex(signature).ok_or_else(tampered)?;
    mac(secret, encoded)?.verify_slice(&signature).map_err(|_| tampered())?;
    let json = B64.decode(encoded.trim()).map_err(|_| malformed("it is not base64"))?;
    FormPolicy::from_json(std::str::from_utf8(&json).map_err(|_| malformed("it is not UTF-8"))?)
}
