//! Bearer-token authentication: JWT verification with HS256, EdDSA (Ed25519) and ES256,
//! the algorithm pinned by the key that verifies it, and the claims turned into a [`Grant`].
//! The current time is passed in; nothing here reads a clock.

use std::collections::BTreeMap;

use chrono::Duration;
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, Claims, TimeOptions, Token, UntrustedToken, ValidationError};
use serde::Deserialize;

use crate::content_type::TypePattern;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scopes};
use crate::key::is_nfc;
use crate::secret::Secret;
use crate::time::time_from_millis;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;

/// Token verification settings.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// `JWT_SECRET`: the HS256 shared secret, when HS256 tokens are accepted.
    pub hs256_secret: Option<Secret>,
    /// `JWT_PUBLIC_KEYS`: Ed25519 and P-256 public keys from a JWKS document, chosen by `kid`.
    pub public_keys: KeySet,
    /// `JWT_ISSUER`: when set, the `iss` claim must equal it.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`: when set, the `aud` claim must contain it.
    pub audience: Option<String>,
    /// `JWT_ISSUERS`: identity providers whose tokens are verified with their own keys and
    /// mapped by their own rules ([`crate::idp`]); a token naming one of them as `iss` is
    /// verified only that way.
    pub issuers: Vec<crate::idp::issuer::Issuer>,
}

/// A public key from the JWKS; its type fixes the only algorithm it verifies.
#[derive(Clone)]
pub enum PublicKey {
    Ed25519(<Ed25519 as Algorithm>::VerifyingKey),
    Es256(<Es256 as Algorithm>::VerifyingKey),
}

impl JwtConfig {
    /// The request headers configured issuers send their tokens in, besides `Authorization`.
    pub fn token_headers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().filter_map(|i| i.header.as_deref())
    }
}

impl PublicKey {
    fn alg(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => "EdDSA",
            PublicKey::Es256(_) => "ES256",
        }
    }
}

/// Public keys by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<String, PublicKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.keys.iter().map(|(k, v)| (k, v.alg()))).finish()
    }
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`) of Ed25519 `OKP` and P-256 `EC` public keys.
    /// Every key needs a unique `kid`; an `alg` member, when present, must agree with the key type.
    pub fn from_jwks(doc: &str) -> std::result::Result<KeySet, String> {
        let doc: JwksDoc =
            serde_json::from_str(doc).map_err(|_| "must be a JWKS JSON document {\"keys\": [...]}".to_owned())?;
        let mut keys = BTreeMap::new();
        for (i, raw) in doc.keys.iter().enumerate() {
            let kid = raw
                .get("kid")
                .and_then(|v| v.as_str())
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("key {i} has no `kid`"))?;
            let jwk: JsonWebKey<'_> =
                serde_json::from_value(raw.clone()).map_err(|_| format!("key `{kid}` is not a valid JWK"))?;
            let key = match &jwk {
                JsonWebKey::KeyPair { .. } => PublicKey::Ed25519(
                    <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk)
                        .map_err(|_| format!("key `{kid}` is not a usable Ed25519 public key"))?,
                ),
                JsonWebKey::EllipticCurve { .. } => PublicKey::Es256(
                    <Es256 as Algorithm>::VerifyingKey::try_from(&jwk)
                        .map_err(|_| format!("key `{kid}` is not a usable P-256 public key"))?,
                ),
                _ => return Err(format!("key `{kid}` must be an Ed25519 OKP or P-256 EC public key")),
            };
            if let Some(alg) = raw.get("alg").and_then(|v| v.as_str()) {
                if alg != key.alg() {
                    return Err(format!("key `{kid}` declares alg `{alg}` but is a {} key", key.alg()));
                }
            }
            if keys.insert(kid.to_owned(), key).is_some() {
                return Err(format!("kid `{kid}` appears twice"));
            }
        }
        Ok(KeySet { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key for `kid`; without a `kid`, the only key of that algorithm, if there is exactly one.
    fn find(&self, kid: Option<&str>, alg: &str) -> Option<&PublicKey> {
        match kid {
            Some(kid) => self.keys.get(kid),
            None => {
                let mut of_alg = self.keys.values().filter(|k| k.alg() == alg);
                match (of_alg.next(), of_alg.next()) {
                    (Some(k), None) => Some(k),
                    _ => None,
                }
            }
        }
    }
}

/// `aud` may be one string or an array of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(list) => list.iter().any(|a| a == aud),
        }
    }
}

/// The claims this gateway reads besides `exp`, `nbf` and `iat`.
#[derive(Debug, Deserialize)]
struct GatewayClaims {
    sub: Option<String>,
    iss: Option<String>,
    aud: Option<Audience>,
    scope: Option<String>,
    prefix: Option<String>,
    key: Option<String>,
    max_size: Option<u64>,
    content_types: Option<Vec<String>>,
}

fn invalid(detail: &str) -> GatewayError {
    GatewayError::new(ErrorKind::InvalidToken, detail)
}

fn from_validation(err: ValidationError) -> GatewayError {
    match err {
        ValidationError::Expired => GatewayError::new(ErrorKind::TokenExpired, "the token has expired"),
        ValidationError::NotMature => GatewayError::new(ErrorKind::TokenExpired, "the token is not valid yet (nbf)"),
        ValidationError::AlgorithmMismatch { .. } => invalid("the token's algorithm does not match its key"),
        ValidationError::MalformedClaims(_) => invalid("the token's claims are malformed"),
        ValidationError::NoClaim(_) => invalid("the token lacks a required claim (exp)"),
        _ => invalid("the token's signature is invalid"),
    }
}

/// Verifies a compact JWT and returns what it grants. `now_ms` is the current time.
pub fn verify(cfg: &JwtConfig, token: &str, now_ms: i64) -> Result<Grant> {
    let untrusted = UntrustedToken::new(token).map_err(|_| invalid("the token is not a well-formed JWT"))?;
    let kid = untrusted.header().key_id.as_deref();
    let token: Token<GatewayClaims> = match untrusted.algorithm() {
        "HS256" => {
            let secret = cfg.hs256_secret.as_ref().ok_or_else(|| invalid("HS256 tokens are not accepted here"))?;
            Hs256.validator(&Hs256Key::new(secret.expose().as_bytes())).validate(&untrusted)
        }
        alg @ ("EdDSA" | "ES256") => match cfg.public_keys.find(kid, alg) {
            Some(PublicKey::Ed25519(key)) => Ed25519.validator(key).validate(&untrusted),
            Some(PublicKey::Es256(key)) => Es256.validator(key).validate(&untrusted),
            None => return Err(invalid("no configured key matches the token's kid and algorithm")),
        },
        _ => return Err(invalid("the token's algorithm is not accepted (HS256, EdDSA or ES256 only)")),
    }
    .map_err(from_validation)?;
    let claims: Claims<GatewayClaims> = token.into_parts().1;

    let now = time_from_millis(now_ms);
    let opts = TimeOptions::new(Duration::seconds(LEEWAY_SECONDS), move || now);
    claims.validate_expiration(&opts).map_err(from_validation)?;
    if claims.not_before.is_some() {
        claims.validate_maturity(&opts).map_err(from_validation)?;
    }
    let expires_ms = claims.expiration.map(|t| t.timestamp_millis());
    grant_from_claims(cfg, claims.custom, expires_ms)
}

fn grant_from_claims(cfg: &JwtConfig, c: GatewayClaims, expires_ms: Option<i64>) -> Result<Grant> {
    if let Some(issuer) = &cfg.issuer {
        if c.iss.as_deref() != Some(issuer.as_str()) {
            return Err(invalid("the token's issuer is not accepted"));
        }
    }
    if let Some(audience) = &cfg.audience {
        if !c.aud.as_ref().is_some_and(|a| a.contains(audience)) {
            return Err(invalid("the token is not meant for this audience"));
        }
    }
    let sub = c.sub.filter(|s| !s.is_empty()).ok_or_else(|| invalid("the token has no `sub` claim"))?;
    // Claims that name keys are compared byte for byte with keys, which must be NFC: a claim in
    // another form is refused rather than normalised, so it never covers what it does not spell.
    if ![Some(&sub), c.prefix.as_ref(), c.key.as_ref()].into_iter().flatten().all(|v| is_nfc(v)) {
        return Err(invalid("the token's sub, prefix and key claims must be in Unicode NFC"));
    }
    let scopes = c.scope.as_deref().map_or(Scopes::ALL, Scopes::parse);
    let prefix = match c.prefix {
        Some(p) => p,
        // `<sub>/` must be a namespace of its own: a `/` in `sub` would nest it in another's.
        None if sub.contains('/') => return Err(invalid("a token without `prefix` needs a `sub` without `/`")),
        None => format!("{sub}/"),
    };
    let content_types = match c.content_types {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|p| TypePattern::parse(p))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("the token's content_types claim has a malformed media type"))?,
        ),
    };
    Ok(Grant { sub, scopes, prefix, exact_key: c.key, max_size: c.max_size, content_types, expires_ms })
}
