//! RLIMIT_* names and applying them.

use crate::runtime::config::Rlimit;
use crate::runtime::error::{Context, Error, Result};

/// Every resource limit Linux has, by its RLIMIT_ name.
pub const RLIMITS: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

pub fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    RLIMITS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

pub fn apply(rlimits: &[Rlimit]) -> Result<()> {
    for r in rlimits {
        let res = resource(&r.kind)
            .ok_or_else(|| Error::config(format!("rlimits: unknown rlimit '{}'", r.kind)))?;
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(format!("set {} to soft {} hard {}", r.kind, r.soft, r.hard));
        }
    }
    Ok(())
}
