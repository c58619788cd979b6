//! `DELETE /files/{key}` and `GET /files` end to end: deletes remove row and object and are not
//! repeatable, and listings show only the caller's rows, newest first, with a cursor that
//! walks every row exactly once across pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::manage::{decode_cursor, encode_cursor, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use gateway_core::metadata::ListCursor;
use gateway_core::time::rfc3339;
use serde_json::{json, Value};

fn alice() -> String {
    token("alice", json!({}))
}

fn list(w: &World, tok: &str, query: &str) -> Value {
    let target = if query.is_empty() { "/files".to_owned() } else { format!("/files?{query}") };
    let h = w.send(Req::get(&target).bearer(tok));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(h.reply.header("Content-Type"), Some("application/json"));
    json_body(&h.reply)
}

fn keys(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap().to_owned()).collect()
}

/// Walks every page of `GET /files?limit=…` and returns the keys in order and the page count.
fn walk(w: &World, tok: &str, limit: u32) -> (Vec<String>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut query = format!("limit={limit}");
    loop {
        let page = list(w, tok, &query);
        pages += 1;
        let got = keys(&page);
        assert!(got.len() <= limit as usize);
        all.extend(got);
        match page["cursor"].as_str() {
            Some(c) => query = format!("limit={limit}&cursor={c}"),
            None => break,
        }
        assert!(pages < 100, "the cursor never ends");
    }
    (all, pages)
}

// ------------------------------------------------------------ delete

#[test]
fn delete_answers_204_and_removes_object_and_row_then_404() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&alice()));
    assert_eq!(h.reply.status, 204, "{:?}", h.error);
    assert!(is_empty_body(&h.reply));
    assert!(w.object("alice/a.txt").is_none());
    assert!(w.row("alice/a.txt").is_none());

    let again = w.send(Req::delete("/files/alice/a.txt").bearer(&alice()));
    assert_problem(&again, 404, "not_found");
    assert_problem(&w.send(Req::get("/files/alice/a.txt").bearer(&alice())), 404, "not_found");
}

#[test]
fn delete_leaves_other_objects_alone() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    w.upload("alice", "alice/a.txt.bak", "text/plain", b"b");
    assert_eq!(w.send(Req::delete("/files/alice/a.txt").bearer(&alice())).reply.status, 204);
    assert!(w.object("alice/a.txt.bak").is_some());
    assert!(w.row("alice/a.txt.bak").is_some());
}

#[test]
fn delete_of_a_row_whose_object_vanished_removes_the_row() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    w.store.objects.borrow_mut().clear(); // the object vanished behind the gateway's back
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&alice()));
    assert_eq!(h.reply.status, 204);
    assert!(w.row("alice/a.txt").is_none());
    assert_problem(&w.send(Req::delete("/files/alice/a.txt").bearer(&alice())), 404, "not_found");
}

#[test]
fn a_delete_whose_store_delete_fails_is_204_the_key_serves_nothing_and_the_sweep_finishes_it() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    w.store.fail_deletes.set(true);
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&alice()));
    assert_eq!(h.reply.status, 204);
    assert!(h.problems.iter().any(|p| p.contains("alice/a.txt~")), "the failed cleanup is logged: {:?}", h.problems);
    assert_problem(&w.send(Req::get("/files/alice/a.txt").bearer(&alice())), 404, "not_found");
    w.store.fail_deletes.set(false);
    let report = futures_executor::block_on(gateway_core::sweep::run(&w.store, &w.meta, NOW_MS + 1, 0));
    assert_eq!(report.orphans_removed, 1, "{report:?}");
    assert!(w.stored_versions("alice/a.txt").is_empty());
}

#[test]
fn a_failed_row_delete_leaves_the_object_downloadable() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    w.meta.fail_writes.set(true);
    assert_problem(&w.send(Req::delete("/files/alice/a.txt").bearer(&alice())), 500, "database_error");
    w.meta.fail_writes.set(false);
    assert_eq!(w.send(Req::get("/files/alice/a.txt").bearer(&alice())).reply.status, 200);
}

#[test]
fn a_delete_removes_the_version_the_row_names_when_it_runs_and_journals_that_one() {
    use gateway_core::metadata::{Deletion, ObjectIndex};
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"old");
    let old = w.row("alice/a.txt").unwrap();
    // An upload committed a new version before the delete's transaction ran.
    w.upload("alice", "alice/a.txt", "text/plain", b"new");
    let new = w.row("alice/a.txt").unwrap();
    let removed = futures_executor::block_on(w.meta.delete_key("alice/a.txt", NOW_MS, "evt_x", None)).unwrap();
    assert_eq!(removed, Deletion::Removed(Box::new(new.clone())));
    let due: Vec<String> =
        futures_executor::block_on(gateway_core::metadata::UploadJournal::due_uploads(&w.meta, NOW_MS, 100))
            .unwrap()
            .into_iter()
            .map(|e| e.storage_key)
            .collect();
    assert!(due.contains(&new.storage_key) && due.contains(&old.storage_key), "{due:?}");
    let again = futures_executor::block_on(w.meta.delete_key("alice/a.txt", NOW_MS, "evt_y", None)).unwrap();
    assert_eq!(again, Deletion::NoRow);
}

#[test]
fn a_late_delete_never_removes_a_version_uploaded_after_it_began() {
    let w = World::default_config();
    // The client sent DELETE at NOW_MS, gave up, and uploaded again; the delete runs last.
    w.upload_at(NOW_MS + 10, "alice", "alice/a.txt", "text/plain", b"again");
    let late = w.send_at(NOW_MS, Req::delete("/files/alice/a.txt").bearer(&alice()));
    assert_problem(&late, 412, "precondition_failed");
    assert_eq!(w.object("alice/a.txt").unwrap(), b"again");
    assert!(w.meta.outbox.borrow().values().all(|(e, _)| e.type_name() != "object.deleted"), "an event for no delete");
}

#[test]
fn delete_without_delete_scope_is_403_and_keeps_the_object() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    let t = token("alice", json!({"scope": "read write list"}));
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&t));
    assert_problem(&h, 403, "forbidden");
    assert!(w.object("alice/a.txt").is_some());
    assert!(w.row("alice/a.txt").is_some());
}

#[test]
fn delete_under_another_prefix_is_403_and_keeps_the_object() {
    let w = World::default_config();
    w.upload("bob", "bob/b.txt", "text/plain", b"b");
    let h = w.send(Req::delete("/files/bob/b.txt").bearer(&alice()));
    assert_problem(&h, 403, "forbidden");
    assert!(w.object("bob/b.txt").is_some());
}

#[test]
fn delete_with_a_failing_database_keeps_the_object() {
    // The row goes first; if that fails nothing is deleted, so no row is left without object.
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    w.meta.fail_writes.set(true);
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&alice()));
    assert_problem(&h, 500, "database_error");
    assert!(w.object("alice/a.txt").is_some());
    assert!(w.row("alice/a.txt").is_some());
}

// ------------------------------------------------------------ list

#[test]
fn list_is_newest_first_with_item_details() {
    let w = World::default_config();
    w.upload_at(NOW_MS, "alice", "alice/old.txt", "text/plain", b"old");
    w.upload_at(NOW_MS + 2000, "alice", "alice/new.png", "image/png", PNG);
    w.upload_at(NOW_MS + 1000, "alice", "alice/mid.pdf", "application/pdf", PDF);
    let page = list(&w, &alice(), "");
    assert_eq!(keys(&page), ["alice/new.png", "alice/mid.pdf", "alice/old.txt"]);
    assert_eq!(page["cursor"], Value::Null);
    let first = &page["items"][0];
    assert_eq!(first["size"], PNG.len());
    assert_eq!(first["content_type"], "image/png");
    assert_eq!(first["etag"], w.row("alice/new.png").unwrap().etag.as_str());
    assert_eq!(first["uploaded_at"], rfc3339(NOW_MS + 2000));
    assert_eq!(first["detected_type"], Value::Null);
    assert_eq!(first["type_matches"], Value::Null);
}

#[test]
fn list_shows_only_the_callers_rows() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"a");
    w.upload("bob", "bob/b.txt", "text/plain", b"b");
    w.upload("bob", "bob/c.txt", "text/plain", b"c");
    assert_eq!(keys(&list(&w, &alice(), "")), ["alice/a.txt"]);
    let bob = keys(&list(&w, &token("bob", json!({})), ""));
    assert_eq!(bob.len(), 2);
    assert!(bob.iter().all(|k| k.starts_with("bob/")));
    // Asking for a prefix the token does not cover is refused outright.
    let h = w.send(Req::get("/files?prefix=bob/").bearer(&alice()));
    assert_eq!(h.reply.status, 403);
}

#[test]
fn list_is_confined_to_the_tokens_prefix_claim() {
    let w = World::default_config();
    w.upload("alice", "alice/team/a.txt", "text/plain", b"a");
    w.upload("alice", "alice/private/b.txt", "text/plain", b"b");
    let team = token("alice", json!({"prefix": "alice/team/"}));
    assert_eq!(keys(&list(&w, &team, "")), ["alice/team/a.txt"]);
    assert_eq!(keys(&list(&w, &team, "prefix=alice/")), ["alice/team/a.txt"]);
    assert_eq!(w.send(Req::get("/files?prefix=alice/private/").bearer(&team)).reply.status, 403);
}

#[test]
fn list_with_an_exact_key_claim_shows_only_that_key() {
    let w = World::default_config();
    w.upload("alice", "alice/one.txt", "text/plain", b"1");
    w.upload("alice", "alice/one.txt.bak", "text/plain", b"2");
    w.upload("alice", "alice/two.txt", "text/plain", b"3");
    let one = token("alice", json!({"key": "alice/one.txt"}));
    assert_eq!(keys(&list(&w, &one, "")), ["alice/one.txt"]);
}

#[test]
fn list_of_a_caller_without_uploads_is_empty() {
    let w = World::default_config();
    w.upload("bob", "bob/b.txt", "text/plain", b"b");
    let page = list(&w, &alice(), "");
    assert_eq!(page, json!({"items": [], "cursor": null}));
}

#[test]
fn list_prefix_parameter_narrows_the_listing() {
    let w = World::default_config();
    w.upload("alice", "alice/photos/1.png", "image/png", PNG);
    w.upload("alice", "alice/photos/2.png", "image/png", PNG);
    w.upload("alice", "alice/docs/a.pdf", "application/pdf", PDF);
    let got = keys(&list(&w, &alice(), "prefix=alice%2Fphotos%2F"));
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|k| k.starts_with("alice/photos/")));
}

#[test]
fn cursor_walks_every_row_once_newest_first_across_pages() {
    let w = World::default_config();
    for i in 0..7 {
        w.upload_at(NOW_MS + i * 1000, "alice", &format!("alice/f{i}.txt"), "text/plain", b"x");
    }
    w.upload("bob", "bob/noise.txt", "text/plain", b"x");
    let (all, pages) = walk(&w, &alice(), 3);
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|i| format!("alice/f{i}.txt")).collect();
    assert_eq!(all, expected);
}

#[test]
fn cursor_handles_rows_created_in_the_same_millisecond() {
    let w = World::default_config();
    for name in ["a", "b", "c", "d", "e"] {
        w.upload_at(NOW_MS, "alice", &format!("alice/{name}"), "text/plain", b"x");
    }
    let (all, _) = walk(&w, &alice(), 2);
    assert_eq!(all, ["alice/e", "alice/d", "alice/c", "alice/b", "alice/a"]);
}

#[test]
fn last_full_page_has_no_cursor() {
    let w = World::default_config();
    for i in 0..4 {
        w.upload_at(NOW_MS + i, "alice", &format!("alice/{i}"), "text/plain", b"x");
    }
    let (all, pages) = walk(&w, &alice(), 2);
    assert_eq!(all.len(), 4);
    assert_eq!(pages, 2, "an exactly full last page must not promise another");
}

#[test]
fn cursor_encodes_the_last_row_returned() {
    let w = World::default_config();
    w.upload_at(NOW_MS, "alice", "alice/old", "text/plain", b"x");
    w.upload_at(NOW_MS + 1, "alice", "alice/new", "text/plain", b"x");
    let page = list(&w, &alice(), "limit=1");
    let cursor = decode_cursor(page["cursor"].as_str().unwrap()).unwrap();
    assert_eq!(cursor, ListCursor { created_at: NOW_MS + 1, key: "alice/new".into() });
}

#[test]
fn cursor_round_trips_and_is_url_safe() {
    let c = ListCursor { created_at: NOW_MS, key: "alice/ü?&=/x y".into() };
    let s = encode_cursor(&c);
    assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s}");
    assert_eq!(decode_cursor(&s).unwrap(), c);
}

#[test]
fn garbage_cursor_is_400() {
    let w = World::default_config();
    for c in ["not-a-cursor", "e30", "%%%"] {
        let h = w.send(Req::get(&format!("/files?cursor={c}")).bearer(&alice()));
        assert_problem(&h, 400, "bad_request");
    }
}

#[test]
fn limit_outside_one_to_max_is_400() {
    assert_eq!((DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT), (100, 1000));
    let w = World::default_config();
    for l in ["0", "1001", "-1", "ten", ""] {
        let h = w.send(Req::get(&format!("/files?limit={l}")).bearer(&alice()));
        assert_problem(&h, 400, "bad_request");
    }
    assert_eq!(w.send(Req::get("/files?limit=1000").bearer(&alice())).reply.status, 200);
}

#[test]
fn default_limit_is_100() {
    let w = World::default_config();
    for i in 0..101 {
        w.upload_at(NOW_MS + i, "alice", &format!("alice/{i:03}"), "text/plain", b"x");
    }
    let page = list(&w, &alice(), "");
    assert_eq!(keys(&page).len(), 100);
    assert!(page["cursor"].is_string());
}

#[test]
fn list_without_list_scope_is_403() {
    let w = World::default_config();
    let t = token("alice", json!({"scope": "read write delete"}));
    let h = w.send(Req::get("/files").bearer(&t));
    assert_problem(&h, 403, "forbidden");
    assert!(json_body(&h.reply)["detail"].as_str().unwrap().contains("list"));
}

#[test]
fn list_without_token_is_401() {
    let w = World::default_config();
    assert_problem(&w.send(Req::get("/files")), 401, "missing_token");
}

#[test]
fn an_exact_key_token_lists_its_key_even_when_newer_keys_share_the_prefix() {
    let w = World::default_config();
    w.upload_at(NOW_MS, "alice", "alice/a", "text/plain", b"a");
    w.upload_at(NOW_MS + 1, "alice", "alice/ab", "text/plain", b"ab");
    w.upload_at(NOW_MS + 2, "alice", "alice/ac", "text/plain", b"ac");
    let one = token("alice", json!({"key": "alice/a"}));
    let page = list(&w, &one, "limit=1");
    assert_eq!(keys(&page), ["alice/a"]);
    assert_eq!(page["cursor"], Value::Null);
}
