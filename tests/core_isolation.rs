//! What a process inside a container sees: its identity, limits, devices,
//! filesystem and what is hidden from it. Each test runs a real container
//! (as root) and checks the output of a program inside it.

mod common;

use common::{Ran, Sandbox};
use std::collections::BTreeSet;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

#[test]
fn hostname_is_the_configured_one() {
    let Some(sb) = Sandbox::new("hostname") else {
        return;
    };
    let host_before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = sb.sh(r#"config.hostname = "ctrsh-testing";"#, "hostname");
    assert_eq!(out, "ctrsh-testing\n");
    let host_after = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(host_before, host_after, "the host's hostname changed");
}

#[test]
fn first_process_is_pid_1() {
    let Some(sb) = Sandbox::new("pid1") else {
        return;
    };
    assert_eq!(sb.sh("", "echo $$"), "1\n");
}

#[test]
fn user_daemon_gets_its_uid_gid_and_supplementary_groups() {
    let Some(sb) = Sandbox::new("user") else {
        return;
    };
    let out = sb.sh(r#"spec.user = "daemon";"#, "id; id -G");
    let mut lines = out.lines();
    let id = lines.next().unwrap_or_default();
    assert!(
        id.starts_with("uid=1(daemon) gid=1(daemon) groups="),
        "id printed: {out}"
    );
    assert!(id.contains("100(users)"), "id printed: {out}");
    let groups: BTreeSet<&str> = lines.next().unwrap_or_default().split(' ').collect();
    assert!(
        groups.contains("100") && !groups.contains("0"),
        "id -G: {out}"
    );
}

#[test]
fn capabilities_are_exactly_the_configured_ones() {
    let Some(sb) = Sandbox::new("caps") else {
        return;
    };
    // A root-owned file only its owner may read: root without
    // CAP_DAC_OVERRIDE cannot, root with CAP_CHOWN can give it away.
    let out = sb.sh(
        r#"config.capabilities = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"];"#,
        "grep -E '^Cap(Bnd|Eff|Prm):' /proc/self/status
         echo secret > /tmp/f; chmod 0 /tmp/f; chown 1 /tmp/f
         cat /tmp/f 2>/dev/null && echo READ
         chown 0 /tmp/f && echo CHOWNED
         cat /tmp/f 2>/dev/null || echo DENIED",
    );
    // CAP_CHOWN (0), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(set))
            .unwrap_or_else(|| panic!("no {set} in {out}"));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some("0000000000000421"),
            "{out}"
        );
    }
    assert!(
        !out.contains("READ"),
        "read without CAP_DAC_OVERRIDE: {out}"
    );
    assert!(out.contains("CHOWNED\nDENIED\n"), "{out}");
}

/// No signal is ignored or blocked in the container's processes (ctrsh,
/// a Rust program, ignores SIGPIPE; that must not reach them), neither in
/// the first process nor in one started by exec. (The programs look at
/// themselves: a busybox shell would add ignored signals of its own.)
#[test]
fn processes_start_with_default_signal_dispositions() {
    let Some(sb) = Sandbox::new("signals") else {
        return;
    };
    let stdout = sb.script_ok(
        r#"let look = ["/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"];
spec.args = look;
let c = f.create(id, config);
let p = process(spec);
c.run(p);
print(p.stdout);
c.destroy();
spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
print(c.exec(look).stdout);
c.destroy();
"#,
    );
    let masks: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(masks, ["0000000000000000"; 4], "{stdout}");
}

#[test]
fn rlimits_apply() {
    let Some(sb) = Sandbox::new("rlimits") else {
        return;
    };
    let out = sb.sh(
        r#"config.rlimits = [#{ type: "RLIMIT_NOFILE", hard: 2048, soft: 1024 }];"#,
        "ulimit -n; ulimit -Hn",
    );
    assert_eq!(out, "1024\n2048\n");
}

#[test]
fn loopback_network_is_up() {
    let Some(sb) = Sandbox::new("loopback") else {
        return;
    };
    let out = sb.sh(
        r#"config.networks = [#{ type: "loopback", address: "127.0.0.1/0", gateway: "localhost" }];"#,
        "ip link show lo; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo PING-OK",
    );
    let flags = out.split(['<', '>']).nth(1).unwrap_or_default();
    assert!(flags.split(',').any(|f| f == "UP"), "lo is not up: {out}");
    assert!(out.contains("PING-OK"), "127.0.0.1 unreachable: {out}");
}

#[test]
fn loopback_stays_down_without_a_network() {
    let Some(sb) = Sandbox::new("loopback-down") else {
        return;
    };
    let out = sb.sh("", "ip link show lo");
    let flags = out.split(['<', '>']).nth(1).unwrap_or_default();
    assert!(!flags.split(',').any(|f| f == "UP"), "lo is up: {out}");
}

#[test]
fn dev_has_the_default_devices_links_and_mounts() {
    let Some(sb) = Sandbox::new("dev") else {
        return;
    };
    let out = sb.sh(
        "",
        r#"for d in null zero full tty random urandom pts/ptmx; do
             [ -c /dev/$d ] && echo "char $d"
           done
           for l in fd stdin stdout stderr ptmx; do
             [ -L /dev/$l ] && echo "link $l $(readlink /dev/$l)"
           done
           for m in pts shm mqueue; do
             awk -v m=/dev/$m '$2 == m { print "mount '$m' " $3 }' /proc/mounts
           done
           echo hello > /dev/null && head -c 4 /dev/zero | wc -c"#,
    );
    let lines: BTreeSet<&str> = out.lines().map(str::trim).collect();
    for want in [
        "char null",
        "char zero",
        "char full",
        "char tty",
        "char random",
        "char urandom",
        "char pts/ptmx",
        "link fd /proc/self/fd",
        "link stdin /proc/self/fd/0",
        "link stdout /proc/self/fd/1",
        "link stderr /proc/self/fd/2",
        "link ptmx pts/ptmx",
        "mount pts devpts",
        "mount shm tmpfs",
        "mount mqueue mqueue",
        "4",
    ] {
        assert!(lines.contains(want), "missing '{want}' in:\n{out}");
    }
}

#[test]
fn masked_paths_show_nothing() {
    let Some(sb) = Sandbox::new("masked") else {
        return;
    };
    // Some of runc's masked paths, those this kernel has (not all have /proc/kcore).
    let paths: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/sys/firmware",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).exists())
    .collect();
    assert!(!paths.is_empty(), "the host has none of the masked paths");
    let out = sb.sh(
        "",
        &format!(
            r#"for p in {paths}; do
                 if [ -d $p ]; then echo "$p $(ls -A $p | wc -l)"
                 else echo "$p $(head -c 16 $p 2>/dev/null | wc -c)"; fi
                 awk -v p=$p '$2 == p {{ print "mounted " p }}' /proc/mounts
               done"#,
            paths = paths.join(" ")
        ),
    );
    let lines: BTreeSet<&str> = out.lines().map(str::trim).collect();
    for p in paths {
        for want in [format!("{p} 0"), format!("mounted {p}")] {
            assert!(lines.contains(want.as_str()), "missing '{want}' in:\n{out}");
        }
    }
}

#[test]
fn host_files_outside_the_rootfs_are_invisible() {
    let Some(sb) = Sandbox::new("host-invisible") else {
        return;
    };
    let marker = sb.dir.join("host-marker-file");
    fs::write(&marker, "host secret").unwrap();
    let script = format!(
        r#"cat {path} 2>/dev/null && echo VISIBLE
           find / -path /proc -prune -o -path /sys -prune -o -name host-marker-file -print"#,
        path = marker.display()
    );
    let out = sb.sh("", &script);
    assert_eq!(out, "", "the host marker file is visible in the container");
}

#[test]
fn mknod_of_a_block_device_is_denied_without_cap_mknod() {
    let Some(sb) = Sandbox::new("mknod") else {
        return;
    };
    let out = sb.sh(
        r#"config.capabilities = ["CAP_CHOWN", "CAP_KILL"];"#,
        // A fifo needs no capability: it shows mknod itself works.
        "mknod /tmp/fifo p && echo FIFO-OK; mknod /tmp/sda b 8 0 && echo BLOCK-MADE; true",
    );
    assert!(out.contains("FIFO-OK"), "{out}");
    assert!(
        !out.contains("BLOCK-MADE"),
        "mknod of a block device worked"
    );
    assert!(!sb.rootfs.join("tmp/sda").exists());
}

/// fd numbers listed by `ls -l /proc/<pid>/fd` output, with link targets.
fn fds(listing: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.to_string()))
        })
        .collect()
}

#[test]
fn container_processes_get_no_fd_beyond_stdio() {
    let Some(sb) = Sandbox::new("fds") else {
        return;
    };
    let stdout = sb.script_ok(
        r#"config.capabilities = ["CAP_KILL"];
spec.args = ["/bin/sleep", "1000"];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
let p = process(spec);
c.start(p);
let first = c.exec(["/bin/ls", "-l", "/proc/1/fd"]);
let own = c.exec(["/bin/ls", "-l", "/proc/self/fd"]);
print("FIRST " + first.to_json());
print("OWN " + own.to_json());
c.destroy();
"#,
    );
    let exec_out = |prefix: &str| -> String {
        let ran = Ran::from_line(&stdout, prefix);
        assert_eq!(ran.code, 0, "{ran:?}");
        ran.stdout
    };
    // The first process (sleep, pid 1) has exactly stdin, stdout, stderr.
    let first = exec_out("FIRST ");
    let first_fds: Vec<u32> = fds(&first).into_iter().map(|(fd, _)| fd).collect();
    assert_eq!(first_fds, vec![0, 1, 2], "pid 1's fds:\n{first}");
    // An exec'd ls has its stdio and the directory it is listing, nothing else.
    let own = exec_out("OWN ");
    for (fd, target) in fds(&own) {
        assert!(
            fd <= 2 || (target.starts_with("/proc/") && target.ends_with("/fd")),
            "fd {fd} -> {target} leaked into the container:\n{own}"
        );
    }
}

/// A created container's init is ctrsh: it runs from a copy sealed
/// against writes, not from the host binary (the attack itself is in
/// tests/escape.rs).
#[test]
fn the_init_runs_from_a_sealed_copy_of_ctrsh() {
    let Some(sb) = Sandbox::new("exe") else {
        return;
    };
    sb.script_ok("let c = f.create(id, config);");
    let c = ctrsh::runtime::Factory::new(&sb.root)
        .and_then(|f| f.load(&sb.id))
        .unwrap();
    let pid = c.pid().expect("the created container has an init");
    let exe = format!("/proc/{pid}/exe");
    let (host, init) = (
        fs::metadata(common::CTRSH).unwrap(),
        fs::metadata(&exe).unwrap(),
    );
    assert_ne!(
        (host.dev(), host.ino()),
        (init.dev(), init.ino()),
        "the init runs the host's ctrsh binary itself"
    );
    let file = fs::File::open(&exe).unwrap();
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    let wanted = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    assert_eq!(seals & wanted, wanted, "{exe} has seals {seals:#x}");
    c.destroy().unwrap();
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn readonly_rootfs_cannot_be_written() {
    let Some(sb) = Sandbox::new("readonly") else {
        return;
    };
    let out = sb.sh(
        "config.readonly_rootfs = true;",
        "touch /x && echo WROTE; touch /dev/shm/y && echo SHM-OK; true",
    );
    assert!(!out.contains("WROTE"), "wrote to a read-only rootfs: {out}");
    assert!(out.contains("SHM-OK"), "{out}");
    assert!(!sb.rootfs.join("x").exists());
}

#[test]
fn user_tmpfs_mount_is_visible() {
    let Some(sb) = Sandbox::new("mount") else {
        return;
    };
    let out = sb.sh(
        r#"config.mounts = [#{ source: "tmpfs", destination: "/mnt", type: "tmpfs", options: ["size=1m", "nosuid"] }];"#,
        r#"awk '$2 == "/mnt" { print $3 }' /proc/mounts; echo data > /mnt/f && cat /mnt/f"#,
    );
    assert_eq!(out, "tmpfs\ndata\n");
    assert!(
        !sb.rootfs.join("mnt/f").exists(),
        "the tmpfs write reached the rootfs"
    );
}

#[test]
fn env_and_cwd_are_honoured() {
    let Some(sb) = Sandbox::new("env-cwd") else {
        return;
    };
    let out = sb.sh(
        r#"spec.env = ["PATH=/bin", "GREETING=hello world"]; spec.cwd = "/tmp";"#,
        r#"echo "$GREETING"; pwd; echo "$HOME""#,
    );
    assert_eq!(out, "hello world\n/tmp\n/root\n");
}

#[test]
fn no_new_privileges_and_oom_score_adj_apply() {
    let Some(sb) = Sandbox::new("settings") else {
        return;
    };
    let out = sb.sh(
        r#"config.no_new_privileges = true;
config.oom_score_adj = 500;"#,
        "grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj",
    );
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["NoNewPrivs:", "1", "500"], "{out}");
}
