//! The multipart rules decide, before a part's body is read, whether the stores would accept
//! it, and at completion whether the parts form a valid object. These tests pin the stores'
//! limits and R2's equal-size rule, with and without a declared total.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::error::ErrorKind;
use gateway_core::multipart::*;

const MIB: u64 = 1024 * 1024;

fn part(number: u16, size: u64) -> Part {
    Part { number, size, etag: format!("\"etag-{number}\"") }
}

fn refused(r: gateway_core::error::Result<()>) -> ErrorKind {
    r.expect_err("the part was accepted").kind
}

#[test]
fn part_numbers_from_1_to_10000_are_accepted_and_others_refused() {
    assert_eq!(parse_part_number("1").unwrap(), 1);
    assert_eq!(parse_part_number("10000").unwrap(), 10_000);
    for bad in ["0", "10001", "-1", "abc", "", "1.5", "65536"] {
        assert_eq!(parse_part_number(bad).unwrap_err().kind, ErrorKind::BadRequest, "{bad}");
    }
}

#[test]
fn equal_parts_of_at_least_5_mib_and_a_shorter_last_part_are_accepted() {
    let mut parts = vec![];
    for (n, size) in [(1, 8 * MIB), (2, 8 * MIB), (3, 3 * MIB)] {
        check_part(&parts, None, n, size).unwrap();
        parts.push(part(n, size));
    }
    assert_eq!(check_complete(&parts, None, None, None).unwrap().len(), 3);
}

#[test]
fn a_too_small_middle_part_is_refused() {
    let parts = vec![part(1, 8 * MIB), part(3, 8 * MIB)];
    assert_eq!(refused(check_part(&parts, None, 2, 4 * MIB)), ErrorKind::BadRequest);
}

#[test]
fn a_part_larger_than_the_others_is_refused() {
    let parts = vec![part(1, 6 * MIB)];
    assert_eq!(refused(check_part(&parts, None, 2, 7 * MIB)), ErrorKind::BadRequest);
}

#[test]
fn a_second_short_part_is_refused() {
    let parts = vec![part(1, 6 * MIB), part(2, 6 * MIB), part(3, MIB)];
    assert_eq!(refused(check_part(&parts, None, 4, MIB)), ErrorKind::BadRequest);
}

#[test]
fn a_full_part_after_the_short_last_part_is_refused() {
    let parts = vec![part(1, 6 * MIB), part(2, MIB)];
    assert_eq!(refused(check_part(&parts, None, 3, 6 * MIB)), ErrorKind::BadRequest);
}

#[test]
fn a_short_first_part_is_allowed_as_the_only_part() {
    check_part(&[], None, 1, 10).unwrap();
    assert_eq!(check_complete(&[part(1, 10)], None, None, None).unwrap().len(), 1);
}

#[test]
fn a_short_last_part_may_arrive_before_the_full_parts() {
    check_part(&[], None, 3, MIB).unwrap();
    let parts = vec![part(3, 6 * MIB)];
    check_part(&parts, None, 1, 8 * MIB).unwrap();
    // The full parts must still be at least 5 MiB and no smaller than the last.
    assert_eq!(refused(check_part(&[part(3, MIB)], None, 1, MIB - 1)), ErrorKind::BadRequest);
    assert_eq!(refused(check_part(&[part(3, 8 * MIB)], None, 1, 6 * MIB)), ErrorKind::BadRequest);
}

#[test]
fn after_a_short_part_1_no_further_parts_are_accepted() {
    let parts = vec![part(1, 10)];
    assert_eq!(refused(check_part(&parts, None, 2, 10)), ErrorKind::BadRequest);
    assert_eq!(refused(check_part(&parts, None, 2, 8 * MIB)), ErrorKind::BadRequest);
}

#[test]
fn resending_a_part_number_replaces_it_rather_than_counting_twice() {
    // A short part 2 sent again at full size replaces it, so more parts may follow.
    let parts = vec![part(1, 6 * MIB), part(2, MIB)];
    check_part(&parts, None, 2, 6 * MIB).unwrap();
    let parts = vec![part(1, 6 * MIB), part(2, 6 * MIB)];
    check_part(&parts, None, 2, 6 * MIB).unwrap();
    check_part(&parts, Some(12 * MIB), 2, 6 * MIB).unwrap();
}

#[test]
fn a_part_over_5_gib_is_refused_with_413() {
    assert_eq!(refused(check_part(&[], None, 1, MAX_PART_BYTES + 1)), ErrorKind::PayloadTooLarge);
}

#[test]
fn with_a_declared_size_each_part_must_have_its_computed_size() {
    let total = 20 * MIB + 5;
    check_part(&[], Some(total), 1, 8 * MIB).unwrap();
    let parts = vec![part(1, 8 * MIB)];
    check_part(&parts, Some(total), 2, 8 * MIB).unwrap();
    check_part(&parts, Some(total), 3, 4 * MIB + 5).unwrap();
    assert_eq!(refused(check_part(&parts, Some(total), 3, 4 * MIB)), ErrorKind::BadRequest);
    assert_eq!(refused(check_part(&parts, Some(total), 4, MIB)), ErrorKind::BadRequest);
}

#[test]
fn with_a_declared_size_parts_may_not_exceed_it() {
    assert_eq!(refused(check_part(&[], Some(10 * MIB), 1, 11 * MIB)), ErrorKind::PayloadTooLarge);
}

#[test]
fn with_a_declared_size_too_many_parts_are_refused() {
    let total = 100_000 * MIB;
    assert_eq!(refused(check_part(&[], Some(total), 1, 5 * MIB)), ErrorKind::BadRequest);
    check_part(&[], Some(total), 1, 16 * MIB).unwrap();
}

#[test]
fn completion_refuses_missing_parts_unequal_sizes_and_a_wrong_total() {
    let gap = vec![part(1, 6 * MIB), part(3, MIB)];
    assert!(check_complete(&gap, None, None, None).unwrap_err().detail.contains("part 2 is missing"));
    let unequal = vec![part(1, 6 * MIB), part(2, 7 * MIB), part(3, MIB)];
    check_complete(&unequal, None, None, None).unwrap_err();
    let small = vec![part(1, 4 * MIB), part(2, 4 * MIB)];
    check_complete(&small, None, None, None).unwrap_err();
    let ok = vec![part(1, 6 * MIB), part(2, MIB)];
    check_complete(&ok, Some(7 * MIB + 1), None, None).unwrap_err();
    check_complete(&ok, Some(7 * MIB), None, None).unwrap();
    check_complete(&[], None, None, None).unwrap_err();
}

#[test]
fn a_client_part_list_must_match_the_received_parts_exactly() {
    let parts = vec![part(2, MIB), part(1, 6 * MIB)];
    let good = vec![(1, "\"etag-1\"".to_owned()), (2, "etag-2".to_owned())];
    let ordered = check_complete(&parts, None, Some(&good), None).unwrap();
    assert_eq!(ordered.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2]);
    let wrong_etag = vec![(1, "\"etag-1\"".to_owned()), (2, "\"other\"".to_owned())];
    check_complete(&parts, None, Some(&wrong_etag), None).unwrap_err();
    let missing = vec![(1, "\"etag-1\"".to_owned())];
    check_complete(&parts, None, Some(&missing), None).unwrap_err();
}

#[test]
fn with_a_declared_size_the_short_last_part_may_arrive_first() {
    let m = MIN_PART_BYTES;
    // 2 full parts and 5 bytes: part 3 implies parts of `m` bytes.
    assert!(check_part(&[], Some(2 * m + 5), 3, 5).is_ok());
    let later = [part(3, 5)];
    assert!(check_part(&later, Some(2 * m + 5), 1, m).is_ok());
    assert_eq!(refused(check_part(&later, Some(2 * m + 5), 1, m + 1)), ErrorKind::BadRequest);
    // Sizes that imply parts under 5 MiB, or no whole part size, are refused.
    assert_eq!(refused(check_part(&[], Some(m + 5), 3, 5)), ErrorKind::BadRequest);
    assert_eq!(refused(check_part(&[], Some(2 * m + 6), 3, 5)), ErrorKind::BadRequest);
    // Part 1 can only be short if it is the whole object.
    assert_eq!(refused(check_part(&[], Some(m + 5), 1, 5)), ErrorKind::BadRequest);
}
