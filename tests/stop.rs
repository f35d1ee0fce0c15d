//! Containers stop when asked: `c.stop(timeout)` sends SIGTERM (or the
//! signal given) to the first process and SIGKILL once the timeout has
//! passed, and returns the exit code. Needs root and busybox (see
//! tests/common).

mod common;

use common::Sandbox;

/// A first process without a SIGTERM handler (PID 1 of its pid namespace
/// ignores it) is killed at the timeout: 137. One with a handler exits by
/// it: its own status, not SIGKILL's. Another signal may be named.
#[test]
fn stop_sends_the_stop_signal_then_sigkill_after_the_timeout() {
    let Some(sb) = Sandbox::new("stop") else {
        return;
    };
    let out = sb.script_ok(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
print(`IGNORED ${c.stop(0.5)} ${c.state}`);
c.destroy();
for sig in ["TERM", "QUIT"] {
    spec.args = ["/bin/sh", "-c", `trap 'exit 3' ${sig}; echo ready > /tmp/ready; while true; do sleep 1; done`];
    let c = f.create(id, config);
    c.start(process(spec));
    while c.exec(["/bin/test", "-e", "/tmp/ready"]).code != 0 { sleep(0.02); }
    let code = if sig == "TERM" { c.stop(600) } else { c.stop(600, sig) };
    print(`${sig} ${code} ${c.processes().len()}`);
    c.destroy();
}
let c = f.create(id, config);
print(`CREATED ${c.stop(600)}`);
try { c.stop(1); } catch (e) { print(`AGAIN ${e.kind}: ${e.message}`); }
c.destroy();
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        ["IGNORED 137 stopped", "TERM 3 0", "QUIT 3 0", "CREATED 137"],
        "{out}"
    );
    assert!(
        lines[4].starts_with(&format!(
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
