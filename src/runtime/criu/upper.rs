//! The writes of a container made from an image (its overlay's upper dir)
//! travel in the checkpoint: the restore mounts the same image layers
//! again over a copy of them, so every file the processes had open is
//! where and as it was (CRIU checks the sizes of files open for writing).

use crate::runtime::error::{Context, Result};
use crate::runtime::sys;
use std::path::Path;

/// The upper dir's place in a checkpoint dir.
pub const UPPER_DIR: &str = "rootfs-upper";

/// Puts `upper` into the checkpoint dir `dir`: moved when the container
/// is gone (`keep` false) and both are on one filesystem, copied otherwise.
pub fn save(upper: &Path, dir: &Path, keep: bool) -> Result<()> {
    let saved = dir.join(UPPER_DIR);
    if !keep {
        match std::fs::rename(upper, &saved) {
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
            moved => {
                return moved.ctx(format_args!(
                    "move {} to {}",
                    upper.display(),
                    saved.display()
                ))
            }
        }
    }
    sys::tree::copy(upper, &saved)
        .map_err(|e| e.context("save the container's writes (its overlay's upper dir)"))
}
