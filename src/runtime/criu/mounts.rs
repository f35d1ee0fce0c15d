//! Mounts CRIU is told are external: their source is outside the
//! container's mount tree, so CRIU records them by destination and the
//! restore binds a source again (`--external mnt[dest]:key` on dump,
//! `mnt[key]:source` on restore; the key is the destination).

use super::metadata::HostBind;
use crate::runtime::config::{Config, Mount, NamespaceKind};
use crate::runtime::error::{Error, Result};
use std::ffi::OsString;

/// Binds the runtime made from host files, which a restore binds again
/// from the same host paths. Only in a user namespace, where mknod is not
/// allowed: each device node is a bind of the host's, and each masked file
/// a bind of /dev/null, itself such a bind. `pid` is the running init, to
/// see which masked paths are files.
pub fn host_binds(pid: i32, config: &Config) -> Vec<HostBind> {
    if config.namespace(NamespaceKind::User).is_none() {
        return Vec::new();
    }
    let devices = config.device_nodes();
    let device_binds = devices
        .into_iter()
        .filter_map(|d| d.path)
        .map(|path| HostBind {
            destination: path.clone(),
            source: path,
        });
    let masked = config.masked();
    // A masked directory is a tmpfs of the container's own; a path that
    // does not exist is not masked at all.
    let masked_files = masked
        .into_iter()
        .filter(|p| std::fs::metadata(format!("/proc/{pid}/root{p}")).is_ok_and(|m| !m.is_dir()))
        .map(|path| HostBind {
            destination: path,
            source: "/dev/null".to_string(),
        });
    device_binds.chain(masked_files).collect()
}

/// The dump's `--external` arguments for `config`'s bind mounts and `host`.
pub fn dump_args(config: &Config, host: &[HostBind]) -> Vec<OsString> {
    let destinations = config
        .mounts
        .iter()
        .filter(|m| is_bind(m))
        .map(|m| m.destination.as_str())
        .chain(host.iter().map(|b| b.destination.as_str()));
    destinations
        .flat_map(|d| ["--external".into(), format!("mnt[{d}]:{d}").into()])
        .collect()
}

/// The restore's `--external` arguments: the restoring config's bind
/// sources and the host binds again.
pub fn restore_args(config: &Config, host: &[HostBind]) -> Result<Vec<OsString>> {
    let mut pairs = Vec::new();
    for m in config.mounts.iter().filter(|m| is_bind(m)) {
        let source = m.source.as_deref().ok_or_else(|| {
            Error::config(format!(
                "mounts: {}: a bind mount needs a source",
                m.destination
            ))
        })?;
        pairs.push((m.destination.as_str(), source));
    }
    pairs.extend(
        host.iter()
            .map(|b| (b.destination.as_str(), b.source.as_str())),
    );
    Ok(pairs
        .into_iter()
        .flat_map(|(d, s)| ["--external".into(), format!("mnt[{d}]:{s}").into()])
        .collect())
}

fn is_bind(m: &Mount) -> bool {
    m.kind.as_deref() == Some("bind") || m.options.iter().any(|o| o == "bind" || o == "rbind")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_user_namespace_the_runtime_binds_nothing_from_the_host() {
        let config = Config::default();
        assert!(host_binds(std::process::id() as i32, &config).is_empty());
    }

    #[test]
    fn host_binds_are_keyed_by_destination_on_both_sides() {
        let host = [HostBind {
            destination: "/proc/kcore".into(),
            source: "/dev/null".into(),
        }];
        let config = Config::default();
        assert_eq!(
            dump_args(&config, &host),
            ["--external", "mnt[/proc/kcore]:/proc/kcore"]
        );
        assert_eq!(
            restore_args(&config, &host).unwrap(),
            ["--external", "mnt[/proc/kcore]:/dev/null"]
        );
    }
}
