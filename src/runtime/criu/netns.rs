//! A network namespace the container could not change: made again from
//! the config at restore rather than dumped by CRIU.
//!
//! CRIU's dump of a network namespace runs `ip` four times and reads the
//! nftables ruleset, a large part of a dump, and its restore runs them
//! again. A container with no user namespace of its own, without
//! CAP_NET_ADMIN and CAP_SYS_ADMIN and with /proc/sys read-only cannot
//! change its network namespace: it is what create made from `networks`
//! and the `net.*` sysctls. CRIU is told that namespace is external
//! (`--external net[inode]:KEY`, as runc does for a namespace joined by
//! path) and the restore hands it a new one made the same way
//! (`--inherit-fd fd[N]:KEY`). Its sockets are still dumped with the
//! processes. A checkpoint with tcp_established dumps the namespace,
//! but for a container on a bridge network, whose veth CRIU cannot
//! dump: the restore makes its namespace with the same address.

use crate::runtime::config::{CheckedConfig, Config, NamespaceKind};
use crate::runtime::error::{Context, Result};
use crate::runtime::init::network;
use crate::runtime::network::{Attachment, DEFAULT_NETWORK};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;

/// CRIU's key for the namespace, the same on dump and restore.
pub const KEY: &str = "ctrsh-net";

/// Whether the container's network namespace is all config: its own (not
/// joined), and nothing in the container can change it.
pub fn from_config(config: &CheckedConfig) -> bool {
    use caps::Capability::{CAP_NET_ADMIN, CAP_SYS_ADMIN};
    let caps = config.capabilities.union();
    config.creates(NamespaceKind::Net)
        && !config.has(NamespaceKind::User)
        && !caps.contains(&CAP_NET_ADMIN)
        && !caps.contains(&CAP_SYS_ADMIN)
        && config.readonly_paths.iter().any(|p| p == "/proc/sys")
}

/// `--external net[<inode>]:KEY` for the network namespace of `pid`.
pub fn external(pid: i32) -> Result<String> {
    let path = format!("/proc/{pid}/ns/net");
    let ino = std::fs::metadata(&path)
        .ctx(format_args!("stat {path}"))?
        .ino();
    Ok(format!("net[{ino}]:{KEY}"))
}

/// A new network namespace set up from `config` as create sets one up:
/// made in a thread of its own (a network namespace belongs to a thread),
/// which ends once the namespace is held by the returned fd.
pub fn make(config: &CheckedConfig) -> Result<OwnedFd> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .ctx("unshare a network namespace for the restore")?;
                network::setup(&config.networks)?;
                for (key, value) in config.sysctl.iter().filter(|(k, _)| k.starts_with("net.")) {
                    // /proc/sys/net is the calling thread's namespace.
                    let file = format!("/proc/sys/{}", key.replace('.', "/"));
                    std::fs::write(&file, value).ctx(format_args!("sysctl {key}={value}"))?;
                }
                std::fs::File::open("/proc/thread-self/ns/net")
                    .map(OwnedFd::from)
                    .ctx("open the new network namespace")
            })
            .join()
            .expect("the network namespace thread panicked")
    })
}

/// The given `config` with each bridge network's address pinned to the
/// one the container has (`attachments`): a restore takes the same
/// address again, which its TCP connections need.
pub fn pin_addresses(config: &Config, attachments: &[Attachment]) -> Config {
    let mut config = config.clone();
    for net in config.networks.iter_mut().filter(|n| n.kind == "bridge") {
        let name = net.name.as_deref().unwrap_or(DEFAULT_NETWORK);
        let address = attachments
            .iter()
            .find(|a| a.network == name)
            .and_then(|a| a.addresses.first());
        if let Some(address) = address {
            net.address = Some(address.addr().to_string());
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::config::Namespace;

    /// A checked config with the defaults and `namespaces`.
    fn config(namespaces: &[&str]) -> CheckedConfig {
        let given = Config {
            rootfs: "/".into(),
            ..Config::default()
        };
        let mut config = given.validate().unwrap();
        config.namespaces = namespaces
            .iter()
            .map(|n| Namespace {
                kind: NamespaceKind::from_name(n).unwrap(),
                path: None,
            })
            .collect();
        config
    }

    #[test]
    fn only_a_namespace_nothing_inside_can_change_is_config() {
        assert!(from_config(&config(&["mount", "net"])));
        assert!(!from_config(&config(&["mount"])), "the host's");
        assert!(!from_config(&config(&["user", "net"])), "root of its own");
        let mut admin = config(&["net"]);
        admin
            .capabilities
            .bounding
            .insert(caps::Capability::CAP_NET_ADMIN);
        assert!(!from_config(&admin));
        let mut writable = config(&["net"]);
        writable.readonly_paths = vec![];
        assert!(!from_config(&writable), "uid 0 may write net sysctls");
        let mut joined = config(&["net"]);
        joined.namespaces[0].path = Some("/proc/1/ns/net".into());
        assert!(!from_config(&joined));
    }
}
