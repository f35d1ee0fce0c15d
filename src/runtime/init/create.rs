//! The init of a new container: set up namespaces, rootfs and network,
//! report "ready", then wait for "start" and exec the first process.

use super::exec_process;
use super::network;
use super::pid1;
use super::LISTEN_FD;
use super::{rlimits, rootfs};
use crate::runtime::config::{CheckedConfig, NamespaceKind};
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::hooks::{self, OciState};
use crate::runtime::launch::channel::InitEnd;
use crate::runtime::launch::messages::{FromInit, ToInit};
use crate::runtime::launch::namespaces;
use crate::runtime::trace;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// What the parent sent with Create.
pub struct Create {
    pub id: String,
    pub config: CheckedConfig,
    /// The rootfs the parent made (idmapped, or an image's), if it made one.
    pub rootfs_tree: Option<OwnedFd>,
    /// With the `init` option: where to write the exit code.
    pub exit_record: Option<OwnedFd>,
    /// /etc/hostname, hosts and resolv.conf, and where each goes.
    pub name_files: Vec<(PathBuf, PathBuf)>,
    /// The stdio (and preserved fds) of the config's `process`.
    pub stdio: Vec<OwnedFd>,
    pub cgroup_dirs: Vec<(String, PathBuf)>,
}

/// Returns only on failure.
pub fn run(chan: &InitEnd, create: Create) -> Result<()> {
    let Create {
        id,
        config,
        rootfs_tree,
        exit_record,
        name_files,
        stdio,
        cgroup_dirs,
    } = create;
    let state = |status| OciState::of(&id, &config, status, Some(std::process::id() as i32));
    prepare(&config, rootfs_tree, &name_files, &cgroup_dirs).map_err(|e| e.context("create"))?;
    trace::step("init: namespaces joined, mounts made");
    if !config.hooks.prestart.is_empty() || !config.hooks.create_runtime.is_empty() {
        chan.send(&FromInit::RunHooks, &[])?;
        chan.expect("hooks done", |m| matches!(m, ToInit::HooksDone))?;
    }
    hooks::run(
        "hooks.create_container",
        &config.hooks.create_container,
        &state("creating"),
    )
    .map_err(|e| e.context("create"))?;
    finish(&config).map_err(|e| e.context("create"))?;
    trace::step("init: rootfs entered, network, rlimits");
    // Rooted at the container's cgroup, so only after the placement.
    if config.creates(NamespaceKind::Cgroup) {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx("create: namespaces: create the cgroup namespace")?;
    }
    // The config's process gets its terminal now: an OCI runtime hands the
    // pty to its caller at create.
    let console = match &config.process {
        Some(p) if p.spec.terminal => {
            let who =
                exec_process::lookup_user(&p.spec).map_err(|e| e.context("create: process"))?;
            Some(exec_process::console(chan, &who).map_err(|e| e.context("create: process"))?)
        }
        _ => None,
    };
    // As runc: a program that is not there fails create, not start.
    if let Some(p) = &config.process {
        exec_process::find_program(&p.spec).map_err(|e| e.context("create: process"))?;
    }
    trace::step("init: ready");
    chan.send(&FromInit::Ready, &[])?;
    // A create that did not finish is never started: if the parent dies
    // before its state says "created", end here rather than wait forever.
    if chan
        .expect("recorded", |m| matches!(m, ToInit::Recorded))
        .is_err()
    {
        std::process::exit(1);
    }
    // SAFETY: the parent put the listening socket at LISTEN_FD.
    let listener = unsafe { OwnedFd::from_raw_fd(LISTEN_FD) };
    let conn = rustix::net::accept_with(&listener, rustix::net::SocketFlags::CLOEXEC)
        .ctx("wait for start")?;
    drop(listener);
    let mut conn = InitEnd::from_fd(conn);
    trace::step("init: start received");
    let result = match conn.recv()? {
        Some((ToInit::Start { process }, fds)) => {
            let (process, fds, console) = match (process, &config.process) {
                (Some(p), _) => (*p, fds, None),
                (None, Some(p)) => (p.clone(), stdio, console),
                (None, None) => {
                    return Err(Error::state("start: the config has no process to run"))
                }
            };
            hooks::run(
                "hooks.start_container",
                &config.hooks.start_container,
                &state("created"),
            )
            .and_then(|()| match config.init {
                true => pid1::fork_first(exit_record),
                false => Ok(()),
            })
            .and_then(|()| {
                exec_process::exec_user_process(&mut conn, &config, &process, fds, console)
            })
            .map_err(|e| e.context("start"))
        }
        other => Err(Error::protocol(format!(
            "init: expected start, got {:?}",
            other.map(|(m, _)| m)
        ))),
    };
    // Report the failure on the start connection, where the starter waits.
    conn.fail(
        result
            .err()
            .unwrap_or_else(|| Error::state("start returned")),
    )
}

/// Namespaces joined, hostname, and every mount, up to pivot_root.
fn prepare(
    config: &CheckedConfig,
    rootfs_tree: Option<OwnedFd>,
    name_files: &[(PathBuf, PathBuf)],
    cgroup_dirs: &[(String, PathBuf)],
) -> Result<()> {
    namespaces::join_paths(config)?;
    if let Some(name) = &config.hostname {
        nix::unistd::sethostname(name).ctx(format_args!("set hostname to '{name}'"))?;
    }
    rootfs::prepare(config, rootfs_tree, name_files, cgroup_dirs)
}

/// Into the rootfs, and what is done from inside it.
fn finish(config: &CheckedConfig) -> Result<()> {
    rootfs::enter(config)?;
    network::setup(&config.networks)?;
    if let Some(adj) = config.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(format_args!("set oom_score_adj to {adj}"))?;
    }
    rootfs::finish(config)?;
    rlimits::apply(&config.rlimits)
}
