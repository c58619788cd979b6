//! Storage quotas: every kind of write reserves what it adds before its body is read and is
//! refused `403 quota_exceeded` (usage and limit in the problem document) when that would not
//! fit; overwrites count the difference, deletes and aborts free space; the limit comes from the
//! token's `quota` claim, else the default; `GET /usage` tells a caller where it stands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::Method;
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

fn world(vars: &[(&str, &str)]) -> World {
    let mut all = vec![("URL_SIGNING_SECRET", "url-signing-secret-0123456789-abcdefgh")];
    all.extend_from_slice(vars);
    World::new(config_with(&all))
}

fn alice() -> String {
    token("alice", json!({}))
}

fn put_as(w: &World, token: &str, key: &str, bytes: &[u8]) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::put(&format!("/files/{key}"), bytes).bearer(token))
}

fn usage(w: &World, token: &str) -> Value {
    let h = w.send(Req::get("/usage").bearer(token));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    json_body(&h.reply)
}

#[test]
fn a_put_past_the_quota_is_refused_before_its_body_with_the_usage_and_limit() {
    let w = world(&[("QUOTA_BYTES", "10")]);
    assert_eq!(put_as(&w, &alice(), "alice/a", b"123456").reply.status, 201);
    let (h, read) = w.send_unread(Req::put("/files/alice/b", b"12345").bearer(&alice()));
    assert_problem(&h, 403, "quota_exceeded");
    assert!(!read, "a refused upload read its body");
    let problem = json_body(&h.reply);
    assert_eq!(problem["limit"], json!({"bytes": 10, "objects": null}));
    assert_eq!(problem["usage"]["bytes"], 6);
    assert!(problem["detail"].as_str().unwrap().contains("10 bytes"), "{problem}");
    assert!(w.object("alice/b").is_none());
    // What fits still goes, exactly to the limit; no reservation is left behind either way.
    assert_eq!(put_as(&w, &alice(), "alice/c", b"1234").reply.status, 201);
    assert!(w.meta.quota_reservations.borrow().is_empty(), "{:?}", w.meta.quota_reservations.borrow());
    let u = usage(&w, &alice());
    assert_eq!(
        (u["bytes"].as_u64(), u["objects"].as_u64(), u["remaining_bytes"].as_u64()),
        (Some(10), Some(2), Some(0))
    );
    // Another owner has a quota of its own.
    assert_eq!(put_as(&w, &token("bob", json!({})), "bob/a", b"1234567890").reply.status, 201);
}

#[test]
fn overwrites_count_the_difference_and_deletes_free_space() {
    let w = world(&[("QUOTA_BYTES", "10")]);
    assert_eq!(put_as(&w, &alice(), "alice/a", b"12345678").reply.status, 201);
    // 8 → 10 bytes at the same key fits a limit of 10.
    assert_eq!(put_as(&w, &alice(), "alice/a", b"1234567890").reply.status, 201);
    assert_eq!(usage(&w, &alice())["bytes"], 10);
    assert_problem(&put_as(&w, &alice(), "alice/b", b"1"), 403, "quota_exceeded");
    assert_eq!(w.send(Req::delete("/files/alice/a").bearer(&alice())).reply.status, 204);
    assert_eq!(usage(&w, &alice())["bytes"], 0);
    assert_eq!(put_as(&w, &alice(), "alice/b", b"1234567890").reply.status, 201);
}

#[test]
fn an_object_quota_counts_objects_and_the_tokens_claim_overrides_the_default() {
    let w = world(&[("QUOTA_BYTES", "1000"), ("QUOTA_OBJECTS", "2")]);
    assert_eq!(put_as(&w, &alice(), "alice/1", b"x").reply.status, 201);
    assert_eq!(put_as(&w, &alice(), "alice/2", b"x").reply.status, 201);
    assert_problem(&put_as(&w, &alice(), "alice/3", b"x"), 403, "quota_exceeded");
    // Replacing one of them adds no object.
    assert_eq!(put_as(&w, &alice(), "alice/2", b"xy").reply.status, 201);
    // A self-minted token's `quota` claim is that owner's limit instead of the default.
    let roomy = token("alice", json!({"quota": {"bytes": 1000, "objects": 5}}));
    assert_eq!(put_as(&w, &roomy, "alice/3", b"x").reply.status, 201);
    assert_eq!(usage(&w, &roomy)["limit"], json!({"bytes": 1000, "objects": 5}));
    let tight = token("alice", json!({"quota": {"bytes": 3}}));
    assert_problem(&put_as(&w, &tight, "alice/4", b"x"), 403, "quota_exceeded");
    let malformed = token("alice", json!({"quota": {"bytes": "lots"}}));
    assert_problem(&put_as(&w, &malformed, "alice/4", b"x"), 401, "invalid_token");
}

#[test]
fn multipart_parts_are_reserved_one_by_one_and_an_abort_frees_them() {
    let w = world(&[("QUOTA_BYTES", &(6 * MIB).to_string())]);
    let start = |key: &str| {
        let h = w.send(Req::new(Method::POST, &format!("/files/{key}?uploads")).bearer(&alice()).body(b"{}"));
        assert_eq!(h.reply.status, 201, "{:?}", h.error);
        json_body(&h.reply)["upload_id"].as_str().unwrap().to_owned()
    };
    let part = |key: &str, id: &str, n: u16, size: usize| {
        Req::put(&format!("/files/{key}?uploadId={id}&partNumber={n}"), &vec![b'p'; size]).bearer(&alice())
    };
    let id = start("alice/mp");
    assert_eq!(w.send(part("alice/mp", &id, 1, 5 * MIB)).reply.status, 200);
    let (h, read) = w.send_unread(part("alice/mp", &id, 2, 2 * MIB));
    assert_problem(&h, 403, "quota_exceeded");
    assert!(!read);
    let u = usage(&w, &alice());
    assert_eq!((u["reserved_bytes"].as_u64(), u["reserved_objects"].as_u64()), (Some(5 * MIB as u64), Some(1)));
    assert_eq!(w.send(part("alice/mp", &id, 2, MIB)).reply.status, 200);
    let done = w.send(Req::new(Method::POST, &format!("/files/alice/mp?uploadId={id}")).bearer(&alice()).body(b"{}"));
    assert_eq!(done.reply.status, 201, "{:?}", done.error);
    let u = usage(&w, &alice());
    assert_eq!(
        (u["bytes"].as_u64(), u["reserved_bytes"].as_u64(), u["reserved_objects"].as_u64()),
        (Some(6 * MIB as u64), Some(0), Some(0))
    );
    // An aborted upload's parts and object no longer count.
    assert_eq!(w.send(Req::delete("/files/alice/mp").bearer(&alice())).reply.status, 204);
    let id = start("alice/mp2");
    assert_eq!(w.send(part("alice/mp2", &id, 1, 5 * MIB)).reply.status, 200);
    assert_eq!(w.send(Req::delete(&format!("/files/alice/mp2?uploadId={id}")).bearer(&alice())).reply.status, 204);
    let u = usage(&w, &alice());
    assert_eq!((u["reserved_bytes"].as_u64(), u["reserved_objects"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn tus_chunks_are_reserved_as_the_upload_grows() {
    let w = world(&[("QUOTA_BYTES", "10")]);
    let h = w.send(
        Req::new(Method::POST, "/tus/")
            .header("tus-resumable", "1.0.0")
            .bearer(&alice())
            .header("upload-defer-length", "1"),
    );
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let path = h.reply.header("Location").unwrap().trim_start_matches(ORIGIN).to_owned();
    let patch =
        |offset: usize, bytes: &[u8], length: Option<usize>| tus_patch_with(&path, &alice(), offset, bytes, length);
    assert_eq!(w.send(patch(0, b"123456", None)).reply.status, 204);
    let (h, read) = w.send_unread(patch(6, b"12345", None));
    assert_problem(&h, 403, "quota_exceeded");
    assert_eq!(h.reply.header("Tus-Resumable"), Some("1.0.0"));
    assert!(!read);
    // The refused chunk gave its lease back: the upload goes on from where it was.
    let h = w.send(patch(6, b"1234", Some(10)));
    assert_eq!(h.reply.status, 204, "{:?}", h.error);
    assert_eq!(usage(&w, &alice())["bytes"], 10);
}

#[test]
fn a_direct_upload_reserves_its_size_until_it_is_confirmed() {
    let mut vars = vec![("QUOTA_BYTES", "10")];
    vars.extend_from_slice(S3_VARS);
    let w = world(&vars);
    let presign = |key: &str, size: u64| {
        let body = json!({"key": key, "size": size, "content_type": "text/plain", "mode": "direct"}).to_string();
        w.send(Req::new(Method::POST, "/presign").bearer(&alice()).body(body.as_bytes()))
    };
    assert_eq!(presign("alice/d1", 8).reply.status, 200);
    assert_problem(&presign("alice/d2", 5), 403, "quota_exceeded");
    assert_eq!(usage(&w, &alice())["reserved_bytes"], 8);
}

#[test]
fn gateway_urls_and_forms_carry_the_asking_tokens_quota() {
    let w = world(&[]);
    let tight = token("alice", json!({"quota": {"bytes": 4}}));
    let h = w.send(Req::new(Method::POST, "/presign").bearer(&tight).body(br#"{"key": "alice/u.txt"}"#));
    let url = json_body(&h.reply)["url"].as_str().unwrap().trim_start_matches(ORIGIN).to_owned();
    assert!(url.contains("quota="), "{url}");
    let (h, read) = w.send_unread(Req::put(&url, b"12345").without("authorization"));
    assert_problem(&h, 403, "quota_exceeded");
    assert!(!read);
    let h =
        w.send(Req::new(Method::POST, "/presign").bearer(&tight).body(br#"{"mode": "form", "key": "alice/f.txt"}"#));
    assert_eq!(json_body(&h.reply)["fields"]["x-gateway-quota"], r#"{"bytes":4,"objects":null}"#);
}

#[test]
fn without_a_quota_nothing_is_reserved() {
    let w = world(&[]);
    assert_eq!(put_as(&w, &alice(), "alice/a", &vec![b'x'; 1000]).reply.status, 201);
    assert!(w.meta.quota_reservations.borrow().is_empty());
    let u = usage(&w, &alice());
    assert_eq!((u["bytes"].as_u64(), u["limit"].clone()), (Some(1000), json!({"bytes": null, "objects": null})));
    assert_eq!(u["remaining_bytes"], Value::Null);
}

#[test]
fn quota_settings_are_validated_naming_the_variable() {
    assert_names(&try_config(&[("JWT_SECRET", SECRET), ("QUOTA_BYTES", "ten")]).unwrap_err(), "QUOTA_BYTES");
    assert_names(&try_config(&[("JWT_SECRET", SECRET), ("QUOTA_OBJECTS", "-1")]).unwrap_err(), "QUOTA_OBJECTS");
    let c = try_config(&[("JWT_SECRET", SECRET), ("QUOTA_OBJECTS", "5")]).unwrap();
    assert_eq!(c.quota, Some(gateway_core::quota::Quota { bytes: None, objects: Some(5) }));
}

#[test]
fn an_issuers_quota_is_read_from_jwt_issuers() {
    let issuers = r#"[{"issuer": "https://idp.example.com/", "jwks_url": "https://idp.example.com/jwks", "quota": {"bytes": 5000}}]"#;
    let c = try_config(&[("JWT_ISSUERS", issuers)]).unwrap();
    assert_eq!(c.jwt.issuers[0].quota, Some(gateway_core::quota::Quota { bytes: Some(5000), objects: None }));
    let wrong = r#"[{"issuer": "https://idp.example.com/", "jwks_url": "https://idp.example.com/jwks", "quota": {"gigabytes": 5}}]"#;
    assert_names(&try_config(&[("JWT_ISSUERS", wrong)]).unwrap_err(), "JWT_ISSUERS");
}

#[test]
fn the_sweep_forgetting_an_expired_multipart_upload_frees_what_it_reserved() {
    let w = world(&[("QUOTA_OBJECTS", "1"), ("MULTIPART_TTL_SECONDS", "60")]);
    let h = w.send(Req::new(Method::POST, "/files/alice/mp?uploads").bearer(&alice()).body(b"{}"));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_problem(&put_as(&w, &alice(), "alice/other", b"x"), 403, "quota_exceeded");
    let later = NOW_MS + 61_000;
    let report = futures_executor::block_on(gateway_core::sweep::run(&w.store, &w.meta, later, 0));
    assert_eq!(report.multiparts_aborted, 1, "{:?}", report.problems);
    assert!(w.meta.quota_reservations.borrow().is_empty(), "{:?}", w.meta.quota_reservations.borrow());
    assert_eq!(w.send_at(later, Req::put("/files/alice/other", b"x").bearer(&alice())).reply.status, 201);
}

#[test]
fn a_multipart_start_the_store_refuses_releases_what_it_reserved() {
    let w = world(&[("QUOTA_OBJECTS", "1")]);
    w.store.fail_multipart_starts.set(true);
    let h = w.send(Req::new(Method::POST, "/files/alice/mp?uploads").bearer(&alice()).body(b"{}"));
    assert_eq!(h.reply.status, 503, "{:?}", h.error);
    assert!(w.meta.quota_reservations.borrow().is_empty(), "{:?}", w.meta.quota_reservations.borrow());
    w.store.fail_multipart_starts.set(false);
    assert_eq!(put_as(&w, &alice(), "alice/one", b"x").reply.status, 201);
}
