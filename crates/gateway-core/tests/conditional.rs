//! Conditional reads let clients revalidate caches (304) and avoid acting on a changed object
//! (412). These tests pin how `If-Match` / `If-None-Match` values parse (`*`, lists, weak
//! tags) and the RFC 9110 §13.2.2 evaluation order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::conditional::{EntityTag, EtagCondition, Precondition, ReadConditions};

fn cond(if_match: Option<&str>, if_none_match: Option<&str>) -> ReadConditions {
    ReadConditions {
        if_match: if_match.and_then(EtagCondition::parse),
        if_none_match: if_none_match.and_then(EtagCondition::parse),
    }
}

const ETAG: &str = "\"abc123\"";

#[test]
fn star_parses_as_any() {
    assert_eq!(EtagCondition::parse("*"), Some(EtagCondition::Any));
    assert_eq!(EtagCondition::parse("  *  "), Some(EtagCondition::Any));
}

#[test]
fn empty_values_parse_as_no_condition() {
    assert_eq!(EtagCondition::parse(""), None);
    assert_eq!(EtagCondition::parse("   "), None);
    assert_eq!(EtagCondition::parse(" , ,"), None);
}

#[test]
fn tag_lists_parse_without_quotes_or_weak_markers() {
    assert_eq!(
        EtagCondition::parse("\"abc\""),
        Some(EtagCondition::Tags(vec![EntityTag { weak: false, opaque: "abc".into() }]))
    );
    assert_eq!(
        EtagCondition::parse("W/\"abc\", \"def\" ,\"ghi\""),
        Some(EtagCondition::Tags(vec![
            EntityTag { weak: true, opaque: "abc".into() },
            EntityTag { weak: false, opaque: "def".into() },
            EntityTag { weak: false, opaque: "ghi".into() },
        ]))
    );
}

#[test]
fn no_conditions_proceed() {
    let c = ReadConditions::default();
    assert!(c.is_empty());
    assert_eq!(c.evaluate(Some(ETAG)), Precondition::Proceed);
    assert_eq!(c.evaluate(None), Precondition::Proceed);
}

#[test]
fn if_match_with_the_current_tag_proceeds() {
    let c = cond(Some("\"abc123\""), None);
    assert!(!c.is_empty());
    assert_eq!(c.evaluate(Some(ETAG)), Precondition::Proceed);
}

#[test]
fn if_match_with_another_tag_fails() {
    assert_eq!(cond(Some("\"zzz\""), None).evaluate(Some(ETAG)), Precondition::Failed);
}

#[test]
fn if_match_list_proceeds_when_any_tag_matches() {
    assert_eq!(cond(Some("\"x\", \"abc123\", \"y\""), None).evaluate(Some(ETAG)), Precondition::Proceed);
    assert_eq!(cond(Some("\"x\", \"y\""), None).evaluate(Some(ETAG)), Precondition::Failed);
}

#[test]
fn if_match_star_needs_an_object() {
    assert_eq!(cond(Some("*"), None).evaluate(Some(ETAG)), Precondition::Proceed);
    assert_eq!(cond(Some("*"), None).evaluate(None), Precondition::Failed);
    assert_eq!(cond(Some("\"abc123\""), None).evaluate(None), Precondition::Failed);
}

#[test]
fn if_none_match_with_the_current_tag_is_not_modified() {
    assert_eq!(cond(None, Some("\"abc123\"")).evaluate(Some(ETAG)), Precondition::NotModified);
}

#[test]
fn if_none_match_with_other_tags_proceeds() {
    assert_eq!(cond(None, Some("\"old\", \"older\"")).evaluate(Some(ETAG)), Precondition::Proceed);
}

#[test]
fn if_none_match_list_containing_the_current_tag_is_not_modified() {
    assert_eq!(cond(None, Some("\"old\", \"abc123\"")).evaluate(Some(ETAG)), Precondition::NotModified);
}

#[test]
fn if_none_match_star_is_not_modified_for_any_existing_object() {
    assert_eq!(cond(None, Some("*")).evaluate(Some(ETAG)), Precondition::NotModified);
    assert_eq!(cond(None, Some("*")).evaluate(None), Precondition::Proceed);
}

#[test]
fn if_none_match_uses_weak_comparison() {
    // RFC 9110 §13.1.2: If-None-Match compares weakly, so W/"x" matches "x" and vice versa.
    assert_eq!(cond(None, Some("W/\"abc123\"")).evaluate(Some(ETAG)), Precondition::NotModified);
    assert_eq!(cond(None, Some("\"abc123\"")).evaluate(Some("W/\"abc123\"")), Precondition::NotModified);
}

#[test]
fn current_etag_may_be_given_quoted_or_bare() {
    let c = cond(Some("\"abc123\""), None);
    assert_eq!(c.evaluate(Some("abc123")), Precondition::Proceed);
    assert_eq!(c.evaluate(Some("\"abc123\"")), Precondition::Proceed);
}

#[test]
fn if_match_is_evaluated_before_if_none_match() {
    // A failing If-Match wins over a matching If-None-Match.
    assert_eq!(cond(Some("\"zzz\""), Some("\"abc123\"")).evaluate(Some(ETAG)), Precondition::Failed);
    // With If-Match satisfied, If-None-Match decides.
    assert_eq!(cond(Some("\"abc123\""), Some("\"abc123\"")).evaluate(Some(ETAG)), Precondition::NotModified);
    assert_eq!(cond(Some("*"), Some("\"other\"")).evaluate(Some(ETAG)), Precondition::Proceed);
}

#[test]
fn tags_are_compared_exactly() {
    assert_eq!(cond(Some("\"ABC123\""), None).evaluate(Some(ETAG)), Precondition::Failed);
    assert_eq!(cond(Some("\"abc12\""), None).evaluate(Some(ETAG)), Precondition::Failed);
    assert_eq!(cond(None, Some("\"abc1234\"")).evaluate(Some(ETAG)), Precondition::Proceed);
}

#[test]
fn if_match_uses_strong_comparison_so_a_weak_tag_never_matches() {
    assert_eq!(cond(Some("W/\"abc123\""), None).evaluate(Some(ETAG)), Precondition::Failed);
    assert_eq!(cond(Some("\"abc123\""), None).evaluate(Some("W/\"abc123\"")), Precondition::Failed);
    assert_eq!(cond(Some("\"abc123\""), None).evaluate(Some(ETAG)), Precondition::Proceed);
}

#[test]
fn conditions_render_back_to_header_form_with_weak_markers() {
    let c = EtagCondition::parse("W/\"a\", \"b\"").unwrap();
    assert_eq!(c.to_header(), "W/\"a\", \"b\"");
    assert_eq!(EtagCondition::Any.to_header(), "*");
}

#[test]
fn a_comma_inside_a_quoted_entity_tag_does_not_split_the_list() {
    use gateway_core::conditional::{EntityTag, EtagCondition};
    let strong = |o: &str| EntityTag { weak: false, opaque: o.into() };
    assert_eq!(EtagCondition::parse("\"a,b\", \"c\""), Some(EtagCondition::Tags(vec![strong("a,b"), strong("c")])));
    assert_eq!(
        EtagCondition::parse("\"x\",W/\"y\""),
        Some(EtagCondition::Tags(vec![strong("x"), EntityTag { weak: true, opaque: "y".into() }]))
    );
}

#[test]
fn a_malformed_entity_tag_with_a_quote_inside_is_ignored() {
    use gateway_core::conditional::{EntityTag, EtagCondition};
    assert_eq!(EntityTag::parse("\"a\"b\""), None);
    assert_eq!(EtagCondition::parse("a\","), None);
    assert!(EtagCondition::parse("\"ok\", a\"b").is_some_and(|c| c.to_header() == "\"ok\""));
}
