//! Namespaces joined by path, user namespaces with id maps (and a rootfs
//! owned by the container's root through them), exec into a running
//! container, and sysctl inside the container's namespaces.

mod common;

use common::{Need, Ran, Sandbox};
use ctrsh::runtime::Factory;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
let p = process(#{ args: ["/bin/sh", "-c", "hostname; ps -o comm | grep -c sleep; echo NET $(readlink /proc/self/ns/net)"], env: ["PATH=/bin"], stdout: "pipe", stderr: "pipe" });
print("CODE " + b.run(p));
print(p.stdout + p.stderr);
print("A_NET " + run_host(["readlink", `/proc/${a.pid}/ns/net`]).stdout);
b.destroy();
a.destroy();
"#,
    );
    assert!(out.contains("CODE 0"), "{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    // The uts namespace (and so the hostname) and the pid namespace (and
    // so the first container's sleep) are shared, and so is the network
    // namespace: the second container's is the first one's.
    assert!(lines.contains(&"first"), "{out}");
    assert!(lines.contains(&"1"), "{out}");
    let net = |prefix: &str| {
        let line = lines.iter().find_map(|l| l.strip_prefix(prefix));
        line.unwrap_or_else(|| panic!("no {prefix} line: {out}"))
            .to_string()
    };
    assert!(net("NET ").starts_with("net:["), "{out}");
    assert_eq!(net("NET "), net("A_NET "), "{out}");
    sb.assert_nothing_left(&format!("{}-a", sb.id));
    sb.assert_nothing_left(&format!("{}-b", sb.id));
}

/// Root in the container is not root on the host: of two host files owned
/// by host root and bound read-write, it can write the one whose mode
/// lets anybody write (so the bind is writable), not the one only host
/// root may write.
#[test]
fn user_namespace_maps_container_root_to_an_unprivileged_host_uid() {
    let Some(sb) = Sandbox::new("ns_user") else {
        return;
    };
    let mut binds = Vec::new();
    for mode in [0o644, 0o666] {
        let file = sb.dir.join(format!("host-file-{mode:o}"));
        fs::write(&file, "host\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
        binds.push(format!(
            r#"#{{ source: {}, destination: "/mnt/{mode:o}", type: "bind", options: ["bind", "rw"] }}"#,
            common::rhai_str(&file.to_string_lossy())
        ));
    }
    let out = sb.sh(
        &format!(
            r#"config.namespaces = ["user", "mount", "uts", "ipc", "pid", "net"];
config.uid_mappings = [#{{ container_id: 0, host_id: 200000, size: 65536 }}];
config.gid_mappings = [#{{ container_id: 0, host_id: 200000, size: 65536 }}];
config.mounts = [{}];"#,
            binds.join(", ")
        ),
        "id -u; cat /proc/self/uid_map
         for f in 644 666; do echo inside >> /mnt/$f 2>/dev/null && echo \"$f wrote\" || echo \"$f denied\"; done",
    );
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0", "0 200000 65536", "644 denied", "666 wrote"],
        "{out}"
    );
    let read = |mode: &str| fs::read_to_string(sb.dir.join(format!("host-file-{mode}"))).unwrap();
    assert_eq!(
        (read("644"), read("666")),
        ("host\n".into(), "host\ninside\n".into())
    );
}

#[test]
fn a_user_namespace_container_owns_its_root_owned_rootfs() {
    let Some(sb) = Sandbox::new("ns_user_owner") else {
        return;
    };
    if !common::requires("ns_user_owner", &[Need::IdmappedMounts]) {
        return;
    }
    let maps = r#"config.namespaces.push("user");
config.uid_mappings = [#{ container_id: 0, host_id: 100000, size: 65536 }];
config.gid_mappings = [#{ container_id: 0, host_id: 100000, size: 65536 }];"#;
    let look = "stat -c %u:%g /etc/passwd; awk '$5 == \"/\" && /idmapped/ { n++ } END { print n + 0 }' /proc/self/mountinfo";
    // Unpacked by root: idmapped, so the container's root owns it, and
    // what it writes is owned by root on disk.
    let out = sb.sh(
        maps,
        &format!("{look}; touch /etc/made-inside && stat -c %u:%g /etc/made-inside"),
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0:0", "1", "0:0"],
        "{out}"
    );
    let made = fs::metadata(sb.rootfs.join("etc/made-inside")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
    // Already shifted to the mapped host ids: bound as it is.
    sb.chown_rootfs(100_000);
    let out = sb.sh(maps, look);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0:0", "0"],
        "{out}"
    );
    sb.assert_nothing_left(&sb.id);
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

/// The values differ from the host's (ip_forward is set to the opposite of
/// the host's), which stay as they were.
#[test]
fn namespaced_sysctls_are_set_inside_the_container() {
    let Some(sb) = Sandbox::new("ns_sysctl") else {
        return;
    };
    let host = |key: &str| fs::read_to_string(format!("/proc/sys/{key}")).unwrap();
    let (forward, shmmni) = (host("net/ipv4/ip_forward"), host("kernel/shmmni"));
    let inside = if forward.trim() == "1" { "0" } else { "1" };
    assert_ne!(shmmni.trim(), "1234");
    let out = sb.sh(
        &format!(
            r#"config.sysctl = #{{ "net.ipv4.ip_forward": "{inside}", "kernel.shmmni": "1234" }};"#
        ),
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [inside, "1234"],
        "{out}"
    );
    assert_eq!(
        (host("net/ipv4/ip_forward"), host("kernel/shmmni")),
        (forward, shmmni),
        "the host's values changed"
    );
}

#[test]
fn user_namespace_container_root_is_the_mapped_uid_on_the_host() {
    let Some(sb) = Sandbox::new("ns_user_host") else {
        return;
    };
    sb.script_ok(
        r#"config.namespaces.push("user");
config.uid_mappings = [#{ container_id: 0, host_id: 100000, size: 65536 }];
config.gid_mappings = [#{ container_id: 0, host_id: 100000, size: 65536 }];
spec.args = ["/bin/sleep", "1000"];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
c.start(process(spec));
"#,
    );
    let pid = Factory::new(&sb.root)
        .and_then(|f| f.load(&sb.id))
        .unwrap()
        .pid()
        .expect("the container runs");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uids.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["100000"; 4],
        "the host's view of the container's root: {uids}"
    );
    // A second ctrsh process execs into it and is root there.
    let out = sb.script_ok(
        r#"let c = f.load(id);
print("EXEC " + c.exec(["/bin/sh", "-c", "id -u; cat /proc/self/uid_map"]).to_json());
c.destroy();
"#,
    );
    let inside = Ran::from_line(&out, "EXEC ");
    let words: Vec<&str> = inside.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "100000", "65536"], "{inside:?}");
}

/// Joining ipc and cgroup namespaces by path: the second container's
/// processes are in the first one's (same inodes). Joining a user
/// namespace by path is refused as not supported yet, and leaves nothing.
#[test]
fn a_second_container_joins_ipc_and_cgroup_namespaces_by_path() {
    let Some(sb) = Sandbox::new("ns_join_ipc") else {
        return;
    };
    let out = sb.script_ok(
        r#"config.namespaces = ["mount", "pid", "ipc", "cgroup"];
let a = f.create(id + "-a", config);
a.start(process(#{ args: ["/bin/sleep", "1000"], stdin: "null", stdout: "null", stderr: "null" }));
let ns = |kind| #{ type: kind, path: `/proc/${a.pid}/ns/${kind}` };
let joined = #{ rootfs: rootfs, namespaces: ["mount", ns.call("ipc"), ns.call("cgroup")] };
let b = f.create(id + "-b", joined);
let look = "for n in ipc cgroup; do echo \"$n $(readlink /proc/self/ns/$n)\"; done";
let p = process(#{ args: ["/bin/sh", "-c", look], env: ["PATH=/bin"], stdout: "pipe", stderr: "pipe" });
print("CODE " + b.run(p));
print(p.stdout + p.stderr);
for n in ["ipc", "cgroup"] {
    print("A " + n + " " + run_host(["readlink", `/proc/${a.pid}/ns/${n}`]).stdout);
}
b.destroy();
joined.namespaces.push(ns.call("user"));
try { f.create(id + "-c", joined); print("USER created"); }
catch (e) { print(`USER ${e.kind}: ${e.message}`); }
a.destroy();
"#,
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.contains(&"CODE 0"), "{out}");
    for kind in ["ipc", "cgroup"] {
        let seen = |prefix: String| {
            let line = lines.iter().find_map(|l| l.strip_prefix(prefix.as_str()));
            line.unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
                .to_string()
        };
        let (b_ns, a_ns) = (seen(format!("{kind} ")), seen(format!("A {kind} ")));
        assert!(b_ns.starts_with(&format!("{kind}:[")), "{out}");
        assert_eq!(b_ns, a_ns, "{kind}: {out}");
    }
    assert!(
        out.contains("USER unsupported: namespaces: joining a \"user\" namespace by path is not supported yet"),
        "{out}"
    );
    for suffix in ["a", "b", "c"] {
        sb.assert_nothing_left(&format!("{}-{suffix}", sb.id));
    }
}

/// `f.create(id, #{ rootfs })` alone: runc's spec namespaces (mount, uts,
/// ipc, pid, net) with lo up, named after its id, with /etc/hostname,
/// hosts and resolv.conf.
#[test]
fn a_config_of_only_a_rootfs_gives_a_usable_container() {
    let Some(sb) = Sandbox::new("defaults") else {
        return;
    };
    let out = sb.sh(
        "config = #{ rootfs: rootfs };",
        "cat /etc/hostname; hostname; grep -c localhost /etc/hosts
         grep -q '^nameserver\\|^# ctrsh' /etc/resolv.conf && echo RESOLV
         ip link show lo | grep -q '<.*UP' && echo LO-UP
         for n in mnt uts ipc pid net user; do echo \"$n $(readlink /proc/self/ns/$n)\"; done",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        [&sb.id, &sb.id, "2", "RESOLV", "LO-UP"],
        "{out}"
    );
    for line in &lines[5..] {
        let (kind, inside) = line.split_once(' ').unwrap();
        let host = fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        let own = inside != host.to_string_lossy();
        assert_eq!(own, kind != "user", "namespace {kind}: {out}");
    }
    sb.assert_nothing_left(&sb.id);
}

/// A user namespace that root makes gets the name files too, owned by the
/// container's root, who can write them; the rootfs's files stay as they
/// were.
#[test]
fn a_root_made_user_namespace_gets_name_files_its_root_owns() {
    let Some(sb) = Sandbox::new("name_files_userns") else {
        return;
    };
    fs::write(sb.rootfs.join("etc/hosts"), "rootfs-hosts\n").unwrap();
    // Owned by the container's root, so that no idmapped mount is needed.
    sb.chown_rootfs(100_000);
    let out = sb.sh(
        r#"config.namespaces = ["user", "mount", "uts", "ipc", "pid", "net"];
config.uid_mappings = [#{ container_id: 0, host_id: 100000, size: 65536 }];
config.gid_mappings = [#{ container_id: 0, host_id: 100000, size: 65536 }];
config.hostname = "named";"#,
        "cat /etc/hostname; grep -c localhost /etc/hosts
         grep -q '^nameserver\\|^# ctrsh' /etc/resolv.conf && echo RESOLV
         echo '10.9.9.9 added' >> /etc/hosts && tail -n 1 /etc/hosts
         stat -c %u:%g /etc/hostname /etc/hosts /etc/resolv.conf",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "named",
            "2",
            "RESOLV",
            "10.9.9.9 added",
            "0:0",
            "0:0",
            "0:0"
        ],
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(sb.rootfs.join("etc/hosts")).unwrap(),
        "rootfs-hosts\n"
    );
    sb.assert_nothing_left(&sb.id);
}

/// The name files are bound over the rootfs's (which keep their content),
/// and a file the config mounts itself wins.
#[test]
fn name_files_cover_the_rootfs_files_and_yield_to_the_configs_mounts() {
    let Some(sb) = Sandbox::new("name_files") else {
        return;
    };
    fs::write(sb.rootfs.join("etc/hostname"), "rootfs-name\n").unwrap();
    fs::write(sb.rootfs.join("etc/hosts"), "rootfs-hosts\n").unwrap();
    let own = sb.dir.join("own-hosts");
    fs::write(&own, "10.1.2.3 own\n").unwrap();
    let out = sb.sh(
        &format!(
            r#"config.hostname = "named";
config.mounts = [#{{ source: {}, destination: "/etc/hosts", type: "bind", options: ["bind", "ro"] }}];"#,
            common::rhai_str(&own.to_string_lossy())
        ),
        "cat /etc/hostname /etc/hosts; hostname",
    );
    assert_eq!(out, "named\n10.1.2.3 own\nnamed\n");
    let read = |f: &str| fs::read_to_string(sb.rootfs.join(f)).unwrap();
    assert_eq!(
        (read("etc/hostname"), read("etc/hosts")),
        ("rootfs-name\n".into(), "rootfs-hosts\n".into())
    );
    sb.assert_nothing_left(&sb.id);
}

/// A script's config without "mount" takes the OCI path's way (tests/oci.rs
/// has the details): the host's mount namespace, chrooted into the rootfs
/// with /proc mounted, nothing of it left mounted after destroy. A new user
/// namespace without one is refused by name.
#[test]
fn a_config_without_a_mount_namespace_shares_the_hosts_and_leaves_no_mount() {
    let Some(sb) = Sandbox::new("ns_nomount") else {
        return;
    };
    fs::write(sb.rootfs.join("marker"), "rootfs\n").unwrap();
    let out = sb.sh(
        r#"config.namespaces = ["pid", "uts"];"#,
        "cat /marker; readlink /proc/self/ns/mnt; echo pid $$",
    );
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(out, format!("rootfs\n{}\npid 1\n", host_mnt.display()));
    assert_eq!(sb.leftover_mounts(), Vec::<String>::new());
    let out = sb.script(
        r#"config.namespaces = ["user", "ipc", "pid"];
config.uid_mappings = [#{ container_id: 0, host_id: 200000, size: 65536 }];
config.gid_mappings = [#{ container_id: 0, host_id: 200000, size: 65536 }];
f.create(id, config);"#,
    );
    assert!(
        out.stderr
            .contains("a new \"user\" namespace needs a \"mount\" namespace too"),
        "{out}"
    );
}
