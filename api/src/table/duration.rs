//! How long ago something happened, as kubectl's AGE column says it.

use chrono::{DateTime, TimeDelta, Utc};

/// kubectl's `duration.HumanDuration`: two or three significant figures —
/// `45s`, `119s`, `2m10s`, `15m`, `3h4m`, `20h`, `3d4h`, `45d`, `2y30d`,
/// `12y`. A duration up to two seconds negative reads `0s` (clock skew);
/// beyond that `<invalid>`.
pub fn human_duration(d: TimeDelta) -> String {
    // Whole units truncate toward zero, as Go's integer conversions do.
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return with_remainder(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return with_remainder(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// `3h4m`, or `3h` when the remainder is zero.
fn with_remainder(whole: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{whole}{unit}")
    } else {
        format!("{whole}{unit}{rest}{rest_unit}")
    }
}

/// The time since an RFC 3339 `timestamp` (`creationTimestamp`,
/// `lastTimestamp`, ...): `<unknown>` when it is missing or unreadable, as
/// kubectl prints a zero time.
pub fn since(timestamp: Option<&str>, now: DateTime<Utc>) -> String {
    match parse_time(timestamp) {
        Some(then) => human_duration(now - then),
        None => "<unknown>".to_string(),
    }
}

/// An RFC 3339 timestamp, if present and well-formed.
pub fn parse_time(timestamp: Option<&str>) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(timestamp?).ok()?;
    Some(parsed.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> String {
        human_duration(TimeDelta::seconds(s))
    }

    #[test]
    fn human_duration_matches_kubectl() {
        let minute = 60;
        let hour = 60 * minute;
        let day = 24 * hour;
        let year = 365 * day;
        let cases = [
            (-5, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (59, "59s"),
            (60, "60s"),
            (119, "119s"),
            (2 * minute, "2m"),
            (2 * minute + 10, "2m10s"),
            (9 * minute + 59, "9m59s"),
            (10 * minute, "10m"),
            (10 * minute + 59, "10m"),
            (179 * minute, "179m"),
            (3 * hour, "3h"),
            (3 * hour + 4 * minute, "3h4m"),
            (7 * hour + 59 * minute + 59, "7h59m"),
            (8 * hour, "8h"),
            (47 * hour + 59 * minute, "47h"),
            (2 * day, "2d"),
            (3 * day + 4 * hour, "3d4h"),
            (7 * day + 23 * hour, "7d23h"),
            (8 * day, "8d"),
            (5 * day + 59 * minute, "5d"),
            (45 * day, "45d"),
            (729 * day, "729d"),
            (2 * year, "2y"),
            (2 * year + 30 * day, "2y30d"),
            (7 * year + 364 * day, "7y364d"),
            (8 * year, "8y"),
            (12 * year + 100 * day, "12y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(secs(seconds), want, "{seconds}s");
        }
        // Fractions truncate toward zero.
        assert_eq!(human_duration(TimeDelta::milliseconds(-1999)), "0s");
        assert_eq!(human_duration(TimeDelta::milliseconds(119_999)), "119s");
    }

    #[test]
    fn since_reads_rfc3339_and_says_unknown_otherwise() {
        let now = parse_time(Some("2024-05-01T12:00:00Z")).unwrap();
        assert_eq!(since(Some("2024-05-01T11:57:50Z"), now), "2m10s");
        assert_eq!(since(Some("2024-05-01T11:59:59.500000Z"), now), "0s");
        assert_eq!(since(Some("2024-05-01T14:00:00+02:00"), now), "0s");
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(Some("yesterday"), now), "<unknown>");
    }
}
