//! Where the container's cgroup goes (`resolve`, a pure function of what
//! /proc/self/mountinfo and /proc/self/cgroup say), and creating and
//! removing its directories. Why this is not cgroups-rs's:
//! docs/architecture.md, "cgroups and cgroups-rs".

use super::{files, limits, CgroupManager, Controller, ControllerDir, Mode, OnV2};
use crate::runtime::config::CheckedCgroups;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::sys;
use crate::runtime::sys::proc::{CgroupLine, MountInfo, Proc};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// A mounted cgroup hierarchy.
struct Mount {
    point: PathBuf,
    /// The hierarchy path mounted there ("/" unless bind-mounted or namespaced).
    root: PathBuf,
    /// v1: the controllers named in the mount options; cgroup2: `None`.
    v1_options: Option<Vec<String>>,
}

impl Mount {
    /// The hierarchy mounted by `m`, if it is a cgroup or cgroup2 mount.
    fn of(m: &MountInfo) -> Option<Mount> {
        let v1_options = match m.fstype.as_str() {
            "cgroup" => Some(m.super_options.split(',').map(String::from).collect()),
            "cgroup2" => None,
            _ => return None,
        };
        Some(Mount {
            point: m.mount_point.clone(),
            root: m.root.clone(),
            v1_options,
        })
    }

    fn has_v1(&self, controller: Controller) -> bool {
        self.v1_options
            .as_ref()
            .is_some_and(|opts| opts.iter().any(|o| o == controller.name()))
    }
}

/// How often `create` plans again when a parent it was about to use went
/// meanwhile.
const ATTEMPTS: usize = 10;

pub(super) fn create(
    cfg: &CheckedCgroups,
    default_name: &str,
    record: &mut dyn FnMut(&CgroupManager) -> Result<()>,
) -> Result<CgroupManager> {
    let mut m = plan(cfg, default_name)?;
    // What mkdir made, over all attempts.
    let mut made = Vec::new();
    let mut attempts = 1;
    // Which directories the last record called ours.
    let mut recorded = Vec::new();
    let result = loop {
        record(&m)?;
        recorded.clone_from(&m.created);
        match make_dirs(&mut m, &mut made) {
            // A parent went meanwhile: the destroy of the last container in
            // a parent ctrsh made removed it (or the undoing of a create
            // that planned it too). Make it again.
            Ok(false) if attempts < ATTEMPTS => {
                attempts += 1;
                made.retain(|d| d.exists());
                for dir in missing(&m) {
                    if !m.created.contains(&dir) {
                        m.created.push(dir);
                    }
                }
            }
            Ok(false) => {
                break Err(Error::new(
                    ErrorKind::System,
                    format!(
                        "its parent cgroups were removed {ATTEMPTS} times while it was being made"
                    ),
                ))
            }
            Ok(true) => break enable_v2(&mut m, cfg).and_then(|()| fill_cpusets(&m)),
            Err(e) => break Err(e),
        }
    };
    match result {
        // A destroy needs the directories and which of them are ours;
        // enabling controllers changes neither. So the record is made again
        // only when a directory turned out to be someone else's.
        Ok(()) => {
            if m.created != recorded {
                record(&m)?;
            }
            Ok(m)
        }
        Err(e) => {
            // Leave nothing behind, and only what this create made is its to
            // remove; the first error is the one worth reporting.
            m.created.retain(|d| made.contains(d));
            let _ = remove(&m);
            let _ = record(&m);
            Err(e.context(format!("create cgroup {}", m.path)))
        }
    }
}

/// Where the cgroup goes in each hierarchy, and which directories are
/// missing (to be made); nothing is changed yet.
fn plan(cfg: &CheckedCgroups, default_name: &str) -> Result<CgroupManager> {
    let (path, key) = configured_path(cfg, default_name)?;
    let relative = relative_part(&path, key)?;
    let proc = Proc::host();
    let mounts: Vec<Mount> = proc
        .mountinfo("self")?
        .iter()
        .filter_map(Mount::of)
        .collect();
    let own = OwnCgroups {
        lines: proc.cgroups("self")?,
    };
    let v2_root_controllers = match mounts.iter().find(|m| m.v1_options.is_none()) {
        Some(m) => read_words(&m.point.join("cgroup.controllers"))?,
        None => Vec::new(),
    };
    let mut manager = resolve(&mounts, &own, &v2_root_controllers, path, &relative)?;
    check_unused(&manager.dirs())?;
    manager.created = missing(&manager);
    Ok(manager)
}

/// The cgroup `path` (`relative`: its part below the base cgroup) on a host
/// with these cgroup `mounts`, for a process in the `own` cgroups, with
/// the controllers the cgroup2 root offers: every directory, and why each
/// controller the host lacks is missing. Reads nothing.
fn resolve(
    mounts: &[Mount],
    own: &OwnCgroups,
    v2_root_controllers: &[String],
    path: String,
    relative: &Path,
) -> Result<CgroupManager> {
    // An absolute path starts at each hierarchy's root, a relative one at the
    // caller's own cgroup in that hierarchy.
    let base = |mount: &Mount, own_path: Option<&str>| -> Result<PathBuf> {
        if path.starts_with('/') {
            return Ok(mount.point.clone());
        }
        own_base(mount, own_path)
    };

    let v2_mount = mounts.iter().find(|m| m.v1_options.is_none());
    let mode = host_mode(mounts)?;
    let unified = match v2_mount {
        Some(m) => Some(ControllerDir::new(
            base(m, own.v2())?.join(relative),
            &m.point,
            true,
        )),
        None => None,
    };

    let mut controllers = BTreeMap::new();
    let mut unavailable = BTreeMap::new();
    for c in Controller::ALL {
        if let Some(m) = mounts.iter().find(|m| m.has_v1(c)) {
            let dir = base(m, own.v1(c))?.join(relative);
            controllers.insert(c, ControllerDir::new(dir, &m.point, false));
            continue;
        }
        let (Some(m), Some(unified)) = (v2_mount, &unified) else {
            unavailable.insert(c, "not mounted on this host".to_string());
            continue;
        };
        match on_v2_mount(c, m, &unified.dir, v2_root_controllers) {
            Ok(dir) => {
                controllers.insert(c, dir);
            }
            Err(why) => {
                unavailable.insert(c, why);
            }
        }
    }

    Ok(CgroupManager {
        path,
        mode,
        controllers,
        unavailable,
        unified,
        created: Vec::new(),
    })
}

/// The directories of `m`'s cgroup that do not exist, parents before children.
fn missing(m: &CgroupManager) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    for leaf in m.leaves() {
        let absent: Vec<&Path> = below_mount(leaf)
            .into_iter()
            .filter(|d| !d.exists())
            .collect();
        missing.extend(absent.into_iter().map(Path::to_path_buf));
    }
    missing
}

/// The directories from just below the hierarchy's root down to the leaf.
fn below_mount(leaf: &ControllerDir) -> Vec<&Path> {
    let mut chain: Vec<&Path> = leaf
        .dir
        .ancestors()
        .take_while(|d| *d != leaf.mount && d.starts_with(&leaf.mount))
        .collect();
    chain.reverse();
    chain
}

fn host_mode(mounts: &[Mount]) -> Result<Mode> {
    let has_v1 = mounts
        .iter()
        .any(|m| Controller::ALL.iter().any(|c| m.has_v1(*c)));
    let has_v2 = mounts.iter().any(|m| m.v1_options.is_none());
    match (has_v1, has_v2) {
        (true, false) => Ok(Mode::V1),
        (true, true) => Ok(Mode::Hybrid),
        (false, true) => Ok(Mode::V2),
        (false, false) => Err(Error::new(
            ErrorKind::Unsupported,
            "cgroups: no cgroup hierarchy is mounted (see /proc/self/mountinfo)",
        )),
    }
}

/// Controller `c` in the cgroup2 hierarchy at `dir`, or why it is not there.
fn on_v2_mount(
    c: Controller,
    mount: &Mount,
    dir: &Path,
    root_controllers: &[String],
) -> std::result::Result<ControllerDir, String> {
    match c.on_v2() {
        OnV2::Core => Ok(ControllerDir::new(dir.to_path_buf(), &mount.point, true)),
        OnV2::Enabled(name) if root_controllers.iter().any(|n| n == name) => {
            Ok(ControllerDir::new(dir.to_path_buf(), &mount.point, true))
        }
        OnV2::Enabled(name) => Err(format!(
            "not mounted on this host (no v1 hierarchy, and {name:?} is not in {}/cgroup.controllers)",
            mount.point.display()
        )),
    }
}

/// An existing cgroup may be reused only if no process is in it.
fn check_unused(dirs: &[PathBuf]) -> Result<()> {
    for dir in dirs {
        let pids = files::read_procs(dir)?;
        if !pids.is_empty() {
            return Err(Error::new(
                ErrorKind::Exists,
                format!("cgroup {} already holds processes {pids:?}", dir.display()),
            ));
        }
    }
    Ok(())
}

impl ControllerDir {
    fn new(dir: PathBuf, mount: &Path, v2: bool) -> Self {
        ControllerDir {
            dir,
            mount: mount.to_path_buf(),
            v2,
        }
    }
}

/// The configured cgroup path and the config key it came from.
fn configured_path(cfg: &CheckedCgroups, default_name: &str) -> Result<(String, &'static str)> {
    match (&cfg.path, &cfg.parent, &cfg.name) {
        (Some(path), None, None) => Ok((path.clone(), "cgroups.path")),
        (Some(_), _, _) => Err(Error::config(
            "cgroups.path: give either path or parent and name, not both",
        )),
        (None, parent, name) => {
            let name = name.as_deref().unwrap_or(default_name);
            let path = match parent {
                Some(parent) => format!("{}/{name}", parent.trim_end_matches('/')),
                None => name.to_string(),
            };
            Ok((path, "cgroups.parent/cgroups.name"))
        }
    }
}

/// The path below the base cgroup: plain names only, at least one.
fn relative_part(path: &str, key: &str) -> Result<PathBuf> {
    let mut relative = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => relative.push(name),
            Component::RootDir => {}
            _ => {
                return Err(Error::config(format!(
                    "{key}: {path:?} may not contain \".\" or \"..\""
                )))
            }
        }
    }
    if relative.as_os_str().is_empty() {
        return Err(Error::config(format!(
            "{key}: {path:?} names no cgroup below the base cgroup"
        )));
    }
    Ok(relative)
}

/// The caller's own cgroup directory in `mount`.
fn own_base(mount: &Mount, own_path: Option<&str>) -> Result<PathBuf> {
    let hierarchy = match &mount.v1_options {
        Some(opts) => opts.join(","),
        None => "cgroup2".to_string(),
    };
    let own_path = own_path.ok_or_else(|| {
        Error::new(
            ErrorKind::System,
            format!("/proc/self/cgroup has no line for the {hierarchy} hierarchy"),
        )
    })?;
    let below_root = Path::new(own_path).strip_prefix(&mount.root).map_err(|_| {
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "the own {hierarchy} cgroup {own_path} is outside what {} shows ({})",
                mount.point.display(),
                mount.root.display()
            ),
        )
    })?;
    Ok(mount.point.join(below_root))
}

/// The caller's cgroups (/proc/self/cgroup): one line per hierarchy; the
/// cgroup2 line has no controllers.
struct OwnCgroups {
    lines: Vec<CgroupLine>,
}

impl OwnCgroups {
    fn v1(&self, controller: Controller) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.controllers.split(',').any(|n| n == controller.name()))
            .map(|l| l.path.as_str())
    }

    fn v2(&self) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.controllers.is_empty())
            .map(|l| l.path.as_str())
    }
}

fn read_words(path: &Path) -> Result<Vec<String>> {
    Ok(files::read_string(path)?
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// Make the planned directories not `made` yet, parents first; false when
/// a parent went meanwhile (mkdir: ENOENT). Once the container's own
/// directories exist, no parent can go (rmdir of a cgroup with a child
/// fails). A planned directory someone else made meanwhile is not ours (for
/// the container's own directory, an error).
fn make_dirs(m: &mut CgroupManager, made: &mut Vec<PathBuf>) -> Result<bool> {
    let leaves: Vec<ControllerDir> = m.leaves().into_iter().cloned().collect();
    for leaf in &leaves {
        for dir in below_mount(leaf) {
            if !m.created.iter().any(|c| c == dir) || made.iter().any(|d| d == dir) {
                continue;
            }
            match fs::create_dir(dir) {
                Ok(()) => made.push(dir.to_path_buf()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    m.created.retain(|c| c != dir);
                    if dir == leaf.dir {
                        return Err(Error::new(
                            ErrorKind::Exists,
                            format!(
                                "cgroup {} was created by someone else meanwhile",
                                dir.display()
                            ),
                        ));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(Error::sys(format!("mkdir {}", dir.display()), e)),
            }
        }
    }
    Ok(true)
}

/// Enable the cgroup v2 controllers `cfg` asks for in every cgroup from the
/// hierarchy's root down to the container's parent (a cgroup gets only the
/// controllers its parent enables in `cgroup.subtree_control`), as runc and
/// systemd do. Controllers nobody asked for are left as they are: the
/// container has one of those only if the host already enables it all the
/// way down. Then the manager's controllers are what the container's
/// cgroup2 directory has (a live update may ask for one create did not).
pub(super) fn enable_v2(m: &mut CgroupManager, cfg: &CheckedCgroups) -> Result<()> {
    let Some(leaf) = m.unified.clone() else {
        return Ok(());
    };
    // The controllers the cgroup2 hierarchy provides: those its root offers
    // that no v1 hierarchy has.
    let offered = read_words(&leaf.mount.join("cgroup.controllers"))?;
    let on_v2: Vec<(Controller, &'static str)> = Controller::ALL
        .into_iter()
        .filter(|c| m.controllers.get(c).is_none_or(|d| d.v2))
        .filter_map(|c| match c.on_v2() {
            OnV2::Enabled(name) if offered.iter().any(|o| o == name) => Some((c, name)),
            _ => None,
        })
        .collect();
    let wanted: Vec<(&'static str, &'static str)> = limits::asked(&cfg.limits)
        .into_iter()
        .filter_map(|(c, key)| Some((on_v2.iter().find(|(v, _)| *v == c)?.1, key)))
        .collect();
    if !wanted.is_empty() {
        let mut parents: Vec<&Path> = below_mount(&leaf);
        parents.pop();
        parents.insert(0, &leaf.mount);
        for dir in parents {
            enable_in(dir, &wanted)?;
        }
    }
    let present = read_words(&leaf.dir.join("cgroup.controllers"))?;
    for (c, name) in on_v2 {
        if present.iter().any(|p| p == name) {
            m.controllers.insert(c, leaf.clone());
            m.unavailable.remove(&c);
        } else {
            m.controllers.remove(&c);
            let why = format!(
                "not enabled for {} (ctrsh enables a cgroup v2 controller only for a config key that needs it)",
                leaf.dir.display()
            );
            m.unavailable.insert(c, why);
        }
    }
    Ok(())
}

/// Enable each controller of `wanted` (name, config key) in
/// `dir/cgroup.subtree_control` that is not enabled there yet.
fn enable_in(dir: &Path, wanted: &[(&str, &str)]) -> Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let enabled = read_words(&control)?;
    let mut offered: Option<Vec<String>> = None;
    for (name, key) in wanted {
        if enabled.iter().any(|e| e == name) {
            continue;
        }
        let offered = match &offered {
            Some(o) => o,
            None => offered.insert(read_words(&dir.join("cgroup.controllers"))?),
        };
        let cannot = format!(
            "{key}: cannot enable the {name} cgroup controller in {}",
            control.display()
        );
        if !offered.iter().any(|o| o == name) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{cannot}: it is not in {} (the parent cgroup does not pass it on)",
                    dir.join("cgroup.controllers").display()
                ),
            ));
        }
        match fs::write(&control, format!("+{name}")) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                return Err(Error::sys(
                    format!(
                        "{cannot}: {} holds processes, and cgroup v2 passes controllers only to the children of a cgroup without processes (choose a cgroups.parent or path whose ancestors hold none)",
                        dir.display()
                    ),
                    e,
                ))
            }
            Err(e) => return Err(Error::sys(cannot, e)),
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup has no cpus and no memory nodes, and no process
/// can join it until both are set. Fill every empty one from the root down
/// to the container's with its parent's values, as runc does: a create that
/// finds a parent another create has just made, and not filled yet, fills it
/// itself (both write the same values) rather than copying its emptiness.
fn fill_cpusets(m: &CgroupManager) -> Result<()> {
    let Some(cpuset) = m.controllers.get(&Controller::Cpuset).filter(|c| !c.v2) else {
        return Ok(());
    };
    for dir in below_mount(cpuset) {
        let parent = dir.parent().unwrap_or(dir);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if !files::read_string(&dir.join(file))?.is_empty() {
                continue;
            }
            let value = files::read_string(&parent.join(file))?;
            files::write(&dir.join(file), &value).map_err(|e| {
                e.context(format!(
                    "fill the empty {file} of {} from its parent",
                    dir.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// The cgroups directly below `dir` (none if `dir` is gone).
pub(super) fn sub_cgroups(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.ctx(format_args!("list {}", dir.display()))?,
    };
    let mut subs = Vec::new();
    for entry in entries {
        let entry = entry.ctx(format_args!("list {}", dir.display()))?;
        if entry
            .file_type()
            .ctx(format_args!("stat {:?}", entry.path()))?
            .is_dir()
        {
            subs.push(entry.path());
        }
    }
    Ok(subs)
}

/// The mark on a parent cgroup ctrsh made that outlived the container that
/// made it: the destroy of the last container in it removes it.
const MADE_BY_CTRSH: &str = "user.ctrsh.made";

/// Remove what `m` made: the container's own directories with everything
/// below them, then, walking up, each parent that ctrsh made (this container
/// or, per its mark, another one) unless it is in use. A parent this
/// container made is marked before the attempt: if a sibling keeps it, the
/// sibling's destroy sees the mark and removes it (and if the sibling's
/// destroy looked first, this attempt finds the parent empty). The walk
/// stops at a parent ctrsh did not make, unless one it made is above.
pub(super) fn remove(m: &CgroupManager) -> Result<()> {
    let ours = |d: &Path| m.created.iter().any(|c| c == d);
    for leaf in m.leaves() {
        if ours(&leaf.dir) {
            remove_tree(&leaf.dir)?;
        }
    }
    for leaf in m.leaves() {
        let mut parents = below_mount(leaf);
        parents.pop();
        let highest_ours = parents.iter().position(|d| ours(d));
        for (i, dir) in parents.iter().enumerate().rev() {
            if ours(dir) {
                // Without user xattrs on cgroups (Linux before 5.7) a parent
                // in use when its maker goes stays after the last container.
                let _ = sys::set_xattr(dir, MADE_BY_CTRSH);
            } else if !sys::has_xattr(dir, MADE_BY_CTRSH) {
                if highest_ours.is_some_and(|h| h < i) {
                    continue;
                }
                break;
            }
            remove_unused(dir)?;
        }
    }
    Ok(())
}

/// rmdir a parent cgroup unless it is in use (sub-cgroups or processes).
fn remove_unused(dir: &Path) -> Result<()> {
    match fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => Ok(()),
        other => other.map_err(|e| Error::sys(format!("rmdir {}", dir.display()), e)),
    }
}

fn remove_tree(dir: &Path) -> Result<()> {
    for sub in sub_cgroups(dir)? {
        remove_tree(&sub)?;
    }
    remove_dir(dir)
}

/// rmdir, retrying EBUSY for a moment: the kernel may still be releasing the
/// last exited processes (runc retries the same way).
fn remove_dir(dir: &Path) -> Result<()> {
    let mut delay = Duration::from_millis(10);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && delay < Duration::from_secs(1) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(Error::sys(format!("rmdir {}", dir.display()), e)),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    use crate::runtime::sys::proc::{parse_cgroups, parse_mountinfo};

    fn mounts(mountinfo: &str) -> Vec<Mount> {
        parse_mountinfo(mountinfo)
            .iter()
            .filter_map(Mount::of)
            .collect()
    }

    #[test]
    fn mountinfo_lines() {
        let m = mounts(
            "35 25 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:12 - cgroup cgroup rw,cpu\n\
             40 25 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
             22 1 0:21 / /proc rw - proc proc rw\n",
        );
        assert_eq!(m.len(), 2, "not /proc");
        assert_eq!(m[0].point, Path::new("/sys/fs/cgroup/cpu"));
        assert!(m[0].has_v1(Controller::Cpu) && !m[0].has_v1(Controller::Cpuacct));
        assert!(m[1].v1_options.is_none());
    }

    /// A hybrid host: v1 cpu,cpuacct, memory and pids, and cgroup2 (whose
    /// root offers hugetlb) for the rest; the caller in a session scope.
    const HYBRID: &str = "\
        25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
        30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
        31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
        32 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
        33 25 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
    const OWN: &str = "\
        5:pids:/user.slice/s.scope\n\
        4:memory:/user.slice\n\
        3:cpu,cpuacct:/user.slice\n\
        0::/user.slice/s.scope\n";

    fn resolved(mountinfo: &str, own: &str, v2_root: &[&str], path: &str) -> Result<CgroupManager> {
        let own = OwnCgroups {
            lines: parse_cgroups(own),
        };
        let v2_root: Vec<String> = v2_root.iter().map(|s| s.to_string()).collect();
        let relative = relative_part(path, "k")?;
        resolve(&mounts(mountinfo), &own, &v2_root, path.into(), &relative)
    }

    fn dir(m: &CgroupManager, c: Controller) -> Option<(&Path, bool)> {
        m.controllers.get(&c).map(|d| (d.dir.as_path(), d.v2))
    }

    #[test]
    fn a_relative_path_goes_below_the_own_cgroup_of_each_hierarchy() {
        let m = resolved(HYBRID, OWN, &["hugetlb"], "c1").unwrap();
        assert_eq!(m.mode, Mode::Hybrid);
        let v1 = |p: &'static str| Some((Path::new(p), false));
        let v2 = Some((
            Path::new("/sys/fs/cgroup/unified/user.slice/s.scope/c1"),
            true,
        ));
        assert_eq!(
            dir(&m, Controller::Cpu),
            v1("/sys/fs/cgroup/cpu,cpuacct/user.slice/c1")
        );
        assert_eq!(
            dir(&m, Controller::Cpuacct),
            v1("/sys/fs/cgroup/cpu,cpuacct/user.slice/c1")
        );
        assert_eq!(
            dir(&m, Controller::Memory),
            v1("/sys/fs/cgroup/memory/user.slice/c1")
        );
        assert_eq!(
            dir(&m, Controller::Pids),
            v1("/sys/fs/cgroup/pids/user.slice/s.scope/c1")
        );
        assert_eq!(dir(&m, Controller::Hugetlb), v2, "offered by the root");
        assert_eq!(dir(&m, Controller::Freezer), v2, "core on cgroup2");
        assert_eq!(m.unified.as_ref().map(|u| (u.dir.as_path(), true)), v2);
        assert!(m.unavailable[&Controller::Cpuset].contains("\"cpuset\" is not in"));
        assert_eq!(
            dir(&m, Controller::Devices),
            v2,
            "an eBPF program on cgroup2"
        );
        assert_eq!(m.dirs().len(), 4, "cpu,cpuacct shared; unified once");
    }

    #[test]
    fn an_absolute_path_starts_at_each_hierarchy_root() {
        let m = resolved(HYBRID, OWN, &[], "/system/c1").unwrap();
        assert_eq!(
            dir(&m, Controller::Pids),
            Some((Path::new("/sys/fs/cgroup/pids/system/c1"), false))
        );
        assert!(m.unavailable.contains_key(&Controller::Hugetlb));
    }

    #[test]
    fn v2_only_and_namespaced_mounts() {
        let v2 = "30 25 0:26 /ns /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let m = resolved(v2, "0::/ns/inner\n", &["memory", "pids"], "c1").unwrap();
        assert_eq!(m.mode, Mode::V2);
        let dir_of = |c| dir(&m, c).map(|(d, _)| d);
        assert_eq!(
            dir_of(Controller::Memory),
            Some(Path::new("/sys/fs/cgroup/inner/c1"))
        );
        assert_eq!(dir_of(Controller::Pids), dir_of(Controller::Memory));
        assert!(m.unavailable.contains_key(&Controller::Cpu));
        let e = resolved(v2, "0::/elsewhere\n", &[], "c1").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
        let e = resolved(v2, "1:pids:/x\n", &[], "c1").unwrap_err();
        assert!(
            e.message.contains("no line for the cgroup2 hierarchy"),
            "{e}"
        );
        let e = resolved("22 1 0:21 / /proc rw - proc proc rw\n", "", &[], "c1").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    }

    #[test]
    fn a_mount_point_with_a_space_is_decoded() {
        let spaced = "30 25 0:26 / /mnt/cgroup\\040two rw - cgroup2 cgroup2 rw\n";
        let m = resolved(spaced, "0::/\n", &[], "c1").unwrap();
        assert_eq!(m.unified.unwrap().dir, Path::new("/mnt/cgroup two/c1"));
    }

    #[test]
    fn configured_paths() {
        let given = crate::runtime::Config {
            rootfs: "/".into(),
            ..Default::default()
        };
        let mut cfg = given.validate().unwrap().cgroups;
        assert_eq!(configured_path(&cfg, "c1").unwrap().0, "c1");
        cfg.parent = Some("/system/".into());
        assert_eq!(configured_path(&cfg, "c1").unwrap().0, "/system/c1");
        cfg.name = Some("web".into());
        assert_eq!(configured_path(&cfg, "c1").unwrap().0, "/system/web");
        cfg.path = Some("x".into());
        assert_eq!(
            configured_path(&cfg, "c1").unwrap_err().kind,
            ErrorKind::Config
        );
        assert_eq!(relative_part("/a//b/", "k").unwrap(), Path::new("a/b"));
        assert!(relative_part("a/../b", "k").is_err());
        assert!(relative_part("/", "k").is_err());
    }
}
