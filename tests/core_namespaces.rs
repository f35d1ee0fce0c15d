//! Namespaces joined by path, user namespaces with id maps, exec into a
//! running container, and sysctl inside the container's namespaces.

mod common;

use common::Sandbox;

#[test]
fn a_second_container_joins_the_first_ones_namespaces_by_path() {
    let Some(sb) = Sandbox::new("ns_join") else {
        return;
    };
    let out = sb.script_ok(
        r#"config.hostname = "first";
config.namespaces = ["mount", "uts", "ipc", "pid", "net"];
let a = f.create(id + "-a", config);
a.start(process(#{ args: ["/bin/sleep", "1000"], stdin: "null", stdout: "null", stderr: "null" }));
let ns = |kind| #{ type: kind, path: `/proc/${a.pid}/ns/${kind}` };
let joined = #{ rootfs: rootfs, namespaces: ["mount", ns.call("uts"), ns.call("pid"), ns.call("net")] };
let b = f.create(id + "-b", joined);
let p = process(#{ args: ["/bin/sh", "-c", "hostname; ps -o comm | grep -c sleep"], env: ["PATH=/bin"], stdout: "pipe", stderr: "pipe" });
print("CODE " + b.run(p));
print(p.stdout + p.stderr);
b.destroy();
a.destroy();
"#,
    );
    assert!(out.contains("CODE 0"), "{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    // The uts namespace (and so the hostname) and the pid namespace (and
    // so the first container's sleep) are shared.
    assert!(lines.contains(&"first"), "{out}");
    assert!(lines.contains(&"1"), "{out}");
    sb.assert_nothing_left(&format!("{}-a", sb.id));
    sb.assert_nothing_left(&format!("{}-b", sb.id));
}

#[test]
fn user_namespace_maps_container_root_to_an_unprivileged_host_uid() {
    let Some(sb) = Sandbox::new("ns_user") else {
        return;
    };
    let out = sb.sh(
        r#"config.namespaces = ["user", "mount", "uts", "ipc", "pid", "net"];
config.uid_mappings = [#{ container_id: 0, host_id: 200000, size: 65536 }];
config.gid_mappings = [#{ container_id: 0, host_id: 200000, size: 65536 }];"#,
        "id -u; cat /proc/self/uid_map; touch /proc/sys/kernel/x 2>/dev/null && echo wrote || echo denied",
    );
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["0", "0 200000 65536", "denied"], "{out}");
}

#[test]
fn exec_joins_a_running_container_and_sees_its_pid_namespace() {
    let Some(sb) = Sandbox::new("ns_exec") else {
        return;
    };
    let out = sb.script_ok(
        r#"config.hostname = "execd";
let c = f.create(id, config);
c.start(process(#{ args: ["/bin/sleep", "1000"], stdin: "null", stdout: "null", stderr: "null" }));
let r = c.exec(["/bin/sh", "-c", "hostname; cat /proc/1/comm; echo $$"]);
print("CODE " + r.code);
print(r.stdout);
print("PROCS " + c.processes().len());
c.destroy();
"#,
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.contains(&"CODE 0"), "{out}");
    assert!(lines.contains(&"execd"), "{out}");
    assert!(
        lines.contains(&"sleep"),
        "pid 1 of the container is not the sleep: {out}"
    );
    // The exec'd shell is a process of the container's pid namespace, not pid 1.
    assert!(!lines.contains(&"1"), "{out}");
    assert!(lines.contains(&"PROCS 1"), "{out}");
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn namespaced_sysctls_are_set_inside_the_container() {
    let Some(sb) = Sandbox::new("ns_sysctl") else {
        return;
    };
    let out = sb.sh(
        r#"config.sysctl = #{ "net.ipv4.ip_forward": "1", "kernel.shmmni": "1234" };"#,
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["1", "1234"],
        "{out}"
    );
}
