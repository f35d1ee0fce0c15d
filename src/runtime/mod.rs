//! Privileged kernel work: namespaces, rootfs, cgroups, capabilities, init.
//! Knows nothing of Rhai.

pub mod capabilities;
pub mod cgroups;
mod channel;
pub mod config;
pub mod container;
pub mod criu;
pub mod defaults;
pub mod error;
pub mod factory;
mod idmap;
pub mod image;
pub mod init;
mod launch;
mod messages;
pub mod mount_options;
mod namespaces;
pub mod netstats;
pub mod network;
pub mod process;
mod provision;
mod reaper;
pub mod rlimits;
mod rootfs;
pub mod seccomp;
mod secure_path;
mod start_socket;
mod state;
pub mod suggest;
mod sys;
mod terminal;
pub mod user;

pub use config::Config;
pub use container::{Container, ContainerStats, Event, ExecOutput, Status};
pub use criu::{Checkpoint, CheckpointOptions, RestoreOptions};
pub use error::{Error, ErrorKind, Result};
pub use factory::Factory;
pub use launch::INIT_BINARY_ENV;
pub use process::{parse_signal, Process, ProcessSpec, Stdio};
pub use reaper::INTERRUPTED;
