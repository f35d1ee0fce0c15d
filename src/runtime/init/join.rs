//! A second process in a running container. The parent placed us in the
//! container's cgroups; we join its namespaces, the mount namespace before
//! the pid namespace: until then no process of the container can see us
//! (through /proc/<pid>/root, a process with the host's root would expose
//! host files, the CVE-2016-9962 class). Entering a pid namespace only
//! affects children, so we fork the process that execs and leave; the
//! parent (a child subreaper) inherits it. A container without a mount
//! namespace has its init's root (sent after the namespaces) entered by
//! chroot instead, also before that fork.

use super::exec_process;
use crate::runtime::config::CheckedProcess;
use crate::runtime::config::{CheckedConfig, NamespaceKind};
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::init::rlimits;
use crate::runtime::launch::channel::InitEnd;
use crate::runtime::launch::messages::{FromInit, STDIO_FDS};
use crate::runtime::trace;
use nix::sched::{setns, CloneFlags};
use nix::unistd::ForkResult;
use std::os::fd::OwnedFd;

/// Returns only on failure.
pub fn run(
    chan: &mut InitEnd,
    config: CheckedConfig,
    process: CheckedProcess,
    namespaces: Vec<NamespaceKind>,
    mut fds: Vec<OwnedFd>,
) -> Result<()> {
    let stdio_fds = STDIO_FDS + process.spec.preserve_fds as usize;
    let chroot = !config.has(NamespaceKind::Mount);
    if fds.len() != stdio_fds + namespaces.len() + usize::from(chroot) {
        return Err(Error::protocol("exec: wrong number of fds from the parent"));
    }
    let root = chroot.then(|| fds.pop()).flatten();
    let ns_fds = fds.split_off(stdio_fds);
    // namespaces arrive in join order: user first, mount, then pid last.
    for (kind, fd) in namespaces.iter().zip(&ns_fds) {
        setns(fd, CloneFlags::from_bits_truncate(kind.clone_flag())).ctx(format_args!(
            "exec: join the container's {} namespace",
            kind.name()
        ))?;
    }
    drop(ns_fds);
    if let Some(root) = root {
        nix::unistd::fchdir(&root).ctx("exec: enter the container's root")?;
        nix::unistd::chroot(".").ctx("exec: chroot into the container's root")?;
    }
    trace::step("init: namespaces joined");
    nix::unistd::chdir("/").ctx("exec: chdir /")?;
    rlimits::apply(&config.rlimits)?;
    if namespaces.contains(&NamespaceKind::Pid) {
        // SAFETY: the init is single-threaded; the child goes on normally.
        match unsafe { nix::unistd::fork() }.ctx("exec: fork into the pid namespace")? {
            ForkResult::Parent { child } => {
                chan.send(&FromInit::Pid(child.as_raw()), &[])?;
                std::process::exit(0);
            }
            ForkResult::Child => {}
        }
    }
    exec_process::exec_user_process(chan, &config, &process, fds, None)
        .map_err(|e| e.context("exec"))
}
