//! `Range: bytes=` parsing (RFC 9110 §14): a single range is served as 206, an
//! unsatisfiable one as 416. Syntactically invalid or multi-range headers are ignored and the
//! whole object is served, as the RFC permits.

/// The largest byte position a range may name (`Number.MAX_SAFE_INTEGER`).
pub const MAX_POSITION: u64 = (1 << 53) - 1;

/// A syntactically valid single byte range, not yet resolved against an object size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRangeSpec {
    /// `bytes=first-last`
    FromTo(u64, u64),
    /// `bytes=first-`
    From(u64),
    /// `bytes=-suffix`
    Suffix(u64),
}

/// A range resolved against an object: inclusive bounds within `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedRange {
    pub start: u64,
    pub end: u64,
    pub size: u64,
}

impl ResolvedRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    /// The `Content-Range` header value.
    pub fn content_range(&self) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, self.size)
    }
}

/// The `Content-Range` value of a 416 answer.
pub fn unsatisfied_content_range(size: u64) -> String {
    format!("bytes */{size}")
}

/// Parses a `Range` header. `None` means "serve the whole object".
pub fn parse(header: &str) -> Option<ByteRangeSpec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    // Positions past 2^53 - 1 (far beyond any object) are clamped so that stores taking JS
    // numbers get exact values; a longer digit string than u64 holds means "to the end".
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().unwrap_or(u64::MAX).min(MAX_POSITION))
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(ByteRangeSpec::Suffix(num(last)?)),
        (false, true) => Some(ByteRangeSpec::From(num(first)?)),
        (false, false) => {
            let (a, b) = (num(first)?, num(last)?);
            (a <= b).then_some(ByteRangeSpec::FromTo(a, b))
        }
        (true, true) => None,
    }
}

impl ByteRangeSpec {
    /// Resolves against an object of `size` bytes; `None` means 416.
    pub fn resolve(self, size: u64) -> Option<ResolvedRange> {
        if size == 0 {
            return None;
        }
        let (start, end) = match self {
            ByteRangeSpec::FromTo(a, b) if a > b => return None,
            ByteRangeSpec::FromTo(a, b) => (a, b.min(size - 1)),
            ByteRangeSpec::From(a) => (a, size - 1),
            ByteRangeSpec::Suffix(0) => return None,
            ByteRangeSpec::Suffix(n) => (size.saturating_sub(n), size - 1),
        };
        (start < size).then_some(ResolvedRange { start, end, size })
    }
}

/// Parses a `Content-Range: bytes first-last/size` answer from a store.
pub fn parse_content_range(value: &str) -> Option<ResolvedRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let (start, end, size) = (a.trim().parse().ok()?, b.trim().parse().ok()?, size.trim().parse().ok()?);
    (start <= end && end < size).then_some(ResolvedRange { start, end, size })
}
