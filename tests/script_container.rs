//! The script API on real containers: handles shared across copies,
//! properties, operations, errors as catchable maps, Ctrl-C during a wait.
//! Needs root and busybox (see tests/common).

mod common;

use common::Sandbox;

#[test]
fn copies_name_the_same_container_and_process() {
    let Some(sb) = Sandbox::new("script-handles") else {
        return;
    };
    std::fs::write(sb.rootfs.join("rootfs-marker"), "the sandbox's rootfs").unwrap();
    let out = sb.script_ok(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
let d = c;
let loaded = f.load(id);
print(`EQ ${c == d} ${c == loaded} ${type_of(c)}`);
print(`STR ${c}`);
let p = process(spec);
let q = p;
d.start(p);
print(`STATE ${c.state} ${loaded.state} ${c.pid == loaded.pid} ${q.pid == p.pid}`);
print(`LISTED ${c.processes().contains(q.pid)}`);
print(`ROOTFS ${c.exec(["/bin/cat", "/rootfs-marker"]).stdout}`);
try { c.config.hostname = "x"; } catch (e) { print(`SETTER ${e.kind}`); }
let r = c.exec(["/bin/echo", "hello"]);
let said = r.stdout;
said.trim();
print(`EXEC ${r.code} ${said}`);
// The process is the pid namespace's init, which ignores SIGTERM.
q.signal("KILL");
print(`WAIT ${p.wait()} ${q.wait()}`);
c.destroy();
print(`GONE ${f.list().contains(id)}`);
"#,
    );
    let id = &sb.id;
    let expected = [
        "EQ true true Container".to_string(),
        format!("STR Container({id}, created)"),
        "STATE running running true true".into(),
        "LISTED true".into(),
        "ROOTFS the sandbox's rootfs".into(),
        "SETTER state".into(),
        "EXEC 0 hello".into(),
        "WAIT 137 137".into(),
        "GONE false".into(),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{out}");
    sb.assert_nothing_left(id);
}

#[test]
fn runtime_failures_are_catchable_and_uncaught_ones_are_positioned() {
    let Some(sb) = Sandbox::new("script-errors") else {
        return;
    };
    let out = sb.script(
        r#"let c = f.create(id, config);
try { f.create(id, config); } catch (e) { print(`EXISTS ${e.kind}`); }
try { c.exec(["/bin/true"]); } catch (e) { print(`EXEC ${e.kind}`); }
c.destroy();
c.signal(9);
"#,
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(out.stdout, "EXISTS exists\nEXEC state\n", "{out}");
    // The preamble is 5 lines; c.signal(9) is the body's 5th line.
    assert!(
        out.stderr.contains(":10:3: "),
        "no file:line:column in {:?}",
        out.stderr
    );
    sb.assert_nothing_left(&sb.id);
}

/// The mistakes a newcomer makes get errors that say where a key belongs
/// or which key is wrong, in the script's own type names, all as
/// `#{kind, message}` (Rhai's own errors too, with their line); nothing is
/// left behind by any of them.
#[test]
fn newcomer_mistakes_name_the_key_and_leave_nothing() {
    let Some(sb) = Sandbox::new("script-newcomer") else {
        return;
    };
    let missing = sb.dir.join("no-such-dir");
    let out = sb.script_ok(&format!(
        r#"let tries = [
    || f.create(id, #{{ rootfs: rootfs, memory: "10M" }}),
    || f.create(id, #{{ rootfs: rootfs, args: ["/bin/sh"] }}),
    || f.create(id, #{{ rootfs: rootfs, namespaces: ["mount"], mounts: [#{{ source: {missing}, destination: "/x", type: "bind" }}] }}),
    || f.create(id, #{{ rootfs: rootfs, namespaces: ["mount"], devices: [#{{ path: "/dev/foo", type: "c", major: 4096, minor: 1 }}] }}),
    || process(#{{ args: ["/bin/sh"], stdout: 1 }}),
    || [1, 2].foo(),
    || 1 + "a" * 2,
];
for t in tries {{
    try {{ t.call(); print("NO ERROR"); }} catch (e) {{ print(`${{e.kind}}|${{e.message}}|${{type_of(e.line)}}`); }}
}}
spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
try {{ c.signal("TREM"); }} catch (e) {{ print(`${{e.kind}}|${{e.message}}`); }}
try {{ c.update(#{{ memory: "abc" }}); }} catch (e) {{ print(`${{e.kind}}|${{e.message}}`); }}
c.destroy();
"#,
        missing = common::rhai_str(&missing.to_string_lossy()),
    ));
    let lines: Vec<&str> = out.lines().collect();
    let expected = [
        "config|invalid config: memory: not a top-level key; it goes under cgroups: #{ cgroups: #{ memory: ... } }|()",
        "config|invalid config: args: not a config key; it goes in the process you start: c.start(process(#{ args: ... }))|()",
        &format!("config|invalid config: mounts[0].source: '{}': No such file or directory (ENOENT) (a bind mount's source is a path on the host)|()", missing.display()),
        "config|invalid config: devices[0].major: 4096 is out of range (0 to 4095)|()",
        "config|invalid process: stdout: expected \"inherit\", \"null\", \"pipe\" or a path with a '/', found int|()",
        "script|no function foo(array)|i64",
        "script|no function *(string, int)|i64",
        &format!("config|signal container '{}': signal: unknown signal 'TREM' (did you mean 'TERM'?)", sb.id),
        "config|cgroups.memory: 'abc' is not a size (use e.g. 1024, \"64K\", \"256M\", \"1G\")",
    ];
    assert_eq!(lines, expected, "{out}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn ctrl_c_ends_a_wait_with_status_130() {
    let Some(sb) = Sandbox::new("script-ctrl-c") else {
        return;
    };
    let script_run = sb.start_script(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
let p = process(spec);
c.start(p);
print("STARTED");
p.wait();
print("not reached");
"#,
    );
    script_run.wait_for_stdout("STARTED\n");
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(script_run.pid() as libc::pid_t, libc::SIGINT) };
    let out = script_run.finish();
    assert_eq!(out.code, Some(130), "{out}");
    assert_eq!(out.stdout, "STARTED\n", "{out}");
    // The container outlives the interrupted script; the sandbox destroys it.
}

/// A process's stdin from a host file, and `signal(p, int)`: the process
/// reads the file to its end, then SIGKILL by number ends it (137).
#[test]
fn stdin_from_a_host_file_and_a_signal_by_number() {
    let Some(sb) = Sandbox::new("script-stdin") else {
        return;
    };
    let input = sb.dir.join("input");
    std::fs::write(&input, "line one\nline two\n").unwrap();
    let out = sb.script_ok(&format!(
        r#"spec.args = ["/bin/sh", "-c", "cat; touch /tmp/read; exec sleep 1000"];
spec.stdin = {input};
let c = f.create(id, config);
let p = process(spec);
c.start(p);
for i in 0..400 {{ if c.exec(["/bin/test", "-e", "/tmp/read"]).code == 0 {{ break; }} sleep(0.05); }}
p.signal(9);
print("CODE " + p.wait());
print("READ " + #{{ text: p.stdout }}.to_json());
c.destroy();
"#,
        input = common::rhai_str(&input.to_string_lossy())
    ));
    assert!(out.contains("CODE 137\n"), "{out}");
    assert!(
        out.contains(r#"READ {"text":"line one\nline two\n"}"#),
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
}
