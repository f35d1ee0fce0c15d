//! Running the CRIU command line, and its log when it fails.

use super::locate::{logged_version, Criu, Version, INSTALL_HINT, MIN_VERSION};
use crate::runtime::error::{describe_io, Error, ErrorKind, Result};
use crate::runtime::host::reaper;
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// How many of CRIU's log lines a failure quotes.
const LOG_LINES: usize = 12;

/// Beyond MIN_VERSION, what an action needs of CRIU: a version and what for.
pub type Needs<'a> = Option<(Version, &'a str)>;

/// Runs `criu <args>` (with `prepare` applied to the command) and returns
/// the version CRIU logged. A failure quotes the end of CRIU's `log` and
/// names where it is kept (moved to `keep` first, if given, when its dir
/// goes with the failure), or says which CRIU to install when the one
/// that failed is too old.
pub fn run(
    criu: &Criu,
    action: &str,
    args: Vec<OsString>,
    (log, keep): (&Path, Option<&Path>),
    needs: Needs,
    prepare: impl FnOnce(&mut Command) -> Result<()>,
) -> Result<Option<Version>> {
    let mut cmd = Command::new(&criu.path);
    cmd.arg(action)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    prepare(&mut cmd)?;
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "CRIU at {} does not run ({}): {INSTALL_HINT}",
                criu.path.display(),
                describe_io(&e)
            ),
        )
    })?;
    // Read while CRIU runs, so that it never blocks on a full pipe.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            text
        })
    });
    let status = reaper::wait_reaping(&mut child)?;
    let stderr = stderr
        .and_then(|reading| reading.join().ok())
        .unwrap_or_default();
    let version = logged_version(log);
    if status.success() {
        return Ok(version);
    }
    if let Some(version) = version {
        criu.check(version, MIN_VERSION, "this kernel")?;
        if let Some((min, what)) = needs {
            criu.check(version, min, what)?;
        }
    }
    let log = match keep {
        Some(keep) if std::fs::rename(log, keep).is_ok() => keep,
        _ => log,
    };
    let stderr = String::from_utf8_lossy(&stderr);
    Err(Error::new(
        ErrorKind::System,
        format!(
            "criu {action} failed ({}); {}",
            status,
            log_tail(log, &stderr)
        ),
    ))
}

/// The error lines at the end of CRIU's log (or its last lines, or its
/// stderr when there is no log).
fn log_tail(log: &Path, stderr: &str) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return format!("CRIU said: {}", stderr.trim());
    };
    let lines: Vec<&str> = text.lines().collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("Error") && !is_noise(l))
        .collect();
    let chosen = if errors.is_empty() { &lines } else { &errors };
    let tail = &chosen[chosen.len().saturating_sub(LOG_LINES)..];
    format!(
        "CRIU's log is kept at {}; it ends:\n{}",
        log.display(),
        tail.join("\n")
    )
}

/// Errors CRIU logs on every run here and that never cause a failure: it
/// cannot raise its own RLIMIT_NOFILE, probes for tun and iptables (the
/// nftables network lock needs no tool), and `ip` finds loopback's
/// addresses already there.
fn is_noise(line: &str) -> bool {
    ["RLIMIT_NOFILE", "tables-", "tun:", "already assigned"]
        .iter()
        .any(|n| line.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_quotes_the_real_errors() {
        let dir = std::env::temp_dir().join(format!("ctrsh-criu-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("dump.log");
        std::fs::write(
            &log,
            "(00.1) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self\n\
             (00.2) info\n\
             (00.3) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=0\n",
        )
        .unwrap();
        let tail = log_tail(&log, "");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(tail.contains("Can't lookup mount=24"), "{tail}");
        assert!(!tail.contains("RLIMIT_NOFILE"), "{tail}");
    }
}
