//! Webhook receivers authenticate events by recomputing `X-Upload-Signature`; any drift from
//! standard HMAC-SHA256 would make every delivery look forged. These tests pin the HMAC to the
//! published RFC 4231 vectors and to the RFC 7515 A.1 HS256 signature, and `sign` to the HMAC
//! of `<timestamp>.<body>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::encoding::hex;
use gateway_core::webhook::{hmac_sha256, sign, SIGNATURE_HEADER};

#[test]
fn rfc4231_test_case_2_matches() {
    assert_eq!(
        hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn rfc4231_test_case_1_matches() {
    assert_eq!(
        hmac_sha256(&[0x0b; 20], b"Hi There"),
        "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

#[test]
fn rfc4231_test_case_6_key_longer_than_a_block_matches() {
    assert_eq!(
        hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
        "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn rfc7515_a1_hs256_signature_is_the_hmac_of_its_signing_input() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let key = URL_SAFE_NO_PAD
        .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
        .unwrap();
    let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let expected = URL_SAFE_NO_PAD.decode("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
    assert_eq!(hmac_sha256(&key, input.as_bytes()), format!("sha256={}", hex(&expected)));
}

#[test]
fn empty_secret_and_body_still_sign() {
    // RFC 2104 HMAC-SHA256 with an empty key over an empty message.
    assert_eq!(hmac_sha256(b"", b""), "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

#[test]
fn signature_depends_on_every_byte_of_body_secret_and_timestamp() {
    let base = sign(b"secret", 1_750_000_000, "{\"key\":\"a\"}");
    assert_ne!(base, sign(b"secret", 1_750_000_000, "{\"key\":\"b\"}"));
    assert_ne!(base, sign(b"secreT", 1_750_000_000, "{\"key\":\"a\"}"));
    assert_ne!(base, sign(b"secret", 1_750_000_001, "{\"key\":\"a\"}"));
    assert_eq!(base, sign(b"secret", 1_750_000_000, "{\"key\":\"a\"}"));
}

#[test]
fn the_signed_material_is_the_timestamp_a_dot_and_the_body() {
    assert_eq!(sign(b"secret", 1_750_000_000, "{}"), hmac_sha256(b"secret", b"1750000000.{}"));
}

#[test]
fn hex_is_lowercase_two_digits_per_byte() {
    assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    assert_eq!(hex(&[]), "");
}

#[test]
fn signature_header_name_is_stable() {
    assert_eq!(SIGNATURE_HEADER, "X-Upload-Signature");
}
