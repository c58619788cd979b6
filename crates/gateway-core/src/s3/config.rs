//! Where and as whom the S3 store talks, and S3's encoding of keys in URLs.

use crate::secret::Secret;

/// Where and as whom the S3 backend talks.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `S3_ENDPOINT`: scheme, host and optional port (no path).
    pub endpoint: url::Url,
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `S3_REGION` (`us-east-1` by default; `auto` for R2's S3 endpoint).
    pub region: String,
    /// `S3_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `S3_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
    /// `S3_FORCE_PATH_STYLE`: `https://host/bucket/key` instead of `https://bucket.host/key`.
    pub path_style: bool,
    /// `S3_CHECKSUMS`: who verifies a digest a client sends with a single PUT.
    pub checksums: Checksums,
}

/// Who verifies the `Content-MD5` and `x-amz-checksum-sha256` a client sends (`S3_CHECKSUMS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksums {
    /// `store` (the default): the store checks both and echoes the SHA-256 it verified (AWS S3,
    /// MinIO, R2's S3 API, s3s-fs). The gateway hashes nothing.
    #[default]
    Store,
    /// `gateway`: the store checks neither (moto, older Ceph and Garage releases), so the runtime
    /// hashes the body as it streams on (`crypto.DigestStream`, never in Wasm) and the gateway
    /// compares. The SHA-256 is then not sent to the store.
    Gateway,
}

/// S3's encoding of a key in a URL path: every byte but the unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) and `/` is percent-encoded, so the path is its own canonical form.
pub fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    percent_encoding::utf8_percent_encode(key, KEEP).to_string()
}

impl S3Config {
    /// The URL of `key` in the bucket.
    pub fn object_url(&self, key: &str) -> String {
        let scheme = self.endpoint.scheme();
        let host = self.endpoint.host_str().unwrap_or_default();
        let port = self.endpoint.port().map(|p| format!(":{p}")).unwrap_or_default();
        if self.path_style {
            format!("{scheme}://{host}{port}/{}/{}", encode_key(&self.bucket), encode_key(key))
        } else {
            format!("{scheme}://{}.{host}{port}/{}", self.bucket, encode_key(key))
        }
    }
}
