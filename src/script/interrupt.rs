//! Ctrl-C, SIGTERM and SIGHUP as the script sees them: the first one is a
//! catchable `#{kind: "interrupted"}` error, raised once, at the script's
//! next variable access or by the blocking call it is in (`sleep`, `wait`,
//! `run`, `exec`), so that `catch` blocks run and can clean up. ctrsh's
//! signal handling (cli/signals.rs) ends the process at once on a second
//! one.

use super::errors::ScriptResult;
use crate::runtime;
use rhai::{Dynamic, EvalAltResult, Map, Position};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// The signal that interrupted the script and has not been raised yet (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);
/// The first signal since the last `clear` (0: none): the exit status.
static FIRST: AtomicI32 = AtomicI32::new(0);
/// How many signals arrived since the last `clear`.
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// True while a script or a prompt input runs.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Records signal `sig`; returns how many arrived since the last `clear`,
/// this one included. Async-signal-safe (atomics only), for the handler.
pub fn interrupt(sig: i32) -> usize {
    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    PENDING.store(sig, Ordering::SeqCst);
    // Blocking waits in the runtime end early.
    runtime::interrupt::raise();
    COUNT.fetch_add(1, Ordering::SeqCst) + 1
}

/// Forgets the signals so far: the prompt goes on after an interrupted input.
pub fn clear() {
    PENDING.store(0, Ordering::SeqCst);
    FIRST.store(0, Ordering::SeqCst);
    COUNT.store(0, Ordering::SeqCst);
    runtime::interrupt::clear();
}

/// The first signal since the last `clear`, if any.
pub fn signal() -> Option<i32> {
    Some(FIRST.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// How many signals arrived since the last `clear`.
pub fn count() -> usize {
    COUNT.load(Ordering::SeqCst)
}

/// Whether a script or a prompt input is running now (the handler ends a
/// prompt that waits for input at once on SIGTERM or SIGHUP).
pub fn running() -> bool {
    RUNNING.load(Ordering::SeqCst)
}

/// Marks evaluation as running until the guard is dropped.
pub fn running_guard() -> impl Drop {
    struct Running;
    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.store(false, Ordering::SeqCst);
        }
    }
    RUNNING.store(true, Ordering::SeqCst);
    Running
}

/// The pending interruption as an error, once: whoever raises it first
/// (a variable access, a blocking call) takes it, and blocking calls in the
/// script's `catch` block wait normally again.
pub fn take() -> ScriptResult<()> {
    match PENDING.swap(0, Ordering::SeqCst) {
        0 => Ok(()),
        sig => {
            runtime::interrupt::clear();
            Err(error(sig))
        }
    }
}

/// `#{kind: "interrupted", message, signal}` for signal `sig`.
pub fn error(sig: i32) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("kind".into(), "interrupted".into());
    map.insert(
        "message".into(),
        format!("interrupted by {}", name(sig)).into(),
    );
    map.insert("signal".into(), Dynamic::from(rhai::INT::from(sig)));
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// The interruption a runtime call reported (its wait ended early) as the
/// script's error, taking the pending one.
pub fn from_runtime() -> Box<EvalAltResult> {
    let sig = signal().unwrap_or(libc::SIGINT);
    let _ = take();
    error(sig)
}

/// "SIGINT (Ctrl-C)", "SIGTERM", "SIGHUP".
pub fn name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(nix::sys::signal::Signal::SIGINT) => "SIGINT (Ctrl-C)".into(),
        Ok(s) => s.as_str().into(),
        Err(_) => format!("signal {sig}"),
    }
}
