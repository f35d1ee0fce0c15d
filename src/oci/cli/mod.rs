//! The runc-compatible command line: `ctrsh oci <command>`, or runc's
//! command line itself when ctrsh runs under another name (a link called
//! `runc`, `ctrsh-runc`...), so that an engine's runtime binary can be
//! ctrsh. Commands, flags, output and error wording follow runc's.

mod checkpoint;
mod console;
mod exec;
mod flags;
mod info;
mod lifecycle;
mod log;
mod state;
mod stats;
mod systemd;
mod update;

use crate::runtime::{Container, Error, ErrorKind, Factory, Summary};
use flags::{switch, value, Flag};
use std::path::{Path, PathBuf};

/// The name ctrsh answers to with its own command line; under any other
/// name it is an OCI runtime.
pub const OWN_NAME: &str = "ctrsh";

/// Whether `argv0` (the name ctrsh was run by) asks for runc's command line.
pub fn is_runtime_name(argv0: &str) -> bool {
    let name = Path::new(argv0)
        .file_name()
        .map_or_else(|| argv0.into(), |n| n.to_string_lossy());
    name != OWN_NAME
}

const USAGE: &str = "\
usage: ctrsh oci [global flags] COMMAND [flags] [arguments]
       (or runc's command line, through a link to ctrsh under another name)

global flags: --root DIR (default: ctrsh's state root), --log FILE,
  --log-format text|json, --debug, --systemd-cgroup, --criu PATH

commands:
  create [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] ID
  start ID             run [-d] [--bundle DIR] ... ID    state ID
  kill [--all] ID [SIGNAL]                               delete [--force] ID
  list [--format table|json] [-q]                        ps [--format table|json] ID [ps args]
  exec [--process F | flags] ID [COMMAND ARGS...]        pause ID    resume ID
  events [--stats] [--interval D] ID                     update [-r FILE | flags] ID
  checkpoint [--image-path D] [--work-path D] ... ID     restore [--image-path D] --bundle B ... ID
  spec [--bundle DIR] [--rootless]                       features

See docs/oci.md.";

/// What every command gets from the global flags.
pub struct Global {
    /// The state root: where containers live (the factory's root).
    pub root: PathBuf,
    /// The CRIU binary for checkpoint and restore.
    pub criu: Option<PathBuf>,
    pub systemd_cgroup: bool,
}

impl Global {
    pub fn factory(&self) -> Result<Factory, Error> {
        Factory::new(&self.root)
    }

    /// Container `id`, with runc's words when there is none.
    pub fn container(&self, id: &str) -> Result<Container, Error> {
        self.factory()?.load(id).map_err(|e| runc_words(e, id))
    }

    /// Container `id`'s summary (Factory::summary), with runc's words when
    /// there is none.
    pub fn summary(&self, id: &str) -> Result<Summary, Error> {
        self.factory()?.summary(id).map_err(|e| runc_words(e, id))
    }
}

fn runc_words(e: Error, id: &str) -> Error {
    match e.kind {
        ErrorKind::NotFound => not_found(id),
        _ => e,
    }
}

/// runc's (and so containerd's) wording for a missing container.
pub fn not_found(id: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("container \"{id}\" does not exist"),
    )
}

const GLOBAL_FLAGS: &[Flag] = &[
    value(&["root"]),
    value(&["log"]),
    value(&["log-format"]),
    switch(&["debug"]),
    switch(&["systemd-cgroup"]),
    value(&["criu"]),
    value(&["rootless"]),
    switch(&["help", "h"]),
    switch(&["version", "v"]),
];

/// Runs runc's command line `args` (without the program name); the exit
/// status.
pub fn main(args: Vec<String>) -> u8 {
    let global = match flags::parse(GLOBAL_FLAGS, &args) {
        Ok(g) => g,
        Err(e) => return usage_error(&e),
    };
    let format = match global.value("log-format").unwrap_or("text") {
        "text" => log::Format::Text,
        "json" => log::Format::Json,
        other => return usage_error(&format!("invalid log-format: {other} (text or json)")),
    };
    let log_file = match global.value("log") {
        None => None,
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Some(f),
            Err(e) => return usage_error(&format!("open the log file {path}: {e}")),
        },
    };
    log::init(log_file, format, global.is_set("debug"));
    if global.is_set("help") || global.args.is_empty() {
        println!("{USAGE}");
        return if global.args.is_empty() && !global.is_set("help") {
            2
        } else {
            0
        };
    }
    if global.is_set("version") {
        println!(
            "ctrsh version {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            crate::oci::OCI_VERSION
        );
        return 0;
    }
    let g = Global {
        root: global
            .value("root")
            .map_or_else(Factory::default_root, PathBuf::from),
        criu: global.value("criu").map(PathBuf::from),
        systemd_cgroup: global.is_set("systemd-cgroup"),
    };
    let command = global.args[0].as_str();
    let rest = &global.args[1..];
    log::debug(&format!("command: {command} {}", rest.join(" ")));
    let result = match command {
        "create" => lifecycle::create(&g, rest),
        "start" => lifecycle::start(&g, rest),
        "run" => lifecycle::run(&g, rest),
        "state" => state::state(&g, rest),
        "list" => state::list(&g, rest),
        "kill" => lifecycle::kill(&g, rest),
        "delete" => lifecycle::delete(&g, rest),
        "pause" => lifecycle::pause(&g, rest),
        "resume" => lifecycle::resume(&g, rest),
        "ps" => state::ps(&g, rest),
        "exec" => exec::exec(&g, rest),
        "events" => stats::events(&g, rest),
        "update" => update::update(&g, rest),
        "checkpoint" => checkpoint::checkpoint(&g, rest),
        "restore" => checkpoint::restore(&g, rest),
        "spec" => info::spec(rest),
        "features" => info::features(rest),
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    };
    match result {
        Ok(status) => status,
        Err(Failure::Usage(message)) => usage_error(&message),
        Err(Failure::Runtime(e)) => {
            // Logged for engines (the --log file), and shown on stderr.
            log::error(&e.message);
            if global.value("log").is_some() {
                eprintln!("ctrsh: {}", e.message);
            }
            1
        }
    }
}

fn usage_error(message: &str) -> u8 {
    log::error(message);
    eprintln!("ctrsh: {message}\n\n{USAGE}");
    2
}

/// Why a command failed: its command line, or the runtime.
pub enum Failure {
    Usage(String),
    Runtime(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Runtime(e)
    }
}

/// A command's exit status, or why it failed.
pub type Outcome = Result<u8, Failure>;

/// The flags of a command and exactly `count` arguments after them.
fn parse_args(
    command: &str,
    flags: &[Flag],
    args: &[String],
    names: &[&str],
) -> Result<(flags::Parsed, Vec<String>), Failure> {
    let parsed = flags::parse(flags, args).map_err(Failure::Usage)?;
    if parsed.args.len() < names.len() {
        return Err(Failure::Usage(format!(
            "{command}: requires {} argument{} ({})",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        )));
    }
    let positional = parsed.args.clone();
    Ok((parsed, positional))
}

/// Write `pid` to `path` as runc does: through a temporary file renamed
/// into place, so a reader never sees a partial pid.
fn write_pid_file(path: &str, pid: i32) -> Result<(), Error> {
    use crate::runtime::error::Context;
    let path = crate::oci::absolute(Path::new(path))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, pid.to_string()).ctx(format_args!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).ctx(format_args!("write the pid file {}", path.display()))
}
