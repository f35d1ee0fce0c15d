//! Which namespaces a container gets, the id maps of its user namespace,
//! and joining namespaces by path.

use super::config::{Config, IdMap, NamespaceKind};
use super::error::{Context, Result};
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
pub fn clone_flags(config: &Config) -> libc::c_int {
    config
        .namespaces
        .iter()
        .filter(|n| n.path.is_none())
        .fold(0, |acc, n| acc | n.kind.clone_flag())
}

pub fn creates(config: &Config, kind: NamespaceKind) -> bool {
    config
        .namespaces
        .iter()
        .any(|n| n.kind == kind && n.path.is_none())
}

/// In the init: join the namespaces given by path, except pid (which only
/// affects children, so the parent enters it before cloning us).
pub fn join_paths(config: &Config) -> Result<()> {
    for kind in JOIN_ORDER {
        if kind == NamespaceKind::Pid {
            continue;
        }
        if let Some(path) = config
            .namespaces
            .iter()
            .find(|n| n.kind == kind)
            .and_then(|n| n.path.as_ref())
        {
            let f = File::open(path).ctx(format!("namespaces: open {}", path.display()))?;
            setns(&f, CloneFlags::from_bits_truncate(kind.clone_flag())).ctx(format!(
                "namespaces: join the {} namespace {}",
                kind.name(),
                path.display()
            ))?;
        }
    }
    Ok(())
}

/// Written by the parent into /proc/<pid>/{uid,gid}_map of the new init.
pub fn write_id_maps(pid: i32, uid: &[IdMap], gid: &[IdMap]) -> Result<()> {
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let text: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect();
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).ctx(format!("write {path}"))?;
    }
    Ok(())
}
