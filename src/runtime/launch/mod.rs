//! The parent <-> init protocol: spawning the init (from a read-only view
//! or a sealed copy of ctrsh), the channel, its messages and what each side
//! waits for, the start socket,
//! and the user namespace's id maps.

pub(crate) mod channel;
pub(crate) mod exchange;
pub(crate) mod idmap;
pub(crate) mod messages;
pub(crate) mod namespaces;
mod sealed_exe;
mod spawn;
pub(crate) mod start_socket;

pub use spawn::INIT_BINARY_ENV;
pub(crate) use spawn::{become_subreaper, spawn, Launched, Spawn};

use crate::runtime::error::Result;
use std::os::fd::OwnedFd;

/// The parent's handle to an init it cloned, as far as the protocol needs
/// one: the parent side's `Reaper` (host/reaper.rs) is it, and gives it
/// here, so that launch/ does not depend on the parent side.
pub(crate) trait InitHandle {
    /// The handle of the child just cloned, `pid` with its pidfd.
    fn adopt(pid: i32, pidfd: OwnedFd) -> Self;
    /// SIGKILL, and wait for the end: what undoes an init that failed
    /// part-way.
    fn kill_and_reap(&self);
    /// Wait for it to exit (it is about to), deaf to interrupts; its exit
    /// code.
    fn wait_uninterrupted(&self) -> Result<i32>;
}
