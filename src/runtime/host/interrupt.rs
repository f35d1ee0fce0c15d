//! Interrupting the runtime's blocking waits (a script's `wait`, `run`,
//! `stop`): a flag, and an eventfd that is readable while the flag is up, so
//! a wait sleeps in poll() on its process and this fd together instead of
//! waking up now and then to look at the flag.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static RAISED: AtomicBool = AtomicBool::new(false);
/// The eventfd, once a wait asked for it (`fd`).
static EVENT_FD: OnceLock<OwnedFd> = OnceLock::new();

/// Ends the blocking waits under way and the next ones, until `clear`.
/// Async-signal-safe (an atomic and a write), for a signal handler.
pub fn raise() {
    RAISED.store(true, Ordering::SeqCst);
    // OnceLock::get is an atomic load, and write async-signal-safe.
    if let Some(fd) = EVENT_FD.get() {
        let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
    }
}

/// Blocking waits wait normally again.
pub fn clear() {
    // The flag first: a `raise` between the two leaves the flag up, which
    // every wait looks at before it sleeps.
    RAISED.store(false, Ordering::SeqCst);
    if let Some(fd) = EVENT_FD.get() {
        // Non-blocking: EAGAIN when it was not raised.
        let _ = rustix::io::read(fd, &mut [0u8; 8]);
    }
}

pub fn raised() -> bool {
    RAISED.load(Ordering::SeqCst)
}

/// The eventfd to poll for POLLIN beside what a wait waits for. Look at
/// `raised()` after taking it and before sleeping.
pub fn fd() -> BorrowedFd<'static> {
    use rustix::event::{eventfd, EventfdFlags};
    EVENT_FD
        .get_or_init(|| {
            eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                .unwrap_or_else(|e| panic!("eventfd: {}", std::io::Error::from(e)))
        })
        .as_fd()
}
