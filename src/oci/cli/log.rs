//! `--log FILE --log-format text|json --debug`: messages as runc (logrus)
//! writes them. Engines read this file, not stderr: containerd shows the
//! last error line of the JSON file and matches its wording.

use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Log {
    file: Option<Mutex<File>>,
    format: Format,
    debug: bool,
}

static LOG: OnceLock<Log> = OnceLock::new();

/// Where messages go from now on: `file` (appended to), else stderr.
pub fn init(file: Option<File>, format: Format, debug: bool) {
    let _ = LOG.set(Log {
        file: file.map(Mutex::new),
        format,
        debug,
    });
    crate::runtime::error::set_warning_handler(warn);
}

pub fn error(message: &str) {
    write("error", message);
}

pub fn warn(message: &str) {
    write("warning", message);
}

pub fn debug(message: &str) {
    if LOG.get().is_some_and(|l| l.debug) {
        write("debug", message);
    }
}

fn write(level: &str, message: &str) {
    let Some(log) = LOG.get() else {
        eprintln!("{level}: {message}");
        return;
    };
    let line = format_line(log.format, level, message, SystemTime::now());
    match &log.file {
        Some(file) => {
            let _ = file.lock().unwrap().write_all(line.as_bytes());
        }
        None => eprint!("{line}"),
    }
}

fn format_line(format: Format, level: &str, message: &str, at: SystemTime) -> String {
    let time = rfc3339(at, false);
    match format {
        Format::Json => {
            let entry = serde_json::json!({ "level": level, "msg": message, "time": time });
            format!("{entry}\n")
        }
        Format::Text => format!(
            "time={} level={level} msg={}\n",
            quote(&time),
            quote(message)
        ),
    }
}

/// logrus quotes a value unless it is a plain word.
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        text.to_string()
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

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

    #[test]
    fn lines_are_logrus_lines() {
        let json = format_line(
            Format::Json,
            "error",
            "container \"a\" does not exist",
            UNIX_EPOCH,
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"a\" does not exist");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
        let text = format_line(Format::Text, "warning", "hook failed", UNIX_EPOCH);
        assert_eq!(
            text,
            "time=\"1970-01-01T00:00:00Z\" level=warning msg=\"hook failed\"\n"
        );
    }
}
