//! Cgroup resources on real containers: limits that hold (memory, pids,
//! devices), pause and resume, stats that move, live updates, and no cgroup
//! left behind. Needs root and busybox (see tests/common).
//!
//! Every container is placed under a cgroup parent named after its sandbox,
//! so a search of the cgroup hierarchies for that name finds this test's
//! cgroups and nothing of other tests.

mod common;

use common::{cgroup_dir, cgroups_named, host, kernel_offers, requires, rhai_str, Need, Sandbox};
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Rhai that creates the container `c` with `limits` (entries of the
/// `cgroups` map) under the sandbox's cgroup parent, with `extra_caps` added
/// to the default capabilities and a loopback interface, and starts
/// `/bin/sh -c init` as its first process.
fn start_container(sb: &Sandbox, limits: &str, extra_caps: &[&str], init: &str) -> String {
    let caps = extra_caps
        .iter()
        .map(|c| format!("caps.push({});\n", rhai_str(c)))
        .collect::<String>();
    format!(
        r#"let caps = default_capabilities();
{caps}config.capabilities = caps;
config.networks = [#{{ type: "loopback", address: "127.0.0.1/0", gateway: "localhost" }}];
config.cgroups = #{{ parent: {parent}, name: id, {limits} }};
spec.args = ["/bin/sh", "-c", {init}];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
c.start(process(spec));
"#,
        parent = rhai_str(&sb.needle()),
        init = rhai_str(init),
    )
}

/// Runs `body` on a running container (see `start_container`) and destroys
/// it; returns the script's stdout. Checks that nothing is left afterwards.
fn with_container(
    sb: &Sandbox,
    limits: &str,
    extra_caps: &[&str],
    init: &str,
    body: &str,
) -> String {
    let out = sb.script_ok(&format!(
        "{}{body}\nc.destroy();\n",
        start_container(sb, limits, extra_caps, init)
    ));
    sb.assert_nothing_left(&sb.id);
    out
}

/// `with_container` in a new sandbox for `test`; None when the test is
/// skipped.
fn in_container(
    test: &str,
    limits: &str,
    extra_caps: &[&str],
    init: &str,
    body: &str,
) -> Option<String> {
    let sb = Sandbox::new(test)?;
    Some(with_container(&sb, limits, extra_caps, init, body))
}

/// The text after `key ` on the line of `out` that starts with it.
fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no '{key}' line in the script's output:\n{out}"))
}

fn number(out: &str, key: &str) -> i64 {
    let v = value(out, key);
    v.parse()
        .unwrap_or_else(|e| panic!("'{key}' is not an integer ({v:?}: {e}):\n{out}"))
}

/// Where the container's memory cgroup must be: under this process's own
/// memory cgroup (ctrsh inherits it), in the hierarchy the host has the
/// memory controller in.
fn expected_memory_cgroup(sb: &Sandbox) -> PathBuf {
    cgroup_dir(std::process::id(), "memory")
        .join(sb.needle())
        .join(&sb.id)
}

/// The host pid of the sandbox's container's init.
fn init_pid(sb: &Sandbox) -> u32 {
    let c = ctrsh::runtime::Factory::new(&sb.root)
        .and_then(|f| f.load(&sb.id))
        .unwrap();
    c.pid().expect("the container runs") as u32
}

#[test]
fn allocating_past_the_memory_limit_is_oom_killed_and_counted() {
    // tail buffers its never-ending input line until the OOM killer ends it.
    let Some(out) = in_container(
        "res-oom",
        r#"memory: "16M", memory_swap: "16M""#,
        &[],
        "exec sleep 1000",
        r#"let r = c.exec(["/bin/sh", "-c", "tail /dev/zero"]);
print(`CODE ${r.code}`);
let m = c.stats().memory;
print(`LIMIT ${m.limit}`);
print(`OOM_KILLS ${m.oom_kills}`);
let oom = c.events().filter(|e| e.type == "oom");
print(`EVENTS ${oom.len()}`);
print(`EVENT_COUNT ${oom[0].count}`);
print(`AGAIN ${c.events().len()}`);
print(`STATE ${c.state}`);
"#,
    ) else {
        return;
    };
    assert_eq!(value(&out, "CODE"), "137", "tail was not SIGKILLed:\n{out}");
    assert_eq!(number(&out, "LIMIT"), 16 << 20, "{out}");
    assert!(number(&out, "OOM_KILLS") >= 1, "{out}");
    assert_eq!(value(&out, "EVENTS"), "1", "{out}");
    assert!(number(&out, "EVENT_COUNT") >= 1, "{out}");
    // An event is reported once.
    assert_eq!(value(&out, "AGAIN"), "0", "{out}");
    // The OOM killer took the allocating process, not the init.
    assert_eq!(value(&out, "STATE"), "running", "{out}");
}

#[test]
fn a_fork_loop_stops_at_the_pids_limit() {
    let Some(sb) = Sandbox::new("res-pids") else {
        return;
    };
    // The sleeps must not hold exec's output pipe, or exec waits for them.
    let out = with_container(
        &sb,
        "pids_limit: 10",
        &[],
        "exec sleep 1000",
        r#"let r = c.exec(["/bin/sh", "-c",
    "i=0; while [ $i -lt 20 ]; do sleep 1000 >/dev/null 2>&1 & echo started; i=$((i+1)); done"]);
print(`CODE ${r.code}`);
print(`STARTED ${r.stdout.split("\n").filter(|l| l == "started").len()}`);
print(`ERROR ${r.stderr.split("\n")[0]}`);
let p = c.stats().pids;
print(`CURRENT ${p.current}`);
print(`LIMIT ${p.limit}`);
print(`PROCESSES ${c.processes().len()}`);
"#,
    );
    let started = number(&out, "STARTED");
    assert!(
        (1..20).contains(&started),
        "{started} of 20 sleeps started:\n{out}"
    );
    assert_ne!(value(&out, "CODE"), "0", "{out}");
    assert!(
        value(&out, "ERROR").contains("Resource temporarily unavailable"),
        "fork did not fail with EAGAIN:\n{out}"
    );
    assert_eq!(number(&out, "LIMIT"), 10, "{out}");
    assert!(number(&out, "CURRENT") <= 10, "{out}");
    // The init and every sleep that started are still there.
    assert_eq!(number(&out, "PROCESSES"), started + 1, "{out}");
}

/// Reads the counter the container's init writes to /tmp/count (a file of
/// the sandbox's rootfs, replaced atomically by rename).
fn read_counter(sb: &Sandbox) -> u64 {
    let file = sb.rootfs.join("tmp/count");
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("counter {text:?}: {e}"))
}

#[test]
fn a_paused_container_stops_counting_refuses_exec_and_resumes() {
    let Some(sb) = Sandbox::new("res-pause") else {
        return;
    };
    let counter = "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; mv /tmp/n /tmp/count; done";
    let out = sb.script_ok(&format!(
        r#"{}for i in 0..400 {{ if c.exec(["/bin/cat", "/tmp/count"]).code == 0 {{ break; }} sleep(0.05); }}
c.pause();
print(`STATE ${{c.state}}`);
try {{ c.exec(["/bin/true"]); print("EXEC ran"); }} catch (e) {{ print(`EXEC ${{e.kind}}`); }}
try {{ c.pause(); print("PAUSE_AGAIN ok"); }} catch (e) {{ print(`PAUSE_AGAIN ${{e.kind}}`); }}
"#,
        start_container(&sb, "", &[], counter)
    ));
    assert_eq!(value(&out, "STATE"), "paused", "{out}");
    assert_eq!(value(&out, "EXEC"), "state", "{out}");
    assert_eq!(value(&out, "PAUSE_AGAIN"), "state", "{out}");

    let frozen = read_counter(&sb);
    assert!(frozen > 0, "the counter never advanced before the pause");
    // Not a wait for something: the span in which a running counter would
    // have moved many times (it counts every few milliseconds).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        read_counter(&sb),
        frozen,
        "the counter advanced while paused"
    );

    let out = sb.script_ok(
        r#"let c = f.load(id);
print(`LOADED ${c.state}`);
c.resume();
print(`STATE ${c.state}`);
try { c.resume(); print("RESUME_AGAIN ok"); } catch (e) { print(`RESUME_AGAIN ${e.kind}`); }
"#,
    );
    assert_eq!(value(&out, "LOADED"), "paused", "{out}");
    assert_eq!(value(&out, "STATE"), "running", "{out}");
    assert_eq!(value(&out, "RESUME_AGAIN"), "state", "{out}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_counter(&sb) == frozen {
        assert!(
            Instant::now() < deadline,
            "the counter did not advance after resume"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    sb.script_ok("f.load(id).destroy();");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn destroying_a_paused_container_works() {
    // Processes of the init and of an exec, all frozen at destroy.
    let Some(out) = in_container(
        "res-destroy-paused",
        "",
        &[],
        "sleep 1000 & exec sleep 1000",
        r#"c.exec(["/bin/sh", "-c", "sleep 1000 >/dev/null 2>&1 &"]);
print(`PROCESSES ${c.processes().len()}`);
c.pause();
print(`STATE ${c.state}`);
"#,
    ) else {
        return;
    };
    assert_eq!(number(&out, "PROCESSES"), 3, "{out}");
    assert_eq!(value(&out, "STATE"), "paused", "{out}");
}

#[test]
fn cpu_usage_grows_under_a_busy_loop() {
    // Polls until the loop has had 100 ms of cpu (at most 20 s: a loaded
    // host may give it little), then reads the counters of the paused
    // container, which stand still.
    let Some(out) = in_container(
        "res-cpu",
        "",
        &[],
        "while :; do :; done",
        r#"let before = c.stats().cpu;
let after = before;
for i in 0..400 {
    sleep(0.05);
    after = c.stats().cpu;
    if after.usage_ns - before.usage_ns >= 100_000_000 { break; }
}
print(`USAGE ${after.usage_ns - before.usage_ns}`);
print(`USER_SYSTEM ${after.user_ns + after.system_ns - before.user_ns - before.system_ns}`);
c.pause();
let still = c.stats().cpu;
print(`PER_CPU ${still.per_cpu != ()}`);
let sum = 0;
for n in still.per_cpu ?? [] { sum += n; }
print(`PER_CPU_SUM ${sum}`);
print(`TOTAL ${still.usage_ns}`);
c.resume();
"#,
    ) else {
        return;
    };
    assert!(number(&out, "USAGE") >= 100_000_000, "{out}");
    assert!(number(&out, "USER_SYSTEM") > 0, "{out}");
    // Per-cpu usage is v1 cpuacct's; it adds up to the total.
    let per_cpu = !host().cgroups.is_v2("cpuacct");
    assert_eq!(value(&out, "PER_CPU"), per_cpu.to_string(), "{out}");
    if per_cpu {
        assert_eq!(
            number(&out, "PER_CPU_SUM"),
            number(&out, "TOTAL"),
            "per-cpu usage does not add up to the total:\n{out}"
        );
    }
}

/// Memory is accounted without a limit. A soft limit asks for the memory
/// controller, which a cgroup v2 host gives a container only when its
/// config asks something of it (docs/config.md).
#[test]
fn memory_usage_includes_a_32mib_tmpfs_file() {
    let Some(out) = in_container(
        "res-memory",
        r#"memory_reservation: "1G""#,
        &[],
        "exec sleep 1000",
        r#"print(`BEFORE ${c.stats().memory.usage}`);
let r = c.exec(["/bin/dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=32"]);
print(`CODE ${r.code}`);
let m = c.stats().memory;
print(`USAGE ${m.usage}`);
print(`MAX ${m.max_usage}`);
print(`LIMIT ${m.limit}`);
"#,
    ) else {
        return;
    };
    assert_eq!(value(&out, "CODE"), "0", "{out}");
    assert!(number(&out, "BEFORE") < 32 << 20, "{out}");
    assert!(number(&out, "USAGE") >= 32 << 20, "{out}");
    assert!(number(&out, "MAX") >= number(&out, "USAGE"), "{out}");
    assert_eq!(value(&out, "LIMIT"), "", "no limit was set:\n{out}");
}

#[test]
fn loopback_counters_grow_with_traffic() {
    let Some(out) = in_container(
        "res-net",
        "",
        &["CAP_NET_RAW"],
        "exec sleep 1000",
        r#"fn lo(c) { c.stats().network.filter(|i| i.name == "lo")[0] }
let before = lo(c);
let r = c.exec(["/bin/ping", "-c", "3", "127.0.0.1"]);
print(`CODE ${r.code}`);
let after = lo(c);
print(`NAMES ${c.stats().network.map(|i| i.name)}`);
print(`RX_PACKETS ${after.rx_packets - before.rx_packets}`);
print(`TX_PACKETS ${after.tx_packets - before.tx_packets}`);
print(`RX_BYTES ${after.rx_bytes - before.rx_bytes}`);
print(`TX_BYTES ${after.tx_bytes - before.tx_bytes}`);
"#,
    ) else {
        return;
    };
    assert_eq!(value(&out, "CODE"), "0", "{out}");
    // The container's own network namespace: only its loopback.
    assert_eq!(value(&out, "NAMES"), r#"["lo"]"#, "{out}");
    // 3 echo requests and 3 replies, each both sent and received on lo.
    assert!(number(&out, "RX_PACKETS") >= 6, "{out}");
    assert!(number(&out, "TX_PACKETS") >= 6, "{out}");
    assert!(number(&out, "RX_BYTES") >= 6 * 84, "{out}");
    assert!(number(&out, "TX_BYTES") >= 6 * 84, "{out}");
}

#[test]
fn a_pids_limit_of_0_means_unlimited() {
    // docs/config.md: "-1 or 0 is unlimited (as in runc)".
    let Some(out) = in_container(
        "res-pids-0",
        "pids_limit: 0",
        &[],
        "exec sleep 1000",
        r#"print(`LIMIT ${c.stats().pids.limit}`);
let r = c.exec(["/bin/sh", "-c", "sleep 0 & wait"]);
print(`FORK ${r.code}`);
print(`STDERR ${r.stderr}`);
"#,
    ) else {
        return;
    };
    assert_eq!(value(&out, "LIMIT"), "", "{out}");
    assert_eq!(value(&out, "FORK"), "0", "{out}");
}

#[test]
fn a_lowered_pids_limit_holds() {
    let Some(out) = in_container(
        "res-update",
        "pids_limit: 64",
        &[],
        "exec sleep 1000",
        r#"print(`BEFORE ${c.stats().pids.limit}`);
c.update(#{ pids_limit: 5, memory: "32M" });
print(`CONFIG ${c.config.cgroups.pids_limit}`);
print(`LOADED ${f.load(id).config.cgroups.pids_limit}`);
let s = c.stats();
print(`LIMIT ${s.pids.limit}`);
print(`MEMORY ${s.memory.limit}`);
let r = c.exec(["/bin/sh", "-c",
    "i=0; while [ $i -lt 10 ]; do sleep 1000 >/dev/null 2>&1 & echo started; i=$((i+1)); done"]);
print(`CODE ${r.code}`);
print(`STARTED ${r.stdout.split("\n").filter(|l| l == "started").len()}`);
print(`CURRENT ${c.stats().pids.current}`);
"#,
    ) else {
        return;
    };
    assert_eq!(number(&out, "BEFORE"), 64, "{out}");
    assert_eq!(number(&out, "CONFIG"), 5, "{out}");
    assert_eq!(
        number(&out, "LOADED"),
        5,
        "the update is not in the state:\n{out}"
    );
    assert_eq!(number(&out, "LIMIT"), 5, "{out}");
    assert_eq!(number(&out, "MEMORY"), 32 << 20, "{out}");
    assert_ne!(value(&out, "CODE"), "0", "{out}");
    assert!(number(&out, "STARTED") < 10, "{out}");
    assert!(number(&out, "CURRENT") <= 5, "{out}");
}

#[test]
fn update_with_an_unknown_key_is_a_config_error_naming_it() {
    let Some(out) = in_container(
        "res-update-typo",
        "pids_limit: 64",
        &[],
        "exec sleep 1000",
        r#"try { c.update(#{ pids_limt: 5 }); print("UPDATED"); } catch (e) {
    print(`KIND ${e.kind}`);
    print(`MESSAGE ${e.message}`);
}
print(`LIMIT ${c.stats().pids.limit}`);
print(`CONFIG ${c.config.cgroups.pids_limit}`);
"#,
    ) else {
        return;
    };
    assert_eq!(value(&out, "KIND"), "config", "{out}");
    let message = value(&out, "MESSAGE");
    assert!(message.contains("pids_limt"), "{out}");
    assert!(message.contains("did you mean 'pids_limit'"), "{out}");
    // Nothing changed.
    assert_eq!(number(&out, "LIMIT"), 64, "{out}");
    assert_eq!(number(&out, "CONFIG"), 64, "{out}");
}

#[test]
fn updating_a_limit_never_denies_an_allowed_device() {
    let Some(sb) = Sandbox::new("res-update-devices") else {
        return;
    };
    // The init opens /dev/null as fast as it can, counting the opens that
    // worked (in /tmp/opened, as its size) and logging those that failed;
    // `true` (not `:`) so that a failed redirection is reported instead of
    // ending the shell. An update that re-applies the device rules through
    // "deny all, then allow each" makes some of those opens fail.
    let init = "while :; do true 2>>/tmp/denied </dev/null && echo >>/tmp/opened; done";
    let opened = |sb: &Sandbox| fs::metadata(sb.rootfs.join("tmp/opened")).map_or(0, |m| m.len());
    let out = with_container(
        &sb,
        "pids_limit: 100",
        &[],
        init,
        r#"let opened = 0;
for i in 0..400 {
    opened = c.exec(["/bin/sh", "-c", "wc -c < /tmp/opened 2>/dev/null || echo 0"]).stdout;
    opened.trim();
    if parse_int(opened) > 0 { break; }
    sleep(0.05);
}
print(`BEFORE ${opened}`);
for i in 0..200 { c.update(#{ pids_limit: 101 + i % 2 }); }
"#,
    );
    assert!(
        number(&out, "BEFORE") > 0,
        "the init never opened /dev/null"
    );
    // The opens went on during the updates.
    assert!(opened(&sb) > number(&out, "BEFORE") as u64, "{out}");
    let denied = sb.rootfs.join("tmp/denied");
    let denied = fs::read_to_string(&denied)
        .unwrap_or_else(|e| panic!("the init made no {}: {e}", denied.display()));
    assert_eq!(
        denied.lines().count(),
        0,
        "opening /dev/null failed during updates:\n{}",
        denied.lines().next().unwrap_or_default()
    );
}

/// The default rules allow mknod of any node ("b *:* m") but not reading a
/// disk; /dev/null's numbers stay readable under another name. With
/// `allowed_devices` that add a read rule for the disk, the same read works
/// (and so the default's refusal is the rules' doing).
#[test]
fn reading_a_disk_device_is_denied_by_the_device_rules() {
    let Some(sb) = Sandbox::new("res-devices") else {
        return;
    };
    let Some((major, minor)) = common::readable_block_device(&sb.rootfs) else {
        common::skip(
            "res-devices",
            "the host cannot read any of its block devices",
        );
        return;
    };
    let steps = format!(
        r#"for step in [["MKNOD_DISK", "mknod /tmp/disk b {major} {minor}"], ["READ_DISK", "head -c1 /tmp/disk >/dev/null"],
             ["MKNOD_NULL", "mknod /tmp/null c 1 3"], ["READ_NULL", "head -c1 /tmp/null"]] {{
    let r = c.exec(["/bin/sh", "-c", step[1]]);
    let line = `${{step[0]}} ${{r.code}} ${{r.stderr}}`;
    line.trim();
    print(line);
}}
"#
    );
    let out = with_container(&sb, "", &["CAP_MKNOD"], "exec sleep 1000", &steps);
    assert_eq!(value(&out, "MKNOD_DISK"), "0", "{out}");
    assert_eq!(
        value(&out, "READ_DISK"),
        "1 head: /tmp/disk: Operation not permitted",
        "{out}"
    );
    assert_eq!(value(&out, "MKNOD_NULL"), "0", "{out}");
    assert_eq!(value(&out, "READ_NULL"), "0", "{out}");
    let allowed = format!(
        r#"allowed_devices: default_allowed_devices() + [#{{ type: "b", major: {major}, minor: {minor}, permissions: "r" }}]"#
    );
    let out = with_container(&sb, &allowed, &["CAP_MKNOD"], "exec sleep 1000", &steps);
    assert_eq!(value(&out, "READ_DISK"), "0", "{out}");
}

#[test]
fn destroy_leaves_nothing_under_the_cgroup_parent() {
    let Some(sb) = Sandbox::new("res-cleanup") else {
        return;
    };
    let limits = r#"memory: "64M", memory_reservation: "32M", cpu_shares: 512,
    cpu_quota: 50000, cpu_period: 100000, cpuset_cpus: "0", pids_limit: 32"#;
    sb.script_ok(&format!(
        r#"{}c.exec(["/bin/sh", "-c", "sleep 1000 >/dev/null 2>&1 &"]);"#,
        start_container(&sb, limits, &[], "exec sleep 1000")
    ));
    let found = cgroups_named(&sb.needle());
    // The parent holding the container's cgroup, in each hierarchy.
    assert!(!found.is_empty(), "no cgroup parent named {}", sb.needle());
    for parent in &found {
        assert!(
            parent.join(&sb.id).is_dir(),
            "no container cgroup in {}",
            parent.display()
        );
    }
    let memory = expected_memory_cgroup(&sb);
    assert!(
        memory.is_dir() && found.iter().any(|dir| memory.starts_with(dir)),
        "the memory cgroup is not under this process's own: {} not in {found:?}",
        memory.display()
    );
    sb.script_ok("f.load(id).destroy();");
    sb.assert_nothing_left(&sb.id);
}

/// The limits of a config, read back from the container's cgroup files on
/// the host (v1 or v2 names and units, as the host has each controller)
/// and, for the cpuset, seen by the container's process itself.
#[test]
fn limits_are_in_the_containers_cgroup() {
    if !requires("limits_are_in_the_containers_cgroup", &[Need::WholeDisk]) {
        return;
    }
    let Some(sb) = Sandbox::new("res-readback") else {
        return;
    };
    let weight_files = match host().cgroups.is_v2("blkio") {
        false => ["blkio.weight", "blkio.bfq.weight"],
        true => ["io.bfq.weight", "io.weight"],
    };
    // The weight only where the kernel has a weight file; hugetlb only
    // where the host has the controller.
    let weight = kernel_offers("blkio", &weight_files);
    let hugetlb = host().cgroups.hierarchy("hugetlb").is_some();
    let (major, minor) = host().whole_disk.expect("a disk");
    let limits = format!(
        r#"memory: "64M", memory_reservation: "32M", cpu_shares: 512,
    cpu_quota: 50000, cpu_period: 100000, cpuset_cpus: "0", cpuset_mems: "0", pids_limit: 32,
    blkio_throttle_write_bps_device: [#{{ major: {major}, minor: {minor}, rate: 2097152 }}],
    {weight} {hugetlb}"#,
        weight = if weight.is_some() {
            "blkio_weight: 500,"
        } else {
            ""
        },
        hugetlb = match hugetlb {
            true => r#"hugetlb_limits: [#{ page_size: "2MB", limit: "4M" }],"#,
            false => "",
        },
    );
    let out = sb.script_ok(&format!(
        r#"{}let r = c.exec(["/bin/grep", "-E", "^(Cpus|Mems)_allowed_list", "/proc/self/status"]);
print(r.stdout);"#,
        start_container(&sb, &limits, &[], "exec sleep 1000")
    ));
    let pid = init_pid(&sb);
    let read = |controller: &str, file: &str| {
        let path = cgroup_dir(pid, controller).join(file);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.trim().to_string()
    };
    let v2 = |controller: &str| host().cgroups.is_v2(controller);
    let mut want: Vec<(&str, &str, String)> = match v2("memory") {
        false => vec![
            ("memory", "memory.limit_in_bytes", "67108864".into()),
            ("memory", "memory.soft_limit_in_bytes", "33554432".into()),
        ],
        true => vec![
            ("memory", "memory.max", "67108864".into()),
            ("memory", "memory.low", "33554432".into()),
        ],
    };
    // v2's cpu.weight is runc's conversion of 512 shares.
    want.extend(match v2("cpu") {
        false => vec![
            ("cpu", "cpu.shares", "512".into()),
            ("cpu", "cpu.cfs_quota_us", "50000".into()),
            ("cpu", "cpu.cfs_period_us", "100000".into()),
        ],
        true => vec![
            ("cpu", "cpu.weight", "20".into()),
            ("cpu", "cpu.max", "50000 100000".into()),
        ],
    });
    want.push(("cpuset", "cpuset.cpus", "0".into()));
    want.push(("cpuset", "cpuset.mems", "0".into()));
    want.push(("pids", "pids.max", "32".into()));
    if let Some(file) = weight {
        // io.weight is on a 1..10000 scale; the bfq files read "default 500".
        let value = if file == "io.weight" {
            "default 4950"
        } else {
            "500"
        };
        want.push(("blkio", file, value.into()));
    }
    want.push(match v2("blkio") {
        false => (
            "blkio",
            "blkio.throttle.write_bps_device",
            format!("{major}:{minor} 2097152"),
        ),
        true => (
            "blkio",
            "io.max",
            format!("{major}:{minor} rbps=max wbps=2097152 riops=max wiops=max"),
        ),
    });
    if hugetlb {
        let file = match v2("hugetlb") {
            false => "hugetlb.2MB.limit_in_bytes",
            true => "hugetlb.2MB.max",
        };
        want.push(("hugetlb", file, "4194304".into()));
    }
    for (controller, file, value) in &want {
        let got = read(controller, file);
        assert!(
            got == *value || got.ends_with(&format!(" {value}")),
            "{controller} {file}: {got}, not {value}"
        );
    }
    // What the process in the container is allowed, seen from inside.
    let inside: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        inside,
        ["Cpus_allowed_list:", "0", "Mems_allowed_list:", "0"],
        "{out}"
    );
    sb.script_ok("f.load(id).destroy();");
    sb.assert_nothing_left(&sb.id);
}

/// `cgroups.path` places the container at that path from each hierarchy's
/// root: the container's processes see it in /proc/self/cgroup (it has no
/// cgroup namespace of its own).
#[test]
fn cgroups_path_places_the_container_there() {
    let Some(sb) = Sandbox::new("res-path") else {
        return;
    };
    let path = format!("/{}/{}", sb.needle(), sb.id);
    let out = sb.script_ok(&format!(
        r#"config.cgroups = #{{ path: {path} }};
spec.args = ["/bin/cat", "/proc/self/cgroup"];
let c = f.create(id, config);
let p = process(spec);
c.run(p);
print(p.stdout);
c.destroy();
"#,
        path = rhai_str(&path)
    ));
    // Every hierarchy of a controller ctrsh uses (name=systemd is not one).
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.is_empty() && !l.contains("name="))
        .collect();
    assert!(!lines.is_empty(), "{out}");
    for line in lines {
        assert!(line.ends_with(&format!(":{path}")), "{line}\n{out}");
    }
    sb.assert_nothing_left(&sb.id);
}

/// Bytes the kernel says the cgroup of `pid` wrote, from its own blkio
/// (v1) or io (v2) file.
fn kernel_written_bytes(pid: u32) -> u64 {
    let dir = cgroup_dir(pid, "blkio");
    let (file, v2) = match host().cgroups.is_v2("blkio") {
        false => ("blkio.throttle.io_service_bytes_recursive", false),
        true => ("io.stat", true),
    };
    let text = fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip(1);
            match v2 {
                // "254:0 rbytes=0 wbytes=8388608 rios=0 wios=8 ..."
                true => words
                    .find_map(|w| w.strip_prefix("wbytes="))?
                    .parse::<u64>()
                    .ok(),
                // "254:0 Write 8388608" (and a "Total" line, skipped)
                false => (words.next()? == "Write").then(|| words.next()?.parse::<u64>().ok())?,
            }
        })
        .sum()
}

/// The stats fields a busy, throttled, memory-limited container fills:
/// throttling (a quota of 10 ms per 100 ms), cache (a file written to the
/// rootfs's disk), rss (the busy shell), blkio (a file written with
/// O_DIRECT: what the kernel's own file counts, which on some machines is
/// nothing), failcnt (usage driven into the limit through /dev/shm) and
/// swap where the kernel accounts it.
#[test]
fn stats_report_throttling_blkio_and_memory_detail() {
    let Some(sb) = Sandbox::new("res-stats") else {
        return;
    };
    let out = sb.script_ok(&format!(
        r#"{}let throttled = 0;
for i in 0..400 {{
    throttled = c.stats().cpu.throttled_periods;
    if throttled > 0 {{ break; }}
    sleep(0.05);
}}
let w = c.exec(["/bin/dd", "if=/dev/zero", "of=/tmp/written", "bs=1M", "count=8", "oflag=direct"]);
print(`DD ${{w.code}}`);
let c2 = c.exec(["/bin/dd", "if=/dev/zero", "of=/tmp/cached", "bs=1M", "count=8"]);
print(`CACHED_DD ${{c2.code}}`);
let s = c.stats();
print(`THROTTLED ${{s.cpu.throttled_periods}}`);
print(`THROTTLED_NS ${{s.cpu.throttled_ns}}`);
print(`CACHE ${{s.memory.cache}}`);
print(`RSS ${{s.memory.rss}}`);
print(`SWAP ${{s.memory.swap}}`);
print(`WRITTEN ${{s.blkio.reduce(|sum, d| sum + d.write_bytes, 0)}}`);
// Past the limit: tmpfs pages cannot be reclaimed (no swap taken here).
c.exec(["/bin/sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; rm -f /dev/shm/fill"]);
print(`FAILCNT ${{c.stats().memory.failcnt}}`);
"#,
        start_container(
            &sb,
            r#"cpu_quota: 10000, cpu_period: 100000, memory: "32M""#,
            &[],
            "while :; do :; done"
        )
    ));
    let kernel_written = kernel_written_bytes(init_pid(&sb));
    sb.script_ok("f.load(id).destroy();");
    sb.assert_nothing_left(&sb.id);
    assert_eq!(value(&out, "DD"), "0", "{out}");
    assert_eq!(value(&out, "CACHED_DD"), "0", "{out}");
    assert!(number(&out, "THROTTLED") > 0, "{out}");
    assert!(number(&out, "THROTTLED_NS") > 0, "{out}");
    assert!(number(&out, "CACHE") >= 4 << 20, "{out}");
    assert!(number(&out, "RSS") > 0, "{out}");
    // The stats say what the kernel counted (at least the 8 MiB where it
    // counts at all).
    let written = number(&out, "WRITTEN") as u64;
    assert_eq!(written, kernel_written, "{out}");
    assert!(written == 0 || written >= 8 << 20, "{out}");
    assert!(number(&out, "FAILCNT") > 0, "{out}");
    // Swap is reported where the kernel accounts it for the container's
    // memory cgroup (v1 memsw, v2 memory.swap.current).
    let swap_file = match host().cgroups.is_v2("memory") {
        false => "memory.memsw.usage_in_bytes",
        true => "memory.swap.current",
    };
    let accounted = kernel_offers("memory", &[swap_file]).is_some();
    assert_eq!(!value(&out, "SWAP").is_empty(), accounted, "{out}");
}
