//! Browser form uploads end to end through the gateway: `POST /presign` with `"mode": "form"`
//! hands out the form, `POST /form` takes it once, checks everything its policy and the
//! gateway's rules say before the file is stored, and answers as S3 does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::form::policy::FormPolicy;
use http::Method;
use serde_json::{json, Value};

const URL_SECRET: &str = "url-signing-secret-for-forms-0123456789abcdef";
const B: &str = "----formboundaryAbC123";

fn world() -> World {
    World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET)]))
}

/// The form `POST /presign` hands out for `request`.
fn form_for(w: &World, sub: &str, request: Value) -> Value {
    let req = Req::new(Method::POST, "/presign").bearer(&token(sub, json!({}))).body(request.to_string().as_bytes());
    let h = w.send(req);
    assert_eq!(h.reply.status, 200, "{}", String::from_utf8_lossy(&stream_body(&h.reply)));
    json_body(&h.reply)
}

/// A multipart body of the form's fields (plus `extra`), then the file.
fn body_of(fields: &Value, extra: &[(&str, &str)], filename: &str, content_type: &str, file: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    let mut pairs: Vec<(String, String)> =
        fields.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    for (name, value) in pairs {
        out.push_str(&format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    out.push_str(&format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(file);
    bytes.extend(format!("\r\n--{B}--\r\n").into_bytes());
    bytes
}

fn post(body: Vec<u8>) -> Req {
    Req::new(Method::POST, "/form").header("content-type", &format!("multipart/form-data; boundary={B}")).body(&body)
}

#[test]
fn a_form_uploads_its_file_under_the_tokens_prefix_with_the_files_name() {
    let w = world();
    let form = form_for(&w, "alice", json!({"mode": "form"}));
    assert_eq!((form["method"].as_str(), form["url"].as_str()), (Some("POST"), Some(&*format!("{ORIGIN}/form"))));
    assert_eq!(form["fields"]["key"], "alice/${filename}");
    let h = w.send(post(body_of(&form["fields"], &[], "cat.png", "image/png", PNG)));
    assert_eq!(h.reply.status, 204, "S3's default answer");
    assert_eq!(w.object("alice/cat.png").as_deref(), Some(PNG));
    let row = w.row("alice/cat.png").unwrap();
    assert_eq!((row.owner.as_str(), row.content_type.as_str()), ("alice", "image/png"));
    assert_eq!(h.reply.header("ETag"), Some(row.etag.as_str()));
    assert!(row.etag.starts_with('"'), "quoted, as S3 sends it");
    assert_eq!(h.reply.header("Location"), Some(&*format!("{ORIGIN}/files/alice/cat.png")));
    assert!(h.followup.is_some(), "its event, like any upload's");
}

#[test]
fn the_policy_carries_what_the_token_and_the_request_allow() {
    let w = world();
    let form = form_for(
        &w,
        "alice",
        json!({"mode": "form", "key": "alice/avatar.png", "content_type": "image/png", "size": 1000, "success_action_status": 201}),
    );
    let encoded = form["fields"]["policy"].as_str().unwrap();
    let json = String::from_utf8(b64_decode(encoded)).unwrap();
    let policy = FormPolicy::from_json(&json).unwrap();
    assert_eq!(policy.exact("key"), Some("alice/avatar.png"));
    assert_eq!(policy.exact("content-type"), Some("image/png"));
    assert_eq!(policy.exact("x-gateway-owner"), Some("alice"));
    assert_eq!(policy.length_range(), Some((0, 1000)));
    assert_eq!(policy.expiration_ms, NOW_MS + 300_000);
    let h = w.send(post(body_of(&form["fields"], &[], "whatever.png", "image/png", PNG)));
    assert_eq!(h.reply.status, 201);
    let xml = match &h.reply.body {
        gateway_core::http::Body::Json(text) => text.clone(),
        _ => panic!("a document"),
    };
    assert!(xml.contains("<Key>alice/avatar.png</Key>") && xml.contains("<PostResponse>"), "{xml}");
}

#[test]
fn a_form_works_once() {
    let w = world();
    let form = form_for(&w, "alice", json!({"mode": "form"}));
    assert_eq!(w.send(post(body_of(&form["fields"], &[], "a.txt", "text/plain", b"one"))).reply.status, 204);
    let again = w.send(post(body_of(&form["fields"], &[], "b.txt", "text/plain", b"two")));
    assert_problem(&again, 410, "url_already_used");
    assert!(w.object("alice/b.txt").is_none());
}

#[test]
fn a_redirect_form_answers_303_with_the_key_and_etag() {
    let w = world();
    let form =
        form_for(&w, "alice", json!({"mode": "form", "success_action_redirect": "https://app.example/done?x=1"}));
    let h = w.send(post(body_of(&form["fields"], &[], "a b.txt", "text/plain", b"hi")));
    assert_eq!(h.reply.status, 303);
    let location = h.reply.header("Location").unwrap();
    assert!(location.starts_with("https://app.example/done?x=1&bucket=&key=alice%2Fa%20b.txt&etag=%22"), "{location}");
}

#[test]
fn every_broken_rule_is_refused_before_the_file_is_stored() {
    let w = world();
    let form = form_for(&w, "alice", json!({"mode": "form", "content_type": "image/png", "size": 100}));
    let fields = &form["fields"];
    let mut tampered = fields.clone();
    tampered["key"] = json!("bob/${filename}");
    let mut forged = fields.clone();
    forged["x-gateway-signature"] = json!("00".repeat(32));
    let mut no_policy = fields.clone();
    no_policy.as_object_mut().unwrap().remove("policy");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a key the policy does not allow",
            body_of(&tampered, &[], "a.png", "image/png", PNG),
            403,
            "policy_condition_failed",
        ),
        ("a forged signature", body_of(&forged, &[], "a.png", "image/png", PNG), 403, "invalid_signature"),
        ("no policy", body_of(&no_policy, &[], "a.png", "image/png", PNG), 400, "bad_request"),
        (
            "a field the policy does not name",
            body_of(fields, &[("x-amz-meta-x", "1")], "a.png", "image/png", PNG),
            403,
            "policy_condition_failed",
        ),
        (
            "a file over the size range",
            body_of(fields, &[], "a.png", "image/png", &[0u8; 101]),
            413,
            "payload_too_large",
        ),
    ];
    for (what, body, status, code) in cases {
        let h = w.send(post(body));
        assert_problem(&h, status, code);
        assert!(w.store.objects.borrow().is_empty(), "{what}: nothing stored");
    }
}

#[test]
fn a_file_name_sent_with_a_path_keeps_only_its_last_segment() {
    let w = world();
    let form = form_for(&w, "alice", json!({"mode": "form"}));
    let h = w.send(post(body_of(&form["fields"], &[], "../../etc/passwd", "text/plain", b"x")));
    assert_eq!(h.reply.status, 204);
    assert!(w.row("alice/passwd").is_some());
    assert_eq!(w.store.objects.borrow().len(), 1);
}

#[test]
fn an_expired_form_is_refused() {
    let w = world();
    let form = form_for(&w, "alice", json!({"mode": "form", "expires_in": 10}));
    let h = w.send_at(NOW_MS + 10_000, post(body_of(&form["fields"], &[], "a.txt", "text/plain", b"x")));
    assert_problem(&h, 403, "url_expired");
}

#[test]
fn malformed_forms_are_400s_with_nothing_stored() {
    let w = world();
    let form = form_for(&w, "alice", json!({"mode": "form"}));
    let good = body_of(&form["fields"], &[], "a.txt", "text/plain", b"data");
    let mut late_field = good[..good.len() - format!("--{B}--\r\n").len()].to_vec();
    late_field.extend(
        format!("--{B}\r\nContent-Disposition: form-data; name=\"x-late\"\r\n\r\n1\r\n--{B}--\r\n").into_bytes(),
    );
    let no_boundary = Req::new(Method::POST, "/form").header("content-type", "multipart/form-data").body(&good);
    assert_problem(&w.send(no_boundary), 400, "bad_request");
    let not_a_form = Req::new(Method::POST, "/form").header("content-type", "application/json").body(b"{}");
    assert_problem(&w.send(not_a_form), 415, "unsupported_media_type");
    assert_problem(&w.send(post(late_field)), 400, "bad_request");
    let truncated = Req::new(Method::POST, "/form")
        .header("content-type", &format!("multipart/form-data; boundary={B}"))
        .header("content-length", &good.len().to_string())
        .body(&good[..good.len() - 3]);
    assert_problem(&w.send(truncated), 400, "incomplete_body");
    assert!(w.store.objects.borrow().is_empty(), "nothing stored");
}

#[test]
fn the_gateways_own_type_rules_apply_to_form_files() {
    let w = World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET), ("ALLOWED_CONTENT_TYPES", "image/*")]));
    let form = form_for(&w, "alice", json!({"mode": "form"}));
    let h = w.send(post(body_of(&form["fields"], &[], "a.html", "text/html", b"<script>")));
    assert!(w.object("alice/a.html").is_none());
    assert_problem(&h, 415, "unsupported_media_type");
}

#[test]
fn forms_need_the_url_signing_secret_and_write_scope() {
    let w = World::default_config();
    let req = Req::new(Method::POST, "/presign").bearer(&token("alice", json!({}))).body(br#"{"mode":"form"}"#);
    assert_problem(&w.send(req), 500, "config_error");
    let w = world();
    let read_only = token("alice", json!({"scope": "read"}));
    let req = Req::new(Method::POST, "/presign").bearer(&read_only).body(br#"{"mode":"form"}"#);
    assert_problem(&w.send(req), 403, "forbidden");
}

fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn companions_s3_params_hand_out_a_form_for_a_new_key_that_keeps_the_extension() {
    let w = world();
    let get = |req: Req| w.send(req);
    let h = get(Req::get("/s3/params?filename=cat%20photo.png&type=image%2Fpng&metadata%5Bname%5D=x")
        .bearer(&token("alice", json!({}))));
    assert_eq!(h.reply.status, 200);
    let params = json_body(&h.reply);
    assert_eq!((params["method"].as_str(), params["expires"].as_i64()), (Some("POST"), Some(300)));
    let key = params["fields"]["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("alice/") && key.ends_with(".png"), "{key}");
    assert_eq!(params["fields"]["Content-Type"], "image/png");
    let stored = w.send(post(body_of(&params["fields"], &[], "cat photo.png", "image/png", PNG)));
    assert_eq!(stored.reply.status, 204);
    assert_eq!(w.row(&key).unwrap().content_type, "image/png");
    assert_problem(&get(Req::get("/s3/params?filename=a.png")), 401, "missing_token");
}
