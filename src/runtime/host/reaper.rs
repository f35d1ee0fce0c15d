//! Waiting for a process and remembering how it ended, shared by every
//! handle to it in this ctrsh process (Container and Process objects).

use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::exit_code;
use crate::runtime::host::interrupt;
use crate::runtime::launch::InitHandle;
use crate::runtime::sys;
use crate::runtime::sys::proc::Proc;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug)]
enum Exit {
    Exited,
    NotYet,
    Interrupted,
}

#[derive(Debug)]
pub struct Reaper {
    pub pid: i32,
    pidfd: OwnedFd,
    /// We are its parent, so waitpid can tell us its exit status.
    is_child: bool,
    status: Mutex<Option<i32>>,
    /// Where its exit code is kept for other ctrsh processes (a
    /// container's exit-code file), written before it is reaped.
    record: Mutex<Option<PathBuf>>,
}

/// Reapers of the children this process made and has not reaped, by pid:
/// a container loaded twice in one script shares one exit status, and
/// destroy can reap children whose handles the script dropped.
fn children() -> &'static Mutex<HashMap<i32, Arc<Reaper>>> {
    static CHILDREN: OnceLock<Mutex<HashMap<i32, Arc<Reaper>>>> = OnceLock::new();
    CHILDREN.get_or_init(Default::default)
}

impl Reaper {
    /// For a child we just made.
    pub fn child(pid: i32, pidfd: OwnedFd) -> Arc<Reaper> {
        let r = Arc::new(Reaper {
            pid,
            pidfd,
            is_child: true,
            status: Mutex::new(None),
            record: Mutex::new(None),
        });
        children().lock().unwrap().insert(pid, r.clone());
        r
    }

    /// For a process some other ctrsh process made (or one of ours, if it is
    /// still registered). The caller checked the pid's start time.
    pub fn attach(pid: i32) -> Result<Arc<Reaper>> {
        if let Some(r) = children().lock().unwrap().get(&pid) {
            return Ok(r.clone());
        }
        let pidfd = sys::pidfd_open(pid).ctx(format_args!("pidfd_open {pid}"))?;
        Ok(Arc::new(Reaper {
            pid,
            pidfd,
            is_child: false,
            status: Mutex::new(None),
            record: Mutex::new(None),
        }))
    }

    /// Write its exit code into `file` when it exits (see `exit_code::write`).
    pub fn record_exit_in(&self, file: PathBuf) {
        *self.record.lock().unwrap() = Some(file);
    }

    pub fn signal(&self, sig: i32) -> Result<()> {
        let gone = || Error::state(format!("process {} has exited", self.pid));
        if self.exited() {
            return Err(gone());
        }
        match sys::pidfd_send_signal(&self.pidfd, sig) {
            // It died since: a process killed through its cgroup leaves
            // cgroup.procs before its pidfd reports the exit.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(gone()),
            other => other.ctx(format_args!("send signal {sig} to pid {}", self.pid)),
        }
    }

    pub fn exited(&self) -> bool {
        self.exited_within(Duration::ZERO)
    }

    /// Whether it has exited, waiting up to `timeout` for it to.
    pub fn exited_within(&self, timeout: Duration) -> bool {
        self.reaped()
            || !matches!(
                self.poll_exit(Some(Instant::now() + timeout), false),
                Ok(Exit::NotYet)
            )
    }

    /// Whether it has exited by `deadline`; false also when an interrupt
    /// (see `interrupt`) came first.
    pub fn exits_by(&self, deadline: Instant) -> bool {
        self.reaped()
            || !matches!(
                self.poll_exit(Some(deadline), true),
                Ok(Exit::NotYet | Exit::Interrupted)
            )
    }

    /// Whether a wait reaped it already. The lock is let go at once: a
    /// thread that blocks in poll() never holds it, so another's look at
    /// the process is never held up by a wait.
    fn reaped(&self) -> bool {
        self.status.lock().unwrap().is_some()
    }

    /// Sleeps until it exits, `deadline` passes or (when `interruptible`)
    /// an interrupt is raised, whichever is first.
    fn poll_exit(&self, deadline: Option<Instant>, interruptible: bool) -> Result<Exit> {
        let interrupt_fd = interrupt::fd();
        if interruptible && interrupt::raised() {
            return Ok(Exit::Interrupted);
        }
        let mut fds = vec![(self.pidfd.as_fd(), libc::POLLIN)];
        if interruptible {
            fds.push((interrupt_fd, libc::POLLIN));
        }
        let ready = sys::poll(&fds, deadline).ctx("wait for the process")?;
        Ok(if ready[0] != 0 {
            Exit::Exited
        } else if ready.len() > 1 && ready[1] != 0 {
            Exit::Interrupted
        } else {
            Exit::NotYet
        })
    }

    /// Block until it exits; the exit code, 128+N when killed by signal N.
    /// An interrupt (see `interrupt`) ends the wait early with an
    /// `Interrupted` error.
    pub fn wait(&self) -> Result<i32> {
        self.wait_until_exit(true)
    }

    /// SIGKILL, and wait for the end, deaf to interrupts: what undoes a
    /// process that failed part-way. Errors are dropped: it may have
    /// exited (and been reaped) already.
    pub fn kill_and_reap(&self) {
        let _ = self.signal(libc::SIGKILL);
        let _ = self.wait_uninterrupted();
    }

    /// Like `wait`, deaf to interrupts: for a process that is about to exit
    /// (killed, or done with its part).
    pub fn wait_uninterrupted(&self) -> Result<i32> {
        self.wait_until_exit(false)
    }

    fn wait_until_exit(&self, interruptible: bool) -> Result<i32> {
        if let Some(code) = *self.status.lock().unwrap() {
            return Ok(code);
        }
        // Without the lock (see `reaped`); two waiters both see the exit,
        // and the lock below lets one reap while the other reads its code.
        loop {
            match self.poll_exit(None, interruptible)? {
                Exit::Exited => break,
                Exit::Interrupted if interrupt::raised() => {
                    return Err(Error::new(ErrorKind::Interrupted, "interrupted"))
                }
                // Raised and cleared since it was looked at.
                _ => continue,
            }
        }
        if !self.is_child {
            return self.zombie_exit_code();
        }
        let mut status = self.status.lock().unwrap();
        if let Some(code) = *status {
            return Ok(code);
        }
        // Seen without reaping it, so that the code is recorded before the
        // process is gone: a ctrsh process that sees it gone finds it.
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
        let code = loop {
            match waitid(Id::Pid(Pid::from_raw(self.pid)), flags) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(format_args!("waitid {}", self.pid)),
            }
        };
        if let Some(file) = self.record.lock().unwrap().as_deref() {
            // The state dir may be gone (destroyed meanwhile).
            let _ = exit_code::write(file, code);
        }
        loop {
            match waitpid(Pid::from_raw(self.pid), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => other.ctx(format_args!("waitpid {}", self.pid))?,
            };
            break;
        }
        *status = Some(code);
        children().lock().unwrap().remove(&self.pid);
        Ok(code)
    }

    /// The exit code of a process of another ctrsh process that has exited
    /// and not yet been reaped, from /proc/<pid>/stat. The pidfd still
    /// reaching it after the read proves the pid was not reused meanwhile.
    fn zombie_exit_code(&self) -> Result<i32> {
        let code = Proc::host().stat(self.pid).and_then(|s| s.exit_code());
        match code {
            Some(code) if sys::pidfd_send_signal(&self.pidfd, 0).is_ok() => Ok(code),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "process {} exited, but its exit status went to the ctrsh process that created it",
                    self.pid
                ),
            )),
        }
    }

    /// Wait for it to exit (it was killed), reaping meanwhile every other
    /// child of ours that exits: a zombie in a container's pid namespace
    /// keeps the namespace's init from finishing its exit, and processes
    /// we started in the container are our children. Sleeps in one poll()
    /// on the pidfds of all of them.
    pub fn wait_gone_reaping(&self) -> Result<()> {
        poll_reaping(self.pidfd.as_fd(), self.pid)?;
        self.wait_gone()
    }

    /// Wait for a killed process to exit, ignoring the status when it is
    /// not ours to have.
    pub fn wait_gone(&self) -> Result<()> {
        match self.wait_uninterrupted() {
            Err(e) if e.kind == ErrorKind::Unsupported => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// The handle launch/ gives the init it clones.
impl InitHandle for Arc<Reaper> {
    fn adopt(pid: i32, pidfd: OwnedFd) -> Self {
        Reaper::child(pid, pidfd)
    }

    fn kill_and_reap(&self) {
        Reaper::kill_and_reap(self)
    }

    fn wait_uninterrupted(&self) -> Result<i32> {
        Reaper::wait_uninterrupted(self)
    }
}

/// Waits until the process of `pidfd` has exited, reaping meanwhile every
/// child of ours but `pid` that exits. Sleeps in one poll() on the pidfds
/// of all of them.
fn poll_reaping(pidfd: BorrowedFd, pid: i32) -> Result<()> {
    loop {
        let others: Vec<Arc<Reaper>> = children()
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.pid != pid)
            .cloned()
            .collect();
        let mut fds = vec![(pidfd, libc::POLLIN)];
        fds.extend(others.iter().map(|r| (r.pidfd.as_fd(), libc::POLLIN)));
        let ready = sys::poll(&fds, None).ctx("wait for the process")?;
        for (other, _) in others.iter().zip(&ready[1..]).filter(|(_, r)| **r != 0) {
            other.wait_uninterrupted()?;
        }
        if ready[0] != 0 {
            return Ok(());
        }
    }
}

/// Waits for `child`, a program ctrsh runs (CRIU), reaping meanwhile every
/// other child of ours that exits: a process ctrsh started in a container
/// stays a zombie until reaped once it is killed (as a dump that stops the
/// container kills them), and a zombie keeps its pid namespace's init
/// from exiting, which `child` may be waiting for.
pub fn wait_reaping(child: &mut Child) -> Result<ExitStatus> {
    let pid = child.id() as i32;
    let pidfd = sys::pidfd_open(pid).ctx(format_args!("pidfd_open {pid}"))?;
    poll_reaping(pidfd.as_fd(), pid)?;
    child.wait().ctx(format_args!("wait for pid {pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::mpsc;

    /// The system call a thread of this process is blocked in, if any
    /// (the first field of /proc/self/task/TID/syscall; "running" when it
    /// runs).
    fn syscall_of(tid: i32) -> Option<i64> {
        let line = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
        line.split_whitespace().next()?.parse().ok()
    }

    /// A look at a process (`exited`) is never held up by another thread
    /// blocked in a wait for it, and the wait then gets the exit code.
    #[test]
    fn a_look_is_not_held_up_by_a_wait() {
        // Reaped by the Reaper's wait: std's Child is dropped at once.
        let pid = Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("spawn sleep")
            .id() as i32;
        let reaper = Reaper::child(pid, sys::pidfd_open(pid).expect("pidfd_open"));
        let (tid_tx, tid_rx) = mpsc::channel();
        let waiter = {
            let reaper = reaper.clone();
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid_tx.send(unsafe { libc::gettid() }).unwrap();
                reaper.wait_uninterrupted()
            })
        };
        // Look only once the waiter sleeps in poll() on the pidfd: a look
        // before would not meet the wait at all.
        let tid = tid_rx.recv().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(syscall_of(tid), Some(n) if n == libc::SYS_poll || n == libc::SYS_ppoll) {
            assert!(
                Instant::now() < deadline,
                "the waiter never blocked in poll()"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // The look runs in a thread of its own, so that a look held up
        // fails the test rather than hanging it.
        let (tx, rx) = mpsc::channel();
        {
            let reaper = reaper.clone();
            std::thread::spawn(move || tx.send(reaper.exited()));
        }
        let look = rx.recv_timeout(Duration::from_secs(5));
        // Not through the reaper, whose look would wait too if the look
        // above did.
        nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL)
            .expect("kill the child");
        assert_eq!(waiter.join().unwrap().expect("wait"), 128 + libc::SIGKILL);
        assert_eq!(look, Ok(false), "the look waited for the wait");
        assert!(reaper.exited());
    }
}
