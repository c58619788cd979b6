//! A compact JWS taken apart before anything is trusted: the header's algorithm and key id,
//! the claims (read only to find the issuer until the signature has been checked), the
//! signing input and the signature. `alg: none`, unknown algorithms and headers with critical
//! extensions are refused here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde_json::Value;

use super::jwk::Alg;
use crate::error::{ErrorKind, GatewayError, Result};

fn invalid(detail: &str) -> GatewayError {
    GatewayError::new(ErrorKind::InvalidToken, detail)
}

/// A token taken apart; nothing in it is verified yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    pub claims: Value,
}

impl Jws<'_> {
    /// The (unverified) `iss` claim.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

fn decode_json(segment: &str, what: &str) -> Result<Value> {
    let bytes = B64URL.decode(segment).map_err(|_| invalid(&format!("the token's {what} is not base64url")))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid(&format!("the token's {what} is not JSON")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(invalid(&format!("the token's {what} is not a JSON object")))
    }
}

/// Splits a compact JWS (`header.payload.signature`).
pub fn parse(token: &str) -> Result<Jws<'_>> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(invalid("the token is not a well-formed JWT"));
    };
    let head = decode_json(header, "header")?;
    if head.get("crit").is_some() || head.get("b64").is_some() {
        return Err(invalid("the token's header asks for extensions this gateway does not support"));
    }
    let alg = match head.get("alg").and_then(Value::as_str) {
        Some("none") | None => return Err(invalid("unsigned tokens (alg `none`) are never accepted")),
        Some(name) => Alg::parse(name).ok_or_else(|| {
            invalid("the token's algorithm is not accepted (RS256/384/512, PS256/384/512, ES256, EdDSA, HS256)")
        })?,
    };
    let kid = head.get("kid").and_then(Value::as_str).map(str::to_owned);
    let claims = decode_json(payload, "payload")?;
    let signature = B64URL.decode(signature).map_err(|_| invalid("the token's signature is not base64url"))?;
    let signing_input = token.get(..header.len() + 1 + payload.len()).unwrap_or_default();
    Ok(Jws { alg, kid, signing_input, signature, claims })
}
