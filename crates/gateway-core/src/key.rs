//! Object keys: decoding them from the request path and enforcing the key rules
//! (1–991 bytes of UTF-8 in Unicode NFC, no empty, `.` or `..` segment, no leading `/`, no
//! control characters).

use percent_encoding::percent_decode_str;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::error::{ErrorKind, GatewayError, Result};

/// The longest name R2 and S3 accept, in bytes.
pub const MAX_STORED_NAME_BYTES: usize = 1024;
/// What a stored name adds to its key: `~` and 32 hex digits.
pub const VERSION_SUFFIX_BYTES: usize = 33;
/// The longest key, in bytes: a stored name is the key plus its version suffix.
pub const MAX_KEY_BYTES: usize = MAX_STORED_NAME_BYTES - VERSION_SUFFIX_BYTES;

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
            return Err(invalid("the key is longer than 991 bytes"));
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

impl ObjectKey {
    /// The key as a `/files/...` path, each segment percent-encoded.
    pub fn path(&self) -> String {
        const SEGMENT: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
        let encoded: Vec<String> =
            self.as_str().split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("/files/{}", encoded.join("/"))
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

/// The name one write of a key is stored under: the key, `~`, and 32 hex digits derived from
/// the write's id (a request id, multipart upload id or presigned URL nonce). Every write has
/// a name of its own, so a refused, failed, racing or replaced write can only ever touch its
/// own bytes, never another's; the key's row in the metadata database names the version that
/// is served. The suffix has a fixed length, so no two (key, id) pairs share a name, and a
/// name starts with its key, so prefix rules mean the same in the store as in the gateway.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredName(String);

impl StoredName {
    /// The name of the write `id` of `key`.
    pub fn version(key: &ObjectKey, id: &str) -> StoredName {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(id.as_bytes());
        StoredName(format!("{}~{}", key.as_str(), crate::encoding::hex(&digest[..16])))
    }

    /// A name read back from the metadata database, where only names made by [`version`]
    /// (or, for objects stored before versioned names, the key itself) are written.
    ///
    /// [`version`]: StoredName::version
    pub fn recorded(name: String) -> StoredName {
        StoredName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StoredName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
