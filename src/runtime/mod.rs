//! Privileged kernel work: namespaces, rootfs, cgroups, capabilities, init.
//! Knows nothing of Rhai.

pub(crate) mod cgroups;
pub mod config;
pub mod criu;
pub(crate) mod error;
pub(crate) mod hooks;
pub(crate) mod host;
pub(crate) mod image;
pub(crate) mod init;
mod launch;
pub mod network;
pub(crate) mod seccomp;
pub(crate) mod suggest;
mod sys;
pub(crate) mod time;
pub mod trace;

pub use config::{Capabilities, CapabilitySets, Config, Hook, Hooks};
pub use config::{ProcessSpec, Stdio};
pub use criu::{Checkpoint, CheckpointOptions, RestoreOptions};
pub use error::{describe_io, Error, ErrorKind, Result};
pub use host::container::{Container, ContainerStats, Event, ExecOutput, Status, Summary};
pub use host::factory::Factory;
pub use host::interrupt;
pub use host::process::{parse_signal, Process};
pub use init::main as init_main;
pub use launch::INIT_BINARY_ENV;
