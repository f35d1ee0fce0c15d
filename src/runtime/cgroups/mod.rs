//! A container's cgroup on cgroup v1, v2 and hybrid hosts: placement, limits,
//! device rules, freezer, stats and teardown.
//!
//! Directories are resolved here per controller (placement.rs); limits,
//! device rules and the freezer go through cgroups-rs's controller types
//! built on those directories. Stats and process lists read the kernel
//! files directly. Why ctrsh goes around cgroups-rs where it does:
//! docs/architecture.md, "cgroups and cgroups-rs".

mod devices;
mod files;
mod freezer;
mod limits;
mod placement;
mod stats;
#[cfg(test)]
mod tests;

pub use stats::{BlkioDeviceStats, Stats};

use crate::runtime::config::{CheckedCgroups, Limits};
use crate::runtime::error::{Error, ErrorKind, Result};
use crate::runtime::sys;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `kill_all` waits for the cgroup to empty.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// The cgroup layout of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies, one per controller (or co-mounted group).
    V1,
    /// v1 hierarchies plus a cgroup2 mount holding the controllers v1 does not.
    Hybrid,
    /// Only the cgroup2 hierarchy.
    V2,
}

/// The controllers ctrsh uses. The declaration order is the order processes
/// join them: blkio before memory, so that writeback is charged correctly
/// (as cgroups-rs does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    Blkio,
    Memory,
    Pids,
    Cpuset,
    Cpuacct,
    Cpu,
    Devices,
    Freezer,
    Hugetlb,
}

/// How cgroup v2 provides a controller.
enum OnV2 {
    /// A controller enabled through `cgroup.subtree_control`, by this name.
    Enabled(&'static str),
    /// Part of every non-root cgroup: core files (cpu.stat, cgroup.freeze),
    /// or for devices, the eBPF program a cgroup2 directory takes.
    Core,
}

impl Controller {
    pub const ALL: [Controller; 9] = [
        Controller::Blkio,
        Controller::Memory,
        Controller::Pids,
        Controller::Cpuset,
        Controller::Cpuacct,
        Controller::Cpu,
        Controller::Devices,
        Controller::Freezer,
        Controller::Hugetlb,
    ];

    /// The v1 name (in mount options and /proc/self/cgroup).
    pub fn name(self) -> &'static str {
        match self {
            Controller::Blkio => "blkio",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpuset => "cpuset",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpu => "cpu",
            Controller::Devices => "devices",
            Controller::Freezer => "freezer",
            Controller::Hugetlb => "hugetlb",
        }
    }

    fn on_v2(self) -> OnV2 {
        match self {
            Controller::Blkio => OnV2::Enabled("io"),
            Controller::Memory => OnV2::Enabled("memory"),
            Controller::Pids => OnV2::Enabled("pids"),
            Controller::Cpuset => OnV2::Enabled("cpuset"),
            Controller::Cpu => OnV2::Enabled("cpu"),
            Controller::Hugetlb => OnV2::Enabled("hugetlb"),
            Controller::Cpuacct | Controller::Freezer | Controller::Devices => OnV2::Core,
        }
    }
}

/// Where one controller of the container's cgroup is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerDir {
    /// The container's directory for this controller.
    pub dir: PathBuf,
    /// The mount point of the hierarchy it is in.
    pub mount: PathBuf,
    /// Whether that hierarchy is cgroup2 (file names and formats differ).
    pub v2: bool,
}

/// A container's cgroup: where it is, and what this manager created.
/// Serializable so that it can be stored in the container's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CgroupManager {
    /// The cgroup path as configured: relative (to the creator's own cgroup)
    /// or absolute (from each hierarchy's root).
    path: String,
    mode: Mode,
    /// The directory of each controller this host provides.
    controllers: BTreeMap<Controller, ControllerDir>,
    /// Why each other controller is missing, for error messages.
    unavailable: BTreeMap<Controller, String>,
    /// The container's directory in the cgroup2 hierarchy (V2 and Hybrid): a
    /// process joins it even if no controller of this host lives there.
    unified: Option<ControllerDir>,
    /// The directories ctrsh makes for this cgroup: what `create` is about
    /// to make, then what it made.
    created: Vec<PathBuf>,
}

impl CgroupManager {
    /// Place a container: `cfg.path`, or `cfg.parent`/`cfg.name` (name
    /// defaults to `default_name`). Relative paths resolve under the calling
    /// process's own cgroup per controller, absolute ones from each
    /// hierarchy's root. An existing cgroup that holds processes is an error;
    /// an existing empty one is used (and left in place by `destroy`).
    ///
    /// Makes the missing directories, enables the cgroup v2 controllers that
    /// `cfg` asks for on the way down, and fills empty v1 cpusets. `record`
    /// gets the manager before anything is made (listing what will be), and
    /// again only if what is ours changed (a parent someone else made
    /// meanwhile): whoever persists it can `destroy` all of it, even when
    /// this process dies half-way. The manager returned (with the
    /// controllers its cgroup2 directory has) is the caller's to persist
    /// with its next record. On error nothing is left.
    pub fn create(
        cfg: &CheckedCgroups,
        default_name: &str,
        record: &mut dyn FnMut(&CgroupManager) -> Result<()>,
    ) -> Result<CgroupManager> {
        placement::create(cfg, default_name, record)
    }

    /// Enable the cgroup v2 controllers `cfg` asks for that the cgroup lacks
    /// (a live update may ask for one that create did not).
    pub fn enable(&mut self, cfg: &CheckedCgroups) -> Result<()> {
        placement::enable_v2(self, cfg)
    }

    /// Write the limits and device rules of `cfg` (also a live update).
    pub fn apply(&self, cfg: &CheckedCgroups) -> Result<()> {
        self.apply_limits(&cfg.limits)?;
        devices::apply(self, cfg)
    }

    /// The limits without the device rules: rewriting those (deny all, then
    /// allow each) would briefly deny every device to running processes.
    pub fn apply_limits(&self, limits: &Limits) -> Result<()> {
        limits::apply(self, limits)
    }

    /// Move process `pid` into every directory of the cgroup (the tests'
    /// processes; a container's init moves itself: `join_files`).
    #[cfg(test)]
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            files::add_process(&dir, pid)
                .map_err(|e| e.context(format!("add process {pid} to cgroup {}", self.path)))?;
        }
        Ok(())
    }

    /// The processes in the cgroup and its sub-cgroups (sorted, no duplicates).
    pub fn processes(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        for dir in self.dirs() {
            collect_procs(&dir, &mut pids)?;
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// What a process opens to move itself into the cgroup, opened here:
    /// each file and its fd, for `join_self`. The kernel checks the
    /// credentials of the fd's opener, so a process in a user namespace
    /// can use them. In each v1 hierarchy the `tasks` file: writing "0"
    /// there moves the writing thread without the kernel's global
    /// threadgroup lock, whose write side waits for an RCU grace period
    /// (as a cgroup.procs write does), so a single-threaded process (the
    /// init) moves at no such cost. In the cgroup2 directory, unless the
    /// process was cloned into it (`cloned_in`), cgroup.procs.
    pub fn join_files(&self, cloned_in: bool) -> Result<Vec<(PathBuf, OwnedFd)>> {
        let done = self.unified.as_ref().filter(|_| cloned_in).map(|u| &u.dir);
        self.leaves()
            .into_iter()
            .filter(|leaf| Some(&leaf.dir) != done)
            .map(|leaf| {
                let file = leaf
                    .dir
                    .join(if leaf.v2 { "cgroup.procs" } else { "tasks" });
                let fd = std::fs::File::options()
                    .write(true)
                    .open(&file)
                    .map_err(|e| Error::sys(format!("open {}", file.display()), e))?;
                Ok((file, fd.into()))
            })
            .collect()
    }

    /// An fd of the container's cgroup2 directory, if the host has one: a
    /// process cloned with it (CLONE_INTO_CGROUP) starts in the cgroup.
    pub fn open_unified(&self) -> Result<Option<OwnedFd>> {
        let Some(unified) = &self.unified else {
            return Ok(None);
        };
        let dir = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(&unified.dir)
            .map_err(|e| Error::sys(format!("open cgroup {}", unified.dir.display()), e))?;
        Ok(Some(dir.into()))
    }

    /// Freeze every process; returns once the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<()> {
        freezer::freeze(self)
    }

    /// Thaw the cgroup; returns once the kernel reports it thawed.
    pub fn thaw(&self) -> Result<()> {
        freezer::thaw(self)
    }

    pub fn is_frozen(&self) -> Result<bool> {
        freezer::is_frozen(self)
    }

    pub fn stats(&self) -> Result<Stats> {
        stats::collect(self)
    }

    /// How many processes the OOM killer killed in this cgroup.
    pub fn oom_kills(&self) -> Result<u64> {
        stats::oom_kills(self)
    }

    /// SIGKILL every process (thawing first, since frozen v1 tasks cannot
    /// die), then wait until the cgroup is empty (at most 5 s). Zombies do
    /// not count: the kernel drops them from cgroup.procs.
    ///
    /// With a cgroup2 directory (every process of the container is below
    /// it), one read says whether anything is left, the usual case at
    /// destroy, and where the kernel has cgroup.kill (Linux 5.14) one write
    /// kills everything below it, also processes forked meanwhile, which a
    /// signal per listed process can miss. Only what is elsewhere gets a
    /// signal of its own: on a v1 or hybrid host without cgroup.kill every
    /// process; with it, a process in one of the container's v1 cgroups but
    /// not in its cgroup2 directory (a container's own processes cannot
    /// leave that, other processes can be put in a v1 one).
    pub fn kill_all(&self) -> Result<()> {
        if let Some(unified) = &self.unified {
            if !files::populated(&unified.dir)? {
                return Ok(());
            }
        }
        let mut pids = self.processes()?;
        if pids.is_empty() {
            return Ok(());
        }
        if self.controllers.contains_key(&Controller::Freezer) {
            self.thaw()?;
        }
        let kill_file = self
            .unified
            .as_ref()
            .map(|d| d.dir.join("cgroup.kill"))
            .filter(|f| f.exists());
        let deadline = Instant::now() + KILL_TIMEOUT;
        // Every process seen below the cgroup2 directory: cgroup.kill
        // reached it, even if a v1 cgroup still lists it while it dies.
        let mut below = Vec::new();
        loop {
            // Opened before the kill, so that none is a recycled pid.
            let pidfds: Vec<OwnedFd> = pids
                .iter()
                .filter_map(|&p| sys::pidfd_open(p).ok())
                .collect();
            self.signal(&pids, kill_file.as_deref(), &mut below)?;
            self.await_gone(&pidfds, deadline)?;
            pids = self.processes()?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::System,
                    format!(
                        "kill the processes of cgroup {}: {pids:?} still there after {} s",
                        self.path,
                        KILL_TIMEOUT.as_secs()
                    ),
                ));
            }
        }
    }

    /// Sleeps until the killed processes are gone, or `deadline`: each
    /// pidfd's process exited, and the cgroup2 directory unpopulated
    /// (cgroup.events says so once the last process has left it, also one
    /// forked after the list was read). The pidfds come first: a process
    /// leaves its cgroups before its pidfd wakes, so cgroup.events then
    /// mostly reads unpopulated at once, while its change notification is
    /// one the kernel holds back when the file changed shortly before (at
    /// most one per HZ/100 per file: a container killed soon after it
    /// started would wait that long).
    fn await_gone(&self, pidfds: &[OwnedFd], deadline: Instant) -> Result<()> {
        for pidfd in pidfds {
            sys::poll(&[(pidfd.as_fd(), libc::POLLIN)], Some(deadline)).map_err(|e| {
                Error::sys(format!("wait for the processes of cgroup {}", self.path), e)
            })?;
        }
        if let Some(unified) = &self.unified {
            files::await_events(&unified.dir, deadline, |events| {
                events.get("populated").is_none_or(|n| *n == 0)
            })?;
        }
        Ok(())
    }

    /// SIGKILL `pids`: through `kill_file` (cgroup.kill) those below the
    /// cgroup2 directory (added to `below`), each other one by its pid.
    /// Repeating it for a process still dying does no harm.
    fn signal(&self, pids: &[i32], kill_file: Option<&Path>, below: &mut Vec<i32>) -> Result<()> {
        let (Some(file), Some(unified)) = (kill_file, &self.unified) else {
            return self.kill_each(pids);
        };
        // Read before the write: a process it kills leaves the list at once,
        // and must not be taken for one elsewhere.
        collect_procs(&unified.dir, below)?;
        files::write(file, "1")
            .map_err(|e| e.context(format!("kill the processes of cgroup {}", self.path)))?;
        let elsewhere: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|p| !below.contains(p))
            .collect();
        self.kill_each(&elsewhere)
    }

    fn kill_each(&self, pids: &[i32]) -> Result<()> {
        for &pid in pids {
            // ESRCH: it exited since the list was read.
            match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => {
                    return Err(Error::sys(
                        format!("kill process {pid} of cgroup {}", self.path),
                        std::io::Error::from(e),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Remove the directories ctrsh made: the cgroup's own (with any
    /// sub-cgroups made inside it, by the container or by a CRIU restore),
    /// then each parent ctrsh made that no other cgroup uses any more. A
    /// parent still in use is marked as ctrsh's, so that the destroy of the
    /// last container in it removes it. Can be repeated.
    pub fn destroy(&self) -> Result<()> {
        placement::remove(self)
    }

    /// The container's directory in each hierarchy, by the hierarchy's
    /// name (its mount point's file name: "memory", "unified"); on a v2
    /// host the one directory under the name "". For a "cgroup" mount.
    pub fn mount_dirs(&self) -> Vec<(String, PathBuf)> {
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for c in self.controllers.values() {
            let name = match self.mode {
                Mode::V2 => String::new(),
                _ => c
                    .mount
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into()),
            };
            if !dirs.iter().any(|(n, _)| *n == name) {
                dirs.push((name, c.dir.clone()));
            }
        }
        dirs
    }

    /// The cgroup path as configured (for the tests: the runtime reads
    /// each controller's directory).
    #[cfg(test)]
    pub fn path(&self) -> &str {
        &self.path
    }

    #[cfg(test)]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Where `controller` is, if this host provides it.
    pub fn controller_dir(&self, controller: Controller) -> Option<&ControllerDir> {
        self.controllers.get(&controller)
    }

    /// The container's directory in the cgroup2 hierarchy, if the host has one.
    pub fn unified(&self) -> Option<&ControllerDir> {
        self.unified.as_ref()
    }

    /// Every distinct directory of the cgroup, in the order processes join.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.leaves().into_iter().map(|l| l.dir.clone()).collect()
    }

    /// Every distinct directory of the cgroup with its hierarchy, in the
    /// order processes join.
    fn leaves(&self) -> Vec<&ControllerDir> {
        let mut leaves: Vec<&ControllerDir> = Vec::new();
        for leaf in self.controllers.values().chain(self.unified.iter()) {
            if !leaves.iter().any(|l| l.dir == leaf.dir) {
                leaves.push(leaf);
            }
        }
        leaves
    }

    /// The directory of `controller`, or an Unsupported error that names the
    /// config key needing it and why the host lacks it.
    fn require(&self, controller: Controller, key: &str) -> Result<&ControllerDir> {
        self.controllers.get(&controller).ok_or_else(|| {
            let why = self
                .unavailable
                .get(&controller)
                .map_or("not available", String::as_str);
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{key}: the {} cgroup controller is {why}",
                    controller.name()
                ),
            )
        })
    }
}

/// Moves the calling process, which must be single-threaded, into its
/// cgroups: "0" (itself) into each of `files`, the fds of `join_files`.
pub fn join_self(files: &[PathBuf], fds: &[OwnedFd]) -> Result<()> {
    for (file, fd) in files.iter().zip(fds) {
        nix::unistd::write(fd, b"0")
            .map_err(|e| files::join_error(file, "0", std::io::Error::from(e)))?;
    }
    Ok(())
}

/// Append the pids of `dir` and of every cgroup below it.
fn collect_procs(dir: &Path, pids: &mut Vec<i32>) -> Result<()> {
    pids.extend(files::read_procs(dir)?);
    for sub in placement::sub_cgroups(dir)? {
        collect_procs(&sub, pids)?;
    }
    Ok(())
}
