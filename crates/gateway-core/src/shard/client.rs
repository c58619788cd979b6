//! The metadata interfaces over shards: each call goes to the shard of the key (or upload id)
//! it names, as one round trip; calls about every shard go to each and their answers merge.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;

use super::call::{Answer, Call};
use super::{namespace, shard_of, shard_of_id};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::events::{Event, EventOutbox};
use crate::metadata::{
    AnnouncedCommits, AnnouncedVersions, Commit, ListCursor, MultipartIndex, MultipartUpload, ObjectIndex,
    ObjectRecord, PartAttempt, PendingUpload, PresignLedger, PresignedUpload, TusAdvance, TusIndex, TusState,
    TusUpload, UploadJournal,
};
use crate::multipart::rules::{OtherParts, Part};

/// How calls reach shards (Durable Object stubs at the edge).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends `call` to shard `shard`: one round trip. `namespace` is the namespace of the key
    /// the call names, if it names one, which the shard registers the first time it sees it.
    async fn send(&self, shard: &str, namespace: Option<&str>, call: &Call) -> Result<Answer>;
    /// The registered namespaces that start with `prefix`, with their shards.
    async fn namespaces(&self, prefix: &str) -> Result<Vec<(String, String)>>;
}

/// The metadata interfaces over a [`Transport`].
pub struct ShardedMetadata<T> {
    transport: T,
}

impl<T: Transport> ShardedMetadata<T> {
    pub fn new(transport: T) -> ShardedMetadata<T> {
        ShardedMetadata { transport }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// `call` in the shard of `key`.
    async fn at<R: DeserializeOwned>(&self, key: &str, call: Call) -> Result<R> {
        self.transport.send(&shard_of(key), Some(namespace(key)), &call).await?.into_result()
    }

    /// `call` in the shard upload id `id` names. An id no shard made names no upload.
    async fn at_id<R: DeserializeOwned>(&self, id: &str, call: Call) -> Result<R> {
        match shard_of_id(id) {
            Some(shard) => self.transport.send(shard, None, &call).await?.into_result(),
            None => serde_json::from_value(serde_json::Value::Null)
                .map_err(|_| GatewayError::new(ErrorKind::UploadNotFound, "no such upload")),
        }
    }

    /// The shards of the registered namespaces starting with `prefix`.
    async fn shards(&self, prefix: &str) -> Result<Vec<String>> {
        let mut shards: Vec<String> = self.transport.namespaces(prefix).await?.into_iter().map(|(_, s)| s).collect();
        shards.sort();
        shards.dedup();
        Ok(shards)
    }

    /// `call` in every shard in `shards`, concurrently.
    async fn each<R: DeserializeOwned>(&self, shards: &[String], call: &Call) -> Result<Vec<R>> {
        let answers = join_all(shards.iter().map(|s| self.transport.send(s, None, call))).await;
        answers.into_iter().map(|a| a?.into_result()).collect()
    }

    /// `call` in every shard, its lists joined.
    async fn everywhere<R: DeserializeOwned>(&self, call: Call) -> Result<Vec<R>> {
        let shards = self.shards("").await?;
        Ok(self.each::<Vec<R>>(&shards, &call).await?.into_iter().flatten().collect())
    }
}

/// The first `limit` of `items` by `order`.
fn first<I, K: Ord>(mut items: Vec<I>, limit: u32, order: impl FnMut(&I) -> K) -> Vec<I> {
    items.sort_by_key(order);
    items.truncate(limit as usize);
    items
}

impl<T: Transport> ObjectIndex for ShardedMetadata<T> {
    async fn get(&self, key: &str) -> Result<Option<ObjectRecord>> {
        self.at(key, Call::Get { key: key.to_owned() }).await
    }

    /// A prefix within one namespace is one shard's listing; a shorter one (a token whose
    /// prefix spans namespaces) is every matching namespace's shard's, merged newest first.
    async fn list(
        &self,
        owner: &str,
        prefix: &str,
        limit: u32,
        cursor: Option<&ListCursor>,
    ) -> Result<Vec<ObjectRecord>> {
        let call = Call::List { owner: owner.to_owned(), prefix: prefix.to_owned(), limit, cursor: cursor.cloned() };
        if prefix.contains('/') {
            return self.at(prefix, call).await;
        }
        let shards = self.shards(prefix).await?;
        let rows: Vec<ObjectRecord> =
            self.each::<Vec<ObjectRecord>>(&shards, &call).await?.into_iter().flatten().collect();
        Ok(first(rows, limit, |r| (std::cmp::Reverse(r.created_at), std::cmp::Reverse(r.key.clone()))))
    }

    async fn delete_row(&self, row: &ObjectRecord, now_ms: i64) -> Result<bool> {
        self.at(&row.key, Call::DeleteRow { row: row.clone(), now_ms }).await
    }

    async fn record_detection(
        &self,
        key: &str,
        storage_key: &str,
        detected: Option<&str>,
        matches: Option<bool>,
    ) -> Result<()> {
        let call = Call::RecordDetection {
            key: key.to_owned(),
            storage_key: storage_key.to_owned(),
            detected: detected.map(str::to_owned),
            matches,
        };
        self.at(key, call).await
    }
}

impl<T: Transport> UploadJournal for ShardedMetadata<T> {
    async fn begin_upload(&self, pending: &PendingUpload) -> Result<()> {
        self.at(&pending.key, Call::BeginUpload { pending: pending.clone() }).await
    }

    async fn commit_upload(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        if_absent: bool,
        deadline_ms: Option<i64>,
    ) -> Result<Commit> {
        let call = Call::CommitUpload { pending_id: pending_id.to_owned(), rec: rec.clone(), if_absent, deadline_ms };
        self.at(&rec.key, call).await
    }

    async fn abandon_upload(&self, key: &str, pending_id: &str) -> Result<()> {
        self.at(key, Call::AbandonUpload { key: key.to_owned(), pending_id: pending_id.to_owned() }).await
    }

    async fn due_uploads(&self, now_ms: i64, limit: u32) -> Result<Vec<PendingUpload>> {
        let due: Vec<PendingUpload> = self.everywhere(Call::DueUploads { now_ms, limit }).await?;
        Ok(first(due, limit, |p| p.due_at))
    }

    async fn claim_upload(&self, key: &str, id: &str) -> Result<bool> {
        self.at(key, Call::ClaimUpload { key: key.to_owned(), id: id.to_owned() }).await
    }
}

impl<T: Transport> MultipartIndex for ShardedMetadata<T> {
    async fn create_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.at(&upload.key, Call::CreateMultipart { upload: upload.clone() }).await
    }

    async fn multipart(&self, id: &str) -> Result<Option<MultipartUpload>> {
        self.at_id(id, Call::Multipart { id: id.to_owned() }).await
    }

    async fn parts(&self, id: &str, now_ms: i64) -> Result<Vec<Part>> {
        self.at_id(id, Call::Parts { id: id.to_owned(), now_ms }).await
    }

    async fn other_parts(&self, id: &str, number: u16) -> Result<OtherParts> {
        self.at_id(id, Call::OtherParts { id: id.to_owned(), number }).await
    }

    async fn reserve_part(&self, attempt: &PartAttempt, limit: u64, now_ms: i64) -> Result<bool> {
        self.at_id(&attempt.upload_id, Call::ReservePart { attempt: attempt.clone(), limit, now_ms }).await
    }

    async fn release_part(&self, id: &str, attempt: &str) -> Result<()> {
        self.at_id(id, Call::ReleasePart { id: id.to_owned(), attempt: attempt.to_owned() }).await
    }

    async fn record_part(&self, id: &str, attempt: &str, part: &Part) -> Result<()> {
        self.at_id(id, Call::RecordPart { id: id.to_owned(), attempt: attempt.to_owned(), part: part.clone() }).await
    }

    async fn complete_multipart(&self, id: &str, rec: &ObjectRecord) -> Result<Commit> {
        self.at(&rec.key, Call::CompleteMultipart { id: id.to_owned(), rec: rec.clone() }).await
    }

    async fn end_multipart(&self, id: &str) -> Result<bool> {
        self.at_id(id, Call::EndMultipart { id: id.to_owned() }).await
    }

    async fn remove_multipart(&self, id: &str) -> Result<()> {
        self.at_id(id, Call::RemoveMultipart { id: id.to_owned() }).await
    }

    async fn expired_multiparts(&self, now_ms: i64, limit: u32) -> Result<Vec<MultipartUpload>> {
        let expired: Vec<MultipartUpload> = self.everywhere(Call::ExpiredMultiparts { now_ms, limit }).await?;
        Ok(first(expired, limit, |u| u.expires_at))
    }
}

impl<T: Transport> PresignLedger for ShardedMetadata<T> {
    async fn record_presigned(&self, p: &PresignedUpload, due_at: i64) -> Result<()> {
        self.at(&p.key, Call::RecordPresigned { presigned: p.clone(), due_at }).await
    }

    async fn presigned(&self, key: &str, owner: &str) -> Result<Vec<PresignedUpload>> {
        self.at(key, Call::Presigned { key: key.to_owned(), owner: owner.to_owned() }).await
    }

    async fn confirm_presigned(&self, nonce: &str, rec: &ObjectRecord) -> Result<Commit> {
        self.at(&rec.key, Call::ConfirmPresigned { nonce: nonce.to_owned(), rec: rec.clone() }).await
    }

    async fn use_nonce(&self, key: &str, nonce: &str, expires_at: i64) -> Result<bool> {
        self.at(key, Call::UseNonce { key: key.to_owned(), nonce: nonce.to_owned(), expires_at }).await
    }

    async fn purge_presigned(&self, before_ms: i64) -> Result<()> {
        let shards = self.shards("").await?;
        self.each::<()>(&shards, &Call::PurgePresigned { before_ms }).await.map(drop)
    }
}

impl<T: Transport> TusIndex for ShardedMetadata<T> {
    async fn create_tus(&self, upload: &TusUpload) -> Result<()> {
        self.at(&upload.key, Call::CreateTus { upload: upload.clone() }).await
    }

    async fn tus(&self, id: &str) -> Result<Option<TusState>> {
        self.at_id(id, Call::Tus { id: id.to_owned() }).await
    }

    async fn lease_tus(&self, id: &str, offset: u64, lease: &str, until_ms: i64, now_ms: i64) -> Result<bool> {
        let call = Call::LeaseTus { id: id.to_owned(), offset, lease: lease.to_owned(), until_ms, now_ms };
        self.at_id(id, call).await
    }

    async fn release_tus(&self, id: &str, lease: &str) -> Result<()> {
        self.at_id(id, Call::ReleaseTus { id: id.to_owned(), lease: lease.to_owned() }).await
    }

    async fn advance_tus(&self, id: &str, lease: &str, advance: &TusAdvance) -> Result<bool> {
        let call = Call::AdvanceTus { id: id.to_owned(), lease: lease.to_owned(), advance: advance.clone() };
        self.at_id(id, call).await
    }

    async fn remove_tus(&self, id: &str) -> Result<()> {
        self.at_id(id, Call::RemoveTus { id: id.to_owned() }).await
    }

    async fn expired_tus(&self, now_ms: i64, limit: u32) -> Result<Vec<TusUpload>> {
        let expired: Vec<TusUpload> = self.everywhere(Call::ExpiredTus { now_ms, limit }).await?;
        Ok(first(expired, limit, |u| u.expires_at))
    }
}

impl<T: Transport> AnnouncedCommits for ShardedMetadata<T> {
    async fn commit_announced(
        &self,
        pending_id: &str,
        rec: &ObjectRecord,
        deadline_ms: i64,
        if_absent: bool,
    ) -> Result<Commit> {
        let call =
            Call::CommitAnnounced { pending_id: pending_id.to_owned(), rec: rec.clone(), deadline_ms, if_absent };
        self.at(&rec.key, call).await
    }

    /// One read per shard the versions are in. The clock is the earliest of those shards':
    /// a version found missing is known missing only once every shard read it after the
    /// deadline, which the earliest clock passing the deadline proves.
    async fn announced_versions(&self, wanted: &[(String, String)]) -> Result<AnnouncedVersions> {
        let mut by_shard: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for pair in wanted {
            by_shard.entry(shard_of(&pair.0)).or_default().push(pair.clone());
        }
        let reads = join_all(by_shard.into_values().map(|pairs| async move {
            let key = pairs.first().map(|p| p.0.clone()).unwrap_or_default();
            let found: AnnouncedVersions = self.at(&key, Call::AnnouncedVersions { wanted: pairs.clone() }).await?;
            Ok::<_, GatewayError>((pairs, found))
        }))
        .await;
        let mut db_now_ms = i64::MAX;
        let mut found: Vec<((String, String), Option<ObjectRecord>)> = Vec::new();
        for read in reads {
            let (pairs, versions) = read?;
            db_now_ms = db_now_ms.min(versions.db_now_ms);
            found.extend(pairs.into_iter().zip(versions.versions));
        }
        let versions =
            wanted.iter().map(|pair| found.iter().find(|(p, _)| p == pair).and_then(|(_, v)| v.clone())).collect();
        Ok(AnnouncedVersions { versions, db_now_ms: if wanted.is_empty() { 0 } else { db_now_ms } })
    }

    async fn purge_replaced(&self, before_ms: i64) -> Result<()> {
        let shards = self.shards("").await?;
        self.each::<()>(&shards, &Call::PurgeReplaced { before_ms }).await.map(drop)
    }
}

impl<T: Transport> EventOutbox for ShardedMetadata<T> {
    async fn unsent_events(&self, before_ms: i64, limit: u32) -> Result<Vec<Event>> {
        let mut events: Vec<Event> = self.everywhere(Call::UnsentEvents { before_ms, limit }).await?;
        events.truncate(limit as usize);
        Ok(events)
    }

    async fn clear_events(&self, sent: &[Event]) -> Result<()> {
        let mut by_key: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        for event in sent {
            by_key.entry(shard_of(&event.key)).or_default().push(event.clone());
        }
        let clears = join_all(by_key.into_values().map(|events| async move {
            let key = events.first().map(|e| e.key.clone()).unwrap_or_default();
            self.at::<()>(&key, Call::ClearEvents { sent: events }).await
        }))
        .await;
        clears.into_iter().collect()
    }
}
