//! Conditional requests (RFC 9110 §13): `If-Match` and `If-None-Match` lists of entity
//! tags, evaluated against an object's current ETag in the RFC's order.

/// A parsed `If-Match` / `If-None-Match` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    /// `*`: any current representation.
    Any,
    /// A list of opaque tags, quotes removed; weak tags keep no `W/` marker.
    Tags(Vec<String>),
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
        let tags: Vec<String> = h
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"').to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        (!tags.is_empty()).then_some(EtagCondition::Tags(tags))
    }

    /// Whether the condition matches an object with `etag` (quoted or not); `None` = no object.
    fn matches(&self, etag: Option<&str>) -> bool {
        match (self, etag) {
            (_, None) => false,
            (EtagCondition::Any, Some(_)) => true,
            (EtagCondition::Tags(tags), Some(e)) => {
                let e = e.trim_start_matches("W/").trim_matches('"');
                tags.iter().any(|t| t == e)
            }
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

    /// RFC 9110 §13.2.2 order: If-Match first, then If-None-Match.
    pub fn evaluate(&self, current_etag: Option<&str>) -> Precondition {
        if let Some(cond) = &self.if_match {
            if !cond.matches(current_etag) {
                return Precondition::Failed;
            }
        }
        if let Some(cond) = &self.if_none_match {
            if cond.matches(current_etag) {
                return Precondition::NotModified;
            }
        }
        Precondition::Proceed
    }
}
