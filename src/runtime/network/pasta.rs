//! Outbound networking and port forwards for rootless containers, through
//! pasta (Debian's passt package), as podman does: pasta joins the
//! container's user and network namespaces, makes a tap device (eth0)
//! there with the host's address and routes, and carries the container's
//! traffic over ordinary sockets of the host. No privilege is needed, but
//! /dev/net/tun must be usable by the user (mode 0666, as udev makes it).
//!
//! pasta runs in the background for as long as the container: it holds
//! the container's network namespace, so it does not end by itself. Its
//! pid file (in the container's state dir) is how destroy finds it.

use super::{Port, Protocol};
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use std::path::Path;
use std::process::{Command, Stdio};

/// pasta's pid file, in the container's state dir.
pub const PID_FILE: &str = "pasta.pid";

/// Start pasta for the namespaces of `pid` (the container's init),
/// forwarding `ports` of the host; its pid file goes into `state_dir`.
pub fn start(pid: i32, ports: &[Port], state_dir: &Path) -> Result<()> {
    let pid_file = state_dir.join(PID_FILE);
    let out = Command::new("pasta")
        .args(args(ports))
        .arg("--pid")
        .arg(&pid_file)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::new(
                ErrorKind::Unsupported,
                "pasta is missing: rootless networking needs it (apt-get install passt)",
            ),
            _ => Error::sys("run pasta", e),
        })?;
    if !out.status.success() {
        let why: Vec<&str> = std::str::from_utf8(&out.stderr)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("Failed to send") && !l.starts_with("Don't run as root"))
            .collect();
        return Err(Error::new(
            ErrorKind::System,
            format!("pasta failed ({}): {}", out.status, why.join("; ")),
        ));
    }
    Ok(())
}

/// Stop the pasta of the container whose state dir is `state_dir`, if it
/// has one that still runs.
pub fn stop(state_dir: &Path) -> Result<()> {
    let pid_file = state_dir.join(PID_FILE);
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(());
    };
    // The pid is pasta's only while its command says so (not recycled).
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.starts_with("pasta") || comm.starts_with("passt") {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGTERM)
            .ctx(format_args!("stop pasta (pid {pid})"))?;
    }
    Ok(())
}

/// pasta's options: configure eth0 in the namespace, forward exactly
/// `ports` into it and nothing out of it, and no mapping of the gateway
/// address to the host's loopback (which would open the host's local
/// services to the container).
fn args(ports: &[Port]) -> Vec<String> {
    let spec = |protocol| {
        let list: Vec<String> = ports
            .iter()
            .filter(|p| p.protocol == protocol)
            .map(|p| match p.host_ip {
                Some(ip) => format!("{ip}/{}:{}", p.host, p.container),
                None => format!("{}:{}", p.host, p.container),
            })
            .collect();
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(",")
        }
    };
    [
        "--config-net",
        "--quiet",
        "--ns-ifname",
        "eth0",
        "--no-map-gw",
        "--tcp-ports",
        &spec(Protocol::Tcp),
        "--udp-ports",
        &spec(Protocol::Udp),
        "--tcp-ns",
        "none",
        "--udp-ns",
        "none",
    ]
    .map(String::from)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_become_pasta_forward_specs() {
        let ports = [
            Port {
                host: 8080,
                container: 80,
                protocol: Protocol::Tcp,
                host_ip: None,
            },
            Port {
                host: 5353,
                container: 53,
                protocol: Protocol::Udp,
                host_ip: Some("127.0.0.1".parse().unwrap()),
            },
            Port {
                host: 8443,
                container: 443,
                protocol: Protocol::Tcp,
                host_ip: None,
            },
        ];
        let a = args(&ports);
        let after = |flag: &str| a[a.iter().position(|x| x == flag).unwrap() + 1].clone();
        assert_eq!(after("--tcp-ports"), "8080:80,8443:443");
        assert_eq!(after("--udp-ports"), "127.0.0.1/5353:53");
        assert_eq!(after("--tcp-ns"), "none");
        assert_eq!(
            args(&[])[args(&[]).iter().position(|x| x == "--tcp-ports").unwrap() + 1],
            "none"
        );
    }
}
