//! `networks` and `ports`: which network types a container is on, each
//! with the keys its type takes, and the host ports forwarded to it.

use super::{err, needs_namespace, parse_ip_or_cidr};
use crate::runtime::config::{CheckedNetwork, Config, Ipv6, Namespace, NamespaceKind, Network};
use crate::runtime::network::{self, BridgeRequest, Ipv6Choice, NetworkOptions};
use crate::runtime::{suggest, Result};
use std::net::{IpAddr, Ipv6Addr};

const TYPES: [&str; 6] = ["loopback", "none", "bridge", "pasta", "host", "netns"];

/// The networks of `c`, typed; "host" and "netns" leave none (the
/// container shares the host's network namespace, or joins one: nothing
/// of it is ctrsh's to set up).
pub(in crate::runtime::config) fn networks(c: &Config) -> Result<Vec<CheckedNetwork>> {
    let own_netns = c.namespace(NamespaceKind::Net);
    // Without either key, runc's defaults: a new net namespace with lo up.
    if c.namespaces.is_none() && c.networks.is_empty() {
        return Ok(vec![CheckedNetwork::Loopback]);
    }
    let mut checked = Vec::new();
    for (i, net) in c.networks.iter().enumerate() {
        let key = |k: &str| format!("networks[{i}].{k}");
        let kind = net.kind.as_str();
        if !TYPES.contains(&kind) {
            return Err(err(
                key("type"),
                format!(
                    "unknown network type '{kind}'{}: one of \"{}\"",
                    suggest::did_you_mean(kind, &TYPES),
                    TYPES.join("\", \"")
                ),
            ));
        }
        only_keys_of(net, &key)?;
        if kind == "host" {
            if own_netns.is_some() {
                return Err(err(
                    key("type"),
                    "\"host\" shares the host's network: remove \"net\" from namespaces",
                ));
            }
            if c.networks.len() > 1 {
                return Err(err(
                    "networks",
                    "a \"host\" network is the only one a container can have",
                ));
            }
            continue;
        }
        if own_netns.is_none() {
            return Err(needs_namespace("networks", NamespaceKind::Net));
        }
        if kind == "netns" {
            let Some(path) = &net.path else {
                return Err(err(
                    key("path"),
                    "is required: the network namespace to join",
                ));
            };
            if !path.is_absolute() {
                return Err(err(
                    key("path"),
                    format!("'{}' is not an absolute path", path.display()),
                ));
            }
            if own_netns.is_some_and(|n| n.path.as_ref().is_some_and(|p| p != path)) {
                return Err(err(
                    key("path"),
                    "the \"net\" namespace of namespaces joins another path; give it once",
                ));
            }
            if c.networks.len() > 1 {
                return Err(err(
                    "networks",
                    "a \"netns\" network is the only one a container can have",
                ));
            }
            continue;
        }
        if kind != "loopback" && kind != "none" && own_netns.is_some_and(|n| n.path.is_some()) {
            return Err(err(
                key("type"),
                format!(
                    "a \"{kind}\" network needs a new \"net\" namespace, not one joined by path"
                ),
            ));
        }
        let entry = match kind {
            "bridge" => CheckedNetwork::Bridge(bridge(net, &key)?),
            "pasta" => CheckedNetwork::Pasta,
            _ => {
                loopback_address(net, &key)?;
                CheckedNetwork::Loopback
            }
        };
        let eth0 = |n: &CheckedNetwork| !matches!(n, CheckedNetwork::Loopback);
        if eth0(&entry) && checked.iter().any(eth0) {
            return Err(err(
                "networks",
                "one \"bridge\" or \"pasta\" network per container (it is eth0)",
            ));
        }
        checked.push(entry);
    }
    ports(c, &checked)?;
    Ok(checked)
}

/// The namespaces of `c`, its "net" one joining the path of a "netns"
/// network.
pub(in crate::runtime::config) fn namespaces(c: &Config) -> Vec<Namespace> {
    let joined = c
        .networks
        .iter()
        .find(|n| n.kind == "netns")
        .and_then(|n| n.path.clone());
    let mut namespaces = c.namespace_list().to_vec();
    for ns in &mut namespaces {
        if ns.kind == NamespaceKind::Net && joined.is_some() {
            ns.path = joined.clone();
        }
    }
    namespaces
}

/// Keys set that `net`'s type does not take are named.
fn only_keys_of(net: &Network, key: &impl Fn(&str) -> String) -> Result<()> {
    let takes: &[&str] = match net.kind.as_str() {
        "bridge" => &["name", "subnet", "address", "gateway", "mtu", "ipv6"],
        "loopback" => &["address", "gateway"],
        "netns" => &["path"],
        _ => &[],
    };
    let set = [
        ("name", net.name.is_some()),
        ("subnet", net.subnet.is_some()),
        ("address", net.address.is_some()),
        ("gateway", net.gateway.is_some()),
        ("mtu", net.mtu.is_some()),
        ("ipv6", net.ipv6.is_some()),
        ("path", net.path.is_some()),
    ];
    match set.iter().find(|(k, is_set)| *is_set && !takes.contains(k)) {
        Some((k, _)) => Err(err(
            key(k),
            format!("a \"{}\" network takes no {k}", net.kind),
        )),
        None => Ok(()),
    }
}

fn bridge(net: &Network, key: &impl Fn(&str) -> String) -> Result<BridgeRequest> {
    let name = net.name.as_deref().unwrap_or(network::DEFAULT_NETWORK);
    network::check_interface_name(name).map_err(|why| err(key("name"), why))?;
    let subnet = |k: &str, text: &str| {
        text.parse::<ipnet::IpNet>().map_err(|_| {
            err(
                key(k),
                format!("'{text}' is not a subnet (\"10.88.0.0/16\", \"fd88::/64\")"),
            )
        })
    };
    let ip = |k: &str, text: &str| {
        text.parse::<IpAddr>()
            .map_err(|_| err(key(k), format!("'{text}' is not an IP address")))
    };
    let options = NetworkOptions {
        subnet: net
            .subnet
            .as_deref()
            .map(|s| subnet("subnet", s))
            .transpose()?,
        gateway: net
            .gateway
            .as_deref()
            .map(|g| ip("gateway", g))
            .transpose()?,
        mtu: net.mtu,
        ipv6: match &net.ipv6 {
            None => None,
            Some(Ipv6::On(on)) => Some(Ipv6Choice::On(*on)),
            Some(Ipv6::Subnet(s)) => Some(Ipv6Choice::Subnet(subnet("ipv6", s)?)),
        },
    };
    // What a network made from these would be checked for, said now with
    // the config's keys.
    options
        .spec(name)
        .and_then(|spec| match spec.subnets.is_empty() {
            true => Ok(()),
            false => network::Network::new(name, &spec).map(drop),
        })
        .map_err(|e| err(key("").trim_end_matches('.'), e.message))?;
    let address = match net.address.as_deref() {
        None | Some("auto") => None,
        Some(a) => Some(ip("address", a)?),
    };
    Ok(BridgeRequest {
        network: name.to_string(),
        options,
        address,
    })
}

/// A loopback network's address, which must be lo's own.
fn loopback_address(net: &Network, key: &impl Fn(&str) -> String) -> Result<()> {
    let Some(address) = &net.address else {
        return Ok(());
    };
    let Some(ip) = parse_ip_or_cidr(address) else {
        return Err(err(
            key("address"),
            format!(
                "'{address}' is not an IPv4/IPv6 address or CIDR (\"127.0.0.1/8\", \"::1/128\")"
            ),
        ));
    };
    // The runtime brings lo up, it does not assign addresses: lo
    // carries 127.0.0.1 and ::1 by itself, and nothing else.
    if ip != IpAddr::from([127, 0, 0, 1]) && ip != IpAddr::from(Ipv6Addr::LOCALHOST) {
        return Err(err(
            key("address"),
            format!("'{address}': a loopback network carries 127.0.0.1 and ::1 only"),
        ));
    }
    Ok(())
}

/// Ports go to a bridge or pasta network; none is 0, and no two want the
/// same host port.
fn ports(c: &Config, networks: &[CheckedNetwork]) -> Result<()> {
    if c.ports.is_empty() {
        return Ok(());
    }
    if !networks
        .iter()
        .any(|n| !matches!(n, CheckedNetwork::Loopback))
    {
        return Err(err(
            "ports",
            "need a \"bridge\" or \"pasta\" network to forward to (add one to networks)",
        ));
    }
    for (i, port) in c.ports.iter().enumerate() {
        if port.host == 0 || port.container == 0 {
            return Err(err(format!("ports[{i}]"), "port 0 cannot be forwarded"));
        }
        if let Some(other) = c.ports[..i].iter().find(|o| o.clashes_with(port)) {
            return Err(err(
                format!("ports[{i}]"),
                format!("{port} is forwarded twice (also to {})", other.container),
            ));
        }
    }
    Ok(())
}
