//! The metadata contract: what every implementation of the four metadata interfaces must do
//! for the journal-and-sweep design to hold (commits conditional on an unclaimed entry,
//! replaced versions journaled, listing order and cursors, part reservations within a limit,
//! single-use nonces, an event recorded by every commit and delete). Cases use keys of their own, so they can share one database.

use super::{cases, ensure, ok, Checked, Outcome};
use crate::events::{Event, EventOutbox};
use crate::metadata::{
    garbage_id, Commit, Condemned, Deletion, ListCursor, MetadataStore, MultipartUpload, ObjectRecord, PartAttempt,
    PendingUpload, PresignedUpload, PRESIGNED_PER_KEY, SCAN_PENDING, STATUS_COMPLETE,
};
use crate::metadata::{ChunkLease, QuotaHeld, TusAdvance, TusUpload, DEFAULT_PENDING_GRACE_MS};
use crate::multipart::rules::Part;
use crate::quota::{Quota, Reservation, Usage};
use crate::tus::plan::Chunk;

const T: i64 = 1_750_000_000_000;

fn entry(id: &str, key: &str, storage_key: &str, due_at: i64) -> PendingUpload {
    PendingUpload {
        id: id.to_owned(),
        key: key.to_owned(),
        owner: "alice".to_owned(),
        started_at: T,
        storage_key: storage_key.to_owned(),
        due_at,
    }
}

fn record(key: &str, storage_key: &str, created_at: i64) -> ObjectRecord {
    ObjectRecord {
        key: key.to_owned(),
        owner: "alice".to_owned(),
        size: 3,
        content_type: "text/plain".to_owned(),
        etag: format!("\"{storage_key}\""),
        checksum_sha256: None,
        checksum_md5: None,
        status: STATUS_COMPLETE.to_owned(),
        detected_type: None,
        type_matches: None,
        created_at,
        completed_at: Some(created_at),
        storage_key: storage_key.to_owned(),
        scan: None,
        metadata: None,
    }
}

/// The journal entries for `key` due by `now`, by id.
async fn due_for<M: MetadataStore + EventOutbox>(
    m: &M,
    key: &str,
    now: i64,
) -> std::result::Result<Vec<String>, String> {
    let due = ok(m.due_uploads(now, 1000).await, "due_uploads")?;
    Ok(due.into_iter().filter(|p| p.key == key).map(|p| p.id).collect())
}

/// Commits `storage_key` as the version of `key` through a fresh journal entry.
async fn commit<M: MetadataStore + EventOutbox>(
    m: &M,
    key: &str,
    storage_key: &str,
    at: i64,
) -> std::result::Result<Commit, String> {
    let id = format!("up-{storage_key}");
    ok(m.begin_upload(&entry(&id, key, storage_key, at + 1)).await, "begin_upload")?;
    ok(m.commit_upload(&id, &record(key, storage_key, at), false, None).await, "commit_upload")
}

/// Runs every metadata case against `meta`.
pub async fn run<M: MetadataStore + EventOutbox>(meta: &M) -> Vec<Outcome> {
    cases!(
        a_commit_makes_the_row_name_the_version_and_clears_its_entry(meta),
        a_commit_that_replaces_a_version_journals_the_old_one(meta),
        a_commit_through_a_claimed_entry_changes_nothing(meta),
        an_if_absent_commit_on_a_key_with_a_row_changes_nothing(meta),
        beginning_an_upload_twice_keeps_one_entry_and_its_claim(meta),
        due_uploads_are_the_due_entries_oldest_first_up_to_the_limit(meta),
        a_delete_removes_the_current_row_journals_its_name_and_records_its_event(meta),
        a_quarantined_version_is_cleared_or_condemned_only_by_its_own_etag(meta),
        quota_usage_counts_rows_and_reservations_and_a_reservation_past_the_limit_is_refused(meta),
        every_commit_records_its_event_and_no_refused_one_does(meta),
        unsent_events_are_those_recorded_before_the_cutoff_oldest_first(meta),
        listing_is_newest_first_by_owner_and_exact_prefix_with_a_cursor(meta),
        a_detection_is_recorded_only_on_the_version_it_was_made_for(meta),
        a_repeated_commit_of_the_same_version_replaces_nothing(meta),
        part_reservations_never_let_parts_together_exceed_the_limit(meta),
        a_failed_attempt_never_removes_or_resets_a_recorded_part(meta),
        parts_in_flight_are_listed_until_recorded_or_past_their_time(meta),
        other_parts_summarises_the_upload_without_the_part_itself(meta),
        preparing_a_part_reads_the_upload_and_summary_and_reserves_only_for_its_open_owner(meta),
        a_part_reserves_its_quota_with_its_attempt_or_not_at_all(meta),
        a_tus_lease_with_a_quota_reserves_the_chunk_with_it_or_takes_nothing(meta),
        a_tus_upload_or_a_url_with_a_quota_is_recorded_only_with_its_reservation(meta),
        a_tus_lease_taken_with_the_state_is_its_owners_at_its_offset_only(meta),
        beginning_a_tus_upload_journals_its_stored_name_and_records_it(meta),
        beginning_a_multipart_upload_journals_its_stored_name_until_after_its_expiry(meta),
        preparing_a_completion_reads_the_upload_and_parts_and_journals_only_its_open_owners(meta),
        completing_a_multipart_upload_commits_and_forgets_it(meta),
        an_ended_multipart_upload_can_no_longer_be_completed(meta),
        expired_multipart_uploads_are_listed_oldest_first(meta),
        a_presigned_upload_is_journaled_and_listed_newest_first_up_to_the_limit(meta),
        confirming_a_presigned_upload_commits_and_keeps_its_entry(meta),
        a_nonce_is_spent_once_and_purged_after_it_expires(meta),
        a_tus_lease_is_held_by_one_request_at_the_offset_until_it_runs_out(meta),
        a_tus_advance_records_only_under_its_lease_and_moves_the_offset(meta),
        finishing_a_tus_upload_commits_and_advances_only_once_the_row_names_its_object(meta),
        expired_tus_uploads_are_listed_oldest_first_and_removed_whole(meta),
        an_announced_commit_applies_only_before_its_deadline_by_the_database_clock(meta),
        an_announced_commit_is_refused_once_its_entry_is_claimed_or_the_key_taken(meta),
        a_journaled_commit_with_a_deadline_applies_only_before_it(meta),
        a_replaced_or_deleted_announced_version_keeps_a_copy_until_purged(meta),
    )
}

async fn a_commit_makes_the_row_name_the_version_and_clears_its_entry<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let key = "contract/commit";
    let got = commit(m, key, "contract/commit~v1", T).await?;
    ensure!(got == Commit::Committed { replaced: None }, "a first commit answered {got:?}");
    let row = ok(m.get(key).await, "get")?.ok_or("no row after the commit")?;
    ensure!(row == record(key, "contract/commit~v1", T), "the row differs from the record: {row:?}");
    ensure!(due_for(m, key, T + 10).await?.is_empty(), "the commit left its journal entry");
    Ok(())
}

async fn a_commit_that_replaces_a_version_journals_the_old_one<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/replace";
    commit(m, key, "contract/replace~v1", T).await?;
    let got = commit(m, key, "contract/replace~v2", T + 1).await?;
    let replaced = Some("contract/replace~v1".to_owned());
    ensure!(got == Commit::Committed { replaced }, "the second commit answered {got:?}");
    let row = ok(m.get(key).await, "get")?.ok_or("no row")?;
    ensure!(row.storage_key == "contract/replace~v2", "the row names {}", row.storage_key);
    let due = due_for(m, key, T + 10).await?;
    ensure!(due == vec![garbage_id("contract/replace~v1")], "the replaced version's entry: {due:?}");
    Ok(())
}

async fn a_commit_through_a_claimed_entry_changes_nothing<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/claimed";
    ok(m.begin_upload(&entry("up-claimed", key, "contract/claimed~v1", T)).await, "begin_upload")?;
    ensure!(ok(m.claim_upload(key, "up-claimed").await, "claim_upload")?, "the entry could not be claimed");
    let got = ok(m.commit_upload("up-claimed", &record(key, "contract/claimed~v1", T), false, None).await, "commit")?;
    ensure!(got == Commit::Claimed, "a commit through a claimed entry answered {got:?}");
    ensure!(ok(m.get(key).await, "get")?.is_none(), "a commit through a claimed entry wrote a row");
    let gone = ok(m.commit_upload("never-begun", &record(key, "contract/claimed~v2", T), false, None).await, "commit")?;
    ensure!(gone == Commit::Claimed, "a commit without an entry answered {gone:?}");
    ok(m.abandon_upload(key, "up-claimed").await, "abandon_upload")?;
    ensure!(!ok(m.claim_upload(key, "up-claimed").await, "claim_upload")?, "an abandoned entry was claimed");
    Ok(())
}

async fn an_if_absent_commit_on_a_key_with_a_row_changes_nothing<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/if-absent";
    commit(m, key, "contract/if-absent~v1", T).await?;
    ok(m.begin_upload(&entry("up-if-absent", key, "contract/if-absent~v2", T + 5)).await, "begin_upload")?;
    let got =
        ok(m.commit_upload("up-if-absent", &record(key, "contract/if-absent~v2", T), true, None).await, "commit")?;
    ensure!(got == Commit::KeyExists, "an if_absent commit on a key with a row answered {got:?}");
    let row = ok(m.get(key).await, "get")?.ok_or("no row")?;
    ensure!(row.storage_key == "contract/if-absent~v1", "the row now names {}", row.storage_key);
    ensure!(due_for(m, key, T + 10).await? == vec!["up-if-absent"], "the refused upload's entry must stay");
    Ok(())
}

async fn beginning_an_upload_twice_keeps_one_entry_and_its_claim<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/twice";
    let e = entry("up-twice", key, "contract/twice~v1", T);
    ok(m.begin_upload(&e).await, "begin_upload")?;
    ensure!(ok(m.claim_upload(key, "up-twice").await, "claim_upload")?, "the entry could not be claimed");
    ok(m.begin_upload(&e).await, "a retried begin_upload")?;
    ensure!(due_for(m, key, T).await? == vec!["up-twice"], "a retried begin_upload duplicated the entry");
    let got = ok(m.commit_upload("up-twice", &record(key, "contract/twice~v1", T), false, None).await, "commit")?;
    ensure!(got == Commit::Claimed, "a retried begin_upload lifted the claim: {got:?}");
    Ok(())
}

async fn due_uploads_are_the_due_entries_oldest_first_up_to_the_limit<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let key = "contract/due";
    for (id, due) in [("due-b", T + 200), ("due-a", T + 100), ("due-later", T + 900)] {
        ok(m.begin_upload(&entry(id, key, &format!("{key}~{id}"), due)).await, "begin_upload")?;
    }
    ensure!(due_for(m, key, T + 500).await? == vec!["due-a", "due-b"], "entries due by then, oldest first");
    ensure!(due_for(m, key, T + 99).await?.is_empty(), "an entry was listed before it was due");
    let first = ok(m.due_uploads(T + 500, 1).await, "due_uploads")?;
    ensure!(first.len() == 1, "a limit of 1 listed {} entries", first.len());
    Ok(())
}

async fn a_delete_removes_the_current_row_journals_its_name_and_records_its_event<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let key = "contract/delete";
    commit(m, key, "contract/delete~v1", T).await?;
    commit(m, key, "contract/delete~v2", T + 1).await?;
    let v2 = record(key, "contract/delete~v2", T + 1);
    // A delete that began before v2 was created leaves it.
    let early = ok(m.delete_key(key, T, "evt_contract_delete_early", None).await, "delete_key")?;
    ensure!(early == Deletion::Newer, "a delete older than the version answered {early:?}");
    ensure!(ok(m.get(key).await, "get")?.is_some(), "a delete older than the version removed it");
    ensure!(outboxed(m, "evt_contract_delete_early").await?.is_none(), "a refused delete recorded an event");
    ensure!(!due_for(m, key, T + 3).await?.contains(&garbage_id("contract/delete~v2")), "a refused delete journaled");
    let removed = ok(m.delete_key(key, T + 3, "evt_contract_delete", None).await, "delete_key")?;
    ensure!(
        removed == Deletion::Removed(Box::new(v2.clone())),
        "the delete did not return the row it removed: {removed:?}"
    );
    ensure!(ok(m.get(key).await, "get")?.is_none(), "the row survived its delete");
    let due = due_for(m, key, T + 3).await?;
    ensure!(due.contains(&garbage_id("contract/delete~v2")), "the deleted version was not journaled: {due:?}");
    let event = Event::deleted(&v2, T + 3, "evt_contract_delete", None);
    ensure!(outboxed(m, &event.id).await? == Some(event), "the delete's event is not in the outbox as written");
    let again = ok(m.delete_key(key, T + 4, "evt_contract_delete_2", None).await, "delete_key")?;
    ensure!(again == Deletion::NoRow, "a second delete answered {again:?}");
    ensure!(outboxed(m, "evt_contract_delete_2").await?.is_none(), "a delete of no row recorded an event");
    Ok(())
}

async fn a_quarantined_version_is_cleared_or_condemned_only_by_its_own_etag<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let (key, other) = ("contract/scan", "contract/scan-other");
    for (k, at) in [(key, T), (other, T + 1)] {
        let name = format!("{k}~v1");
        let id = format!("up-{name}");
        ok(m.begin_upload(&entry(&id, k, &name, at + 1)).await, "begin_upload")?;
        let metadata = Some(r#"{"by":"hook"}"#.to_owned());
        let rec = ObjectRecord { scan: Some(SCAN_PENDING.to_owned()), metadata, ..record(k, &name, at) };
        ok(m.commit_upload(&id, &rec, false, None).await, "commit_upload")?;
    }
    let pending = ok(m.get(key).await, "get")?.ok_or("no row")?;
    ensure!(pending.scan.as_deref() == Some(SCAN_PENDING), "the row lost its scan: {:?}", pending.scan);
    ensure!(
        pending.metadata.as_deref() == Some(r#"{"by":"hook"}"#),
        "the row lost its metadata: {:?}",
        pending.metadata
    );
    let event = Event::uploaded(&pending);
    ensure!(
        outboxed(m, &event.id).await? == Some(event),
        "the pending version's event is not in the outbox as written"
    );
    let overdue = ok(m.overdue_scans(T + 1, 10).await, "overdue_scans")?;
    ensure!(overdue.iter().map(|r| r.key.as_str()).collect::<Vec<_>>() == [key], "overdue before T+1: {overdue:?}");
    let both = ok(m.overdue_scans(T + 2, 10).await, "overdue_scans")?;
    ensure!(both.len() == 2 && both[0].key == key, "overdue before T+2, oldest first: {both:?}");
    // Another ETag clears nothing; the version's own does, and again changes nothing.
    let wrong = ok(m.clear_scan(key, "\"another\"").await, "clear_scan")?;
    ensure!(wrong.as_ref().is_some_and(|r| r.scan.is_some()), "another version's verdict cleared the row");
    let cleared = ok(m.clear_scan(key, &pending.etag).await, "clear_scan")?.ok_or("no row after clearing")?;
    ensure!(cleared.scan.is_none() && cleared.etag == pending.etag, "the row was not cleared: {cleared:?}");
    ensure!(
        ok(m.clear_scan(key, &pending.etag).await, "clear_scan")?.is_some_and(|r| r.scan.is_none()),
        "cleared twice"
    );
    ensure!(ok(m.overdue_scans(T + 2, 10).await, "overdue_scans")?.len() == 1, "a cleared version is still overdue");
    // Condemning another ETag removes nothing; its own removes the row, with the reason.
    let wrong = Condemned { etag: "\"another\"", reason: "infected" };
    let kept = ok(m.delete_key(other, T + 5, "evt_contract_scan_wrong", Some(wrong)).await, "delete_key")?;
    ensure!(kept == Deletion::Newer, "condemning another version answered {kept:?}");
    ensure!(ok(m.get(other).await, "get")?.is_some(), "condemning another version removed the row");
    let row = ok(m.get(other).await, "get")?.ok_or("no row")?;
    let condemned = Condemned { etag: &row.etag, reason: "infected" };
    let removed = ok(m.delete_key(other, T + 5, "evt_contract_scan", Some(condemned)).await, "delete_key")?;
    ensure!(removed == Deletion::Removed(Box::new(row.clone())), "condemning its version answered {removed:?}");
    let event = Event::deleted(&row, T + 5, "evt_contract_scan", Some("infected"));
    ensure!(outboxed(m, "evt_contract_scan").await? == Some(event), "the condemned version's event is not as written");
    Ok(())
}

async fn quota_usage_counts_rows_and_reservations_and_a_reservation_past_the_limit_is_refused<
    M: MetadataStore + EventOutbox,
>(
    m: &M,
) -> Checked {
    // The owner of the keys' namespace: on shards, its ledger is the keys' own shard
    // (`gateway_core::shard::ledger` covers an owner writing elsewhere).
    let owner = "contract";
    let key = "contract/quota";
    let usage = |at| async move { ok(m.usage(owner, "contract/", at).await, "usage") };
    let quota = Quota { bytes: Some(10), objects: Some(2) };
    let reserve = |id: &'static str, k: &'static str, bytes, objects, replaces| async move {
        let r = Reservation { id, owner, key: k, bytes, objects, until_ms: T + 100, replaces };
        ok(m.reserve_quota(&r, &quota, T).await, "reserve_quota")
    };
    // Reservations count until released or lapsed; one past either limit is refused whole.
    ensure!(reserve("q1", key, 6, 1, true).await?, "a reservation within the quota was refused");
    ensure!(!reserve("q2", "contract/quota2", 5, 1, true).await?, "a reservation past the byte limit was made");
    ensure!(
        usage(T).await? == Usage { reserved_bytes: 6, reserved_objects: 1, ..Usage::default() },
        "usage: {:?}",
        usage(T).await?
    );
    ensure!(usage(T + 100).await?.reserved_bytes == 0, "a lapsed reservation still counts");
    // The commit that records the write removes its reservation in the same transaction, and
    // the row counts instead.
    let name = "contract/quota~v1";
    ok(m.begin_upload(&entry("q1", key, name, T + 1)).await, "begin_upload")?;
    let rec = ObjectRecord { owner: owner.to_owned(), size: 6, ..record(key, name, T) };
    ok(m.commit_upload("q1", &rec, false, None).await, "commit_upload")?;
    ensure!(
        usage(T).await? == Usage { bytes: 6, objects: 1, ..Usage::default() },
        "after the commit: {:?}",
        usage(T).await?
    );
    // An overwrite of the owner's own version counts the difference: 6 → 9 fits a limit of 10.
    ensure!(reserve("q3", key, 9, 1, true).await?, "an overwrite within the quota was refused");
    ensure!(!reserve("q4", "contract/quota3", 5, 1, false).await?, "a part past the limit was reserved");
    ok(m.release_quota(key, "q3").await, "release_quota")?;
    ensure!(usage(T).await?.reserved_bytes == 0, "a released reservation still counts");
    // Objects: one more fits, then none.
    ensure!(reserve("q5", "contract/quota4", 0, 1, true).await?, "an object within the quota was refused");
    ensure!(!reserve("q6", "contract/quota5", 0, 1, true).await?, "an object past the limit was reserved");
    // A delete frees what the row took.
    ok(m.release_quota("contract/quota4", "q5").await, "release_quota")?;
    ok(m.delete_key(key, T + 5, "evt_contract_quota", None).await, "delete_key")?;
    ensure!(usage(T).await? == Usage::default(), "after the delete: {:?}", usage(T).await?);
    let drift = ok(m.reconcile_usage(100, T + 1000).await, "reconcile_usage")?;
    ensure!(drift.is_empty(), "the triggers' usage drifted from the rows: {drift:?}");
    Ok(())
}

/// The outbox's event `id`, if it is there.
async fn outboxed<M: MetadataStore + EventOutbox>(m: &M, id: &str) -> std::result::Result<Option<Event>, String> {
    let all = ok(m.unsent_events(i64::MAX, 100_000).await, "unsent_events")?;
    Ok(all.into_iter().find(|e| e.id == id))
}

async fn every_commit_records_its_event_and_no_refused_one_does<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/events";
    commit(m, key, "contract/events~v1", T).await?;
    let event = Event::uploaded(&record(key, "contract/events~v1", T));
    ensure!(outboxed(m, &event.id).await? == Some(event.clone()), "the commit's event is not in the outbox as written");
    ok(m.begin_upload(&entry("up-events-2", key, "contract/events~v2", T + 5)).await, "begin_upload")?;
    let refused =
        ok(m.commit_upload("up-events-2", &record(key, "contract/events~v2", T + 1), true, None).await, "commit")?;
    ensure!(refused == Commit::KeyExists, "the if-absent commit answered {refused:?}");
    let none = Event::uploaded(&record(key, "contract/events~v2", T + 1));
    ensure!(outboxed(m, &none.id).await?.is_none(), "a commit that changed nothing recorded an event");
    let claimed =
        ok(m.commit_upload("never-begun-events", &record(key, "contract/events~v3", T), false, None).await, "commit")?;
    ensure!(claimed == Commit::Claimed, "a commit without an entry answered {claimed:?}");
    let none = Event::uploaded(&record(key, "contract/events~v3", T));
    ensure!(outboxed(m, &none.id).await?.is_none(), "a claimed commit recorded an event");
    commit(m, "contract/events-b", "contract/events-b~v1", T).await?;
    let other = Event::uploaded(&record("contract/events-b", "contract/events-b~v1", T));
    ok(
        m.clear_events(&[event.clone(), other.clone(), Event::uploaded(&record(key, "contract/never-recorded~v1", T))])
            .await,
        "clear_events",
    )?;
    ensure!(outboxed(m, &event.id).await?.is_none(), "a cleared event is still in the outbox");
    ensure!(outboxed(m, &other.id).await?.is_none(), "the second cleared event is still in the outbox");
    ok(m.clear_events(std::slice::from_ref(&event)).await, "clearing an event twice")?;
    ok(m.clear_events(&[]).await, "clearing no event")
}

async fn unsent_events_are_those_recorded_before_the_cutoff_oldest_first<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let at = T - 1_000_000;
    for (name, when) in [("b", at + 20), ("a", at + 10), ("later", T + 99_999)] {
        commit(m, &format!("contract/outbox-{name}"), &format!("contract/outbox-{name}~v"), when).await?;
    }
    let listed = ok(m.unsent_events(at + 21, 100).await, "unsent_events")?;
    let keys: Vec<_> = listed.iter().map(|e| e.key.as_str()).filter(|k| k.starts_with("contract/outbox-")).collect();
    ensure!(keys == ["contract/outbox-a", "contract/outbox-b"], "listed {keys:?}");
    let first = ok(m.unsent_events(at + 21, 1).await, "unsent_events")?;
    ensure!(first.len() == 1, "a limit of 1 listed {} events", first.len());
    Ok(())
}

async fn listing_is_newest_first_by_owner_and_exact_prefix_with_a_cursor<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    for (key, at) in [("list%/a", T), ("list%/b", T + 1), ("list%/c", T + 1), ("list%/d", T + 2), ("listX/e", T + 3)] {
        commit(m, key, &format!("{key}~v"), at).await?;
    }
    ok(m.begin_upload(&entry("up-list-bob", "list%/bob", "list%/bob~v", T + 9)).await, "begin_upload")?;
    let mut bobs = record("list%/bob", "list%/bob~v", T + 9);
    bobs.owner = "bob".to_owned();
    ok(m.commit_upload("up-list-bob", &bobs, false, None).await, "commit_upload")?;
    let keys = |rows: Vec<ObjectRecord>| rows.into_iter().map(|r| r.key).collect::<Vec<_>>();
    let page = keys(ok(m.list("alice", "list%/", 3, None).await, "list")?);
    ensure!(page == ["list%/d", "list%/c", "list%/b"], "the first page: {page:?}");
    let cursor = ListCursor { created_at: T + 1, key: "list%/b".to_owned() };
    let rest = keys(ok(m.list("alice", "list%/", 3, Some(&cursor)).await, "list")?);
    ensure!(rest == ["list%/a"], "the page after the cursor: {rest:?}");
    let literal = keys(ok(m.list("alice", "list_", 10, None).await, "list")?);
    ensure!(literal.is_empty(), "`_` in a prefix matched as a wildcard: {literal:?}");
    Ok(())
}

async fn a_detection_is_recorded_only_on_the_version_it_was_made_for<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/detect";
    commit(m, key, "contract/detect~v1", T).await?;
    // An older version with the same bytes has the same ETag: only the stored name tells them apart.
    ok(m.record_detection(key, "contract/detect~v0", Some("image/png"), Some(false)).await, "record_detection")?;
    let row = ok(m.get(key).await, "get")?.ok_or("no row")?;
    ensure!(row.detected_type.is_none(), "a verdict for another version was recorded");
    ok(m.record_detection(key, "contract/detect~v1", Some("text/plain"), Some(true)).await, "record_detection")?;
    let row = ok(m.get(key).await, "get")?.ok_or("no row")?;
    ensure!(row.detected_type.as_deref() == Some("text/plain"), "detected {:?}", row.detected_type);
    ensure!(row.type_matches == Some(true), "type_matches {:?}", row.type_matches);
    Ok(())
}

/// A multipart or tus upload's id as the gateway makes it: naming the shard of its key
/// ([`crate::shard::Layout::routed_id`]), which sharded metadata routes by.
fn upload_id(raw: &str) -> String {
    crate::shard::Layout::default().routed_id("contract/", raw)
}

fn upload(id: &str, expires_at: i64) -> MultipartUpload {
    MultipartUpload {
        id: id.to_owned(),
        key: format!("contract/{id}"),
        owner: "alice".to_owned(),
        store_upload_id: format!("store-{id}"),
        content_type: "video/mp4".to_owned(),
        declared_size: Some(100),
        created_at: T,
        expires_at,
        storage_key: format!("contract/{id}~v"),
        // An approval hook's limit and metadata: read back as written.
        max_size: Some(1 << 20),
        metadata: Some(r#"{"team":"a"}"#.to_owned()),
    }
}

fn part(number: u16, size: u64) -> Part {
    Part { number, size, etag: format!("\"p{number}\"") }
}

fn attempt(id: &str, attempt: &str, number: u16, size: u64) -> PartAttempt {
    PartAttempt { upload_id: id.to_owned(), attempt: attempt.to_owned(), number, size, until_ms: T + 100 }
}

async fn part_reservations_never_let_parts_together_exceed_the_limit<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let id = upload_id("mp-reserve");
    let id = id.as_str();
    ok(m.create_multipart(&upload(id, T + 1000)).await, "create_multipart")?;
    ensure!(ok(m.multipart(id).await, "multipart")? == Some(upload(id, T + 1000)), "the upload reads back differently");
    let fits = |a: PartAttempt| async move { ok(m.reserve_part(&a, 100, T).await, "reserve_part") };
    ensure!(fits(attempt(id, "a1", 1, 60)).await?, "a part within the limit was refused");
    ensure!(!fits(attempt(id, "a2", 2, 41)).await?, "two parts together exceed the limit");
    ensure!(fits(attempt(id, "a2", 2, 40)).await?, "two parts exactly at the limit were refused");
    ensure!(fits(attempt(id, "a3", 1, 60)).await?, "a second attempt of a part counts it twice");
    ensure!(!fits(attempt(id, "a4", 1, 61)).await?, "a larger attempt of a part may be the one that stays");
    ok(m.record_part(id, "a1", &part(1, 60)).await, "record_part")?;
    ok(m.release_part(id, "a2").await, "release_part")?;
    ok(m.release_part(id, "a3").await, "release_part")?;
    let mut parts = ok(m.parts(id, T).await, "parts")?;
    parts.sort_by_key(|p| p.number);
    ensure!(parts == vec![part(1, 60)], "release removed a recorded part or kept an in-flight one: {parts:?}");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    ensure!(ok(m.multipart(id).await, "multipart")?.is_none(), "a removed upload is still there");
    ensure!(ok(m.parts(id, T).await, "parts")?.is_empty(), "a removed upload kept its parts");
    Ok(())
}

/// The reproduced loss: part 3 was recorded and acknowledged, a re-send of it was cut off, and
/// the re-send's release deleted the recorded part, so the completion assembled two parts.
async fn a_failed_attempt_never_removes_or_resets_a_recorded_part<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let id = upload_id("mp-resend");
    let id = id.as_str();
    ok(m.create_multipart(&upload(id, T + 1000)).await, "create_multipart")?;
    ok(m.reserve_part(&attempt(id, "first", 3, 30), 100, T).await, "reserve_part")?;
    ok(m.record_part(id, "first", &part(3, 30)).await, "record_part")?;
    ensure!(ok(m.reserve_part(&attempt(id, "again", 3, 30), 100, T).await, "reserve_part")?, "the re-send was refused");
    let parts = ok(m.parts(id, T).await, "parts")?;
    ensure!(parts == vec![part(3, 30)], "a re-send in flight reset the recorded part: {parts:?}");
    ok(m.release_part(id, "again").await, "release_part")?;
    let parts = ok(m.parts(id, T).await, "parts")?;
    ensure!(parts == vec![part(3, 30)], "the failed re-send removed the recorded part: {parts:?}");
    let o = ok(m.other_parts(id, 1).await, "other_parts")?;
    ensure!((o.count, o.bytes) == (1, 30), "the counters lost the recorded part: {o:?}");
    // A late attempt that did store its part replaces the recorded one, as the store does.
    ok(m.reserve_part(&attempt(id, "late", 3, 20), 100, T).await, "reserve_part")?;
    ok(m.record_part(id, "late", &part(3, 20)).await, "record_part")?;
    ensure!(ok(m.parts(id, T).await, "parts")? == vec![part(3, 20)], "the late attempt's part was not recorded");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    Ok(())
}

async fn parts_in_flight_are_listed_until_recorded_or_past_their_time<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let id = upload_id("mp-inflight");
    let id = id.as_str();
    ok(m.create_multipart(&upload(id, T + 1000)).await, "create_multipart")?;
    ok(m.record_part(id, "r1", &part(1, 10)).await, "record_part")?;
    ok(m.reserve_part(&attempt(id, "r1b", 1, 10), 100, T).await, "reserve_part")?;
    ok(m.reserve_part(&attempt(id, "r2", 2, 7), 100, T).await, "reserve_part")?;
    let in_flight = Part { number: 2, size: 7, etag: String::new() };
    let parts = ok(m.parts(id, T).await, "parts")?;
    ensure!(parts == vec![part(1, 10), in_flight], "recorded part 1 and part 2 in flight, not {parts:?}");
    let parts = ok(m.parts(id, T + 100).await, "parts")?;
    ensure!(parts == vec![part(1, 10)], "an attempt past its time is still listed: {parts:?}");
    let whole = attempt(id, "r3", 3, 90);
    ensure!(ok(m.reserve_part(&whole, 100, T + 100).await, "reserve_part")?, "an attempt past its time still counts");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    Ok(())
}

async fn other_parts_summarises_the_upload_without_the_part_itself<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let id = upload_id("mp-others");
    let id = id.as_str();
    ok(m.create_multipart(&upload(id, T + 1000)).await, "create_multipart")?;
    for p in [part(1, 10), part(2, 10), part(5, 3)] {
        ok(m.record_part(id, "a", &p).await, "record_part")?;
    }
    let o = ok(m.other_parts(id, 2).await, "other_parts")?;
    ensure!((o.count, o.bytes, o.highest, o.common) == (2, 13, Some((5, 3)), Some(10)), "without part 2: {o:?}");
    let o = ok(m.other_parts(id, 9).await, "other_parts")?;
    ensure!((o.count, o.bytes) == (3, 23), "without a part not yet sent: {o:?}");
    ok(m.record_part(id, "b", &part(5, 4)).await, "record_part again")?;
    let o = ok(m.other_parts(id, 1).await, "other_parts")?;
    ensure!((o.count, o.bytes, o.highest) == (2, 14, Some((5, 4))), "a re-sent part replaces the old: {o:?}");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    Ok(())
}

/// The bytes `owner` has in flight in `key`'s database (on shards, an owner's home also keeps
/// copies of its reservations elsewhere until their end is reported).
async fn in_flight_bytes<M: MetadataStore>(m: &M, owner: &str, key: &str) -> std::result::Result<u64, String> {
    ok(m.usage(owner, key, T).await, "usage").map(|u| u.reserved_bytes)
}

/// A bytes quota with room for `extra` more bytes of `owner` writing to `key`, as both the key's
/// database and the owner's ledger count them (on shards they differ until reports arrive).
async fn bytes_room<M: MetadataStore>(m: &M, owner: &str, key: &str, extra: u64) -> std::result::Result<Quota, String> {
    let total = |u: Usage| u.bytes + u.reserved_bytes;
    let here = total(ok(m.usage(owner, key, T).await, "usage")?);
    let ledger = total(ok(m.usage_checked(owner, key, T).await, "usage_checked")?);
    Ok(Quota { bytes: Some(here.max(ledger) + extra), objects: None })
}

/// For an owner at home in the key's database (`contract`) and one whose quota ledger may be
/// another (`alice`, on shards): the quota reservation and the attempt are made together.
async fn a_part_reserves_its_quota_with_its_attempt_or_not_at_all<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    for owner in ["contract", "alice"] {
        let id = upload_id(&format!("mp-quota-{owner}"));
        let id = id.as_str();
        let u = MultipartUpload { owner: owner.to_owned(), ..upload(id, T + 1000) };
        ok(m.create_multipart(&u).await, "create_multipart")?;
        let key = u.key.as_str();
        let in_flight = || in_flight_bytes(m, owner, key);
        let before = in_flight().await?;
        let fits = bytes_room(m, owner, key, 40).await?;
        let prepare = |a: PartAttempt, limit: u64| async move {
            ok(m.prepare_part(&a, key, owner, limit, Some(&fits), T).await, "prepare_part")
        };
        let p = prepare(attempt(id, "q1", 1, 30), 100).await?;
        ensure!(p.reserved && !p.over_quota && p.upload.is_some(), "{owner}: a part within the quota: {p:?}");
        ensure!(in_flight().await? == before + 30, "{owner}: the part's bytes are not reserved against the quota");
        let p = prepare(attempt(id, "q2", 2, 20), 100).await?;
        ensure!(!p.reserved && p.over_quota, "{owner}: a part past the quota was reserved: {p:?}");
        let p = prepare(attempt(id, "q3", 2, 5), 32).await?;
        ensure!(!p.reserved && !p.over_quota, "{owner}: a part past the upload's limit was reserved: {p:?}");
        ensure!(in_flight().await? == before + 30, "{owner}: a refused part left its quota reservation");
        ok(m.release_part(id, "q1").await, "release_part")?;
        ensure!(in_flight().await? == before, "{owner}: releasing the attempt left its quota reservation");
        ok(m.remove_multipart(id).await, "remove_multipart")?;
    }
    Ok(())
}

async fn preparing_a_part_reads_the_upload_and_summary_and_reserves_only_for_its_open_owner<
    M: MetadataStore + EventOutbox,
>(
    m: &M,
) -> Checked {
    let id = upload_id("mp-prepare");
    let id = id.as_str();
    let u = upload(id, T + 1000);
    ok(m.create_multipart(&u).await, "create_multipart")?;
    ok(m.record_part(id, "a", &part(1, 60)).await, "record_part")?;
    let key = u.key.as_str();
    let prepare = |a: PartAttempt, key: String, owner: &'static str, now: i64| async move {
        ok(m.prepare_part(&a, &key, owner, 100, None, now).await, "prepare_part")
    };
    let p = prepare(attempt(id, "p1", 2, 30), key.to_owned(), "alice", T).await?;
    ensure!(p.upload.as_ref() == Some(&u), "the upload reads back differently: {:?}", p.upload);
    ensure!((p.others.count, p.others.bytes) == (1, 60), "the summary: {:?}", p.others);
    ensure!(p.reserved, "a part within the limit of the owner's open upload was not reserved");
    ensure!(!prepare(attempt(id, "p2", 3, 11), key.to_owned(), "alice", T).await?.reserved, "the limit was not kept");
    let p = prepare(attempt(id, "p3", 3, 5), key.to_owned(), "mallory", T).await?;
    ensure!(p.upload.is_some() && !p.reserved, "another caller's part was reserved");
    let elsewhere = "contract/elsewhere".to_owned();
    ensure!(
        !prepare(attempt(id, "p4", 3, 5), elsewhere, "alice", T).await?.reserved,
        "another key's part was reserved"
    );
    let expired = prepare(attempt(id, "p5", 3, 5), key.to_owned(), "alice", T + 1000).await?;
    ensure!(!expired.reserved, "an expired upload's part was reserved");
    let gone = upload_id("mp-prepare-none");
    let p = prepare(attempt(&gone, "p6", 1, 5), key.to_owned(), "alice", T).await?;
    ensure!(p.upload.is_none() && !p.reserved, "a part of no upload was reserved");
    ok(m.release_part(id, "p1").await, "release_part")?;
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    Ok(())
}

/// For an owner at home in the upload's database (`contract`) and one whose quota ledger may
/// be another (`alice`, on shards): a lease that reserves the chunk's bytes takes both or
/// neither; one that does not leaves the reservation to the caller.
async fn a_tus_lease_with_a_quota_reserves_the_chunk_with_it_or_takes_nothing<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    for owner in ["contract", "alice"] {
        let id = upload_id(&format!("tus-quota-{owner}"));
        let id = id.as_str();
        let u = TusUpload { owner: owner.to_owned(), ..tus_upload(id, T + 100_000) };
        ok(m.create_tus(&u).await, "create_tus")?;
        let key = u.key.as_str();
        let in_flight = || in_flight_bytes(m, owner, key);
        let before = in_flight().await?;
        let fits = bytes_room(m, owner, key, 40).await?;
        let ask =
            |lease, offset, bytes| ChunkLease { id, owner, offset, lease, until_ms: T + 50, bytes, quota: Some(&fits) };
        let over = ok(m.lease_loaded(&ask("q1", 0, 50), T).await, "lease_loaded")?;
        // At home, the reservation is always made with the lease; elsewhere it may be left to
        // the caller, who would then reserve the bytes and be refused.
        let at_home = owner == "contract";
        match over.quota {
            QuotaHeld::NotHeld if !at_home => ok(m.release_tus(id, "q1").await, "release_tus")?,
            _ => {
                ensure!(over.quota == QuotaHeld::Exceeded && !over.leased, "{owner}: a chunk past the quota: {over:?}")
            }
        }
        let wrong = ok(m.lease_loaded(&ask("q2", 9, 30), T).await, "lease_loaded")?;
        ensure!(!wrong.leased && wrong.quota != QuotaHeld::Reserved, "{owner}: a lease at the wrong offset: {wrong:?}");
        ensure!(in_flight().await? == before, "{owner}: a lease not taken left a reservation");
        let taken = ok(m.lease_loaded(&ask("q3", 0, 30), T).await, "lease_loaded")?;
        ensure!(taken.leased && taken.state.is_some(), "{owner}: the lease within the quota was not taken: {taken:?}");
        ensure!(taken.quota == QuotaHeld::Reserved || !at_home, "{owner}: not reserved with the lease: {taken:?}");
        let reserved = if taken.quota == QuotaHeld::Reserved { 30 } else { 0 };
        ensure!(in_flight().await? == before + reserved, "{owner}: the reservation is not what the lease says");
        ok(m.release_tus(id, "q3").await, "release_tus")?;
        ensure!(in_flight().await? == before, "{owner}: giving the lease back left its reservation");
        ok(m.remove_tus(id).await, "remove_tus")?;
    }
    Ok(())
}

/// For an owner at home in the key's database (`contract`) and one whose quota ledger may be
/// another (`alice`, on shards): a tus upload or a direct upload URL recorded with a quota is
/// recorded with its reservation, or neither is made.
async fn a_tus_upload_or_a_url_with_a_quota_is_recorded_only_with_its_reservation<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    for owner in ["contract", "alice"] {
        let id = upload_id(&format!("tus-begin-quota-{owner}"));
        let u = TusUpload { owner: owner.to_owned(), ..tus_upload(&id, T + 100_000) };
        let key = u.key.as_str();
        let objects = || async { ok(m.usage(owner, key, T).await, "usage").map(|u| u.reserved_objects) };
        let before = objects().await?;
        let ledger = ok(m.usage_checked(owner, key, T).await, "usage_checked")?;
        let here = ok(m.usage(owner, key, T).await, "usage")?;
        let stored = |u: Usage| u.objects + u.reserved_objects;
        let room = stored(ledger).max(stored(here));
        let (full, fits) = (Quota { bytes: None, objects: Some(room) }, Quota { bytes: None, objects: Some(room + 1) });
        let object = |id| Reservation { id, owner, key, bytes: 0, objects: 1, until_ms: T + 100_000, replaces: true };
        let entry = PendingUpload { owner: owner.to_owned(), ..entry(&id, key, &u.storage_key, T + 5) };
        let r = object(&id);
        ensure!(!ok(m.begin_tus(&u, &entry, Some((&r, &full)), T).await, "begin_tus")?, "{owner}: past the quota");
        ensure!(ok(m.tus(&id).await, "tus")?.is_none(), "{owner}: a tus upload past the quota was recorded");
        ensure!(objects().await? == before, "{owner}: a refused tus upload left a reservation");
        ensure!(ok(m.begin_tus(&u, &entry, Some((&r, &fits)), T).await, "begin_tus")?, "{owner}: within the quota");
        ensure!(ok(m.tus(&id).await, "tus")?.is_some(), "{owner}: the tus upload was not recorded");
        ensure!(objects().await? == before + 1, "{owner}: the tus upload's object is not reserved");
        ok(m.remove_tus(&id).await, "remove_tus")?;
        ok(m.abandon_upload(key, &id).await, "abandon_upload")?;
        ensure!(objects().await? == before, "{owner}: removing the tus upload left its reservation");

        let p = PresignedUpload { owner: owner.to_owned(), ..presigned(&format!("nonce-quota-{owner}"), key, T) };
        let r = object(&p.nonce);
        ensure!(!ok(m.record_presigned(&p, T + 1000, Some((&r, &full)), T).await, "record_presigned")?, "{owner}: URL");
        ensure!(
            ok(m.presigned(key, owner).await, "presigned")?.is_empty(),
            "{owner}: a URL past the quota was recorded"
        );
        ensure!(objects().await? == before, "{owner}: a refused URL left a reservation");
        ensure!(
            ok(m.record_presigned(&p, T + 1000, Some((&r, &fits)), T).await, "record_presigned")?,
            "{owner}: URL fits"
        );
        ensure!(ok(m.presigned(key, owner).await, "presigned")?.len() == 1, "{owner}: the URL was not recorded");
        ensure!(objects().await? == before + 1, "{owner}: the URL's object is not reserved");
        ok(m.release_quota(key, &p.nonce).await, "release_quota")?;
    }
    Ok(())
}

async fn a_tus_lease_taken_with_the_state_is_its_owners_at_its_offset_only<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let id = upload_id("tusloaded");
    let id = id.as_str();
    let u = tus_upload(id, T + 100_000);
    ok(m.create_tus(&u).await, "create_tus")?;
    let lease = |owner: &'static str, offset: u64, lease: &'static str| async move {
        let ask = ChunkLease { id, owner, offset, lease, until_ms: T + 50, bytes: 5, quota: None };
        ok(m.lease_loaded(&ask, T).await, "lease_loaded").map(|l| (l.state, l.leased))
    };
    let (found, leased) = lease("mallory", 0, "r0").await?;
    ensure!(found.is_some() && !leased, "another caller took the lease");
    let (found, leased) = lease("alice", 7, "r1").await?;
    ensure!(found.as_ref().map(|s| s.upload.offset) == Some(0) && !leased, "a lease at the wrong offset was taken");
    let (found, leased) = lease("alice", 0, "r2").await?;
    ensure!(found.map(|s| s.upload) == Some(u.clone()) && leased, "the owner's lease at the offset was not taken");
    let (_, leased) = lease("alice", 0, "r3").await?;
    ensure!(!leased, "a second request took a live lease");
    let missing = upload_id("tusloaded-none");
    let ask =
        ChunkLease { id: &missing, owner: "alice", offset: 0, lease: "r4", until_ms: T + 50, bytes: 5, quota: None };
    let l = ok(m.lease_loaded(&ask, T).await, "lease_loaded")?;
    ensure!(l.state.is_none() && !l.leased, "a lease on no upload");
    ok(m.remove_tus(id).await, "remove_tus")?;
    Ok(())
}

async fn beginning_a_tus_upload_journals_its_stored_name_and_records_it<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let id = upload_id("tusbegin");
    let id = id.as_str();
    let u = tus_upload(id, T + 100_000);
    ok(m.begin_tus(&u, &entry(id, &u.key, &u.storage_key, T + 5), None, T).await, "begin_tus")?;
    ensure!(ok(m.tus(id).await, "tus")?.map(|s| s.upload) == Some(u.clone()), "the upload reads back differently");
    ensure!(due_for(m, &u.key, T + 5).await? == vec![id.to_owned()], "the stored name is not journaled");
    ok(m.remove_tus(id).await, "remove_tus")?;
    ok(m.abandon_upload(&u.key, id).await, "abandon_upload")?;
    Ok(())
}

async fn beginning_a_multipart_upload_journals_its_stored_name_until_after_its_expiry<
    M: MetadataStore + EventOutbox,
>(
    m: &M,
) -> Checked {
    let id = upload_id("mp-begin");
    let id = id.as_str();
    let u = upload(id, T + 1000);
    ok(m.begin_multipart(&u).await, "begin_multipart")?;
    ensure!(ok(m.multipart(id).await, "multipart")? == Some(u.clone()), "the upload reads back differently");
    let due_at = T + 1000 + DEFAULT_PENDING_GRACE_MS;
    ensure!(due_for(m, &u.key, due_at - 1).await?.is_empty(), "the entry came due before the upload's grace ran out");
    ensure!(due_for(m, &u.key, due_at).await? == vec![id.to_owned()], "the stored name is not journaled");
    // An abort brings the entry forward: no completion can commit from then on.
    ensure!(ok(m.end_multipart(id, T + 50).await, "end_multipart")?, "ending the open upload answered false");
    ensure!(due_for(m, &u.key, T + 50).await? == vec![id.to_owned()], "an abort left the entry due later");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    ok(m.abandon_upload(&u.key, id).await, "abandon_upload")?;
    Ok(())
}

async fn preparing_a_completion_reads_the_upload_and_parts_and_journals_only_its_open_owners<
    M: MetadataStore + EventOutbox,
>(
    m: &M,
) -> Checked {
    let id = upload_id("mp-completion");
    let id = id.as_str();
    // Recorded without an entry, as uploads were before they were journaled from their start.
    let u = upload(id, T + 1000);
    ok(m.create_multipart(&u).await, "create_multipart")?;
    ok(m.record_part(id, "a", &part(1, 3)).await, "record_part")?;
    ok(m.record_part(id, "b", &part(2, 3)).await, "record_part")?;
    let far = T + 1000 + DEFAULT_PENDING_GRACE_MS;
    for (key, owner, now) in
        [(u.key.as_str(), "mallory", T), ("contract/other", "alice", T), (&u.key, "alice", T + 1000)]
    {
        let (found, parts) = ok(m.prepare_completion(id, key, owner, now).await, "prepare_completion")?;
        ensure!(found.as_ref() == Some(&u), "the upload reads back differently: {found:?}");
        ensure!(parts.len() == 2, "the parts read back as {parts:?}");
        ensure!(
            due_for(m, &u.key, far).await?.is_empty(),
            "{owner}'s completion of {key} at {now} journaled the upload"
        );
    }
    let (_, mut parts) = ok(m.prepare_completion(id, &u.key, "alice", T).await, "prepare_completion")?;
    parts.sort_by_key(|p| p.number);
    ensure!(parts == vec![part(1, 3), part(2, 3)], "the parts read back as {parts:?}");
    ensure!(due_for(m, &u.key, far).await? == vec![id.to_owned()], "the open upload was not journaled");
    ensure!(due_for(m, &u.key, far - 1).await?.is_empty(), "the entry is due before the upload's grace ran out");
    let (found, parts) = ok(m.prepare_completion(&upload_id("mp-none"), &u.key, "alice", T).await, "prepare")?;
    ensure!(found.is_none() && parts.is_empty(), "an unknown upload read back as {found:?} {parts:?}");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    ok(m.abandon_upload(&u.key, id).await, "abandon_upload")?;
    Ok(())
}

async fn completing_a_multipart_upload_commits_and_forgets_it<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let id = upload_id("mp-complete");
    let id = id.as_str();
    let u = upload(id, T + 1000);
    ok(m.create_multipart(&u).await, "create_multipart")?;
    ok(m.begin_upload(&entry(id, &u.key, &u.storage_key, T + 1000)).await, "begin_upload")?;
    ok(m.record_part(id, "a", &part(1, 3)).await, "record_part")?;
    let got = ok(m.complete_multipart(id, &record(&u.key, &u.storage_key, T)).await, "complete_multipart")?;
    ensure!(got == Commit::Committed { replaced: None }, "the completion answered {got:?}");
    ensure!(ok(m.get(&u.key).await, "get")?.is_some_and(|r| r.storage_key == u.storage_key), "no row names the object");
    ensure!(ok(m.multipart(id).await, "multipart")?.is_none(), "the completed upload is still open");
    ensure!(ok(m.parts(id, T).await, "parts")?.is_empty(), "the completed upload kept its parts");
    ensure!(due_for(m, &u.key, T + 2000).await?.is_empty(), "the completion left its journal entry");
    let event = Event::uploaded(&record(&u.key, &u.storage_key, T));
    ensure!(outboxed(m, &event.id).await?.is_some(), "the completion recorded no event");
    // A second completion that overlapped the first re-journals the upload and commits again.
    ok(m.begin_upload(&entry(id, &u.key, &u.storage_key, T + 1000)).await, "begin_upload")?;
    ok(m.clear_events(&[Event::uploaded(&record(&u.key, &u.storage_key, T))]).await, "clear_events")?;
    let again = record(&u.key, &u.storage_key, T + 5);
    let got = ok(m.complete_multipart(id, &again).await, "complete_multipart again")?;
    ensure!(got == Commit::Claimed, "a second completion of a completed upload answered {got:?}");
    let row = ok(m.get(&u.key).await, "get")?.ok_or("no row")?;
    ensure!(row == record(&u.key, &u.storage_key, T), "a second completion rewrote the row: {row:?}");
    ensure!(outboxed(m, &Event::uploaded(&again).id).await?.is_none(), "a second completion recorded an event");
    ensure!(due_for(m, &u.key, T + 2000).await?.is_empty(), "a second completion left its journal entry");
    Ok(())
}

/// An abort ends the upload before it answers: a completion whose store step was already done
/// must not commit after the client was told the upload is gone.
async fn an_ended_multipart_upload_can_no_longer_be_completed<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let id = upload_id("mp-ended");
    let id = id.as_str();
    let u = upload(id, T + 1000);
    ok(m.create_multipart(&u).await, "create_multipart")?;
    ok(m.begin_upload(&entry(id, &u.key, &u.storage_key, T + 1000)).await, "begin_upload")?;
    ok(m.record_part(id, "a", &part(1, 3)).await, "record_part")?;
    ensure!(ok(m.end_multipart(id, T + 1000).await, "end_multipart")?, "ending an open upload answered false");
    // A part that finishes storing after the abort is not recorded.
    let late = m.record_part(id, "late", &part(2, 3)).await;
    ensure!(late.as_ref().is_err_and(|e| e.code() == "upload_not_found"), "a part recorded after the abort: {late:?}");
    ensure!(ok(m.parts(id, T).await, "parts")? == vec![part(1, 3)], "a part was recorded after the abort");
    ensure!(!ok(m.end_multipart(id, T).await, "end_multipart")?, "ending an ended upload answered true");
    let got = ok(m.complete_multipart(id, &record(&u.key, &u.storage_key, T)).await, "complete_multipart")?;
    ensure!(got == Commit::Claimed, "a completion after the abort answered {got:?}");
    ensure!(ok(m.get(&u.key).await, "get")?.is_none(), "a completion after the abort wrote the row");
    let expired = ok(m.expired_multiparts(T, 1000).await, "expired_multiparts")?;
    ensure!(expired.iter().any(|e| e.id == id), "the sweep does not find the ended upload");
    ok(m.remove_multipart(id).await, "remove_multipart")?;
    ok(m.abandon_upload(&u.key, id).await, "abandon_upload")?;
    Ok(())
}

async fn expired_multipart_uploads_are_listed_oldest_first<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    for (id, expires) in [("mp-exp-b", T + 20), ("mp-exp-a", T + 10), ("mp-exp-live", T + 99_999)] {
        ok(m.create_multipart(&upload(id, expires)).await, "create_multipart")?;
    }
    let expired = ok(m.expired_multiparts(T + 50, 100).await, "expired_multiparts")?;
    let ids: Vec<_> = expired.into_iter().map(|u| u.id).filter(|id| id.starts_with("mp-exp-")).collect();
    ensure!(ids == ["mp-exp-a", "mp-exp-b"], "expired uploads: {ids:?}");
    Ok(())
}

fn presigned(nonce: &str, key: &str, created_at: i64) -> PresignedUpload {
    PresignedUpload {
        nonce: nonce.to_owned(),
        key: key.to_owned(),
        owner: "alice".to_owned(),
        content_type: "image/png".to_owned(),
        size: Some(3),
        max_size: 3,
        created_at,
        expires_at: created_at + 300_000,
        storage_key: format!("{key}~{nonce}"),
        metadata: Some(r#"{"team":"c"}"#.to_owned()),
    }
}

async fn a_presigned_upload_is_journaled_and_listed_newest_first_up_to_the_limit<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let key = "contract/presigned";
    let n = PRESIGNED_PER_KEY as i64 + 1;
    for i in 0..n {
        ok(
            m.record_presigned(&presigned(&format!("nonce-{i:02}"), key, T + i), T + 1000, None, T).await,
            "record_presigned",
        )?;
    }
    let listed = ok(m.presigned(key, "alice").await, "presigned")?;
    ensure!(
        listed.len() == PRESIGNED_PER_KEY as usize,
        "{} URLs listed, not at most {PRESIGNED_PER_KEY}",
        listed.len()
    );
    ensure!(
        listed.first().is_some_and(|p| p == &presigned(&format!("nonce-{:02}", n - 1), key, T + n - 1)),
        "not newest first"
    );
    ensure!(ok(m.presigned(key, "bob").await, "presigned")?.is_empty(), "another owner's URLs were listed");
    ensure!(due_for(m, key, T + 1000).await?.len() == n as usize, "each URL's stored name is journaled");
    Ok(())
}

async fn confirming_a_presigned_upload_commits_and_keeps_its_entry<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/confirm";
    let p = presigned("nonce-confirm", key, T);
    ok(m.record_presigned(&p, T + 1000, None, T).await, "record_presigned")?;
    let got = ok(m.confirm_presigned(&p.nonce, &record(key, &p.storage_key, T)).await, "confirm_presigned")?;
    ensure!(got == Commit::Committed { replaced: None }, "the confirm answered {got:?}");
    ensure!(ok(m.get(key).await, "get")?.is_some_and(|r| r.storage_key == p.storage_key), "no row names the object");
    ensure!(ok(m.presigned(key, "alice").await, "presigned")?.is_empty(), "a confirmed URL is still open");
    ensure!(due_for(m, key, T + 1000).await? == vec![p.nonce.clone()], "the URL's entry must stay until due");
    let event = Event::uploaded(&record(key, &p.storage_key, T));
    ensure!(outboxed(m, &event.id).await?.is_some(), "the confirm recorded no event");
    // A second confirm (a double submit), after the object was deleted: nothing comes back.
    let deleted = ok(m.delete_key(key, T + 1, "evt_contract_confirm", None).await, "delete_key")?;
    ensure!(matches!(deleted, Deletion::Removed(_)), "the row was not deleted: {deleted:?}");
    let got = ok(m.confirm_presigned(&p.nonce, &record(key, &p.storage_key, T + 2)).await, "confirm_presigned")?;
    ensure!(got == Commit::Claimed, "a second confirm answered {got:?}");
    ensure!(ok(m.get(key).await, "get")?.is_none(), "a second confirm resurrected a deleted row");
    Ok(())
}

/// A commit repeated for the version the row already names (two overlapping confirms or
/// completions) must not report that version as replaced: the caller deletes what it reports.
async fn a_repeated_commit_of_the_same_version_replaces_nothing<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let key = "contract/repeat";
    commit(m, key, "contract/repeat~v1", T).await?;
    let got = commit(m, key, "contract/repeat~v1", T + 1).await?;
    ensure!(got == Commit::Committed { replaced: None }, "the repeated commit answered {got:?}");
    ensure!(due_for(m, key, T + 10).await?.is_empty(), "the live version was journaled for deletion");
    Ok(())
}

async fn a_nonce_is_spent_once_and_purged_after_it_expires<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    ensure!(ok(m.use_nonce("contract/nonce", "nonce-once", T + 100).await, "use_nonce")?, "a fresh nonce was refused");
    ensure!(
        !ok(m.use_nonce("contract/nonce", "nonce-once", T + 100).await, "use_nonce")?,
        "a spent nonce was accepted again"
    );
    ok(m.purge_presigned(T + 50).await, "purge_presigned")?;
    ensure!(
        !ok(m.use_nonce("contract/nonce", "nonce-once", T + 100).await, "use_nonce")?,
        "a purge before expiry freed the nonce"
    );
    ok(m.purge_presigned(T + 101).await, "purge_presigned")?;
    ensure!(
        ok(m.use_nonce("contract/nonce", "nonce-once", T + 100).await, "use_nonce")?,
        "an expired nonce was not purged"
    );
    Ok(())
}

fn tus_upload(id: &str, expires_at: i64) -> TusUpload {
    TusUpload {
        id: id.to_owned(),
        key: format!("contract/{id}"),
        owner: "alice".to_owned(),
        storage_key: format!("contract/{id}~v"),
        content_type: "video/mp4".to_owned(),
        metadata: Some("filename YS5tcDQ=".to_owned()),
        length: None,
        offset: 0,
        part_size: None,
        parts: 0,
        store_upload_id: None,
        created_at: T,
        expires_at,
        max_size: Some(1 << 30),
        object_metadata: Some(r#"{"team":"b"}"#.to_owned()),
    }
}

async fn a_tus_lease_is_held_by_one_request_at_the_offset_until_it_runs_out<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let id = upload_id("tuslease");
    let id = id.as_str();
    ok(m.create_tus(&tus_upload(id, T + 100_000)).await, "create_tus")?;
    let state = ok(m.tus(id).await, "tus")?.ok_or("the upload reads back as missing")?;
    ensure!(state.upload == tus_upload(id, T + 100_000), "the upload reads back differently: {:?}", state.upload);
    ensure!(!ok(m.lease_tus(id, 5, "a", T + 10, T).await, "lease_tus")?, "a lease at another offset was granted");
    ensure!(ok(m.lease_tus(id, 0, "a", T + 10, T).await, "lease_tus")?, "a free upload's lease was refused");
    ensure!(!ok(m.lease_tus(id, 0, "b", T + 10, T + 5).await, "lease_tus")?, "a held lease was granted again");
    ok(m.release_tus(id, "b").await, "release_tus")?;
    ensure!(!ok(m.lease_tus(id, 0, "b", T + 10, T + 5).await, "lease_tus")?, "another request released the lease");
    ensure!(ok(m.lease_tus(id, 0, "b", T + 30, T + 11).await, "lease_tus")?, "a lease that ran out was not taken over");
    ok(m.release_tus(id, "b").await, "release_tus")?;
    ensure!(ok(m.lease_tus(id, 0, "c", T + 40, T + 12).await, "lease_tus")?, "a released lease stayed held");
    ok(m.remove_tus(id).await, "remove_tus")
}

async fn finishing_a_tus_upload_commits_and_advances_only_once_the_row_names_its_object<
    M: MetadataStore + EventOutbox,
>(
    m: &M,
) -> Checked {
    let last = |from: u64| TusAdvance {
        from,
        to: 9,
        length: Some(9),
        part_size: None,
        store_upload_id: None,
        chunk: None,
        parts: Vec::new(),
        consumed: Vec::new(),
    };
    // Claimed (terminated): no commit, no advance, the lease stays for the request to give back.
    let id = upload_id("tusfinish-claimed");
    let u = tus_upload(&id, T + 100_000);
    ok(m.begin_tus(&u, &entry(&id, &u.key, &u.storage_key, T + 100_000), None, T).await, "begin_tus")?;
    ok(m.claim_upload(&u.key, &id).await, "claim_upload")?;
    ensure!(ok(m.lease_tus(&id, 0, "a", T + 10, T).await, "lease_tus")?, "the lease was refused");
    let got = ok(m.finish_tus(&id, "a", &last(0), &record(&u.key, &u.storage_key, T)).await, "finish_tus")?;
    ensure!(got == (Commit::Claimed, false), "finishing a claimed upload answered {got:?}");
    ensure!(ok(m.get(&u.key).await, "get")?.is_none(), "a claimed upload's object was recorded");
    ensure!(ok(m.tus(&id).await, "tus")?.ok_or("gone")?.upload.offset == 0, "a refused finish moved the offset");
    // Open: the row names the object, the entry goes, the offset moves and the lease is given back.
    let id = upload_id("tusfinish");
    let u = tus_upload(&id, T + 100_000);
    ok(m.begin_tus(&u, &entry(&id, &u.key, &u.storage_key, T + 100_000), None, T).await, "begin_tus")?;
    ensure!(ok(m.lease_tus(&id, 0, "a", T + 10, T).await, "lease_tus")?, "the lease was refused");
    let rec = record(&u.key, &u.storage_key, T);
    let got = ok(m.finish_tus(&id, "b", &last(0), &rec).await, "finish_tus")?;
    ensure!(got == (Commit::Committed { replaced: None }, false), "a finish without the lease answered {got:?}");
    let got = ok(m.finish_tus(&id, "a", &last(0), &rec).await, "finish_tus")?;
    ensure!(got == (Commit::Claimed, true), "the lease holder's finish after the commit answered {got:?}");
    ensure!(ok(m.get(&u.key).await, "get")? == Some(rec.clone()), "the row does not name the finished object");
    ensure!(due_for(m, &u.key, i64::MAX).await?.is_empty(), "the finish left its journal entry");
    let s = ok(m.tus(&id).await, "tus")?.ok_or("gone")?;
    ensure!((s.upload.offset, s.upload.length) == (9, Some(9)), "after the finish: {:?}", s.upload);
    ensure!(ok(m.lease_tus(&id, 9, "c", T + 10, T).await, "lease_tus")?, "the finish kept the lease");
    for id in [upload_id("tusfinish-claimed"), id] {
        ok(m.remove_tus(&id).await, "remove_tus")?;
    }
    Ok(())
}

async fn a_tus_advance_records_only_under_its_lease_and_moves_the_offset<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let id = upload_id("tusadvance");
    let id = id.as_str();
    ok(m.create_tus(&tus_upload(id, T + 100_000)).await, "create_tus")?;
    let chunk = |start: u64, length: u64| Chunk { start, length, name: format!("contract/{id}~c{start}") };
    let first = TusAdvance {
        from: 0,
        to: 3,
        length: None,
        part_size: Some(5 << 20),
        store_upload_id: None,
        chunk: Some(chunk(0, 3)),
        parts: Vec::new(),
        consumed: Vec::new(),
    };
    ensure!(!ok(m.advance_tus(id, "a", &first).await, "advance_tus")?, "an advance without the lease was recorded");
    ok(m.lease_tus(id, 0, "a", T + 10, T).await, "lease_tus")?;
    ensure!(!ok(m.advance_tus(id, "b", &first).await, "advance_tus")?, "another request's advance was recorded");
    ensure!(ok(m.advance_tus(id, "a", &first).await, "advance_tus")?, "the lease holder's advance was refused");
    let s = ok(m.tus(id).await, "tus")?.ok_or("gone")?;
    ensure!(s.upload.offset == 3 && s.upload.part_size == Some(5 << 20), "after the first advance: {:?}", s.upload);
    ensure!(s.staged == vec![chunk(0, 3)], "staged: {:?}", s.staged);
    ensure!(ok(m.lease_tus(id, 3, "b", T + 10, T).await, "lease_tus")?, "the advance kept the lease");
    let second = TusAdvance {
        from: 3,
        to: 9,
        length: Some(9),
        part_size: Some(1),
        store_upload_id: Some("store-1".to_owned()),
        chunk: Some(chunk(3, 6)),
        parts: vec![Part { number: 1, size: 9, etag: "\"p1\"".to_owned() }],
        consumed: vec![chunk(0, 3).name],
    };
    ensure!(ok(m.advance_tus(id, "b", &second).await, "advance_tus")?, "the second advance was refused");
    let s = ok(m.tus(id).await, "tus")?.ok_or("gone")?;
    let u = &s.upload;
    ensure!((u.offset, u.length, u.parts) == (9, Some(9), 1), "after the second advance: {u:?}");
    ensure!(u.part_size == Some(5 << 20), "the part size changed once fixed: {:?}", u.part_size);
    ensure!(u.store_upload_id.as_deref() == Some("store-1"), "store upload id {:?}", u.store_upload_id);
    ensure!(s.staged == vec![chunk(3, 6)], "the consumed chunk stayed or the new one is missing: {:?}", s.staged);
    ensure!(s.parts == vec![Part { number: 1, size: 9, etag: "\"p1\"".to_owned() }], "parts: {:?}", s.parts);
    ok(m.remove_tus(id).await, "remove_tus")?;
    ensure!(ok(m.tus(id).await, "tus")?.is_none(), "a removed upload is still there");
    Ok(())
}

async fn expired_tus_uploads_are_listed_oldest_first_and_removed_whole<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    for (id, expires) in [("tusexpb", T + 20), ("tusexpa", T + 10), ("tuslive", T + 99_999)] {
        ok(m.create_tus(&tus_upload(id, expires)).await, "create_tus")?;
    }
    let expired = ok(m.expired_tus(T + 50, 100).await, "expired_tus")?;
    let ids: Vec<_> = expired.into_iter().map(|u| u.id).filter(|id| id.starts_with("tusexp")).collect();
    ensure!(ids == ["tusexpa", "tusexpb"], "expired uploads: {ids:?}");
    for id in ["tusexpa", "tusexpb", "tuslive"] {
        ok(m.remove_tus(id).await, "remove_tus")?;
    }
    Ok(())
}

/// The database's clock, as it reports it.
async fn db_now<M: MetadataStore>(m: &M) -> std::result::Result<i64, String> {
    Ok(ok(m.announced_version("contract/clock", "contract/clock~none").await, "announced_version")?.db_now_ms)
}

async fn an_announced_commit_applies_only_before_its_deadline_by_the_database_clock<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let (key, name) = ("contract/announced", "contract/announced~v1");
    let now = db_now(m).await?;
    let rec = record(key, name, T);
    let late = ok(m.commit_announced("up-announced-late", &rec, now - 1, false).await, "commit_announced")?;
    ensure!(late == Commit::Claimed, "a commit past its deadline answered {late:?}");
    ensure!(ok(m.get(key).await, "get")?.is_none(), "a commit past its deadline wrote a row");
    let got = ok(m.commit_announced("up-announced", &rec, now + 60_000, false).await, "commit_announced")?;
    ensure!(got == Commit::Committed { replaced: None }, "a commit in time answered {got:?}");
    ensure!(ok(m.get(key).await, "get")?.as_ref() == Some(&rec), "the row differs from the record");
    let found = ok(m.announced_version(key, name).await, "announced_version")?;
    ensure!(found.version == Some(rec), "the committed version was not found: {found:?}");
    ensure!((found.db_now_ms - now).abs() < 60_000, "the clock jumped from {now} to {}", found.db_now_ms);
    ensure!(due_for(m, key, i64::MAX).await?.is_empty(), "an announced commit left a journal entry");
    Ok(())
}

/// The journaled fallback of an announced upload whose message may exist: bound by the same
/// deadline, and found by the message afterwards even once replaced.
async fn a_journaled_commit_with_a_deadline_applies_only_before_it<M: MetadataStore + EventOutbox>(m: &M) -> Checked {
    let (key, name) = ("contract/deadline", "contract/deadline~v1");
    let now = db_now(m).await?;
    let rec = record(key, name, T);
    ok(m.begin_upload(&entry("up-deadline", key, name, T + 1)).await, "begin_upload")?;
    let late = ok(m.commit_upload("up-deadline", &rec, false, Some(now - 1)).await, "commit_upload")?;
    ensure!(late == Commit::Claimed, "a commit past its deadline answered {late:?}");
    ensure!(ok(m.get(key).await, "get")?.is_none(), "a commit past its deadline wrote a row");
    let got = ok(m.commit_upload("up-deadline", &rec, false, Some(now + 60_000)).await, "commit_upload")?;
    ensure!(got == Commit::Committed { replaced: None }, "a commit in time answered {got:?}");
    ensure!(due_for(m, key, i64::MAX).await?.is_empty(), "the commit left its journal entry");
    commit(m, key, "contract/deadline~v2", T + 1).await?;
    let found = ok(m.announced_version(key, name).await, "announced_version")?;
    ensure!(found.version == Some(rec), "the replaced version is lost to its message: {found:?}");
    Ok(())
}

async fn an_announced_commit_is_refused_once_its_entry_is_claimed_or_the_key_taken<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let key = "contract/announced-claimed";
    let now = db_now(m).await?;
    ok(m.begin_upload(&entry("up-announced-claimed", key, "contract/announced-claimed~v1", T)).await, "begin")?;
    ok(m.claim_upload(key, "up-announced-claimed").await, "claim_upload")?;
    let rec = record(key, "contract/announced-claimed~v1", T);
    let got = ok(m.commit_announced("up-announced-claimed", &rec, now + 60_000, false).await, "commit_announced")?;
    ensure!(got == Commit::Claimed, "a commit with a claimed entry answered {got:?}");
    ensure!(ok(m.get(key).await, "get")?.is_none(), "a commit with a claimed entry wrote a row");
    let first = record(key, "contract/announced-claimed~v2", T);
    ok(m.commit_announced("up-announced-v2", &first, now + 60_000, true).await, "commit_announced")?;
    let taken = record(key, "contract/announced-claimed~v3", T + 1);
    let got = ok(m.commit_announced("up-announced-v3", &taken, now + 60_000, true).await, "commit_announced")?;
    ensure!(got == Commit::KeyExists, "an if_absent commit on a taken key answered {got:?}");
    ensure!(ok(m.get(key).await, "get")?.as_ref() == Some(&first), "the if_absent commit changed the row");
    Ok(())
}

async fn a_replaced_or_deleted_announced_version_keeps_a_copy_until_purged<M: MetadataStore + EventOutbox>(
    m: &M,
) -> Checked {
    let key = "contract/announced-copy";
    let (v1, v2, v3) = ("contract/announced-copy~v1", "contract/announced-copy~v2", "contract/announced-copy~v3");
    let now = db_now(m).await?;
    ok(m.commit_announced("up-copy-v1", &record(key, v1, T), now + 60_000, false).await, "commit_announced")?;
    commit(m, key, v2, T + 1).await?;
    ensure!(due_for(m, key, T + 10).await?.contains(&garbage_id(v1)), "the replaced version was not journaled");
    let copy = ok(m.announced_version(key, v1).await, "announced_version")?.version;
    ensure!(copy == Some(record(key, v1, T)), "the replaced announced version's copy: {copy:?}");
    let got = ok(m.commit_announced("up-copy-v3", &record(key, v3, T + 2), now + 60_000, false).await, "commit")?;
    ensure!(got == Commit::Committed { replaced: Some(v2.to_owned()) }, "replacing v2 answered {got:?}");
    ensure!(due_for(m, key, T + 10).await?.contains(&garbage_id(v2)), "v2 was not journaled");
    let none = ok(m.announced_version(key, v2).await, "announced_version")?.version;
    ensure!(none.is_none(), "a version that was not announced got a copy: {none:?}");
    ok(m.delete_key(key, T + 3, "evt_contract_copy", None).await, "delete_key")?;
    let copy = ok(m.announced_version(key, v3).await, "announced_version")?.version;
    ensure!(copy == Some(record(key, v3, T + 2)), "the deleted announced version's copy: {copy:?}");
    let wanted = [v1, v2, v3, "contract/announced-copy~none"].map(|n| (key.to_owned(), n.to_owned()));
    let all = ok(m.announced_versions(&wanted).await, "announced_versions")?.versions;
    let names: Vec<Option<&str>> = all.iter().map(|v| v.as_ref().map(|r| r.storage_key.as_str())).collect();
    ensure!(names == [Some(v1), None, Some(v3), None], "one read of four versions found {names:?}");
    ok(m.purge_replaced(T + 2).await, "purge_replaced")?;
    let kept = ok(m.announced_version(key, v3).await, "announced_version")?.version;
    ensure!(kept.is_some(), "a copy made at T + 3 was purged before T + 2");
    ok(m.purge_replaced(T + 4).await, "purge_replaced")?;
    for name in [v1, v3] {
        let gone = ok(m.announced_version(key, name).await, "announced_version")?.version;
        ensure!(gone.is_none(), "the copy of {name} outlived its purge");
    }
    Ok(())
}
