//! A misconfigured gateway must refuse to start rather than run with a guessed value: these
//! tests pin the defaults, and that every malformed variable is a `config_error` (500) whose
//! safe detail names the variable at fault without echoing secret values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use gateway_core::config::{
    CorsOrigins, Storage, DEFAULT_MAX_UPLOAD_BYTES, MIN_HS256_SECRET_BYTES, SINGLE_PUT_CEILING,
};
use gateway_core::content_type::TypePattern;
use gateway_core::error::GatewayError;
use serde_json::json;

/// Parses `extra` on top of a valid `JWT_SECRET` and returns the error.
fn error_with(extra: &[(&str, &str)]) -> GatewayError {
    let mut vars = vec![("JWT_SECRET", SECRET)];
    vars.extend_from_slice(extra);
    match try_config(&vars) {
        Ok(c) => panic!("configuration {extra:?} was accepted: {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_apply_when_only_a_secret_is_set() {
    let c = config();
    assert!(matches!(c.storage, Storage::R2));
    assert_eq!(c.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
    assert_eq!(DEFAULT_MAX_UPLOAD_BYTES, 100 * 1024 * 1024);
    assert_eq!(c.allowed_content_types, None);
    assert!(c.webhook.is_none());
    assert_eq!(c.cors_origins, CorsOrigins::None);
    assert_eq!(c.jwt.hs256_secret.as_ref().map(|s| s.expose()), Some(SECRET));
    assert!(c.jwt.public_keys.is_empty());
    assert_eq!(c.jwt.issuer, None);
    assert_eq!(c.jwt.audience, None);
}

#[test]
fn empty_and_blank_values_count_as_unset() {
    let c = config_with(&[
        ("STORAGE", ""),
        ("MAX_UPLOAD_BYTES", "   "),
        ("ALLOWED_CONTENT_TYPES", ""),
        ("JWT_ISSUER", " "),
        ("WEBHOOK_URL", ""),
        ("CORS_ORIGINS", ""),
        ("JWT_PUBLIC_KEYS", "  "),
    ]);
    assert_eq!(c.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
    assert_eq!(c.allowed_content_types, None);
    assert_eq!(c.jwt.issuer, None);
    assert!(c.webhook.is_none());
    assert_eq!(c.cors_origins, CorsOrigins::None);
}

#[test]
fn storage_accepts_r2_in_any_case_and_refuses_unknown_backends() {
    assert!(matches!(config_with(&[("STORAGE", "R2")]).storage, Storage::R2));
    assert!(matches!(config_with(&[("STORAGE", " r2 ")]).storage, Storage::R2));
    for bad in ["gcs", "r2,s3", "azure"] {
        assert_names(&error_with(&[("STORAGE", bad)]), "STORAGE");
    }
}

#[test]
fn metadata_is_d1_by_default_or_durable_objects_and_refuses_anything_else() {
    use gateway_core::config::MetadataBackend;
    assert_eq!(config_with(&[]).metadata, MetadataBackend::D1);
    assert_eq!(config_with(&[("METADATA", "D1")]).metadata, MetadataBackend::D1);
    assert_eq!(config_with(&[("METADATA", " durable-objects ")]).metadata, MetadataBackend::DurableObjects);
    for bad in ["do", "kv", "durable_objects"] {
        assert_names(&error_with(&[("METADATA", bad)]), "METADATA");
    }
}

#[test]
fn metadata_split_lists_whole_segment_prefixes_and_refuses_slashes_at_their_ends() {
    let cfg = config_with(&[("METADATA_SPLIT", " acme, acme/eu ,")]);
    assert_eq!(cfg.shards.shard_key("acme/eu/paris/a.txt"), "acme/eu/paris");
    assert_eq!(cfg.shards.shard_key("acme/us/a.txt"), "acme/us");
    assert_eq!(config_with(&[]).shards.shard_key("acme/us/a.txt"), "acme");
    for bad in ["/acme", "acme/", "acme//eu"] {
        assert_names(&error_with(&[("METADATA_SPLIT", bad)]), "METADATA_SPLIT");
    }
}

#[test]
fn max_upload_bytes_accepts_whole_numbers_from_one_to_the_single_put_ceiling() {
    assert_eq!(config_with(&[("MAX_UPLOAD_BYTES", "1")]).max_upload_bytes, 1);
    assert_eq!(config_with(&[("MAX_UPLOAD_BYTES", " 2048 ")]).max_upload_bytes, 2048);
    let ceiling = SINGLE_PUT_CEILING.to_string();
    assert_eq!(config_with(&[("MAX_UPLOAD_BYTES", &ceiling)]).max_upload_bytes, 5 * 1024 * 1024 * 1024);
}

#[test]
fn malformed_max_upload_bytes_is_a_config_error_naming_it() {
    let over = (SINGLE_PUT_CEILING + 1).to_string();
    for bad in ["0", "-1", "abc", "1.5", "10MB", "1e6", over.as_str(), "99999999999999999999999"] {
        assert_names(&error_with(&[("MAX_UPLOAD_BYTES", bad)]), "MAX_UPLOAD_BYTES");
    }
}

#[test]
fn allowed_content_types_are_parsed_as_patterns() {
    let c = config_with(&[("ALLOWED_CONTENT_TYPES", "image/*, application/pdf ,")]);
    assert_eq!(
        c.allowed_content_types,
        Some(vec![TypePattern::parse("image/*").unwrap(), TypePattern::parse("application/pdf").unwrap()])
    );
}

#[test]
fn malformed_allowed_content_types_is_a_config_error_naming_it() {
    for bad in ["images", "image/png, pdf", ",", "*/png", "image/ png x"] {
        assert_names(&error_with(&[("ALLOWED_CONTENT_TYPES", bad)]), "ALLOWED_CONTENT_TYPES");
    }
}

#[test]
fn jwt_secret_shorter_than_32_bytes_is_a_config_error_naming_it() {
    assert_eq!(MIN_HS256_SECRET_BYTES, 32);
    let short = "x".repeat(31);
    let err = try_config(&[("JWT_SECRET", &short)]).unwrap_err();
    assert_names(&err, "JWT_SECRET");
    let exact = "x".repeat(32);
    assert!(try_config(&[("JWT_SECRET", &exact)]).is_ok());
}

#[test]
fn jwt_secret_length_is_counted_after_trimming() {
    let padded = format!("   {}   ", "x".repeat(30));
    assert_names(&try_config(&[("JWT_SECRET", &padded)]).unwrap_err(), "JWT_SECRET");
}

#[test]
fn config_errors_never_echo_a_secret_value() {
    let short = "hunter2-is-my-password";
    let err = try_config(&[("JWT_SECRET", short)]).unwrap_err();
    assert!(!err.detail.contains(short));
    assert!(!err.log_line().contains(short));
    assert!(!serde_json::to_string(&err.problem()).unwrap().contains(short));
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let c = config_with(&[("WEBHOOK_URL", "https://hooks.example/upload"), ("WEBHOOK_SECRET", "whsec-very-private")]);
    let debug = format!("{c:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(!debug.contains("whsec-very-private"), "{debug}");
    assert!(debug.contains("redacted"));
}

#[test]
fn neither_secret_nor_public_keys_is_a_config_error_naming_both() {
    let err = try_config(&[]).unwrap_err();
    assert_names(&err, "JWT_SECRET");
    assert_names(&err, "JWT_PUBLIC_KEYS");
    let err = try_config(&[("JWT_ISSUER", "https://auth.example")]).unwrap_err();
    assert_names(&err, "JWT_SECRET");
}

#[test]
fn public_keys_alone_are_enough() {
    let doc = jwks(&[ed_jwk(&ed_key().pk, "ed"), es_jwk(&es_key(), "es")]);
    let c = try_config(&[("JWT_PUBLIC_KEYS", &doc)]).unwrap();
    assert!(c.jwt.hs256_secret.is_none());
    assert_eq!(c.jwt.public_keys.len(), 2);
}

#[test]
fn malformed_jwt_public_keys_is_a_config_error_naming_it() {
    let ed = ed_jwk(&ed_key().pk, "k");
    let mut no_kid = ed.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut wrong_alg = ed.clone();
    wrong_alg["alg"] = json!("ES256");
    let docs = [
        "not json".to_owned(),
        "[]".to_owned(),
        json!({"keys": [no_kid]}).to_string(),
        json!({"keys": [ed.clone(), ed.clone()]}).to_string(),
        json!({"keys": [wrong_alg]}).to_string(),
        json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "r"}]}).to_string(),
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short", "kid": "k"}]}).to_string(),
    ];
    for doc in docs {
        // Even with a valid HS256 secret, a broken key document is not ignored.
        assert_names(&error_with(&[("JWT_PUBLIC_KEYS", &doc)]), "JWT_PUBLIC_KEYS");
    }
}

#[test]
fn issuer_and_audience_are_read_and_trimmed() {
    let c = config_with(&[("JWT_ISSUER", " https://auth.example "), ("JWT_AUDIENCE", "uploads")]);
    assert_eq!(c.jwt.issuer.as_deref(), Some("https://auth.example"));
    assert_eq!(c.jwt.audience.as_deref(), Some("uploads"));
}

#[test]
fn webhook_url_without_webhook_secret_is_a_config_error_naming_the_secret() {
    let err = error_with(&[("WEBHOOK_URL", "https://hooks.example/upload")]);
    assert_names(&err, "WEBHOOK_SECRET");
    assert!(err.detail.contains("WEBHOOK_URL"));
}

#[test]
fn webhook_url_must_be_an_absolute_http_url() {
    for bad in ["hooks.example/upload", "ftp://hooks.example/upload", "/relative", "mailto:ops@example.com"] {
        assert_names(&error_with(&[("WEBHOOK_URL", bad), ("WEBHOOK_SECRET", "s")]), "WEBHOOK_URL");
    }
}

#[test]
fn webhook_url_and_secret_configure_delivery() {
    let c = config_with(&[("WEBHOOK_URL", "https://hooks.example/upload?x=1"), ("WEBHOOK_SECRET", "whsec")]);
    let hook = c.webhook.unwrap();
    assert_eq!(hook.url.as_str(), "https://hooks.example/upload?x=1");
    assert_eq!(hook.secret.expose(), "whsec");
}

#[test]
fn webhook_secret_without_url_configures_nothing() {
    assert!(config_with(&[("WEBHOOK_SECRET", "whsec")]).webhook.is_none());
}

#[test]
fn cors_origins_star_means_any_origin() {
    let c = config_with(&[("CORS_ORIGINS", "*")]);
    assert_eq!(c.cors_origins, CorsOrigins::Any);
    assert_eq!(c.cors_origins.allow(Some("https://whatever.example")).as_deref(), Some("*"));
    assert_eq!(c.cors_origins.allow(None), None);
}

#[test]
fn cors_origins_list_is_trimmed_and_matched_exactly() {
    let c = config_with(&[("CORS_ORIGINS", " https://app.example.com/ , http://localhost:8787")]);
    assert_eq!(
        c.cors_origins,
        CorsOrigins::List(vec!["https://app.example.com".into(), "http://localhost:8787".into()])
    );
    assert_eq!(c.cors_origins.allow(Some("https://app.example.com")).as_deref(), Some("https://app.example.com"));
    assert_eq!(c.cors_origins.allow(Some("http://localhost:8787")).as_deref(), Some("http://localhost:8787"));
    assert_eq!(c.cors_origins.allow(Some("https://evil.example.com")), None);
    assert_eq!(c.cors_origins.allow(Some("http://app.example.com")), None);
}

#[test]
fn malformed_cors_origins_is_a_config_error_naming_it() {
    for bad in ["app.example.com", "https://app.example.com/path", "https://a.example, nope", "*.example.com"] {
        assert_names(&error_with(&[("CORS_ORIGINS", bad)]), "CORS_ORIGINS");
    }
}

#[test]
fn multipart_ttl_defaults_to_a_day_and_is_bounded_by_a_week() {
    assert_eq!(config().multipart_ttl_ms, 86_400_000);
    assert_eq!(config_with(&[("MULTIPART_TTL_SECONDS", "604800")]).multipart_ttl_ms, 604_800_000);
    for bad in ["0", "604801", "-5", "1h"] {
        let err = try_config(&[("JWT_SECRET", SECRET), ("MULTIPART_TTL_SECONDS", bad)]).unwrap_err();
        assert_names(&err, "MULTIPART_TTL_SECONDS");
    }
}

#[test]
fn the_example_files_placeholder_secrets_are_refused_if_deployed_as_they_are() {
    let example = include_str!("../../../.dev.vars.example");
    let mut seen = 0;
    for line in example.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.split_once('=') else { continue };
        if name == "JWT_SECRET" || name == "URL_SIGNING_SECRET" {
            seen += 1;
            assert!(value.len() >= 32, "the placeholder would pass a length check alone");
            let err = if name == "JWT_SECRET" {
                try_config(&[(name, value)]).unwrap_err()
            } else {
                error_with(&[(name, value)])
            };
            assert_names(&err, name);
            assert!(err.to_string().contains("placeholder"), "{err}");
        }
    }
    assert_eq!(seen, 2);
    assert!(try_config(&[("JWT_SECRET", SECRET), ("URL_SIGNING_SECRET", "q8Yf3kLrT0pXw2ZsV9bN4mC7hJ1dE6aG")]).is_ok());
}

/// The build leaves IDNA's Unicode tables out (docs/architecture.md, "Module size"): a host
/// name is configured in its ASCII (`xn--`) form, and a Unicode one is refused with that advice.
#[test]
fn configured_urls_take_host_names_in_their_ascii_form_and_say_so_otherwise() {
    let c = config_with(&[("WEBHOOK_URL", "https://xn--bcher-kva.example/hook"), ("WEBHOOK_SECRET", "whsec")]);
    assert_eq!(c.webhook.unwrap().url.host_str(), Some("xn--bcher-kva.example"));
    let err = error_with(&[("WEBHOOK_URL", "https://bücher.example/hook"), ("WEBHOOK_SECRET", "whsec")]);
    assert_names(&err, "WEBHOOK_URL");
    assert!(err.detail.contains("xn--"), "{}", err.detail);
}
