//! `JWT_ISSUERS`: the identity providers whose tokens the gateway accepts, parsed once into
//! [`Issuer`]s whose every state is valid. A malformed entry is a `config_error` naming the
//! variable, the entry and the field.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::content_type::TypePattern;
use crate::grant::Scopes;
use crate::http::http_url;
use crate::secret::Secret;

/// The least an HS256 secret may be (bytes), as for `JWT_SECRET`.
pub const MIN_SECRET_BYTES: usize = 32;

/// One trusted issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// `issuer`: the exact `iss` its tokens carry.
    pub issuer: String,
    /// `jwks_url`, or `None` to read `jwks_uri` from the issuer's OpenID configuration.
    pub jwks_url: Option<url::Url>,
    /// `secret`: the HS256 secret of this issuer; HS* tokens naming it are refused without.
    pub secret: Option<Secret>,
    /// `audience`: one of these must be in the token's `aud`; empty: `aud` is not checked.
    pub audience: Vec<String>,
    /// `require`: claim (dotted path) → the exact JSON value it must have.
    pub require: Vec<(ClaimPath, serde_json::Value)>,
    /// `subject`: the claim naming the owner (default `sub`).
    pub subject: ClaimPath,
    /// `prefix`: the key prefix the caller may touch, around the subject.
    pub prefix: PrefixTemplate,
    /// `scopes`: how the token's own permissions map to the gateway's; `None`: all four.
    pub scopes: Option<ScopeMap>,
    /// `max_size`: this issuer's byte cap for writes.
    pub max_size: Option<u64>,
    /// `content_types`: this issuer's allowed types for writes.
    pub content_types: Option<Vec<TypePattern>>,
    /// `quota`: this issuer's owners' storage quota (`{"bytes": …, "objects": …}`).
    pub quota: Option<crate::quota::Quota>,
    /// `header`: the request header the token arrives in, lowercase; `None`:
    /// `Authorization: Bearer`.
    pub header: Option<String>,
}

/// A claim named by a dotted path (`realm_access.roles`); a name containing a dot itself
/// (`https://example.com/roles`) is tried whole first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(pub String);

impl ClaimPath {
    /// The claim's value in `claims`, if present.
    pub fn find<'a>(&self, claims: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        if let Some(v) = claims.get(&self.0) {
            return Some(v);
        }
        self.0.split('.').try_fold(claims, |v, part| v.get(part))
    }
}

/// A prefix around the subject: `users/{sub}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixTemplate {
    before: String,
    after: String,
}

impl PrefixTemplate {
    /// `template` with exactly one `{sub}`.
    pub fn parse(template: &str) -> Option<PrefixTemplate> {
        let (before, after) = template.split_once("{sub}")?;
        (!after.contains("{sub}")).then(|| PrefixTemplate { before: before.to_owned(), after: after.to_owned() })
    }

    /// The prefix of `subject`.
    pub fn render(&self, subject: &str) -> String {
        format!("{}{subject}{}", self.before, self.after)
    }
}

/// How the token's own permissions become gateway scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeMap {
    /// The claim holding them: a space- or comma-separated string, or an array of strings.
    pub claim: ClaimPath,
    /// The IdP's value → the gateway scopes it grants.
    pub map: BTreeMap<String, Scopes>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScopes {
    claim: String,
    map: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    jwks_url: Option<String>,
    secret: Option<String>,
    audience: Option<OneOrMany>,
    #[serde(default)]
    require: BTreeMap<String, serde_json::Value>,
    subject: Option<String>,
    prefix: Option<String>,
    scopes: Option<RawScopes>,
    max_size: Option<u64>,
    content_types: Option<Vec<String>>,
    header: Option<String>,
    quota: Option<crate::quota::Quota>,
}

/// The scopes a space-separated list names, each of `read`, `write`, `delete`, `list`, `scan`.
fn gateway_scopes(list: &str) -> Option<Scopes> {
    let words: Vec<&str> = list.split_ascii_whitespace().collect();
    let known = ["read", "write", "delete", "list", "scan"];
    (!words.is_empty() && words.iter().all(|w| known.contains(w))).then(|| Scopes::parse(list))
}

impl RawIssuer {
    fn into_issuer(self) -> Result<Issuer, String> {
        http_url(&self.issuer, "`issuer` must be the exact `iss` of the tokens, an http(s) URL")?;
        let jwks_url = self.jwks_url.map(|u| http_url(&u, "`jwks_url` must be an http(s) URL")).transpose()?;
        let secret = match self.secret {
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                return Err(format!("`secret` must be at least {MIN_SECRET_BYTES} bytes"))
            }
            s => s.map(Secret::new),
        };
        let audience = match self.audience {
            None => Vec::new(),
            Some(OneOrMany::One(a)) => vec![a],
            Some(OneOrMany::Many(list)) if list.is_empty() => {
                return Err("`audience` must name at least one audience".to_owned())
            }
            Some(OneOrMany::Many(list)) => list,
        };
        let subject = ClaimPath(self.subject.unwrap_or_else(|| "sub".to_owned()));
        if subject.0.is_empty() {
            return Err("`subject` must name a claim".to_owned());
        }
        let template = self.prefix.unwrap_or_else(|| "{sub}/".to_owned());
        let prefix = PrefixTemplate::parse(&template)
            .ok_or_else(|| format!("`prefix` `{template}` must contain `{{sub}}` exactly once"))?;
        let scopes = self
            .scopes
            .map(|raw| {
                let map = raw
                    .map
                    .into_iter()
                    .map(|(from, to)| {
                        gateway_scopes(&to).map(|s| (from.clone(), s)).ok_or_else(|| {
                            format!(
                                "`scopes.map` `{from}` must map to gateway scopes (read write delete list), not `{to}`"
                            )
                        })
                    })
                    .collect::<Result<BTreeMap<_, _>, String>>()?;
                Ok::<_, String>(ScopeMap { claim: ClaimPath(raw.claim), map })
            })
            .transpose()?;
        let content_types = self
            .content_types
            .map(|list| {
                list.iter()
                    .map(|p| TypePattern::parse(p).ok_or_else(|| format!("`content_types` has a malformed type `{p}`")))
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?;
        let header = match self.header.map(|h| h.trim().to_ascii_lowercase()) {
            Some(h) if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
                return Err("`header` must be a header name such as `cf-access-jwt-assertion`".to_owned())
            }
            h => h,
        };
        Ok(Issuer {
            issuer: self.issuer,
            jwks_url,
            secret,
            audience,
            require: self.require.into_iter().map(|(k, v)| (ClaimPath(k), v)).collect(),
            subject,
            prefix,
            scopes,
            max_size: self.max_size,
            content_types,
            header,
            quota: self.quota,
        })
    }
}

/// Parses `JWT_ISSUERS`: a JSON array with one object per issuer. The error names the entry
/// and what is wrong with it (the caller names the variable).
pub fn parse_issuers(json: &str) -> Result<Vec<Issuer>, String> {
    let raw: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|_| "must be a JSON array of issuer objects".to_owned())?;
    let mut issuers: Vec<Issuer> = Vec::with_capacity(raw.len());
    for (i, entry) in raw.into_iter().enumerate() {
        let name =
            entry.get("issuer").and_then(|v| v.as_str()).map_or_else(|| format!("entry {i}"), |s| format!("`{s}`"));
        let parsed: RawIssuer = serde_json::from_value(entry).map_err(|e| format!("{name}: {e}"))?;
        let issuer = parsed.into_issuer().map_err(|e| format!("{name}: {e}"))?;
        if issuers.iter().any(|o| o.issuer == issuer.issuer) {
            return Err(format!("{name} appears twice"));
        }
        issuers.push(issuer);
    }
    Ok(issuers)
}
