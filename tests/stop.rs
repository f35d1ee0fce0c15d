//! Containers stop when asked: `c.stop(timeout)` sends SIGTERM (or the
//! signal given) to the first process and SIGKILL once the timeout has
//! passed, and returns the exit code. Needs root and busybox (see
//! tests/common).

mod common;

use common::{Sandbox, START_SLEEPING};

/// A first process without a SIGTERM handler (PID 1 of its pid namespace
/// ignores it) is killed at the timeout: 137. One with a handler exits by
/// it: its own status, not SIGKILL's. Another signal may be named, or
/// set as the config's `stop_signal`.
#[test]
fn stop_sends_the_stop_signal_then_sigkill_after_the_timeout() {
    let Some(sb) = Sandbox::new("stop") else {
        return;
    };
    let out = sb.script_ok(
        &[
            START_SLEEPING,
            r#"print(`IGNORED ${c.stop(0.5)} ${c.state}`);
c.destroy();
for sig in ["TERM", "QUIT", "USR1"] {
    if sig == "USR1" { config.stop_signal = "SIGUSR1"; }
    spec.args = ["/bin/sh", "-c", `trap 'exit 3' ${sig}; echo ready > /tmp/ready; while true; do sleep 1; done`];
    let c = f.create(id, config);
    c.start(process(spec));
    while c.exec(["/bin/test", "-e", "/tmp/ready"]).code != 0 { sleep(0.02); }
    let code = if sig == "QUIT" { c.stop(600, sig) } else { c.stop(600) };
    print(`${sig} ${code} ${c.processes().len()}`);
    c.destroy();
}
config.remove("stop_signal");
let c = f.create(id, config);
print(`CREATED ${c.stop(600)}`);
try { c.stop(1); } catch (e) { print(`AGAIN ${e.kind}: ${e.message}`); }
c.destroy();
"#,
        ]
        .concat(),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "IGNORED 137 stopped",
            "TERM 3 0",
            "QUIT 3 0",
            "USR1 3 0",
            "CREATED 137"
        ],
        "{out}"
    );
    assert!(
        lines[5].starts_with(&format!(
            "AGAIN state: stop container '{}': container '{}' is stopped: ",
            sb.id, sb.id
        )),
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// A job run under a memory limit learns after it ended that the OOM
/// killer ended it: `events()` and `stats()` answer until `destroy`.
#[test]
fn a_stopped_container_still_tells_of_its_oom_kill() {
    let Some(sb) = Sandbox::new("stopped-oom") else {
        return;
    };
    let out = sb.script_ok(
        r#"config.cgroups = #{ memory: "16M", memory_swap: "16M" };
spec.args = ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
let c = f.create(id, config);
print(`CODE ${c.run(process(spec))} ${c.state}`);
print(`EVENTS ${c.events().map(|e| e.type)}`);
print(`OOM ${c.stats().memory.oom_kills > 0} ${c.stats().network.len()}`);
c.destroy();
try { c.stats(); } catch (e) { print(`DESTROYED ${e.kind}: ${e.message}`); }
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["CODE 137 stopped", "EVENTS [\"oom\"]", "OOM true 0"],
        "{out}"
    );
    assert_eq!(
        lines[3],
        format!("DESTROYED state: stats of container '{0}': container '{0}' is destroyed: it is gone; create it anew", sb.id),
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// The first process's exit code is kept in the container's state: a
/// second ctrsh process waiting for it gets it, and so does one that loads
/// the container after it stopped; a destroyed container says so.
#[test]
fn the_exit_code_is_kept_for_other_ctrsh_processes() {
    let Some(sb) = Sandbox::new("exit-code") else {
        return;
    };
    let creator = sb.start_script(&format!(
        r#"{exit_7}
let c = f.create(id, config);
c.start(process(spec));
print("STARTED");
print(`CREATOR ${{c.wait()}}`);
"#,
        exit_7 = sb.exit_on_go(7)
    ));
    creator.wait_for_stdout("STARTED");
    let waiter = sb.start_script(
        r#"let c = f.load(id);
print(`BEFORE ${c.exit_code}`);
print("WAITING");
print(`WAITER ${c.wait()}`);
"#,
    );
    waiter.wait_for_stdout("WAITING");
    sb.go();
    let (creator, waiter) = (creator.finish(), waiter.finish());
    assert_eq!(creator.stdout, "STARTED\nCREATOR 7\n", "{creator}");
    assert_eq!(waiter.stdout, "BEFORE \nWAITING\nWAITER 7\n", "{waiter}");
    let out = sb.script_ok(
        r#"let c = f.load(id);
print(`${c.state} ${c.exit_code} ${c.wait()}`);
c.destroy();
print(c.state);
"#,
    );
    assert_eq!(out, "stopped 7 7\ndestroyed\n");
    sb.assert_nothing_left(&sb.id);
}

/// With `init`, ctrsh's init stays PID 1: the stop signal reaches a first
/// process that is no PID 1 (so SIGTERM ends `sleep` at once, 143, where it
/// would wait for the timeout's SIGKILL), orphans are reaped, and the exit
/// code is kept even when the ctrsh process that created it is gone.
#[test]
fn the_init_option_forwards_signals_reaps_orphans_and_keeps_the_exit_code() {
    let Some(sb) = Sandbox::new("init-option") else {
        return;
    };
    let orphan = r#"c.exec(["/bin/sh", "-c", "sh -c 'sleep 0.1 &'; sleep 1; echo $(ps -o stat | grep -c Z) $(cat /proc/1/comm)"]).stdout"#;
    let out = sb.script_ok(&format!(
        r#"spec.args = ["/bin/sleep", "1000"];
for init in [false, true] {{
    config.init = init;
    let c = f.create(id, config);
    c.start(process(spec));
    print(`ORPHANS ${{ {orphan} }}`);
    if init {{ print(`STOP ${{c.stop(600)}}`); }}
    c.destroy();
}}
"#
    ));
    assert_eq!(
        out, "ORPHANS 1 sleep\n\nORPHANS 0 ctrsh\n\nSTOP 143\n",
        "{out}"
    );
    // The creator ends while the container runs; the init keeps the code.
    let creator = sb.script_ok(&format!(
        r#"config.init = true;
{exit_5}
spec.stdout = "null"; spec.stderr = "null";
f.create(id, config).start(process(spec));
"#,
        exit_5 = sb.exit_on_go(5)
    ));
    assert_eq!(creator, "");
    sb.go();
    let out = sb.script_ok("let c = f.load(id); print(`${c.wait()} ${c.exit_code}`); c.destroy();");
    assert_eq!(out, "5 5\n");
    sb.assert_nothing_left(&sb.id);
}

/// With `init: true`, PID 1 is ctrsh's init for the container's whole
/// life, within reach of its root (given CAP_SYS_PTRACE, which following
/// /proc/1/exe needs): it runs the read-only view or the sealed copy of
/// ctrsh (CVE-2019-5736), so a write through /proc/1/exe is refused and
/// the host's binary stays as it was.
#[test]
fn the_init_option_runs_a_copy_that_cannot_be_written() {
    let Some(sb) = Sandbox::new("init-sealed") else {
        return;
    };
    let before = common::file_digest(common::CTRSH);
    let out = sb.script_ok(
        r#"config.init = true;
let caps = default_capabilities();
caps.push("CAP_SYS_PTRACE");
config.capabilities = caps;
spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
let r = c.exec(["/bin/sh", "-c", "cat /proc/1/comm; echo x >> /proc/1/exe && echo WROTE"]);
print(`${r.code} ${r.stdout}${r.stderr}`);
c.destroy();
"#,
    );
    assert!(out.starts_with("1 ctrsh\n"), "{out}");
    assert!(
        [
            "Read-only file system",
            "Operation not permitted",
            "Text file busy"
        ]
        .iter()
        .any(|refused| out.contains(&format!("/proc/1/exe: {refused}"))),
        "{out}"
    );
    assert!(!out.contains("WROTE"), "{out}");
    assert_eq!(
        before,
        common::file_digest(common::CTRSH),
        "the host binary changed"
    );
    sb.assert_nothing_left(&sb.id);
}
