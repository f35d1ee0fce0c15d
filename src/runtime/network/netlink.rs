//! A small synchronous rtnetlink client: the link, address and route
//! requests a bridge network needs, each answered by the kernel's ack.
//!
//! The messages are netlink-packet-route's; the socket is netlink-sys's.
//! rtnetlink (the crate) would bring an async runtime for a handful of
//! request-and-ack exchanges.

use crate::runtime::error::{Error, Result};
use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// A route netlink socket bound to one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

/// What a link is, as far as the networks care.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub index: u32,
    /// "bridge", "veth" ... (None for a device without a kind, like lo).
    pub kind: Option<String>,
    /// The index of the bridge it is a port of.
    pub master: Option<u32>,
    pub alias: Option<String>,
    pub mtu: Option<u32>,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        let socket = Socket::new(NETLINK_ROUTE)
            .and_then(|mut s| {
                s.bind_auto()?;
                s.connect(&SocketAddr::new(0, 0))?;
                s.set_ext_ack(true)?;
                Ok(s)
            })
            .map_err(|e| Error::sys("open a netlink socket", e))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// A socket in the network namespace `netns` (an open /proc/<pid>/ns/net):
    /// made by a thread of its own that enters the namespace and ends; the
    /// socket stays in the namespace it was made in.
    pub fn open_in(netns: BorrowedFd) -> Result<Netlink> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| Error::sys("enter the container's network namespace", e))?;
                    Netlink::open()
                })
                .join()
                .expect("the netlink thread panicked")
        })
    }

    /// The link called `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(link) => Some(Link::from(link)),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(Error::sys(format!("netlink: look up link {name}"), e)),
        }
    }

    /// A new bridge `name` with MAC address `mac` (fixed, so that it does
    /// not follow its ports' addresses) and `mtu`; left down.
    pub fn add_bridge(&mut self, name: &str, mac: [u8; 6], mtu: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::Address(mac.to_vec()),
            LinkAttribute::Mtu(mtu),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.create(RouteNetlinkMessage::NewLink(msg))
            .map_err(|e| Error::sys(format!("netlink: create bridge {name}"), e))
    }

    /// A veth pair: `name` here, a port of bridge `master`, and its peer
    /// `peer` with MAC address `peer_mac`, made directly in the network
    /// namespace `peer_netns`, so that no half-moved pair can be left.
    pub fn add_veth(
        &mut self,
        name: &str,
        master: u32,
        mtu: u32,
        peer: &str,
        peer_mac: [u8; 6],
        peer_netns: BorrowedFd,
    ) -> Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes = vec![
            LinkAttribute::IfName(peer.into()),
            LinkAttribute::Address(peer_mac.to_vec()),
            LinkAttribute::Mtu(mtu),
            LinkAttribute::NetNsFd(peer_netns.as_raw_fd()),
        ];
        let mut msg = LinkMessage::default();
        msg.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::Mtu(mtu),
            LinkAttribute::Controller(master),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ]),
        ];
        self.create(RouteNetlinkMessage::NewLink(msg))
            .map_err(|e| Error::sys(format!("netlink: create veth pair {name}/{peer}"), e))
    }

    /// Bring link `index` (called `name` in messages) up.
    pub fn set_up(&mut self, index: u32, name: &str) -> Result<()> {
        self.request(RouteNetlinkMessage::SetLink(up(index)), NLM_F_ACK)
            .map(drop)
            .map_err(|e| Error::sys(format!("netlink: bring {name} up"), e))
    }

    /// Bring bridge port `index` (`name` in messages) up in hairpin mode:
    /// with the host's bridge netfilter on, a container reaching its own
    /// published port is bridged back out of the port it came from.
    pub fn port_up(&mut self, index: u32, name: &str) -> Result<()> {
        let mut msg = up(index);
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        // A port's settings change through RTM_NEWLINK on the existing link.
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_ACK)
            .map(drop)
            .map_err(|e| Error::sys(format!("netlink: bring bridge port {name} up"), e))
    }

    /// Give link `index` (`name` in messages) an alias (which a new link
    /// does not take from its creation request).
    pub fn set_alias(&mut self, index: u32, name: &str, alias: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::IfAlias(alias.into()));
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK)
            .map(drop)
            .map_err(|e| Error::sys(format!("netlink: set the alias of {name}"), e))
    }

    /// Delete link `name`; a link that is not there is no error. Deleting
    /// one end of a veth pair deletes both.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::DelLink(msg), NLM_F_ACK) {
            Err(e) if e.raw_os_error() != Some(libc::ENODEV) => {
                Err(Error::sys(format!("netlink: delete link {name}"), e))
            }
            _ => Ok(()),
        }
    }

    /// The addresses on link `index`.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<IpNet>> {
        let msg = AddressMessage::default();
        let replies = self
            .request(
                RouteNetlinkMessage::GetAddress(msg),
                netlink_packet_core::NLM_F_DUMP,
            )
            .map_err(|e| Error::sys("netlink: list addresses", e))?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => {
                    let prefix = a.header.prefix_len;
                    a.attributes.into_iter().find_map(|attr| match attr {
                        AddressAttribute::Address(ip) => IpNet::new(ip, prefix).ok(),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// The destinations of the IPv4 routes, in every table, but the
    /// default routes.
    pub fn ipv4_routes(&mut self) -> Result<Vec<IpNet>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        let replies = self
            .request(
                RouteNetlinkMessage::GetRoute(msg),
                netlink_packet_core::NLM_F_DUMP,
            )
            .map_err(|e| Error::sys("netlink: list routes", e))?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewRoute(route)
                    if route.header.destination_prefix_length > 0 =>
                {
                    let prefix = route.header.destination_prefix_length;
                    route.attributes.into_iter().find_map(|a| match a {
                        RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                            IpNet::new(ip.into(), prefix).ok()
                        }
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Put `address` on link `index` (`name` in messages). IPv6 addresses
    /// skip duplicate address detection: the IPAM made them unique, and
    /// DAD would hold them back for a second or more.
    pub fn add_address(&mut self, index: u32, name: &str, address: IpNet) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.index = index;
        msg.header.prefix_len = address.prefix_len();
        msg.header.family = family(address.addr());
        msg.attributes.push(AddressAttribute::Local(address.addr()));
        msg.attributes
            .push(AddressAttribute::Address(address.addr()));
        if let IpNet::V4(net) = address {
            msg.attributes
                .push(AddressAttribute::Broadcast(net.broadcast()));
        } else {
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.create(RouteNetlinkMessage::NewAddress(msg))
            .map_err(|e| Error::sys(format!("netlink: add address {address} to {name}"), e))
    }

    /// The default route via `gateway` on link `index`.
    pub fn add_default_route(&mut self, index: u32, gateway: IpAddr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family(gateway);
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes = vec![
            RouteAttribute::Gateway(gateway.into()),
            RouteAttribute::Oif(index),
        ];
        self.create(RouteNetlinkMessage::NewRoute(msg))
            .map_err(|e| Error::sys(format!("netlink: add the default route via {gateway}"), e))
    }

    fn create(&mut self, msg: RouteNetlinkMessage) -> io::Result<()> {
        self.request(msg, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .map(drop)
    }

    /// Send one request and collect the replies up to its ack (or the end
    /// of a dump). The kernel's refusal comes back as its errno.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;

        let expect_more = flags & (NLM_F_ACK | netlink_packet_core::NLM_F_DUMP) != 0;
        let mut replies = Vec::new();
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            self.socket.recv(&mut buf, 0)?;
            let mut offset = 0;
            while offset < buf.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += len;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(inner) => {
                        replies.push(inner);
                        if !expect_more {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A link message that brings link `index` up.
fn up(index: u32) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

impl From<LinkMessage> for Link {
    fn from(msg: LinkMessage) -> Link {
        let mut link = Link {
            index: msg.header.index,
            kind: None,
            master: None,
            alias: None,
            mtu: None,
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::Controller(m) => link.master = Some(m),
                LinkAttribute::IfAlias(a) => link.alias = Some(a),
                LinkAttribute::Mtu(m) => link.mtu = Some(m),
                LinkAttribute::LinkInfo(infos) => {
                    link.kind = infos.into_iter().find_map(|i| match i {
                        LinkInfo::Kind(k) => Some(k.to_string()),
                        _ => None,
                    })
                }
                _ => {}
            }
        }
        link
    }
}
