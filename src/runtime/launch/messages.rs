//! The messages parent and init exchange over their channel.

use crate::runtime::config::CheckedProcess;
use crate::runtime::config::{CheckedConfig, NamespaceKind};
use crate::runtime::error::Error;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The number of fds that carry a process's stdin, stdout and stderr.
pub const STDIO_FDS: usize = 3;

#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// Set up the container and wait for Start. Fds: one per entry of
    /// `cgroup_files`; the rootfs tree to attach, when `rootfs_tree`
    /// (idmapped, see idmap.rs, or an image's, see image/rootfs.rs); the
    /// exit-code file, when `exit_record`; then, when the config has a
    /// `process`, its stdin, stdout, stderr and preserved fds.
    Create {
        id: String,
        config: Box<CheckedConfig>,
        rootfs_tree: bool,
        /// With the `init` option: the state's exit-code file (see
        /// host/exit_code.rs), opened for the init to write.
        exit_record: bool,
        /// The name files (/etc/hostname, hosts, resolv.conf) in the state
        /// dir, and where each goes.
        name_files: Vec<(PathBuf, PathBuf)>,
        /// The container's cgroup directory in each hierarchy, by the
        /// hierarchy's name under /sys/fs/cgroup, for a "cgroup" mount.
        cgroup_dirs: Vec<(String, PathBuf)>,
        /// The files the init moves itself into its cgroups with, first
        /// thing (CgroupManager::join_files).
        cgroup_files: Vec<PathBuf>,
    },
    /// After Ready: the container's state says "created"; the init may wait
    /// for Start (until then it exits when the parent's end closes).
    Recorded,
    /// After RunHooks: the hooks ran, the init goes on.
    HooksDone,
    /// Exec the container's first process. Fds: stdin, stdout, stderr and
    /// preserved fds. Without a process: the config's, with the stdio sent
    /// at Create.
    Start {
        process: Option<Box<CheckedProcess>>,
    },
    /// Join a running container and exec `process` there. Fds: one per
    /// entry of `cgroup_files`, stdin, stdout, stderr, then one fd per
    /// entry of `namespaces`, in that order (the pid namespace, if any,
    /// last).
    Join {
        config: Box<CheckedConfig>,
        process: Box<CheckedProcess>,
        namespaces: Vec<NamespaceKind>,
        /// As Create's: the init joins the cgroups before anything else.
        cgroup_files: Vec<PathBuf>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// The container is created; the init waits for Start.
    Ready,
    /// A step failed; the init exits.
    Failed(Error),
    /// The master side of the process's pty (fd attached); the init goes on
    /// to exec.
    Console,
    /// Join into a pid namespace: the host pid of the forked process that
    /// will exec (the init itself exits).
    Pid(i32),
    /// The mounts are made, pivot_root is next: run the prestart and
    /// create_runtime hooks, then send HooksDone.
    RunHooks,
}
