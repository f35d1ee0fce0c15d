//! The host side of a process's pty: copying its output where the spec
//! says, and attaching the user's terminal to it.

use crate::runtime::config::Stdio;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::reaper::Reaper;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg, Termios};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

const TICK_MS: u16 = 50;

/// Wait until `fd` is readable or a tick passes; true when readable (or hung up).
fn readable(fd: BorrowedFd) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(TICK_MS)), Ok(n) if n > 0)
}

/// Copies the pty's output to `target` until the pty closes, or until
/// `stop` is set and nothing more arrives. Returns what it captured (for
/// a "pipe" target).
pub fn drain(master: OwnedFd, target: Stdio, stop: Arc<AtomicBool>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut sink: Box<dyn Write> = match &target {
            Stdio::Inherit => Box::new(std::io::stdout()),
            Stdio::File(path) => match File::create(path) {
                Ok(f) => Box::new(f),
                Err(_) => Box::new(std::io::sink()),
            },
            Stdio::Null | Stdio::Pipe => Box::new(std::io::sink()),
        };
        let mut captured = Vec::new();
        let mut master = File::from(master);
        let mut buf = [0u8; 4096];
        loop {
            if !readable(master.as_fd()) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            // EIO: every slave fd is closed.
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if target == Stdio::Pipe {
                        captured.extend_from_slice(&buf[..n]);
                    }
                    let _ = sink.write_all(&buf[..n]).and_then(|()| sink.flush());
                }
            }
        }
        captured
    })
}

/// Puts the user's terminal in raw mode for as long as it lives.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin).ctx("read the terminal's settings")?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw).ctx("put the terminal in raw mode")?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

fn window_size(fd: impl AsFd) -> Option<rustix::termios::Winsize> {
    rustix::termios::tcgetwinsize(fd).ok()
}

/// Connect ctrsh's stdin and stdout to the pty until the process exits;
/// returns its exit code. Window size changes are forwarded.
pub fn attach(master: &OwnedFd, reaper: &Reaper) -> Result<i32> {
    let stdin = std::io::stdin();
    if !nix::unistd::isatty(&stdin).unwrap_or(false) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "attach: ctrsh's standard input is not a terminal",
        ));
    }
    let _raw = RawMode::enter()?;
    let mut size = None;
    let mut out = std::io::stdout();
    let mut m = File::from(master.try_clone().ctx("dup the pty master")?);
    let mut buf = [0u8; 4096];
    loop {
        let now = window_size(&stdin);
        if now.map(|w| (w.ws_row, w.ws_col)) != size {
            if let Some(ws) = now {
                let _ = rustix::termios::tcsetwinsize(&m, ws);
            }
            size = now.map(|w| (w.ws_row, w.ws_col));
        }
        let mut fds = [
            PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
            PollFd::new(m.as_fd(), PollFlags::POLLIN),
        ];
        if poll(&mut fds, PollTimeout::from(TICK_MS)).is_err() {
            continue;
        }
        let (user, pty) = (fds[0].revents(), fds[1].revents());
        if pty.is_some_and(|r| !r.is_empty()) {
            match m.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                }
            }
        } else if reaper.exited() {
            break;
        }
        if user.is_some_and(|r| r.contains(PollFlags::POLLIN)) {
            let n = nix::unistd::read(&stdin, &mut buf).unwrap_or(0);
            if n > 0 {
                let _ = m.write_all(&buf[..n]);
            }
        }
    }
    reaper.wait()
}
