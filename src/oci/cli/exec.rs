//! exec: a new process in a running container, from `--process FILE` (an
//! OCI process JSON) or from the command line and flags.

use super::flags::{switch, value, Flag};
use super::{console, parse_args, write_pid_file, Failure, Global, Outcome};
use crate::oci::bundle;
use crate::runtime::{
    Capabilities, CapabilitySets, Container, Error, ErrorKind, Process, ProcessSpec, Status, Stdio,
};
use std::path::Path;

const FLAGS: &[Flag] = &[
    value(&["console-socket"]),
    value(&["cwd"]),
    value(&["env", "e"]),
    switch(&["tty", "t"]),
    value(&["user", "u"]),
    value(&["additional-gids", "g"]),
    value(&["process", "p"]),
    switch(&["detach", "d"]),
    value(&["pid-file"]),
    value(&["process-label"]),
    value(&["apparmor"]),
    switch(&["no-new-privs"]),
    value(&["cap", "c"]),
    value(&["preserve-fds"]),
    value(&["cgroup"]),
    switch(&["ignore-paused"]),
];

pub fn exec(g: &Global, args: &[String]) -> Outcome {
    let (flags, args) = parse_args("exec", FLAGS, args, &["container id"])?;
    for unsupported in ["process-label", "apparmor", "cgroup"] {
        if flags.value(unsupported).is_some() {
            return Err(Error::config(format!("--{unsupported}: not supported by ctrsh")).into());
        }
    }
    let c = g.container(&args[0])?;
    let config = c.config();
    let mut spec = match flags.value("process") {
        Some(file) => {
            let p = read_process(Path::new(file))?;
            bundle::check_exec_process(&p, &config)?;
            bundle::process_spec(&p)?
        }
        None => from_flags(&flags, &args[1..], config.process.as_ref())?,
    };
    spec.preserve_fds = flags.number("preserve-fds", 0u32).map_err(Failure::Usage)?;
    let detach = flags.is_set("detach");
    let socket = flags.value("console-socket");
    if spec.terminal && detach && socket.is_none() {
        return Err(Failure::Usage(
            "cannot allocate tty if ctrsh will detach without setting console socket".into(),
        ));
    }
    if !spec.terminal && socket.is_some() {
        return Err(Failure::Usage(
            "cannot use console socket if ctrsh will not detach or allocate tty".into(),
        ));
    }
    let mut p = Process::new(spec)?;
    c.join(&mut p).map_err(|e| runc_refusal(&c, e))?;
    if let Some(path) = socket {
        let master = p
            .take_console()
            .ok_or_else(|| Error::state("the process got no terminal"))?;
        console::send(Path::new(path), master)?;
    }
    if let Some(file) = flags.value("pid-file") {
        write_pid_file(file, p.pid().unwrap_or_default())?;
    }
    if detach {
        return Ok(0);
    }
    let code = if p.spec().terminal && socket.is_none() {
        p.attach()?
    } else {
        p.wait()?
    };
    Ok(u8::try_from(code).unwrap_or(255))
}

/// A refusal in runc's words ("cannot exec in a paused container"): the
/// container's status, read again only once join has failed, says whether
/// the failure was the container's state.
fn runc_refusal(c: &Container, e: Error) -> Error {
    match (e.kind, c.status()) {
        (ErrorKind::State, Ok(status)) if status != Status::Running => {
            Error::state(format!("cannot exec in a {status} container"))
        }
        _ => e,
    }
}

fn read_process(file: &Path) -> Result<oci_spec::runtime::Process, Error> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::config(format!(
            "--process: read {}: {}",
            file.display(),
            crate::runtime::error::describe_io(&e)
        ))
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        Error::config(format!(
            "--process: {}: {}: {}",
            file.display(),
            e.path(),
            e.inner()
        ))
    })
}

/// runc's defaults for exec without --process: the container process's
/// env, cwd, user and capabilities, changed by the flags.
fn from_flags(
    flags: &super::flags::Parsed,
    args: &[String],
    base: Option<&ProcessSpec>,
) -> Result<ProcessSpec, Failure> {
    if args.is_empty() {
        return Err(Failure::Usage(
            "exec: requires a command to run (or --process FILE)".into(),
        ));
    }
    let base = base.cloned().unwrap_or_default();
    let mut env = base.env.clone();
    env.extend(flags.values("env").iter().cloned());
    let mut capabilities = base
        .capabilities
        .map(|c| c.sets())
        .unwrap_or_else(CapabilitySets::default);
    for cap in flags.values("cap") {
        for set in [
            &mut capabilities.bounding,
            &mut capabilities.effective,
            &mut capabilities.permitted,
        ] {
            if !set.contains(cap) {
                set.push(cap.clone());
            }
        }
    }
    let mut additional_gids = Vec::new();
    for gid in flags.values("additional-gids") {
        additional_gids.push(
            gid.parse::<u32>().map_err(|_| {
                Failure::Usage(format!("invalid value {gid:?} for -additional-gids"))
            })?,
        );
    }
    Ok(ProcessSpec {
        args: args.to_vec(),
        env,
        user: flags.value("user").map(String::from).or(base.user),
        cwd: flags.value("cwd").map(String::from).or(base.cwd),
        terminal: flags.is_set("tty"),
        stdin: Stdio::Inherit,
        stdout: Stdio::Inherit,
        stderr: Stdio::Inherit,
        additional_gids,
        capabilities: Some(Capabilities::Sets(capabilities)),
        no_new_privileges: flags
            .is_set("no-new-privs")
            .then_some(true)
            .or(base.no_new_privileges),
        ..ProcessSpec::default()
    })
}
