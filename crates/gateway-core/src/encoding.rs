//! Byte and text encodings shared by the signing code: lowercase hex and the strict query
//! encoding SigV4 and the gateway's own URLs both use. A leaf module.

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hexadecimal (either case) back to bytes; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// A query-string value as SigV4 canonicalises it: every byte but `A-Z a-z 0-9 - _ . ~`
/// percent-encoded, so the URL sent is already canonical.
pub fn encode_query_value(value: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, KEEP).to_string()
}
