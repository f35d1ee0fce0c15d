//! The rootfs of a container without a mount namespace of its own. Its
//! mounts are then made in ctrsh's mount namespace (the host's), so they go
//! under a copy of the rootfs that ctrsh attaches at the rootfs path and
//! makes private at once: nothing mounted under it propagates to another
//! mount or namespace. The init chroots into it (pivot_root needs a mount
//! namespace of its own), and destroy detaches it with every mount under
//! it, so nothing of the container stays mounted on the host.

use crate::runtime::error::{Context, Result};
use crate::runtime::sys;
use nix::mount::{umount2, MntFlags};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The copy of the rootfs attached on the host: where, and which mount
/// (its id, so destroy does not detach a mount that took its place).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootMount {
    pub path: PathBuf,
    pub id: u64,
}

impl RootMount {
    /// Attach `tree` (a rootfs the parent prepared, an image's) or a copy of
    /// the mounts at `rootfs`, there. `record` is given the mount before it
    /// is attached, to write it into the state first.
    pub fn attach(
        rootfs: &Path,
        tree: Option<OwnedFd>,
        record: impl FnOnce(&RootMount) -> Result<()>,
    ) -> Result<()> {
        let what = || format!("rootfs: the copy of {} on the host", rootfs.display());
        let tree = match tree {
            Some(tree) => tree,
            None => sys::detached_tree(rootfs, false, None).ctx(what())?,
        };
        let id = sys::mount_id(tree.as_fd(), Path::new("")).ctx(what())?;
        record(&RootMount {
            path: rootfs.to_path_buf(),
            id,
        })?;
        sys::attach_tree(&tree, rootfs).ctx(what())?;
        // Attached under a shared mount it joined that mount's peer group.
        sys::make_tree_private(rootfs).ctx(what())
    }

    /// Detach the copy and every mount under it, if it is still the mount
    /// at its path (a destroy run again finds it gone).
    pub fn detach(&self) -> Result<()> {
        let cwd = rustix::fs::CWD;
        let top = sys::mount_id(cwd, &self.path);
        if top.ctx(format_args!("statx {}", self.path.display()))? != self.id {
            return Ok(());
        }
        umount2(&self.path, MntFlags::MNT_DETACH).ctx(format_args!(
            "detach the container's mounts at {}",
            self.path.display()
        ))
    }
}
