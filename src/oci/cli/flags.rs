//! runc's flag syntax (Go's flag package, as urfave/cli uses it): `-f`,
//! `--flag`, `-flag`, `--flag value`, `--flag=value`; a boolean flag takes
//! no value (`--detach`, `--detach=false`); flags stop at the first
//! argument that is not one, or at `--`.

use std::collections::BTreeMap;

/// A flag a command accepts: its names without dashes (the first is the
/// one it is looked up by) and whether it takes a value.
#[derive(Clone, Copy)]
pub struct Flag {
    pub names: &'static [&'static str],
    pub takes_value: bool,
}

/// A flag that takes a value.
pub const fn value(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        takes_value: true,
    }
}

/// A boolean flag.
pub const fn switch(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        takes_value: false,
    }
}

/// The flags given (by their first name) and the arguments after them.
#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    pub args: Vec<String>,
}

impl Parsed {
    /// The last value given for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name)?.last().map(String::as_str)
    }

    /// Every value given for a flag that may repeat (`--env A=1 --env B=2`).
    pub fn values(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether a boolean flag is set (its last `=true`/`=false` wins).
    pub fn is_set(&self, name: &str) -> bool {
        self.value(name).is_some_and(|v| v == "true")
    }

    /// An integer flag, or `default`.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("invalid value {v:?} for flag -{name}: not a number")),
        }
    }
}

pub fn parse(flags: &[Flag], args: &[String]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(spelled) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            i -= 1;
            break;
        };
        if spelled.is_empty() || spelled.starts_with('-') {
            i -= 1;
            break;
        }
        let (name, inline) = match spelled.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (spelled, None),
        };
        let flag = flags
            .iter()
            .find(|f| f.names.contains(&name))
            .ok_or_else(|| format!("flag provided but not defined: -{name}"))?;
        let value = match (flag.takes_value, inline) {
            (true, Some(v)) => v,
            (true, None) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| format!("flag needs an argument: -{name}"))?;
                i += 1;
                v.clone()
            }
            (false, Some(v)) if v == "true" || v == "false" => v,
            (false, Some(v)) => {
                return Err(format!(
                    "invalid boolean value {v:?} for -{name}: use true or false"
                ))
            }
            (false, None) => "true".into(),
        };
        parsed.values.entry(flag.names[0]).or_default().push(value);
    }
    parsed.args = args[i..].to_vec();
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        value(&["bundle", "b"]),
        switch(&["detach", "d"]),
        value(&["env", "e"]),
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn runc_spellings() {
        let p = parse(
            FLAGS,
            &args(&["-b", "/x", "--detach", "-env=A=1", "--e", "B=2", "id", "-d"]),
        )
        .unwrap();
        assert_eq!(p.value("bundle"), Some("/x"));
        assert!(p.is_set("detach"));
        assert_eq!(p.values("env"), ["A=1", "B=2"]);
        // Flags end at the first argument: "-d" belongs to the command run.
        assert_eq!(p.args, ["id", "-d"]);
        let p = parse(FLAGS, &args(&["--detach=false", "--", "-b"])).unwrap();
        assert!(!p.is_set("detach"));
        assert_eq!(p.args, ["-b"]);
    }

    #[test]
    fn errors_name_the_flag() {
        let e = parse(FLAGS, &args(&["--bundel", "x"])).unwrap_err();
        assert_eq!(e, "flag provided but not defined: -bundel");
        let e = parse(FLAGS, &args(&["--bundle"])).unwrap_err();
        assert_eq!(e, "flag needs an argument: -bundle");
        assert!(parse(FLAGS, &args(&["-d=yes"])).is_err());
    }
}
