//! Quarantine until scanned: a new version of every upload kind is served to nobody on any
//! download path until a verdict; `clean` serves it, `infected` deletes it (its event says so);
//! verdicts are bound to the version and need the `scan` scope; the scanner's URL in the event
//! reads the pending version and nothing else; the sweep settles versions with no verdict in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::events::EventKind;
use gateway_core::quarantine::sweep_scans;
use gateway_core::scan_link::scan_link;
use gateway_core::testing::RecordingSender;
use http::Method;
use serde_json::{json, Value};

const URL_SECRET: &str = "url-signing-secret-0123456789-abcdefgh";
const PUBLIC: &str = "https://uploads.example.com";

fn vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("QUARANTINE", "true"), ("URL_SIGNING_SECRET", URL_SECRET), ("PUBLIC_URL", PUBLIC)];
    v.extend_from_slice(extra);
    v
}

fn world() -> World {
    World::new(config_with(&vars(&[])))
}

fn alice() -> String {
    token("alice", json!({}))
}

fn scanner() -> String {
    token("scanner", json!({"scope": "scan", "prefix": ""}))
}

fn put(w: &World, key: &str, bytes: &[u8]) -> Value {
    let h = w.send(Req::put(&format!("/files/{key}"), bytes).bearer(&alice()).header("content-type", "text/plain"));
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    json_body(&h.reply)
}

fn verdict(w: &World, key: &str, token: &str, version: &str, verdict: &str) -> gateway_core::gateway::Handled<Vec<u8>> {
    let body = json!({"version": version, "verdict": verdict}).to_string();
    w.send(Req::new(Method::POST, &format!("/files/{key}/verdict")).bearer(token).body(body.as_bytes()))
}

fn get(w: &World, key: &str) -> gateway_core::gateway::Handled<Vec<u8>> {
    w.send(Req::get(&format!("/files/{key}")).bearer(&alice()))
}

#[test]
fn a_pending_version_is_served_on_no_download_path_and_listed_as_pending() {
    let w = world();
    let etag = put(&w, "alice/q.txt", b"suspect bytes")["etag"].as_str().unwrap().to_owned();
    assert_eq!(w.row("alice/q.txt").unwrap().scan.as_deref(), Some("pending"));
    assert_problem(&get(&w, "alice/q.txt"), 409, "scan_pending");
    assert_problem(&w.send(Req::head("/files/alice/q.txt").bearer(&alice())), 409, "scan_pending");
    assert_problem(
        &w.send(Req::get("/files/alice/q.txt").bearer(&alice()).header("range", "bytes=0-3")),
        409,
        "scan_pending",
    );
    assert_problem(&w.send(Req::get("/files/alice/q.txt?redirect=1").bearer(&alice())), 409, "scan_pending");
    // A gateway GET URL can be signed (it names no version) but reads nothing while pending.
    let h =
        w.send(Req::new(Method::POST, "/presign").bearer(&alice()).body(br#"{"method":"GET","key":"alice/q.txt"}"#));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    let url = json_body(&h.reply)["url"].as_str().unwrap().trim_start_matches(ORIGIN).to_owned();
    assert_problem(&w.send(Req::get(&url).without("authorization")), 409, "scan_pending");
    let listed = json_body(&w.send(Req::get("/files").bearer(&alice())).reply);
    assert_eq!(listed["items"][0]["key"], "alice/q.txt");
    assert_eq!(listed["items"][0]["scan"], "pending");
    assert_eq!(listed["items"][0]["etag"], etag.as_str());

    // Clean: served from then on, on every path, and listed without `scan`.
    let h = verdict(&w, "alice/q.txt", &scanner(), &etag, "clean");
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(
        json_body(&h.reply),
        json!({"key": "alice/q.txt", "version": etag, "verdict": "clean", "status": "served"})
    );
    assert!(h.followup.is_none());
    assert_eq!(stream_body(&get(&w, "alice/q.txt").reply), b"suspect bytes");
    assert_eq!(w.send(Req::get(&url).without("authorization")).reply.status, 200);
    assert_eq!(w.send(Req::get("/files/alice/q.txt?redirect=1").bearer(&alice())).reply.status, 302);
    let listed = json_body(&w.send(Req::get("/files").bearer(&alice())).reply);
    assert!(listed["items"][0].get("scan").is_none());
    // The same verdict again changes nothing and answers the same.
    assert_eq!(verdict(&w, "alice/q.txt", &scanner(), &etag, "clean").reply.status, 200);
}

#[test]
fn a_direct_get_url_and_a_redirect_are_refused_for_a_pending_version_on_s3() {
    let mut v = vars(&[]);
    v.extend_from_slice(S3_VARS);
    let w = World::new(config_with(&v));
    put(&w, "alice/s.txt", b"bytes");
    let h = w.send(
        Req::new(Method::POST, "/presign")
            .bearer(&alice())
            .body(br#"{"method":"GET","key":"alice/s.txt","mode":"direct"}"#),
    );
    assert_problem(&h, 409, "scan_pending");
    assert_problem(&w.send(Req::get("/files/alice/s.txt?redirect=1").bearer(&alice())), 409, "scan_pending");
}

#[test]
fn an_infected_verdict_deletes_the_version_and_its_event_says_why() {
    let w = world();
    let etag = put(&w, "alice/bad.exe", b"MZ malware")["etag"].as_str().unwrap().to_owned();
    let stored = w.row("alice/bad.exe").unwrap().storage_key;
    let h = verdict(&w, "alice/bad.exe", &scanner(), etag.trim_matches('"'), "infected");
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(json_body(&h.reply)["status"], "deleted");
    assert!(w.row("alice/bad.exe").is_none());
    assert!(!w.store.objects.borrow().contains_key(&stored), "the infected object is still stored");
    let event = h.followup.unwrap().event;
    assert!(matches!(&event.kind, EventKind::Deleted { reason: Some(r), .. } if r == "infected"), "{event:?}");
    let outbox = w.meta.outbox.borrow();
    let (recorded, _) = outbox.get(&event.id).expect("the event is in the outbox");
    assert_eq!(recorded, &event);
    drop(outbox);
    // Repeated, or sent for a version that is gone: refused, nothing changes.
    assert_problem(&verdict(&w, "alice/bad.exe", &scanner(), &etag, "infected"), 412, "precondition_failed");
}

#[test]
fn verdicts_need_the_scan_scope_over_the_key_and_bind_to_the_version() {
    let w = world();
    let v1 = put(&w, "alice/doc.txt", b"first")["etag"].as_str().unwrap().to_owned();
    // The owner's own token, a token without `scan`, or one whose prefix does not cover the key.
    assert_problem(&verdict(&w, "alice/doc.txt", &alice(), &v1, "clean"), 403, "forbidden");
    let elsewhere = token("scanner", json!({"scope": "scan", "prefix": "bob/"}));
    assert_problem(&verdict(&w, "alice/doc.txt", &elsewhere, &v1, "clean"), 403, "forbidden");
    // A forged version, and a verdict for a version the key no longer serves, change nothing.
    assert_problem(&verdict(&w, "alice/doc.txt", &scanner(), "\"forged\"", "clean"), 412, "precondition_failed");
    let v2 = put(&w, "alice/doc.txt", b"second")["etag"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    assert_problem(&verdict(&w, "alice/doc.txt", &scanner(), &v1, "clean"), 412, "precondition_failed");
    assert_problem(&verdict(&w, "alice/doc.txt", &scanner(), &v1, "infected"), 412, "precondition_failed");
    assert_eq!(w.row("alice/doc.txt").unwrap().scan.as_deref(), Some("pending"), "a stale verdict changed the row");
    assert!(w.row("alice/doc.txt").is_some());
    // Malformed verdicts are 400.
    assert_problem(&verdict(&w, "alice/doc.txt", &scanner(), &v2, "maybe"), 400, "bad_request");
    let h = w.send(Req::new(Method::POST, "/files/alice/doc.txt/verdict").bearer(&scanner()).body(b"{}"));
    assert_problem(&h, 400, "bad_request");
    // A `scan` token reads nothing and writes nothing else.
    assert_problem(&w.send(Req::get("/files/alice/doc.txt").bearer(&scanner())), 403, "forbidden");
    // Without quarantine there is nothing to give a verdict on.
    let open = World::new(config());
    assert_problem(&verdict(&open, "alice/doc.txt", &scanner(), &v2, "clean"), 404, "not_found");
}

#[test]
fn every_upload_kind_records_its_version_as_pending() {
    let w = World::with_queue(config_with(&vars(&[])));
    // A small PUT announced on the queue.
    put(&w, "alice/small.txt", b"tiny");
    assert_eq!(w.row("alice/small.txt").unwrap().scan.as_deref(), Some("pending"));
    // Multipart.
    let start = w.send(Req::new(Method::POST, "/files/alice/mp.bin?uploads").bearer(&alice()).body(b"{}"));
    let id = json_body(&start.reply)["upload_id"].as_str().unwrap().to_owned();
    let part =
        w.send(Req::put(&format!("/files/alice/mp.bin?uploadId={id}&partNumber=1"), b"only part").bearer(&alice()));
    assert_eq!(part.reply.status, 200, "{:?}", part.error);
    let done =
        w.send(Req::new(Method::POST, &format!("/files/alice/mp.bin?uploadId={id}")).bearer(&alice()).body(b"{}"));
    assert_eq!(done.reply.status, 201, "{:?}", done.error);
    assert_eq!(w.row("alice/mp.bin").unwrap().scan.as_deref(), Some("pending"));
    // tus, in one request.
    let meta = format!("key {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice/t.txt"));
    let h = w.send(
        Req::new(Method::POST, "/tus/")
            .header("tus-resumable", "1.0.0")
            .bearer(&alice())
            .header("upload-metadata", &meta)
            .header("upload-length", "3")
            .header("content-type", "application/offset+octet-stream")
            .header("content-length", "3")
            .body(b"tus"),
    );
    assert_eq!(h.reply.status, 201, "{:?}", h.error);
    assert_eq!(w.row("alice/t.txt").unwrap().scan.as_deref(), Some("pending"));
    // Every event says the version is pending.
    let event = done.followup.unwrap().event;
    assert!(matches!(&event.kind, EventKind::Uploaded { scan: Some(s), .. } if s == "pending"), "{event:?}");
}

#[test]
fn the_scanners_url_in_each_delivery_reads_the_pending_version_until_it_expires_and_nothing_else() {
    let w = World::new(config_with(&vars(&[
        ("WEBHOOK_URL", "https://hooks.example/in"),
        ("WEBHOOK_SECRET", "whsec-0123456789"),
    ])));
    put(&w, "alice/scan-me.txt", b"scan me");
    let h = w.send(Req::put("/files/alice/other.txt", b"x").bearer(&alice()));
    assert_eq!(h.reply.status, 201);
    let job = {
        let h = w.send(Req::put("/files/alice/scan-me.txt", b"scan me too").bearer(&alice()));
        h.followup.unwrap()
    };
    let sender = RecordingSender::default();
    sender.status.set(200);
    let report = block_on(gateway_core::followup::post(
        &sender,
        w.config.webhook.as_ref(),
        &job.event,
        None,
        Vec::new(),
        1,
        NOW_MS,
    ));
    assert!(matches!(report.outcome, gateway_core::followup::Outcome::Delivered(_)));
    let body: Value = serde_json::from_str(&sender.sent.borrow()[0].body).unwrap();
    assert_eq!(body["scan"], "pending");
    let url = body["scan_download"]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{PUBLIC}/files/alice/scan-me.txt?")), "{url}");
    let target = url.trim_start_matches(PUBLIC);
    let h = w.send(Req::get(target).without("authorization"));
    assert_eq!(h.reply.status, 200, "{:?}", h.error);
    assert_eq!(stream_body(&h.reply), b"scan me too");
    // Not for another key, and not after it expired.
    let elsewhere = target.replace("scan-me.txt", "other.txt");
    assert_problem(&w.send(Req::get(&elsewhere).without("authorization")), 403, "invalid_signature");
    let later = NOW_MS + gateway_core::scan_link::SCAN_URL_TTL_S * 1000;
    assert_problem(&w.send_at(later, Req::get(target).without("authorization")), 403, "url_expired");
    // Once the key serves another version, the URL finds nothing.
    put(&w, "alice/scan-me.txt", b"third");
    assert_problem(&w.send(Req::get(target).without("authorization")), 404, "not_found");
    // Without quarantine no link is minted.
    let plain = scan_link(
        &(gateway_core::secret::Secret::new(URL_SECRET), url::Url::parse(PUBLIC).unwrap()),
        &gateway_core::events::Event::deleted(&w.row("alice/scan-me.txt").unwrap(), NOW_MS, "evt", None),
        NOW_MS,
    );
    assert!(plain.unwrap().is_none(), "a deletion has no scan link");
}

#[test]
fn the_sweep_deletes_or_releases_a_version_with_no_verdict_in_time() {
    for (on_timeout, served) in [("delete", false), ("release", true)] {
        let w = World::new(config_with(&vars(&[
            ("QUARANTINE_TIMEOUT_SECONDS", "60"),
            ("QUARANTINE_ON_TIMEOUT", on_timeout),
        ])));
        put(&w, "alice/late.txt", b"never scanned");
        let q = w.config.quarantine.clone().unwrap();
        let early = block_on(sweep_scans(&w.store, &w.meta, &q, NOW_MS + 60_000));
        assert_eq!(early.examined, 0, "settled before its timeout");
        let report = block_on(sweep_scans(&w.store, &w.meta, &q, NOW_MS + 60_001));
        assert_eq!(report.examined, 1);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        if served {
            assert_eq!(stream_body(&get(&w, "alice/late.txt").reply), b"never scanned");
        } else {
            assert!(w.row("alice/late.txt").is_none());
            let outbox = w.meta.outbox.borrow();
            assert!(outbox
                .values()
                .any(|(e, _)| matches!(&e.kind, EventKind::Deleted { reason: Some(r), .. } if r == "scan_timeout")));
        }
        // Running it again changes nothing.
        let again = block_on(sweep_scans(&w.store, &w.meta, &q, NOW_MS + 120_000));
        assert_eq!(again.examined, 0);
    }
}

#[test]
fn quarantine_needs_a_url_secret_and_the_public_origin_named_in_its_errors() {
    assert_names(
        &try_config(&[("JWT_SECRET", SECRET), ("QUARANTINE", "true"), ("PUBLIC_URL", PUBLIC)]).unwrap_err(),
        "URL_SIGNING_SECRET",
    );
    assert_names(
        &try_config(&[("JWT_SECRET", SECRET), ("QUARANTINE", "true"), ("URL_SIGNING_SECRET", URL_SECRET)]).unwrap_err(),
        "PUBLIC_URL",
    );
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = extra.to_vec();
        v.push(("JWT_SECRET", SECRET));
        v.extend(vars(&[]));
        try_config(&v)
    };
    assert_names(&with(&[("PUBLIC_URL", "https://uploads.example.com/files")]).unwrap_err(), "PUBLIC_URL");
    assert_names(&with(&[("QUARANTINE", "yes")]).unwrap_err(), "QUARANTINE");
    assert_names(&with(&[("QUARANTINE_ON_TIMEOUT", "keep")]).unwrap_err(), "QUARANTINE_ON_TIMEOUT");
    assert_names(&with(&[("QUARANTINE_TIMEOUT_SECONDS", "0")]).unwrap_err(), "QUARANTINE_TIMEOUT_SECONDS");
    let q = with(&[]).unwrap().quarantine.unwrap();
    assert_eq!(q.timeout_ms, 24 * 3600 * 1000);
    assert_eq!(q.on_timeout, gateway_core::config::OnTimeout::Delete);
    assert!(try_config(&[("JWT_SECRET", SECRET), ("QUARANTINE", "false")]).unwrap().quarantine.is_none());
}
