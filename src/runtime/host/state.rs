//! <root>/<id>/state.json: what any ctrsh process needs to find a container.

use crate::runtime::cgroups::CgroupManager;
use crate::runtime::config::CheckedConfig;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::root_mount::RootMount;
use crate::runtime::image::ContainerImage;
use crate::runtime::network::Attachment;
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The persisted state; the live status is derived from it (see Container::status).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init (later its first user process); 0
    /// until the init exists.
    pub init_pid: i32,
    /// Its start time in clock ticks, so a recycled pid is not mistaken for it.
    pub init_start_time: u64,
    /// True from the start of create (or restore) until everything is made:
    /// while it is under way, and for good if the ctrsh process making it
    /// died. Each thing is recorded here before it is made (the cgroup) or
    /// as soon as it exists (the init), so a destroy finds all of it.
    #[serde(default)]
    pub creating: bool,
    /// True once `start` has exec'd the first process.
    pub started: bool,
    /// Seconds since the epoch.
    pub created: u64,
    pub config: CheckedConfig,
    /// Where the container's cgroups are: None before create places them,
    /// for a rootless container without one, and once destroy removed them.
    pub cgroup: Option<CgroupManager>,
    /// OOM kills already reported by `events()`.
    #[serde(default)]
    pub oom_kills_seen: u64,
    /// The container's place on its bridge network, recorded before its
    /// lease is written (see `Networks::join`), so that a destroy releases
    /// what a create that died had leased.
    #[serde(default)]
    pub networks: Vec<Attachment>,
    /// The image of a container made from one: recorded before its layers
    /// are mounted, so destroy releases them in the store.
    #[serde(default)]
    pub image: Option<ContainerImage>,
    /// The rootfs copy on the host of a container without a mount
    /// namespace, recorded before it is attached, so destroy detaches it.
    #[serde(default)]
    pub root_mount: Option<RootMount>,
}

/// Seconds since the epoch, now (`State::created`, a checkpoint's time).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The directory of one container: made exclusively, so that of two racing
/// creates of the same id exactly one wins.
pub struct StateDir {
    pub path: PathBuf,
}

const STATE_FILE: &str = "state.json";

impl StateDir {
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => Ok(StateDir { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::new(
                ErrorKind::Exists,
                format!("container '{id}' already exists in {}", root.display()),
            )),
            Err(e) => Err(e).ctx(format_args!("create state dir {}", path.display())),
        }
    }

    /// An existing container's directory; it has no state file only if a
    /// create was killed right after making it, or a destroy after removing
    /// the cgroups.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        let path = root.join(id);
        if !path.is_dir() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("container '{id}' does not exist in {}", root.display()),
            ));
        }
        Ok(StateDir { path })
    }

    /// The state, or None if the directory has no state file (see `open`).
    pub fn read(&self) -> Result<Option<State>> {
        let file = self.path.join(STATE_FILE);
        let data = match fs::read(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.ctx(format_args!("read {}", file.display()))?,
        };
        serde_json::from_slice(&data).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::System,
                format!("{}: corrupt state: {e}", file.display()),
            )
        })
    }

    /// Write it beside state.json and swap the two (see `write_json`):
    /// readers see the old or the new state, never half of one. No fsync:
    /// the state of running processes does not outlive a reboot.
    pub fn write(&self, state: &State) -> Result<()> {
        write_json(&self.path.join(STATE_FILE), state)
    }

    /// Remove the state file: what is left is a directory that a destroy
    /// just removes (see `open`).
    pub fn forget(&self) -> Result<()> {
        let file = self.path.join(STATE_FILE);
        match fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).ctx(format_args!("remove {}", file.display()))
            }
            _ => Ok(()),
        }
    }

    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).ctx(format_args!("remove state dir {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// Write `value` as JSON to a temp file beside `file` and put it in
/// `file`'s place, so that readers see the old or the new content, never
/// half. The two are swapped (renameat2 RENAME_EXCHANGE) and the old one,
/// now at the temp name, unlinked, rather than renamed over: when a rename
/// replaces a file, ext4 (with its default `auto_da_alloc`) starts writing
/// the new file's data back to disk then and there, which a swap does not.
/// A plain rename where there is nothing to swap with yet, or the
/// filesystem cannot swap.
pub fn write_json(file: &Path, value: &impl Serialize) -> Result<()> {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = file.with_file_name(format!(".{name}.tmp"));
    let data = serde_json::to_vec_pretty(value).expect("state serializes");
    fs::write(&tmp, &data).ctx(format_args!("write {}", tmp.display()))?;
    let swapped = nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        &tmp,
        nix::fcntl::AT_FDCWD,
        file,
        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
    );
    let what = || format!("rename {} to {}", tmp.display(), file.display());
    match swapped {
        Ok(()) => fs::remove_file(&tmp).ctx(format_args!("remove {}", tmp.display())),
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EINVAL) => {
            fs::rename(&tmp, file).ctx(what())
        }
        Err(e) => Err(e).ctx(what()),
    }
}

/// A lock on a directory (flock on its `lock` file): a container's state
/// dir, held for a whole operation so that concurrent ctrsh processes do
/// not interleave start/destroy, or a network's, around its leases.
pub struct Lock {
    _lock: nix::fcntl::Flock<fs::File>,
}

impl Lock {
    pub fn acquire(dir: &Path) -> Result<Lock> {
        let path = dir.join("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx(format_args!("open {}", path.display()))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .ctx(format_args!("lock {}", path.display()))
            .map(|l| Lock { _lock: l })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own, removed when the test ends (also on failure).
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The first write makes the file, later ones replace it whole; no
    /// temp file stays beside it.
    #[test]
    fn write_json_replaces_the_file_and_leaves_only_it() {
        let dir =
            TempDir(std::env::temp_dir().join(format!("ctrsh-write-json-{}", std::process::id())));
        fs::create_dir(&dir.0).unwrap();
        let file = dir.0.join("state.json");
        for value in [1, 22, 333] {
            write_json(&file, &value).unwrap();
            assert_eq!(fs::read_to_string(&file).unwrap(), value.to_string());
            let names: Vec<_> = fs::read_dir(&dir.0)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["state.json"]);
        }
    }
}
