//! Outbound NAT and port forwards in an nftables table of ctrsh's own,
//! `inet ctrsh`, through nft's JSON interface (the nftables crate, which
//! podman's netavark uses too).
//!
//! Why JSON through `nft` rather than netlink (rustables): the rules are
//! built from typed values and read back the same way, `nft list table
//! inet ctrsh` shows exactly what ctrsh made, and each change is one
//! atomic nft transaction. The price is an nft process, paid when a
//! network is made or removed and when a container with ports is created
//! or destroyed; a container without ports on an existing network costs
//! no nft call.
//!
//! Each rule says whose it is in its comment: `network <name>` for a
//! network's masquerade rules, `port <key> <protocol> <host ip|*> <port>`
//! for a container's forwards (the key is the container's host-side veth
//! name, unique on the host). Removing lists the table and deletes rules
//! by handle; the table goes with its last rule.

use super::{Network, Port, Protocol};
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use ipnet::IpNet;
use nftables::batch::Batch;
use nftables::expr::{Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression};
use nftables::expr::{Payload, PayloadField, Prefix, CT};
use nftables::schema::{Chain, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{Match, NATFamily, Operator, Statement, NAT};
use nftables::types::{NfChainType, NfFamily, NfHook};
use std::borrow::Cow;
use std::net::IpAddr;

const TABLE: &str = "ctrsh";
/// Serialises ctrsh's changes to the table across processes and factory
/// roots: a change lists the table, then deletes by handle.
const LOCK: &str = "/run/ctrsh-nftables.lock";

/// The masquerade rules of `net`, replacing any it had: outbound traffic
/// from its subnets, and traffic a port forward sends into the bridge from
/// the host's loopback (needs route_localnet) or from the subnet itself
/// (hairpin: a container reaching a published port of the host).
pub fn add_network(net: &Network) -> Result<()> {
    let _lock = lock()?;
    let tag = format!("network {}", net.name);
    let mut batch = table_and_chains();
    delete_rules(&mut batch, &list()?, |c| c == tag);
    for s in &net.subnets {
        let proto = family_name(s.subnet.addr());
        let saddr = || field(proto, "saddr");
        let subnet = || prefix(s.subnet);
        let rules = [
            vec![
                matches(saddr(), subnet(), Operator::EQ),
                matches(field(proto, "daddr"), subnet(), Operator::NEQ),
            ],
            vec![
                matches(meta(MetaKey::Oifname), text(&net.name), Operator::EQ),
                matches(saddr(), subnet(), Operator::EQ),
                matches(ct("status"), text("dnat"), Operator::IN),
            ],
        ];
        for rule in rules {
            batch.add(rule_in(
                "postrouting",
                &tag,
                rule,
                Statement::Masquerade(None),
            ));
        }
        if s.subnet.addr().is_ipv4() {
            let lo: IpNet = "127.0.0.0/8".parse().expect("a literal network");
            let rule = vec![
                matches(meta(MetaKey::Oifname), text(&net.name), Operator::EQ),
                matches(saddr(), prefix(lo), Operator::EQ),
            ];
            batch.add(rule_in(
                "postrouting",
                &tag,
                rule,
                Statement::Masquerade(None),
            ));
        }
    }
    apply(batch.to_nftables())
}

/// Remove the rules of network `name` (and the table, when it was the last).
pub fn remove_network(name: &str) -> Result<()> {
    let tag = format!("network {name}");
    remove_where(|c| c == tag)
}

/// Forward `ports` of the host to the container at `addresses`, tagged
/// with `key`. A host port another container already has is refused.
pub fn publish(key: &str, addresses: &[IpNet], ports: &[Port]) -> Result<()> {
    let _lock = lock()?;
    let rules = list()?;
    for port in ports {
        let taken = rules.iter().find_map(|r| {
            let (holder, other) = parse_port_tag(r.comment.as_deref()?)?;
            port.clashes_with(&other).then_some(holder)
        });
        if let Some(holder) = taken {
            return Err(Error::new(
                ErrorKind::Exists,
                format!("ports: {port} is already forwarded to another container ({holder})"),
            ));
        }
    }
    let mut batch = table_and_chains();
    for port in ports {
        let tag = port_tag(key, port);
        let targets = addresses
            .iter()
            .map(|a| a.addr())
            .filter(|a| port.host_ip.is_none_or(|h| h.is_ipv4() == a.is_ipv4()));
        for target in targets {
            let to = match port.host_ip {
                Some(ip) => matches(field(family_name(ip), "daddr"), ip_expr(ip), Operator::EQ),
                None => matches(fib_daddr_type(), text("local"), Operator::EQ),
            };
            let rule = vec![
                matches(
                    meta(MetaKey::Nfproto),
                    text(nf_family(target)),
                    Operator::EQ,
                ),
                to,
                matches(
                    meta(MetaKey::L4proto),
                    text(port.protocol.name()),
                    Operator::EQ,
                ),
                matches(
                    field("th", "dport"),
                    Expression::Number(port.host.into()),
                    Operator::EQ,
                ),
            ];
            let dnat = Statement::DNAT(Some(NAT {
                addr: Some(ip_expr(target)),
                family: Some(match target {
                    IpAddr::V4(_) => NATFamily::IP,
                    IpAddr::V6(_) => NATFamily::IP6,
                }),
                port: Some(Expression::Number(port.container.into())),
                flags: None,
            }));
            // prerouting: from elsewhere and from containers (hairpin);
            // output: from the host itself, 127.0.0.1 included.
            for chain in ["prerouting", "output"] {
                batch.add(rule_in(chain, &tag, rule.clone(), dnat.clone()));
            }
        }
    }
    apply(batch.to_nftables())
}

/// Remove the forwards tagged with `key`.
pub fn unpublish(key: &str) -> Result<()> {
    remove_where(|c| parse_port_tag(c).is_some_and(|(k, _)| k == key))
}

fn port_tag(key: &str, port: &Port) -> String {
    let ip = port.host_ip.map_or("*".to_string(), |ip| ip.to_string());
    format!("port {key} {} {ip} {}", port.protocol.name(), port.host)
}

/// The key and host side of a port rule's comment.
fn parse_port_tag(comment: &str) -> Option<(&str, Port)> {
    let mut words = comment.strip_prefix("port ")?.split(' ');
    let key = words.next()?;
    let protocol = match words.next()? {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    let host_ip = match words.next()? {
        "*" => None,
        ip => Some(ip.parse().ok()?),
    };
    let host = words.next()?.parse().ok()?;
    Some((
        key,
        Port {
            host,
            container: 0,
            protocol,
            host_ip,
        },
    ))
}

/// Delete the rules whose comment `doomed` picks, and the table with its
/// last rule.
fn remove_where(doomed: impl Fn(&str) -> bool) -> Result<()> {
    let _lock = lock()?;
    let rules = list()?;
    let mut batch = Batch::new();
    let deleted = delete_rules(&mut batch, &rules, &doomed);
    if deleted == 0 {
        return Ok(());
    }
    if deleted == rules.len() {
        batch.delete(NfListObject::Table(Table {
            family: NfFamily::INet,
            name: TABLE.into(),
            handle: None,
        }));
    }
    apply(batch.to_nftables())
}

fn delete_rules<'a>(
    batch: &mut Batch<'a>,
    rules: &[Rule<'a>],
    doomed: impl Fn(&str) -> bool,
) -> usize {
    let mut deleted = 0;
    for rule in rules {
        if rule.comment.as_deref().is_some_and(&doomed) {
            batch.delete(NfListObject::Rule(Rule {
                expr: Cow::Borrowed(&[]),
                ..rule.clone()
            }));
            deleted += 1;
        }
    }
    deleted
}

/// The table and its three nat chains; "add" leaves existing ones alone.
fn table_and_chains() -> Batch<'static> {
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    }));
    for (name, hook, prio) in [
        ("prerouting", NfHook::Prerouting, -100),
        ("output", NfHook::Output, -100),
        ("postrouting", NfHook::Postrouting, 100),
    ] {
        batch.add(NfListObject::Chain(Chain {
            family: NfFamily::INet,
            table: TABLE.into(),
            name: name.into(),
            _type: Some(NfChainType::NAT),
            hook: Some(hook),
            prio: Some(prio),
            ..Chain::default()
        }));
    }
    batch
}

/// The rules of ctrsh's table; none when it does not exist.
fn list() -> Result<Vec<Rule<'static>>> {
    let listed = nftables::helper::get_current_ruleset_with_args(
        nftables::helper::DEFAULT_NFT,
        ["list", "table", "inet", TABLE],
    );
    match listed {
        Ok(tables) => Ok(tables
            .objects
            .into_owned()
            .into_iter()
            .filter_map(|o| match o {
                NfObject::ListObject(NfListObject::Rule(r)) => Some(r),
                _ => None,
            })
            .collect()),
        Err(nftables::helper::NftablesError::NftFailed { stderr, .. })
            if stderr.contains("No such file or directory") =>
        {
            Ok(vec![])
        }
        Err(e) => Err(nft_error(e)),
    }
}

fn apply(ruleset: Nftables) -> Result<()> {
    nftables::helper::apply_ruleset(&ruleset).map_err(nft_error)
}

fn nft_error(e: nftables::helper::NftablesError) -> Error {
    use nftables::helper::NftablesError;
    match e {
        NftablesError::NftExecution { inner, .. }
            if inner.kind() == std::io::ErrorKind::NotFound =>
        {
            Error::new(
                ErrorKind::Unsupported,
                "nftables: the nft command is missing (install the nftables package)",
            )
        }
        NftablesError::NftFailed { stderr, .. } => {
            Error::new(ErrorKind::System, format!("nftables: {}", stderr.trim()))
        }
        other => Error::new(ErrorKind::System, format!("nftables: {other}")),
    }
}

fn lock() -> Result<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK)
        .ctx(format_args!("open {LOCK}"))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .ctx(format_args!("lock {LOCK}"))
}

fn rule_in(
    chain: &'static str,
    comment: &str,
    mut expr: Vec<Statement<'static>>,
    verdict: Statement<'static>,
) -> NfListObject<'static> {
    expr.push(verdict);
    NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: TABLE.into(),
        chain: chain.into(),
        expr: expr.into(),
        handle: None,
        index: None,
        comment: Some(comment.to_string().into()),
    })
}

fn matches(
    left: Expression<'static>,
    right: Expression<'static>,
    op: Operator,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: key.into(),
        family: None,
        dir: None,
    }))
}

fn fib_daddr_type() -> Expression<'static> {
    Expression::Named(NamedExpression::Fib(Fib {
        result: FibResult::Type,
        flags: [FibFlag::Daddr].into(),
    }))
}

fn text(s: &str) -> Expression<'static> {
    Expression::String(s.to_string().into())
}

fn ip_expr(ip: IpAddr) -> Expression<'static> {
    text(&ip.to_string())
}

fn prefix(net: IpNet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(ip_expr(net.network())),
        len: net.prefix_len().into(),
    }))
}

/// The payload protocol of an address: "ip" or "ip6".
fn family_name(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

/// `meta nfproto`'s name for an address's family.
fn nf_family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ipv4"
    } else {
        "ipv6"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_tags_round_trip() {
        let port = Port {
            host: 8080,
            container: 80,
            protocol: Protocol::Udp,
            host_ip: Some("::1".parse().unwrap()),
        };
        let tag = port_tag("vethabc", &port);
        assert_eq!(tag, "port vethabc udp ::1 8080");
        let (key, back) = parse_port_tag(&tag).unwrap();
        assert_eq!(key, "vethabc");
        assert_eq!(
            back,
            Port {
                container: 0,
                ..port
            }
        );
        assert_eq!(parse_port_tag("network ctrsh0"), None);
        let any = port_tag(
            "k",
            &Port {
                host_ip: None,
                ..port
            },
        );
        assert_eq!(parse_port_tag(&any).unwrap().1.host_ip, None);
    }
}
