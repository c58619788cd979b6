//! Content sniffing is the check against Content-Type spoofing that runs after each upload:
//! these tests pin what the magic-number detector recognises (and that unknown binaries are
//! "unknown", not a guess), and when a declared type counts as consistent with what was found.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::sniff::{detect, type_matches, SNIFF_BYTES};

mod common;
use common::{JPEG, PDF, PNG};

#[test]
fn png_is_detected() {
    assert_eq!(detect(PNG), Some("image/png"));
}

#[test]
fn jpeg_is_detected() {
    assert_eq!(detect(JPEG), Some("image/jpeg"));
    assert_eq!(detect(b"\xff\xd8\xff\xe1\x00\x16Exif\x00\x00"), Some("image/jpeg"));
}

#[test]
fn both_gif_versions_are_detected() {
    assert_eq!(detect(b"GIF87a\x01\x00\x01\x00"), Some("image/gif"));
    assert_eq!(detect(b"GIF89a\x01\x00\x01\x00\x80\x00\x00"), Some("image/gif"));
}

#[test]
fn webp_is_detected_by_riff_and_webp_tag() {
    assert_eq!(detect(b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), Some("image/webp"));
    // RIFF alone is not WebP: a WAVE file is audio.
    assert_eq!(detect(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"), Some("audio/wav"));
}

#[test]
fn pdf_is_detected() {
    assert_eq!(detect(PDF), Some("application/pdf"));
}

#[test]
fn zip_local_header_and_empty_archive_are_detected() {
    assert_eq!(detect(b"PK\x03\x04\x14\x00\x00\x00\x08\x00"), Some("application/zip"));
    assert_eq!(detect(b"PK\x05\x06\x00\x00\x00\x00\x00\x00"), Some("application/zip"));
}

#[test]
fn mp4_family_is_detected_from_the_ftyp_brand() {
    assert_eq!(detect(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00"), Some("video/mp4"));
    assert_eq!(detect(b"\x00\x00\x00\x20ftypmp42\x00\x00\x00\x00"), Some("video/mp4"));
    assert_eq!(detect(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00"), Some("image/avif"));
    assert_eq!(detect(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), Some("image/heic"));
    assert_eq!(detect(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00"), Some("video/quicktime"));
    assert_eq!(detect(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"), Some("audio/mp4"));
}

#[test]
fn other_common_signatures_are_detected() {
    assert_eq!(detect(b"\x1f\x8b\x08\x00\x00\x00\x00\x00"), Some("application/gzip"));
    assert_eq!(detect(b"\x00asm\x01\x00\x00\x00"), Some("application/wasm"));
    assert_eq!(detect(b"7z\xbc\xaf\x27\x1c\x00\x04"), Some("application/x-7z-compressed"));
    assert_eq!(detect(b"OggS\x00\x02\x00\x00"), Some("audio/ogg"));
    assert_eq!(detect(b"fLaC\x00\x00\x00\x22"), Some("audio/flac"));
    assert_eq!(detect(b"II*\x00\x08\x00\x00\x00"), Some("image/tiff"));
    assert_eq!(detect(b"MM\x00*\x00\x00\x00\x08"), Some("image/tiff"));
    assert_eq!(detect(b"\x1a\x45\xdf\xa3\x01\x00\x00\x00"), Some("video/webm"));
}

#[test]
fn bmp_header_is_detected() {
    // "BM", file size 70, two zero reserved words, pixel data at 54.
    assert_eq!(detect(b"BMF\x00\x00\x00\x00\x00\x00\x006\x00\x00\x00(\x00\x00\x00"), Some("image/bmp"));
    // A BITMAPV5HEADER (124 bytes) with non-zero reserved words, as some writers emit.
    assert_eq!(detect(b"BM\x8a\x00\x00\x00\x01\x00\x02\x00\x8a\x00\x00\x00|\x00\x00\x00"), Some("image/bmp"));
}

#[test]
fn text_that_happens_to_start_with_bm_is_plain_text() {
    // A CSV about body-mass index is not a bitmap.
    assert_eq!(detect(b"BMI,height_cm,weight_kg\n22.1,180,72\n"), Some("text/plain"));
    assert_eq!(detect(b"BMW and Mercedes\n"), Some("text/plain"));
}

#[test]
fn plain_text_is_detected() {
    assert_eq!(detect(b"hello, world\n"), Some("text/plain"));
    assert_eq!(detect(b"name,qty\r\nwidget,3\r\n"), Some("text/plain"));
    assert_eq!(detect("Grüße aus Köln — 日本語\n".as_bytes()), Some("text/plain"));
    assert_eq!(detect(b"{\"json\": true}\t\x0c\x1b[0m"), Some("text/plain"));
}

#[test]
fn utf8_text_cut_inside_a_character_is_still_text() {
    // The sniff sample can end in the middle of a multi-byte character.
    let s = "naïve café ☕".as_bytes();
    let cut = &s[..s.len() - 1];
    assert!(std::str::from_utf8(cut).is_err());
    assert_eq!(detect(cut), Some("text/plain"));
}

#[test]
fn unknown_binary_is_not_guessed() {
    assert_eq!(detect(b"\x00\x01\x02\x03\xfe\xff\x10\x80"), None);
    assert_eq!(detect(&[0u8; 64]), None);
    assert_eq!(detect(b"\xde\xad\xbe\xef\xca\xfe\xba\xbe"), None);
}

#[test]
fn text_with_nul_or_invalid_utf8_is_not_text() {
    assert_eq!(detect(b"abc\x00def"), None);
    assert_eq!(detect(b"abc\xffdef"), None);
    assert_eq!(detect(b"bell\x07"), None);
}

#[test]
fn empty_and_truncated_signatures_are_unknown() {
    assert_eq!(detect(b""), None);
    assert_eq!(detect(b"\x89PN"), None);
    assert_eq!(detect(b"\xff\xd8"), None);
}

#[test]
fn the_sniff_sample_covers_every_signature_offset() {
    // The follow-up reads only SNIFF_BYTES: the deepest signature must lie within them.
    let samples: [(&[u8], &str); 4] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"RIFF\0\0\0\0WEBP", "image/webp"),
        (b"\0\0\0\x18ftypheic", "image/heic"),
        (b"BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", "image/bmp"),
    ];
    for (head, ty) in samples {
        let mut file = head.to_vec();
        file.resize(64 * 1024, 0);
        assert_eq!(detect(&file[..SNIFF_BYTES]), Some(ty), "{ty}");
    }
}

#[test]
fn declared_type_equal_to_the_detected_one_matches() {
    assert_eq!(type_matches("image/png", Some("image/png")), Some(true));
    assert_eq!(type_matches("IMAGE/PNG", Some("image/png")), Some(true));
}

#[test]
fn png_declared_as_jpeg_does_not_match() {
    assert_eq!(type_matches("image/jpeg", detect(PNG)), Some(false));
}

#[test]
fn binary_declared_as_text_does_not_match() {
    assert_eq!(type_matches("text/plain", detect(PNG)), Some(false));
    assert_eq!(type_matches("text/html", detect(PDF)), Some(false));
    assert_eq!(type_matches("application/pdf", Some("application/zip")), Some(false));
}

#[test]
fn octet_stream_is_consistent_with_anything_detected() {
    assert_eq!(type_matches("application/octet-stream", Some("image/png")), Some(true));
    assert_eq!(type_matches("application/octet-stream", Some("text/plain")), Some(true));
}

#[test]
fn nothing_detected_means_no_verdict() {
    assert_eq!(type_matches("image/png", None), None);
    assert_eq!(type_matches("application/octet-stream", None), None);
}

#[test]
fn common_aliases_match() {
    assert_eq!(type_matches("image/jpg", Some("image/jpeg")), Some(true));
    assert_eq!(type_matches("image/pjpeg", Some("image/jpeg")), Some(true));
    assert_eq!(type_matches("application/x-zip-compressed", Some("application/zip")), Some(true));
    assert_eq!(type_matches("application/x-pdf", Some("application/pdf")), Some(true));
    assert_eq!(type_matches("audio/mp3", Some("audio/mpeg")), Some(true));
    assert_eq!(type_matches("video/mp4", Some("audio/mp4")), Some(true));
    assert_eq!(type_matches("video/quicktime", Some("video/mp4")), Some(true));
}

#[test]
fn text_formats_match_plain_text_detection() {
    for declared in
        ["text/csv", "text/html", "application/json", "application/ld+json", "image/svg+xml", "application/yaml"]
    {
        assert_eq!(type_matches(declared, Some("text/plain")), Some(true), "{declared}");
    }
    assert_eq!(type_matches("image/png", Some("text/plain")), Some(false));
}

#[test]
fn zip_based_formats_match_zip_detection() {
    for declared in [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/epub+zip",
        "application/java-archive",
    ] {
        assert_eq!(type_matches(declared, Some("application/zip")), Some(true), "{declared}");
    }
    assert_eq!(type_matches("application/json", Some("application/zip")), Some(false));
}
