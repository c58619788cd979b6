//! The S3 backend is only as correct as the bytes it puts on the wire, and a real store is the
//! only other judge. These tests pin the protocol pieces against published, independent
//! references instead: SigV4 against AWS's own worked S3 examples (checked step by step, so a
//! failure says whether the text, the key derivation or the gateway's signer is wrong), S3's
//! key encoding (a key must reach the store, and be signed, exactly once encoded), the mapping
//! of S3's errors to gateway problems (which must never leak the store's endpoint or
//! credentials), and the parsers of the headers the store answers with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::{ErrorKind, GatewayError};
use gateway_core::range::parse_content_range;
use gateway_core::s3::{
    encode_key, error_code, map_error, sign_request, unreachable, S3Config, SignedRequest, EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
};
use gateway_core::secret::Secret;
use gateway_core::time::parse_http_date;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- AWS's published example
//
// "Examples: Signature Calculations in AWS Signature Version 4" (Amazon S3 API reference,
// "Authenticating Requests: Using the Authorization Header").

const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2013-05-24T00:00:00Z, the examples' request time.
const EXAMPLE_MS: i64 = 1_369_353_600_000;
const AMZ_DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

const GET_CANONICAL_REQUEST: &str = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const GET_CANONICAL_REQUEST_SHA256: &str = "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972";
const GET_STRING_TO_SIGN: &str = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972";
const GET_SIGNED_HEADERS: &str = "host;range;x-amz-content-sha256;x-amz-date";
const GET_SIGNATURE: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

const PUT_PAYLOAD: &str = "Welcome to Amazon S3.";
const PUT_PAYLOAD_SHA256: &str = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
const PUT_CANONICAL_REQUEST: &str = "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\nx-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\ndate;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
const PUT_CANONICAL_REQUEST_SHA256: &str = "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d";
const PUT_SIGNED_HEADERS: &str = "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class";
const PUT_SIGNATURE: &str = "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";

// ---------------------------------------------------------------- an independent SigV4

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes().to_vec()
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The signature of `canonical_request` at the examples' time, in us-east-1, for S3.
fn example_signature(secret: &str, canonical_request: &str) -> String {
    let key = signing_key(secret, "20130524", "us-east-1", "s3");
    hex(&hmac_sha256(&key, string_to_sign(AMZ_DATE, SCOPE, canonical_request).as_bytes()))
}

fn expected_authorization(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{SCOPE}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

// ---------------------------------------------------------------- the gateway's side

fn s3_config(endpoint: &str, bucket: &str, path_style: bool, session_token: Option<&str>) -> S3Config {
    S3Config {
        endpoint: url::Url::parse(endpoint).unwrap(),
        bucket: bucket.to_owned(),
        region: "us-east-1".to_owned(),
        access_key_id: ACCESS_KEY_ID.to_owned(),
        secret_access_key: Secret::new(SECRET_ACCESS_KEY),
        session_token: session_token.map(Secret::new),
        path_style,
        checksums: Default::default(),
    }
}

/// The examples' setting: AWS, bucket `examplebucket`, virtual-hosted style.
fn aws_example_config() -> S3Config {
    s3_config("https://s3.amazonaws.com", "examplebucket", false, None)
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The one value of header `name` (case-insensitive); panics if it is sent twice.
fn header<'a>(req: &'a SignedRequest, name: &str) -> Option<&'a str> {
    let mut values = req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let first = values.next();
    assert!(values.next().is_none(), "header {name} is sent more than once: {:?}", req.headers);
    first
}

fn authorization(req: &SignedRequest) -> &str {
    header(req, "authorization").unwrap_or_else(|| panic!("no authorization header in {:?}", req.headers))
}

// ---------------------------------------------------------------- SigV4: GET Object example

#[test]
fn aws_get_object_example_canonical_request_hashes_to_the_documented_value() {
    assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    assert_eq!(sha256_hex(GET_CANONICAL_REQUEST.as_bytes()), GET_CANONICAL_REQUEST_SHA256);
}

#[test]
fn aws_get_object_example_string_to_sign_and_key_derivation_give_the_documented_signature() {
    assert_eq!(string_to_sign(AMZ_DATE, SCOPE, GET_CANONICAL_REQUEST), GET_STRING_TO_SIGN);
    assert_eq!(example_signature(SECRET_ACCESS_KEY, GET_CANONICAL_REQUEST), GET_SIGNATURE);
}

#[test]
fn sign_request_reproduces_the_aws_get_object_example_authorization() {
    let cfg = aws_example_config();
    let url = cfg.object_url("test.txt");
    assert_eq!(url, "https://examplebucket.s3.amazonaws.com/test.txt");
    let signed = sign_request(&cfg, "GET", url, owned(&[("range", "bytes=0-9")]), EMPTY_SHA256, EXAMPLE_MS).unwrap();
    assert_eq!(authorization(&signed), expected_authorization(GET_SIGNED_HEADERS, GET_SIGNATURE));
    assert_eq!(header(&signed, "x-amz-date"), Some(AMZ_DATE));
    assert_eq!(header(&signed, "x-amz-content-sha256"), Some(EMPTY_SHA256));
    assert_eq!(header(&signed, "range"), Some("bytes=0-9"));
    assert_eq!(signed.method, "GET");
    assert_eq!(signed.url, "https://examplebucket.s3.amazonaws.com/test.txt");
}

// ---------------------------------------------------------------- SigV4: PUT Object example

#[test]
fn aws_put_object_example_payload_and_canonical_request_hash_to_the_documented_values() {
    assert_eq!(sha256_hex(PUT_PAYLOAD.as_bytes()), PUT_PAYLOAD_SHA256);
    assert_eq!(sha256_hex(PUT_CANONICAL_REQUEST.as_bytes()), PUT_CANONICAL_REQUEST_SHA256);
}

#[test]
fn aws_put_object_example_string_to_sign_and_key_derivation_give_the_documented_signature() {
    assert_eq!(
        string_to_sign(AMZ_DATE, SCOPE, PUT_CANONICAL_REQUEST),
        format!("AWS4-HMAC-SHA256\n{AMZ_DATE}\n{SCOPE}\n{PUT_CANONICAL_REQUEST_SHA256}")
    );
    assert_eq!(example_signature(SECRET_ACCESS_KEY, PUT_CANONICAL_REQUEST), PUT_SIGNATURE);
}

#[test]
fn sign_request_reproduces_the_aws_put_object_example_authorization_for_a_key_with_a_dollar_sign() {
    let cfg = aws_example_config();
    let url = cfg.object_url("test$file.text");
    assert_eq!(url, "https://examplebucket.s3.amazonaws.com/test%24file.text");
    let headers = owned(&[("date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")]);
    let signed = sign_request(&cfg, "PUT", url, headers, PUT_PAYLOAD_SHA256, EXAMPLE_MS).unwrap();
    assert_eq!(authorization(&signed), expected_authorization(PUT_SIGNED_HEADERS, PUT_SIGNATURE));
    assert_eq!(header(&signed, "x-amz-content-sha256"), Some(PUT_PAYLOAD_SHA256));
    assert_eq!(header(&signed, "x-amz-storage-class"), Some("REDUCED_REDUNDANCY"));
    assert_eq!(header(&signed, "date"), Some("Fri, 24 May 2013 00:00:00 GMT"));
}

// ---------------------------------------------------------------- SigV4: the headers it adds

#[test]
fn signed_requests_always_carry_x_amz_date_and_x_amz_content_sha256_and_no_token_without_one() {
    let cfg = s3_config("http://127.0.0.1:9000", "uploads", true, None);
    for payload in [UNSIGNED_PAYLOAD, EMPTY_SHA256, PUT_PAYLOAD_SHA256] {
        let signed = sign_request(&cfg, "PUT", cfg.object_url("a.txt"), owned(&[]), payload, EXAMPLE_MS).unwrap();
        assert_eq!(header(&signed, "x-amz-date"), Some(AMZ_DATE));
        assert_eq!(header(&signed, "x-amz-content-sha256"), Some(payload));
        assert_eq!(header(&signed, "x-amz-security-token"), None);
        assert!(
            authorization(&signed).contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"),
            "{}",
            authorization(&signed)
        );
    }
}

#[test]
fn the_signing_time_is_now_ms_and_no_clock_is_read() {
    let cfg = aws_example_config();
    // 2021-03-04T05:06:07.890Z
    let signed = sign_request(&cfg, "GET", cfg.object_url("a"), owned(&[]), EMPTY_SHA256, 1_614_834_367_890).unwrap();
    assert_eq!(header(&signed, "x-amz-date"), Some("20210304T050607Z"));
    assert!(authorization(&signed).contains("Credential=AKIAIOSFODNN7EXAMPLE/20210304/us-east-1/s3/aws4_request,"));
}

#[test]
fn a_session_token_is_sent_and_signed_as_x_amz_security_token() {
    let token = "FQoGZXIvYXdzEXAMPLE//token+with/slashes=";
    let cfg = s3_config("https://s3.amazonaws.com", "examplebucket", false, Some(token));
    let signed = sign_request(
        &cfg,
        "GET",
        cfg.object_url("test.txt"),
        owned(&[("range", "bytes=0-9")]),
        EMPTY_SHA256,
        EXAMPLE_MS,
    )
    .unwrap();
    assert_eq!(header(&signed, "x-amz-security-token"), Some(token));
    assert_eq!(header(&signed, "x-amz-date"), Some(AMZ_DATE));
    assert_eq!(header(&signed, "x-amz-content-sha256"), Some(EMPTY_SHA256));

    let signed_headers = "host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token";
    let canonical = format!(
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:{AMZ_DATE}\nx-amz-security-token:{token}\n\n{signed_headers}\n{EMPTY_SHA256}"
    );
    let signature = example_signature(SECRET_ACCESS_KEY, &canonical);
    assert_ne!(signature, GET_SIGNATURE, "the token must change the signature");
    assert_eq!(authorization(&signed), expected_authorization(signed_headers, &signature));
}

#[test]
fn the_secret_access_key_is_never_sent() {
    let cfg = aws_example_config();
    let signed = sign_request(&cfg, "GET", cfg.object_url("test.txt"), owned(&[]), EMPTY_SHA256, EXAMPLE_MS).unwrap();
    assert!(!format!("{signed:?}").contains(SECRET_ACCESS_KEY), "{signed:?}");
}

// ---------------------------------------------------------------- key encoding and URLs

#[test]
fn encode_key_keeps_unreserved_characters_and_slashes() {
    let kept = "ABCXYZabcxyz0189-_.~/dir/sub/file.tar.gz";
    assert_eq!(encode_key(kept), kept);
    assert_eq!(encode_key("~user/a~b"), "~user/a~b");
}

#[test]
fn encode_key_percent_encodes_space_plus_and_percent() {
    assert_eq!(encode_key("my file.txt"), "my%20file.txt");
    assert_eq!(encode_key("a+b"), "a%2Bb");
    assert_eq!(encode_key("100%"), "100%25");
    // An already-encoded-looking key is a literal key: its `%` is encoded again, not passed through.
    assert_eq!(encode_key("a%20b"), "a%2520b");
}

#[test]
fn encode_key_encodes_sub_delimiters_and_other_punctuation_in_uppercase_hex() {
    assert_eq!(encode_key("!*'()"), "%21%2A%27%28%29");
    assert_eq!(encode_key("$&,:;=?@#[]"), "%24%26%2C%3A%3B%3D%3F%40%23%5B%5D");
    assert_eq!(encode_key("\"<>\\^`{|}"), "%22%3C%3E%5C%5E%60%7B%7C%7D");
}

#[test]
fn encode_key_encodes_unicode_byte_wise_as_utf8() {
    assert_eq!(encode_key("ü"), "%C3%BC");
    assert_eq!(encode_key("fotos/über.jpg"), "fotos/%C3%BCber.jpg");
    assert_eq!(encode_key("日本"), "%E6%97%A5%E6%9C%AC");
    assert_eq!(encode_key("😀"), "%F0%9F%98%80");
}

#[test]
fn path_style_object_url_puts_the_bucket_in_the_path() {
    let cfg = s3_config("http://127.0.0.1:9000", "bucket", true, None);
    assert_eq!(cfg.object_url("key"), "http://127.0.0.1:9000/bucket/key");
    assert_eq!(cfg.object_url("a/b c+ü.txt"), "http://127.0.0.1:9000/bucket/a/b%20c%2B%C3%BC.txt");
    let cfg = s3_config("https://account.r2.cloudflarestorage.com", "uploads", true, None);
    assert_eq!(cfg.object_url("k"), "https://account.r2.cloudflarestorage.com/uploads/k");
}

#[test]
fn virtual_hosted_object_url_puts_the_bucket_in_the_host() {
    let cfg = s3_config("https://s3.us-east-1.amazonaws.com", "bucket", false, None);
    assert_eq!(cfg.object_url("key"), "https://bucket.s3.us-east-1.amazonaws.com/key");
    assert_eq!(cfg.object_url("dir/my file"), "https://bucket.s3.us-east-1.amazonaws.com/dir/my%20file");
}

#[test]
fn object_url_keeps_an_explicit_port_and_drops_a_default_one() {
    let cfg = s3_config("https://s3.example.test:8443", "bucket", false, None);
    assert_eq!(cfg.object_url("key"), "https://bucket.s3.example.test:8443/key");
    let cfg = s3_config("https://s3.example.test:8443/", "bucket", true, None);
    assert_eq!(cfg.object_url("key"), "https://s3.example.test:8443/bucket/key");
    let cfg = s3_config("https://s3.example.test:443", "bucket", true, None);
    assert_eq!(cfg.object_url("key"), "https://s3.example.test/bucket/key");
}

#[test]
fn signing_a_path_style_url_signs_the_key_encoded_once() {
    let cfg = s3_config("http://127.0.0.1:9000", "bucket", true, None);
    let url = cfg.object_url("photos/my summer ü+.jpg");
    let path = "/bucket/photos/my%20summer%20%C3%BC%2B.jpg";
    assert_eq!(url, format!("http://127.0.0.1:9000{path}"));
    let signed = sign_request(&cfg, "GET", url.clone(), owned(&[]), UNSIGNED_PAYLOAD, EXAMPLE_MS).unwrap();
    assert_eq!(signed.url, url, "the URL sent must be the one signed");

    let canonical_for = |path: &str| {
        format!(
            "GET\n{path}\n\nhost:127.0.0.1:9000\nx-amz-content-sha256:{UNSIGNED_PAYLOAD}\nx-amz-date:{AMZ_DATE}\n\nhost;x-amz-content-sha256;x-amz-date\n{UNSIGNED_PAYLOAD}"
        )
    };
    let single = example_signature(SECRET_ACCESS_KEY, &canonical_for(path));
    let double = example_signature(SECRET_ACCESS_KEY, &canonical_for(&path.replace('%', "%25")));
    assert_ne!(single, double);
    assert_eq!(authorization(&signed), expected_authorization("host;x-amz-content-sha256;x-amz-date", &single));
}

// ---------------------------------------------------------------- error mapping

/// A realistic S3 error body.
fn s3_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>examplebucket.s3.amazonaws.com</HostId></Error>"
    )
}

/// The problem document as the client would receive it.
fn problem_json(err: &GatewayError) -> String {
    serde_json::to_string(&err.problem()).unwrap()
}

fn assert_maps(op: &str, status: u16, body: &str, kind: ErrorKind, http: u16, code: &str) {
    let err = map_error(op, status, body);
    assert_eq!(err.kind, kind, "S3 {status} {body:?}");
    assert_eq!(err.status(), http, "S3 {status} {body:?}");
    assert_eq!(err.code(), code, "S3 {status} {body:?}");
}

#[test]
fn error_code_reads_the_code_element_of_an_s3_error_body() {
    assert_eq!(error_code(&s3_error("NoSuchKey", "The specified key does not exist.")).as_deref(), Some("NoSuchKey"));
    assert_eq!(error_code("<Error>\n  <Code> SlowDown </Code>\n</Error>").as_deref(), Some("SlowDown"));
    assert_eq!(error_code(""), None);
    assert_eq!(error_code("upstream connect error"), None);
    assert_eq!(error_code("<Error><Code>Unterminated"), None);
}

#[test]
fn no_such_key_and_a_bodyless_404_map_to_not_found() {
    assert_maps(
        "GET",
        404,
        &s3_error("NoSuchKey", "The specified key does not exist."),
        ErrorKind::NotFound,
        404,
        "not_found",
    );
    // HEAD answers carry no body.
    assert_maps("HEAD", 404, "", ErrorKind::NotFound, 404, "not_found");
}

#[test]
fn a_missing_bucket_is_a_storage_error_not_a_missing_object() {
    assert_maps(
        "GET",
        404,
        &s3_error("NoSuchBucket", "The specified bucket does not exist"),
        ErrorKind::StorageError,
        502,
        "storage_error",
    );
}

#[test]
fn precondition_failed_maps_to_412() {
    assert_maps(
        "PUT",
        412,
        &s3_error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
        ErrorKind::PreconditionFailed,
        412,
        "precondition_failed",
    );
    assert_maps("HEAD", 412, "", ErrorKind::PreconditionFailed, 412, "precondition_failed");
}

#[test]
fn digest_and_checksum_errors_map_to_400_checksum_mismatch() {
    for code in ["BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"] {
        assert_maps(
            "PUT",
            400,
            &s3_error(code, "The checksum did not match"),
            ErrorKind::ChecksumMismatch,
            400,
            "checksum_mismatch",
        );
    }
}

#[test]
fn credential_errors_map_to_502_storage_auth_failed() {
    for code in ["SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"] {
        assert_maps("PUT", 403, &s3_error(code, "denied"), ErrorKind::StorageAuthFailed, 502, "storage_auth_failed");
    }
    assert_maps("HEAD", 403, "", ErrorKind::StorageAuthFailed, 502, "storage_auth_failed");
}

#[test]
fn storage_auth_failed_problem_hides_the_stores_detail_but_the_log_keeps_its_code() {
    let body = format!(
        "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><AWSAccessKeyId>{ACCESS_KEY_ID}</AWSAccessKeyId><StringToSign>{GET_STRING_TO_SIGN}</StringToSign><SignatureProvided>{GET_SIGNATURE}</SignatureProvided><CanonicalRequest>{GET_CANONICAL_REQUEST}</CanonicalRequest></Error>"
    );
    let err = map_error("PUT", 403, &body);
    assert_eq!(err.kind, ErrorKind::StorageAuthFailed);
    let problem = problem_json(&err);
    for secret in [
        "SignatureDoesNotMatch",
        "signature we calculated",
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        GET_SIGNATURE,
        "examplebucket",
        "amazonaws",
        "AWS4-HMAC-SHA256",
    ] {
        assert!(!problem.contains(secret), "problem leaks {secret:?}: {problem}");
    }
    let log = err.log_line();
    assert!(log.contains("SignatureDoesNotMatch") && log.contains("403"), "{log}");
    assert!(!log.contains(ACCESS_KEY_ID) && !log.contains(GET_SIGNATURE), "{log}");
}

#[test]
fn slow_down_and_503_map_to_503_storage_error() {
    assert_maps(
        "PUT",
        503,
        &s3_error("SlowDown", "Please reduce your request rate."),
        ErrorKind::StorageUnavailable,
        503,
        "storage_error",
    );
    assert_maps("GET", 503, "", ErrorKind::StorageUnavailable, 503, "storage_error");
    assert_maps(
        "GET",
        503,
        &s3_error("ServiceUnavailable", "Reduce your request rate."),
        ErrorKind::StorageUnavailable,
        503,
        "storage_error",
    );
}

#[test]
fn other_server_errors_map_to_502_storage_error() {
    assert_maps(
        "PUT",
        500,
        &s3_error("InternalError", "We encountered an internal error. Please try again."),
        ErrorKind::StorageError,
        502,
        "storage_error",
    );
    assert_maps("GET", 500, "", ErrorKind::StorageError, 502, "storage_error");
    assert_maps("GET", 500, "<html>Bad Gateway</html>", ErrorKind::StorageError, 502, "storage_error");
}

#[test]
fn invalid_range_and_416_map_to_range_not_satisfiable() {
    assert_maps(
        "GET",
        416,
        &s3_error("InvalidRange", "The requested range is not satisfiable"),
        ErrorKind::RangeNotSatisfiable,
        416,
        "range_not_satisfiable",
    );
    assert_maps("GET", 416, "", ErrorKind::RangeNotSatisfiable, 416, "range_not_satisfiable");
}

#[test]
fn no_problem_document_contains_the_endpoint_credentials_or_the_stores_message() {
    let message = "Internal detail from https://s3.us-east-1.amazonaws.com/examplebucket for AKIAIOSFODNN7EXAMPLE";
    let cases = [
        (404, "NoSuchKey"),
        (404, "NoSuchBucket"),
        (412, "PreconditionFailed"),
        (400, "BadDigest"),
        (403, "AccessDenied"),
        (403, "InvalidAccessKeyId"),
        (503, "SlowDown"),
        (500, "InternalError"),
        (416, "InvalidRange"),
        (400, "InvalidArgument"),
    ];
    for (status, code) in cases {
        let err = map_error("PUT", status, &s3_error(code, message));
        let problem = problem_json(&err);
        for leak in ["amazonaws", "examplebucket", ACCESS_KEY_ID, "Internal detail", "RequestId", "4442587FB7D0A2F9"] {
            assert!(!problem.contains(leak), "S3 {status} {code}: problem leaks {leak:?}: {problem}");
        }
    }
    let err = unreachable("PUT", "connect to https://s3.us-east-1.amazonaws.com failed");
    assert_eq!((err.status(), err.code()), (503, "storage_error"));
    assert!(!problem_json(&err).contains("amazonaws"), "{}", problem_json(&err));
}

// ---------------------------------------------------------------- headers from the store

#[test]
fn parse_content_range_reads_a_satisfied_range() {
    let r = parse_content_range("bytes 0-9/100").unwrap();
    assert_eq!((r.start, r.end, r.size, r.len()), (0, 9, 100, 10));
    let r = parse_content_range("bytes 99-99/100").unwrap();
    assert_eq!((r.start, r.end, r.size, r.len()), (99, 99, 100, 1));
    let r = parse_content_range("  bytes 5-5368709119/5368709120 ").unwrap();
    assert_eq!((r.start, r.end, r.size), (5, 5_368_709_119, 5_368_709_120));
    assert_eq!(r.content_range(), "bytes 5-5368709119/5368709120");
}

#[test]
fn parse_content_range_refuses_malformed_and_inconsistent_values() {
    for bad in [
        "",
        "bytes",
        "bytes */100",
        "bytes 0-9/*",
        "bytes 0-9",
        "bytes 10-5/100",
        "bytes 0-100/100",
        "bytes 0-0/0",
        "bytes -1-9/100",
        "bytes a-9/100",
        "bytes 0-9/1e3",
        "bytes=0-9/100",
        "items 0-9/100",
        "0-9/100",
        "bytes 0-99999999999999999999/100000000000000000000",
    ] {
        assert_eq!(parse_content_range(bad), None, "{bad:?} was accepted");
    }
}

#[test]
fn parse_http_date_reads_imf_fixdate_as_epoch_milliseconds() {
    assert_eq!(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), Some(EXAMPLE_MS));
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
    assert_eq!(parse_http_date("  Thu, 01 Jan 1970 00:00:00 GMT "), Some(0));
    assert_eq!(parse_http_date("Sun, 15 Jun 2025 15:06:40 GMT"), Some(1_750_000_000_000));
}

#[test]
fn parse_http_date_refuses_malformed_dates() {
    for bad in [
        "",
        "yesterday",
        "2013-05-24T00:00:00Z",
        "1369353600",
        "Fri, 32 May 2013 00:00:00 GMT",
        "Fri, 24 Foo 2013 00:00:00 GMT",
        "Fri, 24 May 2013 25:00:00 GMT",
        "Fri, 24 May 2013",
    ] {
        assert_eq!(parse_http_date(bad), None, "{bad:?} was accepted");
    }
}

// ------------------------------------------------------------ digests a store did not check

mod digests {
    use gateway_core::error::ErrorKind;
    use gateway_core::s3::check_put_digests;

    const MD5: [u8; 16] =
        [0xea, 0xf5, 0xcd, 0x81, 0x19, 0x7b, 0xcb, 0x4f, 0x54, 0x51, 0x48, 0xb4, 0x01, 0x33, 0x3b, 0x1e];
    const ETAG: &str = "\"eaf5cd81197bcb4f545148b401333b1e\"";
    const SHA: [u8; 32] = [7; 32];

    fn sha_b64(d: &[u8; 32]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(d)
    }

    #[test]
    fn a_sha256_the_store_echoed_is_confirmed_and_one_it_did_not_echo_is_refused() {
        assert!(check_put_digests(None, Some(&SHA), Some(ETAG), Some(&sha_b64(&SHA))).is_ok());
        // moto answers 200 without checking: no echo, so the digest is not taken as verified.
        let err = check_put_digests(None, Some(&SHA), Some(ETAG), None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert!(err.detail.contains("did not confirm"), "{err}");
        let err = check_put_digests(None, Some(&SHA), Some(ETAG), Some(&sha_b64(&[8; 32]))).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ChecksumMismatch);
    }

    #[test]
    fn an_md5_is_compared_with_an_md5_etag_so_a_store_that_ignores_content_md5_cannot_accept_a_bad_body() {
        assert!(check_put_digests(Some(&MD5), None, Some(ETAG), None).is_ok());
        assert!(check_put_digests(Some(&MD5), None, Some(&ETAG.to_uppercase()), None).is_ok());
        let mut other = MD5;
        other[0] ^= 1;
        assert_eq!(
            check_put_digests(Some(&other), None, Some(ETAG), None).unwrap_err().kind,
            ErrorKind::ChecksumMismatch
        );
        // An ETag that is not an MD5 (SSE-KMS on AWS) leaves the check to the store, which did it.
        assert!(check_put_digests(Some(&other), None, Some("\"abc-3\""), None).is_ok());
    }

    #[test]
    fn no_digest_sent_means_nothing_to_confirm() {
        assert!(check_put_digests(None, None, None, None).is_ok());
    }
}
