//! Checkpoint and restore through CRIU's command line.
//!
//! The CLI rather than the swrk RPC: every option ctrsh needs has a flag,
//! no protobuf code is generated or vendored, a failure leaves a log file
//! to quote, and `restore -d -S` makes the restored init a child of the
//! restoring ctrsh process (CLONE_PARENT), which is what the RPC's
//! restore_sibling gives runc.

mod dump;
mod locate;
mod metadata;
mod mounts;
mod netns;
mod restore;
mod run;
mod stdio;
mod upper;

pub use locate::{locate, Version, MIN_TCP_VERSION, MIN_VERSION};
pub use metadata::{HostBind, Metadata, StdioLink};
pub use upper::UPPER_DIR;

use super::config::CheckedConfig;
use super::config::Stdio;
use super::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `Container::checkpoint` does; the names are CRIU's options.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Where the images go: a new or empty directory.
    pub dir: PathBuf,
    /// Keep the container running after the dump (default: it stops and is
    /// destroyed, as with `runc checkpoint`).
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    /// Dump memory only and keep running, as the parent of a later dump.
    pub pre_dump: bool,
    /// A previous (pre-)dump whose memory this dump only adds to.
    pub parent: Option<PathBuf>,
    pub manage_cgroups: CgroupMode,
    /// The CRIU binary; default: see `locate`.
    pub criu: Option<PathBuf>,
    /// Where CRIU works and logs (default: `dir`).
    pub work_dir: Option<PathBuf>,
}

/// CRIU's --manage-cgroups modes. "ignore" (ctrsh's default) leaves
/// cgroups to ctrsh: the restored container gets a new cgroup placed and
/// limited from its config, as at create. The others let CRIU also dump
/// and recreate sub-cgroups and their properties below that new cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    #[default]
    Ignore,
    Soft,
    Full,
    Strict,
}

impl CgroupMode {
    pub const ALL: [CgroupMode; 4] = [
        CgroupMode::Ignore,
        CgroupMode::Soft,
        CgroupMode::Full,
        CgroupMode::Strict,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CgroupMode::Ignore => "ignore",
            CgroupMode::Soft => "soft",
            CgroupMode::Full => "full",
            CgroupMode::Strict => "strict",
        }
    }

    pub fn from_name(name: &str) -> Result<CgroupMode> {
        CgroupMode::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                Error::config(format!(
                    "manage_cgroups: unknown mode '{name}' (ignore, soft, full, strict, or true/false)"
                ))
            })
    }
}

/// What `Factory::restore` does differently from the checkpointed container.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The config to restore with (default: the checkpoint's), e.g. with a
    /// new rootfs path or cgroup parent. Its namespaces must be the same.
    pub config: Option<CheckedConfig>,
    /// What the restored init's stdio that was outside the container (a
    /// pipe to the old ctrsh, a host file) becomes. Files are appended to.
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    pub criu: Option<PathBuf>,
    /// Where CRIU works and logs (default: the new container's state dir).
    pub work_dir: Option<PathBuf>,
}

/// A checkpoint directory: CRIU's images plus ctrsh's metadata file.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
    metadata: Metadata,
}

impl Checkpoint {
    /// The checkpoint in `dir` (made here or copied from another host).
    pub fn load(dir: impl Into<PathBuf>) -> Result<Checkpoint> {
        let dir = dir.into();
        if !dir.is_absolute() {
            return Err(Error::config(format!(
                "dir: '{}' is not an absolute path",
                dir.display()
            )));
        }
        let metadata = Metadata::read(&dir)?;
        Ok(Checkpoint { dir, metadata })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn container_id(&self) -> &str {
        &self.metadata.container_id
    }

    /// Seconds since the epoch.
    pub fn created(&self) -> u64 {
        self.metadata.created
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Bytes of every file in the directory, read now.
    pub fn size(&self) -> Result<u64> {
        dir_size(&self.dir)
    }
}

fn dir_size(dir: &Path) -> Result<u64> {
    use super::error::Context;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).ctx(format_args!("read {}", dir.display()))? {
        let entry = entry.ctx(format_args!("read {}", dir.display()))?;
        let meta = entry
            .metadata()
            .ctx(format_args!("stat {}", entry.path().display()))?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
