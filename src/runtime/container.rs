//! Container: the state machine and its operations.

use super::{Config, Process, Result};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `Container::exec` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug)]
pub struct Container {
    id: String,
    config: Config,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Read fresh from the kernel and state.json each time.
    pub fn status(&self) -> Result<Status> {
        todo!()
    }
    /// Host pid of the container's init; None once stopped.
    pub fn pid(&self) -> Option<i32> {
        todo!()
    }
    /// Runs `p` as the container's first process (created -> running), or
    /// joins a running container's namespaces and cgroups.
    pub fn start(&self, p: &mut Process) -> Result<()> {
        todo!("{p:?}")
    }
    /// start + wait.
    pub fn run(&self, p: &mut Process) -> Result<i32> {
        self.start(p)?;
        p.wait()
    }
    /// Runs `args` in the running container with stdout and stderr captured.
    pub fn exec(&self, args: Vec<String>) -> Result<ExecOutput> {
        todo!("{args:?}")
    }
    pub fn signal(&self, sig: i32) -> Result<()> {
        todo!("{sig}")
    }
    /// Host pids of every process in the container.
    pub fn processes(&self) -> Result<Vec<i32>> {
        todo!()
    }
    /// Kills every process, removes cgroups, mounts and the state dir.
    pub fn destroy(&self) -> Result<()> {
        todo!()
    }
}
