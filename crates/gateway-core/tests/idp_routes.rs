//! Identity providers' tokens through `Gateway::handle`: the same authentication on every
//! route, the token read from an issuer's own header, CORS allowing that header, and
//! self-minted tokens unchanged beside them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use common::*;
use http::Method;
use serde_json::{json, Value};

const ISS: &str = "https://team.cloudflareaccess.com";
const JWKS: &str = "https://team.cloudflareaccess.com/cdn-cgi/access/certs";

fn ed() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]))
}

fn world() -> World {
    let issuers = json!([{"issuer": ISS, "jwks_url": JWKS, "audience": "aud-tag", "subject": "email", "header": "Cf-Access-Jwt-Assertion"}]);
    let w =
        World::new(config_with(&[("JWT_ISSUERS", &issuers.to_string()), ("CORS_ORIGINS", "https://app.example.com")]));
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": B64URL.encode(ed().pk.as_ref())});
    w.idp_fetcher.serve(JWKS, &json!({"keys": [jwk], "public_cert": {"kid": "k1"}}).to_string(), None);
    w
}

fn access_token(claims: Value) -> String {
    let mut c = json!({"iss": ISS, "aud": ["aud-tag"], "email": "dev@example.com", "exp": NOW_MS / 1000 + 600});
    c.as_object_mut().unwrap().extend(claims.as_object().unwrap().clone());
    let input =
        format!("{}.{}", B64URL.encode(json!({"alg": "EdDSA", "kid": "k1"}).to_string()), B64URL.encode(c.to_string()));
    let sig = ed().sk.sign(input.as_bytes(), None);
    format!("{input}.{}", B64URL.encode(sig.as_ref()))
}

#[test]
fn every_route_takes_the_issuers_token_from_its_own_header() {
    let w = world();
    let token = access_token(json!({}));
    let with = |req: Req| req.without("authorization").header("cf-access-jwt-assertion", &token);
    let put = w.send(with(Req::put("/files/dev@example.com/a.txt", b"hello")));
    assert_eq!(put.reply.status, 201, "{:?}", put.error);
    assert_eq!(w.send(with(Req::get("/files/dev@example.com/a.txt"))).reply.status, 200);
    assert_eq!(w.send(with(Req::get("/files"))).reply.status, 200);
    let start = w.send(with(Req::new(Method::POST, "/files/dev@example.com/big.bin?uploads")));
    assert_eq!(start.reply.status, 201, "{:?}", start.error);
    let presign = w.send(with(Req::new(Method::POST, "/presign").body(br#"{"filename":"a.txt"}"#)));
    assert_ne!(presign.reply.status, 401, "{:?}", presign.error);
    assert_eq!(w.send(with(Req::delete("/files/dev@example.com/a.txt"))).reply.status, 204);
    assert_problem(&w.send(with(Req::put("/files/other@example.com/a.txt", b"x"))), 403, "forbidden");
    // The same token as a bearer token works as well.
    let bearer = Req::put("/files/dev@example.com/b.txt", b"hi").bearer(&token);
    assert_eq!(w.send(bearer).reply.status, 201);
    assert_eq!(w.idp_fetcher.count(JWKS), 1, "one fetch for all of them");
}

#[test]
fn a_token_for_another_audience_or_from_no_configured_issuer_is_refused() {
    let w = world();
    let wrong = access_token(json!({"aud": "other-app"}));
    assert_problem(&w.send(Req::put("/files/dev@example.com/a.txt", b"x").bearer(&wrong)), 401, "invalid_token");
    let none = Req::put("/files/dev@example.com/a.txt", b"x").without("authorization");
    assert_problem(&w.send(none), 401, "missing_token");
}

#[test]
fn self_minted_tokens_work_unchanged_beside_the_issuers() {
    let w = world();
    let h = w.send(Req::put("/files/alice/a.txt", b"hello").bearer(&token("alice", json!({}))));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.idp_fetcher.count(JWKS), 0);
}

#[test]
fn cors_allows_the_header_an_issuer_sends_its_token_in() {
    let w = world();
    let h = w.send(
        Req::new(Method::OPTIONS, "/files/dev@example.com/a.txt")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "PUT"),
    );
    let allowed = h.reply.header("Access-Control-Allow-Headers").unwrap();
    assert!(allowed.contains("Authorization") && allowed.contains("cf-access-jwt-assertion"), "{allowed}");
}
