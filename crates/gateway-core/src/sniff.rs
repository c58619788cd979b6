//! Content sniffing: the real type of a stored object from its first bytes (magic numbers),
//! and whether it agrees with the `Content-Type` the client declared. This is the check
//! against Content-Type spoofing that runs after each upload.

/// How many leading bytes [`detect`] needs at most.
pub const SNIFF_BYTES: usize = 512;

/// The media type the bytes show, or `None` when they match no known signature.
pub fn detect(b: &[u8]) -> Option<&'static str> {
    let at = |off: usize, sig: &[u8]| b.get(off..off + sig.len()) == Some(sig);
    let signatures: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"PK\x05\x06", "application/zip"),
        (b"PK\x07\x08", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"OggS", "audio/ogg"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"\x00asm", "application/wasm"),
        (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    ];
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Some("image/webp");
    }
    if at(0, b"RIFF") && at(8, b"WAVE") {
        return Some("audio/wav");
    }
    if at(4, b"ftyp") {
        return Some(match b.get(8..12) {
            Some(b"avif") | Some(b"avis") => "image/avif",
            Some(b"heic") | Some(b"heix") | Some(b"mif1") => "image/heic",
            Some(b"qt  ") => "video/quicktime",
            Some(b"M4A ") => "audio/mp4",
            _ => "video/mp4",
        });
    }
    if let Some((_, ty)) = signatures.iter().find(|(sig, _)| at(0, sig)) {
        return Some(ty);
    }
    // "BM" alone also starts ordinary text ("BMI,…"): require a known DIB header size too.
    if at(0, b"BM") && matches!(b.get(14..18), Some([12 | 40 | 52 | 56 | 64 | 108 | 124, 0, 0, 0])) {
        return Some("image/bmp");
    }
    looks_like_text(b).then_some("text/plain")
}

/// UTF-8 (a multi-byte character cut at the end of the sample is allowed) with no control
/// characters other than tab, line feed, form feed, carriage return and escape.
fn looks_like_text(b: &[u8]) -> bool {
    if b.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() && b.len() - e.valid_up_to() < 4 => {
            match std::str::from_utf8(&b[..e.valid_up_to()]) {
                Ok(s) => s,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\x0c' | '\r' | '\x1b'))
}

/// Whether the declared type is consistent with the detected one. `None` when nothing was
/// detected (an unknown binary format cannot be judged).
pub fn type_matches(declared: &str, detected: Option<&str>) -> Option<bool> {
    let detected = detected?;
    let declared = declared.to_ascii_lowercase();
    if declared == detected || declared == "application/octet-stream" {
        return Some(true);
    }
    let alias = matches!(
        (declared.as_str(), detected),
        ("image/jpg" | "image/pjpeg", "image/jpeg")
            | ("application/x-zip-compressed" | "application/x-zip", "application/zip")
            | ("application/x-pdf", "application/pdf")
            | ("application/x-gzip", "application/gzip")
            | ("audio/x-wav" | "audio/wave", "audio/wav")
            | ("audio/mp3", "audio/mpeg")
            | ("audio/mp4" | "video/quicktime" | "audio/x-m4a", "video/mp4")
            | ("video/mp4", "audio/mp4" | "video/quicktime")
    );
    // Text formats (CSV, JSON, HTML, SVG, …) all sniff as plain text; ZIP is the container of
    // office documents, EPUB, JAR and APK.
    let text_family = detected == "text/plain"
        && (declared.starts_with("text/")
            || declared.ends_with("+json")
            || declared.ends_with("+xml")
            || matches!(
                declared.as_str(),
                "application/json"
                    | "application/xml"
                    | "application/javascript"
                    | "application/x-ndjson"
                    | "application/yaml"
                    | "application/sql"
            ));
    let zip_family = detected == "application/zip"
        && (declared.starts_with("application/vnd.openxmlformats")
            || declared.starts_with("application/vnd.oasis.opendocument")
            || matches!(
                declared.as_str(),
                "application/epub+zip" | "application/java-archive" | "application/vnd.android.package-archive"
            ));
    Some(alias || text_family || zip_family)
}
