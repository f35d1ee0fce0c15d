//! `--systemd-cgroup`: cgroups placed by systemd (cgroupsPath
//! "slice:prefix:name"). ctrsh places cgroups itself, at cgroupsPath.

use super::Global;
use crate::runtime::{Config, Error, ErrorKind};
use std::path::Path;

/// With --systemd-cgroup, an error: where no systemd runs (sd_booted's
/// test: /run/systemd/system exists), that none answers; where one does,
/// that ctrsh cannot hand it the container's cgroup yet.
pub fn check(g: &Global, config: &Config) -> Result<(), Error> {
    if !g.systemd_cgroup {
        return Ok(());
    }
    let path = config
        .cgroups
        .as_ref()
        .and_then(|c| c.path.clone())
        .unwrap_or_default();
    let why = if Path::new("/run/systemd/system").is_dir() {
        "placing a container's cgroup through systemd is not implemented in ctrsh yet"
    } else {
        "no systemd runs on this machine (/run/systemd/system does not exist), so none answers on the bus"
    };
    Err(Error::new(
        ErrorKind::Unsupported,
        format!(
            "--systemd-cgroup (cgroupsPath {path:?}): {why}; run without --systemd-cgroup (for containerd: SystemdCgroup = false) and ctrsh places the cgroup at cgroupsPath itself"
        ),
    ))
}
