//! The messages parent and init exchange over their channel.

use crate::runtime::config::{Config, NamespaceKind};
use crate::runtime::error::Error;
use crate::runtime::host::process::ProcessSpec;
use crate::runtime::seccomp::Program;
use serde::{Deserialize, Serialize};

/// The number of fds that carry a process's stdin, stdout and stderr.
pub const STDIO_FDS: usize = 3;

#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// Set up the container and wait for Start. Fds: the idmapped rootfs
    /// tree to attach, when create made one (idmap.rs), else none.
    Create { id: String, config: Config },
    /// After Create: the parent has put the init in the container's
    /// cgroups (done while the init builds the rootfs).
    Placed,
    /// After Ready: the container's state says "created"; the init may wait
    /// for Start (until then it exits when the parent's end closes).
    Recorded,
    /// Exec the container's first process, under `seccomp` (compiled by
    /// the parent). Fds: stdin, stdout, stderr.
    Start {
        process: ProcessSpec,
        seccomp: Option<Program>,
    },
    /// Join a running container and exec `process`. Fds: stdin, stdout,
    /// stderr, then one fd per entry of `namespaces`, in that order (the
    /// pid namespace, if any, last).
    Exec {
        config: Config,
        process: ProcessSpec,
        namespaces: Vec<NamespaceKind>,
        seccomp: Option<Program>,
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
    /// Exec into a pid namespace: the host pid of the forked process that
    /// will exec (the init itself exits).
    Pid(i32),
}
