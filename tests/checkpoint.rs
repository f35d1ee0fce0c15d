//! Checkpoint and restore with CRIU on real containers: a counter and a
//! shell variable survive, the network namespace comes back (made from
//! the config, or dumped when the container could change it),
//! leave_running, two restores of one checkpoint, a copied checkpoint dir
//! restored by another factory, pre-dumps, an established TCP connection,
//! and failures that leave nothing behind.
//!
//! Needs CRIU >= 4.0 (scripts/install-criu), and CRIU 4.2 at
//! /opt/ctrsh-criu-sid for the TCP test; missing CRIU skips, or fails
//! under CI.

mod common;

use common::netns::{DestroyIn, Netns};
use common::{cgroups_named, rhai_str, ExtraRoot, RunningScript, Sandbox, CTRSH};
use ctrsh::runtime::{locate_criu, Checkpoint, Factory, Status};
use ctrsh::runtime::{MIN_CRIU_TCP_VERSION, MIN_CRIU_VERSION};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The CRIU with TCP support on this kernel (scripts/test installs it).
const CRIU_42: &str = "/opt/ctrsh-criu-sid/bin/criu";

/// Counts from 1, a line every 50 ms, to stdout.
const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done";

fn sandbox_criu(test: &str) -> Option<Sandbox> {
    Sandbox::with_criu(test, None, MIN_CRIU_VERSION)
}

fn path_str(p: &Path) -> String {
    rhai_str(&p.to_string_lossy())
}

/// The numbers a counter wrote to `file`.
fn numbers(file: &Path) -> Vec<u64> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Asserts that the counter in `after` went on from where `before` ended.
fn assert_continues(before: &Path, after: &Path) {
    let (b, a) = (numbers(before), numbers(after));
    let last = *b.last().expect("the counter wrote before the checkpoint");
    assert!(a.len() >= 3, "the restored counter wrote {a:?}");
    assert_eq!(
        a[0],
        last + 1,
        "the restored counter starts at {} after {last}",
        a[0]
    );
    assert!(a.windows(2).all(|w| w[1] == w[0] + 1), "{a:?}");
}

/// Rhai functions for the scripts: `lines(path)` counts the lines of a
/// host file, `wait_lines(path, n)` waits until it has `n` (20 s at most),
/// e.g. until a counter has counted.
const WAIT_LINES: &str = r#"
fn lines(path) {
    let count = run_host(["sh", "-c", `cat ${path} 2>/dev/null | wc -l`]).stdout;
    count.trim();
    parse_int(count)
}
fn wait_lines(path, n) {
    for i in 0..400 {
        if lines(path) >= n { return; }
        sleep(0.05);
    }
    throw `${path} has fewer than ${n} lines`;
}
"#;

/// Rhai that creates container `id` from `config` with `args` (a Rhai
/// array) as its first process, stdout to `out`, and waits until `out` has
/// `lines` lines; the container is `c`. With `WAIT_LINES`.
fn start(args: &str, out: &Path, lines: u32) -> String {
    format!(
        r#"{WAIT_LINES}
spec.args = {args};
spec.stdout = {out};
let c = f.create(id, config);
c.start(process(spec));
wait_lines({out}, {lines});
"#,
        out = path_str(out)
    )
}

/// `sh -c script` as a Rhai array.
fn sh(script: &str) -> String {
    format!(r#"["/bin/sh", "-c", {}]"#, rhai_str(script))
}

/// `start` of COUNTER on loopback, once it has counted to 3.
fn start_counter(out: &Path) -> String {
    format!(
        "config.networks = [#{{ type: \"loopback\" }}];\n{}",
        start(&sh(COUNTER), out, 3)
    )
}

/// Rhai that restores the checkpoint `ck` (a Rhai expression) as
/// `<id>-r` with stdout to `out` and the restore's `options` (more keys
/// of its map, "" for none), and waits until the restored process has
/// written 3 lines; the restored container is `r`.
fn restore(ck: &str, out: &Path, options: &str) -> String {
    format!(
        r#"let r = f.restore(id + "-r", {ck}, #{{ stdout: {out}{options} }});
wait_lines({out}, 3);
"#,
        out = path_str(out)
    )
}

/// The id `restore` gives the restored container.
fn restored_id(sb: &Sandbox) -> String {
    format!("{}-r", sb.id)
}

/// A CRIU sandbox with the probe binary (tests/escape) at /bin/probe in
/// its rootfs; None when either is missing (a failure under CI).
fn sandbox_with_probe(test: &str) -> Option<Sandbox> {
    let sb = sandbox_criu(test)?;
    match common::probe_binary() {
        Ok(probe) => fs::copy(probe, sb.rootfs.join("bin/probe")).unwrap(),
        Err(why) => {
            common::skip(test, &why);
            return None;
        }
    };
    Some(sb)
}

#[test]
fn a_counter_goes_on_counting_in_a_restored_container() {
    let Some(sb) = sandbox_criu("ck-counter") else {
        return;
    };
    let (before, after, ck) = (
        sb.dir.join("before"),
        sb.dir.join("after"),
        sb.dir.join("ck"),
    );
    let restored = restored_id(&sb);
    let out = sb.script_ok(&format!(
        r#"config.sysctl = #{{ "net.ipv4.ip_unprivileged_port_start": "1000" }};
{start}
let ck = c.checkpoint(#{{ dir: {ck} }});
print("ORIG " + c.state);
print("CKID " + ck.container_id);
print("SIZE " + ck.size);
{restore}
print("STATE " + r.state);
print("LO " + r.exec(["ip", "link", "show", "lo"]).stdout);
print("PORTS " + r.exec(["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]).stdout);
"#,
        start = start_counter(&before),
        ck = path_str(&ck),
        restore = restore("ck", &after, ""),
    ));
    assert!(out.contains("ORIG destroyed\n"), "{out}");
    assert!(out.contains(&format!("CKID {}\n", sb.id)), "{out}");
    assert!(out.contains("STATE running\n"), "{out}");
    // Nothing in the container could change its network namespace, so the
    // restore made it again from the config: loopback up, the sysctl set.
    assert!(
        out.contains(",UP"),
        "loopback is not up after restore:\n{out}"
    );
    assert!(out.contains("PORTS 1000\n"), "{out}");
    let size: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("SIZE "))
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(size > 10_000, "checkpoint size {size}");
    // The metadata beside the images: config, CRIU version, kernel.
    let meta = Checkpoint::load(&ck).unwrap().metadata().clone();
    assert_eq!(meta.container_id, sb.id);
    assert_eq!(meta.config.rootfs, sb.rootfs);
    assert!(meta.criu_version.starts_with('4'), "{meta:?}");
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(meta.kernel, kernel.trim());
    assert!(meta.flags.net_from_config, "{meta:?}");
    assert!(
        !sb.root.join(&sb.id).exists(),
        "the dumped container is gone"
    );

    // A normal container: state.json, cgroup, stats, processes.
    let f = Factory::new(&sb.root).unwrap();
    assert_eq!(f.list().unwrap(), vec![restored.clone()]);
    let c = f.load(&restored).unwrap();
    assert_eq!(c.status().unwrap(), Status::Running);
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(sb.root.join(&restored).join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["started"], true);
    assert_eq!(state["init_pid"].as_i64(), c.pid().map(i64::from));
    let procs = c.processes().unwrap();
    assert!(
        procs.contains(&c.pid().unwrap()),
        "{procs:?} lacks the init"
    );
    let pids = c.stats().unwrap().cgroup.pids.expect("pids stats");
    assert!(pids.current >= 1, "{pids:?}");
    c.destroy().unwrap();
    assert_continues(&before, &after);
    sb.assert_nothing_left(&restored);
}

#[test]
fn a_network_namespace_the_container_changed_comes_back_as_it_was() {
    let Some(sb) = sandbox_criu("ck-netns") else {
        return;
    };
    // With CAP_NET_ADMIN the container can change its namespace: CRIU
    // dumps and restores it, address and all.
    let out = sb.script_ok(&format!(
        r#"config.capabilities = default_capabilities() + ["CAP_NET_ADMIN"];
config.networks = [#{{ type: "loopback" }}];
spec.args = ["/bin/sleep", "1000"];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
c.start(process(spec));
let added = c.exec(["ip", "addr", "add", "10.9.8.7/32", "dev", "lo"]);
print("ADDED " + added.code + " " + added.stderr);
let ck = c.checkpoint(#{{ dir: {ck} }});
let c2 = f.restore(id + "-r", ck, #{{ stdout: "null", stderr: "null" }});
print("ADDRS " + c2.exec(["ip", "-o", "addr", "show", "lo"]).stdout);
c2.destroy();
"#,
        ck = path_str(&sb.dir.join("ck")),
    ));
    assert!(out.contains("ADDED 0 \n"), "{out}");
    assert!(out.contains("inet 10.9.8.7/32"), "{out}");
    assert!(out.contains("inet 127.0.0.1/8"), "{out}");
    let meta = Checkpoint::load(sb.dir.join("ck"))
        .unwrap()
        .metadata()
        .clone();
    assert!(!meta.flags.net_from_config, "{meta:?}");
    sb.assert_nothing_left(&restored_id(&sb));
}

#[test]
fn a_user_namespace_container_restores_with_its_mappings() {
    let Some(sb) = sandbox_criu("ck-userns") else {
        return;
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    // CRIU reopens the restored stdout as the container's root (host uid
    // 100000), so that must be allowed to write it; and checks its mode
    // against the dumped one's.
    fs::write(&after, "").unwrap();
    std::os::unix::fs::chown(&after, Some(100000), Some(100000)).unwrap();
    // Its device nodes and masked files are binds of host files: external
    // mounts, bound again by the restore.
    let out = sb.script_ok(&format!(
        r#"config.namespaces.push("user");
config.uid_mappings = [#{{ container_id: 0, host_id: 100000, size: 65536 }}];
config.gid_mappings = [#{{ container_id: 0, host_id: 100000, size: 65536 }}];
{start}
let ck = c.checkpoint(#{{ dir: {ck} }});
{restore}
print("MAP " + r.exec(["cat", "/proc/self/uid_map"]).stdout);
print("NULL " + r.exec(["sh", "-c", "echo x > /dev/null && cat /proc/kcore /proc/keys | wc -c"]).stdout);
r.destroy();
"#,
        start = start_counter(&before),
        ck = path_str(&sb.dir.join("ck")),
        restore = restore("ck", &after, ""),
    ));
    let squeezed: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        squeezed.contains(&"MAP 0 100000 65536".to_string()),
        "{out}"
    );
    assert!(squeezed.contains(&"NULL 0".to_string()), "{out}");
    assert_continues(&before, &after);
    sb.assert_nothing_left(&restored_id(&sb));
}

#[test]
fn a_shell_variable_survives_and_the_restorer_gets_the_exit_status() {
    let Some(sb) = sandbox_criu("ck-memory") else {
        return;
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    // The value exists only in the shell's memory; SIGUSR1 prints it,
    // SIGUSR2 makes the shell exit 42.
    let script = r#"v="secret-$(date +%s%N)"; echo "$v"; trap 'echo "V=$v"' USR1; trap 'exit 42' USR2; while true; do sleep 0.05; done"#;
    let out = sb.script_ok(&format!(
        r#"{start}
let ck = c.checkpoint(#{{ dir: {ck} }});
let c2 = f.restore(id + "-r", ck, #{{ stdout: {after} }});
c2.signal("USR1");
wait_lines({after}, 1);
c2.signal("USR2");
print("CODE " + c2.wait());
c2.destroy();
"#,
        start = start(&sh(script), &before, 1),
        ck = path_str(&sb.dir.join("ck")),
        after = path_str(&after),
    ));
    assert!(out.contains("CODE 42\n"), "{out}");
    let value = fs::read_to_string(&before).unwrap();
    let value = value.trim();
    assert!(value.starts_with("secret-"), "{value}");
    let restored = fs::read_to_string(&after).unwrap();
    assert_eq!(restored.trim(), format!("V={value}"));
    sb.assert_nothing_left(&restored_id(&sb));
}

#[test]
fn leave_running_keeps_the_original_while_a_copy_runs() {
    let Some(sb) = sandbox_criu("ck-leave") else {
        return;
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    let out = sb.script_ok(&format!(
        r#"{start}
let ck = c.checkpoint(#{{ dir: {ck}, leave_running: true }});
let dumped = lines({before});
print("ORIG " + c.state);
let c2 = f.restore(id + "-r", ck, #{{ stdout: {after} }});
print("COPY " + c2.state);
let n = c.exec(["true"]).code;
wait_lines({after}, 3);
wait_lines({before}, dumped + 3);
print("ORIG " + c.state);
print("PIDS " + (c.pid != c2.pid));
c.destroy();
c2.destroy();
"#,
        start = start_counter(&before),
        ck = path_str(&sb.dir.join("ck")),
        before = path_str(&before),
        after = path_str(&after),
    ));
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("ORIG ") || l.starts_with("COPY "))
            .collect::<Vec<_>>(),
        ["ORIG running", "COPY running", "ORIG running"],
        "{out}"
    );
    assert!(out.contains("PIDS true\n"), "{out}");
    // The original counted on past the dump, the copy from the dump on.
    let (b, a) = (numbers(&before), numbers(&after));
    assert!(a.len() >= 3 && b.contains(&a[0]) && b.contains(&(a[0] - 1)));
    assert!(b.last() > Some(&a[0]), "the original stopped: {b:?}");
    sb.assert_nothing_left(&restored_id(&sb));
}

#[test]
fn one_checkpoint_restores_twice() {
    let Some(sb) = sandbox_criu("ck-twice") else {
        return;
    };
    let before = sb.dir.join("before");
    let (a1, a2) = (sb.dir.join("after1"), sb.dir.join("after2"));
    let out = sb.script_ok(&format!(
        r#"{start}
let ck = c.checkpoint(#{{ dir: {ck} }});
let r1 = f.restore(id + "-1", ck, #{{ stdout: {a1} }});
let r2 = f.restore(id + "-2", checkpoint({ck}), #{{ stdout: {a2} }});
wait_lines({a1}, 3);
wait_lines({a2}, 3);
print("STATES " + r1.state + " " + r2.state);
print("LIST " + f.list());
r1.destroy();
r2.destroy();
"#,
        start = start_counter(&before),
        ck = path_str(&sb.dir.join("ck")),
        a1 = path_str(&a1),
        a2 = path_str(&a2),
    ));
    assert!(out.contains("STATES running running\n"), "{out}");
    assert!(
        out.contains(&format!(r#"LIST ["{0}-1", "{0}-2"]"#, sb.id)),
        "{out}"
    );
    assert_continues(&before, &a1);
    assert_continues(&before, &a2);
    sb.assert_nothing_left(&format!("{}-1", sb.id));
}

#[test]
fn a_copied_checkpoint_dir_restores_in_another_root_after_the_original_is_gone() {
    let Some(sb) = sandbox_criu("ck-copy") else {
        return;
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    let (ck, moved) = (sb.dir.join("ck"), sb.dir.join("elsewhere/ck"));
    let other = ExtraRoot(sb.dir.join("state2"));
    sb.script_ok(&format!(
        "{start}\nc.checkpoint(#{{ dir: {ck} }});\n",
        start = start_counter(&before),
        ck = path_str(&ck),
    ));
    // Migration by hand: the images and metadata are all that travel; the
    // rootfs is a copy at another path.
    let rootfs2 = sb.dir.join("rootfs2");
    for (from, to) in [(&ck, &moved), (&sb.rootfs, &rootfs2)] {
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        let cp = std::process::Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(cp.success());
    }
    fs::remove_dir_all(&ck).unwrap();
    fs::write(rootfs2.join("mark"), "rootfs2\n").unwrap();
    let migrated = format!("{}-migrated", sb.id);
    let out = sb.script_ok(&format!(
        r#"{WAIT_LINES}
let f2 = factory({root2});
let ck = checkpoint({moved});
print("FROM " + ck.container_id);
let c = f2.restore({migrated}, ck, #{{ rootfs: {rootfs2}, stdout: {after} }});
wait_lines({after}, 3);
print("STATE " + c.state);
print("ROOTFS " + c.config.rootfs);
print("MARK " + c.exec(["cat", "/mark"]).stdout);
"#,
        root2 = path_str(&other.0),
        migrated = rhai_str(&migrated),
        moved = path_str(&moved),
        rootfs2 = path_str(&rootfs2),
        after = path_str(&after),
    ));
    assert!(out.contains(&format!("FROM {}\n", sb.id)), "{out}");
    assert!(out.contains("STATE running\n"), "{out}");
    assert!(
        out.contains(&format!("ROOTFS {}\n", rootfs2.display())),
        "{out}"
    );
    // The restored processes see the new rootfs.
    assert!(out.contains("MARK rootfs2\n"), "{out}");
    let c = Factory::new(&other.0).unwrap().load(&migrated).unwrap();
    c.destroy().unwrap();
    assert_continues(&before, &after);
    assert_eq!(Factory::new(&other.0).unwrap().list().unwrap().len(), 0);
}

#[test]
fn bind_mounts_and_the_cgroup_are_placed_anew_on_restore() {
    let Some(sb) = sandbox_criu("ck-mounts") else {
        return;
    };
    let (one, two) = (sb.dir.join("one"), sb.dir.join("two"));
    for (dir, text) in [(&one, "one\n"), (&two, "two\n")] {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("f"), text).unwrap();
    }
    let parent = format!("{}-parent", sb.id);
    let restored = format!("{}-r", sb.id);
    let mount = |src: &Path| {
        format!(
            r#"[#{{ source: {}, destination: "/data", type: "bind", options: ["rbind"] }}]"#,
            path_str(src)
        )
    };
    let out = sb.script_ok(&format!(
        r#"config.mounts = {one};
config.cgroups = #{{ pids_limit: 50 }};
spec.args = ["/bin/sh", "-c", "cd /data; sleep 1000 & wait"];
spec.stdout = "null";
let c = f.create(id, config);
c.start(process(spec));
// The sleep is running beside the shell.
for i in 0..400 {{ if c.processes().len() >= 2 {{ break; }} sleep(0.05); }}
let ck = c.checkpoint(#{{ dir: {ck}, manage_cgroups: true }});
let r = f.restore({restored}, ck, #{{ mounts: {two}, cgroups: #{{ parent: {parent} }}, stdout: "null" }});
print("DATA " + r.exec(["cat", "/data/f"]).stdout);
print("PROCS " + r.processes().len());
print("PARENT " + r.config.cgroups.parent + " " + r.config.cgroups.pids_limit);
"#,
        one = mount(&one),
        two = mount(&two),
        ck = path_str(&sb.dir.join("ck")),
        restored = rhai_str(&restored),
        parent = rhai_str(&parent),
    ));
    assert!(out.contains("DATA two\n"), "{out}");
    assert!(out.contains("PROCS 2\n"), "{out}");
    assert!(out.contains(&format!("PARENT {parent} 50\n")), "{out}");
    // Every restored process is in the new cgroup under the new parent.
    let f = Factory::new(&sb.root).unwrap();
    let c = f.load(&restored).unwrap();
    for pid in c.processes().unwrap() {
        let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        // The v1 pids hierarchy, or the cgroup2 line of a pure v2 host.
        let pids_line = cgroups.lines().find(|l| l.contains(":pids:"));
        let line = pids_line.or_else(|| cgroups.lines().find(|l| l.starts_with("0::")));
        let line = line.expect("a pids or cgroup2 line");
        assert!(
            line.ends_with(&format!("/{parent}/{}", f.cgroup_name(&restored))),
            "{pid}: {line}"
        );
    }
    c.destroy().unwrap();
    // CRIU recreated (manage_cgroups) nothing at the dumped path either,
    // in no hierarchy: cgroup2 and name=systemd included.
    for name in [&parent, &restored, &sb.id] {
        assert_no_cgroup_named(name);
    }
    sb.assert_nothing_left(&restored);
}

/// Whether the kernel tracks dirty memory for CRIU (CONFIG_MEM_SOFT_DIRTY),
/// asked of CRIU by the test itself.
fn dirty_tracking() -> bool {
    let criu = locate_criu(None).expect("CRIU");
    common::output(std::process::Command::new(&criu.path).args([
        "check",
        "--feature",
        "mem_dirty_track",
    ]))
    .status
    .success()
}

/// Bytes of memory pages in a checkpoint's images (CRIU's pages-*.img).
fn page_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("pages-"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// The memory the pre-dump test's container fills and then leaves alone.
const IDLE: u64 = 64 << 20;

/// Where the kernel tracks dirty pages (the scripts/vmtest kernel): a
/// counter beside `IDLE` bytes that no longer change is dumped in full, then
/// pre-dumped, then dumped on top of the pre-dump, which writes only what
/// changed since; the restore from that dump goes on counting. Elsewhere
/// (this machine's kernel) the pre-dump is refused clearly and nothing is
/// made.
#[test]
fn pre_dump_is_refused_clearly_without_dirty_tracking_or_restores() {
    let Some(sb) = sandbox_criu("ck-predump") else {
        return;
    };
    let before = sb.dir.join("before");
    let [full, pre, ck] = ["full", "pre", "ck"].map(|d| sb.dir.join(d));
    // dd fills an `IDLE` buffer and then blocks writing it to a pipe
    // nobody reads: memory that no longer changes, beside a counter.
    let counter = format!(
        "dd if=/dev/zero bs={} count=1 2>/dev/null | sleep 1000000 & {COUNTER}",
        IDLE
    );
    let out = sb.script_ok(&format!(
        r#"{WAIT_LINES}
config.networks = [#{{ type: "loopback" }}];
spec.args = ["/bin/sh", "-c", {counter}];
spec.stdout = {before};
let c = f.create(id, config);
c.start(process(spec));
let started = timestamp();
while c.stats().memory.usage < {IDLE} {{
    if started.elapsed > 60.0 {{ throw "the container did not allocate {IDLE} bytes"; }}
    sleep(0.1);
}}
sleep(0.3);
try {{
    let pre = c.checkpoint(#{{ dir: {pre}, pre_dump: true }});
    print("PRE " + c.state);
    c.checkpoint(#{{ dir: {full}, leave_running: true }});
    let ck = c.checkpoint(#{{ dir: {ck}, parent: pre }});
    {restore}
    print("RESTORED " + r.state);
    r.destroy();
}} catch (e) {{
    print("KIND " + e.kind);
    print("MESSAGE " + e.message);
    print("ORIG " + c.state);
}}
c.destroy();
"#,
        counter = rhai_str(&counter),
        before = path_str(&before),
        pre = path_str(&pre),
        full = path_str(&full),
        ck = path_str(&ck),
        restore = restore("ck", &sb.dir.join("after"), ""),
    ));
    if dirty_tracking() {
        assert!(out.contains("PRE running\nRESTORED running\n"), "{out}");
        assert_continues(&before, &sb.dir.join("after"));
        let [full, pre, last] = [&full, &pre, &ck].map(|d| page_bytes(d));
        println!("page bytes: full dump {full}, pre-dump {pre}, dump after the pre-dump {last}");
        assert!(full > IDLE && pre > IDLE, "{full} {pre}");
        assert!(
            last * 20 < full,
            "the dump after a pre-dump wrote {last} bytes of pages, a full one {full}"
        );
    } else {
        assert!(out.contains("KIND unsupported\n"), "{out}");
        assert!(out.contains("dirty tracking"), "{out}");
        assert!(out.contains("ORIG running\n"), "{out}");
        assert!(!pre.exists(), "a refused pre-dump made its dir");
    }
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn an_established_loopback_tcp_connection_keeps_talking_after_restore() {
    let Some(sb) = Sandbox::with_criu("ck-tcp", Some(CRIU_42), MIN_CRIU_TCP_VERSION) else {
        return;
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    // The server prints what the counter sends it over the connection.
    // The server's stdin never ends (busybox nc closes the connection at
    // stdin's EOF). The client tries until the server listens.
    let script =
        format!("sleep 100000 | nc -l -p 5000 & until ({COUNTER}) | nc 127.0.0.1 5000; do :; done");
    let out = sb.script_ok(&format!(
        r#"config.networks = [#{{ type: "loopback" }}];
{start}
let ck = c.checkpoint(#{{ dir: {ck}, tcp_established: true, criu: {criu} }});
{restore}
print("STATE " + r.state);
r.destroy();
"#,
        start = start(&sh(&script), &before, 3),
        ck = path_str(&sb.dir.join("ck")),
        criu = rhai_str(CRIU_42),
        restore = restore("ck", &after, &format!(", criu: {}", rhai_str(CRIU_42))),
    ));
    assert!(out.contains("STATE running\n"), "{out}");
    assert_continues(&before, &after);
    sb.assert_nothing_left(&restored_id(&sb));
}

#[test]
fn failures_leave_nothing_behind() {
    let Some(sb) = sandbox_criu("ck-fail") else {
        return;
    };
    let before = sb.dir.join("before");
    let (ck, full) = (sb.dir.join("ck"), sb.dir.join("full"));
    fs::create_dir_all(&full).unwrap();
    fs::write(full.join("x"), "x").unwrap();
    let empty_rootfs = sb.dir.join("empty-rootfs");
    fs::create_dir_all(&empty_rootfs).unwrap();
    let out = sb.script_ok(&format!(
        r#"{start}
fn kind(f) {{ let r = "ok"; try {{ f.call(); }} catch (e) {{ r = e.kind + ": " + e.message; }} r }}
print("NOCRIU " + kind(|| c.checkpoint(#{{ dir: {ck}, criu: "/nonexistent/criu" }})));
print("FULL " + kind(|| c.checkpoint(#{{ dir: {full} }})));
print("BADKEY " + kind(|| c.checkpoint(#{{ dir: {ck}, leave_runing: true }})));
print("NOTCK " + kind(|| checkpoint({full})));
print("STILL " + c.state);
let ck = c.checkpoint(#{{ dir: {ck}, leave_running: true }});
print("INUSE " + kind(|| f.restore(id, ck)));
print("BADOVERRIDE " + kind(|| f.restore(id + "-x", ck, #{{ stdot: "null" }})));
print("CRIUFAIL " + kind(|| f.restore(id + "-x", ck, #{{ rootfs: {empty}, stdout: "null" }})));
print("STILL " + c.state);
c.destroy();
"#,
        start = start_counter(&before),
        ck = path_str(&ck),
        full = path_str(&full),
        empty = path_str(&empty_rootfs),
    ));
    let line = |tag: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{tag} ")))
            .unwrap_or_else(|| panic!("no {tag} line:\n{out}"))
            .to_string()
    };
    assert!(line("NOCRIU").starts_with("unsupported: "), "{out}");
    assert!(line("NOCRIU").contains("scripts/install-criu"), "{out}");
    assert!(line("FULL").starts_with("exists: "), "{out}");
    assert!(
        line("BADKEY").contains("did you mean 'leave_running'"),
        "{out}"
    );
    assert!(line("NOTCK").starts_with("not_found: "), "{out}");
    assert!(line("INUSE").starts_with("exists: "), "{out}");
    assert!(
        line("BADOVERRIDE").contains("did you mean 'stdout'"),
        "{out}"
    );
    // CRIU's own log lines are quoted, and its log is kept beside the
    // state dir that went.
    let kept = sb.root.join(format!("{}-x.restore.log", sb.id));
    assert!(
        line("CRIUFAIL").contains(&format!("kept at {}", kept.display())),
        "{out}"
    );
    assert!(fs::read_to_string(&kept).unwrap().contains("Error"));
    fs::remove_file(&kept).unwrap();
    assert!(out.contains("STILL running\nINUSE"), "{out}");
    assert!(out.ends_with("STILL running\n"), "{out}");
    assert!(!sb.root.join(format!("{}-x", sb.id)).exists());
    assert_no_cgroup_named(&format!("{}-x", sb.id));
    sb.assert_nothing_left(&sb.id);
}

/// CRIU restores the tree, but ctrsh cannot read the pid it wrote (strace
/// makes ctrsh's open of the pidfile fail): the restore fails naming the
/// file, and the restored process, a child of the script's ctrsh, is
/// ended and reaped rather than left its zombie.
#[test]
fn a_restore_whose_pid_cannot_be_read_leaves_no_zombie() {
    if !common::requires("ck-pidfile", &[common::Need::Program("strace")]) {
        return;
    }
    let Some(sb) = sandbox_criu("ck-pidfile") else {
        return;
    };
    let (before, after, ck) = (
        sb.dir.join("before"),
        sb.dir.join("after"),
        sb.dir.join("ck"),
    );
    let pidfile = sb.root.join(restored_id(&sb)).join("restore.pid");
    // The state of every child of the script's ctrsh but the sh asking.
    let children = "for p in $(cat /proc/$PPID/task/*/children); do \
        [ $p = $$ ] || echo $p $(cut -d' ' -f3 /proc/$p/stat); done";
    let script = sb.script_file(&format!(
        r#"{start}
let ck = c.checkpoint(#{{ dir: {ck} }});
let r = "ok";
try {{ f.restore(id + "-r", ck, #{{ stdout: {after} }}); }} catch (e) {{ r = e.kind + ": " + e.message; }}
print("RESTORE " + r);
print("CHILDREN " + run_host(["sh", "-c", {children}]).stdout);
"#,
        start = start_counter(&before),
        ck = path_str(&ck),
        after = path_str(&after),
        children = rhai_str(children),
    ));
    let out = RunningScript::spawn(
        std::process::Command::new("strace")
            .args(["-qq", "-o", "/dev/null", "-e", "trace=openat"])
            .args(["-e", "inject=openat:error=EIO:when=1", "-P"])
            .arg(&pidfile)
            .arg(CTRSH)
            .arg(&script),
    )
    .finish();
    assert_eq!(out.code, Some(0), "{out}");
    let restore = common::line_of(&out.stdout, "RESTORE ");
    assert!(restore.contains(&pidfile.display().to_string()), "{out}");
    let (_, children) = out.stdout.split_once("CHILDREN ").expect("the children");
    assert!(!children.contains(" Z"), "a zombie is left: {out}");
    sb.assert_nothing_left(&restored_id(&sb));
}

/// Fails when any hierarchy of the host (the v1 controllers, named ones
/// like name=systemd, cgroup2) has a cgroup named `name`.
fn assert_no_cgroup_named(name: &str) {
    let left = cgroups_named(name);
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

/// `file_locks`: a container whose process holds a lock is dumped only
/// with the option, and the restored process holds the lock again.
#[test]
fn file_locks_are_dumped_only_when_asked_and_held_after_restore() {
    let Some(sb) = sandbox_with_probe("ck-locks") else {
        return;
    };
    let out = sb.dir.join("out");
    let stdout = sb.script_ok(&format!(
        r#"{start}
print("HELD " + c.exec(["/bin/probe", "trylock", "/tmp/lock"]).stdout);
try {{
    c.checkpoint(#{{ dir: {plain} }});
    print("DUMPED without file_locks");
}} catch (e) {{
    print("REFUSED " + e.kind);
    print("STILL " + c.state);
}}
let ck = c.checkpoint(#{{ dir: {ck}, file_locks: true }});
let r = f.restore(id + "-r", ck, #{{ stdout: {out} }});
print("AFTER " + r.exec(["/bin/probe", "trylock", "/tmp/lock"]).stdout);
r.destroy();
"#,
        start = start(r#"["/bin/probe", "flock", "/tmp/lock"]"#, &out, 1),
        out = path_str(&out),
        plain = path_str(&sb.dir.join("plain")),
        ck = path_str(&sb.dir.join("ck")),
    ));
    for want in [
        "HELD EAGAIN\n",
        "REFUSED system\n",
        "STILL running\n",
        "AFTER EAGAIN\n",
    ] {
        assert!(stdout.contains(want), "no {want:?} in:\n{stdout}");
    }
    sb.assert_nothing_left(&restored_id(&sb));
}

/// `shell_job`: a process whose stdin is the terminal ctrsh runs on (a
/// tty from outside the container) is dumped only with the option (the
/// refusal says so before CRIU runs), and restored onto the terminal of
/// the ctrsh that restores it.
#[test]
fn a_process_on_the_callers_terminal_needs_shell_job() {
    let Some(sb) = sandbox_criu("ck-shell-job") else {
        return;
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    let script = sb.dir.join("shell-job.rhai");
    fs::write(
        &script,
        format!(
            r#"{preamble}spec.stdin = "inherit";
{start}
try {{
    c.checkpoint(#{{ dir: {plain} }});
    print("DUMPED without shell_job");
}} catch (e) {{
    print(`REFUSED ${{e.kind}} ${{e.message.contains("shell_job: true")}} ${{run_host(["test", "-e", {plain}]).code}}`);
}}
let ck = c.checkpoint(#{{ dir: {ck}, shell_job: true }});
{restore}
print("RESTORED " + r.state);
r.destroy();
"#,
            preamble = sb.preamble(),
            start = start(&sh(COUNTER), &before, 3),
            restore = restore("ck", &after, ""),
            plain = path_str(&sb.dir.join("plain")),
            ck = path_str(&sb.dir.join("ck")),
        ),
    )
    .unwrap();
    let mut pty = common::pty::Pty::start(
        std::process::Command::new(common::CTRSH).arg(&script),
        40,
        120,
    );
    // Refused before CRIU runs, which leaves no dir and no log.
    pty.expect("REFUSED config true 1\n");
    pty.expect("RESTORED running\n");
    assert_eq!(pty.wait().code(), Some(0), "{}", pty.raw());
    assert_continues(&before, &after);
    sb.assert_nothing_left(&restored_id(&sb));
}

/// `ext_unix_sk`: a process with a unix socket connected to a peer outside
/// the container (a datagram socket of the test's, bound into it) is
/// dumped only with the option; restored, its socket reaches the peer
/// again and the count goes on there.
#[test]
fn an_external_unix_socket_needs_ext_unix_sk() {
    let Some(sb) = sandbox_with_probe("ck-ext-unix") else {
        return;
    };
    let socket = sb.dir.join("peer.sock");
    let peer = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    // Read all along: a peer's queue holds only net.unix.max_dgram_qlen
    // datagrams, and a counter whose sends block would stop counting.
    peer.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut buf, mut got) = ([0u8; 64], Vec::new());
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = peer.recv(&mut buf) {
                    got.push(
                        String::from_utf8_lossy(&buf[..n])
                            .trim()
                            .parse::<u64>()
                            .unwrap(),
                    );
                }
            }
            got
        })
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    let stdout = sb.script_ok(&format!(
        r#"// In the host's network namespace, where CRIU can see the peer, and at
// the peer's own path, by which a restore connects again.
config.namespaces = ["mount", "uts", "ipc", "pid"];
config.mounts = [#{{ source: {socket}, destination: {socket}, type: "bind", options: ["bind"] }}];
{start}
try {{
    c.checkpoint(#{{ dir: {plain} }});
    print("DUMPED without ext_unix_sk");
}} catch (e) {{
    print("REFUSED " + e.kind);
    print("MESSAGE " + e.message);
}}
let ck = c.checkpoint(#{{ dir: {ck}, ext_unix_sk: true }});
{restore}
print("RESTORED " + r.state);
r.destroy();
"#,
        socket = path_str(&socket),
        start = start(
            &format!(r#"["/bin/probe", "unix_counter", {}]"#, path_str(&socket)),
            &before,
            3
        ),
        restore = restore("ck", &after, ""),
        plain = path_str(&sb.dir.join("plain")),
        ck = path_str(&sb.dir.join("ck")),
    ));
    assert!(stdout.contains("REFUSED system\n"), "{stdout}");
    // CRIU's log of the failed dump is all that is left in the dir, named.
    let log = sb.dir.join("plain/dump.log");
    assert!(
        stdout.contains(&format!("kept at {}", log.display())),
        "{stdout}"
    );
    let left: Vec<_> = fs::read_dir(sb.dir.join("plain"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["dump.log"]);
    assert!(stdout.contains("RESTORED running\n"), "{stdout}");
    assert_continues(&before, &after);
    // The peer got the restored process's numbers too.
    stop.store(true, Ordering::Relaxed);
    let got = reader.join().unwrap();
    let restored_first = numbers(&after)[0];
    assert!(
        got.contains(&restored_first),
        "{got:?} lacks {restored_first}"
    );
    sb.assert_nothing_left(&restored_id(&sb));
}

/// A container made from an image (an overlay root): the writes in its
/// upper dir travel in the checkpoint, and a restore mounts the image
/// again over them. Its counter, which appends to a file it wrote in the
/// upper dir and keeps open, goes on; the restored container reads the
/// file; a copy restored from a `leave_running` checkpoint has the writes
/// as they were at the dump; nothing is left, not even the image's
/// in-use records.
#[test]
fn an_image_container_restores_over_its_own_writes() {
    let Some(sb) = sandbox_criu("ck-image") else {
        return;
    };
    if !common::requires("ck-image", &[common::Need::Program("umoci")]) {
        return;
    }
    // An OCI layout of one layer, the busybox rootfs, imported into a
    // store of the test's.
    let layout = sb.dir.join("layout");
    let store = sb.dir.join("store");
    let layout_arg = format!("{}:app", layout.display());
    for args in [
        vec!["init", "--layout", layout.to_str().unwrap()],
        vec!["new", "--image", &layout_arg],
        vec![
            "insert",
            "--image",
            &layout_arg,
            sb.rootfs.to_str().unwrap(),
            "/",
        ],
    ] {
        let out = common::output(std::process::Command::new("umoci").args(&args));
        assert!(out.status.success(), "umoci {args:?}: {out:?}");
    }
    let import = common::output(
        std::process::Command::new(common::CTRSH)
            .args(["image", "--store", store.to_str().unwrap(), "import"])
            .args(["--name", "ck-app:1", layout.to_str().unwrap()]),
    );
    assert!(import.status.success(), "ctrsh image import: {import:?}");
    let (before, copy, after) = (
        sb.dir.join("before"),
        sb.dir.join("copy"),
        sb.dir.join("after"),
    );
    // Each line: the count and the size of /data/log, its own file in the
    // upper dir, held open for appending.
    let counter = "mkdir -p /data; echo kept > /etc/mine; exec 3>>/data/log; i=0; \
                   while true; do i=$((i+1)); echo $i >&3; echo $i; sleep 0.05; done";
    let body = format!(
        r#"{WAIT_LINES}
fn cat(c, path) {{ let text = c.exec(["cat", path]).stdout; text.trim(); text }}
let c = f.create(id, #{{ image: "ck-app:1", namespaces: config.namespaces }});
c.start(process(#{{ args: ["/bin/sh", "-c", {counter}], env: ["PATH=/bin"], stdin: "null", stdout: {before} }}));
wait_lines({before}, 3);
let held = c.checkpoint(#{{ dir: {ck_copy}, leave_running: true }});
let twin = f.restore(id + "-copy", held, #{{ stdout: {copy} }});
wait_lines({copy}, 3);
print("COPY " + cat(twin, "/etc/mine"));
print("ORIG " + c.state);
twin.destroy();
let ck = c.checkpoint(#{{ dir: {ck} }});
print("DUMPED " + c.state);
{restore}
print("MINE " + cat(r, "/etc/mine"));
print("LOG " + cat(r, "/data/log").split("\n").pop());
print("RECORDS " + run_host(["ls", {records}]).stdout.split("\n").len());
r.destroy();
print("AFTER " + run_host(["ls", {records}]).stdout.len());
"#,
        counter = rhai_str(counter),
        before = path_str(&before),
        copy = path_str(&copy),
        restore = restore("ck", &after, ""),
        ck_copy = path_str(&sb.dir.join("ck-copy")),
        ck = path_str(&sb.dir.join("ck")),
        records = path_str(&store.join("containers")),
    );
    let out = RunningScript::spawn(
        std::process::Command::new(common::CTRSH)
            .arg(sb.script_file(&body))
            .env("CTRSH_IMAGE_STORE", &store),
    )
    .finish();
    assert_eq!(out.code, Some(0), "{out}");
    let out = out.stdout;
    for want in [
        "COPY kept\n",
        "ORIG running\n",
        "DUMPED destroyed\n",
        "MINE kept\n",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    assert_continues(&before, &after);
    // The file held open went on from where it was at the dump.
    let log_last: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("LOG "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no LOG in:\n{out}"));
    assert!(log_last >= numbers(&after)[0], "{out}");
    // One record while the restored container ran ("x\n" splits in two),
    // none after.
    assert!(out.contains("RECORDS 2\n"), "{out}");
    assert!(out.contains("AFTER 0\n"), "{out}");
    sb.assert_nothing_left(&restored_id(&sb));
    sb.assert_nothing_left(&format!("{}-copy", sb.id));
}

/// A process that writes to ctrsh's own standard output (stdout
/// "inherit") while that is a file the shell opened with `>`: it is
/// dumped by one ctrsh and restored by another whose output goes to a
/// second file, where the count goes on (CRIU checks the size of a file
/// open for plain writes; ctrsh makes its own output file append).
#[test]
fn a_process_on_ctrshs_redirected_output_goes_on_in_the_restorers_file() {
    let Some(sb) = sandbox_criu("ck-redirected") else {
        return;
    };
    let (before, after, ck) = (
        sb.dir.join("before"),
        sb.dir.join("after"),
        sb.dir.join("ck"),
    );
    let redirected = |body: &str, out: &Path| {
        let script = sb.script_file(body);
        let ran = RunningScript::spawn(std::process::Command::new("sh").args([
            "-c".as_ref(),
            "exec \"$0\" \"$1\" > \"$2\"".as_ref(),
            common::CTRSH.as_ref(),
            script.as_os_str(),
            out.as_os_str(),
        ]))
        .finish();
        assert_eq!(ran.code, Some(0), "{ran}");
    };
    redirected(
        &format!(
            r#"{WAIT_LINES}
spec.args = ["/bin/sh", "-c", {counter}];
spec.stdout = "inherit";
let c = f.create(id, config);
c.start(process(spec));
print("STARTED");
wait_lines({before}, 4);
c.checkpoint(#{{ dir: {ck} }});
print("DUMPED");
"#,
            counter = rhai_str(COUNTER),
            before = path_str(&before),
            ck = path_str(&ck),
        ),
        &before,
    );
    // Restored by a ctrsh whose stdout is a pipe (the test's), which
    // cannot stand in for the file: refused, naming what to give.
    let refused = sb.script_ok(&format!(
        r#"try {{ f.restore(id + "-p", checkpoint({ck})); }} catch (e) {{ print(`${{e.kind}}: ${{e.message}}`); }}"#,
        ck = path_str(&ck),
    ));
    assert!(
        refused.starts_with("config: ")
            && refused.contains(&format!(
                "stdout: the process's stdout was the file {}",
                before.display()
            ))
            && refused.contains("restore with stdout: \"null\" or a file path"),
        "{refused}"
    );
    sb.assert_nothing_left(&format!("{}-p", sb.id));
    redirected(
        &format!(
            r#"{WAIT_LINES}
let r = f.restore(id + "-r", checkpoint({ck}));
print("RESTORED " + r.state);
wait_lines({after}, 4);
r.destroy();
"#,
            ck = path_str(&ck),
            after = path_str(&after),
        ),
        &after,
    );
    let text = fs::read_to_string(&after).unwrap();
    assert!(text.lines().any(|l| l == "RESTORED running"), "{text}");
    assert_continues(&before, &after);
    sb.assert_nothing_left(&restored_id(&sb));
}

/// A container on a bridge network (in a namespace of the test's): an
/// established TCP connection from another container on the bridge keeps
/// carrying the other's count after a checkpoint with tcp_established
/// and a restore, which has the same address on a new veth; destroy
/// leaves no veth and no lease.
#[test]
fn a_bridge_containers_tcp_connection_from_another_container_survives() {
    let Some(sb) = Sandbox::with_criu("ck-bridge", Some(CRIU_42), MIN_CRIU_TCP_VERSION) else {
        return;
    };
    if !common::requires(
        "ck-bridge",
        &[
            common::Need::Program("ip"),
            common::Need::Program("nsenter"),
        ],
    ) {
        return;
    }
    let host = Netns::new("ck-host");
    let _guard = DestroyIn {
        ns: &host,
        root: sb.root.clone(),
    };
    let (before, after) = (sb.dir.join("before"), sb.dir.join("after"));
    // The client's counter runs into the server, which prints it. The
    // client tries until the server listens; a connection that broke
    // would start it from 1 again.
    let client = format!("until ({COUNTER}) | nc \"$SERVER\" 5000; do sleep 0.1; done");
    let body = format!(
        r#"{WAIT_LINES}
config.networks = [#{{ type: "bridge", name: "ckbr0", subnet: "10.89.0.0/24" }}];
spec.args = ["/bin/sh", "-c", "sleep 100000 | nc -l -p 5000"];
spec.stdout = {before};
let a = f.create(id, config);
a.start(process(spec));
let b = f.create(id + "-b", config);
spec.args = ["/bin/sh", "-c", {client}];
spec.env = ["PATH=/bin", "SERVER=" + a.ips[0]];
spec.stdout = "null";
b.start(process(spec));
wait_lines({before}, 3);
let ips = a.ips;
let ck = a.checkpoint(#{{ dir: {ck}, tcp_established: true, criu: {criu} }});
{restore}
print("SAME " + (r.ips == ips));
print("STATE " + r.state);
r.destroy();
b.destroy();
"#,
        client = rhai_str(&client),
        before = path_str(&before),
        ck = path_str(&sb.dir.join("ck")),
        criu = rhai_str(CRIU_42),
        restore = restore("ck", &after, &format!(", criu: {}", rhai_str(CRIU_42))),
    );
    let file = sb.script_file(&body);
    let out = RunningScript::spawn(&mut host.ctrsh(&[&file.to_string_lossy()])).finish();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("SAME true\n"), "{out}");
    assert!(out.stdout.contains("STATE running\n"), "{out}");
    assert_continues(&before, &after);
    // Only the bridge is left in the namespace (it stays with its network).
    assert_eq!(host.links(), ["lo", "ckbr0"]);
    let leases = fs::read_to_string(sb.root.join(".networks/ckbr0/leases.json")).unwrap();
    let leases: serde_json::Value = serde_json::from_str(&leases).unwrap();
    assert_eq!(leases["leases"], serde_json::json!({}), "{leases}");
    sb.assert_nothing_left(&restored_id(&sb));
}

/// A container with the `init` option is refused before anything is
/// frozen, with the way out named (CRIU cannot dump ctrsh's init: see
/// criu/dump.rs); it runs on, and nothing of a checkpoint is left.
#[test]
fn an_init_option_container_is_refused_and_runs_on() {
    let Some(sb) = sandbox_criu("ck-init") else {
        return;
    };
    let ck = sb.dir.join("ck");
    let out = sb.script_ok(&format!(
        r#"config.init = true;
spec.args = ["/bin/sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.05; done"];
let c = f.create(id, config);
c.start(process(spec));
try {{ c.checkpoint(#{{ dir: {ck} }}); }} catch (e) {{ print(`${{e.kind}}: ${{e.message}}`); }}
print(`${{c.state}} ${{c.stop(10)}}`);
c.destroy();
"#,
        ck = path_str(&ck),
    ));
    assert_eq!(
        out,
        format!(
            "unsupported: checkpoint container '{}': a container with the `init` option cannot \
             be checkpointed yet: CRIU cannot dump ctrsh's init, whose program is a sealed copy \
             outside the container; create it without `init` (its first process is then PID \
             1)\nrunning 42\n",
            sb.id
        ),
        "{out}"
    );
    assert!(
        fs::read_dir(&ck).map_or(true, |mut d| d.next().is_none()),
        "a checkpoint was left in {}",
        ck.display()
    );
    sb.assert_nothing_left(&sb.id);
}
