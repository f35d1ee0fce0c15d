//! Tests against the kernel. They need root (through the skip helper: with
//! `CI` set, lacking it is a failure, not a skip), make cgroups with unique
//! names under the test process's own cgroup, and remove them through a
//! guard even when failing. What they expect of each controller (v1 or v2
//! files, whether it exists) comes from the host's layout as the tests
//! themselves read it (`test_host`), not from the code under test.

use super::*;
use crate::runtime::config::{
    Cgroups, CheckedCgroups, Config, Device, HugetlbLimit, Limits, Size, ThrottleDevice,
    WeightDevice,
};
use crate::test_host::{host, requires, skip, CgroupMode, Need};
use std::fs;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn have_root(test: &str) -> bool {
    requires(test, &[Need::Root])
}

/// Whether the host puts controller `c` on cgroup2.
fn on_v2(c: Controller) -> bool {
    host().cgroups.is_v2(c.name())
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

/// `cfg` as `Config::validate` checks it, but with its limits as they are:
/// the manager also takes values a config may not give (memory -1, no
/// limit).
fn checked(cfg: &Cgroups) -> Result<CheckedCgroups> {
    let placement_and_devices = Cgroups {
        name: cfg.name.clone(),
        parent: cfg.parent.clone(),
        path: cfg.path.clone(),
        allow_all_devices: cfg.allow_all_devices,
        allowed_devices: cfg.allowed_devices.clone(),
        ..Cgroups::default()
    };
    let config = Config {
        rootfs: "/".into(),
        cgroups: Some(placement_and_devices),
        ..Config::default()
    };
    let mut checked = config.validate()?.cgroups;
    checked.limits = Limits::from(cfg);
    Ok(checked)
}

/// `CgroupManager::create` with nothing to record.
fn create(cfg: &Cgroups, name: &str) -> Result<CgroupManager> {
    CgroupManager::create(&checked(cfg)?, name, &mut |_| Ok(()))
}

/// Kills and reaps its children, then destroys the cgroup (the parents
/// ctrsh made go with the last cgroup in them).
struct Guard {
    manager: CgroupManager,
    children: Vec<Child>,
    /// Controller dirs a test swapped out of the manager, put back before
    /// destroy so that their cgroups are removed too.
    swapped: Vec<(Controller, ControllerDir)>,
}

impl Guard {
    fn create(cfg: &Cgroups, id: &str) -> Guard {
        let manager = create(cfg, id).expect("create cgroup");
        Guard {
            manager,
            children: Vec::new(),
            swapped: Vec::new(),
        }
    }

    /// `CgroupManager::apply` of `cfg` once checked.
    fn apply(&self, cfg: &Cgroups) -> Result<()> {
        self.manager.apply(&checked(cfg)?)
    }

    /// Start `args` in the cgroup: a shell that waits until `add_process`
    /// has put it there, then execs `args` (so their memory is charged here).
    fn spawn(&mut self, args: &[&str]) -> i32 {
        let mut child = Command::new("sh")
            .args(["-c", "read go && exec \"$@\"", "sh"])
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = child.id() as i32;
        let mut go = child.stdin.take().expect("the child's stdin");
        self.children.push(child);
        self.manager.add_process(pid).expect("add_process");
        go.write_all(b"go\n").expect("let the child go on");
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
        for (c, dir) in self.swapped.drain(..) {
            self.manager.controllers.insert(c, dir);
        }
        let _ = self.manager.destroy();
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

/// A limit that makes a config ask for the hugetlb controller.
fn hugetlb_limit() -> Vec<HugetlbLimit> {
    vec![HugetlbLimit {
        page_size: "2MB".into(),
        limit: Size(4 << 20),
    }]
}

/// A config under `parent` that asks something of every controller (on
/// cgroup v2 ctrsh enables only those a config asks for).
fn asking_everything(parent: &str) -> Cgroups {
    Cgroups {
        memory: Some(Size(256 << 20)),
        cpu_shares: Some(1024),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(64),
        blkio_weight: Some(500),
        hugetlb_limits: host()
            .cgroups
            .hierarchy("hugetlb")
            .map(|_| hugetlb_limit())
            .unwrap_or_default(),
        ..config(parent)
    }
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

#[test]
fn relative_path_lands_under_own_cgroup_per_controller() {
    if !have_root("relative_path_lands_under_own_cgroup_per_controller") {
        return;
    }
    let parent = unique("place");
    let g = Guard::create(&asking_everything(&parent), "c1");
    assert_eq!(g.path(), format!("{parent}/c1"));
    // Every controller the host has, in the hierarchy the host has it in.
    for c in Controller::ALL {
        let Some(hierarchy) = host().cgroups.hierarchy(c.name()) else {
            assert!(g.controller_dir(c).is_none(), "{c:?}: the host has none");
            continue;
        };
        let d = g
            .controller_dir(c)
            .unwrap_or_else(|| panic!("{c:?}: no directory, yet the host has the controller"));
        assert_eq!((&d.mount, d.v2), (&hierarchy.mount, hierarchy.v2), "{c:?}");
        let own = own_cgroup(c, d.v2);
        let want = d
            .mount
            .join(own.trim_start_matches('/'))
            .join(&parent)
            .join("c1");
        assert_eq!(d.dir, want, "{c:?}");
        assert!(d.dir.is_dir(), "{}", d.dir.display());
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
    if !have_root("absolute_path_starts_at_hierarchy_root") {
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
    if !have_root("cgroup_with_processes_is_not_reused") {
        return;
    }
    let cfg = config(&unique("busy"));
    let mut g = Guard::create(&cfg, "c");
    g.spawn(&["sleep", "100"]);
    let err = create(&cfg, "c").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Exists, "{err}");
}

/// A limit's file and expected content on this host's hierarchy for it.
fn expect(c: Controller, v1: (&str, &str), v2: (&str, &str)) -> (Controller, String, String) {
    let (file, value) = if on_v2(c) { v2 } else { v1 };
    (c, file.to_string(), value.to_string())
}

#[test]
fn limits_are_written_and_read_back() {
    if !have_root("limits_are_written_and_read_back") {
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
    let g = Guard::create(&cfg, "c");
    g.apply(&cfg).expect("apply");
    use Controller::*;
    // v2: memory.swap.max is swap alone (memory_swap counts memory too);
    // cpu.weight is runc's conversion of 512 shares.
    let files = [
        expect(
            Memory,
            ("memory.limit_in_bytes", "67108864"),
            ("memory.max", "67108864"),
        ),
        expect(
            Memory,
            ("memory.soft_limit_in_bytes", "33554432"),
            ("memory.low", "33554432"),
        ),
        expect(
            Memory,
            ("memory.memsw.limit_in_bytes", "134217728"),
            ("memory.swap.max", "67108864"),
        ),
        expect(Pids, ("pids.max", "20"), ("pids.max", "20")),
        expect(Cpu, ("cpu.shares", "512"), ("cpu.weight", "20")),
        expect(
            Cpu,
            ("cpu.cfs_quota_us", "50000"),
            ("cpu.max", "50000 100000"),
        ),
        expect(
            Cpu,
            ("cpu.cfs_period_us", "100000"),
            ("cpu.max", "50000 100000"),
        ),
        expect(Cpuset, ("cpuset.cpus", "0"), ("cpuset.cpus", "0")),
        expect(Cpuset, ("cpuset.mems", "0"), ("cpuset.mems", "0")),
    ];
    for (c, name, value) in &files {
        assert_eq!(&file(&g, *c, name), value, "{c:?} {name}");
    }

    // A live update that raises both memory limits (swap must go first on
    // v1), then one that lowers them (memory first), then unlimited.
    let (limit_file, swap_file) = match on_v2(Memory) {
        false => ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
        true => ("memory.max", "memory.swap.max"),
    };
    for (memory, swap) in [(256 << 20, 512 << 20), (16 << 20, 32 << 20), (-1, -1)] {
        let update = Cgroups {
            memory: Some(Size(memory)),
            memory_swap: Some(Size(swap)),
            ..cfg.clone()
        };
        g.apply(&update).expect("update");
        let limit = file(&g, Memory, limit_file);
        let swapped = file(&g, Memory, swap_file);
        match (memory > 0, on_v2(Memory)) {
            (true, false) => assert_eq!((limit, swapped), (memory.to_string(), swap.to_string())),
            (true, true) => {
                assert_eq!(
                    (limit, swapped),
                    (memory.to_string(), (swap - memory).to_string())
                )
            }
            (false, false) => assert!(limit.parse::<u64>().unwrap() > 1 << 62, "{limit}"),
            (false, true) => assert_eq!((limit.as_str(), swapped.as_str()), ("max", "max")),
        }
    }
    let stats = g.stats().expect("stats");
    assert_eq!(stats.pids.unwrap().limit, Some(20));
    assert_eq!(stats.memory.unwrap().limit, None);
}

#[test]
fn hugetlb_limit_is_written_and_read_back() {
    let test = "hugetlb_limit_is_written_and_read_back";
    if !requires(test, &[Need::Root, Need::Controller("hugetlb")]) {
        return;
    }
    let mut cfg = config(&unique("hugetlb"));
    cfg.hugetlb_limits = hugetlb_limit();
    let g = Guard::create(&cfg, "c");
    g.apply(&cfg).expect("apply");
    let name = match on_v2(Controller::Hugetlb) {
        false => "hugetlb.2MB.limit_in_bytes",
        true => "hugetlb.2MB.max",
    };
    assert_eq!(file(&g, Controller::Hugetlb, name), "4194304");
    let stats = g.stats().expect("stats").hugetlb.expect("hugetlb stats");
    assert_eq!(stats["2MB"].usage, 0, "{stats:?}");
}

/// The weight file the kernel gives a new cgroup of `dir`'s hierarchy
/// depends on the I/O scheduler: v1 blkio.weight (CFQ) or blkio.bfq.weight,
/// v2 io.bfq.weight or io.weight (on a 1..10000 scale).
#[test]
fn blkio_weight_is_written_or_refused() {
    let test = "blkio_weight_is_written_or_refused";
    if !requires(test, &[Need::Root, Need::Controller("blkio")]) {
        return;
    }
    let mut cfg = config(&unique("blkio"));
    cfg.blkio_weight = Some(500);
    let g = Guard::create(&cfg, "c");
    let dir = &g.controller_dir(Controller::Blkio).expect("blkio").dir;
    // What the kernel made, looked at before ctrsh writes anything.
    let candidates: [(&str, &str); 2] = match on_v2(Controller::Blkio) {
        false => [("blkio.weight", "500"), ("blkio.bfq.weight", "500")],
        true => [("io.bfq.weight", "500"), ("io.weight", "4950")],
    };
    let weight = candidates.into_iter().find(|(f, _)| dir.join(f).exists());
    match (g.apply(&cfg), weight) {
        // blkio.bfq.weight reads "default 500", io.weight "default 4950".
        (Ok(()), Some((file, value))) => {
            let text = read(&dir.join(file));
            assert!(text.ends_with(value), "{file}: {text}");
        }
        (Err(e), None) => assert_eq!(e.kind, ErrorKind::Unsupported, "{e}"),
        (result, file) => panic!("{result:?} with weight file {file:?}"),
    }
}

/// Per-device rate limits land in v1's blkio.throttle.* files or v2's
/// io.max, and an update that leaves a device out lifts its limit there.
#[test]
fn blkio_throttles_are_written_and_lifted() {
    let test = "blkio_throttles_are_written_and_lifted";
    if !requires(
        test,
        &[Need::Root, Need::Controller("blkio"), Need::WholeDisk],
    ) {
        return;
    }
    let (major, minor) = host().whole_disk.expect("a disk");
    let disk = format!("{major}:{minor}");
    let throttle = |rate| {
        vec![ThrottleDevice {
            major: major.into(),
            minor: minor.into(),
            rate,
        }]
    };
    let mut cfg = config(&unique("throttle"));
    cfg.blkio_throttle_read_bps_device = throttle(1 << 20);
    cfg.blkio_throttle_write_iops_device = throttle(100);
    let g = Guard::create(&cfg, "c");
    g.apply(&cfg).expect("apply");
    let read_back = || match on_v2(Controller::Blkio) {
        false => ["read_bps", "write_iops"]
            .map(|f| file(&g, Controller::Blkio, &format!("blkio.throttle.{f}_device")))
            .join("; "),
        true => file(&g, Controller::Blkio, "io.max"),
    };
    let expected = match on_v2(Controller::Blkio) {
        false => [
            format!("{disk} 1048576; {disk} 100"),
            format!("; {disk} 100"),
        ],
        true => [
            format!("{disk} rbps=1048576 wbps=max riops=max wiops=100"),
            format!("{disk} rbps=max wbps=max riops=max wiops=100"),
        ],
    };
    assert_eq!(read_back(), expected[0]);
    let before = Limits::from(&cfg);
    cfg.blkio_throttle_read_bps_device.clear();
    let lifted = Limits::from(&cfg).update_from(&before).expect("update");
    g.apply_limits(&lifted).expect("update");
    assert_eq!(read_back(), expected[1]);
}

/// A device's weight is written where the device's I/O scheduler takes
/// weights, or refused naming the key.
#[test]
fn blkio_weight_device_is_written_or_refused() {
    let test = "blkio_weight_device_is_written_or_refused";
    if !requires(
        test,
        &[Need::Root, Need::Controller("blkio"), Need::WholeDisk],
    ) {
        return;
    }
    let (major, minor) = host().whole_disk.expect("a disk");
    let mut cfg = config(&unique("weightdev"));
    cfg.blkio_weight_device = vec![WeightDevice {
        major: major.into(),
        minor: minor.into(),
        weight: 500,
    }];
    let g = Guard::create(&cfg, "c");
    let dir = &g.controller_dir(Controller::Blkio).expect("blkio").dir;
    match g.apply(&cfg) {
        Ok(()) => {
            let files = [
                "blkio.weight_device",
                "blkio.bfq.weight_device",
                "io.bfq.weight",
                "io.weight",
            ];
            let texts: Vec<String> = files
                .iter()
                .filter(|f| dir.join(f).exists())
                .map(|f| read(&dir.join(f)))
                .collect();
            assert!(
                texts.iter().any(|t| t
                    .lines()
                    .any(|l| l.starts_with(&format!("{major}:{minor} ")))),
                "{texts:?}"
            );
        }
        Err(e) => assert!(
            e.message.starts_with("cgroups.blkio_weight_device: "),
            "{e}"
        ),
    }
}

#[test]
fn bad_hugetlb_size_is_a_config_error() {
    let test = "bad_hugetlb_size_is_a_config_error";
    if !requires(test, &[Need::Root, Need::Controller("hugetlb")]) {
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
    if !have_root("processes_freeze_and_thaw") {
        return;
    }
    let mut g = Guard::create(&config(&unique("freeze")), "c");
    let pid = g.spawn(&["sleep", "100"]);
    assert_eq!(g.processes().unwrap(), vec![pid]);
    assert!(!g.is_frozen().unwrap());

    g.freeze().expect("freeze");
    assert!(g.is_frozen().unwrap());
    let d = g.controller_dir(Controller::Freezer).unwrap();
    assert_eq!(d.v2, on_v2(Controller::Freezer));
    if d.v2 {
        assert_eq!(read(&d.dir.join("cgroup.freeze")), "1");
    } else {
        assert_eq!(read(&d.dir.join("freezer.state")), "FROZEN");
        // A task frozen by v1 shows as D (uninterruptible).
        assert_eq!(proc_state(pid), 'D');
    }

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
    if !have_root("stats_are_plausible") {
        return;
    }
    let mut cfg = config(&unique("stats"));
    cfg.memory = Some(Size(256 << 20));
    cfg.pids_limit = Some(64);
    let mut g = Guard::create(&cfg, "c");
    g.apply(&cfg).unwrap();
    g.spawn(&["sh", "-c", "while :; do :; done"]);
    let first = g.stats().expect("stats");
    let cpu1 = first.cpu.unwrap();
    // The busy loop gets its 100 ms of cpu soon, later on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        let s = g.stats().expect("stats");
        let used = s.cpu.as_ref().unwrap().usage_ns;
        if used > cpu1.usage_ns + 100_000_000 {
            break s;
        }
        assert!(Instant::now() < deadline, "{cpu1:?} -> {used}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let cpu2 = second.cpu.clone().unwrap();
    assert!(cpu2.user_ns + cpu2.system_ns > 0);
    // Per-cpu usage is v1 cpuacct's (cpuacct.usage_percpu); v2 has none.
    let v1_cpuacct = !on_v2(Controller::Cpuacct);
    assert_eq!(cpu2.per_cpu.is_some(), v1_cpuacct, "{cpu2:?}");
    if let Some(per_cpu) = &cpu2.per_cpu {
        assert!(per_cpu.iter().sum::<u64>() >= cpu2.usage_ns / 2);
    }
    let memory = second.memory.clone().unwrap();
    assert!(memory.usage > 0 && memory.usage < 256 << 20, "{memory:?}");
    assert_eq!(memory.limit, Some(256 << 20));
    assert_eq!(memory.oom_kills, 0);
    assert_eq!(second.pids.clone().unwrap().current, 1);
    // The config asks nothing of blkio: on cgroup v2 it is there only if the
    // host enables it all the way down.
    let blkio = g.controller_dir(Controller::Blkio).is_some();
    assert_eq!(second.blkio.is_some(), blkio);
    assert_eq!(g.oom_kills().unwrap(), 0);
    // Scripts see stats as JSON-like maps.
    let json = serde_json::to_value(&second).unwrap();
    assert!(json["cpu"]["usage_ns"].as_u64().unwrap() > 0);
    drop(g);
}

#[test]
fn oom_kill_is_counted() {
    if !have_root("oom_kill_is_counted") {
        return;
    }
    let mut cfg = config(&unique("oom"));
    cfg.memory = Some(Size(16 << 20));
    cfg.memory_swap = Some(Size(16 << 20));
    cfg.allow_all_devices = Some(true);
    let mut g = Guard::create(&cfg, "c");
    g.apply(&cfg).unwrap();
    // tail buffers the never-ending line of /dev/zero until it is killed.
    g.spawn(&["tail", "/dev/zero"]);
    let status = g.children[0].wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(g.oom_kills().unwrap() >= 1);
}

#[test]
fn kill_all_and_destroy_leave_nothing() {
    if !have_root("kill_all_and_destroy_leave_nothing") {
        return;
    }
    let parent = unique("kill");
    // A pids limit, so that the pids controller is there on every host: on
    // a hybrid one the sub-cgroup below is a v1 one, outside the container's
    // cgroup2 directory; on a v2 one it is inside.
    let cfg = Cgroups {
        pids_limit: Some(64),
        ..config(&parent)
    };
    let mut g = Guard::create(&cfg, "c");
    g.spawn(&["sleep", "100"]);
    g.spawn(&["sleep", "100"]);
    // A sub-cgroup made inside (as a container may), with a process in it;
    // the guard kills it too should the test fail.
    let pids_dir = g.controller_dir(Controller::Pids).unwrap().dir.clone();
    let sub = pids_dir.join("inner");
    fs::create_dir(&sub).unwrap();
    let inner = Command::new("sleep").arg("100").spawn().unwrap();
    let inner_pid = inner.id();
    g.children.push(inner);
    fs::write(sub.join("cgroup.procs"), inner_pid.to_string()).unwrap();
    assert_eq!(g.processes().unwrap().len(), 3);

    g.freeze().unwrap();
    g.kill_all().expect("kill_all");
    assert!(g.processes().unwrap().is_empty());
    for child in &mut g.children {
        let _ = child.wait();
    }
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

/// Where the kernel has cgroup.kill, `kill_all` sends no signal of its own
/// to the processes below the cgroup2 directory: run in a thread whose
/// seccomp filter makes every system call that sends a signal fail, it
/// still empties the cgroup, a sub-cgroup included.
#[test]
fn kill_all_kills_through_cgroup_kill() {
    let test = "kill_all_kills_through_cgroup_kill";
    if !have_root(test) {
        return;
    }
    let mut g = Guard::create(&config(&unique("cgkill")), "c");
    let Some(unified) = g.unified().cloned() else {
        skip(test, "the host has no cgroup2 hierarchy");
        return;
    };
    if !unified.dir.join("cgroup.kill").exists() {
        skip(test, "the kernel has no cgroup.kill (Linux 5.14)");
        return;
    }
    g.spawn(&["sleep", "100"]);
    let inner_pid = g.spawn(&["sleep", "100"]);
    let sub = unified.dir.join("inner");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("cgroup.procs"), inner_pid.to_string()).unwrap();
    assert_eq!(g.processes().unwrap().len(), 2);

    let no_signals: crate::runtime::seccomp::Seccomp = serde_json::from_value(serde_json::json!({
        "default_action": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
                      "pidfd_send_signal"],
            "action": "SCMP_ACT_ERRNO"
        }]
    }))
    .unwrap();
    let program = no_signals.compile(&Default::default()).unwrap().unwrap();
    let killed = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // Only this thread is filtered (no TSYNC), and it ends here.
                crate::runtime::seccomp::apply(&program).expect("install the filter");
                g.kill_all()
            })
            .join()
            .unwrap()
    });
    killed.expect("kill_all without sending a signal itself");
    assert!(g.processes().unwrap().is_empty());
}

/// Where a cgroup with `name` as its whole path below the own cgroup would
/// be, in every hierarchy this host mounts.
fn own_dirs(name: &str) -> Vec<PathBuf> {
    let probe = Guard::create(&config(&unique("probe")), "p");
    probe
        .manager
        .leaves()
        .iter()
        .map(|l| l.dir.parent().unwrap().parent().unwrap().join(name))
        .collect()
}

/// Removes the test's own cgroup directories (deepest last in `dirs`) and
/// kills its process.
struct OwnTree {
    dirs: Vec<PathBuf>,
    process: Option<Child>,
}

impl Drop for OwnTree {
    fn drop(&mut self) {
        if let Some(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
        for dir in self.dirs.iter().rev() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

#[test]
fn a_shared_parent_goes_with_its_last_child_and_a_users_stays() {
    let test = "a_shared_parent_goes_with_its_last_child_and_a_users_stays";
    if !requires(test, &[Need::Root, Need::Controller("pids")]) {
        return;
    }
    let pids = host().cgroups.hierarchy("pids").expect("pids");
    for a_goes_first in [true, false] {
        // "user" exists (in the pids hierarchy only) before ctrsh runs:
        // it stays; "user/shared" is made by the first create.
        let user = unique("user");
        let users = own_dirs(&user)
            .into_iter()
            .find(|d| d.starts_with(&pids.mount))
            .expect("a pids hierarchy");
        let _tree = OwnTree {
            dirs: vec![users.clone()],
            process: None,
        };
        fs::create_dir(&users).unwrap();
        let parent = format!("{user}/shared");
        let a = Guard::create(&config(&parent), "a");
        let b = Guard::create(&config(&parent), "b");
        let (first, last) = if a_goes_first { (&a, &b) } else { (&b, &a) };
        let parents: Vec<PathBuf> = a
            .dirs()
            .iter()
            .map(|d| d.parent().unwrap().to_path_buf())
            .collect();
        first.destroy().unwrap();
        for (dir, parent) in first.dirs().iter().zip(&parents) {
            assert!(!dir.exists(), "{} left behind", dir.display());
            assert!(
                parent.is_dir(),
                "{} went before its last child",
                parent.display()
            );
        }
        last.destroy().unwrap();
        for dir in last.dirs().iter().chain(&parents) {
            assert!(!dir.exists(), "{} left behind", dir.display());
        }
        for grandparent in parents.iter().map(|p| p.parent().unwrap()) {
            assert_eq!(
                grandparent.exists(),
                grandparent == users,
                "{}",
                grandparent.display()
            );
        }
    }
}

/// Whether the host has root, and hugetlb on cgroup2 (this host and a pure
/// v2 one do); otherwise `test` is skipped (a failure under CI).
fn have_v2_hugetlb(test: &str) -> bool {
    if !requires(test, &[Need::Root, Need::Controller("hugetlb")]) {
        return false;
    }
    if !on_v2(Controller::Hugetlb) {
        skip(test, "the host's hugetlb controller is not on cgroup2");
        return false;
    }
    true
}

fn subtree_control(dir: &Path) -> Vec<String> {
    read(&dir.join("cgroup.subtree_control"))
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn v2_controllers_are_enabled_on_the_way_down_only_when_asked() {
    if !have_v2_hugetlb("v2_controllers_are_enabled_on_the_way_down_only_when_asked") {
        return;
    }
    let parent = format!("{}/mid", unique("enable"));
    let plain = Guard::create(&config(&parent), "plain");
    let leaf = plain.unified().expect("a cgroup2 directory").clone();
    let ancestors: Vec<PathBuf> = leaf
        .dir
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(&leaf.mount))
        .map(Path::to_path_buf)
        .collect();
    // Nothing asks for hugetlb: the cgroups ctrsh made do not pass it on.
    for made in &ancestors[..2] {
        assert!(
            !subtree_control(made).contains(&"hugetlb".to_string()),
            "{}",
            made.display()
        );
    }
    assert!(plain.controller_dir(Controller::Hugetlb).is_none());

    let mut cfg = config(&parent);
    cfg.hugetlb_limits = hugetlb_limit();
    let asked = Guard::create(&cfg, "asked");
    asked.apply(&cfg).expect("apply");
    // Enabled from the hierarchy's root down to the container's parent.
    for dir in &ancestors {
        assert!(
            subtree_control(dir).contains(&"hugetlb".to_string()),
            "{}",
            dir.display()
        );
    }
    assert_eq!(
        file(&asked, Controller::Hugetlb, "hugetlb.2MB.max"),
        "4194304"
    );

    // A live update that asks for it later (enable, then apply) enables it
    // on the way down too.
    let later_parent = format!("{}/mid", unique("enable-later"));
    let mut later = Guard::create(&config(&later_parent), "later");
    assert!(later.controller_dir(Controller::Hugetlb).is_none());
    later
        .manager
        .enable(&checked(&cfg).unwrap())
        .expect("enable on update");
    later.apply(&cfg).expect("apply on update");
    assert_eq!(
        file(&later, Controller::Hugetlb, "hugetlb.2MB.max"),
        "4194304"
    );
}

#[test]
fn enabling_below_a_cgroup_with_processes_names_controller_file_and_key() {
    if !have_v2_hugetlb("enabling_below_a_cgroup_with_processes_names_controller_file_and_key") {
        return;
    }
    let top = unique("ebusy");
    let (mount, _) = host().cgroups.v2.clone().expect("cgroup2");
    let own = mount
        .join(own_cgroup(Controller::Hugetlb, true).trim_start_matches('/'))
        .join(&top);
    let busy = own.join("busy");
    let mut tree = OwnTree {
        dirs: vec![own.clone(), busy.clone()],
        process: None,
    };
    fs::create_dir_all(&busy).unwrap();
    let sleeper = Command::new("sleep").arg("100").spawn().unwrap();
    fs::write(busy.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    tree.process = Some(sleeper);

    let mut cfg = config(&format!("{top}/busy"));
    cfg.hugetlb_limits = hugetlb_limit();
    let err = create(&cfg, "c").unwrap_err();
    let control = busy.join("cgroup.subtree_control");
    for part in [
        "cgroups.hugetlb_limits",
        "the hugetlb cgroup controller",
        &control.to_string_lossy(),
        "holds processes",
        "EBUSY",
    ] {
        assert!(err.message.contains(part), "{part:?} not in: {err}");
    }
    // Nothing of the container is left, in any hierarchy.
    assert!(!busy.join("c").exists());
    for dir in own_dirs(&top) {
        assert_eq!(dir.exists(), dir == own, "{}", dir.display());
    }
}

/// A cgroup the test makes below its own, in the cpuset hierarchy, before
/// ctrsh runs: a parent that ctrsh did not make.
#[test]
fn an_empty_cpuset_parent_is_filled_and_an_impossible_cpuset_says_so() {
    let test = "an_empty_cpuset_parent_is_filled_and_an_impossible_cpuset_says_so";
    if !requires(test, &[Need::Root, Need::Controller("cpuset")]) {
        return;
    }
    let top = unique("cpuset");
    let user = own_dirs(&top)
        .into_iter()
        .find(|d| d.starts_with(host().cgroups.hierarchy("cpuset").unwrap().mount))
        .expect("a cpuset hierarchy");
    let _tree = OwnTree {
        dirs: vec![user.clone()],
        process: None,
    };
    fs::create_dir(&user).unwrap();
    if on_v2(Controller::Cpuset) {
        // A v2 cpuset left empty uses its parent's cpus (cpuset.cpus.effective):
        // ctrsh enables the controller through the user's cgroup and leaves
        // it as it is, and the container gets the one cpu it asks for.
        let mut cfg = config(&top);
        cfg.cpuset_cpus = Some("0".into());
        let mut g = Guard::create(&cfg, "c");
        g.apply(&cfg).unwrap();
        g.spawn(&["sleep", "100"]);
        assert_eq!(read(&user.join("cpuset.cpus")), "");
        let offered = read(&user.parent().unwrap().join("cpuset.cpus.effective"));
        assert_ne!(offered, "");
        assert_eq!(read(&user.join("cpuset.cpus.effective")), offered);
        assert_eq!(file(&g, Controller::Cpuset, "cpuset.cpus.effective"), "0");
    } else {
        assert_eq!(
            read(&user.join("cpuset.cpus")),
            "",
            "a new v1 cpuset is empty"
        );
        let mut g = Guard::create(&config(&top), "c");
        g.spawn(&["sleep", "100"]);
        assert_ne!(read(&user.join("cpuset.cpus")), "");
        assert_ne!(read(&user.join("cpuset.mems")), "");
    }
    let mut cfg = config(&top);
    cfg.cpuset_cpus = Some("1023".into());
    let g = Guard::create(&cfg, "d");
    let err = g.apply(&cfg).unwrap_err();
    assert!(
        err.message.contains("cgroups.cpuset_cpus")
            && err.message.contains("the parent cgroup offers cpus"),
        "{err}"
    );
}

#[test]
fn concurrent_creates_and_destroys_under_a_new_parent_all_succeed() {
    if !have_root("concurrent_creates_and_destroys_under_a_new_parent_all_succeed") {
        return;
    }
    let parent = unique("race");
    let parents = own_dirs(&parent);
    std::thread::scope(|scope| {
        for i in 0..6 {
            let parent = &parent;
            scope.spawn(move || {
                for round in 0..4 {
                    // A process must be able to join (a cpuset copied empty
                    // from a half-made parent could not).
                    let mut g = Guard::create(&config(parent), &format!("c{i}-{round}"));
                    g.spawn(&["true"]);
                }
            });
        }
    });
    for dir in parents {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

fn rule(kind: &str, major: i64, minor: i64, permissions: &str, allow: bool) -> Device {
    Device {
        allow,
        ..Device::new(kind, major, minor, permissions)
    }
}

/// The v1 devices controller's rules, as devices.list shows them.
#[test]
fn device_rules_are_written() {
    let test = "device_rules_are_written";
    if host().cgroups.mode() == CgroupMode::V2 {
        // No devices.list: the rules are an eBPF program, whose verdicts
        // ebpf_device_program_decides_and_is_replaced checks.
        return;
    }
    if !requires(test, &[Need::Root, Need::Controller("devices")]) {
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
    let d = g.controller_dir(Controller::Devices).expect("devices");
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

/// A v1 manager on a host that does not mount `controller`. (Needs no
/// root: nothing touches the kernel.)
fn without(controller: Controller) -> CgroupManager {
    let mut unavailable = BTreeMap::new();
    unavailable.insert(controller, "not mounted on this host".to_string());
    CgroupManager {
        path: "x".into(),
        mode: Mode::V1,
        controllers: BTreeMap::new(),
        unavailable,
        unified: None,
        created: Vec::new(),
    }
}

/// Without a devices controller (a v1 host without its hierarchy) rules
/// are refused, never silently dropped. (Needs no root: nothing touches
/// the kernel.)
#[test]
fn device_rules_without_a_controller_are_unsupported() {
    let m = without(Controller::Devices);
    let cfg = Cgroups {
        allowed_devices: Some(Vec::new()),
        ..Cgroups::default()
    };
    let err = m.apply(&checked(&cfg).unwrap()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert_eq!(
        err.message,
        "cgroups.allowed_devices: the devices cgroup controller is not mounted on this host"
    );
    let all = Cgroups {
        allow_all_devices: Some(true),
        ..cfg
    };
    m.apply(&checked(&all).unwrap()).unwrap();
}

/// A shell in the cgroup that answers "ok" or "denied" to each "r PATH"
/// or "w PATH" written to it, by opening the device for reading or writing
/// (`true` is a regular builtin: a failed redirection fails it rather than
/// the shell).
struct Prober {
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Prober {
    fn start(g: &mut Guard, extra_dirs: &[&Path]) -> Prober {
        let script = "while read mode f; do \
            case $mode in r) true <$f ;; w) true >>$f ;; esac 2>&- && echo ok || echo denied; done";
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let pid = child.id() as i32;
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        g.children.push(child);
        g.manager.add_process(pid).expect("add_process");
        for dir in extra_dirs {
            fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
        }
        Prober { stdin, stdout }
    }

    /// `what` is "r PATH" or "w PATH".
    fn probe(&mut self, what: &str) -> String {
        use std::io::BufRead;
        writeln!(self.stdin, "{what}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_string()
    }
}

/// The eBPF device program on the container's cgroup2 directory. On a
/// hybrid host the test points the devices controller there
/// after the v1 devices cgroup was told to allow everything: the program
/// still decides. Each update replaces the program (the old one would still
/// deny), and allow_all removes it.
#[test]
fn ebpf_device_program_decides_and_is_replaced() {
    let test = "ebpf_device_program_decides_and_is_replaced";
    if !have_root(test) {
        return;
    }
    if host().cgroups.v2.is_none() {
        skip(test, "the host has no cgroup2 hierarchy");
        return;
    }
    let mut g = Guard::create(&config(&unique("ebpf")), "c");
    let unified = g.manager.unified.clone().expect("a cgroup2 directory");
    let allow_all = Cgroups {
        allow_all_devices: Some(true),
        ..config("unused")
    };
    let devices = g.controller_dir(Controller::Devices).unwrap().clone();
    let mut v1_dirs = Vec::new();
    if !devices.v2 {
        g.apply(&allow_all).expect("v1 allows all");
        assert_eq!(read(&devices.dir.join("devices.list")), "a *:* rwm");
        let v1 = g.manager.controllers.insert(Controller::Devices, unified);
        g.swapped.extend(v1.map(|dir| (Controller::Devices, dir)));
        v1_dirs.push(devices.dir.as_path());
    }
    let mut sh = Prober::start(&mut g, &v1_dirs);
    let only = |minor| Cgroups {
        allowed_devices: Some(vec![rule("c", 1, minor, "r", true)]),
        ..config("unused")
    };
    let both = |sh: &mut Prober| (sh.probe("r /dev/null"), sh.probe("r /dev/zero"));
    g.apply(&only(3)).expect("attach");
    assert_eq!(both(&mut sh), ("ok".into(), "denied".into()));
    assert_eq!(
        sh.probe("w /dev/null"),
        "denied",
        "the rule allows reading only"
    );
    g.apply(&only(5)).expect("replace");
    assert_eq!(both(&mut sh), ("denied".into(), "ok".into()));
    g.apply(&allow_all).expect("detach");
    assert_eq!(both(&mut sh), ("ok".into(), "ok".into()));
    // A rule list that cannot be expressed leaves the program as it was.
    g.apply(&only(3)).unwrap();
    let bad = Cgroups {
        allowed_devices: Some(vec![
            rule("c", 1, -1, "r", true),
            rule("c", 1, 5, "r", false),
        ]),
        ..config("unused")
    };
    assert_eq!(g.apply(&bad).unwrap_err().kind, ErrorKind::Config);
    assert_eq!(sh.probe("r /dev/zero"), "denied");
}

#[test]
fn missing_controller_names_the_key() {
    let m = without(Controller::Pids);
    let cfg = Cgroups {
        pids_limit: Some(5),
        ..Cgroups::default()
    };
    let err = m.apply(&checked(&cfg).unwrap()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert_eq!(
        err.message,
        "cgroups.pids_limit: the pids cgroup controller is not mounted on this host"
    );
}

#[test]
fn manager_round_trips_through_json() {
    if !have_root("manager_round_trips_through_json") {
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
    let test = "existing_empty_cgroup_is_used_and_kept";
    if !requires(test, &[Need::Root, Need::Controller("pids")]) {
        return;
    }
    let parent = unique("existing");
    let pids = host().cgroups.hierarchy("pids").expect("pids");
    let existing = pids
        .mount
        .join(own_cgroup(Controller::Pids, pids.v2).trim_start_matches('/'))
        .join(&parent)
        .join("c");
    let _tree = OwnTree {
        dirs: vec![existing.parent().unwrap().to_path_buf(), existing.clone()],
        process: None,
    };
    fs::create_dir_all(&existing).unwrap();
    // Asking for pids: on v2 ctrsh then enables it on the way down.
    let cfg = Cgroups {
        pids_limit: Some(64),
        ..config(&parent)
    };
    let g = Guard::create(&cfg, "c");
    assert_eq!(g.controller_dir(Controller::Pids).unwrap().dir, existing);
    g.destroy().unwrap();
    assert!(existing.exists(), "a cgroup it did not create was removed");
    // On v1 the memory hierarchy's directories were ctrsh's own (on v2
    // there is only the one directory, the existing one).
    if let Some(memory) = g
        .controller_dir(Controller::Memory)
        .filter(|d| d.dir != existing)
    {
        let memory = &memory.dir;
        assert!(!memory.exists() && !memory.parent().unwrap().exists());
    }
}

/// The cgroup2 freezer (cgroup.freeze) and cpu stats (cpu.stat), which
/// every cgroup2 cgroup has as core files. A v2 host uses them anyway; on a
/// hybrid host, where the v1 freezer and cpuacct serve the container, the
/// test points those two controllers at the container's cgroup2 directory.
#[test]
fn v2_core_freezer_and_cpu_stats() {
    let test = "v2_core_freezer_and_cpu_stats";
    if !have_root(test) {
        return;
    }
    let mode = host().cgroups.mode();
    if mode == CgroupMode::V1 {
        skip(test, "the host has no cgroup2 hierarchy");
        return;
    }
    let mut g = Guard::create(&config(&unique("v2core")), "c");
    // A copy that uses the v2 files; the guard removes the real cgroup.
    let mut v2 = g.manager.clone();
    if mode == CgroupMode::Hybrid {
        let unified = v2
            .unified
            .clone()
            .expect("on a hybrid host every cgroup has a cgroup2 directory");
        for c in [Controller::Freezer, Controller::Cpuacct] {
            v2.controllers.insert(c, unified.clone());
        }
        v2.controllers.remove(&Controller::Cpu);
    }
    let dir = v2.controller_dir(Controller::Freezer).unwrap().dir.clone();
    let pid = g.spawn(&["sh", "-c", "while :; do :; done"]);

    v2.freeze().expect("freeze (v2)");
    assert!(v2.is_frozen().unwrap());
    assert_eq!(read(&dir.join("cgroup.freeze")), "1");
    assert!(read(&dir.join("cgroup.events")).contains("frozen 1"));
    let frozen = v2.stats().unwrap().cpu.unwrap();
    // The busy loop sleeps in the freezer instead of running, and its cpu
    // time stands still.
    assert_eq!(proc_state(pid), 'S', "the frozen busy loop is not asleep");
    let still = v2.stats().unwrap().cpu.unwrap();
    assert_eq!(still.usage_ns, frozen.usage_ns, "frozen yet ran");
    // Throttling is counted only with the cpu controller.
    assert_eq!(still.per_cpu, None);
    let cpu = v2.controller_dir(Controller::Cpu).is_some();
    assert_eq!(still.throttled_periods.is_some(), cpu, "{still:?}");

    v2.thaw().expect("thaw (v2)");
    assert!(!v2.is_frozen().unwrap());
    // A thawed busy loop runs again; on a loaded machine it may take a while
    // to get its 100 ms of cpu.
    let deadline = Instant::now() + Duration::from_secs(10);
    while v2.stats().unwrap().cpu.unwrap().usage_ns <= frozen.usage_ns + 100_000_000 {
        assert!(Instant::now() < deadline, "thawed yet did not run");
        std::thread::sleep(Duration::from_millis(50));
    }
    v2.freeze().unwrap();
    v2.kill_all().expect("kill_all thaws through v2");
}
