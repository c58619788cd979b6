//! Cross-cutting behaviour of `Gateway::handle`: health, routing errors before authentication,
//! the bearer-token header, problem replies (`application/problem+json`, `Allow`,
//! `WWW-Authenticate`, no leaked internals) and CORS decoration of every reply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::cors::{ALLOW_HEADERS, ALLOW_METHODS, EXPOSE_HEADERS};
use gateway_core::gateway::bearer;
use gateway_core::router::OBJECT_METHODS;
use http::Method;
use serde_json::json;

#[test]
fn health_is_200_without_a_token() {
    let w = World::default_config();
    let h = w.send(Req::get("/healthz"));
    assert_eq!(h.reply.status, 200);
    assert_eq!(json_body(&h.reply), json!({"status": "ok"}));
    assert!(h.error.is_none());
}

#[test]
fn unknown_route_is_404_problem_json_before_authentication() {
    let w = World::default_config();
    let h = w.send(Req::get("/admin"));
    assert_problem(&h, 404, "not_found");
    let body = json_body(&h.reply);
    assert_eq!(body["title"], "Not found");
    assert!(body["type"].as_str().unwrap().ends_with("/not-found"));
    assert_eq!(h.reply.header("WWW-Authenticate"), None);
}

#[test]
fn wrong_method_is_405_with_allow_for_that_path() {
    let w = World::default_config();
    let cases = [
        (Method::PATCH, "/files/alice/a.txt", OBJECT_METHODS),
        (Method::PUT, "/files", "GET, OPTIONS"),
        (Method::DELETE, "/files/", "GET, OPTIONS"),
        (Method::POST, "/healthz", "GET, HEAD"),
    ];
    for (m, path, allow) in cases {
        let h = w.send(Req::new(m.clone(), path).bearer(&token("alice", json!({}))));
        assert_problem(&h, 405, "method_not_allowed");
        assert_eq!(h.reply.header("Allow"), Some(allow), "{m} {path}");
    }
}

#[test]
fn invalid_key_is_400_before_authentication() {
    let w = World::default_config();
    let h = w.send(Req::get("/files/alice/../bob/secret"));
    assert_problem(&h, 400, "invalid_key");
}

#[test]
fn bearer_scheme_is_case_insensitive_and_token_is_trimmed() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    let t = token("alice", json!({}));
    for value in [format!("Bearer {t}"), format!("bearer {t}"), format!("BEARER  {t} ")] {
        let h = w.send(Req::get("/files/alice/a.txt").header("authorization", &value));
        assert_eq!(h.reply.status, 200, "{value}: {:?}", h.error);
    }
}

#[test]
fn missing_or_non_bearer_authorization_is_401_missing_token() {
    let w = World::default_config();
    let t = token("alice", json!({}));
    let cases = [
        None,
        Some("Basic YWxpY2U6cHc=".to_owned()),
        Some("Bearer".to_owned()),
        Some("Bearer   ".to_owned()),
        Some(t.clone()),
    ];
    for value in cases {
        let mut req = Req::get("/files/alice/a.txt");
        if let Some(v) = &value {
            req = req.header("authorization", v);
        }
        let h = w.send(req);
        assert_problem(&h, 401, "missing_token");
        assert_eq!(h.reply.header("WWW-Authenticate"), Some("Bearer"), "{value:?}");
    }
}

#[test]
fn bearer_extracts_the_token() {
    let req = Req::get("/files").bearer("abc.def.ghi");
    assert_eq!(bearer(&req.head).unwrap(), "abc.def.ghi");
}

#[test]
fn invalid_and_expired_tokens_are_401_with_www_authenticate() {
    let w = World::default_config();
    let forged = hs256_with(b"some-other-secret-that-is-long-enough!!", &claims_for("alice", json!({})));
    let expired = hs256(&json!({"sub": "alice", "exp": NOW_S - 120}));
    for (t, code) in
        [(forged.as_str(), "invalid_token"), (expired.as_str(), "token_expired"), ("garbage", "invalid_token")]
    {
        let h = w.send(Req::get("/files").bearer(t));
        assert_problem(&h, 401, code);
        assert_eq!(h.reply.header("WWW-Authenticate"), Some("Bearer"));
    }
}

#[test]
fn forbidden_is_403_without_www_authenticate() {
    let w = World::default_config();
    let h = w.send(Req::get("/files/bob/x").bearer(&token("alice", json!({}))));
    assert_problem(&h, 403, "forbidden");
    assert_eq!(h.reply.header("WWW-Authenticate"), None);
}

#[test]
fn server_side_failures_keep_internal_detail_out_of_the_reply() {
    let w = World::default_config();
    w.store.fail_puts.set(true);
    let h = w.send(Req::put("/files/alice/a.txt", b"abc").bearer(&token("alice", json!({}))));
    assert_problem(&h, 502, "storage_error");
    let text = json_body(&h.reply).to_string();
    assert!(!text.contains("injected"), "{text}");
    assert_eq!(h.error.as_ref().unwrap().internal.as_deref(), Some("injected"));
}

#[test]
fn every_problem_reply_is_problem_json_with_matching_status() {
    let w = World::new(config_with(&[("MAX_UPLOAD_BYTES", "3"), ("ALLOWED_CONTENT_TYPES", "text/*")]));
    let t = token("alice", json!({}));
    let cases = [
        (Req::get("/nope"), 404),
        (Req::new(Method::PATCH, "/files/alice/a"), 405),
        (Req::new(Method::POST, "/files/alice/a").bearer(&t), 400),
        (Req::get("/files/a%zz"), 400),
        (Req::get("/files/alice/a"), 401),
        (Req::get("/files/bob/a").bearer(&t), 403),
        (Req::new(Method::PUT, "/files/alice/a").bearer(&t), 411),
        (Req::put("/files/alice/a", b"abcd").bearer(&t), 413),
        (Req::put("/files/alice/a", b"ab").bearer(&t).header("content-type", "image/png"), 415),
        (Req::get("/files/alice/missing").bearer(&t), 404),
    ];
    for (req, status) in cases {
        let label = format!("{} {}", req.head.method, req.head.path);
        let h = w.send(req);
        assert_eq!(h.reply.status, status, "{label}");
        assert_eq!(h.reply.header("Content-Type"), Some("application/problem+json"), "{label}");
        let body = json_body(&h.reply);
        assert_eq!(body["status"], status, "{label}");
        for member in ["type", "title", "detail", "code"] {
            assert!(body[member].is_string(), "{label}: {member} missing in {body}");
        }
        assert_eq!(h.error.as_ref().unwrap().status(), status);
    }
}

// ------------------------------------------------------------ CORS

fn cors_world() -> World {
    World::new(config_with(&[("CORS_ORIGINS", "https://app.example.com")]))
}

#[test]
fn allowed_origin_gets_cors_headers_on_success() {
    let w = cors_world();
    let h = w.send(Req::get("/healthz").header("origin", "https://app.example.com"));
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), Some("https://app.example.com"));
    assert_eq!(h.reply.header("Access-Control-Expose-Headers"), Some(EXPOSE_HEADERS));
    assert_eq!(h.reply.header("Vary"), Some("Origin"));
    assert!(
        EXPOSE_HEADERS.contains("ETag")
            && EXPOSE_HEADERS.contains("Location")
            && EXPOSE_HEADERS.contains("Content-Range")
    );
}

#[test]
fn allowed_origin_gets_cors_headers_on_problem_replies_too() {
    let w = cors_world();
    let h = w.send(Req::get("/files").header("origin", "https://app.example.com"));
    assert_problem(&h, 401, "missing_token");
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), Some("https://app.example.com"));
}

#[test]
fn other_origin_gets_vary_but_no_allow_origin() {
    let w = cors_world();
    let h = w.send(Req::get("/healthz").header("origin", "https://evil.example.com"));
    assert_eq!(h.reply.status, 200);
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), None);
    assert_eq!(h.reply.header("Vary"), Some("Origin"));
}

#[test]
fn preflight_for_an_allowed_origin_is_204_with_methods_and_headers() {
    let w = cors_world();
    let h = w.send(
        Req::new(Method::OPTIONS, "/files/alice/a.txt")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "PUT"),
    );
    assert_eq!(h.reply.status, 204);
    assert!(is_empty_body(&h.reply));
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), Some("https://app.example.com"));
    assert_eq!(h.reply.header("Access-Control-Allow-Methods"), Some(ALLOW_METHODS));
    assert_eq!(h.reply.header("Access-Control-Allow-Headers"), Some(ALLOW_HEADERS));
    assert_eq!(h.reply.header("Access-Control-Max-Age"), Some("86400"));
    for needed in ["Authorization", "Content-Type", "Range", "If-None-Match", "Content-MD5"] {
        assert!(ALLOW_HEADERS.contains(needed), "{needed}");
    }
}

#[test]
fn presign_has_a_preflight_and_its_answers_carry_cors_headers() {
    let w = World::new(config_with(&[
        ("CORS_ORIGINS", "https://app.example.com"),
        ("URL_SIGNING_SECRET", "url-signing-secret-0123456789-abcdefgh"),
    ]));
    let pre = w.send(
        Req::new(Method::OPTIONS, "/presign")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "POST"),
    );
    assert_eq!(pre.reply.status, 204);
    assert!(pre.reply.header("Access-Control-Allow-Methods").unwrap().contains("POST"));
    let h = w.send(
        Req::new(Method::POST, "/presign")
            .bearer(&token("alice", json!({})))
            .header("origin", "https://app.example.com")
            .body(b"{}"),
    );
    assert_eq!(h.reply.status, 200);
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), Some("https://app.example.com"));
    assert!(h.reply.header("Access-Control-Expose-Headers").unwrap().contains("ETag"));
}

#[test]
fn preflight_needs_no_token() {
    let w = cors_world();
    let h = w.send(Req::new(Method::OPTIONS, "/files").header("origin", "https://app.example.com"));
    assert_eq!(h.reply.status, 204);
    assert!(h.error.is_none());
}

#[test]
fn preflight_for_another_origin_grants_nothing() {
    let w = cors_world();
    let h = w.send(Req::new(Method::OPTIONS, "/files/alice/a").header("origin", "https://evil.example.com"));
    assert_eq!(h.reply.status, 204);
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), None);
    assert_eq!(h.reply.header("Access-Control-Allow-Methods"), None);
}

#[test]
fn wildcard_cors_answers_star() {
    let w = World::new(config_with(&[("CORS_ORIGINS", "*")]));
    let h = w.send(Req::get("/healthz").header("origin", "https://anything.example"));
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn without_cors_configuration_no_cors_headers_are_sent() {
    let w = World::default_config();
    let h = w.send(Req::get("/healthz").header("origin", "https://app.example.com"));
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), None);
    assert_eq!(h.reply.header("Vary"), None);
    let pre = w.send(Req::new(Method::OPTIONS, "/files").header("origin", "https://app.example.com"));
    assert_eq!(pre.reply.status, 204);
    assert_eq!(pre.reply.header("Access-Control-Allow-Methods"), None);
}

#[test]
fn a_body_the_edge_refused_to_read_is_a_problem_with_cors_headers() {
    let w = cors_world();
    let req = Req::new(Method::POST, "/presign")
        .header("origin", "https://app.example.com")
        .header("content-length", "2000000")
        .body(b"{}");
    let h = w.send(req);
    assert_problem(&h, 413, "payload_too_large");
    assert_eq!(h.reply.header("Access-Control-Allow-Origin"), Some("https://app.example.com"));
}

#[test]
fn small_bodies_are_read_whole_only_when_they_declare_a_length_within_the_limit() {
    use gateway_core::http::{body_plan, whole_body, BodyPlan, Input, SMALL_BODY_LIMIT};
    let post = |len: Option<&str>| {
        let req = Req::new(Method::POST, "/presign");
        match len {
            Some(n) => req.header("content-length", n),
            None => req,
        }
    };
    let refused = |plan: BodyPlan| match plan {
        BodyPlan::Refuse(e) => Some(e.kind.code()),
        _ => None,
    };
    let over = (SMALL_BODY_LIMIT + 1).to_string();
    assert_eq!(refused(body_plan(&post(Some(&over)).head, true)), Some("payload_too_large"));
    assert_eq!(refused(body_plan(&post(None).head, true)), Some("length_required"));
    assert!(matches!(body_plan(&post(None).head, false), BodyPlan::Read { .. }), "no body, nothing to measure");
    assert!(matches!(body_plan(&post(Some("2")).head, true), BodyPlan::Read { cap } if cap as u64 == SMALL_BODY_LIMIT));
    // A body that declared little but sent more is refused on what arrived.
    assert!(matches!(whole_body::<()>(vec![0; 4], true), Input::Refused(e) if e.kind.code() == "payload_too_large"));
    // Uploads stream, whatever they declare.
    let put = Req::put("/files/alice/a", b"x").header("content-length", &over);
    assert!(matches!(body_plan(&put.head, true), BodyPlan::Stream));
}
