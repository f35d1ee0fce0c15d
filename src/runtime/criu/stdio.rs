//! The init's stdio that lives outside the container: named at dump
//! (CRIU's --external file[..]), supplied anew at restore (--inherit-fd).

use super::metadata::StdioLink;
use crate::runtime::config::Stdio;
use crate::runtime::error::{Context, Error, Result};
use crate::runtime::host::process;
use crate::runtime::sys::{self, proc::Proc};
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The fd number CRIU gets the first inherited fd at (then +1, +2).
pub const INHERIT_BASE: RawFd = 10;
/// Inherited fds are kept at or above this until the child moves them
/// down, so moving one can never clobber another.
const HIGH_FD: RawFd = 100;

/// The init's fds 0-2 that refer to something outside the container: a
/// pipe (its other end was in the creating ctrsh) or a file on a mount the
/// container does not have (the host's /dev/null, a log file). A terminal
/// from outside (ctrsh's own) is CRIU's with `shell_job`, and refused
/// without it: CRIU would fail on it, missing its master side.
pub fn outside_links(pid: i32, shell_job: bool) -> Result<Vec<StdioLink>> {
    let proc = Proc::host();
    let inside: HashSet<u64> = proc.mountinfo(pid)?.iter().map(|m| m.id).collect();
    let mut links = Vec::new();
    for fd in 0..3 {
        let path = format!("/proc/{pid}/fd/{fd}");
        let Ok(target) = std::fs::read_link(&path) else {
            continue; // closed
        };
        let was = target.to_string_lossy().into_owned();
        let resource = if was.starts_with("pipe:[") {
            was.clone()
        } else if was.starts_with('/') {
            let mnt_id = fd_mnt_id(&proc, pid, fd)?;
            if inside.contains(&mnt_id) {
                continue;
            }
            let meta = std::fs::metadata(&path).ctx(format_args!("stat {path} ({was})"))?;
            if is_terminal(&meta) {
                if shell_job {
                    continue;
                }
                let name = ["stdin", "stdout", "stderr"][fd as usize];
                return Err(Error::config(format!(
                    "the container's first process has the terminal {was} of the ctrsh that \
                     started it as its {name}: checkpoint with shell_job: true (the restore \
                     then needs a terminal on its standard input too), or start the process \
                     with {name}: \"null\", \"pipe\" or a file"
                )));
            }
            format!("file[{mnt_id:x}:{:x}]", meta.ino())
        } else {
            // Sockets and the like: CRIU's own options (ext_unix_sk) decide.
            continue;
        };
        links.push(StdioLink { fd, resource, was });
    }
    Ok(links)
}

/// A tty, a pty's slave or the console (Linux's majors for them).
fn is_terminal(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let major = nix::sys::stat::major(meta.rdev());
    meta.file_type().is_char_device() && matches!(major, 4 | 5 | 136..=143)
}

fn fd_mnt_id(proc: &Proc, pid: i32, fd: i32) -> Result<u64> {
    let file = format!("fdinfo/{fd}");
    proc.read(pid, &file)?
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::state(format!("{} has no mnt_id", proc.path(pid, &file).display())))
}

/// `--external file[..]` for every outside file, once each.
pub fn dump_args(links: &[StdioLink]) -> Vec<String> {
    let mut seen = HashSet::new();
    links
        .iter()
        .filter(|l| l.resource.starts_with("file[") && seen.insert(&l.resource))
        .flat_map(|l| ["--external".to_string(), l.resource.clone()])
        .collect()
}

/// The fds a restore hands CRIU, and the --inherit-fd arguments naming them.
pub struct Inherited {
    pub fds: Vec<OwnedFd>,
    pub args: Vec<String>,
}

/// Opens what `streams` (stdin, stdout, stderr) name for every outside
/// link. Links that shared one pipe or file before the dump share the
/// stream of the lowest fd among them, opened for reading and writing as
/// those fds need.
pub fn open_for_restore(links: &[StdioLink], streams: [&Stdio; 3]) -> Result<Inherited> {
    let mut seen = HashSet::new();
    let mut inherited = Inherited {
        fds: Vec::new(),
        args: Vec::new(),
    };
    for link in links.iter().filter(|l| seen.insert(&l.resource)) {
        let name = ["stdin", "stdout", "stderr"][link.fd as usize];
        let sharing = links.iter().filter(|l| l.resource == link.resource);
        let access = sharing.fold((false, false), |(r, w), l| (r || l.fd == 0, w || l.fd > 0));
        let file = open_stream(streams[link.fd as usize], link.fd, name, access)?;
        // CRIU puts a file back at its offset: what stands in for one must
        // be seekable, not a terminal or a pipe.
        let seekable = rustix::fs::seek(&file, rustix::fs::SeekFrom::Current(0)).is_ok();
        if link.resource.starts_with("file[") && !seekable {
            return Err(Error::config(format!(
                "{name}: the process's {name} was the file {}, which ctrsh's own {name} (a \
                 terminal or a pipe) cannot stand in for; restore with {name}: \"null\" or a \
                 file path",
                link.was
            )));
        }
        inherited.add(&file, &link.resource)?;
    }
    Ok(inherited)
}

impl Inherited {
    /// CRIU gets (a copy of) `fd` for the resource its images call `key`.
    pub fn add(&mut self, fd: &impl AsFd, key: &str) -> Result<()> {
        self.args.push("--inherit-fd".to_string());
        self.args.push(format!(
            "fd[{}]:{key}",
            INHERIT_BASE + self.fds.len() as RawFd
        ));
        let high = sys::dup_from(fd, HIGH_FD).map_err(|e| e.context("an fd for CRIU"))?;
        self.fds.push(high);
        Ok(())
    }
}

/// The fd for `stdio`; a file is opened for (read, write) `access`, and
/// appended to when written.
fn open_stream(stdio: &Stdio, fd: i32, name: &str, access: (bool, bool)) -> Result<OwnedFd> {
    let (read, write) = access;
    let open = |path: &Path| {
        let mut opts = OpenOptions::new();
        opts.read(read);
        if write {
            opts.append(true).create(true);
        }
        opts.open(path)
            .ctx(format_args!("{name}: open {}", path.display()))
            .map(OwnedFd::from)
    };
    match stdio {
        Stdio::Inherit => process::inherit(fd, name),
        Stdio::Null => open(Path::new("/dev/null")),
        Stdio::File(path) => open(path),
        Stdio::Pipe => Err(Error::config(format!(
            "{name}: \"pipe\" is not supported for a restore; use \"inherit\", \"null\" or a file path"
        ))),
    }
}

/// In the forked CRIU child, before exec: put the inherited fds at
/// INHERIT_BASE.. (dup2 clears close-on-exec). Only raw system calls.
pub fn place_in_child(fds: &[RawFd]) -> std::io::Result<()> {
    for (i, fd) in fds.iter().enumerate() {
        // SAFETY: dup2 between fds; in the forked child nothing else uses the targets.
        if unsafe { libc::dup2(*fd, INHERIT_BASE + i as RawFd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(fd: i32, resource: &str) -> StdioLink {
        StdioLink {
            fd,
            resource: resource.into(),
            was: "/dev/null".into(),
        }
    }

    #[test]
    fn files_are_external_once_and_pipes_are_not() {
        let links = [
            link(0, "file[18:3]"),
            link(1, "pipe:[7]"),
            link(2, "file[18:3]"),
        ];
        assert_eq!(dump_args(&links), ["--external", "file[18:3]"]);
    }

    #[test]
    fn a_shared_stream_is_inherited_once_for_reading_and_writing() {
        let links = [link(0, "file[18:3]"), link(2, "file[18:3]")];
        let got =
            open_for_restore(&links, [&Stdio::Null, &Stdio::Inherit, &Stdio::Inherit]).unwrap();
        assert_eq!(got.args, ["--inherit-fd", "fd[10]:file[18:3]"]);
        assert_eq!(got.fds.len(), 1);
        let flags = rustix::fs::fcntl_getfl(&got.fds[0]).unwrap();
        assert_eq!(flags & rustix::fs::OFlags::RWMODE, rustix::fs::OFlags::RDWR);
        let pipe = open_for_restore(
            &[link(1, "pipe:[7]")],
            [&Stdio::Null, &Stdio::Pipe, &Stdio::Null],
        );
        assert!(pipe.is_err());
    }
}
