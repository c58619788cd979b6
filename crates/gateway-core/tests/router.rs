//! Routing happens before authentication, so it alone decides 404 versus 405 and how a path
//! becomes an object key. These tests pin the route table, the `Allow`-worthy 405s and the
//! key decoding at the routing step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::ErrorKind;
use gateway_core::key::ObjectKey;
use gateway_core::router::{route, Route, OBJECT_METHODS};
use http::Method;

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k.to_owned()).unwrap()
}

fn err_kind(method: Method, path: &str) -> ErrorKind {
    route(&method, path).unwrap_err().kind
}

#[test]
fn health_answers_get_and_head() {
    assert_eq!(route(&Method::GET, "/healthz").unwrap(), Route::Health);
    assert_eq!(route(&Method::HEAD, "/healthz").unwrap(), Route::Health);
}

#[test]
fn health_refuses_other_methods_with_405() {
    let err = route(&Method::POST, "/healthz").unwrap_err();
    assert_eq!(err.kind, ErrorKind::MethodNotAllowed);
    assert_eq!(err.status(), 405);
    assert!(err.detail.contains("GET, HEAD"), "{err}");
}

#[test]
fn list_is_get_on_files_with_or_without_slash() {
    assert_eq!(route(&Method::GET, "/files").unwrap(), Route::List);
    assert_eq!(route(&Method::GET, "/files/").unwrap(), Route::List);
    assert_eq!(err_kind(Method::PUT, "/files"), ErrorKind::MethodNotAllowed);
    assert_eq!(err_kind(Method::DELETE, "/files/"), ErrorKind::MethodNotAllowed);
}

#[test]
fn object_methods_map_to_their_routes() {
    assert_eq!(route(&Method::PUT, "/files/alice/a.txt").unwrap(), Route::Upload(key("alice/a.txt")));
    assert_eq!(route(&Method::GET, "/files/alice/a.txt").unwrap(), Route::Download(key("alice/a.txt")));
    assert_eq!(route(&Method::HEAD, "/files/alice/a.txt").unwrap(), Route::Head(key("alice/a.txt")));
    assert_eq!(route(&Method::DELETE, "/files/alice/a.txt").unwrap(), Route::Delete(key("alice/a.txt")));
    assert_eq!(route(&Method::POST, "/files/alice/a.txt").unwrap(), Route::Post(key("alice/a.txt")));
}

#[test]
fn other_methods_on_an_object_are_405() {
    for m in [Method::PATCH, Method::TRACE, Method::CONNECT] {
        let err = route(&m, "/files/alice/a.txt").unwrap_err();
        assert_eq!(err.kind, ErrorKind::MethodNotAllowed, "{m}");
        assert!(err.detail.contains(OBJECT_METHODS));
    }
    // Every method the Allow header names is routed.
    for m in OBJECT_METHODS.split(", ") {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        assert!(route(&method, "/files/alice/a.txt").is_ok(), "{m} is allowed but not routed");
    }
}

#[test]
fn options_on_known_paths_is_a_preflight() {
    for p in ["/files", "/files/", "/files/alice/a.txt", "/healthz"] {
        assert_eq!(route(&Method::OPTIONS, p).unwrap(), Route::Preflight, "{p}");
    }
}

#[test]
fn unknown_paths_are_404_for_every_method() {
    for p in ["/", "", "/file", "/filesx", "/files-old/a", "/FILES/a", "/api/files/a", "/healthz/x"] {
        for m in [Method::GET, Method::PUT, Method::OPTIONS] {
            let err = route(&m, p).unwrap_err();
            assert_eq!(err.kind, ErrorKind::NotFound, "{m} {p}");
            assert_eq!(err.status(), 404);
        }
    }
}

#[test]
fn object_path_is_percent_decoded_into_the_key() {
    assert_eq!(
        route(&Method::GET, "/files/alice/caf%C3%A9%20v2+final.txt").unwrap(),
        Route::Download(key("alice/café v2+final.txt"))
    );
    assert_eq!(route(&Method::PUT, "/files/alice%2Fx").unwrap(), Route::Upload(key("alice/x")));
}

#[test]
fn object_path_breaking_the_key_rules_is_400_invalid_key() {
    for p in [
        "/files/alice/../bob/x",
        "/files//etc/passwd",
        "/files/a%zz",
        "/files/a%00b",
        "/files/alice//x",
        "/files/%2E%2E",
    ] {
        let err = route(&Method::GET, p).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidKey, "{p}");
        assert_eq!(err.status(), 400);
    }
}
