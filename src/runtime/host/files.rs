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

use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::container::Container;
use crate::runtime::sys::proc::Proc;
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, futimens, mkdirat, mknodat, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
    uids: IdMap,
    gids: IdMap,
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
        let uids = IdMap::parse(&proc.read(pid, "uid_map")?);
        let gids = IdMap::parse(&proc.read(pid, "gid_map")?);
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
        self.copier(Direction::In).copy(source, &dir, &name)
    }

    /// Copies the file or directory `inside` to `host`.
    fn copy_out(&self, inside: &Path, host: &Path) -> Result<()> {
        let source = Node::open(&self.root, inside, ResolveFlag::RESOLVE_IN_ROOT)
            .map_err(|e| e.context(format!("{} in the container", inside.display())))?;
        let (dir, name) = destination(AT_FDCWD, host, ResolveFlag::empty(), inside)
            .map_err(|e| e.context(format!("host path {}", host.display())))?;
        self.copier(Direction::Out).copy(source, &dir, &name)
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
            .ctx(format!("read {}", what()))?;
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

    fn copier(&self, direction: Direction) -> Copier<'_> {
        Copier {
            root: self,
            direction,
        }
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

/// `/proc/<pid>/uid_map` or `gid_map`: lines of "inside outside count".
struct IdMap(Vec<(u32, u32, u32)>);

impl IdMap {
    fn parse(text: &str) -> IdMap {
        let ranges = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace().map(str::parse::<u32>);
                match (fields.next(), fields.next(), fields.next()) {
                    (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) => {
                        Some((inside, outside, count))
                    }
                    _ => None,
                }
            })
            .collect();
        IdMap(ranges)
    }

    fn to_host(&self, id: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|(inside, _, count)| id >= *inside && id - inside < *count)
            .map(|(inside, outside, _)| outside + (id - inside))
    }

    fn to_container(&self, id: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|(_, outside, count)| id >= *outside && id - outside < *count)
            .map(|(inside, outside, _)| inside + (id - outside))
    }
}

/// A file-system object opened for copying, and its metadata.
enum Node {
    Dir(OwnedFd),
    File(OwnedFd),
    Symlink(OsString),
    /// A device node or a fifo, made anew from its mode and rdev.
    Special,
}

impl Node {
    /// Opens `path` below `base` (following symlinks, within the root when
    /// `resolve` says so).
    fn open(base: impl AsFd, path: &Path, resolve: ResolveFlag) -> Result<(Node, FileStat)> {
        let fd = open_path(base, path, resolve).map_err(not_found)?;
        let stat = fstat(&fd).ctx("stat")?;
        // O_PATH gives no access to the contents: the directory or file is
        // opened again through the fd we hold, never through the path.
        let node = match file_type(&stat) {
            SFlag::S_IFDIR => Node::Dir(reopen(&fd, OFlag::O_DIRECTORY)?),
            SFlag::S_IFREG => Node::File(reopen(&fd, OFlag::empty())?),
            _ => Node::child(&fd, OsStr::new(""), &stat)?,
        };
        Ok((node, stat))
    }

    /// The entry `name` of `dir` (`""`: `dir` itself), never following a symlink.
    fn child(dir: &OwnedFd, name: &OsStr, stat: &FileStat) -> Result<Node> {
        let open = |flags| {
            openat(
                dir,
                name,
                flags | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
        };
        Ok(match file_type(stat) {
            SFlag::S_IFDIR => Node::Dir(open(OFlag::O_DIRECTORY).ctx("open")?),
            // O_NONBLOCK: a fifo swapped in meanwhile must not hang us.
            SFlag::S_IFREG => {
                let fd = open(OFlag::O_NONBLOCK | OFlag::O_NOCTTY).ctx("open")?;
                match file_type(&fstat(&fd).ctx("stat")?) {
                    SFlag::S_IFREG => Node::File(fd),
                    _ => return Err(Error::state("the file was replaced while being copied")),
                }
            }
            SFlag::S_IFLNK => Node::Symlink(readlinkat(dir, name).ctx("read the symlink")?),
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => Node::Special,
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "a socket cannot be copied",
                ))
            }
        })
    }
}

/// The owner, mode and times of a node written through `fd`. The owner
/// first: chown clears the setuid and setgid bits.
fn set_attributes(
    fd: &impl AsFd,
    (uid, gid): (Uid, Gid),
    mode: Mode,
    (atime, mtime): &(TimeSpec, TimeSpec),
) -> Result<()> {
    fchown(fd, Some(uid), Some(gid)).ctx("set the owner")?;
    fchmod(fd, mode).ctx("set the mode")?;
    futimens(fd, atime, mtime).ctx("set the mtime")
}

/// Writes nodes below a destination directory, giving them their owner.
struct Copier<'a> {
    root: &'a ContainerRoot,
    direction: Direction,
}

impl Copier<'_> {
    /// Copies `source` to the entry `name` of `dir`.
    fn copy(&self, (node, stat): (Node, FileStat), dir: &OwnedFd, name: &OsStr) -> Result<()> {
        let name_str = name.to_string_lossy();
        self.write(node, &stat, dir, name)
            .map_err(|e| e.context(format!("copy '{name_str}'")))
    }

    fn write(&self, node: Node, stat: &FileStat, dir: &OwnedFd, name: &OsStr) -> Result<()> {
        let (uid, gid) = self.root.owner(self.direction, stat)?;
        let mode = Mode::from_bits_truncate(stat.st_mode & 0o7777);
        let times = (
            TimeSpec::new(stat.st_atime, stat.st_atime_nsec),
            TimeSpec::new(stat.st_mtime, stat.st_mtime_nsec),
        );
        match node {
            Node::Dir(source) => {
                match mkdirat(dir, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).ctx("create the directory"),
                }
                let target = openat(
                    dir,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .ctx("open the directory (something that is not a directory is in the way)")?;
                self.write_entries(source, &target)?;
                // After the entries: a read-only directory can be filled.
                set_attributes(&target, (uid, gid), mode, &times)
            }
            Node::File(source) => {
                make_room(dir, name)?;
                let target = openat(
                    dir,
                    name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .ctx("create the file")?;
                let mut target = File::from(target);
                std::io::copy(&mut File::from(source), &mut target).ctx("copy the contents")?;
                set_attributes(&target, (uid, gid), mode, &times)
            }
            Node::Symlink(target) => {
                make_room(dir, name)?;
                // Stored as it is: it resolves on its own side.
                symlinkat(target.as_os_str(), dir, name).ctx("create the symlink")?;
                fchownat(
                    dir,
                    name,
                    Some(uid),
                    Some(gid),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .ctx("set the owner")
            }
            Node::Special => {
                make_room(dir, name)?;
                let kind = file_type(stat);
                mknodat(dir, name, kind, Mode::empty(), stat.st_rdev).ctx("create the node")?;
                // Through an fd of the node just made: a path could be
                // swapped for a symlink meanwhile.
                let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let fd = openat(dir, name, flags, Mode::empty())
                    .and_then(|fd| match file_type(&fstat(&fd)?) == kind {
                        true => Ok(fd),
                        false => Err(Errno::ELOOP),
                    })
                    .ctx("open the node")?;
                fchownat(&fd, "", Some(uid), Some(gid), AtFlags::AT_EMPTY_PATH)
                    .ctx("set the owner")?;
                std::fs::set_permissions(
                    fd_path(&fd),
                    std::os::unix::fs::PermissionsExt::from_mode(mode.bits()),
                )
                .ctx("set the mode")
            }
        }
    }

    /// Copies every entry of the directory `source` into `target`.
    fn write_entries(&self, source: OwnedFd, target: &OwnedFd) -> Result<()> {
        let source_fd = source.try_clone().ctx("dup a directory fd")?;
        let mut entries = nix::dir::Dir::from_fd(source).ctx("read the directory")?;
        for entry in entries.iter() {
            let entry = entry.ctx("read the directory")?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let stat = fstatat(&source_fd, name, AtFlags::AT_SYMLINK_NOFOLLOW).ctx("stat")?;
            let node = Node::child(&source_fd, name, &stat)?;
            self.copy((node, stat), target, name)?;
        }
        Ok(())
    }
}

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

/// An O_PATH fd of `path` below `base`, following symlinks (within the
/// root with RESOLVE_IN_ROOT) but never a /proc magic link.
fn open_path(base: impl AsFd, path: &Path, resolve: ResolveFlag) -> nix::Result<OwnedFd> {
    openat2(
        base,
        path,
        OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(resolve | ResolveFlag::RESOLVE_NO_MAGICLINKS),
    )
}

/// The object of the O_PATH fd `fd`, opened for reading.
fn reopen(fd: &OwnedFd, flags: OFlag) -> Result<OwnedFd> {
    nix::fcntl::open(
        &fd_path(fd),
        flags | OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx("open")
}

/// `/proc/self/fd/N`: names the object we already hold, so nothing is
/// resolved by path again.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

/// Removes what is at `name` in `dir` unless it is a directory, which a
/// file does not replace.
fn make_room(dir: &OwnedFd, name: &OsStr) -> Result<()> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).ctx("look at what is there"),
        Ok(stat) if file_type(&stat) == SFlag::S_IFDIR => Err(Error::config(
            "a directory is in the way (a file does not replace a directory)",
        )),
        Ok(_) => unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).ctx("replace what is there"),
    }
}

/// ENOENT as a `not_found` error, others as system errors.
fn not_found(err: Errno) -> Error {
    match err {
        Errno::ENOENT => Error::new(ErrorKind::NotFound, "no such file or directory"),
        e => Error::sys("open", std::io::Error::from_raw_os_error(e as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_maps_translate_both_ways() {
        let map = IdMap::parse("         0     100000      65536\n 65536 1000 1\n");
        assert_eq!(map.to_host(0), Some(100000));
        assert_eq!(map.to_host(65535), Some(165535));
        assert_eq!(map.to_host(65536), Some(1000));
        assert_eq!(map.to_host(65537), None);
        assert_eq!(map.to_container(100001), Some(1));
        assert_eq!(map.to_container(1000), Some(65536));
        assert_eq!(map.to_container(0), None);
        let identity = IdMap::parse("0 0 4294967295\n");
        assert_eq!(identity.to_host(1234), Some(1234));
        assert_eq!(identity.to_container(4294967294), Some(4294967294));
    }
}
