//! Upload events: every committed change records one in the outbox with its commit; it reaches
//! the queue right after the answer or, if that send fails, from the sweep, always under the
//! same id; its row goes once the consumer has it (or the sweep re-sent it); failed deliveries
//! wait longer each time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_executor::block_on;
use gateway_core::events::{dispatch, resend, retry_delay_s, Event, EventOutbox, OUTBOX_GRACE_MS};
use gateway_core::testing::MemoryQueue;
use serde_json::json;

fn outbox_ids(w: &World) -> Vec<String> {
    w.meta.outbox.borrow().keys().cloned().collect()
}

#[test]
fn a_single_put_records_its_event_with_its_commit() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    assert_eq!(outbox_ids(&w), std::slice::from_ref(&job.event.id));
    assert_eq!(job.event.type_name(), "object.uploaded");
}

#[test]
fn a_refused_upload_records_no_event() {
    let w = World::default_config();
    w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let h = w.send(
        Req::put("/files/alice/a.txt", b"again")
            .bearer(&token("alice", json!({})))
            .header("content-type", "text/plain")
            .header("if-none-match", "*"),
    );
    assert_eq!(h.reply.status, 412);
    assert!(h.followup.is_none());
    assert_eq!(outbox_ids(&w).len(), 1, "only the first upload's event");
}

#[test]
fn a_delete_records_its_event_with_the_row_removal() {
    let w = World::default_config();
    let up = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let h = w.send(Req::delete("/files/alice/a.txt").bearer(&token("alice", json!({}))));
    assert_eq!(h.reply.status, 204);
    let job = h.followup.unwrap();
    assert_eq!(job.event.type_name(), "object.deleted");
    assert_eq!((job.event.key.as_str(), job.event.etag.as_str()), ("alice/a.txt", up.event.etag.as_str()));
    assert!(outbox_ids(&w).contains(&job.event.id));
}

#[test]
fn event_ids_are_stable_per_version_and_distinct_across_versions_and_kinds() {
    let w = World::default_config();
    let first = w.upload("alice", "alice/a.txt", "text/plain", b"same bytes");
    let second = w.upload_at(NOW_MS + 1, "alice", "alice/a.txt", "text/plain", b"same bytes");
    assert_ne!(first.event.id, second.event.id, "two versions with equal bytes are two events");
    let row = w.row("alice/a.txt").unwrap();
    assert_eq!(Event::uploaded(&row).id, second.event.id, "rebuilding the event gives the same id");
    let deletion = Event::deletion_id("alice/a.txt", "req-1");
    assert_ne!(deletion, second.event.id);
    assert_eq!(deletion, Event::deletion_id("alice/a.txt", "req-1"), "a deletion's id is its request's");
    assert_ne!(deletion, Event::deletion_id("alice/a.txt", "req-2"));
    assert_ne!(deletion, Event::deletion_id("alice/b.txt", "req-1"));
}

#[test]
fn an_event_survives_its_json_and_another_version_is_not_read() {
    let w = World::default_config();
    let event = w.upload("alice", "alice/a.txt", "text/plain", b"hello").event;
    assert_eq!(Event::from_json(&event.to_json()), Some(event.clone()));
    let v2 = event.to_json().replace("\"version\":1", "\"version\":2");
    assert_eq!(Event::from_json(&v2), None);
    assert_eq!(Event::from_json("{\"type\":\"object.renamed\"}"), None);
}

#[test]
fn a_sent_event_keeps_its_row_until_the_consumer_clears_it() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let queue = MemoryQueue::default();
    let done = block_on(dispatch(&queue, std::slice::from_ref(&job.event)));
    assert_eq!((done.sent, done.problems.len()), (1, 0));
    assert_eq!(*queue.sent.borrow(), std::slice::from_ref(&job.event));
    assert_eq!(outbox_ids(&w), std::slice::from_ref(&job.event.id), "on the queue, not yet received");
    block_on(w.meta.clear_events(std::slice::from_ref(&job.event))).unwrap();
    assert!(outbox_ids(&w).is_empty());
    let early = block_on(resend(&queue, &w.meta, NOW_MS + OUTBOX_GRACE_MS + 1, 100));
    assert_eq!(early.sent, 0, "a received event is not sent again");
}

#[test]
fn an_event_the_queue_refused_stays_until_the_sweep_sends_it_under_the_same_id() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let queue = MemoryQueue::default();
    queue.down.set(true);
    let done = block_on(dispatch(&queue, std::slice::from_ref(&job.event)));
    assert_eq!(done.sent, 0);
    assert!(done.problems[0].contains("sweep"), "{:?}", done.problems);
    assert_eq!(outbox_ids(&w), std::slice::from_ref(&job.event.id));

    queue.down.set(false);
    let early = block_on(resend(&queue, &w.meta, NOW_MS + OUTBOX_GRACE_MS - 1, 100));
    assert_eq!(early.sent, 0, "the request may still be sending it");
    let swept = block_on(resend(&queue, &w.meta, NOW_MS + OUTBOX_GRACE_MS + 1, 100));
    assert_eq!(swept.sent, 1);
    assert_eq!(queue.sent.borrow()[0].id, job.event.id);
    assert!(outbox_ids(&w).is_empty());
}

#[test]
fn an_event_the_consumer_never_cleared_is_sent_again_once_with_the_same_id() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let queue = MemoryQueue::default();
    block_on(dispatch(&queue, std::slice::from_ref(&job.event)));
    let later = NOW_MS + OUTBOX_GRACE_MS + 1;
    let swept = block_on(resend(&queue, &w.meta, later, 100));
    assert_eq!(swept.sent, 1);
    block_on(resend(&queue, &w.meta, later + OUTBOX_GRACE_MS, 100));
    let ids: Vec<_> = queue.sent.borrow().iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, [job.event.id.clone(), job.event.id.clone()], "at least once, deduplicable, not every run");
}

#[test]
fn a_resent_event_whose_row_could_not_be_cleared_is_tried_again_next_run() {
    let w = World::default_config();
    let job = w.upload("alice", "alice/a.txt", "text/plain", b"hello");
    let queue = MemoryQueue::default();
    w.meta.fail_writes.set(true);
    let swept = block_on(resend(&queue, &w.meta, NOW_MS + OUTBOX_GRACE_MS + 1, 100));
    assert_eq!(swept.sent, 1);
    assert!(swept.problems[0].contains("clearing"), "{:?}", swept.problems);
    assert_eq!(outbox_ids(&w), std::slice::from_ref(&job.event.id));
}

#[test]
fn retry_delays_double_from_the_base_up_to_twelve_hours() {
    let delays: Vec<_> = (1..=6).map(|a| retry_delay_s(30, a)).collect();
    assert_eq!(delays, [30, 60, 120, 240, 480, 960]);
    assert_eq!(retry_delay_s(30, 40), 12 * 3600);
    assert_eq!(retry_delay_s(u32::MAX, 1), 12 * 3600);
}
