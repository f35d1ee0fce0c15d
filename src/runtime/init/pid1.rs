//! The `init` option: ctrsh's init stays as the container's PID 1, as
//! `docker run --init` puts tini there, rather than becoming the first
//! process. It forwards the signals it gets to that process, reaps the
//! orphans the pid namespace hands it, and exits as the first process did,
//! once it has written that exit code into the container's state (see
//! host/exit_code.rs). It is the init that runs already, from the
//! read-only view of ctrsh (launch/): nothing of the host is executed.

use crate::runtime::error::{Context, Result};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

/// Fork the first process: returns in the child, which goes on to exec it
/// (exec_process.rs unblocks the signals blocked here); the parent stays
/// PID 1 and never returns.
pub fn fork_first(exit_record: Option<OwnedFd>) -> Result<()> {
    // Blocked before the fork, so that none is lost before `supervise`
    // waits for them.
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None).ctx("init: block signals")?;
    // SAFETY: the init runs one thread; the child only goes on to exec.
    match unsafe { fork() }.ctx("init: fork the first process")? {
        ForkResult::Child => Ok(()),
        ForkResult::Parent { child } => supervise(child, exit_record),
    }
}

fn supervise(child: Pid, exit_record: Option<OwnedFd>) -> ! {
    let keep = exit_record.as_ref().map_or(-1, |f| f.as_raw_fd());
    detach(keep);
    // Processes of the container, root among them, may not ptrace us or
    // open our /proc files (as runc's init makes itself).
    let _ = nix::sys::prctl::set_dumpable(false);
    loop {
        let Ok(sig) = SigSet::all().wait() else {
            continue;
        };
        if sig != Signal::SIGCHLD {
            // Gone already: its exit is the next SIGCHLD.
            let _ = kill(child, sig);
            continue;
        }
        if let Some(code) = reap(child) {
            if let Some(mut file) = exit_record.map(std::fs::File::from) {
                let _ = writeln!(file, "{code}");
            }
            std::process::exit(code);
        }
    }
}

/// Reap every child that has exited; the first process's exit code
/// (128+N when signal N ended it) once it is among them.
fn reap(first: Pid) -> Option<i32> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == first => return Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == first => return Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return None,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Hold nothing of the creator's: stdio goes to /dev/null and every other
/// fd but `keep` is closed (the channels, the first process's stdio, whose
/// readers see EOF when that process ends, not when we do).
fn detach(keep: i32) {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    let ranges = match keep {
        -1 => vec![(3, u32::MAX)],
        fd => vec![(3, fd as u32 - 1), (fd as u32 + 1, u32::MAX)],
    };
    for (first, last) in ranges.into_iter().filter(|(a, b)| a <= b) {
        // SAFETY: close_range takes numbers only; nothing here uses the
        // fds it closes again (OwnedFds of them are forgotten by exit).
        unsafe { libc::close_range(first, last, 0) };
    }
}
