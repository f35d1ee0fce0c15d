//! The unix socket in a created container's state dir on which its init
//! waits for "start": any ctrsh process can connect to it. Paths go through
//! /proc/self/fd/<dirfd> so a long state root cannot overflow sun_path.

use crate::runtime::error::{Context, Result};
use crate::runtime::launch::channel::{Channel, ParentEnd};
use nix::sys::socket::{
    bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

pub const NAME: &str = "init.sock";

/// A new SEQPACKET socket and the short address of `dir`'s start socket
/// (valid while the returned dir fd is open).
fn socket_and_address(dir: &Path) -> Result<(OwnedFd, UnixAddr, File)> {
    let dirfd = File::open(dir).ctx(format_args!("open {}", dir.display()))?;
    let path = format!("/proc/self/fd/{}/{NAME}", dirfd.as_raw_fd());
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx("socket for start")?;
    let addr = UnixAddr::new(path.as_str()).ctx("start socket address")?;
    Ok((sock, addr, dirfd))
}

/// Bound and listening, for the init to accept on.
pub fn listen_in(dir: &Path) -> Result<OwnedFd> {
    let (sock, addr, _dirfd) = socket_and_address(dir)?;
    bind(sock.as_raw_fd(), &addr).ctx(format_args!("bind {}", dir.join(NAME).display()))?;
    listen(&sock, Backlog::new(4).expect("valid backlog")).ctx("listen on the start socket")?;
    Ok(sock)
}

/// Connected to a created container's init.
pub fn connect_in(dir: &Path) -> Result<ParentEnd> {
    let (sock, addr, _dirfd) = socket_and_address(dir)?;
    connect(sock.as_raw_fd(), &addr)
        .ctx(format_args!("connect to {}", dir.join(NAME).display()))?;
    Ok(Channel::from_fd(sock))
}
