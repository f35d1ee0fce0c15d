//! A process to run in a container: its spec, and the handle to it once it runs.

use crate::runtime::config::{check_spec, CheckedProcess, ProcessSpec, Stdio};
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::host::reaper::Reaper;
use crate::runtime::host::terminal;
use crate::runtime::suggest::did_you_mean;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A process handle: made from a spec, given to `Container::start`, then waited on.
#[derive(Debug)]
pub struct Process {
    process: CheckedProcess,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    reaper: Arc<Reaper>,
    stdout: Capture,
    stderr: Capture,
    /// The pty master of a process with a terminal, until waited or attached.
    console: Option<OwnedFd>,
}

/// Output of a "pipe" stream: a reader thread while the process runs, the
/// bytes once it has been waited for.
#[derive(Debug)]
enum Capture {
    None,
    Reading(JoinHandle<Vec<u8>>),
    Done(Vec<u8>),
}

impl Capture {
    fn finish(&mut self) {
        if let Capture::Reading(_) = self {
            if let Capture::Reading(h) = std::mem::replace(self, Capture::None) {
                *self = Capture::Done(h.join().unwrap_or_default());
            }
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Capture::Done(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// The fds handed to the container for a process's stdio, and the
/// captures that read its pipes.
#[derive(Debug)]
pub(crate) struct StdioFds {
    pub fds: Vec<OwnedFd>,
    stdout: Capture,
    stderr: Capture,
}

impl StdioFds {
    /// For a process whose stdio another ctrsh process opened.
    pub fn none() -> StdioFds {
        StdioFds {
            fds: Vec::new(),
            stdout: Capture::None,
            stderr: Capture::None,
        }
    }
}

impl Process {
    /// Checks the spec (see `check_spec`).
    pub fn new(spec: ProcessSpec) -> Result<Process> {
        check_spec(spec).map(Process::from_checked)
    }

    pub(crate) fn from_checked(process: CheckedProcess) -> Process {
        Process {
            process,
            running: None,
        }
    }

    pub(crate) fn checked(&self) -> &CheckedProcess {
        &self.process
    }

    pub fn spec(&self) -> &ProcessSpec {
        &self.process.spec
    }

    /// Host pid once started.
    pub fn pid(&self) -> Option<i32> {
        self.running.as_ref().map(|r| r.reaper.pid)
    }

    pub(crate) fn is_started(&self) -> bool {
        self.running.is_some()
    }

    /// Open what the spec's stdio names, ready to pass to the init: stdin,
    /// stdout, stderr, then copies of the caller's `preserve_fds`.
    pub(crate) fn open_stdio(&self) -> Result<StdioFds> {
        let mut stdio = if self.process.spec.terminal {
            // The init gives the process its pty instead; these are unused.
            let null = || open_stream(&Stdio::Null, 0).map(|(fd, _)| fd);
            StdioFds {
                fds: vec![null()?, null()?, null()?],
                stdout: Capture::None,
                stderr: Capture::None,
            }
        } else {
            let (stdin, _) = open_stream(&self.process.spec.stdin, 0)?;
            let (stdout, out) = open_stream(&self.process.spec.stdout, 1)?;
            let (stderr, err) = open_stream(&self.process.spec.stderr, 2)?;
            StdioFds {
                fds: vec![stdin, stdout, stderr],
                stdout: out,
                stderr: err,
            }
        };
        for fd in 3..3 + self.process.spec.preserve_fds as i32 {
            // SAFETY: only duplicated; a closed fd makes dup fail (EBADF).
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let copy = borrowed
                .try_clone_to_owned()
                .ctx(format_args!("preserve_fds: fd {fd} of ctrsh"))?;
            stdio.fds.push(copy);
        }
        Ok(stdio)
    }

    /// The pty master of a process with a terminal, to hand to someone else
    /// (an OCI console socket); `wait` then no longer copies its output.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.running.as_mut().and_then(|r| r.console.take())
    }

    /// Record that the process runs, under `reaper`, with these captures.
    pub(crate) fn started(
        &mut self,
        reaper: Arc<Reaper>,
        stdio: StdioFds,
        console: Option<OwnedFd>,
    ) {
        self.running = Some(Running {
            reaper,
            stdout: stdio.stdout,
            stderr: stdio.stderr,
            console,
        });
    }

    fn running(&self) -> Result<&Running> {
        self.running.as_ref().ok_or_else(|| {
            Error::state("the process has not been started (use container.start(p))")
        })
    }

    /// Exit code; 128+N when killed by signal N. Waiting twice returns the same code.
    /// A terminal's output goes where `stdout` says while we wait.
    /// A terminal process whose output goes to ctrsh's own stdout, waited
    /// for with a terminal on ctrsh's stdin, gets that terminal (`attach`):
    /// it may be reading input, which nothing else could give it.
    pub fn wait(&mut self) -> Result<i32> {
        self.running()?;
        let r = self.running.as_mut().expect("checked above");
        if r.console.is_some()
            && self.process.spec.stdout == Stdio::Inherit
            && std::io::stdin().is_terminal()
        {
            return self.attach();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let drain = r
            .console
            .take()
            .map(|m| terminal::drain(m, self.process.spec.stdout.clone(), stop.clone()));
        let code = r.reaper.wait();
        stop.store(true, Ordering::Relaxed);
        if let Some(d) = drain {
            let out = d.join().unwrap_or_default();
            if self.process.spec.stdout == Stdio::Pipe {
                r.stdout = Capture::Done(out);
            }
        }
        let code = code?;
        r.stdout.finish();
        r.stderr.finish();
        Ok(code)
    }

    /// Hand the user's terminal to a process started with `terminal: true`
    /// until it exits; returns its exit code.
    pub fn attach(&mut self) -> Result<i32> {
        let r = self
            .running
            .as_mut()
            .ok_or_else(|| Error::state("the process has not been started"))?;
        let console = r.console.take().ok_or_else(|| {
            Error::state("attach: the process has no terminal (start it with terminal: true), or was already waited for")
        })?;
        terminal::attach(&console, &r.reaper)
    }

    pub fn signal(&self, sig: i32) -> Result<()> {
        self.running()?.reaper.signal(sig)
    }

    /// SIGKILL, and wait for the end (deaf to interrupts).
    pub fn kill(&mut self) {
        if let Some(r) = &self.running {
            r.reaper.kill_and_reap();
        }
    }

    /// Captured output (stdout: "pipe") once waited for, as it came.
    pub fn stdout(&self) -> Option<&[u8]> {
        self.running.as_ref().and_then(|r| r.stdout.bytes())
    }

    pub fn stderr(&self) -> Option<&[u8]> {
        self.running.as_ref().and_then(|r| r.stderr.bytes())
    }
}

/// The fd for one stream (`target` 0, 1 or 2) and, for a pipe, its capture.
fn open_stream(stdio: &Stdio, target: i32) -> Result<(OwnedFd, Capture)> {
    let name = ["stdin", "stdout", "stderr"][target as usize];
    Ok(match stdio {
        Stdio::Inherit => (inherit(target, name)?, Capture::None),
        Stdio::Null => (
            open_file(&PathBuf::from("/dev/null"), target, name)?.into(),
            Capture::None,
        ),
        Stdio::File(path) => (open_file(path, target, name)?.into(), Capture::None),
        Stdio::Pipe => {
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .ctx(format_args!("{name}: create a pipe"))?;
            let handle = std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = File::from(read).read_to_end(&mut buf);
                buf
            });
            (write, Capture::Reading(handle))
        }
    })
}

/// A copy of this process's own fd `target` (0, 1 or 2). An output that
/// is a regular file is switched to appending (on the open file, which
/// ctrsh shares), as output files are opened (see `open_file`): ctrsh's
/// and the process's writes then never overwrite each other, and CRIU can
/// restore the process onto another file.
pub(crate) fn inherit(target: i32, name: &str) -> Result<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use std::os::fd::AsFd;
    let own = match target {
        0 => std::io::stdin().as_fd().try_clone_to_owned(),
        1 => std::io::stdout().as_fd().try_clone_to_owned(),
        _ => std::io::stderr().as_fd().try_clone_to_owned(),
    };
    let fd = own.ctx(format_args!("{name}: duplicate ctrsh's own {name}"))?;
    let regular =
        nix::sys::stat::fstat(&fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG);
    if target > 0 && regular {
        let flags = OFlag::from_bits_retain(
            fcntl(&fd, FcntlArg::F_GETFL).ctx(format_args!("{name}: read its flags"))?,
        );
        if flags & OFlag::O_ACCMODE != OFlag::O_RDONLY {
            fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_APPEND))
                .ctx(format_args!("{name}: make ctrsh's own {name} append"))?;
        }
    }
    Ok(fd)
}

fn open_file(path: &PathBuf, target: i32, name: &str) -> Result<File> {
    let mut opts = OpenOptions::new();
    if target == 0 {
        opts.read(true);
    } else {
        // O_APPEND (after the truncate) so that CRIU can restore the
        // process writing to another file: it checks the size of files
        // open for plain writes, not of ones open for appending.
        opts.write(true)
            .create(true)
            .truncate(path.as_os_str() != "/dev/null")
            .custom_flags(libc::O_APPEND);
    }
    opts.open(path)
        .ctx(format_args!("{name}: open {}", path.display()))
}

/// "SIGTERM", "TERM", "term" or "15" -> 15.
pub fn parse_signal(name: &str) -> Result<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(Error::config(format!(
                "signal: {n} is not a signal number (1-64)"
            )))
        };
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| {
            let names: Vec<&str> = nix::sys::signal::Signal::iterator()
                .map(|s| s.as_str().trim_start_matches("SIG"))
                .collect();
            let near = did_you_mean(full.trim_start_matches("SIG"), &names);
            Error::config(format!("signal: unknown signal '{name}'{near}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("SIGNOPE")
            .unwrap_err()
            .message
            .contains("SIGNOPE"));
        assert!(parse_signal("0").is_err());
        assert_eq!(
            parse_signal("TRM").unwrap_err().message,
            "signal: unknown signal 'TRM' (did you mean 'TERM'?)"
        );
    }
}
