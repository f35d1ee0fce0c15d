//! Privileged kernel work: namespaces, rootfs, cgroups, capabilities, init.
//! Knows nothing of Rhai.

pub(crate) mod cgroups;
pub(crate) mod config;
pub(crate) mod criu;
pub(crate) mod error;
pub(crate) mod hooks;
pub(crate) mod host;
pub(crate) mod image;
pub(crate) mod init;
mod launch;
pub(crate) mod network;
pub(crate) mod seccomp;
pub(crate) mod suggest;
mod sys;
pub(crate) mod time;
pub(crate) mod trace;

pub use config::defaults::{default_allowed_devices, default_capabilities, default_devices};
pub use config::{Capabilities, CapabilitySets, Config, Hook, Hooks};
pub use config::{ProcessSpec, Stdio};
pub use criu::{locate as locate_criu, Version as CriuVersion};
pub use criu::{Checkpoint, CheckpointOptions, RestoreOptions};
pub use criu::{MIN_TCP_VERSION as MIN_CRIU_TCP_VERSION, MIN_VERSION as MIN_CRIU_VERSION};
pub use error::{describe_io, Error, ErrorKind, Result};
pub use host::container::{Container, ContainerStats, Event, ExecOutput, Patch, Status, Summary};
pub use host::factory::Factory;
pub use host::interrupt;
pub use host::process::{parse_signal, Process};
pub use init::main as init_main;
pub use launch::INIT_BINARY_ENV;
pub use network::{resolv_conf, veth_name, NetworkSpec, Networks, SubnetSpec};
pub use trace::{init_from_env as trace_from_env, step as trace_step};
