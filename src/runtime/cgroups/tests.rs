//! Tests against the kernel. They need root (with `CI` set, lacking it is a
//! failure, not a skip), make cgroups with unique names under the test
//! process's own cgroup, and remove them through a guard even when failing.

use super::*;
use crate::runtime::config::{Device, HugetlbLimit, Size};
use std::fs;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

fn have_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the cgroup tests need root (CI is set, so this fails instead of skipping)"
    );
    eprintln!("skipped: the cgroup tests need root");
    false
}

fn unique(tag: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("ctrsh-test-{}-{tag}-{n}", std::process::id())
}

/// A cgroups config under parent `parent` with an explicit (empty) device
/// list, so that tests do not depend on `default_allowed_devices()`.
fn config(parent: &str) -> Cgroups {
    Cgroups {
        parent: Some(parent.to_string()),
        allowed_devices: Some(Vec::new()),
        ..Cgroups::default()
    }
}

/// Kills and reaps its children, then destroys the cgroup and removes the
/// test's parent directories if they are still there.
struct Guard {
    manager: CgroupManager,
    children: Vec<Child>,
    parents: Vec<PathBuf>,
}

impl Guard {
    fn create(cfg: &Cgroups, id: &str) -> Guard {
        let manager = CgroupManager::create(cfg, id).expect("create cgroup");
        let parents = manager
            .dirs()
            .iter()
            .filter_map(|d| d.parent().map(Path::to_path_buf))
            .collect();
        Guard {
            manager,
            children: Vec::new(),
            parents,
        }
    }

    /// Start `args` and put it in the cgroup.
    fn spawn(&mut self, args: &[&str]) -> i32 {
        let child = Command::new(args[0])
            .args(&args[1..])
            .spawn()
            .expect("spawn");
        let pid = child.id() as i32;
        self.children.push(child);
        self.manager.add_process(pid).expect("add_process");
        pid
    }
}

impl std::ops::Deref for Guard {
    type Target = CgroupManager;
    fn deref(&self) -> &CgroupManager {
        &self.manager
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.manager.kill_all();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.manager.destroy();
        for parent in &self.parents {
            let _ = fs::remove_dir(parent);
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn file(g: &Guard, c: Controller, name: &str) -> String {
    read(&g.controller_dir(c).expect("controller").dir.join(name))
}

/// The caller's own cgroup in the hierarchy of `c`, from /proc/self/cgroup.
fn own_cgroup(c: Controller, v2: bool) -> String {
    let text = read(Path::new("/proc/self/cgroup"));
    text.lines()
        .map(|l| l.splitn(3, ':').collect::<Vec<_>>())
        .find(|p| match v2 {
            true => p[1].is_empty(),
            false => p[1].split(',').any(|n| n == c.name()),
        })
        .map(|p| p[2].to_string())
        .expect("own cgroup line")
}

fn v2_has_hugetlb() -> bool {
    fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|n| n == "hugetlb"))
}

#[test]
fn relative_path_lands_under_own_cgroup_per_controller() {
    if !have_root() {
        return;
    }
    let parent = unique("place");
    let g = Guard::create(&config(&parent), "c1");
    assert_eq!(g.path(), format!("{parent}/c1"));
    for c in Controller::ALL {
        let Some(d) = g.controller_dir(c) else {
            continue;
        };
        let own = own_cgroup(c, d.v2);
        let want = d
            .mount
            .join(own.trim_start_matches('/'))
            .join(&parent)
            .join("c1");
        assert_eq!(d.dir, want, "{c:?}");
        assert!(d.dir.is_dir(), "{}", d.dir.display());
    }
    if v2_has_hugetlb() {
        let d = g.controller_dir(Controller::Hugetlb).expect("hugetlb");
        assert!(d.v2 && d.dir.starts_with("/sys/fs/cgroup/unified"));
        assert!(d.dir.join("hugetlb.2MB.max").exists());
    }
    let dirs = g.dirs();
    drop(g);
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(
            !dir.parent().unwrap().exists(),
            "parent of {} left",
            dir.display()
        );
    }
}

#[test]
fn absolute_path_starts_at_hierarchy_root() {
    if !have_root() {
        return;
    }
    let top = unique("abs");
    let cfg = Cgroups {
        path: Some(format!("/{top}/c")),
        allowed_devices: Some(Vec::new()),
        ..Cgroups::default()
    };
    let g = Guard::create(&cfg, "ignored");
    for c in Controller::ALL {
        if let Some(d) = g.controller_dir(c) {
            assert_eq!(d.dir, d.mount.join(&top).join("c"), "{c:?}");
        }
    }
}

#[test]
fn cgroup_with_processes_is_not_reused() {
    if !have_root() {
        return;
    }
    let cfg = config(&unique("busy"));
    let mut g = Guard::create(&cfg, "c");
    g.spawn(&["sleep", "100"]);
    let err = CgroupManager::create(&cfg, "c").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Exists, "{err}");
}

#[test]
fn limits_are_written_and_read_back() {
    if !have_root() {
        return;
    }
    let mut cfg = config(&unique("limits"));
    cfg.memory = Some(Size(64 << 20));
    cfg.memory_reservation = Some(Size(32 << 20));
    cfg.memory_swap = Some(Size(128 << 20));
    cfg.pids_limit = Some(20);
    cfg.cpu_shares = Some(512);
    cfg.cpu_quota = Some(50_000);
    cfg.cpu_period = Some(100_000);
    cfg.cpuset_cpus = Some("0".into());
    cfg.cpuset_mems = Some("0".into());
    if v2_has_hugetlb() {
        cfg.hugetlb_limits = vec![HugetlbLimit {
            page_size: "2MB".into(),
            limit: Size(4 << 20),
        }];
    }
    let g = Guard::create(&cfg, "c");
    g.apply(&cfg).expect("apply");
    let mem = g.controller_dir(Controller::Memory).unwrap();
    assert!(
        !mem.v2,
        "this test expects the v1 memory controller of this host"
    );
    assert_eq!(
        file(&g, Controller::Memory, "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(
        file(&g, Controller::Memory, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(
        file(&g, Controller::Memory, "memory.memsw.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(file(&g, Controller::Pids, "pids.max"), "20");
    assert_eq!(file(&g, Controller::Cpu, "cpu.shares"), "512");
    assert_eq!(file(&g, Controller::Cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(file(&g, Controller::Cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(file(&g, Controller::Cpuset, "cpuset.cpus"), "0");
    assert_eq!(file(&g, Controller::Cpuset, "cpuset.mems"), "0");
    if v2_has_hugetlb() {
        assert_eq!(file(&g, Controller::Hugetlb, "hugetlb.2MB.max"), "4194304");
    }

    // A live update that raises both memory limits (swap must go first on
    // v1), then one that lowers them (memory first), then unlimited.
    for (memory, swap) in [(256 << 20, 512 << 20), (16 << 20, 32 << 20), (-1, -1)] {
        let update = Cgroups {
            memory: Some(Size(memory)),
            memory_swap: Some(Size(swap)),
            ..cfg.clone()
        };
        g.apply(&update).expect("update");
        let limit = file(&g, Controller::Memory, "memory.limit_in_bytes");
        let memsw = file(&g, Controller::Memory, "memory.memsw.limit_in_bytes");
        if memory > 0 {
            assert_eq!((limit, memsw), (memory.to_string(), swap.to_string()));
        } else {
            assert!(limit.parse::<u64>().unwrap() > 1 << 62, "{limit}");
        }
    }
    let stats = g.stats().expect("stats");
    assert_eq!(stats.pids.unwrap().limit, Some(20));
    assert_eq!(stats.memory.unwrap().limit, None);
}

#[test]
fn blkio_weight_is_written_or_refused() {
    if !have_root() {
        return;
    }
    let mut cfg = config(&unique("blkio"));
    cfg.blkio_weight = Some(500);
    let g = Guard::create(&cfg, "c");
    let dir = &g.controller_dir(Controller::Blkio).expect("blkio").dir;
    let file = ["blkio.weight", "blkio.bfq.weight"]
        .into_iter()
        .find(|f| dir.join(f).exists());
    match (g.apply(&cfg), file) {
        (Ok(()), Some(file)) => {
            // blkio.bfq.weight reads "default 500".
            let text = read(&dir.join(file));
            assert!(text.ends_with("500"), "{file}: {text}");
        }
        (Err(e), None) => assert_eq!(e.kind, ErrorKind::Unsupported, "{e}"),
        (result, file) => panic!("{result:?} with weight file {file:?}"),
    }
}

#[test]
fn bad_hugetlb_size_is_a_config_error() {
    if !have_root() || !v2_has_hugetlb() {
        return;
    }
    let mut cfg = config(&unique("huge"));
    cfg.hugetlb_limits = vec![HugetlbLimit {
        page_size: "3MB".into(),
        limit: Size(0),
    }];
    let g = Guard::create(&cfg, "c");
    let err = g.apply(&cfg).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
}

fn proc_state(pid: i32) -> char {
    let status = read(Path::new(&format!("/proc/{pid}/status")));
    let line = status.lines().find(|l| l.starts_with("State:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .chars()
        .next()
        .unwrap()
}

#[test]
fn processes_freeze_and_thaw() {
    if !have_root() {
        return;
    }
    let mut g = Guard::create(&config(&unique("freeze")), "c");
    let pid = g.spawn(&["sleep", "100"]);
    assert_eq!(g.processes().unwrap(), vec![pid]);
    assert!(!g.is_frozen().unwrap());

    g.freeze().expect("freeze");
    assert!(g.is_frozen().unwrap());
    let d = g.controller_dir(Controller::Freezer).unwrap();
    if !d.v2 {
        assert_eq!(read(&d.dir.join("freezer.state")), "FROZEN");
    }
    // A frozen task shows as D (uninterruptible).
    assert_eq!(proc_state(pid), 'D');

    g.thaw().expect("thaw");
    assert!(!g.is_frozen().unwrap());
    // Thawing wakes it (R) before it sleeps again.
    let deadline = Instant::now() + Duration::from_secs(1);
    while proc_state(pid) != 'S' && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(proc_state(pid), 'S');
}

#[test]
fn stats_are_plausible() {
    if !have_root() {
        return;
    }
    let mut cfg = config(&unique("stats"));
    cfg.memory = Some(Size(256 << 20));
    let g = {
        let mut g = Guard::create(&cfg, "c");
        g.apply(&cfg).unwrap();
        // The exec comes after joining, so the new image's memory is charged here.
        g.spawn(&["sh", "-c", "sleep 0.2; exec sh -c 'while :; do :; done'"]);
        g
    };
    std::thread::sleep(Duration::from_millis(300));
    let first = g.stats().expect("stats");
    let cpu1 = first.cpu.unwrap();
    // The busy loop gets its 100 ms of cpu soon, later on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let second = loop {
        std::thread::sleep(Duration::from_millis(100));
        let s = g.stats().expect("stats");
        let used = s.cpu.as_ref().unwrap().usage_ns;
        if used > cpu1.usage_ns + 100_000_000 {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "{cpu1:?} -> {used}");
    };
    let cpu2 = second.cpu.clone().unwrap();
    assert!(cpu2.user_ns + cpu2.system_ns > 0);
    if let Some(per_cpu) = &cpu2.per_cpu {
        assert!(per_cpu.iter().sum::<u64>() >= cpu2.usage_ns / 2);
    }
    let memory = second.memory.clone().unwrap();
    assert!(memory.usage > 0 && memory.usage < 256 << 20, "{memory:?}");
    assert_eq!(memory.limit, Some(256 << 20));
    assert_eq!(memory.oom_kills, 0);
    assert_eq!(second.pids.clone().unwrap().current, 1);
    assert!(second.blkio.is_some());
    if v2_has_hugetlb() {
        let hugetlb = second.hugetlb.clone().unwrap();
        assert_eq!(hugetlb["2MB"].usage, 0, "{hugetlb:?}");
    }
    assert_eq!(g.oom_kills().unwrap(), 0);
    // Scripts see stats as JSON-like maps.
    let json = serde_json::to_value(&second).unwrap();
    assert!(json["cpu"]["usage_ns"].as_u64().unwrap() > 0);
    drop(g);
}

#[test]
fn oom_kill_is_counted() {
    if !have_root() {
        return;
    }
    let mut cfg = config(&unique("oom"));
    cfg.memory = Some(Size(16 << 20));
    cfg.memory_swap = Some(Size(16 << 20));
    cfg.allow_all_devices = Some(true);
    let mut g = Guard::create(&cfg, "c");
    g.apply(&cfg).unwrap();
    // The shell joins first; only then does python allocate.
    g.spawn(&[
        "sh",
        "-c",
        "sleep 0.3; exec python3 -c 'b = bytearray(256 << 20)'",
    ]);
    let status = g.children[0].wait().unwrap();
    assert!(!status.success());
    assert!(g.oom_kills().unwrap() >= 1);
}

#[test]
fn kill_all_and_destroy_leave_nothing() {
    if !have_root() {
        return;
    }
    let parent = unique("kill");
    let mut g = Guard::create(&config(&parent), "c");
    g.spawn(&["sleep", "100"]);
    g.spawn(&["sleep", "100"]);
    // A sub-cgroup made inside (as a container may), with a process in it.
    let pids_dir = g.controller_dir(Controller::Pids).unwrap().dir.clone();
    let sub = pids_dir.join("inner");
    fs::create_dir(&sub).unwrap();
    let mut inner = Command::new("sleep").arg("100").spawn().unwrap();
    fs::write(sub.join("cgroup.procs"), inner.id().to_string()).unwrap();
    assert_eq!(g.processes().unwrap().len(), 3);

    g.freeze().unwrap();
    g.kill_all().expect("kill_all");
    assert!(g.processes().unwrap().is_empty());
    let _ = inner.wait();
    g.destroy().expect("destroy");
    for dir in g.dirs() {
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(
            !dir.parent().unwrap().exists(),
            "parent of {}",
            dir.display()
        );
    }
    // A second destroy has nothing left to do.
    g.destroy().expect("destroy again");
}

#[test]
fn created_parent_shared_with_another_cgroup_stays() {
    if !have_root() {
        return;
    }
    let parent = unique("shared");
    let first = Guard::create(&config(&parent), "a");
    let second = Guard::create(&config(&parent), "b");
    first.destroy().unwrap();
    let pids = |g: &Guard| g.controller_dir(Controller::Pids).unwrap().dir.clone();
    assert!(!pids(&first).exists());
    assert!(pids(&second).exists());
}

fn rule(kind: &str, major: i64, minor: i64, permissions: &str, allow: bool) -> Device {
    Device {
        allow,
        ..Device::new(kind, major, minor, permissions)
    }
}

#[test]
fn device_rules_are_written() {
    if !have_root() {
        return;
    }
    let mut cfg = config(&unique("devices"));
    cfg.allowed_devices = Some(vec![
        rule("c", 1, 3, "rwm", true),
        rule("c", 1, 5, "rwm", true),
        rule("c", 1, 5, "w", false),
        rule("b", -1, -1, "m", true),
    ]);
    let g = Guard::create(&cfg, "c");
    let Some(d) = g.controller_dir(Controller::Devices) else {
        assert_eq!(g.apply(&cfg).unwrap_err().kind, ErrorKind::Unsupported);
        return;
    };
    g.apply(&cfg).expect("apply");
    let list = read(&d.dir.join("devices.list"));
    let mut lines: Vec<&str> = list.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["b *:* m", "c 1:3 rwm", "c 1:5 rm"]);

    let bad = Cgroups {
        allowed_devices: Some(vec![
            rule("c", 1, 3, "rwm", true),
            rule("x", 1, 1, "r", true),
        ]),
        ..cfg.clone()
    };
    let err = g.apply(&bad).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(
        err.message.contains("cgroups.allowed_devices[1].type"),
        "{err}"
    );
    assert_eq!(
        read(&d.dir.join("devices.list")).lines().count(),
        3,
        "nothing written"
    );

    let all = Cgroups {
        allow_all_devices: Some(true),
        ..cfg.clone()
    };
    g.apply(&all).unwrap();
    assert_eq!(read(&d.dir.join("devices.list")), "a *:* rwm");
}

/// A v2-only host has no devices controller: rules are refused, never
/// silently dropped. (Needs no root: nothing touches the kernel.)
#[test]
fn device_rules_on_v2_are_unsupported() {
    let m = CgroupManager {
        path: "x".into(),
        mode: Mode::V2,
        controllers: BTreeMap::new(),
        unavailable: BTreeMap::new(),
        unified: None,
        created: Vec::new(),
    };
    let cfg = Cgroups {
        allowed_devices: Some(Vec::new()),
        ..Cgroups::default()
    };
    let err = m.apply(&cfg).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert_eq!(
        err.message,
        "cgroups.allowed_devices: device rules need an eBPF filter on cgroup v2, which ctrsh does not have yet"
    );
    let all = Cgroups {
        allow_all_devices: Some(true),
        ..cfg
    };
    m.apply(&all).unwrap();
}

#[test]
fn missing_controller_names_the_key() {
    let mut unavailable = BTreeMap::new();
    unavailable.insert(Controller::Pids, "not mounted on this host".to_string());
    let m = CgroupManager {
        path: "x".into(),
        mode: Mode::V1,
        controllers: BTreeMap::new(),
        unavailable,
        unified: None,
        created: Vec::new(),
    };
    let cfg = Cgroups {
        pids_limit: Some(5),
        ..Cgroups::default()
    };
    let err = m.apply(&cfg).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert_eq!(
        err.message,
        "cgroups.pids_limit: the pids cgroup controller is not mounted on this host"
    );
}

#[test]
fn manager_round_trips_through_json() {
    if !have_root() {
        return;
    }
    let g = Guard::create(&config(&unique("json")), "c");
    let json = serde_json::to_string(&g.manager).unwrap();
    let back: CgroupManager = serde_json::from_str(&json).unwrap();
    assert_eq!(back.dirs(), g.dirs());
    assert_eq!(back.mode(), g.mode());
}

#[test]
fn existing_empty_cgroup_is_used_and_kept() {
    if !have_root() {
        return;
    }
    let parent = unique("existing");
    let pids_root = own_cgroup(Controller::Pids, false);
    let existing = Path::new("/sys/fs/cgroup/pids")
        .join(pids_root.trim_start_matches('/'))
        .join(&parent)
        .join("c");
    fs::create_dir_all(&existing).unwrap();
    let g = Guard::create(&config(&parent), "c");
    assert_eq!(g.controller_dir(Controller::Pids).unwrap().dir, existing);
    g.destroy().unwrap();
    assert!(existing.exists(), "a cgroup it did not create was removed");
    assert!(!g.controller_dir(Controller::Memory).unwrap().dir.exists());
    fs::remove_dir(&existing).unwrap();
}

/// This host's cgroup2 mount has no cpu or freezer controller, but every
/// cgroup2 cgroup has the core cgroup.freeze, cgroup.events and cpu.stat:
/// enough to run the v2 freezer and cpu stats code here.
#[test]
fn v2_core_freezer_and_cpu_stats() {
    if !have_root() {
        return;
    }
    let mut g = Guard::create(&config(&unique("v2core")), "c");
    let Some(unified) = g.manager.unified.clone() else {
        return;
    };
    let mount = g
        .controller_dir(Controller::Hugetlb)
        .map(|d| d.mount.clone());
    let Some(mount) = mount.filter(|_| g.mode() == Mode::Hybrid) else {
        return;
    };
    for c in [Controller::Freezer, Controller::Cpuacct] {
        let dir = ControllerDir {
            dir: unified.clone(),
            mount: mount.clone(),
            v2: true,
        };
        g.manager.controllers.insert(c, dir);
    }
    g.manager.controllers.remove(&Controller::Cpu);
    g.spawn(&["sh", "-c", "while :; do :; done"]);

    g.freeze().expect("freeze (v2)");
    assert!(g.is_frozen().unwrap());
    assert_eq!(read(&unified.join("cgroup.freeze")), "1");
    assert!(read(&unified.join("cgroup.events")).contains("frozen 1"));
    let frozen = g.stats().unwrap().cpu.unwrap().usage_ns;
    std::thread::sleep(Duration::from_millis(200));
    let still = g.stats().unwrap().cpu.unwrap();
    assert!(still.usage_ns < frozen + 20_000_000, "frozen yet ran");
    assert_eq!((still.per_cpu, still.throttled_periods), (None, None));

    g.thaw().expect("thaw (v2)");
    assert!(!g.is_frozen().unwrap());
    // A thawed busy loop runs again; on a loaded machine it may take a while
    // to get its 100 ms of cpu.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while g.stats().unwrap().cpu.unwrap().usage_ns <= frozen + 100_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "thawed yet did not run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    g.freeze().unwrap();
    g.kill_all().expect("kill_all thaws through v2");
}
