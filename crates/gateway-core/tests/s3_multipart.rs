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
    assert_eq!(xml_text(body, "UploadId").as_deref(), Some("7d92-40"));
    assert_eq!(xml_text(body, "Missing"), None);
    assert_eq!(xml_text("<UploadId>unterminated", "UploadId"), None);
    assert_eq!(xml_value("<ETag>&quot;abc-2&quot;</ETag>", "ETag").as_deref(), Some("\"abc-2\""));
    assert_eq!(xml_value("<UploadId>a&amp;b&lt;c</UploadId>", "UploadId").as_deref(), Some("a&b<c"));
}

/// Each store writes the same answer its own way; an ETag read wrongly is stored in the row, the
/// 201 and every event while GET serves the store's real one.
#[test]
fn the_completion_etag_is_read_alike_from_every_stores_xml_dialect() {
    let want = Some("\"81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4\"");
    let aws = r#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>https://b.s3.amazonaws.com/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&quot;81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4&quot;</ETag></CompleteMultipartUploadResult>"#;
    // Go's encoding/xml (MinIO, SeaweedFS) writes `"` as a numeric character reference.
    let go = r#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://127.0.0.1:9000/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&#34;81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4&#34;</ETag></CompleteMultipartUploadResult>"#;
    // Ceph RGW: indented, quotes left bare in text.
    let ceph = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Location>b/k</Location>\n  <Bucket>b</Bucket>\n  <Key>k</Key>\n  <ETag>\"81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4\"</ETag>\n</CompleteMultipartUploadResult>\n";
    let hex_ref = "<CompleteMultipartUploadResult><ETag>&#x22;81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4&#x22;</ETag></CompleteMultipartUploadResult>";
    let cdata = "<CompleteMultipartUploadResult><ETag><![CDATA[\"81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4\"]]></ETag></CompleteMultipartUploadResult>";
    let prefixed = "<s3:CompleteMultipartUploadResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\"><s3:ETag>&quot;81ef16c0c1d5a7bb3bb9b0c7e27f5d47-4&quot;</s3:ETag></s3:CompleteMultipartUploadResult>";
    for (store, body) in
        [("aws", aws), ("go", go), ("ceph", ceph), ("hex", hex_ref), ("cdata", cdata), ("prefixed", prefixed)]
    {
        assert_eq!(xml_value(body, "ETag").as_deref(), want, "{store}");
    }
    let go_create = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>a&#39;b</Key><UploadId>ZjA5&#43;Yw==</UploadId></InitiateMultipartUploadResult>";
    assert_eq!(xml_value(go_create, "UploadId").as_deref(), Some("ZjA5+Yw=="));
    // The first element of that name is the answer's own, not one nested deeper later.
    let attrs = "<Error><Code attr=\"x\">NoSuchUpload</Code><Detail><Code>Other</Code></Detail></Error>";
    assert_eq!(xml_text(attrs, "Code").as_deref(), Some("NoSuchUpload"));
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
