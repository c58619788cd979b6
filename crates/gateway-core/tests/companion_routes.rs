//! Companion's multipart endpoints, as `@uppy/aws-s3` 4.x calls them with the token in its
//! headers: start, a signed URL per part, the parts received, completion and abort, in the
//! shapes Companion answers, over the gateway's own multipart uploads and their rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::multipart::MIN_PART_BYTES;
use http::Method;
use serde_json::{json, Value};

const URL_SECRET: &str = "url-signing-secret-for-companion-0123456789abcdef";

fn world() -> World {
    World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET)]))
}

fn alice() -> String {
    token("alice", json!({}))
}

fn ok(w: &World, req: Req) -> Value {
    let h = w.send(req);
    assert_eq!(h.reply.status, 200, "{}", String::from_utf8_lossy(&stream_body(&h.reply)));
    json_body(&h.reply)
}

fn start(w: &World) -> (String, String) {
    let body = json!({"filename": "movie.mp4", "type": "video/mp4", "metadata": {"name": "movie.mp4"}}).to_string();
    let created = ok(w, Req::new(Method::POST, "/s3/multipart").bearer(&alice()).body(body.as_bytes()));
    assert_eq!(created["bucket"], "", "Companion names the bucket; the R2 binding has none");
    (created["key"].as_str().unwrap().to_owned(), created["uploadId"].as_str().unwrap().to_owned())
}

/// Sends part `n` of `bytes` to the URL Companion's part endpoint gives: its ETag header.
fn part(w: &World, key: &str, id: &str, n: u16, bytes: &[u8]) -> String {
    let signed = ok(w, Req::get(&format!("/s3/multipart/{id}/{n}?key={key}")).bearer(&alice()));
    assert_eq!(signed["expires"], 300);
    let url = signed["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    let h = w.send(Req::put(&url, bytes));
    assert_eq!(h.reply.status, 200, "part {n}");
    h.reply.header("ETag").unwrap().to_owned()
}

#[test]
fn an_upload_goes_through_companions_endpoints_and_is_recorded_once() {
    let w = world();
    let (key, id) = start(&w);
    assert!(key.starts_with("alice/") && key.ends_with(".mp4"), "{key}");
    let first = vec![1u8; MIN_PART_BYTES as usize];
    let e1 = part(&w, &key, &id, 1, &first);
    let e2 = part(&w, &key, &id, 2, b"the end");
    let listed = ok(&w, Req::get(&format!("/s3/multipart/{id}?key={key}")).bearer(&alice()));
    assert_eq!(
        listed,
        json!([
            {"PartNumber": 1, "Size": MIN_PART_BYTES, "ETag": e1},
            {"PartNumber": 2, "Size": 7, "ETag": e2},
        ])
    );
    // 4.x sends the ETags as it read them, quoted.
    let parts = json!({"parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}).to_string();
    let h = w.send(
        Req::new(Method::POST, &format!("/s3/multipart/{id}/complete?key={key}"))
            .bearer(&alice())
            .body(parts.as_bytes()),
    );
    assert_eq!(h.reply.status, 200);
    assert_eq!(json_body(&h.reply), json!({"location": format!("{ORIGIN}/files/{key}"), "key": key, "bucket": ""}));
    assert!(h.followup.is_some(), "its event");
    let mut whole = first.clone();
    whole.extend_from_slice(b"the end");
    assert_eq!(w.object(&key).unwrap(), whole);
    assert_eq!(w.row(&key).unwrap().content_type, "video/mp4");
}

#[test]
fn a_part_url_takes_that_part_again_but_no_other_part_or_upload() {
    let w = world();
    let (key, id) = start(&w);
    let signed = ok(&w, Req::get(&format!("/s3/multipart/{id}/1?key={key}")).bearer(&alice()));
    let url = signed["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    assert_eq!(w.send(Req::put(&url, b"first")).reply.status, 200);
    assert_eq!(w.send(Req::put(&url, b"again")).reply.status, 200, "a part may be sent again");
    assert_problem(&w.send(Req::put(&url.replace("partNumber=1", "partNumber=2"), b"x")), 403, "invalid_signature");
    let (_, other) = start(&w);
    assert_problem(&w.send(Req::put(&url.replace(&id, &other), b"x")), 403, "invalid_signature");
}

#[test]
fn another_callers_upload_is_not_theirs_to_fill_list_or_abort() {
    let w = world();
    let (key, id) = start(&w);
    let bob = token("bob", json!({"prefix": "alice/"}));
    let signed = ok(&w, Req::get(&format!("/s3/multipart/{id}/1?key={key}")).bearer(&bob));
    let url = signed["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    assert_problem(&w.send(Req::put(&url, b"x")), 403, "forbidden");
    assert_problem(&w.send(Req::get(&format!("/s3/multipart/{id}?key={key}")).bearer(&bob)), 403, "forbidden");
    assert_problem(&w.send(Req::delete(&format!("/s3/multipart/{id}?key={key}")).bearer(&bob)), 403, "forbidden");
}

#[test]
fn abort_answers_an_empty_object_and_ends_the_upload() {
    let w = world();
    let (key, id) = start(&w);
    assert_eq!(ok(&w, Req::delete(&format!("/s3/multipart/{id}?key={key}")).bearer(&alice())), json!({}));
    let parts = json!({"parts": []}).to_string();
    let h = w.send(
        Req::new(Method::POST, &format!("/s3/multipart/{id}/complete?key={key}"))
            .bearer(&alice())
            .body(parts.as_bytes()),
    );
    assert!(h.reply.status >= 400);
}

#[test]
fn companions_endpoints_need_the_token_and_the_key() {
    let w = world();
    assert_problem(&w.send(Req::new(Method::POST, "/s3/multipart").body(b"{}")), 401, "missing_token");
    assert_problem(&w.send(Req::get("/s3/multipart/abc").bearer(&alice())), 400, "bad_request");
    assert_problem(&w.send(Req::new(Method::PUT, "/s3/multipart/abc").bearer(&alice())), 405, "method_not_allowed");
}

#[test]
fn the_batch_form_signs_a_url_for_each_part_asked_for() {
    let w = world();
    let (key, id) = start(&w);
    let signed = ok(&w, Req::get(&format!("/s3/multipart/{id}/batch?key={key}&partNumbers=1,2")).bearer(&alice()));
    let urls = signed["presignedUrls"].as_object().unwrap();
    assert_eq!(urls.keys().collect::<Vec<_>>(), ["1", "2"]);
    let url = |n: &str| urls[n].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    assert!(url("2").contains("partNumber=2"));
    let first = vec![1u8; MIN_PART_BYTES as usize];
    assert_eq!(w.send(Req::put(&url("1"), &first)).reply.status, 200);
    assert_eq!(w.send(Req::put(&url("2"), b"the end")).reply.status, 200);
    let listed = ok(&w, Req::get(&format!("/s3/multipart/{id}?key={key}")).bearer(&alice()));
    assert_eq!(listed.as_array().unwrap().len(), 2, "each URL took its own part");
    for bad in ["partNumbers=0", "partNumbers=1,x", "partNumbers=10001", "partNumbers=", "other=1"] {
        let h = w.send(Req::get(&format!("/s3/multipart/{id}/batch?key={key}&{bad}")).bearer(&alice()));
        assert_problem(&h, 400, "bad_request");
    }
}
