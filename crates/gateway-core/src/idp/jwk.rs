//! JSON Web Keys as identity providers publish them, and which of them may verify a token.
//! A key verifies exactly one algorithm family, fixed by its type (and curve); its own `alg`,
//! when present, narrows that to the one algorithm. Nothing is guessed: a key of another type
//! never verifies, whatever the token's header says (so an HMAC keyed with a public key cannot
//! happen). Keys for encryption, of unknown types, malformed, or RSA keys under 2048 bits are
//! left out of the set, each with a note for the log.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde_json::Value;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// How many keys a token without `kid` may be tried against.
pub const MAX_CANDIDATES: usize = 4;

/// A signature algorithm the gateway accepts from identity providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    EdDsa,
    Hs256,
}

impl Alg {
    /// The JOSE name (`RS256`); `None` for anything else, `none` included.
    pub fn parse(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "EdDSA" => Alg::EdDsa,
            "HS256" => Alg::Hs256,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
        }
    }

    /// The hash the algorithm signs with (`SHA-256`, as WebCrypto names it).
    pub fn hash(self) -> &'static str {
        match self {
            Alg::Rs384 | Alg::Ps384 => "SHA-384",
            Alg::Rs512 | Alg::Ps512 => "SHA-512",
            _ => "SHA-256",
        }
    }
}

/// The public part of a key, its members as published (base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    Rsa {
        n: String,
        e: String,
    },
    /// P-256.
    Ec {
        x: String,
        y: String,
    },
    Ed25519 {
        x: String,
    },
}

impl KeyMaterial {
    /// Whether a key of this type verifies `alg`.
    pub fn verifies(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (KeyMaterial::Rsa { .. }, Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512)
                | (KeyMaterial::Ec { .. }, Alg::Es256)
                | (KeyMaterial::Ed25519 { .. }, Alg::EdDsa)
        )
    }

    /// The key as a public JWK with nothing but its type and material, for WebCrypto's
    /// `importKey("jwk", …)`.
    pub fn to_jwk(&self) -> Value {
        match self {
            KeyMaterial::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": n, "e": e}),
            KeyMaterial::Ec { x, y } => serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            KeyMaterial::Ed25519 { x } => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
        }
    }
}

/// One usable verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The key's own `alg`: the only algorithm it verifies when present.
    pub alg: Option<Alg>,
    pub material: KeyMaterial,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.material.verifies(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

/// A key set: the usable keys, and why the others were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
    pub skipped: Vec<String>,
}

fn b64url_len(value: &str) -> Option<usize> {
    B64URL.decode(value.trim_end_matches('=')).ok().map(|b| b.len())
}

fn member<'a>(raw: &'a Value, name: &str) -> Option<&'a str> {
    raw.get(name).and_then(Value::as_str)
}

/// One published key, or why it cannot verify tokens here.
fn parse_key(raw: &Value) -> Result<Jwk, String> {
    if member(raw, "use").is_some_and(|u| u != "sig") {
        return Err("not a signing key (`use`)".to_owned());
    }
    if let Some(ops) = raw.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err("not a verification key (`key_ops`)".to_owned());
        }
    }
    let alg = match member(raw, "alg") {
        None => None,
        Some(name) => Some(
            Alg::parse(name)
                .filter(|a| *a != Alg::Hs256)
                .ok_or_else(|| format!("algorithm `{name}` is not accepted"))?,
        ),
    };
    let text = |name: &str| member(raw, name).ok_or_else(|| format!("no `{name}`"));
    let material = match member(raw, "kty") {
        Some("RSA") => {
            let (n, e) = (text("n")?, text("e")?);
            let modulus = B64URL.decode(n.trim_end_matches('=')).map_err(|_| "`n` is not base64url".to_owned())?;
            let first = modulus.iter().position(|b| *b != 0);
            let bits = first
                .zip(first.and_then(|i| modulus.get(i)))
                .map_or(0, |(i, top)| (modulus.len() - i) * 8 - top.leading_zeros() as usize);
            if bits < MIN_RSA_BITS {
                return Err(format!("an RSA key of {bits} bits (at least {MIN_RSA_BITS} are required)"));
            }
            b64url_len(e).filter(|n| (1..=8).contains(n)).ok_or_else(|| "`e` is not base64url".to_owned())?;
            KeyMaterial::Rsa { n: n.to_owned(), e: e.to_owned() }
        }
        Some("EC") if member(raw, "crv") == Some("P-256") => {
            let (x, y) = (text("x")?, text("y")?);
            if b64url_len(x) != Some(32) || b64url_len(y) != Some(32) {
                return Err("`x` and `y` must be 32 bytes of base64url".to_owned());
            }
            KeyMaterial::Ec { x: x.to_owned(), y: y.to_owned() }
        }
        Some("OKP") if member(raw, "crv") == Some("Ed25519") => {
            let x = text("x")?;
            if b64url_len(x) != Some(32) {
                return Err("`x` must be 32 bytes of base64url".to_owned());
            }
            KeyMaterial::Ed25519 { x: x.to_owned() }
        }
        Some(kty) => return Err(format!("key type `{kty}` {} is not accepted", member(raw, "crv").unwrap_or(""))),
        None => return Err("no `kty`".to_owned()),
    };
    let key = Jwk { kid: member(raw, "kid").map(str::to_owned), alg, material };
    if let Some(alg) = key.alg.filter(|a| !key.material.verifies(*a)) {
        return Err(format!("declares `{}` but is not a key for it", alg.name()));
    }
    Ok(key)
}

impl JwkSet {
    /// Parses a JWKS document (`{"keys": [...]}`, other top-level members ignored). Only a
    /// document that is not one is an error; unusable keys are skipped with a note.
    pub fn parse(doc: &str) -> Result<JwkSet, String> {
        let doc: Value = serde_json::from_str(doc).map_err(|_| "the key set is not JSON".to_owned())?;
        let keys =
            doc.get("keys").and_then(Value::as_array).ok_or_else(|| "the key set has no `keys` array".to_owned())?;
        let mut set = JwkSet::default();
        for (i, raw) in keys.iter().enumerate() {
            match parse_key(raw) {
                Ok(key) => set.keys.push(key),
                Err(why) => {
                    let kid = member(raw, "kid").map_or_else(|| format!("key {i}"), |k| format!("key `{k}`"));
                    set.skipped.push(format!("{kid}: {why}"));
                }
            }
        }
        Ok(set)
    }

    /// The keys that may verify a token signed with `alg` and naming `kid`: the key with that
    /// `kid`, or without a `kid` every key for the algorithm (at most [`MAX_CANDIDATES`]).
    pub fn candidates(&self, alg: Alg, kid: Option<&str>) -> Vec<&Jwk> {
        let usable = self.keys.iter().filter(|k| k.accepts(alg));
        match kid {
            Some(kid) => usable.filter(|k| k.kid.as_deref() == Some(kid)).take(1).collect(),
            None => usable.take(MAX_CANDIDATES).collect(),
        }
    }

    /// Whether the set has a key with this `kid` at all (of any algorithm).
    pub fn knows(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}
