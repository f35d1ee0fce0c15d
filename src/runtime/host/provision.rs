//! Making a container (create, restore) so that it can stop at any moment
//! and leave nothing a destroy cannot find: the state dir and a "creating"
//! state come first, and everything made after is recorded there before it
//! is made (cgroup directories) or as soon as it exists (the init). If the
//! making fails, the guard destroys what was made when it is dropped; if
//! the ctrsh process making it dies, a destroy by any other one does.

use crate::runtime::cgroups::CgroupManager;
use crate::runtime::config::{CheckedConfig, CheckedNetwork, NamespaceKind};
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::host::container::{self, Container};
use crate::runtime::host::exit_code;
use crate::runtime::host::reaper::Reaper;
use crate::runtime::host::root_mount::RootMount;
use crate::runtime::host::state::{self, Lock, State, StateDir};
use crate::runtime::image::rootfs::{self, RootfsDirs};
use crate::runtime::image::{ContainerImage, Defaults, Store};
use crate::runtime::network::{self, pasta, Networks};
use crate::runtime::sys;
use crate::runtime::sys::idmap::IdMapping;
use crate::runtime::sys::proc::Proc;
use ipnet::IpNet;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A container being made; destroys what it recorded when dropped before
/// `finish`.
pub(crate) struct Provision {
    dir: StateDir,
    state: State,
    /// Our child, once it exists: the guard must reap it.
    init: Option<Arc<Reaper>>,
    /// Held until the container is made: a destroy from another process
    /// waits rather than tear down half of it.
    _lock: Lock,
    armed: bool,
}

impl Provision {
    /// The container's directory, locked, with a "creating" state.
    pub fn begin(root: &Path, id: &str, config: &CheckedConfig) -> Result<Provision> {
        let dir = StateDir::create(root, id)?;
        let state = State {
            id: id.to_string(),
            init_pid: 0,
            init_start_time: 0,
            creating: true,
            started: false,
            created: state::now(),
            config: config.clone(),
            cgroup: None,
            oom_kills_seen: 0,
            networks: vec![],
            image: None,
            root_mount: None,
        };
        let lock = Lock::acquire(&dir.path).and_then(|lock| dir.write(&state).map(|()| lock));
        match lock {
            Ok(lock) => Ok(Provision {
                dir,
                state,
                init: None,
                _lock: lock,
                armed: true,
            }),
            Err(e) => {
                let _ = dir.remove();
                Err(e)
            }
        }
    }

    /// The container's state dir.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// The container's cgroup (see `CgroupManager::create`), recorded
    /// before each directory is made, with the config's limits and device
    /// rules. Unprivileged users get none unless the config asks for one
    /// (which then has to be a cgroup delegated to them).
    pub fn cgroup(
        &mut self,
        config: &CheckedConfig,
        default_name: &str,
    ) -> Result<Option<CgroupManager>> {
        let rootless = !nix::unistd::geteuid().is_root();
        if rootless && config.given.cgroups.is_none() {
            return Ok(None);
        }
        let cfg = &config.cgroups;
        let (dir, state) = (&self.dir, &mut self.state);
        let cg = CgroupManager::create(cfg, default_name, &mut |cg| {
            state.cgroup = Some(cg.clone());
            dir.write(state)
        })
        .map_err(|e| match rootless {
            true => {
                e.context("cgroups: an unprivileged user can only use a cgroup delegated to them")
            }
            false => e,
        })?;
        // Written with the next record of the state (the init's).
        self.state.cgroup = Some(cg.clone());
        cg.apply(cfg)?;
        Ok(Some(cg))
    }

    /// The root filesystem of image `name` (see image/rootfs.rs), planned:
    /// the image is recorded here, then its use in the store. Returns the
    /// plan, where it goes in the state dir (`rootfs::mount` makes it there
    /// once the container's user namespace, if it has one, exists), and
    /// the image's process defaults. A restore names the image by the
    /// digest it was checkpointed with, and gives the upper dir the
    /// checkpoint saved (see criu/upper.rs): a copy of it is the new one.
    pub fn image_rootfs(
        &mut self,
        name: &str,
        readonly: bool,
        saved_upper: Option<&Path>,
    ) -> Result<(rootfs::Plan, RootfsDirs, Defaults)> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "image: containers from images need root (the store's layers keep their \
                 owners, and only root mounts them idmapped); an unprivileged user gives a \
                 rootfs directory",
            ));
        }
        let store = Store::open(Store::default_root())?;
        let image = store.image(name)?;
        let defaults = Defaults::of(&image.config);
        self.state.image = Some(ContainerImage {
            store: store.root().to_path_buf(),
            name: image.name.clone(),
            digest: image.digest.to_string(),
            defaults: defaults.clone(),
        });
        self.dir.write(&self.state)?;
        store.use_image(&image, &self.dir.path)?;
        let dirs = RootfsDirs::in_state_dir(&self.dir.path);
        let plan = rootfs::plan(&image.layer_dirs(&store), &dirs, !readonly)?;
        if let Some(saved) = saved_upper {
            sys::tree::copy(saved, &dirs.upper)?;
        }
        if self.state.config.creates(NamespaceKind::User) {
            let Some((_, gid)) = self.userns_root() else {
                return Err(Error::config(
                    "image: the user namespace must map the container's uid and gid 0 \
                     (uid_mappings, gid_mappings): the container's root owns its root filesystem",
                ));
            };
            self.open_to_userns_root(gid)?;
        }
        Ok((plan, dirs, defaults))
    }

    /// The host uid and gid of the root of a user namespace that root
    /// makes (None when the mappings leave 0 out, or when root makes none:
    /// an unprivileged user's container root is that user).
    fn userns_root(&self) -> Option<(u32, u32)> {
        let config = &self.state.config;
        if !config.creates(NamespaceKind::User) || !nix::unistd::geteuid().is_root() {
            return None;
        }
        Some((
            IdMapping::new(&config.uid_mappings).to_host(0)?,
            IdMapping::new(&config.gid_mappings).to_host(0)?,
        ))
    }

    /// The init of a container with a user namespace reaches what it
    /// attaches from the state dir by path (an image's rootfs, the name
    /// files): the state root lets everyone through (0711, as containerd
    /// has its bundle dirs) and the state dir the group `gid`, the
    /// container root's (0710), and no more.
    fn open_to_userns_root(&self, gid: u32) -> Result<()> {
        let root = self.dir.path.parent().expect("a state dir is in its root");
        let mode = fs::metadata(root)
            .ctx(format_args!("stat {}", root.display()))?
            .mode();
        if mode & 0o011 != 0o011 {
            fs::set_permissions(root, fs::Permissions::from_mode(mode & 0o7777 | 0o011))
                .ctx(format_args!("chmod {} o+x", root.display()))?;
        }
        let dir = &self.dir.path;
        std::os::unix::fs::chown(dir, None, Some(gid))
            .ctx(format_args!("chgrp {} to {gid}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o710))
            .ctx(format_args!("chmod {} 0710", dir.display()))
    }

    /// The init, recorded as soon as it exists.
    pub fn init(&mut self, init: &Arc<Reaper>) -> Result<()> {
        init.record_exit_in(self.dir.path.join(exit_code::FILE));
        self.init = Some(init.clone());
        let stat = Proc::host()
            .stat(init.pid)
            .ok_or_else(|| Error::state("the container init vanished during create"))?;
        self.state.init_pid = init.pid;
        self.state.init_start_time = stat.start_time;
        self.dir.write(&self.state)
    }

    /// For a container without a mount namespace: its rootfs (`tree`, or a
    /// copy of the mounts at `rootfs`) attached on the host, recorded first.
    pub fn root_mount(&mut self, rootfs: &Path, tree: Option<OwnedFd>) -> Result<()> {
        RootMount::attach(rootfs, tree, |mount| {
            self.state.root_mount = Some(mount.clone());
            self.dir.write(&self.state)
        })
    }

    /// What the container's `networks` need before its init starts: the
    /// lease on its bridge network, recorded first. Returns the addresses
    /// of its eth0 (none for pasta, whose address is the host's).
    pub fn lease_networks(&mut self) -> Result<Vec<IpNet>> {
        let id = self.state.id.clone();
        let networks = self.state.config.networks.clone();
        let ports = !self.state.config.ports.is_empty();
        let root = self.dir.path.parent().expect("a state dir is in its root");
        let rootless = !nix::unistd::geteuid().is_root();
        let mut addresses = vec![];
        for net in &networks {
            match net {
                CheckedNetwork::Bridge(_) if rootless => {
                    return Err(Error::config(
                        "networks: a \"bridge\" network needs root; an unprivileged user gets one from \"pasta\"",
                    ))
                }
                CheckedNetwork::Bridge(request) => {
                    let (dir, state) = (&self.dir, &mut self.state);
                    let attachment = Networks::new(root).join(request, &id, ports, |a| {
                        state.networks.push(a.clone());
                        dir.write(state)
                    })?;
                    addresses = attachment.addresses;
                }
                // pasta started by root drops to nobody, who could not
                // write its pid file into the state dir.
                CheckedNetwork::Pasta if !rootless => {
                    return Err(Error::config(
                        "networks: a \"pasta\" network is for unprivileged users; root uses \"bridge\"",
                    ))
                }
                CheckedNetwork::Pasta | CheckedNetwork::Loopback => {}
            }
        }
        Ok(addresses)
    }

    /// The container's /etc/hostname (named `hostname`), /etc/hosts (naming
    /// it on `addresses`) and /etc/resolv.conf, written into its state dir
    /// for the init to bind-mount, as runc's engines do: each where the
    /// container has the namespace it describes (see `name_files`), and
    /// none where the config mounts a file of its own, nor for an OCI
    /// bundle's container (which gets what its config says, as with runc).
    /// A user namespace that root makes has its root own them (to write
    /// them, as root does elsewhere) and reach them in the state dir; one
    /// whose mappings leave 0 out gets none. Returns each file and where it
    /// goes.
    pub fn name_files(
        &self,
        hostname: &str,
        addresses: &[IpNet],
    ) -> Result<Vec<(PathBuf, PathBuf)>> {
        let config = &self.state.config;
        let root_made_user_ns =
            config.creates(NamespaceKind::User) && nix::unistd::geteuid().is_root();
        let userns_root = self.userns_root();
        if config.bundle.is_some() || (root_made_user_ns && userns_root.is_none()) {
            return Ok(vec![]);
        }
        if let Some((_, gid)) = userns_root {
            self.open_to_userns_root(gid)?;
        }
        let names = [hostname, &self.state.id];
        let uts = config.creates(NamespaceKind::Uts).then_some(hostname);
        let net = config
            .creates(NamespaceKind::Net)
            .then_some((&names[..], addresses));
        let own = |destination: &str| {
            config
                .mounts
                .iter()
                .any(|m| m.destination == Path::new(destination))
        };
        network::name_files(uts, net)?
            .into_iter()
            .filter(|((_, destination), _)| !own(destination))
            .map(|((name, destination), text)| {
                let file = self.dir.path.join(name);
                std::fs::write(&file, text).ctx(format_args!("write {}", file.display()))?;
                if let Some((uid, gid)) = userns_root {
                    std::os::unix::fs::chown(&file, Some(uid), Some(gid))
                        .ctx(format_args!("chown {}", file.display()))?;
                }
                Ok((file, destination.into()))
            })
            .collect()
    }

    /// eth0 in the network namespace of the init (made by `init`): the veth
    /// of its bridge network's lease, or pasta; and its ports forwarded.
    pub fn connect_networks(&self) -> Result<()> {
        let Some(init) = &self.init else {
            return Err(Error::state("the container init is not there to connect"));
        };
        // Only when there is something to connect: an init that failed
        // early is gone, and its own report says why.
        if !self.state.networks.is_empty() {
            let netns = format!("/proc/{}/ns/net", init.pid);
            let netns = std::fs::File::open(&netns).ctx(format_args!("open {netns}"))?;
            self.connect_bridges(netns.as_fd(), true)?;
        }
        let config = &self.state.config;
        if config.networks.contains(&CheckedNetwork::Pasta) {
            pasta::start(init.pid, &config.ports, &self.dir.path)?;
        }
        Ok(())
    }

    /// eth0 in the network namespace `netns`: the veth of the container's
    /// bridge network lease, with its ports forwarded; without traffic
    /// until `open_bridges` unless `open`. A restore connects the
    /// namespace it makes for CRIU so, and opens it once CRIU is done.
    pub fn connect_bridges(&self, netns: BorrowedFd, open: bool) -> Result<()> {
        let root = self.dir.path.parent().expect("a state dir is in its root");
        let ports = &self.state.config.ports;
        for attachment in &self.state.networks {
            let networks = Networks::new(root);
            match open {
                true => networks.connect(attachment, netns, ports)?,
                false => networks.connect_closed(attachment, netns, ports)?,
            }
        }
        Ok(())
    }

    /// Traffic to the eth0 that `connect_bridges` made without `open`.
    pub fn open_bridges(&self) -> Result<()> {
        let root = self.dir.path.parent().expect("a state dir is in its root");
        for attachment in &self.state.networks {
            Networks::new(root).open(attachment)?;
        }
        Ok(())
    }

    /// Everything is made: record that (`started` for a restored container,
    /// which runs already), then `confirm` it to the init, and stand down.
    pub fn finish(
        mut self,
        started: bool,
        confirm: impl FnOnce() -> Result<()>,
    ) -> Result<Container> {
        self.state.creating = false;
        self.state.started = started;
        self.dir.write(&self.state)?;
        confirm()?;
        self.armed = false;
        Ok(Container::new(
            &self.state.id,
            Some(self.state.config.given.clone()),
            self.dir.path.clone(),
            self.init.clone(),
        ))
    }
}

impl Drop for Provision {
    fn drop(&mut self) {
        if self.armed {
            // The error that stopped the making is the one to report.
            let _ = container::remove_all(&self.dir, &self.state, self.init.clone());
        }
    }
}
