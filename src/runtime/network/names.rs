//! The name files a container gets: /etc/hostname, /etc/resolv.conf with
//! the host's resolvers and /etc/hosts with its own name and addresses.

use crate::runtime::error::{Context, Result};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::Path;

/// The name files of a container: /etc/hostname with `hostname` (when it
/// has its own uts namespace), and, when it has its own net namespace
/// (`net`: its names, the hostname first, and addresses), /etc/hosts and
/// /etc/resolv.conf (with IPv6 servers when it has an IPv6 address). Each
/// is the file's name in the state dir, where it goes in the container,
/// and its text.
pub fn name_files(
    hostname: Option<&str>,
    net: Option<(&[&str], &[IpNet])>,
) -> Result<Vec<(NameFile, String)>> {
    let [hostname_file, hosts_file, resolv_file] = NAME_FILES;
    let mut files = vec![];
    if let Some(name) = hostname {
        files.push((hostname_file, format!("{name}\n")));
    }
    if let Some((names, addresses)) = net {
        let ipv6 = addresses.iter().any(|a| a.addr().is_ipv6());
        files.push((hosts_file, hosts(names, addresses)));
        files.push((resolv_file, resolv_conf(Path::new("/"), ipv6)?));
    }
    Ok(files)
}

/// A name file: its name in the state dir, and where it goes.
pub type NameFile = (&'static str, &'static str);

/// Every name file a container may have.
pub const NAME_FILES: [NameFile; 3] = [
    ("hostname", "/etc/hostname"),
    ("hosts", "/etc/hosts"),
    ("resolv.conf", "/etc/resolv.conf"),
];

/// Where systemd-resolved keeps the servers its 127.0.0.53 stub forwards to.
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// resolv.conf for a container, from the host's files under `host_root`
/// ("/" but in tests). A nameserver on the host's loopback (a local stub
/// such as systemd-resolved's 127.0.0.53, or dnsmasq) is out of reach from
/// the container's network namespace: the stub's upstream servers take
/// its place when systemd-resolved lists them.
pub fn resolv_conf(host_root: &Path, ipv6: bool) -> Result<String> {
    let read = |path: &str| {
        let file = host_root.join(path.trim_start_matches('/'));
        match std::fs::read_to_string(&file) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).ctx(format_args!("read {}", file.display())),
        }
    };
    let host = read("/etc/resolv.conf")?.unwrap_or_default();
    let upstream = if servers(&host).iter().any(|s| s.is_loopback()) {
        read(RESOLVED_UPSTREAM)?
    } else {
        None
    };
    Ok(container_resolv_conf(&host, upstream.as_deref(), ipv6))
}

/// The nameservers a resolv.conf names.
fn servers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|s| s.split_whitespace().next()?.split('%').next()?.parse().ok())
        .collect()
}

/// The host's resolv.conf without the servers a container cannot reach:
/// loopback ones (replaced by `upstream`'s, the stub's servers) and IPv6
/// ones on a network without IPv6. `search` and `options` are kept.
fn container_resolv_conf(host: &str, upstream: Option<&str>, ipv6: bool) -> String {
    let reachable = |ip: &IpAddr| !ip.is_loopback() && (ipv6 || ip.is_ipv4());
    let mut found: Vec<IpAddr> = servers(host).into_iter().filter(reachable).collect();
    if servers(host).iter().any(|s| s.is_loopback()) {
        let from_stub = upstream.map(servers).unwrap_or_default();
        found.extend(from_stub.into_iter().filter(reachable));
    }
    found.dedup();
    let mut out = String::new();
    for line in host.lines().map(str::trim) {
        if line.starts_with("search ") || line.starts_with("options ") {
            out.push_str(line);
            out.push('\n');
        }
    }
    if found.is_empty() {
        out.push_str("# ctrsh: the host has no nameserver a container can reach\n");
    }
    for server in found {
        out.push_str(&format!("nameserver {server}\n"));
    }
    out
}

/// /etc/hosts: loopback names, then `names` (the hostname first) on each
/// of the container's addresses.
pub fn hosts(names: &[&str], addresses: &[IpNet]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    let mut names = names.to_vec();
    names.dedup();
    for address in addresses {
        out.push_str(&format!("{}\t{}\n", address.addr(), names.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_servers_search_and_options_are_kept() {
        let host = "# generated\nsearch example.org\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:2\n";
        assert_eq!(
            container_resolv_conf(host, None, true),
            "search example.org\noptions ndots:2\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
        );
        assert_eq!(
            container_resolv_conf(host, None, false),
            "search example.org\noptions ndots:2\nnameserver 192.0.2.53\n",
            "no IPv6 server without IPv6"
        );
    }

    #[test]
    fn a_local_stub_is_replaced_by_its_upstream_servers() {
        let host = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n";
        let upstream = "nameserver 198.51.100.1\nnameserver 198.51.100.2\nsearch lan\n";
        assert_eq!(
            container_resolv_conf(host, Some(upstream), false),
            "options edns0 trust-ad\nsearch lan\nnameserver 198.51.100.1\nnameserver 198.51.100.2\n"
        );
    }

    #[test]
    fn no_reachable_server_is_said_in_the_file() {
        let text = container_resolv_conf("nameserver 127.0.0.1\n", None, true);
        assert_eq!(
            text,
            "# ctrsh: the host has no nameserver a container can reach\n"
        );
    }

    #[test]
    fn resolv_conf_reads_the_stub_upstream_only_for_a_loopback_server() {
        let dir = std::env::temp_dir().join(format!("ctrsh-names-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::create_dir_all(dir.join("run/systemd/resolve")).unwrap();
        std::fs::write(dir.join("etc/resolv.conf"), "nameserver 127.0.0.53\n").unwrap();
        std::fs::write(
            dir.join("run/systemd/resolve/resolv.conf"),
            "nameserver 203.0.113.9\n",
        )
        .unwrap();
        let stub = resolv_conf(&dir, false);
        std::fs::write(dir.join("etc/resolv.conf"), "nameserver 203.0.113.7\n").unwrap();
        let direct = resolv_conf(&dir, false);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(stub.unwrap(), "nameserver 203.0.113.9\n");
        assert_eq!(direct.unwrap(), "nameserver 203.0.113.7\n");
    }

    #[test]
    fn hosts_names_every_address() {
        let addresses = [
            "10.88.0.5/16".parse().unwrap(),
            "fd88::5/64".parse().unwrap(),
        ];
        let text = hosts(&["web", "web-1"], &addresses);
        assert!(text.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost"));
        assert!(
            text.ends_with("10.88.0.5\tweb web-1\nfd88::5\tweb web-1\n"),
            "{text}"
        );
        assert!(hosts(&["a", "a"], &addresses[..1]).ends_with("10.88.0.5\ta\n"));
    }
}
