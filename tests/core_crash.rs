//! A ctrsh killed (SIGKILL) at any moment of create, start or destroy
//! leaves only what a destroy from a fresh ctrsh process removes: after it,
//! no state dir, cgroup, mount or process of the container is left. An init
//! whose creator died before the create finished ends by itself.
//!
//! The kills land at each step: right before the n-th state write, the n-th
//! cgroup mkdir and the n-th cgroup rmdir (strace's fault injection sends
//! the signal as ctrsh enters that system call), and after a sweep of delays
//! from each step a watcher sees from outside, so they also fall between
//! steps (while the init builds the container, while destroy kills it).

mod common;

use common::{requires, rhai_str, Need, Output, RunningScript, Sandbox, CTRSH};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The host offers hugetlb on cgroup2: the config asks for it, so the kills
/// also land while create enables a v2 controller.
fn v2_hugetlb() -> bool {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .any(|m| {
            fs::read_to_string(Path::new(m).join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|n| n == "hugetlb"))
        })
}

/// Create with cgroups under a parent named after the sandbox, start,
/// destroy; "DONE" when it got through.
fn lifecycle(sb: &Sandbox) -> String {
    let hugetlb = if v2_hugetlb() {
        r#", hugetlb_limits: [#{ page_size: "2MB", limit: "4M" }]"#
    } else {
        ""
    };
    format!(
        r#"config.cgroups = #{{ parent: {parent}, memory: "64M", pids_limit: 32{hugetlb} }};
spec.args = ["/bin/sleep", "30"];
let c = f.create(id, config);
c.start(process(spec));
c.destroy();
print("DONE");
"#,
        parent = rhai_str(&sb.needle())
    )
}

/// After ctrsh was killed at `moment`: an unfinished create's init ends by
/// itself, and a destroy from a fresh process leaves nothing. Returns the
/// state the container had after the kill.
fn destroy_leaves_nothing(sb: &Sandbox, moment: &str) -> String {
    let out = sb.script_ok(r#"for id in f.list() { print("STATE " + f.load(id).state); }"#);
    let state = out
        .lines()
        .find_map(|l| l.strip_prefix("STATE "))
        .unwrap_or("gone")
        .to_string();
    // A create that did not finish is never started: its init, if it has
    // one, must end by itself.
    if state == "creating" || state == "gone" {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sb.leftover_processes(&[&sb.id]).is_empty() {
            assert!(
                Instant::now() < deadline,
                "killed at {moment} ({state}): still running: {:?}",
                sb.leftover_processes(&[&sb.id])
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    sb.script_ok("for id in f.list() { f.load(id).destroy(); }");
    let dir = sb.root.join(&sb.id);
    assert!(!dir.exists(), "killed at {moment}: {} left", dir.display());
    // Cgroups (the parent named after the sandbox included), mounts,
    // processes.
    let left = sb.leftovers(&[&sb.id]);
    assert!(left.is_empty(), "killed at {moment}: {left:?}");
    state
}

fn got_through(out: &Output) -> bool {
    out.code == Some(0) && out.stdout.contains("DONE")
}

/// Run ctrsh on `script` under strace, which kills it with SIGKILL as it
/// enters the `n`-th call of `syscall`.
fn killed_at(syscall: &str, n: usize, script: &Path) -> Output {
    RunningScript::spawn(
        Command::new("strace")
            .args(["-qq", "-o", "/dev/null", "-e"])
            .arg(format!("trace={syscall}"))
            .arg("-e")
            .arg(format!("inject={syscall}:signal=SIGKILL:when={n}"))
            .arg(CTRSH)
            .arg(script),
    )
    .finish()
}

#[test]
fn sigkill_before_each_state_write_mkdir_and_rmdir_leaves_what_destroy_removes() {
    if !requires("crash-steps", &[Need::Program("strace")]) {
        return;
    }
    let Some(sb) = Sandbox::new("crash-steps") else {
        return;
    };
    let script = sb.script_file(&lifecycle(&sb));
    let mut states = Vec::new();
    // Every state write (a rename where there is no state file yet, then a
    // renameat2 that swaps the new one in) and unlink (the old state after
    // a swap, the start socket, the state file once destroy removed the
    // cgroups), every third cgroup mkdir and rmdir.
    let steps = [
        ("rename", 1),
        ("renameat2", 1),
        ("unlink", 1),
        ("mkdir", 3),
        ("rmdir", 3),
    ];
    for (syscall, every) in steps {
        for n in (1..).step_by(every) {
            let out = killed_at(syscall, n, &script);
            if got_through(&out) {
                break;
            }
            // strace ends itself with its tracee's signal.
            assert!(
                matches!(out.code, None | Some(137)),
                "{syscall} #{n}: {out}"
            );
            let moment = format!("{syscall} #{n}");
            let state = destroy_leaves_nothing(&sb, &moment);
            states.push(format!("{moment}: {state}"));
        }
    }
    eprintln!("states after the kills: {states:#?}");
    // The create wrote its state four times (begin, cgroup planned, init,
    // created) before the start's: a kill before any of the three swaps,
    // or before the unlink after the first two, finds it creating.
    let creating = states.iter().filter(|s| s.ends_with(": creating")).count();
    assert!(creating >= 5, "{states:#?}");
}

/// A step of the container's life as its state dir shows it.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The state records the init.
    Init,
    /// Create has finished.
    Created,
    /// Start has finished (the script destroys the container next).
    Started,
}

impl Step {
    fn seen(self, dir: &Path) -> bool {
        let Some(state) = fs::read(dir.join("state.json"))
            .ok()
            .and_then(|s| serde_json::from_slice::<serde_json::Value>(&s).ok())
        else {
            return false;
        };
        match self {
            Step::Init => state["init_pid"].as_i64().unwrap_or(0) != 0,
            Step::Created => state["creating"] == false,
            Step::Started => state["started"] == true,
        }
    }
}

#[test]
fn sigkill_between_steps_leaves_what_destroy_removes() {
    let Some(sb) = Sandbox::new("crash-sweep") else {
        return;
    };
    let lifecycle = lifecycle(&sb);
    let dir = sb.root.join(&sb.id);
    let sweep = [
        (Step::Init, &[1, 3, 6, 10, 15][..]),
        (Step::Created, &[1, 3, 6][..]),
        (Step::Started, &[1, 3, 6][..]),
    ];
    for (step, delays) in sweep {
        for &ms in delays {
            let script = sb.start_script(&lifecycle);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !step.seen(&dir) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(100));
            }
            std::thread::sleep(Duration::from_millis(ms));
            drop(script); // SIGKILL, then reaped
            destroy_leaves_nothing(&sb, &format!("{step:?} + {ms} ms"));
        }
    }
}

/// Without a mount namespace the create attaches a copy of the rootfs on
/// the host (move_mount) and makes it private (the second mount_setattr,
/// after the detached copy's own): killed as it enters each, a destroy
/// from a fresh process leaves no mount of it.
#[test]
fn sigkill_around_the_rootfs_copy_of_a_container_without_a_mount_namespace() {
    if !requires("crash-rootmount", &[Need::Program("strace")]) {
        return;
    }
    let Some(sb) = Sandbox::new("crash-rootmount") else {
        return;
    };
    let body = format!(
        "config.namespaces = [\"pid\", \"uts\", \"ipc\"];\n{}",
        lifecycle(&sb)
    );
    let script = sb.script_file(&body);
    for (syscall, n) in [
        ("move_mount", 1),
        ("mount_setattr", 1),
        ("mount_setattr", 2),
    ] {
        let out = killed_at(syscall, n, &script);
        assert!(
            matches!(out.code, None | Some(137)),
            "{syscall} #{n}: {out}"
        );
        destroy_leaves_nothing(&sb, &format!("{syscall} #{n}"));
    }
    let out = RunningScript::spawn(Command::new(CTRSH).arg(&script)).finish();
    assert!(got_through(&out), "{out}");
}
