//! `POST /s3/sign`, as `@uppy/aws-s3` 6.x's `signRequest` calls it, and the gateway URLs it
//! hands out, answered in S3's dialect: the exact requests `S3mini` sends (PutObject, the
//! multipart start, parts, listing, completion, abort) and the XML it parses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::gateway::Handled;
use gateway_core::http::Body;
use gateway_core::key::StoredName;
use gateway_core::multipart::MIN_PART_BYTES;
use gateway_core::s3::complete_multipart_xml;
use gateway_core::s3_dialect::completion_body;
use gateway_core::store::{Multipart, PutPart};
use http::Method;
use serde_json::{json, Value};

const URL_SECRET: &str = "url-signing-secret-for-sign-request-0123456789ab";

fn world() -> World {
    World::new(config_with(&[("URL_SIGNING_SECRET", URL_SECRET)]))
}

/// On S3, where the store signs URLs of its own (its requests are never sent here: the
/// memory store stands in for it).
fn s3_world() -> World {
    World::new(config_with(&[&[("URL_SIGNING_SECRET", URL_SECRET)], S3_VARS].concat()))
}

fn alice() -> String {
    token("alice", json!({}))
}

fn sign_as(w: &World, token: &str, request: Value) -> Handled<Vec<u8>> {
    w.send(Req::new(Method::POST, "/s3/sign").bearer(token).body(request.to_string().as_bytes()))
}

/// The signed answer to `request`: `{url, key, headers}`, the URL as a path on the gateway.
fn signed(w: &World, request: Value) -> (String, Value) {
    let h = sign_as(w, &alice(), request);
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(h.reply.header("Cache-Control"), Some("no-store"));
    let answer = json_body(&h.reply);
    let url = answer["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    (url, answer)
}

fn xml(h: &Handled<Vec<u8>>) -> String {
    assert_eq!(h.reply.header("content-type"), Some("application/xml"));
    match &h.reply.body {
        Body::Json(text) => text.clone(),
        _ => panic!("expected an XML body"),
    }
}

/// The text of the first `<tag>` in `doc`.
fn element<'a>(doc: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = doc.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {doc}")) + open.len();
    &doc[start..start + doc[start..].find(&format!("</{tag}>")).unwrap()]
}

/// Asserts S3's error document: the status, `<Code>` and the gateway's own code.
fn assert_s3_error(h: &Handled<Vec<u8>>, status: u16, s3_code: &str, code: &str) {
    assert_eq!(h.reply.status, status, "{:?}", h.error);
    let doc = xml(h);
    assert_eq!(element(&doc, "Code"), s3_code, "{doc}");
    assert_eq!(element(&doc, "GatewayCode"), code, "{doc}");
    assert!(h.followup.is_none());
}

fn start(w: &World, requested: &str, content_type: &str) -> (String, String) {
    start_as(w, json!({"method": "POST", "key": requested}), content_type)
}

fn start_as(w: &World, request: Value, content_type: &str) -> (String, String) {
    let (url, answer) = signed(w, request);
    let h = w.send(Req::new(Method::POST, &url).header("content-type", content_type).body(b""));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let doc = xml(&h);
    assert!(doc.contains("<InitiateMultipartUploadResult"), "{doc}");
    assert_eq!(element(&doc, "Key"), answer["key"].as_str().unwrap());
    (answer["key"].as_str().unwrap().to_owned(), element(&doc, "UploadId").to_owned())
}

fn put_part(w: &World, key: &str, id: &str, n: u16, bytes: &[u8]) -> String {
    let (url, _) = signed(w, json!({"method": "PUT", "key": key, "uploadId": id, "partNumber": n}));
    let h = w.send(Req::put(&url, bytes));
    assert_eq!(h.reply.status, 200, "part {n}: {:?}", h.error);
    assert!(is_empty_body(&h.reply), "S3 answers a part with its ETag alone");
    h.reply.header("ETag").unwrap().to_owned()
}

#[test]
fn a_file_in_parts_goes_through_signed_s3_requests_and_is_recorded_once() {
    let w = world();
    let (key, id) = start(&w, "0b7f-movie.mp4", "video/mp4");
    assert_eq!(key, "alice/0b7f-movie.mp4", "the requested key, under the token's prefix");
    let first = vec![1u8; MIN_PART_BYTES as usize];
    let e1 = put_part(&w, &key, &id, 1, &first);
    let e2 = put_part(&w, &key, &id, 2, b"the end");

    let (url, _) = signed(&w, json!({"method": "GET", "key": key, "uploadId": id}));
    let doc = xml(&w.send(Req::get(&url)));
    assert!(doc.contains("<ListPartsResult"), "{doc}");
    let quoted = |e: &str| e.replace('"', "&quot;");
    assert!(
        doc.contains(&format!(
            "<Part><PartNumber>1</PartNumber><ETag>{}</ETag><Size>{MIN_PART_BYTES}</Size></Part>",
            quoted(&e1)
        )),
        "{doc}"
    );
    assert!(doc.contains(&format!("<Part><PartNumber>2</PartNumber><ETag>{}</ETag><Size>7</Size></Part>", quoted(&e2))));

    // S3mini sends the ETags it read, unquoted, in S3's completion document (here written by the
    // gateway's own S3 client, the same document).
    let body = complete_multipart_xml([(1, e1.trim_matches('"')), (2, e2.trim_matches('"'))]);
    let (url, _) = signed(&w, json!({"method": "POST", "key": key, "uploadId": id}));
    let complete =
        || w.send(Req::new(Method::POST, &url).header("content-type", "application/xml").body(body.as_bytes()));
    let h = complete();
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let doc = xml(&h);
    assert_eq!(element(&doc, "Location"), format!("{ORIGIN}/files/{key}"));
    assert_eq!(element(&doc, "Key"), key);
    let event = h.followup.as_ref().expect("its event").event.id.clone();
    let mut whole = first.clone();
    whole.extend_from_slice(b"the end");
    assert_eq!(w.object(&key).unwrap(), whole);
    assert_eq!(w.row(&key).unwrap().content_type, "video/mp4");

    // S3mini sends a completion again when its answer was lost: the same answer, the same
    // version and the same event (one id, so it is delivered once).
    let again = complete();
    assert_eq!(again.reply.status, 200, "{:?}", again.error);
    assert_eq!(element(&xml(&again), "Key"), key);
    assert_eq!(again.followup.as_ref().unwrap().event.id, event);
    assert_eq!(w.stored_versions(&key).len(), 1);
}

#[test]
fn a_put_url_creates_its_object_once_and_may_be_sent_again_until_it_has() {
    let w = world();
    let (url, answer) = signed(&w, json!({"method": "PUT", "key": "photo.png", "contentType": "image/png"}));
    assert_eq!(answer["key"], "alice/photo.png");
    assert_eq!(answer["headers"], json!({"Content-Type": "image/png"}));
    let png = |ct: &str| Req::put(&url, PNG).header("content-type", ct);
    // A failed attempt spends nothing: S3 clients send the same URL again.
    assert_s3_error(&w.send(png("image/jpeg")), 415, "InvalidArgument", "unsupported_media_type");
    let h = w.send(png("image/png"));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert!(is_empty_body(&h.reply));
    let etag = h.reply.header("ETag").unwrap().to_owned();
    assert!(h.followup.is_some());
    assert_eq!(w.object("alice/photo.png").unwrap(), PNG);
    // Once it has, the URL changes nothing: a repeat whose first answer was lost is refused.
    assert_s3_error(&w.send(png("image/png")), 412, "PreconditionFailed", "precondition_failed");
    assert_eq!(w.row("alice/photo.png").unwrap().etag, etag);
}

#[test]
fn new_objects_are_named_under_the_tokens_prefix_and_never_replace_one() {
    let w = world();
    assert_eq!(signed(&w, json!({"method": "PUT", "key": "alice/a.txt"})).1["key"], "alice/a.txt");
    assert_eq!(signed(&w, json!({"method": "PUT", "key": "bob/a.txt"})).1["key"], "alice/bob/a.txt");
    assert_eq!(signed(&w, json!({"method": "POST", "key": "/x.bin"})).1["key"], "alice/x.bin");
    let exact = token("alice", json!({"key": "alice/avatar.png"}));
    let h = sign_as(&w, &exact, json!({"method": "PUT", "key": "anything.png", "contentType": "image/png"}));
    assert_eq!(json_body(&h.reply)["key"], "alice/avatar.png");
    w.upload("alice", "alice/taken.txt", "text/plain", b"here first");
    assert_problem(&sign_as(&w, &alice(), json!({"method": "PUT", "key": "taken.txt"})), 412, "precondition_failed");
    assert_problem(&sign_as(&w, &alice(), json!({"method": "POST", "key": "taken.txt"})), 412, "precondition_failed");
    assert_problem(&sign_as(&w, &alice(), json!({"method": "PUT", "key": "../a"})), 400, "invalid_key");
}

#[test]
fn the_tokens_type_and_size_rules_hold_on_every_signed_request() {
    let w = world();
    let images = token("alice", json!({"content_types": ["image/*"], "max_size": MIN_PART_BYTES + 10}));
    let h = sign_as(&w, &images, json!({"method": "PUT", "key": "a.html", "contentType": "text/html"}));
    assert_problem(&h, 415, "unsupported_media_type");

    let h = sign_as(&w, &images, json!({"method": "PUT", "key": "big.png", "contentType": "image/png"}));
    let url = json_body(&h.reply)["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    let big = vec![0u8; (MIN_PART_BYTES + 11) as usize];
    assert_s3_error(
        &w.send(Req::put(&url, &big).header("content-type", "image/png")),
        413,
        "EntityTooLarge",
        "payload_too_large",
    );

    // A multipart start declares its type only when sent: the token's patterns are signed in.
    let h = sign_as(&w, &images, json!({"method": "POST", "key": "clip.bin"}));
    let url = json_body(&h.reply)["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    let start = |ct: &str| w.send(Req::new(Method::POST, &url).header("content-type", ct).body(b""));
    assert_s3_error(&start("text/plain"), 415, "InvalidArgument", "unsupported_media_type");
    let h = start("image/gif");
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let id = element(&xml(&h), "UploadId").to_owned();
    // The parts' total stays within the token's max_size.
    let sign_part = |n: u16| {
        let h =
            sign_as(&w, &images, json!({"method": "PUT", "key": "alice/clip.bin", "uploadId": id, "partNumber": n}));
        json_body(&h.reply)["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned()
    };
    assert_eq!(w.send(Req::put(&sign_part(1), &vec![0u8; MIN_PART_BYTES as usize])).reply.status, 200);
    assert_s3_error(&w.send(Req::put(&sign_part(2), &[0u8; 11])), 413, "EntityTooLarge", "payload_too_large");
}

#[test]
fn a_url_serves_only_the_request_it_was_signed_for() {
    let w = world();
    let (key, id) = start(&w, "a.bin", "application/octet-stream");
    let (list, _) = signed(&w, json!({"method": "GET", "key": key, "uploadId": id}));
    assert_s3_error(&w.send(Req::delete(&list)), 403, "AccessDenied", "forbidden");
    assert_s3_error(&w.send(Req::new(Method::POST, &list).body(b"")), 403, "AccessDenied", "forbidden");
    let (_, other) = start(&w, "b.bin", "application/octet-stream");
    assert_s3_error(&w.send(Req::get(&list.replace(&id, &other))), 403, "SignatureDoesNotMatch", "invalid_signature");
    let (abort, _) = signed(&w, json!({"method": "DELETE", "key": key, "uploadId": id}));
    assert_s3_error(
        &w.send(Req::put(&format!("{abort}&partNumber=1"), b"x")),
        403,
        "SignatureDoesNotMatch",
        "invalid_signature",
    );
    // The abort URL does what it says: S3's empty 204, and the upload is gone.
    let h = w.send(Req::delete(&abort));
    assert_eq!(h.reply.status, 204, "{:?}", h.error);
    assert_s3_error(&w.send(Req::get(&list)), 404, "NoSuchUpload", "upload_not_found");
    // Another caller's URL for this upload is refused by the upload's owner check.
    let bob = token("bob", json!({"prefix": "alice/"}));
    let h = sign_as(&w, &bob, json!({"method": "GET", "key": "alice/b.bin", "uploadId": other}));
    let url = json_body(&h.reply)["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    assert_s3_error(&w.send(Req::get(&url)), 403, "AccessDenied", "forbidden");
}

#[test]
fn a_signed_url_lives_no_longer_than_the_token_that_asked_for_it() {
    let w = world();
    let short = token("alice", json!({"exp": NOW_S + 60}));
    let h = sign_as(&w, &short, json!({"method": "PUT", "key": "a.txt", "expiresIn": 3600}));
    let answer = json_body(&h.reply);
    assert_eq!(answer["expires"], 60);
    let url = answer["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    let late = w.send_at(NOW_MS + 61_000, Req::put(&url, b"late").header("content-type", "application/octet-stream"));
    assert_s3_error(&late, 403, "AccessDenied", "url_expired");
}

#[test]
fn sign_requests_need_a_token_and_a_request_the_gateway_signs() {
    let w = world();
    let h = w.send(Req::new(Method::POST, "/s3/sign").body(br#"{"method":"PUT","key":"a"}"#));
    assert_problem(&h, 401, "missing_token");
    assert_problem(&sign_as(&w, &alice(), json!({"method": "DELETE", "key": "alice/a"})), 400, "bad_request");
    assert_problem(&sign_as(&w, &alice(), json!({"method": "HEAD", "key": "alice/a"})), 400, "bad_request");
    let part = json!({"method": "PUT", "key": "alice/a", "uploadId": "u", "partNumber": 0});
    assert_problem(&sign_as(&w, &alice(), part), 400, "bad_request");
    let h = w.send(Req::new(Method::POST, "/s3/sign").bearer(&alice()).body(b"{not json"));
    assert_problem(&h, 400, "bad_request");
    let no_secret = World::new(config());
    assert_problem(&sign_as(&no_secret, &alice(), json!({"method": "PUT", "key": "a"})), 500, "config_error");
}

#[test]
fn the_completion_document_is_read_as_s3_clients_write_it() {
    let parsed = |xml: &str| serde_json::from_slice::<Value>(&completion_body(xml.as_bytes()).unwrap()).unwrap();
    let plain =
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>abc</ETag></Part></CompleteMultipartUpload>";
    assert_eq!(parsed(plain), json!({"parts": [{"part_number": 1, "etag": "abc"}]}));
    // The AWS SDKs: a prolog, the namespace, quoted ETags as entities, elements in any order.
    let sdk = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
               <Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber></Part>\
               <Part><ETag>&#34;e2&#34;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>";
    assert_eq!(parsed(sdk), json!({"parts": [{"part_number": 1, "etag": "e1"}, {"part_number": 2, "etag": "e2"}]}));
    for bad in [
        "",
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
        "<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>70000</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>",
    ] {
        let err = completion_body(bad.as_bytes()).unwrap_err();
        assert_eq!(err.code(), "bad_request", "{bad}");
    }
}

/// A part sent to the store itself through a direct URL: what the browser's PUT does there.
fn put_at_store(w: &World, url: &str, bytes: &[u8]) -> String {
    let parsed = url::Url::parse(url).unwrap();
    let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert!(query.contains_key("X-Amz-Signature"), "a URL the store signed: {url}");
    let name = StoredName::recorded(parsed.path().strip_prefix("/uploads/").unwrap().replace("%7E", "~"));
    let part = PutPart {
        name,
        upload_id: query["uploadId"].clone(),
        number: query["partNumber"].parse().unwrap(),
        body: Some(bytes.to_vec()),
        length: bytes.len() as u64,
    };
    futures_executor::block_on(w.store.upload_part(part)).unwrap()
}

#[test]
fn in_direct_mode_parts_go_to_the_store_and_the_completion_reads_them_there() {
    let w = s3_world();
    let (key, id) =
        start_as(&w, json!({"method": "POST", "key": "big.bin", "mode": "direct"}), "application/octet-stream");
    let sign_part = |n: u16| {
        let part = json!({"method": "PUT", "key": key, "uploadId": id, "partNumber": n, "mode": "direct"});
        let answer = json_body(&sign_as(&w, &alice(), part).reply);
        assert_eq!(answer["key"], key);
        assert!(answer["url"].as_str().unwrap().starts_with("http://127.0.0.1:9000/uploads/alice/big.bin"), "{answer}");
        answer["url"].as_str().unwrap().to_owned()
    };
    let first = vec![7u8; MIN_PART_BYTES as usize];
    let e1 = put_at_store(&w, &sign_part(1), &first);
    let e2 = put_at_store(&w, &sign_part(2), b"tail");
    // The gateway recorded no part: the list and the completion read the store's.
    let (list, _) = signed(&w, json!({"method": "GET", "key": key, "uploadId": id, "mode": "direct"}));
    assert!(list.contains("parts=store"), "{list}");
    let doc = xml(&w.send(Req::get(&list)));
    assert!(doc.contains(&format!("<PartNumber>2</PartNumber><ETag>&quot;{e2}&quot;</ETag><Size>4</Size>")), "{doc}");
    let body = complete_multipart_xml([(1, e1.as_str()), (2, e2.as_str())]);
    let (complete, _) = signed(&w, json!({"method": "POST", "key": key, "uploadId": id, "mode": "direct"}));
    let h = w.send(Req::new(Method::POST, &complete).body(body.as_bytes()));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert!(h.followup.is_some(), "its event");
    let mut whole = first;
    whole.extend_from_slice(b"tail");
    assert_eq!(w.object(&key).unwrap(), whole);
    // A gateway completion URL (no `parts=store`) finds none of the store's parts: refused.
    let (key2, id2) =
        start_as(&w, json!({"method": "POST", "key": "other.bin", "mode": "direct"}), "application/octet-stream");
    let part = json!({"method": "PUT", "key": key2, "uploadId": id2, "partNumber": 1, "mode": "direct"});
    let answer = json_body(&sign_as(&w, &alice(), part).reply);
    let e = put_at_store(&w, answer["url"].as_str().unwrap(), b"x");
    let (gateway_complete, _) = signed(&w, json!({"method": "POST", "key": key2, "uploadId": id2}));
    let body = complete_multipart_xml([(1, e.as_str())]);
    assert_s3_error(
        &w.send(Req::new(Method::POST, &gateway_complete).body(body.as_bytes())),
        400,
        "InvalidRequest",
        "bad_request",
    );
    assert!(w.row(&key2).is_none());
}

#[test]
fn in_direct_mode_the_tokens_size_limit_holds_at_the_completion() {
    let w = s3_world();
    let small = token("alice", json!({"max_size": MIN_PART_BYTES + 2}));
    let sign = |request: Value| {
        let h = sign_as(&w, &small, request);
        assert_eq!(h.reply.status, 200, "{:?}", h.error);
        json_body(&h.reply)
    };
    let created = sign(json!({"method": "POST", "key": "big.bin", "mode": "direct"}));
    let url = created["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    let doc = xml(&w.send(Req::new(Method::POST, &url).body(b"")));
    let id = element(&doc, "UploadId").to_owned();
    let part = |n: u16| {
        sign(json!({"method": "PUT", "key": "alice/big.bin", "uploadId": id, "partNumber": n, "mode": "direct"}))
    };
    let e1 = put_at_store(&w, part(1)["url"].as_str().unwrap(), &vec![0u8; MIN_PART_BYTES as usize]);
    // The store takes any size: the part URL cannot sign a length the client never states.
    let e2 = put_at_store(&w, part(2)["url"].as_str().unwrap(), b"one too many");
    let complete = sign(json!({"method": "POST", "key": "alice/big.bin", "uploadId": id, "mode": "direct"}));
    let url = complete["url"].as_str().unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    let body = complete_multipart_xml([(1, e1.as_str()), (2, e2.as_str())]);
    assert_s3_error(
        &w.send(Req::new(Method::POST, &url).body(body.as_bytes())),
        413,
        "EntityTooLarge",
        "payload_too_large",
    );
    assert!(w.row("alice/big.bin").is_none() && w.object("alice/big.bin").is_none(), "nothing recorded or assembled");
}

#[test]
fn a_direct_part_url_is_only_for_the_callers_open_upload_and_only_on_s3() {
    let w = s3_world();
    let (key, id) =
        start_as(&w, json!({"method": "POST", "key": "a.bin", "mode": "direct"}), "application/octet-stream");
    let part = |token: &str, key: &str, id: &str| {
        sign_as(&w, token, json!({"method": "PUT", "key": key, "uploadId": id, "partNumber": 1, "mode": "direct"}))
    };
    let bob = token("bob", json!({"prefix": "alice/"}));
    assert_problem(&part(&bob, &key, &id), 403, "forbidden");
    assert_problem(&part(&alice(), "alice/b.bin", &id), 404, "upload_not_found");
    assert_problem(&part(&alice(), &key, "no-such-upload"), 404, "upload_not_found");
    let (abort, _) = signed(&w, json!({"method": "DELETE", "key": key, "uploadId": id}));
    assert_eq!(w.send(Req::delete(&abort)).reply.status, 204);
    assert_problem(&part(&alice(), &key, &id), 404, "upload_not_found");
    let r2 = world();
    let h = sign_as(&r2, &alice(), json!({"method": "POST", "key": "a.bin", "mode": "direct"}));
    assert_problem(&h, 400, "bad_request");
    assert_problem(
        &sign_as(&w, &alice(), json!({"method": "POST", "key": "a.bin", "mode": "sideways"})),
        400,
        "bad_request",
    );
}

#[test]
fn a_store_that_lists_no_etags_completes_with_the_clients_and_a_resuming_client_resends() {
    let w = s3_world();
    w.store.lists_no_etags.set(true);
    let (key, id) =
        start_as(&w, json!({"method": "POST", "key": "weak.bin", "mode": "direct"}), "application/octet-stream");
    let part = json!({"method": "PUT", "key": key, "uploadId": id, "partNumber": 1, "mode": "direct"});
    let e1 = put_at_store(&w, json_body(&sign_as(&w, &alice(), part).reply)["url"].as_str().unwrap(), b"only part");
    let (list, _) = signed(&w, json!({"method": "GET", "key": key, "uploadId": id, "mode": "direct"}));
    let doc = xml(&w.send(Req::get(&list)));
    assert!(!doc.contains("<Part>"), "a part whose ETag is unknown is not offered as received: {doc}");
    let (complete, _) = signed(&w, json!({"method": "POST", "key": key, "uploadId": id, "mode": "direct"}));
    let wrong = complete_multipart_xml([(1, "0123")]);
    let h = w.send(Req::new(Method::POST, &complete).body(wrong.as_bytes()));
    assert!(h.reply.status >= 400 && w.row(&key).is_none(), "the store checks the ETags it did not list");
    let body = complete_multipart_xml([(1, e1.as_str())]);
    let h = w.send(Req::new(Method::POST, &complete).body(body.as_bytes()));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(w.object(&key).unwrap(), b"only part");
}
