//! Presigned URLs: gateway-URL signatures (tampering, expiry edges, method), `POST /presign`
//! in both modes, single use, the confirm step of direct uploads, redirects and download
//! names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::error::ErrorKind;
use gateway_core::key::ObjectKey;
use gateway_core::presign::capability::{self, Capability};
use gateway_core::presign::disposition::{attachment, clean_filename};
use gateway_core::secret::Secret;
use gateway_core::store::PutObject;
use gateway_core::sweep;
use http::Method;
use serde_json::{json, Value};

const URL_SECRET: &str = "url-signing-secret-0123456789-abcdefgh";

fn gateway_world() -> World {
    World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET)]))
}

fn s3_world() -> World {
    World::new(config_with(S3_VARS))
}

fn alice() -> String {
    token("alice", json!({}))
}

fn presign(w: &World, body: Value) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::new(Method::POST, "/presign").bearer(&alice()).body(body.to_string().as_bytes()))
}

fn presigned(w: &World, body: Value) -> Value {
    let h = presign(w, body);
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    json_body(&h.reply)
}

/// The path and query of a gateway URL, as the gateway receives it.
fn target(url: &str) -> String {
    url.strip_prefix(ORIGIN).expect("a gateway URL").to_owned()
}

fn cap(expires: i64) -> Capability {
    Capability {
        method: "PUT".into(),
        key: "alice/a.txt".into(),
        expires,
        owner: "alice".into(),
        max_size: Some(100),
        content_type: Some("text/plain".into()),
        nonce: "n-1".into(),
        download: None,
        part: None,
        upload: None,
        s3: false,
        direct: false,
        scan: None,
        metadata: None,
        quota: None,
    }
}

fn verify_at(query: &str, method: Method, key: &str, now_ms: i64) -> Result<Capability, ErrorKind> {
    let req = Req::new(method, &format!("/files/{key}?{query}"));
    let key = ObjectKey::new(key.to_owned()).unwrap();
    capability::verify(&Secret::new(URL_SECRET), &req.head, &key, now_ms).map_err(|e| e.kind)
}

#[test]
fn a_gateway_url_verifies_until_the_second_it_expires() {
    let expires = NOW_S + 60;
    let query = capability::sign(&Secret::new(URL_SECRET), &cap(expires)).unwrap();
    assert_eq!(verify_at(&query, Method::PUT, "alice/a.txt", NOW_MS).unwrap(), cap(expires));
    assert!(verify_at(&query, Method::PUT, "alice/a.txt", expires * 1000 - 1).is_ok());
    assert_eq!(verify_at(&query, Method::PUT, "alice/a.txt", expires * 1000), Err(ErrorKind::UrlExpired));
    assert_eq!(verify_at(&query, Method::PUT, "alice/a.txt", expires * 1000 + 1), Err(ErrorKind::UrlExpired));
}

#[test]
fn changing_any_parameter_or_the_key_breaks_the_signature() {
    let query = capability::sign(&Secret::new(URL_SECRET), &cap(NOW_S + 60)).unwrap();
    let swaps = [
        ("max_size=100", "max_size=1000"),
        ("content_type=text%2Fplain", "content_type=text%2Fhtml"),
        ("owner=alice", "owner=bob"),
        ("nonce=n-1", "nonce=n-2"),
        ("method=PUT", "method=GET"),
    ];
    for (from, to) in swaps {
        assert!(query.contains(from), "{from} in {query}");
        let tampered = query.replace(from, to);
        assert_eq!(
            verify_at(&tampered, Method::PUT, "alice/a.txt", NOW_MS).err(),
            Some(ErrorKind::InvalidSignature),
            "{to}"
        );
    }
    let later = query.replace(&format!("expires={}", NOW_S + 60), &format!("expires={}", NOW_S + 6000));
    assert_eq!(verify_at(&later, Method::PUT, "alice/a.txt", NOW_MS).err(), Some(ErrorKind::InvalidSignature));
    assert_eq!(verify_at(&query, Method::PUT, "alice/b.txt", NOW_MS).err(), Some(ErrorKind::InvalidSignature));
    let dropped = query.replace("&max_size=100", "");
    assert_eq!(verify_at(&dropped, Method::PUT, "alice/a.txt", NOW_MS).err(), Some(ErrorKind::InvalidSignature));
}

#[test]
fn a_signature_differing_in_its_first_or_last_byte_or_length_is_refused() {
    let query = capability::sign(&Secret::new(URL_SECRET), &cap(NOW_S + 60)).unwrap();
    let (rest, sig) = query.rsplit_once("signature=").unwrap();
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };
    for bad in
        [flip(sig, 0), flip(sig, sig.len() - 1), sig[..sig.len() - 2].to_owned(), format!("{sig}00"), "zz".into()]
    {
        let q = format!("{rest}signature={bad}");
        assert_eq!(verify_at(&q, Method::PUT, "alice/a.txt", NOW_MS).err(), Some(ErrorKind::InvalidSignature), "{bad}");
    }
    // Another secret's signature over the same parameters.
    let other = capability::sign(&Secret::new("another-secret-0123456789-0123456789"), &cap(NOW_S + 60)).unwrap();
    assert_eq!(verify_at(&other, Method::PUT, "alice/a.txt", NOW_MS).err(), Some(ErrorKind::InvalidSignature));
}

#[test]
fn a_put_url_does_not_serve_get_and_a_get_url_serves_head() {
    let query = capability::sign(&Secret::new(URL_SECRET), &cap(NOW_S + 60)).unwrap();
    assert_eq!(verify_at(&query, Method::GET, "alice/a.txt", NOW_MS).err(), Some(ErrorKind::Forbidden));
    let get = Capability { method: "GET".into(), max_size: None, content_type: None, ..cap(NOW_S + 60) };
    let query = capability::sign(&Secret::new(URL_SECRET), &get).unwrap();
    assert!(verify_at(&query, Method::HEAD, "alice/a.txt", NOW_MS).is_ok());
    assert_eq!(verify_at(&query, Method::PUT, "alice/a.txt", NOW_MS).err(), Some(ErrorKind::Forbidden));
}

#[test]
fn presign_generates_a_key_under_the_prefix_with_the_files_extension() {
    let w = gateway_world();
    let a = presigned(&w, json!({"method": "PUT", "filename": "Holiday Photo.JPG", "content_type": "image/jpeg"}));
    let key = a["key"].as_str().unwrap();
    assert!(key.starts_with("alice/") && key.ends_with(".jpg"), "{key}");
    assert_eq!(a["mode"], "gateway", "the default on the R2 binding");
    assert_eq!(a["method"], "PUT");
    assert_eq!(a["headers"], json!({"content-type": "image/jpeg"}));
    assert_eq!(a["expires_at"], gateway_core::time::rfc3339(NOW_MS + 300_000));
    assert!(a["url"].as_str().unwrap().starts_with(&format!("{ORIGIN}/files/alice/")));
    let b = presigned(&w, json!({"filename": "archive.tar.gz"}));
    assert!(b["key"].as_str().unwrap().ends_with(".gz"));
    assert_ne!(a["key"], b["key"]);
    let odd = presigned(&w, json!({"filename": "no-extension"}));
    assert!(!odd["key"].as_str().unwrap().contains('.'));
}

#[test]
fn presign_refuses_what_the_token_does_not_allow() {
    let w = gateway_world();
    assert_problem(&presign(&w, json!({"key": "bob/x.txt"})), 403, "forbidden");
    let reader = token("alice", json!({"scope": "read"}));
    let h = w.send(Req::new(Method::POST, "/presign").bearer(&reader).body(br#"{"method":"PUT"}"#));
    assert_problem(&h, 403, "forbidden");
    assert_problem(&presign(&w, json!({"content_type": "image/*"})), 415, "unsupported_media_type");
    assert_problem(&presign(&w, json!({"size": 104_857_601u64})), 413, "payload_too_large");
    assert_problem(&presign(&w, json!({"method": "GET"})), 400, "bad_request");
    assert_problem(&presign(&w, json!({"method": "DELETE", "key": "alice/a"})), 400, "bad_request");
    assert_problem(&presign(&w, json!({"expires_in": 0})), 400, "bad_request");
    assert_problem(&presign(&w, json!({"mode": "direct"})), 400, "bad_request");
    assert_problem(&presign(&w, json!({"nonsense": 1})), 400, "bad_request");
    let no_secret = World::default_config();
    assert_problem(&presign(&no_secret, json!({})), 500, "config_error");
    assert_problem(&w.send(Req::new(Method::POST, "/presign").body(b"{}")), 401, "missing_token");
}

#[test]
fn a_url_never_outlives_the_token_that_asked_for_it() {
    let w = World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET), ("PRESIGN_MAX_TTL_SECONDS", "604800")]));
    // The test tokens expire an hour after NOW.
    let a = presigned(&w, json!({"expires_in": 86_400}));
    assert_eq!(a["expires_at"], gateway_core::time::rfc3339(NOW_MS + 3_600_000));
    w.upload("alice", "alice/r.txt", "text/plain", b"x");
    let h = w.send(Req::get("/files/alice/r.txt?redirect=1").bearer(&token("alice", json!({"exp": NOW_S + 20}))));
    assert!(h.reply.header("Location").unwrap().contains(&format!("expires={}", NOW_S + 20)));
}

#[test]
fn expires_in_is_capped_by_the_configured_maximum() {
    let w = World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET), ("PRESIGN_MAX_TTL_SECONDS", "600")]));
    let a = presigned(&w, json!({"expires_in": 86_400}));
    assert_eq!(a["expires_at"], gateway_core::time::rfc3339(NOW_MS + 600_000));
    let b = presigned(&w, json!({"expires_in": 30}));
    assert_eq!(b["expires_at"], gateway_core::time::rfc3339(NOW_MS + 30_000));
}

#[test]
fn a_gateway_put_url_uploads_once_like_a_token_would() {
    let w = gateway_world();
    let a = presigned(&w, json!({"key": "alice/doc.txt", "content_type": "text/plain", "size": 5}));
    let url = target(a["url"].as_str().unwrap());
    let put = |body: &[u8], ct: &str| w.send(Req::put(&url, body).header("content-type", ct));
    // Refused before the URL is spent: a wrong type, a body over the signed size.
    assert_problem(&put(b"hello", "text/html"), 415, "unsupported_media_type");
    assert_problem(&put(b"hello!", "text/plain"), 413, "payload_too_large");
    let h = put(b"hello", "text/plain");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert!(h.followup.is_some());
    let row = w.row("alice/doc.txt").unwrap();
    assert_eq!((row.owner.as_str(), row.size), ("alice", 5));
    assert_problem(&put(b"again", "text/plain"), 410, "url_already_used");
    assert_eq!(w.object("alice/doc.txt").unwrap(), b"hello");
}

#[test]
fn a_gateway_url_does_not_work_for_another_key_or_after_expiry() {
    let w = gateway_world();
    let a = presigned(&w, json!({"key": "alice/doc.txt", "expires_in": 60}));
    let url = target(a["url"].as_str().unwrap());
    let other = url.replace("/files/alice/doc.txt", "/files/alice/other.txt");
    assert_problem(&w.send(Req::put(&other, b"x")), 403, "invalid_signature");
    assert_problem(&w.send_at(NOW_MS + 60_000, Req::put(&url, b"x")), 403, "url_expired");
    assert!(w.object("alice/other.txt").is_none() && w.object("alice/doc.txt").is_none());
}

#[test]
fn signed_urls_are_refused_when_no_secret_is_configured() {
    let w = gateway_world();
    let url = target(presigned(&w, json!({"key": "alice/doc.txt"}))["url"].as_str().unwrap());
    let plain = World::default_config();
    assert_problem(&plain.send(Req::put(&url, b"x")), 403, "invalid_signature");
}

#[test]
fn a_get_url_downloads_with_the_signed_file_name() {
    let w = gateway_world();
    w.upload("alice", "alice/r.pdf", "application/pdf", b"%PDF-1.7");
    let a = presigned(&w, json!({"method": "GET", "key": "alice/r.pdf", "filename": "Report \"Q3\" é.pdf"}));
    let url = target(a["url"].as_str().unwrap());
    let h = w.send(Req::get(&url));
    assert_eq!(h.reply.status, 200);
    assert_eq!(stream_body(&h.reply), b"%PDF-1.7");
    assert_eq!(
        h.reply.header("Content-Disposition").unwrap(),
        "attachment; filename=\"Report _Q3_ _.pdf\"; filename*=UTF-8''Report%20%22Q3%22%20%C3%A9.pdf"
    );
    // GET URLs are not single-use: a resumed or repeated download works.
    assert_eq!(w.send(Req::get(&url).header("range", "bytes=0-3")).reply.status, 206);
    let renamed = url.replace("download=", "download=x");
    assert_problem(&w.send(Req::get(&renamed)), 403, "invalid_signature");
}

#[test]
fn redirect_answers_302_to_a_short_lived_url_that_downloads() {
    let w = gateway_world();
    w.upload("alice", "alice/r.txt", "text/plain", b"redirected");
    let h = w.send(Req::get("/files/alice/r.txt?redirect=1&download=r.txt").bearer(&alice()));
    assert_eq!(h.reply.status, 302);
    assert_eq!(h.reply.header("Cache-Control"), Some("no-store"));
    let url = target(h.reply.header("Location").unwrap());
    let got = w.send(Req::get(&url));
    assert_eq!(stream_body(&got.reply), b"redirected");
    assert!(got.reply.header("Content-Disposition").unwrap().starts_with("attachment; filename=\"r.txt\""));
    let bob = token("bob", json!({}));
    assert_problem(&w.send(Req::get("/files/alice/r.txt?redirect=1").bearer(&bob)), 403, "forbidden");
}

#[test]
fn a_direct_put_url_is_a_sigv4_url_binding_type_and_length() {
    let w = s3_world();
    let a = presigned(&w, json!({"key": "alice/v.mp4", "content_type": "video/mp4", "size": 1234}));
    assert_eq!(a["mode"], "direct", "the default on S3");
    let url = a["url"].as_str().unwrap();
    // The URL writes the upload's own stored name: it can never replace another version.
    let p = w.meta.presigned.borrow().values().next().cloned().unwrap();
    assert!(p.storage_key.starts_with("alice/v.mp4~") && p.storage_key.len() == "alice/v.mp4~".len() + 32);
    assert!(url.starts_with(&format!("http://127.0.0.1:9000/uploads/{}?", p.storage_key)), "{url}");
    for part in [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Expires=300",
        "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match",
        "X-Amz-Signature=",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    assert_eq!(a["headers"], json!({"content-type": "video/mp4", "content-length": "1234", "if-none-match": "*"}));
    assert_eq!((p.key.as_str(), p.size, p.content_type.as_str()), ("alice/v.mp4", Some(1234), "video/mp4"));
    let journal = w.meta.pending.borrow().get(&p.nonce).cloned().unwrap();
    assert_eq!(journal.storage_key, p.storage_key);
    let window = gateway_core::presign::confirm::CONFIRM_WINDOW_MS;
    assert!(journal.due_at > p.expires_at + window, "the sweep waits for the URL and the confirm window to close");
}

fn confirm(w: &World, key: &str) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::new(Method::POST, &format!("/files/{key}/confirm")).bearer(&alice()))
}

#[test]
fn confirm_records_a_direct_upload_that_matches_what_was_presigned() {
    let w = s3_world();
    presigned(&w, json!({"key": "alice/v.mp4", "content_type": "video/mp4", "size": 4}));
    assert_problem(&confirm(&w, "alice/v.mp4"), 400, "bad_request");
    let stored = direct_upload(&w, "alice/v.mp4", b"\0\0\0\x18", "video/mp4");
    let h = confirm(&w, "alice/v.mp4");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(json_body(&h.reply)["etag"], stored.etag);
    assert!(h.followup.is_some());
    assert_eq!(w.row("alice/v.mp4").unwrap().content_type, "video/mp4");
    assert!(w.meta.presigned.borrow().is_empty());
    // The URL's journal entry stays until it is due: the URL could store its name again.
    assert_eq!(w.meta.pending.borrow().len(), 1);
    assert_problem(&confirm(&w, "alice/v.mp4"), 404, "not_found");
}

#[test]
fn confirm_deletes_an_object_of_the_wrong_size_or_type() {
    let w = s3_world();
    presigned(&w, json!({"key": "alice/a.bin", "content_type": "image/png", "size": 4}));
    direct_upload(&w, "alice/a.bin", b"12345", "image/png");
    let h = confirm(&w, "alice/a.bin");
    assert_problem(&h, 400, "bad_request");
    assert!(h.error.unwrap().detail.contains("5 bytes, not the 4"));
    assert!(w.object("alice/a.bin").is_none() && w.row("alice/a.bin").is_none());

    presigned(&w, json!({"key": "alice/b.bin", "content_type": "image/png", "size": 6}));
    direct_upload(&w, "alice/b.bin", b"<html>", "text/html");
    assert_problem(&confirm(&w, "alice/b.bin"), 400, "bad_request");
    assert!(w.object("alice/b.bin").is_none());
}

#[test]
fn a_direct_upload_url_always_signs_a_length_within_the_tokens_limit() {
    let w = s3_world();
    let capped = token("alice", json!({"max_size": 1000}));
    let ask = |body: &[u8]| w.send(Req::new(Method::POST, "/presign").bearer(&capped).body(body));
    let h = ask(br#"{"key":"alice/c.bin"}"#);
    assert_problem(&h, 400, "bad_request");
    assert!(h.error.unwrap().detail.contains("size"));
    assert_problem(&ask(br#"{"key":"alice/c.bin","size":1001}"#), 413, "payload_too_large");
    let ok = ask(br#"{"key":"alice/c.bin","size":1000}"#);
    assert_eq!(ok.reply.status, 200);
    assert!(json_body(&ok.reply)["url"].as_str().unwrap().contains("content-length"));
}

#[test]
fn confirm_matches_the_object_against_any_url_still_open_for_the_key() {
    let w = s3_world();
    presigned(&w, json!({"key": "alice/two.txt", "content_type": "text/plain", "size": 3}));
    let later = Req::new(Method::POST, "/presign")
        .bearer(&alice())
        .body(br#"{"key":"alice/two.txt","content_type":"text/plain","size":9}"#);
    assert_eq!(w.send_at(NOW_MS + 1, later).reply.status, 200);
    // The object came through the first URL, not the newest.
    direct_upload(&w, "alice/two.txt", b"abc", "text/plain");
    assert_eq!(confirm(&w, "alice/two.txt").reply.status, 201);
}

#[test]
fn confirm_closes_half_an_hour_after_the_url_expired() {
    let w = s3_world();
    presigned(&w, json!({"key": "alice/late.txt", "content_type": "text/plain", "expires_in": 60, "size": 4}));
    direct_upload(&w, "alice/late.txt", b"late", "text/plain");
    let deadline = NOW_MS + 60_000 + gateway_core::presign::confirm::CONFIRM_WINDOW_MS;
    let long_lived = token("alice", json!({"exp": NOW_S + 7200}));
    let req = || Req::new(Method::POST, "/files/alice/late.txt/confirm").bearer(&long_lived);
    assert_problem(&w.send_at(deadline, req()), 404, "not_found");
    assert_eq!(w.send_at(deadline - 1, req()).reply.status, 201);
}

#[test]
fn downloads_are_served_as_data_never_as_active_content() {
    let w = gateway_world();
    w.upload("alice", "alice/page.html", "text/html", b"<script>alert(1)</script>");
    let url = target(presigned(&w, json!({"method": "GET", "key": "alice/page.html"}))["url"].as_str().unwrap());
    for h in [w.send(Req::get(&url)), w.send(Req::head("/files/alice/page.html").bearer(&alice()))] {
        assert_eq!(h.reply.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(h.reply.header("Content-Security-Policy"), Some("default-src 'none'; sandbox"));
    }
}

#[test]
fn confirm_needs_a_presign_by_the_same_owner() {
    let w = s3_world();
    presigned(&w, json!({"key": "alice/shared/x.txt", "content_type": "text/plain", "size": 1}));
    direct_upload(&w, "alice/shared/x.txt", b"x", "text/plain");
    let mallory = token("mallory", json!({"prefix": "alice/"}));
    let h = w.send(Req::new(Method::POST, "/files/alice/shared/x.txt/confirm").bearer(&mallory));
    assert_problem(&h, 404, "not_found");
    assert!(w.row("alice/shared/x.txt").is_none());
}

#[test]
fn the_sweep_removes_an_unconfirmed_direct_upload_after_its_url_expires() {
    let w = s3_world();
    let a =
        presigned(&w, json!({"key": "alice/never.txt", "content_type": "text/plain", "expires_in": 60, "size": 15}));
    assert_eq!(a["mode"], "direct");
    direct_upload(&w, "alice/never.txt", b"never confirmed", "text/plain");
    let grace = sweep::DEFAULT_PENDING_GRACE_MS;
    let due = w.meta.pending.borrow().values().next().unwrap().due_at;
    assert!(due >= NOW_MS + 60_000 + gateway_core::presign::confirm::CONFIRM_WINDOW_MS + grace);
    block_on(sweep::run(&w.store, &w.meta, due - 1, grace));
    assert!(w.object("alice/never.txt").is_some(), "kept while it could still be confirmed");
    let report = block_on(sweep::run(&w.store, &w.meta, due, grace));
    assert_eq!(report.orphans_removed, 1);
    assert!(w.object("alice/never.txt").is_none());
    assert!(w.meta.presigned.borrow().is_empty());
}

#[test]
fn spent_nonces_are_purged_once_their_url_has_expired() {
    let w = gateway_world();
    let url = target(presigned(&w, json!({"key": "alice/n.txt", "expires_in": 60}))["url"].as_str().unwrap());
    assert_eq!(w.send(Req::put(&url, b"x")).reply.status, 201);
    assert_eq!(w.meta.nonces.borrow().len(), 1);
    let grace = sweep::DEFAULT_PENDING_GRACE_MS;
    block_on(sweep::run(&w.store, &w.meta, NOW_MS + 60_000 + grace + 1, grace));
    assert!(w.meta.nonces.borrow().is_empty());
}

#[test]
fn download_names_cannot_climb_directories_or_break_the_header() {
    assert_eq!(clean_filename("../../etc/passwd"), "passwd");
    assert_eq!(clean_filename("C:\\Users\\me\\a.txt"), "a.txt");
    assert_eq!(clean_filename("a\r\nSet-Cookie: x"), "aSet-Cookie: x");
    assert_eq!(clean_filename(".."), "download");
    assert_eq!(attachment("plain.txt"), "attachment; filename=\"plain.txt\"; filename*=UTF-8''plain.txt");
    assert_eq!(attachment("100%.txt"), "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt");
}

#[test]
fn an_absent_parameter_and_an_empty_one_sign_differently() {
    let get = Capability { method: "GET".into(), max_size: None, content_type: None, ..cap(NOW_S + 60) };
    let query = capability::sign(&Secret::new(URL_SECRET), &get).unwrap();
    assert!(!query.contains("download="), "{query}");
    for added in ["download=&", "content_type=&"] {
        let tampered = format!("{added}{query}");
        assert_eq!(
            verify_at(&tampered, Method::GET, "alice/a.txt", NOW_MS).err(),
            Some(ErrorKind::InvalidSignature),
            "{added}"
        );
    }
}

#[test]
fn numbers_in_a_gateway_url_have_one_canonical_form() {
    let query = capability::sign(&Secret::new(URL_SECRET), &cap(NOW_S + 60)).unwrap();
    let expires = format!("expires={}", NOW_S + 60);
    for (from, to) in [
        (expires.as_str(), format!("expires=0{}", NOW_S + 60)),
        (expires.as_str(), format!("expires=%2B{}", NOW_S + 60)),
        ("max_size=100", "max_size=%2B100".to_owned()),
        ("max_size=100", "max_size=0100".to_owned()),
    ] {
        let tampered = query.replace(from, &to);
        assert_eq!(
            verify_at(&tampered, Method::PUT, "alice/a.txt", NOW_MS).err(),
            Some(ErrorKind::InvalidSignature),
            "{to}"
        );
    }
}

#[test]
fn bidirectional_overrides_and_other_format_characters_never_reach_a_download_name() {
    // U+202E would show "evil\u{202E}gpj.exe" as "evilexe.jpg".
    assert_eq!(clean_filename("evil\u{202E}gpj.exe"), "evilgpj.exe");
    for c in [
        '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}',
        '\u{2069}', '\u{061C}', '\u{200B}', '\u{FEFF}',
    ] {
        assert_eq!(clean_filename(&format!("a{c}b.txt")), "ab.txt", "U+{:04X}", c as u32);
    }
    assert!(!attachment("x\u{202E}fdp.exe").contains("%E2%80%AE"));
    // Ordinary non-ASCII letters stay.
    assert_eq!(clean_filename("résumé 日本.pdf"), "résumé 日本.pdf");
}

#[test]
fn a_direct_get_url_reaches_the_version_the_key_serves_typed_as_recorded_and_active_content_downloads() {
    let w = s3_world();
    w.upload("alice", "alice/page.html", "text/html", b"<script>alert(1)</script>");
    w.upload("alice", "alice/cat.png", "image/png", PNG);
    for (key, attachment) in [("alice/page.html", true), ("alice/cat.png", false)] {
        let h = w.send(Req::get(&format!("/files/{key}?redirect=1")).bearer(&alice()));
        assert_eq!(h.reply.status, 302, "{:?}", h.error);
        let location = h.reply.header("Location").unwrap();
        let stored = w.row(key).unwrap().storage_key;
        let path = format!("http://127.0.0.1:9000/uploads/{stored}?");
        assert!(location.starts_with(&path), "{location}");
        let expected_type = format!("response-content-type={}", w.row(key).unwrap().content_type.replace('/', "%2F"));
        assert!(location.contains(&expected_type), "{location}");
        assert_eq!(location.contains("response-content-disposition=attachment"), attachment, "{location}");
    }
    let a = presigned(&w, json!({"method": "GET", "key": "alice/page.html", "mode": "direct"}));
    assert!(a["url"].as_str().unwrap().contains("response-content-disposition=attachment"));
    let h =
        w.send(Req::new(Method::POST, "/presign").bearer(&alice()).body(br#"{"method":"GET","key":"alice/none.txt"}"#));
    assert_problem(&h, 404, "not_found");
}

#[test]
fn a_direct_url_used_again_after_confirm_and_delete_leaves_nothing_once_its_entry_is_due() {
    let w = s3_world();
    presigned(&w, json!({"key": "alice/again.txt", "content_type": "text/plain", "size": 5}));
    let name = w.meta.presigned.borrow().values().next().unwrap().storage_key.clone();
    direct_upload(&w, "alice/again.txt", b"first", "text/plain");
    assert_eq!(confirm(&w, "alice/again.txt").reply.status, 201);
    assert_eq!(w.send(Req::delete("/files/alice/again.txt").bearer(&alice())).reply.status, 204);
    // The URL is still valid: the same stored name is written again, with no row.
    let put = PutObject {
        name: gateway_core::key::StoredName::recorded(name.clone()),
        body: Some(b"again".to_vec()),
        length: 5,
        content_type: "text/plain".into(),
        md5: None,
        sha256: None,
    };
    block_on(gateway_core::store::Objects::put(&w.store, put)).unwrap();
    assert_problem(&w.send(Req::get("/files/alice/again.txt").bearer(&alice())), 404, "not_found");
    let due = w.meta.pending.borrow().values().map(|p| p.due_at).max().unwrap();
    let report = block_on(sweep::run(&w.store, &w.meta, due, sweep::DEFAULT_PENDING_GRACE_MS));
    assert_eq!(report.orphans_removed, 1, "{report:?}");
    assert!(!w.store.objects.borrow().contains_key(&name));
    assert!(w.meta.pending.borrow().is_empty());
}
