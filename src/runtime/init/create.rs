//! The init of a new container: set up namespaces, rootfs and network,
//! report "ready", then wait for "start" and exec the first process.

use super::exec_process;
use super::network;
use super::LISTEN_FD;
use super::{rlimits, rootfs};
use crate::runtime::config::{Config, NamespaceKind};
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::launch::channel::Channel;
use crate::runtime::launch::messages::{FromInit, ToInit};
use crate::runtime::launch::namespaces;
use std::os::fd::{FromRawFd, OwnedFd};

/// Returns only on failure.
/// `rootfs_tree`: the idmapped rootfs the parent made, if it made one.
pub fn run(chan: &Channel, config: Config, rootfs_tree: Option<OwnedFd>) -> Result<()> {
    setup(&config, rootfs_tree).map_err(|e| e.context("create"))?;
    match chan.recv::<ToInit>()? {
        Some((ToInit::Placed, _)) => {}
        other => {
            return Err(Error::state(format!(
                "init: expected placed, got {other:?}"
            )))
        }
    }
    // Rooted at the container's cgroup, so only after the placement.
    if namespaces::creates(&config, NamespaceKind::Cgroup) {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx("create: namespaces: create the cgroup namespace")?;
    }
    chan.send(&FromInit::Ready, &[])?;
    // A create that did not finish is never started: if the parent dies
    // before its state says "created", end here rather than wait forever.
    match chan.recv::<ToInit>() {
        Ok(Some((ToInit::Recorded, _))) => {}
        _ => std::process::exit(1),
    }
    // Safety: the parent put the listening socket at LISTEN_FD.
    let listener = unsafe { OwnedFd::from_raw_fd(LISTEN_FD) };
    let conn = nix::sys::socket::accept4(
        std::os::fd::AsRawFd::as_raw_fd(&listener),
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .ctx("wait for start")?;
    drop(listener);
    // Safety: accept4 returned a new fd that we own.
    let conn = Channel::from_fd(unsafe { OwnedFd::from_raw_fd(conn) });
    let result = match conn.recv::<ToInit>()? {
        Some((ToInit::Start { process, seccomp }, fds)) => {
            exec_process::exec(&conn, &config, &process, seccomp, fds)
                .map_err(|e| e.context("start"))
        }
        other => Err(Error::state(format!("init: expected start, got {other:?}"))),
    };
    // Report the failure on the start connection, where the starter waits.
    super::fail(
        &conn,
        result
            .err()
            .unwrap_or_else(|| Error::state("start returned")),
    )
}

fn setup(config: &Config, rootfs_tree: Option<OwnedFd>) -> Result<()> {
    let has = |k| config.namespaces.iter().any(|n| n.kind == k);
    namespaces::join_paths(config)?;
    if let Some(name) = &config.hostname {
        nix::unistd::sethostname(name).ctx(format!("set hostname to '{name}'"))?;
    }
    rootfs::prepare(config, has(NamespaceKind::User), rootfs_tree)?;
    network::setup(&config.networks)?;
    if let Some(adj) = config.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(format!("set oom_score_adj to {adj}"))?;
    }
    rootfs::finish(config)?;
    rlimits::apply(&config.rlimits)
}
