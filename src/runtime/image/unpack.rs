//! Unpacks one layer's tar into a directory of its own, in the form
//! overlayfs reads as a lower layer: a `.wh.NAME` entry becomes a whiteout
//! (a 0/0 character device NAME), `.wh..wh..opq` marks its directory opaque
//! (`trusted.overlay.opaque=y`).
//!
//! The tar crate parses the archive (GNU long names, PAX records); writing
//! is our own because no crate does what a layer needs: whiteouts, and
//! never leaving the layer directory. Every entry's parent directory is
//! opened with openat2(RESOLVE_IN_ROOT), so `..` and symlinks (absolute or
//! relative) resolve as if the layer directory were "/", like a chroot; the
//! entry itself is then made with *at calls that never follow its last
//! component. A path that climbs above the root with `..` is refused.
//!
//! Entries keep their owner (numeric uid/gid, as docker does), mode
//! (setuid/setgid/sticky included), PAX xattrs (`SCHILY.xattr.*`, e.g.
//! security.capability) and mtime. The owner is set before the mode and
//! the xattrs, because chown clears setuid bits and file capabilities.

use crate::runtime::error::{Context, Error, Result};
use crate::runtime::sys::tree;
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstatat, futimens, mkdirat, mknodat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// xattrs that overlayfs reads from its layers. A layer must not set them
/// itself (an archived overlay upper dir carries them): they are the
/// store's own format, written only from whiteout entries.
const OVERLAY_XATTRS: &str = "trusted.overlay.";
const COPY_BUFFER: usize = 256 * 1024;

/// Unpacks the tar stream `tar` into `dest`, an existing empty directory.
pub fn unpack(tar: impl Read, dest: &Path) -> Result<()> {
    let root = open_dir_in(nix::fcntl::AT_FDCWD, dest, ResolveFlag::empty())
        .ctx(format_args!("open layer directory {}", dest.display()))?;
    let mut unpacker = Unpacker {
        root,
        cached_parent: None,
        dir_times: Vec::new(),
        buffer: vec![0; COPY_BUFFER],
    };
    let mut archive = tar::Archive::new(tar);
    let entries = archive.entries().ctx("read the layer's tar")?;
    for entry in entries {
        let mut entry = entry.ctx("read the layer's tar")?;
        let name = entry.path_bytes().into_owned();
        unpacker
            .entry(&mut entry)
            .map_err(|e| e.context(format!("layer entry '{}'", String::from_utf8_lossy(&name))))?;
    }
    unpacker.finish()
}

struct Unpacker {
    root: OwnedFd,
    /// The last parent directory opened (entries come grouped by directory).
    cached_parent: Option<(PathBuf, OwnedFd)>,
    /// Directory mtimes, set at the end: every entry made in a directory
    /// changes its mtime.
    dir_times: Vec<(PathBuf, TimeSpec)>,
    buffer: Vec<u8>,
}

/// What a tar header and its PAX records say about an entry's metadata.
struct Meta {
    uid: u32,
    gid: u32,
    mode: Mode,
    mtime: TimeSpec,
    xattrs: Vec<(CString, Vec<u8>)>,
}

impl Unpacker {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let path = clean(&entry.path().ctx("read the entry's path")?)?;
        let meta = meta(entry)?;
        let Some(name) = path.file_name().map(OsStr::to_os_string) else {
            // The layer's root itself ("./"): only its metadata.
            if kind.is_dir() {
                let root = self.root.try_clone().ctx("dup the layer dir")?;
                self.set_meta(&root, &meta)?;
                self.dir_times.push((PathBuf::new(), meta.mtime));
            }
            return Ok(());
        };
        let parent_path = path.parent().unwrap_or(Path::new("")).to_path_buf();
        if let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            self.cached_parent = None;
            return self.whiteout(&parent_path, &name, OsStr::from_bytes(hidden));
        }
        let parent = self.parent(&parent_path)?;
        let name = name.as_os_str();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if self.remove_existing(&parent, name, false)? {
                    self.cached_parent = None;
                }
                let fd = tree::create_exclusive(&parent, name).ctx("create the file")?;
                let mut file = File::from(fd);
                loop {
                    let n = entry.read(&mut self.buffer).ctx("read the file's data")?;
                    if n == 0 {
                        break;
                    }
                    file.write_all(&self.buffer[..n]).ctx("write the file")?;
                }
                self.set_meta(&file, &meta)?;
                futimens(&file, &meta.mtime, &meta.mtime).ctx("set the mtime")?;
            }
            tar::EntryType::Directory => {
                self.cached_parent = None;
                self.remove_existing(&parent, name, true)?;
                match mkdirat(&parent, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).ctx("create the directory"),
                }
                let dir = openat(
                    &parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .ctx("open the directory")?;
                self.set_meta(&dir, &meta)?;
                self.dir_times.push((path, meta.mtime));
            }
            tar::EntryType::Symlink => {
                self.cached_parent = None;
                self.remove_existing(&parent, name, false)?;
                let target = entry
                    .link_name()
                    .ctx("read the symlink's target")?
                    .ok_or_else(|| Error::config("a symlink without a target"))?;
                // The target is stored as it is: it is resolved later,
                // inside the container's root.
                symlinkat(target.as_ref(), &parent, name).ctx("create the symlink")?;
                self.set_meta_at(&parent, name, &meta)?;
            }
            tar::EntryType::Link => {
                self.remove_existing(&parent, name, false)?;
                let target = entry
                    .link_name()
                    .ctx("read the hardlink's target")?
                    .ok_or_else(|| Error::config("a hardlink without a target"))?;
                let target = clean(&target)?;
                let (Some(target_name), Some(target_parent)) =
                    (target.file_name(), target.parent())
                else {
                    return Err(Error::config("a hardlink to the layer's root"));
                };
                let target_dir =
                    open_dir_in(&self.root, target_parent, ResolveFlag::RESOLVE_IN_ROOT).ctx(
                        format_args!(
                            "open the hardlink target's directory '{}'",
                            target_parent.display()
                        ),
                    )?;
                linkat(&target_dir, target_name, &parent, name, AtFlags::empty()).ctx(format_args!(
                    "hardlink to '{}' (a hardlink's target must be an earlier file of the same layer)",
                    target.display()
                ))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.remove_existing(&parent, name, false)?;
                let header = entry.header();
                let (sflag, dev) = match kind {
                    tar::EntryType::Char => (SFlag::S_IFCHR, device(header)?),
                    tar::EntryType::Block => (SFlag::S_IFBLK, device(header)?),
                    _ => (SFlag::S_IFIFO, 0),
                };
                mknodat(&parent, name, sflag, Mode::from_bits_truncate(0o600), dev)
                    .ctx("create the node")?;
                self.set_meta_at(&parent, name, &meta)?;
            }
            other => {
                return Err(Error::new(
                    crate::runtime::error::ErrorKind::Unsupported,
                    format!("tar entry type {other:?} is not supported in a layer"),
                ))
            }
        }
        Ok(())
    }

    /// `.wh..wh..opq` makes the directory opaque; `.wh.NAME` hides NAME of
    /// the layers below. Other `.wh..wh.` names are AUFS bookkeeping.
    fn whiteout(&mut self, parent_path: &Path, name: &OsStr, hidden: &OsStr) -> Result<()> {
        let parent = self.parent(parent_path)?;
        if name == OPAQUE {
            return set_xattr(&parent, OPAQUE_XATTR, b"y").ctx("mark the directory opaque");
        }
        if hidden.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return Ok(());
        }
        if hidden.is_empty() || hidden == ".." || hidden == "." {
            return Err(Error::config("a whiteout without a name"));
        }
        self.remove_existing(&parent, hidden, false)?;
        mknodat(&parent, hidden, SFlag::S_IFCHR, Mode::empty(), 0).ctx("create the whiteout")
    }

    /// The directory `rel` (relative to the layer root), made with mode
    /// 0755 if missing, as tar does for parents not in the archive.
    fn parent(&mut self, rel: &Path) -> Result<OwnedFd> {
        if let Some((path, fd)) = &self.cached_parent {
            if path == rel {
                return fd.try_clone().ctx("dup a directory fd");
            }
        }
        let fd = self.open_or_make_dir(rel)?;
        self.cached_parent = Some((rel.to_path_buf(), fd.try_clone().ctx("dup a directory fd")?));
        Ok(fd)
    }

    fn open_or_make_dir(&self, rel: &Path) -> Result<OwnedFd> {
        match open_dir_in(&self.root, rel, ResolveFlag::RESOLVE_IN_ROOT) {
            Err(Errno::ENOENT) => {}
            other => return other.ctx(format_args!("open directory '{}'", rel.display())),
        }
        let (Some(name), Some(up)) = (rel.file_name(), rel.parent()) else {
            return Err(Error::config("the layer's root is missing"));
        };
        let up = self.open_or_make_dir(up)?;
        match mkdirat(&up, name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).ctx(format_args!("create directory '{}'", rel.display())),
        }
        open_dir_in(&self.root, rel, ResolveFlag::RESOLVE_IN_ROOT)
            .ctx(format_args!("open directory '{}'", rel.display()))
    }

    /// Makes room for a new entry `name` in `parent`: anything there goes,
    /// except a directory when the new entry is a directory too (tar
    /// merges those). True when a directory was removed.
    fn remove_existing(&self, parent: &OwnedFd, name: &OsStr, keep_dir: bool) -> Result<bool> {
        let stat = match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(e).ctx("look at what is there"),
        };
        let is_dir = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if !is_dir {
            unlinkat(parent, name, UnlinkatFlags::NoRemoveDir).ctx("replace what is there")?;
            return Ok(false);
        }
        if keep_dir {
            return Ok(false);
        }
        // remove_dir_all never follows symlinks; /proc/self/fd/N names the
        // directory we already hold, so nothing is resolved again.
        let path = Path::new("/proc/self/fd")
            .join(parent.as_raw_fd().to_string())
            .join(name);
        std::fs::remove_dir_all(&path).ctx("replace the directory that is there")?;
        Ok(true)
    }

    fn set_meta(&self, fd: &impl AsFd, meta: &Meta) -> Result<()> {
        fchown(
            fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )
        .ctx("set the owner")?;
        fchmod(fd, meta.mode).ctx("set the mode")?;
        for (name, value) in &meta.xattrs {
            set_xattr(fd, name, value).ctx(format_args!("set xattr {}", name.to_string_lossy()))?;
        }
        Ok(())
    }

    /// Metadata of a symlink or a device node: never followed.
    fn set_meta_at(&self, parent: &OwnedFd, name: &OsStr, meta: &Meta) -> Result<()> {
        fchownat(
            parent,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ctx("set the owner")?;
        let path = Path::new("/proc/self/fd")
            .join(parent.as_raw_fd().to_string())
            .join(name);
        let is_link = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
            .ctx("stat the entry")?;
        if !is_link {
            // A node we just made, not a symlink: chmod cannot be led away.
            std::fs::set_permissions(
                &path,
                std::os::unix::fs::PermissionsExt::from_mode(meta.mode.bits()),
            )
            .ctx("set the mode")?;
        }
        for (name, value) in &meta.xattrs {
            rustix::fs::lsetxattr(&path, name, value, rustix::fs::XattrFlags::empty())
                .ctx(format_args!("set xattr {}", name.to_string_lossy()))?;
        }
        nix::sys::stat::utimensat(
            parent,
            name,
            &meta.mtime,
            &meta.mtime,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .ctx("set the mtime")
    }

    fn finish(self) -> Result<()> {
        for (path, mtime) in self.dir_times.iter().rev() {
            let dir = open_dir_in(&self.root, path, ResolveFlag::RESOLVE_IN_ROOT)
                .ctx(format_args!("open directory '{}'", path.display()))?;
            futimens(&dir, mtime, mtime)
                .ctx(format_args!("set the mtime of '{}'", path.display()))?;
        }
        Ok(())
    }
}

/// A directory below `dirfd`, for reading and fsetxattr (not O_PATH).
fn open_dir_in<Fd: AsFd>(dirfd: Fd, path: &Path, resolve: ResolveFlag) -> nix::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    openat2(
        dirfd,
        path,
        OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(resolve | ResolveFlag::RESOLVE_NO_MAGICLINKS),
    )
}

fn set_xattr(fd: &impl AsFd, name: impl rustix::path::Arg, value: &[u8]) -> std::io::Result<()> {
    Ok(rustix::fs::fsetxattr(
        fd,
        name,
        value,
        rustix::fs::XattrFlags::empty(),
    )?)
}

/// `path` made relative and free of `.` and `..`, as docker cleans tar
/// names: a leading `/` is dropped, a `..` that would climb above the
/// layer's root is an error.
fn clean(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(Error::config(format!(
                        "the path '{}' leaves the layer with '..' (the layer is refused)",
                        path.display()
                    )));
                }
            }
            Component::Normal(part) => out.push(part),
        }
    }
    Ok(out)
}

fn device(header: &tar::Header) -> Result<u64> {
    let major = header
        .device_major()
        .ctx("read the device number")?
        .unwrap_or(0);
    let minor = header
        .device_minor()
        .ctx("read the device number")?
        .unwrap_or(0);
    Ok(nix::sys::stat::makedev(major.into(), minor.into()))
}

/// The entry's owner, mode, mtime and xattrs, PAX records winning over the
/// header's fields.
fn meta<R: Read>(entry: &mut tar::Entry<R>) -> Result<Meta> {
    let header = entry.header();
    let mut meta = Meta {
        uid: header.uid().ctx("read the owner")? as u32,
        gid: header.gid().ctx("read the group")? as u32,
        mode: Mode::from_bits_truncate(header.mode().ctx("read the mode")? & 0o7777),
        mtime: TimeSpec::new(header.mtime().ctx("read the mtime")? as i64, 0),
        xattrs: Vec::new(),
    };
    let Some(pax) = entry.pax_extensions().ctx("read the PAX records")? else {
        return Ok(meta);
    };
    for record in pax {
        let record = record.ctx("read a PAX record")?;
        let Ok(key) = record.key() else { continue };
        let value = record.value_bytes();
        let number = || {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u32>().ok())
        };
        match key {
            "uid" => meta.uid = number().ok_or_else(|| Error::config("a bad PAX uid"))?,
            "gid" => meta.gid = number().ok_or_else(|| Error::config("a bad PAX gid"))?,
            "mtime" => meta.mtime = pax_time(value).unwrap_or(meta.mtime),
            _ => {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    if !name.starts_with(OVERLAY_XATTRS) {
                        let name = CString::new(name)
                            .map_err(|_| Error::config("an xattr name with NUL"))?;
                        meta.xattrs.push((name, value.to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// A PAX time: seconds, optionally with a fraction ("1700000000.5").
fn pax_time(value: &[u8]) -> Option<TimeSpec> {
    let text = std::str::from_utf8(value).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits: String = frac.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse::<i64>().ok()?
    };
    Some(TimeSpec::new(secs.parse().ok()?, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_escapes_refused() {
        assert_eq!(
            clean(Path::new("/etc/passwd")).unwrap(),
            Path::new("etc/passwd")
        );
        assert_eq!(clean(Path::new("./a/./b/../c")).unwrap(), Path::new("a/c"));
        assert_eq!(clean(Path::new("./")).unwrap(), Path::new(""));
        assert!(clean(Path::new("../x"))
            .unwrap_err()
            .message
            .contains("leaves the layer"));
        assert!(clean(Path::new("a/../../x")).is_err());
    }

    #[test]
    fn pax_times_keep_fractions() {
        let t = pax_time(b"1700000000.25").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (1700000000, 250_000_000));
        let t = pax_time(b"12").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (12, 0));
    }
}
