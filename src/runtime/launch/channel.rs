//! Parent <-> init messages: one JSON document per SEQPACKET datagram, with
//! file descriptors (stdio, namespaces) passed alongside as SCM_RIGHTS.
//! Each end is typed by what it sends and receives (messages.rs); what
//! each side waits for is in exchange.rs.

use super::messages::{FromInit, ToInit};
use crate::runtime::error::{Context, Error, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use rustix::io::Errno;
use rustix::net::{
    recv, recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};
use serde::{de::DeserializeOwned, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

const MAX_MESSAGE: usize = 1 << 20;
/// SCM_MAX_FD: the most fds one message can carry.
const MAX_FDS: usize = 253;

/// One end of a connection: it sends `Out` and receives `In`. What each
/// end waits for next is in exchange.rs.
pub(crate) struct Channel<Out, In> {
    fd: OwnedFd,
    messages: PhantomData<fn(&Out) -> In>,
}

/// The parent's end of its connection to an init (the spawn channel, or a
/// connection to a created container's start socket).
pub(crate) type ParentEnd = Channel<ToInit, FromInit>;
/// The init's end.
pub(crate) type InitEnd = Channel<FromInit, ToInit>;

/// Two connected ends, both close-on-exec.
pub(crate) fn pair() -> Result<(ParentEnd, InitEnd)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx("socketpair for the init channel")?;
    Ok((Channel::from_fd(a), Channel::from_fd(b)))
}

impl<Out: Serialize, In: DeserializeOwned> Channel<Out, In> {
    pub fn from_fd(fd: OwnedFd) -> Self {
        Channel {
            fd,
            messages: PhantomData,
        }
    }

    /// # Safety
    /// `fd` must be an open socket that nothing else owns.
    pub unsafe fn from_raw(fd: RawFd) -> Self {
        // SAFETY: the caller's promise (above).
        Channel::from_fd(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Move the channel to an fd numbered `min` or above.
    pub fn renumber_from(&mut self, min: RawFd) -> Result<()> {
        self.fd = crate::runtime::sys::dup_from(&self.fd, min)?;
        Ok(())
    }

    pub fn send(&self, msg: &Out, fds: &[BorrowedFd]) -> Result<()> {
        let data = serde_json::to_vec(msg)
            .map_err(|e| Error::protocol(format!("encode init message: {e}")))?;
        let iov = [IoSlice::new(&data)];
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(Error::protocol(format!(
                "{} fds are more than one message to the container init can carry",
                fds.len()
            )));
        }
        loop {
            match sendmsg(&self.fd, &iov, &mut control, SendFlags::NOSIGNAL) {
                Err(Errno::INTR) => continue,
                r => {
                    r.ctx("send a message to the container init")?;
                    return Ok(());
                }
            }
        }
    }

    /// The next message and the fds that came with it; None on EOF (the
    /// other end closed, e.g. by exec or exit).
    pub fn recv(&self) -> Result<Option<(In, Vec<OwnedFd>)>> {
        // The datagram's length first, so the buffer fits it: a fresh
        // MAX_MESSAGE buffer per message, zeroed and faulted in, would cost
        // the init more than the peek.
        // A peer that exits with a message of ours unread resets the
        // connection: the next receive (the peek or the read) reports
        // ECONNRESET once, even when the peer's last words (a Failed
        // report) are queued.
        let mut reset = false;
        let size = loop {
            match recv(&self.fd, &mut [0u8; 0], RecvFlags::PEEK | RecvFlags::TRUNC) {
                Err(Errno::INTR) => continue,
                Err(Errno::CONNRESET) if !reset => reset = true,
                r => break r.ctx("receive a message from the container init")?.1,
            }
        };
        if size == 0 {
            return Ok(None);
        }
        if size > MAX_MESSAGE {
            return Err(Error::protocol(format!(
                "a message of {size} bytes from the container init is larger than {MAX_MESSAGE}"
            )));
        }
        let mut buf = vec![0u8; size];
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let len = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg(&self.fd, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
                Err(Errno::INTR) => continue,
                Err(Errno::CONNRESET) if !reset => reset = true,
                r => break r.ctx("receive a message from the container init")?.bytes,
            }
        };
        // Owned as they come out of the buffer (which closes any left in it).
        let fds: Vec<OwnedFd> = control
            .drain()
            .flat_map(|m| match m {
                RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
                _ => vec![],
            })
            .collect();
        if len == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..len])
            .map_err(|e| Error::protocol(format!("decode init message: {e}")))?;
        Ok(Some((msg, fds)))
    }
}
