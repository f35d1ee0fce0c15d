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
pub(crate) use spawn::{become_subreaper, spawn, Spawn};
