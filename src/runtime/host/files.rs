//! Files in and out of a live container: `copy_in`, `copy_out`,
//! `read_file` and `write_file`, run by the parent.
//!
//! The container's root is reached as `/proc/<init>/root`. A walk from it
//! crosses the mounts of the container's mount namespace, so a tmpfs or a
//! bind mount inside is reached, without joining that namespace (setns
//! into a mount namespace is refused to a threaded process). Every path
//! inside is opened with openat2(RESOLVE_IN_ROOT), as runc's securejoin and
//! libpathrs do: `..` and symlinks, absolute or relative, resolve as in a
//! chroot at the container's root, so no link can lead to a host file.
//! Below the path named, a tree is walked with *at calls that never follow
//! a symlink: links are copied as links.
//!
//! Owner, mode and mtime are kept, as `cp -a` and `docker cp` keep them.
//! The owner is the uid/gid as each side sees it: in a container with a
//! user namespace, a file copied in keeps the number the host shows, seen
//! from inside; one copied out gets the number the container shows.

use crate::runtime::error::{Context, Error, Result};
use crate::runtime::host::container::Container;
use crate::runtime::sys::idmap::{IdMapping, Ids};
use crate::runtime::sys::proc::Proc;
use crate::runtime::sys::tree::{not_found, Copier, Node};
use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, FileStat, Mode};
use nix::unistd::{fchown, Gid, Uid};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

impl Container {
    /// Copies the host file or directory `host` into the container, to
    /// `inside` (into it when it is a directory).
    pub fn copy_in(&self, host: &Path, inside: &Path) -> Result<()> {
        self.root()
            .and_then(|root| root.copy_in(host, inside))
            .map_err(|e| e.context(format!("copy_in to container '{}'", self.id())))
    }

    /// Copies the file or directory `inside` the container to the host
    /// path `host` (into it when it is a directory).
    pub fn copy_out(&self, inside: &Path, host: &Path) -> Result<()> {
        self.root()
            .and_then(|root| root.copy_out(inside, host))
            .map_err(|e| e.context(format!("copy_out from container '{}'", self.id())))
    }

    /// The contents of the regular file `inside` the container.
    pub fn read_file(&self, inside: &Path) -> Result<Vec<u8>> {
        self.root()
            .and_then(|root| root.read_file(inside))
            .map_err(|e| e.context(format!("read_file in container '{}'", self.id())))
    }

    /// Creates or replaces the file `inside` the container with `data`.
    pub fn write_file(&self, inside: &Path, data: &[u8]) -> Result<()> {
        self.root()
            .and_then(|root| root.write_file(inside, data))
            .map_err(|e| e.context(format!("write_file in container '{}'", self.id())))
    }

    /// The root of the container while its init lives: created, running
    /// or paused.
    fn root(&self) -> Result<ContainerRoot> {
        let (state, init) = self.state_and_init()?;
        ContainerRoot::open(init.pid, || {
            Proc::host()
                .stat(init.pid)
                .is_some_and(|s| s.start_time == state.init_start_time && !s.is_dead())
        })
    }
}

/// The root of a live container, opened from the host, with the id maps
/// of its user namespace (the identity without one).
struct ContainerRoot {
    root: OwnedFd,
    uids: IdMapping,
    gids: IdMapping,
}

/// Which way a copy goes, for the owner it gives.
#[derive(Clone, Copy)]
enum Direction {
    In,
    Out,
}

impl ContainerRoot {
    /// Opens `/proc/<pid>/root` of the init `pid`; `still_init` then
    /// checks that the pid was not recycled while it was opened.
    fn open(pid: i32, still_init: impl Fn() -> bool) -> Result<ContainerRoot> {
        let proc = Proc::host();
        // The one magic link followed: the init's root, in its namespace.
        let root = nix::fcntl::open(
            &proc.path(pid, "root"),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx("open the container's root")?;
        let uids = IdMapping::of_process(&proc, pid, Ids::Uids)?;
        let gids = IdMapping::of_process(&proc, pid, Ids::Gids)?;
        if !still_init() {
            return Err(Error::state("the container stopped"));
        }
        Ok(ContainerRoot { root, uids, gids })
    }

    /// Copies the host file or directory `host` to `inside`.
    fn copy_in(&self, host: &Path, inside: &Path) -> Result<()> {
        let source = Node::open(AT_FDCWD, host, ResolveFlag::empty())
            .map_err(|e| e.context(format!("host path {}", host.display())))?;
        let (dir, name) = destination(&self.root, inside, ResolveFlag::RESOLVE_IN_ROOT, host)
            .map_err(|e| e.context(format!("{} in the container", inside.display())))?;
        self.copy(Direction::In, source, &dir, &name)
    }

    /// Copies the file or directory `inside` to `host`.
    fn copy_out(&self, inside: &Path, host: &Path) -> Result<()> {
        let source = Node::open(&self.root, inside, ResolveFlag::RESOLVE_IN_ROOT)
            .map_err(|e| e.context(format!("{} in the container", inside.display())))?;
        let (dir, name) = destination(AT_FDCWD, host, ResolveFlag::empty(), inside)
            .map_err(|e| e.context(format!("host path {}", host.display())))?;
        self.copy(Direction::Out, source, &dir, &name)
    }

    /// The bytes of the regular file `inside`.
    fn read_file(&self, inside: &Path) -> Result<Vec<u8>> {
        let what = || format!("{} in the container", inside.display());
        let (node, _) = Node::open(&self.root, inside, ResolveFlag::RESOLVE_IN_ROOT)
            .map_err(|e| e.context(what()))?;
        let Node::File(file) = node else {
            return Err(Error::config(format!("{}: not a regular file", what())));
        };
        let mut bytes = Vec::new();
        File::from(file)
            .read_to_end(&mut bytes)
            .ctx(format_args!("read {}", what()))?;
        Ok(bytes)
    }

    /// Creates or replaces the contents of the file `inside` (a symlink is
    /// followed within the root). A new file is 0644 and belongs to the
    /// container's root; an existing one keeps its owner and mode.
    fn write_file(&self, inside: &Path, data: &[u8]) -> Result<()> {
        let what = || format!("write {} in the container", inside.display());
        let how = |flags| {
            OpenHow::new()
                .flags(flags | OFlag::O_WRONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
                .mode(Mode::from_bits_truncate(0o644))
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
        };
        let file = match openat2(&self.root, inside, how(OFlag::O_CREAT | OFlag::O_EXCL)) {
            Ok(fd) => {
                let owner = (self.uids.to_host(0), self.gids.to_host(0));
                if let (Some(uid), Some(gid)) = owner {
                    fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).ctx(what())?;
                }
                fchmod(&fd, Mode::from_bits_truncate(0o644)).ctx(what())?;
                fd
            }
            Err(Errno::EEXIST) => openat2(&self.root, inside, how(OFlag::O_TRUNC)).ctx(what())?,
            Err(e) => return Err(e).ctx(what()),
        };
        File::from(file).write_all(data).ctx(what())
    }

    /// Copies `source` to the entry `name` of `dir`, giving the copy its
    /// owner on the other side.
    fn copy(
        &self,
        direction: Direction,
        source: (Node, FileStat),
        dir: &OwnedFd,
        name: &OsStr,
    ) -> Result<()> {
        let owner = |stat: &FileStat| self.owner(direction, stat);
        let copier = Copier {
            owner: &owner,
            exact: false,
        };
        copier.copy(source, dir, name)
    }

    /// The owner a copy gets on the other side, given the source's.
    fn owner(&self, direction: Direction, stat: &FileStat) -> Result<(Uid, Gid)> {
        let (uid, gid) = match direction {
            Direction::In => {
                let unmapped = |what, id| {
                    Error::config(format!(
                        "the host file's {what} {id} has no id in the container's user namespace (its {what}_mappings); chown it on the host first"
                    ))
                };
                (
                    self.uids
                        .to_host(stat.st_uid)
                        .ok_or_else(|| unmapped("uid", stat.st_uid))?,
                    self.gids
                        .to_host(stat.st_gid)
                        .ok_or_else(|| unmapped("gid", stat.st_gid))?,
                )
            }
            // An id the container cannot see shows as the overflow id
            // there (nobody), and so it does here.
            Direction::Out => (
                self.uids.to_container(stat.st_uid).unwrap_or(OVERFLOW_ID),
                self.gids.to_container(stat.st_gid).unwrap_or(OVERFLOW_ID),
            ),
        };
        Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
    }
}

/// What an id outside a user namespace's map shows as (the kernel's
/// default overflowuid/overflowgid).
const OVERFLOW_ID: u32 = 65534;

/// Where a copy of `source` goes when asked to go to `dest`: into `dest`
/// under the source's name when `dest` is a directory (as `cp` does), else
/// `dest` itself, whose parent directory must exist.
fn destination(
    base: impl AsFd + Copy,
    dest: &Path,
    resolve: ResolveFlag,
    source: &Path,
) -> Result<(OwnedFd, OsString)> {
    let open_dir = |path: &Path| {
        openat2(
            base,
            path,
            OpenHow::new()
                .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(resolve | ResolveFlag::RESOLVE_NO_MAGICLINKS),
        )
    };
    match (open_dir(dest), source.file_name()) {
        (Ok(dir), Some(name)) => return Ok((dir, name.to_os_string())),
        (Err(Errno::ENOENT | Errno::ENOTDIR), _) | (Ok(_), None) => {}
        (Err(e), _) => return Err(e).ctx("open"),
    }
    let (Some(name), Some(parent)) = (dest.file_name(), dest.parent()) else {
        return Err(Error::config("name the file or directory to copy to"));
    };
    let parent = match parent.as_os_str().is_empty() {
        true => Path::new("."),
        false => parent,
    };
    let dir = open_dir(parent)
        .map_err(not_found)
        .map_err(|e| e.context(format!("its directory {}", parent.display())))?;
    Ok((dir, name.to_os_string()))
}
