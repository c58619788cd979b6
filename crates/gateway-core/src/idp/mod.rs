//! Tokens from the identity providers an operator already runs (`JWT_ISSUERS`): Auth0,
//! Cognito, Firebase, Okta, Entra ID, Keycloak, Clerk, Supabase, Cloudflare Access and any other
//! that signs JWTs and publishes its keys. The core decides everything (which issuer, which
//! algorithm, which key, what the claims grant) and the edge executes the two things it
//! cannot: fetching key sets ([`keys::KeyFetcher`]) and checking signatures with the runtime's
//! WebCrypto ([`SignatureVerifier`]), which verifies RSA and ECDSA in a fraction of the time
//! Wasm would take. HS256 tokens of an issuer with a `secret` are checked here (HMAC is cheap).
//! The self-minted tokens of `JWT_SECRET`/`JWT_PUBLIC_KEYS` stay with [`crate::auth`].

pub mod claims;
pub mod issuer;
pub mod jwk;
pub mod jws;
pub mod keys;

use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};

use crate::error::{ErrorKind, GatewayError, Result};
use crate::grant::Grant;
use issuer::Issuer;
use jwk::{Alg, KeyMaterial};
use keys::{KeyFetcher, RemoteKeys};

/// Checks a signature with the runtime's crypto: `true` if `signature` over `input` is valid
/// for `key` under `alg` (never HS256). `Err` (for the log) if the key could not be used.
pub trait SignatureVerifier {
    fn verify<'a>(
        &'a self,
        alg: Alg,
        key: &'a KeyMaterial,
        input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, std::result::Result<bool, String>>;
}

/// What verifying an identity provider's token needs from the edge, with the isolate's keys.
pub struct IdpVerifier<'a> {
    pub keys: &'a RemoteKeys,
    pub fetcher: &'a dyn KeyFetcher,
    pub verifier: &'a dyn SignatureVerifier,
}

fn invalid(detail: &str) -> GatewayError {
    GatewayError::new(ErrorKind::InvalidToken, detail)
}

/// The issuer among `issuers` whose tokens `token` claims to be (unverified: only the
/// signature decides), if any.
pub fn issuer_of<'i>(issuers: &'i [Issuer], token: &str) -> Option<&'i Issuer> {
    let jws = jws::parse(token).ok()?;
    let iss = jws.issuer()?;
    issuers.iter().find(|i| i.issuer == iss)
}

impl IdpVerifier<'_> {
    /// Verifies `token` as one of `issuer`'s and returns what it grants at `now_ms`.
    pub async fn verify(&self, issuer: &Issuer, token: &str, now_ms: i64) -> Result<Grant> {
        let jws = jws::parse(token)?;
        if jws.issuer() != Some(issuer.issuer.as_str()) {
            return Err(invalid("the token's issuer is not accepted"));
        }
        let valid = if jws.alg == Alg::Hs256 {
            let secret =
                issuer.secret.as_ref().ok_or_else(|| invalid("this issuer's HS256 tokens are not accepted here"))?;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
                .map_err(|_| invalid("the issuer's secret cannot key HMAC"))?;
            mac.update(jws.signing_input.as_bytes());
            mac.verify_slice(&jws.signature).is_ok()
        } else {
            let keys = self.keys.candidates(issuer, self.fetcher, jws.alg, jws.kid.as_deref(), now_ms).await?;
            if keys.is_empty() {
                return Err(invalid("no key of the issuer matches the token's kid and algorithm"));
            }
            let mut valid = false;
            for key in &keys {
                match self.verifier.verify(jws.alg, &key.material, jws.signing_input.as_bytes(), &jws.signature).await {
                    Ok(true) => {
                        valid = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(why) => crate::log::error(&format!("a key of `{}` could not verify: {why}", issuer.issuer)),
                }
            }
            valid
        };
        if !valid {
            return Err(invalid("the token's signature is invalid"));
        }
        claims::grant(issuer, &jws.claims, now_ms)
    }
}
