//! Stand-ins for the edge's identity-provider capabilities in native tests: a signature
//! verifier in pure Rust (what the runtime's WebCrypto does at the edge), and a key fetcher
//! that answers from a table, can fail or rotate, and counts its fetches.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use crate::idp::jwk::{Alg, KeyMaterial};
use crate::idp::keys::{Fetched, KeyFetcher};
use crate::idp::SignatureVerifier;

/// Verifies RS*/PS* with the `rsa` crate, ES256 with `p256`, EdDSA with `ed25519-compact`.
#[derive(Default)]
pub struct NativeVerifier;

fn decode(value: &str) -> Result<Vec<u8>, String> {
    B64URL.decode(value).map_err(|e| e.to_string())
}

fn verify_rsa(alg: Alg, n: &str, e: &str, input: &[u8], sig: &[u8]) -> Result<bool, String> {
    use rsa::sha2::{Digest, Sha256, Sha384, Sha512};
    use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
    let key = RsaPublicKey::new(BigUint::from_bytes_be(&decode(n)?), BigUint::from_bytes_be(&decode(e)?))
        .map_err(|e| e.to_string())?;
    let result = match alg {
        Alg::Rs256 => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), sig),
        Alg::Rs384 => key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), sig),
        Alg::Rs512 => key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), sig),
        Alg::Ps256 => key.verify(Pss::new::<Sha256>(), &Sha256::digest(input), sig),
        Alg::Ps384 => key.verify(Pss::new::<Sha384>(), &Sha384::digest(input), sig),
        Alg::Ps512 => key.verify(Pss::new::<Sha512>(), &Sha512::digest(input), sig),
        _ => return Err("not an RSA algorithm".to_owned()),
    };
    Ok(result.is_ok())
}

fn verify_native(alg: Alg, key: &KeyMaterial, input: &[u8], sig: &[u8]) -> Result<bool, String> {
    match key {
        KeyMaterial::Rsa { n, e } => verify_rsa(alg, n, e, input, sig),
        KeyMaterial::Ec { x, y } => {
            use p256::ecdsa::signature::Verifier;
            let mut point = vec![4u8];
            point.extend(decode(x)?);
            point.extend(decode(y)?);
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|e| e.to_string())?;
            let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else { return Ok(false) };
            Ok(key.verify(input, &sig).is_ok())
        }
        KeyMaterial::Ed25519 { x } => {
            let key = ed25519_compact::PublicKey::from_slice(&decode(x)?).map_err(|e| e.to_string())?;
            let Ok(sig) = ed25519_compact::Signature::from_slice(sig) else { return Ok(false) };
            Ok(key.verify(input, &sig).is_ok())
        }
    }
}

impl SignatureVerifier for NativeVerifier {
    fn verify<'a>(
        &'a self,
        alg: Alg,
        key: &'a KeyMaterial,
        input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { verify_native(alg, key, input, signature) })
    }
}

/// A key endpoint in memory: URL → answer (status, `Cache-Control`, body), or no answer.
#[derive(Default)]
pub struct TableFetcher {
    pub answers: RefCell<BTreeMap<String, Result<Fetched, String>>>,
    /// Fetches of each URL so far.
    pub fetches: RefCell<BTreeMap<String, usize>>,
    /// Fetches in progress and the most at once.
    pub in_flight: Cell<usize>,
    pub most_at_once: Cell<usize>,
}

impl TableFetcher {
    /// Serves `body` at `url` with `cache_control`.
    pub fn serve(&self, url: &str, body: &str, cache_control: Option<&str>) {
        let fetched = Fetched { status: 200, cache_control: cache_control.map(str::to_owned), body: body.to_owned() };
        self.answers.borrow_mut().insert(url.to_owned(), Ok(fetched));
    }

    /// Makes `url` answer `status`, or (with `None`) not answer at all.
    pub fn fail(&self, url: &str, status: Option<u16>) {
        let answer = match status {
            Some(status) => Ok(Fetched { status, cache_control: None, body: String::new() }),
            None => Err("timed out".to_owned()),
        };
        self.answers.borrow_mut().insert(url.to_owned(), answer);
    }

    /// How often `url` was fetched.
    pub fn count(&self, url: &str) -> usize {
        self.fetches.borrow().get(url).copied().unwrap_or(0)
    }
}

/// One turn of the executor: a single-threaded `join` polls the other futures meanwhile.
async fn yield_once() {
    let mut yielded = false;
    futures_util::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

impl KeyFetcher for TableFetcher {
    fn get<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, String>> {
        Box::pin(async move {
            *self.fetches.borrow_mut().entry(url.to_owned()).or_default() += 1;
            self.in_flight.set(self.in_flight.get() + 1);
            self.most_at_once.set(self.most_at_once.get().max(self.in_flight.get()));
            // A few turns, so concurrent requests find this fetch in progress.
            for _ in 0..3 {
                yield_once().await;
            }
            self.in_flight.set(self.in_flight.get() - 1);
            self.answers.borrow().get(url).cloned().unwrap_or_else(|| Err(format!("nothing at {url}")))
        })
    }

    fn pause(&self, _ms: u32) -> LocalBoxFuture<'_, ()> {
        Box::pin(yield_once())
    }
}
