//! The config's `hooks`: programs run at points of the container's life
//! with the container's OCI state as JSON on their stdin (the OCI runtime
//! spec's hooks). Which process runs which hook is up to the caller: the
//! parent runs prestart, create_runtime, poststart and poststop; the init
//! create_container and start_container.

use super::config::{CheckedConfig, Hook};
use super::error::{Context, Error, Result};
use super::sys;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The runtime spec version ctrsh implements (state JSON and features).
pub const OCI_VERSION: &str = "1.2.0";

/// The state of a container as the OCI runtime spec defines it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    /// "creating", "created", "running", "paused" or "stopped".
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The bundle the config came from; empty for one made by a script.
    pub bundle: PathBuf,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl OciState {
    /// The state of container `id` of `config`.
    pub fn of(id: &str, config: &CheckedConfig, status: &str, pid: Option<i32>) -> OciState {
        OciState::new(
            id,
            status,
            pid,
            config.bundle.as_deref(),
            &config.annotations,
        )
    }

    pub fn new(
        id: &str,
        status: &str,
        pid: Option<i32>,
        bundle: Option<&Path>,
        annotations: &BTreeMap<String, String>,
    ) -> OciState {
        OciState {
            oci_version: OCI_VERSION.into(),
            id: id.into(),
            status: status.into(),
            pid,
            bundle: bundle.map(Path::to_path_buf).unwrap_or_default(),
            annotations: annotations.clone(),
        }
    }
}

/// Run `hooks` in order; the first failure ends the run. `key` names the
/// list in errors ("hooks.prestart").
pub fn run(key: &str, hooks: &[Hook], state: &OciState) -> Result<()> {
    let json = serde_json::to_vec(state).expect("the state serializes");
    for (i, hook) in hooks.iter().enumerate() {
        run_one(hook, &json).map_err(|e| e.context(format!("{key}[{i}]")))?;
    }
    Ok(())
}

/// Run `hooks` whose failure the spec makes a warning (poststart,
/// poststop): each runs whatever the others did; the failures are returned.
pub fn run_all(key: &str, hooks: &[Hook], state: &OciState) -> Vec<Error> {
    let json = serde_json::to_vec(state).expect("the state serializes");
    hooks
        .iter()
        .enumerate()
        .filter_map(|(i, hook)| {
            run_one(hook, &json)
                .err()
                .map(|e| e.context(format!("{key}[{i}]")))
        })
        .collect()
}

fn run_one(hook: &Hook, state: &[u8]) -> Result<()> {
    let path = hook.path.display().to_string();
    let mut cmd = Command::new(&hook.path);
    if let Some((arg0, rest)) = hook.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear()
        .envs(hook.env.iter().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().ctx(format_args!("run hook {path}"))?;
    let pidfd = sys::pidfd_open(child.id() as i32).ctx(format_args!("pidfd_open hook {path}"))?;
    // The state goes in whole; a hook that does not read it gets EPIPE on
    // our side, which is not its failure.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state);
    }
    let output = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = output(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = output(child.stderr.take().map(|p| Box::new(p) as _));
    let timeout = hook
        .timeout
        .map(|s| std::time::Duration::from_secs(s.into()));
    let exited = sys::pidfd_wait_exit(&pidfd, timeout).ctx(format_args!("wait for hook {path}"))?;
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().ctx(format_args!("wait for hook {path}"))?;
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    if !exited {
        return Err(Error::state(format!(
            "hook {path} did not finish within its timeout of {} s and was killed",
            hook.timeout.unwrap_or_default()
        )));
    }
    if status.success() {
        return Ok(());
    }
    let mut message = format!("hook {path} failed ({status})");
    for (name, text) in [("stdout", stdout.trim()), ("stderr", stderr.trim())] {
        if !text.is_empty() {
            message.push_str(&format!("; its {name}: {text}"));
        }
    }
    Err(Error::state(message))
}
