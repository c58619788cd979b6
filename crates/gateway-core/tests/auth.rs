//! Token verification is the gateway's only door: these tests pin which tokens open it
//! (HS256, EdDSA and ES256 under the configured keys, within the 60 s leeway) and which never
//! do (`alg: none`, algorithm confusion, bad signatures, stale or unripe tokens, missing
//! claims, wrong issuer or audience), and how accepted claims become a `Grant`. Published
//! vectors (RFC 7515 A.1/A.3, RFC 8037) check interoperability with other JOSE stacks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::auth::JwtConfig;
use gateway_core::auth::{verify, KeySet};
use gateway_core::content_type::TypePattern;
use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::grant::{Grant, Scope, Scopes};
use gateway_core::testing::idp::NativeVerifier;
use serde_json::{json, Value};

fn hs_config() -> JwtConfig {
    config().jwt
}

/// Only public keys: the RFC 8037 Ed25519 key as `ed-1` and the RFC 7515 P-256 key as `es-1`.
fn pk_config() -> JwtConfig {
    let doc = jwks(&[ed_jwk(&ed_key().pk, "ed-1"), es_jwk(&es_key(), "es-1")]);
    try_config(&[("JWT_PUBLIC_KEYS", &doc)]).unwrap().jwt
}

fn check(cfg: &JwtConfig, token: &str) -> Result<Grant, GatewayError> {
    block_on(verify(cfg, token, NOW_MS, &NativeVerifier))
}

fn refused(cfg: &JwtConfig, token: &str) -> GatewayError {
    match check(cfg, token) {
        Ok(g) => panic!("token was accepted: {g:?}"),
        Err(e) => e,
    }
}

fn assert_kind(err: &GatewayError, kind: ErrorKind) {
    assert_eq!(err.kind, kind, "{err}");
    assert_eq!(err.status(), 401);
}

// ------------------------------------------------------------ algorithms and keys

#[test]
fn hs256_token_signed_by_jwt_compact_is_accepted() {
    let grant = check(&hs_config(), &token("alice", json!({}))).unwrap();
    assert_eq!(grant.sub, "alice");
}

#[test]
fn eddsa_token_with_matching_kid_is_accepted() {
    let t = eddsa(&ed_key(), Some("ed-1"), &claims_for("alice", json!({})));
    assert_eq!(check(&pk_config(), &t).unwrap().sub, "alice");
}

#[test]
fn es256_token_with_matching_kid_is_accepted() {
    let t = es256(&es_key(), Some("es-1"), &claims_for("alice", json!({})));
    assert_eq!(check(&pk_config(), &t).unwrap().sub, "alice");
}

#[test]
fn token_without_kid_uses_the_only_key_of_its_algorithm() {
    let cfg = pk_config();
    let ed = eddsa(&ed_key(), None, &claims_for("alice", json!({})));
    let es = es256(&es_key(), None, &claims_for("bob", json!({})));
    assert_eq!(check(&cfg, &ed).unwrap().sub, "alice");
    assert_eq!(check(&cfg, &es).unwrap().sub, "bob");
}

#[test]
fn token_without_kid_is_refused_when_two_keys_share_its_algorithm() {
    let doc = jwks(&[ed_jwk(&ed_key().pk, "a"), ed_jwk(&other_ed_key().pk, "b")]);
    let cfg = try_config(&[("JWT_PUBLIC_KEYS", &doc)]).unwrap().jwt;
    let err = refused(&cfg, &eddsa(&ed_key(), None, &claims_for("alice", json!({}))));
    assert_kind(&err, ErrorKind::InvalidToken);
}

#[test]
fn kid_selects_the_verifying_key_among_several() {
    let doc = jwks(&[ed_jwk(&ed_key().pk, "a"), ed_jwk(&other_ed_key().pk, "b")]);
    let cfg = try_config(&[("JWT_PUBLIC_KEYS", &doc)]).unwrap().jwt;
    let claims = claims_for("alice", json!({}));
    assert!(check(&cfg, &eddsa(&ed_key(), Some("a"), &claims)).is_ok());
    assert!(check(&cfg, &eddsa(&other_ed_key(), Some("b"), &claims)).is_ok());
    // Signed by key b but naming key a: a verifies it and must say no.
    let err = refused(&cfg, &eddsa(&other_ed_key(), Some("a"), &claims));
    assert_kind(&err, ErrorKind::InvalidToken);
    assert!(err.detail.contains("signature"), "{err}");
}

#[test]
fn unknown_kid_is_refused() {
    let t = eddsa(&ed_key(), Some("nope"), &claims_for("alice", json!({})));
    let err = refused(&pk_config(), &t);
    assert_kind(&err, ErrorKind::InvalidToken);
    assert!(err.detail.contains("kid"), "{err}");
}

#[test]
fn alg_none_token_is_refused() {
    for cfg in [hs_config(), pk_config()] {
        let unsigned = handmade(&json!({"alg": "none", "typ": "JWT"}), &claims_for("alice", json!({})), |_| Vec::new());
        assert!(unsigned.ends_with('.'));
        assert_kind(&refused(&cfg, &unsigned), ErrorKind::InvalidToken);
        // The same with a stray signature attached.
        let with_sig = handmade(&json!({"alg": "none"}), &claims_for("alice", json!({})), |_| vec![1, 2, 3]);
        assert_kind(&refused(&cfg, &with_sig), ErrorKind::InvalidToken);
    }
}

#[test]
fn algorithms_outside_the_allow_list_are_refused() {
    for alg in ["HS384", "HS512", "RS256", "ES384", "Ed25519", "hs256"] {
        let t = handmade(&json!({"alg": alg}), &claims_for("alice", json!({})), |m| {
            gateway_core::webhook::hmac_sha256(SECRET.as_bytes(), m).into_bytes()
        });
        let err = refused(&hs_config(), &t);
        assert_kind(&err, ErrorKind::InvalidToken);
    }
}

#[test]
fn hs256_token_is_refused_when_only_public_keys_are_configured() {
    // The classic confusion attack: HMAC keyed with the public key document itself.
    let doc = jwks(&[ed_jwk(&ed_key().pk, "ed-1"), es_jwk(&es_key(), "es-1")]);
    let cfg = pk_config();
    for secret in [doc.as_bytes(), RFC8037_X.as_bytes(), SECRET.as_bytes()] {
        let err = refused(&cfg, &hs256_with(secret, &claims_for("alice", json!({}))));
        assert_kind(&err, ErrorKind::InvalidToken);
        assert!(err.detail.contains("HS256"), "{err}");
    }
}

#[test]
fn token_signed_by_ed25519_key_but_claiming_es256_is_refused() {
    let kp = ed_key();
    let claims = claims_for("alice", json!({}));
    let sign = |m: &[u8]| kp.sk.sign(m, None).to_vec();
    // Naming the Ed25519 key: the key's own algorithm (EdDSA) is pinned and differs.
    let by_kid = handmade(&json!({"alg": "ES256", "kid": "ed-1"}), &claims, sign);
    assert_kind(&refused(&pk_config(), &by_kid), ErrorKind::InvalidToken);
    // Without kid the only ES256 key is tried and the Ed25519 signature does not verify.
    let no_kid = handmade(&json!({"alg": "ES256"}), &claims, sign);
    assert_kind(&refused(&pk_config(), &no_kid), ErrorKind::InvalidToken);
    // Sanity: the same bytes under the honest header are accepted.
    let honest = handmade(&json!({"alg": "EdDSA", "kid": "ed-1"}), &claims, sign);
    assert!(check(&pk_config(), &honest).is_ok());
}

#[test]
fn es256_token_naming_an_eddsa_kid_is_refused() {
    let t = es256(&es_key(), Some("ed-1"), &claims_for("alice", json!({})));
    assert_kind(&refused(&pk_config(), &t), ErrorKind::InvalidToken);
}

#[test]
fn wrong_hs256_secret_is_refused_as_invalid_signature() {
    let t = hs256_with(b"another-secret-that-is-long-enough-1234", &claims_for("alice", json!({})));
    let err = refused(&hs_config(), &t);
    assert_kind(&err, ErrorKind::InvalidToken);
    assert!(err.detail.contains("signature"), "{err}");
}

#[test]
fn tampered_payload_is_refused() {
    let t = token("alice", json!({}));
    let parts: Vec<&str> = t.split('.').collect();
    let forged_claims = b64url(claims_for("bob", json!({})).to_string().as_bytes());
    let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
    assert_kind(&refused(&hs_config(), &forged), ErrorKind::InvalidToken);
}

#[test]
fn flipped_signature_bit_is_refused_for_every_algorithm() {
    let claims = claims_for("alice", json!({}));
    let cases = [
        (hs_config(), hs256(&claims)),
        (pk_config(), eddsa(&ed_key(), Some("ed-1"), &claims)),
        (pk_config(), es256(&es_key(), Some("es-1"), &claims)),
    ];
    for (cfg, t) in cases {
        assert!(check(&cfg, &t).is_ok());
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut bytes = unb64url(sig);
        bytes[5] ^= 0x01;
        let err = refused(&cfg, &format!("{input}.{}", b64url(&bytes)));
        assert_kind(&err, ErrorKind::InvalidToken);
    }
}

#[test]
fn malformed_token_strings_are_refused_as_invalid_token() {
    for t in ["", "abc", "a.b", "a.b.c.d", "!!!.???.###", "eyJhbGciOiJIUzI1NiJ9..", "...."] {
        assert_kind(&refused(&hs_config(), t), ErrorKind::InvalidToken);
    }
}

// ------------------------------------------------------------ time

#[test]
fn expired_token_beyond_the_leeway_is_rejected_with_401_token_expired() {
    let t = hs256(&json!({"sub": "alice", "exp": NOW_S - 61}));
    let err = refused(&hs_config(), &t);
    assert_kind(&err, ErrorKind::TokenExpired);
    assert_eq!(err.code(), "token_expired");
}

#[test]
fn token_expired_within_the_leeway_is_accepted() {
    let t = hs256(&json!({"sub": "alice", "exp": NOW_S - 59}));
    assert!(check(&hs_config(), &t).is_ok());
}

#[test]
fn expiry_applies_to_public_key_tokens_too() {
    let stale = json!({"sub": "alice", "exp": NOW_S - 3600});
    assert_kind(&refused(&pk_config(), &eddsa(&ed_key(), Some("ed-1"), &stale)), ErrorKind::TokenExpired);
    assert_kind(&refused(&pk_config(), &es256(&es_key(), Some("es-1"), &stale)), ErrorKind::TokenExpired);
}

#[test]
fn nbf_in_the_future_beyond_the_leeway_is_rejected_with_token_expired() {
    let t = hs256(&claims_for("alice", json!({"nbf": NOW_S + 61})));
    let err = refused(&hs_config(), &t);
    assert_kind(&err, ErrorKind::TokenExpired);
    assert!(err.detail.contains("nbf"), "{err}");
}

#[test]
fn nbf_slightly_ahead_within_the_leeway_or_in_the_past_is_accepted() {
    for nbf in [NOW_S + 59, NOW_S, NOW_S - 86_400] {
        let t = hs256(&claims_for("alice", json!({ "nbf": nbf })));
        assert!(check(&hs_config(), &t).is_ok(), "nbf {nbf}");
    }
}

#[test]
fn missing_exp_is_rejected_with_invalid_token() {
    let t = hs256(&json!({"sub": "alice"}));
    let err = refused(&hs_config(), &t);
    assert_kind(&err, ErrorKind::InvalidToken);
    assert!(err.detail.contains("exp"), "{err}");
}

#[test]
fn non_numeric_exp_is_rejected_with_invalid_token() {
    let t = hs256(&json!({"sub": "alice", "exp": "tomorrow"}));
    assert_kind(&refused(&hs_config(), &t), ErrorKind::InvalidToken);
}

#[test]
fn verification_uses_the_time_passed_in_not_a_clock() {
    // Expired at NOW, but fine when the caller says it is an hour earlier.
    let t = hs256(&json!({"sub": "alice", "exp": NOW_S - 600}));
    assert!(block_on(verify(&hs_config(), &t, NOW_MS - 3_600_000, &NativeVerifier)).is_ok());
    assert_eq!(block_on(verify(&hs_config(), &t, NOW_MS, &NativeVerifier)).unwrap_err().kind, ErrorKind::TokenExpired);
}

// ------------------------------------------------------------ claims

#[test]
fn missing_sub_is_rejected_with_invalid_token() {
    let err = refused(&hs_config(), &hs256(&json!({"exp": NOW_S + 600})));
    assert_kind(&err, ErrorKind::InvalidToken);
    assert!(err.detail.contains("sub"), "{err}");
}

#[test]
fn empty_sub_is_rejected_with_invalid_token() {
    let err = refused(&hs_config(), &token("", json!({})));
    assert_kind(&err, ErrorKind::InvalidToken);
}

fn with_issuer_and_audience() -> JwtConfig {
    config_with(&[("JWT_ISSUER", "https://auth.example"), ("JWT_AUDIENCE", "uploads")]).jwt
}

#[test]
fn issuer_is_checked_when_configured() {
    let cfg = with_issuer_and_audience();
    let good = token("alice", json!({"iss": "https://auth.example", "aud": "uploads"}));
    assert!(check(&cfg, &good).is_ok());
    for iss in [json!("https://evil.example"), json!(null), json!("https://auth.example/")] {
        let t = token("alice", json!({"iss": iss, "aud": "uploads"}));
        let err = refused(&cfg, &t);
        assert_kind(&err, ErrorKind::InvalidToken);
        assert!(err.detail.contains("issuer"), "{err}");
    }
}

#[test]
fn audience_may_be_a_string_or_an_array_containing_the_configured_one() {
    let cfg = with_issuer_and_audience();
    for aud in [json!("uploads"), json!(["uploads"]), json!(["billing", "uploads"])] {
        let t = token("alice", json!({"iss": "https://auth.example", "aud": aud}));
        assert!(check(&cfg, &t).is_ok(), "aud {aud}");
    }
}

#[test]
fn audience_not_containing_the_configured_one_is_refused() {
    let cfg = with_issuer_and_audience();
    for aud in [json!("billing"), json!(["billing", "admin"]), json!([]), json!(null), json!("Uploads")] {
        let t = token("alice", json!({"iss": "https://auth.example", "aud": aud}));
        let err = refused(&cfg, &t);
        assert_kind(&err, ErrorKind::InvalidToken);
        assert!(err.detail.contains("audience"), "aud {aud}: {err}");
    }
}

#[test]
fn issuer_and_audience_are_not_required_when_not_configured() {
    let t = token("alice", json!({"iss": "anyone", "aud": ["anything"]}));
    assert!(check(&hs_config(), &t).is_ok());
}

#[test]
fn absent_scope_grants_all_four_scopes() {
    let g = check(&hs_config(), &token("alice", json!({}))).unwrap();
    assert_eq!(g.scopes, Scopes::ALL);
    for s in [Scope::Read, Scope::Write, Scope::Delete, Scope::List] {
        assert!(g.scopes.contains(s), "{s:?}");
    }
}

#[test]
fn scope_claim_grants_exactly_the_listed_scopes() {
    let g = check(&hs_config(), &token("alice", json!({"scope": "read list other:thing"}))).unwrap();
    assert!(g.scopes.contains(Scope::Read));
    assert!(g.scopes.contains(Scope::List));
    assert!(!g.scopes.contains(Scope::Write));
    assert!(!g.scopes.contains(Scope::Delete));
}

#[test]
fn empty_scope_claim_grants_nothing() {
    let g = check(&hs_config(), &token("alice", json!({"scope": ""}))).unwrap();
    for s in [Scope::Read, Scope::Write, Scope::Delete, Scope::List] {
        assert!(!g.scopes.contains(s), "{s:?}");
    }
}

#[test]
fn default_prefix_is_sub_followed_by_slash() {
    let g = check(&hs_config(), &token("alice", json!({}))).unwrap();
    assert_eq!(
        g,
        Grant {
            sub: "alice".into(),
            scopes: Scopes::ALL,
            prefix: "alice/".into(),
            exact_key: None,
            max_size: None,
            content_types: None,
            expires_ms: Some((NOW_S + 3600) * 1000),
            quota: None,
        }
    );
}

#[test]
fn prefix_key_max_size_and_content_types_claims_become_the_grant() {
    let t = token(
        "alice",
        json!({
            "prefix": "shared/team-a/",
            "key": "shared/team-a/report.pdf",
            "max_size": 1_048_576,
            "content_types": ["image/*", "application/pdf"],
        }),
    );
    let g = check(&hs_config(), &t).unwrap();
    assert_eq!(g.prefix, "shared/team-a/");
    assert_eq!(g.exact_key.as_deref(), Some("shared/team-a/report.pdf"));
    assert_eq!(g.max_size, Some(1_048_576));
    assert_eq!(
        g.content_types,
        Some(vec![TypePattern::parse("image/*").unwrap(), TypePattern::parse("application/pdf").unwrap()])
    );
}

#[test]
fn malformed_content_types_claim_is_refused() {
    let t = token("alice", json!({"content_types": ["image/png", "not a type"]}));
    let err = refused(&hs_config(), &t);
    assert_kind(&err, ErrorKind::InvalidToken);
    assert!(err.detail.contains("content_types"), "{err}");
}

#[test]
fn wrongly_typed_claims_are_refused() {
    for extra in [json!({"max_size": -1}), json!({"max_size": "big"}), json!({"scope": ["read"]}), json!({"sub": 42})] {
        let mut c = claims_for("alice", json!({}));
        merge(&mut c, extra.clone());
        assert_kind(&refused(&hs_config(), &hs256(&c)), ErrorKind::InvalidToken);
    }
}

// ------------------------------------------------------------ key sets

#[test]
fn published_rfc8037_public_jwk_is_accepted_and_verifies_tokens_of_its_private_key() {
    let doc = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "rfc8037", "alg": "EdDSA"}]})
        .to_string();
    let set = KeySet::from_jwks(&doc).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(b64url(ed_key().pk.as_ref()), RFC8037_X, "the seed in RFC 8037 yields its x");
    let cfg = try_config(&[("JWT_PUBLIC_KEYS", &doc)]).unwrap().jwt;
    let t = eddsa(&ed_key(), Some("rfc8037"), &claims_for("alice", json!({})));
    assert_eq!(check(&cfg, &t).unwrap().sub, "alice");
}

#[test]
fn jwks_refuses_keys_without_kid_duplicate_kids_mismatched_alg_and_other_key_types() {
    let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k"});
    let bad = [
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}]}),
        json!({"keys": [ed.clone(), ed.clone()]}),
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k", "alg": "ES256"}]}),
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k"}]}),
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "k"}]}),
        json!({"not_keys": []}),
    ];
    for doc in bad {
        assert!(KeySet::from_jwks(&doc.to_string()).is_err(), "{doc}");
    }
    assert!(KeySet::from_jwks("not json").is_err());
}

/// Whether a P-256 point lies on the curve is the runtime's WebCrypto's to say when it imports
/// the key (the gateway carries no curve arithmetic of its own): such a key verifies nothing.
#[test]
fn a_p256_key_off_the_curve_verifies_no_token() {
    let doc = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_X, "kid": "k"}]});
    let cfg = try_config(&[("JWT_PUBLIC_KEYS", &doc.to_string())]).unwrap().jwt;
    let err = refused(&cfg, &es256(&es_key(), Some("k"), &claims_for("alice", json!({}))));
    assert_kind(&err, ErrorKind::InvalidToken);
}

#[test]
fn published_rfc7515_a3_public_jwk_verifies_tokens_of_its_private_key() {
    let doc = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y, "kid": "es", "alg": "ES256"}]});
    let cfg = try_config(&[("JWT_PUBLIC_KEYS", &doc.to_string())]).unwrap().jwt;
    let t = es256(&es_key(), Some("es"), &claims_for("alice", json!({})));
    assert_eq!(check(&cfg, &t).unwrap().sub, "alice");
    // A token from another P-256 key under the same kid is refused.
    let other = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    assert_kind(&refused(&cfg, &es256(&other, Some("es"), &claims_for("alice", json!({})))), ErrorKind::InvalidToken);
}

// ------------------------------------------------------------ published vectors

/// RFC 7515 Appendix A.3: the ES256 example JWS and its public key.
const RFC7515_A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const RFC7515_EXP_S: i64 = 1_300_819_380;

fn rfc7515_a3_config() -> JwtConfig {
    let doc = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y, "kid": "rfc7515"}]});
    try_config(&[("JWT_PUBLIC_KEYS", &doc.to_string())]).unwrap().jwt
}

#[test]
fn rfc7515_a3_es256_example_signature_verifies_and_then_fails_only_on_its_claims() {
    let cfg = rfc7515_a3_config();
    // Expiry is checked only after the signature verified: `token_expired` proves integrity.
    let err = block_on(verify(&cfg, RFC7515_A3_JWS, NOW_MS, &NativeVerifier)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TokenExpired, "{err}");
    // At the example's own time it is fresh, and is refused only because it has no `sub`.
    let err = block_on(verify(&cfg, RFC7515_A3_JWS, (RFC7515_EXP_S - 100) * 1000, &NativeVerifier)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidToken);
    assert!(err.detail.contains("sub"), "{err}");
}

#[test]
fn rfc7515_a3_example_with_a_flipped_signature_bit_is_an_invalid_signature() {
    let (input, sig) = RFC7515_A3_JWS.rsplit_once('.').unwrap();
    let mut bytes = unb64url(sig);
    bytes[40] ^= 0x80;
    let forged = format!("{input}.{}", b64url(&bytes));
    let err =
        block_on(verify(&rfc7515_a3_config(), &forged, (RFC7515_EXP_S - 100) * 1000, &NativeVerifier)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidToken);
    assert!(err.detail.contains("signature"), "{err}");
}

/// RFC 7515 Appendix A.1: the HS256 example. Its key is 64 random bytes (not UTF-8), so it
/// cannot be a `JWT_SECRET`; the vector checks the same jwt-compact HS256 verifier the gateway
/// uses, and that a wrong key or a flipped bit is caught.
const RFC7515_A1_JWS: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7515_A1_K: &str = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

#[test]
fn rfc7515_a1_hs256_example_verifies_under_its_key_and_not_under_another() {
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{AlgorithmExt, Token, UntrustedToken};

    let key = unb64url(RFC7515_A1_K);
    let untrusted = UntrustedToken::new(RFC7515_A1_JWS).unwrap();
    assert_eq!(untrusted.algorithm(), "HS256");
    let token: Token<Value> = Hs256.validator(&Hs256Key::new(&key)).validate(&untrusted).unwrap();
    assert_eq!(token.claims().custom["iss"], "joe");
    assert_eq!(token.claims().expiration.map(|t| t.timestamp()), Some(RFC7515_EXP_S));

    let wrong = Hs256.validator::<Value>(&Hs256Key::new(SECRET.as_bytes())).validate(&untrusted);
    assert!(wrong.is_err());

    let (input, sig) = RFC7515_A1_JWS.rsplit_once('.').unwrap();
    let mut bytes = unb64url(sig);
    bytes[0] ^= 0x01;
    let forged = format!("{input}.{}", b64url(&bytes));
    let forged = UntrustedToken::new(&forged).unwrap();
    assert!(Hs256.validator::<Value>(&Hs256Key::new(&key)).validate(&forged).is_err());

    // Through the gateway (any secret it can hold) the example is refused.
    assert_eq!(
        block_on(verify(&hs_config(), RFC7515_A1_JWS, NOW_MS, &NativeVerifier)).unwrap_err().kind,
        ErrorKind::InvalidToken
    );
}

#[test]
fn a_sub_with_a_slash_and_no_prefix_claim_is_refused_so_it_cannot_nest_in_another_namespace() {
    let err = refused(&hs_config(), &hs256(&claims_for("alice/shared", json!({}))));
    assert_kind(&err, ErrorKind::InvalidToken);
    let g = check(&hs_config(), &hs256(&claims_for("alice/shared", json!({"prefix": "shared/"})))).unwrap();
    assert_eq!(g.prefix, "shared/");
}

#[test]
fn claims_that_name_keys_must_be_in_nfc_so_they_mean_what_the_store_resolves() {
    // `\u{212A}ate/` (KELVIN SIGN) is `Kate/` once R2 normalises it: refused, not normalised,
    // so a token never silently covers a namespace its issuer did not spell.
    for extra in [json!({"prefix": "\u{212A}ate/"}), json!({"key": "alice/cafe\u{301}.txt"})] {
        let err = refused(&hs_config(), &token("alice", extra.clone()));
        assert_kind(&err, ErrorKind::InvalidToken);
        assert!(err.detail.contains("NFC"), "{extra}: {err}");
    }
    let err = refused(&hs_config(), &token("\u{212A}ate", json!({})));
    assert_kind(&err, ErrorKind::InvalidToken);
    let g = check(&hs_config(), &token("caf\u{e9}", json!({}))).unwrap();
    assert_eq!(g.prefix, "caf\u{e9}/");
}
