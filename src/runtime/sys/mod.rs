//! Thin wrappers over system calls in the shape ctrsh needs: rustix's safe
//! ones where it has them (pidfds, the new mount API, extended
//! attributes), raw ones where nothing safe exists (raw clone, close_range,
//! mount_setattr, a real-time signal or signal 0 to a pidfd).

pub mod idmap;
pub mod proc;
pub mod tree;

use crate::runtime::error::{Context, Result};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A pidfd for `pid`, so signals never hit a recycled pid.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(rustix::process::pidfd_open(
        pid,
        rustix::process::PidfdFlags::empty(),
    )?)
}

/// Sends `sig` to the process of `pidfd`: a named signal through rustix's
/// safe call. 0 (the check that the process is still there, unreaped) and
/// the real-time signals go by the raw call: rustix's `Signal` is never
/// 0, and names a real-time signal only through an unsafe constructor
/// (the C library keeps some of them for itself).
pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<()> {
    if let Some(named) = rustix::process::Signal::from_named_raw(sig) {
        return Ok(rustix::process::pidfd_send_signal(pidfd, named)?);
    }
    // SAFETY: the pidfd is open (borrowed); a null siginfo is allowed.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}

/// SIGKILL and reap `pid`, a child of ours that is not reaped yet (so the
/// pid is still its own) and for which no pidfd could be opened; errors
/// are dropped: it may have exited already. With a pidfd, the parent's
/// `Reaper::kill_and_reap` does this.
pub fn kill_and_reap_child(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

/// Waits until the process behind `pidfd` has exited, or `timeout` (None:
/// no limit) passed. Returns true when it exited.
pub fn pidfd_wait_exit(pidfd: &OwnedFd, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    Ok(poll(&[(pidfd.as_fd(), libc::POLLIN)], deadline)?[0] != 0)
}

/// Waits until one of `fds` has one of the events given with it (POLLIN:
/// readable, a pidfd's process exited; POLLPRI: a cgroup file changed), or
/// `deadline` passed (None: no deadline). Each fd's returned events, all 0
/// when the deadline passed.
pub fn poll(
    fds: &[(BorrowedFd<'_>, libc::c_short)],
    deadline: Option<Instant>,
) -> io::Result<Vec<libc::c_short>> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut pfds: Vec<PollFd> = fds
        .iter()
        .map(|(fd, events)| {
            PollFd::from_borrowed_fd(*fd, PollFlags::from_bits_retain(*events as u16))
        })
        .collect();
    loop {
        // ppoll's timespec: a deadline under a millisecond away is waited for.
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            })
        });
        match rustix::event::poll(&mut pfds, timeout.as_ref()) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {
                return Ok(pfds
                    .iter()
                    .map(|p| p.revents().bits() as libc::c_short)
                    .collect())
            }
        }
    }
}

/// fork-like clone with namespace flags. Returns 0 in the child.
///
/// # Safety
/// In a multi-threaded caller the child may only make async-signal-safe
/// calls (raw syscalls) before it execs.
pub unsafe fn clone_fork(flags: libc::c_int) -> io::Result<libc::pid_t> {
    // SAFETY: clone without a new stack or pointers, like fork; what the
    // child may do is the caller's promise (above).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    check(ret).map(|p| p as libc::pid_t)
}

/// `clone_fork` whose child starts in the cgroup2 directory `cgroup` (an
/// fd of it): clone3 with CLONE_INTO_CGROUP (Linux 5.7), so the child is
/// in that cgroup before it runs a single instruction. Returns 0 in the
/// child. An error means no child was made: older kernels refuse with
/// ENOSYS (no clone3), E2BIG (no cgroup field) or EINVAL (unknown flag).
///
/// # Safety
/// As `clone_fork`.
pub unsafe fn clone_into_cgroup(flags: libc::c_int, cgroup: RawFd) -> io::Result<libc::pid_t> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    /// The kernel's struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2).
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let args = CloneArgs {
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup as u64,
    };
    // SAFETY: `args` is a valid clone_args of the size given; no stack, so
    // the child returns here like a fork (the caller's promise, above).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    check(ret).map(|p| p as libc::pid_t)
}

/// Marks every fd from `first` up close-on-exec (so an exec can still report
/// failure over a socket, while nothing of ours reaches the new program).
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes numbers only; marking fds close-on-exec frees none.
    check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    })?;
    Ok(())
}

/// Every signal back to its default action, none blocked: what a program
/// expects at start. Ignored signals (SIGPIPE, which Rust ignores, or any
/// that ctrsh's own caller ignored) would otherwise stay ignored across
/// exec. The raw system call, since the C library refuses to touch the
/// real-time signals it keeps for itself (32 and 33).
pub fn reset_signals() -> io::Result<()> {
    // The kernel's struct sigaction on x86_64 and aarch64: handler,
    // flags, restorer, mask (8 bytes of 64 signals).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a valid struct of the kernel's layout; no old action asked.
        check(unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null::<KernelSigaction>(),
                8usize,
            )
        })?;
    }
    let none = nix::sys::signal::SigSet::empty();
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&none), None)
        .map_err(io::Error::from)
}

/// A close-on-exec copy of `fd` numbered `min` or above.
pub fn dup_from(fd: &impl AsFd, min: RawFd) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, min)
        .ctx(format_args!("duplicate fd {}", fd.as_fd().as_raw_fd()))
}

/// A read-only view of the file `dir`/`name`, through a private overlayfs
/// mount (no path reaches it) whose only layers are `dir` and `spare`:
/// overlayfs without an upper layer refuses every write, so a process that
/// runs from this view can never be used to write the file, and nothing is
/// copied. `spare` is any directory that neither contains `dir` nor lies
/// in it (overlayfs needs two layers when none is writable); the file is
/// always found in `dir`, the upper of the two.
pub fn overlay_view(dir: &Path, name: &str, spare: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // ':' separates layers and '\\' escapes, in a lowerdir list.
    let escape = |p: &Path| {
        p.as_os_str()
            .as_bytes()
            .iter()
            .flat_map(|&b| match b {
                b'\\' | b':' => vec![b'\\', b],
                _ => vec![b],
            })
            .collect::<Vec<u8>>()
    };
    let lower = [escape(dir), escape(spare)].join(&b':');
    let lower = Path::new(std::ffi::OsStr::from_bytes(&lower));
    let mnt = new_filesystem("overlay", &[("lowerdir", FsValue::Path(lower))])?;
    use rustix::fs::OFlags;
    // The fd keeps the detached mount alive.
    Ok(rustix::fs::openat(
        &mnt,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

/// Give `path` the extended attribute `name` with an empty value.
pub fn set_xattr(path: &std::path::Path, name: &str) -> io::Result<()> {
    Ok(rustix::fs::setxattr(
        path,
        name,
        &[],
        rustix::fs::XattrFlags::empty(),
    )?)
}

/// Whether `path` has the extended attribute `name`.
pub fn has_xattr(path: &std::path::Path, name: &str) -> bool {
    rustix::fs::getxattr_query(path, name).is_ok()
}

/// struct mount_attr of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const AT_RECURSIVE: libc::c_uint = 0x8000;

pub fn path_cstring(path: &std::path::Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// mount_setattr(dirfd, path, flags | AT_RECURSIVE, attr).
fn mount_setattr(
    dirfd: RawFd,
    path: &CString,
    flags: libc::c_uint,
    attr: &MountAttr,
) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated and `attr` a mount_attr of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags | AT_RECURSIVE,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// Make the mount at `path` and every mount below it read-only
/// (mount_setattr with AT_RECURSIVE: a plain bind remount only changes the
/// top mount).
pub fn make_tree_readonly(path: &std::path::Path) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr(libc::AT_FDCWD, &path_cstring(path)?, 0, &attr)
}

/// The id of the mount `fd` is on (`path` empty) or `path` resolves to:
/// its unique id (STATX_MNT_ID_UNIQUE, Linux 6.8), never given to another
/// mount, where the kernel has it, else the mount id of /proc's mountinfo
/// (STATX_MNT_ID), which a later mount can reuse once this one is gone.
pub fn mount_id(fd: BorrowedFd, path: &Path) -> io::Result<u64> {
    use rustix::fs::{AtFlags, StatxFlags};
    let unique = StatxFlags::from_bits_retain(libc::STATX_MNT_ID_UNIQUE);
    let reused = StatxFlags::MNT_ID;
    let flags = match path.as_os_str().is_empty() {
        true => AtFlags::EMPTY_PATH,
        false => AtFlags::NO_AUTOMOUNT,
    };
    let st = rustix::fs::statx(fd, path, flags, unique | reused)?;
    let got = StatxFlags::from_bits_retain(st.stx_mask);
    match (got.contains(unique), got.contains(reused)) {
        (true, _) | (false, true) => Ok(st.stx_mnt_id),
        (false, false) => Err(io::Error::from_raw_os_error(libc::ENOSYS)),
    }
}

/// Make the mount at `path` and every mount below it private: nothing
/// mounted under it propagates anywhere, nor does anything come in.
pub fn make_tree_private(path: &Path) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    mount_setattr(libc::AT_FDCWD, &path_cstring(path)?, 0, &attr)
}

/// A detached copy of the mount tree at `path`, with the mounts below it
/// (open_tree with OPEN_TREE_CLONE), for move_mount or as an overlay
/// layer: read-only with `readonly`; with `idmap`, idmapped through that
/// user namespace: a file owned by uid N on disk is seen as owned by
/// whoever N maps to in that namespace. Slave, so nothing mounted under it
/// reaches the host.
pub fn detached_tree(
    path: &Path,
    readonly: bool,
    idmap: Option<BorrowedFd>,
) -> io::Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags;
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )?;
    let attr = MountAttr {
        attr_set: if readonly { MOUNT_ATTR_RDONLY } else { 0 }
            | if idmap.is_some() { MOUNT_ATTR_IDMAP } else { 0 },
        attr_clr: 0,
        propagation: libc::MS_SLAVE,
        userns_fd: idmap.map_or(0, |fd| fd.as_raw_fd() as u64),
    };
    let empty = CString::default();
    mount_setattr(
        tree.as_raw_fd(),
        &empty,
        libc::AT_EMPTY_PATH as libc::c_uint,
        &attr,
    )?;
    Ok(tree)
}

/// The value of a filesystem option (`new_filesystem`): a string (a path),
/// an open file (FSCONFIG_SET_FD; overlayfs takes its layers so, also
/// detached mounts, since Linux 6.13), or none (a flag such as "volatile").
#[derive(Debug, Clone, Copy)]
pub enum FsValue<'a> {
    Path(&'a Path),
    Fd(BorrowedFd<'a>),
    Flag,
}

/// A new filesystem of type `fstype` with `options` (key, value), set in
/// order, as a detached mount (fsopen, fsconfig, fsmount). Unlike
/// mount(2), whose options must fit in one page, each option is passed on
/// its own. A failure carries the filesystem's own message, if it left one.
pub fn new_filesystem(fstype: &str, options: &[(&str, FsValue)]) -> io::Result<OwnedFd> {
    use rustix::mount;
    let context = mount::fsopen(fstype, mount::FsOpenFlags::FSOPEN_CLOEXEC)?;
    let explained = |e: rustix::io::Errno| {
        let e = io::Error::from(e);
        let mut buf = [0u8; 512];
        let n = match rustix::io::read(&context, &mut buf) {
            Ok(n) if n > 0 => n,
            _ => return e,
        };
        // Messages read "e overlay: <text>" (e: error, w: warning).
        let message = String::from_utf8_lossy(&buf[..n]);
        let message = message.get(2..).unwrap_or(&message).trim_end();
        io::Error::new(e.kind(), format!("{e} ({message})"))
    };
    for (key, value) in options {
        let set = match value {
            FsValue::Path(path) => mount::fsconfig_set_string(&context, *key, *path),
            FsValue::Fd(fd) => mount::fsconfig_set_fd(&context, *key, fd),
            FsValue::Flag => mount::fsconfig_set_flag(&context, *key),
        };
        set.map_err(explained)?;
    }
    mount::fsconfig_create(&context).map_err(explained)?;
    mount::fsmount(
        &context,
        mount::FsMountFlags::FSMOUNT_CLOEXEC,
        mount::MountAttrFlags::empty(),
    )
    .map_err(explained)
}

/// Attach the detached mount tree `tree` at `target` (move_mount).
pub fn attach_tree(tree: &OwnedFd, target: &std::path::Path) -> io::Result<()> {
    Ok(rustix::mount::move_mount(
        tree,
        "",
        rustix::fs::CWD,
        target,
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?)
}

/// For a forked child before exec (raw system calls only, nothing
/// allocated): a mount namespace of its own, which passes no mount back
/// to the host's (a slave of it), with the detached tree `tree` attached
/// at `target` there.
pub fn attach_tree_privately(tree: BorrowedFd, target: &std::ffi::CStr) -> io::Result<()> {
    use rustix::mount::{self, MountPropagationFlags};
    // nix's unshare and rustix's calls are raw system calls (an error is an
    // errno); C string paths need no allocation.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    mount::mount_change(
        c"/",
        MountPropagationFlags::REC | MountPropagationFlags::DOWNSTREAM,
    )?;
    mount::move_mount(
        tree,
        c"",
        rustix::fs::CWD,
        target,
        mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}
