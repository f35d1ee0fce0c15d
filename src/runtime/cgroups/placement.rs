//! Where the container's cgroup goes: creating and removing its directories.
//!
//! cgroups-rs 0.5 cannot place a cgroup on a hybrid host such as this one:
//! `hierarchies::auto()` picks its V1 unless /sys/fs/cgroup itself is cgroup2;
//! that V1 only looks at "cgroup" mounts, so it never sees the cgroup2 mount
//! where a hybrid host keeps controllers like hugetlb, and its V2 has the
//! fixed root /sys/fs/cgroup. `Cgroup::load` puts one path under every mount
//! point, and `load_with_relative_paths` (V1 only) creates with
//! `create_dir_all`, so it cannot say which directories it made, and its
//! cpuset set-up logs errors instead of returning them. So the directories
//! are resolved here from /proc/self/mountinfo and /proc/self/cgroup and made
//! one level at a time; the crate's controller types then work on them.

use super::{files, CgroupManager, Controller, ControllerDir, Mode, OnV2};
use crate::runtime::config::Cgroups;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
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
    fn has_v1(&self, controller: Controller) -> bool {
        self.v1_options
            .as_ref()
            .is_some_and(|opts| opts.iter().any(|o| o == controller.name()))
    }
}

pub(super) fn place(cfg: &Cgroups, id: &str) -> Result<CgroupManager> {
    let (path, key) = configured_path(cfg, id)?;
    let relative = relative_part(&path, key)?;
    let mounts = cgroup_mounts()?;
    let own = OwnCgroups::read()?;
    // An absolute path starts at each hierarchy's root, a relative one at the
    // caller's own cgroup in that hierarchy.
    let base = |mount: &Mount, own_path: Option<&str>| -> Result<PathBuf> {
        if path.starts_with('/') {
            return Ok(mount.point.clone());
        }
        own_base(mount, own_path)
    };

    let v2_mount = mounts.iter().find(|m| m.v1_options.is_none());
    let mode = host_mode(&mounts)?;
    let unified = match v2_mount {
        Some(m) => Some(base(m, own.v2())?.join(&relative)),
        None => None,
    };
    let v2_root_controllers = match v2_mount {
        Some(m) => read_words(&m.point.join("cgroup.controllers"))?,
        None => Vec::new(),
    };

    let mut controllers = BTreeMap::new();
    let mut unavailable = BTreeMap::new();
    for c in Controller::ALL {
        if let Some(m) = mounts.iter().find(|m| m.has_v1(c)) {
            let dir = base(m, own.v1(c))?.join(&relative);
            controllers.insert(c, ControllerDir::new(dir, &m.point, false));
            continue;
        }
        let (Some(m), Some(dir)) = (v2_mount, &unified) else {
            unavailable.insert(c, "not mounted on this host".to_string());
            continue;
        };
        match on_v2_mount(c, m, dir, &v2_root_controllers) {
            Ok(dir) => {
                controllers.insert(c, dir);
            }
            Err(why) => {
                unavailable.insert(c, why);
            }
        }
    }

    let mut manager = CgroupManager {
        path,
        mode,
        controllers,
        unavailable,
        unified,
        created: Vec::new(),
    };
    check_unused(&manager.dirs())?;
    if let Err(e) = make_dirs(&mut manager, v2_mount) {
        // Leave nothing behind; the first error is the one worth reporting.
        let _ = remove(&manager);
        return Err(e.context(format!("create cgroup {}", manager.path)));
    }
    Ok(manager)
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
        OnV2::Absent => Err("not part of cgroup v2".to_string()),
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
fn configured_path(cfg: &Cgroups, id: &str) -> Result<(String, &'static str)> {
    match (&cfg.path, &cfg.parent, &cfg.name) {
        (Some(path), None, None) => Ok((path.clone(), "cgroups.path")),
        (Some(_), _, _) => Err(Error::config(
            "cgroups.path: give either path or parent and name, not both",
        )),
        (None, parent, name) => {
            let name = name.as_deref().unwrap_or(id);
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

fn cgroup_mounts() -> Result<Vec<Mount>> {
    let text = fs::read_to_string("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
    Ok(text.lines().filter_map(parse_mount_line).collect())
}

/// A /proc/self/mountinfo line of a cgroup or cgroup2 mount:
/// `id parent dev root point opts [tags] - fstype source superopts`.
fn parse_mount_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    let v1_options = match *right.first()? {
        "cgroup" => Some(right.get(2)?.split(',').map(String::from).collect()),
        "cgroup2" => None,
        _ => return None,
    };
    Some(Mount {
        root: PathBuf::from(left.get(3)?),
        point: PathBuf::from(left.get(4)?),
        v1_options,
    })
}

/// /proc/self/cgroup: `hierarchy-id:controllers:path` per hierarchy; the
/// cgroup2 line has no controllers.
struct OwnCgroups {
    lines: Vec<(String, String)>,
}

impl OwnCgroups {
    fn read() -> Result<Self> {
        let text = fs::read_to_string("/proc/self/cgroup").ctx("read /proc/self/cgroup")?;
        let lines = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ':');
                let _id = parts.next()?;
                Some((parts.next()?.to_string(), parts.next()?.to_string()))
            })
            .collect();
        Ok(OwnCgroups { lines })
    }

    fn v1(&self, controller: Controller) -> Option<&str> {
        self.lines
            .iter()
            .find(|(names, _)| names.split(',').any(|n| n == controller.name()))
            .map(|(_, path)| path.as_str())
    }

    fn v2(&self) -> Option<&str> {
        self.lines
            .iter()
            .find(|(names, _)| names.is_empty())
            .map(|(_, path)| path.as_str())
    }
}

fn read_words(path: &Path) -> Result<Vec<String>> {
    Ok(files::read_string(path)?
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// Create every missing directory of the cgroup (recording it in
/// `m.created`), enable the v2 controllers on the way down, and give new v1
/// cpuset cgroups their parent's cpus and mems.
fn make_dirs(m: &mut CgroupManager, v2_mount: Option<&Mount>) -> Result<()> {
    let unified = m.unified.clone();
    for dir in m.dirs() {
        if Some(&dir) != unified.as_ref() {
            make_missing(&dir, &mut m.created)?;
        }
    }
    if let (Some(dir), Some(mount)) = (unified, v2_mount) {
        make_v2_dirs(m, &dir, &mount.point)?;
    }
    if let Some(cpuset) = m.controllers.get(&Controller::Cpuset).filter(|c| !c.v2) {
        for dir in m.created.iter().filter(|d| d.starts_with(&cpuset.mount)) {
            inherit_cpuset(dir)?;
        }
    }
    Ok(())
}

/// Create `dir` and its missing parents, top-down.
fn make_missing(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    for d in missing.into_iter().rev() {
        make_one(d, created)?;
    }
    Ok(())
}

fn make_one(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            Ok(())
        }
        // Made at the same moment by someone else: theirs, not ours to remove.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::sys(format!("mkdir {}", dir.display()), e)),
    }
}

/// Walk from the cgroup2 root down to `leaf`, enabling the wanted controllers
/// in each cgroup's subtree_control (a child only gets the controllers its
/// parent enables), creating missing directories. Only cgroups this manager
/// created are written: a controller an existing ancestor does not enable
/// (ctrsh never changes cgroups it did not make) or that cannot be enabled
/// (EBUSY: an ancestor holds processes) becomes unavailable, with the reason.
fn make_v2_dirs(m: &mut CgroupManager, leaf: &Path, mount: &Path) -> Result<()> {
    let mut wanted: Vec<(Controller, &'static str)> = m
        .controllers
        .iter()
        .filter(|(_, dir)| dir.v2)
        .filter_map(|(c, _)| match c.on_v2() {
            OnV2::Enabled(name) => Some((*c, name)),
            _ => None,
        })
        .collect();
    let below = leaf.strip_prefix(mount).unwrap_or(leaf).to_path_buf();
    let mut current = mount.to_path_buf();
    for name in below.components() {
        enable_controllers(m, &current, &mut wanted)?;
        current.push(name);
        if !current.exists() {
            make_one(&current, &mut m.created)?;
        }
    }
    let present = read_words(&leaf.join("cgroup.controllers"))?;
    for (c, name) in wanted {
        if !present.iter().any(|p| p == name) {
            m.controllers.remove(&c);
            let why = format!("not enabled for {} (cgroup.controllers)", leaf.display());
            m.unavailable.insert(c, why);
        }
    }
    Ok(())
}

fn enable_controllers(
    m: &mut CgroupManager,
    dir: &Path,
    wanted: &mut Vec<(Controller, &'static str)>,
) -> Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let enabled = read_words(&control)?;
    let mut failed = Vec::new();
    for (c, name) in wanted.iter() {
        if enabled.iter().any(|e| e == name) {
            continue;
        }
        if !m.created.iter().any(|d| d == dir) {
            failed.push(*c);
            m.controllers.remove(c);
            let why = format!(
                "not enabled in {} (a cgroup ctrsh did not create)",
                control.display()
            );
            m.unavailable.insert(*c, why);
            continue;
        }
        if let Err(e) = files::write(&control, &format!("+{name}")) {
            failed.push(*c);
            m.controllers.remove(c);
            m.unavailable.insert(*c, format!("not enabled: {e}"));
        }
    }
    wanted.retain(|(c, _)| !failed.contains(c));
    Ok(())
}

/// A new v1 cpuset cgroup starts with no cpus and mems, and no process can
/// join it until they are set: copy the parent's.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if files::read_string(&dir.join(file))?.is_empty() {
            let value = files::read_string(&parent.join(file))?;
            files::write(&dir.join(file), &value)?;
        }
    }
    Ok(())
}

/// The cgroups directly below `dir` (none if `dir` is gone).
pub(super) fn sub_cgroups(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.ctx(format!("list {}", dir.display()))?,
    };
    let mut subs = Vec::new();
    for entry in entries {
        let entry = entry.ctx(format!("list {}", dir.display()))?;
        if entry
            .file_type()
            .ctx(format!("stat {:?}", entry.path()))?
            .is_dir()
        {
            subs.push(entry.path());
        }
    }
    Ok(subs)
}

/// Remove what `m` created, children before parents. The cgroup's own
/// directories go with any sub-cgroups made inside them; a created parent
/// that now holds another cgroup stays.
pub(super) fn remove(m: &CgroupManager) -> Result<()> {
    let leaves = m.dirs();
    for dir in m.created.iter().rev() {
        if leaves.contains(dir) {
            remove_tree(dir)?;
        } else if sub_cgroups(dir)?.is_empty() {
            remove_dir(dir)?;
        }
    }
    Ok(())
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

    #[test]
    fn mountinfo_lines() {
        let v1 = "35 25 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:12 - cgroup cgroup rw,cpu";
        let m = parse_mount_line(v1).unwrap();
        assert_eq!(m.point, Path::new("/sys/fs/cgroup/cpu"));
        assert!(m.has_v1(Controller::Cpu) && !m.has_v1(Controller::Cpuacct));
        let v2 = "40 25 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
        assert!(parse_mount_line(v2).unwrap().v1_options.is_none());
        assert!(parse_mount_line("22 1 0:21 / /proc rw - proc proc rw").is_none());
    }

    #[test]
    fn configured_paths() {
        let mut cfg = Cgroups::default();
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
