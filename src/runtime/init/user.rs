//! Resolve "name", "uid" or "uid:gid" against the rootfs's /etc/passwd and
//! /etc/group (read inside the container, after pivot_root).

use crate::runtime::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"/").to_string(),
            })
        })
        .collect()
}

/// (name, gid, members)
fn groups(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            Some((f.first()?.to_string(), f.get(2)?.parse().ok()?, members))
        })
        .collect()
}

/// Resolve `spec` given the contents of /etc/passwd and /etc/group (either
/// may be empty when the rootfs has none).
pub fn resolve(spec: &str, passwd_text: &str, group_text: &str) -> Result<ExecUser> {
    let users = passwd(passwd_text);
    let groups = groups(group_text);
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = users
        .iter()
        .find(|e| e.name == user_part || user_part.parse() == Ok(e.uid));
    let (uid, mut gid, name, home) = match (entry, user_part.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name.clone()), e.home.clone()),
        (None, Ok(uid)) => (uid, 0, None, "/".to_string()),
        (None, Err(_)) => {
            return Err(Error::config(format!(
                "user: no user '{user_part}' in the container's /etc/passwd"
            )))
        }
    };
    if let Some(g) = group_part {
        gid = match (groups.iter().find(|(n, _, _)| n == g), g.parse::<u32>()) {
            (Some((_, id, _)), _) => *id,
            (None, Ok(id)) => id,
            (None, Err(_)) => {
                return Err(Error::config(format!(
                    "user: no group '{g}' in the container's /etc/group"
                )))
            }
        };
    }
    // Supplementary groups only come with a named user and no explicit group.
    let mut extra = Vec::new();
    if let (Some(name), None) = (&name, group_part) {
        for (_, id, members) in &groups {
            if members.iter().any(|m| m == name) && *id != gid && !extra.contains(id) {
                extra.push(*id);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        groups: extra,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n";
    const GROUP: &str = "root:x:0:\ndaemon:x:1:\nusers:x:100:daemon,other\n";

    #[test]
    fn by_name_with_groups() {
        let u = resolve("daemon", PASSWD, GROUP).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.groups.clone(), u.home.as_str()),
            (1, 1, vec![100], "/usr/sbin")
        );
    }

    #[test]
    fn numeric_forms() {
        assert_eq!(resolve("1", PASSWD, GROUP).unwrap().gid, 1);
        let u = resolve("1000:100", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 100));
        assert_eq!(resolve("daemon:users", PASSWD, GROUP).unwrap().gid, 100);
    }

    #[test]
    fn unknown_names_fail() {
        assert!(resolve("nosuch", PASSWD, GROUP)
            .unwrap_err()
            .message
            .contains("nosuch"));
        assert!(resolve("0:nogroup", PASSWD, GROUP).is_err());
    }
}
