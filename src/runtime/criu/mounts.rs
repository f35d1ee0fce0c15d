//! Mounts CRIU is told are external: their source is outside the
//! container's mount tree, so CRIU records them by destination and the
//! restore binds a source again (`--external mnt[dest]:key` on dump,
//! `mnt[key]:source` on restore; the key is the destination).

use super::metadata::HostBind;
use crate::runtime::config::{CheckedConfig, MountKind, NamespaceKind};
use crate::runtime::network::NAME_FILES;
use std::ffi::OsString;
use std::path::Path;

/// Binds the runtime made from host files, which a restore binds again
/// from the same host paths. Only in a user namespace, where mknod is not
/// allowed: each device node is a bind of the host's, and each masked file
/// a bind of /dev/null, itself such a bind. `pid` is the running init, to
/// see which masked paths are files.
pub fn host_binds(pid: i32, config: &CheckedConfig) -> Vec<HostBind> {
    if !config.has(NamespaceKind::User) {
        return Vec::new();
    }
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let device_binds = config.devices.iter().map(|d| HostBind {
        destination: text(&d.path),
        source: text(&d.path),
    });
    // A masked directory is a tmpfs of the container's own; a path that
    // does not exist is not masked at all.
    let root = format!("/proc/{pid}/root");
    let masked_files = config
        .masked_paths
        .iter()
        .filter(|p| {
            let inside = Path::new(&root).join(p.strip_prefix("/").unwrap_or(p));
            std::fs::metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .map(|path| HostBind {
            destination: text(path),
            source: "/dev/null".to_string(),
        });
    device_binds.chain(masked_files).collect()
}

/// The name files (/etc/hostname, hosts, resolv.conf) bound from the state
/// dir `dir`: the dump records them by destination, and the restore binds
/// the new container's (see `Provision::name_files`).
pub fn name_file_binds(dir: &Path) -> Vec<HostBind> {
    NAME_FILES
        .iter()
        .filter(|(name, _)| dir.join(name).exists())
        .map(|(name, destination)| HostBind {
            destination: destination.to_string(),
            source: dir.join(name).to_string_lossy().into_owned(),
        })
        .collect()
}

/// The dump's `--external` arguments for `config`'s bind mounts and `host`.
pub fn dump_args(config: &CheckedConfig, host: &[HostBind]) -> Vec<OsString> {
    let destinations = binds(config)
        .map(|(destination, _)| destination)
        .chain(host.iter().map(|b| b.destination.clone()));
    destinations
        .flat_map(|d| ["--external".into(), format!("mnt[{d}]:{d}").into()])
        .collect()
}

/// The restore's `--external` arguments: the restoring config's bind
/// sources and the host binds again.
pub fn restore_args(config: &CheckedConfig, host: &[HostBind]) -> Vec<OsString> {
    binds(config)
        .chain(
            host.iter()
                .map(|b| (b.destination.clone(), b.source.clone())),
        )
        .flat_map(|(d, s)| ["--external".into(), format!("mnt[{d}]:{s}").into()])
        .collect()
}

/// (destination, source) of every bind mount of `config`.
fn binds(config: &CheckedConfig) -> impl Iterator<Item = (String, String)> + '_ {
    config.mounts.iter().filter_map(|m| match &m.kind {
        MountKind::Bind { source, .. } => Some((
            m.destination.display().to_string(),
            source.display().to_string(),
        )),
        MountKind::Cgroup | MountKind::Filesystem { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_user_namespace_the_runtime_binds_nothing_from_the_host() {
        let config = crate::runtime::Config {
            rootfs: "/".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert!(host_binds(std::process::id() as i32, &config).is_empty());
    }

    #[test]
    fn host_binds_are_keyed_by_destination_on_both_sides() {
        let host = [HostBind {
            destination: "/proc/kcore".into(),
            source: "/dev/null".into(),
        }];
        let config = crate::runtime::Config {
            rootfs: "/".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            dump_args(&config, &host),
            ["--external", "mnt[/proc/kcore]:/proc/kcore"]
        );
        assert_eq!(
            restore_args(&config, &host),
            ["--external", "mnt[/proc/kcore]:/dev/null"]
        );
    }
}
