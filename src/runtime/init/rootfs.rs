//! The container's filesystem view, built inside its new mount namespace:
//! bind the rootfs, mount /proc, /dev (with devices), /sys and the user's
//! mounts, pivot_root into it, then mask and protect paths. A container
//! without a mount namespace has them made under the private copy of its
//! rootfs the parent attached on the host (host/root_mount.rs), and is
//! chrooted into it.

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
    mount(source, target, fstype, flags, data).ctx(format_args!(
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
            fs::create_dir_all(parent).ctx(format_args!("create {}", parent.display()))?;
        }
        if !path.exists() {
            fs::File::create(&path).ctx(format_args!("create {}", path.display()))?;
        }
    } else {
        fs::create_dir_all(&path).ctx(format_args!("create {}", path.display()))?;
    }
    Ok(path)
}

/// One step of building the container's filesystem view. `plan` says
/// which steps a config takes, in order, without touching anything, so
/// that the order is tested without root; `apply` takes them.
#[derive(Debug, PartialEq)]
pub enum Step<'a> {
    /// Every mount a slave of the host's: nothing we mount may propagate
    /// back to the host (`root_propagation` is applied to the container's
    /// own root after pivot_root).
    SlaveAll,
    /// Attach the rootfs the parent prepared (idmap.rs, image/rootfs.rs)
    /// at the rootfs path.
    AttachTree,
    /// Bind the rootfs onto itself, making it a mount pivot_root can use.
    BindRootfs,
    Mount(&'a CheckedMount),
    /// The device nodes and /dev symlinks, into the /dev just mounted.
    PopulateDev,
    /// Bind one of the container's /etc/hostname, hosts and resolv.conf
    /// (`file`, in the state dir) at `destination`.
    BindNameFile {
        file: &'a Path,
        destination: &'a Path,
    },
    Sysctl {
        key: &'a str,
        value: &'a str,
    },
    PivotRoot,
    /// MS_MOVE and chroot instead (`no_pivot_root`).
    ChrootInto,
    /// Only chroot, without a mount namespace: nothing may be moved or
    /// pivoted in the host's.
    Chroot,
    /// The container root's propagation (`root_propagation`).
    RootPropagation(libc::c_ulong),
    Mask(&'a Path),
    ReadOnly(&'a Path),
    ReadOnlyRoot,
}

/// The steps of a container's filesystem view in three stages, as the
/// init takes them: `mount` (in the new mount namespace, up to
/// pivot_root), `enter` (into the rootfs) and `protect` (masked and
/// read-only paths, from inside).
#[derive(Debug, PartialEq)]
pub struct Plan<'a> {
    pub mount: Vec<Step<'a>>,
    pub enter: Vec<Step<'a>>,
    pub protect: Vec<Step<'a>>,
}

/// The plan for `config`. `has_tree`: the parent prepared the rootfs as a
/// detached mount tree. `name_files`: the container's /etc/hostname, hosts
/// and resolv.conf in the state dir, and where each goes.
pub fn plan<'a>(
    config: &'a CheckedConfig,
    has_tree: bool,
    name_files: &'a [(PathBuf, PathBuf)],
) -> Plan<'a> {
    let own_ns = config.has(NamespaceKind::Mount);
    // Without a mount namespace the parent attached the rootfs, private.
    let mut mount = match (own_ns, has_tree) {
        (false, _) => vec![],
        (true, true) => vec![Step::SlaveAll, Step::AttachTree],
        (true, false) => vec![Step::SlaveAll, Step::BindRootfs],
    };
    for m in &config.builtin_mounts {
        mount.push(Step::Mount(m));
        if m.destination == Path::new("/dev") {
            mount.push(Step::PopulateDev);
        }
    }
    // Before the config's mounts, which may cover them.
    mount.extend(
        name_files
            .iter()
            .map(|(file, destination)| Step::BindNameFile { file, destination }),
    );
    for m in &config.mounts {
        mount.push(Step::Mount(m));
        // Device nodes go into a fresh /dev; a bind of the host's /dev
        // already has them.
        let bind = matches!(m.kind, MountKind::Bind { .. });
        if m.destination == Path::new("/dev") && !bind {
            mount.push(Step::PopulateDev);
        }
    }
    mount.extend(
        config
            .sysctl
            .iter()
            .map(|(key, value)| Step::Sysctl { key, value }),
    );
    let mut enter = vec![match (own_ns, config.no_pivot_root) {
        (false, _) => Step::Chroot,
        (true, true) => Step::ChrootInto,
        (true, false) => Step::PivotRoot,
    }];
    enter.extend(config.root_propagation.map(Step::RootPropagation));
    let mut protect: Vec<Step> = config.masked_paths.iter().map(|p| Step::Mask(p)).collect();
    protect.extend(config.readonly_paths.iter().map(|p| Step::ReadOnly(p)));
    if config.readonly_rootfs {
        protect.push(Step::ReadOnlyRoot);
    }
    Plan {
        mount,
        enter,
        protect,
    }
}

/// What the steps of a plan act on, besides the config.
struct Apply<'a> {
    config: &'a CheckedConfig,
    /// The tree of `Step::AttachTree`.
    tree: Option<OwnedFd>,
    /// The container's cgroup directories, for a mount of type "cgroup".
    cgroup_dirs: &'a [(String, PathBuf)],
    /// The container's /dev/null, checked, for `Step::Mask` of a file.
    null: Option<OwnedFd>,
    /// The one empty tmpfs every masked directory shows (see `mask`).
    empty: Option<OwnedFd>,
}

impl<'a> Apply<'a> {
    fn new(
        config: &'a CheckedConfig,
        tree: Option<OwnedFd>,
        cgroup_dirs: &'a [(String, PathBuf)],
    ) -> Apply<'a> {
        Apply {
            config,
            tree,
            cgroup_dirs,
            null: None,
            empty: None,
        }
    }

    fn apply(&mut self, steps: &[Step]) -> Result<()> {
        steps.iter().try_for_each(|step| self.step(step))
    }

    fn step(&mut self, step: &Step) -> Result<()> {
        let rootfs = self.config.rootfs.as_path();
        match step {
            Step::SlaveAll => do_mount(
                None,
                Path::new("/"),
                None,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                NONE,
            ),
            Step::AttachTree => {
                let tree = self
                    .tree
                    .take()
                    .expect("the plan attaches the tree it was given");
                sys::attach_tree(&tree, rootfs).ctx(format_args!(
                    "rootfs: attach the prepared {}",
                    rootfs.display()
                ))
            }
            Step::BindRootfs => do_mount(
                Some(rootfs),
                rootfs,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            ),
            Step::Mount(m) => mount_one(rootfs, m, self.cgroup_dirs),
            Step::PopulateDev => populate_dev(rootfs, self.config),
            Step::BindNameFile { file, destination } => bind_name_file(rootfs, file, destination),
            Step::Sysctl { key, value } => {
                let file = rootfs.join("proc/sys").join(key.replace('.', "/"));
                fs::write(&file, value).ctx(format_args!("sysctl {key}={value}"))
            }
            Step::PivotRoot => pivot_root(rootfs),
            Step::ChrootInto => chroot_into(rootfs),
            Step::Chroot => chroot(rootfs),
            Step::RootPropagation(flags) => do_mount(
                None,
                Path::new("/"),
                None,
                MsFlags::from_bits_truncate(*flags),
                NONE,
            ),
            Step::Mask(path) => {
                let null = self.null.as_ref().expect("protect opens /dev/null first");
                mask(path, null, &mut self.empty)
            }
            Step::ReadOnly(path) if !path.exists() => Ok(()),
            Step::ReadOnly(path) => {
                do_mount(
                    Some(path),
                    path,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    NONE,
                )?;
                remount_readonly(path)
            }
            Step::ReadOnlyRoot => remount_readonly(Path::new("/")),
        }
    }
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
    let plan = plan(config, tree.is_some(), name_files);
    Apply::new(config, tree, cgroup_dirs).apply(&plan.mount)
}

/// Bind a name file (in the state dir) at its place. Where the rootfs
/// lacks the file and it cannot be made (a read-only rootfs, as an image's
/// without an upper dir; one an unprivileged user may not write), the
/// container goes without it: a bind needs a file to cover.
fn bind_name_file(rootfs: &Path, file: &Path, destination: &Path) -> Result<()> {
    match target(rootfs, destination, true) {
        Ok(dest) => do_mount(Some(file), &dest, None, MsFlags::MS_BIND, NONE),
        Err(_) => Ok(()),
    }
}

/// Into the rootfs (pivot_root, or chroot with `no_pivot_root`), then the
/// container root's propagation.
pub fn enter(config: &CheckedConfig) -> Result<()> {
    Apply::new(config, None, &[]).apply(&plan(config, false, &[]).enter)
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
            symlink(to, &path).ctx(format_args!("symlink /dev/{link} -> {to}"))?;
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
        fs::create_dir_all(parent).ctx(format_args!("create {}", parent.display()))?;
    }
    if user_ns {
        fs::File::create(&node).ctx(format_args!("create {}", node.display()))?;
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
    made.ctx(format_args!("mknod {}", path.display()))?;
    nix::unistd::chown(
        &node,
        Some(nix::unistd::Uid::from_raw(d.uid)),
        Some(nix::unistd::Gid::from_raw(d.gid)),
    )
    .ctx(format_args!("chown {}", path.display()))
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
                        .ctx(format_args!("make {} read-only", dest.display()))?;
                }
                other => other.ctx(format_args!(
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
        fs::create_dir_all(&at).ctx(format_args!("create {}", at.display()))?;
        bind_mount(dir, &at, false, keep, 0)?;
        // A co-mounted hierarchy ("cpu,cpuacct") is also found by each name.
        if name.contains(',') {
            for part in name.split(',') {
                let link = dest.join(part);
                if fs::symlink_metadata(&link).is_err() {
                    symlink(name, &link).ctx(format_args!("symlink {}", link.display()))?;
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
    nix::unistd::chdir(rootfs).ctx(format_args!("chdir {}", rootfs.display()))?;
    do_mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, NONE)?;
    nix::unistd::chroot(".").ctx("chroot into the rootfs")?;
    nix::unistd::chdir("/").ctx("chdir /")
}

fn chroot(rootfs: &Path) -> Result<()> {
    nix::unistd::chroot(rootfs).ctx(format_args!("chroot into {}", rootfs.display()))?;
    nix::unistd::chdir("/").ctx("chdir /")
}

/// pivot_root into the rootfs and detach the old root; on a rootfs where
/// pivot_root cannot work (initramfs) fall back to MS_MOVE + chroot.
fn pivot_root(rootfs: &Path) -> Result<()> {
    use nix::fcntl::{open, OFlag};
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old_root = open("/", flags, Mode::empty()).ctx("open the old root")?;
    nix::unistd::chdir(rootfs).ctx(format_args!("chdir {}", rootfs.display()))?;
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
        Err(e) => return Err(e).ctx(format_args!("pivot_root into {}", rootfs.display())),
    }
    nix::unistd::chdir("/").ctx("chdir /")
}

/// The mount flags in force at `path`, so a remount keeps nosuid/nodev/
/// noexec (which a user namespace may not drop).
fn current_flags(path: &Path) -> Result<MsFlags> {
    let st = nix::sys::statvfs::statvfs(path).ctx(format_args!("statvfs {}", path.display()))?;
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
    let mut apply = Apply::new(config, None, &[]);
    apply.null = Some(dev_null()?);
    apply.apply(&plan(config, false, &[]).protect)
}

/// Hide a path: /dev/null over a file, an empty read-only tmpfs over a dir.
/// The /dev/null used is opened without following symlinks and checked to
/// be the null device: a /dev/null planted by a mount must not get a host
/// file mounted over the masked path (CVE-2025-31133). Every masked dir
/// shows one tmpfs (`empty`, made at the first, bound at the others): a
/// checkpoint archives each tmpfs it finds, one tar apiece.
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
    .ctx(format_args!("masked_paths: open {}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::config::{Config, Mount};

    /// The checked config of `config` over the rootfs "/".
    fn checked(config: Config) -> CheckedConfig {
        Config {
            rootfs: "/".into(),
            ..config
        }
        .validate()
        .expect("a valid config")
    }

    fn mount(kind: &str, destination: &str, options: &[&str]) -> Mount {
        Mount {
            source: Some(if kind == "bind" { "/tmp" } else { kind }.into()),
            destination: destination.into(),
            kind: Some(kind.into()),
            options: options.iter().map(|o| o.to_string()).collect(),
            propagation: None,
        }
    }

    /// The steps, short: a mount by its destination.
    fn names(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| match step {
                Step::Mount(m) => format!("mount {}", m.destination.display()),
                Step::BindNameFile { destination, .. } => format!("name {}", destination.display()),
                Step::Sysctl { key, value } => format!("sysctl {key}={value}"),
                Step::Mask(path) => format!("mask {}", path.display()),
                Step::ReadOnly(path) => format!("readonly {}", path.display()),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_builtin_mounts_come_first_then_the_name_files_then_the_configs_mounts() {
        let config = checked(Config {
            mounts: vec![mount("tmpfs", "/data", &[])],
            sysctl: [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
            ..Config::default()
        });
        let name_files = [(PathBuf::from("/state/hosts"), PathBuf::from("/etc/hosts"))];
        let plan = plan(&config, false, &name_files);
        let builtin: Vec<String> = config
            .builtin_mounts
            .iter()
            .flat_map(|m| {
                let dev = m.destination == Path::new("/dev");
                let mount = format!("mount {}", m.destination.display());
                std::iter::once(mount).chain(dev.then(|| "PopulateDev".to_string()))
            })
            .collect();
        assert!(builtin.contains(&"PopulateDev".to_string()), "{builtin:?}");
        let mut want = vec!["SlaveAll".to_string(), "BindRootfs".to_string()];
        want.extend(builtin);
        want.extend(
            [
                "name /etc/hosts",
                "mount /data",
                "sysctl net.ipv4.ip_forward=1",
            ]
            .map(String::from),
        );
        assert_eq!(names(&plan.mount), want);
    }

    #[test]
    fn a_prepared_tree_is_attached_instead_of_binding_the_rootfs() {
        let config = checked(Config::default());
        assert_eq!(plan(&config, true, &[]).mount[1], Step::AttachTree);
        assert_eq!(plan(&config, false, &[]).mount[1], Step::BindRootfs);
    }

    #[test]
    fn a_fresh_dev_of_the_config_gets_the_devices_and_a_bind_of_dev_does_not() {
        let tmpfs = checked(Config {
            mounts: vec![mount("tmpfs", "/dev", &[])],
            ..Config::default()
        });
        let steps = names(&plan(&tmpfs, false, &[]).mount);
        assert!(
            steps.ends_with(&["mount /dev".into(), "PopulateDev".into()]),
            "{steps:?}"
        );
        let bind = checked(Config {
            mounts: vec![mount("bind", "/dev", &["rbind"])],
            ..Config::default()
        });
        let steps = names(&plan(&bind, false, &[]).mount);
        assert_eq!(
            steps.last().map(String::as_str),
            Some("mount /dev"),
            "{steps:?}"
        );
    }

    #[test]
    fn entering_pivots_or_chroots_then_sets_the_roots_propagation() {
        let config = checked(Config::default());
        assert_eq!(plan(&config, false, &[]).enter, [Step::PivotRoot]);
        let config = checked(Config {
            no_pivot_root: true,
            root_propagation: Some("rprivate".into()),
            ..Config::default()
        });
        let flags = (MsFlags::MS_PRIVATE | MsFlags::MS_REC).bits();
        assert_eq!(
            plan(&config, false, &[]).enter,
            [Step::ChrootInto, Step::RootPropagation(flags)]
        );
    }

    #[test]
    fn without_a_mount_namespace_nothing_is_bound_or_moved_only_chrooted() {
        use crate::runtime::config::Namespace;
        let config = checked(Config {
            namespaces: Some(vec![Namespace {
                kind: NamespaceKind::Pid,
                path: None,
            }]),
            no_pivot_root: true,
            ..Config::default()
        });
        // The parent attached the rootfs (host/root_mount.rs).
        let plan = plan(&config, false, &[]);
        let mount = names(&plan.mount);
        assert!(
            mount.first().is_some_and(|m| m.starts_with("mount ")),
            "{mount:?}"
        );
        assert!(!mount.iter().any(|m| m == "SlaveAll" || m == "BindRootfs"));
        assert_eq!(plan.enter, [Step::Chroot]);
    }

    #[test]
    fn masks_come_before_read_only_paths_and_the_read_only_root_last() {
        let config = checked(Config {
            masked_paths: Some(vec!["/proc/kcore".into()]),
            readonly_paths: Some(vec!["/proc/sys".into()]),
            readonly_rootfs: true,
            ..Config::default()
        });
        assert_eq!(
            names(&plan(&config, false, &[]).protect),
            ["mask /proc/kcore", "readonly /proc/sys", "ReadOnlyRoot"]
        );
        let config = checked(Config::default());
        let protect = plan(&config, false, &[]).protect;
        assert!(
            !protect.is_empty(),
            "runc's default masked and read-only paths"
        );
        assert!(!protect.contains(&Step::ReadOnlyRoot));
    }
}
