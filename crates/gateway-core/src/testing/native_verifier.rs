//! A signature verifier in pure Rust for native tests, standing in for the runtime's WebCrypto:
//! RS*/PS* with the `rsa` crate, ES256 with `p256`, EdDSA with `ed25519-compact`. Not for
//! wasm32 (the `native-crypto` feature).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use crate::idp::jwk::{Alg, KeyMaterial};
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
