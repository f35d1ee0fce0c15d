//! mount(8)-style option lists ("ro", "nosuid", "rbind", "size=64m") turned
//! into mount(2) flags, propagation flags and the filesystem data string.

use crate::runtime::suggest;
use libc::c_ulong;
use serde::{Deserialize, Serialize};

/// What an option list asks of mount(2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountOptions {
    /// MS_* flags to set. MS_BIND and MS_REC are not among them (see `bind`
    /// and `recursive`), so for a bind mount these are exactly the flags its
    /// remount has to apply, and empty when no remount is needed.
    pub flags: c_ulong,
    /// MS_* flags explicitly cleared ("rw" clears MS_RDONLY, "suid" clears
    /// MS_NOSUID ...): on a remount or bind remount these must be dropped
    /// from the flags the mount already has.
    pub clear: c_ulong,
    /// MS_PRIVATE / MS_SHARED / MS_SLAVE / MS_UNBINDABLE, with MS_REC for the
    /// r-prefixed forms; 0 when no propagation was asked for. Propagation
    /// needs its own mount(2) call after the mount itself.
    pub propagation: c_ulong,
    /// "bind" or "rbind" was given.
    pub bind: bool,
    /// "rbind" was given: bind the whole subtree.
    pub recursive: bool,
    /// Filesystem-specific options joined by ',' ("size=64m,mode=755").
    pub data: String,
}

/// What a flag option does: set or clear an MS_* flag.
#[derive(Clone, Copy)]
enum Effect {
    Set(c_ulong),
    Clear(c_ulong),
}

/// mount(8)'s flag options. "bind"/"rbind" and the propagation names are
/// handled apart because they fill other fields too.
const FLAG_OPTIONS: [(&str, Effect); 22] = {
    use Effect::{Clear, Set};
    [
        ("ro", Set(libc::MS_RDONLY)),
        ("rw", Clear(libc::MS_RDONLY)),
        ("nosuid", Set(libc::MS_NOSUID)),
        ("suid", Clear(libc::MS_NOSUID)),
        ("nodev", Set(libc::MS_NODEV)),
        ("dev", Clear(libc::MS_NODEV)),
        ("noexec", Set(libc::MS_NOEXEC)),
        ("exec", Clear(libc::MS_NOEXEC)),
        ("sync", Set(libc::MS_SYNCHRONOUS)),
        ("async", Clear(libc::MS_SYNCHRONOUS)),
        ("remount", Set(libc::MS_REMOUNT)),
        ("mand", Set(libc::MS_MANDLOCK)),
        ("nomand", Clear(libc::MS_MANDLOCK)),
        ("dirsync", Set(libc::MS_DIRSYNC)),
        ("noatime", Set(libc::MS_NOATIME)),
        ("atime", Clear(libc::MS_NOATIME)),
        ("nodiratime", Set(libc::MS_NODIRATIME)),
        ("diratime", Clear(libc::MS_NODIRATIME)),
        ("relatime", Set(libc::MS_RELATIME)),
        ("norelatime", Clear(libc::MS_RELATIME)),
        ("strictatime", Set(libc::MS_STRICTATIME)),
        ("nostrictatime", Clear(libc::MS_STRICTATIME)),
    ]
};

/// Propagation names, as mount options or as a mount's `propagation`.
const PROPAGATIONS: [(&str, c_ulong); 8] = [
    ("private", libc::MS_PRIVATE),
    ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
    ("shared", libc::MS_SHARED),
    ("rshared", libc::MS_SHARED | libc::MS_REC),
    ("slave", libc::MS_SLAVE),
    ("rslave", libc::MS_SLAVE | libc::MS_REC),
    ("unbindable", libc::MS_UNBINDABLE),
    ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
];

/// Filesystem options without '=' that are passed to the filesystem as data:
/// devpts' "newinstance" and overlay's "userxattr". Anything with '=' is data
/// as well ("mode=755", "size=64m", "ptmxmode=0666", "gid=5", "nr_inodes=1k").
const BARE_DATA_OPTIONS: [&str; 2] = ["newinstance", "userxattr"];

/// Every option `parse` knows by name (besides "key=value" data).
pub fn known() -> Vec<&'static str> {
    let flags = FLAG_OPTIONS.iter().map(|(name, _)| *name);
    let propagations = PROPAGATIONS.iter().map(|(name, _)| *name);
    flags
        .chain(["bind", "rbind"])
        .chain(propagations)
        .chain(BARE_DATA_OPTIONS)
        .collect()
}

/// Parse a mount's `options` and its `propagation` (which, when given, wins
/// over a propagation name in the options). Later options override earlier
/// ones, as with mount(8): ["ro", "rw"] is read-write. The error names the
/// unknown option.
pub fn parse(options: &[String], propagation: Option<&str>) -> Result<MountOptions, String> {
    let mut parsed = MountOptions::default();
    for option in options {
        let option = option.as_str();
        if let Some(&(_, effect)) = FLAG_OPTIONS.iter().find(|(name, _)| *name == option) {
            match effect {
                Effect::Set(flag) => {
                    parsed.flags |= flag;
                    parsed.clear &= !flag;
                }
                Effect::Clear(flag) => {
                    parsed.clear |= flag;
                    parsed.flags &= !flag;
                }
            }
        } else if option == "bind" || option == "rbind" {
            parsed.bind = true;
            parsed.recursive |= option == "rbind";
        } else if let Ok(flags) = parse_propagation(option) {
            parsed.propagation = flags;
        } else if option.contains('=') || BARE_DATA_OPTIONS.contains(&option) {
            if !parsed.data.is_empty() {
                parsed.data.push(',');
            }
            parsed.data.push_str(option);
        } else {
            return Err(unknown_option(option));
        }
    }
    if let Some(name) = propagation {
        parsed.propagation = parse_propagation(name)?;
    }
    Ok(parsed)
}

/// MS_* flags of a propagation name ("rslave" is MS_SLAVE | MS_REC).
pub fn parse_propagation(name: &str) -> Result<c_ulong, String> {
    PROPAGATIONS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|&(_, flags)| flags)
        .ok_or_else(|| {
            let names: Vec<&str> = PROPAGATIONS.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown propagation '{name}'{} (known: {})",
                suggest::did_you_mean(name, &names),
                names.join(", ")
            )
        })
}

fn unknown_option(option: &str) -> String {
    if option.is_empty() {
        return "empty mount option".to_string();
    }
    let known: Vec<&str> = FLAG_OPTIONS
        .iter()
        .map(|(name, _)| *name)
        .chain(["bind", "rbind"])
        .chain(PROPAGATIONS.iter().map(|(name, _)| *name))
        .chain(BARE_DATA_OPTIONS)
        .collect();
    format!(
        "unknown mount option '{option}'{}",
        suggest::did_you_mean(option, &known)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_list_is_all_zero() {
        assert_eq!(parse(&[], None).unwrap(), MountOptions::default());
    }

    #[test]
    fn flag_options_set_and_clear() {
        let o = parse(
            &opts(&["ro", "nosuid", "nodev", "noexec", "strictatime"]),
            None,
        )
        .unwrap();
        assert_eq!(
            o.flags,
            libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC
                | libc::MS_STRICTATIME
        );
        assert_eq!(o.clear, 0);
        let o = parse(&opts(&["rw", "suid", "dev", "exec", "atime"]), None).unwrap();
        assert_eq!(o.flags, 0);
        assert_eq!(
            o.clear,
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_NOATIME
        );
    }

    #[test]
    fn every_flag_option_is_known() {
        for (name, _) in FLAG_OPTIONS {
            assert!(parse(&opts(&[name]), None).is_ok(), "{name}");
        }
        let o = parse(
            &opts(&[
                "remount",
                "sync",
                "mand",
                "dirsync",
                "noatime",
                "nodiratime",
                "relatime",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            o.flags,
            libc::MS_REMOUNT
                | libc::MS_SYNCHRONOUS
                | libc::MS_MANDLOCK
                | libc::MS_DIRSYNC
                | libc::MS_NOATIME
                | libc::MS_NODIRATIME
                | libc::MS_RELATIME
        );
        let o = parse(
            &opts(&["async", "nomand", "diratime", "norelatime", "nostrictatime"]),
            None,
        )
        .unwrap();
        assert_eq!(
            o.clear,
            libc::MS_SYNCHRONOUS
                | libc::MS_MANDLOCK
                | libc::MS_NODIRATIME
                | libc::MS_RELATIME
                | libc::MS_STRICTATIME
        );
    }

    #[test]
    fn later_options_win() {
        let o = parse(&opts(&["ro", "rw"]), None).unwrap();
        assert_eq!((o.flags, o.clear), (0, libc::MS_RDONLY));
        let o = parse(&opts(&["rw", "ro"]), None).unwrap();
        assert_eq!((o.flags, o.clear), (libc::MS_RDONLY, 0));
    }

    #[test]
    fn bind_and_rbind() {
        let o = parse(&opts(&["bind", "ro"]), None).unwrap();
        assert!(o.bind && !o.recursive);
        assert_eq!(o.flags, libc::MS_RDONLY);
        // No other flags: nothing for a remount to do.
        let o = parse(&opts(&["rbind"]), None).unwrap();
        assert!(o.bind && o.recursive);
        assert_eq!(o.flags, 0);
    }

    #[test]
    fn propagation_in_options_and_argument() {
        for (name, flags) in PROPAGATIONS {
            assert_eq!(parse(&opts(&[name]), None).unwrap().propagation, flags);
            assert_eq!(parse(&[], Some(name)).unwrap().propagation, flags);
        }
        assert_eq!(
            parse_propagation("rslave"),
            Ok(libc::MS_SLAVE | libc::MS_REC)
        );
        // The `propagation` argument wins over the options.
        let o = parse(&opts(&["shared"]), Some("rprivate")).unwrap();
        assert_eq!(o.propagation, libc::MS_PRIVATE | libc::MS_REC);
        // Propagation names are not MS_* flags of the mount itself.
        assert_eq!(o.flags, 0);
    }

    #[test]
    fn data_options_pass_through_in_order() {
        let o = parse(
            &opts(&[
                "nosuid",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(o.flags, libc::MS_NOSUID);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        let o = parse(&opts(&["size=64m", "nr_inodes=1k", "uid=0"]), None).unwrap();
        assert_eq!(o.data, "size=64m,nr_inodes=1k,uid=0");
    }

    #[test]
    fn unknown_options_are_named() {
        let e = parse(&opts(&["ro", "nosiud"]), None).unwrap_err();
        assert_eq!(e, "unknown mount option 'nosiud' (did you mean 'nosuid'?)");
        let e = parse(&opts(&["frobnicate"]), None).unwrap_err();
        assert_eq!(e, "unknown mount option 'frobnicate'");
        assert_eq!(parse(&opts(&[""]), None).unwrap_err(), "empty mount option");
    }

    #[test]
    fn unknown_propagation_is_named() {
        let e = parse(&[], Some("privat")).unwrap_err();
        assert!(
            e.starts_with("unknown propagation 'privat' (did you mean 'private'?)"),
            "{e}"
        );
        assert!(e.contains("rslave"), "{e}");
    }
}
