//! Container: the state machine and its operations.

use crate::runtime::cgroups::{CgroupManager, Stats as CgroupStats};
use crate::runtime::config::{check_args, CheckedProcess, ProcessSpec, Stdio, DEFAULT_PATH};
use crate::runtime::config::{Cgroups, CheckedCgroups, CheckedNetwork, Config, NamespaceKind};
use crate::runtime::error::{warn, Context, Error, ErrorKind, Result};
use crate::runtime::hooks::{self, OciState};
use crate::runtime::host::exit_code;
use crate::runtime::host::netstats::{self, InterfaceStats};
use crate::runtime::host::process::{parse_signal, Process, StdioFds};
use crate::runtime::host::reaper::Reaper;
use crate::runtime::host::state::{Lock, State, StateDir};
use crate::runtime::image::commit::{self, Owners};
use crate::runtime::image::rootfs::RootfsDirs;
use crate::runtime::image::{Digest, Image, Progress, Store};
use crate::runtime::launch::messages::ToInit;
use crate::runtime::launch::namespaces::JOIN_ORDER;
use crate::runtime::launch::start_socket;
use crate::runtime::launch::{self, Launched, Spawn};
use crate::runtime::network::{pasta, Networks};
use crate::runtime::suggest;
use crate::runtime::sys;
use crate::runtime::sys::idmap::IdMapping;
use crate::runtime::sys::proc::Proc;
use crate::runtime::trace;
use serde::Serialize;
use std::fmt;
use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Create (or restore) has not finished: it is under way, or the ctrsh
    /// process running it died. `destroy` removes what it made.
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
    /// Its state dir is gone: destroyed, by this or another ctrsh process.
    Destroyed,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
            Status::Destroyed => "destroyed",
        })
    }
}

/// What `Container::update` changes: the keys of `cgroups` with their new
/// values.
pub type Patch = serde_json::Map<String, serde_json::Value>;

/// What `Container::exec` returns: the exit code and the output as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What `Factory::summary` returns.
#[derive(Debug)]
pub struct Summary {
    pub status: Status,
    /// Host pid of the init; None once stopped.
    pub pid: Option<i32>,
    pub config: Config,
    pub rootfs: PathBuf,
    /// Seconds since the epoch; None once destroyed.
    pub created: Option<u64>,
}

/// A container of a factory's state root. Its methods are here, files in
/// and out in host/files.rs, and checkpoint in criu/dump.rs.
#[derive(Debug)]
pub struct Container {
    id: String,
    /// The config given at create, or for a loaded container the one
    /// state.json had when something first read it: what `config()` gives
    /// once the state is gone. Loading reads nothing, so that a command
    /// that loads a container and then acts on it parses state.json once.
    config: OnceLock<Config>,
    dir: PathBuf,
    /// The init while it may be alive: ours to wait for if we created it.
    init: Mutex<Option<Arc<Reaper>>>,
    /// The config's `process` until it starts, when we created the
    /// container: its stdio captures and pty master live here.
    first: Mutex<Option<Staged>>,
}

#[derive(Debug)]
struct Staged {
    process: Process,
    stdio: StdioFds,
    console: Option<OwnedFd>,
}

/// The first process a start hands the init.
enum First {
    /// One given to start: its stdio is opened and sent now.
    Given,
    /// The config's, whose stdio the init got at create: here its captures
    /// and pty master (none when another ctrsh process created it).
    Configured(StdioFds, Option<OwnedFd>),
}

impl Container {
    /// Container `id` in state dir `dir`; `config` is None for one loaded
    /// from its state dir.
    pub(crate) fn new(
        id: &str,
        config: Option<Config>,
        dir: PathBuf,
        init: Option<Arc<Reaper>>,
    ) -> Self {
        Container {
            id: id.to_string(),
            config: config.map(OnceLock::from).unwrap_or_default(),
            dir,
            init: Mutex::new(init),
            first: Mutex::new(None),
        }
    }

    /// Keep the config's process, whose stdio the init holds, until start.
    pub(crate) fn stage(&self, process: Process, stdio: StdioFds, console: Option<OwnedFd>) {
        *self.first.lock().unwrap() = Some(Staged {
            process,
            stdio,
            console,
        });
    }

    /// The pty master of the config's process (with `terminal`), made at
    /// create; for someone else to hold (an OCI console socket). Only in
    /// the ctrsh process that created the container, once.
    pub fn take_console(&self) -> Option<OwnedFd> {
        self.first
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|s| s.console.take())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The config as state.json has it now (`update` changes its cgroups).
    pub fn config(&self) -> Config {
        self.config_of(self.read_state().ok().flatten().as_ref())
    }

    fn config_of(&self, state: Option<&State>) -> Config {
        state.map_or_else(
            || self.config.get().cloned().unwrap_or_default(),
            |s| s.config.given.clone(),
        )
    }

    /// The container's state dir.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The container's lock.
    pub(crate) fn lock(&self) -> Result<Lock> {
        if !self.dir.exists() {
            return Err(self.not_runnable(Status::Destroyed));
        }
        Lock::acquire(&self.dir)
    }

    pub(crate) fn state_dir(&self) -> StateDir {
        StateDir {
            path: self.dir.clone(),
        }
    }

    /// The root filesystem the container runs in: its config's `rootfs`,
    /// or for a container made from an image, the overlay's mount point in
    /// its state dir.
    pub fn rootfs(&self) -> PathBuf {
        self.rootfs_of(self.read_state().ok().flatten().as_ref())
    }

    fn rootfs_of(&self, state: Option<&State>) -> PathBuf {
        match state {
            Some(state) if state.image.is_some() => RootfsDirs::in_state_dir(self.dir()).rootfs,
            Some(state) => state.config.rootfs.clone(),
            None => self
                .config
                .get()
                .map(|c| c.rootfs.clone())
                .unwrap_or_default(),
        }
    }

    fn read_state(&self) -> Result<Option<State>> {
        let state = self.state_dir().read()?;
        if let Some(state) = &state {
            self.config.get_or_init(|| state.config.given.clone());
        }
        Ok(state)
    }

    /// The init, if it is still the process state.json names.
    fn live_init(&self, state: &State) -> Option<Arc<Reaper>> {
        if state.init_pid == 0 {
            return None;
        }
        match Proc::host().stat(state.init_pid) {
            Some(s) if s.start_time == state.init_start_time && !s.is_dead() => {}
            _ => return None,
        }
        let mut init = self.init.lock().unwrap();
        if init.is_none() {
            *init = Reaper::attach(state.init_pid).ok();
        }
        init.clone().filter(|r| !r.exited())
    }

    /// Read fresh from the kernel and state.json each time.
    pub fn status(&self) -> Result<Status> {
        self.look().map(|(status, _, _)| status)
    }

    /// The status, the state it was read from (none once destroyed, or
    /// without a state file) and the init while it lives.
    fn look(&self) -> Result<(Status, Option<State>, Option<Arc<Reaper>>)> {
        if !self.dir.exists() {
            return Ok((Status::Destroyed, None, None));
        }
        self.look_at(self.read_state()?)
    }

    /// `look` with the state already read (none: its file is missing).
    fn look_at(
        &self,
        state: Option<State>,
    ) -> Result<(Status, Option<State>, Option<Arc<Reaper>>)> {
        let Some(state) = state else {
            return Ok((Status::Stopped, None, None));
        };
        let init = self.live_init(&state);
        let status = match &init {
            _ if state.creating => Status::Creating,
            None => Status::Stopped,
            Some(_) => live_status(&state)?,
        };
        Ok((status, Some(state), init))
    }

    /// Status, pid, config, rootfs and creation time (what `ctrsh oci
    /// state` and `list` show), each as its own method gives it, from
    /// `state`, read once (Factory::summary).
    pub(crate) fn summary_at(&self, state: Option<State>) -> Result<Summary> {
        let (status, state, init) = self.look_at(state)?;
        let state = state.as_ref();
        Ok(Summary {
            status,
            pid: init.map(|r| r.pid),
            config: self.config_of(state),
            rootfs: self.rootfs_of(state),
            created: state.map(|s| s.created),
        })
    }

    /// When it was created, in seconds since the epoch (None once destroyed).
    pub fn created(&self) -> Option<u64> {
        self.read_state().ok().flatten().map(|s| s.created)
    }

    /// Host pid of the container's init; None once stopped.
    pub fn pid(&self) -> Option<i32> {
        let state = self.read_state().ok()??;
        self.live_init(&state).map(|r| r.pid)
    }

    /// The addresses of its bridge network (IPv4 first); none for other
    /// networks, and once destroyed.
    pub fn ips(&self) -> Vec<std::net::IpAddr> {
        let state = self.read_state().ok().flatten();
        let networks = state.map(|s| s.networks).unwrap_or_default();
        networks
            .iter()
            .flat_map(|n| n.addresses.iter().map(|a| a.addr()))
            .collect()
    }

    /// The state and the init of a container that is made and has not
    /// stopped.
    pub(crate) fn state_and_init(&self) -> Result<(State, Arc<Reaper>)> {
        let stopped = || self.not_runnable(Status::Stopped);
        let state = self.read_state()?.ok_or_else(|| {
            self.not_runnable(match self.dir.exists() {
                true => Status::Stopped,
                false => Status::Destroyed,
            })
        })?;
        if state.creating {
            return Err(self.not_runnable(Status::Creating));
        }
        let init = self.live_init(&state).ok_or_else(stopped)?;
        Ok((state, init))
    }

    /// "container 'x' is paused", and what to do about it.
    fn not_runnable(&self, status: Status) -> Error {
        let what_to_do = match status {
            Status::Creating => {
                "its create is under way, or the ctrsh process making it died (then destroy it)"
            }
            Status::Created => "start it first (c.start(p))",
            Status::Paused => "resume it first (c.resume())",
            Status::Stopped => {
                "its processes have ended; destroy it, and create it anew to run it again"
            }
            Status::Destroyed => "it is gone; create it anew",
            Status::Running => "wait for it, or stop it first",
        };
        Error::state(format!("container '{}' is {status}: {what_to_do}", self.id))
    }

    /// Runs `p` as the container's first process (created -> running), or
    /// joins a running container's namespaces (and cgroups).
    pub fn start(&self, p: &mut Process) -> Result<()> {
        trace::step("start: begin");
        self.start_or_join(p, true)
    }

    /// Runs `p` in the running container, joining its namespaces (and
    /// cgroups): what `start` does once the container is running, and an
    /// error where `start` would start a created container.
    pub fn join(&self, p: &mut Process) -> Result<()> {
        self.start_or_join(p, false)
    }

    fn start_or_join(&self, p: &mut Process, may_start: bool) -> Result<()> {
        if p.is_started() {
            return Err(Error::state(
                "this process has already been started; make a new one",
            ));
        }
        let _lock = self.lock()?;
        let (state, init) = self.state_and_init()?;
        if is_frozen(&state)? {
            return Err(self.not_runnable(Status::Paused));
        }
        match (state.started, may_start) {
            (false, true) => self.start_first(state, init, p, First::Given),
            (false, false) => Err(self.not_runnable(Status::Created)),
            (true, _) => self
                .join_running(&state, p)
                .map_err(|e| e.context(format!("exec in container '{}'", self.id))),
        }
    }

    /// Runs the config's `process` (created -> running); its handle, which
    /// can be waited for in the ctrsh process that created the container.
    pub fn start_configured(&self) -> Result<Process> {
        trace::step("start: begin");
        let _lock = self.lock()?;
        let (state, init) = self.state_and_init()?;
        let status = live_status(&state)?;
        if status != Status::Created {
            return Err(self
                .not_runnable(status)
                .context(format!("start container '{}'", self.id)));
        }
        let process = state.config.process.clone().ok_or_else(|| {
            Error::config(format!(
                "start container '{}': its config has no process; start it with a process",
                self.id
            ))
        })?;
        let staged = self.first.lock().unwrap().take();
        let (mut p, first) = match staged {
            Some(s) => (s.process, First::Configured(s.stdio, s.console)),
            None => (
                Process::from_checked(process),
                First::Configured(StdioFds::none(), None),
            ),
        };
        self.start_first(state, init, &mut p, first)?;
        Ok(p)
    }

    /// Start the first process `p`; a failed start leaves nothing behind.
    fn start_first(
        &self,
        state: State,
        init: Arc<Reaper>,
        p: &mut Process,
        first: First,
    ) -> Result<()> {
        let result = self.start_init(state, init, p, first);
        if result.is_err() {
            let _ = self.teardown();
        }
        result.map_err(|e| e.context(format!("start container '{}'", self.id)))
    }

    /// Hand the waiting init its process and stdio (or tell it to run the
    /// config's); EOF means it exec'd.
    fn start_init(
        &self,
        mut state: State,
        init: Arc<Reaper>,
        p: &mut Process,
        first: First,
    ) -> Result<()> {
        let conn = start_socket::connect_in(&self.dir)?;
        let (stdio, console) = match first {
            First::Given => {
                let stdio = p.open_stdio()?;
                let fds: Vec<_> = stdio.fds.iter().map(|f| f.as_fd()).collect();
                let process = Some(Box::new(process_for(&state, p)?));
                conn.send(&ToInit::Start { process }, &fds)?;
                (stdio, None)
            }
            First::Configured(stdio, console) => {
                conn.send(&ToInit::Start { process: None }, &[])?;
                (stdio, console)
            }
        };
        trace::step("start: process sent to the init");
        let execed = conn.await_exec()?;
        trace::step("start: the init exec'd");
        if let Some(e) = execed.failed {
            return Err(e);
        }
        let _ = std::fs::remove_file(self.dir.join(start_socket::NAME));
        state.started = true;
        self.state_dir().write(&state)?;
        let pid = init.pid;
        p.started(init, stdio, execed.console.or(console));
        let running = OciState::of(&self.id, &state.config, "running", Some(pid));
        for e in hooks::run_all("hooks.poststart", &state.config.hooks.poststart, &running) {
            warn(&e.message);
        }
        trace::step("start: done");
        Ok(())
    }

    /// A new process in the running container: an init that joins the
    /// container's namespaces (pid last, see init/join.rs) and cgroups.
    fn join_running(&self, state: &State, p: &mut Process) -> Result<()> {
        trace::step("exec: begin");
        let pid = state.init_pid;
        let has = |kind| state.config.has(kind);
        let order = JOIN_ORDER.into_iter().filter(|k| *k != NamespaceKind::Pid);
        let kinds: Vec<NamespaceKind> = order
            .chain(std::iter::once(NamespaceKind::Pid))
            .filter(|k| has(*k))
            .collect();
        let ns_fds = kinds
            .iter()
            .map(|kind| {
                let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
                File::open(&path)
                    .map(OwnedFd::from)
                    .ctx(format_args!("open {path}"))
            })
            .collect::<Result<Vec<_>>>()?;
        // Without a mount namespace to join, the init's root is entered by
        // chroot (init/join.rs).
        let root = (!has(NamespaceKind::Mount))
            .then(|| {
                let path = format!("/proc/{pid}/root");
                rustix::fs::open(
                    &path,
                    rustix::fs::OFlags::PATH
                        | rustix::fs::OFlags::DIRECTORY
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ctx(format_args!("open {path}"))
            })
            .transpose()?;
        let stdio = p.open_stdio()?;
        launch::become_subreaper()?;
        let cgroup_dir = state.cgroup.as_ref().map(CgroupManager::open_unified);
        let cgroup_dir = cgroup_dir.transpose()?.flatten();
        let launched: Launched<Arc<Reaper>> = launch::spawn(Spawn {
            clone_flags: 0,
            pid_ns: None,
            listener: None,
            id_maps: None,
            state_root: self.dir.parent().unwrap_or(&self.dir),
            cgroup: cgroup_dir.as_ref(),
        })?;
        let execed = exec_message(state, p, kinds, launched.in_cgroup).and_then(|(msg, joins)| {
            let fds: Vec<_> = (joins.iter().map(|(_, fd)| fd))
                .chain(stdio.fds.iter())
                .chain(ns_fds.iter())
                .chain(root.iter())
                .map(|f| f.as_fd())
                .collect();
            launched.chan.send(&msg, &fds)?;
            trace::step("exec: sent to the init");
            launched.chan.await_exec()
        });
        trace::step("exec: the init exec'd");
        let execed = match execed {
            Ok(execed) => execed,
            Err(e) => {
                launched.init.kill_and_reap();
                return Err(e);
            }
        };
        // With a pid namespace the init forked the process and exited:
        // reaping the init makes its child ours (we are a subreaper).
        let reaper = match execed.pid {
            Some(child) => {
                let _ = launched.init.wait_uninterrupted();
                let fd = sys::pidfd_open(child).ctx(format_args!("pidfd_open {child}"))?;
                Reaper::child(child, fd)
            }
            None => launched.init,
        };
        if let Some(e) = execed.failed {
            // It exits after reporting; a zombie in the container's pid
            // namespace would keep the namespace's init from ever exiting.
            let _ = reaper.wait_uninterrupted();
            return Err(e);
        }
        p.started(reaper, stdio, execed.console);
        trace::step("exec: done");
        Ok(())
    }

    /// Waits for the container's first process to exit; its exit code
    /// (128+N when killed by signal N), also from a ctrsh process that
    /// did not create it (see exit_code.rs) and once it has stopped.
    pub fn wait(&self) -> Result<i32> {
        let what = || format!("wait for container '{}'", self.id);
        let known = self.init.lock().unwrap().clone();
        let init = match known {
            Some(init) => Some(init),
            None => match self.state_and_init() {
                Ok((_, init)) => Some(init),
                Err(_) if self.status()? == Status::Stopped => None,
                Err(e) => return Err(e.context(what())),
            },
        };
        if let Some(init) = init {
            match init.wait() {
                Err(e) if e.kind == ErrorKind::Unsupported => {}
                other => return other.map_err(|e| e.context(what())),
            }
        }
        self.exit_code().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: it has stopped, but its exit code went to the ctrsh process that \
                     created it, which ended first (the \"init\" config option keeps it)",
                    what()
                ),
            )
        })
    }

    /// How the first process ended: its exit code (128+N when signal N
    /// ended it); None while it runs, or when nobody kept it.
    pub fn exit_code(&self) -> Option<i32> {
        exit_code::read(&self.dir)
    }

    /// start + wait. An interrupted wait kills the process: it ran in the
    /// foreground of whoever was interrupted (the first process takes the
    /// container down with it).
    pub fn run(&self, p: &mut Process) -> Result<i32> {
        self.start(p)?;
        p.wait().inspect_err(|e| {
            if e.kind == ErrorKind::Interrupted {
                p.kill();
            }
        })
    }

    /// Runs `args` in the running container with stdout and stderr captured.
    pub fn exec(&self, args: Vec<String>) -> Result<ExecOutput> {
        let mut p = Process::new(ProcessSpec {
            args,
            env: vec![format!("PATH={DEFAULT_PATH}")],
            stdin: Stdio::Null,
            stdout: Stdio::Pipe,
            stderr: Stdio::Pipe,
            ..Default::default()
        })?;
        let status = self.status()?;
        if status != Status::Running {
            return Err(self
                .not_runnable(status)
                .context(format!("exec in container '{}'", self.id)));
        }
        let code = self.run(&mut p)?;
        Ok(ExecOutput {
            code,
            stdout: p.stdout().unwrap_or_default().to_vec(),
            stderr: p.stderr().unwrap_or_default().to_vec(),
        })
    }

    /// Runs `args` (an interactive /bin/sh when empty) beside the running
    /// workload, with `PATH` and the caller's `TERM`. With a terminal on
    /// ctrsh's stdin the process gets a pty and the terminal (attach);
    /// without one a command gets ctrsh's stdio. Returns its exit code.
    pub fn shell(&self, args: Vec<String>) -> Result<i32> {
        let what = || format!("shell in container '{}'", self.id);
        let status = self.status()?;
        if status != Status::Running {
            return Err(self.not_runnable(status).context(what()));
        }
        let terminal = std::io::stdin().is_terminal();
        if args.is_empty() && !terminal {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: an interactive shell needs a terminal on ctrsh's standard input; give a command to run instead",
                    what()
                ),
            ));
        }
        let args = match args.is_empty() {
            true => vec!["/bin/sh".to_string()],
            false => args,
        };
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        let mut p = Process::new(ProcessSpec {
            args,
            env: vec![format!("PATH={DEFAULT_PATH}"), format!("TERM={term}")],
            terminal,
            ..Default::default()
        })?;
        self.start(&mut p)?;
        match terminal {
            true => p.attach(),
            false => p.wait(),
        }
    }

    pub fn signal(&self, sig: i32) -> Result<()> {
        let (_, init) = self.state_and_init()?;
        init.signal(sig)
            .map_err(|e| e.context(format!("signal container '{}'", self.id)))
    }

    /// Asks the container to stop, as `docker stop` does: `sig` to its
    /// first process, then, when it has not exited within `timeout`,
    /// SIGKILL (an init in a pid namespace ignores signals it installed no
    /// handler for, so SIGTERM alone would leave a `sh` running). An
    /// interrupt cuts the grace period short. A created container is killed
    /// at once. What the first process left
    /// in the container is killed too. Its exit code (128+N when signal N
    /// ended it), or None when another ctrsh process created it and has it.
    pub fn stop(&self, sig: i32, timeout: Duration) -> Result<Option<i32>> {
        let what = || format!("stop container '{}'", self.id);
        let status = self.status()?;
        if !matches!(status, Status::Created | Status::Running) {
            return Err(self.not_runnable(status).context(what()));
        }
        let (_, init) = self.state_and_init()?;
        // A created container runs no process of the user's yet: nothing
        // to be graceful with.
        let (sig, timeout) = match status {
            Status::Created => (libc::SIGKILL, Duration::ZERO),
            _ => (sig, timeout),
        };
        let deadline = Instant::now() + timeout;
        // An error means it has exited by itself in the meantime.
        let _ = init.signal(sig);
        if !init.exits_by(deadline) {
            let _ = init.signal(libc::SIGKILL);
        }
        self.signal_all(libc::SIGKILL)
            .map_err(|e| e.context(what()))?;
        // Reaping the processes we started in it meanwhile: their zombies
        // would keep its init from finishing its exit (as for destroy).
        init.wait_gone_reaping().map_err(|e| e.context(what()))?;
        match init.wait_uninterrupted() {
            Ok(code) => Ok(Some(code)),
            Err(e) if e.kind == ErrorKind::Unsupported => Ok(self.exit_code()),
            Err(e) => Err(e.context(what())),
        }
    }

    /// The signal `stop` sends first: the config's `stop_signal`, else
    /// the image's StopSignal, else SIGTERM.
    pub fn stop_signal(&self) -> i32 {
        let state = self.read_state().ok().flatten();
        let chosen = state.and_then(|s| {
            let image = s.image.and_then(|i| i.defaults.stop_signal);
            s.config
                .stop_signal
                .or_else(|| image.and_then(|name| parse_signal(&name).ok()))
        });
        chosen.unwrap_or(libc::SIGTERM)
    }

    /// Send `sig` to every process of the container; none being left (the
    /// init has exited) is no error.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        let signal = nix::sys::signal::Signal::try_from(sig)
            .map_err(|_| Error::config(format!("signal: {sig} is not a signal number")))?;
        for pid in self.processes()? {
            // ESRCH: it exited since the list was read.
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => {
                    return Err(Error::sys(
                        format!("signal process {pid} of container '{}'", self.id),
                        std::io::Error::from(e),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Host pids of every process in the container.
    pub fn processes(&self) -> Result<Vec<i32>> {
        let Some(state) = self.read_state()? else {
            return Ok(vec![]);
        };
        let Some(init) = self.live_init(&state) else {
            return Ok(vec![]);
        };
        match &state.cgroup {
            Some(cg) => cg.processes(),
            None => processes_of(
                &Proc::host(),
                init.pid,
                state.config.has(NamespaceKind::Pid),
            ),
        }
    }

    /// The state and cgroup of a container that is made and has processes.
    fn live_cgroup(&self, what: &str) -> Result<(State, CgroupManager)> {
        let (state, _) = self
            .state_and_init()
            .map_err(|e| e.context(format!("{what} container '{}'", self.id)))?;
        let cg = state.cgroup.clone().ok_or_else(|| {
            Error::state(format!("{what} container '{}': it has no cgroup", self.id))
        })?;
        Ok((state, cg))
    }

    /// Freeze every process (the cgroup freezer); returns once the kernel
    /// reports the cgroup frozen.
    pub fn pause(&self) -> Result<()> {
        let _lock = self.lock()?;
        let (_, cg) = self.live_cgroup("pause")?;
        if cg.is_frozen()? {
            return Err(Error::state(format!(
                "pause container '{}': it is paused already",
                self.id
            )));
        }
        cg.freeze()
            .map_err(|e| e.context(format!("pause container '{}'", self.id)))
    }

    pub fn resume(&self) -> Result<()> {
        let _lock = self.lock()?;
        let (_, cg) = self.live_cgroup("resume")?;
        if !cg.is_frozen()? {
            return Err(Error::state(format!(
                "resume container '{}': it is not paused",
                self.id
            )));
        }
        cg.thaw()
            .map_err(|e| e.context(format!("resume container '{}'", self.id)))
    }

    /// Its writes as the new image `name` in its image's store, on top of
    /// its image's layers (see image/commit.rs). A running container is
    /// paused meanwhile, as docker commit does, so that the layer is one
    /// moment of it.
    pub fn commit(&self, name: &str, progress: &Progress) -> Result<Image> {
        let what = || format!("commit container '{}'", self.id);
        let status = self.status()?;
        let state = match self.read_state()? {
            Some(state) if status != Status::Creating => state,
            _ => return Err(self.not_runnable(status).context(what())),
        };
        let Some(image) = &state.image else {
            return Err(Error::config(format!(
                "{}: it was not made from an image (`image` in its config): it has no layers \
                 to add its writes to",
                what()
            )));
        };
        if state.config.readonly_rootfs {
            return Err(Error::config(format!(
                "{}: its rootfs is read-only (`readonly_rootfs`): it has no writes to commit",
                what()
            )));
        }
        let store = Store::open(&image.store)?;
        let parent = store.load(image.name.clone(), &Digest::parse(&image.digest)?)?;
        let config = &state.config;
        let owners = match config.creates(NamespaceKind::User) {
            true => Owners {
                uids: IdMapping::new(&config.uid_mappings),
                gids: IdMapping::new(&config.gid_mappings),
            },
            false => Owners::default(),
        };
        let upper = RootfsDirs::in_state_dir(&self.dir).upper;
        let pause = status == Status::Running;
        if pause {
            self.pause().map_err(|e| e.context(what()))?;
        }
        let committed = commit::commit(&store, &parent, &upper, &owners, name, progress);
        if pause {
            self.resume().map_err(|e| e.context(what()))?;
        }
        committed.map_err(|e| e.context(what()))
    }

    /// cpu, memory, pids, blkio and hugetlb from the cgroup, network from
    /// the container's network namespace. Also of a stopped container,
    /// until it is destroyed (its cgroup stays): what a job used, and
    /// whether it was OOM-killed. Its network namespace went with its init:
    /// no interfaces then.
    pub fn stats(&self) -> Result<ContainerStats> {
        let what = format!("stats of container '{}'", self.id);
        let state = match self.read_state()? {
            Some(state) if !state.creating => state,
            _ => return Err(self.not_runnable(self.status()?).context(what)),
        };
        let cg = state
            .cgroup
            .clone()
            .ok_or_else(|| Error::state(format!("{what}: it has no cgroup")))?;
        let network = match netstats::read(state.init_pid) {
            Ok(network) => network,
            // An init on its way out has left its network namespace
            // before its exit shows.
            Err(_)
                if self
                    .live_init(&state)
                    .is_none_or(|init| init.exited_within(Duration::from_secs(1))) =>
            {
                Vec::new()
            }
            Err(e) => return Err(e.context(what)),
        };
        Ok(ContainerStats {
            cgroup: cg.stats()?,
            network,
        })
    }

    /// Change cgroup limits of a live container: `patch` holds the keys of
    /// `cgroups` to change; the result is validated like a config.
    pub fn update(&self, patch: Patch) -> Result<()> {
        self.update_with(|_| Ok::<_, Error>(patch))
    }

    /// `update`, with the patch made from the container's cgroups as its
    /// state has them, under its lock: the OCI command line's flags change
    /// some of the current limits, and state.json is read once.
    pub fn update_with<E: From<Error>>(
        &self,
        patch: impl FnOnce(&Cgroups) -> std::result::Result<Patch, E>,
    ) -> std::result::Result<(), E> {
        let _lock = self.lock()?;
        let (state, cg) = self.live_cgroup("update")?;
        let given = state.config.given.cgroups.clone().unwrap_or_default();
        let patch = patch(&given)?;
        Ok(self.apply_update(state, cg, given, patch)?)
    }

    /// Apply `patch` to `given` (the cgroups as the config gave them),
    /// check the result, write the limits and record them in `state`.
    fn apply_update(
        &self,
        mut state: State,
        mut cg: CgroupManager,
        given: Cgroups,
        patch: Patch,
    ) -> Result<()> {
        if let Some(key) = ["name", "parent", "path"]
            .iter()
            .find(|k| patch.contains_key(**k))
        {
            return Err(Error::config(format!(
                "cgroups.{key}: cannot change while the container lives"
            )));
        }
        let patch_keys: std::collections::BTreeSet<String> = patch.keys().cloned().collect();
        let mut merged = serde_json::to_value(given).expect("cgroups serialize");
        merged
            .as_object_mut()
            .expect("a struct is an object")
            .extend(patch);
        // The key path (`cgroups.memory`), as create names it.
        let given: Cgroups = serde_path_to_error::deserialize(merged).map_err(|e| {
            let inner = e.inner().to_string();
            let hint = suggest::hint(suggest::suggest_from_serde_message(&inner));
            let inner = match hint.is_empty() {
                true => inner,
                false => inner
                    .split(", expected")
                    .next()
                    .unwrap_or(&inner)
                    .to_string(),
            };
            Error::config(format!("cgroups.{}: {inner}{hint}", e.path()))
        })?;
        // Only the cgroups changed: the rest of the config was checked at
        // create.
        let checked = given.validate()?;
        let cgroups = CheckedCgroups {
            limits: checked.limits.update_from(&state.config.cgroups.limits)?,
            ..checked.clone()
        };
        // Device rules are rewritten only when the update names them.
        let devices = ["allow_all_devices", "allowed_devices"];
        let applied = cg.enable(&cgroups).and_then(|()| {
            if devices.iter().any(|k| patch_keys.contains(*k)) {
                cg.apply(&cgroups)
            } else {
                cg.apply_limits(&cgroups.limits)
            }
        });
        applied.map_err(|e| e.context(format!("update container '{}'", self.id)))?;
        state.config.given.cgroups = Some(given);
        state.config.cgroups = checked;
        state.cgroup = Some(cg);
        self.state_dir().write(&state)
    }

    /// What happened since the last call: OOM kills in the container.
    /// Also once it has stopped (until it is destroyed, its cgroup stays):
    /// the OOM kill that stopped it is news too.
    pub fn events(&self) -> Result<Vec<Event>> {
        let _lock = self.lock()?;
        let what = || format!("events of container '{}'", self.id);
        let mut state = self
            .read_state()?
            .ok_or_else(|| self.not_runnable(Status::Stopped).context(what()))?;
        if state.creating {
            return Err(self.not_runnable(Status::Creating).context(what()));
        }
        let cg = state
            .cgroup
            .clone()
            .ok_or_else(|| Error::state(format!("{}: it has no cgroup", what())))?;
        let kills = cg.oom_kills()?;
        let mut events = Vec::new();
        if kills > state.oom_kills_seen {
            events.push(Event::Oom {
                count: kills - state.oom_kills_seen,
            });
            state.oom_kills_seen = kills;
            self.state_dir().write(&state)?;
        }
        Ok(events)
    }

    /// Kills every process, removes cgroups and the state dir.
    pub fn destroy(&self) -> Result<()> {
        trace::step("destroy: begin");
        let _lock = if self.dir.exists() {
            Some(Lock::acquire(&self.dir)?)
        } else {
            None
        };
        let done = self
            .teardown()
            .map_err(|e| e.context(format!("destroy container '{}'", self.id)));
        trace::step("destroy: done");
        done
    }

    pub(crate) fn teardown(&self) -> Result<()> {
        let dir = self.state_dir();
        let Some(state) = self.read_state()? else {
            return dir.remove();
        };
        // Looked up before the kill: a killed init is a zombie, which
        // live_init no longer counts, but we must still reap it.
        remove_all(&dir, &state, self.live_init(&state))?;
        let stopped = OciState::of(&self.id, &state.config, "stopped", None);
        for e in hooks::run_all("hooks.poststop", &state.config.hooks.poststop, &stopped) {
            warn(&e.message);
        }
        Ok(())
    }
}

/// Kill every process of the container `state` describes, and remove its
/// cgroups and state dir: what destroy does, and what a create that failed
/// undoes. Every step can be repeated, so a destroy that was killed part-way
/// can run again to completion.
pub(crate) fn remove_all(dir: &StateDir, state: &State, init: Option<Arc<Reaper>>) -> Result<()> {
    let has_pid_ns = state.config.has(NamespaceKind::Pid);
    if let Some(cg) = &state.cgroup {
        // Every process, also ones that left the pid namespace's view.
        cg.kill_all()?;
    }
    if let Some(init) = init {
        // Without a pid namespace (or cgroup) the init's death does not
        // take the others along: kill them first.
        if !has_pid_ns {
            for pid in processes_of(&Proc::host(), init.pid, false)?
                .into_iter()
                .filter(|p| *p != init.pid)
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::SIGKILL,
                );
            }
        }
        match init.signal(libc::SIGKILL) {
            Err(e) if e.kind != ErrorKind::State => return Err(e),
            _ => {}
        }
        init.wait_gone_reaping()?;
        trace::step("destroy: processes gone");
    }
    if let Some(mount) = &state.root_mount {
        mount.detach()?;
    }
    let pasta = state.config.networks.contains(&CheckedNetwork::Pasta);
    if let Some(cg) = &state.cgroup {
        cg.destroy()?;
        trace::step("destroy: cgroups removed");
        // A destroy that stops after this and runs again must not touch
        // the cgroup path, which another container may have taken by then.
        // With nothing else to release, the state file goes (a rerun finds
        // a directory without state and removes it); otherwise it stays,
        // without the cgroup.
        if state.networks.is_empty() && state.image.is_none() && !pasta {
            dir.forget()?;
        } else {
            dir.write(&State {
                cgroup: None,
                ..state.clone()
            })?;
        }
    }
    // The init is gone, and eth0's veth with its network namespace.
    let root = dir.path.parent().expect("a state dir is in its root");
    for attachment in &state.networks {
        Networks::new(root).release(&attachment.network, &state.id)?;
    }
    pasta::stop(&dir.path)?;
    // Its processes are gone, and with them its mount namespace (without
    // one, its root mount is detached above), the only place its image's
    // layers were mounted.
    if let Some(image) = &state.image {
        Store::open(&image.store)?.release(&dir.path)?;
    }
    dir.remove()
}

/// The Join message of an exec of `p` into the container of `state`,
/// joining namespaces `kinds`, and the cgroup files (with their fds) the
/// init moves itself with (`in_cgroup`: cloned into the cgroup2 one).
fn exec_message(
    state: &State,
    p: &Process,
    kinds: Vec<NamespaceKind>,
    in_cgroup: bool,
) -> Result<(ToInit, Vec<(PathBuf, OwnedFd)>)> {
    let joins = match &state.cgroup {
        Some(cg) => cg.join_files(in_cgroup)?,
        None => vec![],
    };
    let msg = ToInit::Join {
        config: Box::new(state.config.clone()),
        process: Box::new(process_for(state, p)?),
        namespaces: kinds,
        cgroup_files: joins.iter().map(|(file, _)| file.clone()).collect(),
    };
    Ok((msg, joins))
}

/// The process `p` runs as: what its spec leaves out taken from the
/// container's image, if it has one.
fn process_for(state: &State, p: &Process) -> Result<CheckedProcess> {
    let mut process = p.checked().clone();
    if let Some(image) = &state.image {
        process.spec = image.defaults.apply(&process.spec);
    }
    check_args(&process.spec)?;
    Ok(process)
}

/// The status of a container that is made and whose init lives.
fn live_status(state: &State) -> Result<Status> {
    Ok(match (is_frozen(state)?, state.started) {
        (true, _) => Status::Paused,
        (false, false) => Status::Created,
        (false, true) => Status::Running,
    })
}

fn is_frozen(state: &State) -> Result<bool> {
    match &state.cgroup {
        Some(cg) => cg.is_frozen(),
        None => Ok(false),
    }
}

/// What `Container::stats` returns.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerStats {
    #[serde(flatten)]
    pub cgroup: CgroupStats,
    /// Per interface of the container's network namespace.
    pub network: Vec<InterfaceStats>,
}

/// What `Container::events` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// The kernel's OOM killer killed `count` processes in the container.
    Oom { count: u64 },
}

/// Processes of a container: those in the init's pid namespace, or
/// (without one) the init and its descendants.
fn processes_of(proc: &Proc, init: i32, has_pid_ns: bool) -> Result<Vec<i32>> {
    let ns_of = |pid: i32| proc.namespace(pid, "pid");
    let init_ns = ns_of(init);
    let parents: Vec<(i32, i32)> = proc
        .pids()?
        .into_iter()
        .filter_map(|pid| Some((pid, proc.stat(pid)?.ppid)))
        .collect();
    let mut found = vec![init];
    if has_pid_ns {
        found.extend(
            parents
                .iter()
                .map(|(p, _)| *p)
                .filter(|p| *p != init && ns_of(*p) == init_ns),
        );
    } else {
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            found.extend(
                parents
                    .iter()
                    .filter(|(_, pp)| *pp == parent)
                    .map(|(p, _)| *p),
            );
            i += 1;
        }
    }
    found.sort_unstable();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn processes_are_the_init_s_pid_namespace_or_its_descendants() {
        let root = std::env::temp_dir().join(format!("ctrsh-procs-{}", std::process::id()));
        // pid, ppid, pid namespace
        for (pid, ppid, ns) in [
            (10, 1, "A"),
            (11, 10, "A"),
            (12, 11, "B"),
            (13, 1, "A"),
            (14, 1, "C"),
        ] {
            let dir = root.join(pid.to_string());
            std::fs::create_dir_all(dir.join("ns")).unwrap();
            let stat = format!("{pid} (sh) S {ppid} 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n");
            std::fs::write(dir.join("stat"), stat).unwrap();
            symlink(format!("pid:[{ns}]"), dir.join("ns/pid")).unwrap();
        }
        let proc = Proc::at(&root);
        let in_namespace = processes_of(&proc, 10, true);
        let descendants = processes_of(&proc, 10, false);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(in_namespace.unwrap(), [10, 11, 13]);
        assert_eq!(descendants.unwrap(), [10, 11, 12]);
    }
}
