//! A second process in a running container: the parent already placed us in
//! the container's pid namespace and cgroups; join the other namespaces.

use super::exec_process;
use crate::runtime::channel::Channel;
use crate::runtime::config::{Config, NamespaceKind};
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::messages::STDIO_FDS;
use crate::runtime::process::ProcessSpec;
use crate::runtime::rlimits;
use nix::sched::{setns, CloneFlags};
use std::os::fd::OwnedFd;

/// Returns only on failure.
pub fn run(
    chan: &Channel,
    config: Config,
    process: ProcessSpec,
    namespaces: Vec<NamespaceKind>,
    mut fds: Vec<OwnedFd>,
) -> Result<()> {
    if fds.len() != STDIO_FDS + namespaces.len() {
        return Err(Error::state("exec: wrong number of fds from the parent"));
    }
    let ns_fds = fds.split_off(STDIO_FDS);
    // namespaces arrive in join order (user first, mount last).
    for (kind, fd) in namespaces.iter().zip(&ns_fds) {
        setns(fd, CloneFlags::from_bits_truncate(kind.clone_flag())).ctx(format!(
            "exec: join the container's {} namespace",
            kind.name()
        ))?;
    }
    drop(ns_fds);
    nix::unistd::chdir("/").ctx("exec: chdir /")?;
    rlimits::apply(&config.rlimits)?;
    exec_process::exec(chan, &config, &process, fds).map_err(|e| e.context("exec"))
}
