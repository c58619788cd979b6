//! The S3 multipart protocol pieces: the completion body, query encoding, reading the XML
//! answers, and the mapping of multipart errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::encoding::encode_query_value;
use gateway_core::error::ErrorKind;
use gateway_core::s3::{complete_multipart_xml, map_error, xml_text, xml_value};

#[test]
fn the_completion_body_lists_parts_in_order_with_escaped_etags() {
    let xml = complete_multipart_xml([(1, "\"a1\""), (2, "b<2>&")]);
    assert_eq!(
        xml,
        "<CompleteMultipartUpload>\
         <Part><PartNumber>1</PartNumber><ETag>&quot;a1&quot;</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>b&lt;2&gt;&amp;</ETag></Part>\
         </CompleteMultipartUpload>"
    );
}

#[test]
fn query_values_are_encoded_as_sigv4_canonicalises_them() {
    assert_eq!(encode_query_value("abc-_.~XYZ09"), "abc-_.~XYZ09");
    assert_eq!(encode_query_value("a/b+c=d e"), "a%2Fb%2Bc%3Dd%20e");
}

#[test]
fn the_upload_id_is_read_from_the_create_answer() {
    let body = r#"<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>
        <UploadId> 7d92-40 </UploadId></InitiateMultipartUploadResult>"#;
    assert_eq!(xml_text(body, "UploadId"), Some("7d92-40"));
    assert_eq!(xml_text(body, "Missing"), None);
    assert_eq!(xml_text("<UploadId>unterminated", "UploadId"), None);
    assert_eq!(xml_value("<ETag>&quot;abc-2&quot;</ETag>", "ETag").as_deref(), Some("\"abc-2\""));
    assert_eq!(xml_value("<UploadId>a&amp;b&lt;c</UploadId>", "UploadId").as_deref(), Some("a&b<c"));
}

#[test]
fn multipart_errors_map_to_clear_client_errors() {
    let gone = map_error("upload part", 404, "<Error><Code>NoSuchUpload</Code></Error>");
    assert_eq!((gone.kind, gone.status()), (ErrorKind::UploadNotFound, 404));
    for code in ["InvalidPart", "InvalidPartOrder", "EntityTooSmall"] {
        let err = map_error("complete multipart", 400, &format!("<Error><Code>{code}</Code></Error>"));
        assert_eq!(err.kind, ErrorKind::BadRequest, "{code}");
        assert!(!err.detail.contains(code), "the store's words stay in the log");
    }
    // A completion answered 200 with an error document still maps by its code.
    assert_eq!(map_error("complete multipart", 200, "<Error><Code>SlowDown</Code></Error>").status(), 503);
}
