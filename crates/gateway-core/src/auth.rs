//! Bearer-token authentication of the gateway's own tokens (`JWT_SECRET`, `JWT_PUBLIC_KEYS`):
//! HS256 checked here, EdDSA (Ed25519) and ES256 by the runtime's WebCrypto through the same
//! [`SignatureVerifier`] that identity providers' tokens use ([`crate::idp`]), the algorithm
//! pinned by the key that verifies it, and the claims turned into a [`Grant`]. The current time
//! is passed in; nothing here reads a clock.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::Deserialize;

use crate::content_type::TypePattern;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::{Grant, Scopes};
use crate::idp::jwk::{Alg, Jwk, JwkSet, KeyMaterial};
use crate::idp::{jws, SignatureVerifier};
use crate::key::is_nfc;
use crate::secret::Secret;

pub use crate::idp::claims::LEEWAY_SECONDS;

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

impl JwtConfig {
    /// The request headers configured issuers send their tokens in, besides `Authorization`.
    pub fn token_headers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().filter_map(|i| i.header.as_deref())
    }
}

/// Public keys by `kid`, each verifying exactly one algorithm (EdDSA or ES256).
#[derive(Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<String, (Alg, KeyMaterial)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.keys.iter().map(|(k, (alg, _))| (k, alg.name()))).finish()
    }
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`) of Ed25519 `OKP` and P-256 `EC` public keys.
    /// Every key needs a unique `kid`; an `alg` member, when present, must agree with the key
    /// type. Unlike an identity provider's set, a key that cannot be used is an error: this
    /// document is the operator's own.
    pub fn from_jwks(doc: &str) -> std::result::Result<KeySet, String> {
        let raw: serde_json::Value =
            serde_json::from_str(doc).map_err(|_| "must be a JWKS JSON document {\"keys\": [...]}".to_owned())?;
        let list =
            raw.get("keys").and_then(|k| k.as_array()).ok_or("must be a JWKS JSON document {\"keys\": [...]}")?;
        let mut keys = BTreeMap::new();
        for (i, entry) in list.iter().enumerate() {
            let kid = entry
                .get("kid")
                .and_then(|v| v.as_str())
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("key {i} has no `kid`"))?;
            let one = serde_json::json!({ "keys": [entry] }).to_string();
            let set = JwkSet::parse(&one).map_err(|why| format!("key `{kid}`: {why}"))?;
            let Some(Jwk { alg, material, .. }) = set.keys.into_iter().next() else {
                let why = set.skipped.first().map_or("unusable", |s| s.as_str());
                return Err(format!("key `{kid}` must be an Ed25519 OKP or P-256 EC public key ({why})"));
            };
            let own = match material {
                KeyMaterial::Ed25519 { .. } => Alg::EdDsa,
                KeyMaterial::Ec { .. } => Alg::Es256,
                KeyMaterial::Rsa { .. } => {
                    return Err(format!("key `{kid}` must be an Ed25519 OKP or P-256 EC public key"))
                }
            };
            if alg.is_some_and(|a| a != own) {
                return Err(format!("key `{kid}` declares another alg than its type's {}", own.name()));
            }
            if keys.insert(kid.to_owned(), (own, material)).is_some() {
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

    /// The key for `kid` if it verifies `alg`; without a `kid`, the only key of that
    /// algorithm, if there is exactly one.
    fn find(&self, kid: Option<&str>, alg: Alg) -> Option<&KeyMaterial> {
        match kid {
            Some(kid) => self.keys.get(kid).filter(|(own, _)| *own == alg).map(|(_, k)| k),
            None => {
                let mut of_alg = self.keys.values().filter(|(own, _)| *own == alg);
                match (of_alg.next(), of_alg.next()) {
                    (Some((_, k)), None) => Some(k),
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
    quota: Option<crate::quota::Quota>,
}

fn invalid(detail: &str) -> GatewayError {
    GatewayError::new(ErrorKind::InvalidToken, detail)
}

/// Verifies one of the gateway's own compact JWTs and returns what it grants. `now_ms` is the
/// current time; `crypto` checks EdDSA and ES256 signatures.
pub async fn verify(cfg: &JwtConfig, token: &str, now_ms: i64, crypto: &dyn SignatureVerifier) -> Result<Grant> {
    let token = jws::parse(token)?;
    let valid = match token.alg {
        Alg::Hs256 => {
            let secret = cfg.hs256_secret.as_ref().ok_or_else(|| invalid("HS256 tokens are not accepted here"))?;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
                .map_err(|_| invalid("HS256 tokens are not accepted here"))?;
            mac.update(token.signing_input.as_bytes());
            mac.verify_slice(&token.signature).is_ok()
        }
        alg @ (Alg::EdDsa | Alg::Es256) => {
            let key = cfg
                .public_keys
                .find(token.kid.as_deref(), alg)
                .ok_or_else(|| invalid("no configured key matches the token's kid and algorithm"))?;
            crypto
                .verify(alg, key, token.signing_input.as_bytes(), &token.signature)
                .await
                .map_err(|why| GatewayError::hidden(ErrorKind::InvalidToken, "the token's signature is invalid", why))?
        }
        _ => return Err(invalid("the token's algorithm is not accepted (HS256, EdDSA or ES256 only)")),
    };
    if !valid {
        return Err(invalid("the token's signature is invalid"));
    }
    let expires_ms = crate::idp::claims::check_time(&token.claims, now_ms)?;
    let claims: GatewayClaims =
        serde_json::from_value(token.claims).map_err(|_| invalid("the token's claims are malformed"))?;
    grant_from_claims(cfg, claims, Some(expires_ms))
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
    let (exact_key, max_size, quota) = (c.key, c.max_size, c.quota);
    Ok(Grant { sub, scopes, prefix, exact_key, max_size, content_types, expires_ms, quota })
}
