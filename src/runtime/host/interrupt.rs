//! Interrupting the runtime's blocking waits (a script's `wait`, `run`,
//! `stop`): a flag, and an eventfd that is readable while the flag is up, so
//! a wait sleeps in poll() on its process and this fd together instead of
//! waking up now and then to look at the flag.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;

static RAISED: AtomicBool = AtomicBool::new(false);
/// The eventfd once made, for the signal handler (-1 before).
static EVENT_FD: AtomicI32 = AtomicI32::new(-1);

/// Ends the blocking waits under way and the next ones, until `clear`.
/// Async-signal-safe (an atomic and a write), for a signal handler.
pub fn raise() {
    RAISED.store(true, Ordering::SeqCst);
    let fd = EVENT_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: eight bytes from a local to an eventfd that lives as long
        // as the process; write is async-signal-safe.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Blocking waits wait normally again.
pub fn clear() {
    // The flag first: a `raise` between the two leaves the flag up, which
    // every wait looks at before it sleeps.
    RAISED.store(false, Ordering::SeqCst);
    let fd = EVENT_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let mut count: u64 = 0;
        // SAFETY: reads eight bytes into a local from the non-blocking
        // eventfd (EAGAIN when it was not raised).
        unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
    }
}

pub fn raised() -> bool {
    RAISED.load(Ordering::SeqCst)
}

/// The eventfd to poll for POLLIN beside what a wait waits for. Look at
/// `raised()` after taking it and before sleeping.
pub fn fd() -> BorrowedFd<'static> {
    static FD: OnceLock<OwnedFd> = OnceLock::new();
    let fd = FD.get_or_init(|| {
        // SAFETY: eventfd takes no pointers.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
        // SAFETY: eventfd just made this fd; nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(raw) }
    });
    EVENT_FD.store(fd.as_raw_fd(), Ordering::SeqCst);
    fd.as_fd()
}
