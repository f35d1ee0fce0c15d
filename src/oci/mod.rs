//! OCI bundles <-> `runtime::Config`, and the runc-compatible command line
//! (`ctrsh oci <command>`, or runc's command line through a link).

pub mod bundle;
pub mod cli;
mod resources;

use crate::runtime::{Config, Error, Result};
use oci_spec::runtime as oci;
use std::path::{Path, PathBuf};

pub use crate::runtime::hooks::OCI_VERSION;

/// The config of the bundle in `dir` (its config.json), with the bundle's
/// relative paths made absolute. Nothing touches the kernel.
pub fn load(dir: &Path) -> Result<Config> {
    let bundle = absolute(dir)?;
    let spec = bundle::read_spec(&bundle)?;
    bundle::to_config(&spec, Some(&bundle))
}

/// `dir` made absolute (against the current directory), not resolving
/// symlinks.
pub fn absolute(dir: &Path) -> Result<PathBuf> {
    std::path::absolute(dir).map_err(|e| {
        Error::config(format!(
            "bundle: '{}': {}",
            dir.display(),
            crate::runtime::error::describe_io(&e)
        ))
    })
}

/// runc's default spec (`runc spec`): a shell on a terminal, in new
/// namespaces, with the default mounts, device rules and capabilities.
pub fn default_spec() -> oci::Spec {
    let mut spec = oci::Spec::default();
    spec.set_version(OCI_VERSION.to_string());
    spec.set_hostname(Some("ctrsh".into()));
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
        p.set_console_size(None);
    }
    spec
}

/// The config of `default_spec()`, its rootfs ("rootfs") left relative
/// for the caller to set.
pub fn default_config() -> Config {
    bundle::to_config(&default_spec(), None).expect("the default spec maps onto a config")
}
