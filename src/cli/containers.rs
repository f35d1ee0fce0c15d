//! `ctrsh ls|rm|shell|sandbox`: a state root's containers without a
//! script. The verbs differ from runc's (create, start, state, kill,
//! delete, list, ps, exec, run, ...), which `ctrsh oci` speaks.

use crate::runtime::{Factory, Result};
use crate::script::{self, made};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage:
  ctrsh ls [--root DIR]                 the containers: id, state, pid
  ctrsh rm [--root DIR] ID...           destroy containers: processes, cgroups, state
  ctrsh rm [--root DIR] --all           destroy every container of the root
  ctrsh shell [--root DIR] ID [CMD [ARG...]]
                                        an interactive sh (or CMD) beside a running
                                        container's workload; its exit status
  ctrsh sandbox [--root DIR] [--rootfs DIR] CMD [ARG...]
                                        CMD in a throwaway container, hardened as
                                        the stdlib's sandbox::config (docs/stdlib.md),
                                        destroyed when CMD ends or ctrsh is interrupted

The state root is /run/ctrsh (for root) unless --root names another. The
sandbox's rootfs is the stdlib's busybox rootfs (rootfs::cached()) unless
--rootfs names another.";

/// The verbs this module runs.
pub const VERBS: [&str; 4] = ["ls", "rm", "shell", "sandbox"];

#[derive(Debug, PartialEq)]
enum Command {
    Help,
    List {
        root: PathBuf,
    },
    Remove {
        root: PathBuf,
        ids: Vec<String>,
    },
    RemoveAll {
        root: PathBuf,
    },
    Shell {
        root: PathBuf,
        id: String,
        args: Vec<String>,
    },
    Sandbox {
        root: PathBuf,
        rootfs: Option<PathBuf>,
        args: Vec<String>,
    },
}

/// Runs `ctrsh VERB ARGS`; returns the exit status.
pub fn main(verb: &str, args: Vec<String>) -> u8 {
    match parse(verb, args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(command) => match run(command) {
            Ok(status) => status,
            Err(e) => {
                eprintln!("ctrsh {verb}: {e}");
                1
            }
        },
        Err(message) => {
            eprintln!("ctrsh {verb}: {message}\n\n{USAGE}");
            2
        }
    }
}

fn parse(verb: &str, args: Vec<String>) -> std::result::Result<Command, String> {
    let mut root = None;
    let mut rootfs = None;
    let mut all = false;
    let mut args = args.into_iter().peekable();
    // Options come first: what follows a shell's id or a sandbox's command
    // is the command's own.
    while let Some(option) = args.next_if(|a| a.starts_with('-')) {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match option.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--rootfs" if verb == "sandbox" => rootfs = Some(PathBuf::from(value("--rootfs")?)),
            "--all" if verb == "rm" => all = true,
            "--" => break,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let root = root.unwrap_or_else(Factory::default_root);
    let words: Vec<String> = args.collect();
    Ok(match verb {
        "ls" if words.is_empty() => Command::List { root },
        "ls" => return Err("ls takes no arguments".into()),
        "rm" if all && words.is_empty() => Command::RemoveAll { root },
        "rm" if all => return Err("rm --all takes no ids".into()),
        "rm" if words.is_empty() => return Err("rm takes one or more ids, or --all".into()),
        "rm" => Command::Remove { root, ids: words },
        "shell" => match words.split_first() {
            Some((id, args)) => Command::Shell {
                root,
                id: id.clone(),
                args: args.to_vec(),
            },
            None => return Err("shell takes a container id".into()),
        },
        "sandbox" if words.is_empty() => return Err("sandbox takes the command to run".into()),
        "sandbox" => Command::Sandbox {
            root,
            rootfs,
            args: words,
        },
        other => return Err(format!("unknown command {other}")),
    })
}

fn run(command: Command) -> Result<u8> {
    match command {
        Command::Help => {}
        Command::List { root } => {
            let f = Factory::new(root)?;
            let rows: Vec<[String; 3]> = f
                .list()?
                .into_iter()
                .map(|id| {
                    let c = f.load(&id);
                    let state = c.as_ref().map_or("?".into(), |c| {
                        c.status().map_or_else(|e| e.to_string(), |s| s.to_string())
                    });
                    let pid = c
                        .ok()
                        .and_then(|c| c.pid())
                        .map_or("-".into(), |p| p.to_string());
                    [id, state, pid]
                })
                .collect();
            let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(2);
            println!("{:width$}  {:9}  PID", "ID", "STATE");
            for [id, state, pid] in rows {
                println!("{id:width$}  {state:9}  {pid}");
            }
        }
        Command::Remove { root, ids } => {
            let f = Factory::new(root)?;
            for id in ids {
                f.load(&id)?.destroy()?;
                println!("removed {id}");
            }
        }
        Command::RemoveAll { root } => {
            let f = Factory::new(root)?;
            for id in f.list()? {
                f.load(&id)?.destroy()?;
                println!("removed {id}");
            }
        }
        Command::Shell { root, id, args } => {
            let code = Factory::new(root)?.load(&id)?.shell(args)?;
            return Ok(u8::try_from(code).unwrap_or(1));
        }
        Command::Sandbox { root, rootfs, args } => return Ok(sandbox(root, rootfs, args)),
    }
    Ok(0)
}

/// `args` in a throwaway container made from the stdlib's sandbox config:
/// a script, so that the container goes however ctrsh ends.
fn sandbox(root: PathBuf, rootfs: Option<PathBuf>, args: Vec<String>) -> u8 {
    let literal = |p: PathBuf| serde_json::to_string(&p.display().to_string()).expect("a string");
    let rootfs = rootfs.map_or("rootfs::cached()".into(), literal);
    let code = format!(
        r#"import "rootfs" as rootfs;
import "sandbox" as sandbox;
let f = factory({root});
let c = f.throwaway(unique_name("sandbox"), sandbox::config({rootfs}));
let p = process(#{{ args: ARGS, env: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"], terminal: {terminal} }});
c.start(p);
exit(p.wait());
"#,
        root = literal(root),
        terminal = std::io::IsTerminal::is_terminal(&std::io::stdin()),
    );
    super::signals::install();
    let ending = script::run_script(&script::engine(args), "ctrsh sandbox", &code);
    if let script::Ending::Failed(message) = &ending {
        eprintln!("{message}");
    }
    for failure in made::end().failed {
        eprintln!("ctrsh sandbox: {failure}");
    }
    u8::try_from(ending.status()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(verb: &str, line: &str) -> std::result::Result<Command, String> {
        parse(verb, line.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn verbs_parse() {
        let root = PathBuf::from("/r");
        assert_eq!(
            parsed("ls", "--root /r"),
            Ok(Command::List { root: root.clone() })
        );
        assert_eq!(
            parsed("rm", "--root /r a b"),
            Ok(Command::Remove {
                root: root.clone(),
                ids: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(
            parsed("rm", "--all --root /r"),
            Ok(Command::RemoveAll { root: root.clone() })
        );
        assert_eq!(
            parsed("shell", "--root /r web ls -l"),
            Ok(Command::Shell {
                root: root.clone(),
                id: "web".into(),
                args: vec!["ls".into(), "-l".into()]
            })
        );
        assert_eq!(
            parsed("sandbox", "--root /r --rootfs /fs -- sh -c x"),
            Ok(Command::Sandbox {
                root,
                rootfs: Some("/fs".into()),
                args: vec!["sh".into(), "-c".into(), "x".into()]
            })
        );
        assert_eq!(parsed("ls", "--help"), Ok(Command::Help));
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        assert_eq!(parsed("ls", "x"), Err("ls takes no arguments".into()));
        assert_eq!(
            parsed("rm", ""),
            Err("rm takes one or more ids, or --all".into())
        );
        assert_eq!(parsed("rm", "--all x"), Err("rm --all takes no ids".into()));
        assert_eq!(
            parsed("shell", ""),
            Err("shell takes a container id".into())
        );
        assert_eq!(parsed("ls", "--all"), Err("unknown option --all".into()));
        assert_eq!(parsed("ls", "--root"), Err("--root needs a value".into()));
    }
}
