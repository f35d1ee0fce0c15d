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
