//! Object keys: decoding them from the request path and enforcing the key rules
//! (1–1024 bytes of UTF-8 in Unicode NFC, no empty, `.` or `..` segment, no leading `/`, no
//! control characters).

use percent_encoding::percent_decode_str;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::error::{ErrorKind, GatewayError, Result};

/// The longest key R2 and S3 accept, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A key that has passed the key rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

fn invalid(detail: &str) -> GatewayError {
    GatewayError::new(ErrorKind::InvalidKey, detail)
}

impl ObjectKey {
    /// Decodes a percent-encoded path remainder (what follows `/files/`) and validates it.
    pub fn from_path(encoded: &str) -> Result<ObjectKey> {
        if has_bad_escape(encoded) {
            return Err(invalid("the key has a malformed percent-escape"));
        }
        let decoded = percent_decode_str(encoded).decode_utf8().map_err(|_| invalid("the key is not valid UTF-8"))?;
        ObjectKey::new(decoded.into_owned())
    }

    /// Validates an already-decoded key.
    pub fn new(key: String) -> Result<ObjectKey> {
        if key.is_empty() {
            return Err(invalid("the key is empty"));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid("the key is longer than 1024 bytes"));
        }
        if key.starts_with('/') {
            return Err(invalid("the key must not start with `/`"));
        }
        if key.chars().any(char::is_control) {
            return Err(invalid("the key contains a control character"));
        }
        if key.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return Err(invalid("the key has an empty, `.` or `..` segment"));
        }
        if !is_nfc(&key) {
            return Err(invalid("the key is not in Unicode NFC (R2 would store it under its NFC form)"));
        }
        Ok(ObjectKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment, for a download's suggested filename.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is already in Unicode Normalization Form C. R2 stores every name in NFC, so a
/// key (or a prefix) in another form would name a different stored object than its bytes say.
pub fn is_nfc(s: &str) -> bool {
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => s.chars().eq(s.nfc()),
    }
}

/// `%` not followed by two hex digits: percent-decoding would pass it through silently.
fn has_bad_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}
