//! The last steps before the user's program runs, shared by start and exec:
//! stdio, user, working directory, capabilities, no_new_privs, exec.

use crate::runtime::config::CheckedConfig;
use crate::runtime::config::{CheckedProcess, ProcessSpec, DEFAULT_PATH};
use crate::runtime::error::{describe_io, Context, Error, ErrorKind, Result};
use crate::runtime::init::capabilities;
use crate::runtime::init::user::{self, ExecUser};
use crate::runtime::launch::channel::InitEnd;
use crate::runtime::launch::messages::{FromInit, STDIO_FDS};
use crate::runtime::seccomp;
use crate::runtime::sys;
use crate::runtime::trace;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Returns only on failure: on success the process image is replaced and the
/// channel closes (close-on-exec), which tells the parent it worked.
/// `stdio`: stdin, stdout, stderr and the `preserve_fds`; `console`: the pty
/// slave made at create for a process with a terminal (else made here).
pub fn exec_user_process(
    chan: &mut InitEnd,
    config: &CheckedConfig,
    process: &CheckedProcess,
    mut stdio: Vec<OwnedFd>,
    console: Option<OwnedFd>,
) -> Result<()> {
    let spec = &process.spec;
    let who = lookup_user(spec)?;
    if stdio.len() != STDIO_FDS + spec.preserve_fds as usize {
        return Err(Error::protocol("wrong number of stdio fds from the parent"));
    }
    let preserved = stdio.split_off(STDIO_FDS);
    let console = match console {
        Some(slave) => Some(slave),
        None if spec.terminal => Some(self::console(chan, &who)?),
        None => None,
    };
    let [stdin, stdout, stderr]: [OwnedFd; 3] = match console {
        Some(slave) => [
            slave.try_clone().ctx("dup pty")?,
            slave.try_clone().ctx("dup pty")?,
            slave,
        ],
        None => stdio
            .try_into()
            .map_err(|_| Error::state("expected three stdio fds from the parent"))?,
    };
    // The process's stdio and preserved fds may take the trace's fd.
    trace::step("init: process stdio next, then exec");
    trace::stop();
    nix::unistd::dup2_stdin(stdin).ctx("set up stdin")?;
    nix::unistd::dup2_stdout(stdout).ctx("set up stdout")?;
    nix::unistd::dup2_stderr(stderr).ctx("set up stderr")?;
    let first_free = place_preserved(chan, preserved)?;
    // A session of its own: without it the process would keep ctrsh's
    // terminal as controlling terminal and could push input into the
    // user's shell with TIOCSTI (CVE-2017-5226). With `terminal` the pty
    // becomes its controlling terminal.
    nix::unistd::setsid().ctx("setsid")?;
    if spec.terminal {
        rustix::process::ioctl_tiocsctty(std::io::stdin())
            .ctx("make the pty the controlling terminal")?;
    }
    let cwd = spec.cwd.as_deref().unwrap_or("/");
    enter_cwd(cwd)?;
    let env = environment(spec, &who);
    let program = find_program(spec)?;

    let keep = process
        .capabilities
        .as_ref()
        .unwrap_or(&config.capabilities);
    let no_new_privileges = spec.no_new_privileges.unwrap_or(config.no_new_privileges);
    let filter = &config.seccomp;
    // Before any filter, which might not allow rt_sigaction or close_range.
    sys::reset_signals().ctx("reset signal dispositions")?;
    // Nothing of ours may reach the container process (CVE-2024-21626).
    sys::cloexec_from(first_free).ctx("mark fds close-on-exec")?;
    // Without no_new_privs the kernel only accepts a filter from a process
    // with CAP_SYS_ADMIN: install it before the capabilities go (as runc).
    if let (Some(f), false) = (filter, no_new_privileges) {
        seccomp::apply(f)?;
    }
    capabilities::check_available(keep)?;
    capabilities::limit_bounding(&keep.bounding)?;
    switch_user(&who)?;
    capabilities::set_process_sets(keep)?;
    if no_new_privileges {
        nix::sys::prctl::set_no_new_privs().ctx("set no_new_privileges")?;
    }
    if let Some(mask) = spec.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let c =
        |s: &str| CString::new(s).map_err(|_| Error::config(format!("'{s}' contains a NUL byte")));
    let argv = spec.args.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
    let envp = env.iter().map(|e| c(e)).collect::<Result<Vec<_>>>()?;
    let path = c(&program.to_string_lossy())?;
    // With no_new_privs the filter goes in last, right before exec.
    if let (Some(f), true) = (filter, no_new_privileges) {
        seccomp::apply(f)?;
    }
    let err = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(err).ctx(format_args!("exec {}", program.display()))
}

/// Put the preserved fds at 3, 4, ... (inherited across exec), first moving
/// the channel and them out of that range; the first fd after them.
fn place_preserved(chan: &mut InitEnd, preserved: Vec<OwnedFd>) -> Result<RawFd> {
    let first_free = STDIO_FDS as RawFd + preserved.len() as RawFd;
    if preserved.is_empty() {
        return Ok(first_free);
    }
    chan.renumber_from(first_free)?;
    let moved = preserved
        .iter()
        .map(|fd| sys::dup_from(fd, first_free))
        .collect::<Result<Vec<_>>>()?;
    drop(preserved);
    for (i, fd) in moved.iter().enumerate() {
        let target = STDIO_FDS as RawFd + i as RawFd;
        // dup2 leaves the copy without close-on-exec: it is inherited.
        // SAFETY: dup2 onto 3.. , which place_preserved has moved everything else off.
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(format_args!("preserve_fds: place fd {target}"));
        }
    }
    Ok(first_free)
}

/// A pty from the container's own devpts: the master goes to the parent,
/// the slave (owned by the process's user) becomes stdio.
pub(super) fn console(chan: &InitEnd, who: &ExecUser) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx("terminal: open /dev/ptmx")?;
    nix::pty::grantpt(&master).ctx("terminal: grantpt")?;
    nix::pty::unlockpt(&master).ctx("terminal: unlockpt")?;
    let name = nix::pty::ptsname_r(&master).ctx("terminal: ptsname")?;
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(&name)
        .ctx(format_args!("terminal: open {name}"))?
        .into();
    nix::unistd::fchown(
        &slave,
        Some(nix::unistd::Uid::from_raw(who.uid)),
        Some(nix::unistd::Gid::from_raw(who.gid)),
    )
    .ctx(format_args!("terminal: chown {name}"))?;
    chan.send(&FromInit::Console, &[master.as_fd()])?;
    Ok(slave)
}

/// The process's user from the container's /etc/passwd and /etc/group,
/// with its `additional_gids`.
pub(super) fn lookup_user(spec: &ProcessSpec) -> Result<ExecUser> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut who = user::resolve(spec.user.as_deref().unwrap_or("0"), &passwd, &group)?;
    for gid in &spec.additional_gids {
        if !who.groups.contains(gid) {
            who.groups.push(*gid);
        }
    }
    Ok(who)
}

/// chdir into the process's cwd and make sure it is inside the container's
/// root: an fd leaked from the host could otherwise point the cwd outside.
fn enter_cwd(cwd: &str) -> Result<()> {
    if !cwd.starts_with('/') {
        return Err(Error::config(format!(
            "cwd: '{cwd}' is not an absolute path"
        )));
    }
    nix::unistd::chdir(cwd).ctx(format_args!("cwd: chdir to '{cwd}'"))?;
    // getcwd fails (ENOENT) for a directory outside the process's root.
    match nix::unistd::getcwd() {
        Ok(here) if here.starts_with("/") => Ok(()),
        Ok(_) | Err(nix::errno::Errno::ENOENT) => Err(Error::config(format!(
            "cwd: '{cwd}' is outside the container"
        ))),
        Err(e) => Err(e).ctx("cwd: getcwd"),
    }
}

/// The process env plus HOME from /etc/passwd when the spec has none.
fn environment(spec: &ProcessSpec, who: &ExecUser) -> Vec<String> {
    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", who.home));
    }
    env
}

/// The process's program: args[0] as a path (from the process's cwd), or
/// looked up in its PATH; an executable file. runc checks this before
/// `create` returns (Go's exec.LookPath), so a missing program fails create
/// and not start, with runc's wording, which engines read: podman and
/// Docker report "no such file or directory" and "executable file not
/// found in $PATH" as a command not found (exit 127), "permission denied"
/// as one that cannot be run (126).
pub(super) fn find_program(spec: &ProcessSpec) -> Result<PathBuf> {
    let arg0 = &spec.args[0];
    let cwd = Path::new(spec.cwd.as_deref().unwrap_or("/"));
    let failed = |what: String, err: std::io::Error| {
        // Go's text of the errno, as runc prints it: lower case.
        let text = describe_io(&err);
        let mut chars = text.chars();
        let text: String = chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default();
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::System,
        };
        Error {
            errno: err.raw_os_error(),
            ..Error::new(kind, format!("exec: \"{arg0}\": {what}{text}"))
        }
    };
    if arg0.contains('/') {
        return match executable(&cwd.join(arg0)) {
            Ok(()) => Ok(PathBuf::from(arg0)),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(failed(String::new(), e))
            }
            Err(e) => Err(failed(format!("stat {arg0}: "), e)),
        };
    }
    let path = spec
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| Path::new(dir).join(arg0))
        .find(|p| executable(&cwd.join(p)).is_ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("exec: \"{arg0}\": executable file not found in $PATH ({path})"),
            )
        })
}

/// Ok when `path` is a file with an execute bit, as Go's exec.LookPath
/// wants; EACCES when it is something else.
fn executable(path: &Path) -> std::io::Result<()> {
    let meta = path.metadata()?;
    match !meta.is_dir() && meta.permissions().mode() & 0o111 != 0 {
        true => Ok(()),
        false => Err(std::io::Error::from_raw_os_error(libc::EACCES)),
    }
}

fn switch_user(who: &ExecUser) -> Result<()> {
    nix::sys::prctl::set_keepcaps(true).ctx("set keepcaps")?;
    let groups: Vec<nix::unistd::Gid> = who
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // A user namespace made by an unprivileged user denies setgroups; with
    // no supplementary groups to set there is nothing to do then.
    let denied = std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
    if !(denied && groups.is_empty()) {
        nix::unistd::setgroups(&groups).ctx(format_args!("setgroups {:?}", who.groups))?;
    }
    let gid = nix::unistd::Gid::from_raw(who.gid);
    nix::unistd::setresgid(gid, gid, gid).ctx(format_args!("setgid {}", who.gid))?;
    let uid = nix::unistd::Uid::from_raw(who.uid);
    nix::unistd::setresuid(uid, uid, uid).ctx(format_args!("setuid {}", who.uid))?;
    Ok(())
}
