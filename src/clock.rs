//! Wall-clock times as the harness writes them: run directory names (`yyyymmddThhmmssZ`),
//! RFC 3339 timestamps with milliseconds in results, and `--start-at` parsing (jiff).

use std::time::SystemTime;

use jiff::Timestamp;

/// A time as a jiff timestamp (times before 1970 or out of range become the epoch).
fn timestamp(t: SystemTime) -> Timestamp {
    Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A UTC time as `yyyymmddThhmmssZ` (run directory names).
pub fn utc_stamp(t: SystemTime) -> String {
    timestamp(t).strftime("%Y%m%dT%H%M%SZ").to_string()
}

pub use crate::metrics::rfc3339;

/// Parses an RFC 3339 time (`yyyy-mm-ddThh:mm:ss[.fff]Z`, or with an offset).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    s.parse::<Timestamp>().ok().map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_times_format_and_parse() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_764_097_445_123);
        assert_eq!(utc_stamp(t), "20251125T190405Z");
        assert_eq!(rfc3339(t), "2025-11-25T19:04:05.123Z");
        assert_eq!(parse_rfc3339("2025-11-25T19:04:05.123Z"), Some(t));
        assert_eq!(
            parse_rfc3339("2025-11-25T19:04:05Z"),
            Some(t - Duration::from_millis(123))
        );
        assert_eq!(parse_rfc3339("2025-13-25T19:04:05Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
