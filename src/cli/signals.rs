//! How the ctrsh process takes SIGINT (Ctrl-C), SIGTERM and SIGHUP while it
//! runs a script or the prompt. The first one interrupts the script: a
//! catchable error (script/interrupt.rs). A second one, or SIGTERM/SIGHUP
//! while the prompt waits for input, ends ctrsh at once, with 128+N: its
//! throwaway containers are destroyed first. The handler only records the
//! signal and wakes a thread of ours, which does the rest.

use crate::script::{interrupt, made};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::termios::{self, Termios};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// The write end of the pipe that wakes the signal thread.
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// ctrsh's pid: a child between its clone and its exec (a container's
/// init) runs the handler too, and must leave it alone.
static OWNER: AtomicI32 = AtomicI32::new(0);
/// The terminal's settings when ctrsh started, put back on an exit at once
/// (the line editor may have it in raw mode).
static TERMINAL: Mutex<Option<Termios>> = Mutex::new(None);

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int) {
    // getpid and write are async-signal-safe; the rest is atomics.
    if std::process::id() as i32 != OWNER.load(Ordering::SeqCst) {
        return;
    }
    interrupt::interrupt(sig);
    let byte = sig as u8;
    let fd = WAKE.load(Ordering::SeqCst);
    // SAFETY: one byte from a local to the wake pipe; write is async-signal-safe.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Installs the handlers and starts the thread that acts on them.
pub fn install() {
    if let Ok(t) = termios::tcgetattr(std::io::stdin()) {
        *TERMINAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
    }
    let (read, write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pipe) => pipe,
        Err(e) => {
            eprintln!("ctrsh: cannot handle Ctrl-C: {e}");
            return;
        }
    };
    OWNER.store(std::process::id() as i32, Ordering::SeqCst);
    WAKE.store(write.as_raw_fd(), Ordering::SeqCst);
    // The write end lives as long as the process.
    std::mem::forget(write);
    std::thread::spawn(move || watch(read));
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in SIGNALS {
        // SAFETY: the handler only does atomics, getpid and write.
        if let Err(e) = unsafe { sigaction(sig, &action) } {
            eprintln!("ctrsh: cannot handle {sig}: {e}");
        }
    }
}

/// The signal thread: ends ctrsh when a signal asks for it.
fn watch(read: OwnedFd) {
    let mut pipe = std::fs::File::from(read);
    let mut byte = [0u8; 1];
    while let Ok(1) = pipe.read(&mut byte) {
        let sig = i32::from(byte[0]);
        let at_once = if interrupt::running() {
            interrupt::count() >= 2
        } else {
            // The prompt waits for input: Ctrl-C there is a key, not this.
            sig != libc::SIGINT
        };
        if at_once {
            end_now(sig);
        }
    }
}

/// Destroys the throwaway containers and exits with 128+`sig`.
fn end_now(sig: i32) -> ! {
    let ended = made::end_now();
    if let Some(t) = &*TERMINAL.lock().unwrap_or_else(|e| e.into_inner()) {
        let _ = termios::tcsetattr(std::io::stdin(), termios::SetArg::TCSANOW, t);
    }
    let name = interrupt::name(sig);
    if !ended.destroyed.is_empty() {
        eprintln!(
            "ctrsh: {name}: destroyed the throwaway containers {}",
            ended.destroyed.join(", ")
        );
    }
    for failure in &ended.failed {
        eprintln!("ctrsh: {name}: {failure}");
    }
    // Not exit(): the main thread may hold locks exit's cleanup takes.
    // SAFETY: _exit ends the process without running anything of ours.
    unsafe { libc::_exit(128 + sig) }
}
