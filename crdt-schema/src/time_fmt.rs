//! Small time helpers shared by the modules: milliseconds since the epoch to RFC 3339 and dates.

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Formats milliseconds since the Unix epoch as RFC 3339 in UTC (`2026-11-22T06:00:00.123Z`).
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339_ms(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
