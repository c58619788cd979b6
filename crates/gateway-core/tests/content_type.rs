//! Content-type allow-lists decide which uploads get a 415: these tests pin how a header is
//! reduced to its essence, which patterns parse, and how `type/*` and `*/*` wildcards match.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::content_type::{allowed, essence, TypePattern};

fn pat(p: &str) -> TypePattern {
    TypePattern::parse(p).unwrap_or_else(|| panic!("pattern `{p}` did not parse"))
}

#[test]
fn essence_lowercases_and_drops_parameters() {
    assert_eq!(essence("text/plain").as_deref(), Some("text/plain"));
    assert_eq!(essence("Text/HTML; charset=UTF-8").as_deref(), Some("text/html"));
    assert_eq!(essence("  image/PNG ").as_deref(), Some("image/png"));
    assert_eq!(essence("application/vnd.api+json;q=1").as_deref(), Some("application/vnd.api+json"));
    assert_eq!(essence("multipart/form-data; boundary=xyz").as_deref(), Some("multipart/form-data"));
}

#[test]
fn essence_refuses_values_that_are_not_media_types() {
    for bad in ["", "text", "text/", "/plain", "te xt/plain", "text/pl@in", "text/plain/extra", "(x)/y", ";", "*/*"] {
        assert_eq!(essence(bad), None, "`{bad}`");
    }
}

#[test]
fn exact_pattern_matches_only_its_type() {
    let p = pat("image/png");
    assert!(p.matches("image/png"));
    assert!(!p.matches("image/jpeg"));
    assert!(!p.matches("image/pngx"));
    assert!(!p.matches("text/png"));
}

#[test]
fn type_wildcard_matches_every_subtype_of_that_type_only() {
    let p = pat("image/*");
    for ok in ["image/png", "image/jpeg", "image/svg+xml"] {
        assert!(p.matches(ok), "{ok}");
    }
    for no in ["video/mp4", "imagex/png", "application/image", "image"] {
        assert!(!p.matches(no), "{no}");
    }
}

#[test]
fn full_wildcard_matches_every_media_type() {
    for p in [pat("*/*"), pat("*")] {
        assert!(p.matches("image/png"));
        assert!(p.matches("application/octet-stream"));
        assert!(!p.matches("no-slash"));
    }
}

#[test]
fn patterns_are_case_insensitive_and_trimmed() {
    assert_eq!(pat(" IMAGE/* "), pat("image/*"));
    assert!(pat("Application/PDF").matches("application/pdf"));
}

#[test]
fn malformed_patterns_do_not_parse() {
    for bad in ["", "image", "*/png", "image/*/x", "image/ *", "/*", "ima ge/*", "image/**"] {
        assert_eq!(TypePattern::parse(bad), None, "`{bad}`");
    }
}

#[test]
fn patterns_display_in_canonical_form() {
    assert_eq!(pat("image/*").to_string(), "image/*");
    assert_eq!(pat("*").to_string(), "*/*");
    assert_eq!(pat("Application/PDF").to_string(), "application/pdf");
}

#[test]
fn allowed_without_a_list_allows_everything() {
    assert!(allowed(None, "application/x-anything"));
}

#[test]
fn allowed_with_a_list_needs_one_matching_pattern() {
    let list = vec![pat("image/*"), pat("application/pdf")];
    assert!(allowed(Some(&list), "image/webp"));
    assert!(allowed(Some(&list), "application/pdf"));
    assert!(!allowed(Some(&list), "application/zip"));
    assert!(!allowed(Some(&list), "text/html"));
}

#[test]
fn allowed_with_an_empty_list_allows_nothing() {
    assert!(!allowed(Some(&[]), "image/png"));
}
