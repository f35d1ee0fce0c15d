//! Which namespaces a container gets, the id maps of its user namespace,
//! and joining namespaces by path.

use crate::runtime::config::{CheckedConfig, IdMap, NamespaceKind};
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use nix::sched::{setns, CloneFlags};
use std::fs::File;

/// The order namespaces are joined in: the user namespace first (it grants
/// the capabilities for the rest), the mount namespace last (it changes the
/// root the other paths resolve in).
pub const JOIN_ORDER: [NamespaceKind; 7] = [
    NamespaceKind::User,
    NamespaceKind::Ipc,
    NamespaceKind::Uts,
    NamespaceKind::Net,
    NamespaceKind::Pid,
    NamespaceKind::Cgroup,
    NamespaceKind::Mount,
];

/// clone(2) flags for the namespaces the container creates (not joins).
/// The cgroup namespace is not among them: the init unshares it once the
/// parent has put it in its cgroups, so the namespace is rooted there.
pub fn clone_flags(config: &CheckedConfig) -> libc::c_int {
    config
        .namespaces
        .iter()
        .filter(|n| n.path.is_none() && n.kind != NamespaceKind::Cgroup)
        .fold(0, |acc, n| acc | n.kind.clone_flag())
}

/// The rootfs is built in the container's mount namespace, new or
/// joined, but never ctrsh's own joined by path (its mounts and pivot_root
/// would change the host's). Without one it is built under a private copy
/// of the rootfs on the host (host/root_mount.rs), which only a process of
/// the host's user namespace may mount in.
pub fn check_mount_namespace(config: &CheckedConfig) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(ns) = config.namespace(NamespaceKind::Mount) else {
        if config.creates(NamespaceKind::User) {
            return Err(Error::config(
                "namespaces: a new \"user\" namespace needs a \"mount\" namespace too: \
                 without one the container's mounts are made in the host's, where its user \
                 namespace has no rights (add \"mount\")",
            ));
        }
        return Ok(());
    };
    let Some(path) = &ns.path else {
        return Ok(());
    };
    let inode = |p: &std::path::Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    let joined = inode(path).ctx(format_args!("namespaces: {}", path.display()))?;
    let own =
        inode(std::path::Path::new("/proc/self/ns/mnt")).ctx("namespaces: /proc/self/ns/mnt")?;
    if joined == own {
        return Err(Error::config(format!(
            "namespaces: {} is ctrsh's own mount namespace; the container's mounts would change it (leave \"mount\" out to share the host's: the rootfs is then a private mount ctrsh removes at delete)",
            path.display()
        )));
    }
    Ok(())
}

/// In the init: join the namespaces given by path, except pid (which only
/// affects children, so the parent enters it before cloning us).
pub fn join_paths(config: &CheckedConfig) -> Result<()> {
    for kind in JOIN_ORDER {
        if kind == NamespaceKind::Pid {
            continue;
        }
        if let Some(path) = config.joins(kind) {
            let f = File::open(path).ctx(format_args!("namespaces: open {}", path.display()))?;
            setns(&f, CloneFlags::from_bits_truncate(kind.clone_flag())).ctx(format_args!(
                "namespaces: join the {} namespace {}",
                kind.name(),
                path.display()
            ))?;
        }
    }
    Ok(())
}

/// Written by the parent into /proc/<pid>/{uid,gid}_map of the new init.
/// Root writes any mapping. An unprivileged user may map only their own
/// uid and gid (with setgroups denied, as the kernel requires); wider
/// mappings go through the setuid helpers newuidmap/newgidmap, which check
/// /etc/subuid and /etc/subgid.
pub fn write_id_maps(pid: i32, uid: &[IdMap], gid: &[IdMap]) -> Result<()> {
    let euid = nix::unistd::geteuid();
    let own_only =
        |maps: &[IdMap], id: u32| maps.len() == 1 && maps[0].host_id == id && maps[0].size == 1;
    let own_ids_only =
        own_only(uid, euid.as_raw()) && own_only(gid, nix::unistd::getegid().as_raw());
    if !euid.is_root() && !own_ids_only {
        return helper_maps(pid, uid, gid);
    }
    if !euid.is_root() {
        let path = format!("/proc/{pid}/setgroups");
        std::fs::write(&path, "deny").ctx(format_args!("write {path}"))?;
    }
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, map_text(maps)).ctx(format_args!("write {path}"))?;
    }
    Ok(())
}

fn map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

fn helper_maps(pid: i32, uid: &[IdMap], gid: &[IdMap]) -> Result<()> {
    for (tool, maps) in [("newuidmap", uid), ("newgidmap", gid)] {
        let mut cmd = std::process::Command::new(tool);
        cmd.arg(pid.to_string());
        for m in maps {
            cmd.args([
                m.container_id.to_string(),
                m.host_id.to_string(),
                m.size.to_string(),
            ]);
        }
        let out = cmd.output().map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "uid_mappings: an unprivileged user can map only their own uid and gid without {tool} ({}; apt-get install uidmap, and give the user ranges in /etc/subuid and /etc/subgid)",
                    crate::runtime::error::describe_io(&e)
                ),
            )
        })?;
        if !out.status.success() {
            return Err(Error::new(
                ErrorKind::System,
                format!(
                    "{tool} {pid}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
    }
    Ok(())
}
