//! The one reader of /proc. Its root is injectable, so that what it parses
//! is tested on fixture trees, without root and without the host's
//! processes.

use crate::runtime::error::{Context, Result};
use std::fmt::Display;
use std::path::PathBuf;

/// A proc filesystem, normally the host's /proc.
#[derive(Debug, Clone)]
pub struct Proc {
    root: PathBuf,
}

/// What /proc/<pid>/stat says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// 'R', 'S', 'Z' ...
    pub state: char,
    pub ppid: i32,
    /// Clock ticks since boot: with the pid, names one process even after
    /// the pid is reused.
    pub start_time: u64,
    /// How a zombie ended, as waitpid reports it (field 52, shown to
    /// whoever may ptrace the process; 0 while it runs).
    pub wait_status: i32,
}

impl Stat {
    /// Exited and not yet reaped (a zombie), or being torn down.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }

    /// A zombie's exit code, 128+N when signal N ended it.
    pub fn exit_code(&self) -> Option<i32> {
        let (status, signal) = (self.wait_status, self.wait_status & 0x7f);
        (self.state == 'Z').then_some(match signal {
            0 => (status >> 8) & 0xff,
            _ => 128 + signal,
        })
    }
}

/// A line of /proc/<pid>/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u64,
    /// The path of the filesystem that is mounted ("/" unless a bind
    /// mount or a namespaced cgroup).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub fstype: String,
    /// The filesystem's own options (for cgroup v1: its controllers).
    pub super_options: String,
}

/// A line of /proc/<pid>/cgroup: the controllers of a hierarchy (none
/// for cgroup2, "name=systemd" for a named one) and the process's cgroup
/// path in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    pub controllers: String,
    pub path: String,
}

impl Proc {
    /// The host's /proc.
    pub fn host() -> Proc {
        Proc::at("/proc")
    }

    pub fn at(root: impl Into<PathBuf>) -> Proc {
        Proc { root: root.into() }
    }

    /// The path of `file` of process `pid` (a number, or "self").
    pub fn path(&self, pid: impl Display, file: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(file)
    }

    /// The text of `file` of process `pid`.
    pub fn read(&self, pid: impl Display, file: &str) -> Result<String> {
        let path = self.path(pid, file);
        std::fs::read_to_string(&path).ctx(format_args!("read {}", path.display()))
    }

    /// The pids of every process.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let entries =
            std::fs::read_dir(&self.root).ctx(format_args!("read {}", self.root.display()))?;
        Ok(entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect())
    }

    /// /proc/<pid>/stat; None when there is no such process.
    pub fn stat(&self, pid: i32) -> Option<Stat> {
        parse_stat(&std::fs::read_to_string(self.path(pid, "stat")).ok()?)
    }

    /// The target of /proc/<pid>/ns/<name>, which names the namespace.
    pub fn namespace(&self, pid: i32, name: &str) -> Option<PathBuf> {
        std::fs::read_link(self.path(pid, &format!("ns/{name}"))).ok()
    }

    pub fn mountinfo(&self, pid: impl Display) -> Result<Vec<MountInfo>> {
        Ok(parse_mountinfo(&self.read(pid, "mountinfo")?))
    }

    pub fn cgroups(&self, pid: impl Display) -> Result<Vec<CgroupLine>> {
        Ok(parse_cgroups(&self.read(pid, "cgroup")?))
    }
}

/// The lines of a mountinfo file (malformed ones skipped).
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// The lines of a cgroup file: `hierarchy-id:controllers:path`.
pub fn parse_cgroups(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some(CgroupLine {
                controllers: parts.next()?.to_string(),
                path: parts.next()?.to_string(),
            })
        })
        .collect()
}

/// `pid (comm) state ppid ... starttime ...`: the command name may hold
/// spaces and parentheses, so the fields are counted after the last ')'.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
        wait_status: fields.get(49).and_then(|f| f.parse().ok()).unwrap_or(0),
    })
}

/// `id parent major:minor root mount-point options [tags...] - fstype
/// source super-options`.
fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    Some(MountInfo {
        id: left.first()?.parse().ok()?,
        root: PathBuf::from(unescape(left.get(3)?)),
        mount_point: PathBuf::from(unescape(left.get(4)?)),
        fstype: right.first()?.to_string(),
        super_options: right.get(2).unwrap_or(&"").to_string(),
    })
}

/// The kernel writes a space, tab, newline and backslash in a path as an
/// octal escape (`\040`, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::ffi::OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A fixture /proc under the temp dir, removed when dropped.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new(tag: &str) -> FakeProc {
            let dir = std::env::temp_dir().join(format!("ctrsh-proc-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            FakeProc(dir)
        }

        fn file(&self, pid: &str, name: &str, text: &str) -> &Self {
            let path = self.0.join(pid).join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        fn proc(&self) -> Proc {
            Proc::at(&self.0)
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let fake = FakeProc::new("stat");
        fake.file(
            "42",
            "stat",
            "42 (a) b) (c) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3\n",
        )
        .file(
            "43",
            "stat",
            &format!(
                "43 (zombie) Z 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5{} 1792\n",
                " 0".repeat(29)
            ),
        )
        .file("44", "stat", "44 (cut) S 1\n");
        let proc = fake.proc();
        let stat = proc.stat(42).unwrap();
        assert_eq!(
            stat,
            Stat {
                state: 'S',
                ppid: 7,
                start_time: 98765,
                wait_status: 0,
            }
        );
        assert!(!stat.is_dead());
        assert_eq!(stat.exit_code(), None);
        assert!(proc.stat(43).unwrap().is_dead());
        assert_eq!(proc.stat(43).unwrap().exit_code(), Some(7));
        assert_eq!(proc.stat(44), None, "too few fields");
        assert_eq!(proc.stat(45), None, "no such process");
        let mut pids = proc.pids().unwrap();
        pids.sort();
        assert_eq!(pids, [42, 43, 44]);
    }

    #[test]
    fn mountinfo_lines_with_optional_fields_and_escapes() {
        let fake = FakeProc::new("mountinfo");
        fake.file(
            "self",
            "mountinfo",
            "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
             35 25 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:12 master:3 - cgroup cgroup rw,cpu\n\
             40 25 0:35 /a\\040b /mnt/with\\040space\\011tab\\134 rw - cgroup2 cgroup2 rw\n\
             malformed line\n",
        );
        let mounts = fake.proc().mountinfo("self").unwrap();
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[1].id, 35);
        assert_eq!(mounts[1].mount_point, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(
            (mounts[1].fstype.as_str(), mounts[1].super_options.as_str()),
            ("cgroup", "rw,cpu")
        );
        assert_eq!(mounts[2].root, Path::new("/a b"));
        assert_eq!(mounts[2].mount_point, Path::new("/mnt/with space\ttab\\"));
        assert_eq!(unescape("\\04x \\999 end\\"), "\\04x \\999 end\\");
    }

    #[test]
    fn cgroup_lines_of_v1_v2_and_named_hierarchies() {
        let fake = FakeProc::new("cgroup");
        fake.file(
            "7",
            "cgroup",
            "12:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/s\n0::/user.slice/s:x\n",
        );
        let lines = fake.proc().cgroups(7).unwrap();
        let pairs: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.controllers.as_str(), l.path.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("cpu,cpuacct", "/user.slice"),
                ("name=systemd", "/user.slice/s"),
                ("", "/user.slice/s:x")
            ]
        );
        let e = fake.proc().cgroups(8).unwrap_err();
        assert!(e.message.contains("8/cgroup"), "{e}");
    }
}
