//! Escape attempts from inside a container. Every attempt runs twice: in a
//! default container (only rootfs and the namespaces mount, uts, ipc, pid,
//! net: Docker's 14 capabilities, the default seccomp profile, runc's masked
//! and read-only paths, the default device allow-list) and in a hardened
//! "sandbox" one (every namespace including user, mapped 0 -> 100000,
//! no capabilities, no_new_privileges, read-only rootfs, default seccomp).
//! Each attempt is its own test, so the count of blocked attempts shows.
//!
//! Most attempts go through `probe` (tests/escape/probe.c, compiled with
//! `cc -static` once per run and copied into the rootfs): it makes one
//! system call and prints "ok" or the errno's name. An attempt that works
//! is a hole in the runtime: the test fails with "HOLE: ..." and stays
//! failing until the runtime is fixed. The controls at the end show the
//! attempts working where nothing stops them (a permissive container, the
//! host), so a refusal is the runtime's doing. docs/security.md maps each
//! guarantee to these tests and describes the known holes.

mod common;

use common::{
    file_digest, host, probe_binary, readable_block_device, rhai_str, Need, RunningScript, Sandbox,
    CTRSH,
};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sandbox profile's user namespace maps container ids 0.. to these.
const SANDBOX_HOST_ID: u32 = 100_000;
const SANDBOX_ID_COUNT: u32 = 65_536;
/// A file on the host, outside the rootfs, that must stay unreadable.
const MARKER_NAME: &str = "host-marker-file";
const MARKER_TEXT: &str = "host secret";

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    /// Only rootfs and namespaces ["mount", "uts", "ipc", "pid", "net"].
    Default,
    /// Every namespace, uid/gid 0 -> 100000, capabilities [],
    /// no_new_privileges, readonly_rootfs, default seccomp.
    Sandbox,
}

impl Profile {
    /// Rhai statements that turn the preamble's default `config` into this
    /// profile's.
    fn setup(self) -> String {
        match self {
            Profile::Default => String::new(),
            Profile::Sandbox => format!(
                r#"config.namespaces = ["user", "mount", "uts", "ipc", "pid", "net", "cgroup"];
let ids = [#{{ container_id: 0, host_id: {SANDBOX_HOST_ID}, size: {SANDBOX_ID_COUNT} }}];
config.uid_mappings = ids;
config.gid_mappings = ids;
config.capabilities = [];
config.no_new_privileges = true;
config.readonly_rootfs = true;
"#
            ),
        }
    }

    /// The host uid (and gid) of the container's root.
    fn root_on_host(self) -> u32 {
        match self {
            Profile::Default => 0,
            Profile::Sandbox => SANDBOX_HOST_ID,
        }
    }
}

/// Two tests of `attempt(test, profile, args...)`: `$default` in a default
/// container (test name `<id>-d`), `$sandbox` in a sandbox one (`<id>-s`).
macro_rules! both_profiles {
    ($attempt:ident($id:literal $(, $arg:expr)*): $default:ident, $sandbox:ident) => {
        #[test]
        fn $default() {
            $attempt(concat!($id, "-d"), Profile::Default $(, $arg)*);
        }

        #[test]
        fn $sandbox() {
            $attempt(concat!($id, "-s"), Profile::Sandbox $(, $arg)*);
        }
    };
}

/// One escape test's container world: a Sandbox whose rootfs holds the
/// probe as /bin/probe, owned by the profile's root, and a marker file on
/// the host next to (not inside) the rootfs.
struct Escape {
    sb: Sandbox,
    profile: Profile,
    marker: PathBuf,
}

impl Escape {
    fn new(test: &str, profile: Profile) -> Option<Escape> {
        let sb = Sandbox::new(test)?;
        let probe = match probe_binary() {
            Ok(path) => path,
            Err(why) => {
                common::skip(test, &why);
                return None;
            }
        };
        let marker = sb.dir.join(MARKER_NAME);
        fs::write(&marker, MARKER_TEXT).expect("write the host marker");
        let e = Escape {
            sb,
            profile,
            marker,
        };
        // The sandbox's root owns its files, as in a real user-namespaced
        // rootfs: a setuid binary then really belongs to the container root.
        let owner = profile.root_on_host();
        if owner != 0 {
            e.sb.chown_rootfs(owner);
        }
        e.add_file("bin/probe", &fs::read(probe).unwrap(), 0o755);
        Some(e)
    }

    /// Puts a file into the rootfs, owned by the container's root, with
    /// `mode` (set after the chown, which would clear a setuid bit).
    fn add_file(&self, path: &str, contents: &[u8], mode: u32) {
        let file = self.sb.rootfs.join(path);
        fs::write(&file, contents).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        let owner = self.profile.root_on_host();
        std::os::unix::fs::chown(&file, Some(owner), Some(owner)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// The marker's host path, as a shell word.
    fn marker_path(&self) -> String {
        self.marker.to_string_lossy().into_owned()
    }

    /// Runs `/bin/sh -c script` as the first process of a container of this
    /// profile, after `setup` (more Rhai statements); returns its stdout.
    /// The script must exit 0 (end it with `true`).
    fn sh(&self, setup: &str, script: &str) -> String {
        let setup = format!("{}{setup}", self.profile.setup());
        let ran = self.sb.run_process(&setup, &["/bin/sh", "-c", script]);
        assert_eq!(ran.code, 0, "the container process failed: {ran:?}");
        ran.stdout
    }

    /// Runs each `(label, probe arguments)` in a container and returns the
    /// probe's answer per label.
    fn probe(&self, setup: &str, attempts: &[(&str, &str)]) -> BTreeMap<String, String> {
        let script: String = attempts
            .iter()
            .map(|(label, args)| format!("echo \"{label} $(probe {args} 2>&1)\"\n"))
            .collect();
        let out = self.sh(setup, &format!("{script}true"));
        answers(&out)
    }
}

/// "label answer" lines, as a map.
fn answers(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Asserts that attempt `label` failed with one of `errnos`: anything else,
/// "ok" above all, means the attempt got further than it may.
fn assert_failed(answers: &BTreeMap<String, String>, label: &str, errnos: &[&str]) {
    let got = answers
        .get(label)
        .unwrap_or_else(|| panic!("attempt '{label}' did not report: {answers:?}"));
    assert_ne!(got, "ok", "HOLE: attempt '{label}' succeeded: {answers:?}");
    assert!(
        errnos.contains(&got.as_str()),
        "attempt '{label}' failed with {got}, expected one of {errnos:?}: {answers:?}"
    );
}

/// The text a script printed as `prefix + #{ text: ... }.to_json()`.
fn printed_text(script_stdout: &str, prefix: &str) -> String {
    let line = script_stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{script_stdout}"));
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
    value["text"].as_str().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------- mounts

/// A shell line that mounts a cgroup hierarchy of the host at /mnt and
/// says "cgroup ok": v1 memory where the host has it, else cgroup2.
fn mount_cgroup() -> &'static str {
    if host().cgroups.is_v2("memory") {
        r#"mount -t cgroup2 cgroup2 /mnt 2>/dev/null && echo "cgroup ok""#
    } else {
        r#"mount -t cgroup -o memory cgroup /mnt 2>/dev/null && echo "cgroup ok""#
    }
}

/// Mounting tmpfs, a cgroup hierarchy and proc (the control,
/// `escape_attempts_work_in_a_permissive_container`, makes each of them).
fn mount_tmpfs(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let out = e.sh(
        "",
        &format!(
            r#"echo "probe $(probe mount_tmpfs /mnt 2>&1)"
               mount -t tmpfs tmpfs /mnt 2>/dev/null && echo "busybox ok"
               {cgroup}
               mount -t proc proc /mnt 2>/dev/null && echo "proc ok"
               awk '$2 == "/mnt" {{ print "mounted " $3 }}' /proc/mounts
               true"#,
            cgroup = mount_cgroup()
        ),
    );
    let got = answers(&out);
    assert_failed(&got, "probe", &["EPERM"]);
    for attempt in ["busybox", "cgroup", "proc", "mounted"] {
        assert!(!got.contains_key(attempt), "HOLE: {attempt}: {out}");
    }
}

both_profiles!(mount_tmpfs("esc-mount"):
    escape_mount_tmpfs_denied_default,
    escape_mount_tmpfs_denied_sandbox);

fn bind_mount_root(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let out = e.sh(
        "",
        r#"mount --bind / /mnt 2>/dev/null && echo "bind ok"
           mount --rbind /proc /mnt 2>/dev/null && echo "rbind ok"
           awk '$2 == "/mnt" { print "mounted " $3 }' /proc/mounts
           echo done"#,
    );
    assert_eq!(out, "done\n", "HOLE: a bind mount worked");
}

both_profiles!(bind_mount_root("esc-bind"):
    escape_bind_mount_denied_default,
    escape_bind_mount_denied_sandbox);

fn remount_read_only_paths(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let out = e.sh(
        "",
        r#"mount -o remount,rw /proc/sys 2>/dev/null && echo "proc-sys ok"
           mount -o remount,rw,bind /proc/sys 2>/dev/null && echo "proc-sys-bind ok"
           mount -o remount,rw /sys 2>/dev/null && echo "sys ok"
           mount -o remount,rw / 2>/dev/null && echo "root ok"
           awk '$2 == "/proc/sys" || $2 == "/sys" { split($4, o, ","); print $2 " " o[1] }' /proc/mounts
           true"#,
    );
    let got = answers(&out);
    for attempt in ["proc-sys", "proc-sys-bind", "sys"] {
        assert!(!got.contains_key(attempt), "HOLE: remount {attempt}: {out}");
    }
    // A default container's rootfs is writable anyway; the sandbox's is not.
    if profile == Profile::Sandbox {
        assert!(!got.contains_key("root"), "HOLE: remount / rw: {out}");
    }
    assert_eq!(
        got.get("/proc/sys").map(String::as_str),
        Some("ro"),
        "{out}"
    );
    assert_eq!(got.get("/sys").map(String::as_str), Some("ro"), "{out}");
}

both_profiles!(remount_read_only_paths("esc-remount"):
    escape_remount_read_only_paths_rw_denied_default,
    escape_remount_read_only_paths_rw_denied_sandbox);

fn unmask(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let got = e.probe(
        "",
        &[
            ("keys", "umount /proc/keys"),
            ("firmware", "umount /sys/firmware"),
            ("proc-sys", "umount /proc/sys"),
        ],
    );
    for label in ["keys", "firmware", "proc-sys"] {
        assert_failed(&got, label, &["EPERM"]);
    }
}

both_profiles!(unmask("esc-unmask"):
    escape_umount_masked_path_denied_default,
    escape_umount_masked_path_denied_sandbox);

fn pivot_root(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let got = e.probe("", &[("pivot", "pivot_root /dev /dev/shm")]);
    assert_failed(&got, "pivot", &["EPERM"]);
}

both_profiles!(pivot_root("esc-pivot"):
    escape_pivot_root_denied_default,
    escape_pivot_root_denied_sandbox);

// ------------------------------------------------------ host filesystem

fn proc_root_tricks(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let m = e.marker_path();
    let out = e.sh(
        "",
        &format!(
            r#"M={m}
               for p in "$M" /proc/1/root"$M" /proc/self/root"$M" \
                        /proc/self/root/../../../..$M /proc/self/cwd/../../../..$M \
                        /proc/1/cwd/../../../..$M /proc/[0-9]*/root"$M"; do
                 cat "$p" 2>/dev/null && echo " <- VISIBLE $p"
               done
               cd /proc/self/root/../../../.. && cat ".$M" 2>/dev/null && echo " <- VISIBLE cd"
               cd /proc/1/cwd/../../.. && cat ".$M" 2>/dev/null && echo " <- VISIBLE cd"
               [ "$(stat -c %d:%i /proc/1/root/)" = "$(stat -c %d:%i /)" ] && echo "same-root"
               echo done"#
        ),
    );
    assert!(!out.contains(MARKER_TEXT), "HOLE: host marker read: {out}");
    assert_eq!(out, "same-root\ndone\n");
}

both_profiles!(proc_root_tricks("esc-procroot"):
    escape_host_file_via_proc_root_and_cwd_denied_default,
    escape_host_file_via_proc_root_and_cwd_denied_sandbox);

fn chroot_breakout(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let args = format!("chroot_breakout /dev/shm/jail {}", e.marker_path());
    let got = e.probe("", &[("breakout", &args)]);
    // ENOENT: chroot worked (the default has CAP_SYS_CHROOT) but the walk
    // up stopped at the container's root; EPERM: no CAP_SYS_CHROOT.
    let expected: &[&str] = match profile {
        Profile::Default => &["ENOENT"],
        Profile::Sandbox => &["EPERM"],
    };
    assert_failed(&got, "breakout", expected);
}

both_profiles!(chroot_breakout("esc-chroot"):
    escape_chroot_breakout_denied_default,
    escape_chroot_breakout_denied_sandbox);

fn open_by_handle(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let got = e.probe("", &[("shocker", "open_by_handle /etc/passwd")]);
    assert_failed(&got, "shocker", &["EPERM"]);
}

both_profiles!(open_by_handle("esc-handle"):
    escape_open_by_forged_handle_denied_default,
    escape_open_by_forged_handle_denied_sandbox);

/// A malicious image: `dir` in the rootfs is a symlink to a host directory
/// (absolute path). Returns the script's output, whether the container was
/// created ("REFUSED ..." otherwise), and the host directory.
fn symlinked_rootfs_dir(e: &Escape, dir: &str) -> (String, PathBuf) {
    let host_dir = e.sb.dir.join(format!("host-{dir}"));
    fs::create_dir(&host_dir).unwrap();
    let in_rootfs = e.sb.rootfs.join(dir);
    fs::remove_dir(&in_rootfs).unwrap();
    std::os::unix::fs::symlink(&host_dir, &in_rootfs).unwrap();
    let stdout = e.sb.script_ok(&format!(
        r#"{setup}
spec.args = ["/bin/true"];
try {{
    let c = f.create(id, config);
    print("CREATED");
    c.destroy();
}} catch (err) {{
    print("REFUSED " + `${{err}}`);
}}
"#,
        setup = e.profile.setup()
    ));
    (stdout, host_dir)
}

/// Mounts of this process's mount namespace at or under `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let needle = format!(" {} ", dir.display());
    let under = format!(" {}/", dir.display());
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle) || l.contains(&under))
        .map(String::from)
        .collect()
}

fn symlinked_proc_or_sys(test: &str, dir: &str) {
    let Some(e) = Escape::new(test, Profile::Default) else {
        return;
    };
    let (out, host_dir) = symlinked_rootfs_dir(&e, dir);
    assert!(
        out.contains("REFUSED") && out.contains("symlink"),
        "HOLE? a rootfs whose /{dir} is a symlink was not refused:\n{out}"
    );
    assert_eq!(host_mounts_under(&host_dir), Vec::<String>::new());
    assert_eq!(fs::read_dir(&host_dir).unwrap().count(), 0);
}

#[test]
fn escape_rootfs_with_symlinked_proc_refused_default() {
    symlinked_proc_or_sys("esc-procsym-d", "proc");
}

#[test]
fn escape_rootfs_with_symlinked_sys_refused_default() {
    symlinked_proc_or_sys("esc-syssym-d", "sys");
}

/// /dev is resolved inside the rootfs: a /dev symlink to an absolute host
/// path means that path under the rootfs, and the host directory gets
/// neither the tmpfs nor device nodes.
#[test]
fn escape_rootfs_with_symlinked_dev_stays_inside_default() {
    let Some(e) = Escape::new("esc-devsym-d", Profile::Default) else {
        return;
    };
    let (out, host_dir) = symlinked_rootfs_dir(&e, "dev");
    assert!(out.contains("CREATED"), "{out}");
    assert_eq!(host_mounts_under(&host_dir), Vec::<String>::new());
    assert_eq!(
        fs::read_dir(&host_dir).unwrap().count(),
        0,
        "HOLE: the runtime wrote into the host directory /dev pointed at"
    );
}

/// The sandbox's root is root only inside: on the host it is uid 100000.
#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_uid_sandbox() {
    let Some(e) = Escape::new("esc-uidmap-s", Profile::Sandbox) else {
        return;
    };
    let out = e.sh("", "id -u; cat /proc/self/uid_map /proc/self/gid_map");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "0", "100000", "65536", "0", "100000", "65536"],
        "{out}"
    );
}

// ---------------------------------------------------------------- devices

/// Making a node for a host block device and opening it (the control,
/// `escape_attempts_work_in_a_permissive_container`, opens it with every
/// device allowed).
fn block_device(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let Some((major, minor)) = readable_block_device(&e.sb.rootfs) else {
        common::skip(test, "the host cannot read any of its block devices");
        return;
    };
    let out = e.sh(
        "",
        &format!(
            r#"mknod /dev/escape-disk b {major} {minor} 2>/dev/null && echo "mknod ok"
               echo "open $(probe open /dev/escape-disk 2>&1)"
               echo "write $(probe openw /dev/escape-disk 2>&1)"
               true"#
        ),
    );
    let got = answers(&out);
    match profile {
        // CAP_MKNOD makes the node; the device cgroup refuses to open it.
        Profile::Default => {
            assert!(got.contains_key("mknod"), "mknod did not run: {out}");
            assert_failed(&got, "open", &["EPERM"]);
            assert_failed(&got, "write", &["EPERM"]);
        }
        Profile::Sandbox => {
            assert!(!got.contains_key("mknod"), "HOLE: mknod worked: {out}");
            assert_failed(&got, "open", &["ENOENT"]);
        }
    }
}

both_profiles!(block_device("esc-blockdev"):
    escape_mknod_and_open_block_device_denied_default,
    escape_mknod_and_open_block_device_denied_sandbox);

/// CVE-2025-31133 (runc): masked files are hidden by bind-mounting
/// /dev/null over them. When the container's /dev comes from a volume
/// another tenant controls, its "null" can be a symlink to a host sysctl,
/// which the masking then bind-mounts, writable, over /proc/keys and
/// /proc/timer_list. The runtime must refuse such a /dev/null (or mask with
/// the real one). The script never writes through /dev/null: here that
/// would be the host's core_pattern.
fn planted_dev_null(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let shared = e.sb.dir.join("shared-dev");
    fs::create_dir(&shared).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", shared.join("null")).unwrap();
    let core_pattern = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let script = r#"for f in /proc/keys /proc/timer_list /proc/kcore; do
  [ -e $f ] || continue
  echo "$f $(probe openw $f 2>&1)"
  echo "content $(head -c 256 $f 2>&1 | tr '\n' ' ')"
done"#;
    let stdout = e.sb.script_ok(&format!(
        r#"{setup}
config.mounts = [#{{ source: {shared}, destination: "/dev", type: "bind", options: ["rbind"] }}];
spec.args = ["/bin/sh", "-c", {script}];
try {{
    let c = f.create(id, config);
    let p = process(spec);
    c.run(p);
    print("RAN " + #{{ text: p.stdout }}.to_json());
    c.destroy();
}} catch (err) {{
    print("REFUSED " + #{{ text: `${{err}}` }}.to_json());
}}
"#,
        setup = e.profile.setup(),
        shared = rhai_str(&shared.to_string_lossy()),
        script = rhai_str(script),
    ));
    assert_eq!(
        core_pattern,
        fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        "HOLE: the host's core_pattern changed"
    );
    // Masking checks that the /dev/null it binds is the real 1:3 and
    // refuses the container otherwise.
    let refused = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REFUSED "))
        .unwrap_or_else(|| panic!("HOLE? the planted /dev/null was not refused:\n{stdout}"));
    assert!(refused.contains("/dev/null"), "{refused}");
}

both_profiles!(planted_dev_null("esc-devnull"):
    escape_mask_with_planted_dev_null_denied_default,
    escape_mask_with_planted_dev_null_denied_sandbox);

// ------------------------------------------------------- /proc/sys, /sys

/// Host paths a container must not write; opened for writing, never written.
const PROC_WRITES: [(&str, &str); 4] = [
    ("core_pattern", "/proc/sys/kernel/core_pattern"),
    ("modprobe", "/proc/sys/kernel/modprobe"),
    ("drop_caches", "/proc/sys/vm/drop_caches"),
    ("sysrq", "/proc/sysrq-trigger"),
];
const SYS_WRITES: [(&str, &str); 3] = [
    ("ksm", "/sys/kernel/mm/ksm/run"),
    ("thp", "/sys/kernel/mm/transparent_hugepage/enabled"),
    ("uevent_helper", "/sys/kernel/uevent_helper"),
];

fn write_kernel_files(test: &str, profile: Profile, targets: &[(&str, &str)]) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    // Only what the host has can be attempted.
    let present: Vec<(&str, String)> = targets
        .iter()
        .filter(|(_, path)| Path::new(path).exists())
        .map(|(label, path)| (*label, format!("openw {path}")))
        .collect();
    assert!(
        !present.is_empty(),
        "none of {targets:?} exists on the host"
    );
    let attempts: Vec<(&str, &str)> = present.iter().map(|(l, a)| (*l, a.as_str())).collect();
    let got = e.probe("", &attempts);
    for (label, _) in &attempts {
        assert_failed(&got, label, &["EROFS", "EACCES", "EPERM"]);
    }
}

both_profiles!(write_kernel_files("esc-procsys", &PROC_WRITES):
    escape_write_proc_sys_denied_default,
    escape_write_proc_sys_denied_sandbox);

both_profiles!(write_kernel_files("esc-sys", &SYS_WRITES):
    escape_write_sys_denied_default,
    escape_write_sys_denied_sandbox);

/// Without a network namespace of its own, a user-namespaced container may
/// not mount a fresh sysfs, and the runtime falls back to a recursive bind
/// of the host's /sys made read-only. Every mount under it must be
/// read-only, not only the top one: the host's cgroup v1 hierarchies,
/// debugfs, tracefs and bpffs live under /sys.
#[test]
fn escape_sys_fallback_submounts_read_only_sandbox_without_net() {
    let Some(e) = Escape::new("esc-sysbind-s", Profile::Sandbox) else {
        return;
    };
    let out = e.sh(
        r#"config.namespaces = ["user", "mount", "uts", "ipc", "pid", "cgroup"];"#,
        r#"awk '$2 ~ "^/sys(/|$)" { split($4, o, ","); print $2 " " o[1] " " $3 }' /proc/mounts"#,
    );
    assert!(out.starts_with("/sys ro"), "/sys is not read-only:\n{out}");
    let writable: Vec<&str> = out.lines().filter(|l| l.contains(" rw ")).collect();
    assert!(
        writable.is_empty(),
        "HOLE: host mounts under /sys are writable in the container:\n{}",
        writable.join("\n")
    );
}

// ---------------------------------------------------------- kernel calls

/// What the module attempts load: garbage the kernel refuses to link.
const DUMMY_MODULE: &[u8] = b"\x7fELF not a kernel module";

fn load_module(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    // Not a module: should the call get past the permission checks, the
    // kernel refuses it (ENOEXEC), which the test reports as a hole.
    e.add_file("escape-dummy.ko", DUMMY_MODULE, 0o644);
    let out = e.sh(
        "",
        r#"insmod /escape-dummy.ko 2>/dev/null && echo "insmod ok"
           echo "init_module $(probe init_module /escape-dummy.ko 2>&1)"
           echo "finit_module $(probe finit_module /escape-dummy.ko 2>&1)"
           true"#,
    );
    let got = answers(&out);
    assert!(!got.contains_key("insmod"), "HOLE: insmod: {out}");
    assert_failed(&got, "init_module", &["EPERM"]);
    assert_failed(&got, "finit_module", &["EPERM"]);
}

both_profiles!(load_module("esc-module"):
    escape_load_kernel_module_denied_default,
    escape_load_kernel_module_denied_sandbox);

fn host_pid(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let me = std::process::id();
    let out = e.sh(
        "",
        &format!(
            r#"kill -0 {me} 2>/dev/null && echo "kill ok"
               [ -e /proc/{me} ] && echo "visible ok"
               echo "kill0 $(probe kill0 {me} 2>&1)"
               echo "ptrace $(probe ptrace {me} 2>&1)"
               true"#
        ),
    );
    let got = answers(&out);
    assert!(!got.contains_key("kill"), "HOLE: kill -0 {me}: {out}");
    assert!(!got.contains_key("visible"), "HOLE: /proc/{me}: {out}");
    assert_failed(&got, "kill0", &["ESRCH"]);
    assert_failed(&got, "ptrace", &["ESRCH"]);
}

both_profiles!(host_pid("esc-hostpid"):
    escape_signal_or_ptrace_host_pid_denied_default,
    escape_signal_or_ptrace_host_pid_denied_sandbox);

fn syscall_denied(test: &str, profile: Profile, attempts: &[&str]) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = attempts.iter().map(|a| (*a, *a)).collect();
    let got = e.probe("", &pairs);
    for attempt in attempts {
        assert_failed(&got, attempt, &["EPERM"]);
    }
}

both_profiles!(syscall_denied("esc-keyctl", &["keyctl", "add_key"]):
    escape_keyctl_denied_default,
    escape_keyctl_denied_sandbox);

both_profiles!(syscall_denied("esc-bpf", &["bpf"]):
    escape_bpf_denied_default,
    escape_bpf_denied_sandbox);

both_profiles!(syscall_denied("esc-perf", &["perf_event_open"]):
    escape_perf_event_open_denied_default,
    escape_perf_event_open_denied_sandbox);

/// The filter is for x86_64 numbers; a call through the i386 entry
/// (`int 0x80`) has other numbers and must not slip through: the process is
/// killed (SIGSYS, status 159) instead.
fn i386_entry(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    // The attempt is only real where the kernel runs i386 calls.
    if !common::requires(test, &[Need::Ia32]) {
        return;
    }
    let out = e.sh(
        "",
        r#"r=$(probe i386_keyctl 2>&1); s=$?; echo "i386 $r"; echo "status $s""#,
    );
    let got = answers(&out);
    assert_ne!(
        got.get("i386").map(String::as_str),
        Some("ok"),
        "HOLE: keyctl through int 0x80 got past the filter: {out}"
    );
    assert_eq!(got.get("status").map(String::as_str), Some("159"), "{out}");
}

both_profiles!(i386_entry("esc-i386"):
    escape_i386_syscall_entry_denied_default,
    escape_i386_syscall_entry_denied_sandbox);

fn user_namespace(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let out = e.sh(
        "",
        r#"unshare -U true 2>/dev/null && echo "unshare-cmd ok"
           echo "unshare $(probe unshare_user 2>&1)"
           echo "clone $(probe clone_user 2>&1)"
           true"#,
    );
    let got = answers(&out);
    assert!(!got.contains_key("unshare-cmd"), "HOLE: unshare -U: {out}");
    assert_failed(&got, "unshare", &["EPERM"]);
    assert_failed(&got, "clone", &["EPERM"]);
}

both_profiles!(user_namespace("esc-userns"):
    escape_create_user_namespace_denied_default,
    escape_create_user_namespace_denied_sandbox);

// --------------------------------------------------------- privileges

/// The hard RLIMIT_NOFILE both containers get.
const NOFILE: &str = r#"config.rlimits = [#{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }];"#;

/// Raising the hard RLIMIT_NOFILE past the configured 1024 (the control,
/// `escape_attempts_work_in_a_permissive_container`, configures 4096 and
/// raises to it). Below the host's own hard limit, so a container without
/// the configured limit would get through.
fn raise_rlimit(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let out = e.sh(
        NOFILE,
        r#"echo "configured $(ulimit -H -n)"
           ulimit -H -n 2048 2>/dev/null && echo "ulimit ok"
           echo "raise $(probe raise_nofile 4096 2>&1)"
           echo "hard $(ulimit -H -n)"
           true"#,
    );
    let got = answers(&out);
    // Without the configured limit the attempts below prove nothing.
    assert_eq!(
        got.get("configured").map(String::as_str),
        Some("1024"),
        "the configured hard RLIMIT_NOFILE is not applied: {out}"
    );
    assert!(
        !got.contains_key("ulimit"),
        "HOLE: ulimit -H -n 2048: {out}"
    );
    assert_failed(&got, "raise", &["EPERM"]);
    assert_eq!(got.get("hard").map(String::as_str), Some("1024"), "{out}");
}

both_profiles!(raise_rlimit("esc-rlimit"):
    escape_raise_hard_rlimit_denied_default,
    escape_raise_hard_rlimit_denied_sandbox);

const CAP_SYS_RESOURCE: u32 = 24;

/// The lowest oom_score_adj a container process without CAP_SYS_RESOURCE
/// may set: the value last written by a process with that capability
/// (the kernel's oom_score_adj_min). A ctrsh that has it writes the
/// configured 500 that way; one that lacks it (as on some CI machines)
/// leaves the floor where it was, at ctrsh's own value, to which the
/// container can return.
fn oom_floor() -> i32 {
    if host().has_capability(CAP_SYS_RESOURCE) {
        return 500;
    }
    let own = fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    own.trim().parse().unwrap()
}

/// Lowering oom_score_adj below the floor (the control,
/// `escape_attempts_work_in_a_permissive_container`, writes the floor, or
/// -1000 with CAP_SYS_RESOURCE where the host has it).
fn lower_oom_score_adj(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let below = oom_floor() - 1;
    let out = e.sh(
        "config.oom_score_adj = 500;",
        &format!(
            r#"echo {below} > /proc/self/oom_score_adj 2>/dev/null && echo "lower ok"
               echo -1000 > /proc/self/oom_score_adj 2>/dev/null && echo "lowest ok"
               echo "adj $(cat /proc/self/oom_score_adj)"
               true"#
        ),
    );
    let got = answers(&out);
    for attempt in ["lower", "lowest"] {
        assert!(
            !got.contains_key(attempt),
            "HOLE: oom_score_adj lowered below {}: {out}",
            below + 1
        );
    }
    assert_eq!(got.get("adj").map(String::as_str), Some("500"), "{out}");
}

both_profiles!(lower_oom_score_adj("esc-oom"):
    escape_lower_oom_score_adj_denied_default,
    escape_lower_oom_score_adj_denied_sandbox);

/// euid and CapEff printed by `probe ids` (on one line).
fn ids(line: &str) -> (u32, u64) {
    let euid = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("euid="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no euid in {line:?}"));
    let cap_eff = line
        .split_whitespace()
        .skip_while(|w| *w != "CapEff:")
        .nth(1)
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or_else(|| panic!("no CapEff in {line:?}"));
    (euid, cap_eff)
}

/// As user daemon, runs `probe ids` plainly and through a setuid-root copy
/// of the probe; returns both (euid, CapEff).
fn setuid_ids(e: &Escape, setup: &str) -> ((u32, u64), (u32, u64)) {
    e.add_file(
        "bin/suid-probe",
        &fs::read(probe_binary().unwrap()).unwrap(),
        0o4755,
    );
    let out = e.sh(
        &format!(r#"{setup} spec.user = "daemon";"#),
        r#"echo "plain $(probe ids | tr '\n' ' ')"
           echo "setuid $(/bin/suid-probe ids | tr '\n' ' ')"
           true"#,
    );
    let got = answers(&out);
    let line = |k: &str| ids(got.get(k).unwrap_or_else(|| panic!("no {k} in {out}")));
    (line("plain"), line("setuid"))
}

fn setuid_under_no_new_privileges(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let ((uid, caps), (suid_uid, suid_caps)) = setuid_ids(&e, "config.no_new_privileges = true;");
    assert_eq!(uid, 1, "the process does not run as daemon");
    assert_eq!(suid_uid, 1, "HOLE: the setuid binary made daemon euid 0");
    assert_eq!(
        suid_caps & !caps,
        0,
        "HOLE: the setuid binary gained capabilities {suid_caps:016x} over {caps:016x}"
    );
    if profile == Profile::Sandbox {
        assert_eq!(suid_caps, 0, "HOLE: capabilities in the sandbox");
    }
}

both_profiles!(setuid_under_no_new_privileges("esc-setuid"):
    escape_setuid_under_no_new_privileges_denied_default,
    escape_setuid_under_no_new_privileges_denied_sandbox);

/// The control for the two tests above: without no_new_privileges the very
/// same setuid binary does make daemon root, so their attempt is real.
#[test]
fn setuid_binary_works_without_no_new_privileges() {
    let Some(e) = Escape::new("esc-setuid-control", Profile::Default) else {
        return;
    };
    let ((uid, _), (suid_uid, _)) = setuid_ids(&e, "");
    assert_eq!((uid, suid_uid), (1, 0));
}

// ------------------------------------------------- host binary and fds

/// Runs a container whose pid 1 watches /proc for the `ctrsh init` that an
/// `exec` starts inside the container (visible there while it joins the
/// namespaces, before it execs the user's program) and runs `action` on
/// each one it catches ($d is its /proc dir), logging "caught <output>".
/// Execs until something was caught (at most 200); returns the log.
fn watch_joining_inits(e: &Escape, setup: &str, action: &str) -> String {
    let watcher = format!(
        r#"while true; do
  for d in /proc/[0-9]*; do
    [ "$(tr '\0' ' ' < $d/cmdline 2>/dev/null)" = "ctrsh init " ] || continue
    echo "caught $({action} 2>&1)" >> /dev/shm/log
  done
done"#
    );
    let stdout = e.sb.script_ok(&format!(
        r#"{profile}{setup}
spec.args = ["/bin/sh", "-c", {watcher}];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
let p = process(spec);
c.start(p);
let log = "";
for round in 0..20 {{
    for i in 0..10 {{ c.exec(["/bin/true"]); }}
    log = c.exec(["/bin/sh", "-c", "cat /dev/shm/log 2>/dev/null; true"]).stdout;
    if log != "" {{ break; }}
}}
print("LOG " + #{{ text: log }}.to_json());
c.destroy();
"#,
        profile = e.profile.setup(),
        watcher = rhai_str(&watcher)
    ));
    let log = printed_text(&stdout, "LOG ");
    assert!(
        log.contains("caught"),
        "no joining init was caught in 200 execs: the attempt never happened"
    );
    log
}

/// CVE-2016-9962 class: a joining init that shows in the container's pid
/// namespace while it is still in the host's mount namespace lends the
/// container the host's root through /proc/<pid>/root. Reading it takes
/// ptrace access, which CAP_SYS_PTRACE (a capability users add for
/// debuggers) grants; so the profiles here get it on top of their own.
fn joining_init_root(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let action = format!("cat $d/root{}", e.marker_path());
    let log = watch_joining_inits(&e, WITH_SYS_PTRACE, &action);
    let read = log.lines().filter(|l| l.contains(MARKER_TEXT)).count();
    assert_eq!(
        read,
        0,
        "HOLE: the host marker was read through a joining init's /proc/<pid>/root \
         ({read} of {} attempts)",
        log.lines().count()
    );
}

both_profiles!(joining_init_root("esc-joinroot"):
    escape_host_file_via_joining_init_root_denied_default_with_sys_ptrace,
    escape_host_file_via_joining_init_root_denied_sandbox_with_sys_ptrace);

/// Rhai that adds CAP_SYS_PTRACE to the profile's capabilities: ptrace
/// access is what it takes to open another process's /proc/<pid>/exe or
/// /proc/<pid>/root, and people add it for debuggers.
const WITH_SYS_PTRACE: &str = r#"let caps = config.capabilities ?? default_capabilities();
caps.push("CAP_SYS_PTRACE");
config.capabilities = caps;
"#;

/// What `probe exe_race` reported: the device and inode of the binary it
/// caught, and how reopening it for writing ended ("ok", "write EPERM").
fn exe_race_result(out: &str) -> ((u64, u64), String) {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("caught "))
        .unwrap_or_else(|| panic!("the probe caught no joining init: {out}"));
    let mut words = line.splitn(3, ' ');
    let mut number = || words.next().and_then(|w| w.parse().ok()).unwrap();
    let (dev, ino) = (number(), number());
    ((dev, ino), words.next().unwrap_or_default().to_string())
}

/// The device and inode of the file at `path`.
fn dev_ino(path: &Path) -> (u64, u64) {
    let meta = fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

/// CVE-2019-5736: pid 1 runs `probe exe_race`, the exploit's steps
/// against the `ctrsh init` of an `exec` (visible in the container from
/// its fork into the pid namespace until it execs the program): hold an
/// O_PATH fd to its exe, and once it has exec'd, reopen that fd for
/// writing and write. The script execs until the probe has caught one.
/// With CAP_SYS_PTRACE, so that the exe is within reach.
fn joining_init_exe(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let before = file_digest(CTRSH);
    let stdout = e.sb.script_ok(&format!(
        r#"{profile}{WITH_SYS_PTRACE}
spec.args = ["/bin/probe", "exe_race", "60"];
let c = f.create(id, config);
let p = process(spec);
c.start(p);
// Once the probe has written the init's exe, it exits, and with it the
// container: the exec that fails then ends the loop.
let stopped = "";
for i in 0..1000 {{
    try {{ c.exec(["/bin/true"]); }} catch (err) {{ stopped = err.message; break; }}
}}
print("PROBE " + #{{ code: p.wait(), stdout: p.stdout, stderr: stopped }}.to_json());
c.destroy();
"#,
        profile = e.profile.setup(),
    ));
    let ran = common::Ran::from_line(&stdout, "PROBE ");
    let (caught, result) = exe_race_result(&ran.stdout);
    assert_ne!(
        caught,
        dev_ino(Path::new(CTRSH)),
        "HOLE: the joining init ran the host's ctrsh binary itself"
    );
    assert_ne!(result, "ok", "HOLE: the init's binary was written: {ran:?}");
    // The read-only overlayfs view refuses the open; the sealed copy (where
    // no view can be made) opens, but F_SEAL_WRITE refuses the write.
    assert!(result == "open EROFS" || result == "write EPERM", "{ran:?}");
    assert_eq!(before, file_digest(CTRSH), "HOLE: the host binary changed");
}

both_profiles!(joining_init_exe("esc-joinexe"):
    escape_write_joining_init_exe_denied_default_with_sys_ptrace,
    escape_write_joining_init_exe_denied_sandbox_with_sys_ptrace);

/// A child process, killed (by its pid) and reaped when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` in the pid namespace of process `pid` (a container's
/// init), as ctrsh starts a joining init: from a thread that entered it,
/// since only that thread's children land there. It stays in every other
/// namespace of the test.
fn spawn_in_pid_ns(pid: &str, cmd: &mut Command) -> KillOnDrop {
    let pid_ns = fs::File::open(format!("/proc/{pid}/ns/pid")).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(&pid_ns, nix::sched::CloneFlags::CLONE_NEWPID).unwrap();
            KillOnDrop(cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}")))
        })
        .join()
        .unwrap()
    })
}

/// Polls `file` until it has a line starting with `prefix` (60 s at most);
/// returns that line.
fn wait_for_line(file: &Path, prefix: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = fs::read_to_string(file).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with(prefix)) {
            return line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {prefix:?} line in {}: {text}",
            file.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The control for the probe above: the same probe, aimed at an init run
/// from a plain (unsealed) copy of the ctrsh binary, does write it. The
/// copy runs as a joining init would: `ctrsh init`, started by a thread
/// that entered the container's pid namespace, waiting on its channel
/// (fd 3); once the probe holds its exe, the test ends it.
#[test]
fn cve_2019_5736_probe_writes_an_unsealed_init() {
    let Some(e) = Escape::new("esc-joinexe-control", Profile::Default) else {
        return;
    };
    let copy = e.sb.dir.join("ctrsh");
    fs::copy(CTRSH, &copy).unwrap();
    let before = file_digest(&copy.to_string_lossy());
    let (out, pid_file) = (e.sb.dir.join("probe-out"), e.sb.dir.join("pid"));
    let script = e.sb.start_script(&format!(
        r#"{WITH_SYS_PTRACE}
spec.args = ["/bin/probe", "exe_race", "60"];
spec.stdout = {out};
let c = f.create(id, config);
let p = process(spec);
c.start(p);
write_file({pid_file}, `${{c.pid}}`);
print("CODE " + p.wait());
c.destroy();
"#,
        out = rhai_str(&out.to_string_lossy()),
        pid_file = rhai_str(&pid_file.to_string_lossy()),
    ));
    let pid = wait_for_line(&pid_file, "");
    let (channel, init_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let init_fd = std::os::fd::AsRawFd::as_raw_fd(&init_end);
    let mut cmd = Command::new(&copy);
    cmd.arg0("ctrsh").arg("init");
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || match libc::dup2(init_fd, 3) {
            3 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    let init = spawn_in_pid_ns(&pid, &mut cmd);
    let holding = wait_for_line(&out, "holding ");
    drop(init);
    drop(channel);
    let caught = wait_for_line(&out, "caught ");
    assert_eq!(script.finish().code, Some(0));
    let ((dev, ino), result) = exe_race_result(&caught);
    assert_eq!(holding, format!("holding {dev} {ino}"));
    assert_eq!(
        (dev, ino),
        dev_ino(&copy),
        "the probe caught another binary"
    );
    assert_eq!(result, "ok", "the probe could not write an unsealed init");
    // It wrote the byte that was there.
    assert_eq!(before, file_digest(&copy.to_string_lossy()));
}

/// The fd number the test leaks into ctrsh.
const LEAKED_FD: i32 = 7;

/// Runs `body` (after the preamble) in a ctrsh started the way a careless
/// caller would: with the sandbox's host directory open as fd 7, not
/// close-on-exec.
fn ctrsh_with_leaked_dir(e: &Escape, name: &str, body: &str) -> common::Output {
    let dir = fs::File::open(&e.sb.dir).expect("open the sandbox dir");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&dir);
    let leak = |cmd: &mut Command| {
        // SAFETY: only dup2/fcntl between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let ok = if fd == LEAKED_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0) == 0
                } else {
                    libc::dup2(fd, LEAKED_FD) == LEAKED_FD
                };
                if ok {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    };
    // The technique works: a host program started this way has fd 7.
    let mut ls = Command::new("/bin/ls");
    ls.args(["-l", "/proc/self/fd/"]);
    leak(&mut ls);
    let listing = String::from_utf8(ls.output().unwrap().stdout).unwrap();
    assert!(
        listing.contains(&format!(" {LEAKED_FD} -> {}", e.sb.dir.display())),
        "the test did not manage to leak fd {LEAKED_FD}: {listing}"
    );
    let file = e.sb.dir.join(name);
    fs::write(&file, format!("{}{body}\n", e.sb.preamble())).unwrap();
    let mut cmd = Command::new(CTRSH);
    cmd.arg(&file);
    leak(&mut cmd);
    let out = RunningScript::spawn(&mut cmd).finish();
    assert_eq!(out.code, Some(0), "the script failed:\n{out}");
    out
}

fn leaked_fd(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let check = format!(
        r#"ls -l /proc/self/fd/ /proc/1/fd/ | grep -e ' {LEAKED_FD} -> '
           for p in /proc/self/fd/{LEAKED_FD} /proc/1/fd/{LEAKED_FD}; do
             cat $p/{MARKER_NAME} 2>/dev/null
           done
           cd /proc/1/cwd && pwd -P
           true"#
    );
    let body = format!(
        r#"{setup}
spec.args = ["/bin/sh", "-c", {first}];
let c = f.create(id, config);
let p = process(spec);
c.start(p);
let joined = c.exec(["/bin/sh", "-c", {check}]);
p.wait();
print("FIRST " + #{{ text: p.stdout }}.to_json());
print("JOINED " + #{{ text: joined.stdout }}.to_json());
c.destroy();
"#,
        setup = e.profile.setup(),
        first = rhai_str(&format!("{check}\nsleep 2")),
        check = rhai_str(&check),
    );
    let out = ctrsh_with_leaked_dir(&e, "leak.rhai", &body);
    for which in ["FIRST ", "JOINED "] {
        let seen = printed_text(&out.stdout, which);
        assert!(
            !seen.contains(MARKER_TEXT),
            "HOLE: {which}read the host dir: {seen}"
        );
        assert_eq!(
            seen, "/\n",
            "HOLE: {which}sees fd {LEAKED_FD} or a cwd outside: {seen}"
        );
    }
}

/// CVE-2024-21626: a process whose cwd is the leaked fd
/// (`/proc/self/fd/7`) would start in the host directory. Both the first
/// process and a second one (the join path) must be refused.
fn cwd_through_leaked_fd(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let body = format!(
        r#"{setup}
let attempt = spec;
attempt.cwd = "/proc/self/fd/{LEAKED_FD}";
attempt.args = ["/bin/sh", "-c", "pwd -P; cat {MARKER_NAME}; true"];
spec.args = ["/bin/sleep", "1000"];
spec.stdout = "null";
spec.stderr = "null";
let c = f.create(id, config);
for which in ["FIRST", "JOINED"] {{
    if which == "JOINED" {{ c.start(process(spec)); }}
    try {{
        let p = process(attempt);
        let code = c.run(p);
        print(which + " " + #{{ text: `RAN ${{code}} ${{p.stdout}}` }}.to_json());
    }} catch (err) {{
        print(which + " " + #{{ text: `REFUSED ${{err}}` }}.to_json());
        if which == "FIRST" {{ c = f.create(id, config); }}
    }}
}}
c.destroy();
"#,
        setup = e.profile.setup(),
    );
    let out = ctrsh_with_leaked_dir(&e, "cwd.rhai", &body);
    for which in ["FIRST ", "JOINED "] {
        let seen = printed_text(&out.stdout, which);
        assert!(
            !seen.contains(MARKER_TEXT) && !seen.contains(e.sb.dir.to_string_lossy().as_ref()),
            "HOLE: {which}process started in the host directory: {seen}"
        );
        // The init sees that the cwd is outside the root (getcwd fails).
        assert!(seen.starts_with("REFUSED "), "{which}not refused: {seen}");
    }
}

both_profiles!(cwd_through_leaked_fd("esc-cwdleak"):
    escape_cwd_through_leaked_fd_denied_default,
    escape_cwd_through_leaked_fd_denied_sandbox);

both_profiles!(leaked_fd("esc-fdleak"):
    escape_leaked_host_fd_unreachable_default,
    escape_leaked_host_fd_unreachable_sandbox);

/// TIOCSTI pushes input into a terminal: a container process that shares
/// the host's terminal as its controlling terminal could type commands into
/// the shell that started ctrsh (CVE-2017-5226 in bubblewrap; runc calls
/// setsid() so the terminal is no longer the container's controlling one).
/// Here ctrsh runs on a pty the test made, as the controlling terminal of
/// its own session; the container process gets it as stdin ("inherit"),
/// or not at all ("null") and tries /dev/tty, which is the controlling
/// terminal while the process is in ctrsh's session (ENXIO once it is not).
fn tiocsti(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = std::os::fd::AsRawFd::as_raw_fd(&pty.slave);
    let body = format!(
        r#"{setup}
spec.args = ["/bin/sh", "-c", "[ -t 0 ] && echo 'stdin-tty yes'; echo \"stdin $(probe tiocsti)\"; echo \"devtty $(probe tiocsti /dev/tty)\""];
for stdin in ["inherit", "null"] {{
    spec.stdin = stdin;
    let c = f.create(id, config);
    let p = process(spec);
    c.run(p);
    print(stdin + " " + #{{ text: p.stdout }}.to_json());
    c.destroy();
}}
"#,
        setup = e.profile.setup()
    );
    let file = e.sb.dir.join("tiocsti.rhai");
    fs::write(&file, format!("{}{body}\n", e.sb.preamble())).unwrap();
    let mut cmd = Command::new(CTRSH);
    cmd.arg(&file);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A session of its own with the pty as controlling terminal,
            // like a shell in a terminal window; runs after the stdio setup.
            if libc::setsid() < 0
                || libc::dup2(slave, 0) < 0
                || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = RunningScript::spawn(&mut cmd).finish();
    assert_eq!(out.code, Some(0), "the script failed:\n{out}");
    let inherit = answers(&printed_text(&out.stdout, "inherit "));
    let null = answers(&printed_text(&out.stdout, "null "));
    assert!(
        inherit.contains_key("stdin-tty") && !null.contains_key("stdin-tty"),
        "the container's stdin is not what the test meant: {inherit:?} {null:?}"
    );
    // stdin "inherit": the terminal is fd 0. stdin "null": it is still
    // reachable as /dev/tty while it is the controlling terminal.
    let attempts = [
        ("stdin inherit, fd 0", inherit.get("stdin")),
        ("stdin inherit, /dev/tty", inherit.get("devtty")),
        ("stdin null, /dev/tty", null.get("devtty")),
    ];
    let worked: Vec<&str> = attempts
        .iter()
        .filter(|(_, got)| got.map(String::as_str) == Some("ok"))
        .map(|(what, _)| *what)
        .collect();
    assert!(
        worked.is_empty(),
        "HOLE: TIOCSTI into the terminal ctrsh runs on worked with {worked:?}"
    );
    for (what, got) in attempts {
        let got = got.map(String::as_str).unwrap_or("no answer");
        assert!(["EPERM", "ENXIO"].contains(&got), "{what}: {got}");
    }
}

both_profiles!(tiocsti("esc-tiocsti"):
    escape_tiocsti_into_host_terminal_denied_default,
    escape_tiocsti_into_host_terminal_denied_sandbox);

/// A process started with `exec` in a running container goes through the
/// join path (setns, not clone): the same attempts fail there, and it gets
/// the same seccomp filter, no_new_privs and capabilities.
fn exec_process(test: &str, profile: Profile) {
    let Some(e) = Escape::new(test, profile) else {
        return;
    };
    let me = std::process::id();
    let m = e.marker_path();
    let script = format!(
        r#"for a in keyctl bpf perf_event_open unshare_user "mount_tmpfs /mnt" "kill0 {me}" \
                 "openw /proc/sys/kernel/core_pattern" "open /proc/self/cwd/../../..{m}" \
                 "open /proc/1/root{m}"; do
             echo "$(echo $a | tr ' ' _) $(probe $a 2>&1)"
           done
           grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status | tr -d ':' | tr '\t' ' '"#
    );
    let stdout = e.sb.script_ok(&format!(
        r#"{setup}
spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
let joined = c.exec(["/bin/sh", "-c", {script}]);
print("JOINED " + #{{ text: joined.stdout + joined.stderr }}.to_json());
c.destroy();
"#,
        setup = e.profile.setup(),
        script = rhai_str(&script),
    ));
    let got = answers(&printed_text(&stdout, "JOINED "));
    for attempt in ["keyctl", "bpf", "perf_event_open", "unshare_user"] {
        assert_failed(&got, attempt, &["EPERM"]);
    }
    assert_failed(&got, "mount_tmpfs_/mnt", &["EPERM"]);
    assert_failed(&got, &format!("kill0_{me}"), &["ESRCH"]);
    assert_failed(
        &got,
        "openw_/proc/sys/kernel/core_pattern",
        &["EROFS", "EACCES"],
    );
    assert_failed(
        &got,
        &format!("open_/proc/self/cwd/../../..{m}"),
        &["ENOENT"],
    );
    assert_failed(&got, &format!("open_/proc/1/root{m}"), &["ENOENT"]);
    assert_eq!(got.get("Seccomp").map(String::as_str), Some("2"), "{got:?}");
    let (nnp, cap_eff) = match profile {
        Profile::Default => ("0", "00000000a80425fb"),
        Profile::Sandbox => ("1", "0000000000000000"),
    };
    assert_eq!(
        got.get("NoNewPrivs").map(String::as_str),
        Some(nnp),
        "{got:?}"
    );
    assert_eq!(
        got.get("CapEff").map(String::as_str),
        Some(cap_eff),
        "{got:?}"
    );
}

both_profiles!(exec_process("esc-exec"):
    escape_attempts_from_exec_process_denied_default,
    escape_attempts_from_exec_process_denied_sandbox);

// --------------------------------------------------------------- controls
//
// An attempt that fails proves something only if it would work where the
// runtime did not stop it. These controls make the attempts above where
// they can work.

/// The attempts of the tests above in a container that allows them: no
/// seccomp filter; CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH, CAP_SYS_MODULE,
/// CAP_BPF, CAP_PERFMON (and CAP_SYS_RESOURCE where ctrsh has it) on top
/// of the defaults; every device; no pid namespace; a hard RLIMIT_NOFILE
/// of 4096. Each gets through ("ok"; the module calls get past the
/// permission check to the kernel's refusal of garbage). pivot_root goes
/// last: it moves the shell's root.
#[test]
fn escape_attempts_work_in_a_permissive_container() {
    let Some(e) = Escape::new("esc-permissive", Profile::Default) else {
        return;
    };
    e.add_file("escape-dummy.ko", DUMMY_MODULE, 0o644);
    let me = std::process::id();
    let Some((major, minor)) = readable_block_device(&e.sb.rootfs) else {
        common::skip(
            "esc-permissive",
            "the host cannot read any of its block devices",
        );
        return;
    };
    let resource = host().has_capability(CAP_SYS_RESOURCE);
    let oom_target = if resource { -1000 } else { oom_floor() };
    let writes: Vec<&str> = PROC_WRITES
        .iter()
        .chain(&SYS_WRITES)
        .map(|(_, path)| *path)
        .filter(|path| Path::new(path).exists())
        .collect();
    let mut probes = vec![
        "umount /proc/keys",
        "umount /sys/firmware",
        "open_by_handle /etc/passwd",
        "init_module /escape-dummy.ko",
        "finit_module /escape-dummy.ko",
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "unshare_user",
        "clone_user",
        "raise_nofile 4096",
    ];
    if host().ia32 {
        probes.push("i386_keyctl");
    }
    let quoted: Vec<String> = probes.iter().map(|p| format!("\"{p}\"")).collect();
    let setup = format!(
        r#"config.namespaces = ["mount", "uts", "ipc", "net"];
config.seccomp = "unconfined";
config.capabilities = default_capabilities() + ["CAP_SYS_ADMIN", "CAP_DAC_READ_SEARCH",
    "CAP_SYS_MODULE", "CAP_BPF", "CAP_PERFMON"{resource}];
config.cgroups = #{{ allow_all_devices: true }};
config.rlimits = [#{{ type: "RLIMIT_NOFILE", hard: 4096, soft: 1024 }}];
config.oom_score_adj = 500;
"#,
        resource = if resource {
            r#", "CAP_SYS_RESOURCE""#
        } else {
            ""
        },
    );
    let out = e.sh(
        &setup,
        &format!(
            r#"echo "mount_tmpfs $(probe mount_tmpfs /mnt 2>&1)"
               mount -t tmpfs tmpfs /mnt && echo "busybox ok"
               {cgroup}
               mount -t proc proc /mnt && echo "proc ok"
               mount --bind / /mnt && echo "bind ok"
               mount --rbind /proc /mnt && echo "rbind ok"
               mount -o remount,rw,bind /proc/sys && echo "proc-sys-bind ok"
               [ -e /proc/sysrq-trigger ] && mount -o remount,rw,bind /proc/sysrq-trigger
               mount -o remount,rw /sys && echo "sys ok"
               for f in {writes}; do echo "$f $(probe openw $f 2>&1)"; done
               echo "umount_/proc/sys $(probe umount /proc/sys 2>&1)"
               for a in {probes}; do echo "$(echo $a | tr ' ' _) $(probe $a 2>&1)"; done
               mknod /dev/escape-disk b {major} {minor} && echo "mknod ok"
               echo "open_disk $(probe open /dev/escape-disk 2>&1)"
               echo "openw_disk $(probe openw /dev/escape-disk 2>&1)"
               [ -e /proc/{me} ] && echo "visible ok"
               echo "kill0 $(probe kill0 {me} 2>&1)"
               echo {oom_target} > /proc/self/oom_score_adj && echo "oom ok"
               echo "pivot_root $(probe pivot_root /dev /dev/shm 2>&1)"
               true"#,
            cgroup = mount_cgroup(),
            writes = writes.join(" "),
            probes = quoted.join(" "),
        ),
    );
    let got = answers(&out);
    let mut worked: Vec<String> = [
        "mount_tmpfs",
        "busybox",
        "cgroup",
        "proc",
        "bind",
        "rbind",
        "proc-sys-bind",
        "sys",
        "umount_/proc/sys",
        "mknod",
        "open_disk",
        "openw_disk",
        "visible",
        "kill0",
        "oom",
        "pivot_root",
    ]
    .map(String::from)
    .to_vec();
    worked.extend(writes.iter().map(|w| w.to_string()));
    worked.extend(
        probes
            .iter()
            .filter(|p| !p.contains("module"))
            .map(|p| p.replace(' ', "_")),
    );
    for label in &worked {
        assert_eq!(
            got.get(label).map(String::as_str),
            Some("ok"),
            "the control of '{label}' did not work:\n{out}"
        );
    }
    for label in [
        "init_module_/escape-dummy.ko",
        "finit_module_/escape-dummy.ko",
    ] {
        let answer = got.get(label).map(String::as_str).unwrap_or("no answer");
        assert!(
            !["EPERM", "ok", "no answer"].contains(&answer),
            "the control of '{label}' did not reach the kernel's check: {answer}\n{out}"
        );
    }
}

/// The control for the /proc/<pid>/root attempts (`proc_root_tricks`,
/// `joining_init_root`): a host process in the container's pid namespace
/// (there as a joining init would be before it joined the mount
/// namespace) shows the host's files to a container with CAP_SYS_PTRACE.
#[test]
fn escape_host_file_via_a_host_process_in_the_pid_namespace_works() {
    let Some(e) = Escape::new("esc-procroot-control", Profile::Default) else {
        return;
    };
    let m = e.marker_path();
    let (pid_file, out) = (e.sb.dir.join("pid"), e.sb.dir.join("out"));
    // pid 1 waits until the test, after it has put the host process
    // there, makes /dev/shm/go (through /proc/<pid>/root).
    let script = e.sb.start_script(&format!(
        r#"{WITH_SYS_PTRACE}
spec.args = ["/bin/sh", "-c", {look}];
spec.stdout = {out};
let c = f.create(id, config);
let p = process(spec);
c.start(p);
write_file({pid_file}, `${{c.pid}}`);
print("CODE " + p.wait());
c.destroy();
"#,
        look = rhai_str(&format!(
            r#"until [ -e /dev/shm/go ]; do :; done
               for p in /proc/[0-9]*/root{m}; do cat $p 2>/dev/null && echo " <- VISIBLE $p"; done
               true"#
        )),
        out = rhai_str(&out.to_string_lossy()),
        pid_file = rhai_str(&pid_file.to_string_lossy()),
    ));
    let pid = wait_for_line(&pid_file, "");
    let host_process = spawn_in_pid_ns(&pid, Command::new("sleep").arg("1000"));
    fs::write(format!("/proc/{pid}/root/dev/shm/go"), "").unwrap();
    let seen = wait_for_line(&out, MARKER_TEXT);
    assert!(seen.contains(" <- VISIBLE /proc/"), "{seen}");
    // Reaped before the container's pid 1 can finish exiting.
    drop(host_process);
    let out = script.finish();
    assert_eq!(out.code, Some(0), "{out}");
}

/// Controls run on the host, where nothing stops the attempt: the chroot
/// breakout from a plain chroot into the rootfs (how a runtime without
/// pivot_root would confine) reaches the host marker, and TIOCSTI into a
/// terminal that is the caller's stdin pushes input.
#[test]
fn escape_chroot_breakout_and_tiocsti_work_on_the_host() {
    let Some(e) = Escape::new("esc-host-control", Profile::Default) else {
        return;
    };
    fs::create_dir_all(e.sb.rootfs.join("tmp")).unwrap();
    let chrooted = Command::new("chroot")
        .arg(&e.sb.rootfs)
        .args(["/bin/probe", "chroot_breakout", "/tmp/jail"])
        .arg(e.marker_path())
        .output()
        .expect("run chroot");
    assert_eq!(
        String::from_utf8_lossy(&chrooted.stdout),
        "ok\n",
        "{chrooted:?}"
    );
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let pushed = Command::new(probe_binary().unwrap())
        .arg("tiocsti")
        .stdin(std::process::Stdio::from(pty.slave))
        .output()
        .expect("run the probe");
    assert_eq!(
        String::from_utf8_lossy(&pushed.stdout),
        "ok\n",
        "{pushed:?}"
    );
}
