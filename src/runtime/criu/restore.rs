//! `Factory::restore`: a checkpoint becomes a new running container.

use super::locate::{self, Criu, MIN_TCP_VERSION};
use super::{
    mounts, netns, run, stdio, CgroupMode, Checkpoint, HostBind, RestoreOptions, UPPER_DIR,
};
use crate::runtime::cgroups::{CgroupManager, Controller, ControllerDir};
use crate::runtime::config::CheckedConfig;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::container::Container;
use crate::runtime::host::factory::{check_id, hostname, Factory};
use crate::runtime::host::provision::Provision;
use crate::runtime::host::reaper::Reaper;
use crate::runtime::image::rootfs;
use crate::runtime::sys;
use crate::runtime::sys::proc::Proc;
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PIDFILE: &str = "restore.pid";
const LOG: &str = "restore.log";

impl Factory {
    /// Restore `checkpoint` as a new running container `id`: a new state
    /// dir and cgroup (placed and limited like at create), CRIU's restored
    /// process tree in it, the init a child of this process.
    pub fn restore(
        &self,
        id: &str,
        checkpoint: &Checkpoint,
        opts: &RestoreOptions,
    ) -> Result<Container> {
        self.restore_checked(id, checkpoint, opts).map_err(|e| {
            e.context(format!(
                "restore container '{id}' from {}",
                checkpoint.dir().display()
            ))
        })
    }

    fn restore_checked(
        &self,
        id: &str,
        checkpoint: &Checkpoint,
        opts: &RestoreOptions,
    ) -> Result<Container> {
        check_id(id)?;
        let meta = checkpoint.metadata();
        if meta.pre_dump {
            return Err(Error::config(
                "this is a pre-dump: restore the dump made with it as `parent`",
            ));
        }
        let config = match &opts.config {
            Some(config) => config.clone(),
            None => meta.config.validate()?,
        };
        if config.given.namespace_list() != meta.config.namespace_list() {
            return Err(Error::config(
                "namespaces: a restored container has the checkpoint's namespaces",
            ));
        }
        let criu = locate::locate(opts.criu.as_deref())?;
        // Recorded step by step like a create (see Provision): CRIU joins
        // the cgroup before it restores anything, so a destroy finds every
        // restored process there even if this process dies meanwhile.
        let mut made = Provision::begin(self.root(), id, &config)?;
        let streams = [&opts.stdin, &opts.stdout, &opts.stderr];
        let mut inherited = stdio::open_for_restore(&meta.stdio, streams)?;
        // An image container's rootfs: the checkpoint's image again, over
        // a copy of the writes it saved.
        let (rootfs_tree, config) = match &meta.image {
            Some(image) => {
                if config.image.is_none() {
                    return Err(Error::config(format!(
                        "image: the checkpoint's container was made from the image '{}'; \
                         restore it from that image rather than a rootfs",
                        image.name
                    )));
                }
                let upper = image.upper.then(|| checkpoint.dir().join(UPPER_DIR));
                let (plan, dirs, _) =
                    made.image_rootfs(&image.digest, config.readonly_rootfs, upper.as_deref())?;
                // A container with a user namespace is not checkpointed
                // (see dump.rs): its layers are not idmapped here.
                let tree = rootfs::mount(&plan, &dirs, None)?;
                let config = CheckedConfig {
                    rootfs: dirs.rootfs,
                    ..config
                };
                (Some(tree), config)
            }
            None => (None, config),
        };
        // A bridge network's lease (of the address the checkpoint pins)
        // and name files, as at create; the namespace CRIU is handed gets
        // the veth of that lease as eth0, which no packet reaches before
        // CRIU has made the sockets again (a peer's would be reset).
        let addresses = made.lease_networks()?;
        if meta.flags.net_from_config {
            let net = netns::make(&config)?;
            made.connect_bridges(net.as_fd(), false)?;
            inherited.add(&net, netns::KEY)?;
        }
        let hostname = hostname(&config, &meta.container_id);
        let name_files = made.name_files(&hostname, &addresses)?;
        let cg = made.cgroup(&config, &self.cgroup_name(id))?;
        let work = opts.work_dir.as_deref().unwrap_or(made.dir());
        let into = Target {
            dir: made.dir(),
            work,
            cgroup: cg.as_ref(),
            rootfs_tree,
        };
        let init = restore_into(&criu, checkpoint, &config, &into, inherited, &name_files)?;
        made.init(&init)?;
        made.open_bridges()?;
        made.finish(true, || Ok(()))
    }
}

/// Where a restore puts the new container.
struct Target<'a> {
    /// Its state dir.
    dir: &'a Path,
    /// Where CRIU works and logs.
    work: &'a Path,
    cgroup: Option<&'a CgroupManager>,
    /// An image container's root filesystem, to attach at the rootfs.
    rootfs_tree: Option<OwnedFd>,
}

/// Run `criu restore` inside the new cgroup; the restored init's reaper.
fn restore_into(
    criu: &Criu,
    checkpoint: &Checkpoint,
    config: &CheckedConfig,
    into: &Target,
    inherited: stdio::Inherited,
    name_files: &[(PathBuf, PathBuf)],
) -> Result<Arc<Reaper>> {
    let Target {
        dir,
        work,
        cgroup,
        rootfs_tree,
    } = into;
    let (dir, work, cgroup) = (*dir, *work, *cgroup);
    let meta = checkpoint.metadata();
    let mut args: Vec<OsString> = vec![
        // Detached, the root task a sibling of CRIU: a child of ours.
        "--restore-detached".into(),
        "--restore-sibling".into(),
        "--images-dir".into(),
        checkpoint.dir().into(),
        // Logs go to the work dir, by default the new container's state
        // dir: the images dir may be shared by several restores, or
        // read-only.
        "--work-dir".into(),
        work.into(),
        "--log-file".into(),
        LOG.into(),
        "-v4".into(),
        "--pidfile".into(),
        dir.join(PIDFILE).into(),
        "--root".into(),
        config.rootfs.clone().into(),
    ];
    args.extend(meta.flags.criu_args().into_iter().map(OsString::from));
    if let Some(cgroup) = cgroup.filter(|_| meta.flags.manage_cgroups != CgroupMode::Ignore) {
        args.extend(cgroup_roots(cgroup));
    }
    args.extend(inherited.args.iter().map(OsString::from));
    let name_files = name_files.iter().map(|(file, to)| HostBind {
        destination: to.to_string_lossy().into_owned(),
        source: file.to_string_lossy().into_owned(),
    });
    let external: Vec<HostBind> = meta.host_binds.iter().cloned().chain(name_files).collect();
    args.extend(mounts::restore_args(config, &external));
    // Prepared before the fork: the child may only make raw system calls.
    let procs: Vec<CString> = cgroup
        .map(CgroupManager::dirs)
        .unwrap_or_default()
        .iter()
        .map(|d| CString::new(d.join("cgroup.procs").as_os_str().as_encoded_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::config("a cgroup path contains a NUL byte"))?;
    let fds: Vec<RawFd> = inherited.fds.iter().map(|f| f.as_raw_fd()).collect();
    // CRIU restores the root from `--root`, which for an image container
    // is its overlay, attached in CRIU's own mount namespace.
    let root_tree = match rootfs_tree {
        Some(tree) => Some((
            tree.try_clone()
                .ctx("duplicate the rootfs tree's fd for CRIU")?,
            sys::path_cstring(&config.rootfs)
                .map_err(|_| Error::config("rootfs: the path contains a NUL byte"))?,
        )),
        None => None,
    };
    let needs = meta
        .flags
        .tcp_established
        .then_some((MIN_TCP_VERSION, "a checkpoint with tcp_established"));
    // A shell job goes back onto the terminal of whoever restores it: CRIU
    // takes the tty and its session from its own stdin.
    let shell_job = meta.flags.shell_job;
    if shell_job && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "shell_job: the checkpoint holds a process of a terminal; restore it from a ctrsh \
             whose standard input is a terminal",
        ));
    }
    // The state dir goes with a failed restore; its log is kept beside it.
    let keep = (work == dir).then(|| kept_log(dir));
    run::run(
        criu,
        "restore",
        args,
        (&work.join(LOG), keep.as_deref()),
        needs,
        |cmd| {
            if shell_job {
                cmd.stdin(std::process::Stdio::inherit());
            }
            // SAFETY: only async-signal-safe system calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    join_cgroups(&procs)?;
                    if let Some((tree, target)) = &root_tree {
                        sys::attach_tree_privately(tree.as_fd(), target)?;
                    }
                    stdio::place_in_child(&fds)
                });
            }
            Ok(())
        },
    )?;
    drop(inherited);
    let pid = match read_pid(&dir.join(PIDFILE)) {
        Ok(pid) => pid,
        Err(e) => {
            // CRIU restored the tree, but not which pid is its root: a
            // child of ours (--restore-sibling) in the new cgroup, ended
            // here, or it would stay our zombie once the failed restore
            // has killed the cgroup.
            if let Some(cgroup) = cgroup {
                end_children_in(cgroup);
            }
            return Err(e);
        }
    };
    if !is_our_child(pid) {
        return Reaper::attach(pid);
    }
    match sys::pidfd_open(pid) {
        Ok(pidfd) => Ok(Reaper::child(pid, pidfd)),
        Err(e) => {
            // Ended now: the state records no init for a destroy to end.
            sys::kill_and_reap_child(pid);
            Err(e).ctx(format_args!("pidfd_open the restored init {pid}"))
        }
    }
}

/// The pid CRIU wrote to `pidfile`.
fn read_pid(pidfile: &Path) -> Result<i32> {
    std::fs::read_to_string(pidfile)
        .ctx(format_args!("read {}", pidfile.display()))?
        .trim()
        .parse()
        .map_err(|_| Error::state(format!("{} holds no pid", pidfile.display())))
}

/// Kill and reap the children of ours in `cgroup`.
fn end_children_in(cgroup: &CgroupManager) {
    for pid in cgroup.processes().unwrap_or_default() {
        if is_our_child(pid) {
            sys::kill_and_reap_child(pid);
        }
    }
}

fn is_our_child(pid: i32) -> bool {
    Proc::host().stat(pid).map(|s| s.ppid) == Some(std::process::id() as i32)
}

/// Where the log of a failed restore into the state dir `dir` is kept:
/// `<id>.restore.log` in the factory's root (not a container: only dirs are).
fn kept_log(dir: &Path) -> std::path::PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".restore.log");
    dir.with_file_name(name)
}

/// CRIU joins the new cgroup before it forks anything, so every restored
/// task starts in it ("0" is the writing process itself).
fn join_cgroups(procs: &[CString]) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    for path in procs {
        // Raw system calls (rustix's), nothing allocated: a C string path.
        let fd = rustix::fs::open(
            path.as_c_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        if rustix::io::write(&fd, b"0")? != 1 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// `--cgroup-root controller:/path` for each v1 controller and a default
/// root (the cgroup2 directory) for the rest: CRIU recreates the dumped
/// sub-cgroups below the new container cgroup (never at the old path, which
/// nothing would remove). Named hierarchies ctrsh does not manage
/// (name=systemd) keep our own path, or the default root would move them too.
fn cgroup_roots(cgroup: &CgroupManager) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut root = |controller: &str, d: &ControllerDir| {
        let Ok(rel) = d.dir.strip_prefix(&d.mount) else {
            return;
        };
        let path = format!("/{}", rel.display());
        args.push(OsString::from("--cgroup-root"));
        args.push(if controller.is_empty() {
            path.into()
        } else {
            format!("{controller}:{path}").into()
        });
    };
    for c in Controller::ALL {
        if let Some(d) = cgroup.controller_dir(c).filter(|d| !d.v2) {
            root(c.name(), d);
        }
    }
    if let Some(unified) = cgroup.unified() {
        root("", unified);
    }
    let own = Proc::host().cgroups("self").unwrap_or_default();
    for line in own.iter().filter(|l| l.controllers.starts_with("name=")) {
        args.push(OsString::from("--cgroup-root"));
        args.push(format!("{}:{}", line.controllers, line.path).into());
    }
    args
}
