//! A cgroup of a test's own, for the processes it starts to run in.

use super::host;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A cgroup made under this process's own cgroup in every hierarchy, and
/// removed on drop with whatever is left inside it. A process that joins
/// it (`join`) makes ctrsh place the cgroups of the containers it creates
/// with a relative (or the default) parent under it, so their paths are
/// this test's alone, whatever ids and state roots they are named after.
pub struct RunCgroup {
    /// Its directory in each hierarchy.
    dirs: Vec<PathBuf>,
}

impl RunCgroup {
    /// `name` must be unique on the host (a sandbox's needle is).
    pub fn new(name: &str) -> RunCgroup {
        let mut run = RunCgroup { dirs: Vec::new() };
        for own in own_cgroups() {
            let dir = own.join(name);
            fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            run.dirs.push(dir.clone());
            // A new v1 cpuset has no cpus and no memory nodes, and no
            // process can join it until it has some.
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if dir.join(file).exists()
                    && fs::read_to_string(dir.join(file))
                        .unwrap()
                        .trim()
                        .is_empty()
                {
                    let offered = fs::read(own.join(file)).unwrap();
                    fs::write(dir.join(file), offered)
                        .unwrap_or_else(|e| panic!("write {}: {e}", dir.join(file).display()));
                }
            }
        }
        run
    }

    /// Makes `cmd`'s process join the cgroup (in every hierarchy) before
    /// it runs its program.
    pub fn join(&self, cmd: &mut Command) {
        let procs: Vec<OwnedFd> = self
            .dirs
            .iter()
            .map(|dir| {
                let file = dir.join("cgroup.procs");
                fs::OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .unwrap_or_else(|e| panic!("open {}: {e}", file.display()))
                    .into()
            })
            .collect();
        let fds: Vec<i32> = procs.iter().map(|fd| fd.as_raw_fd()).collect();
        // SAFETY: between fork and exec the child only calls write(2),
        // which is async-signal-safe, on descriptors it inherited; `procs`
        // moves into the closure, so they stay open until `cmd` is dropped.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, move || {
                let _open = &procs;
                for &fd in &fds {
                    // "0": the writing process itself.
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }

    /// The cgroups inside it (in any hierarchy): what the processes that
    /// ran in it left.
    pub fn left(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for dir in &self.dirs {
            below(dir, &mut found);
        }
        found
    }
}

impl Drop for RunCgroup {
    /// Kills what still runs in it (only processes of this test can be
    /// there), then removes it, innermost cgroups first; fails the test when
    /// that fails.
    fn drop(&mut self) {
        let mut failures = Vec::new();
        for dir in self.dirs.iter().rev() {
            let mut tree = vec![dir.clone()];
            below(dir, &mut tree);
            for cgroup in tree.iter().rev() {
                if let Err(e) = remove(cgroup) {
                    failures.push(format!("rmdir {}: {e}", cgroup.display()));
                }
            }
        }
        if failures.is_empty() {
            return;
        }
        let report = format!("cleanup of the test's cgroup:\n{}", failures.join("\n"));
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

/// Kills the processes in `cgroup` and removes it. A killed process (or
/// one that has just exited) stays in its cgroup until the kernel has
/// reaped it, so rmdir is tried again for a while on EBUSY.
fn remove(cgroup: &Path) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let procs = fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|p| p.parse::<i32>().ok()) {
            // SAFETY: kill(2) has no memory effects on this process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        match fs::remove_dir(cgroup) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            done => return done,
        }
    }
}

/// The cgroup directories below `dir`, parents before children.
fn below(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.push(entry.path());
            below(&entry.path(), found);
        }
    }
}

/// This process's cgroup directory in every hierarchy the host mounts.
fn own_cgroups() -> Vec<PathBuf> {
    let table = fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
    let layout = &host().cgroups;
    let own = |wanted: &dyn Fn(&str) -> bool| {
        table.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':').skip(1);
            let (controllers, path) = (fields.next()?, fields.next()?);
            wanted(controllers).then(|| path.trim_start_matches('/').to_string())
        })
    };
    let mut dirs: Vec<PathBuf> = layout
        .v1
        .iter()
        .map(|(name, mount)| {
            let path = own(&|c| c.split(',').any(|c| c == name))
                .unwrap_or_else(|| panic!("/proc/self/cgroup has no {name} line:\n{table}"));
            mount.join(path)
        })
        .collect();
    if let Some((mount, _)) = &layout.v2 {
        let path = own(&|c| c.is_empty())
            .unwrap_or_else(|| panic!("/proc/self/cgroup has no cgroup2 line:\n{table}"));
        dirs.push(mount.join(path));
    }
    dirs.sort();
    dirs.dedup();
    dirs
}
