//! `Range` handling decides between 200, 206 and 416 (RFC 9110 §14): these tests pin which
//! headers parse as a single byte range, which are ignored (multi-range, garbage), and how a
//! range resolves against an object's size (suffix, open-ended, clamped end, unsatisfiable).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::range::{parse, unsatisfied_content_range, ByteRangeSpec, ResolvedRange, MAX_POSITION};

use ByteRangeSpec::*;

#[test]
fn closed_range_parses() {
    assert_eq!(parse("bytes=0-99"), Some(FromTo(0, 99)));
    assert_eq!(parse("bytes=5-5"), Some(FromTo(5, 5)));
}

#[test]
fn open_ended_range_parses() {
    assert_eq!(parse("bytes=100-"), Some(From(100)));
    assert_eq!(parse("bytes=0-"), Some(From(0)));
}

#[test]
fn suffix_range_parses() {
    assert_eq!(parse("bytes=-500"), Some(Suffix(500)));
    assert_eq!(parse("bytes=-0"), Some(Suffix(0)));
}

#[test]
fn unit_is_case_insensitive_and_whitespace_is_tolerated() {
    assert_eq!(parse("Bytes=0-1"), Some(FromTo(0, 1)));
    assert_eq!(parse(" BYTES = 2 - 3 "), Some(FromTo(2, 3)));
}

#[test]
fn multi_range_is_ignored() {
    assert_eq!(parse("bytes=0-1,5-6"), None);
    assert_eq!(parse("bytes=0-1, -5"), None);
}

#[test]
fn garbage_is_ignored() {
    for h in [
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=1-a",
        "items=0-1",
        "0-1",
        "bytes=0x10-",
        "bytes=+1-2",
        "bytes=1-2-3",
        "bytes=--1",
        "bytes=1.5-2",
    ] {
        assert_eq!(parse(h), None, "`{h}`");
    }
}

#[test]
fn backwards_range_is_ignored() {
    assert_eq!(parse("bytes=10-5"), None);
}

#[test]
fn closed_range_resolves_to_its_bounds() {
    let r = FromTo(0, 99).resolve(1000).unwrap();
    assert_eq!(r, ResolvedRange { start: 0, end: 99, size: 1000 });
    assert_eq!(r.len(), 100);
    assert!(!r.is_empty());
    assert_eq!(r.content_range(), "bytes 0-99/1000");
}

#[test]
fn single_byte_range_has_length_one() {
    let r = FromTo(7, 7).resolve(10).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r.content_range(), "bytes 7-7/10");
}

#[test]
fn end_past_the_object_is_clamped_to_the_last_byte() {
    let r = FromTo(990, 5000).resolve(1000).unwrap();
    assert_eq!((r.start, r.end, r.len()), (990, 999, 10));
    assert_eq!(r.content_range(), "bytes 990-999/1000");
}

#[test]
fn open_ended_range_runs_to_the_end() {
    let r = From(500).resolve(1000).unwrap();
    assert_eq!((r.start, r.end), (500, 999));
    let r = From(999).resolve(1000).unwrap();
    assert_eq!(r.len(), 1);
}

#[test]
fn suffix_range_takes_the_last_bytes() {
    let r = Suffix(100).resolve(1000).unwrap();
    assert_eq!((r.start, r.end), (900, 999));
    assert_eq!(r.content_range(), "bytes 900-999/1000");
}

#[test]
fn suffix_longer_than_the_object_is_the_whole_object() {
    let r = Suffix(5000).resolve(1000).unwrap();
    assert_eq!((r.start, r.end, r.len()), (0, 999, 1000));
}

#[test]
fn range_starting_at_or_after_the_end_is_unsatisfiable() {
    assert_eq!(From(1000).resolve(1000), None);
    assert_eq!(FromTo(1000, 2000).resolve(1000), None);
    assert_eq!(From(u64::MAX).resolve(1000), None);
}

#[test]
fn zero_length_suffix_is_unsatisfiable() {
    assert_eq!(Suffix(0).resolve(1000), None);
}

#[test]
fn no_range_of_a_zero_size_object_is_served_as_206() {
    for spec in [From(0), FromTo(0, 0), FromTo(0, 10), Suffix(1), Suffix(0)] {
        assert_eq!(spec.resolve(0), None, "{spec:?}");
    }
}

#[test]
fn unsatisfied_content_range_names_the_size() {
    assert_eq!(unsatisfied_content_range(1000), "bytes */1000");
    assert_eq!(unsatisfied_content_range(0), "bytes */0");
}

#[test]
fn parsed_and_resolved_ranges_stay_within_the_object() {
    // Every parseable header resolves to bounds inside the object, or to 416.
    let headers = [
        "bytes=0-0",
        "bytes=0-",
        "bytes=-1",
        "bytes=3-7",
        "bytes=9-",
        "bytes=-10",
        "bytes=-11",
        "bytes=5-100",
        "bytes=10-",
    ];
    for size in [1u64, 5, 10] {
        for h in headers {
            if let Some(r) = parse(h).unwrap().resolve(size) {
                assert!(r.start <= r.end && r.end < size, "{h} on {size}: {r:?}");
                assert_eq!(r.size, size);
            }
        }
    }
}

#[test]
fn positions_too_large_for_js_numbers_are_clamped_and_resolve_correctly() {
    assert_eq!(parse("bytes=18446744073709551616-"), Some(ByteRangeSpec::From(MAX_POSITION)));
    assert_eq!(parse("bytes=0-18446744073709551615"), Some(ByteRangeSpec::FromTo(0, MAX_POSITION)));
    let whole = parse("bytes=0-18446744073709551615").unwrap().resolve(20).unwrap();
    assert_eq!((whole.start, whole.end, whole.len()), (0, 19, 20));
    assert_eq!(parse("bytes=18446744073709551616-").unwrap().resolve(20), None);
}
