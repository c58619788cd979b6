//! Conditional requests (RFC 9110 §13): `If-Match` and `If-None-Match` lists of entity
//! tags, evaluated against an object's current ETag in the RFC's order.

/// One entity tag: its opaque value without quotes, and whether it was weak (`W/"…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    pub opaque: String,
}

impl EntityTag {
    pub fn parse(s: &str) -> Option<EntityTag> {
        let s = s.trim();
        let (weak, rest) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let opaque = rest.trim_matches('"');
        // RFC 9110 §8.8.3: an entity tag never contains a double quote.
        (!opaque.is_empty() && !opaque.contains('"')).then(|| EntityTag { weak, opaque: opaque.to_owned() })
    }

    /// The header form, quoted, `W/` for weak tags.
    pub fn to_header(&self) -> String {
        format!("{}\"{}\"", if self.weak { "W/" } else { "" }, self.opaque)
    }

    /// RFC 9110 §8.8.3.2: strong comparison needs both tags strong; weak compares values only.
    fn equals(&self, other: &EntityTag, strong: bool) -> bool {
        self.opaque == other.opaque && (!strong || (!self.weak && !other.weak))
    }
}

/// The members of a comma-separated list of entity tags; a comma inside a quoted tag (which
/// RFC 9110 allows) does not split it.
fn split_list(h: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in h.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&h[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&h[start..]);
    parts.into_iter()
}

/// A parsed `If-Match` / `If-None-Match` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags.
    Tags(Vec<EntityTag>),
}

impl EtagCondition {
    pub fn parse(header: &str) -> Option<EtagCondition> {
        let h = header.trim();
        if h.is_empty() {
            return None;
        }
        if h == "*" {
            return Some(EtagCondition::Any);
        }
        let tags: Vec<EntityTag> = split_list(h).filter_map(EntityTag::parse).collect();
        (!tags.is_empty()).then_some(EtagCondition::Tags(tags))
    }

    /// Whether the condition matches an object with `etag` (quoted or not); `None` = no object.
    fn matches(&self, etag: Option<&str>, strong: bool) -> bool {
        match (self, etag.and_then(EntityTag::parse)) {
            (_, None) => false,
            (EtagCondition::Any, Some(_)) => true,
            (EtagCondition::Tags(tags), Some(current)) => tags.iter().any(|t| t.equals(&current, strong)),
        }
    }

    /// The header form, for stores that evaluate conditions themselves.
    pub fn to_header(&self) -> String {
        match self {
            EtagCondition::Any => "*".to_owned(),
            EtagCondition::Tags(tags) => tags.iter().map(EntityTag::to_header).collect::<Vec<_>>().join(", "),
        }
    }
}

/// The preconditions of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadConditions {
    pub if_match: Option<EtagCondition>,
    pub if_none_match: Option<EtagCondition>,
}

/// What the preconditions say about a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    /// 304 for GET and HEAD.
    NotModified,
    /// 412.
    Failed,
}

impl ReadConditions {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// RFC 9110 §13.2.2 order: If-Match (strong comparison) first, then If-None-Match (weak).
    pub fn evaluate(&self, current_etag: Option<&str>) -> Precondition {
        if let Some(cond) = &self.if_match {
            if !cond.matches(current_etag, true) {
                return Precondition::Failed;
            }
        }
        if let Some(cond) = &self.if_none_match {
            if cond.matches(current_etag, false) {
                return Precondition::NotModified;
            }
        }
        Precondition::Proceed
    }
}
