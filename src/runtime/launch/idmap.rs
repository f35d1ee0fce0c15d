//! A rootfs whose files are owned correctly inside a user namespace.
//!
//! A rootfs unpacked by root has its files owned by uid 0. With the
//! container's uid 0 mapped to host uid 100000, the container would see them
//! owned by nobody (65534), and its root could not write its own /etc.
//! When the rootfs is owned by an id the mappings give the container (0)
//! but not by a host id they map to, create mounts it idmapped through the
//! container's user namespace (mount_setattr MOUNT_ATTR_IDMAP): uid 0 on
//! disk is the container's root, and what the container writes is owned on
//! disk as it would be without a user namespace. A rootfs already shifted
//! (chowned to 100000) is bound as it is. Only root can make an idmapped
//! mount; a rootless container maps its user's own id, which owns its
//! rootfs already.

use crate::runtime::config::{CheckedConfig, NamespaceKind};
use crate::runtime::error::{Context, Result};
use crate::runtime::sys;
use crate::runtime::sys::idmap::IdMapping;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// The rootfs of `config` mounted idmapped through the user namespace of
/// the init `pid` (whose id maps are written), detached, for the init to
/// attach; None when the rootfs needs no shift, or when its filesystem
/// cannot be idmapped (EINVAL: the container then sees the on-disk owners
/// through its mappings, as with runc).
pub fn rootfs_tree(config: &CheckedConfig, pid: i32) -> Result<Option<OwnedFd>> {
    if !config.creates(NamespaceKind::User) || !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let Ok(meta) = std::fs::metadata(&config.rootfs) else {
        // The init reports a missing rootfs, naming the key.
        return Ok(None);
    };
    if !needs_shift(meta.uid(), &IdMapping::new(&config.uid_mappings)) {
        return Ok(None);
    }
    let userns = userns_of(pid)?;
    match sys::detached_tree(&config.rootfs, false, Some(userns.as_fd())) {
        Ok(tree) => Ok(Some(tree)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e).ctx(format_args!(
            "rootfs: mount {} idmapped",
            config.rootfs.display()
        )),
    }
}

/// The user namespace of the process `pid`.
pub fn userns_of(pid: i32) -> Result<OwnedFd> {
    let path = format!("/proc/{pid}/ns/user");
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .ctx(format_args!("open {path}"))
}

/// Whether a rootfs owned by host uid `owner` shows its owner wrongly
/// through `maps`: the owner is a container id (so meant for the container)
/// but no host id of the mappings.
fn needs_shift(owner: u32, maps: &IdMapping) -> bool {
    maps.to_host(owner).is_some() && maps.to_container(owner).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::config::IdMap;

    fn map(container_id: u32, host_id: u32, size: u32) -> IdMapping {
        IdMapping::new(&[IdMap {
            container_id,
            host_id,
            size,
        }])
    }

    #[test]
    fn only_a_rootfs_owned_by_an_unshifted_container_id_is_shifted() {
        let shifted = map(0, 100000, 65536);
        assert!(needs_shift(0, &shifted), "unpacked by root");
        assert!(!needs_shift(100000, &shifted), "chowned already");
        assert!(!needs_shift(1000, &map(0, 1000, 1)), "rootless: own id");
        assert!(!needs_shift(0, &map(0, 0, 65536)), "identity");
        assert!(!needs_shift(70000, &shifted), "no container id");
    }
}
