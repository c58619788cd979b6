//! The part rules, checked before a part's body is read and again at completion.
//! The stores' limits (part numbers 1–10,000, parts of 5 MiB–5 GiB except the last) plus R2's
//! rule that all parts but the last have the same size, applied to every backend so clients
//! behave the same everywhere. Pure functions over the recorded parts; the request handlers
//! and the store calls build on them.

use crate::error::{ErrorKind, GatewayError, Result};

pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_PARTS: u16 = 10_000;

/// One part as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Part {
    pub number: u16,
    pub size: u64,
    pub etag: String,
}

fn bad(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, detail)
}

/// Parses `partNumber` (1–10,000).
pub fn parse_part_number(value: &str) -> Result<u16> {
    value
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| bad(format!("partNumber must be a whole number from 1 to {MAX_PARTS}")))
}

/// The largest of `parts`' sizes: the common size, since only the last part may be smaller.
fn common_size(parts: &[&Part]) -> Option<u64> {
    parts.iter().map(|p| p.size).max()
}

/// What a part's check needs to know about the other parts of its upload (recorded or in
/// flight, without an earlier copy of the part itself): a few index lookups and two counters
/// in the database, however many parts there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OtherParts {
    pub count: u32,
    pub bytes: u64,
    /// The highest-numbered other part: number and size.
    pub highest: Option<(u16, u64)>,
    /// The size of the lowest-numbered other part, when it is not also the highest.
    pub common: Option<u64>,
}

impl OtherParts {
    /// The summary of `parts` other than `number`.
    pub fn of(parts: &[Part], number: u16) -> OtherParts {
        let mut others: Vec<&Part> = parts.iter().filter(|p| p.number != number).collect();
        others.sort_by_key(|p| p.number);
        OtherParts {
            count: others.len() as u32,
            bytes: others.iter().map(|p| p.size).sum(),
            highest: others.last().map(|p| (p.number, p.size)),
            common: (others.len() > 1).then(|| others[0].size),
        }
    }

    /// Stand-ins for the other parts, equivalent for the rules when the recorded parts obey
    /// them (every part was checked on arrival; completion checks the full list again): all
    /// parts below the highest have the common size. Those are numbered 0, below every real
    /// part, since only their order relative to the highest and the new part matters; sums
    /// come from `bytes`.
    fn stand_ins(&self) -> Vec<Part> {
        let Some((high, high_size)) = self.highest else { return Vec::new() };
        let mut parts = Vec::new();
        if let Some(common) = self.common {
            parts.push(Part { number: 0, size: common, etag: String::new() });
        }
        parts.push(Part { number: high, size: high_size, etag: String::new() });
        parts
    }
}

/// [`check_part`] from the summary of the other parts rather than all of them.
pub fn check_part_against(others: &OtherParts, declared_size: Option<u64>, number: u16, length: u64) -> Result<()> {
    if length > MAX_PART_BYTES {
        return Err(GatewayError::new(ErrorKind::PayloadTooLarge, "a part may be at most 5 GiB"));
    }
    let stand_ins = others.stand_ins();
    let refs: Vec<&Part> = stand_ins.iter().collect();
    match declared_size {
        Some(total) => check_against_declared(&refs, others.bytes, total, number, length),
        None => check_undeclared(&refs, number, length),
    }
}

/// Checks part `number` of `length` bytes against the parts already received (`parts`, which
/// may include an earlier copy of the same number that this one replaces) and the total size
/// declared at the start, if any.
pub fn check_part(parts: &[Part], declared_size: Option<u64>, number: u16, length: u64) -> Result<()> {
    if length > MAX_PART_BYTES {
        return Err(GatewayError::new(ErrorKind::PayloadTooLarge, "a part may be at most 5 GiB"));
    }
    let others: Vec<&Part> = parts.iter().filter(|p| p.number != number).collect();
    if let Some(total) = declared_size {
        let sent = others.iter().map(|p| p.size).sum();
        return check_against_declared(&others, sent, total, number, length);
    }
    check_undeclared(&others, number, length)
}

/// Without a declared total, the parts received so far plus this one must be able to form an
/// object: the highest-numbered part is the (possibly short) last one, and every other part
/// has one common size of at least 5 MiB, no smaller than the last. Parts may arrive in any
/// order, so a short last part may come before the full ones.
fn check_undeclared(others: &[&Part], number: u16, length: u64) -> Result<()> {
    let this = Part { number, size: length, etag: String::new() };
    let mut all: Vec<&Part> = others.to_vec();
    all.push(&this);
    let Some(last) = all.iter().copied().max_by_key(|p| p.number) else { return Ok(()) };
    let Some(full) = all.iter().filter(|p| p.number != last.number).map(|p| p.size).max() else {
        return Ok(()); // a single part so far, of any size
    };
    let is_last = last.number == number;
    if full < MIN_PART_BYTES {
        return Err(bad("every part but the last must be at least 5 MiB"));
    }
    if is_last && length > full {
        return Err(bad(format!(
            "all parts but the last must have the same size ({full} bytes here), and the last no larger; this part has {length}"
        )));
    }
    if !is_last && length < full {
        return Err(bad(format!("only the last part may be smaller than {full} bytes")));
    }
    if all.iter().any(|p| p.number != last.number && p.size != full) {
        if is_last {
            return Err(bad("a part was sent after the short last part"));
        }
        return Err(bad(format!("all parts but the last must have the same size; this part has {length} bytes")));
    }
    if last.size > full {
        return Err(bad(format!("only the last part may differ in size, and it may not exceed {full} bytes")));
    }
    Ok(())
}

/// With a declared total, the part size is fixed by the first full part; part counts and the
/// last part's size follow from it.
fn check_against_declared(others: &[&Part], sent: u64, total: u64, number: u16, length: u64) -> Result<()> {
    if sent + length > total {
        return Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("the parts would exceed the declared size of {total} bytes"),
        ));
    }
    let mut size = common_size(others).map_or(length, |s| s.max(length));
    if size == 0 {
        return Err(bad("parts may not be empty"));
    }
    if size < MIN_PART_BYTES && size < total {
        // Parts may arrive in any order when sent concurrently: a short last part can come
        // first, and its number and the total then imply the part size.
        size = implied_part_size(others, total, number, length)
            .ok_or_else(|| bad("every part but the last must be at least 5 MiB"))?;
    }
    let count = total.div_ceil(size);
    if count > u64::from(MAX_PARTS) {
        return Err(bad(format!("parts of {size} bytes would need more than {MAX_PARTS} parts")));
    }
    let last = total - (count - 1) * size;
    let expected = match u64::from(number) {
        n if n < count => size,
        n if n == count => last,
        _ => return Err(bad(format!("the declared size needs only {count} parts of {size} bytes"))),
    };
    if length == expected && others.iter().all(|p| p.size == if u64::from(p.number) == count { last } else { size }) {
        Ok(())
    } else {
        Err(bad(format!("part {number} must be {expected} bytes (parts of {size} bytes, {count} in all)")))
    }
}

/// The part size that makes part `number` of `length` bytes the short last part of `total`
/// bytes, when no full-size part has been received yet.
fn implied_part_size(others: &[&Part], total: u64, number: u16, length: u64) -> Option<u64> {
    let before = u64::from(number).checked_sub(1).filter(|n| *n > 0 && others.is_empty())?;
    let rest = total.checked_sub(length)?;
    let size = rest / before;
    (rest % before == 0 && size >= MIN_PART_BYTES && size >= length).then_some(size)
}

/// Checks the recorded parts at completion: the parts the gateway acknowledged, plus (with an
/// empty ETag) part numbers in flight that have no acknowledged copy. When the client sent its
/// own list of `(number, etag)` or the object's size, they must match exactly: the completion
/// assembles what the client expects or nothing (409 `parts_mismatch`). Returns the parts in
/// order.
pub fn check_complete(
    parts: &[Part],
    declared_size: Option<u64>,
    client_list: Option<&[(u16, String)]>,
    client_size: Option<u64>,
) -> Result<Vec<Part>> {
    let mut ordered = parts.to_vec();
    ordered.sort_by_key(|p| p.number);
    if ordered.is_empty() {
        return Err(bad("no parts have been uploaded"));
    }
    if let Some(p) = ordered.iter().find(|p| p.etag.is_empty()) {
        return Err(mismatch(format!("part {} is still being uploaded; complete once it has arrived", p.number)));
    }
    if let Some(list) = client_list {
        let matches = list.len() == ordered.len()
            && list
                .iter()
                .zip(&ordered)
                .all(|((n, e), p)| *n == p.number && e.trim_matches('"') == p.etag.trim_matches('"'));
        if !matches {
            return Err(mismatch("the part list does not match the parts the gateway acknowledged"));
        }
    }
    let total: u64 = ordered.iter().map(|p| p.size).sum();
    if let Some(size) = client_size.filter(|s| *s != total) {
        return Err(mismatch(format!("the acknowledged parts add up to {total} bytes, not {size}")));
    }
    if let Some(gap) = ordered.iter().enumerate().find(|(i, p)| usize::from(p.number) != i + 1) {
        return Err(bad(format!("part {} is missing", gap.0 + 1)));
    }
    let (last, rest) = ordered.split_last().ok_or_else(|| bad("no parts have been uploaded"))?;
    if let Some(first) = rest.first() {
        if first.size < MIN_PART_BYTES || rest.iter().any(|p| p.size != first.size) || last.size > first.size {
            return Err(bad("all parts but the last must be the same size, at least 5 MiB, and the last no larger"));
        }
    }
    if declared_size.is_some_and(|d| d != total) {
        return Err(bad(format!("the parts add up to {total} bytes, not the declared size")));
    }
    Ok(ordered)
}

fn mismatch(detail: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorKind::PartsMismatch, detail)
}
