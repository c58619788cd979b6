//! The gateway's date code against chrono's: RFC 3339 written and read back, and HTTP dates,
//! for any instant in the years RFC 3339 can write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use gateway_core::time::{http_date, parse_http_date, parse_rfc3339, rfc3339};
use proptest::prelude::*;

const YEAR_0: i64 = -62_167_219_200_000;
const YEAR_10000: i64 = 253_402_300_800_000;

fn chrono_at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap()
}

proptest! {
    #[test]
    fn rfc3339_writes_what_chrono_writes_and_reads_it_back(ms in YEAR_0..YEAR_10000) {
        let text = rfc3339(ms);
        prop_assert_eq!(&text, &chrono_at(ms).to_rfc3339_opts(SecondsFormat::Millis, true));
        prop_assert_eq!(parse_rfc3339(&text), Some(ms));
    }

    #[test]
    fn http_dates_are_chronos_from_1970_on(s in 0i64..253_402_300_799) {
        let ms = s * 1000;
        prop_assert_eq!(http_date(ms), chrono_at(ms).format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        prop_assert_eq!(parse_http_date(&http_date(ms)), Some(ms));
    }

    #[test]
    fn reading_rfc3339_never_panics(text in "\\PC{0,30}") {
        // Whatever it accepts is the gateway's own form of that instant, with or without `.000`.
        if let Some(ms) = parse_rfc3339(&text) {
            let written = rfc3339(ms);
            prop_assert!(text == written || text == written.replace(".000Z", "Z"), "{} read as {}", text, written);
        }
    }
}

#[test]
fn rfc3339_reads_only_the_form_the_gateway_writes() {
    assert_eq!(parse_rfc3339("2026-12-06T09:05:00Z"), Some(1_796_547_900_000));
    assert_eq!(parse_rfc3339("2026-12-06T09:05:00.250Z"), Some(1_796_547_900_250));
    assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z").map(rfc3339), Some("2024-02-29T00:00:00.000Z".into()));
    for bad in [
        "",
        "2026-12-06",
        "2026-12-06T09:05:00",
        "2026-12-06T09:05:00+01:00",
        "2026-12-06 09:05:00Z",
        "2026-13-06T09:05:00Z",
        "2025-02-29T00:00:00Z",
        "2026-12-06T24:00:00Z",
        "2026-12-06T09:05:00.5Z",
        "+026-12-06T09:05:00Z",
        "２026-12-06T09:05:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn instants_outside_rfc3339s_years_are_written_at_its_ends() {
    assert_eq!(rfc3339(i64::MIN), "0000-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
    assert_eq!(http_date(-1), "Thu, 01 Jan 1970 00:00:00 GMT");
}
