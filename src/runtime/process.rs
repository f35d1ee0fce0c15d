//! A process to run in a container: its spec, and the handle to it once it runs.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where one of the process's standard streams goes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stdio {
    /// The caller's own stream.
    #[default]
    Inherit,
    /// /dev/null.
    Null,
    /// Captured by ctrsh; read with `Process::stdout()` after `wait()`.
    Pipe,
    /// A host file (created or truncated for output, read for input).
    File(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// "name", "uid" or "uid:gid"; looked up in the rootfs's /etc/passwd.
    pub user: Option<String>,
    /// Working directory inside the container (default "/").
    pub cwd: Option<String>,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    pub terminal: bool,
}

/// A process handle: made from a spec, given to `Container::start`, then waited on.
#[derive(Debug)]
pub struct Process {
    spec: ProcessSpec,
}

impl Process {
    /// Checks the spec (non-empty args, env entries of the form KEY=value).
    pub fn new(spec: ProcessSpec) -> crate::runtime::Result<Process> {
        todo!("{spec:?}")
    }
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }
    /// Host pid once started.
    pub fn pid(&self) -> Option<i32> {
        todo!()
    }
    /// Exit code; 128+N when killed by signal N. Waiting twice returns the same code.
    pub fn wait(&mut self) -> crate::runtime::Result<i32> {
        todo!()
    }
    pub fn signal(&self, sig: i32) -> crate::runtime::Result<()> {
        todo!("{sig}")
    }
    /// Captured output (stdout: "pipe") once waited for.
    pub fn stdout(&self) -> Option<String> {
        todo!()
    }
    pub fn stderr(&self) -> Option<String> {
        todo!()
    }
}

/// "SIGTERM", "TERM", "term" or "15" -> 15.
pub fn parse_signal(name: &str) -> crate::runtime::Result<i32> {
    todo!("{name}")
}
