//! Walking and copying directory trees through fds.
//!
//! A walk opens each entry from the fd of its directory and never follows
//! a symlink, and a copy sets what it wrote through an fd of the node it
//! made: a path swapped for a symlink meanwhile leads nowhere. This serves
//! copies in and out of a live container (whose side may be changed by
//! its processes while we copy), a checkpoint's overlay upper dir, and the
//! upper dir written as an image layer.

use crate::runtime::error::{Context, Error, ErrorKind, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::stat::UtimensatFlags::FollowSymlink;
use nix::sys::stat::{fstat, fstatat, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A file-system object opened for a walk.
pub enum Node {
    Dir(OwnedFd),
    File(OwnedFd),
    /// An O_PATH fd of the link, and its target.
    Symlink(OwnedFd, OsString),
    /// An O_PATH fd of a device node or a fifo.
    Special(OwnedFd),
}

impl Node {
    /// Opens `path` below `base` (following symlinks, within the root when
    /// `resolve` says so, never through a /proc magic link).
    pub fn open(base: impl AsFd, path: &Path, resolve: ResolveFlag) -> Result<(Node, FileStat)> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(resolve | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = openat2(base, path, how).map_err(not_found)?;
        let stat = fstat(&fd).ctx("stat")?;
        // O_PATH gives no access to the contents: the directory or file is
        // opened again through the fd we hold, never through the path.
        let node = match file_type(&stat) {
            SFlag::S_IFDIR => Node::Dir(reopen(&fd, OFlag::O_DIRECTORY)?),
            SFlag::S_IFREG => Node::File(reopen(&fd, OFlag::empty())?),
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => Node::Special(fd),
            _ => return Err(no_sockets()),
        };
        Ok((node, stat))
    }

    /// The entry `name` of `dir`, whose `stat` a walk just read, opened
    /// without following a symlink.
    pub fn child(dir: &OwnedFd, name: &OsStr, stat: &FileStat) -> Result<Node> {
        let open = |flags| {
            openat(
                dir,
                name,
                flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
        };
        let kind = file_type(stat);
        // Each opened fd is checked to be what the stat said: the entry
        // may have been replaced meanwhile.
        let same_kind = |fd: OwnedFd| match file_type(&fstat(&fd).ctx("stat")?) == kind {
            true => Ok(fd),
            false => Err(Error::state("the file was replaced while being copied")),
        };
        Ok(match kind {
            SFlag::S_IFDIR => Node::Dir(open(OFlag::O_RDONLY | OFlag::O_DIRECTORY).ctx("open")?),
            // O_NONBLOCK: a fifo swapped in meanwhile must not hang us.
            SFlag::S_IFREG => Node::File(same_kind(
                open(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY).ctx("open")?,
            )?),
            SFlag::S_IFLNK => Node::Symlink(
                same_kind(open(OFlag::O_PATH).ctx("open")?)?,
                readlinkat(dir, name).ctx("read the symlink")?,
            ),
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                Node::Special(same_kind(open(OFlag::O_PATH).ctx("open")?)?)
            }
            _ => return Err(no_sockets()),
        })
    }

    pub fn fd(&self) -> &OwnedFd {
        match self {
            Node::Dir(fd) | Node::File(fd) | Node::Symlink(fd, _) | Node::Special(fd) => fd,
        }
    }

    /// Its metadata, as std has it.
    pub fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        // The magic link leads to the node itself, a symlink included.
        std::fs::metadata(fd_path(self.fd()))
    }

    /// Its extended attributes, by name.
    pub fn xattrs(&self) -> std::io::Result<Vec<(CString, Vec<u8>)>> {
        use rustix::fs::{getxattr, getxattr_query, listxattr, listxattr_query};
        let path = super::path_cstring(&fd_path(self.fd()))?;
        let names = read_sized(|| listxattr_query(&path), |buf| listxattr(&path, buf))?;
        let mut xattrs = Vec::new();
        for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            let name = CString::new(name).expect("split at the NULs");
            let value = read_sized(
                || getxattr_query(&path, &name),
                |buf| getxattr(&path, &name, buf),
            )?;
            xattrs.push((name, value));
        }
        Ok(xattrs)
    }
}

/// The entries of the directory `dir` but `.` and `..`, each with its
/// stat (of the entry, not of a symlink's target), sorted by name so that
/// a walk goes the same way every time.
pub fn entries(dir: &OwnedFd) -> Result<Vec<(OsString, FileStat)>> {
    let mut list = nix::dir::Dir::from_fd(dir.try_clone().ctx("dup a directory fd")?)
        .ctx("read the directory")?;
    let mut entries = Vec::new();
    for entry in list.iter() {
        let entry = entry.ctx("read the directory")?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let stat = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).ctx("stat")?;
        entries.push((name.to_os_string(), stat));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// What a node is given: its owner, permission bits (setuid included),
/// extended attributes and times.
pub struct Attributes {
    pub owner: (Uid, Gid),
    pub mode: Mode,
    pub xattrs: Vec<(CString, Vec<u8>)>,
    pub times: (TimeSpec, TimeSpec),
}

impl Attributes {
    /// Those `stat` shows, without extended attributes.
    pub fn of(stat: &FileStat) -> Attributes {
        Attributes {
            owner: (Uid::from_raw(stat.st_uid), Gid::from_raw(stat.st_gid)),
            mode: Mode::from_bits_truncate(stat.st_mode & 0o7777),
            xattrs: Vec::new(),
            times: (
                TimeSpec::new(stat.st_atime, stat.st_atime_nsec),
                TimeSpec::new(stat.st_mtime, stat.st_mtime_nsec),
            ),
        }
    }
}

/// Gives the node `fd` (opened, or O_PATH for a symlink or a device node)
/// `attrs`, all through the fd. The owner first, as a chown clears the
/// setuid and setgid bits and drops file capabilities (an attribute); the
/// times last, as every change before touches them.
pub fn set_attributes(fd: &OwnedFd, attrs: &Attributes) -> Result<()> {
    let (uid, gid) = attrs.owner;
    let flags = AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW;
    fchownat(fd, "", Some(uid), Some(gid), flags).ctx("set the owner")?;
    // The magic link leads to the node itself, a symlink included, and
    // works for an O_PATH fd, which fchmod and futimens refuse.
    let path = fd_path(fd);
    let is_symlink = file_type(&fstat(fd).ctx("stat")?) == SFlag::S_IFLNK;
    if !is_symlink {
        std::fs::set_permissions(
            &path,
            std::os::unix::fs::PermissionsExt::from_mode(attrs.mode.bits()),
        )
        .ctx("set the mode")?;
    }
    let cpath = super::path_cstring(&path).ctx("set the extended attributes")?;
    for (name, value) in &attrs.xattrs {
        rustix::fs::setxattr(&cpath, name, value, rustix::fs::XattrFlags::empty())
            .ctx(format_args!("set the attribute {}", name.to_string_lossy()))?;
    }
    let (atime, mtime) = &attrs.times;
    utimensat(AT_FDCWD, &path, atime, mtime, FollowSymlink).ctx("set the times")
}

/// Opens `name` in `dir` as a new file to write, failing if anything is
/// there already (a symlink planted meanwhile included). Mode 0600 until
/// its contents are in: its attributes are set after.
pub fn create_exclusive(dir: &impl AsFd, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
}

/// Copies nodes into directories, giving each copy the owner `owner`
/// works out from the source's stat, and the source's mode and times.
pub struct Copier<'a> {
    pub owner: &'a dyn Fn(&FileStat) -> Result<(Uid, Gid)>,
    /// Whether the copy keeps the extended attributes and the hard links
    /// too. An overlay's upper dir needs both (its whiteouts and opaque
    /// directories are `trusted.overlay.*` attributes); a copy in or out of
    /// a container keeps what `docker cp` keeps.
    pub exact: bool,
}

impl Copier<'_> {
    /// Copies `source` to the entry `name` of `dir` (a directory's copy
    /// merges into a directory there; anything else replaces what is there
    /// but a directory).
    pub fn copy(&self, source: (Node, FileStat), dir: &OwnedFd, name: &OsStr) -> Result<()> {
        let mut walk = Walk {
            copier: self,
            top: dir,
            links: HashMap::new(),
        };
        walk.copy(source, dir, name, Path::new(name))
    }
}

/// One copy under way.
struct Walk<'a> {
    copier: &'a Copier<'a>,
    /// The directory the copy is made in.
    top: &'a OwnedFd,
    /// With `exact`: the first copy of each (device, inode) with several
    /// links, by its path below `top`.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Walk<'_> {
    fn copy(
        &mut self,
        source: (Node, FileStat),
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
    ) -> Result<()> {
        let name_str = name.to_string_lossy();
        self.write(source, dir, name, rel)
            .map_err(|e| e.context(format!("copy '{name_str}'")))
    }

    fn write(
        &mut self,
        (node, stat): (Node, FileStat),
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
    ) -> Result<()> {
        let mut attrs = Attributes::of(&stat);
        attrs.owner = (self.copier.owner)(&stat)?;
        if self.copier.exact {
            attrs.xattrs = node.xattrs().ctx("read the extended attributes")?;
            if matches!(node, Node::File(_)) && stat.st_nlink > 1 {
                let key = (stat.st_dev, stat.st_ino);
                if let Some(first) = self.links.get(&key) {
                    // The first copy has the attributes already.
                    make_room(dir, name)?;
                    let flag = AtFlags::empty();
                    return linkat(self.top, first.as_path(), dir, name, flag).ctx("link");
                }
                self.links.insert(key, rel.to_path_buf());
            }
        }
        let made = match node {
            Node::Dir(source) => {
                match mkdirat(dir, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).ctx("create the directory"),
                }
                let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
                let target = openat(dir, name, flags | OFlag::O_CLOEXEC, Mode::empty())
                    .ctx("open the directory (something that is not a directory is in the way)")?;
                for (entry, stat) in entries(&source)? {
                    let node = Node::child(&source, &entry, &stat)?;
                    self.copy((node, stat), &target, &entry, &rel.join(&entry))?;
                }
                // After the entries: a read-only directory can be filled.
                target
            }
            Node::File(source) => {
                make_room(dir, name)?;
                let target = create_exclusive(dir, name).ctx("create the file")?;
                let mut target = File::from(target);
                std::io::copy(&mut File::from(source), &mut target).ctx("copy the contents")?;
                target.into()
            }
            Node::Symlink(_, target) => {
                make_room(dir, name)?;
                // Stored as it is: it resolves on its own side.
                symlinkat(target.as_os_str(), dir, name).ctx("create the symlink")?;
                made_node(dir, name, SFlag::S_IFLNK)?
            }
            Node::Special(_) => {
                make_room(dir, name)?;
                let kind = file_type(&stat);
                mknodat(dir, name, kind, Mode::empty(), stat.st_rdev).ctx("create the node")?;
                made_node(dir, name, kind)?
            }
        };
        set_attributes(&made, &attrs)
    }
}

/// An O_PATH fd of the node `name` just made in `dir`, checked to be of
/// type `kind`: the name could be swapped meanwhile.
fn made_node(dir: &OwnedFd, name: &OsStr, kind: SFlag) -> Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::empty())
        .and_then(|fd| match file_type(&fstat(&fd)?) == kind {
            true => Ok(fd),
            false => Err(Errno::ELOOP),
        })
        .ctx("open the node made")
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

/// Copies the tree at `from` to `to`, which must not exist, exactly: as
/// root, owners are kept as they are.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    let what = || format!("copy {} to {}", from.display(), to.display());
    let (Some(name), Some(parent)) = (to.file_name(), to.parent()) else {
        return Err(Error::config(format!("{}: no name to copy to", what())));
    };
    let copied = (|| {
        let source = Node::open(AT_FDCWD, from, ResolveFlag::empty())?;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let dir = nix::fcntl::open(parent, flags, Mode::empty()).ctx("open")?;
        let owner = |stat: &FileStat| Ok(Attributes::of(stat).owner);
        Copier {
            owner: &owner,
            exact: true,
        }
        .copy(source, &dir, name)
    })();
    copied.map_err(|e| e.context(what()))
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

pub fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

fn no_sockets() -> Error {
    Error::new(ErrorKind::Unsupported, "a socket cannot be copied")
}

/// ENOENT as a `not_found` error, others as system errors.
pub fn not_found(err: Errno) -> Error {
    match err {
        Errno::ENOENT => Error::new(ErrorKind::NotFound, "no such file or directory"),
        e => Error::sys("open", std::io::Error::from_raw_os_error(e as i32)),
    }
}

/// The bytes a size-then-fill call like getxattr(2) returns: `query` for
/// the size first, `fill` again if the value grew meanwhile.
fn read_sized(
    query: impl Fn() -> rustix::io::Result<usize>,
    fill: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
) -> std::io::Result<Vec<u8>> {
    loop {
        let mut buf = vec![0u8; query()?];
        match fill(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn a_copy_keeps_links_modes_devices_xattrs_and_times() {
        if !nix::unistd::geteuid().is_root() {
            return; // owners and devices need root; the suite runs as root
        }
        let dir = std::env::temp_dir().join(format!("ctrsh-tree-{}", std::process::id()));
        let (src, dst) = (dir.join("src"), dir.join("dst"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/file"), "data").unwrap();
        fs::hard_link(src.join("sub/file"), src.join("link")).unwrap();
        std::os::unix::fs::symlink("sub/file", src.join("sym")).unwrap();
        fs::set_permissions(src.join("sub/file"), fs::Permissions::from_mode(0o4755)).unwrap();
        nix::unistd::chown(&src.join("sub"), Some(Uid::from_raw(1000)), None).unwrap();
        let whiteout = src.join("gone");
        stat::mknod(&whiteout, SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
        super::super::set_xattr(&src.join("sub"), "trusted.overlay.opaque").unwrap();
        copy(&src, &dst).unwrap();
        let meta = |p: &str| fs::symlink_metadata(dst.join(p)).unwrap();
        assert_eq!(fs::read_to_string(dst.join("link")).unwrap(), "data");
        assert_eq!(meta("link").ino(), meta("sub/file").ino());
        assert_eq!(meta("sub/file").mode() & 0o7777, 0o4755);
        assert_eq!(meta("sub").uid(), 1000);
        assert_eq!(
            fs::read_link(dst.join("sym")).unwrap(),
            Path::new("sub/file")
        );
        assert_eq!(
            (meta("gone").mode() & libc::S_IFMT, meta("gone").rdev()),
            (libc::S_IFCHR, 0)
        );
        assert!(super::super::has_xattr(
            &dst.join("sub"),
            "trusted.overlay.opaque"
        ));
        let src_sub = fs::metadata(src.join("sub")).unwrap();
        assert_eq!(meta("sub").mtime(), src_sub.mtime());
        fs::remove_dir_all(&dir).unwrap();
    }
}
