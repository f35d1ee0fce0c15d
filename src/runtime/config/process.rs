//! A process to run in a container, as given (`ProcessSpec`) and as
//! checked (`CheckedProcess`): what the parent sends and the init runs.

use crate::runtime::config::{check_capabilities, CapSets, Capabilities};
use crate::runtime::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The PATH a process gets when its env names none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// At most this many `preserve_fds`: they travel with the stdio in one
/// SCM_RIGHTS message, which carries at most 253 fds.
const MAX_PRESERVE_FDS: u32 = 200;

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
    /// Supplementary groups, in addition to those /etc/group gives the user.
    pub additional_gids: Vec<u32>,
    /// The process's umask (default: inherited, 0022 from the init).
    pub umask: Option<u32>,
    /// Pass the caller's fds 3 .. 3+N on to the process as its fds 3 ...
    pub preserve_fds: u32,
    /// This process's capabilities instead of the container's.
    pub capabilities: Option<Capabilities>,
    /// This process's no_new_privileges instead of the container's.
    pub no_new_privileges: Option<bool>,
}

/// A spec `check_spec` accepted, with its capabilities parsed: what the
/// init is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedProcess {
    pub spec: ProcessSpec,
    /// This process's capability sets instead of the container's.
    pub capabilities: Option<CapSets>,
}

/// A program name if args are given (see `check_args`), env entries of the
/// form KEY=value, a stdin that can be given, a umask of permission bits,
/// preserve_fds in range, known capabilities.
pub fn check_spec(spec: ProcessSpec) -> Result<CheckedProcess> {
    if spec.args.first().is_some_and(String::is_empty) {
        return Err(check_args(&spec).unwrap_err());
    }
    if let Some(bad) = spec
        .env
        .iter()
        .find(|e| !e.contains('=') || e.starts_with('='))
    {
        return Err(Error::config(format!(
            "env: '{bad}' is not of the form KEY=value"
        )));
    }
    if spec.stdin == Stdio::Pipe {
        return Err(Error::config(
            "stdin: \"pipe\" is not supported; use \"null\", \"inherit\" or a file path",
        ));
    }
    if spec.preserve_fds > MAX_PRESERVE_FDS {
        return Err(Error::config(format!(
            "preserve_fds: {} is more than {MAX_PRESERVE_FDS}",
            spec.preserve_fds
        )));
    }
    if spec.umask.is_some_and(|m| m > 0o777) {
        return Err(Error::config("umask: only permission bits (0..=0o777)"));
    }
    let capabilities = spec
        .capabilities
        .as_ref()
        .map(|caps| check_capabilities("capabilities", Some(caps)))
        .transpose()?;
    Ok(CheckedProcess { spec, capabilities })
}

/// A spec may leave `args` out when the container's image gives them; the
/// spec a process starts with has them.
pub fn check_args(spec: &ProcessSpec) -> Result<()> {
    if spec.args.first().is_none_or(String::is_empty) {
        return Err(Error::config(
            "args: a process needs at least a program name (or a container made from an image \
             with an entrypoint or cmd)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_checks() {
        assert!(check_args(&ProcessSpec::default()).is_err());
        let empty_program = ProcessSpec {
            args: vec!["".into()],
            ..Default::default()
        };
        assert!(check_spec(empty_program).is_err());
        let bad_env = ProcessSpec {
            args: vec!["sh".into()],
            env: vec!["NOEQUALS".into()],
            ..Default::default()
        };
        assert!(check_spec(bad_env)
            .unwrap_err()
            .message
            .contains("NOEQUALS"));
    }
}
