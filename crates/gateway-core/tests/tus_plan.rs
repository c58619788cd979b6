//! Where each tus chunk's bytes go. Whatever chunk sizes a client picks (and however a cut
//! connection shifts them), the store must end up with parts that are all one size but a
//! shorter last one, made of exactly the upload's bytes in order, in at most 10,000 parts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::tus::plan::{min_part_size, plan, Chunk, Finish, Piece, Progress, Step, MAX_STAGED};
use proptest::prelude::*;

const MIB: u64 = 1024 * 1024;
const LIMIT: u64 = 100 * MIB;

fn fresh(length: Option<u64>) -> Progress {
    Progress { offset: 0, length, part_size: None, parts: 0, staged: Vec::new() }
}

/// What the store holds after a sequence of chunks: each part as a list of upload byte
/// ranges, and the object when assembled.
#[derive(Default, Debug)]
struct Store {
    parts: Vec<(u64, u64)>,
    object: Option<Vec<(u64, u64)>>,
}

/// Upload byte ranges the pieces stand for, given where each staged chunk started.
fn ranges(pieces: &[Piece], chunks: &[Chunk]) -> Vec<(u64, u64)> {
    pieces
        .iter()
        .map(|pc| {
            let c = chunks.iter().find(|c| c.name == pc.name).expect("a piece of an unknown chunk");
            (c.start + pc.offset, c.start + pc.offset + pc.length)
        })
        .collect()
}

fn merged_range(r: &[(u64, u64)]) -> (u64, u64) {
    merged(r.to_vec())
}

/// Contiguous ranges merged, so a part made of several pieces reads as one range.
fn merged(mut r: Vec<(u64, u64)>) -> (u64, u64) {
    r.sort();
    let mut out = r[0];
    for (a, b) in r.into_iter().skip(1) {
        assert_eq!(a, out.1, "a gap or an overlap inside a part");
        out.1 = b;
    }
    out
}

/// Applies one chunk of `length` bytes to `p` and `store`, as the session does.
fn apply(p: &mut Progress, store: &mut Store, length: u64, seen: &mut Vec<Chunk>) {
    let name = format!("chunk-{}", p.offset);
    let merged_name = format!("merged-{}", p.offset);
    match plan(p, length, LIMIT, 100 * MIB, &name, &merged_name) {
        Step::Whole => store.object = Some(vec![(0, length)]),
        Step::Part { number, part_size, last } => {
            assert_eq!(number as usize, store.parts.len() + 1);
            store.parts.push((p.offset, p.offset + length));
            p.part_size = Some(part_size);
            p.parts = number;
            if last {
                store.object = Some(store.parts.clone());
            }
        }
        Step::Stage { chunk, part_size, first, parts, finish, consumed, staged, merge } => {
            seen.push(chunk);
            for part in &parts {
                assert!(part.len() <= MAX_STAGED + 1, "a part composed of {} pieces", part.len());
            }
            if let Some((merged, pieces)) = &merge {
                assert!(pieces.len() <= MAX_STAGED + 1, "a merge of {} pieces", pieces.len());
                assert_eq!(merged_range(&ranges(pieces, seen)), (merged.start, merged.start + merged.length));
                seen.push(merged.clone());
            }
            assert!(staged.len() <= MAX_STAGED, "{} chunks stay staged", staged.len());
            assert_eq!(first as usize, store.parts.len() + 1);
            for part in &parts {
                store.parts.push(merged(ranges(part, seen)));
            }
            p.part_size = Some(part_size);
            p.parts = first - 1 + parts.len() as u16;
            match finish {
                Finish::Open => {}
                Finish::Complete => store.object = Some(store.parts.clone()),
                Finish::LastPart(pieces) => {
                    store.parts.push(merged(ranges(&pieces, seen)));
                    store.object = Some(store.parts.clone());
                }
                Finish::Single(pieces) => store.object = Some(vec![merged(ranges(&pieces, seen))]),
            }
            for name in &consumed {
                assert!(!staged.iter().any(|c| &c.name == name), "a consumed chunk stays staged");
            }
            p.staged = staged;
        }
    }
    p.offset += length;
}

/// The store's object is the upload's bytes in order, in parts that are all one size but a
/// shorter last one (R2's rule), at least 5 MiB but the last, at most 10,000.
fn assert_well_formed(store: &Store, length: u64) {
    let object = store.object.as_ref().expect("the upload was not assembled");
    let mut at = 0;
    for (a, b) in object {
        assert_eq!(*a, at, "the object's bytes are out of order");
        at = *b;
    }
    assert_eq!(at, length, "the object is not the whole upload");
    if object.len() > 1 {
        let size = object[0].1 - object[0].0;
        assert!(size >= 5 * MIB, "parts under the 5 MiB minimum");
        assert!(object.len() <= 10_000);
        for (i, (a, b)) in object.iter().enumerate() {
            let n = b - a;
            if i + 1 < object.len() {
                assert_eq!(n, size, "part {} differs in size", i + 1);
            } else {
                assert!(n > 0 && n <= size, "the last part is {n} bytes");
            }
        }
    }
}

fn upload(length: u64, chunk: u64) -> Store {
    let (mut p, mut store, mut seen) = (fresh(Some(length)), Store::default(), Vec::new());
    while p.offset < length {
        let n = chunk.min(length - p.offset);
        apply(&mut p, &mut store, n, &mut seen);
    }
    store
}

#[test]
fn a_whole_file_in_one_request_is_a_single_put() {
    assert_eq!(plan(&fresh(Some(10)), 10, LIMIT, LIMIT, "c", "m"), Step::Whole);
    assert_eq!(plan(&fresh(Some(0)), 0, LIMIT, LIMIT, "c", "m"), Step::Whole);
}

#[test]
fn equal_chunks_of_a_valid_part_size_stream_straight_into_parts() {
    let length = 20 * MIB + 3;
    let p = fresh(Some(length));
    assert_eq!(plan(&p, 8 * MIB, LIMIT, LIMIT, "c", "m"), Step::Part { number: 1, part_size: 8 * MIB, last: false });
    let store = upload(length, 8 * MIB);
    assert_eq!(store.parts.len(), 3);
    assert_well_formed(&store, length);
}

#[test]
fn chunks_smaller_than_a_part_are_staged_and_composed_into_5_mib_parts() {
    let length = 12 * MIB + 1;
    let store = upload(length, 500 * 1024);
    assert_eq!(store.parts.len(), 3);
    assert_eq!(store.parts[0], (0, 5 * MIB));
    assert_well_formed(&store, length);
}

#[test]
fn a_small_file_in_small_chunks_becomes_one_object_without_parts() {
    let store = upload(2 * MIB, 300 * 1024);
    assert!(store.parts.is_empty());
    assert_well_formed(&store, 2 * MIB);
}

#[test]
fn a_chunk_cut_off_and_resent_from_a_shifted_offset_still_assembles() {
    // 8 MiB chunks; the second was cut and only 3 MiB were kept... as a staged chunk the next
    // request starts mid-part, and the client then continues with 8 MiB chunks from there.
    let length = 30 * MIB;
    let (mut p, mut store, mut seen) = (fresh(Some(length)), Store::default(), Vec::new());
    apply(&mut p, &mut store, 8 * MIB, &mut seen);
    apply(&mut p, &mut store, 3 * MIB, &mut seen);
    while p.offset < length {
        let n = (8 * MIB).min(length - p.offset);
        apply(&mut p, &mut store, n, &mut seen);
    }
    assert_well_formed(&store, length);
}

#[test]
fn tiny_chunks_are_merged_so_no_request_composes_more_than_a_bounded_number_of_pieces() {
    // 64 KiB chunks: 80 to a 5 MiB part.
    let length = 11 * MIB + 9;
    let store = upload(length, 64 * 1024);
    assert_well_formed(&store, length);
    let store = upload(300 * 1024, 1024);
    assert_well_formed(&store, 300 * 1024);
}

#[test]
fn the_smallest_part_fits_the_limit_in_10000_parts() {
    assert_eq!(min_part_size(10 * MIB), 5 * MIB);
    let big = 100 * 1024 * MIB;
    assert!(min_part_size(big) * 10_000 >= big);
    assert_eq!(min_part_size(big) % MIB, 0);
}

#[test]
fn a_deferred_length_upload_assembles_once_its_length_is_known() {
    let length = 11 * MIB;
    let (mut p, mut store, mut seen) = (fresh(None), Store::default(), Vec::new());
    apply(&mut p, &mut store, 6 * MIB, &mut seen);
    p.length = Some(length);
    apply(&mut p, &mut store, 5 * MIB, &mut seen);
    assert_well_formed(&store, length);
}

proptest! {
    #[test]
    fn any_chunk_sizes_assemble_the_upload_in_order_in_well_formed_parts(
        length in 0u64..(40 * MIB),
        chunks in prop::collection::vec(1u64..(12 * MIB), 1..40),
    ) {
        let (mut p, mut store, mut seen) = (fresh(Some(length)), Store::default(), Vec::new());
        let mut i = 0;
        loop {
            let n = chunks[i % chunks.len()].min(length - p.offset);
            apply(&mut p, &mut store, n, &mut seen);
            i += 1;
            if p.offset == length { break; }
        }
        assert_well_formed(&store, length);
    }
}
