//! A form POST's policy: S3's document format read and written, the gateway's signature over
//! it, and the conditions a form's fields and file must meet, as S3 applies them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use gateway_core::error::ErrorKind;
use gateway_core::form::policy::{sign, verify, Condition, FormPolicy};
use gateway_core::secret::Secret;

const NOW_MS: i64 = 1_796_000_000_000;

fn policy() -> FormPolicy {
    FormPolicy {
        expiration_ms: NOW_MS + 60_000,
        conditions: vec![
            Condition::StartsWith { field: "key".into(), prefix: "alice/".into() },
            Condition::Eq { field: "Content-Type".into(), value: "image/png".into() },
            Condition::Eq { field: "success_action_status".into(), value: "201".into() },
            Condition::LengthRange { min: 1, max: 1024 },
        ],
    }
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn ok_fields() -> Vec<(String, String)> {
    fields(&[
        ("key", "alice/${filename}"),
        ("content-type", "image/png"),
        ("success_action_status", "201"),
        ("policy", "…"),
        ("x-gateway-signature", "…"),
    ])
}

#[test]
fn reads_the_policy_examples_of_s3s_documentation() {
    // The condition forms of S3's "POST Policy" page: object, `eq`, `starts-with`, range.
    let doc = r#"{ "expiration": "2015-12-30T12:00:00.000Z",
      "conditions": [
        {"bucket": "sigv4examplebucket"},
        ["starts-with", "$key", "user/user1/"],
        {"acl": "public-read"},
        ["eq", "$success_action_status", "201"],
        ["starts-with", "$Content-Type", "image/"],
        ["content-length-range", 1048576, 10485760]
      ] }"#;
    let p = FormPolicy::from_json(doc).unwrap();
    assert_eq!(p.expiration_ms, 1_451_476_800_000);
    assert_eq!(p.exact("bucket"), Some("sigv4examplebucket"));
    assert_eq!(p.exact("ACL"), Some("public-read"), "field names match without regard to case");
    assert_eq!(p.exact("success_action_status"), Some("201"));
    assert_eq!(p.prefix("key"), Some("user/user1/"));
    assert_eq!(p.prefix("content-type"), Some("image/"));
    assert_eq!(p.length_range(), Some((1_048_576, 10_485_760)));
}

#[test]
fn a_written_policy_reads_back_the_same() {
    let p = policy();
    assert_eq!(FormPolicy::from_json(&p.to_json()).unwrap(), p);
    let decoded = base64::engine::general_purpose::STANDARD.decode(p.encoded()).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), p.to_json());
}

#[test]
fn malformed_policies_are_bad_requests_saying_what_is_wrong() {
    for doc in [
        "not json",
        r#"{"conditions": []}"#,
        r#"{"expiration": "tomorrow", "conditions": []}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z"}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["starts-with", "key", "a/"]]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 10, 1]]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", -1, 1]]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["matches", "$key", ".*"]]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"key": 1}]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"a": "1", "b": "2"}]}"#,
    ] {
        let err = FormPolicy::from_json(doc).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest, "{doc}");
        assert!(err.detail.contains("policy is malformed"), "{doc}: {}", err.detail);
    }
}

#[test]
fn a_form_meeting_every_condition_passes() {
    policy().check_fields(&ok_fields(), NOW_MS).unwrap();
}

#[test]
fn an_expired_policy_is_refused() {
    let err = policy().check_fields(&ok_fields(), NOW_MS + 60_000).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UrlExpired);
}

#[test]
fn each_broken_condition_is_refused_naming_the_field() {
    let cases: [(&str, &str, &str); 3] = [
        ("key", "bob/x.png", "key"),
        ("content-type", "image/jpeg", "Content-Type"),
        ("success_action_status", "200", "success_action_status"),
    ];
    for (name, bad, named) in cases {
        let mut f = ok_fields();
        f.iter_mut().find(|(n, _)| n == name).unwrap().1 = bad.to_owned();
        let err = policy().check_fields(&f, NOW_MS).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PolicyConditionFailed, "{name}");
        assert!(err.detail.contains(named), "{name}: {}", err.detail);
    }
    let missing: Vec<_> = ok_fields().into_iter().filter(|(n, _)| n != "content-type").collect();
    assert_eq!(policy().check_fields(&missing, NOW_MS).unwrap_err().kind, ErrorKind::PolicyConditionFailed);
}

#[test]
fn a_field_no_condition_names_is_refused_but_x_ignore_fields_are_not() {
    let mut f = ok_fields();
    f.push(("x-amz-meta-owner".into(), "mallory".into()));
    let err = policy().check_fields(&f, NOW_MS).unwrap_err();
    assert_eq!(err.kind, ErrorKind::PolicyConditionFailed);
    assert!(err.detail.contains("x-amz-meta-owner"), "{}", err.detail);
    let mut f = ok_fields();
    f.push(("X-Ignore-Submit".into(), "Upload".into()));
    policy().check_fields(&f, NOW_MS).unwrap();
}

#[test]
fn an_empty_starts_with_allows_any_value_but_not_a_missing_field() {
    let p = FormPolicy {
        expiration_ms: NOW_MS + 1,
        conditions: vec![Condition::StartsWith { field: "x-amz-meta-tag".into(), prefix: String::new() }],
    };
    p.check_fields(&fields(&[("x-amz-meta-tag", "anything")]), NOW_MS).unwrap();
    assert!(p.check_fields(&[], NOW_MS).is_err());
}

#[test]
fn the_size_range_bounds_the_file_on_both_sides() {
    let p = policy();
    p.check_size(1).unwrap();
    p.check_size(1024).unwrap();
    assert_eq!(p.check_size(1025).unwrap_err().kind, ErrorKind::PayloadTooLarge);
    assert_eq!(p.check_size(0).unwrap_err().kind, ErrorKind::PolicyConditionFailed);
    let two = FormPolicy {
        conditions: vec![Condition::LengthRange { min: 0, max: 100 }, Condition::LengthRange { min: 10, max: 1000 }],
        ..policy()
    };
    assert_eq!(two.length_range(), Some((10, 100)), "every range applies");
}

#[test]
fn the_signature_covers_the_whole_policy_field() {
    let secret = Secret::new("form-signing-secret-0123456789abcdef");
    let encoded = policy().encoded();
    let signature = sign(&secret, &encoded).unwrap();
    assert_eq!(verify(&secret, &encoded, &signature).unwrap(), policy());
    assert_eq!(verify(&secret, &encoded, &signature.to_uppercase()).unwrap(), policy(), "hex in either case");
    let other = FormPolicy { expiration_ms: NOW_MS + 3_600_000, ..policy() }.encoded();
    assert_eq!(verify(&secret, &other, &signature).unwrap_err().kind, ErrorKind::InvalidSignature);
    let wrong = Secret::new("another-secret-0123456789abcdef0123");
    assert_eq!(verify(&wrong, &encoded, &signature).unwrap_err().kind, ErrorKind::InvalidSignature);
    assert_eq!(verify(&secret, &encoded, "zz").unwrap_err().kind, ErrorKind::InvalidSignature);
}
