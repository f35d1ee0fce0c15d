//! The `ctrsh` command: run a script (file, `-e`, stdin), the OCI runtime's
//! command line (`ctrsh oci ...`, or runc's when run under another name),
//! a family of verbs for people (cli/), or the hidden `ctrsh init` that a
//! container's init process re-executes into.

use ctrsh::cli::{self, signals};
use ctrsh::oci::cli as oci;
use ctrsh::runtime::{describe_io, trace_from_env, trace_step};
use ctrsh::script::{self, interrupt, made, Ending};
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

const USAGE: &str = "\
ctrsh: a container runtime you drive from Rhai scripts

usage:
  ctrsh SCRIPT [ARGS...]     run SCRIPT; ARGS are in the script's ARGS array
  ctrsh -e CODE [ARGS...]    run CODE
  ctrsh - [ARGS...]          run the script read from standard input
  ctrsh                      the interactive prompt on a terminal; otherwise
                             run the script read from standard input
  ctrsh -i [ARGS...]         the interactive prompt, even without a terminal
  ctrsh ls                   a state root's containers and their states
  ctrsh rm ID... | --all     destroy containers
  ctrsh shell ID [CMD...]    a shell (or CMD) in a running container
  ctrsh sandbox CMD...       CMD in a throwaway container
                             (ctrsh ls --help: the options of these four)
  ctrsh image COMMAND        pull, import, list, remove, prune, tag images
                             (ctrsh image --help)
  ctrsh network COMMAND      create, list, inspect, remove bridge networks
                             (ctrsh network --help)
  ctrsh oci COMMAND ...      the OCI runtime (runc's command line); ctrsh
                             run under any name but ctrsh is one too
  ctrsh --help | --version

A script whose name is a command (ls, image, oci, ...) is run as ./ls.
A script may start with `#!/usr/bin/env ctrsh`. The exit status is the
script's exit(n), 0 when it runs to the end, 1 when it fails (with
file:line:column: message on standard error), 130 when interrupted.
The script API is described in docs/api.md, the OCI runtime in docs/oci.md.";

/// Exit status for a command line ctrsh cannot use.
const USAGE_ERROR: u8 = 2;

/// Where the script comes from, and the name its errors are reported under.
enum Source {
    File(String),
    Inline(String),
    Stdin,
}

enum Command {
    Help,
    Version,
    Init,
    /// `ctrsh ls|rm|shell|sandbox ...`: containers' one-liners.
    Containers(String, Vec<String>),
    /// `ctrsh image ...`: the image store's one-liners.
    Image(Vec<String>),
    /// `ctrsh network ...`: the networks' one-liners.
    Network(Vec<String>),
    /// runc's command line, after `oci`.
    Oci(Vec<String>),
    Run {
        source: Source,
        args: Vec<String>,
    },
    /// The REPL: no script and a terminal on stdin, or `-i`.
    Interactive {
        args: Vec<String>,
    },
}

fn parse(mut argv: Vec<String>) -> Result<Command, String> {
    if argv.is_empty() {
        return Ok(if std::io::stdin().is_terminal() {
            Command::Interactive { args: vec![] }
        } else {
            Command::Run {
                source: Source::Stdin,
                args: vec![],
            }
        });
    }
    let first = argv.remove(0);
    let run = |source, args| Ok(Command::Run { source, args });
    match first.as_str() {
        "-h" | "--help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "init" => Ok(Command::Init),
        verb if cli::containers::VERBS.contains(&verb) => Ok(Command::Containers(first, argv)),
        "image" => Ok(Command::Image(argv)),
        "network" => Ok(Command::Network(argv)),
        "oci" => Ok(Command::Oci(argv)),
        "-i" | "--interactive" => Ok(Command::Interactive { args: argv }),
        "-e" if argv.is_empty() => Err("-e needs the code to run".into()),
        "-e" => {
            let code = argv.remove(0);
            run(Source::Inline(code), argv)
        }
        "-" => run(Source::Stdin, argv),
        "--" if argv.is_empty() => Err("-- needs a script path".into()),
        "--" => {
            let path = argv.remove(0);
            run(Source::File(path), argv)
        }
        option if option.starts_with('-') => Err(format!("unknown option {option}")),
        _ => run(Source::File(first), argv),
    }
}

/// The script's name (for error positions) and its text.
fn read(source: Source) -> Result<(String, String), String> {
    match source {
        Source::File(path) => std::fs::read_to_string(&path)
            .map(|code| (path.clone(), code))
            .map_err(|e| format!("cannot read {path}: {}", describe_io(&e))),
        Source::Inline(code) => Ok(("-e".into(), code)),
        Source::Stdin => {
            let mut code = String::new();
            std::io::stdin()
                .read_to_string(&mut code)
                .map_err(|e| format!("cannot read the script from stdin: {}", describe_io(&e)))?;
            Ok(("<stdin>".into(), code))
        }
    }
}

fn run(source: Source, args: Vec<String>) -> u8 {
    let (name, code) = match read(source) {
        Ok(script) => script,
        Err(message) => {
            eprintln!("ctrsh: {message}");
            return 1;
        }
    };
    signals::install();
    let engine = script::engine(args);
    trace_step("script: engine ready");
    let ending = script::run_script(&engine, &name, &code);
    trace_step("script: ended");
    match &ending {
        Ending::Failed(message) => eprintln!("{message}"),
        Ending::Interrupted(sig) => eprintln!("{name}: interrupted by {}", interrupt::name(*sig)),
        Ending::Finished | Ending::Exit(_) => {}
    }
    for failure in made::end().failed {
        eprintln!("ctrsh: {failure}");
    }
    // Exit statuses are 0-255; exit() already refuses anything else.
    u8::try_from(ending.status()).unwrap_or(1)
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = match std::env::args_os().map(|a| a.into_string()).collect() {
        Ok(argv) => argv,
        Err(a) => {
            eprintln!("ctrsh: argument {a:?} is not valid UTF-8");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let argv0 = if argv.is_empty() {
        String::new()
    } else {
        argv.remove(0)
    };
    // Under another name (a link an engine runs as its runtime), runc's
    // command line; the init's argv[0] is "ctrsh".
    let command = if oci::is_runtime_name(&argv0) {
        Ok(Command::Oci(argv))
    } else {
        parse(argv)
    };
    if !matches!(command, Ok(Command::Init)) {
        trace_from_env();
        trace_step("main: started");
    }
    let status = match command {
        Ok(Command::Init) => ctrsh::runtime::init_main(),
        Ok(Command::Containers(verb, args)) => cli::containers::main(&verb, args),
        Ok(Command::Image(args)) => cli::image::main(args),
        Ok(Command::Network(args)) => cli::network::main(args),
        Ok(Command::Oci(args)) => oci::main(args),
        Ok(Command::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(Command::Version) => {
            println!("ctrsh {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Command::Interactive { args }) => {
            signals::install();
            // The REPL's own exit(n) is limited to 0-255 like a script's.
            u8::try_from(ctrsh::repl::run(script::engine(args))).unwrap_or(1)
        }
        Ok(Command::Run { source, args }) => run(source, args),
        Err(message) => {
            eprintln!("ctrsh: {message}\n\n{USAGE}");
            USAGE_ERROR
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(status)
}
