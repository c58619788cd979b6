//! The store contract: what every [`Objects`] + [`Multipart`] implementation must do for the
//! gateway's guarantees to hold (verified digests, exact ranges, preconditions the store
//! evaluates, idempotent deletes, multipart assembly in order).

use super::{cases, ensure, ok, Checked, Outcome};
use crate::conditional::{EtagCondition, ReadConditions};
use crate::error::ErrorKind;
use crate::key::StoredName;
use crate::multipart::rules::Part;
use crate::range::ByteRangeSpec;
use crate::store::{Compose, GetResult, Multipart, PutObject, PutPart};
use crate::tus::plan::Piece;

/// A store under contract, with what the cases need to make bodies and read downloads.
#[allow(async_fn_in_trait)]
pub trait ContractStore: Multipart + Compose {
    /// An upload body of exactly these bytes, of known length.
    fn body(bytes: &[u8]) -> Self::Body;
    /// A download body's bytes.
    async fn collect(stream: Self::Stream) -> std::result::Result<Vec<u8>, String>;
}

const MIB: usize = 1024 * 1024;

fn name(case: &str) -> StoredName {
    StoredName::recorded(format!("contract/{case}~00112233445566778899aabbccddeeff"))
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(bytes).into()
}

fn sha256_of(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

fn put<S: ContractStore>(
    name: &StoredName,
    bytes: &[u8],
    md5: Option<[u8; 16]>,
    sha256: Option<[u8; 32]>,
) -> PutObject<S::Body> {
    PutObject {
        name: name.clone(),
        body: Some(S::body(bytes)),
        length: bytes.len() as u64,
        content_type: "text/plain".to_owned(),
        md5,
        sha256,
    }
}

/// Runs every store case against `store`.
pub async fn run<S: ContractStore>(store: &S) -> Vec<Outcome> {
    cases!(
        a_put_object_reads_back_whole_with_its_size_type_and_etag(store),
        a_put_with_correct_digests_is_accepted(store),
        a_put_whose_md5_is_wrong_is_checksum_mismatch(store),
        a_put_whose_sha256_is_wrong_is_checksum_mismatch(store),
        ranges_serve_exactly_the_bytes_asked_for(store),
        a_range_beyond_the_end_is_unsatisfiable(store),
        read_preconditions_are_refused_or_answered_with_the_etag_to_check(store),
        a_missing_name_is_missing_and_deleting_it_succeeds(store),
        a_deleted_object_is_gone(store),
        read_prefix_reads_at_most_n_bytes_and_nothing_of_an_empty_object(store),
        multipart_parts_assemble_in_order(store),
        a_completion_naming_a_part_the_store_lacks_is_refused_as_bad_parts(store),
        aborting_twice_succeeds_and_the_upload_is_gone(store),
        listed_parts_are_the_parts_stored_or_the_store_says_it_cannot_list(store),
        a_composed_body_is_the_ranges_of_stored_objects_in_order(store),
    )
}

async fn a_put_object_reads_back_whole_with_its_size_type_and_etag<S: ContractStore>(s: &S) -> Checked {
    let n = name("roundtrip");
    let meta = ok(s.put(put::<S>(&n, b"hello, contract", None, None)).await, "put")?;
    ensure!(meta.size == 15, "put answered size {}", meta.size);
    ensure!(meta.etag.starts_with('"') && meta.etag.ends_with('"'), "the ETag {} is not quoted", meta.etag);
    let GetResult::Found { meta: got, range, body } = ok(s.get(&n, None, &ReadConditions::default()).await, "get")?
    else {
        return Err("get did not find the object".to_owned());
    };
    ensure!(range.is_none(), "a whole get answered a range");
    ensure!(S::collect(body).await? == b"hello, contract", "get returned other bytes");
    ensure!(got.etag == meta.etag, "get's ETag {} is not put's {}", got.etag, meta.etag);
    let head = ok(s.head(&n).await, "head")?.ok_or("head found nothing")?;
    ensure!(head.size == 15, "head answered size {}", head.size);
    ensure!(head.content_type.as_deref() == Some("text/plain"), "head answered type {:?}", head.content_type);
    ok(s.delete(&n).await, "delete")
}

async fn a_put_with_correct_digests_is_accepted<S: ContractStore>(s: &S) -> Checked {
    let (n, bytes) = (name("digests-ok"), b"digest me".as_slice());
    ok(s.put(put::<S>(&n, bytes, Some(md5_of(bytes)), None)).await, "put with Content-MD5")?;
    ok(s.put(put::<S>(&n, bytes, None, Some(sha256_of(bytes)))).await, "put with SHA-256")?;
    ok(s.delete(&n).await, "delete")
}

async fn a_put_whose_md5_is_wrong_is_checksum_mismatch<S: ContractStore>(s: &S) -> Checked {
    let n = name("md5-wrong");
    let result = s.put(put::<S>(&n, b"digest me", Some([0; 16]), None)).await;
    ensure!(matches!(&result, Err(e) if e.kind == ErrorKind::ChecksumMismatch), "got {:?}", result.map(|m| m.etag));
    // Some stores keep a refused body: the caller deletes the name either way.
    ok(s.delete(&n).await, "delete")
}

async fn a_put_whose_sha256_is_wrong_is_checksum_mismatch<S: ContractStore>(s: &S) -> Checked {
    let n = name("sha256-wrong");
    let result = s.put(put::<S>(&n, b"digest me", None, Some([0; 32]))).await;
    ensure!(matches!(&result, Err(e) if e.kind == ErrorKind::ChecksumMismatch), "got {:?}", result.map(|m| m.etag));
    ok(s.delete(&n).await, "delete")
}

async fn ranges_serve_exactly_the_bytes_asked_for<S: ContractStore>(s: &S) -> Checked {
    let n = name("ranges");
    ok(s.put(put::<S>(&n, b"0123456789", None, None)).await, "put")?;
    let wanted = [
        (ByteRangeSpec::FromTo(2, 4), &b"234"[..], (2, 4)),
        (ByteRangeSpec::FromTo(8, 99), &b"89"[..], (8, 9)),
        (ByteRangeSpec::From(7), &b"789"[..], (7, 9)),
        (ByteRangeSpec::Suffix(3), &b"789"[..], (7, 9)),
    ];
    for (spec, bytes, (start, end)) in wanted {
        let got = ok(s.get(&n, Some(spec), &ReadConditions::default()).await, "ranged get")?;
        let GetResult::Found { meta, range, body } = got else { return Err(format!("{spec:?} found nothing")) };
        let range = range.ok_or(format!("{spec:?} answered no range"))?;
        ensure!((range.start, range.end, range.size) == (start, end, 10), "{spec:?} answered {range:?}");
        ensure!(meta.size == 10, "{spec:?} gave the object's size as {}", meta.size);
        ensure!(S::collect(body).await? == bytes, "{spec:?} returned other bytes");
    }
    ok(s.delete(&n).await, "delete")
}

async fn a_range_beyond_the_end_is_unsatisfiable<S: ContractStore>(s: &S) -> Checked {
    let n = name("unsatisfiable");
    ok(s.put(put::<S>(&n, b"0123456789", None, None)).await, "put")?;
    let got = ok(s.get(&n, Some(ByteRangeSpec::From(10)), &ReadConditions::default()).await, "ranged get")?;
    ensure!(matches!(got, GetResult::Unsatisfiable), "a range from the end was not unsatisfiable");
    ok(s.delete(&n).await, "delete")
}

/// The gateway evaluates read preconditions itself on every answer (`download.rs`), so a store
/// may refuse the read or serve it; what it must not do is serve it under another ETag.
fn refused_or_tagged<T>(got: &GetResult<T>, etag: &str) -> bool {
    match got {
        GetResult::ConditionFailed(_) => true,
        GetResult::Found { meta, .. } => meta.etag == etag,
        _ => false,
    }
}

async fn read_preconditions_are_refused_or_answered_with_the_etag_to_check<S: ContractStore>(s: &S) -> Checked {
    let n = name("preconditions");
    let meta = ok(s.put(put::<S>(&n, b"conditional", None, None)).await, "put")?;
    let tag = crate::conditional::EntityTag::parse(&meta.etag).ok_or("the ETag does not parse")?;
    let none_match = ReadConditions { if_match: None, if_none_match: Some(EtagCondition::Tags(vec![tag])) };
    let got = ok(s.get(&n, None, &none_match).await, "get If-None-Match")?;
    ensure!(refused_or_tagged(&got, &meta.etag), "If-None-Match was answered without the object's ETag");
    let other = crate::conditional::EntityTag::parse("\"other\"").ok_or("bad tag")?;
    let if_match = ReadConditions { if_match: Some(EtagCondition::Tags(vec![other])), if_none_match: None };
    let got = ok(s.get(&n, None, &if_match).await, "get If-Match")?;
    ensure!(refused_or_tagged(&got, &meta.etag), "If-Match was answered without the object's ETag");
    let any = ReadConditions { if_match: Some(EtagCondition::Any), if_none_match: None };
    let got = ok(s.get(&n, None, &any).await, "get If-Match *")?;
    let GetResult::Found { body, .. } = got else { return Err("If-Match: * did not serve the object".to_owned()) };
    ensure!(S::collect(body).await? == b"conditional", "If-Match: * returned other bytes");
    ok(s.delete(&n).await, "delete")
}

async fn a_missing_name_is_missing_and_deleting_it_succeeds<S: ContractStore>(s: &S) -> Checked {
    let n = name("never-written");
    let got = ok(s.get(&n, None, &ReadConditions::default()).await, "get")?;
    ensure!(matches!(got, GetResult::Missing), "get of a missing name was not Missing");
    ensure!(ok(s.head(&n).await, "head")?.is_none(), "head of a missing name found something");
    ensure!(ok(s.read_prefix(&n, 8).await, "read_prefix")?.is_none(), "read_prefix of a missing name found bytes");
    ok(s.delete(&n).await, "delete of a missing name")
}

async fn a_deleted_object_is_gone<S: ContractStore>(s: &S) -> Checked {
    let n = name("deleted");
    ok(s.put(put::<S>(&n, b"short-lived", None, None)).await, "put")?;
    ok(s.delete(&n).await, "delete")?;
    ensure!(ok(s.head(&n).await, "head")?.is_none(), "head still finds a deleted object");
    ok(s.delete(&n).await, "a second delete")
}

async fn read_prefix_reads_at_most_n_bytes_and_nothing_of_an_empty_object<S: ContractStore>(s: &S) -> Checked {
    let (n, empty) = (name("prefix"), name("prefix-empty"));
    ok(s.put(put::<S>(&n, b"0123456789", None, None)).await, "put")?;
    ensure!(ok(s.read_prefix(&n, 4).await, "read_prefix")? == Some(b"0123".to_vec()), "a 4-byte prefix differed");
    ensure!(ok(s.read_prefix(&n, 64).await, "read_prefix")? == Some(b"0123456789".to_vec()), "a long prefix differed");
    ok(s.put(put::<S>(&empty, b"", None, None)).await, "put of an empty object")?;
    ensure!(ok(s.read_prefix(&empty, 4).await, "read_prefix")? == Some(Vec::new()), "an empty object had bytes");
    ok(s.delete(&n).await, "delete")?;
    ok(s.delete(&empty).await, "delete")
}

/// Parts of 5 MiB (the minimum for all but the last) and a short last one.
fn part_bytes() -> [Vec<u8>; 2] {
    [vec![b'a'; 5 * MIB], b"the end".to_vec()]
}

async fn upload_parts<S: ContractStore>(s: &S, n: &StoredName, id: &str) -> std::result::Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    for (i, bytes) in part_bytes().iter().enumerate() {
        let number = i as u16 + 1;
        let part = PutPart {
            name: n.clone(),
            upload_id: id.to_owned(),
            number,
            body: Some(S::body(bytes)),
            length: bytes.len() as u64,
        };
        let etag = ok(s.upload_part(part).await, "upload_part")?;
        ensure!(!etag.is_empty(), "part {number} has no ETag");
        parts.push(Part { number, size: bytes.len() as u64, etag });
    }
    Ok(parts)
}

async fn multipart_parts_assemble_in_order<S: ContractStore>(s: &S) -> Checked {
    let n = name("multipart");
    let id = ok(s.create_multipart(&n, "application/octet-stream").await, "create_multipart")?;
    let parts = upload_parts(s, &n, &id).await?;
    let meta = ok(s.complete_multipart(&n, &id, &parts).await, "complete_multipart")?;
    let size = (5 * MIB + 7) as u64;
    ensure!(meta.size == size, "completion answered size {}", meta.size);
    let head = ok(s.head(&n).await, "head")?.ok_or("the assembled object is missing")?;
    ensure!(head.size == size, "the assembled object has {} bytes", head.size);
    let tail = ok(s.get(&n, Some(ByteRangeSpec::Suffix(9)), &ReadConditions::default()).await, "ranged get")?;
    let GetResult::Found { body, .. } = tail else { return Err("the assembled object's tail is missing".to_owned()) };
    ensure!(S::collect(body).await? == b"aathe end", "the parts were not assembled in order");
    ok(s.delete(&n).await, "delete")
}

async fn a_completion_naming_a_part_the_store_lacks_is_refused_as_bad_parts<S: ContractStore>(s: &S) -> Checked {
    let n = name("multipart-bad-part");
    let id = ok(s.create_multipart(&n, "application/octet-stream").await, "create_multipart")?;
    let mut parts = upload_parts(s, &n, &id).await?;
    parts[1].etag = "\"0123456789abcdef0123456789abcdef\"".to_owned();
    let result = s.complete_multipart(&n, &id, &parts).await;
    ensure!(matches!(&result, Err(e) if e.kind == ErrorKind::BadRequest), "got {:?}", result.map(|m| m.etag));
    ok(s.abort_multipart(&n, &id).await, "abort_multipart")
}

async fn aborting_twice_succeeds_and_the_upload_is_gone<S: ContractStore>(s: &S) -> Checked {
    let n = name("multipart-aborted");
    let id = ok(s.create_multipart(&n, "application/octet-stream").await, "create_multipart")?;
    ok(s.abort_multipart(&n, &id).await, "abort_multipart")?;
    ok(s.abort_multipart(&n, &id).await, "a second abort_multipart")?;
    let part = PutPart { name: n.clone(), upload_id: id, number: 1, body: Some(S::body(b"late")), length: 4 };
    ensure!(s.upload_part(part).await.is_err(), "a part of an aborted upload was accepted");
    ensure!(ok(s.head(&n).await, "head")?.is_none(), "an aborted upload left an object");
    Ok(())
}

/// Parts sent to the store itself are completed from its list: each part's number, size and
/// (where the store lists it) ETag exactly as its upload answered. The R2 binding has no
/// listing and says so.
async fn listed_parts_are_the_parts_stored_or_the_store_says_it_cannot_list<S: ContractStore>(s: &S) -> Checked {
    let n = name("multipart-listed");
    let id = ok(s.create_multipart(&n, "application/octet-stream").await, "create_multipart")?;
    let parts = upload_parts(s, &n, &id).await?;
    let listed = match s.list_parts(&n, &id).await {
        Err(e) if e.kind == ErrorKind::BadRequest => return ok(s.abort_multipart(&n, &id).await, "abort_multipart"),
        listed => ok(listed, "list_parts")?,
    };
    // Each listed ETag is the one its upload answered, or empty where the store lists none.
    let bare =
        |ps: &[Part]| ps.iter().map(|p| (p.number, p.size, p.etag.trim_matches('"').to_owned())).collect::<Vec<_>>();
    let (got, want) = (bare(&listed), bare(&parts));
    let same = got.len() == want.len()
        && got.iter().zip(&want).all(|(g, w)| g.0 == w.0 && g.1 == w.1 && (g.2 == w.2 || g.2.is_empty()));
    ensure!(same, "listed {got:?}, uploaded {want:?}");
    ok(s.complete_multipart(&n, &id, &parts).await, "complete_multipart")?;
    // S3 answers NoSuchUpload; s3s-fs an empty list. Either way, no part is listed.
    let gone = s.list_parts(&n, &id).await;
    ensure!(gone.as_ref().map_or(true, Vec::is_empty), "a completed upload still lists {gone:?}");
    ok(s.delete(&n).await, "delete")
}

async fn a_composed_body_is_the_ranges_of_stored_objects_in_order<S: ContractStore>(s: &S) -> Checked {
    let (a, b, out) = (name("compose-a"), name("compose-b"), name("compose-out"));
    ok(s.put(put::<S>(&a, b"0123456789", None, None)).await, "put")?;
    ok(s.put(put::<S>(&b, b"abcdefghij", None, None)).await, "put")?;
    let pieces = [
        Piece { name: a.to_string(), offset: 7, length: 3 },
        Piece { name: b.to_string(), offset: 0, length: 4 },
        Piece { name: a.to_string(), offset: 0, length: 1 },
    ];
    let body = ok(s.compose(&pieces, 8).await, "compose")?;
    let req = PutObject {
        name: out.clone(),
        body: Some(body),
        length: 8,
        content_type: "text/plain".to_owned(),
        md5: None,
        sha256: None,
    };
    ok(s.put(req).await, "put of the composed body")?;
    let GetResult::Found { body, .. } = ok(s.get(&out, None, &ReadConditions::default()).await, "get")? else {
        return Err("the composed object is missing".to_owned());
    };
    ensure!(S::collect(body).await? == b"789abcd0", "the composed object differs");
    for n in [&a, &b, &out] {
        ok(s.delete(n).await, "delete")?;
    }
    Ok(())
}
