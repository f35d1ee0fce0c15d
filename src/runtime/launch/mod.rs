//! The parent <-> init protocol: spawning the init (from a read-only view
//! or a sealed copy of ctrsh), the channel and its messages, the start socket,
//! and the user namespace's id maps.

pub(crate) mod channel;
pub(crate) mod idmap;
pub(crate) mod messages;
pub(crate) mod namespaces;
mod sealed_exe;
mod spawn;
pub(crate) mod start_socket;

pub use spawn::INIT_BINARY_ENV;
pub(crate) use spawn::{await_exec, become_subreaper, spawn, Spawn};
