//! The parent side: the factory, containers, process handles, state,
//! reaping, terminals and stats readers. Nothing here runs in the init.

pub mod container;
pub(crate) mod exit_code;
pub mod factory;
mod files;
pub mod interrupt;
pub mod netstats;
pub mod process;
pub(crate) mod provision;
pub(crate) mod reaper;
pub(crate) mod root_mount;
pub(crate) mod state;
mod terminal;
