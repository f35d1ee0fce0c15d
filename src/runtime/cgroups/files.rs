//! Reading and writing cgroup control files with errors that name the file.

use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::sys;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Seek};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Instant;

pub(super) fn read_string(path: &Path) -> Result<String> {
    let text = fs::read_to_string(path).ctx(format_args!("read {}", path.display()))?;
    Ok(text.trim().to_string())
}

pub(super) fn read_u64(path: &Path) -> Result<u64> {
    parse_u64(path, &read_string(path)?)
}

/// A limit file: "max" (v2) or v1's "unlimited" number (`i64::MAX` rounded
/// down to a page) mean no limit.
pub(super) fn read_limit(path: &Path) -> Result<Option<u64>> {
    let text = read_string(path)?;
    if text == "max" {
        return Ok(None);
    }
    let value = parse_u64(path, &text)?;
    Ok((value < V1_UNLIMITED).then_some(value))
}

/// v1 reports "no limit" as `PAGE_COUNTER_MAX * PAGE_SIZE`, a number just under
/// `i64::MAX`; anything this large is not a real limit.
const V1_UNLIMITED: u64 = 1 << 62;

pub(super) fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).ctx(format_args!("write {value:?} to {}", path.display()))
}

/// Write `pid` into `dir/cgroup.procs`.
#[cfg(test)]
pub(super) fn add_process(dir: &Path, pid: i32) -> Result<()> {
    let path = dir.join("cgroup.procs");
    fs::write(&path, pid.to_string()).map_err(|e| join_error(&path, &pid.to_string(), e))
}

/// The error of writing `what` into `file`, a cgroup's cgroup.procs or
/// tasks. ENOSPC there means a cpuset with no cpus or no memory nodes,
/// which the kernel's message does not say.
pub(super) fn join_error(file: &Path, what: &str, e: io::Error) -> Error {
    let doing = format!("write {what} to {}", file.display());
    if e.raw_os_error() != Some(libc::ENOSPC) {
        return Error::sys(doing, e);
    }
    let dir = file.parent().unwrap_or(file);
    let value = |name: &str| read_string(&dir.join(name)).unwrap_or_default();
    Error::sys(
        format!(
            "{doing}: its cpuset is empty (cpuset.cpus {:?}, cpuset.mems {:?}), so no process can join it",
            value("cpuset.cpus"),
            value("cpuset.mems")
        ),
        e,
    )
}

/// "key value" lines (memory.stat, memory.events, cpu.stat ...).
pub(super) fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>> {
    parse_flat_keyed(path, &read_string(path)?)
}

fn parse_flat_keyed(path: &Path, text: &str) -> Result<BTreeMap<String, u64>> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        if let Some((key, value)) = line.split_once(' ') {
            map.insert(key.to_string(), parse_u64(path, value)?);
        }
    }
    Ok(map)
}

/// Sleeps until `done` holds for the cgroup2 directory `dir`'s
/// cgroup.events ("populated", "frozen"), or `deadline` passed (false).
/// The kernel flags the open file (POLLPRI) whenever a value in it changes,
/// so nothing is read in between; a missing file (the cgroup is gone) is
/// an empty map.
pub(super) fn await_events(
    dir: &Path,
    deadline: Instant,
    done: impl Fn(&BTreeMap<String, u64>) -> bool,
) -> Result<bool> {
    let path = dir.join("cgroup.events");
    let mut file = match fs::File::open(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(done(&BTreeMap::new())),
        other => other.ctx(format_args!("open {}", path.display()))?,
    };
    loop {
        // A read re-arms the flag.
        let mut text = String::new();
        file.seek(io::SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text))
            .ctx(format_args!("read {}", path.display()))?;
        if done(&parse_flat_keyed(&path, &text)?) {
            return Ok(true);
        }
        let changed = sys::poll(&[(file.as_fd(), libc::POLLPRI)], Some(deadline))
            .ctx(format_args!("wait for {} to change", path.display()))?;
        if changed[0] == 0 {
            return Ok(false);
        }
    }
}

/// A key of a flat-keyed file that the kernel must provide.
pub(super) fn key(map: &BTreeMap<String, u64>, key: &str, path: &Path) -> Result<u64> {
    map.get(key).copied().ok_or_else(|| {
        Error::new(
            ErrorKind::System,
            format!("{} has no {key:?} line", path.display()),
        )
    })
}

/// Whether the cgroup2 directory `dir` or any cgroup below it has a
/// process (`populated` of cgroup.events); a directory that is gone has none.
pub(super) fn populated(dir: &Path) -> Result<bool> {
    let path = dir.join("cgroup.events");
    let text = match fs::read_to_string(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        other => other.ctx(format_args!("read {}", path.display()))?,
    };
    text.lines()
        .find_map(|l| l.strip_prefix("populated "))
        .map(|v| v.trim() != "0")
        .ok_or_else(|| {
            Error::new(
                ErrorKind::System,
                format!("{}: no populated line", path.display()),
            )
        })
}

/// The pids listed in `dir/cgroup.procs`; a directory that is gone has none.
pub(super) fn read_procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = match fs::read_to_string(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.ctx(format_args!("read {}", path.display()))?,
    };
    text.lines()
        .map(|line| {
            line.trim().parse().map_err(|_| {
                Error::new(
                    ErrorKind::System,
                    format!("{}: {line:?} is not a pid", path.display()),
                )
            })
        })
        .collect()
}

pub(super) fn parse_u64(path: &Path, text: &str) -> Result<u64> {
    text.trim().parse().map_err(|_| {
        Error::new(
            ErrorKind::System,
            format!("{}: {text:?} is not a number", path.display()),
        )
    })
}

/// A cgroups-rs error as ours: its io cause carries the errno, `what` says
/// which file and value (the crate's own message often lacks the path).
pub(super) fn from_cgroups_rs(
    what: impl std::fmt::Display,
    err: cgroups_rs::fs::error::Error,
) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(code) = cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Error::sys(what, io::Error::from_raw_os_error(code));
        }
        source = cause.source();
    }
    Error::new(ErrorKind::System, format!("{what}: {err}"))
}
