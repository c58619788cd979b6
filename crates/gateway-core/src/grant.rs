//! What a verified token allows: scopes, the key prefix or exact key it may touch, and the
//! limits it places on writes. Handlers obtain a `Grant` only from [`crate::auth::verify`],
//! so no route can act for a caller it has not authenticated.

use serde::{Deserialize, Serialize};

use crate::content_type::TypePattern;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::key::ObjectKey;

/// One permission from the `scope` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read = 1,
    Write = 2,
    Delete = 4,
    List = 8,
    /// Gives verdicts on quarantined versions (`POST /files/{key}/verdict`) and reads them.
    /// Never implied: a token without a `scope` claim has every other scope but not this one.
    Scan = 16,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Delete => "delete",
            Scope::List => "list",
            Scope::Scan => "scan",
        }
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// What a token without a `scope` claim may do: everything but [`Scope::Scan`].
    pub const ALL: Scopes = Scopes(15);

    /// Just `scope`.
    pub fn only(scope: Scope) -> Scopes {
        Scopes(scope as u8)
    }

    /// Parses a space-separated `scope` claim. Unknown words are ignored so that tokens
    /// minted for other services as well still work here.
    pub fn parse(claim: &str) -> Scopes {
        Scopes(claim.split_ascii_whitespace().fold(0, |acc, word| {
            acc | match word {
                "read" => Scope::Read as u8,
                "write" => Scope::Write as u8,
                "delete" => Scope::Delete as u8,
                "list" => Scope::List as u8,
                "scan" => Scope::Scan as u8,
                _ => 0,
            }
        }))
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope as u8 != 0
    }

    /// No scope at all.
    pub const NONE: Scopes = Scopes(0);

    /// The scopes in either set.
    pub fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }
}

/// An owner's limits; either may be absent (unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub bytes: Option<u64>,
    pub objects: Option<u64>,
}

impl Quota {
    /// Whether this limits anything.
    pub fn limits(&self) -> bool {
        self.bytes.is_some() || self.objects.is_some()
    }
}

/// The verified caller and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `sub`: the owner recorded on every object it uploads.
    pub sub: String,
    pub scopes: Scopes,
    /// `prefix`: keys the token may touch start with this (default `<sub>/`).
    pub prefix: String,
    /// `key`: when present, the only key the token may touch.
    pub exact_key: Option<String>,
    /// `max_size`: byte cap for writes, on top of `MAX_UPLOAD_BYTES`.
    pub max_size: Option<u64>,
    /// `content_types`: allowed types for writes, on top of `ALLOWED_CONTENT_TYPES`.
    pub content_types: Option<Vec<TypePattern>>,
    /// When the authority ends (the token's `exp`, or a URL's expiry), ms since the epoch;
    /// URLs handed out on its strength never outlive it.
    pub expires_ms: Option<i64>,
    /// The owner's storage quota: the token's `quota` claim, its issuer's, or the default.
    pub quota: Option<Quota>,
}

impl Grant {
    /// A key for an upload that names none: the token's exact key, or `<prefix><id>.<ext>`, a
    /// fresh name under its prefix keeping a plain extension from `filename`.
    pub fn generated_key(&self, id: &str, filename: Option<&str>) -> Result<ObjectKey> {
        if let Some(k) = &self.exact_key {
            return ObjectKey::new(k.clone());
        }
        let ext = filename
            .and_then(|f| f.rsplit_once('.').map(|(_, e)| e))
            .filter(|e| (1..=16).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(|e| format!(".{}", e.to_ascii_lowercase()))
            .unwrap_or_default();
        ObjectKey::new(format!("{}{id}{ext}", self.prefix))
    }

    /// This grant with its write limit lowered to `max_size`, if given (an approval hook's).
    pub fn limited_to(&self, max_size: Option<u64>) -> Grant {
        let max_size = match (self.max_size, max_size) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Grant { max_size, ..self.clone() }
    }

    /// Refuses with 403 unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(GatewayError::new(ErrorKind::Forbidden, format!("the token lacks the `{}` scope", scope.name())))
        }
    }

    /// Refuses with 403 unless the token has `scope` and may touch `key`.
    pub fn authorize(&self, scope: Scope, key: &ObjectKey) -> Result<()> {
        self.require(scope)?;
        let allowed = match &self.exact_key {
            Some(k) => k == key.as_str(),
            None => key.as_str().starts_with(&self.prefix),
        };
        if allowed {
            Ok(())
        } else {
            Err(GatewayError::new(ErrorKind::Forbidden, "the token does not cover this key"))
        }
    }
}
