//! Per-step timestamps, on when `CTRSH_TRACE=1`: one line on standard
//! error per step of create, start, exec and destroy, in the ctrsh process
//! and in the container's init, so a user can see where the time goes.
//!
//!   ctrsh-trace 4187.204533 +0.412 4242 parent create: init spawned
//!
//! The clock is CLOCK_MONOTONIC in seconds, the same in every process, so
//! lines of the parent and the init sort into one timeline; `+ms` is the
//! time since the previous line of the same process.
//!
//! The init has no standard error of its own (the parent gives it
//! /dev/null); when tracing, the parent hands it its own at TRACE_FD, and
//! the init stops tracing before it puts the user's stdio in place.

use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, RawFd};
use std::sync::Mutex;

/// The environment variable that turns tracing on.
pub const ENV: &str = "CTRSH_TRACE";
/// The fd the init gets the parent's standard error on when tracing.
pub const TRACE_FD: RawFd = 5;

struct Tracer {
    /// Where lines go: standard error, or TRACE_FD in the init.
    out: std::fs::File,
    role: &'static str,
    last: Option<f64>,
}

/// None when tracing is off (or over, in an init about to exec).
static TRACER: Mutex<Option<Tracer>> = Mutex::new(None);

/// Turns tracing on in a ctrsh process when CTRSH_TRACE=1.
pub fn init_from_env() {
    if !enabled_in_env() {
        return;
    }
    // Our own copy of fd 2, close-on-exec (no process we start inherits it).
    if let Ok(stderr) = std::io::stderr().as_fd().try_clone_to_owned() {
        start(stderr.into(), "parent");
    }
}

/// Turns tracing on in the init when the parent handed it TRACE_FD (and
/// made it close-on-exec, so no hook or user process inherits it).
pub fn init_in_container() {
    if enabled_in_env() {
        // SAFETY: the parent put a copy of its stderr at TRACE_FD for us.
        let fd = unsafe { std::fs::File::from_raw_fd(TRACE_FD) };
        let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
        start(fd, "init");
    }
}

fn enabled_in_env() -> bool {
    std::env::var(ENV).is_ok_and(|v| v == "1")
}

fn start(out: std::fs::File, role: &'static str) {
    *TRACER.lock().unwrap() = Some(Tracer {
        out,
        role,
        last: None,
    });
}

/// Whether tracing is on in this process.
pub fn enabled() -> bool {
    TRACER.lock().unwrap().is_some()
}

/// Ends tracing in this process (the init, before the user's stdio takes
/// the fds).
pub fn stop() {
    TRACER.lock().unwrap().take();
}

/// One step done: prints a line when tracing is on.
pub fn step(what: &str) {
    let mut guard = TRACER.lock().unwrap();
    let Some(t) = guard.as_mut() else {
        return;
    };
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let now = ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9;
    let delta = t.last.map_or(0.0, |last| (now - last) * 1000.0);
    t.last = Some(now);
    let line = format!(
        "ctrsh-trace {now:.6} +{delta:.3} {} {} {what}\n",
        std::process::id(),
        t.role
    );
    // A lost trace line must never fail the container.
    let _ = t.out.write_all(line.as_bytes());
}
