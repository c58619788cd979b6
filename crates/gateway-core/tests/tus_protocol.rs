//! The tus 1.0.0 headers as clients send them (tus-js-client, Uppy, TUSKit, tus-java-client),
//! and the 4xx each malformed or unsupported one gets before anything is stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Req;
use gateway_core::error::ErrorKind;
use gateway_core::tus::protocol::{
    check_body_type, check_version, creation_length, effective_method, metadata, patch_offset, refuse_unsupported,
    Length,
};
use http::Method;

fn post() -> Req {
    Req::new(Method::POST, "/tus/")
}

#[test]
fn only_version_1_0_0_is_spoken_and_another_is_412() {
    assert!(check_version(&post().header("tus-resumable", "1.0.0").head).is_ok());
    for req in [post().header("tus-resumable", "0.2.2"), post()] {
        let err = check_version(&req.head).unwrap_err();
        assert_eq!((err.kind, err.status()), (ErrorKind::PreconditionFailed, 412));
    }
}

#[test]
fn a_post_with_a_method_override_means_that_method() {
    assert_eq!(effective_method(&post().header("x-http-method-override", "PATCH").head), Method::PATCH);
    assert_eq!(effective_method(&post().header("x-http-method-override", "delete").head), Method::DELETE);
    // Only a POST may be overridden.
    let put = Req::new(Method::PUT, "/tus/x").header("x-http-method-override", "DELETE");
    assert_eq!(effective_method(&put.head), Method::PUT);
}

#[test]
fn the_length_is_declared_or_deferred_but_not_both_nor_neither() {
    assert_eq!(creation_length(&post().header("upload-length", "42").head).unwrap(), Length::Known(42));
    assert_eq!(creation_length(&post().header("upload-defer-length", "1").head).unwrap(), Length::Deferred);
    for req in [
        post(),
        post().header("upload-length", "1").header("upload-defer-length", "1"),
        post().header("upload-defer-length", "2"),
        post().header("upload-length", "-1"),
    ] {
        assert_eq!(creation_length(&req.head).unwrap_err().status(), 400);
    }
}

#[test]
fn metadata_pairs_are_base64_values_and_a_bare_key_is_empty() {
    // tus-js-client: `filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,filetype YXBwbGljYXRpb24vcGRm`.
    let req = post().header("upload-metadata", "filename d29ybGQucGRm,filetype YXBwbGljYXRpb24vcGRm,is_confidential");
    let m = metadata(&req.head).unwrap();
    assert_eq!(m.get("filename"), Some("world.pdf"));
    assert_eq!(m.get("filetype"), Some("application/pdf"));
    assert_eq!(m.get("is_confidential"), Some(""));
    assert_eq!(m.raw.as_deref(), Some("filename d29ybGQucGRm,filetype YXBwbGljYXRpb24vcGRm,is_confidential"));
    for bad in ["filename not*base64", "a YQ==,a YQ==", "filename /w=="] {
        assert_eq!(metadata(&post().header("upload-metadata", bad).head).unwrap_err().status(), 400, "{bad}");
    }
}

#[test]
fn a_patch_needs_its_offset_and_the_offset_octet_stream_type() {
    let patch = Req::new(Method::PATCH, "/tus/x");
    assert_eq!(patch_offset(&patch.head).unwrap_err().status(), 400);
    assert_eq!(patch_offset(&Req::new(Method::PATCH, "/tus/x").header("upload-offset", "7").head).unwrap(), 7);
    let typed = Req::new(Method::PATCH, "/tus/x").header("content-type", "application/offset+octet-stream");
    assert!(check_body_type(&typed.head).is_ok());
    let err =
        check_body_type(&Req::new(Method::PATCH, "/tus/x").header("content-type", "text/plain").head).unwrap_err();
    assert_eq!(err.status(), 415);
}

#[test]
fn concatenation_and_checksums_are_refused_rather_than_ignored() {
    let concat = post().header("upload-concat", "partial");
    assert!(refuse_unsupported(&concat.head).unwrap_err().detail.contains("concatenation"));
    let sum = Req::new(Method::PATCH, "/tus/x").header("upload-checksum", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
    assert!(refuse_unsupported(&sum.head).unwrap_err().detail.contains("checksum"));
}
