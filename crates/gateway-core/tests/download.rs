//! `GET` / `HEAD /files/{key}` end to end: full and ranged downloads (200/206/416), cache
//! revalidation (304) and `If-Match` (412), with the metadata headers clients rely on, and
//! the same authorisation rules as uploads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::time::http_date;
use serde_json::json;

const KEY: &str = "alice/data.bin";
const PATH: &str = "/files/alice/data.bin";
const DATA: &[u8] = b"0123456789abcdefghij"; // 20 bytes

fn world() -> (World, String) {
    let w = World::default_config();
    let job = w.upload("alice", KEY, "application/x-test", DATA);
    (w, job.event.etag)
}

fn alice() -> String {
    token("alice", json!({}))
}

#[test]
fn full_download_is_200_with_body_and_metadata_headers() {
    let (w, etag) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(stream_body(&h.reply), DATA);
    assert_eq!(h.reply.header("Content-Length"), Some("20"));
    assert_eq!(h.reply.header("Content-Type"), Some("application/x-test"));
    assert_eq!(h.reply.header("ETag"), Some(etag.as_str()));
    assert_eq!(h.reply.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(h.reply.header("Last-Modified"), Some("Sun, 15 Jun 2025 15:06:40 GMT"));
    assert_eq!(h.reply.header("Last-Modified"), Some(http_date(NOW_MS).as_str()));
    assert!(h.followup.is_none());
}

#[test]
fn download_with_a_range_is_206_with_content_range() {
    let (w, etag) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=2-5"));
    assert_eq!(h.reply.status, 206);
    assert_eq!(stream_body(&h.reply), b"2345");
    assert_eq!(h.reply.header("Content-Range"), Some("bytes 2-5/20"));
    assert_eq!(h.reply.header("Content-Length"), Some("4"));
    assert_eq!(h.reply.header("ETag"), Some(etag.as_str()));
}

#[test]
fn suffix_and_open_ended_ranges_are_served() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=-3"));
    assert_eq!((h.reply.status, stream_body(&h.reply)), (206, b"hij".to_vec()));
    assert_eq!(h.reply.header("Content-Range"), Some("bytes 17-19/20"));
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=15-"));
    assert_eq!((h.reply.status, stream_body(&h.reply)), (206, b"fghij".to_vec()));
}

#[test]
fn range_end_past_the_object_is_clamped() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=18-1000"));
    assert_eq!(h.reply.status, 206);
    assert_eq!(stream_body(&h.reply), b"ij");
    assert_eq!(h.reply.header("Content-Range"), Some("bytes 18-19/20"));
}

#[test]
fn unsatisfiable_range_is_416_with_the_size() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=20-"));
    assert_eq!(h.reply.status, 416);
    assert_eq!(h.reply.header("Content-Range"), Some("bytes */20"));
    assert_eq!(h.reply.header("Content-Type"), Some("application/problem+json"));
    assert_eq!(json_body(&h.reply)["code"], "range_not_satisfiable");
}

#[test]
fn multi_range_and_garbage_ranges_serve_the_whole_object() {
    let (w, _) = world();
    for r in ["bytes=0-1,4-5", "bytes=5-2", "lines=1-2", "bytes=x-"] {
        let h = w.send(Req::get(PATH).bearer(&alice()).header("range", r));
        assert_eq!(h.reply.status, 200, "{r}");
        assert_eq!(stream_body(&h.reply), DATA);
        assert_eq!(h.reply.header("Content-Range"), None);
    }
}

#[test]
fn if_none_match_with_the_current_etag_is_304_without_body() {
    let (w, etag) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("if-none-match", &etag));
    assert_eq!(h.reply.status, 304);
    assert!(is_empty_body(&h.reply));
    assert_eq!(h.reply.header("ETag"), Some(etag.as_str()));
    assert!(h.error.is_none());
}

#[test]
fn if_none_match_with_a_weak_or_listed_current_etag_is_304() {
    let (w, etag) = world();
    for v in [format!("W/{etag}"), format!("\"stale\", {etag}"), "*".to_owned()] {
        let h = w.send(Req::get(PATH).bearer(&alice()).header("if-none-match", &v));
        assert_eq!(h.reply.status, 304, "{v}");
    }
}

#[test]
fn if_none_match_with_a_stale_etag_downloads() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("if-none-match", "\"stale\""));
    assert_eq!(h.reply.status, 200);
    assert_eq!(stream_body(&h.reply), DATA);
}

#[test]
fn if_none_match_wins_over_range() {
    let (w, etag) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("if-none-match", &etag).header("range", "bytes=0-1"));
    assert_eq!(h.reply.status, 304);
}

#[test]
fn if_match_with_another_etag_is_412() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("if-match", "\"other\""));
    assert_problem(&h, 412, "precondition_failed");
}

#[test]
fn if_match_with_the_current_etag_downloads_and_allows_ranges() {
    let (w, etag) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("if-match", &etag).header("range", "bytes=0-0"));
    assert_eq!(h.reply.status, 206);
    assert_eq!(stream_body(&h.reply), b"0");
}

#[test]
fn head_answers_metadata_without_a_body() {
    let (w, etag) = world();
    let h = w.send(Req::head(PATH).bearer(&alice()));
    assert_eq!(h.reply.status, 200);
    assert!(is_empty_body(&h.reply));
    assert_eq!(h.reply.header("Content-Length"), Some("20"));
    assert_eq!(h.reply.header("Content-Type"), Some("application/x-test"));
    assert_eq!(h.reply.header("ETag"), Some(etag.as_str()));
    assert_eq!(h.reply.header("Accept-Ranges"), Some("bytes"));
}

#[test]
fn head_honours_conditionals() {
    let (w, etag) = world();
    assert_eq!(w.send(Req::head(PATH).bearer(&alice()).header("if-none-match", &etag)).reply.status, 304);
    assert_eq!(w.send(Req::head(PATH).bearer(&alice()).header("if-match", "\"x\"")).reply.status, 412);
}

#[test]
fn missing_object_is_404_for_get_and_head() {
    let w = World::default_config();
    assert_problem(&w.send(Req::get("/files/alice/nope").bearer(&alice())), 404, "not_found");
    assert_problem(&w.send(Req::head("/files/alice/nope").bearer(&alice())), 404, "not_found");
}

#[test]
fn download_under_another_prefix_is_403_even_if_it_exists() {
    let (w, _) = world();
    let bob = token("bob", json!({}));
    let h = w.send(Req::get(PATH).bearer(&bob));
    assert_problem(&h, 403, "forbidden");
    assert_problem(&w.send(Req::head(PATH).bearer(&bob)), 403, "forbidden");
}

#[test]
fn download_without_read_scope_is_403() {
    let (w, _) = world();
    let t = token("alice", json!({"scope": "write list delete"}));
    let h = w.send(Req::get(PATH).bearer(&t));
    assert_problem(&h, 403, "forbidden");
    assert!(json_body(&h.reply)["detail"].as_str().unwrap().contains("read"));
}

#[test]
fn download_without_token_is_401() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH));
    assert_problem(&h, 401, "missing_token");
    assert_eq!(h.reply.header("WWW-Authenticate"), Some("Bearer"));
}

#[test]
fn download_of_an_empty_object_is_200_and_any_range_is_416() {
    let w = World::default_config();
    w.upload("alice", "alice/empty", "text/plain", b"");
    let h = w.send(Req::get("/files/alice/empty").bearer(&alice()));
    assert_eq!(h.reply.status, 200);
    assert_eq!(stream_body(&h.reply), b"");
    assert_eq!(h.reply.header("Content-Length"), Some("0"));
    let h = w.send(Req::get("/files/alice/empty").bearer(&alice()).header("range", "bytes=0-"));
    assert_eq!(h.reply.status, 416);
    assert_eq!(h.reply.header("Content-Range"), Some("bytes */0"));
}

#[test]
fn an_empty_suffix_range_is_416_with_the_size() {
    let (w, _) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=-0"));
    assert_eq!(h.reply.status, 416);
    assert_eq!(h.reply.header("Content-Range"), Some("bytes */20"));
}

#[test]
fn if_range_with_the_current_etag_serves_the_range() {
    let (w, etag) = world();
    let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=0-4").header("if-range", &etag));
    assert_eq!(h.reply.status, 206);
    assert_eq!(stream_body(&h.reply), b"01234");
}

#[test]
fn if_range_with_another_etag_or_a_date_serves_the_whole_object() {
    let (w, _) = world();
    for validator in ["\"stale\"", "W/\"stale\"", "Sun, 22 Nov 2026 19:12:06 GMT"] {
        let h = w.send(Req::get(PATH).bearer(&alice()).header("range", "bytes=0-4").header("if-range", validator));
        assert_eq!(h.reply.status, 200, "{validator}");
        assert_eq!(stream_body(&h.reply), DATA);
        assert_eq!(h.reply.header("Content-Range"), None);
    }
}
