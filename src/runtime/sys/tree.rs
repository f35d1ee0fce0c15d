//! Copying a directory tree with everything overlayfs and the container's
//! files depend on: file types (an overlay whiteout is a 0:0 character
//! device), hardlinks, owners, modes (setuid included), extended
//! attributes (overlay's `trusted.overlay.*`, file capabilities) and times.

use crate::runtime::error::{Context, Result};
use nix::sys::stat::{self, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Copies the tree at `from` to `to`, which must not exist. Runs as root:
/// owners are kept as they are.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    copy_entry(from, to, &mut HashMap::new())
}

/// `links` maps (device, inode) of a file with several links to its first copy.
fn copy_entry(from: &Path, to: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    let meta = fs::symlink_metadata(from).ctx(format!("stat {}", from.display()))?;
    let kind = meta.file_type();
    let made = if kind.is_dir() {
        fs::create_dir(to).ctx(format!("create {}", to.display()))?;
        for entry in fs::read_dir(from).ctx(format!("read {}", from.display()))? {
            let entry = entry.ctx(format!("read {}", from.display()))?;
            copy_entry(&entry.path(), &to.join(entry.file_name()), links)?;
        }
        Ok(())
    } else if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
        // The first copy has the attributes already.
        return fs::hard_link(first, to).ctx(format!("link {}", to.display()));
    } else if kind.is_file() {
        if meta.nlink() > 1 {
            links.insert((meta.dev(), meta.ino()), to.to_path_buf());
        }
        fs::copy(from, to).map(drop)
    } else if kind.is_symlink() {
        fs::read_link(from).and_then(|target| std::os::unix::fs::symlink(target, to))
    } else {
        // Devices (whiteouts among them), FIFOs and sockets.
        stat::mknod(
            to,
            SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT),
            Mode::from_bits_truncate(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(std::io::Error::from)
    };
    made.ctx(format!("copy {} to {}", from.display(), to.display()))?;
    set_attributes(from, to, &meta).ctx(format!(
        "copy the attributes of {} to {}",
        from.display(),
        to.display()
    ))
}

/// Owner, then mode (a chown clears setuid bits), then extended
/// attributes (a chown also drops file capabilities), then times (last,
/// as every change before touches ctime and a directory's copy its mtime).
fn set_attributes(from: &Path, to: &Path, meta: &fs::Metadata) -> std::io::Result<()> {
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        to,
        Some(Uid::from_raw(meta.uid())),
        Some(Gid::from_raw(meta.gid())),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    copy_xattrs(from, to)?;
    stat::utimensat(
        nix::fcntl::AT_FDCWD,
        to,
        &TimeSpec::new(meta.atime(), meta.atime_nsec()),
        &TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
        stat::UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

fn copy_xattrs(from: &Path, to: &Path) -> std::io::Result<()> {
    let (from, to) = (super::path_cstring(from)?, super::path_cstring(to)?);
    let names = read_sized(|buf, len| {
        // SAFETY: `from` is NUL-terminated; `buf` has room for `len` bytes (or is null with 0).
        unsafe { libc::llistxattr(from.as_ptr(), buf.cast(), len) }
    })?;
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = CString::new(name).expect("split at the NULs");
        let value = read_sized(|buf, len| {
            // SAFETY: both names are NUL-terminated; `buf` has room for `len` bytes.
            unsafe { libc::lgetxattr(from.as_ptr(), name.as_ptr(), buf.cast(), len) }
        })?;
        // SAFETY: both names are NUL-terminated; `value` is the buffer of its length.
        let set = unsafe {
            libc::lsetxattr(
                to.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        super::check(set as libc::c_long)?;
    }
    Ok(())
}

/// The bytes a size-then-fill call like getxattr(2) returns: asked with an
/// empty buffer for the size first, again if the value grew meanwhile.
fn read_sized(call: impl Fn(*mut u8, usize) -> libc::ssize_t) -> std::io::Result<Vec<u8>> {
    loop {
        let size = super::check(call(std::ptr::null_mut(), 0) as libc::c_long)? as usize;
        let mut buf = vec![0u8; size];
        match super::check(call(buf.as_mut_ptr(), size) as libc::c_long) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
