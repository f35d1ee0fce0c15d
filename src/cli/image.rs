//! `ctrsh image pull|import|list|remove|prune|tag`: the image store without
//! a script.

use crate::runtime::image::{self, human_size, Platform, Progress, PullOptions, Store};
use crate::runtime::Result;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub const USAGE: &str = "\
usage: ctrsh image [--store DIR] COMMAND
  pull [--platform OS/ARCH[/VARIANT]] [--insecure-registry HOST[:PORT]]... REF
                         pull REF (e.g. alpine:3.20, 127.0.0.1:5000/app:1)
  import [--name NAME] [--platform OS/ARCH] PATH
                         import an OCI layout (directory or tar) or a
                         `docker save` archive
  list                   the images: name, id, size
  remove NAME...         remove names (or ids), then what no image needs
  prune                  remove what no image needs, and partial downloads
  tag SOURCE NAME        give image SOURCE the name NAME too

The store is /var/lib/ctrsh/images unless --store names another.
Images are described in docs/images.md.";

/// Runs `ctrsh image ARGS`; returns the exit status.
pub fn main(args: Vec<String>) -> u8 {
    match parse(args) {
        Ok(command) => match run(command) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ctrsh image: {e}");
                1
            }
        },
        Err(message) => {
            eprintln!("ctrsh image: {message}\n\n{USAGE}");
            2
        }
    }
}

#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Pull {
        store: PathBuf,
        reference: String,
        options: PullOptions,
    },
    Import {
        store: PathBuf,
        path: PathBuf,
        name: Option<String>,
        platform: Option<Platform>,
    },
    List {
        store: PathBuf,
    },
    Remove {
        store: PathBuf,
        names: Vec<String>,
    },
    Prune {
        store: PathBuf,
    },
    Tag {
        store: PathBuf,
        source: String,
        target: String,
    },
}

fn parse(args: Vec<String>) -> std::result::Result<Command, String> {
    let mut store = None;
    let mut platform = None;
    let mut insecure = Vec::new();
    let mut name = None;
    let mut words = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--store" => store = Some(PathBuf::from(value("--store")?)),
            "--platform" => {
                platform = Some(Platform::parse(&value("--platform")?).map_err(|e| e.message)?)
            }
            "--insecure-registry" => insecure.push(value("--insecure-registry")?),
            "--name" => name = Some(value("--name")?),
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            _ => words.push(arg),
        }
    }
    let store = store.unwrap_or_else(Store::default_root);
    let Some((verb, rest)) = words.split_first() else {
        return Err("a command is missing".into());
    };
    let one = |what: &str| match rest {
        [only] => Ok(only.clone()),
        _ => Err(format!("{verb} takes one {what}")),
    };
    let misplaced = |flag: &str, given: bool| {
        if given {
            Err(format!("{flag} does not go with {verb}"))
        } else {
            Ok(())
        }
    };
    if verb != "pull" {
        misplaced("--insecure-registry", !insecure.is_empty())?;
    }
    if verb != "import" {
        misplaced("--name", name.is_some())?;
    }
    if verb != "pull" && verb != "import" {
        misplaced("--platform", platform.is_some())?;
    }
    Ok(match verb.as_str() {
        "pull" => Command::Pull {
            store,
            reference: one("reference")?,
            options: PullOptions { platform, insecure },
        },
        "import" => Command::Import {
            store,
            path: one("path")?.into(),
            name,
            platform,
        },
        "list" | "ls" if rest.is_empty() => Command::List { store },
        "remove" | "rm" if !rest.is_empty() => Command::Remove {
            store,
            names: rest.to_vec(),
        },
        "prune" if rest.is_empty() => Command::Prune { store },
        "tag" => match rest {
            [source, target] => Command::Tag {
                store,
                source: source.clone(),
                target: target.clone(),
            },
            _ => return Err("tag takes a source and a name".into()),
        },
        "list" | "ls" | "prune" => return Err(format!("{verb} takes no arguments")),
        "remove" | "rm" => return Err("remove takes one or more names".into()),
        other => return Err(format!("unknown command '{other}'")),
    })
}

fn run(command: Command) -> Result<()> {
    let progress = || Progress::new(std::io::stderr().is_terminal());
    match command {
        Command::Help => println!("{USAGE}"),
        Command::Pull {
            store,
            reference,
            options,
        } => {
            let image = image::pull(&Store::open(store)?, &reference, &options, &progress())?;
            println!("pulled {}", image.summary());
        }
        Command::Import {
            store,
            path,
            name,
            platform,
        } => {
            let store = Store::open(store)?;
            for image in image::import(
                &store,
                Path::new(&path),
                name.as_deref(),
                platform.as_ref(),
                &progress(),
            )? {
                println!("imported {}", image.summary());
            }
        }
        Command::List { store } => {
            let images = Store::open(store)?.list()?;
            let width = images
                .iter()
                .map(|i| i.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!("{:width$}  {:12}  SIZE", "NAME", "ID");
            for image in images {
                println!(
                    "{:width$}  {}  {}",
                    image.name,
                    image.id.short(),
                    human_size(image.size)
                );
            }
        }
        Command::Remove { store, names } => {
            let store = Store::open(store)?;
            for name in names {
                let pruned = store.remove(&name)?;
                println!("removed {name} ({} layers freed)", pruned.layers);
            }
        }
        Command::Prune { store } => {
            let pruned = Store::open(store)?.prune()?;
            println!(
                "pruned {} layers, {} blobs, {} partial downloads",
                pruned.layers, pruned.blobs, pruned.partial
            );
        }
        Command::Tag {
            store,
            source,
            target,
        } => {
            let image = Store::open(store)?.tag(&source, &target)?;
            println!("tagged {}", image.summary());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse(args(
                "--store /s pull --platform linux/arm64 --insecure-registry r:5 a:1"
            )),
            Ok(Command::Pull {
                store: "/s".into(),
                reference: "a:1".into(),
                options: PullOptions {
                    platform: Some(Platform::parse("linux/arm64").unwrap()),
                    insecure: vec!["r:5".into()],
                },
            })
        );
        assert_eq!(
            parse(args("tag a b --store /s")),
            Ok(Command::Tag {
                store: "/s".into(),
                source: "a".into(),
                target: "b".into()
            })
        );
        for (bad, says) in [
            ("", "a command is missing"),
            ("pull", "pull takes one reference"),
            ("list x", "list takes no arguments"),
            ("remove", "one or more names"),
            ("prune --name x", "--name does not go with prune"),
            ("frob", "unknown command 'frob'"),
            ("pull --store", "--store needs a value"),
        ] {
            let err = parse(args(bad)).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
