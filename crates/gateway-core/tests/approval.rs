//! The approval hook: what each upload kind asks (signed like the webhook), and what the
//! gateway does with each answer: allow, refuse with the hook's status and message, change
//! the key or lower the size limit, and a failed hook (error, timeout, malformed) denying by
//! default or letting the upload through when configured to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::*;
use gateway_core::testing::hook::ScriptedHook;
use gateway_core::webhook::sign;
use http::Method;
use serde_json::{json, Value};

const HOOK_SECRET: &str = "approval-hook-secret-0123456789-abcdef";
const URL_SECRET: &str = "url-signing-secret-0123456789-abcdefgh";

fn hook_vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("APPROVAL_HOOK_URL", "https://hooks.example.com/approve"),
        ("APPROVAL_HOOK_SECRET", HOOK_SECRET),
        ("URL_SIGNING_SECRET", URL_SECRET),
    ];
    vars.extend_from_slice(extra);
    vars
}

fn world(hook: ScriptedHook) -> World {
    World::with_hook(config_with(&hook_vars(&[])), hook)
}

fn s3_world(hook: ScriptedHook) -> World {
    let mut vars = hook_vars(&[]);
    vars.extend_from_slice(S3_VARS);
    World::with_hook(config_with(&vars), hook)
}

fn alice() -> String {
    token("alice", json!({}))
}

fn put(w: &World, key: &str, bytes: &[u8]) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::put(&format!("/files/{key}"), bytes).bearer(&alice()).header("content-type", "text/plain"))
}

fn post(w: &World, path: &str, body: Value) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::new(Method::POST, path).bearer(&alice()).body(body.to_string().as_bytes()))
}

fn tus_create(w: &World, length: Option<u64>, metadata: &str) -> gateway_core::gateway::Handled<Vec<u8>> {
    let req = Req::new(Method::POST, "/tus/").header("tus-resumable", "1.0.0").bearer(&alice());
    let req = req.header("upload-metadata", metadata);
    w.send(match length {
        Some(n) => req.header("upload-length", &n.to_string()),
        None => req.header("upload-defer-length", "1"),
    })
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_put_asks_the_hook_with_a_signed_request_before_its_body_and_stores_what_it_allows() {
    let w = world(ScriptedHook::answering(json!({"allow": true})));
    let h = w.send(Req::put("/files/alice/a.txt", b"hello").bearer(&alice()));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let posted = w.hook.as_ref().unwrap().posted.borrow()[0].clone();
    assert_eq!(posted.url, "https://hooks.example.com/approve");
    assert_eq!(posted.timeout_ms, 3000, "the default timeout");
    assert_eq!(
        posted.body,
        json!({"kind": "put", "sub": "alice", "key": "alice/a.txt", "size": 5,
               "content_type": "application/octet-stream", "metadata": {}})
    );
    let header = |name: &str| posted.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    let timestamp: i64 = header("X-Upload-Timestamp").parse().unwrap();
    assert_eq!(timestamp, NOW_MS / 1000);
    assert_eq!(header("X-Upload-Signature"), sign(HOOK_SECRET.as_bytes(), timestamp, &posted.raw));
    assert!(header("X-Upload-Request-Id").starts_with("req-"));
    assert_eq!(w.object("alice/a.txt").unwrap(), b"hello");
}

#[test]
fn a_refusal_passes_the_hooks_status_and_message_through_and_stores_and_reads_nothing() {
    let w = world(ScriptedHook::answering(json!({"allow": false, "status": 402, "message": "upgrade your plan"})));
    let (h, read) = w.send_unread(Req::put("/files/alice/a.txt", b"hello").bearer(&alice()));
    assert_problem(&h, 402, "upload_not_approved");
    assert_eq!(json_body(&h.reply)["detail"], "upgrade your plan");
    assert!(!read, "a refused upload read its body");
    assert!(w.object("alice/a.txt").is_none());
    assert!(w.row("alice/a.txt").is_none());

    // Without a status and message: 403 and a generic message.
    w.hook.as_ref().unwrap().script(|_| Ok((200, json!({"allow": false}).to_string())));
    let h = put(&w, "alice/b.txt", b"x");
    assert_problem(&h, 403, "upload_not_approved");
    assert_eq!(json_body(&h.reply)["detail"], "the upload was not approved");
}

#[test]
fn a_hook_that_fails_times_out_or_answers_badly_denies_with_503_by_default() {
    let answers: Vec<Result<(u16, String), String>> = vec![
        Ok((500, "oops".to_owned())),
        Err("no answer within 3000 ms".to_owned()),
        Ok((200, "not json".to_owned())),
        Ok((200, json!({"allowed": true}).to_string())),
        Ok((200, json!({"allow": false, "status": 500}).to_string())),
        Ok((200, json!({"allow": false, "status": 302}).to_string())),
        Ok((200, json!({"allow": true, "key": "bob/stolen.txt"}).to_string())),
        Ok((200, json!({"allow": true, "key": "alice/../x"}).to_string())),
        Ok((200, json!({"allow": false, "key": "alice/other.txt"}).to_string())),
        Ok((204, String::new())),
        // Metadata the gateway would not record whole is not an answer: never dropped silently.
        Ok((200, json!({"allow": true, "metadata": {"bad name": "a"}}).to_string())),
        Ok((200, json!({"allow": true, "metadata": {"n": "x".repeat(3000)}}).to_string())),
        Ok((200, json!({"allow": true, "metadata": (0..33).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}).to_string())),
        Ok((200, json!({"allow": true, "metadata": {"n": 1}}).to_string())),
    ];
    for answer in answers {
        let shown = format!("{answer:?}");
        let w = world(ScriptedHook::new(move |_| answer.clone()));
        let (h, read) = w.send_unread(Req::put("/files/alice/a.txt", b"hello").bearer(&alice()));
        assert_problem(&h, 503, "approval_unavailable");
        assert!(!read, "{shown}: the body was read");
        assert!(w.object("alice/a.txt").is_none(), "{shown}: stored");
        assert!(w.object("bob/stolen.txt").is_none(), "{shown}: stored outside the grant");
    }
}

#[test]
fn with_on_failure_allow_a_failed_hook_lets_the_upload_through_unchanged() {
    let vars = hook_vars(&[("APPROVAL_HOOK_ON_FAILURE", "allow"), ("APPROVAL_HOOK_TIMEOUT_MS", "250")]);
    let w = World::with_hook(config_with(&vars), ScriptedHook::new(|_| Err("no answer within 250 ms".to_owned())));
    assert_eq!(put(&w, "alice/a.txt", b"hello").reply.status, 201);
    assert_eq!(w.hook.as_ref().unwrap().posted.borrow()[0].timeout_ms, 250);
    // A definite refusal still refuses.
    w.hook.as_ref().unwrap().script(|_| Ok((200, json!({"allow": false, "status": 451}).to_string())));
    assert_problem(&put(&w, "alice/b.txt", b"x"), 451, "upload_not_approved");
}

#[test]
fn the_hook_may_move_the_upload_to_another_key_the_token_covers() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "key": "alice/approved/a.txt"})));
    let h = put(&w, "alice/a.txt", b"hello");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(json_body(&h.reply)["key"], "alice/approved/a.txt");
    assert_eq!(h.reply.header("Location"), Some("/files/alice/approved/a.txt"));
    assert_eq!(w.object("alice/approved/a.txt").unwrap(), b"hello");
    assert!(w.object("alice/a.txt").is_none());
}

#[test]
fn the_hooks_max_size_refuses_a_larger_put_with_413_before_its_body() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "max_size": 4})));
    let (h, read) = w.send_unread(Req::put("/files/alice/a.txt", b"hello").bearer(&alice()));
    assert_problem(&h, 413, "payload_too_large");
    assert!(!read);
    assert_eq!(put(&w, "alice/b.txt", b"four").reply.status, 201);
}

#[test]
fn a_multipart_start_is_asked_and_keeps_the_hooks_limit_for_its_parts_and_completion() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "max_size": 6 * 1024 * 1024, "key": "alice/m.bin"})));
    let h = post(&w, "/files/alice/big.bin?uploads", json!({"content_type": "video/mp4"}));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let started = json_body(&h.reply);
    assert_eq!(started["key"], "alice/m.bin");
    let id = started["upload_id"].as_str().unwrap().to_owned();
    assert_eq!(
        w.hook.as_ref().unwrap().asked()[0],
        json!({"kind": "multipart", "sub": "alice", "key": "alice/big.bin", "size": null,
               "content_type": "video/mp4", "metadata": {}})
    );
    let part = |n: u16, bytes: &[u8]| {
        Req::put(&format!("/files/alice/m.bin?uploadId={id}&partNumber={n}"), bytes).bearer(&alice())
    };
    let h = w.send(part(1, &vec![b'a'; 5 * 1024 * 1024]));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    // The second part would take the object past the hook's 6 MiB: refused before its body.
    let (h, read) = w.send_unread(part(2, &vec![b'b'; 2 * 1024 * 1024]));
    assert_problem(&h, 413, "payload_too_large");
    assert!(!read);
    let h = w.send(part(2, &vec![b'b'; 1024 * 1024]));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let h = post(&w, &format!("/files/alice/m.bin?uploadId={id}"), json!({}));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.hook.as_ref().unwrap().posted.borrow().len(), 1, "only the start is asked");
}

#[test]
fn a_declared_multipart_size_over_the_hooks_limit_is_refused_at_the_start() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "max_size": 1000})));
    let h = post(&w, "/files/alice/big.bin?uploads", json!({"size": 1001}));
    assert_problem(&h, 413, "payload_too_large");
    assert!(w.meta.multiparts.borrow().is_empty(), "a refused start recorded an upload");
}

#[test]
fn a_tus_creation_is_asked_with_its_metadata_and_its_length_is_held_to_the_hooks_limit() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "max_size": 10, "key": "alice/t/x.txt"})));
    let metadata = format!("filename {},filetype {}", b64("x.txt"), b64("text/plain"));
    let h = tus_create(&w, None, &metadata);
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    let asked = &w.hook.as_ref().unwrap().asked()[0];
    assert_eq!(asked["kind"], "tus");
    assert_eq!(asked["size"], Value::Null);
    assert_eq!(asked["content_type"], "text/plain");
    assert_eq!(asked["metadata"], json!({"filename": "x.txt", "filetype": "text/plain"}));
    let path = h.reply.header("Location").unwrap().trim_start_matches(ORIGIN).to_owned();
    let patch_req =
        |offset: usize, bytes: &[u8], length: Option<usize>| tus_patch_with(&path, &alice(), offset, bytes, length);
    // Declaring 11 bytes, or sending past 10 with the length still deferred, is refused.
    let (h, read) = w.send_unread(patch_req(0, b"0123456789x", None));
    assert_problem(&h, 413, "payload_too_large");
    assert!(!read);
    let (h, read) = w.send_unread(patch_req(0, b"01234", Some(11)));
    assert_problem(&h, 413, "payload_too_large");
    assert!(!read);
    let h = w.send(patch_req(0, b"0123456789", Some(10)));
    assert_eq!(h.reply.status, 204, "{:?}", h.error);
    assert_eq!(w.object("alice/t/x.txt").unwrap(), b"0123456789");
}

#[test]
fn a_tus_creation_over_the_hooks_limit_or_refused_records_nothing() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "max_size": 10})));
    assert_problem(&tus_create(&w, Some(11), ""), 413, "payload_too_large");
    w.hook.as_ref().unwrap().script(|_| Ok((200, json!({"allow": false, "message": "no"}).to_string())));
    let h = tus_create(&w, Some(5), "");
    assert_problem(&h, 403, "upload_not_approved");
    assert_eq!(h.reply.header("Tus-Resumable"), Some("1.0.0"));
    assert!(w.meta.tus.borrow().is_empty(), "a refused creation recorded an upload");
}

#[test]
fn a_presigned_url_is_asked_before_it_is_signed_and_its_use_is_not_asked_again() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "key": "alice/p/approved.txt", "max_size": 5})));
    let h = post(&w, "/presign", json!({"key": "alice/p.txt", "content_type": "text/plain"}));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let answer = json_body(&h.reply);
    assert_eq!(answer["key"], "alice/p/approved.txt");
    let asked = w.hook.as_ref().unwrap().asked();
    assert_eq!(asked[0]["kind"], "presign");
    assert_eq!(asked[0]["key"], "alice/p.txt");
    let target = answer["url"].as_str().unwrap().trim_start_matches(ORIGIN).to_owned();
    // The URL carries the hook's limit: 6 bytes is refused, 5 stored, and neither asks again.
    let send =
        |bytes: &[u8]| w.send(Req::put(&target, bytes).without("authorization").header("content-type", "text/plain"));
    assert_problem(&send(b"123456"), 413, "payload_too_large");
    assert_eq!(send(b"12345").reply.status, 201);
    assert_eq!(w.object("alice/p/approved.txt").unwrap(), b"12345");
    assert_eq!(w.hook.as_ref().unwrap().posted.borrow().len(), 1);
}

#[test]
fn a_refused_presign_or_form_signs_nothing() {
    let w = world(ScriptedHook::answering(json!({"allow": false, "status": 403, "message": "not today"})));
    for body in [json!({"key": "alice/p.txt"}), json!({"mode": "form", "key": "alice/f.txt"})] {
        let h = post(&w, "/presign", body);
        assert_problem(&h, 403, "upload_not_approved");
        assert!(json_body(&h.reply).get("url").is_none());
    }
    let h = w.send(Req::get("/s3/params?filename=a.png&type=image/png").bearer(&alice()));
    assert_problem(&h, 403, "upload_not_approved");
    let h = post(&w, "/s3/sign", json!({"method": "PUT", "key": "a.txt"}));
    assert_problem(&h, 403, "upload_not_approved");
    let h = post(&w, "/s3/sign", json!({"method": "POST", "key": "a.bin"}));
    assert_problem(&h, 403, "upload_not_approved");
    let kinds: Vec<Value> = w.hook.as_ref().unwrap().asked().iter().map(|a| a["kind"].clone()).collect();
    assert_eq!(kinds, ["presign", "presign", "presign", "presign", "multipart"]);
    // Downloads and the requests of an open upload are never asked.
    let h = post(&w, "/presign", json!({"method": "GET", "key": "alice/p.txt"}));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(w.hook.as_ref().unwrap().posted.borrow().len(), 5);
}

#[test]
fn a_form_carries_the_hooks_key_and_size_limit() {
    let w = world(ScriptedHook::answering(json!({"allow": true, "key": "alice/forms/x.txt", "max_size": 100})));
    let h = post(&w, "/presign", json!({"mode": "form", "key": "alice/f.txt"}));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let form = json_body(&h.reply);
    assert_eq!(form["key"], "alice/forms/x.txt");
    assert_eq!(form["fields"]["key"], "alice/forms/x.txt");
    let policy = form["fields"]["policy"].as_str().unwrap();
    let policy: Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(policy).unwrap()).unwrap();
    assert!(policy["conditions"].as_array().unwrap().contains(&json!(["content-length-range", 0, 100])), "{policy}");
    assert_problem(&post(&w, "/presign", json!({"mode": "form", "size": 101})), 413, "payload_too_large");
}

#[test]
fn a_confirm_is_asked_with_the_stored_size_and_a_refused_upload_is_deleted() {
    let w = s3_world(ScriptedHook::answering(json!({"allow": true})));
    let h = post(&w, "/presign", json!({"key": "alice/d.txt", "content_type": "text/plain", "size": 5}));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    direct_upload(&w, "alice/d.txt", b"hello", "text/plain");
    w.hook.as_ref().unwrap().script(|asked| {
        let answer =
            if asked["kind"] == "confirm" { json!({"allow": false, "status": 422}) } else { json!({"allow": true}) };
        Ok((200, answer.to_string()))
    });
    let h = w.send(Req::new(Method::POST, "/files/alice/d.txt/confirm").bearer(&alice()));
    assert_problem(&h, 422, "upload_not_approved");
    let asked = w.hook.as_ref().unwrap().asked();
    assert_eq!(
        asked[1],
        json!({"kind": "confirm", "sub": "alice", "key": "alice/d.txt", "size": 5, "content_type": "text/plain",
               "metadata": {}})
    );
    assert!(w.row("alice/d.txt").is_none());
    assert!(w.store.objects.borrow().is_empty(), "the refused upload was not deleted");
}

#[test]
fn a_confirm_the_hook_could_not_decide_can_be_retried() {
    let w = s3_world(ScriptedHook::answering(json!({"allow": true})));
    let h = post(&w, "/presign", json!({"key": "alice/d.txt", "content_type": "text/plain", "size": 5}));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    direct_upload(&w, "alice/d.txt", b"hello", "text/plain");
    w.hook.as_ref().unwrap().script(|_| Err("no answer within 3000 ms".to_owned()));
    let confirm = || w.send(Req::new(Method::POST, "/files/alice/d.txt/confirm").bearer(&alice()));
    assert_problem(&confirm(), 503, "approval_unavailable");
    w.hook.as_ref().unwrap().script(|_| Ok((200, json!({"allow": true, "key": "alice/d.txt"}).to_string())));
    assert_eq!(confirm().reply.status, 201);
    assert!(w.row("alice/d.txt").is_some());
    // A confirm's key cannot move: the object is stored already.
    w.hook.as_ref().unwrap().script(|asked| {
        let key = if asked["kind"] == "confirm" { "alice/elsewhere.txt" } else { "alice/e.txt" };
        Ok((200, json!({"allow": true, "key": key}).to_string()))
    });
    let h = post(&w, "/presign", json!({"key": "alice/e.txt", "content_type": "text/plain", "size": 5}));
    assert_eq!(h.reply.status, 200);
    direct_upload(&w, "alice/e.txt", b"hello", "text/plain");
    let h = w.send(Req::new(Method::POST, "/files/alice/e.txt/confirm").bearer(&alice()));
    assert_problem(&h, 503, "approval_unavailable");
}

#[test]
fn without_a_hook_nothing_is_asked() {
    let w = World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET)]));
    assert_eq!(put(&w, "alice/a.txt", b"hello").reply.status, 201);
}

#[test]
fn the_hook_settings_are_validated_naming_the_variable() {
    let with = |extra: &[(&str, &str)]| {
        // The first value given for a variable counts: `extra` overrides the valid ones.
        let mut vars = extra.to_vec();
        vars.extend_from_slice(&[
            ("JWT_SECRET", SECRET),
            ("APPROVAL_HOOK_URL", "https://hooks.example.com/approve"),
            ("APPROVAL_HOOK_SECRET", HOOK_SECRET),
        ]);
        try_config(&vars)
    };
    assert!(with(&[]).is_ok());
    let only = |var, value| try_config(&[("JWT_SECRET", SECRET), (var, value)]);
    assert_names(&only("APPROVAL_HOOK_URL", "https://h.example.com").unwrap_err(), "APPROVAL_HOOK_SECRET");
    assert_names(&only("APPROVAL_HOOK_SECRET", HOOK_SECRET).unwrap_err(), "APPROVAL_HOOK_SECRET");
    assert_names(&with(&[("APPROVAL_HOOK_URL", "ftp://x")]).unwrap_err(), "APPROVAL_HOOK_URL");
    assert_names(&with(&[("APPROVAL_HOOK_SECRET", "short")]).unwrap_err(), "APPROVAL_HOOK_SECRET");
    assert_names(&with(&[("APPROVAL_HOOK_TIMEOUT_MS", "50")]).unwrap_err(), "APPROVAL_HOOK_TIMEOUT_MS");
    assert_names(&with(&[("APPROVAL_HOOK_TIMEOUT_MS", "30001")]).unwrap_err(), "APPROVAL_HOOK_TIMEOUT_MS");
    assert_names(&with(&[("APPROVAL_HOOK_ON_FAILURE", "maybe")]).unwrap_err(), "APPROVAL_HOOK_ON_FAILURE");
    let config = with(&[("APPROVAL_HOOK_TIMEOUT_MS", "1500"), ("APPROVAL_HOOK_ON_FAILURE", "Allow")]).unwrap();
    let approval = config.approval.unwrap();
    assert_eq!(approval.timeout_ms, 1500);
    assert_eq!(approval.on_failure, gateway_core::config::OnFailure::Allow);
}

/// The hook's metadata, as it answers for every kind below.
fn tagged() -> ScriptedHook {
    ScriptedHook::new(|asked| {
        let kind = asked["kind"].as_str().unwrap_or_default().to_owned();
        Ok((200, json!({"allow": true, "metadata": {"approved-by": "policy", "kind": kind}}).to_string()))
    })
}

/// The metadata recorded with `key`'s row, as JSON.
fn recorded(w: &World, key: &str) -> Value {
    serde_json::from_str(w.row(key).unwrap_or_else(|| panic!("no row for {key}")).metadata.as_deref().unwrap_or("null"))
        .unwrap()
}

#[test]
fn the_hooks_metadata_is_recorded_with_a_put_and_shown_in_its_event_and_listing() {
    let w = world(tagged());
    let h = put(&w, "alice/m.txt", b"hello");
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(recorded(&w, "alice/m.txt"), json!({"approved-by": "policy", "kind": "put"}));
    let event = serde_json::to_value(&h.followup.unwrap().event).unwrap();
    assert_eq!(event["metadata"], json!({"approved-by": "policy", "kind": "put"}));
    let listed = json_body(&w.send(Req::get("/files").bearer(&alice())).reply);
    assert_eq!(listed["items"][0]["metadata"], json!({"approved-by": "policy", "kind": "put"}));
    // Without metadata in the answer, none is recorded, and the event and listing carry none.
    w.hook.as_ref().unwrap().script(|_| Ok((200, json!({"allow": true}).to_string())));
    let h = put(&w, "alice/plain.txt", b"x");
    assert!(w.row("alice/plain.txt").unwrap().metadata.is_none());
    assert!(serde_json::to_value(&h.followup.unwrap().event).unwrap().get("metadata").is_none());
}

#[test]
fn uploads_that_span_requests_carry_the_hooks_metadata_to_their_version() {
    let w = world(tagged());
    // Multipart: asked at the start, recorded at the completion.
    let h = post(&w, "/files/alice/mp.bin?uploads", json!({}));
    let id = json_body(&h.reply)["upload_id"].as_str().unwrap().to_owned();
    let part =
        w.send(Req::put(&format!("/files/alice/mp.bin?uploadId={id}&partNumber=1"), b"one part").bearer(&alice()));
    assert_eq!(part.reply.status, 200, "{:?}", part.error);
    assert_eq!(post(&w, &format!("/files/alice/mp.bin?uploadId={id}"), json!({})).reply.status, 201);
    assert_eq!(recorded(&w, "alice/mp.bin")["kind"], "multipart");
    // tus: asked at the creation, recorded when the last byte arrives.
    let h = tus_create(&w, Some(3), &format!("key {}", b64("alice/t.txt")));
    let path = h.reply.header("Location").unwrap().trim_start_matches(ORIGIN).to_owned();
    let h = w.send(
        Req::new(Method::PATCH, &path)
            .header("tus-resumable", "1.0.0")
            .bearer(&alice())
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .header("content-length", "3")
            .body(b"tus"),
    );
    assert_eq!(h.reply.status, 204, "{:?}", h.error);
    assert_eq!(recorded(&w, "alice/t.txt")["kind"], "tus");
}

#[test]
fn presigned_urls_forms_and_signed_requests_carry_the_hooks_metadata_signed() {
    let w = world(tagged());
    // A gateway URL.
    let signed = json_body(&post(&w, "/presign", json!({"key": "alice/u.txt", "content_type": "text/plain"})).reply);
    let target = signed["url"].as_str().unwrap().trim_start_matches(ORIGIN).to_owned();
    let h = w.send(Req::put(&target, b"via url").without("authorization").header("content-type", "text/plain"));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(recorded(&w, "alice/u.txt")["kind"], "presign");
    // Changing the metadata in the URL breaks its signature.
    let forged = target.replace("presign", "other");
    let h = w.send(Req::put(&forged, b"x").without("authorization").header("content-type", "text/plain"));
    assert_problem(&h, 403, "invalid_signature");
    // `signRequest`'s PutObject URL.
    let sr =
        json_body(&post(&w, "/s3/sign", json!({"method": "PUT", "key": "s.txt", "contentType": "text/plain"})).reply);
    let target = sr["url"].as_str().unwrap().trim_start_matches(ORIGIN).to_owned();
    let h = w.send(Req::put(&target, b"via sign").without("authorization").header("content-type", "text/plain"));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(recorded(&w, "alice/s.txt")["kind"], "presign");
    // A form: the metadata is one of its signed fields.
    let form = json_body(&post(&w, "/presign", json!({"mode": "form", "key": "alice/f.txt"})).reply);
    assert_eq!(form["fields"]["x-gateway-metadata"], json!({"approved-by": "policy", "kind": "presign"}).to_string());
    let mut body = String::new();
    for (name, value) in form["fields"].as_object().unwrap() {
        body.push_str(&format!(
            "--XB\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
            value.as_str().unwrap()
        ));
    }
    body.push_str("--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nform file\r\n--XB--\r\n");
    let h = w.send(
        Req::new(Method::POST, "/form")
            .header("content-type", "multipart/form-data; boundary=XB")
            .body(body.as_bytes()),
    );
    assert!(h.reply.status < 300, "{:?}", h.error);
    assert_eq!(recorded(&w, "alice/f.txt")["kind"], "presign");
    assert_eq!(
        w.hook.as_ref().unwrap().asked().iter().filter(|a| a["kind"] == "presign").count(),
        3,
        "a form's use is not asked"
    );
}

#[test]
fn a_confirm_records_its_own_answers_metadata_or_else_the_presigns() {
    let w = s3_world(tagged());
    for key in ["alice/c1.txt", "alice/c2.txt"] {
        let h = post(&w, "/presign", json!({"key": key, "content_type": "text/plain", "size": 5}));
        assert_eq!(h.reply.status, 200, "{:?}", h.error);
        direct_upload(&w, key, b"hello", "text/plain");
    }
    assert_eq!(w.send(Req::new(Method::POST, "/files/alice/c1.txt/confirm").bearer(&alice())).reply.status, 201);
    assert_eq!(recorded(&w, "alice/c1.txt")["kind"], "confirm");
    w.hook.as_ref().unwrap().script(|_| Ok((200, json!({"allow": true}).to_string())));
    assert_eq!(w.send(Req::new(Method::POST, "/files/alice/c2.txt/confirm").bearer(&alice())).reply.status, 201);
    assert_eq!(recorded(&w, "alice/c2.txt")["kind"], "presign");
}
