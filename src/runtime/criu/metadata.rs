//! The file ctrsh keeps beside CRIU's images: everything besides the
//! images that a restore needs, so a copied checkpoint dir is self-contained.

use super::CgroupMode;
use crate::runtime::config::Config;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

pub const METADATA_FILE: &str = "ctrsh-checkpoint.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub container_id: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// The container's config when it was dumped.
    pub config: Config,
    /// The CRIU that dumped it ("4.1.1").
    pub criu_version: String,
    /// The dumping host's kernel release (`uname -r`).
    pub kernel: String,
    /// A pre-dump (memory only, the tasks kept running): not restorable
    /// itself, only a `parent` for a later dump.
    pub pre_dump: bool,
    /// The dump options a restore must repeat.
    pub flags: DumpFlags,
    /// The init's stdio that lives outside the container, which the
    /// restoring side supplies (CRIU's --inherit-fd).
    pub stdio: Vec<StdioLink>,
    /// Mounts the runtime bound from host files (in a user namespace),
    /// which the restore binds again. Absent in older checkpoints.
    #[serde(default)]
    pub host_binds: Vec<HostBind>,
    /// The image of a container made from one; its writes (the overlay's
    /// upper dir) are in the checkpoint's UPPER_DIR.
    #[serde(default)]
    pub image: Option<CheckpointImage>,
}

/// The image a checkpointed container's root filesystem was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointImage {
    /// The name it was found under, for messages.
    pub name: String,
    /// Its manifest digest: the restore mounts exactly these layers again.
    pub digest: String,
    /// Whether the checkpoint holds an upper dir (none for a read-only rootfs).
    pub upper: bool,
}

/// A mount of a host file at `destination` in the container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostBind {
    pub destination: String,
    /// The host path bound there ("/dev/null").
    pub source: String,
}

/// CRIU options that must be the same on dump and restore.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DumpFlags {
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups: CgroupMode,
    /// The network namespace was not dumped: the restore makes it from
    /// the config (see netns.rs). Absent in older checkpoints: dumped.
    #[serde(default)]
    pub net_from_config: bool,
}

impl DumpFlags {
    pub fn criu_args(&self) -> Vec<String> {
        let mut args = vec![format!("--manage-cgroups={}", self.manage_cgroups.name())];
        for (on, arg) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
        ] {
            if on {
                args.push(arg.to_string());
            }
        }
        args
    }
}

/// One of the init's fds 0-2 that refers to something outside the
/// container (a pipe to ctrsh, a host file, /dev/null of the host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StdioLink {
    pub fd: i32,
    /// CRIU's name for it: "pipe:[123]" or "file[18:3]" (mnt_id:inode, hex).
    pub resource: String,
    /// What it was on the dumping host, for messages ("/dev/null").
    pub was: String,
}

impl Metadata {
    pub fn read(dir: &Path) -> Result<Metadata> {
        let file = dir.join(METADATA_FILE);
        let data = match std::fs::read(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "{} is not a ctrsh checkpoint (it has no {METADATA_FILE})",
                        dir.display()
                    ),
                ))
            }
            other => other.ctx(format_args!("read {}", file.display()))?,
        };
        serde_json::from_slice(&data).map_err(|e| {
            Error::config(format!(
                "{}: not a valid checkpoint file: {e}",
                file.display()
            ))
        })
    }

    /// Written last, once CRIU succeeded: a dir with this file is complete.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let file = dir.join(METADATA_FILE);
        let tmp = dir.join(format!(".{METADATA_FILE}.tmp"));
        let data = serde_json::to_vec_pretty(self).expect("metadata serializes");
        let mut f = std::fs::File::create(&tmp).ctx(format_args!("write {}", tmp.display()))?;
        f.write_all(&data)
            .ctx(format_args!("write {}", tmp.display()))?;
        f.sync_all().ctx(format_args!("sync {}", tmp.display()))?;
        std::fs::rename(&tmp, &file).ctx(format_args!(
            "rename {} to {}",
            tmp.display(),
            file.display()
        ))
    }
}
