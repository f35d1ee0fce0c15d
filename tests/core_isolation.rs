//! What a process inside a container sees: its identity, limits, devices,
//! filesystem and what is hidden from it. Each test runs a real container
//! (as root) and checks the output of a program inside it.

mod common;

use common::{rhai_str, Ran, Sandbox};
use std::collections::BTreeSet;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

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

/// A created container's init is ctrsh: it runs from a read-only
/// overlayfs view of the binary (as root) that refuses to open for
/// writing, not from the host binary itself (the attack itself is in
/// tests/escape.rs; the sealed copy ctrsh falls back to is checked there
/// and by the rootless tests).
#[test]
fn the_init_runs_from_a_read_only_view_of_ctrsh() {
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
    // SAFETY: statfs is plain data; all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is open and `st` is writable.
    assert_eq!(unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) }, 0);
    const OVERLAYFS_SUPER_MAGIC: libc::c_long = 0x794c_7630;
    assert_eq!(
        st.f_type, OVERLAYFS_SUPER_MAGIC,
        "{exe} is not on overlayfs"
    );
    let write = fs::OpenOptions::new().write(true).open(&exe);
    assert_eq!(
        write.map_err(|e| e.raw_os_error()).err(),
        Some(Some(libc::EROFS)),
        "{exe} opens for writing"
    );
    c.destroy().unwrap();
    sb.assert_nothing_left(&sb.id);
}

/// Where vm.memfd_noexec makes memfds not executable (1: unless made with
/// MFD_EXEC; 2: never), the init still runs, from a memfd made with the
/// flag or (2) an unlinked file. The sysctl belongs to a pid namespace: ctrsh
/// runs in one of the test's own, where the test sets it.
#[test]
fn the_init_runs_where_memfds_are_not_executable() {
    let Some(sb) = Sandbox::new("noexec") else {
        return;
    };
    let script = sb.script_file(
        "let c = f.create(id, config); let p = process(spec); print(`CODE ${c.run(p)}`); c.destroy();",
    );
    for level in ["1", "2"] {
        let out = Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "sh", "-c"])
            .arg(r#"echo "$0" > /proc/sys/vm/memfd_noexec && exec "$1" "$2""#)
            .arg(level)
            .arg(common::CTRSH)
            .arg(&script)
            .output()
            .expect("run unshare");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            stdout.contains("CODE 0"),
            "vm.memfd_noexec={level}: {stdout}{stderr}"
        );
        sb.assert_nothing_left(&sb.id);
    }
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

/// `masked_paths` and `readonly_paths` of a config replace runc's lists:
/// a masked file reads empty, a masked directory is empty, a read-only
/// path cannot be written while the rest of the rootfs can, and runc's
/// defaults (/proc/kcore masked) are not applied.
#[test]
fn custom_masked_and_readonly_paths_replace_the_defaults() {
    let Some(sb) = Sandbox::new("paths") else {
        return;
    };
    fs::write(sb.rootfs.join("etc/secret"), "secret\n").unwrap();
    for dir in ["secretdir", "data"] {
        fs::create_dir(sb.rootfs.join(dir)).unwrap();
        fs::write(sb.rootfs.join(dir).join("f"), "x").unwrap();
    }
    let out = sb.sh(
        r#"config.masked_paths = ["/etc/secret", "/secretdir"];
config.readonly_paths = ["/data"];"#,
        r#"echo "secret [$(cat /etc/secret)]"
           echo "secretdir $(ls -A /secretdir | wc -l)"
           echo "data $(cat /data/f)"
           touch /data/x 2>/dev/null && echo "data writable" || echo "data read-only"
           touch /x && echo "rootfs writable"
           awk '$2 == "/proc/kcore" { print "masked /proc/kcore" }' /proc/mounts"#,
    );
    assert_eq!(
        out, "secret []\nsecretdir 0\ndata x\ndata read-only\nrootfs writable\n",
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(sb.rootfs.join("etc/secret")).unwrap(),
        "secret\n"
    );
}

/// Nodes from `devices` with their type, mode and owner: a fifo and a char
/// device beside the defaults.
#[test]
fn device_nodes_get_their_type_mode_and_owner() {
    let Some(sb) = Sandbox::new("device-nodes") else {
        return;
    };
    let out = sb.sh(
        r#"config.devices = default_devices() + [
    #{ type: "p", path: "/dev/myfifo", file_mode: 0o640, uid: 1, gid: 2 },
    #{ type: "c", path: "/dev/sub/mynull", major: 1, minor: 3, file_mode: 0o600, uid: 3, gid: 4 },
];"#,
        "stat -c '%n|%F|%a|%u|%g|%t:%T' /dev/myfifo /dev/sub/mynull
         echo x > /dev/sub/mynull && echo WROTE",
    );
    assert_eq!(
        out,
        "/dev/myfifo|fifo|640|1|2|0:0\n/dev/sub/mynull|character special file|600|3|4|1:3\nWROTE\n",
        "{out}"
    );
}

/// `seccomp: "unconfined"` installs no filter; a custom profile is the one
/// installed: the call it refuses fails with its errno, the rest work.
#[test]
fn unconfined_and_custom_seccomp_profiles_apply() {
    let Some(sb) = Sandbox::new("seccomp") else {
        return;
    };
    let look = |dir: &str| {
        format!(
            "grep Seccomp: /proc/self/status; mkdir {dir} 2>&1; [ -d {dir} ] && echo MADE; true"
        )
    };
    let unconfined = sb.sh(r#"config.seccomp = "unconfined";"#, &look("/tmp/a"));
    assert_eq!(unconfined, "Seccomp:\t0\nMADE\n", "{unconfined}");
    let custom = sb.sh(
        r#"config.seccomp = #{
    default_action: "SCMP_ACT_ALLOW",
    syscalls: [#{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errno: 13 }],
};"#,
        &look("/tmp/b"),
    );
    assert_eq!(
        custom, "Seccomp:\t2\nmkdir: can't create directory '/tmp/b': Permission denied\n",
        "{custom}"
    );
}

/// Bind mounts from `mounts`: a read-only directory (readable, not
/// writable), a single file (the host's own, written through), and the
/// propagation a mount asks for.
#[test]
fn read_only_binds_file_binds_and_propagation() {
    let Some(sb) = Sandbox::new("binds") else {
        return;
    };
    let (dir, file) = (sb.dir.join("host-dir"), sb.dir.join("host-file"));
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("f"), "from the host\n").unwrap();
    fs::write(&file, "one file\n").unwrap();
    let bind = |source: &std::path::Path, destination: &str, extra: &str| {
        format!(
            r#"#{{ source: {}, destination: "{destination}", type: "bind", {extra} }}"#,
            rhai_str(&source.to_string_lossy())
        )
    };
    let mounts = [
        bind(&dir, "/ro", r#"options: ["rbind", "ro"]"#),
        bind(&file, "/etc/single", r#"options: ["bind"]"#),
        bind(
            &dir,
            "/shared",
            r#"options: ["rbind"], propagation: "rshared""#,
        ),
        bind(
            &dir,
            "/private",
            r#"options: ["rbind"], propagation: "rprivate""#,
        ),
    ];
    let out = sb.sh(
        &format!("config.mounts = [{}];", mounts.join(", ")),
        r#"cat /ro/f; touch /ro/x 2>/dev/null && echo "ro written"
           cat /etc/single; echo "from inside" >> /etc/single
           awk '$5 == "/shared" || $5 == "/private" { tag = "none"; for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) tag = "shared"; print $5 " " tag }' /proc/self/mountinfo"#,
    );
    assert_eq!(
        out, "from the host\none file\n/shared shared\n/private none\n",
        "{out}"
    );
    assert!(
        !dir.join("x").exists(),
        "a write went through the read-only bind"
    );
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "one file\nfrom inside\n"
    );
}

/// An IPv6 loopback network: lo is up with ::1, which answers.
#[test]
fn loopback_carries_ipv6() {
    let Some(sb) = Sandbox::new("loopback6") else {
        return;
    };
    if !std::path::Path::new("/proc/net/if_inet6").exists() {
        common::skip("loopback6", "the kernel has no IPv6");
        return;
    }
    let out = sb.sh(
        r#"config.networks = [#{ type: "loopback", address: "::1" }];"#,
        "ip -6 addr show lo | grep -o 'inet6 ::1/128'; ping -6 -c 1 -W 2 ::1 >/dev/null && echo PING6-OK",
    );
    assert_eq!(out, "inet6 ::1/128\nPING6-OK\n", "{out}");
}

/// Every one of Linux's 16 rlimits reaches the container's process, each
/// at a value of its own (at most the host's hard limit, which ctrsh could
/// not raise), with soft below hard where the hard limit leaves room.
#[test]
fn every_rlimit_applies() {
    let Some(sb) = Sandbox::new("rlimits-all") else {
        return;
    };
    // In the kernel's order, which /proc/self/limits follows; large enough
    // for busybox to run.
    let wanted: [(&str, u64); 16] = [
        ("RLIMIT_CPU", 1 << 30),
        ("RLIMIT_FSIZE", 1 << 40),
        ("RLIMIT_DATA", 1 << 41),
        ("RLIMIT_STACK", 16 << 20),
        ("RLIMIT_CORE", 1 << 20),
        ("RLIMIT_RSS", 1 << 42),
        ("RLIMIT_NPROC", 1 << 20),
        ("RLIMIT_NOFILE", 1000),
        ("RLIMIT_MEMLOCK", 1 << 19),
        ("RLIMIT_AS", 1 << 43),
        ("RLIMIT_LOCKS", 1 << 21),
        ("RLIMIT_SIGPENDING", 1001),
        ("RLIMIT_MSGQUEUE", 1 << 18),
        ("RLIMIT_NICE", 10),
        ("RLIMIT_RTPRIO", 5),
        ("RLIMIT_RTTIME", 1 << 31),
    ];
    let limits: Vec<(u64, u64)> = wanted
        .iter()
        .enumerate()
        .map(|(resource, (_, value))| {
            let mut host = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `host` is a valid rlimit to write.
            assert_eq!(unsafe { libc::getrlimit(resource as _, &mut host) }, 0);
            let hard = (*value).min(host.rlim_max);
            (hard / 2 + hard % 2, hard)
        })
        .collect();
    let config: Vec<String> = wanted
        .iter()
        .zip(&limits)
        .map(|((name, _), (soft, hard))| {
            format!(r#"#{{ type: "{name}", soft: {soft}, hard: {hard} }}"#)
        })
        .collect();
    let out = sb.sh(
        &format!("config.rlimits = [{}];", config.join(", ")),
        "cat /proc/self/limits",
    );
    // "Max cpu time              1073741824           1073741824           seconds"
    let seen: Vec<(u64, u64)> = out
        .lines()
        .skip(1)
        .map(|line| {
            let mut values = line[26..].split_whitespace().map(|v| v.parse().unwrap());
            (values.next().unwrap(), values.next().unwrap())
        })
        .collect();
    assert_eq!(seen, limits, "{out}");
}
