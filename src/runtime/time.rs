//! Times as people and other tools write them.

use std::time::{SystemTime, UNIX_EPOCH};

/// `at` as RFC 3339 in UTC ("2024-05-01T12:00:00Z"), with nanoseconds when
/// `nanos` ("2024-05-01T12:00:00.000000001Z", Go's RFC3339Nano trims zeros).
pub fn rfc3339(at: SystemTime, nanos: bool) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
    if nanos && since.subsec_nanos() > 0 {
        let fraction = format!("{:09}", since.subsec_nanos());
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = UNIX_EPOCH + Duration::new(951_782_400 + 3_661, 5_000);
        assert_eq!(rfc3339(at, false), "2000-02-29T01:01:01Z");
        assert_eq!(rfc3339(at, true), "2000-02-29T01:01:01.000005Z");
        assert_eq!(rfc3339(UNIX_EPOCH, true), "1970-01-01T00:00:00Z");
    }
}
