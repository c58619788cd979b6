//! Reading a form POST as it streams: the fields before the file from the first bytes, then
//! the file's bytes passed through whole, in whatever chunks they arrive, and every way a form
//! can be malformed refused before anything is kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::ErrorKind;
use gateway_core::form::parse::{boundary, read_head, FileScan, FormHead, MAX_HEAD_BYTES};

const B: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

fn part(name: &str, value: &str) -> String {
    format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
}

fn file_part(filename: &str, content_type: &str) -> String {
    format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n")
}

/// A body as a browser sends it: the fields, the file last, the closing delimiter.
fn body(fields: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = fields.iter().map(|(n, v)| part(n, v)).collect::<String>().into_bytes();
    out.extend(file_part("photo.png", "image/png").into_bytes());
    out.extend_from_slice(file);
    out.extend(format!("\r\n--{B}--\r\n").into_bytes());
    out
}

/// The head and the file's bytes, the body fed to the scan in chunks of `chunk` bytes.
fn read(body: &[u8], chunk: usize) -> gateway_core::error::Result<(FormHead, Vec<u8>)> {
    let head = read_head(body, B)?.expect("the whole body holds the head");
    let mut scan = FileScan::new(&head, B, body.len() as u64)?;
    let mut file = Vec::new();
    let mut last = None;
    for (i, piece) in body.chunks(chunk).enumerate() {
        let fed = scan.feed((i * chunk) as u64, piece)?;
        file.extend_from_slice(&piece[fed.now]);
        if let Some(at) = fed.last {
            assert!(last.is_none(), "one last byte");
            last = Some(piece[at]);
        }
    }
    assert_eq!(last.is_some(), scan.file_len() > 0, "a file's last byte is held back");
    scan.finish()?;
    file.extend(last);
    assert_eq!(file.len() as u64, scan.file_len());
    Ok((head, file))
}

fn refusal(result: gateway_core::error::Result<impl std::fmt::Debug>) -> String {
    let err = result.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::BadRequest, "{}", err.detail);
    err.detail
}

#[test]
fn the_boundary_comes_from_a_form_content_type_quoted_or_not() {
    assert_eq!(boundary(&format!("multipart/form-data; boundary={B}")).unwrap(), B);
    assert_eq!(boundary("multipart/form-data; boundary=\"a b:c\"").unwrap(), "a b:c");
    assert_eq!(refusal(boundary("multipart/form-data")), "the form is malformed: its Content-Type names no boundary");
    assert_eq!(boundary("application/json").unwrap_err().kind, ErrorKind::UnsupportedMediaType);
}

#[test]
fn a_browser_form_gives_its_fields_and_its_file_whole_in_any_chunking() {
    let file: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let fields = [
        ("key", "alice/${filename}"),
        ("Content-Type", "image/png"),
        ("policy", "eyJ9"),
        ("x-gateway-signature", "ab"),
    ];
    let b = body(&fields, &file);
    for chunk in [1, 7, 64, 4096, b.len()] {
        let (head, got) = read(&b, chunk).unwrap();
        assert_eq!(head.fields, fields.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect::<Vec<_>>());
        assert_eq!(head.filename.as_deref(), Some("photo.png"));
        assert_eq!(head.content_type.as_deref(), Some("image/png"));
        assert!(got == file, "chunks of {chunk}");
    }
}

#[test]
fn an_empty_file_and_a_form_with_no_other_field_are_read() {
    let (head, got) = read(&body(&[], b""), 3).unwrap();
    assert!(head.fields.is_empty());
    assert!(got.is_empty());
}

#[test]
fn the_head_asks_for_more_bytes_until_the_file_part_begins() {
    let b = body(&[("key", "alice/a.png"), ("policy", "x")], b"data");
    let start = read_head(&b, B).unwrap().unwrap().data_start;
    for cut in [0, 10, start / 2, start - 1] {
        assert_eq!(read_head(&b[..cut], B).unwrap(), None, "cut at {cut}");
    }
    assert_eq!(read_head(&b[..start], B).unwrap().unwrap().data_start, start);
}

#[test]
fn a_head_larger_than_the_limit_is_refused() {
    let big = "v".repeat(MAX_HEAD_BYTES);
    let b = body(&[("x-amz-meta-note", &big)], b"data");
    assert!(refusal(read_head(&b[..MAX_HEAD_BYTES], B)).contains("more than"));
}

#[test]
fn a_form_without_a_file_field_is_refused() {
    let b = format!("{}--{B}--\r\n", part("key", "alice/a.txt")).into_bytes();
    assert!(refusal(read_head(&b, B)).contains("no `file` field"));
}

#[test]
fn a_field_sent_twice_is_refused_whatever_its_case() {
    let b = body(&[("key", "alice/a"), ("Key", "alice/b")], b"data");
    assert!(refusal(read_head(&b, B)).contains("twice"));
}

#[test]
fn a_field_that_is_not_utf8_is_refused() {
    let mut b = part("key", "").into_bytes();
    b.truncate(b.len() - 2);
    b.extend_from_slice(&[0xff, 0xfe, b'\r', b'\n']);
    b.extend(file_part("a", "text/plain").into_bytes());
    b.extend(format!("x\r\n--{B}--\r\n").into_bytes());
    assert!(refusal(read_head(&b, B)).contains("not UTF-8"));
}

#[test]
fn a_part_after_the_file_is_refused_wherever_the_chunks_split_it() {
    let mut b = file_part("a.txt", "text/plain").into_bytes();
    b.extend_from_slice(b"file bytes");
    b.extend(format!("\r\n{}", part("x-amz-meta-late", "1")).into_bytes());
    b.extend(format!("--{B}--\r\n").into_bytes());
    // `part` begins with the delimiter, which the preceding CRLF completes.
    for chunk in [1, 5, 13, 64, b.len()] {
        refusal(read(&b, chunk));
    }
}

#[test]
fn a_truncated_body_is_refused_at_its_end() {
    let b = body(&[("key", "alice/a")], b"0123456789");
    let head = read_head(&b, B).unwrap().unwrap();
    // The length says more than arrived: the scan ends without the closing delimiter.
    let mut scan = FileScan::new(&head, B, b.len() as u64).unwrap();
    let cut = &b[..b.len() - 5];
    scan.feed(0, cut).unwrap();
    refusal(scan.finish());
}

#[test]
fn a_body_ending_otherwise_than_its_length_says_is_refused() {
    let mut b = body(&[("key", "alice/a")], b"0123456789");
    b.truncate(b.len() - 2); // no CRLF after the closing delimiter
    refusal(read(&b, 4));
    let mut b = body(&[("key", "alice/a")], b"0123456789");
    b.extend_from_slice(b"epilogue");
    refusal(read(&b, 4));
}

#[test]
fn a_body_shorter_than_its_head_and_ending_is_refused() {
    let b = body(&[("key", "alice/a")], b"");
    let head = read_head(&b, B).unwrap().unwrap();
    refusal(FileScan::new(&head, B, head.data_start as u64 + 3));
}
