//! `--console-socket`: the pty master goes to the engine over a unix
//! socket as SCM_RIGHTS, as runc sends it (with the pty's name as data).

use crate::runtime::error::Context;
use crate::runtime::Result;
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Send `master` to the socket at `path`; our copy closes after.
pub fn send(path: &Path, master: OwnedFd) -> Result<()> {
    let what = || format!("console socket {}", path.display());
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx(what())?;
    let addr = UnixAddr::new(path).ctx(what())?;
    connect(sock.as_raw_fd(), &addr).ctx(format_args!("connect to the {}", what()))?;
    let name = nix::unistd::ttyname(&master)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/dev/ptmx".into());
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(format_args!("send the pty master to the {}", what()))?;
    Ok(())
}

/// Set the pty's size (the bundle's `process.consoleSize`).
pub fn resize(master: &OwnedFd, height: u16, width: u16) -> Result<()> {
    let size = rustix::termios::Winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master, size).ctx("set the terminal size")
}
