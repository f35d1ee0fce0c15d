//! Factory: owns a state root, creates and loads containers.

use super::cgroups::CgroupManager;
use super::config::{Config, NamespaceKind};
use super::container::{Container, START_SOCKET};
use super::error::{Context, Error, Result};
use super::launch::{self, Spawn};
use super::messages::ToInit;
use super::namespaces;
use super::reaper::Reaper;
use super::state::{State, StateDir};
use super::sys;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
            .ctx(format!("create state root {}", root.display()))?;
        Ok(Factory { root })
    }

    /// /run/ctrsh for root.
    pub fn default_root() -> PathBuf {
        PathBuf::from("/run/ctrsh")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Validates `config`, then sets up the container up to "created".
    pub fn create(&self, id: &str, config: Config) -> Result<Container> {
        check_id(id)?;
        config.validate()?;
        if !namespaces::creates(&config, NamespaceKind::Mount) {
            return Err(Error::config(
                "namespaces: a new \"mount\" namespace is required (the rootfs is built in it)",
            ));
        }
        let dir = StateDir::create(&self.root, id)?;
        let cgroup = config.cgroups.clone().unwrap_or_default();
        let result = CgroupManager::create(&cgroup, id).and_then(|cg| {
            let made = cg
                .apply(&cgroup)
                .and_then(|()| self.create_in(&dir, id, &config, &cg));
            if made.is_err() {
                let _ = cg.kill_all();
                let _ = cg.destroy();
            }
            made
        });
        if result.is_err() {
            let _ = dir.remove();
        }
        result.map_err(|e| e.context(format!("create container '{id}'")))
    }

    fn create_in(
        &self,
        dir: &StateDir,
        id: &str,
        config: &Config,
        cgroup: &CgroupManager,
    ) -> Result<Container> {
        let listener = listen_start_socket(&dir.path)?;
        let pid_ns = config
            .namespaces
            .iter()
            .find(|n| n.kind == NamespaceKind::Pid)
            .and_then(|n| n.path.as_ref())
            .map(|p| File::open(p).ctx(format!("namespaces: open {}", p.display())))
            .transpose()?;
        let user_ns = namespaces::creates(config, NamespaceKind::User);
        let launched = launch::spawn(Spawn {
            clone_flags: namespaces::clone_flags(config),
            pid_ns: pid_ns.as_ref(),
            listener: Some(&listener),
            id_maps: user_ns.then_some((&config.uid_mappings[..], &config.gid_mappings[..])),
        })?;
        drop(listener);
        let reaper = launched.reaper.clone();
        let create = ToInit::Create {
            id: id.to_string(),
            config: config.clone(),
        };
        // The init joins the cgroups before it does anything else.
        let ready = cgroup
            .add_process(reaper.pid)
            .and_then(|()| launched.chan.send(&create, &[]))
            .and_then(|()| launch::expect_ready(&launched.chan, &reaper))
            .and_then(|()| write_state(dir, id, config, &reaper, cgroup));
        if let Err(e) = ready {
            let _ = reaper.signal(libc::SIGKILL);
            let _ = reaper.wait();
            return Err(e);
        }
        Ok(Container::new(
            id,
            config.clone(),
            dir.path.clone(),
            Some(reaper),
        ))
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        check_id(id)?;
        let dir = StateDir::open(&self.root, id)?;
        let state = dir.read()?;
        Ok(Container::new(id, state.config, dir.path, None))
    }

    /// Ids of the containers under the root, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .ctx(format!("read {}", self.root.display()))?
            .flatten()
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn write_state(
    dir: &StateDir,
    id: &str,
    config: &Config,
    init: &Arc<Reaper>,
    cgroup: &CgroupManager,
) -> Result<()> {
    let (start, _) = sys::proc_start_time(init.pid)
        .ok_or_else(|| Error::state("the container init vanished during create"))?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    dir.write(&State {
        id: id.to_string(),
        init_pid: init.pid,
        init_start_time: start,
        started: false,
        created,
        config: config.clone(),
        cgroup: Some(cgroup.clone()),
        oom_kills_seen: 0,
    })
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

/// The socket the init waits for "start" on, bound in the state dir (via
/// /proc/self/fd so a long root cannot overflow sun_path).
fn listen_start_socket(dir: &Path) -> Result<OwnedFd> {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
    };
    let dirfd = File::open(dir).ctx(format!("open {}", dir.display()))?;
    let path = format!("/proc/self/fd/{}/{START_SOCKET}", dirfd.as_raw_fd());
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx("socket for start")?;
    let addr = UnixAddr::new(path.as_str()).ctx("start socket address")?;
    bind(sock.as_raw_fd(), &addr).ctx(format!("bind {}", dir.join(START_SOCKET).display()))?;
    listen(&sock, Backlog::new(4).expect("valid backlog")).ctx("listen on the start socket")?;
    Ok(sock)
}
