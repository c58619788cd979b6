//! Tokens from identity providers (`JWT_ISSUERS`), natively: the issuer configuration, the
//! keys as IdPs publish them and which may verify what, the claims mapping, the remote key
//! cache (freshness, one refetch per cooldown for unknown kids, shared fetches, stale keys on
//! failure), and whole tokens shaped as each IdP shapes them, verified by the same decisions
//! the Worker makes (its WebCrypto stood in for by a pure-Rust verifier).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use futures_executor::block_on;
use gateway_core::grant::{Scope, Scopes};
use gateway_core::idp::issuer::{parse_issuers, Issuer};
use gateway_core::idp::jwk::{Alg, JwkSet};
use gateway_core::idp::keys::{freshness, RemoteKeys, COOLDOWN_MS, DEFAULT_MAX_AGE_MS, MAX_MAX_AGE_MS, MIN_MAX_AGE_MS};
use gateway_core::idp::{claims, IdpVerifier};
use gateway_core::testing::idp::{NativeVerifier, TableFetcher};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const NOW_MS: i64 = 1_750_000_000_000;
const NOW_S: i64 = NOW_MS / 1000;
const ISS: &str = "https://idp.example.com/";
const JWKS: &str = "https://idp.example.com/.well-known/jwks.json";

fn rsa_key(name: &str) -> rsa::RsaPrivateKey {
    let pem = std::fs::read_to_string(format!("{}/tests/keys/{name}.pem", env!("CARGO_MANIFEST_DIR"))).unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

fn rsa_jwk(key: &rsa::RsaPrivateKey, kid: &str, extra: Value) -> Value {
    let mut jwk = json!({"kty": "RSA", "kid": kid, "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())});
    merge(&mut jwk, extra);
    jwk
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        t.extend(e);
    }
}

/// A signed compact JWT over `claims` with `header`, signed by `sign`.
fn jwt(header: Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn rs(alg: &str, key: &rsa::RsaPrivateKey, kid: Option<&str>, claims: &Value) -> String {
    use rsa::sha2::{Digest, Sha256, Sha384, Sha512};
    use rsa::{Pkcs1v15Sign, Pss};
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    jwt(header, claims, |input| {
        let mut rng = rand_core::OsRng;
        match alg {
            "RS256" => key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input)).unwrap(),
            "RS384" => key.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input)).unwrap(),
            "RS512" => key.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input)).unwrap(),
            "PS256" => key.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(input)).unwrap(),
            "PS512" => key.sign_with_rng(&mut rng, Pss::new::<Sha512>(), &Sha512::digest(input)).unwrap(),
            other => panic!("{other}"),
        }
    })
}

fn claims_with(extra: Value) -> Value {
    let mut c = json!({"iss": ISS, "sub": "user-1", "exp": NOW_S + 600, "iat": NOW_S});
    merge(&mut c, extra);
    c
}

fn issuer(entry: Value) -> Issuer {
    let mut e = json!({"issuer": ISS, "jwks_url": JWKS});
    merge(&mut e, entry);
    parse_issuers(&json!([e]).to_string()).unwrap().remove(0)
}

/// A verifier world: the issuer's keys served at JWKS, the isolate's cache, the fetcher.
struct World {
    keys: RemoteKeys,
    fetcher: TableFetcher,
    verifier: NativeVerifier,
}

impl World {
    fn serving(jwks: Value) -> World {
        let w = World { keys: RemoteKeys::default(), fetcher: TableFetcher::default(), verifier: NativeVerifier };
        w.fetcher.serve(JWKS, &jwks.to_string(), Some("public, max-age=3600"));
        w
    }

    fn idp(&self) -> IdpVerifier<'_> {
        IdpVerifier { keys: &self.keys, fetcher: &self.fetcher, verifier: &self.verifier }
    }

    fn verify(
        &self,
        iss: &Issuer,
        token: &str,
        now_ms: i64,
    ) -> gateway_core::error::Result<gateway_core::grant::Grant> {
        block_on(self.idp().verify(iss, token, now_ms))
    }
}

fn status(r: gateway_core::error::Result<gateway_core::grant::Grant>) -> (u16, &'static str) {
    let e = r.unwrap_err();
    (e.status(), e.code())
}

// ------------------------------------------------------------------ configuration

#[test]
fn an_issuer_entry_is_parsed_with_its_defaults() {
    let i = issuer(json!({}));
    assert_eq!(i.issuer, ISS);
    assert!(i.audience.is_empty() && i.require.is_empty() && i.scopes.is_none() && i.header.is_none());
    assert_eq!(i.prefix.render("u"), "u/");
    let full = issuer(json!({
        "audience": ["api://uploads", "uploads"], "require": {"token_use": "access"}, "subject": "user.id",
        "prefix": "users/{sub}/", "scopes": {"claim": "permissions", "map": {"files:write": "write read"}},
        "max_size": 1000, "content_types": ["image/*"], "header": "Cf-Access-Jwt-Assertion"
    }));
    assert_eq!(full.audience, vec!["api://uploads", "uploads"]);
    assert_eq!(full.prefix.render("u"), "users/u/");
    assert_eq!(full.header.as_deref(), Some("cf-access-jwt-assertion"));
    assert_eq!(full.max_size, Some(1000));
}

#[test]
fn a_malformed_issuer_entry_is_refused_naming_the_entry_and_field() {
    let bad = |entry: Value| parse_issuers(&json!([entry]).to_string()).unwrap_err();
    assert!(parse_issuers("{}").is_err());
    assert!(bad(json!({"jwks_url": JWKS})).contains("issuer"));
    assert!(bad(json!({"issuer": "not a url"})).contains("issuer"));
    assert!(bad(json!({"issuer": ISS, "prefix": "users/"})).contains("prefix"));
    assert!(bad(json!({"issuer": ISS, "prefix": "{sub}/{sub}/"})).contains("prefix"));
    assert!(bad(json!({"issuer": ISS, "secret": "short"})).contains("secret"));
    assert!(bad(json!({"issuer": ISS, "scopes": {"claim": "scp", "map": {"x": "admin"}}})).contains("scopes"));
    assert!(bad(json!({"issuer": ISS, "audence": "typo"})).contains("audence"), "an unknown field is refused");
    assert!(bad(json!({"issuer": ISS, "header": "bad header"})).contains("header"));
    let twice = json!([{"issuer": ISS}, {"issuer": ISS}]).to_string();
    assert!(parse_issuers(&twice).unwrap_err().contains("twice"));
}

// ------------------------------------------------------------------ keys

#[test]
fn keys_are_read_as_idps_publish_them_and_unusable_ones_left_out_with_a_note() {
    let a = rsa_key("rsa-2048-a");
    let weak = rsa_key("rsa-1024");
    let doc = json!({
        // Cloudflare Access and Stytch put more members beside `keys`.
        "public_cert": {"kid": "x", "cert": "-----BEGIN CERTIFICATE-----"}, "request_id": "r", "status_code": 200,
        "keys": [
            // Entra: no `alg`, and `x5c`/`x5t` next to `n`/`e`.
            rsa_jwk(&a, "entra", json!({"use": "sig", "x5t": "abc", "x5c": ["MIIC..."]})),
            rsa_jwk(&a, "enc", json!({"use": "enc"})),
            rsa_jwk(&weak, "weak", json!({"alg": "RS256"})),
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
        ]
    });
    let set = JwkSet::parse(&doc.to_string()).unwrap();
    assert_eq!(set.keys.len(), 1, "{:?}", set.skipped);
    assert_eq!(set.keys[0].kid.as_deref(), Some("entra"));
    assert_eq!(set.skipped.len(), 4);
    assert!(set.skipped.iter().any(|s| s.contains("1024 bits")), "{:?}", set.skipped);
    assert!(JwkSet::parse("[]").is_err() && JwkSet::parse("not json").is_err());
}

#[test]
fn a_key_verifies_only_its_type_and_its_own_alg() {
    let a = rsa_key("rsa-2048-a");
    let doc = json!({"keys": [rsa_jwk(&a, "any", json!({})), rsa_jwk(&a, "rs", json!({"alg": "RS256"}))]});
    let set = JwkSet::parse(&doc.to_string()).unwrap();
    assert_eq!(set.candidates(Alg::Ps256, Some("any")).len(), 1, "a key without alg verifies its type's algorithms");
    assert!(set.candidates(Alg::Ps256, Some("rs")).is_empty(), "a key's own alg narrows it");
    assert!(set.candidates(Alg::Es256, Some("any")).is_empty(), "an RSA key never verifies ES256");
    assert!(set.candidates(Alg::Hs256, Some("any")).is_empty(), "a public key never keys an HMAC");
    assert_eq!(set.candidates(Alg::Rs256, None).len(), 2, "without kid, every key for the algorithm");
    assert!(set.candidates(Alg::Rs256, Some("other")).is_empty());
    let lying = json!({"keys": [rsa_jwk(&a, "x", json!({"alg": "ES256"}))]});
    assert!(JwkSet::parse(&lying.to_string()).unwrap().keys.is_empty(), "an alg of another type is refused");
}

#[test]
fn freshness_follows_max_age_within_bounds() {
    assert_eq!(freshness(None), DEFAULT_MAX_AGE_MS);
    assert_eq!(freshness(Some("public, max-age=3600, must-revalidate")), 3_600_000);
    assert_eq!(freshness(Some("no-cache")), DEFAULT_MAX_AGE_MS);
    assert_eq!(freshness(Some("max-age=0")), MIN_MAX_AGE_MS);
    assert_eq!(freshness(Some("max-age=9999999")), MAX_MAX_AGE_MS);
}

// ------------------------------------------------------------------ remote keys

#[test]
fn keys_are_fetched_once_and_kept_while_fresh() {
    let a = rsa_key("rsa-2048-a");
    let w = World::serving(json!({"keys": [rsa_jwk(&a, "k1", json!({}))]}));
    let iss = issuer(json!({}));
    for i in 0..5 {
        let token = rs("RS256", &a, Some("k1"), &claims_with(json!({})));
        w.verify(&iss, &token, NOW_MS + i * 1000).unwrap();
    }
    assert_eq!(w.fetcher.count(JWKS), 1);
    let token = rs("RS256", &a, Some("k1"), &claims_with(json!({"exp": NOW_S + 7200})));
    w.verify(&iss, &token, NOW_MS + 3_600_000).unwrap();
    assert_eq!(w.fetcher.count(JWKS), 2, "past max-age the keys are fetched again");
}

#[test]
fn a_rotated_key_verifies_after_one_refetch_and_a_kid_flood_costs_one_fetch_per_cooldown() {
    let (a, b) = (rsa_key("rsa-2048-a"), rsa_key("rsa-2048-b"));
    let w = World::serving(json!({"keys": [rsa_jwk(&a, "k1", json!({}))]}));
    let iss = issuer(json!({}));
    w.verify(&iss, &rs("RS256", &a, Some("k1"), &claims_with(json!({}))), NOW_MS).unwrap();
    // The IdP rotates: the new kid appears in tokens and in the JWKS at the same moment.
    w.fetcher.serve(
        JWKS,
        &json!({"keys": [rsa_jwk(&a, "k1", json!({})), rsa_jwk(&b, "k2", json!({}))]}).to_string(),
        None,
    );
    // A second after the routine fetch: the new kid is fetched at once.
    let later = NOW_MS + 1000;
    w.verify(&iss, &rs("RS256", &b, Some("k2"), &claims_with(json!({}))), later).unwrap();
    assert_eq!(w.fetcher.count(JWKS), 2);
    // Random kids: refused, and the cooldown keeps them from fetching again.
    for i in 0..50 {
        let token = rs("RS256", &b, Some(&format!("random-{i}")), &claims_with(json!({})));
        assert_eq!(status(w.verify(&iss, &token, later + 1000 + i)), (401, "invalid_token"));
    }
    assert_eq!(w.fetcher.count(JWKS), 2);
    let token = rs("RS256", &b, Some("random-late"), &claims_with(json!({})));
    assert_eq!(status(w.verify(&iss, &token, later + COOLDOWN_MS + 1)), (401, "invalid_token"));
    assert_eq!(w.fetcher.count(JWKS), 3, "after the cooldown one more fetch is allowed");
}

#[test]
fn concurrent_requests_for_an_unknown_kid_share_one_fetch() {
    let b = rsa_key("rsa-2048-b");
    let w = World::serving(json!({"keys": [rsa_jwk(&b, "k2", json!({}))]}));
    let iss = issuer(json!({}));
    let tokens: Vec<String> = (0..8).map(|_| rs("RS256", &b, Some("k2"), &claims_with(json!({})))).collect();
    let idp = w.idp();
    let all = futures_util::future::join_all(tokens.iter().map(|t| idp.verify(&iss, t, NOW_MS)));
    assert!(block_on(all).iter().all(Result::is_ok));
    assert_eq!(w.fetcher.count(JWKS), 1, "eight requests, one fetch");
}

#[test]
fn when_the_key_endpoint_fails_the_keys_already_fetched_keep_verifying() {
    let a = rsa_key("rsa-2048-a");
    let w = World::serving(json!({"keys": [rsa_jwk(&a, "k1", json!({}))]}));
    let iss = issuer(json!({}));
    w.verify(&iss, &rs("RS256", &a, Some("k1"), &claims_with(json!({}))), NOW_MS).unwrap();
    w.fetcher.fail(JWKS, Some(500));
    let stale = NOW_MS + 2 * 3_600_000;
    let token = rs("RS256", &a, Some("k1"), &claims_with(json!({"exp": (stale / 1000) + 600})));
    w.verify(&iss, &token, stale).unwrap();
    w.fetcher.fail(JWKS, None);
    w.verify(&iss, &token, stale + COOLDOWN_MS).unwrap();
    assert_eq!(w.fetcher.count(JWKS), 3);
}

#[test]
fn when_no_key_was_ever_fetched_the_answer_is_503_never_a_500() {
    let a = rsa_key("rsa-2048-a");
    let w = World::serving(json!({}));
    w.fetcher.fail(JWKS, None);
    let iss = issuer(json!({}));
    let token = rs("RS256", &a, Some("k1"), &claims_with(json!({})));
    assert_eq!(status(w.verify(&iss, &token, NOW_MS)), (503, "issuer_unavailable"));
    // Within the cooldown the endpoint is not asked again.
    assert_eq!(status(w.verify(&iss, &token, NOW_MS + 1000)), (503, "issuer_unavailable"));
    assert_eq!(w.fetcher.count(JWKS), 1);
}

#[test]
fn without_a_jwks_url_the_keys_are_found_through_the_openid_configuration() {
    let a = rsa_key("rsa-2048-a");
    let w = World::serving(json!({"keys": [rsa_jwk(&a, "k1", json!({}))]}));
    let discovery = "https://idp.example.com/.well-known/openid-configuration";
    w.fetcher.serve(discovery, &json!({"issuer": ISS, "jwks_uri": JWKS}).to_string(), None);
    let iss = parse_issuers(&json!([{"issuer": ISS}]).to_string()).unwrap().remove(0);
    w.verify(&iss, &rs("RS256", &a, Some("k1"), &claims_with(json!({}))), NOW_MS).unwrap();
    let later = claims_with(json!({"exp": NOW_S + 3 * 3600}));
    w.verify(&iss, &rs("RS256", &a, Some("k1"), &later), NOW_MS + 2 * 3_600_000).unwrap();
    assert_eq!((w.fetcher.count(discovery), w.fetcher.count(JWKS)), (1, 2), "the discovered URL is kept");
}

// ------------------------------------------------------------------ algorithms and refusals

#[test]
fn rsa_pss_ecdsa_and_eddsa_tokens_verify_with_their_keys() {
    let a = rsa_key("rsa-2048-a");
    let ec = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let point = ec.verifying_key().to_encoded_point(false);
    let ed = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::generate());
    let w = World::serving(json!({"keys": [
        rsa_jwk(&a, "rsa", json!({})),
        {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.pk.as_ref())},
    ]}));
    let iss = issuer(json!({}));
    let c = claims_with(json!({}));
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS512"] {
        w.verify(&iss, &rs(alg, &a, Some("rsa"), &c), NOW_MS).unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
    let es = jwt(json!({"alg": "ES256", "kid": "ec"}), &c, |input| {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = ec.sign(input);
        sig.to_bytes().to_vec()
    });
    w.verify(&iss, &es, NOW_MS).unwrap();
    let eddsa = jwt(json!({"alg": "EdDSA", "kid": "ed"}), &c, |input| ed.sk.sign(input, None).to_vec());
    w.verify(&iss, &eddsa, NOW_MS).unwrap();
    // Another key's signature, and a key of another type named by kid, are refused.
    let other = rs("RS256", &rsa_key("rsa-2048-b"), Some("rsa"), &c);
    assert_eq!(status(w.verify(&iss, &other, NOW_MS)), (401, "invalid_token"));
    let confused = rs("RS256", &a, Some("ec"), &c);
    assert_eq!(status(w.verify(&iss, &confused, NOW_MS)), (401, "invalid_token"));
}

#[test]
fn alg_none_hmac_with_the_public_key_and_a_1024_bit_key_are_refused() {
    let (a, weak) = (rsa_key("rsa-2048-a"), rsa_key("rsa-1024"));
    let w = World::serving(json!({"keys": [rsa_jwk(&a, "k1", json!({})), rsa_jwk(&weak, "weak", json!({}))]}));
    let iss = issuer(json!({}));
    let c = claims_with(json!({}));
    let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(c.to_string().as_bytes()));
    assert_eq!(status(w.verify(&iss, &none, NOW_MS)), (401, "invalid_token"));
    // RS→HS confusion: an HMAC keyed with the published public key.
    let public_pem = rsa_jwk(&a, "k1", json!({})).to_string();
    let hs = jwt(json!({"alg": "HS256", "kid": "k1"}), &c, |input| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(public_pem.as_bytes()).unwrap();
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    });
    assert_eq!(status(w.verify(&iss, &hs, NOW_MS)), (401, "invalid_token"));
    let weak_token = rs("RS256", &weak, Some("weak"), &c);
    assert_eq!(status(w.verify(&iss, &weak_token, NOW_MS)), (401, "invalid_token"));
}

#[test]
fn hs256_tokens_verify_only_with_the_issuers_own_secret() {
    let secret = "supabase-legacy-jwt-secret-0123456789abcdef";
    let w = World::serving(json!({"keys": []}));
    let iss = issuer(json!({"secret": secret}));
    let sign = |key: &str| {
        let key = key.to_owned();
        move |input: &[u8]| {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
    };
    let c = claims_with(json!({}));
    w.verify(&iss, &jwt(json!({"alg": "HS256"}), &c, sign(secret)), NOW_MS).unwrap();
    let forged = jwt(json!({"alg": "HS256"}), &c, sign("another-secret-of-enough-length-000000"));
    assert_eq!(status(w.verify(&iss, &forged, NOW_MS)), (401, "invalid_token"));
    let without = issuer(json!({}));
    assert_eq!(
        status(w.verify(&without, &jwt(json!({"alg": "HS256"}), &c, sign(secret)), NOW_MS)),
        (401, "invalid_token")
    );
    assert_eq!(w.fetcher.count(JWKS), 0, "HS256 needs no key set");
}

// ------------------------------------------------------------------ claims

#[test]
fn expiry_audience_and_required_claims_are_checked() {
    let i = issuer(json!({"audience": ["api-a", "api-b"], "require": {"token_use": "access"}}));
    let ok = claims_with(json!({"aud": ["other", "api-b"], "token_use": "access"}));
    claims::grant(&i, &ok, NOW_MS).unwrap();
    let refuse = |extra: Value| {
        let mut c = ok.clone();
        merge(&mut c, extra);
        let e = claims::grant(&i, &c, NOW_MS).unwrap_err();
        (e.status(), e.code())
    };
    assert_eq!(refuse(json!({"aud": "other"})), (401, "invalid_token"));
    assert_eq!(refuse(json!({"token_use": "id"})), (401, "invalid_token"));
    assert_eq!(refuse(json!({"iss": "https://evil.example.com/"})), (401, "invalid_token"));
    assert_eq!(refuse(json!({"exp": NOW_S - 3600})), (401, "token_expired"));
    assert_eq!(refuse(json!({"nbf": NOW_S + 3600})), (401, "token_expired"));
    let mut no_exp = ok.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(claims::grant(&i, &no_exp, NOW_MS).unwrap_err().code(), "invalid_token");
    let no_aud_check = issuer(json!({}));
    claims::grant(&no_aud_check, &claims_with(json!({})), NOW_MS).unwrap();
}

#[test]
fn the_subject_names_the_prefix_and_one_that_would_escape_it_is_refused() {
    let i = issuer(json!({"subject": "user.id", "prefix": "users/{sub}/"}));
    let g = claims::grant(&i, &claims_with(json!({"user": {"id": "42"}})), NOW_MS).unwrap();
    assert_eq!((g.sub.as_str(), g.prefix.as_str()), ("42", "users/42/"));
    assert_eq!(g.scopes, Scopes::ALL);
    for bad in ["", "a/b", "..", "x..y", "cafe\u{301}", "tab\there"] {
        let c = claims_with(json!({"user": {"id": bad}}));
        assert_eq!(claims::grant(&i, &c, NOW_MS).unwrap_err().code(), "invalid_token", "{bad:?}");
    }
    // A claim whose name has dots is found whole (`https://example.com/roles`).
    let dotted = issuer(json!({"subject": "https://example.com/uid"}));
    let g = claims::grant(&dotted, &claims_with(json!({"https://example.com/uid": "u7"})), NOW_MS).unwrap();
    assert_eq!(g.sub, "u7");
}

#[test]
fn idp_permissions_map_to_gateway_scopes_in_every_shape_idps_send() {
    let map = json!({"files:read": "read list", "files:write": "write", "admin": "read write delete list"});
    let scopes_of = |claim: &str, value: Value| {
        let i = issuer(json!({"scopes": {"claim": claim, "map": map}}));
        let mut c = claims_with(json!({}));
        let (first, rest) = claim.split_once('.').map_or((claim, None), |(a, b)| (a, Some(b)));
        c[first] = match rest {
            Some(rest) => json!({ rest: value }),
            None => value,
        };
        claims::grant(&i, &c, NOW_MS).unwrap().scopes
    };
    let read_list = Scopes::parse("read list");
    assert_eq!(scopes_of("scope", json!("openid files:read profile")), read_list, "a space-separated string");
    assert_eq!(scopes_of("permissions", json!(["files:read", "files:write"])), Scopes::parse("read list write"));
    assert_eq!(scopes_of("o.per", json!("files:read,files:write")), Scopes::parse("read list write"), "Clerk's commas");
    assert_eq!(scopes_of("realm_access.roles", json!(["admin"])), Scopes::ALL);
    let none = scopes_of("scp", json!("unrelated"));
    assert!(!none.contains(Scope::Read) && !none.contains(Scope::Write), "unmapped values grant nothing");
}

#[test]
fn a_tokens_own_limit_claims_never_widen_what_the_issuer_grants() {
    let i = issuer(json!({"max_size": 1000, "content_types": ["image/*"]}));
    let c = claims_with(
        json!({"prefix": "", "key": "someone/else.txt", "max_size": 1e12, "content_types": ["*/*"], "scope": "read"}),
    );
    let g = claims::grant(&i, &c, NOW_MS).unwrap();
    assert_eq!((g.prefix.as_str(), g.exact_key.as_deref(), g.max_size), ("user-1/", None, Some(1000)));
    assert_eq!(g.scopes, Scopes::ALL, "the gateway's own scope claim is not read from an IdP token");
    assert_eq!(g.content_types.unwrap().len(), 1);
}

proptest::proptest! {
    /// Whatever shape the permissions claim takes, the scopes are exactly the union of the mapped
    /// values present; and a granted prefix is always the template around a subject that
    /// cannot climb out of it.
    #[test]
    fn the_claims_mapping_grants_exactly_the_mapped_scopes_under_the_template(
        present in proptest::collection::vec(0usize..6, 0..6),
        shape in 0u8..3,
        subject in "[a-z0-9./|@-]{0,12}",
    ) {
        let values = ["files:read", "files:write", "files:delete", "noise", "openid", "files:list"];
        let grants = [Some("read"), Some("write"), Some("delete"), None, None, Some("list")];
        let map: serde_json::Map<String, Value> = values.iter().zip(grants).filter_map(|(v, g)| g.map(|g| (v.to_string(), json!(g)))).collect();
        let i = issuer(json!({"prefix": "u/{sub}/x/", "scopes": {"claim": "perm", "map": map}}));
        let chosen: Vec<&str> = present.iter().map(|n| values[*n]).collect();
        let claim = match shape {
            0 => json!(chosen),
            1 => json!(chosen.join(" ")),
            _ => json!(chosen.join(",")),
        };
        let result = claims::grant(&i, &claims_with(json!({"perm": claim, "sub": subject})), NOW_MS);
        if subject.is_empty() || subject.contains('/') || subject.contains("..") {
            proptest::prop_assert!(result.is_err());
        } else {
            let g = result.unwrap();
            let expected = present.iter().filter_map(|n| grants[*n]).fold(Scopes::NONE, |acc, s| acc.union(Scopes::parse(s)));
            proptest::prop_assert_eq!(g.scopes, expected);
            proptest::prop_assert_eq!(g.prefix, format!("u/{subject}/x/"));
        }
    }
}
