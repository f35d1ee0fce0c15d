//! The embedded stdlib modules (rootfs, sandbox, limits, migrate), the host
//! file helpers they use, and the example scripts in scripts/, on real
//! containers. Needs root and busybox (see tests/common).
//!
//! Every script runs with CTRSH_CACHE and CTRSH_ROOT inside the test's
//! sandbox dir, so the default rootfs is built there and the examples'
//! containers live in the sandbox's factory root, which its drop cleans up.

mod common;

use common::{rhai_str, ExtraRoot, Output, RunningScript, Sandbox, CTRSH};
use ctrsh::runtime::MIN_CRIU_VERSION;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// ctrsh on the sandbox's preamble followed by `body`, with the cache and
/// the default state root inside the sandbox.
fn script(sb: &Sandbox, body: &str) -> Output {
    static SCRIPTS: AtomicUsize = AtomicUsize::new(0);
    let n = SCRIPTS.fetch_add(1, Ordering::Relaxed);
    let file = sb.dir.join(format!("stdlib-{n}.rhai"));
    std::fs::write(&file, format!("{}{body}\n", sb.preamble())).expect("write the script");
    ctrsh(sb, Command::new(CTRSH).arg(&file))
}

/// Runs `cmd` (a ctrsh command line) with the sandbox's environment.
fn ctrsh(sb: &Sandbox, cmd: &mut Command) -> Output {
    RunningScript::spawn(
        cmd.env("CTRSH_CACHE", sb.dir.join("cache"))
            .env("CTRSH_ROOT", &sb.root),
    )
    .finish()
}

fn script_ok(sb: &Sandbox, body: &str) -> String {
    let out = script(sb, body);
    assert_eq!(out.code, Some(0), "the script failed:\n{out}");
    out.stdout
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Runs `body`, which must succeed and print the lines `want`; then
/// nothing of the container may be left.
fn assert_prints(sb: &Sandbox, body: &str, want: &[&str]) {
    let out = script_ok(sb, body);
    assert_eq!(lines(&out), want, "{out}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn limits_pieces_merge_into_a_config_and_apply() {
    let Some(sb) = Sandbox::new("stdlib-limits") else {
        return;
    };
    assert_prints(
        &sb,
        r#"import "limits" as limits;
print(limits::memory("256M").to_json());
print(limits::cpus(1.5).to_json());
print(limits::cpus(2).to_json());
print(limits::pids(64).to_json());
try { limits::cpus(0.001); } catch (e) { print(`CPUS ${e.kind}`); }
config.cgroups = #{ memory: "1G", cpu_shares: 512 };
let merged = limits::apply(config, [limits::memory("64M"), limits::pids(8)]);
print(`MERGED ${merged.cgroups.memory} ${merged.cgroups.pids_limit} ${merged.cgroups.cpu_shares}`);
let c = f.create(id, limits::apply(config, limits::memory("64M") + limits::pids(8)));
c.start(process(#{ args: ["/bin/sleep", "60"], env: ["PATH=/bin"] }));
let s = c.stats();
print(`LIVE ${s.memory.limit} ${s.pids.limit}`);
c.update(limits::pids(4));
print(`UPDATED ${c.stats().pids.limit}`);
c.destroy();
"#,
        &[
            r#"{"memory":"256M"}"#,
            r#"{"cpu_period":100000,"cpu_quota":150000}"#,
            r#"{"cpu_period":100000,"cpu_quota":200000}"#,
            r#"{"pids_limit":64}"#,
            "CPUS config",
            "MERGED 64M 8 512",
            "LIVE 67108864 8",
            "UPDATED 4",
        ],
    );
}

#[test]
fn rootfs_busybox_is_built_once_and_runs_as_daemon() {
    let Some(sb) = Sandbox::new("stdlib-busybox") else {
        return;
    };
    let dir = sb.dir.join("bb");
    let out = script_ok(
        &sb,
        &format!(
            r#"import "rootfs" as rootfs;
let dir = rootfs::busybox({dir});
write_file(dir + "/marker", "first build");
print(rootfs::busybox(dir) == dir);
config.rootfs = dir;
let c = f.create(id, config);
let p = process(#{{ args: ["/bin/sh", "-c", "id; cat /marker"], env: ["PATH=/bin"], user: "daemon", stdout: "pipe" }});
print(c.run(p));
print(p.stdout);
c.destroy();
"#,
            dir = rhai_str(&dir.to_string_lossy())
        ),
    );
    assert_eq!(
        lines(&out),
        [
            "true",
            "0",
            "uid=1(daemon) gid=1(daemon) groups=100(users)",
            "first build",
        ],
        "{out}"
    );
    assert_eq!(
        std::fs::read_link(dir.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read_link(dir.join("usr/bin")).unwrap(),
        Path::new("../bin")
    );
    // No half-built copy is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(&sb.dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("bb.tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn rootfs_host_runs_host_programs_read_only() {
    let Some(sb) = Sandbox::new("stdlib-host") else {
        return;
    };
    let dir = sb.dir.join("hostfs");
    assert_prints(
        &sb,
        &format!(
            r#"import "rootfs" as rootfs;
import "sandbox" as sandbox;
let c = f.create(id, sandbox::config(rootfs::host({dir})));
let p = process(#{{ args: ["/usr/bin/env", "sh", "-c",
    "cat /etc/passwd | head -1; ls /usr/bin/env; touch /usr/x 2>&1 | sed 's/.*: //'; ls /etc"],
    env: ["PATH=/usr/bin:/bin"], stdout: "pipe", stderr: "pipe" }});
print(c.run(p));
print(p.stdout);
c.destroy();
"#,
            dir = rhai_str(&dir.to_string_lossy())
        ),
        &[
            "0",
            "root:x:0:0:root:/root:/bin/sh",
            "/usr/bin/env",
            "Read-only file system",
            "group",
            "hostname",
            "hosts",
            "passwd",
            "resolv.conf",
            "",
        ],
    );
}

#[test]
fn rootfs_unpack_extracts_a_tarball_and_reports_failures() {
    let Some(sb) = Sandbox::new("stdlib-unpack") else {
        return;
    };
    let tarball = sb.dir.join("rootfs.tar.gz");
    common::run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&sb.rootfs)
            .arg("."),
    );
    let bad = sb.dir.join("bad.tar");
    std::fs::write(&bad, "not a tarball").unwrap();
    assert_prints(
        &sb,
        &format!(
            r#"import "rootfs" as rootfs;
config.rootfs = rootfs::unpack({tarball}, {dir});
let c = f.create(id, config);
let r = c.run(process(#{{ args: ["/bin/true"] }}));
print(`RAN ${{r}}`);
c.destroy();
try {{ rootfs::unpack({bad}, {dir2}); }} catch (e) {{ print(`BAD ${{e.kind}} ${{e.message.contains("tar failed")}}`); }}
try {{ rootfs::unpack("/nonexistent.tar", {dir2}); }} catch (e) {{ print(`MISSING ${{e.kind}}`); }}
"#,
            tarball = rhai_str(&tarball.to_string_lossy()),
            bad = rhai_str(&bad.to_string_lossy()),
            dir = rhai_str(&sb.dir.join("unpacked").to_string_lossy()),
            dir2 = rhai_str(&sb.dir.join("unpacked2").to_string_lossy()),
        ),
        &["RAN 0", "BAD system true", "MISSING not_found"],
    );
}

#[test]
fn sandbox_config_is_hardened() {
    let Some(sb) = Sandbox::new("stdlib-hardened") else {
        return;
    };
    assert_prints(
        &sb,
        r#"import "sandbox" as sandbox;
let cfg = sandbox::config(rootfs);
print(`CONFIG ${cfg.capabilities} ${cfg.no_new_privileges} ${cfg.readonly_rootfs} ${cfg.seccomp}`);
let c = f.create(id, cfg);
// The init only keeps the container alive (stats need a live one); the
// checks run beside it and look at it as pid 1.
c.start(process(#{ args: ["/bin/sleep", "60"], env: ["PATH=/bin"] }));
let r = c.exec(["/bin/sh", "-c", `
    grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/1/status | tr -s '\t' ' '
    cat /proc/1/uid_map | tr -s ' '
    hostname
    touch /x 2>/dev/null || echo rootfs read-only
    echo ok > /tmp/x && cat /tmp/x
    wc -c < /proc/keys
    ls /sys/class/net
`]);
let s = c.stats();
print(`CODE ${r.code}`);
print(r.stdout);
print(`LIMITS ${s.memory.limit} ${s.pids.limit}`);
c.destroy();
"#,
        &[
            "CONFIG [] true true default",
            "CODE 0",
            "CapEff: 0000000000000000",
            "CapBnd: 0000000000000000",
            "NoNewPrivs: 1",
            "Seccomp: 2",
            " 0 100000 65536",
            "sandbox",
            "rootfs read-only",
            "ok",
            "0",
            "lo",
            "",
            "LIMITS 268435456 64",
        ],
    );
}

/// As in runc: the cgroup namespace is made once the init is in its
/// cgroups, so the container sees its own cgroup as "/".
#[test]
fn sandbox_cgroup_namespace_is_rooted_at_the_container_cgroup() {
    let Some(sb) = Sandbox::new("stdlib-cgroupns") else {
        return;
    };
    let out = script_ok(
        &sb,
        r#"import "sandbox" as sandbox;
let c = f.create(id, sandbox::config(rootfs));
let p = process(#{ args: ["/bin/cat", "/proc/self/cgroup"], stdout: "pipe" });
c.run(p);
print(p.stdout);
c.destroy();
"#,
    );
    for line in out.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.ends_with(":/") || line.contains("name=systemd"),
            "{line}: the container sees a cgroup path outside its own\n{out}"
        );
    }
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn sandbox_run_returns_output_and_always_destroys() {
    let Some(sb) = Sandbox::new("stdlib-run") else {
        return;
    };
    // sandbox::run without a factory uses the default one.
    let _default_root = common::HostDirs::new(&["/run/ctrsh"]);
    let out = script_ok(
        &sb,
        r#"import "sandbox" as sandbox;
let r = sandbox::run(f, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
print(r.to_json());
print(`LEFT ${f.list()}`);
try { sandbox::run(f, ["/no/such/program"]); print("RAN"); } catch (e) { print(`THROWN ${type_of(e)}`); }
print(`LEFT ${f.list()}`);
let d = factory();
let r = sandbox::run(["id", "-u"]);
print(`DEFAULT ${r.code} ${r.stdout.len()} ${d.list().filter(|i| i.starts_with("sandbox-")).len()}`);
"#,
    );
    let out_lines = lines(&out);
    assert_eq!(
        out_lines[0], r#"{"code":3,"stderr":"err\n","stdout":"out\n"}"#,
        "{out}"
    );
    assert_eq!(out_lines[1], "LEFT []", "{out}");
    // A program that cannot run is an error thrown by start; the
    // container is gone all the same.
    assert_eq!(out_lines[2], "THROWN map", "{out}");
    assert_eq!(out_lines[3], "LEFT []", "{out}");
    assert_eq!(out_lines[4], "DEFAULT 0 2 0", "{out}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn migrate_example_moves_a_counting_container() {
    let Some(sb) = Sandbox::with_criu("stdlib-migrate", None, MIN_CRIU_VERSION) else {
        return;
    };
    let ck = sb.dir.join("checkpoint");
    let out = ctrsh(
        &sb,
        Command::new(CTRSH)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/migrate.rhai"))
            .arg(&ck),
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("counts on"), "{out}");
    assert_eq!(
        ctrsh::runtime::Factory::new(&sb.root)
            .and_then(|f| f.list())
            .map_err(|e| e.to_string()),
        Ok(vec![]),
        "the script left containers behind"
    );
}

#[test]
fn migrate_moves_a_container_to_another_factory_root() {
    let Some(sb) = Sandbox::with_criu("stdlib-migrate-root", None, MIN_CRIU_VERSION) else {
        return;
    };
    let other = sb.dir.join("other-root");
    let _cleanup = ExtraRoot(other.clone());
    assert_prints(
        &sb,
        &format!(
            r#"import "migrate" as migrate;
let f2 = factory({other});
config.mounts = [#{{ destination: "/tmp", type: "tmpfs", source: "tmpfs" }}];
let c = f.create(id, config);
c.start(process(#{{ args: ["/bin/sh", "-c", "echo before > /tmp/mark; exec sleep 600"], env: ["PATH=/bin"],
                    stdin: "null", stdout: "null", stderr: "null" }}));
for i in 0..400 {{ if c.exec(["/bin/cat", "/tmp/mark"]).code == 0 {{ break; }} sleep(0.05); }}
let moved = migrate::move_to(c, f2, "moved", {ck});
print(`${{moved.state}} ${{f.list()}} ${{f2.list()}}`);
let r = moved.exec(["/bin/cat", "/tmp/mark"]);
print(r.stdout);
moved.destroy();
"#,
            other = rhai_str(&other.to_string_lossy()),
            ck = rhai_str(&sb.dir.join("ck").to_string_lossy()),
        ),
        &["running [] [\"moved\"]", "before", ""],
    );
}

#[test]
fn host_file_helpers_raise_kinds() {
    let Some(sb) = Sandbox::new("stdlib-files") else {
        return;
    };
    let out = script_ok(
        &sb,
        r#"try { write_file("/nonexistent/dir/file", "x"); } catch (e) { print(`WRITE ${e.kind}: ${e.message}`); }
try { run_host([]); } catch (e) { print(`EMPTY ${e.kind}`); }
try { run_host(["/no/such/program"]); } catch (e) { print(`PROGRAM ${e.kind}`); }
let r = run_host(["sh", "-c", "echo a; echo b >&2; exit 5"]);
print(r.to_json());
print(unique_name("x") != unique_name("x"));
"#,
    );
    assert_eq!(
        lines(&out),
        [
            "WRITE not_found: write /nonexistent/dir/file: No such file or directory (ENOENT)",
            "EMPTY config",
            "PROGRAM not_found",
            r#"{"code":5,"stderr":"b\n","stdout":"a\n"}"#,
            "true",
        ],
        "{out}"
    );
}

#[test]
fn user_modules_beside_the_script_are_imported() {
    let Some(sb) = Sandbox::new("stdlib-usermod") else {
        return;
    };
    let dir = sb.dir.join("project");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("lib/helper.rhai"),
        "fn greet(who) { `hello ${who}` }",
    )
    .unwrap();
    // A file named like a stdlib module does not replace it.
    std::fs::write(dir.join("limits.rhai"), "fn pids(n) { \"shadowed\" }").unwrap();
    let main = dir.join("main.rhai");
    std::fs::write(
        &main,
        "import \"lib/helper\" as helper;\nimport \"limits\" as limits;\nprint(helper::greet(\"you\"));\nprint(limits::pids(2));\n",
    )
    .unwrap();
    // From another working directory: imports are relative to the script.
    let out = ctrsh(&sb, Command::new(CTRSH).arg(&main).current_dir("/"));
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "hello you\n#{\"pids_limit\": 2}\n", "{out}");
}

/// Runs scripts/NAME.rhai with `args`; it must succeed.
fn example(sb: &Sandbox, name: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scripts/{name}.rhai"));
    // Run through the shebang, which finds ctrsh on PATH.
    let bin = Path::new(CTRSH).parent().unwrap();
    let search = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = ctrsh(sb, Command::new(&path).args(args).env("PATH", search));
    assert_eq!(out.code, Some(0), "{name}.rhai failed:\n{out}");
    out.stdout
}

#[test]
fn example_scripts_run() {
    let Some(sb) = Sandbox::new("stdlib-examples") else {
        return;
    };
    let hello = example(&sb, "hello-default", &[]);
    assert_eq!(
        lines(&hello),
        ["hello from hello, root in /", "exit code 0"],
        "{hello}"
    );

    let limits = example(&sb, "limits", &[]);
    let limits = lines(&limits);
    assert_eq!(
        limits[..2],
        [
            "memory limit 67108864 bytes, pids limit 16, cpu 50000/100000 us",
            "memory limit 134217728 bytes, pids limit 32, cpu 100000/100000 us",
        ],
        "{limits:?}"
    );
    let tasks: u32 = limits[2]
        .strip_prefix("asked for 40 more sleepers: ")
        .and_then(|rest| rest.strip_suffix(" tasks running"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{limits:?}"));
    assert!((2..=32).contains(&tasks), "{limits:?}");

    let parallel = example(&sb, "parallel", &["3"]);
    let rows = lines(&parallel);
    assert_eq!(rows.len(), 4, "{parallel}");
    assert!(rows[0].starts_with("container"), "{parallel}");
    for (i, row) in rows[1..].iter().enumerate() {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(cols[0].starts_with(&format!("parallel-{i}-")), "{parallel}");
        assert_eq!(cols[1], i.to_string(), "{parallel}");
        let cpu_ms: u64 = cols[2].parse().expect("cpu ms is a number");
        assert!(cpu_ms > 0, "{parallel}");
    }
    sb.assert_nothing_left(&sb.id);
}
