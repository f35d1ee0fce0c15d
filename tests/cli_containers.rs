//! The verbs for people: `ctrsh ls`, `ctrsh rm`, `ctrsh shell` and
//! `ctrsh sandbox` on a state root, as a person types them. Needs root and
//! busybox (see tests/common).

mod common;

use common::{Output, RunningScript, Sandbox, CTRSH, START_SLEEPING};
use std::process::Command;

/// `ctrsh VERB --root ROOT ARGS...` of the sandbox, started.
fn start(sb: &Sandbox, verb: &str, args: &[&str]) -> RunningScript {
    RunningScript::spawn(
        Command::new(CTRSH)
            .arg(verb)
            .arg("--root")
            .arg(&sb.root)
            .args(args),
    )
}

fn ctrsh(sb: &Sandbox, verb: &str, args: &[&str]) -> Output {
    start(sb, verb, args).finish()
}

#[test]
fn ls_shell_and_rm_on_a_running_container() {
    let Some(sb) = Sandbox::new("verbs") else {
        return;
    };
    let made = sb.script(START_SLEEPING);
    assert_eq!(made.code, Some(0), "{made}");
    let ls = ctrsh(&sb, "ls", &[]);
    assert_eq!(ls.code, Some(0), "{ls}");
    let row: Vec<&str> = ls
        .stdout
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        ls.stdout.lines().next(),
        Some(format!("{:w$}  STATE      PID", "ID", w = sb.id.len()).as_str()),
        "{ls}"
    );
    assert_eq!(row[..2], [sb.id.as_str(), "running"], "{ls}");
    assert!(row[2].parse::<u32>().is_ok(), "{ls}");

    let shell = ctrsh(
        &sb,
        "shell",
        &[&sb.id, "/bin/sh", "-c", "echo inside $$; exit 7"],
    );
    assert_eq!(shell.code, Some(7), "{shell}");
    assert!(shell.stdout.starts_with("inside "), "{shell}");
    let no_tty = ctrsh(&sb, "shell", &[&sb.id]);
    assert_eq!(no_tty.code, Some(1), "{no_tty}");
    assert!(no_tty.stderr.contains("needs a terminal"), "{no_tty}");

    let rm = ctrsh(&sb, "rm", &["--all"]);
    assert_eq!(rm.code, Some(0), "{rm}");
    assert_eq!(rm.stdout, format!("removed {}\n", sb.id), "{rm}");
    let shell = ctrsh(&sb, "shell", &[&sb.id, "/bin/true"]);
    assert_eq!(shell.code, Some(1), "{shell}");
    assert!(shell.stderr.contains("does not exist"), "{shell}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn sandbox_runs_a_command_in_a_throwaway_container() {
    let Some(sb) = Sandbox::new("verb-sandbox") else {
        return;
    };
    let rootfs = sb.rootfs.to_string_lossy().into_owned();
    // `ctrsh sandbox --root ROOT --rootfs ROOTFS sh -c script`, started.
    let sandbox_sh = |script: &str| {
        start(
            &sb,
            "sandbox",
            &["--rootfs", &rootfs, "/bin/sh", "-c", script],
        )
    };
    let out = sandbox_sh("echo in $(hostname); exit 5").finish();
    assert_eq!(out.code, Some(5), "{out}");
    assert_eq!(out.stdout, "in sandbox\n", "{out}");
    sb.assert_nothing_left(&sb.id);

    // SIGTERM while the command runs: the container goes too.
    let running = sandbox_sh("echo started; exec sleep 1000");
    running.wait_for_stdout("started\n");
    // SAFETY: kill on the pid of a child this test started and has not reaped.
    unsafe { libc::kill(running.pid() as libc::pid_t, libc::SIGTERM) };
    let out = running.finish();
    assert_eq!(out.code, Some(128 + libc::SIGTERM), "{out}");
    sb.assert_nothing_left(&sb.id);
}
