//! What the host offers the tests, found out once per test binary, and the
//! one way a test that lacks something stops: `skip`, which fails the test
//! when `CI` is set and otherwise says why the test did nothing.
//!
//! Shared by the integration tests (tests/common) and the library's unit
//! tests (src/lib.rs includes this file), so it uses only std, libc and nix.

// Each test binary uses a different subset of this.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A prerequisite of `test` is missing (`why`): under CI this panics;
/// elsewhere it prints that the test is skipped, and the test returns.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: prerequisite missing and CI is set: {why}");
    }
    eprintln!("skipped: {test}: {why}");
}

/// Something a test needs from the host.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Running as root (containers, cgroups, mounts).
    Root,
    /// /bin/busybox, from which tests/common builds the rootfs.
    Busybox,
    /// An unprivileged user may create a user namespace (rootless tests).
    UnprivilegedUserns,
    /// The kernel can idmap a mount of the filesystem temporary dirs are on.
    IdmappedMounts,
    /// The kernel runs i386 system calls (`int 0x80`).
    Ia32,
    /// A cgroup controller (by its v1 name, "blkio" for v2's io) in some
    /// hierarchy.
    Controller(&'static str),
    /// A program on PATH (a tool the test drives: docker-registry, skopeo).
    Program(&'static str),
    /// /dev/net/tun usable by every user (mode 0666, as udev makes it):
    /// rootless networking (pasta) opens it as the user.
    TunForUsers,
    /// A whole disk (not a partition), which I/O limits can name.
    WholeDisk,
}

/// True when the host has every one of `needs`; otherwise `skip`s `test`
/// (a panic under CI) and returns false.
pub fn requires(test: &str, needs: &[Need]) -> bool {
    match needs.iter().find_map(|n| host().lacks(*n)) {
        None => true,
        Some(why) => {
            skip(test, &why);
            false
        }
    }
}

/// The host, as the tests found it.
pub struct Host {
    pub root: bool,
    pub busybox: bool,
    pub cgroups: CgroupLayout,
    pub unprivileged_userns: bool,
    pub idmapped_mounts: bool,
    pub ia32: bool,
    /// The effective capabilities of the test process, a CapEff mask.
    pub capabilities: u64,
    /// The major and minor of a whole disk, the lowest numbers in
    /// /sys/block (a loop device where the loop module is loaded).
    pub whole_disk: Option<(u32, u32)>,
}

/// The host, found out on first use.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host {
        root: nix::unistd::geteuid().is_root(),
        busybox: Path::new("/bin/busybox").is_file(),
        cgroups: CgroupLayout::read(),
        unprivileged_userns: unprivileged_userns(),
        idmapped_mounts: idmapped_mounts(),
        ia32: ia32(),
        capabilities: capabilities(),
        whole_disk: whole_disk(),
    })
}

impl Host {
    /// Why the host does not satisfy `need`, or None when it does.
    pub fn lacks(&self, need: Need) -> Option<String> {
        let missing = |why: &str| Some(why.to_string());
        match need {
            Need::Root if !self.root => missing("the test must run as root"),
            Need::Busybox if !self.busybox => {
                missing("/bin/busybox is missing (apt-get install busybox-static)")
            }
            Need::UnprivilegedUserns if !self.unprivileged_userns => missing(
                "unprivileged users may not create user namespaces \
                 (user.max_user_namespaces, kernel.unprivileged_userns_clone)",
            ),
            Need::IdmappedMounts if !self.idmapped_mounts => missing(
                "the kernel cannot idmap mounts of the temporary dir's filesystem (needs 5.12+)",
            ),
            Need::Ia32 if !self.ia32 => {
                missing("the kernel does not run i386 system calls (IA32 emulation)")
            }
            Need::Controller(name) if self.cgroups.hierarchy(name).is_none() => {
                Some(format!("no cgroup hierarchy has the {name} controller"))
            }
            Need::Program(name) if !on_path(name) => Some(format!(
                "{name} is not installed (scripts/test installs it)"
            )),
            Need::TunForUsers if tun_mode() != 0o666 => Some(format!(
                "/dev/net/tun must be usable by every user (mode 0666, as udev makes it; \
                 scripts/test sets it), is {:o}",
                tun_mode()
            )),
            Need::WholeDisk if self.whole_disk.is_none() => {
                missing("/sys/block lists no disk (modprobe loop makes some)")
            }
            _ => None,
        }
    }

    /// Whether the test process has capability number `cap`.
    pub fn has_capability(&self, cap: u32) -> bool {
        self.capabilities & (1 << cap) != 0
    }
}

fn whole_disk() -> Option<(u32, u32)> {
    let mut disks: Vec<(u32, u32)> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|disk| {
            let dev = fs::read_to_string(disk.path().join("dev")).ok()?;
            let (major, minor) = dev.trim().split_once(':')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .collect();
    disks.sort();
    disks.first().copied()
}

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    V1,
    /// v1 controllers plus a cgroup2 mount.
    Hybrid,
    V2,
}

/// One hierarchy a controller can be found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    pub v2: bool,
}

/// The cgroup hierarchies of the host, from /proc/self/mountinfo.
#[derive(Debug)]
pub struct CgroupLayout {
    /// v1 controllers (and name=... hierarchies) to their mount points.
    pub v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 mount and the controllers its root offers.
    pub v2: Option<(PathBuf, Vec<String>)>,
}

impl CgroupLayout {
    fn read() -> CgroupLayout {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut v1 = BTreeMap::new();
        let mut v2 = None;
        for line in mountinfo.lines() {
            let Some((mount, fs)) = line.split_once(" - ") else {
                continue;
            };
            let Some(point) = mount.split(' ').nth(4).map(PathBuf::from) else {
                continue;
            };
            let mut fs = fs.split(' ');
            match (fs.next(), fs.nth(1)) {
                (Some("cgroup"), Some(options)) => {
                    for option in options.split(',') {
                        if is_v1_controller(option) || option.starts_with("name=") {
                            v1.insert(option.to_string(), point.clone());
                        }
                    }
                }
                (Some("cgroup2"), _) => {
                    let offered = fs::read_to_string(point.join("cgroup.controllers"))
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(String::from)
                        .collect();
                    v2 = Some((point, offered));
                }
                _ => {}
            }
        }
        CgroupLayout { v1, v2 }
    }

    pub fn mode(&self) -> CgroupMode {
        let v1 = self.v1.keys().any(|k| is_v1_controller(k));
        match (v1, self.v2.is_some()) {
            (true, false) => CgroupMode::V1,
            (true, true) => CgroupMode::Hybrid,
            _ => CgroupMode::V2,
        }
    }

    /// Where controller `name` (its v1 name) is: a v1 hierarchy if one has
    /// it, else cgroup2 if its root offers it. cgroup2 has cpuacct and
    /// freezer as core files of every cgroup, and devices as the eBPF
    /// program every cgroup takes.
    pub fn hierarchy(&self, name: &str) -> Option<Hierarchy> {
        if let Some(mount) = self.v1.get(name) {
            return Some(Hierarchy {
                mount: mount.clone(),
                v2: false,
            });
        }
        let v2_name = if name == "blkio" { "io" } else { name };
        let core = matches!(name, "cpuacct" | "freezer" | "devices");
        let (mount, offered) = self.v2.as_ref()?;
        (core || offered.iter().any(|c| c == v2_name)).then(|| Hierarchy {
            mount: mount.clone(),
            v2: true,
        })
    }

    /// The mount point of every hierarchy (v1 ones once, and cgroup2).
    pub fn mounts(&self) -> Vec<PathBuf> {
        let mut mounts: Vec<PathBuf> = self.v1.values().cloned().collect();
        mounts.extend(self.v2.iter().map(|(mount, _)| mount.clone()));
        mounts.sort();
        mounts.dedup();
        mounts
    }

    /// Whether controller `name` is on cgroup2 (panics when it is nowhere).
    pub fn is_v2(&self, name: &str) -> bool {
        self.hierarchy(name)
            .unwrap_or_else(|| panic!("the host has no {name} controller"))
            .v2
    }
}

fn is_v1_controller(name: &str) -> bool {
    [
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
        "misc",
    ]
    .contains(&name)
}

/// Runs `f` in a forked child; true when it exited 0. The child makes only
/// system calls, since the test harness has other threads.
fn in_child(f: impl FnOnce() -> bool) -> bool {
    // SAFETY: the child makes system calls only and leaves with _exit.
    match unsafe { libc::fork() } {
        // SAFETY: the child leaves without running the parent's destructors.
        0 => unsafe { libc::_exit(if f() { 0 } else { 1 }) },
        pid if pid > 0 => {
            let mut status = 0;
            // SAFETY: `status` is a valid int to write.
            while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {}
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
        }
        _ => false,
    }
}

/// An unprivileged user (nobody) can make a user namespace: tried.
fn unprivileged_userns() -> bool {
    // SAFETY: system calls with integer or null arguments, in a forked child.
    in_child(|| unsafe {
        let nobody = 65534;
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setresgid(nobody, nobody, nobody) == 0
            && libc::setresuid(nobody, nobody, nobody) == 0
            && libc::unshare(libc::CLONE_NEWUSER) == 0
    })
}

/// `int 0x80` runs i386 getpid (number 20): tried in a child, which the
/// kernel kills when it has no IA32 emulation.
#[cfg(target_arch = "x86_64")]
fn ia32() -> bool {
    in_child(|| {
        let rc: i64;
        // SAFETY: i386 getpid takes no arguments and touches no memory.
        unsafe { std::arch::asm!("int 0x80", inlateout("rax") 20i64 => rc) };
        rc > 0
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn ia32() -> bool {
    false
}

/// Idmapped mounts came with Linux 5.12 for ext4, xfs, btrfs and tmpfs (the
/// filesystems of a rootfs in a temporary dir).
fn idmapped_mounts() -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut version = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let kernel = (version.next().unwrap_or(0), version.next().unwrap_or(0));
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const BTRFS: i64 = 0x9123_683E;
    const TMPFS: i64 = 0x0102_1994;
    let fs_type = nix::sys::statfs::statfs(&std::env::temp_dir())
        .map(|s| s.filesystem_type().0)
        .unwrap_or(0);
    kernel >= (5, 12) && [EXT4, XFS, BTRFS, TMPFS].contains(&fs_type)
}

/// CapEff of this process.
fn capabilities() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Whether `name` is an executable file in a directory of $PATH.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The permission bits of /dev/net/tun (0 without it).
fn tun_mode() -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata("/dev/net/tun").map_or(0, |m| m.permissions().mode() & 0o777)
}
