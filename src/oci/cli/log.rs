//! `--log FILE --log-format text|json --debug`: messages as runc (logrus)
//! writes them. Engines read this file, not stderr: containerd shows the
//! last error line of the JSON file and matches its wording.

use crate::runtime::time::rfc3339;
use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

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
