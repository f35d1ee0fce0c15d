//! Containers' cgroups on real containers: the default name differs per
//! factory, and concurrent creates and destroys under a new parent cgroup
//! all succeed and leave nothing (the parent goes with its last container),
//! and an init or exec'd process starts in its cgroup2 directory.

mod common;

use common::{
    cgroups_named, host, requires, rhai_str, skip, CgroupMode, Need, RunningScript, Sandbox, CTRSH,
};
use ctrsh::runtime::Factory;
use std::fs;
use std::process::Command;

#[test]
fn the_same_id_in_two_factories_gets_a_cgroup_each() {
    let Some(sb) = Sandbox::new("two-factories") else {
        return;
    };
    let other = sb.dir.join("other");
    let names = [&sb.root, &other].map(|root| Factory::new(root).unwrap().cgroup_name(&sb.id));
    assert_ne!(names[0], names[1]);
    let out = sb.script_ok(&format!(
        r#"let g = factory({other});
config.cgroups = #{{ pids_limit: 16 }};
spec.args = ["/bin/sleep", "30"];
for factory in [f, g] {{
    let c = factory.create(id, config);
    c.start(process(spec));
    print("PID " + c.pid);
}}
"#,
        other = rhai_str(&other.to_string_lossy())
    ));
    let pids: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("PID ")).collect();
    assert_eq!(pids.len(), 2, "{out}");
    for (pid, name) in pids.iter().zip(&names) {
        let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let line = cgroups.lines().find(|l| l.contains(":pids:")).unwrap();
        assert!(line.ends_with(&format!("/{name}")), "{line}");
    }
    sb.script_ok(&format!(
        r#"for factory in [f, factory({other})] {{ factory.load(id).destroy(); }}"#,
        other = rhai_str(&other.to_string_lossy())
    ));
    for name in &names {
        assert_eq!(cgroups_named(name), Vec::<std::path::PathBuf>::new());
    }
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn concurrent_creates_under_a_new_parent_all_succeed_and_leave_nothing() {
    let Some(sb) = Sandbox::new("concurrent") else {
        return;
    };
    let parent = format!("{}/shared", sb.needle());
    let scripts: Vec<RunningScript> = (0..4)
        .map(|n| {
            sb.start_script(&format!(
                r#"config.cgroups = #{{ parent: {parent}, pids_limit: 16, cpuset_mems: "0" }};
for round in 0..3 {{
    let c = f.create(id + "-{n}-" + round, config);
    c.run(process(spec));
    c.destroy();
}}
"#,
                parent = rhai_str(&parent)
            ))
        })
        .collect();
    for script in scripts {
        let out = script.finish();
        assert_eq!(out.code, Some(0), "{out}");
    }
    assert_eq!(
        cgroups_named(&sb.needle()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(fs::read_dir(&sb.root).unwrap().count(), 0);
}

/// The init of a container, and of an exec into it, is cloned straight into
/// the container's cgroup2 directory (clone3 with CLONE_INTO_CGROUP), so it
/// is in its cgroup before it runs any code: traced by strace, both clones
/// carry the flag and succeed, and no cgroup.procs is written to. A hybrid
/// host's v1 hierarchies have no such flag: each init moves itself by
/// writing "0" to the `tasks` file of each (which spares the kernel's
/// global lock), so on a pure v2 host there is no write at all. The
/// processes see the container's cgroups as theirs.
/// strace -f's output with each call on one line: a call another process
/// interrupted is printed as "1234 clone3(... <unfinished ...>" and later
/// "1234 <... clone3 resumed>...) = 5678".
fn joined(trace: &str) -> String {
    let mut unfinished = std::collections::HashMap::new();
    let mut out = String::new();
    for line in trace.lines() {
        let pid = line.split(' ').next().unwrap_or_default();
        if let Some(start) = line.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid.to_string(), start.to_string());
            continue;
        }
        match (line.split_once(" resumed>"), unfinished.remove(pid)) {
            (Some((_, rest)), Some(start)) => out.push_str(&format!("{start}{rest}\n")),
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

#[test]
fn inits_are_cloned_into_their_cgroup2_directory() {
    let test = "clone-into-cgroup";
    if !requires(test, &[Need::Program("strace")]) {
        return;
    }
    let Some(sb) = Sandbox::new(test) else {
        return;
    };
    if host().cgroups.v2.is_none() {
        skip(test, "the host has no cgroup2 mount");
        return;
    };
    let trace = sb.dir.join("strace.out");
    let out = RunningScript::spawn(
        Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=clone,clone3,openat,write", "-o"])
            .arg(&trace)
            .arg(CTRSH)
            .arg(sb.script_file(
                r#"spec.args = ["/bin/sh", "-c", "cat /proc/self/cgroup; exec sleep 1000"];
spec.stdout = "inherit";
let c = f.create(id, config);
c.start(process(spec));
print(c.exec(["cat", "/proc/self/cgroup"]).stdout);
c.destroy();
"#,
            )),
    )
    .finish();
    assert_eq!(out.code, Some(0), "{out}");
    let trace = joined(&fs::read_to_string(&trace).unwrap());
    // "clone3({flags=...|CLONE_INTO_CGROUP, ..., cgroup=7}, 88) = 1234"
    let cloned: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("clone3(") && l.contains("CLONE_INTO_CGROUP"))
        .filter(|l| {
            l.rsplit(" = ")
                .next()
                .is_some_and(|p| p.parse::<u32>().is_ok())
        })
        .collect();
    assert_eq!(cloned.len(), 2, "not cloned into the cgroup:\n{trace}");
    let opened = |file: &str| -> Vec<&str> {
        let file = format!("/{file}\"");
        (trace.lines())
            .filter(|l| l.contains(&file) && l.contains("O_WRONLY"))
            .collect()
    };
    assert_eq!(opened("cgroup.procs"), Vec::<&str>::new(), "\n{trace}");
    // ctrsh (the first line's pid) opens the tasks files; each init writes
    // "0" to them: "1234 write(9, "0", 1)     = 1". ctrsh's own "0"s (a
    // thaw into cgroup.freeze) do not count.
    let tasks = opened("tasks");
    let ctrsh = trace.lines().next().and_then(|l| l.split(' ').next());
    let selves = (trace.lines())
        .filter(|l| l.contains(" write(") && l.contains(", \"0\", 1)") && l.ends_with("= 1"))
        .filter(|l| l.split(' ').next() != ctrsh)
        .count();
    let tasks = tasks.len();
    match host().cgroups.mode() {
        CgroupMode::V2 => assert_eq!((tasks, selves), (0, 0), "\n{trace}"),
        _ => assert!(tasks > 0 && selves == tasks, "\n{trace}"),
    }
    let name = format!("-{}", sb.id);
    let cgroups: Vec<&str> = out.stdout.lines().filter(|l| l.contains(':')).collect();
    let placed = |l: &&str| l.ends_with(&name) || l.contains(":name=");
    assert!(
        cgroups.iter().filter(|l| l.starts_with("0::")).count() == 2 && cgroups.iter().all(placed),
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}
