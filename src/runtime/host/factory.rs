//! Factory: owns a state root, creates and loads containers.

use crate::runtime::cgroups::CgroupManager;
use crate::runtime::config::{check_args, CheckedProcess};
use crate::runtime::config::{CheckedConfig, Config, NamespaceKind, HOST_NAME_MAX};
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::hooks::{self, OciState};
use crate::runtime::host::container::{Container, Summary};
use crate::runtime::host::exit_code;
use crate::runtime::host::process::Process;
use crate::runtime::host::provision::Provision;
use crate::runtime::host::reaper::Reaper;
use crate::runtime::host::state::StateDir;
use crate::runtime::image::rootfs::{self, RootfsDirs};
use crate::runtime::launch::messages::ToInit;
use crate::runtime::launch::start_socket;
use crate::runtime::launch::{self, Launched, Spawn};
use crate::runtime::launch::{idmap, namespaces};
use crate::runtime::sys::idmap::IdMapping;
use crate::runtime::trace;
use std::borrow::Cow;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The containers of one state root: create, load and list here, restore
/// in criu/restore.rs.
#[derive(Debug, Clone)]
pub struct Factory {
    root: PathBuf,
}

impl Factory {
    /// A factory on `root` (created with mode 0700 if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Factory> {
        let root = root.into();
        if !root.is_absolute() {
            return Err(Error::config(format!(
                "root: '{}' is not an absolute path",
                root.display()
            )));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .ctx(format_args!("create state root {}", root.display()))?;
        // One spelling per root ("/a//b/" is "/a/b"): the default cgroup
        // names derive from it.
        let root = root.components().collect();
        Ok(Factory { root })
    }

    /// /run/ctrsh for root; for anyone else `ctrsh` in their runtime dir
    /// ($XDG_RUNTIME_DIR), or /tmp/ctrsh-<uid> without one.
    pub fn default_root() -> PathBuf {
        let uid = nix::unistd::geteuid();
        if uid.is_root() {
            return PathBuf::from("/run/ctrsh");
        }
        directories::BaseDirs::new()
            .and_then(|d| d.runtime_dir().map(|r| r.join("ctrsh")))
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/ctrsh-{uid}")))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Validates `config`, then sets up the container up to "created".
    pub fn create(&self, id: &str, config: Config) -> Result<Container> {
        self.create_checked(id, config.validate()?)
    }

    /// `create` with a config `validate` has checked.
    pub fn create_checked(&self, id: &str, config: CheckedConfig) -> Result<Container> {
        trace::step("create: begin");
        check_id(id)?;
        namespaces::check_mount_namespace(&config)?;
        if config.joins(NamespaceKind::User).is_some() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "namespaces: joining a \"user\" namespace by path is not supported yet: the \
                 namespaces create makes would belong to the host's user namespace, where the \
                 container has no rights (create a new \"user\" namespace, or none)",
            ));
        }
        if !nix::unistd::geteuid().is_root() && !config.creates(NamespaceKind::User) {
            return Err(Error::config(format!(
                "namespaces: ctrsh runs unprivileged (uid {}): a rootless container needs a new \"user\" namespace with uid_mappings and gid_mappings",
                nix::unistd::geteuid()
            )));
        }
        self.make(id, &config)
            .map_err(|e| e.context(format!("create container '{id}'")))
    }

    /// Every step of the way is recorded first (see Provision): a failure,
    /// or this process's death, leaves what a destroy removes. Cgroups come
    /// first (the init joins them before anything else), then the init.
    fn make(&self, id: &str, config: &CheckedConfig) -> Result<Container> {
        let mut made = Provision::begin(&self.root, id, config)?;
        trace::step("create: state written");
        let addresses = made.lease_networks()?;
        let hostname = hostname(config, id);
        let name_files = made.name_files(&hostname, &addresses)?;
        // An image's rootfs lives in the state dir; the init is told there.
        let (image_rootfs, config) = match &config.image {
            Some(image) => {
                let (plan, dirs, defaults) =
                    made.image_rootfs(image, config.readonly_rootfs, None)?;
                let process = config.process.as_ref().map(|p| {
                    let spec = defaults.apply(&p.spec);
                    check_args(&spec).map(|()| CheckedProcess {
                        spec,
                        capabilities: p.capabilities.clone(),
                    })
                });
                let config = CheckedConfig {
                    rootfs: dirs.rootfs.clone(),
                    process: process.transpose().map_err(|e| e.context("process"))?,
                    ..config.clone()
                };
                (Some((plan, dirs)), Cow::Owned(config))
            }
            None => (None, Cow::Borrowed(config)),
        };
        let config = config.as_ref();
        let cgroup = made.cgroup(config, &self.cgroup_name(id))?;
        trace::step("create: cgroups made");
        // The config's own process gets its stdio here, from the creator
        // (an OCI runtime's caller hands it to `create`).
        let first = config.process.clone().map(Process::from_checked);
        let stdio = first.as_ref().map(Process::open_stdio).transpose()?;
        let listener = start_socket::listen_in(made.dir())?;
        let pid_ns = config
            .joins(NamespaceKind::Pid)
            .map(|p| File::open(p).ctx(format_args!("namespaces: open {}", p.display())))
            .transpose()?;
        let user_ns = config.creates(NamespaceKind::User);
        let cgroup_dir = cgroup.as_ref().map(CgroupManager::open_unified);
        let cgroup_dir = cgroup_dir.transpose()?.flatten();
        let launched: Launched<Arc<Reaper>> = launch::spawn(Spawn {
            clone_flags: namespaces::clone_flags(config),
            pid_ns: pid_ns.as_ref(),
            listener: Some(&listener),
            id_maps: user_ns.then_some((&config.uid_mappings[..], &config.gid_mappings[..])),
            state_root: &self.root,
            cgroup: cgroup_dir.as_ref(),
        })?;
        drop(listener);
        let reaper = launched.init.clone();
        made.init(&reaper)?;
        let mut tree = match image_rootfs {
            Some((plan, dirs)) => Some(image_tree(&plan, &dirs, config, reaper.pid)?),
            None => idmap::rootfs_tree(config, reaper.pid)?,
        };
        // Without a mount namespace the init would attach it in the host's:
        // we do, privately (see root_mount.rs).
        if !config.has(NamespaceKind::Mount) {
            made.root_mount(&config.rootfs, tree.take())?;
        }
        let exit_record = match config.init {
            true => Some(exit_code::open_for_init(made.dir())?),
            false => None,
        };
        let joins = cgroup
            .as_ref()
            .map(|cg| cg.join_files(launched.in_cgroup))
            .transpose()?
            .unwrap_or_default();
        let create = ToInit::Create {
            id: id.to_string(),
            config: Box::new(CheckedConfig {
                hostname: match &config.bundle {
                    // What an OCI bundle's config says, as with runc.
                    Some(_) => config.hostname.clone(),
                    None => config.creates(NamespaceKind::Uts).then_some(hostname),
                },
                ..config.clone()
            }),
            rootfs_tree: tree.is_some(),
            exit_record: exit_record.is_some(),
            name_files,
            cgroup_dirs: cgroup
                .as_ref()
                .map(CgroupManager::mount_dirs)
                .unwrap_or_default(),
            cgroup_files: joins.iter().map(|(file, _)| file.clone()).collect(),
        };
        let stdio_fds = stdio.iter().flat_map(|s| s.fds.iter());
        let fds: Vec<_> = (joins.iter().map(|(_, fd)| fd))
            .chain(tree.iter())
            .chain(exit_record.iter())
            .chain(stdio_fds)
            .map(|f| f.as_fd())
            .collect();
        // The init was cloned into its cgroup2 directory where the kernel
        // could (on a v2 host, all of the placement); it moves itself into
        // the others first thing (see CgroupManager::join_files).
        launched.chan.send(&create, &fds)?;
        drop(joins);
        trace::step("create: config sent to the init");
        made.connect_networks()?;
        let console = launched.chan.await_ready(&reaper, || {
            let state = OciState::of(id, config, "creating", Some(reaper.pid));
            hooks::run("hooks.prestart", &config.hooks.prestart, &state)?;
            hooks::run("hooks.create_runtime", &config.hooks.create_runtime, &state)
        })?;
        trace::step("create: init ready");
        // Until told that the state says "created", the init ends when we
        // do: a create that did not finish is never started.
        let container = made.finish(false, || launched.chan.send(&ToInit::Recorded, &[]))?;
        if let (Some(p), Some(stdio)) = (first, stdio) {
            container.stage(p, stdio, console);
        }
        trace::step("create: done");
        Ok(container)
    }

    /// The cgroup name of a container whose config names none:
    /// `ctrsh-<16 hex digits>-<id>`, the digits a hash (64-bit FNV-1a) of
    /// the factory's root, so that the same id in two factories never shares
    /// a cgroup.
    pub fn cgroup_name(&self, id: &str) -> String {
        format!("{}{id}", Factory::cgroup_prefix(&self.root))
    }

    /// What the cgroup names of the containers of state root `root` start
    /// with (see `cgroup_name`).
    pub fn cgroup_prefix(root: &Path) -> String {
        let hash = root
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
        format!("ctrsh-{hash:016x}-")
    }

    /// A container of this root, also a half-made or half-destroyed one.
    /// Its state is read when something asks for it, not here: a command
    /// that loads a container and acts on it reads state.json once.
    pub fn load(&self, id: &str) -> Result<Container> {
        check_id(id)?;
        let dir = StateDir::open(&self.root, id)?;
        Ok(Container::new(id, None, dir.path, None))
    }

    /// Status, pid, config, rootfs and creation time of container `id`
    /// (what `ctrsh oci state` and `list` show), from one read of
    /// state.json: parsing that file is much of such a command's own work.
    pub fn summary(&self, id: &str) -> Result<Summary> {
        let c = self.load(id)?;
        let state = c.state_dir().read()?;
        c.summary_at(state)
    }

    /// Ids of the containers under the root, sorted (half-made ones too).
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .ctx(format_args!("read {}", self.root.display()))?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| check_id(name).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// An image's rootfs (image/rootfs.rs), for the container whose init is
/// `pid`: idmapped through its user namespace, if it has one.
fn image_tree(
    plan: &rootfs::Plan,
    dirs: &RootfsDirs,
    config: &CheckedConfig,
    pid: i32,
) -> Result<OwnedFd> {
    if !config.creates(NamespaceKind::User) {
        return rootfs::mount(plan, dirs, None);
    }
    let userns = idmap::userns_of(pid)?;
    // Provision::image_rootfs checked that both are mapped.
    let root = |maps| IdMapping::new(maps).to_host(0).unwrap_or(0);
    let idmap = rootfs::Idmap {
        userns: userns.as_fd(),
        root: (root(&config.uid_mappings), root(&config.gid_mappings)),
    };
    rootfs::mount(plan, dirs, Some(idmap))
}

/// Put the init in its cgroups and tell it so. When the init has failed
/// meanwhile, its own report (read next, or here) is the better error.
/// The name of container `id`: the config's hostname, or its id (as docker
/// names a container); the init sets it when the container has a uts
/// namespace of its own.
pub(crate) fn hostname(config: &CheckedConfig, id: &str) -> String {
    match &config.hostname {
        Some(name) => name.clone(),
        None => id.chars().take(HOST_NAME_MAX).collect(),
    }
}

/// Ids name directories: letters, digits, '-', '_', '.', not starting with '.'.
pub(crate) fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "id: '{id}' is not a valid container id (letters, digits, '-', '_', '.'; 1-128 characters; not starting with '.')"
        )))
    }
}
