//! The defaults libcontainer users know: devices, device rules, capabilities,
//! masked and read-only paths.

use super::{Device, Mount, Namespace, NamespaceKind};

/// A device's "any major" / "any minor" in a cgroup rule ('*').
const ANY: i64 = -1;

/// libcontainer's default device nodes: (path, major, minor), all char devices.
const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/urandom", 1, 9),
    ("/dev/random", 1, 8),
];

fn char_device(path: Option<&str>, major: i64, minor: i64, permissions: &str) -> Device {
    Device {
        path: path.map(str::to_string),
        ..Device::new("c", major, minor, permissions)
    }
}

/// The namespaces of a config without `namespaces`: those of `runc spec`
/// (mount, uts, ipc, pid, net), without net for a container on the
/// host's network.
pub fn default_namespaces(net: bool) -> Vec<Namespace> {
    use NamespaceKind::*;
    [Mount, Uts, Ipc, Pid, Net]
        .into_iter()
        .filter(|&kind| net || kind != Net)
        .map(|kind| Namespace { kind, path: None })
        .collect()
}

/// Device nodes created in every container's /dev.
pub fn default_devices() -> Vec<Device> {
    DEFAULT_DEVICES
        .iter()
        .map(|&(path, major, minor)| char_device(Some(path), major, minor, "rwm"))
        .collect()
}

/// Device cgroup rules of a container with allow_all_devices false: runc's
/// allow-list (mknod of any char or block device, the console, ptys, ptmx)
/// plus the default device nodes. Unlike old libcontainer it has no tun
/// (10:200) rule, as in runc since 1.0.
pub fn default_allowed_devices() -> Vec<Device> {
    let mut rules = vec![
        char_device(None, ANY, ANY, "m"),
        Device::new("b", ANY, ANY, "m"),
        char_device(Some("/dev/console"), 5, 1, "rwm"),
        // /dev/pts/*: the pseudo-terminal slaves.
        char_device(None, 136, ANY, "rwm"),
        char_device(Some("/dev/ptmx"), 5, 2, "rwm"),
    ];
    rules.extend(default_devices());
    rules
}

/// The capability set Docker and the libcontainer README give a container.
/// (`runc spec` writes a smaller one: AUDIT_WRITE, KILL, NET_BIND_SERVICE.)
pub fn default_capabilities() -> Vec<String> {
    [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]
    .map(String::from)
    .to_vec()
}

/// runc's default masked paths (`runc spec`).
pub fn default_masked_paths() -> Vec<String> {
    [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
    ]
    .map(String::from)
    .to_vec()
}

/// runc's default read-only paths (`runc spec`).
pub fn default_readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .map(String::from)
    .to_vec()
}

/// The runtime's own mounts, made before `mounts` unless an entry of
/// `mounts` replaces them (see validate/).
pub fn builtin_mounts() -> Vec<Mount> {
    let mount = |source: &str, dest: &str, kind: &str, options: &[&str]| Mount {
        source: Some(source.into()),
        destination: dest.into(),
        kind: Some(kind.into()),
        options: options.iter().map(|o| o.to_string()).collect(),
        propagation: None,
    };
    vec![
        mount("proc", "/proc", "proc", &["nosuid", "nodev", "noexec"]),
        mount(
            "tmpfs",
            "/dev",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "devpts",
            "/dev/pts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        ),
        mount(
            "shm",
            "/dev/shm",
            "tmpfs",
            &["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"],
        ),
        mount(
            "mqueue",
            "/dev/mqueue",
            "mqueue",
            &["nosuid", "nodev", "noexec"],
        ),
        mount(
            "sysfs",
            "/sys",
            "sysfs",
            &["nosuid", "nodev", "noexec", "ro"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn default_devices_are_the_six_char_devices() {
        let devices = default_devices();
        let summary: Vec<(&str, i64, i64)> = devices
            .iter()
            .map(|d| (d.path.as_deref().unwrap(), d.major, d.minor))
            .collect();
        assert_eq!(summary, DEFAULT_DEVICES);
        for d in &devices {
            assert_eq!(
                (d.kind.as_str(), d.file_mode, d.uid, d.gid),
                ("c", 0o666, 0, 0)
            );
            assert_eq!(d.permissions, "rwm");
            assert!(d.allow);
        }
    }

    #[test]
    fn default_rules_are_runcs_allow_list() {
        let rules: Vec<String> = default_allowed_devices()
            .iter()
            .map(|d| {
                let n = |v: i64| {
                    if v == ANY {
                        "*".to_string()
                    } else {
                        v.to_string()
                    }
                };
                format!("{} {}:{} {}", d.kind, n(d.major), n(d.minor), d.permissions)
            })
            .collect();
        assert_eq!(
            rules,
            [
                "c *:* m",
                "b *:* m",
                "c 5:1 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 1:9 rwm",
                "c 1:8 rwm",
            ]
        );
        assert!(default_allowed_devices().iter().all(|d| d.allow));
    }

    #[test]
    fn default_capabilities_are_known_names() {
        let caps = default_capabilities();
        assert_eq!(caps.len(), 14);
        for name in &caps {
            assert!(caps::Capability::from_str(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn default_paths_are_runcs() {
        assert_eq!(default_masked_paths().len(), 10);
        assert!(default_masked_paths().contains(&"/proc/kcore".to_string()));
        assert_eq!(default_readonly_paths()[3], "/proc/sys");
    }
}
