//! Scripts that always clean up: throwaway containers go however a script
//! ends (the end, a failure, exit(), SIGINT, SIGTERM, SIGHUP), the first
//! Ctrl-C is a catchable error, a second one ends ctrsh at once, and an id
//! left by a script that died says how to remove it. Needs root and busybox
//! (see tests/common).

mod common;

use common::pty::Pty;
use common::{Output, RunningScript, Sandbox};

/// Sends `sig` to the ctrsh of `script` once it printed `ready`; returns
/// how it ended.
fn signal_when(script: RunningScript, ready: &str, sig: libc::c_int) -> Output {
    script.wait_for_stdout(ready);
    // SAFETY: kill on the pid of a child this test started and has not reaped.
    unsafe { libc::kill(script.pid() as libc::pid_t, sig) };
    script.finish()
}

/// A throwaway container running `sleep 1000` as its first process.
const THROWAWAY_SLEEPING: &str = r#"spec.args = ["/bin/sleep", "1000"];
let c = f.throwaway(id, config);
let p = process(spec);
c.start(p);
"#;

#[test]
fn a_throwaway_container_goes_when_the_script_ends_fails_or_exits() {
    let Some(sb) = Sandbox::new("throwaway-ends") else {
        return;
    };
    for (ending, code) in [("", 0), ("exit(3);", 3), ("c.no_such_method();", 1)] {
        let out = sb.script(&format!("{THROWAWAY_SLEEPING}print(c.state);\n{ending}"));
        assert_eq!(out.code, Some(code), "{out}");
        assert_eq!(out.stdout, "running\n", "{out}");
        sb.assert_nothing_left(&sb.id);
    }
}

#[test]
fn sigint_sigterm_and_sighup_during_a_wait_leave_nothing() {
    let Some(sb) = Sandbox::new("throwaway-signals") else {
        return;
    };
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let script = sb.start_script(&format!(
            "{THROWAWAY_SLEEPING}print(\"WAITING\");\np.wait();\nprint(\"not reached\");"
        ));
        let out = signal_when(script, "WAITING\n", sig);
        assert_eq!(out.code, Some(128 + sig), "{out}");
        assert_eq!(out.stdout, "WAITING\n", "{out}");
        assert!(out.stderr.contains("interrupted by SIG"), "{out}");
        sb.assert_nothing_left(&sb.id);
    }
}

/// The issue's own example: Ctrl-C in `c.run(..)` is caught, the catch
/// block destroys the container; the script still ends with 130.
#[test]
fn ctrl_c_is_catchable_and_the_catch_block_cleans_up() {
    let Some(sb) = Sandbox::new("catch-ctrl-c") else {
        return;
    };
    let script = sb.start_script(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
try {
    print("RUNNING");
    c.run(process(spec));
} catch (e) {
    print(`CAUGHT ${e.kind}: ${e.message}`);
    c.destroy();
    print("DESTROYED");
}
"#,
    );
    let out = signal_when(script, "RUNNING\n", libc::SIGINT);
    assert_eq!(out.code, Some(130), "{out}");
    assert_eq!(
        out.stdout, "RUNNING\nCAUGHT interrupted: interrupted by SIGINT (Ctrl-C)\nDESTROYED\n",
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// Interrupted in the script's own code (a loop, not a call of ctrsh's):
/// the error is raised at the next variable access.
#[test]
fn sigterm_in_a_busy_loop_is_catchable_too() {
    let Some(sb) = Sandbox::new("catch-loop") else {
        return;
    };
    let script = sb.start_script(
        r#"let n = 0;
try {
    print("LOOPING");
    loop { n += 1; }
} catch (e) {
    print(`CAUGHT ${e.kind} ${e.signal}`);
}
"#,
    );
    let out = signal_when(script, "LOOPING\n", libc::SIGTERM);
    assert_eq!(out.code, Some(128 + libc::SIGTERM), "{out}");
    assert_eq!(
        out.stdout,
        format!("LOOPING\nCAUGHT interrupted {}\n", libc::SIGTERM),
        "{out}"
    );
}

/// A second Ctrl-C while the catch block hangs ends ctrsh at once, and
/// the throwaway container still goes.
#[test]
fn a_second_ctrl_c_ends_at_once_and_still_cleans_up() {
    let Some(sb) = Sandbox::new("second-ctrl-c") else {
        return;
    };
    let script = sb.start_script(&format!(
        r#"{THROWAWAY_SLEEPING}try {{
    print("WAITING");
    p.wait();
}} catch (e) {{
    print("CAUGHT");
    sleep(1000);
}}
"#
    ));
    script.wait_for_stdout("WAITING\n");
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(script.pid() as libc::pid_t, libc::SIGINT) };
    let out = signal_when(script, "CAUGHT\n", libc::SIGINT);
    // Not after the 1000 s of the catch block's sleep.
    assert_eq!(out.code, Some(130), "{out}");
    sb.assert_nothing_left(&sb.id);
}

/// SIGTERM at whatever moment of a loop that makes and destroys throwaway
/// containers (in a create, a destroy, or between): nothing is left.
#[test]
fn sigterm_at_any_moment_of_create_and_destroy_leaves_nothing() {
    let Some(sb) = Sandbox::new("throwaway-churn") else {
        return;
    };
    let script = sb.start_script(
        r#"for i in 0..1000 {
    let c = f.throwaway(`${id}-${i}`, config);
    print(`MADE ${i}`);
    c.destroy();
}
"#,
    );
    let out = signal_when(script, "MADE 1\n", libc::SIGTERM);
    assert_eq!(out.code, Some(128 + libc::SIGTERM), "{out}");
    sb.assert_nothing_left(&sb.id);
}

/// SIGINT and SIGTERM right after each step of a throwaway container's
/// create and of its destroy (ctrsh's trace names the steps, so the
/// signal comes in the step after): nothing is left, and ctrsh ends with
/// 128+N (the script sleeps once the container is gone, for a signal
/// that comes late).
#[test]
fn sigint_and_sigterm_after_each_step_of_create_and_destroy_leave_nothing() {
    let Some(sb) = Sandbox::new("throwaway-steps") else {
        return;
    };
    let steps = [
        "create: begin",
        "create: state written",
        "create: cgroups made",
        "spawn: init binary ready",
        "create: config sent to the init",
        "create: init ready",
        "create: done",
        "destroy: begin",
        "destroy: processes gone",
        "destroy: cgroups removed",
    ];
    for sig in [libc::SIGINT, libc::SIGTERM] {
        for step in steps {
            let script = common::RunningScript::spawn(
                std::process::Command::new(common::CTRSH)
                    .arg(sb.script_file(
                        "let c = f.throwaway(id, config);\nc.destroy();\nsleep(1000);",
                    ))
                    .env("CTRSH_TRACE", "1"),
            );
            script.wait_for_stderr(&format!("parent {step}"));
            // SAFETY: kill on the pid of a child this test started and has
            // not reaped.
            unsafe { libc::kill(script.pid() as libc::pid_t, sig) };
            let out = script.finish();
            assert_eq!(out.code, Some(128 + sig), "{step}: {out}");
            sb.assert_nothing_left(&sb.id);
        }
    }
}

/// A container left by a script that died: creating it again says how
/// to remove it, and that command works.
#[test]
fn an_id_in_use_says_how_to_remove_it() {
    let Some(sb) = Sandbox::new("exists-hint") else {
        return;
    };
    let first = sb.script("let c = f.create(id, config);");
    assert_eq!(first.code, Some(0), "{first}");
    let again = sb.script("f.create(id, config);");
    assert_eq!(again.code, Some(1), "{again}");
    let rm = format!("ctrsh rm --root {} {}", sb.root.display(), sb.id);
    assert!(again.stderr.contains(&rm), "{again}");
    let removed = RunningScript::spawn(
        std::process::Command::new(common::CTRSH)
            .args(["rm", "--root"])
            .arg(&sb.root)
            .arg(&sb.id),
    )
    .finish();
    assert_eq!(removed.code, Some(0), "{removed}");
    assert_eq!(removed.stdout, format!("removed {}\n", sb.id), "{removed}");
    sb.assert_nothing_left(&sb.id);
}

/// At the prompt: Ctrl-C during `c.exec(..)` or `c.run(p)` stops the process in the
/// container (it ignores SIGINT itself), leaving it with Ctrl-D destroys the
/// throwaway containers made there and names the others that still run,
/// with the command that removes them.
#[test]
fn the_prompt_stops_what_ctrl_c_interrupts_and_says_what_it_leaves() {
    let Some(sb) = Sandbox::new("prompt-cleanup") else {
        return;
    };
    let home = sb.dir.join("home");
    std::fs::create_dir(&home).unwrap();
    let preamble = sb.script_file("");
    let mut repl = Pty::start(
        std::process::Command::new(common::CTRSH)
            .env("HOME", &home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("TERM", "xterm"),
        40,
        200,
    );
    // A new prompt, on a line of its own (see tests/repl_pty.rs: PROMPT).
    let prompt = "\nctrsh> ";
    repl.expect(prompt);
    let throwaway = format!("{}-t", sb.id);
    for line in [
        format!(":load {}", preamble.display()),
        "let c = f.create(id, config); c.start(process(#{ args: [\"/bin/sleep\", \"1000\"] }));"
            .into(),
        format!("let t = f.throwaway(\"{throwaway}\", config);"),
        "let before = c.processes().len();".into(),
    ] {
        // The editor redraws the line with every key: the line first, then
        // the new prompt after it, and nothing in between but the line.
        repl.send(&line);
        repl.expect(&line);
        repl.send("\r");
        let shown = repl.expect(prompt);
        let output = shown.rsplit(line.as_str()).next().unwrap_or("");
        assert!(!output.contains(": "), "{line}: {shown}");
    }
    let container = ctrsh::runtime::Factory::new(&sb.root)
        .and_then(|f| f.load(&sb.id))
        .expect("load the container");
    let count = || container.processes().map_or(0, |p| p.len());
    let before = count();
    // What each runs ignores SIGINT itself: only ctrsh can stop it.
    for call in [
        "c.exec([\"/bin/sh\", \"-c\", \"trap '' INT; sleep 1001\"])",
        "c.run(process(#{ args: [\"/bin/sh\", \"-c\", \"trap '' INT; sleep 1002\"] }))",
    ] {
        repl.send(call);
        repl.expect(call);
        repl.send("\r");
        repl.wait_for_cooked_mode();
        // The process is in the container before Ctrl-C comes.
        let deadline = std::time::Instant::now() + common::pty::PATIENCE;
        while count() <= before {
            assert!(std::time::Instant::now() < deadline, "{call} did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        repl.send("\x03");
        repl.expect("interrupted");
        repl.expect(prompt);
        repl.send("c.processes().len() == before");
        repl.expect("before");
        repl.send("\r");
        repl.expect("true");
        repl.expect(prompt);
    }
    // Ctrl-D leaves (a bare `exit` is tested in tests/repl_pty.rs).
    repl.send("\x04");
    repl.expect(&format!("destroyed the throwaway containers {throwaway}"));
    repl.expect(&format!(
        "still running, made at this prompt: {} (running)",
        sb.id
    ));
    repl.expect(&format!(
        "remove with: ctrsh rm --root {} {}",
        sb.root.display(),
        sb.id
    ));
    assert_eq!(repl.wait().code(), Some(0));
    assert!(!sb.root.join(&throwaway).exists(), "the throwaway is left");
}
