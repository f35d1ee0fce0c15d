//! Privileged kernel work: namespaces, rootfs, cgroups, capabilities, init.
//! Knows nothing of Rhai.

pub mod cgroups;
pub mod config;
pub mod container;
pub mod defaults;
pub mod error;
pub mod factory;
pub mod init;
pub mod process;

pub use config::Config;
pub use container::{Container, ExecOutput, Status};
pub use error::{Error, ErrorKind, Result};
pub use factory::Factory;
pub use process::{parse_signal, Process, ProcessSpec, Stdio};
