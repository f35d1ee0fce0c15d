//! The parent side of starting `ctrsh init`: clone into new namespaces (or
//! into a running container's pid namespace), write the user namespace's id
//! maps, and exec a read-only view (or sealed copy) of our own binary.

use crate::runtime::config::IdMap;
use crate::runtime::error::{Context, Result};
use crate::runtime::init::{CHANNEL_FD, LISTEN_FD};
use crate::runtime::launch::channel::{self, ParentEnd};
use crate::runtime::launch::sealed_exe;
use crate::runtime::launch::InitHandle;
use crate::runtime::sys;
use crate::runtime::trace;
use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::OnceLock;

/// The environment variable naming the binary to run as init, for library
/// users whose own executable is not ctrsh (tests). Default: /proc/self/exe.
pub const INIT_BINARY_ENV: &str = "CTRSH_INIT_BINARY";

/// The ctrsh binary an init is exec'd from, made when a container init is
/// first started, so a container can never write to the host's binary
/// through /proc/<init>/exe (CVE-2019-5736). Preferably a view of it
/// through a read-only overlayfs that no path reaches, which copies
/// nothing (as runc 1.2), made once per process. Where that cannot be
/// made (no privilege to mount, the binary replaced since we started,
/// `spare` overlapping the binary's directory), a copy (sealed_exe.rs):
/// the process's one sealed memfd, or where memfds cannot be executable a
/// fresh unlinked copy for this init alone, which cannot be sealed: a
/// container that writes to its copy never reaches another's.
enum Exe {
    Shared(&'static OwnedFd),
    Own(OwnedFd),
}

fn init_exe(spare: &Path) -> Result<Exe> {
    static SHARED: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = SHARED.get() {
        return Ok(Exe::Shared(fd));
    }
    let path = std::env::var_os(INIT_BINARY_ENV).unwrap_or_else(|| "/proc/self/exe".into());
    let path = Path::new(&path);
    // The real path (a replaced binary's link ends in " (deleted)", which
    // then names no file: the copy from /proc/self/exe follows).
    let view = std::fs::canonicalize(path).ok().and_then(|real| {
        let (dir, name) = (real.parent()?, real.file_name()?.to_str()?);
        sys::overlay_view(dir, name, spare).ok()
    });
    if let Some(view) = view {
        trace::step("spawn: init binary: overlay view made");
        let fd = high_fd(&view)?;
        return Ok(Exe::Shared(SHARED.get_or_init(|| fd)));
    }
    let copy = sealed_exe::copy(path)?;
    trace::step("spawn: init binary: copy made");
    let fd = high_fd(&copy.fd)?;
    Ok(match copy.sealed {
        true => Exe::Shared(SHARED.get_or_init(|| fd)),
        false => Exe::Own(fd),
    })
}

impl Exe {
    fn fd(&self) -> &OwnedFd {
        match self {
            Exe::Shared(fd) => fd,
            Exe::Own(fd) => fd,
        }
    }
}

/// How to start the init.
pub struct Spawn<'a> {
    /// CLONE_NEW* flags of the namespaces to create.
    pub clone_flags: libc::c_int,
    /// A pid namespace to put the init in (joined by path, or a running
    /// container's for exec).
    pub pid_ns: Option<&'a File>,
    /// The socket a created container's init waits for "start" on.
    pub listener: Option<&'a OwnedFd>,
    /// uid and gid maps, when the init gets a new user namespace.
    pub id_maps: Option<(&'a [IdMap], &'a [IdMap])>,
    /// The factory's state root: the spare layer of the overlay view of
    /// the init binary (see init_exe).
    pub state_root: &'a Path,
    /// The container's cgroup2 directory (CgroupManager::open_unified):
    /// the init is cloned into it where the kernel can.
    pub cgroup: Option<&'a OwnedFd>,
}

pub struct Launched<H> {
    /// The parent's handle to the init (see `InitHandle`).
    pub init: H,
    pub chan: ParentEnd,
    /// The init was cloned into `Spawn::cgroup`: no cgroup.procs write
    /// there (CgroupManager::add_process).
    pub in_cgroup: bool,
}

/// A copy of `fd` numbered at least 10, so the child's dup2 onto 0-4 can
/// never clobber another fd it still needs.
fn high_fd(fd: &impl AsFd) -> Result<OwnedFd> {
    sys::dup_from(fd, 10).map_err(|e| e.context("duplicate an fd for the init"))
}

pub fn spawn<H: InitHandle>(spec: Spawn) -> Result<Launched<H>> {
    let exe = init_exe(spec.state_root)?;
    trace::step("spawn: init binary ready");
    let (parent_chan, child_chan) = channel::pair()?;
    let child_chan = high_fd(child_chan.fd())?;
    let devnull = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx("open /dev/null")?;
    let devnull = high_fd(&devnull)?;
    let listener = spec.listener.map(high_fd).transpose()?;
    let sync = match spec.id_maps {
        Some(_) => {
            Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx("pipe for id-map sync")?)
        }
        None => None,
    };
    let fds = ChildFds {
        sync: sync.as_ref().map(|(r, w)| (r.as_raw_fd(), w.as_raw_fd())),
        chan: child_chan.as_raw_fd(),
        listener: listener.as_ref().map(|l| l.as_raw_fd()),
        devnull: devnull.as_raw_fd(),
        exe: exe.fd().as_raw_fd(),
        trace: trace::enabled(),
    };
    // A pid namespace applies to the children of the thread that enters
    // it: a thread of its own enters it and clones, so no thread of ours
    // ever stays in it (a later fork of ours cannot land in the container).
    let cgroup = spec.cgroup.map(|c| c.as_raw_fd());
    let (pid, in_cgroup) = match spec.pid_ns {
        None => fork_init(spec.clone_flags, cgroup, fds)?,
        Some(ns) => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(ns, CloneFlags::CLONE_NEWPID)
                        .ctx("enter the container's pid namespace")?;
                    fork_init(spec.clone_flags, cgroup, fds)
                })
                .join()
                .expect("the thread that clones into the pid namespace panicked")
        })?,
    };
    trace::step(match in_cgroup {
        true => "spawn: init cloned into its cgroup2 directory",
        false => "spawn: init cloned",
    });
    let pidfd = match sys::pidfd_open(pid) {
        Ok(pidfd) => pidfd,
        Err(e) => {
            // Not left a zombie (it would exit by itself, as its end of the
            // channel closes, but never be reaped).
            sys::kill_and_reap_child(pid);
            return Err(e).ctx("pidfd_open the init");
        }
    };
    let init = H::adopt(pid, pidfd);
    drop(child_chan);
    if let (Some((read, write)), Some((uid, gid))) = (sync, spec.id_maps) {
        drop(read);
        let mapped =
            crate::runtime::launch::namespaces::write_id_maps(pid, uid, gid).and_then(|()| {
                nix::unistd::write(&write, b"1").ctx("release the init after id mapping")?;
                Ok(())
            });
        if let Err(e) = mapped {
            init.kill_and_reap();
            return Err(e);
        }
    }
    Ok(Launched {
        init,
        chan: parent_chan,
        in_cgroup,
    })
}

/// The fds the cloned child puts in place (see `child`).
#[derive(Clone, Copy)]
struct ChildFds {
    /// The pipe (read end, write end) the parent writes to once the id maps
    /// are in.
    sync: Option<(RawFd, RawFd)>,
    chan: RawFd,
    listener: Option<RawFd>,
    devnull: RawFd,
    /// The binary to exec (see init_exe).
    exe: RawFd,
    /// Hand the init our stderr at TRACE_FD, and CTRSH_TRACE=1.
    trace: bool,
}

/// Clone (with `flags`) a child that execs the init: its pid, and whether
/// it was cloned into `cgroup` (a cgroup2 directory's fd).
fn fork_init(flags: libc::c_int, cgroup: Option<RawFd>, fds: ChildFds) -> Result<(i32, bool)> {
    let argv = [c"ctrsh".as_ptr(), c"init".as_ptr(), std::ptr::null()];
    let trace_env = format!("{}=1\0", trace::ENV);
    let envp = match fds.trace {
        true => [trace_env.as_ptr().cast(), std::ptr::null()],
        false => [std::ptr::null::<libc::c_char>(); 2],
    };
    // Any refusal of the clone into the cgroup (an old kernel's ENOSYS,
    // E2BIG or EINVAL, or the cgroup's own) falls back to a plain clone, as
    // crun does: the cgroup.procs write that follows then reports what is
    // wrong with the cgroup in its own words.
    let into_cgroup = |dir| {
        // SAFETY: the child only makes raw system calls until it execs.
        unsafe { sys::clone_into_cgroup(flags, dir) }.ok()
    };
    let plain = || {
        // SAFETY: as above.
        unsafe { sys::clone_fork(flags) }.map(|pid| (pid, false))
    };
    let cloned = cgroup
        .and_then(into_cgroup)
        .map_or_else(plain, |pid| Ok((pid, true)));
    if let Ok((0, _)) = cloned {
        // SAFETY: in the cloned child; argv and envp are NULL-terminated
        // arrays of C strings that outlive the call (it never returns).
        unsafe { child(fds, argv.as_ptr(), envp.as_ptr()) }
    }
    cloned.ctx("clone the container init")
}

/// The cloned child: wait for the id maps, become the namespace's root,
/// put the channel, listener and /dev/null in place, exec the init.
unsafe fn child(
    fds: ChildFds,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> ! {
    // SAFETY: only raw system calls on fds this process owns and on the
    // caller's argv and envp, as a child of a multi-threaded parent must.
    unsafe {
        let ChildFds {
            sync,
            chan,
            listener,
            devnull,
            exe,
            trace,
        } = fds;
        if trace && libc::dup2(2, trace::TRACE_FD) < 0 {
            libc::_exit(1);
        }
        if let Some((fd, write_end)) = sync {
            // Our copy of the write end closed, a parent that dies before it
            // writes ends the read (EOF) instead of leaving us blocked forever.
            libc::close(write_end);
            let mut b = 0u8;
            if libc::read(fd, (&mut b as *mut u8).cast(), 1) != 1 {
                libc::_exit(1);
            }
            // Root of the new user namespace, so exec keeps our capabilities.
            if libc::syscall(libc::SYS_setresgid, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_setresuid, 0, 0, 0) != 0
            {
                libc::_exit(1);
            }
        }
        let moves = [(chan, CHANNEL_FD), (devnull, 0), (devnull, 1), (devnull, 2)];
        for (from, to) in moves {
            if libc::dup2(from, to) < 0 {
                libc::_exit(1);
            }
        }
        if let Some(l) = listener {
            if libc::dup2(l, LISTEN_FD) < 0 {
                libc::_exit(1);
            }
        }
        libc::syscall(
            libc::SYS_execveat,
            exe,
            c"".as_ptr(),
            argv,
            envp,
            libc::AT_EMPTY_PATH,
        );
        libc::_exit(127)
    }
}

/// Make this process the reaper of its orphaned descendants, so a process
/// forked by an exec init (which then exits) becomes our child.
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).ctx("become a child subreaper")
}
