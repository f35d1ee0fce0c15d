//! The container's filesystem view, built inside its new mount namespace:
//! bind the rootfs, mount /proc, /dev (with devices), /sys and the user's
//! mounts, pivot_root into it, then mask and protect paths.

use crate::runtime::config::mount_options;
use crate::runtime::config::{Config, Device};
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
fn target(rootfs: &Path, dest: &str, as_file: bool) -> Result<PathBuf> {
    let literal = rootfs.join(dest.trim_start_matches('/'));
    if (dest == "/proc" || dest == "/sys")
        && fs::symlink_metadata(&literal).is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(Error::config(format!(
            "mounts: {dest} in the rootfs is a symlink; refusing to mount over it"
        )));
    }
    let path = secure_join(rootfs, Path::new(dest))?;
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

/// Everything up to and including pivot_root. Runs in the init, in the new
/// mount namespace.
pub fn prepare(config: &Config, user_ns: bool, idmapped: Option<OwnedFd>) -> Result<()> {
    let rootfs = config.rootfs.as_path();
    // Nothing we mount may propagate back to the host.
    do_mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        NONE,
    )?;
    match idmapped {
        Some(tree) => sys::attach_tree(&tree, rootfs)
            .ctx(format!("rootfs: attach the idmapped {}", rootfs.display()))?,
        None => do_mount(
            Some(rootfs),
            rootfs,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )?,
    }

    let common = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let proc_dir = target(rootfs, "/proc", false)?;
    do_mount(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        common,
        NONE,
    )?;
    mount_dev(rootfs, config, user_ns)?;
    mount_sys(rootfs)?;
    for m in &config.mounts {
        mount_user(rootfs, m)?;
    }
    for (key, value) in &config.sysctl {
        let file = proc_dir.join("sys").join(key.replace('.', "/"));
        fs::write(&file, value).ctx(format!("sysctl {key}={value}"))?;
    }
    pivot_root(rootfs)
}

fn mount_dev(rootfs: &Path, config: &Config, user_ns: bool) -> Result<()> {
    let dev = target(rootfs, "/dev", false)?;
    do_mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    let devices = config.device_nodes();
    for d in &devices {
        create_device(rootfs, d, user_ns)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        symlink(to, dev.join(link)).ctx(format!("symlink /dev/{link} -> {to}"))?;
    }
    let pts = target(rootfs, "/dev/pts", false)?;
    do_mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    let shm = target(rootfs, "/dev/shm", false)?;
    do_mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )?;
    let mqueue = target(rootfs, "/dev/mqueue", false)?;
    do_mount(
        Some(Path::new("mqueue")),
        &mqueue,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        NONE,
    )
}

/// mknod a device node; in a user namespace (where mknod is not allowed)
/// bind-mount the host's node instead, as runc does.
fn create_device(rootfs: &Path, d: &Device, user_ns: bool) -> Result<()> {
    let path = d
        .path
        .as_deref()
        .ok_or_else(|| Error::config("devices: a device needs a path"))?;
    // The node's parent is inside our fresh /dev tmpfs, resolved safely.
    let node = secure_join(rootfs, Path::new(path))?;
    if let Some(parent) = node.parent() {
        fs::create_dir_all(parent).ctx(format!("create {}", parent.display()))?;
    }
    if user_ns {
        fs::File::create(&node).ctx(format!("create {}", node.display()))?;
        return do_mount(Some(Path::new(path)), &node, None, MsFlags::MS_BIND, NONE);
    }
    let kind = match d.kind.as_str() {
        "c" => SFlag::S_IFCHR,
        "b" => SFlag::S_IFBLK,
        "p" => SFlag::S_IFIFO,
        other => {
            return Err(Error::config(format!(
                "devices: {path}: unknown type '{other}'"
            )))
        }
    };
    let old = nix::sys::stat::umask(Mode::empty());
    let made = mknod(
        &node,
        kind,
        Mode::from_bits_truncate(d.file_mode),
        makedev(d.major as u64, d.minor as u64),
    );
    nix::sys::stat::umask(old);
    made.ctx(format!("mknod {path}"))?;
    nix::unistd::chown(
        &node,
        Some(nix::unistd::Uid::from_raw(d.uid)),
        Some(nix::unistd::Gid::from_raw(d.gid)),
    )
    .ctx(format!("chown {path}"))
}

/// sysfs read-only; a fresh sysfs needs a network namespace of our own, so
/// without one fall back to a read-only bind of the host's /sys.
fn mount_sys(rootfs: &Path) -> Result<()> {
    let dir = target(rootfs, "/sys", false)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    match mount(Some("sysfs"), &dir, Some("sysfs"), flags, NONE) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => {
            do_mount(
                Some(Path::new("/sys")),
                &dir,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            )?;
            // Every submount too: the host's cgroup and debug filesystems
            // live below /sys.
            sys::make_tree_readonly(&dir).ctx(format!("make {} read-only", dir.display()))
        }
        Err(e) => Err(e).ctx(format!("mount sysfs on {}", dir.display())),
    }
}

fn mount_user(rootfs: &Path, m: &crate::runtime::config::Mount) -> Result<()> {
    let opts = mount_options::parse(&m.options, m.propagation.as_deref())
        .map_err(|e| Error::config(format!("mounts: {}: {e}", m.destination)))?;
    let bind = opts.bind || m.kind.as_deref() == Some("bind");
    let source = m.source.as_deref().map(Path::new);
    let as_file = bind && source.is_some_and(|s| s.is_file());
    let dest = target(rootfs, &m.destination, as_file)?;
    let flags = MsFlags::from_bits_truncate(opts.flags);
    if bind {
        let source = source.ok_or_else(|| {
            Error::config(format!(
                "mounts: {}: a bind mount needs a source",
                m.destination
            ))
        })?;
        let mut bind_flags = MsFlags::MS_BIND;
        if opts.recursive {
            bind_flags |= MsFlags::MS_REC;
        }
        do_mount(Some(source), &dest, None, bind_flags, NONE)?;
        // Bind mounts ignore other flags until a remount applies them; keep
        // the flags the mount already has (a user namespace may not drop
        // them) unless the options clear them ("rw", "suid" ...).
        if !flags.is_empty() || opts.clear != 0 {
            let keep = current_flags(&dest)? & !MsFlags::from_bits_truncate(opts.clear);
            let all = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | keep | flags;
            do_mount(None, &dest, None, all, NONE)?;
        }
    } else {
        let fstype = m.kind.as_deref().unwrap_or("none");
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        do_mount(
            Some(source.unwrap_or(Path::new(fstype))),
            &dest,
            Some(fstype),
            flags,
            data,
        )?;
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
        Err(nix::errno::Errno::EINVAL) => {
            do_mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, NONE)?;
            nix::unistd::chroot(".").ctx("chroot into the rootfs")?;
        }
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
pub fn finish(config: &Config) -> Result<()> {
    let null = dev_null()?;
    let masked = config.masked();
    let mut empty = None;
    for p in &masked {
        mask(Path::new(p), &null, &mut empty)?;
    }
    let readonly = config.readonly();
    for p in &readonly {
        let path = Path::new(p);
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
