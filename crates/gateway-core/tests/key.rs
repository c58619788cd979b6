//! Object keys come straight from the URL and end up as storage paths and list entries: these
//! tests pin the key rules (1–991 bytes in NFC, no empty/`.`/`..` segments, no leading `/`, no
//! control characters, strict percent-escapes) and that unusual but legal keys (Unicode,
//! spaces, `+`) survive the path → key → `Location` round trip unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::ErrorKind;
use gateway_core::key::{ObjectKey, StoredName, MAX_KEY_BYTES};
use gateway_core::upload::location;

fn invalid(encoded: &str) -> String {
    match ObjectKey::from_path(encoded) {
        Ok(k) => panic!("`{encoded}` was accepted as `{k}`"),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidKey, "{encoded}: {e}");
            assert_eq!(e.status(), 400);
            e.detail
        }
    }
}

fn key(encoded: &str) -> String {
    ObjectKey::from_path(encoded).unwrap().as_str().to_owned()
}

#[test]
fn plain_nested_key_is_accepted_verbatim() {
    assert_eq!(key("alice/photos/2025/cat.png"), "alice/photos/2025/cat.png");
}

#[test]
fn key_length_leaves_room_for_the_version_suffix_within_the_stores_1024_bytes() {
    assert_eq!(MAX_KEY_BYTES, 991);
    assert_eq!(ObjectKey::new("a".into()).unwrap().as_str(), "a");
    let longest = ObjectKey::new("a".repeat(991)).unwrap();
    assert_eq!(StoredName::version(&longest, "any-request-id").as_str().len(), 1024);
    assert_eq!(ObjectKey::new("a".repeat(992)).unwrap_err().kind, ErrorKind::InvalidKey);
}

#[test]
fn each_write_of_a_key_has_its_own_stored_name_that_starts_with_the_key() {
    let key = ObjectKey::new("alice/a.txt".into()).unwrap();
    let one = StoredName::version(&key, "req-1");
    let two = StoredName::version(&key, "req-2");
    assert_ne!(one, two);
    assert_eq!(one, StoredName::version(&key, "req-1"), "one id always names the same version");
    assert!(one.as_str().starts_with("alice/a.txt~"));
    // A key that looks like another key's stored name still gets a name of its own.
    let lookalike = ObjectKey::new(one.as_str().to_owned()).unwrap();
    assert_ne!(StoredName::version(&lookalike, "req-1"), one);
}

#[test]
fn key_length_counts_utf8_bytes_not_characters() {
    // "é" is two bytes: 495 of them (990 bytes) fit the 991-byte limit, 496 go over.
    assert!(ObjectKey::new("é".repeat(495)).is_ok());
    assert_eq!(ObjectKey::new("é".repeat(496)).unwrap_err().kind, ErrorKind::InvalidKey);
    // The limit applies to the decoded key, not the longer encoded path.
    let encoded = "%C3%A9".repeat(495);
    assert_eq!(key(&encoded).len(), 990);
}

#[test]
fn empty_key_is_refused() {
    invalid("");
}

#[test]
fn empty_dot_and_dotdot_segments_are_refused() {
    for k in ["a//b", "a/", "./a", "a/./b", "a/../b", "..", ".", "a/..", "alice/.."] {
        let detail = invalid(k);
        assert!(detail.contains("segment"), "{k}: {detail}");
    }
}

#[test]
fn encoded_dots_and_slashes_cannot_smuggle_a_traversal() {
    for k in ["%2E%2E/etc", "a/%2e%2e/b", "a%2F..%2Fb", "%2e", "a%2F%2Fb"] {
        invalid(k);
    }
    // An encoded slash is an ordinary separator once decoded.
    assert_eq!(key("alice%2Fnotes.txt"), "alice/notes.txt");
}

#[test]
fn segments_that_merely_contain_dots_are_fine() {
    for k in ["a/.hidden", "a/..b", "a/b..", "a/.../b", "v1.2.3/x.tar.gz"] {
        assert_eq!(key(k), k);
    }
}

#[test]
fn leading_slash_is_refused() {
    let detail = invalid("/alice/a.txt");
    assert!(detail.contains('/'), "{detail}");
    invalid("%2Falice/a.txt");
}

#[test]
fn control_characters_are_refused_raw_or_encoded() {
    for k in ["a%0Ab", "a%0D%0Ab", "a%00b", "a%09b", "a%7F", "a%C2%85b", "a%1Bb"] {
        let detail = invalid(k);
        assert!(detail.contains("control"), "{k}: {detail}");
    }
    assert_eq!(ObjectKey::new("a\nb".into()).unwrap_err().kind, ErrorKind::InvalidKey);
    assert_eq!(ObjectKey::new("tab\there".into()).unwrap_err().kind, ErrorKind::InvalidKey);
}

#[test]
fn malformed_percent_escapes_are_refused() {
    for k in ["%", "a%", "a%2", "a%zz", "a%G1/b", "100%", "%%41"] {
        let detail = invalid(k);
        assert!(detail.contains("percent"), "{k}: {detail}");
    }
}

#[test]
fn escapes_that_decode_to_invalid_utf8_are_refused() {
    for k in ["%FF", "a%C3", "%C3%28", "%ED%A0%80"] {
        invalid(k);
    }
}

#[test]
fn unicode_space_and_plus_decode_as_written() {
    assert_eq!(key("alice/caf%C3%A9.txt"), "alice/café.txt");
    assert_eq!(key("alice/caf\u{e9}.txt"), "alice/café.txt");
    assert_eq!(key("alice/my%20file.txt"), "alice/my file.txt");
    // `+` is a literal plus in a path, never a space.
    assert_eq!(key("alice/a+b.txt"), "alice/a+b.txt");
    assert_eq!(key("alice/a%2Bb.txt"), "alice/a+b.txt");
    assert_eq!(key("alice/%E6%97%A5%E6%9C%AC/%F0%9F%93%B7.jpg"), "alice/日本/📷.jpg");
}

#[test]
fn location_round_trips_unusual_keys() {
    let keys = [
        "alice/a.txt",
        "alice/café au lait.txt",
        "alice/a+b=c&d?e#f.txt",
        "alice/100% real.txt",
        "alice/日本/📷.jpg",
        "alice/quote\"and'apostrophe",
        "alice/~tilde_under-score.dot",
    ];
    for k in keys {
        let original = ObjectKey::new(k.to_owned()).unwrap();
        let loc = location(&original);
        let path = loc.strip_prefix("/files/").unwrap();
        assert!(path.is_ascii(), "{loc}");
        assert!(!path.contains(' ') && !path.contains('?') && !path.contains('#'), "{loc}");
        assert_eq!(ObjectKey::from_path(path).unwrap(), original, "{loc}");
    }
}

#[test]
fn location_encodes_each_segment_but_keeps_slashes() {
    let k = ObjectKey::new("alice/my file+1.txt".into()).unwrap();
    assert_eq!(location(&k), "/files/alice/my%20file%2B1.txt");
    let k = ObjectKey::new("alice/café.txt".into()).unwrap();
    assert_eq!(location(&k), "/files/alice/caf%C3%A9.txt");
}

#[test]
fn file_name_is_the_last_segment() {
    assert_eq!(ObjectKey::new("alice/photos/cat.png".into()).unwrap().file_name(), "cat.png");
    assert_eq!(ObjectKey::new("single".into()).unwrap().file_name(), "single");
}

#[test]
fn display_shows_the_decoded_key() {
    assert_eq!(ObjectKey::from_path("a/b%20c").unwrap().to_string(), "a/b c");
}

// ------------------------------------------------------------ Unicode normalisation

#[test]
fn key_not_in_nfc_is_refused_because_r2_would_store_it_under_another_name() {
    // KELVIN SIGN (U+212A) is "K" in NFC: R2 would serve `Kate/secret.txt` for this key.
    let detail = invalid("%E2%84%AAate/secret.txt");
    assert!(detail.contains("NFC"), "{detail}");
    // "e" + COMBINING ACUTE ACCENT is "é" (U+00E9) in NFC.
    invalid("alice/cafe%CC%81.txt");
    assert_eq!(ObjectKey::new("alice/cafe\u{301}.txt".into()).unwrap_err().kind, ErrorKind::InvalidKey);
}

#[test]
fn key_already_in_nfc_is_accepted_unchanged() {
    assert_eq!(key("alice/caf%C3%A9.txt"), "alice/café.txt");
    assert_eq!(key("Kate/secret.txt"), "Kate/secret.txt");
    assert_eq!(key("alice/%E6%97%A5%E6%9C%AC.txt"), "alice/日本.txt");
}
