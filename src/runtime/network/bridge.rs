//! The links of a bridge network: the bridge with its gateway addresses,
//! and per container a veth pair whose inner end is eth0.

use super::netlink::Netlink;
use super::Network;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use ipnet::IpNet;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// The alias a bridge ctrsh made carries: which factory root owns it.
pub fn alias(root: &Path) -> String {
    format!("ctrsh {}", root.display())
}

/// Whose a bridge is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Owner {
    /// ctrsh made it for this root: ctrsh removes it with the network.
    Ctrsh,
    /// Someone else made it: ctrsh attaches containers and removes nothing.
    User,
}

/// The bridge of `net`, made if missing (with its gateway addresses, up,
/// and forwarding on). A bridge ctrsh made for another root, or a link of
/// that name that is no bridge, is refused; so is a bridge someone else
/// made that lacks the gateway addresses (ctrsh changes nothing of it).
/// Returns the bridge's index, whose it is and whether it was just made.
pub fn up(nl: &mut Netlink, net: &Network, root: &Path) -> Result<(u32, Owner, bool)> {
    let ours = alias(root);
    if let Some(link) = nl.link(&net.name)? {
        if link.kind.as_deref() != Some("bridge") {
            return Err(Error::config(format!(
                "network '{}': a link of that name exists and is not a bridge ({}); choose another name",
                net.name,
                link.kind.as_deref().unwrap_or("no kind")
            )));
        }
        let owner = match link.alias.as_deref() {
            Some(a) if a == ours => Owner::Ctrsh,
            Some(a) if a.starts_with("ctrsh ") => {
                return Err(Error::new(
                    ErrorKind::Exists,
                    format!(
                        "network '{}': the bridge belongs to ctrsh's root {}; use that root or another name",
                        net.name,
                        &a["ctrsh ".len()..]
                    ),
                ))
            }
            _ => Owner::User,
        };
        if owner == Owner::User {
            let have = nl.addresses(link.index)?;
            for s in &net.subnets {
                if !have.iter().any(|a| a.addr() == s.gateway) {
                    return Err(Error::config(format!(
                        "network '{}': the bridge exists (not made by ctrsh) without the gateway address {}/{}; add it to the bridge or choose another name",
                        net.name, s.gateway, s.subnet.prefix_len()
                    )));
                }
            }
        }
        enable_forwarding(net)?;
        return Ok((link.index, owner, false));
    }
    nl.add_bridge(&net.name, random_mac()?, net.mtu)?;
    let made = (|| {
        let index = nl
            .link(&net.name)?
            .ok_or_else(|| Error::state(format!("the new bridge {} vanished", net.name)))?
            .index;
        nl.set_alias(index, &net.name, &ours)?;
        for s in &net.subnets {
            let gateway = IpNet::new(s.gateway, s.subnet.prefix_len()).expect("a checked prefix");
            nl.add_address(index, &net.name, gateway)?;
        }
        // Port forwards from the host's 127.0.0.1 leave through the bridge.
        sysctl(&format!("net/ipv4/conf/{}/route_localnet", net.name), "1")?;
        nl.set_up(index, &net.name)?;
        enable_forwarding(net)?;
        Ok(index)
    })();
    match made {
        Ok(index) => Ok((index, Owner::Ctrsh, true)),
        Err(e) => {
            let _ = nl.delete_link(&net.name);
            Err(e)
        }
    }
}

/// Delete the bridge of `net` if this root's ctrsh made it.
pub fn remove(nl: &mut Netlink, name: &str, root: &Path) -> Result<()> {
    match nl.link(name)? {
        Some(link) if link.alias.as_deref() == Some(alias(root).as_str()) => nl.delete_link(name),
        _ => Ok(()),
    }
}

/// The name of a container's host-side veth: "veth" and 11 hex digits of
/// a hash of its root and id, so that any ctrsh process finds it again
/// (destroy, restore, recovery after a crash).
pub fn veth_name(root: &Path, id: &str) -> String {
    // FNV-1a: stable across Rust versions, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .chain([0u8].iter())
        .chain(id.as_bytes())
    {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("veth{:011x}", hash & 0xfff_ffff_ffff)
}

/// The MAC address of the eth0 of host index `index`: 02:42 and the index
/// (as docker derives it from the address), so that a container restored
/// from a checkpoint has the MAC its neighbours have in their caches.
pub fn eth0_mac(index: u64) -> [u8; 6] {
    let [.., a, b, c, d] = index.to_be_bytes();
    [0x02, 0x42, a, b, c, d]
}

/// A veth pair from bridge `bridge` into the network namespace `netns`:
/// `host_name` on the bridge, eth0 inside with the MAC, `addresses` and
/// default routes of host index `index`, eth0 up, and the host end too
/// when `open` (else see `open_port`).
pub fn attach(
    nl: &mut Netlink,
    net: &Network,
    bridge: u32,
    (host_name, open): (&str, bool),
    netns: BorrowedFd,
    index: u64,
) -> Result<()> {
    // A leftover of a create that died before its container had a state
    // dir (the name is this container's). Looked up first: a delete takes
    // the kernel's rtnl lock even for a link that is not there.
    if nl.link(host_name)?.is_some() {
        nl.delete_link(host_name)?;
    }
    nl.add_veth(host_name, bridge, net.mtu, "eth0", eth0_mac(index), netns)?;
    let inside = (|| {
        // The host end first: eth0 has a carrier once both ends are up.
        if open {
            open_port(nl, host_name)?;
        }
        let mut inner = Netlink::open_in(netns)?;
        let eth0 = inner
            .link("eth0")?
            .ok_or_else(|| Error::state("eth0 is missing from the container's network namespace"))?
            .index;
        for address in net.addresses(index) {
            inner.add_address(eth0, "eth0", address)?;
        }
        inner.set_up(eth0, "eth0")?;
        for s in &net.subnets {
            inner.add_default_route(eth0, s.gateway)?;
        }
        Ok(())
    })();
    if inside.is_err() {
        let _ = nl.delete_link(host_name);
    }
    inside
}

/// Bring `host_name`, the host end of a container's veth, up on its
/// bridge: from then on traffic reaches the container's eth0.
pub fn open_port(nl: &mut Netlink, host_name: &str) -> Result<()> {
    let host_end = nl
        .link(host_name)?
        .ok_or_else(|| Error::state(format!("the veth {host_name} vanished")))?;
    nl.port_up(host_end.index, host_name)
}

/// IPv4 (and for a network with IPv6, IPv6) forwarding on in the network
/// namespace ctrsh runs in: containers reach the outside through it.
fn enable_forwarding(net: &Network) -> Result<()> {
    sysctl("net/ipv4/ip_forward", "1")?;
    if net.has_ipv6() {
        sysctl("net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(())
}

/// Write `value` to /proc/sys/`key` unless it has it already.
fn sysctl(key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{key}");
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).ctx(format_args!("set {} to {value}", key.replace('/', ".")))
}

/// A random locally administered unicast MAC address.
fn random_mac() -> Result<[u8; 6]> {
    let mut mac = super::random_bytes::<6>()?;
    mac[0] = (mac[0] & 0xfe) | 0x02;
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eth0_macs_are_local_unicast_and_follow_the_index() {
        assert_eq!(eth0_mac(2), [0x02, 0x42, 0, 0, 0, 2]);
        assert_eq!(eth0_mac(0x0102_0304), [0x02, 0x42, 1, 2, 3, 4]);
    }

    #[test]
    fn veth_names_are_stable_short_and_per_root_and_id() {
        let a = veth_name(Path::new("/run/ctrsh"), "web");
        assert_eq!(a, veth_name(Path::new("/run/ctrsh"), "web"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("veth"));
        assert_ne!(a, veth_name(Path::new("/run/ctrsh"), "web2"));
        assert_ne!(a, veth_name(Path::new("/run/other"), "web"));
    }
}
