//! Network setup inside the container's network namespace: loopback.

use super::config::Network;
use super::error::{Context, Error, Result};
use std::net::IpAddr;

/// Loopback's own addresses: what "loopback up with its address" can mean
/// without netlink address management.
fn is_loopback_default(addr: &str) -> bool {
    let ip = addr.split('/').next().unwrap_or(addr);
    matches!(ip.parse::<IpAddr>(), Ok(ip) if ip == IpAddr::from([127, 0, 0, 1]) || ip == IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]))
        || ip == "localhost"
}

pub fn setup(networks: &[Network]) -> Result<()> {
    for (i, n) in networks.iter().enumerate() {
        if n.kind != "loopback" {
            return Err(Error::config(format!(
                "networks[{i}].type: '{}' is not supported (only \"loopback\")",
                n.kind
            )));
        }
        if let Some(a) = &n.address {
            if !is_loopback_default(a) {
                return Err(Error::config(format!(
                    "networks[{i}].address: '{a}': loopback carries 127.0.0.1/8 and ::1; other addresses are not supported"
                )));
            }
        }
        loopback_up()?;
    }
    Ok(())
}

fn loopback_up() -> Result<()> {
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(std::io::Error::last_os_error()).ctx("socket for interface setup");
    }
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    let result = (|| {
        if unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx("read flags of lo");
        }
        unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
        if unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx("bring lo up");
        }
        Ok(())
    })();
    unsafe { libc::close(sock) };
    result
}
