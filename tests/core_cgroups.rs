//! Containers' cgroups on real containers: the default name differs per
//! factory, and concurrent creates and destroys under a new parent cgroup
//! all succeed and leave nothing (the parent goes with its last container).

mod common;

use common::{cgroups_named, rhai_str, RunningScript, Sandbox};
use ctrsh::runtime::Factory;
use std::fs;

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
