//! Network setup inside the container's network namespace: loopback.

use crate::runtime::config::CheckedNetwork;
use crate::runtime::error::{Context, Result};
use std::os::fd::AsRawFd;

/// Bring up lo for every network of the container's own namespace
/// (127.0.0.1/8 and ::1, which lo carries once up); eth0 of a bridge or
/// pasta network comes from the parent.
pub fn setup(networks: &[CheckedNetwork]) -> Result<()> {
    if !networks.is_empty() {
        loopback_up()?;
    }
    Ok(())
}

fn loopback_up() -> Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let owned = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx("socket for interface setup")?;
    let sock = owned.as_raw_fd();
    // SAFETY: ifreq is plain data, for which all zeroes is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the ifreq it is given.
    if unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx("read flags of lo");
    }
    // SAFETY: SIOCGIFFLAGS wrote the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the ifreq it is given.
    if unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx("bring lo up");
    }
    Ok(())
}
