//! `Content-Disposition: attachment` for a client-chosen file name (RFC 6266): an ASCII
//! fallback in `filename` and the exact name, percent-encoded UTF-8, in `filename*`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 8187's `attr-char`: what `filename*` may carry unencoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Invisible formatting characters: bidirectional overrides, embeddings and isolates (which
/// can show `evil\u{202E}gpj.exe` as `evilexe.jpg`), marks, zero-width characters and BOM.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The last path segment of `name` without control or invisible formatting characters, so a
/// name can neither climb directories on the client, nor break the header, nor disguise its
/// extension. Empty becomes `download`.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|&c| !c.is_control() && !is_format_char(c)).collect();
    let trimmed = cleaned.trim().trim_matches('.');
    if trimmed.is_empty() {
        "download".to_owned()
    } else {
        trimmed.chars().take(255).collect()
    }
}

/// The header value for downloading as `name`.
pub fn attachment(name: &str) -> String {
    let name = clean_filename(name);
    let fallback: String =
        name.chars().map(|c| if c.is_ascii() && c != '"' && c != '\\' && c != '%' { c } else { '_' }).collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(&name, ATTR_CHAR))
}
