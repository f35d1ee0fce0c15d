//! Bridge networks, from the parent side: the bridge and its gateway
//! addresses, a veth pair per container with eth0 inside, addresses and
//! default routes (netlink), address leases (IPAM), outbound NAT and port
//! forwards (nftables), and the name files (/etc/hosts, resolv.conf).
//!
//! A network is named after its bridge device and belongs to one factory
//! root: its definition and leases live in `<root>/.networks/<name>/`, and
//! a bridge ctrsh made carries the root in its alias, so that a second
//! root cannot hand out the same addresses on it.

mod bridge;
mod ipam;
mod names;
mod nat;
pub(crate) mod netlink;
pub(crate) mod pasta;
mod store;

pub use bridge::veth_name;
pub use names::{name_files, resolv_conf, NAME_FILES};
pub use store::{Attachment, Networks};

use crate::runtime::error::{Error, Result};
use crate::runtime::suggest;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// What a bridge network is made from: its subnets (at most one IPv4 and
/// one IPv6), each with a gateway or the subnet's first address, and an
/// MTU (default 1500). Without any subnet it gets a free IPv4 /24 (see
/// `Networks::create`); with `ipv6` and no IPv6 subnet, a random unique
/// local /64.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkSpec {
    pub subnets: Vec<SubnetSpec>,
    pub ipv6: bool,
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubnetSpec {
    pub subnet: IpNet,
    pub gateway: Option<IpAddr>,
}

/// A network's options as scripts and the command line give them:
/// `#{ subnet: "10.88.0.0/16", gateway: "10.88.0.1", ipv6: true |
/// "fd88::/64", mtu: 1500 }`, every key optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkOptions {
    pub subnet: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    pub ipv6: Option<Ipv6Choice>,
    pub mtu: Option<u32>,
}

/// `ipv6: true` (a unique local /64 of ctrsh's choosing) or a subnet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ipv6Choice {
    On(bool),
    Subnet(IpNet),
}

/// The network a container's config puts it on when it names none.
pub const DEFAULT_NETWORK: &str = "ctrsh0";

/// A container's place on a bridge network, as its config asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgeRequest {
    /// The network's name (its bridge's).
    pub network: String,
    /// What the network is made from when it does not exist yet; when it
    /// does, what is given must be what it has.
    pub options: NetworkOptions,
    /// The container's address; None: the next free one.
    pub address: Option<IpAddr>,
}

impl NetworkOptions {
    /// Whether the existing network `net` is what these options ask for;
    /// the error names the first option it is not.
    pub fn check_against(&self, net: &Network) -> Result<()> {
        let fail = |key: &str, want: String, have: String| {
            Err(Error::config(format!(
                "{key}: network '{}' exists with {have}, not {want} (leave {key} out, or name another network)",
                net.name
            )))
        };
        let of_family = |ipv4: bool| {
            net.subnets
                .iter()
                .find(|s| s.subnet.addr().is_ipv4() == ipv4)
        };
        let subnet_of =
            |ipv4: bool| of_family(ipv4).map_or("none".to_string(), |s| s.subnet.to_string());
        if let Some(subnet) = self.subnet {
            if of_family(subnet.addr().is_ipv4()).is_none_or(|s| s.subnet != subnet) {
                return fail(
                    "subnet",
                    subnet.to_string(),
                    subnet_of(subnet.addr().is_ipv4()),
                );
            }
        }
        if let Some(gateway) = self.gateway {
            let have = of_family(gateway.is_ipv4()).map(|s| s.gateway);
            if have != Some(gateway) {
                let have = have.map_or("none".to_string(), |g| g.to_string());
                return fail("gateway", gateway.to_string(), format!("gateway {have}"));
            }
        }
        if let Some(mtu) = self.mtu {
            if mtu != net.mtu {
                return fail("mtu", mtu.to_string(), format!("mtu {}", net.mtu));
            }
        }
        match self.ipv6 {
            Some(Ipv6Choice::Subnet(subnet))
                if of_family(false).is_none_or(|s| s.subnet != subnet) =>
            {
                fail(
                    "ipv6",
                    subnet.to_string(),
                    format!("IPv6 subnet {}", subnet_of(false)),
                )
            }
            Some(Ipv6Choice::On(on)) if on != net.has_ipv6() => fail(
                "ipv6",
                on.to_string(),
                format!("IPv6 subnet {}", subnet_of(false)),
            ),
            _ => Ok(()),
        }
    }

    /// The spec these options ask for; `network` names it in errors.
    pub fn spec(&self, network: &str) -> Result<NetworkSpec> {
        let fail = |why: &str| Error::config(format!("network '{network}': {why}"));
        let mut spec = NetworkSpec {
            mtu: self.mtu,
            ..NetworkSpec::default()
        };
        match (self.subnet, self.gateway) {
            (Some(subnet), gateway) => spec.subnets.push(SubnetSpec { subnet, gateway }),
            (None, Some(_)) => return Err(fail("gateway: give the subnet it is in too")),
            (None, None) => {}
        }
        match self.ipv6 {
            Some(Ipv6Choice::Subnet(subnet)) if subnet.addr().is_ipv6() => {
                spec.subnets.push(SubnetSpec {
                    subnet,
                    gateway: None,
                })
            }
            Some(Ipv6Choice::Subnet(subnet)) => {
                return Err(fail(&format!("ipv6: '{subnet}' is not an IPv6 subnet")))
            }
            Some(Ipv6Choice::On(on)) => spec.ipv6 = on,
            None => {}
        }
        Ok(spec)
    }
}

/// A bridge network as ctrsh keeps it (`network.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The network's name, which is also its bridge's interface name.
    pub name: String,
    /// IPv4 first when there is one.
    pub subnets: Vec<Subnet>,
    pub mtu: u32,
}

/// One address family of a network; the gateway is the bridge's address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: IpNet,
    pub gateway: IpAddr,
}

/// A port of the host forwarded to a container's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// The port on the host.
    pub host: u16,
    /// The port in the container.
    pub container: u16,
    #[serde(default)]
    pub protocol: Protocol,
    /// Only traffic to this host address; any local address when absent.
    #[serde(default)]
    pub host_ip: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// "tcp 8080" or "udp 127.0.0.1:53": the host side of a forward.
impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(ip) => write!(
                f,
                "{} {}",
                self.protocol.name(),
                std::net::SocketAddr::new(ip, self.host)
            ),
            None => write!(f, "{} {}", self.protocol.name(), self.host),
        }
    }
}

impl Port {
    /// Whether two forwards want the same host port.
    pub fn clashes_with(&self, other: &Port) -> bool {
        self.protocol == other.protocol
            && self.host == other.host
            && match (self.host_ip, other.host_ip) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// `N` random bytes from the kernel.
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    match rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty()) {
        Ok(n) if n == N => Ok(bytes),
        Ok(_) => Err(Error::sys("getrandom", std::io::ErrorKind::UnexpectedEof)),
        Err(e) => Err(Error::sys("getrandom", e)),
    }
}

/// An interface name the kernel takes: 1 to 15 bytes, no '/', ':' or
/// whitespace, not "." or "..".
pub fn check_interface_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not an interface name (1 to 15 characters, no '/', ':' or spaces)"
        ))
    }
}

impl Network {
    /// The network `name` made from `spec`, checked: a valid bridge name,
    /// subnets given by their network address, gateways inside them.
    pub fn new(name: &str, spec: &NetworkSpec) -> Result<Network> {
        let fail =
            |key: &str, why: String| Error::config(format!("network '{name}': {key}: {why}"));
        check_interface_name(name).map_err(|why| fail("name", why))?;
        if spec.subnets.is_empty() {
            return Err(fail(
                "subnet",
                "a bridge network needs a subnet (\"10.88.0.0/16\")".into(),
            ));
        }
        let mut subnets = Vec::new();
        for s in &spec.subnets {
            let net = s.subnet;
            if net != net.trunc() {
                return Err(fail(
                    "subnet",
                    format!(
                        "'{net}' is not a network address{}",
                        suggest::hint(Some(net.trunc()))
                    ),
                ));
            }
            if subnets
                .iter()
                .any(|o: &Subnet| o.subnet.addr().is_ipv4() == net.addr().is_ipv4())
            {
                return Err(fail(
                    "subnet",
                    "at most one IPv4 and one IPv6 subnet".into(),
                ));
            }
            // Room for the gateway and at least one container.
            if net.max_prefix_len() - net.prefix_len() < 2 {
                return Err(fail("subnet", format!("'{net}' is too small")));
            }
            let gateway = s.gateway.unwrap_or_else(|| ipam::address(&net, 1).addr());
            let index = ipam::index_of(&net, gateway);
            if !index.is_some_and(|i| {
                (1..=ipam::last_index(&[Subnet {
                    subnet: net,
                    gateway,
                }]))
                    .contains(&i)
            }) {
                return Err(fail(
                    "gateway",
                    format!("{gateway} is not a host address of {net}"),
                ));
            }
            subnets.push(Subnet {
                subnet: net,
                gateway,
            });
        }
        subnets.sort_by_key(|s| s.subnet.addr().is_ipv6());
        let mtu = spec.mtu.unwrap_or(1500);
        if !(68..=65535).contains(&mtu) {
            return Err(fail("mtu", format!("{mtu} is not between 68 and 65535")));
        }
        Ok(Network {
            name: name.to_string(),
            subnets,
            mtu,
        })
    }

    pub fn has_ipv6(&self) -> bool {
        self.subnets.iter().any(|s| s.subnet.addr().is_ipv6())
    }

    /// The addresses of host index `index`, one per subnet.
    pub fn addresses(&self, index: u64) -> Vec<IpNet> {
        self.subnets
            .iter()
            .map(|s| ipam::address(&s.subnet, index))
            .collect()
    }

    /// The host index of `ip`, when it is a container address of this
    /// network.
    pub fn index_of(&self, ip: IpAddr) -> Option<u64> {
        let s = self
            .subnets
            .iter()
            .find(|s| s.subnet.addr().is_ipv4() == ip.is_ipv4())?;
        ipam::index_of(&s.subnet, ip).filter(|i| (1..=ipam::last_index(&self.subnets)).contains(i))
    }

    /// Host indices the gateways use.
    fn gateway_indices(&self) -> Vec<u64> {
        self.subnets
            .iter()
            .filter_map(|s| ipam::index_of(&s.subnet, s.gateway))
            .collect()
    }

    fn overlaps(&self, other: &Network) -> bool {
        self.subnets.iter().any(|a| {
            other.subnets.iter().any(|b| {
                a.subnet.contains(&b.subnet.network()) || b.subnet.contains(&a.subnet.network())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(subnets: &[(&str, Option<&str>)]) -> NetworkSpec {
        NetworkSpec {
            subnets: subnets
                .iter()
                .map(|(s, g)| SubnetSpec {
                    subnet: s.parse().unwrap(),
                    gateway: g.map(|g| g.parse().unwrap()),
                })
                .collect(),
            ipv6: false,
            mtu: None,
        }
    }

    #[test]
    fn gateways_default_to_the_first_address_and_ipv4_comes_first() {
        let n = Network::new(
            "ctrsh0",
            &spec(&[("fd88::/64", None), ("10.88.0.0/16", None)]),
        )
        .unwrap();
        assert_eq!(n.subnets[0].gateway.to_string(), "10.88.0.1");
        assert_eq!(n.subnets[1].gateway.to_string(), "fd88::1");
        assert_eq!(n.mtu, 1500);
        assert!(n.has_ipv6());
        assert_eq!(
            n.addresses(7)
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
            ["10.88.0.7/16", "fd88::7/64"]
        );
        assert_eq!(n.index_of("10.88.0.7".parse().unwrap()), Some(7));
        assert_eq!(
            n.index_of("10.88.255.255".parse().unwrap()),
            None,
            "broadcast"
        );
        assert_eq!(n.gateway_indices(), [1, 1]);
    }

    #[test]
    fn bad_specs_are_named() {
        let err = |name: &str, s: NetworkSpec| Network::new(name, &s).unwrap_err().message;
        assert_eq!(
            err("ctrsh0", spec(&[("10.88.0.5/16", None)])),
            "network 'ctrsh0': subnet: '10.88.0.5/16' is not a network address (did you mean '10.88.0.0/16'?)"
        );
        assert_eq!(
            err("ctrsh0", spec(&[("10.88.0.0/16", Some("10.89.0.1"))])),
            "network 'ctrsh0': gateway: 10.89.0.1 is not a host address of 10.88.0.0/16"
        );
        assert_eq!(
            err("ctrsh0", spec(&[("10.88.0.0/24", Some("10.88.0.255"))])),
            "network 'ctrsh0': gateway: 10.88.0.255 is not a host address of 10.88.0.0/24"
        );
        assert_eq!(
            err(
                "ctrsh0",
                spec(&[("10.88.0.0/16", None), ("10.89.0.0/16", None)])
            ),
            "network 'ctrsh0': subnet: at most one IPv4 and one IPv6 subnet"
        );
        assert_eq!(
            err("ctrsh0", spec(&[("10.88.0.0/31", None)])),
            "network 'ctrsh0': subnet: '10.88.0.0/31' is too small"
        );
        assert!(err("ctrsh0", spec(&[])).contains("needs a subnet"));
        assert!(err("a-very-long-bridge", spec(&[("10.88.0.0/16", None)]))
            .contains("not an interface name"));
        let mut big_mtu = spec(&[("10.88.0.0/16", None)]);
        big_mtu.mtu = Some(70000);
        assert_eq!(
            err("ctrsh0", big_mtu),
            "network 'ctrsh0': mtu: 70000 is not between 68 and 65535"
        );
    }

    #[test]
    fn options_become_a_spec() {
        let options =
            |json: serde_json::Value| -> NetworkOptions { serde_json::from_value(json).unwrap() };
        let spec = options(serde_json::json!({
            "subnet": "10.88.0.0/16", "gateway": "10.88.0.254", "ipv6": "fd88::/64", "mtu": 1400
        }))
        .spec("n")
        .unwrap();
        assert_eq!(spec.subnets.len(), 2);
        assert_eq!(spec.subnets[0].gateway.unwrap().to_string(), "10.88.0.254");
        assert_eq!(spec.mtu, Some(1400));
        assert!(
            options(serde_json::json!({ "ipv6": true }))
                .spec("n")
                .unwrap()
                .ipv6
        );
        let e = options(serde_json::json!({ "gateway": "10.88.0.1" }))
            .spec("n")
            .unwrap_err();
        assert_eq!(
            e.message,
            "network 'n': gateway: give the subnet it is in too"
        );
        let e = options(serde_json::json!({ "ipv6": "10.0.0.0/8" }))
            .spec("n")
            .unwrap_err();
        assert_eq!(
            e.message,
            "network 'n': ipv6: '10.0.0.0/8' is not an IPv6 subnet"
        );
        let unknown =
            serde_json::from_value::<NetworkOptions>(serde_json::json!({ "subnett": "x" }));
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `subnett`"));
    }

    #[test]
    fn overlapping_subnets_are_found() {
        let a = Network::new("a", &spec(&[("10.88.0.0/16", None)])).unwrap();
        let b = Network::new("b", &spec(&[("10.88.4.0/24", None)])).unwrap();
        let c = Network::new("c", &spec(&[("10.89.0.0/16", None)])).unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }

    #[test]
    fn ports_clash_on_the_same_protocol_port_and_address() {
        let p = |host_ip: Option<&str>, protocol| Port {
            host: 8080,
            container: 80,
            protocol,
            host_ip: host_ip.map(|h| h.parse().unwrap()),
        };
        assert!(p(None, Protocol::Tcp).clashes_with(&p(Some("127.0.0.1"), Protocol::Tcp)));
        assert!(!p(None, Protocol::Tcp).clashes_with(&p(None, Protocol::Udp)));
        assert!(
            !p(Some("127.0.0.1"), Protocol::Tcp).clashes_with(&p(Some("10.0.0.1"), Protocol::Tcp))
        );
        assert_eq!(p(Some("::1"), Protocol::Udp).to_string(), "udp [::1]:8080");
        assert_eq!(p(None, Protocol::Tcp).to_string(), "tcp 8080");
    }
}
