//! The container's filesystem view, built inside its new mount namespace:
//! bind the rootfs, mount /proc, /dev (with devices), /sys and the user's
//! mounts, pivot_root into it, then mask and protect paths.

use crate::runtime::config::mount_options;
use crate::runtime::config::{Config, Device, Mount};
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

/// The runtime's own mounts, made unless `mounts` has one at the same
/// destination (as an OCI bundle does); a mount at /dev replaces the ones
/// below it too.
fn builtin_mounts() -> Vec<Mount> {
    let mount = |source: &str, dest: &str, kind: &str, options: &[&str]| Mount {
        source: Some(source.into()),
        destination: dest.into(),
        kind: Some(kind.into()),
        options: options.iter().map(|o| o.to_string()).collect(),
        propagation: None,
    };
    vec![
        mount("proc", "/proc", "proc", &["nosuid", "nodev", "noexec"]),
        mount(
            "tmpfs",
            "/dev",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "devpts",
            "/dev/pts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        ),
        mount(
            "shm",
            "/dev/shm",
            "tmpfs",
            &["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"],
        ),
        mount(
            "mqueue",
            "/dev/mqueue",
            "mqueue",
            &["nosuid", "nodev", "noexec"],
        ),
        mount(
            "sysfs",
            "/sys",
            "sysfs",
            &["nosuid", "nodev", "noexec", "ro"],
        ),
    ]
}

/// The mounts to make, in order: the built-ins no mount of the config
/// replaces, then the config's.
fn mount_plan(config: &Config) -> Vec<Mount> {
    let configured = |dest: &str| {
        config
            .mounts
            .iter()
            .any(|m| Path::new(&m.destination) == Path::new(dest))
    };
    let mut plan: Vec<Mount> = builtin_mounts()
        .into_iter()
        .filter(|b| {
            let dest = b.destination.as_str();
            let replaced = configured(dest) || dest.starts_with("/dev/") && configured("/dev");
            !replaced
        })
        .collect();
    plan.extend(config.mounts.iter().cloned());
    plan
}

/// Every mount, up to pivot_root. Runs in the init, in the new mount
/// namespace. `cgroup_dirs`: the container's cgroup directories, for a
/// mount of type "cgroup".
pub fn prepare(
    config: &Config,
    user_ns: bool,
    idmapped: Option<OwnedFd>,
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
    for m in &mount_plan(config) {
        let bind = mount_one(rootfs, m, cgroup_dirs)?;
        // Device nodes go into a fresh /dev; a bind of the host's /dev
        // already has them.
        if Path::new(&m.destination) == Path::new("/dev") && !bind {
            populate_dev(rootfs, config, user_ns)?;
        }
    }
    let proc_dir = rootfs.join("proc");
    for (key, value) in &config.sysctl {
        let file = proc_dir.join("sys").join(key.replace('.', "/"));
        fs::write(&file, value).ctx(format!("sysctl {key}={value}"))?;
    }
    Ok(())
}

/// Into the rootfs (pivot_root, or chroot with `no_pivot_root`), then the
/// container root's propagation.
pub fn enter(config: &Config) -> Result<()> {
    let rootfs = config.rootfs.as_path();
    if config.no_pivot_root {
        chroot_into(rootfs)?;
    } else {
        pivot_root(rootfs)?;
    }
    if let Some(name) = &config.root_propagation {
        let flags = mount_options::parse_propagation(name)
            .map_err(|e| Error::config(format!("root_propagation: {e}")))?;
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
fn populate_dev(rootfs: &Path, config: &Config, user_ns: bool) -> Result<()> {
    let dev = secure_join(rootfs, Path::new("/dev"))?;
    for d in &config.device_nodes() {
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

/// Make one mount; whether it was a bind mount.
fn mount_one(rootfs: &Path, m: &Mount, cgroup_dirs: &[(String, PathBuf)]) -> Result<bool> {
    let opts = mount_options::parse(&m.options, m.propagation.as_deref())
        .map_err(|e| Error::config(format!("mounts: {}: {e}", m.destination)))?;
    let bind = opts.bind || m.kind.as_deref() == Some("bind");
    let source = m.source.as_deref().map(Path::new);
    // Anything but a directory (a file, a socket, a device) binds onto a file.
    let as_file = bind && source.is_some_and(|s| s.metadata().is_ok_and(|m| !m.is_dir()));
    let dest = target(rootfs, &m.destination, as_file)?;
    let flags = MsFlags::from_bits_truncate(opts.flags);
    if bind {
        let source = source.ok_or_else(|| {
            Error::config(format!(
                "mounts: {}: a bind mount needs a source",
                m.destination
            ))
        })?;
        bind_mount(source, &dest, opts.recursive, flags, opts.clear)?;
    } else if m.kind.as_deref() == Some("cgroup") {
        mount_cgroups(&dest, flags, cgroup_dirs)?;
    } else {
        let fstype = m.kind.as_deref().unwrap_or("none");
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        let source = source.unwrap_or(Path::new(fstype));
        match mount(Some(source), &dest, Some(fstype), flags, data) {
            // A fresh sysfs needs a network namespace of our own; without
            // one, the host's, read-only (as runc does).
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
                sys::make_tree_readonly(&dest).ctx(format!("make {} read-only", dest.display()))?;
            }
            other => other.ctx(format!(
                "mount {} on {} (type {fstype})",
                source.display(),
                dest.display()
            ))?,
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
    Ok(bind)
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
