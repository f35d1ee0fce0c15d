//! A container's life: exit codes, states from created to stopped,
//! destroy, and sharing a container between ctrsh processes.

mod common;

use common::{host, requires, skip, Need, Output, RunningScript, Sandbox, START_SLEEPING};
use ctrsh::runtime::Factory;
use std::fs;
use std::path::Path;
use std::process::Command;

#[test]
fn exit_code_of_the_process_is_returned() {
    let Some(sb) = Sandbox::new("exit-code") else {
        return;
    };
    let ran = sb.run_process("", &["/bin/sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (7, "out\n", "err\n")
    );
}

#[test]
fn process_killed_by_sigkill_exits_137() {
    let Some(sb) = Sandbox::new("sigkill") else {
        return;
    };
    let out = sb.script_ok(&format!(
        r#"{START_SLEEPING}
p.signal("SIGKILL");
print("CODE " + p.wait());
c.destroy();
"#,
    ));
    assert!(out.contains("CODE 137\n"), "{out}");
}

#[test]
fn states_go_created_running_stopped_and_destroy_removes_the_state_dir() {
    let Some(sb) = Sandbox::new("states") else {
        return;
    };
    let out = sb.script_ok(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
print("STATE " + c.state);
let p = process(spec);
c.start(p);
print("STATE " + c.state);
p.signal("SIGKILL");
p.wait();
print("STATE " + c.state);
c.destroy();
"#,
    );
    let states: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("STATE "))
        .collect();
    assert_eq!(states, ["created", "running", "stopped"], "{out}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn destroy_kills_a_running_container() {
    let Some(sb) = Sandbox::new("destroy-running") else {
        return;
    };
    let out = sb.script_ok(&format!(
        r#"{START_SLEEPING}
print("PID " + c.pid);
print("LISTED " + f.list().contains(id));
c.destroy();
print("LISTED " + f.list().contains(id));
"#,
    ));
    assert!(out.contains("LISTED true\nLISTED false\n"), "{out}");
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("PID "))
        .unwrap_or_else(|| panic!("no PID line: {out}"));
    assert_gone(pid);
    sb.assert_nothing_left(&sb.id);
}

/// Fails when the process `pid` still exists after a destroy.
fn assert_gone(pid: impl std::fmt::Display) {
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} survived destroy"
    );
}

/// Where the kernel has cgroup.kill (Linux 5.14), destroy kills through it:
/// traced by strace, the ctrsh that starts and destroys a container of
/// three processes sends no SIGKILL with kill, tkill or tgkill, yet all
/// three are gone (the init's own signal goes through its pidfd, which
/// strace is not asked to show, after the cgroup is empty).
#[test]
fn destroy_kills_through_cgroup_kill() {
    let test = "destroy-cgroup-kill";
    let Some(sb) = sandbox_with_strace(test) else {
        return;
    };
    if !cgroup_kill_offered() {
        skip(
            test,
            "the kernel has no cgroup.kill (Linux 5.14) or no cgroup2",
        );
        return;
    }
    let (out, trace) = sb.script_traced(
        &["-f", "-qq", "-e", "trace=kill,tkill,tgkill"],
        r#"spec.args = ["/bin/sh", "-c", "sleep 1000 & sleep 1000 & exec sleep 1000"];
spec.stdout = "null";
let c = f.create(id, config);
c.start(process(spec));
let started = timestamp();
while c.processes().len() < 3 {
    if started.elapsed > 20.0 { throw "the container did not start its three processes"; }
    sleep(0.01);
}
print(`PIDS ${c.processes()}`);
c.destroy();
"#,
    );
    assert_eq!(out.code, Some(0), "{out}");
    // Calls such as "kill(123, SIGKILL) = 0" (strace also notes the deaths).
    let sent: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("kill(") && l.contains("SIGKILL"))
        .collect();
    assert!(sent.is_empty(), "destroy sent SIGKILL itself:\n{trace}");
    let pids: Vec<u32> = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("PIDS "))
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("no PIDS line: {out}"));
    assert_eq!(pids.len(), 3, "{out}");
    pids.into_iter().for_each(assert_gone);
    sb.assert_nothing_left(&sb.id);
}

/// Start, wait, stop and destroy wait on events (pidfds, cgroup.events),
/// never by sleeping and looking again: traced by strace, the ctrsh
/// thread that runs a lifecycle, the destroy of a running container and a
/// stop makes no nanosleep call.
#[test]
fn lifecycle_and_stop_never_sleep() {
    let test = "never-sleep";
    let Some(sb) = sandbox_with_strace(test) else {
        return;
    };
    let (out, trace) = sb.script_traced(
        // Not -f: the container's processes may sleep as they like.
        &["-qq", "-e", "trace=nanosleep,clock_nanosleep"],
        r#"spec.args = ["/bin/true"];
let c = f.create(id, config);
print(`RUN ${c.run(process(spec))}`);
c.destroy();
spec.args = ["/bin/sh", "-c", "exec sleep 1000"];
spec.stdout = "null";
let c = f.create(id, config);
c.start(process(spec));
c.destroy();
let c = f.create(id, config);
c.start(process(spec));
print(`STOP ${c.stop(20, "KILL")}`);
c.destroy();
"#,
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout.contains("RUN 0") && out.stdout.contains("STOP 137"),
        "{out}"
    );
    assert!(
        !trace.contains("sleep("),
        "ctrsh slept on a lifecycle path:\n{trace}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// A sandbox for a test that traces ctrsh (`Sandbox::script_traced`);
/// None when strace or the sandbox's prerequisites are missing.
fn sandbox_with_strace(test: &str) -> Option<Sandbox> {
    match requires(test, &[Need::Program("strace")]) {
        true => Sandbox::new(test),
        false => None,
    }
}

/// Whether a new directory in this process's cgroup2 cgroup has
/// cgroup.kill (made for the purpose and removed).
fn cgroup_kill_offered() -> bool {
    let Some((mount, _)) = &host().cgroups.v2 else {
        return false;
    };
    let table = fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = table
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup2 line in /proc/self/cgroup");
    let probe = mount
        .join(own.trim_start_matches('/'))
        .join(format!("ctrsh-test-kill-probe-{}", std::process::id()));
    fs::create_dir(&probe).unwrap_or_else(|e| panic!("mkdir {}: {e}", probe.display()));
    let offered = probe.join("cgroup.kill").exists();
    fs::remove_dir(&probe).unwrap_or_else(|e| panic!("rmdir {}: {e}", probe.display()));
    offered
}

/// Without a pid namespace the init's children do not die with it:
/// destroy must find and kill them.
#[test]
fn destroy_kills_what_the_init_left_behind_without_a_pid_namespace() {
    let Some(sb) = Sandbox::new("no-pidns-orphans") else {
        return;
    };
    let out = sb.script_ok(
        r#"config.namespaces = ["mount", "uts", "ipc"];
spec.args = ["/bin/sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"];
let c = f.create(id, config);
let p = process(spec);
print("CODE " + c.run(p));
let orphan = p.stdout;
orphan.trim();
print("ORPHAN " + orphan);
// Seen from the host, before destroy: the sleep the shell left.
let alive = run_host(["sh", "-c", `tr '\0' ' ' < /proc/${orphan}/cmdline`]);
print("ALIVE " + alive.stdout);
c.destroy();
"#,
    );
    assert!(out.contains("CODE 0\n"), "{out}");
    // No pid namespace: the pid the shell printed is a host pid.
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("ORPHAN "))
        .unwrap_or_else(|| panic!("no ORPHAN line: {out}"));
    assert!(
        out.contains("ALIVE sleep 1000 \n"),
        "the orphan was not running before destroy: {out}"
    );
    // Gone, or (the pid reused) another program.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).starts_with("sleep"),
        "the container's sleep (pid {pid}) survived destroy"
    );
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn a_second_ctrsh_process_loads_signals_and_destroys_a_container() {
    let Some(sb) = Sandbox::new("load") else {
        return;
    };
    // The first script leaves the container running (its output must not
    // hold the script's stdout open).
    sb.script_ok(
        r#"spec.args = ["/bin/sleep", "1000"];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
c.start(process(spec));
"#,
    );
    let c = Factory::new(&sb.root).and_then(|f| f.load(&sb.id)).unwrap();
    let pid = c.pid().expect("the container runs after its script ended");
    let out = sb.script_ok(
        r#"let c = f.load(id);
print("STATE " + c.state);
print("PID " + c.pid);
c.signal("SIGKILL");
let tries = 0;
while c.state != "stopped" && tries < 400 { sleep(0.05); tries += 1; }
print("STATE " + c.state);
c.destroy();
"#,
    );
    assert!(
        out.contains(&format!("STATE running\nPID {pid}\nSTATE stopped\n")),
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// Of two scripts creating the same id at the same moment, exactly one
/// succeeds; the other fails with an error that names the id.
#[test]
fn racing_creates_of_one_id_give_one_container_and_one_clear_error() {
    let Some(sb) = Sandbox::new("race") else {
        return;
    };
    for round in 0..5 {
        let id = format!("{}-{round}", sb.id);
        let body = format!(
            "f.create({}, config);\nprint(\"CREATED\");\n",
            common::rhai_str(&id)
        );
        let (a, b) = (sb.start_script(&body), sb.start_script(&body));
        let results: [Output; 2] = [a.finish(), b.finish()];
        let won: Vec<&Output> = results.iter().filter(|o| o.code == Some(0)).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:#?}");
        let lost = results.iter().find(|o| o.code != Some(0)).unwrap();
        assert!(
            lost.code.is_some() && lost.stderr.contains(&id),
            "round {round}: the loser's error does not name '{id}':\n{lost}"
        );
        let f = Factory::new(&sb.root).unwrap();
        assert_eq!(f.list().unwrap(), vec![id.clone()]);
        f.load(&id).and_then(|c| c.destroy()).unwrap();
        sb.assert_nothing_left(&id);
    }
}

/// The main job (scripts/hello.rhai, what scripts/demo runs) works and
/// cleans up after itself.
#[test]
fn the_hello_walkthrough_runs_and_leaves_nothing() {
    let Some(sb) = Sandbox::new("hello") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/hello.rhai");
    let out = RunningScript::spawn(
        Command::new(common::CTRSH)
            .arg(&script)
            .arg(&sb.rootfs)
            .env("CTRSH_ROOT", &sb.root)
            .env("CTRSH_ID", &sb.id),
    )
    .finish();
    assert_eq!(out.code, Some(0), "{out}");
    let created = format!("created {}: created", sb.id);
    for want in [
        created.as_str(),
        "hello",
        "uid=1(daemon) gid=1(daemon) groups=100(users)",
        "pid 1",
        "exit code 0",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == want),
            "no '{want}' in:\n{out}"
        );
    }
    sb.assert_nothing_left(&sb.id);
}

/// The design's walkthrough config, the first example of docs/config.md,
/// runs as it is: default device rules (on a pure cgroup v2 host an eBPF
/// program), memory and pids limits, cpu shares. Only its rootfs and the
/// cgroup's name and parent are this test's own.
#[test]
fn the_walkthrough_config_runs_with_its_limits_and_default_devices() {
    let Some(sb) = Sandbox::new("walkthrough-config") else {
        return;
    };
    let docs = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md"))
        .expect("read docs/config.md");
    let (_, rest) = docs
        .split_once("```rhai config\n")
        .expect("no config example");
    let (example, _) = rest.split_once("```").expect("an unterminated example");
    let config = [
        ("\"/var/lib/images/busybox\"", "rootfs".to_string()),
        ("\"test-container\"", common::rhai_str(&sb.id)),
        ("\"system\"", common::rhai_str(&sb.needle())),
    ]
    .iter()
    .fold(example.to_string(), |config, (from, to)| {
        assert!(config.contains(from), "no {from} in:\n{example}");
        config.replace(from, to)
    });
    let out = sb.script_ok(&format!(
        r#"{config}
let c = f.create(id, config);
let p = process(#{{ args: ["/bin/sh", "-c", "id -un; echo x >/dev/null && echo NULL ok; exec sleep 1000"],
    env: ["PATH=/bin"], user: "daemon", stdout: "pipe" }});
c.start(p);
let s = c.stats();
print(`MEMORY ${{s.memory.limit}}`);
print(`PIDS ${{s.pids.limit}}`);
c.pause();
print(`STATE ${{c.state}}`);
c.resume();
print(`STATE ${{c.state}}`);
c.signal("SIGKILL");
print(`CODE ${{p.wait()}}`);
print(p.stdout);
c.destroy();
"#
    ));
    for want in [
        "MEMORY 268435456",
        "PIDS 64",
        "STATE paused",
        "STATE running",
        "CODE 137",
        "daemon",
        "NULL ok",
    ] {
        assert!(out.lines().any(|l| l == want), "no '{want}' in:\n{out}");
    }
    sb.assert_nothing_left(&sb.id);
}

/// Failures reach the script as catchable `#{kind, message}` maps whose
/// message names the container.
#[test]
fn errors_have_a_kind_and_name_the_container() {
    let Some(sb) = Sandbox::new("error-kinds") else {
        return;
    };
    let out = sb.script_ok(
        r#"fn attempt(what, f) {
    try { f.call(); print(`${what} succeeded`); }
    catch (e) { print(`${what} ${e.kind}: ${e.message}`); }
}
attempt("load", || f.load("missing-" + id));
let c = f.create(id, config);
attempt("create", || f.create(id, config));
attempt("exec", || c.exec(["/bin/true"]));
c.destroy();
"#,
    );
    let id = &sb.id;
    let line = |what: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{what} ")))
            .unwrap_or_else(|| panic!("no {what} line in:\n{out}"))
            .to_string()
    };
    let load = line("load");
    assert!(
        load.starts_with("load not_found: ") && load.contains(&format!("missing-{id}")),
        "{load}"
    );
    for (what, kind) in [("create", "exists"), ("exec", "state")] {
        let l = line(what);
        assert!(
            l.starts_with(&format!("{what} {kind}: ")) && l.contains(id.as_str()),
            "{l}"
        );
    }
    sb.assert_nothing_left(id);
}

/// A destroyed container says so: starting it again is a state error
/// that names it, not a failed system call on its removed state dir.
#[test]
fn start_after_destroy_is_a_state_error() {
    let Some(sb) = Sandbox::new("start-destroyed") else {
        return;
    };
    let out = sb.script_ok(
        r#"let c = f.create(id, config);
c.destroy();
try { c.start(process(spec)); print("started"); }
catch (e) { print(`${e.kind}: ${e.message}`); }
"#,
    );
    assert!(
        out.starts_with("state: ") && out.contains(&format!("'{}'", sb.id)),
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// A state error says what to do: start a created container, resume a
/// paused one; a destroyed one reads "destroyed", not "stopped".
#[test]
fn state_errors_say_what_to_do() {
    let Some(sb) = Sandbox::new("state-hints") else {
        return;
    };
    let out = sb.script_ok(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
try { c.exec(["/bin/true"]); } catch (e) { print(`CREATED ${e.kind}: ${e.message}`); }
c.start(process(spec));
c.pause();
try { c.exec(["/bin/true"]); } catch (e) { print(`PAUSED ${e.kind}: ${e.message}`); }
c.resume();
c.destroy();
print(`STATE ${c.state}`);
"#,
    );
    let line = |tag: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("no {tag} in {out}"))
            .to_string()
    };
    let id = &sb.id;
    assert!(
        line("CREATED ").ends_with(&format!(
            "container '{id}' is created: start it first (c.start(p))"
        )),
        "{out}"
    );
    assert!(
        line("PAUSED ").ends_with(&format!(
            "container '{id}' is paused: resume it first (c.resume())"
        )),
        "{out}"
    );
    assert_eq!(line("STATE "), "destroyed", "{out}");
    sb.assert_nothing_left(id);
}

/// CTRSH_TRACE=1 prints a line per step of create, start, exec and
/// destroy on standard error, from ctrsh and from the container's init,
/// and nothing reaches the container's own output. Without it, no line.
#[test]
fn a_traced_lifecycle_prints_each_step() {
    let Some(sb) = Sandbox::new("trace") else {
        return;
    };
    let body = r#"spec.args = ["/bin/sh", "-c", "echo out; echo err >&2; exec sleep 1000"];
let c = f.create(id, config);
let p = process(spec);
c.start(p);
let e = c.exec(["/bin/sh", "-c", "echo exec-out"]);
p.signal("SIGKILL");
p.wait();
print("OUT " + #{ stdout: p.stdout, stderr: p.stderr, exec: e.stdout }.to_json());
c.destroy();
"#;
    let run = |trace: bool| {
        let mut cmd = Command::new(common::CTRSH);
        cmd.arg(sb.script_file(body));
        if trace {
            cmd.env("CTRSH_TRACE", "1");
        } else {
            cmd.env_remove("CTRSH_TRACE");
        }
        let out = RunningScript::spawn(&mut cmd).finish();
        assert_eq!(out.code, Some(0), "{out}");
        let line = out.stdout.lines().find_map(|l| l.strip_prefix("OUT "));
        let seen: serde_json::Value = serde_json::from_str(line.expect("an OUT line")).unwrap();
        // The processes' own output is untouched by the trace.
        assert_eq!(seen["stdout"], "out\n", "{out}");
        assert_eq!(seen["stderr"], "err\n", "{out}");
        assert_eq!(seen["exec"], "exec-out\n", "{out}");
        out
    };
    let traced = run(true);
    // "ctrsh-trace <clock> +<ms> <pid> <parent|init> <step>"
    let steps: Vec<(String, String)> = traced
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("ctrsh-trace "))
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, ' ').collect();
            assert_eq!(f.len(), 5, "a trace line has 5 fields: {l}");
            f[0].parse::<f64>().expect("the clock is a number");
            assert!(f[1].starts_with('+'), "{l}");
            f[2].parse::<u32>().expect("a pid");
            (f[3].to_string(), f[4].to_string())
        })
        .collect();
    let expected = [
        ("parent", "create: begin"),
        ("parent", "spawn: init cloned"),
        ("init", "init: started"),
        ("init", "init: joined its cgroups"),
        ("init", "init: ready"),
        ("parent", "create: done"),
        ("parent", "start: begin"),
        ("init", "init: start received"),
        ("parent", "start: done"),
        ("parent", "exec: begin"),
        ("init", "init: namespaces joined"),
        ("parent", "exec: done"),
        ("parent", "destroy: begin"),
        ("parent", "destroy: done"),
    ];
    // In order within each process (the two processes' lines interleave
    // as they are scheduled). A step may say more ("spawn: init cloned
    // into its cgroup2 directory").
    for who in ["parent", "init"] {
        let mut rest = steps.iter().filter(|(r, _)| r == who);
        for (_, step) in expected.iter().filter(|(r, _)| *r == who) {
            assert!(
                rest.any(|(_, s)| s.starts_with(step)),
                "no {who} step {step:?} (in this order) in the trace:\n{}",
                traced.stderr
            );
        }
    }
    let quiet = run(false);
    assert!(!quiet.stderr.contains("ctrsh-trace"), "{quiet}");
}
