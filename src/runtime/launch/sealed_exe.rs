//! The binary every init is exec'd from: a read-only copy of ctrsh, so a
//! container can never write to the host's binary through /proc/<init>/exe
//! (CVE-2019-5736).
//!
//! The copy is a sealed memfd, asked for with MFD_EXEC: where
//! vm.memfd_noexec is 1 (Linux 6.3 and later) a memfd made without it is
//! not executable. A kernel older than the flag refuses it (EINVAL) and
//! gets none. Where the sysctl is 2, executable memfds are refused
//! (EACCES): the copy is then an unlinked file in the temp dir that no fd
//! can write, as runc falls back to. Such a file cannot be sealed, so it
//! serves one init only (see spawn.rs).

use crate::runtime::error::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A read-only copy of our binary.
pub struct Copy {
    pub fd: OwnedFd,
    /// A sealed memfd, which nothing can change.
    pub sealed: bool,
}

/// A read-only copy of the file at `path` (our own binary).
pub fn copy(path: &Path) -> Result<Copy> {
    let mut src = File::open(path).ctx(format_args!("open {}", path.display()))?;
    match executable_memfd() {
        Ok(memfd) => {
            let mut dst = File::from(memfd.try_clone().ctx("dup memfd")?);
            io::copy(&mut src, &mut dst).ctx("copy the ctrsh binary into a memfd")?;
            let seals = SealFlag::F_SEAL_SEAL
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE;
            fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals)).ctx("seal the init binary memfd")?;
            Ok(Copy {
                fd: memfd,
                sealed: true,
            })
        }
        Err(Errno::EACCES | Errno::EPERM) => Ok(Copy {
            fd: unlinked_copy(&mut src, &std::env::temp_dir())?,
            sealed: false,
        }),
        Err(e) => Err(e).ctx("memfd_create for the init binary"),
    }
}

/// A memfd for the copy, executable wherever the kernel knows MFD_EXEC.
fn executable_memfd() -> nix::Result<OwnedFd> {
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    match memfd_create(c"ctrsh", flags | MFdFlags::from_bits_retain(libc::MFD_EXEC)) {
        Err(Errno::EINVAL) => memfd_create(c"ctrsh", flags),
        other => other,
    }
}

/// The copy in an unlinked file (O_TMPFILE) in `dir`, made read-only and
/// reopened read-only, so that no fd can write it; while an init runs it,
/// the kernel refuses to open it for writing (ETXTBSY).
fn unlinked_copy(src: &mut File, dir: &Path) -> Result<OwnedFd> {
    let what = format!(
        "an unlinked copy of ctrsh in {} (vm.memfd_noexec refuses an executable memfd; \
         TMPDIR names another directory)",
        dir.display()
    );
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o700)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .open(dir)
        .ctx(format_args!("create {what}"))?;
    io::copy(src, &mut file).ctx(format_args!("write {what}"))?;
    file.set_permissions(Permissions::from_mode(0o500))
        .ctx(format_args!("make {what} read-only"))?;
    let readonly = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ctx(format_args!("reopen {what}"))?;
    Ok(readonly.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::process::Command;

    /// Runs `fd` as `true` would run and returns its exit status. Another
    /// test thread's fork can briefly hold a copy of a writable fd to the
    /// file while it is written (until that child execs): exec then fails
    /// with ETXTBSY, and is tried again.
    fn run(fd: &OwnedFd) -> std::process::ExitStatus {
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        for _ in 0..100 {
            match Command::new(&path).status() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                status => return status.expect("exec the copy"),
            }
        }
        panic!("exec the copy: ETXTBSY for a second");
    }

    #[test]
    fn the_memfd_copy_is_sealed_and_runs() {
        let Copy { fd, sealed } = copy(Path::new("/bin/true")).unwrap();
        assert!(sealed);
        let seals = fcntl(&fd, FcntlArg::F_GET_SEALS).unwrap();
        assert_ne!(seals & libc::F_SEAL_WRITE, 0, "seals {seals:#x}");
        assert!(run(&fd).success());
    }

    /// Set by `copies_run_under_memfd_noexec` in the copy of this test it
    /// runs in a pid namespace of its own: the vm.memfd_noexec to set there.
    const NOEXEC_ENV: &str = "CTRSH_TEST_MEMFD_NOEXEC";

    /// vm.memfd_noexec is per pid namespace (Linux 6.3): at 1 a memfd made
    /// without MFD_EXEC cannot be exec'd, at 2 an executable memfd is
    /// refused. The test runs itself again in a new pid namespace, where it
    /// sets the level without touching the host's, and the copy must run
    /// under each: a sealed memfd at 1, the unlinked copy at 2.
    #[test]
    fn copies_run_under_memfd_noexec() {
        let test = "copies_run_under_memfd_noexec";
        if let Ok(level) = std::env::var(NOEXEC_ENV) {
            std::fs::write("/proc/sys/vm/memfd_noexec", &level).expect("set vm.memfd_noexec");
            let Copy { fd, sealed } = copy(Path::new("/bin/true")).unwrap();
            assert_eq!(sealed, level == "1", "level {level}");
            assert!(run(&fd).success(), "level {level}");
            return;
        }
        use crate::test_host::{requires, skip, Need};
        if !requires(test, &[Need::Root, Need::Program("unshare")]) {
            return;
        }
        if !Path::new("/proc/sys/vm/memfd_noexec").exists() {
            skip(test, "the kernel has no vm.memfd_noexec (Linux 6.3)");
            return;
        }
        let me = std::env::current_exe().unwrap();
        for level in ["1", "2"] {
            let out = Command::new("unshare")
                .args(["--pid", "--fork", "--kill-child", "--"])
                .arg(&me)
                .args(["--exact", "--nocapture", "--test-threads=1"])
                .arg(format!("runtime::launch::sealed_exe::tests::{test}"))
                .env(NOEXEC_ENV, level)
                .output()
                .expect("run unshare");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "level {level}: {text}");
            assert!(text.contains("1 passed"), "level {level}: {text}");
        }
    }

    #[test]
    fn the_unlinked_copy_is_read_only_and_runs() {
        let mut src = File::open("/bin/true").unwrap();
        let dir = std::env::temp_dir();
        let fd = unlinked_copy(&mut src, &dir).unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let flags = fcntl(&fd, FcntlArg::F_GETFL).unwrap();
        assert_eq!(flags & libc::O_ACCMODE, libc::O_RDONLY);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o500);
        assert_eq!(meta.nlink(), 0, "the copy has a name");
        assert!(run(&fd).success());
    }
}
