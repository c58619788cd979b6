//! The S3 store driven request by request through a scripted executor: what it sends (URL,
//! signed and unsigned headers, body) and how it reads each answer (status, headers, XML,
//! "200 with an error", bodies it must not read whole). S3 behaviour changes here, natively.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_executor::block_on;
use gateway_core::conditional::{EtagCondition, ReadConditions};
use gateway_core::error::ErrorKind;
use gateway_core::key::StoredName;
use gateway_core::multipart::Part;
use gateway_core::range::ByteRangeSpec;
use gateway_core::s3::{Checksums, S3Config, S3Store};
use gateway_core::secret::Secret;
use gateway_core::store::{DirectUrl, GetResult, Multipart, Objects, Presign, PutObject, PutPart};
use gateway_core::testing::scripted::{Canned, Scripted};
use sha2::Digest;

const CLOCK_MS: i64 = 1_750_000_000_000;
const NAME: &str = "alice/a.txt~00112233445566778899aabbccddeeff";
/// MD5 of `hello`.
const HELLO_MD5: [u8; 16] =
    [0x5d, 0x41, 0x40, 0x2a, 0xbc, 0x4b, 0x2a, 0x76, 0xb9, 0x71, 0x9d, 0x91, 0x10, 0x17, 0xc5, 0x92];

fn store() -> S3Store<Scripted> {
    store_checking(Checksums::Store)
}

fn store_checking(checksums: Checksums) -> S3Store<Scripted> {
    let cfg = S3Config {
        endpoint: url::Url::parse("http://127.0.0.1:9000").unwrap(),
        bucket: "uploads".to_owned(),
        region: "us-east-1".to_owned(),
        access_key_id: "AKIDEXAMPLE".to_owned(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        session_token: None,
        path_style: true,
        checksums,
    };
    S3Store::new(cfg, Scripted::new(), || CLOCK_MS)
}

fn exec(s: &S3Store<Scripted>) -> &Scripted {
    s.executor()
}

fn name() -> StoredName {
    StoredName::recorded(NAME.to_owned())
}

fn put(body: &[u8], md5: Option<[u8; 16]>, sha256: Option<[u8; 32]>) -> PutObject<Vec<u8>> {
    PutObject {
        name: name(),
        body: Some(body.to_vec()),
        length: body.len() as u64,
        content_type: "text/plain".to_owned(),
        md5,
        sha256,
    }
}

fn signed_headers(sent: &gateway_core::testing::scripted::Sent) -> String {
    let auth = sent.header("authorization").unwrap();
    auth.split("SignedHeaders=").nth(1).unwrap().split(',').next().unwrap().to_owned()
}

fn xml_error(code: &str) -> String {
    format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message></Error>")
}

#[test]
fn a_put_sends_the_body_untouched_signed_with_its_type_and_digests_and_answers_with_the_etag() {
    let s = store();
    exec(&s).answer(Canned::new(200).header("ETag", "\"5d41402abc4b2a76b9719d911017c592\""));
    let meta = block_on(s.put(put(b"hello", Some(HELLO_MD5), None))).unwrap();
    assert_eq!(
        (meta.size, meta.etag.as_str(), meta.uploaded_ms),
        (5, "\"5d41402abc4b2a76b9719d911017c592\"", CLOCK_MS)
    );
    let sent = exec(&s).request(0).unwrap();
    assert_eq!((sent.method, sent.url.as_str()), ("PUT", format!("http://127.0.0.1:9000/uploads/{NAME}").as_str()));
    assert_eq!(sent.body.as_deref(), Some(&b"hello"[..]));
    assert_eq!(sent.header("x-amz-content-sha256"), Some("UNSIGNED-PAYLOAD"));
    assert_eq!(sent.header("content-md5"), Some("XUFAKrxLKna5cZ2REBfFkg=="));
    assert_eq!(signed_headers(&sent), "content-md5;content-type;host;x-amz-content-sha256;x-amz-date");
}

#[test]
fn a_put_that_got_no_answer_is_a_retryable_503_never_blamed_on_the_client() {
    let s = store();
    exec(&s).no_answer("Network connection lost.");
    let err = block_on(s.put(put(b"hello", None, None))).unwrap_err();
    assert_eq!((err.kind, err.status()), (ErrorKind::StorageUnavailable, 503));
    assert!(err.detail.contains("send it again"), "{err}");
    assert!(err.internal.unwrap().contains("Network connection lost"));
}

#[test]
fn a_put_refused_for_a_bad_digest_is_checksum_mismatch() {
    let s = store();
    exec(&s).answer(Canned::new(400).body(xml_error("BadDigest")));
    let err = block_on(s.put(put(b"hello", Some([0; 16]), None))).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ChecksumMismatch);
}

#[test]
fn a_put_whose_store_ignored_the_md5_is_refused_when_the_md5_etag_disagrees() {
    // moto verifies no digest; its ETag is the MD5 of what it stored.
    let s = store();
    exec(&s).answer(Canned::new(200).header("ETag", "\"00000000000000000000000000000000\""));
    let err = block_on(s.put(put(b"hello", Some(HELLO_MD5), None))).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ChecksumMismatch);
}

#[test]
fn a_put_whose_sha256_the_store_did_not_echo_is_refused_rather_than_recorded_unverified() {
    let s = store();
    exec(&s).answer(Canned::new(200).header("ETag", "\"5d41402abc4b2a76b9719d911017c592\""));
    let err = block_on(s.put(put(b"hello", None, Some([7; 32])))).unwrap_err();
    assert_eq!((err.kind, err.status()), (ErrorKind::BadRequest, 400));
    assert!(err.detail.contains("send Content-MD5 instead"), "{err}");
}

/// A store that checks no digest (moto), with `S3_CHECKSUMS=gateway`: the runtime hashes the
/// body on its way and the gateway decides.
#[test]
fn with_gateway_checksums_a_right_sha256_is_accepted_without_the_store_confirming_it() {
    let s = store_checking(Checksums::Gateway);
    exec(&s).answer(Canned::new(200).header("ETag", "\"5d41402abc4b2a76b9719d911017c592\""));
    let sha: [u8; 32] = sha2::Sha256::digest(b"hello").into();
    let meta = block_on(s.put(put(b"hello", Some(HELLO_MD5), Some(sha)))).unwrap();
    assert_eq!(meta.size, 5);
    assert_eq!(exec(&s).hashed.get(), 1);
    let sent = exec(&s).request(0).unwrap();
    assert_eq!(sent.header("x-amz-checksum-sha256"), None, "the store is not asked to check what it cannot");
    assert_eq!(sent.body.as_deref(), Some(&b"hello"[..]), "the body goes to the store untouched");
}

#[test]
fn with_gateway_checksums_a_wrong_digest_is_a_checksum_mismatch() {
    let s = store_checking(Checksums::Gateway);
    exec(&s).answer(Canned::new(200).header("ETag", "\"5d41402abc4b2a76b9719d911017c592\""));
    exec(&s).answer(Canned::new(200).header("ETag", "\"5d41402abc4b2a76b9719d911017c592\""));
    let err = block_on(s.put(put(b"hello", None, Some([7; 32])))).unwrap_err();
    assert_eq!((err.kind, err.status()), (ErrorKind::ChecksumMismatch, 400));
    let err = block_on(s.put(put(b"hello", Some([0; 16]), None))).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ChecksumMismatch);
}

#[test]
fn with_gateway_checksums_a_body_sent_without_digests_is_not_hashed() {
    let s = store_checking(Checksums::Gateway);
    exec(&s).answer(Canned::new(200).header("ETag", "\"e\""));
    block_on(s.put(put(b"hello", None, None))).unwrap();
    assert_eq!(exec(&s).hashed.get(), 0, "hashing costs CPU only when a digest is to be checked");
}

#[test]
fn with_store_checksums_nothing_is_hashed_in_the_gateway() {
    let s = store();
    exec(&s).answer(Canned::new(200).header("ETag", "\"5d41402abc4b2a76b9719d911017c592\""));
    block_on(s.put(put(b"hello", Some(HELLO_MD5), None))).unwrap();
    assert_eq!(exec(&s).hashed.get(), 0);
}

#[test]
fn an_error_body_is_read_no_further_than_64_kib() {
    let s = store();
    let mut body = xml_error("InternalError").into_bytes();
    body.resize(10 * 1024 * 1024, b' ');
    let (read, _) = exec(&s).answer(Canned::new(500).body(body));
    let err = block_on(s.put(put(b"hello", None, None))).unwrap_err();
    assert_eq!((err.kind, err.status()), (ErrorKind::StorageError, 502));
    assert_eq!(read.get(), 64 * 1024);
}

#[test]
fn a_ranged_get_returns_the_stores_stream_and_sends_preconditions_unsigned() {
    let s = store();
    exec(&s).answer(
        Canned::new(206)
            .header("Content-Range", "bytes 1-3/5")
            .header("Content-Length", "3")
            .header("ETag", "\"e\"")
            .header("Last-Modified", "Sun, 15 Jun 2025 15:06:40 GMT")
            .body(&b"ell"[..]),
    );
    let conditions = ReadConditions { if_match: Some(EtagCondition::Any), if_none_match: None };
    let got = block_on(s.get(&name(), Some(ByteRangeSpec::FromTo(1, 3)), &conditions)).unwrap();
    let GetResult::Found { meta, range, body } = got else { panic!("not found") };
    assert_eq!((meta.size, meta.uploaded_ms, body), (5, CLOCK_MS, b"ell".to_vec()));
    assert_eq!(range.map(|r| (r.start, r.end)), Some((1, 3)));
    let sent = exec(&s).request(0).unwrap();
    assert_eq!((sent.header("range"), sent.header("if-match")), (Some("bytes=1-3"), Some("*")));
    assert!(!signed_headers(&sent).contains("if-match"), "{}", signed_headers(&sent));
    assert!(signed_headers(&sent).contains("range"));
}

#[test]
fn a_range_the_store_cannot_satisfy_is_answered_in_one_request() {
    let s = store();
    let (_, discarded) = exec(&s).answer(Canned::new(416).body(xml_error("InvalidRange")));
    let got = block_on(s.get(&name(), Some(ByteRangeSpec::From(99)), &ReadConditions::default())).unwrap();
    assert!(matches!(got, GetResult::Unsatisfiable));
    assert!(discarded.get());
    assert_eq!(exec(&s).sent.borrow().len(), 1);
}

#[test]
fn get_answers_map_missing_refused_preconditions_and_a_busy_store() {
    let s = store();
    exec(&s).answer(Canned::new(404).body(xml_error("NoSuchKey")));
    exec(&s).answer(Canned::new(304).header("ETag", "\"e\""));
    exec(&s).answer(Canned::new(503).body(xml_error("SlowDown")));
    let get = || block_on(s.get(&name(), None, &ReadConditions::default()));
    assert!(matches!(get().unwrap(), GetResult::Missing));
    assert!(matches!(get().unwrap(), GetResult::ConditionFailed(m) if m.etag == "\"e\""));
    let err = get().err().unwrap();
    assert_eq!((err.kind, err.status()), (ErrorKind::StorageUnavailable, 503));
}

#[test]
fn head_reads_the_metadata_and_a_missing_object_is_none() {
    let s = store();
    exec(&s).answer(
        Canned::new(200).header("Content-Length", "12").header("ETag", "\"e\"").header("Content-Type", "image/png"),
    );
    exec(&s).answer(Canned::new(404));
    let meta = block_on(s.head(&name())).unwrap().unwrap();
    assert_eq!((meta.size, meta.content_type.as_deref()), (12, Some("image/png")));
    assert_eq!(block_on(s.head(&name())).unwrap(), None);
    assert_eq!(exec(&s).request(0).unwrap().method, "HEAD");
}

#[test]
fn deleting_a_missing_object_succeeds_and_a_refused_delete_fails() {
    let s = store();
    exec(&s).answer(Canned::new(404));
    exec(&s).answer(Canned::new(403).body(xml_error("AccessDenied")));
    assert!(block_on(s.delete(&name())).is_ok());
    let err = block_on(s.delete(&name())).unwrap_err();
    assert_eq!(err.kind, ErrorKind::StorageAuthFailed);
}

#[test]
fn read_prefix_reads_only_the_prefix_even_from_a_store_that_ignores_range() {
    let s = store();
    let (read, _) = exec(&s).answer(Canned::new(200).body(vec![b'x'; 1 << 20]));
    exec(&s).answer(Canned::new(416));
    exec(&s).answer(Canned::new(404));
    assert_eq!(block_on(s.read_prefix(&name(), 16)).unwrap(), Some(vec![b'x'; 16]));
    assert_eq!(read.get(), 16);
    assert_eq!(exec(&s).request(0).unwrap().header("range"), Some("bytes=0-15"));
    assert_eq!(block_on(s.read_prefix(&name(), 16)).unwrap(), Some(Vec::new()), "an empty object");
    assert_eq!(block_on(s.read_prefix(&name(), 16)).unwrap(), None, "a missing object");
}

#[test]
fn create_multipart_reads_the_upload_id_with_xml_entities_decoded() {
    let s = store();
    exec(&s).answer(
        Canned::new(200)
            .body("<InitiateMultipartUploadResult><UploadId>a&amp;b</UploadId></InitiateMultipartUploadResult>"),
    );
    exec(&s).answer(Canned::new(200).body("<InitiateMultipartUploadResult/>"));
    assert_eq!(block_on(s.create_multipart(&name(), "video/mp4")).unwrap(), "a&b");
    let sent = exec(&s).request(0).unwrap();
    assert_eq!((sent.method, sent.url.ends_with("?uploads")), ("POST", true));
    assert_eq!(sent.header("content-type"), Some("video/mp4"));
    assert_eq!(block_on(s.create_multipart(&name(), "video/mp4")).unwrap_err().kind, ErrorKind::StorageError);
}

fn part(number: u16, body: &[u8]) -> PutPart<Vec<u8>> {
    PutPart {
        name: name(),
        upload_id: "up/1+2".to_owned(),
        number,
        body: Some(body.to_vec()),
        length: body.len() as u64,
    }
}

#[test]
fn a_part_is_sent_with_its_number_and_encoded_upload_id_and_answers_its_etag() {
    let s = store();
    exec(&s).answer(Canned::new(200).header("ETag", "\"p1\""));
    exec(&s).answer(Canned::new(200));
    exec(&s).no_answer("connection reset");
    assert_eq!(block_on(s.upload_part(part(3, b"abc"))).unwrap(), "\"p1\"");
    let sent = exec(&s).request(0).unwrap();
    assert!(sent.url.ends_with("?partNumber=3&uploadId=up%2F1%2B2"), "{}", sent.url);
    assert_eq!(sent.body.as_deref(), Some(&b"abc"[..]));
    assert_eq!(block_on(s.upload_part(part(3, b"abc"))).unwrap_err().kind, ErrorKind::StorageError, "no ETag");
    assert_eq!(block_on(s.upload_part(part(3, b"abc"))).unwrap_err().status(), 503, "cut off");
}

fn parts() -> Vec<Part> {
    vec![
        Part { number: 1, etag: "\"a\"".to_owned(), size: 5 << 20 },
        Part { number: 2, etag: "\"b\"".to_owned(), size: 7 },
    ]
}

#[test]
fn complete_sends_the_parts_in_order_and_reads_the_result() {
    let s = store();
    exec(&s).answer(
        Canned::new(200)
            .body("<CompleteMultipartUploadResult><ETag>&quot;x-2&quot;</ETag></CompleteMultipartUploadResult>"),
    );
    let meta = block_on(s.complete_multipart(&name(), "u", &parts())).unwrap();
    assert_eq!((meta.etag.as_str(), meta.size, meta.uploaded_ms), ("\"x-2\"", (5 << 20) + 7, CLOCK_MS));
    let sent = exec(&s).request(0).unwrap();
    let xml = String::from_utf8(sent.body.unwrap()).unwrap();
    assert_eq!(
        xml,
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"
    );
}

#[test]
fn a_completion_read_from_go_encoded_xml_records_the_etag_get_serves() {
    let s = store();
    let go = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
              <Bucket>uploads</Bucket><Key>k</Key><ETag>&#34;81ef-2&#34;</ETag></CompleteMultipartUploadResult>";
    exec(&s).answer(Canned::new(200).body(go));
    let meta = block_on(s.complete_multipart(&name(), "u", &parts())).unwrap();
    assert_eq!(meta.etag, "\"81ef-2\"");
    assert_eq!(exec(&s).sent.borrow().len(), 1, "a well-formed ETag needs no HEAD");
}

#[test]
fn a_completion_etag_that_is_no_entity_tag_is_taken_from_the_objects_head() {
    let s = store();
    let odd = "<CompleteMultipartUploadResult><ETag>81ef-2 (multipart)</ETag></CompleteMultipartUploadResult>";
    exec(&s).answer(Canned::new(200).body(odd));
    exec(&s).answer(Canned::new(200).header("ETag", "\"81ef-2\"").header("Content-Length", "5242887"));
    let meta = block_on(s.complete_multipart(&name(), "u", &parts())).unwrap();
    assert_eq!(meta.etag, "\"81ef-2\"");
    assert_eq!(exec(&s).request(1).unwrap().method, "HEAD");
}

#[test]
fn a_completion_answered_200_with_an_error_or_cut_short_is_not_a_success() {
    let s = store();
    exec(&s).answer(Canned::new(200).body(xml_error("InvalidPart")));
    exec(&s).answer(Canned::new(200).body("<CompleteMultipartUploadResult><ETag>\"x"));
    exec(&s).answer(Canned::new(200).body("<s3:Error xmlns:s3=\"x\"><s3:Code>InvalidPart</s3:Code></s3:Error>"));
    exec(&s).answer(Canned::new(404).body(xml_error("NoSuchUpload")));
    let complete = || block_on(s.complete_multipart(&name(), "u", &parts())).unwrap_err();
    assert_eq!(complete().kind, ErrorKind::BadRequest);
    assert_eq!(complete().kind, ErrorKind::StorageError);
    assert_eq!(complete().kind, ErrorKind::BadRequest, "a prefixed error document is an error");
    assert_eq!(complete().kind, ErrorKind::UploadNotFound);
}

#[test]
fn aborting_an_upload_the_store_no_longer_has_succeeds() {
    let s = store();
    exec(&s).answer(Canned::new(404).body(xml_error("NoSuchUpload")));
    exec(&s).answer(Canned::new(500).body(xml_error("InternalError")));
    assert!(block_on(s.abort_multipart(&name(), "u")).is_ok());
    assert_eq!(exec(&s).request(0).unwrap().method, "DELETE");
    assert_eq!(block_on(s.abort_multipart(&name(), "u")).unwrap_err().kind, ErrorKind::StorageError);
}

#[test]
fn a_presigned_url_reaches_the_stored_name_and_sends_nothing() {
    let s = store();
    let headers = vec![("content-length".to_owned(), "5".to_owned())];
    let url = DirectUrl { method: "PUT", name: &name(), signed_headers: &headers, query: &[], expires_in_s: 60 };
    let url = s.presign(&url, CLOCK_MS).unwrap();
    assert!(url.starts_with(&format!("http://127.0.0.1:9000/uploads/{NAME}?")), "{url}");
    assert!(url.contains("X-Amz-Expires=60") && url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-SignedHeaders=content-length%3Bhost"), "{url}");
    assert!(exec(&s).sent.borrow().is_empty());
}
