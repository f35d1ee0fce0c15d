//! The networks of a factory root: `<root>/.networks/<name>/` holds a
//! network's definition (network.json), its leases (leases.json) and the
//! lock that guards them. (A container id cannot start with '.', so the
//! directory never clashes with a container's.)
//!
//! A container joins in two steps: `lease` (an address, before its init
//! starts, so that /etc/hosts can name it) and `connect` (the veth into its
//! network namespace and its port forwards, once the namespace exists).
//! `release` undoes both. A lease whose container has no state.json and
//! whose creating process is gone is freed by the next lease, inspect or
//! remove of the network: that is what a crashed create leaves.

use super::bridge::{self, Owner};
use super::ipam::{self, Lease, Leases, Process};
use super::nat;
use super::netlink::Netlink;
use super::{BridgeRequest, Network, NetworkSpec, Port, SubnetSpec};
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::state::{write_json, Lock};
use crate::runtime::sys::proc::Proc;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

const NETWORK_FILE: &str = "network.json";
const LEASES_FILE: &str = "leases.json";

/// The networks of one factory root.
#[derive(Debug, Clone)]
pub struct Networks {
    root: PathBuf,
    dir: PathBuf,
}

/// A container's place on a network: its lease (host index and the
/// addresses it gives) and the name of its host-side veth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub index: u64,
    pub addresses: Vec<IpNet>,
    pub veth: String,
}

/// What `inspect` tells about a network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkInfo {
    #[serde(flatten)]
    pub network: Network,
    /// Whether ctrsh made the bridge (and removes it with the network).
    pub bridge_made_by_ctrsh: bool,
    /// The containers on it.
    pub containers: Vec<Member>,
}

/// A container on a network and its addresses there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub id: String,
    pub addresses: Vec<IpNet>,
}

impl Networks {
    pub fn new(root: &Path) -> Networks {
        Networks {
            root: root.to_path_buf(),
            dir: root.join(".networks"),
        }
    }

    /// A new network: its bridge (unless one of that name exists and can
    /// be used), its NAT rules and its record. Its subnets must not overlap
    /// another network of this root; missing ones are chosen (see
    /// `NetworkSpec`).
    pub fn create(&self, name: &str, spec: &NetworkSpec) -> Result<Network> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .ctx(format_args!("create {}", self.dir.display()))?;
        // One create at a time: two could choose the same free subnet.
        let _lock = Lock::acquire(&self.dir)?;
        let others = self
            .list()?
            .iter()
            .map(|n| self.get(n))
            .collect::<Result<Vec<_>>>()?;
        let spec = with_chosen_subnets(spec, &others)
            .map_err(|e| e.context(format!("network '{name}'")))?;
        let net = Network::new(name, &spec)?;
        for other in others {
            if net.overlaps(&other) {
                return Err(Error::config(format!(
                    "network '{name}': its subnet overlaps network '{}' ({})",
                    other.name,
                    subnet_list(&other)
                )));
            }
        }
        let dir = self.dir.join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::new(
                    ErrorKind::Exists,
                    format!("network '{name}' already exists in {}", self.root.display()),
                ))
            }
            other => other.ctx(format_args!("create {}", dir.display()))?,
        }
        // bring_up undoes its own work when it fails; what it made is
        // undone here only when the record cannot be written.
        let made = self.bring_up(&net, true).and_then(|()| {
            write_json(&dir.join(NETWORK_FILE), &net).inspect_err(|_| {
                let _ = self.tear_down(name);
            })
        });
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e.context(format!("create network '{name}'")));
        }
        Ok(net)
    }

    /// The network `name` as it was created.
    pub fn get(&self, name: &str) -> Result<Network> {
        let file = self.network_dir(name)?.join(NETWORK_FILE);
        let data = std::fs::read(&file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::new(
                ErrorKind::NotFound,
                format!("network '{name}' does not exist in {}", self.root.display()),
            ),
            _ => Error::sys(format!("read {}", file.display()), e),
        })?;
        serde_json::from_slice(&data).map_err(|e| {
            Error::new(
                ErrorKind::System,
                format!("{}: corrupt network: {e}", file.display()),
            )
        })
    }

    /// Names of the networks, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            other => other.ctx(format_args!("read {}", self.dir.display()))?,
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join(NETWORK_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The network, whose its bridge is, and the containers on it.
    pub fn inspect(&self, name: &str) -> Result<NetworkInfo> {
        let net = self.get(name)?;
        let _lock = Lock::acquire(&self.dir.join(name))?;
        let leases = self.live_leases(name)?;
        let link = Netlink::open()?.link(name)?;
        let bridge_made_by_ctrsh = link.is_some_and(|l| l.alias == Some(bridge::alias(&self.root)));
        let containers = leases
            .leases
            .iter()
            .map(|(i, l)| Member {
                id: l.container.clone(),
                addresses: net.addresses(*i),
            })
            .collect();
        Ok(NetworkInfo {
            network: net,
            bridge_made_by_ctrsh,
            containers,
        })
    }

    /// Remove a network nothing is attached to: its NAT rules, the bridge
    /// if ctrsh made it, and its record.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let dir = self.dir.join(name);
        let lock = Lock::acquire(&dir)?;
        let leases = self.live_leases(name)?;
        if !leases.leases.is_empty() {
            let ids: Vec<&str> = leases
                .leases
                .values()
                .map(|l| l.container.as_str())
                .collect();
            return Err(Error::state(format!(
                "network '{name}' has containers ({}): destroy them first",
                ids.join(", ")
            )));
        }
        self.tear_down(name)
            .map_err(|e| e.context(format!("remove network '{name}'")))?;
        drop(lock);
        std::fs::remove_dir_all(&dir).ctx(format_args!("remove {}", dir.display()))
    }

    /// The network `request` names, made from its options if it does not
    /// exist (it then stays, as one `create` made), and a lease on it for
    /// container `id` that `record` records before it is taken: the
    /// lease is written only once `record` succeeded.
    pub fn join(
        &self,
        request: &BridgeRequest,
        id: &str,
        ports: bool,
        record: impl FnOnce(&Attachment) -> Result<()>,
    ) -> Result<Attachment> {
        let name = &request.network;
        let fail = |e: Error| e.context(format!("network '{name}'"));
        match self.get(name) {
            Ok(net) => request.options.check_against(&net).map_err(fail)?,
            Err(e) if e.kind == ErrorKind::NotFound => {
                let spec = request.options.spec(name)?;
                match self.create(name, &spec) {
                    // Made meanwhile by another create: then it must fit.
                    Err(e) if e.kind == ErrorKind::Exists => match self.get(name) {
                        Ok(net) => request.options.check_against(&net).map_err(fail)?,
                        Err(_) => return Err(e),
                    },
                    made => {
                        made?;
                    }
                }
            }
            Err(e) => return Err(e),
        }
        self.lease_recorded(name, id, request.address, ports, record)
    }

    fn lease_recorded(
        &self,
        name: &str,
        id: &str,
        requested: Option<IpAddr>,
        ports: bool,
        record: impl FnOnce(&Attachment) -> Result<()>,
    ) -> Result<Attachment> {
        let fail = |e: Error| e.context(format!("network '{name}'"));
        self.get(name)?;
        let _lock = Lock::acquire(&self.dir.join(name))?;
        // Read again under the lock: a remove may have won the race.
        let net = self.get(name)?;
        self.bring_up(&net, false).map_err(fail)?;
        let mut leases = self.live_leases(name)?;
        if leases.of(id).is_some() {
            return Err(fail(Error::new(
                ErrorKind::Exists,
                format!("container '{id}' is on it already"),
            )));
        }
        let requested = requested
            .map(|ip| {
                net.index_of(ip).ok_or_else(|| {
                    Error::config(format!(
                        "address {ip} is not a container address of {}",
                        subnet_list(&net)
                    ))
                })
            })
            .transpose()
            .map_err(fail)?;
        let me = std::process::id() as i32;
        let start_time = Proc::host()
            .stat(me)
            .ok_or_else(|| Error::state("cannot read this process's start time"))?
            .start_time;
        let lease = Lease {
            container: id.to_string(),
            creator: Process {
                pid: me,
                start_time,
            },
            ports,
        };
        let index = leases
            .allocate(
                lease,
                requested,
                ipam::last_index(&net.subnets),
                &net.gateway_indices(),
            )
            .map_err(fail)?;
        let attachment = Attachment {
            network: name.to_string(),
            index,
            addresses: net.addresses(index),
            veth: bridge::veth_name(&self.root, id),
        };
        record(&attachment)?;
        self.write_leases(name, &leases)?;
        Ok(attachment)
    }

    /// The veth of `attachment` into the network namespace `netns` (eth0
    /// with the lease's addresses and default routes) and its `ports`.
    pub fn connect(
        &self,
        attachment: &Attachment,
        netns: BorrowedFd,
        ports: &[Port],
    ) -> Result<()> {
        self.connect_with(attachment, netns, ports, true)
    }

    /// `connect`, but no traffic reaches eth0 until `open` is called: a
    /// restore makes its TCP sockets first, or eth0 would answer the
    /// peers' packets with resets.
    pub fn connect_closed(
        &self,
        attachment: &Attachment,
        netns: BorrowedFd,
        ports: &[Port],
    ) -> Result<()> {
        self.connect_with(attachment, netns, ports, false)
    }

    fn connect_with(
        &self,
        attachment: &Attachment,
        netns: BorrowedFd,
        ports: &[Port],
        open: bool,
    ) -> Result<()> {
        let net = self.get(&attachment.network)?;
        let mut nl = Netlink::open()?;
        let bridge = nl
            .link(&net.name)?
            .ok_or_else(|| Error::state(format!("network '{}': its bridge is gone", net.name)))?;
        bridge::attach(
            &mut nl,
            &net,
            bridge.index,
            (&attachment.veth, open),
            netns,
            attachment.index,
        )?;
        if !ports.is_empty() {
            if let Err(e) = nat::publish(&attachment.veth, &attachment.addresses, ports) {
                let _ = nl.delete_link(&attachment.veth);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Let traffic reach the eth0 that `connect_closed` made.
    pub fn open(&self, attachment: &Attachment) -> Result<()> {
        bridge::open_port(&mut Netlink::open()?, &attachment.veth)
    }

    /// Undo `lease` and `connect` for container `id`: its port forwards,
    /// its veth and its lease. Whatever is already gone is no error.
    pub fn release(&self, name: &str, id: &str) -> Result<()> {
        let dir = self.network_dir(name)?;
        if !dir.join(NETWORK_FILE).exists() {
            return Ok(());
        }
        let _lock = Lock::acquire(&dir)?;
        let mut leases = self.read_leases(name)?;
        let veth = bridge::veth_name(&self.root, id);
        if let Some(index) = leases.of(id) {
            if leases.leases[&index].ports {
                nat::unpublish(&veth)?;
            }
        }
        // Gone with the container's network namespace, unless that is still
        // held; a delete waits for the kernel's RCU grace periods.
        let mut nl = Netlink::open()?;
        if nl.link(&veth)?.is_some() {
            nl.delete_link(&veth)?;
        }
        if let Some(index) = leases.of(id) {
            leases.leases.remove(&index);
            self.write_leases(name, &leases)?;
        }
        Ok(())
    }

    /// The bridge, made if missing; with a new bridge (or at `create`)
    /// the network's NAT rules.
    fn bring_up(&self, net: &Network, creating: bool) -> Result<()> {
        let mut nl = Netlink::open()?;
        let (_, owner, made) = bridge::up(&mut nl, net, &self.root)?;
        if made || creating {
            if let Err(e) = nat::add_network(net) {
                if owner == Owner::Ctrsh && made {
                    let _ = nl.delete_link(&net.name);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// The network's NAT rules, and its bridge if ctrsh made it.
    fn tear_down(&self, name: &str) -> Result<()> {
        nat::remove_network(name)?;
        bridge::remove(&mut Netlink::open()?, name, &self.root)
    }

    /// The leases of `name` after freeing those of containers that are
    /// gone (see the module's comment); the caller holds the lock.
    fn live_leases(&self, name: &str) -> Result<Leases> {
        let mut leases = self.read_leases(name)?;
        let dead = leases.reap(|l| self.is_live(l));
        if dead.is_empty() {
            return Ok(leases);
        }
        let mut nl = Netlink::open()?;
        for (_, lease) in &dead {
            let veth = bridge::veth_name(&self.root, &lease.container);
            if lease.ports {
                nat::unpublish(&veth)?;
            }
            nl.delete_link(&veth)?;
        }
        self.write_leases(name, &leases)?;
        Ok(leases)
    }

    /// The directory of network `name`, once the name is known to be one
    /// (no '/' can lead out of the root).
    fn network_dir(&self, name: &str) -> Result<PathBuf> {
        super::check_interface_name(name)
            .map_err(|why| Error::config(format!("network name: {why}")))?;
        Ok(self.dir.join(name))
    }

    fn is_live(&self, lease: &Lease) -> bool {
        let created = self.root.join(&lease.container).join("state.json").exists();
        let creating = Proc::host()
            .stat(lease.creator.pid)
            .is_some_and(|s| s.start_time == lease.creator.start_time && !s.is_dead());
        created || creating
    }

    fn read_leases(&self, name: &str) -> Result<Leases> {
        let file = self.dir.join(name).join(LEASES_FILE);
        match std::fs::read(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Leases::default()),
            Err(e) => Err(Error::sys(format!("read {}", file.display()), e)),
            Ok(data) => serde_json::from_slice(&data).map_err(|e| {
                Error::new(
                    ErrorKind::System,
                    format!("{}: corrupt leases: {e}", file.display()),
                )
            }),
        }
    }

    fn write_leases(&self, name: &str, leases: &Leases) -> Result<()> {
        write_json(&self.dir.join(name).join(LEASES_FILE), leases)
    }
}

/// `spec` with the subnets it leaves to ctrsh: a free IPv4 /24 of
/// AUTO_POOL when it names none (free: no route of the host and no
/// network of this root covers it), a unique local IPv6 /64 when it asks
/// for IPv6 without a subnet.
fn with_chosen_subnets(spec: &NetworkSpec, others: &[Network]) -> Result<NetworkSpec> {
    let mut spec = spec.clone();
    if spec.subnets.is_empty() {
        let mut taken = Netlink::open()?.ipv4_routes()?;
        taken.extend(
            others
                .iter()
                .flat_map(|n| n.subnets.iter().map(|s| s.subnet)),
        );
        let pool = ipam::AUTO_POOL.parse().expect("a literal network");
        let subnet = ipam::first_free_subnet(pool, 24, &taken).ok_or_else(|| {
            Error::config(format!(
                "subnet: every /24 of {} is in use; give a subnet",
                ipam::AUTO_POOL
            ))
        })?;
        spec.subnets.push(SubnetSpec {
            subnet,
            gateway: None,
        });
    }
    if spec.ipv6 && !spec.subnets.iter().any(|s| s.subnet.addr().is_ipv6()) {
        spec.subnets.push(SubnetSpec {
            subnet: ipam::ula(super::random_bytes()?),
            gateway: None,
        });
    }
    Ok(spec)
}

fn subnet_list(net: &Network) -> String {
    net.subnets
        .iter()
        .map(|s| s.subnet.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_lead_out_of_the_root() {
        let networks = Networks::new(Path::new("/nonexistent-root"));
        for name in ["../etc", "a/b", ""] {
            let e = networks.get(name).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{name}: {e}");
            assert!(networks.release(name, "c").is_err());
        }
        assert_eq!(
            networks.get("ctrsh0").unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert_eq!(networks.list().unwrap(), Vec::<String>::new());
    }
}
