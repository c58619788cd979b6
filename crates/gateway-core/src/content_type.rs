//! Media types: normalising a `Content-Type` header to its essence and matching it
//! against allow-lists with `type/*` and `*/*` wildcards.

/// The lower-cased `type/subtype` of a `Content-Type` value, without parameters.
/// Returns `None` when the value is not a syntactically valid media type.
pub fn essence(value: &str) -> Option<String> {
    let base = value.split(';').next()?.trim().to_ascii_lowercase();
    let (ty, sub) = base.split_once('/')?;
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    (token(ty) && token(sub)).then_some(base)
}

/// One entry of an allow-list: `image/png`, `image/*` or `*/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePattern {
    ty: String,
    /// `None` for a `type/*` wildcard.
    sub: Option<String>,
}

impl TypePattern {
    pub fn parse(pattern: &str) -> Option<TypePattern> {
        let p = pattern.trim().to_ascii_lowercase();
        if p == "*/*" || p == "*" {
            return Some(TypePattern { ty: "*".into(), sub: None });
        }
        if let Some(ty) = p.strip_suffix("/*") {
            return essence(&format!("{ty}/x")).map(|_| TypePattern { ty: ty.to_owned(), sub: None });
        }
        let e = essence(&p)?;
        let (ty, sub) = e.split_once('/')?;
        Some(TypePattern { ty: ty.to_owned(), sub: Some(sub.to_owned()) })
    }

    /// Whether `essence` (already normalised) falls under this pattern.
    pub fn matches(&self, essence: &str) -> bool {
        let Some((ty, sub)) = essence.split_once('/') else { return false };
        (self.ty == "*" || self.ty == ty) && self.sub.as_deref().is_none_or(|s| s == sub)
    }
}

impl std::fmt::Display for TypePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ty, self.sub.as_deref().unwrap_or("*"))
    }
}

/// Whether `essence` is allowed by `list`; `None` means no restriction.
pub fn allowed(list: Option<&[TypePattern]>, essence: &str) -> bool {
    list.is_none_or(|l| l.iter().any(|p| p.matches(essence)))
}
