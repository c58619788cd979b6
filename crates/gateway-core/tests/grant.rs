//! A `Grant` is what every handler consults before touching a key: these tests pin scope
//! parsing and that a token reaches only its own prefix, or only its exact key when it has
//! one — with 403 otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::ErrorKind;
use gateway_core::grant::{Grant, Scope, Scopes};
use gateway_core::key::ObjectKey;

const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Delete, Scope::List];

fn grant(scope: &str, prefix: &str, exact: Option<&str>) -> Grant {
    Grant {
        sub: "alice".into(),
        scopes: Scopes::parse(scope),
        prefix: prefix.into(),
        exact_key: exact.map(str::to_owned),
        max_size: None,
        content_types: None,
        expires_ms: None,
        quota: None,
    }
}

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k.to_owned()).unwrap()
}

#[test]
fn all_contains_every_scope() {
    for s in ALL {
        assert!(Scopes::ALL.contains(s), "{s:?}");
    }
    assert_eq!(Scopes::parse("read write delete list"), Scopes::ALL);
}

#[test]
fn scope_claim_is_space_separated_words() {
    let s = Scopes::parse("read  \t write");
    assert!(s.contains(Scope::Read));
    assert!(s.contains(Scope::Write));
    assert!(!s.contains(Scope::Delete));
    assert!(!s.contains(Scope::List));
}

#[test]
fn unknown_scope_words_are_ignored() {
    let s = Scopes::parse("openid profile files:read list");
    assert_eq!(s, Scopes::parse("list"));
}

#[test]
fn scope_words_are_case_sensitive_and_not_prefixes() {
    let s = Scopes::parse("READ Write reading writes");
    for sc in ALL {
        assert!(!s.contains(sc), "{sc:?}");
    }
}

#[test]
fn empty_scope_contains_nothing() {
    for sc in ALL {
        assert!(!Scopes::parse("").contains(sc));
    }
}

#[test]
fn scope_names_are_the_claim_words() {
    let names: Vec<_> = ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["read", "write", "delete", "list"]);
    for s in ALL {
        assert!(Scopes::parse(s.name()).contains(s));
    }
}

#[test]
fn require_refuses_a_missing_scope_with_403_naming_it() {
    let g = grant("read", "alice/", None);
    assert!(g.require(Scope::Read).is_ok());
    let err = g.require(Scope::Delete).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert_eq!(err.status(), 403);
    assert!(err.detail.contains("delete"), "{err}");
}

#[test]
fn prefix_allows_keys_below_it_only() {
    let g = grant("read write", "alice/", None);
    assert!(g.authorize(Scope::Read, &key("alice/a.txt")).is_ok());
    assert!(g.authorize(Scope::Write, &key("alice/deep/er/b.bin")).is_ok());
    for other in ["bob/a.txt", "alicex/a.txt", "alice", "Alice/a.txt", "x/alice/a.txt"] {
        let err = g.authorize(Scope::Read, &key(other)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden, "{other}");
    }
}

#[test]
fn scope_is_checked_even_inside_the_prefix() {
    let g = grant("read", "alice/", None);
    let err = g.authorize(Scope::Write, &key("alice/a.txt")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert!(err.detail.contains("write"), "{err}");
}

#[test]
fn exact_key_allows_that_key_and_nothing_else() {
    let g = grant("read write", "alice/", Some("alice/report.pdf"));
    assert!(g.authorize(Scope::Write, &key("alice/report.pdf")).is_ok());
    for other in ["alice/report.pdf.bak", "alice/other.pdf", "alice/report.pd"] {
        assert_eq!(g.authorize(Scope::Write, &key(other)).unwrap_err().kind, ErrorKind::Forbidden, "{other}");
    }
}

#[test]
fn empty_prefix_covers_every_key() {
    let g = grant("read", "", None);
    assert!(g.authorize(Scope::Read, &key("anyone/anything")).is_ok());
}
