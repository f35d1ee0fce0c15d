//! `ctrsh network create|list|inspect|remove`: bridge networks without a
//! script.

use crate::runtime::network::{Ipv6Choice, NetworkOptions, Networks};
use crate::runtime::{Factory, Result};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: ctrsh network [--root DIR] COMMAND
  create [--subnet CIDR] [--gateway IP] [--ipv6[=CIDR]] [--mtu N] NAME
                         make the bridge network NAME (also its bridge's name)
  list                   the networks: name and subnets
  inspect NAME           the network as JSON, with its containers
  remove NAME            remove a network no container is on

The state root is /run/ctrsh (for root) unless --root names another.
Networks are described in docs/networks.md.";

/// Runs `ctrsh network ARGS`; returns the exit status.
pub fn main(args: Vec<String>) -> u8 {
    match parse(args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(command) => match run(command) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ctrsh network: {e}");
                1
            }
        },
        Err(message) => {
            eprintln!("ctrsh network: {message}\n\n{USAGE}");
            2
        }
    }
}

#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Create {
        root: PathBuf,
        name: String,
        options: NetworkOptions,
    },
    List {
        root: PathBuf,
    },
    Inspect {
        root: PathBuf,
        name: String,
    },
    Remove {
        root: PathBuf,
        name: String,
    },
}

fn parse(args: Vec<String>) -> std::result::Result<Command, String> {
    let mut root = None;
    let mut options = NetworkOptions::default();
    let mut given_options = false;
    let mut words = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--subnet" => options.subnet = Some(parsed("--subnet", value("--subnet")?)?),
            "--gateway" => options.gateway = Some(parsed("--gateway", value("--gateway")?)?),
            "--mtu" => options.mtu = Some(parsed("--mtu", value("--mtu")?)?),
            "--ipv6" => {
                options.ipv6 = Some(match inline {
                    Some(text) => Ipv6Choice::Subnet(parsed("--ipv6", text)?),
                    None => Ipv6Choice::On(true),
                })
            }
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            _ => {
                words.push(arg);
                continue;
            }
        }
        given_options |= !matches!(flag.as_str(), "--root");
    }
    let root = root.unwrap_or_else(Factory::default_root);
    let Some((verb, rest)) = words.split_first() else {
        return Err("a command is missing".into());
    };
    if given_options && verb != "create" {
        return Err(format!("{verb} takes no network options"));
    }
    let name = || match rest {
        [only] => Ok(only.clone()),
        _ => Err(format!("{verb} takes one network name")),
    };
    Ok(match verb.as_str() {
        "create" => Command::Create {
            root,
            name: name()?,
            options,
        },
        "list" if rest.is_empty() => Command::List { root },
        "list" => return Err("list takes no arguments".into()),
        "inspect" => Command::Inspect {
            root,
            name: name()?,
        },
        "remove" | "rm" => Command::Remove {
            root,
            name: name()?,
        },
        other => return Err(format!("unknown command {other}")),
    })
}

/// `text`, the value of `flag`, as a `T`.
fn parsed<T: std::str::FromStr>(flag: &str, text: String) -> std::result::Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{flag}: '{text}': {e}"))
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Help => Ok(()),
        Command::Create {
            root,
            name,
            options,
        } => {
            let net = Networks::new(&root).create(&name, &options.spec(&name)?)?;
            println!("{}", subnets(&net));
            Ok(())
        }
        Command::List { root } => {
            let networks = Networks::new(&root);
            for name in networks.list()? {
                println!("{name}\t{}", subnets(&networks.get(&name)?));
            }
            Ok(())
        }
        Command::Inspect { root, name } => {
            let info = Networks::new(&root).inspect(&name)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&info).expect("serialises")
            );
            Ok(())
        }
        Command::Remove { root, name } => Networks::new(&root).remove(&name),
    }
}

fn subnets(net: &crate::runtime::network::Network) -> String {
    net.subnets
        .iter()
        .map(|s| s.subnet.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn create_takes_the_options() {
        let Ok(Command::Create { root, name, options }) = parse(args(
            "--root /tmp/r create --subnet 10.88.0.0/16 --gateway=10.88.0.254 --ipv6 --mtu 1400 web",
        )) else {
            panic!("not a create");
        };
        assert_eq!((root, name), (PathBuf::from("/tmp/r"), "web".to_string()));
        assert_eq!(options.subnet.unwrap().to_string(), "10.88.0.0/16");
        assert_eq!(options.gateway.unwrap().to_string(), "10.88.0.254");
        assert_eq!(options.ipv6, Some(Ipv6Choice::On(true)));
        assert_eq!(options.mtu, Some(1400));
        let Ok(Command::Create { options, .. }) = parse(args("create --ipv6=fd88::/64 web")) else {
            panic!("not a create");
        };
        assert_eq!(
            options.ipv6,
            Some(Ipv6Choice::Subnet("fd88::/64".parse().unwrap()))
        );
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        let err = |line: &str| parse(args(line)).unwrap_err();
        assert_eq!(err(""), "a command is missing");
        assert_eq!(err("create"), "create takes one network name");
        assert_eq!(err("inspect a b"), "inspect takes one network name");
        assert_eq!(err("list --mtu 1400"), "list takes no network options");
        assert_eq!(
            err("create --subnet 10.88.0.0 web"),
            "--subnet: '10.88.0.0': invalid IP address syntax"
        );
        assert_eq!(err("create --mtu"), "--mtu needs a value");
        assert_eq!(err("frobnicate"), "unknown command frobnicate");
        assert_eq!(err("list --bogus"), "unknown option --bogus");
        assert_eq!(parse(args("list --help")), Ok(Command::Help));
    }
}
