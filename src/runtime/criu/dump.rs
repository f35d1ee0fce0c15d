//! `Container::checkpoint`: dump (or pre-dump) a running container.

use super::locate::{self, Criu, MIN_TCP_VERSION};
use super::metadata::{CheckpointImage, DumpFlags, HostBind, Metadata};
use super::{mounts, netns, run, stdio, upper, Checkpoint, CheckpointOptions};
use crate::runtime::cgroups::Controller;
use crate::runtime::config::NamespaceKind;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::container::{Container, Status};
use crate::runtime::host::state::{now, State};
use crate::runtime::image::rootfs::RootfsDirs;
use crate::runtime::image::{Digest, Store};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

const LOG: &str = "dump.log";

impl Container {
    /// Dump the running container into `opts.dir` with CRIU. Unless
    /// `leave_running` (or `pre_dump`), the container stops and is
    /// destroyed, as with `runc checkpoint`.
    pub fn checkpoint(&self, opts: &CheckpointOptions) -> Result<Checkpoint> {
        self.checkpoint_in(opts)
            .map_err(|e| e.context(format!("checkpoint container '{}'", self.id())))
    }

    fn checkpoint_in(&self, opts: &CheckpointOptions) -> Result<Checkpoint> {
        if self.config().networks.iter().any(|n| n.kind == "pasta") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a container on a \"pasta\" network cannot be checkpointed yet",
            ));
        }
        // Its root is a copy on the host (host/root_mount.rs), which a
        // restore does not make.
        if self.config().namespace(NamespaceKind::Mount).is_none() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a container without a \"mount\" namespace cannot be checkpointed yet: its \
                 mounts are in the host's mount namespace, which a restore does not rebuild \
                 (add \"mount\" to its namespaces)",
            ));
        }
        let criu = locate::locate(opts.criu.as_deref())?;
        if opts.pre_dump || opts.parent.is_some() {
            require_dirty_tracking(&criu, opts)?;
        }
        if !opts.dir.is_absolute() {
            return Err(Error::config(format!(
                "dir: '{}' is not an absolute path",
                opts.dir.display()
            )));
        }
        let parent = opts
            .parent
            .as_deref()
            .map(Checkpoint::load)
            .transpose()
            .map_err(|e| e.context("parent"))?;
        let lock = self.lock()?;
        let (state, _) = self.state_and_init()?;
        if state.image.is_some() && state.config.creates(NamespaceKind::User) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a container made from an image with a user namespace cannot be checkpointed \
                 yet: its layers are idmapped mounts, which a restore does not make",
            ));
        }
        // CRIU finds the init's program, the read-only copy of ctrsh (see
        // launch/sealed_exe.rs), on no mount it knows ("Can't lookup
        // mount"): refused before anything is frozen.
        if state.config.init {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a container with the `init` option cannot be checkpointed yet: CRIU cannot \
                 dump ctrsh's init, whose program is a sealed copy outside the container; \
                 create it without `init` (its first process is then PID 1)",
            ));
        }
        // A bridge's veth is made again, not dumped (see netns.rs).
        let on_bridge = !state.networks.is_empty();
        if on_bridge && !netns::from_config(&state.config) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a container on a \"bridge\" network that can change its network namespace \
                 (with CAP_NET_ADMIN or CAP_SYS_ADMIN, a user namespace, or /proc/sys writable) \
                 cannot be checkpointed yet",
            ));
        }
        // An image container's root is the overlay in its state dir; its
        // writes go into the checkpoint with the processes (not with a
        // pre-dump, which holds only memory).
        let image_dirs = state
            .image
            .as_ref()
            .map(|_| RootfsDirs::in_state_dir(self.dir()));
        let root = image_dirs
            .as_ref()
            .map_or_else(|| state.config.rootfs.clone(), |d| d.rootfs.clone());
        let upper = image_dirs
            .map(|d| d.upper)
            .filter(|u| !opts.pre_dump && u.is_dir());
        let freezer = || {
            state
                .cgroup
                .as_ref()
                .and_then(|cg| cg.controller_dir(Controller::Freezer))
                .map(|d| d.dir.clone())
        };
        // A paused container is dumped as it is (containerd pauses a task
        // around its checkpoint): CRIU takes the frozen cgroup as its
        // freeze, and leaves it frozen when the container keeps running.
        // One that keeps running with writes to save is paused here, so
        // the writes are saved as they were at the dump.
        let mut thaw = None;
        let frozen = match self.status()? {
            Status::Running if upper.is_some() && opts.leave_running => {
                let cg = state.cgroup.as_ref().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        "leave_running: a container made from an image is paused while its \
                         writes are saved, which needs a cgroup",
                    )
                })?;
                cg.freeze()?;
                thaw = Some(cg);
                freezer()
            }
            Status::Running => None,
            Status::Paused => freezer(),
            status => return Err(Error::state(format!("the container is {status}"))),
        };
        let dumped = self.dump_images(&Dumping {
            criu: &criu,
            opts,
            state: &state,
            root,
            upper,
            frozen,
            parent: parent.as_ref(),
        });
        if let Some(Err(thawing)) = thaw.map(|cg| cg.thaw()) {
            return Err(match dumped {
                Ok(_) => thawing,
                // The dump's error says what went wrong; the thaw's follows.
                Err(mut dump) => {
                    dump.message = format!(
                        "{} (and the container is left paused: {})",
                        dump.message, thawing.message
                    );
                    dump
                }
            });
        }
        let metadata = dumped?;
        if !opts.leave_running && !opts.pre_dump {
            // CRIU killed the processes; the container is gone.
            self.teardown()
                .map_err(|e| e.context("remove the dumped container"))?;
        }
        drop(lock);
        Ok(Checkpoint {
            dir: opts.dir.clone(),
            metadata,
        })
    }

    /// The dump itself: CRIU's images, the saved upper dir and the
    /// metadata, or on failure a dir cleaned up again.
    fn dump_images(&self, d: &Dumping) -> Result<Metadata> {
        let Dumping {
            criu,
            opts,
            state,
            upper,
            frozen,
            parent,
            ..
        } = d;
        let made_dir = prepare_dir(&opts.dir)?;
        let parent_link = match parent {
            Some(parent) => match relative_link(&opts.dir, parent.dir()) {
                Ok(link) => Some(link),
                Err(e) => {
                    clean_dir(&opts.dir, made_dir);
                    return Err(e.context("parent"));
                }
            },
            None => None,
        };
        let flags = DumpFlags {
            tcp_established: opts.tcp_established,
            ext_unix_sk: opts.ext_unix_sk,
            shell_job: opts.shell_job,
            file_locks: opts.file_locks,
            manage_cgroups: opts.manage_cgroups,
            // A bridge container's TCP connections come back in the
            // namespace made for it, which has its address again.
            net_from_config: netns::from_config(&state.config)
                && (!state.networks.is_empty() || !opts.tcp_established),
        };
        let host_binds = mounts::host_binds(state.init_pid, &state.config);
        // The restore binds name files of its own state dir.
        let external: Vec<HostBind> = (host_binds.iter().cloned())
            .chain(mounts::name_file_binds(&self.state_dir().path))
            .collect();
        let dumped = stdio::outside_links(state.init_pid, opts.shell_job).and_then(|links| {
            let mut args = dump_args(d, &flags, parent_link.as_deref(), &links, &external);
            if let Some(dir) = &frozen {
                args.push("--freeze-cgroup".into());
                args.push(dir.into());
            }
            if flags.net_from_config {
                args.push("--external".into());
                args.push(netns::external(state.init_pid)?.into());
            }
            let action = if opts.pre_dump { "pre-dump" } else { "dump" };
            let work = opts.work_dir.as_deref().unwrap_or(&opts.dir);
            let needs = opts
                .tcp_established
                .then_some((MIN_TCP_VERSION, "tcp_established on this kernel"));
            let log = work.join(LOG);
            let version = run::run(criu, action, args, (&log, None), needs, |_| Ok(()))?;
            if let Some(upper) = upper {
                upper::save(upper, &opts.dir, opts.leave_running)?;
            }
            let metadata = Metadata {
                container_id: self.id().to_string(),
                created: now(),
                config: netns::pin_addresses(&state.config.given, &state.networks),
                criu_version: version.map_or_else(|| "unknown".to_string(), |v| v.to_string()),
                kernel: kernel_release(),
                pre_dump: opts.pre_dump,
                flags,
                stdio: links,
                host_binds,
                image: state.image.as_ref().map(|image| CheckpointImage {
                    name: image.name.clone(),
                    digest: image.digest.clone(),
                    upper: upper.is_some(),
                }),
            };
            metadata.write(&opts.dir)?;
            // A restore mounts the image's layers again: they stay in the
            // store while the checkpoint's dir is there.
            if let Some(image) = state.image.as_ref().filter(|_| !opts.pre_dump) {
                Store::open(&image.store)?
                    .pin_for_checkpoint(&Digest::parse(&image.digest)?, &opts.dir)?;
            }
            Ok(metadata)
        });
        if dumped.is_err() {
            clean_dir(&opts.dir, made_dir);
        }
        dumped
    }
}

/// What `dump_images` dumps, and how.
struct Dumping<'a> {
    criu: &'a Criu,
    opts: &'a CheckpointOptions,
    state: &'a State,
    /// The container's root on the host (`--root`).
    root: PathBuf,
    /// An image container's upper dir, saved into the checkpoint.
    upper: Option<PathBuf>,
    /// The frozen cgroup CRIU takes as its freeze.
    frozen: Option<PathBuf>,
    parent: Option<&'a Checkpoint>,
}

fn dump_args(
    d: &Dumping,
    flags: &DumpFlags,
    parent_link: Option<&Path>,
    links: &[super::StdioLink],
    external: &[HostBind],
) -> Vec<OsString> {
    let (opts, config) = (d.opts, &d.state.config);
    let mut args: Vec<OsString> = vec![
        "--tree".into(),
        d.state.init_pid.to_string().into(),
        "--images-dir".into(),
        opts.dir.clone().into(),
        "--log-file".into(),
        LOG.into(),
        "-v4".into(),
        "--root".into(),
        d.root.clone().into(),
        // The host has no iptables; nftables needs no tool, only netlink.
        "--network-lock".into(),
        "nftables".into(),
    ];
    if let Some(work) = &opts.work_dir {
        args.push("--work-dir".into());
        args.push(work.into());
    }
    args.extend(flags.criu_args().into_iter().map(OsString::from));
    args.extend(stdio::dump_args(links).into_iter().map(OsString::from));
    args.extend(mounts::dump_args(config, external));
    if opts.leave_running && !opts.pre_dump {
        args.push("--leave-running".into());
    }
    if opts.pre_dump || parent_link.is_some() {
        args.push("--track-mem".into());
    }
    if let Some(link) = parent_link {
        args.push("--prev-images-dir".into());
        args.push(link.into());
    }
    args
}

/// The parent's images as seen from `dir`. CRIU links "parent" in the
/// images to the path as given, and the restore opens that link from inside
/// the container's root, where an absolute path leads nowhere: so it is
/// relative, as runc passes it (and the two dirs can move together).
fn relative_link(dir: &Path, parent: &Path) -> Result<PathBuf> {
    let real = |p: &Path| std::fs::canonicalize(p).ctx(format_args!("resolve {}", p.display()));
    Ok(relative_path(&real(dir)?, &real(parent)?))
}

/// The path from directory `from` to `to` (both absolute and without
/// symlinks or "..").
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path: PathBuf = from[common..]
        .iter()
        .map(|_| Component::ParentDir)
        .collect();
    path.extend(&to[common..]);
    path
}

/// Pre-dumps and dumps on top of one need the kernel's soft-dirty bits;
/// without them CRIU cannot tell what changed, and a "pre-dump" would only
/// be a slower full dump.
fn require_dirty_tracking(criu: &Criu, opts: &CheckpointOptions) -> Result<()> {
    let out = std::process::Command::new(&criu.path)
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .ctx(format_args!("run {} check", criu.path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let key = if opts.pre_dump { "pre_dump" } else { "parent" };
    Err(Error::new(
        ErrorKind::Unsupported,
        format!(
            "{key}: incremental checkpoints need memory dirty tracking, which this kernel ({}) does not offer (criu check --feature mem_dirty_track: {}); make a full checkpoint instead",
            kernel_release(),
            said.trim()
        ),
    ))
}

/// Create `dir` (true) or accept an existing empty one (false); the log
/// of a failed dump in it is no content.
fn prepare_dir(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            if entries.flatten().any(|e| e.file_name() != LOG) {
                return Err(Error::new(
                    ErrorKind::Exists,
                    format!("dir: {} is not empty", dir.display()),
                ));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).ctx(format_args!("dir: create {}", dir.display()))?;
            Ok(true)
        }
        Err(e) => Err(e).ctx(format_args!("dir: read {}", dir.display())),
    }
}

/// After a failed dump: empty the dir again but for CRIU's log, which the
/// error names; a dir we made goes if nothing is left in it.
fn clean_dir(dir: &Path, made: bool) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten().filter(|e| e.file_name() != LOG) {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
    if made {
        // Fails while the log is there.
        let _ = std::fs::remove_dir(dir);
    }
}

pub(super) fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn parent_paths_are_relative_to_the_images() {
        let rel = |from: &str, to: &str| relative_path(Path::new(from), Path::new(to));
        assert_eq!(rel("/ck/final", "/ck/pre"), Path::new("../pre"));
        assert_eq!(rel("/a/b/c", "/a/x"), Path::new("../../x"));
        assert_eq!(rel("/ck/final", "/ck/final/pre"), Path::new("pre"));
    }
}
