//! create, start, run, kill, delete, pause, resume.

use super::flags::{switch, value, Flag};
use super::{console, log, not_found, parse_args, write_pid_file, Failure, Global, Outcome};
use crate::oci::bundle;
use crate::runtime::{parse_signal, Config, Container, Error, ErrorKind, Status};
use std::path::Path;

const CREATE_FLAGS: &[Flag] = &[
    value(&["bundle", "b"]),
    value(&["console-socket"]),
    value(&["pid-file"]),
    switch(&["no-pivot"]),
    switch(&["no-new-keyring"]),
    value(&["preserve-fds"]),
];

/// run's flags besides create's.
const RUN_ONLY_FLAGS: &[Flag] = &[
    switch(&["detach", "d"]),
    switch(&["keep"]),
    switch(&["no-subreaper"]),
];

/// The bundle's config with the create flags applied, and its process's
/// console size (rows, columns).
fn bundle_config(flags: &super::flags::Parsed) -> Result<(Config, Option<(u16, u16)>), Failure> {
    let dir = crate::oci::absolute(Path::new(flags.value("bundle").unwrap_or(".")))?;
    let spec = bundle::read_spec(&dir)?;
    let mut config = bundle::to_config(&spec, Some(&dir))?;
    config.no_pivot_root = flags.is_set("no-pivot");
    let preserve = flags.number("preserve-fds", 0u32).map_err(Failure::Usage)?;
    if let Some(p) = &mut config.process {
        p.preserve_fds = preserve;
    }
    let size = spec
        .process()
        .as_ref()
        .and_then(|p| p.console_size())
        .map(|b| (clamp(b.height()), clamp(b.width())));
    Ok((config, size))
}

fn clamp(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Create the container of the bundle; it waits for `start`. With a
/// terminal, its pty master goes to the console socket.
fn create_container(
    g: &Global,
    id: &str,
    flags: &super::flags::Parsed,
    detached: bool,
) -> Result<Container, Failure> {
    let (config, console_size) = bundle_config(flags)?;
    let terminal = config.process.as_ref().is_some_and(|p| p.terminal);
    let socket = flags.value("console-socket");
    match (terminal, socket) {
        (true, None) if detached => {
            return Err(Failure::Usage(
                "cannot allocate tty if ctrsh will detach without setting console socket".into(),
            ))
        }
        (false, Some(_)) => {
            return Err(Failure::Usage(
                "cannot use console socket if ctrsh will not detach or allocate tty".into(),
            ))
        }
        _ => {}
    }
    super::systemd::check(g, &config)?;
    let container = g.factory()?.create(id, config)?;
    let handed = match socket {
        Some(path) => container
            .take_console()
            .ok_or_else(|| Error::state("the init made no terminal"))
            .and_then(|master| {
                if let Some((rows, columns)) = console_size {
                    console::resize(&master, rows, columns)?;
                }
                console::send(Path::new(path), master)
            }),
        None => Ok(()),
    };
    let written = handed.and_then(|()| match flags.value("pid-file") {
        Some(file) => write_pid_file(file, container.pid().unwrap_or_default()),
        None => Ok(()),
    });
    if let Err(e) = written {
        let _ = container.destroy();
        return Err(e.into());
    }
    Ok(container)
}

pub fn create(g: &Global, args: &[String]) -> Outcome {
    let (flags, ids) = parse_args("create", CREATE_FLAGS, args, &["container id"])?;
    create_container(g, &ids[0], &flags, true)?;
    Ok(0)
}

pub fn start(g: &Global, args: &[String]) -> Outcome {
    let (_, ids) = parse_args("start", &[], args, &["container id"])?;
    let c = g.container(&ids[0])?;
    match c.status()? {
        Status::Created => {}
        Status::Stopped | Status::Destroyed => {
            return Err(Error::state("cannot start a container that has stopped").into())
        }
        Status::Running | Status::Paused => {
            return Err(Error::state("cannot start an already running container").into())
        }
        Status::Creating => {
            return Err(Error::state("cannot start a container that is still being created").into())
        }
    }
    c.start_configured()?;
    Ok(0)
}

/// create + start; unless detached, wait for the container's process,
/// delete the container and exit with the process's status.
pub fn run(g: &Global, args: &[String]) -> Outcome {
    let run_flags: Vec<Flag> = CREATE_FLAGS.iter().chain(RUN_ONLY_FLAGS).copied().collect();
    let (flags, ids) = parse_args("run", &run_flags, args, &["container id"])?;
    let id = &ids[0];
    let detach = flags.is_set("detach");
    let c = create_container(g, id, &flags, detach)?;
    let mut p = c.start_configured()?;
    if detach {
        return Ok(0);
    }
    forward_signals_to(p.pid().unwrap_or_default());
    let terminal = c.config().process.is_some_and(|p| p.terminal);
    let code = if terminal && flags.value("console-socket").is_none() {
        p.attach()
    } else {
        p.wait()
    };
    if !flags.is_set("keep") {
        if let Err(e) = c.destroy() {
            log::warn(&e.message);
        }
    }
    Ok(u8::try_from(code?).unwrap_or(255))
}

/// The pid signals sent to `ctrsh run` are passed on to.
static FORWARD_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    use nix::sys::signal::{kill, Signal};
    let pid = FORWARD_TO.load(std::sync::atomic::Ordering::Relaxed);
    // kill is async-signal-safe; the rest is an atomic and a conversion.
    if let (true, Ok(sig)) = (pid > 0, Signal::try_from(sig)) {
        let _ = kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// While `run` waits, the signals it gets go to the container's process
/// (as runc forwards them), so Ctrl-C or a `kill` of `run` reach it.
fn forward_signals_to(pid: i32) {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    FORWARD_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        // SAFETY: the handler only loads an atomic and calls kill.
        if let Err(e) = unsafe { sigaction(sig, &action) } {
            log::warn(&format!("cannot forward {sig}: {e}"));
        }
    }
}

pub fn kill(g: &Global, args: &[String]) -> Outcome {
    let (flags, args) = parse_args("kill", &[switch(&["all", "a"])], args, &["container id"])?;
    if args.len() > 2 {
        return Err(Failure::Usage(
            "kill: too many arguments (ID [SIGNAL])".into(),
        ));
    }
    let c = g.container(&args[0])?;
    let signal = parse_signal(args.get(1).map_or("SIGTERM", String::as_str))?;
    if flags.is_set("all") {
        // Also after the init exited: what is left in the cgroup.
        c.signal_all(signal)?;
        return Ok(0);
    }
    // signal refuses a container that is not running, whose init is gone.
    c.signal(signal).map_err(|e| match e.kind {
        ErrorKind::State => Error::state("container not running"),
        _ => e,
    })?;
    Ok(0)
}

pub fn delete(g: &Global, args: &[String]) -> Outcome {
    let (flags, ids) = parse_args(
        "delete",
        &[switch(&["force", "f"])],
        args,
        &["container id"],
    )?;
    let id = &ids[0];
    let force = flags.is_set("force");
    let c = match g.factory()?.load(id) {
        Ok(c) => c,
        // Engines delete with --force what may already be gone.
        Err(e) if e.kind == ErrorKind::NotFound && force => return Ok(0),
        Err(e) if e.kind == ErrorKind::NotFound => return Err(not_found(id).into()),
        Err(e) => return Err(e.into()),
    };
    match c.status()? {
        Status::Running | Status::Paused if !force => Err(Error::state(format!(
            "cannot delete container {id} that is not stopped: {}",
            c.status()?
        ))
        .into()),
        _ => {
            c.destroy()?;
            Ok(0)
        }
    }
}

pub fn pause(g: &Global, args: &[String]) -> Outcome {
    let (_, ids) = parse_args("pause", &[], args, &["container id"])?;
    g.container(&ids[0])?.pause()?;
    Ok(0)
}

pub fn resume(g: &Global, args: &[String]) -> Outcome {
    let (_, ids) = parse_args("resume", &[], args, &["container id"])?;
    g.container(&ids[0])?.resume()?;
    Ok(0)
}
