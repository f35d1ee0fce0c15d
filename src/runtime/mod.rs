//! Privileged kernel work: namespaces, rootfs, cgroups, capabilities, init.
//! Knows nothing of Rhai.

pub mod config;
pub mod error;
pub mod process;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use process::{ProcessSpec, Stdio};
