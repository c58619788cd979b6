//! With `STORAGE=s3` the gateway signs requests to a store it cannot see; a missing or wrong
//! `S3_*` variable would otherwise surface only as failed uploads. These tests pin that every
//! required variable is demanded by name, that malformed values are refused rather than
//! guessed around, the defaults (region, path style by endpoint), and that the secret access
//! key never appears in the configuration's debug output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::config::{Config, Storage};
use gateway_core::error::GatewayError;
use gateway_core::s3::S3Config;

const S3_SECRET: &str = "minio-secret-0123456789-very-private";

/// A complete `STORAGE=s3` configuration for a local MinIO.
fn s3_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("JWT_SECRET", SECRET),
        ("STORAGE", "s3"),
        ("S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("S3_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "minio-access"),
        ("S3_SECRET_ACCESS_KEY", S3_SECRET),
    ]
}

/// [`s3_vars`] with `overrides` replacing or adding variables and `removed` dropped.
fn try_s3(overrides: &[(&str, &str)], removed: &[&str]) -> Result<Config, GatewayError> {
    let mut vars: Vec<(&str, &str)> = s3_vars().into_iter().filter(|(k, _)| !removed.contains(k)).collect();
    for &(name, value) in overrides {
        vars.retain(|&(k, _)| k != name);
        vars.push((name, value));
    }
    try_config(&vars)
}

fn s3_with(overrides: &[(&str, &str)]) -> S3Config {
    let c = try_s3(overrides, &[]).unwrap_or_else(|e| panic!("{overrides:?} was refused: {e}"));
    match c.storage {
        Storage::S3(s3) => s3,
        Storage::R2 => panic!("STORAGE=s3 gave the R2 backend"),
    }
}

fn s3_error(overrides: &[(&str, &str)], removed: &[&str]) -> GatewayError {
    match try_s3(overrides, removed) {
        Ok(c) => panic!("{overrides:?} without {removed:?} was accepted: {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn storage_s3_with_the_required_variables_yields_an_s3_config() {
    let s3 = s3_with(&[]);
    assert_eq!(s3.endpoint.as_str(), "http://127.0.0.1:9000/");
    assert_eq!(s3.bucket, "uploads");
    assert_eq!(s3.access_key_id, "minio-access");
    assert_eq!(s3.secret_access_key.expose(), S3_SECRET);
    assert!(s3.session_token.is_none());
    assert_eq!(s3.object_url("a/b.txt"), "http://127.0.0.1:9000/uploads/a/b.txt");
}

#[test]
fn storage_value_s3_is_case_insensitive() {
    assert_eq!(s3_with(&[("STORAGE", "S3")]).bucket, "uploads");
}

#[test]
fn r2_storage_ignores_s3_variables() {
    let c = try_s3(&[], &["STORAGE"]).unwrap();
    assert!(matches!(c.storage, Storage::R2), "{:?}", c.storage);
}

#[test]
fn each_missing_required_s3_variable_is_a_config_error_naming_it() {
    for var in ["S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] {
        assert_names(&s3_error(&[], &[var]), var);
        // A blank value counts as unset.
        assert_names(&s3_error(&[(var, "  ")], &[]), var);
    }
}

#[test]
fn s3_region_defaults_to_us_east_1() {
    assert_eq!(s3_with(&[]).region, "us-east-1");
    assert_eq!(s3_with(&[("S3_REGION", "")]).region, "us-east-1");
}

#[test]
fn s3_region_accepts_named_regions_and_auto() {
    assert_eq!(s3_with(&[("S3_REGION", "auto")]).region, "auto");
    assert_eq!(s3_with(&[("S3_REGION", "eu-west-3")]).region, "eu-west-3");
}

#[test]
fn malformed_s3_region_is_a_config_error_naming_it() {
    for bad in ["eu west 1", "us-east-1/evil", "us_east_1", "région"] {
        assert_names(&s3_error(&[("S3_REGION", bad)], &[]), "S3_REGION");
    }
}

#[test]
fn malformed_s3_endpoint_is_a_config_error_naming_it() {
    for bad in [
        "https://s3.example.com/uploads",
        "http://127.0.0.1:9000/bucket/",
        "ftp://s3.example.com",
        "s3.amazonaws.com",
        "not a url",
        "https://s3.example.com?region=x",
        "file:///tmp/s3",
    ] {
        assert_names(&s3_error(&[("S3_ENDPOINT", bad)], &[]), "S3_ENDPOINT");
    }
}

#[test]
fn s3_endpoint_may_carry_a_port_and_a_trailing_slash() {
    let s3 = s3_with(&[("S3_ENDPOINT", "https://minio.internal:9443/")]);
    assert_eq!(s3.endpoint.port(), Some(9443));
    assert_eq!(s3.object_url("k"), "https://minio.internal:9443/uploads/k");
}

#[test]
fn malformed_s3_bucket_is_a_config_error_naming_it() {
    let too_long = "b".repeat(64);
    for bad in ["Uploads", "UPLOADS", "ab", "a", too_long.as_str(), "my_bucket", "my bucket", "bucket/key"] {
        assert_names(&s3_error(&[("S3_BUCKET", bad)], &[]), "S3_BUCKET");
    }
}

#[test]
fn s3_bucket_accepts_valid_names_from_3_to_63_characters() {
    let longest = "b".repeat(63);
    for good in ["abc", "my-bucket.2025", longest.as_str()] {
        assert_eq!(s3_with(&[("S3_BUCKET", good)]).bucket, good);
    }
}

#[test]
fn path_style_defaults_to_on_for_endpoints_other_than_aws() {
    for endpoint in [
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "https://0123456789abcdef.r2.cloudflarestorage.com",
        "https://notamazonaws.com",
    ] {
        assert!(s3_with(&[("S3_ENDPOINT", endpoint)]).path_style, "{endpoint}");
    }
}

#[test]
fn path_style_defaults_to_off_for_amazonaws_com() {
    for endpoint in
        ["https://s3.amazonaws.com", "https://s3.us-east-1.amazonaws.com", "https://s3.eu-west-3.amazonaws.com/"]
    {
        let s3 = s3_with(&[("S3_ENDPOINT", endpoint)]);
        assert!(!s3.path_style, "{endpoint}");
        assert!(s3.object_url("k").starts_with("https://uploads.s3."), "{}", s3.object_url("k"));
    }
}

#[test]
fn s3_force_path_style_true_and_false_override_the_default() {
    assert!(!s3_with(&[("S3_FORCE_PATH_STYLE", "false")]).path_style);
    assert!(!s3_with(&[("S3_FORCE_PATH_STYLE", "FALSE")]).path_style);
    let aws = "https://s3.us-east-1.amazonaws.com";
    assert!(s3_with(&[("S3_ENDPOINT", aws), ("S3_FORCE_PATH_STYLE", "true")]).path_style);
    assert!(s3_with(&[("S3_ENDPOINT", aws), ("S3_FORCE_PATH_STYLE", " True ")]).path_style);
    assert!(s3_with(&[("S3_FORCE_PATH_STYLE", "true")]).path_style);
}

#[test]
fn malformed_s3_force_path_style_is_a_config_error_naming_it() {
    for bad in ["maybe", "on", "2", "enabled", "truee", "t"] {
        assert_names(&s3_error(&[("S3_FORCE_PATH_STYLE", bad)], &[]), "S3_FORCE_PATH_STYLE");
    }
}

#[test]
fn s3_session_token_is_optional_and_read_when_set() {
    assert!(s3_with(&[]).session_token.is_none());
    let s3 = s3_with(&[("S3_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLE")]);
    assert_eq!(s3.session_token.as_ref().map(|t| t.expose()), Some("FQoGZXIvYXdzEXAMPLE"));
}

#[test]
fn s3_secrets_are_redacted_in_debug_output() {
    let c = try_s3(&[("S3_SESSION_TOKEN", "session-token-very-private")], &[]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains(S3_SECRET), "{debug}");
    assert!(!debug.contains("session-token-very-private"), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
    assert!(debug.contains("minio-access"), "the access key id is not secret: {debug}");
}

#[test]
fn s3_config_errors_never_echo_the_secret() {
    let err = s3_error(&[("S3_BUCKET", "BAD")], &[]);
    assert_names(&err, "S3_BUCKET");
    assert!(!err.log_line().contains(S3_SECRET));
    assert!(!serde_json::to_string(&err.problem()).unwrap().contains(S3_SECRET));
}

#[test]
fn s3_checksums_default_to_the_store_and_may_be_the_gateways() {
    use gateway_core::s3::Checksums;
    assert_eq!(s3_with(&[]).checksums, Checksums::Store);
    assert_eq!(s3_with(&[("S3_CHECKSUMS", "store")]).checksums, Checksums::Store);
    assert_eq!(s3_with(&[("S3_CHECKSUMS", "gateway")]).checksums, Checksums::Gateway);
    for bad in ["both", "none", "Gateway ", "true"] {
        assert_names(&s3_error(&[("S3_CHECKSUMS", bad)], &[]), "S3_CHECKSUMS");
    }
}
