//! The container's filesystem view, built inside its new mount namespace:
//! bind the rootfs, mount /proc, /dev (with devices), /sys and the user's
//! mounts, pivot_root into it, then mask and protect paths.

use crate::runtime::config::{
    CheckedConfig, CheckedMount, DeviceNode, MountKind, NamespaceKind, NodeKind,
};
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::init::secure_path::secure_join;
use crate::runtime::sys;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

type NoData = Option<&'static str>;
const NONE: NoData = None;

fn do_mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(source, target, fstype, flags, data).ctx(format!(
        "mount {} on {}{}",
        source
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| fstype.unwrap_or("").to_string()),
        target.display(),
        fstype.map(|t| format!(" (type {t})")).unwrap_or_default()
    ))
}

/// A mount target inside the rootfs, created as a directory (or file) if
/// missing. `/proc` and `/sys` targets that are symlinks are refused, since
/// a symlink there could redirect the mount onto the host.
fn target(rootfs: &Path, dest: &Path, as_file: bool) -> Result<PathBuf> {
    let literal = rootfs.join(dest.strip_prefix("/").unwrap_or(dest));
    if (dest == Path::new("/proc") || dest == Path::new("/sys"))
        && fs::symlink_metadata(&literal).is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(Error::config(format!(
            "mounts: {} in the rootfs is a symlink; refusing to mount over it",
            dest.display()
        )));
    }
    let path = secure_join(rootfs, dest)?;
    if as_file {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).ctx(format!("create {}", parent.display()))?;
        }
        if !path.exists() {
            fs::File::create(&path).ctx(format!("create {}", path.display()))?;
        }
    } else {
        fs::create_dir_all(&path).ctx(format!("create {}", path.display()))?;
    }
    Ok(path)
}

/// Every mount, up to pivot_root. Runs in the init, in the new mount
/// namespace. `tree`: the rootfs the parent made (idmap.rs,
/// image/rootfs.rs), attached at `rootfs`. `name_files`: the container's
/// /etc/hostname, hosts and resolv.conf. `cgroup_dirs`: the container's
/// cgroup directories, for a mount of type "cgroup".
pub fn prepare(
    config: &CheckedConfig,
    tree: Option<OwnedFd>,
    name_files: &[(PathBuf, PathBuf)],
    cgroup_dirs: &[(String, PathBuf)],
) -> Result<()> {
    let rootfs = config.rootfs.as_path();
    // Nothing we mount may propagate back to the host; `root_propagation`
    // is applied to the container's own root after pivot_root.
    do_mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        NONE,
    )?;
    match tree {
        Some(tree) => sys::attach_tree(&tree, rootfs)
            .ctx(format!("rootfs: attach the prepared {}", rootfs.display()))?,
        None => do_mount(
            Some(rootfs),
            rootfs,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )?,
    }
    for m in &config.builtin_mounts {
        mount_one(rootfs, m, cgroup_dirs)?;
        if m.destination == Path::new("/dev") {
            populate_dev(rootfs, config)?;
        }
    }
    // Before the config's mounts, which may cover them.
    bind_name_files(rootfs, name_files)?;
    for m in &config.mounts {
        mount_one(rootfs, m, cgroup_dirs)?;
        // Device nodes go into a fresh /dev; a bind of the host's /dev
        // already has them.
        let bind = matches!(m.kind, MountKind::Bind { .. });
        if m.destination == Path::new("/dev") && !bind {
            populate_dev(rootfs, config)?;
        }
    }
    let proc_dir = rootfs.join("proc");
    for (key, value) in &config.sysctl {
        let file = proc_dir.join("sys").join(key.replace('.', "/"));
        fs::write(&file, value).ctx(format!("sysctl {key}={value}"))?;
    }
    Ok(())
}

/// Bind each name file (in the state dir) at its place. Where the rootfs
/// lacks the file and it cannot be made (a read-only rootfs, as an image's
/// without an upper dir; one an unprivileged user may not write), the
/// container goes without it: a bind needs a file to cover.
fn bind_name_files(rootfs: &Path, name_files: &[(PathBuf, PathBuf)]) -> Result<()> {
    for (file, destination) in name_files {
        if let Ok(dest) = target(rootfs, destination, true) {
            do_mount(Some(file), &dest, None, MsFlags::MS_BIND, NONE)?;
        }
    }
    Ok(())
}

/// Into the rootfs (pivot_root, or chroot with `no_pivot_root`), then the
/// container root's propagation.
pub fn enter(config: &CheckedConfig) -> Result<()> {
    let rootfs = config.rootfs.as_path();
    if config.no_pivot_root {
        chroot_into(rootfs)?;
    } else {
        pivot_root(rootfs)?;
    }
    if let Some(flags) = config.root_propagation {
        do_mount(
            None,
            Path::new("/"),
            None,
            MsFlags::from_bits_truncate(flags),
            NONE,
        )?;
    }
    Ok(())
}

/// The default device nodes and the /dev symlinks.
fn populate_dev(rootfs: &Path, config: &CheckedConfig) -> Result<()> {
    let dev = secure_join(rootfs, Path::new("/dev"))?;
    // In a user namespace mknod is not allowed.
    let user_ns = config.has(NamespaceKind::User);
    for d in &config.devices {
        create_device(rootfs, d, user_ns)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let path = dev.join(link);
        if fs::symlink_metadata(&path).is_err() {
            symlink(to, &path).ctx(format!("symlink /dev/{link} -> {to}"))?;
        }
    }
    Ok(())
}

/// mknod a device node; in a user namespace (where mknod is not allowed)
/// bind-mount the host's node instead, as runc does.
fn create_device(rootfs: &Path, d: &DeviceNode, user_ns: bool) -> Result<()> {
    let path = d.path.as_path();
    // The node's parent is inside our fresh /dev tmpfs, resolved safely.
    let node = secure_join(rootfs, path)?;
    if let Some(parent) = node.parent() {
        fs::create_dir_all(parent).ctx(format!("create {}", parent.display()))?;
    }
    if user_ns {
        fs::File::create(&node).ctx(format!("create {}", node.display()))?;
        return do_mount(Some(path), &node, None, MsFlags::MS_BIND, NONE);
    }
    let kind = match d.kind {
        NodeKind::Char => SFlag::S_IFCHR,
        NodeKind::Block => SFlag::S_IFBLK,
        NodeKind::Fifo => SFlag::S_IFIFO,
    };
    let old = nix::sys::stat::umask(Mode::empty());
    let made = mknod(
        &node,
        kind,
        Mode::from_bits_truncate(d.file_mode),
        makedev(d.major, d.minor),
    );
    nix::sys::stat::umask(old);
    made.ctx(format!("mknod {}", path.display()))?;
    nix::unistd::chown(
        &node,
        Some(nix::unistd::Uid::from_raw(d.uid)),
        Some(nix::unistd::Gid::from_raw(d.gid)),
    )
    .ctx(format!("chown {}", path.display()))
}

/// Make one mount.
fn mount_one(rootfs: &Path, m: &CheckedMount, cgroup_dirs: &[(String, PathBuf)]) -> Result<()> {
    let opts = &m.options;
    // Anything but a directory (a file, a socket, a device) binds onto a file.
    let as_file = matches!(&m.kind, MountKind::Bind { source, .. }
        if source.metadata().is_ok_and(|m| !m.is_dir()));
    let dest = target(rootfs, &m.destination, as_file)?;
    let flags = MsFlags::from_bits_truncate(opts.flags);
    match &m.kind {
        MountKind::Bind { source, recursive } => {
            bind_mount(source, &dest, *recursive, flags, opts.clear)?;
        }
        MountKind::Cgroup => mount_cgroups(&dest, flags, cgroup_dirs)?,
        MountKind::Filesystem { fstype, source } => {
            let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
            let source = source.as_deref().unwrap_or(Path::new(fstype));
            match mount(Some(source), &dest, Some(fstype.as_str()), flags, data) {
                // A fresh sysfs needs a network namespace of our own;
                // without one, the host's, read-only (as runc does).
                Err(nix::errno::Errno::EPERM) if fstype == "sysfs" => {
                    do_mount(
                        Some(Path::new("/sys")),
                        &dest,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        NONE,
                    )?;
                    // Every submount too: the host's cgroup and debug
                    // filesystems live below /sys.
                    sys::make_tree_readonly(&dest)
                        .ctx(format!("make {} read-only", dest.display()))?;
                }
                other => other.ctx(format!(
                    "mount {} on {} (type {fstype})",
                    source.display(),
                    dest.display()
                ))?,
            }
        }
    }
    if opts.propagation != 0 {
        do_mount(
            None,
            &dest,
            None,
            MsFlags::from_bits_truncate(opts.propagation),
            NONE,
        )?;
    }
    Ok(())
}

/// Bind `source` at `dest`, then apply `flags` with a remount (mount(2)
/// ignores them on the bind itself), keeping the flags the mount already
/// has (a user namespace may not drop them) unless `clear` clears them.
fn bind_mount(
    source: &Path,
    dest: &Path,
    recursive: bool,
    flags: MsFlags,
    clear: libc::c_ulong,
) -> Result<()> {
    let mut bind_flags = MsFlags::MS_BIND;
    if recursive {
        bind_flags |= MsFlags::MS_REC;
    }
    do_mount(Some(source), dest, None, bind_flags, NONE)?;
    if !flags.is_empty() || clear != 0 {
        let keep = current_flags(dest)? & !MsFlags::from_bits_truncate(clear);
        let all = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | keep | flags;
        do_mount(None, dest, None, all, NONE)?;
    }
    Ok(())
}

/// A mount of type "cgroup": the container's own cgroup directory of each
/// hierarchy, as runc shows them without a cgroup namespace: on a v1 or
/// hybrid host a tmpfs with one directory per hierarchy ("memory",
/// "unified"), on a v2 host the one directory itself.
fn mount_cgroups(dest: &Path, flags: MsFlags, cgroup_dirs: &[(String, PathBuf)]) -> Result<()> {
    let keep =
        flags & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    if let [(name, dir)] = cgroup_dirs {
        if name.is_empty() {
            return bind_mount(dir, dest, false, keep, 0);
        }
    }
    let tmpfs = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    do_mount(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        tmpfs,
        Some("mode=755"),
    )?;
    for (name, dir) in cgroup_dirs {
        let at = dest.join(name);
        fs::create_dir_all(&at).ctx(format!("create {}", at.display()))?;
        bind_mount(dir, &at, false, keep, 0)?;
        // A co-mounted hierarchy ("cpu,cpuacct") is also found by each name.
        if name.contains(',') {
            for part in name.split(',') {
                let link = dest.join(part);
                if fs::symlink_metadata(&link).is_err() {
                    symlink(name, &link).ctx(format!("symlink {}", link.display()))?;
                }
            }
        }
    }
    if keep.contains(MsFlags::MS_RDONLY) {
        do_mount(
            None,
            dest,
            None,
            MsFlags::MS_REMOUNT | tmpfs | MsFlags::MS_RDONLY,
            NONE,
        )?;
    }
    Ok(())
}

/// MS_MOVE the rootfs onto / and chroot into it.
fn chroot_into(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(format!("chdir {}", rootfs.display()))?;
    do_mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, NONE)?;
    nix::unistd::chroot(".").ctx("chroot into the rootfs")?;
    nix::unistd::chdir("/").ctx("chdir /")
}

/// pivot_root into the rootfs and detach the old root; on a rootfs where
/// pivot_root cannot work (initramfs) fall back to MS_MOVE + chroot.
fn pivot_root(rootfs: &Path) -> Result<()> {
    use nix::fcntl::{open, OFlag};
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old_root = open("/", flags, Mode::empty()).ctx("open the old root")?;
    nix::unistd::chdir(rootfs).ctx(format!("chdir {}", rootfs.display()))?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => {
            // The old root is now stacked on the new one. Detach it from
            // itself (as runc does): "." here would be the new root, and a
            // recursive change of it would also undo the propagation the
            // config gave its mounts.
            nix::unistd::fchdir(&old_root).ctx("fchdir to the old root")?;
            do_mount(
                None,
                Path::new("."),
                None,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                NONE,
            )?;
            umount2(".", MntFlags::MNT_DETACH).ctx("detach the old root")?;
        }
        Err(nix::errno::Errno::EINVAL) => return chroot_into(rootfs),
        Err(e) => return Err(e).ctx(format!("pivot_root into {}", rootfs.display())),
    }
    nix::unistd::chdir("/").ctx("chdir /")
}

/// The mount flags in force at `path`, so a remount keeps nosuid/nodev/
/// noexec (which a user namespace may not drop).
fn current_flags(path: &Path) -> Result<MsFlags> {
    let st = nix::sys::statvfs::statvfs(path).ctx(format!("statvfs {}", path.display()))?;
    use nix::sys::statvfs::FsFlags;
    let mut flags = MsFlags::empty();
    for (f, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.flags().contains(f) {
            flags |= m;
        }
    }
    Ok(flags)
}

fn remount_readonly(path: &Path) -> Result<()> {
    let flags = current_flags(path)?;
    do_mount(
        None,
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
        NONE,
    )
}

/// After pivot_root: masked paths, read-only paths, read-only rootfs.
pub fn finish(config: &CheckedConfig) -> Result<()> {
    let null = dev_null()?;
    let mut empty = None;
    for path in &config.masked_paths {
        mask(path, &null, &mut empty)?;
    }
    for path in &config.readonly_paths {
        if !path.exists() {
            continue;
        }
        do_mount(
            Some(path),
            path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )?;
        remount_readonly(path)?;
    }
    if config.readonly_rootfs {
        remount_readonly(Path::new("/"))?;
    }
    Ok(())
}

/// Hide a path: /dev/null over a file, an empty read-only tmpfs over a dir.
/// The /dev/null used is opened without following symlinks and checked to
/// be the null device: a /dev/null planted by a mount must not get a host
/// file mounted over the masked path (CVE-2025-31133). Every masked dir
/// shows one tmpfs (`empty`, made at the first, bound at the others): a
/// checkpoint archives each tmpfs it finds, ~5 ms apiece.
fn mask(path: &Path, null: &OwnedFd, empty: &mut Option<OwnedFd>) -> Result<()> {
    let bind = |fd: &OwnedFd| {
        let source = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        do_mount(Some(&source), path, None, MsFlags::MS_BIND, NONE)
    };
    match fs::metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => match empty {
            Some(fd) => bind(fd),
            None => {
                do_mount(
                    Some(Path::new("tmpfs")),
                    path,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    NONE,
                )?;
                *empty = Some(open_path(path)?);
                Ok(())
            }
        },
        Ok(_) => bind(null),
    }
}

/// An O_PATH fd of the directory `path` (a mount just made), not following
/// a symlink.
fn open_path(path: &Path) -> Result<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(format!("masked_paths: open {}", path.display()))
}

/// The container's /dev/null, opened O_PATH|O_NOFOLLOW and checked to be
/// character device 1:3.
fn dev_null() -> Result<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    let fd = open(
        "/dev/null",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx("masked_paths: open /dev/null")?;
    let st = nix::sys::stat::fstat(&fd).ctx("masked_paths: stat /dev/null")?;
    let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if !is_char || st.st_rdev != makedev(1, 3) {
        return Err(Error::config(
            "masked_paths: the container's /dev/null is not the null device (1:3); refusing to mask with it",
        ));
    }
    Ok(fd)
}
