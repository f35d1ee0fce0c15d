//! Address management: which container holds which addresses of a network.
//!
//! A lease is a host index: the same offset into every subnet of the
//! network, so index 5 of 10.88.0.0/16 and fd88::/64 is 10.88.0.5 and
//! fd88::5. The leases of a network live in one file beside its
//! definition, read and written under the network's lock (see store.rs).
//! New leases go to the index after the last one given out, wrapping
//! around, so that a freed address is not handed out again at once (a
//! neighbour's ARP cache may still point it at the old container).

use super::Subnet;
use crate::runtime::error::{Error, ErrorKind, Result};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The leases of one network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Leases {
    /// The index given out last.
    pub last: u64,
    pub leases: BTreeMap<u64, Lease>,
}

/// One container's hold on an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub container: String,
    /// The ctrsh process that took the lease, while its create runs: a
    /// create that dies before the container has a state.json leaves a
    /// lease that nothing else would free.
    pub creator: Process,
    /// Whether port forwards were published for it (rules to remove).
    #[serde(default)]
    pub ports: bool,
}

/// A process, by pid and start time (so a recycled pid is not taken for it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub pid: i32,
    pub start_time: u64,
}

impl Leases {
    /// A lease on `requested` (an index the config asked for) or on the
    /// next free index in `1..=last_index` that is not a gateway's.
    pub fn allocate(
        &mut self,
        lease: Lease,
        requested: Option<u64>,
        last_index: u64,
        reserved: &[u64],
    ) -> Result<u64> {
        let taken = |i: u64| self.leases.contains_key(&i) || reserved.contains(&i);
        let index = match requested {
            Some(i) => {
                if let Some(holder) = self.leases.get(&i) {
                    return Err(Error::new(
                        ErrorKind::Exists,
                        format!("the address is taken by container '{}'", holder.container),
                    ));
                }
                if reserved.contains(&i) {
                    return Err(Error::config("the address is the network's gateway"));
                }
                i
            }
            None => {
                let after = (self.last + 1..=last_index).find(|i| !taken(*i));
                let before = || (1..=self.last.min(last_index)).find(|i| !taken(*i));
                after.or_else(before).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Exists,
                        format!("all {last_index} addresses are taken"),
                    )
                })?
            }
        };
        self.last = index;
        self.leases.insert(index, lease);
        Ok(index)
    }

    /// The index leased to `container`, if any.
    pub fn of(&self, container: &str) -> Option<u64> {
        self.leases
            .iter()
            .find(|(_, l)| l.container == container)
            .map(|(i, _)| *i)
    }

    /// Drop the leases `live` says are dead; returns them.
    pub fn reap(&mut self, live: impl Fn(&Lease) -> bool) -> Vec<(u64, Lease)> {
        let dead: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| !live(l))
            .map(|(i, _)| *i)
            .collect();
        dead.into_iter()
            .filter_map(|i| self.leases.remove(&i).map(|l| (i, l)))
            .collect()
    }
}

/// The highest host index every subnet has: IPv4 keeps the last address
/// for broadcast; index 0 is the network itself (IPv6: the subnet-router
/// anycast address).
pub fn last_index(subnets: &[Subnet]) -> u64 {
    subnets
        .iter()
        .map(|s| {
            let host_bits = u32::from(s.subnet.max_prefix_len() - s.subnet.prefix_len());
            let count = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
            let usable = match s.subnet {
                IpNet::V4(_) => count - 2,
                IpNet::V6(_) => count - 1,
            };
            u64::try_from(usable).unwrap_or(u64::MAX)
        })
        .min()
        .unwrap_or(0)
}

/// The address at host index `index` of `subnet`, with the subnet's prefix.
pub fn address(subnet: &IpNet, index: u64) -> IpNet {
    let ip = match subnet.network() {
        IpAddr::V4(n) => Ipv4Addr::from(u32::from(n).wrapping_add(index as u32)).into(),
        IpAddr::V6(n) => Ipv6Addr::from(u128::from(n).wrapping_add(u128::from(index))).into(),
    };
    IpNet::new(ip, subnet.prefix_len()).expect("the subnet's prefix fits its family")
}

/// The host index of `ip` in `subnet`, if it is in it.
pub fn index_of(subnet: &IpNet, ip: IpAddr) -> Option<u64> {
    if !subnet.contains(&ip) {
        return None;
    }
    let offset = match (ip, subnet.network()) {
        (IpAddr::V4(ip), IpAddr::V4(n)) => u128::from(u32::from(ip) - u32::from(n)),
        (IpAddr::V6(ip), IpAddr::V6(n)) => u128::from(ip) - u128::from(n),
        _ => return None,
    };
    u64::try_from(offset).ok()
}

/// Where networks without a subnet get theirs: the first /24 of this
/// range that nothing on the host routes to yet.
pub const AUTO_POOL: &str = "10.90.0.0/16";

/// The first subnet of length `prefix` inside `pool` that overlaps none
/// of `taken`.
pub fn first_free_subnet(pool: IpNet, prefix: u8, taken: &[IpNet]) -> Option<IpNet> {
    let overlaps = |a: &IpNet, b: &IpNet| a.contains(&b.network()) || b.contains(&a.network());
    pool.subnets(prefix)
        .ok()?
        .find(|candidate| !taken.iter().any(|t| overlaps(candidate, t)))
}

/// A unique local IPv6 /64 (RFC 4193): fd, a 40-bit global id (random
/// bytes `id`), subnet 0.
pub fn ula(id: [u8; 5]) -> IpNet {
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    octets[1..6].copy_from_slice(&id);
    IpNet::new(Ipv6Addr::from(octets).into(), 64).expect("64 fits IPv6")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(container: &str) -> Lease {
        Lease {
            container: container.into(),
            creator: Process {
                pid: 1,
                start_time: 1,
            },
            ports: false,
        }
    }

    fn subnet(net: &str, gateway: &str) -> Subnet {
        Subnet {
            subnet: net.parse().unwrap(),
            gateway: gateway.parse().unwrap(),
        }
    }

    #[test]
    fn index_maps_to_the_same_offset_in_every_subnet() {
        let v4: IpNet = "10.88.0.0/16".parse().unwrap();
        let v6: IpNet = "fd88::/64".parse().unwrap();
        assert_eq!(address(&v4, 261).to_string(), "10.88.1.5/16");
        assert_eq!(address(&v6, 261).to_string(), "fd88::105/64");
        assert_eq!(index_of(&v4, "10.88.1.5".parse().unwrap()), Some(261));
        assert_eq!(index_of(&v6, "fd88::105".parse().unwrap()), Some(261));
        assert_eq!(index_of(&v4, "10.89.0.1".parse().unwrap()), None);
    }

    #[test]
    fn the_smallest_subnet_bounds_the_indices() {
        let v4 = subnet("10.88.0.0/24", "10.88.0.1");
        let v6 = subnet("fd88::/120", "fd88::1");
        assert_eq!(last_index(std::slice::from_ref(&v4)), 254);
        assert_eq!(last_index(std::slice::from_ref(&v6)), 255);
        assert_eq!(last_index(&[v4, v6]), 254);
        assert_eq!(last_index(&[subnet("fd88::/64", "fd88::1")]), u64::MAX);
    }

    #[test]
    fn allocation_skips_gateways_and_taken_indices_and_does_not_reuse_at_once() {
        let mut l = Leases::default();
        assert_eq!(l.allocate(lease("a"), None, 6, &[1]).unwrap(), 2);
        assert_eq!(l.allocate(lease("b"), None, 6, &[1]).unwrap(), 3);
        l.leases.remove(&2);
        // 2 is free again, but 4 comes first.
        assert_eq!(l.allocate(lease("c"), None, 6, &[1]).unwrap(), 4);
        assert_eq!(l.allocate(lease("d"), Some(6), 6, &[1]).unwrap(), 6);
        // After 6 it wraps around to the lowest free index.
        assert_eq!(l.allocate(lease("e"), None, 6, &[1]).unwrap(), 2);
        assert_eq!(l.allocate(lease("f"), None, 6, &[1]).unwrap(), 5);
        let full = l.allocate(lease("g"), None, 6, &[1]).unwrap_err();
        assert_eq!(full.kind, ErrorKind::Exists);
        assert_eq!(full.message, "all 6 addresses are taken");
        assert_eq!(l.of("c"), Some(4));
        assert_eq!(l.of("nobody"), None);
    }

    #[test]
    fn a_requested_index_must_be_free() {
        let mut l = Leases::default();
        l.allocate(lease("a"), Some(5), 254, &[1]).unwrap();
        let taken = l.allocate(lease("b"), Some(5), 254, &[1]).unwrap_err();
        assert_eq!(taken.message, "the address is taken by container 'a'");
        let gateway = l.allocate(lease("b"), Some(1), 254, &[1]).unwrap_err();
        assert_eq!(gateway.message, "the address is the network's gateway");
    }

    #[test]
    fn free_subnets_avoid_routes_and_other_networks() {
        let pool: IpNet = AUTO_POOL.parse().unwrap();
        let taken: Vec<IpNet> = ["10.90.0.0/24", "10.90.1.128/25", "10.0.0.0/8"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        assert_eq!(
            first_free_subnet(pool, 24, &taken[..2])
                .unwrap()
                .to_string(),
            "10.90.2.0/24"
        );
        assert_eq!(
            first_free_subnet(pool, 24, &taken),
            None,
            "all of 10/8 is routed"
        );
        assert_eq!(ula([1, 2, 3, 4, 5]).to_string(), "fd01:203:405::/64");
    }

    #[test]
    fn reaping_drops_the_dead_leases_only() {
        let mut l = Leases::default();
        for c in ["a", "b", "c"] {
            l.allocate(lease(c), None, 254, &[1]).unwrap();
        }
        let dead = l.reap(|lease| lease.container != "b");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].1.container, "b");
        assert_eq!(l.leases.len(), 2);
        assert_eq!(l.of("b"), None);
    }
}
