//! Timestamp formatting for headers and JSON. Times arrive as milliseconds since the Unix
//! epoch from the caller's clock.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// RFC 3339 with milliseconds, UTC (`2026-11-22T19:12:06.123Z`).
pub fn rfc3339(ms: i64) -> String {
    time_from_millis(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The HTTP date format (`Sun, 22 Nov 2026 19:12:06 GMT`).
pub fn http_date(ms: i64) -> String {
    time_from_millis(ms).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses an HTTP date (`Last-Modified`) to milliseconds since the Unix epoch.
pub fn parse_http_date(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(value.trim()).ok().map(|t| t.timestamp_millis())
}

/// Milliseconds since the Unix epoch, as the JS clock gives them, to a UTC time.
pub fn time_from_millis(now_ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(now_ms).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}
