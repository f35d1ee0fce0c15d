//! `attach`, `shell` and `ctrsh shell` as a person uses them: ctrsh runs a script on a
//! pseudo-terminal of its own (as tests/repl_pty.rs runs the REPL) and
//! hands that terminal to a process with `terminal: true` in a container.
//! The test types at it and reads what comes back: keystrokes, Ctrl-C for
//! the container's program, a window resize, the exit code. Needs root and
//! busybox (see tests/common).

mod common;

use common::pty::Pty;
use common::{Sandbox, CTRSH};
use std::process::Command;

/// ctrsh running `body` (after the sandbox's preamble) on a 40x120 pty.
fn on_a_terminal(sb: &Sandbox, body: &str) -> Pty {
    let file = sb.dir.join("attach.rhai");
    std::fs::write(&file, format!("{}{body}\n", sb.preamble())).unwrap();
    Pty::start(Command::new(CTRSH).arg(&file).env("TERM", "xterm"), 40, 120)
}

/// Types `exit CODE` into the container's shell: the script prints
/// "`said` CODE" (what it got back) and ends with status 0, and nothing
/// of the container is left.
fn exit_the_shell(mut pty: Pty, sb: &Sandbox, code: i32, said: &str) {
    pty.send(&format!("exit {code}\r"));
    pty.expect(&format!("{said} {code}\n"));
    assert_eq!(pty.wait().code(), Some(0), "{}", pty.raw());
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn attach_hands_the_terminal_to_a_process_and_returns_its_exit_code() {
    let Some(sb) = Sandbox::new("attach") else {
        return;
    };
    let mut pty = on_a_terminal(
        &sb,
        r#"config.hostname = "attached";
let c = f.create(id, config);
let p = process(#{ args: ["/bin/sh"], terminal: true, env: ["PATH=/bin", "TERM=xterm"] });
c.start(p);
print("ATTACHING");
print(`EXIT ${c.attach(p)}`);
c.destroy();
"#,
    );
    pty.expect("ATTACHING");
    // busybox sh's prompt for root.
    pty.expect("# ");
    // Typed text and what the shell makes of it differ ('' in the middle),
    // so an expect finds the output, not the echo of the keys.
    pty.send("echo typed-$((6*7)); hostname; tty; stty size\r");
    pty.expect("typed-42\n");
    pty.expect("attached\n");
    // The container's own devpts, and the window's size.
    pty.expect("/dev/pts/");
    pty.expect("40 120\n");
    // Ctrl-C reaches the program in the container, not ctrsh. The
    // foreground job prints SLEEPING itself: sh has made it the terminal's
    // foreground process group by then, so the Ctrl-C is its, whether it
    // comes before or after the exec of sleep.
    pty.send("sh -c 'echo SLEEP''ING; exec sleep 1000'\r");
    pty.expect("SLEEPING\n");
    pty.send("\x03");
    pty.send("echo back-$((1+1))\r");
    pty.expect("back-2\n");
    // A resize of ctrsh's window reaches the container's terminal.
    pty.send("until [ \"$(stty size)\" = '30 100' ]; do :; done; echo RE''SIZED\r");
    pty.resize(30, 100);
    pty.expect("RESIZED\n");
    exit_the_shell(pty, &sb, 7, "EXIT");
}

#[test]
fn shell_starts_an_interactive_sh_in_a_running_container() {
    let Some(sb) = Sandbox::new("shell") else {
        return;
    };
    let mut pty = on_a_terminal(
        &sb,
        r#"spec.args = ["/bin/sleep", "1000"];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
c.start(process(spec));
print("SHELL");
print(`EXIT ${c.shell()}`);
c.destroy();
"#,
    );
    pty.expect("SHELL");
    pty.expect("# ");
    // The user's TERM, a PATH, and the container's pid namespace.
    pty.send("echo term-$TERM; echo path-$PATH; cat /proc/1/comm; tty\r");
    pty.expect("term-xterm\n");
    pty.expect("path-/");
    pty.expect("sleep\n");
    pty.expect("/dev/pts/");
    exit_the_shell(pty, &sb, 3, "EXIT");
}

#[test]
fn wait_on_a_terminal_process_attaches_and_shell_needs_a_started_container() {
    let Some(sb) = Sandbox::new("wait-pty") else {
        return;
    };
    let mut pty = on_a_terminal(
        &sb,
        r#"let c = f.create(id, config);
try { c.shell(); } catch (e) { print(`SHELL ${e.kind}: ${e.message}`); }
let p = process(#{ args: ["/bin/sh"], terminal: true, env: ["PATH=/bin", "TERM=xterm"] });
c.start(p);
print("WAITING");
print(`WAITED ${p.wait()}`);
c.destroy();
"#,
    );
    let refused = pty.expect("WAITING");
    assert!(
        refused.contains(&format!(
            "SHELL state: shell in container '{}': container '{}' is created: start it first",
            sb.id, sb.id
        )),
        "{refused}"
    );
    // wait() on a terminal process hands the terminal over, as attach does.
    pty.expect("# ");
    exit_the_shell(pty, &sb, 5, "WAITED");
}

/// `ctrsh shell ID` on a terminal: an interactive sh beside the running
/// workload, whose exit status is ctrsh's.
#[test]
fn the_shell_verb_gives_a_terminal_shell_in_a_running_container() {
    let Some(sb) = Sandbox::new("shell-verb") else {
        return;
    };
    let made = sb.script(common::START_SLEEPING);
    assert_eq!(made.code, Some(0), "{made}");
    let mut pty = Pty::start(
        Command::new(CTRSH)
            .arg("shell")
            .arg("--root")
            .arg(&sb.root)
            .arg(&sb.id)
            .env("TERM", "xterm"),
        40,
        120,
    );
    pty.expect("# ");
    pty.send("echo in-$((1+1)); cat /proc/1/comm\r");
    pty.expect("in-2\n");
    pty.expect("sleep\n");
    pty.send("exit 4\r");
    assert_eq!(pty.wait().code(), Some(4), "{}", pty.raw());
    // The workload runs on without the shell.
    let ps = sb.script_ok("print(f.load(id).state);");
    assert_eq!(ps, "running\n");
    let rm = common::output(
        Command::new(CTRSH)
            .arg("rm")
            .arg("--root")
            .arg(&sb.root)
            .arg(&sb.id),
    );
    assert!(rm.status.success(), "{rm:?}");
    sb.assert_nothing_left(&sb.id);
}
