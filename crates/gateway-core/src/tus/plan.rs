//! Where the bytes of one `PATCH` go, decided before its body is read. The store assembles the
//! upload from parts that are all `part_size` long but the last (R2's rule; S3 needs only the
//! 5 MiB minimum). A chunk that is exactly the next part streams straight into the store's
//! upload-part call, and a whole file in one request is a single put; any other chunk is first
//! stored whole as an object of its own (a *staged chunk*, zero-copy like any upload), and once
//! staged bytes fill a part, that part is composed from ranges of the staged chunks, inside
//! the runtime. `Upload-Offset` counts parts plus staged chunks: bytes the store holds.

use crate::multipart::rules::{MAX_PARTS, MAX_PART_BYTES, MIN_PART_BYTES};

/// A staged chunk: upload bytes `start..start + length`, stored whole under `name`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Chunk {
    pub start: u64,
    pub length: u64,
    pub name: String,
}

/// A range of a staged chunk's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub name: String,
    pub offset: u64,
    pub length: u64,
}

/// What is stored of an upload so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub offset: u64,
    pub length: Option<u64>,
    /// Fixed with the first part.
    pub part_size: Option<u64>,
    /// Parts the store holds: bytes `0..parts * part_size`.
    pub parts: u16,
    /// Staged chunks, in order, covering `parts * part_size..offset`.
    pub staged: Vec<Chunk>,
}

/// How the upload ends, if this request ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// More bytes are to come.
    Open,
    /// Assemble the parts as they are.
    Complete,
    /// Compose a last, shorter part from these pieces, then assemble.
    LastPart(Vec<Piece>),
    /// No part was ever needed: the object is these pieces, put as one.
    Single(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // One per request, never stored.
pub enum Step {
    /// The whole upload in this one request: a single put of the body.
    Whole,
    /// The body is exactly part `number`: streamed to the store's upload-part call. With
    /// `last`, the upload is then assembled.
    Part { number: u16, part_size: u64, last: bool },
    /// The body is staged as chunk `chunk`; then `parts` (each a list of pieces, numbered from
    /// `first`) are composed, and `finish` says how the upload ends. `consumed` chunks are
    /// wholly inside the composed parts and may go; `staged` is what stays staged.
    Stage {
        chunk: Chunk,
        part_size: u64,
        first: u16,
        parts: Vec<Vec<Piece>>,
        finish: Finish,
        consumed: Vec<String>,
        staged: Vec<Chunk>,
        /// With many small chunks staged, they are merged into one (`merged`, from these
        /// pieces) so that no request composes more than [`MAX_STAGED`] + 1 pieces.
        merge: Option<(Chunk, Vec<Piece>)>,
    },
}

/// The most staged chunks an upload keeps; one more, and they are merged into one. It bounds
/// the store calls of one request (a part composed of at most this many pieces plus one),
/// within the Workers subrequest limit.
pub const MAX_STAGED: usize = 16;

/// The smallest part size that fits an upload of at most `limit` bytes in 10,000 parts,
/// in whole MiB, and never under 5 MiB.
pub fn min_part_size(limit: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    limit.div_ceil(u64::from(MAX_PARTS)).div_ceil(MIB).saturating_mul(MIB).max(MIN_PART_BYTES)
}

/// The pieces of staged `chunks` that hold upload bytes `from..to`.
pub fn pieces(chunks: &[Chunk], from: u64, to: u64) -> Vec<Piece> {
    chunks
        .iter()
        .filter_map(|c| {
            let start = from.max(c.start);
            let end = to.min(c.start + c.length);
            (start < end).then(|| Piece { name: c.name.clone(), offset: start - c.start, length: end - start })
        })
        .collect()
}

/// Where a `PATCH` of `length` bytes at the upload's offset goes. `limit` bounds the whole
/// upload (it sets the smallest part size while the length is unknown); `max_body` is the most
/// one request body may hold (a part that arrives as a body is one); `chunk_name` is the
/// stored name this request would stage its body under.
pub fn plan(p: &Progress, length: u64, limit: u64, max_body: u64, chunk_name: &str, merged_name: &str) -> Step {
    let end = p.offset + length;
    let last = p.length == Some(end);
    let nothing_yet = p.parts == 0 && p.staged.is_empty();
    if nothing_yet && p.offset == 0 && last {
        return Step::Whole;
    }
    let smallest = min_part_size(p.length.unwrap_or(limit));
    let part_size = p.part_size.unwrap_or(
        // A client's chunks are usually all one size: the first one, if it can be a part,
        // fixes the part size, so every later chunk streams straight into a part too.
        if nothing_yet && !last && (smallest..=max_body.min(MAX_PART_BYTES)).contains(&length) {
            length
        } else {
            smallest
        },
    );
    let number = p.parts + 1;
    if p.staged.is_empty() && (length == part_size || (last && p.parts > 0 && length > 0 && length < part_size)) {
        return Step::Part { number, part_size, last };
    }
    let chunk = Chunk { start: p.offset, length, name: chunk_name.to_owned() };
    let mut staged = p.staged.clone();
    if length > 0 {
        staged.push(chunk.clone());
    }
    let base = u64::from(p.parts) * part_size;
    let full = end.saturating_sub(base) / part_size;
    let parts: Vec<Vec<Piece>> =
        (0..full).map(|i| pieces(&staged, base + i * part_size, base + (i + 1) * part_size)).collect();
    let assembled = base + full * part_size;
    let finish = match (last, end > assembled) {
        (false, _) => Finish::Open,
        (true, false) => Finish::Complete,
        (true, true) if p.parts == 0 && full == 0 => Finish::Single(pieces(&staged, 0, end)),
        (true, true) => Finish::LastPart(pieces(&staged, assembled, end)),
    };
    let boundary = if matches!(finish, Finish::Open) { assembled } else { end };
    let (consumed, mut kept): (Vec<Chunk>, Vec<Chunk>) =
        staged.into_iter().partition(|c| c.start + c.length <= boundary);
    let mut consumed: Vec<String> = consumed.into_iter().map(|c| c.name).collect();
    let merge = (kept.len() > MAX_STAGED).then(|| {
        let start = kept[0].start;
        let end = kept.iter().map(|c| c.start + c.length).max().unwrap_or(start);
        let merged = Chunk { start, length: end - start, name: merged_name.to_owned() };
        let from = pieces(&kept, start, end);
        consumed.extend(kept.drain(..).map(|c| c.name));
        kept.push(merged.clone());
        (merged, from)
    });
    Step::Stage { chunk, part_size, first: number, parts, finish, consumed, staged: kept, merge }
}
