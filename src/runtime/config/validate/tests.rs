//! One test per rule: a valid config with one thing broken, and the message
//! that must name its key. No root needed: the rootfs is a temp directory.

use crate::runtime::config::defaults::{default_allowed_devices, default_devices};
use crate::runtime::config::rlimits;
use crate::runtime::config::*;
use crate::runtime::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the temp dir, removed when dropped.
struct TempRootfs(PathBuf);

impl TempRootfs {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ctrsh-config-test-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).expect("create temp rootfs");
        TempRootfs(dir)
    }
}

impl Drop for TempRootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Validate a minimal valid config (just a rootfs) after `edit`; the error
/// message, if any. Also checks every failure is a config error.
fn check(edit: impl FnOnce(&mut Config, &std::path::Path)) -> Result<(), String> {
    let root = TempRootfs::new();
    // No namespaces unless a test adds them (absent, the key means the
    // defaults: see `defaults_are_runc_spec_namespaces`).
    let mut config = Config {
        rootfs: root.0.clone(),
        namespaces: Some(vec![]),
        ..Config::default()
    };
    edit(&mut config, &root.0);
    config.validate().map(drop).map_err(|e| {
        assert_eq!(e.kind, ErrorKind::Config, "{}", e.message);
        e.message
    })
}

#[track_caller]
fn assert_rejects(edit: impl FnOnce(&mut Config), expected_start: &str) {
    match check(|c, _| edit(c)) {
        Ok(()) => panic!("accepted, expected an error starting with {expected_start:?}"),
        Err(message) => assert!(
            message.starts_with(expected_start),
            "expected {expected_start:?}..., got {message:?}"
        ),
    }
}

#[track_caller]
fn assert_accepts(edit: impl FnOnce(&mut Config)) {
    if let Err(message) = check(|c, _| edit(c)) {
        panic!("rejected: {message}");
    }
}

fn ns(kinds: &[NamespaceKind]) -> Option<Vec<Namespace>> {
    Some(
        kinds
            .iter()
            .map(|&kind| Namespace { kind, path: None })
            .collect(),
    )
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn id_map(container_id: u32, host_id: u32, size: u32) -> IdMap {
    IdMap {
        container_id,
        host_id,
        size,
    }
}

fn mount(destination: &str, options: &[&str]) -> Mount {
    Mount {
        source: None,
        destination: destination.into(),
        kind: Some("tmpfs".into()),
        options: strings(options),
        propagation: None,
    }
}

fn device(kind: &str, path: Option<&str>, major: i64, minor: i64) -> Device {
    Device {
        kind: kind.into(),
        path: path.map(str::to_string),
        major,
        minor,
        permissions: "rwm".into(),
        file_mode: 0o666,
        uid: 0,
        gid: 0,
        allow: true,
    }
}

fn rlimit(kind: &str, soft: u64, hard: u64) -> Rlimit {
    Rlimit {
        kind: kind.into(),
        soft,
        hard,
    }
}

fn cgroups(edit: impl FnOnce(&mut Cgroups)) -> impl FnOnce(&mut Config) {
    move |c| {
        let mut cg = Cgroups::default();
        edit(&mut cg);
        c.cgroups = Some(cg);
    }
}

// ---- a whole config ----

#[test]
fn design_example_config_is_valid() {
    check(|c, root| {
        let json = serde_json::json!({
            "rootfs": root,
            "capabilities": ["CAP_CHOWN", "CAP_KILL"],
            "namespaces": ["mount", "uts", "ipc", "pid", "net"],
            "cgroups": {
                "name": "test-container", "parent": "system",
                "allow_all_devices": false,
                "allowed_devices": default_allowed_devices(),
                "memory": "256M", "pids_limit": 64, "cpu_shares": 512
            },
            "devices": default_devices(),
            "hostname": "testing",
            "networks": [{ "type": "loopback", "address": "127.0.0.1/0", "gateway": "localhost" }],
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
        });
        *c = serde_json::from_value(json).unwrap();
    })
    .unwrap();
}

#[test]
fn runc_spec_default_mounts_are_valid() {
    assert_accepts(|c| {
        c.mounts = vec![
            mount("/proc", &[]),
            mount(
                "/dev",
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
            ),
            mount(
                "/dev/pts",
                &[
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            ),
            mount(
                "/dev/shm",
                &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            ),
            mount("/sys", &["nosuid", "noexec", "nodev", "ro"]),
            mount(
                "/sys/fs/cgroup",
                &["nosuid", "noexec", "nodev", "relatime", "ro"],
            ),
        ]
    });
}

// ---- rootfs ----

#[test]
fn rootfs_is_required() {
    assert_rejects(|c| c.rootfs = PathBuf::new(), "rootfs: is required");
}

#[test]
fn rootfs_must_be_absolute() {
    assert_rejects(
        |c| c.rootfs = "rootfs".into(),
        "rootfs: 'rootfs' is not an absolute path",
    );
}

#[test]
fn rootfs_must_exist() {
    let message = check(|c, root| c.rootfs = root.join("missing")).unwrap_err();
    assert!(message.starts_with("rootfs: '"), "{message}");
    assert!(
        message.ends_with("No such file or directory (ENOENT)"),
        "{message}"
    );
}

#[test]
fn rootfs_must_be_a_directory() {
    let message = check(|c, root| {
        let file = root.join("file");
        std::fs::write(&file, "").unwrap();
        c.rootfs = file;
    })
    .unwrap_err();
    assert!(
        message.starts_with("rootfs: '") && message.ends_with("is not a directory"),
        "{message}"
    );
}

// ---- capabilities ----

#[test]
fn known_capabilities_are_accepted() {
    assert_accepts(|c| {
        c.capabilities = Some(Capabilities::All(
            crate::runtime::config::defaults::default_capabilities(),
        ))
    });
    assert_accepts(|c| c.capabilities = Some(Capabilities::All(vec![])));
}

#[test]
fn unknown_capability_is_named_with_a_suggestion() {
    assert_rejects(
        |c| c.capabilities = Some(Capabilities::All(strings(&["CAP_KILL", "CAP_CHOWM"]))),
        "capabilities[1]: unknown capability 'CAP_CHOWM' (did you mean 'CAP_CHOWN'?)",
    );
    // Lower-case or unprefixed names are not accepted, but suggested.
    assert_rejects(
        |c| c.capabilities = Some(Capabilities::All(strings(&["chown"]))),
        "capabilities[0]: unknown capability 'chown' (did you mean 'CAP_CHOWN'?)",
    );
    assert_rejects(
        |c| c.capabilities = Some(Capabilities::All(strings(&["cap_sys_admin"]))),
        "capabilities[0]: unknown capability 'cap_sys_admin' (did you mean 'CAP_SYS_ADMIN'?)",
    );
}

// ---- namespaces and id mappings ----

#[test]
fn duplicate_namespace_is_rejected() {
    use NamespaceKind::*;
    assert_rejects(
        |c| c.namespaces = ns(&[Pid, Mount, Pid]),
        "namespaces[2]: duplicate namespace 'pid' (already at namespaces[0])",
    );
}

#[test]
fn namespace_path_must_be_absolute() {
    assert_accepts(|c| {
        c.namespaces = Some(vec![Namespace {
            kind: NamespaceKind::Net,
            path: Some("/proc/1/ns/net".into()),
        }])
    });
    assert_rejects(
        |c| {
            c.namespaces = Some(vec![Namespace {
                kind: NamespaceKind::Net,
                path: Some("proc/1/ns/net".into()),
            }])
        },
        "namespaces[0].path: 'proc/1/ns/net' is not an absolute path",
    );
}

#[test]
fn mappings_need_a_user_namespace() {
    assert_rejects(
        |c| c.uid_mappings = vec![id_map(0, 1000, 1)],
        "uid_mappings: needs a \"user\" namespace",
    );
    assert_rejects(
        |c| c.gid_mappings = vec![id_map(0, 1000, 1)],
        "gid_mappings: needs a \"user\" namespace",
    );
}

#[test]
fn new_user_namespace_needs_mappings() {
    assert_rejects(
        |c| c.namespaces = ns(&[NamespaceKind::User, NamespaceKind::Ipc]),
        "uid_mappings: a new user namespace needs uid_mappings and gid_mappings",
    );
    assert_rejects(
        |c| {
            c.namespaces = ns(&[NamespaceKind::User, NamespaceKind::Ipc]);
            c.uid_mappings = vec![id_map(0, 100000, 65536)];
        },
        "gid_mappings: a new user namespace needs",
    );
    assert_accepts(|c| {
        c.namespaces = ns(&[NamespaceKind::User, NamespaceKind::Ipc]);
        c.uid_mappings = vec![id_map(0, 100000, 65536)];
        c.gid_mappings = vec![id_map(0, 100000, 65536)];
    });
}

#[test]
fn joined_user_namespace_takes_no_mappings() {
    let joined = || {
        vec![Namespace {
            kind: NamespaceKind::User,
            path: Some("/proc/1/ns/user".into()),
        }]
    };
    assert_accepts(|c| c.namespaces = Some(joined()));
    assert_rejects(
        |c| {
            c.namespaces = Some(joined());
            c.uid_mappings = vec![id_map(0, 1000, 1)];
        },
        "uid_mappings: cannot be set when joining an existing user namespace",
    );
}

fn with_user_ns(uid_mappings: Vec<IdMap>) -> impl FnOnce(&mut Config) {
    move |c| {
        c.namespaces = ns(&[NamespaceKind::User, NamespaceKind::Ipc]);
        c.uid_mappings = uid_mappings;
        c.gid_mappings = vec![id_map(0, 1000, 1)];
    }
}

#[test]
fn zero_size_mapping_is_rejected() {
    assert_rejects(
        with_user_ns(vec![id_map(0, 1000, 1), id_map(1, 2000, 0)]),
        "uid_mappings[1].size: must be at least 1",
    );
}

#[test]
fn mapping_past_the_last_id_is_rejected() {
    assert_rejects(
        with_user_ns(vec![id_map(0, u32::MAX - 10, 11)]),
        "uid_mappings[0]: host_id + size runs past the last id 4294967294",
    );
    assert_accepts(with_user_ns(vec![id_map(0, u32::MAX - 11, 11)]));
}

#[test]
fn overlapping_mappings_are_rejected() {
    assert_rejects(
        with_user_ns(vec![id_map(0, 1000, 10), id_map(5, 5000, 10)]),
        "uid_mappings[1]: container_id range overlaps uid_mappings[0]",
    );
    assert_rejects(
        with_user_ns(vec![id_map(0, 1000, 10), id_map(100, 1009, 1)]),
        "uid_mappings[1]: host_id range overlaps uid_mappings[0]",
    );
    assert_accepts(with_user_ns(vec![
        id_map(0, 1000, 10),
        id_map(10, 1010, 10),
    ]));
}

// ---- hostname and networks ----

#[test]
fn hostname_needs_uts_namespace() {
    assert_rejects(
        |c| c.hostname = Some("box".into()),
        "hostname: needs a \"uts\" namespace (add \"uts\" to namespaces)",
    );
    assert_accepts(|c| {
        c.namespaces = ns(&[NamespaceKind::Uts]);
        c.hostname = Some("box".into());
    });
}

#[test]
fn hostname_length_is_checked() {
    for name in [String::new(), "x".repeat(65)] {
        assert_rejects(
            |c| {
                c.namespaces = ns(&[NamespaceKind::Uts]);
                c.hostname = Some(name);
            },
            "hostname: must be 1 to 64 bytes long",
        );
    }
}

fn loopback(address: Option<&str>) -> Network {
    Network {
        kind: "loopback".into(),
        address: address.map(str::to_string),
        ..Network::default()
    }
}

#[test]
fn networks_need_net_namespace() {
    assert_rejects(
        |c| c.networks = vec![loopback(None)],
        "networks: needs a \"net\" namespace",
    );
}

#[test]
fn unknown_network_types_are_named() {
    assert_rejects(
        |c| {
            c.namespaces = ns(&[NamespaceKind::Net]);
            c.networks = vec![
                loopback(None),
                Network {
                    kind: "veth".into(),
                    ..loopback(None)
                },
            ];
        },
        "networks[1].type: unknown network type 'veth': one of \"loopback\", \"none\", \"bridge\", \"pasta\", \"host\", \"netns\"",
    );
    assert_rejects(
        |c| {
            c.namespaces = ns(&[NamespaceKind::Net]);
            c.networks = vec![Network {
                kind: "brige".into(),
                ..Network::default()
            }];
        },
        "networks[0].type: unknown network type 'brige' (did you mean 'bridge'?)",
    );
}

fn bridge() -> Network {
    Network {
        kind: "bridge".into(),
        ..Network::default()
    }
}

#[test]
fn bridge_networks_become_requests() {
    let mut c = Config {
        namespaces: ns(&[NamespaceKind::Net]),
        networks: vec![
            loopback(None),
            Network {
                name: Some("web0".into()),
                subnet: Some("10.88.0.0/24".into()),
                address: Some("10.88.0.7".into()),
                ipv6: Some(Ipv6::Subnet("fd88::/64".into())),
                mtu: Some(1400),
                ..bridge()
            },
        ],
        ..Config::default()
    };
    let checked = super::networks(&c).unwrap();
    let CheckedNetwork::Bridge(request) = &checked[1] else {
        panic!("{checked:?}")
    };
    assert_eq!(checked[0], CheckedNetwork::Loopback);
    assert_eq!(request.network, "web0");
    assert_eq!(request.address, Some("10.88.0.7".parse().unwrap()));
    assert_eq!(request.options.mtu, Some(1400));
    c.networks = vec![bridge()];
    let checked = super::networks(&c).unwrap();
    let CheckedNetwork::Bridge(request) = &checked[0] else {
        panic!("{checked:?}")
    };
    assert_eq!(request.network, "ctrsh0", "the default network");
    assert_eq!(request.address, None);
}

#[test]
fn a_netns_network_joins_its_path() {
    let c = Config {
        namespaces: ns(&[NamespaceKind::Mount, NamespaceKind::Net]),
        networks: vec![Network {
            kind: "netns".into(),
            path: Some("/run/netns/web".into()),
            ..Network::default()
        }],
        ..Config::default()
    };
    assert_eq!(super::networks(&c).unwrap(), vec![]);
    let joined = super::networks::namespaces(&c);
    assert_eq!(joined[1].path, Some("/run/netns/web".into()));
    assert_eq!(joined[0].path, None);
    assert_rejects(
        |c| {
            c.namespaces = ns(&[NamespaceKind::Net]);
            c.networks = vec![Network {
                kind: "netns".into(),
                ..Network::default()
            }];
        },
        "networks[0].path: is required",
    );
}

#[test]
fn bad_network_entries_are_named() {
    let with_net = |networks: Vec<Network>| {
        move |c: &mut Config| {
            c.namespaces = ns(&[NamespaceKind::Net]);
            c.networks = networks.clone();
        }
    };
    let cases = [
        (
            vec![Network { subnet: Some("10.88.0.5/24".into()), ..bridge() }],
            "networks[0]: network 'ctrsh0': subnet: '10.88.0.5/24' is not a network address (did you mean '10.88.0.0/24'?)",
        ),
        (
            vec![Network { subnet: Some("10.88.0/24".into()), ..bridge() }],
            "networks[0].subnet: '10.88.0/24' is not a subnet",
        ),
        (
            vec![Network { address: Some("10.88.0.300".into()), ..bridge() }],
            "networks[0].address: '10.88.0.300' is not an IP address",
        ),
        (
            vec![Network { name: Some("a/b".into()), ..bridge() }],
            "networks[0].name: 'a/b' is not an interface name",
        ),
        (
            vec![Network { subnet: Some("10.88.0.0/24".into()), ..loopback(None) }],
            "networks[0].subnet: a \"loopback\" network takes no subnet",
        ),
        (
            vec![bridge(), Network { kind: "pasta".into(), ..Network::default() }],
            "networks: one \"bridge\" or \"pasta\" network per container (it is eth0)",
        ),
        (
            vec![Network { kind: "host".into(), ..Network::default() }],
            "networks[0].type: \"host\" shares the host's network: remove \"net\" from namespaces",
        ),
    ];
    for (networks, message) in cases {
        assert_rejects(with_net(networks), message);
    }
    assert_accepts(|c| {
        c.networks = vec![Network {
            kind: "host".into(),
            ..Network::default()
        }]
    });
    assert_rejects(
        |c| {
            c.namespaces = ns(&[NamespaceKind::Net]);
            c.ports = vec![crate::runtime::network::Port {
                host: 8080,
                container: 80,
                protocol: Default::default(),
                host_ip: None,
            }];
        },
        "ports: need a \"bridge\" or \"pasta\" network to forward to (add one to networks)",
    );
}

#[test]
fn network_addresses_are_ip_or_cidr() {
    for good in [
        "127.0.0.1",
        "127.0.0.1/8",
        "127.0.0.1/0",
        "::1",
        "::1/128",
        "0::1/64",
    ] {
        assert_accepts(|c| {
            c.namespaces = ns(&[NamespaceKind::Net]);
            c.networks = vec![loopback(Some(good))];
        });
    }
    for bad in [
        "localhost",
        "127.0.0.1/33",
        "::1/129",
        "127.0.0.1/",
        "127.0.0.1/+8",
        "1.2.3/8",
    ] {
        assert_rejects(
            |c| {
                c.namespaces = ns(&[NamespaceKind::Net]);
                c.networks = vec![loopback(Some(bad))];
            },
            &format!("networks[0].address: '{bad}' is not an IPv4/IPv6 address or CIDR"),
        );
    }
}

#[test]
fn loopback_carries_only_its_own_addresses() {
    for other in ["10.0.0.1/8", "127.0.0.2", "fd00::1/64"] {
        assert_rejects(
            |c| {
                c.namespaces = ns(&[NamespaceKind::Net]);
                c.networks = vec![loopback(Some(other))];
            },
            &format!(
                "networks[0].address: '{other}': a loopback network carries 127.0.0.1 and ::1 only"
            ),
        );
    }
}

// ---- rlimits ----

#[test]
fn every_linux_rlimit_is_known() {
    assert_accepts(|c| {
        c.rlimits = rlimits::Resource::names()
            .iter()
            .map(|n| rlimit(n, 1, 2))
            .collect()
    });
}

#[test]
fn unknown_rlimit_is_named_with_a_suggestion() {
    assert_rejects(
        |c| c.rlimits = vec![rlimit("RLIMIT_NOFLE", 1024, 1024)],
        "rlimits[0].type: unknown rlimit 'RLIMIT_NOFLE' (did you mean 'RLIMIT_NOFILE'?)",
    );
    assert_rejects(
        |c| c.rlimits = vec![rlimit("RLIMIT_CORE", 0, 0), rlimit("files", 1, 1)],
        "rlimits[1].type: unknown rlimit 'files'",
    );
}

#[test]
fn duplicate_rlimit_is_rejected() {
    assert_rejects(
        |c| c.rlimits = vec![rlimit("RLIMIT_NOFILE", 1, 1), rlimit("RLIMIT_NOFILE", 2, 2)],
        "rlimits[1].type: duplicate rlimit 'RLIMIT_NOFILE' (already at rlimits[0])",
    );
}

#[test]
fn rlimit_soft_above_hard_is_rejected() {
    assert_rejects(
        |c| c.rlimits = vec![rlimit("RLIMIT_NOFILE", 2048, 1024)],
        "rlimits[0]: soft limit 2048 is above hard limit 1024",
    );
}

// ---- mounts ----

#[test]
fn mount_destination_must_be_absolute() {
    assert_rejects(
        |c| c.mounts = vec![mount("/tmp", &[]), mount("tmp", &[])],
        "mounts[1].destination: 'tmp' is not an absolute path",
    );
}

#[test]
fn unknown_mount_option_is_named() {
    assert_rejects(
        |c| c.mounts = vec![mount("/tmp", &["nosiud"])],
        "mounts[0].options: unknown mount option 'nosiud' (did you mean 'nosuid'?)",
    );
}

#[test]
fn unknown_propagation_is_named() {
    assert_rejects(
        |c| {
            c.mounts = vec![Mount {
                propagation: Some("rslaev".into()),
                ..mount("/tmp", &["bind"])
            }]
        },
        "mounts[0].propagation: unknown propagation 'rslaev' (did you mean 'rslave'?)",
    );
}

#[test]
fn a_bind_mount_source_must_exist_on_the_host() {
    assert_rejects(
        |c| {
            c.mounts = vec![Mount {
                source: Some("/nonexistent/ctrsh-bind-source".into()),
                ..mount("/x", &["bind"])
            }]
        },
        "mounts[0].source: '/nonexistent/ctrsh-bind-source': No such file or directory (ENOENT) (a bind mount's source is a path on the host)",
    );
}

#[test]
fn device_numbers_fit_the_kernel_s_dev_t() {
    assert_accepts(|c| c.devices = Some(vec![device("c", Some("/dev/x"), 4095, 1048575)]));
    assert_rejects(
        |c| {
            c.devices = Some(vec![
                device("c", Some("/dev/x"), 1, 3),
                device("c", Some("/dev/y"), 4096, 0),
            ])
        },
        "devices[1].major: 4096 is out of range (0 to 4095)",
    );
    assert_rejects(
        |c| c.devices = Some(vec![device("b", Some("/dev/x"), 1, 1048576)]),
        "devices[0].minor: 1048576 is out of range (0 to 1048575)",
    );
}

// ---- devices ----

#[test]
fn device_node_types() {
    assert_accepts(|c| {
        c.devices = Some(vec![
            device("c", Some("/dev/null"), 1, 3),
            device("b", Some("/dev/loop0"), 7, 0),
            device("p", Some("/dev/fifo"), 0, 0),
        ])
    });
    assert_rejects(
        |c| c.devices = Some(vec![device("a", Some("/dev/all"), 1, 3)]),
        "devices[0].type: 'a' (all devices) is only valid in cgroups.allowed_devices",
    );
    assert_rejects(
        |c| c.devices = Some(vec![device("x", Some("/dev/x"), 1, 3)]),
        "devices[0].type: unknown device type 'x'",
    );
}

#[test]
fn device_node_path_is_required_and_under_dev() {
    assert_rejects(
        |c| c.devices = Some(vec![device("c", None, 1, 3)]),
        "devices[0].path: is required for a device node",
    );
    for bad in [
        "/etc/null",
        "dev/null",
        "/dev",
        "/dev/../etc/passwd",
        "/devices/x",
    ] {
        assert_rejects(
            |c| c.devices = Some(vec![device("c", Some(bad), 1, 3)]),
            &format!("devices[0].path: '{bad}' is not a path under /dev"),
        );
    }
    assert_accepts(|c| c.devices = Some(vec![device("c", Some("/dev/net/tun"), 10, 200)]));
}

#[test]
fn device_node_numbers_are_not_wildcards() {
    assert_rejects(
        |c| c.devices = Some(vec![device("c", Some("/dev/pts0"), 136, -1)]),
        "devices[0].minor: -1 is not a device number",
    );
}

#[test]
fn device_permissions_are_some_of_rwm() {
    for bad in ["", "rwx", "a"] {
        assert_rejects(
            |c| {
                c.devices = Some(vec![Device {
                    permissions: bad.into(),
                    ..device("c", Some("/dev/null"), 1, 3)
                }])
            },
            &format!("devices[0].permissions: '{bad}' is not some of \"rwm\""),
        );
    }
    assert_accepts(|c| {
        c.devices = Some(vec![Device {
            permissions: "rw".into(),
            ..device("c", Some("/dev/null"), 1, 3)
        }])
    });
}

#[test]
fn device_file_mode_is_permission_bits() {
    assert_rejects(
        |c| {
            c.devices = Some(vec![Device {
                file_mode: 0o20666,
                ..device("c", Some("/dev/null"), 1, 3)
            }])
        },
        "devices[0].file_mode: 0o20666 has bits outside the permission bits",
    );
}

#[test]
fn cgroup_device_rules() {
    assert_accepts(cgroups(|cg| {
        cg.allowed_devices = Some(vec![device("a", None, -1, -1), device("b", None, 8, -1)])
    }));
    assert_rejects(
        cgroups(|cg| cg.allowed_devices = Some(vec![device("p", None, 0, 0)])),
        "cgroups.allowed_devices[0].type: 'p' is not a cgroup device type",
    );
    assert_rejects(
        cgroups(|cg| cg.allowed_devices = Some(vec![device("c", None, -2, 0)])),
        "cgroups.allowed_devices[0].major: -2 is not a device number",
    );
    assert_rejects(
        cgroups(|cg| {
            cg.allowed_devices = Some(vec![Device {
                permissions: "rwmx".into(),
                ..device("c", None, 1, 3)
            }])
        }),
        "cgroups.allowed_devices[0].permissions: 'rwmx'",
    );
}

// ---- masked and read-only paths ----

#[test]
fn masked_and_readonly_paths_are_absolute() {
    assert_rejects(
        |c| c.masked_paths = Some(strings(&["/proc/kcore", "proc/keys"])),
        "masked_paths[1]: 'proc/keys' is not an absolute path",
    );
    assert_rejects(
        |c| c.readonly_paths = Some(strings(&["proc/sys"])),
        "readonly_paths[0]: 'proc/sys' is not an absolute path",
    );
}

// ---- sysctl ----

fn with_sysctl(name: &str, namespaces: &[NamespaceKind]) -> impl FnOnce(&mut Config) {
    let name = name.to_string();
    let namespaces = ns(namespaces);
    move |c| {
        c.namespaces = namespaces;
        c.sysctl.insert(name, "1".into());
    }
}

#[test]
fn namespaced_sysctls_need_their_namespace() {
    use NamespaceKind::*;
    for (name, kind) in [
        ("kernel.shmmax", Ipc),
        ("kernel.msgmnb", Ipc),
        ("kernel.sem", Ipc),
        ("fs.mqueue.msg_max", Ipc),
        ("net.ipv4.ip_forward", Net),
        ("kernel.domainname", Uts),
    ] {
        assert_accepts(with_sysctl(name, &[kind]));
        assert_rejects(
            with_sysctl(name, &[]),
            &format!("sysctl[\"{name}\"]: needs a \"{}\" namespace", kind.name()),
        );
    }
}

/// The namespaces sysctls can belong to (all of them: the check is on the name).
const SYSCTL_NAMESPACES: [NamespaceKind; 3] =
    [NamespaceKind::Ipc, NamespaceKind::Net, NamespaceKind::Uts];

#[test]
fn host_sysctls_are_rejected() {
    assert_rejects(
        with_sysctl("vm.swappiness", &SYSCTL_NAMESPACES),
        "sysctl[\"vm.swappiness\"]: is not namespaced",
    );
    assert_rejects(
        with_sysctl("kernel.hostname", &SYSCTL_NAMESPACES),
        "sysctl[\"kernel.hostname\"]: conflicts with the hostname key",
    );
}

#[test]
fn sysctl_names_cannot_escape_proc_sys() {
    for bad in ["net.ipv4/../../x", "net..x", "net.", ""] {
        assert_rejects(
            with_sysctl(bad, &SYSCTL_NAMESPACES),
            &format!("sysctl[\"{bad}\"]: is not a sysctl name"),
        );
    }
}

// ---- oom_score_adj ----

#[test]
fn oom_score_adj_range() {
    assert_accepts(|c| c.oom_score_adj = Some(-1000));
    assert_accepts(|c| c.oom_score_adj = Some(1000));
    assert_rejects(
        |c| c.oom_score_adj = Some(1001),
        "oom_score_adj: 1001 is outside -1000..=1000",
    );
    assert_rejects(|c| c.oom_score_adj = Some(-1001), "oom_score_adj: -1001");
}

// ---- cgroups ----

#[test]
fn cgroup_names_cannot_climb() {
    assert_accepts(cgroups(|cg| {
        cg.name = Some("a/b".into());
        cg.parent = Some("/system.slice".into());
    }));
    assert_rejects(
        cgroups(|cg| cg.name = Some("../escape".into())),
        "cgroups.name: '../escape' must not contain '..'",
    );
    assert_rejects(
        cgroups(|cg| cg.parent = Some("/a/../../b".into())),
        "cgroups.parent: '/a/../../b' must not contain '..'",
    );
    assert_rejects(
        cgroups(|cg| cg.path = Some("x/..".into())),
        "cgroups.path: 'x/..' must not contain '..'",
    );
    assert_rejects(
        cgroups(|cg| cg.name = Some(String::new())),
        "cgroups.name: is empty",
    );
}

#[test]
fn cgroup_name_is_relative_and_path_stands_alone() {
    assert_rejects(
        cgroups(|cg| cg.name = Some("/abs".into())),
        "cgroups.name: '/abs' must be relative to cgroups.parent",
    );
    assert_rejects(
        cgroups(|cg| {
            cg.path = Some("/a/b".into());
            cg.name = Some("b".into());
        }),
        "cgroups.path: is the full path and cannot be combined",
    );
}

#[test]
fn cpu_shares_minimum() {
    assert_accepts(cgroups(|cg| cg.cpu_shares = Some(2)));
    assert_rejects(
        cgroups(|cg| cg.cpu_shares = Some(1)),
        "cgroups.cpu_shares: 1 is below the minimum of 2",
    );
}

#[test]
fn cpu_quota_and_period_ranges() {
    assert_accepts(cgroups(|cg| {
        cg.cpu_quota = Some(-1);
        cg.cpu_period = Some(100_000);
    }));
    assert_accepts(cgroups(|cg| cg.cpu_quota = Some(50_000)));
    for bad in [-2, 0, 999] {
        assert_rejects(
            cgroups(|cg| cg.cpu_quota = Some(bad)),
            &format!("cgroups.cpu_quota: {bad} is not -1 (unlimited) or at least 1000"),
        );
    }
    for bad in [999, 1_000_001] {
        assert_rejects(
            cgroups(|cg| cg.cpu_period = Some(bad)),
            &format!("cgroups.cpu_period: {bad} is outside 1000..=1000000"),
        );
    }
}

#[test]
fn negative_sizes_are_rejected() {
    assert_rejects(
        cgroups(|cg| cg.memory = Some(Size(-1))),
        "cgroups.memory: -1 is negative",
    );
    assert_rejects(
        cgroups(|cg| cg.memory_reservation = Some(Size(-5))),
        "cgroups.memory_reservation: -5 is negative",
    );
    assert_rejects(
        cgroups(|cg| cg.memory_swap = Some(Size(-2))),
        "cgroups.memory_swap: -2 is negative (-1 means unlimited)",
    );
    assert_accepts(cgroups(|cg| {
        cg.memory = Some(Size(1 << 28));
        cg.memory_swap = Some(Size(-1));
    }));
}

#[test]
fn memory_swap_includes_memory() {
    assert_rejects(
        cgroups(|cg| {
            cg.memory = Some(Size(200));
            cg.memory_swap = Some(Size(100));
        }),
        "cgroups.memory_swap: 100 is below cgroups.memory 200",
    );
    assert_accepts(cgroups(|cg| {
        cg.memory = Some(Size(200));
        cg.memory_swap = Some(Size(200));
    }));
}

#[test]
fn pids_limit_minimum() {
    for ok in [-1, 0, 64] {
        assert_accepts(cgroups(|cg| cg.pids_limit = Some(ok)));
    }
    assert_rejects(
        cgroups(|cg| cg.pids_limit = Some(-2)),
        "cgroups.pids_limit: -2 is not a limit",
    );
}

#[test]
fn blkio_weight_range() {
    assert_accepts(cgroups(|cg| cg.blkio_weight = Some(10)));
    assert_accepts(cgroups(|cg| cg.blkio_weight = Some(1000)));
    for bad in [0, 9, 1001] {
        assert_rejects(
            cgroups(|cg| cg.blkio_weight = Some(bad)),
            &format!("cgroups.blkio_weight: {bad} is outside 10..=1000"),
        );
    }
}

fn throttle(major: i64, minor: i64, rate: u64) -> ThrottleDevice {
    ThrottleDevice { major, minor, rate }
}

#[test]
fn block_io_devices() {
    let weight = |major, minor, weight| WeightDevice {
        major,
        minor,
        weight,
    };
    assert_accepts(cgroups(|cg| {
        cg.blkio_weight_device = vec![weight(8, 0, 10), weight(8, 16, 1000)];
        cg.blkio_throttle_read_bps_device = vec![throttle(8, 0, 0), throttle(4095, 1048575, 1)];
        // One device in several lists.
        cg.blkio_throttle_write_iops_device = vec![throttle(8, 0, 100)];
    }));
    assert_rejects(
        cgroups(|cg| cg.blkio_weight_device = vec![weight(8, 0, 500), weight(8, 0, 9)]),
        "cgroups.blkio_weight_device[1]: device 8:0 is already at [0]",
    );
    assert_rejects(
        cgroups(|cg| cg.blkio_weight_device = vec![weight(8, 0, 9)]),
        "cgroups.blkio_weight_device[0].weight: 9 is outside 10..=1000",
    );
    assert_rejects(
        cgroups(|cg| cg.blkio_throttle_write_bps_device = vec![throttle(-1, 0, 5)]),
        "cgroups.blkio_throttle_write_bps_device[0].major: -1 is outside 0..=4095",
    );
    assert_rejects(
        cgroups(|cg| cg.blkio_throttle_read_iops_device = vec![throttle(7, 1 << 20, 5)]),
        "cgroups.blkio_throttle_read_iops_device[0].minor: 1048576 is outside 0..=1048575",
    );
}

/// The checked throttles (rate 0: no limit), and what an update writes:
/// a device left out is lifted; a per-device weight left out is refused.
#[test]
fn block_io_limits_and_their_update() {
    let device = |major, minor| BlockDevice { major, minor };
    let before = Cgroups {
        blkio_throttle_read_bps_device: vec![throttle(7, 0, 1 << 20), throttle(7, 1, 0)],
        blkio_weight_device: vec![WeightDevice {
            major: 7,
            minor: 0,
            weight: 500,
        }],
        ..Cgroups::default()
    };
    let before_limits = Limits::from(&before);
    assert_eq!(
        before_limits.blkio_throttle,
        [
            Throttle {
                kind: ThrottleKind::ReadBps,
                device: device(7, 0),
                rate: Some(1 << 20)
            },
            Throttle {
                kind: ThrottleKind::ReadBps,
                device: device(7, 1),
                rate: None
            },
        ]
    );
    let mut after = before.clone();
    after.blkio_throttle_read_bps_device = vec![throttle(7, 1, 4096)];
    after.blkio_throttle_write_bps_device = vec![throttle(7, 0, 8192)];
    let written = Limits::from(&after).update_from(&before_limits).unwrap();
    let rates: Vec<_> = written
        .blkio_throttle
        .iter()
        .map(|t| (t.kind, t.device, t.rate))
        .collect();
    assert_eq!(
        rates,
        [
            (ThrottleKind::ReadBps, device(7, 1), Some(4096)),
            (ThrottleKind::WriteBps, device(7, 0), Some(8192)),
            (ThrottleKind::ReadBps, device(7, 0), None),
        ]
    );
    after.blkio_weight_device.clear();
    let e = Limits::from(&after)
        .update_from(&before_limits)
        .unwrap_err();
    assert!(
        e.message.starts_with(
            "cgroups.blkio_weight_device: an update cannot remove the weight of device 7:0"
        ),
        "{e}"
    );
}

#[test]
fn cpuset_lists() {
    for good in ["0", "0-1,3", "0-3,5,7-8", "2-2"] {
        assert_accepts(cgroups(|cg| {
            cg.cpuset_cpus = Some(good.into());
            cg.cpuset_mems = Some(good.into());
        }));
    }
    for bad in ["", "a", "1-", "-1", "3-1", "0,,1", "0 - 1", "0-1-2"] {
        assert_rejects(
            cgroups(|cg| cg.cpuset_cpus = Some(bad.into())),
            &format!("cgroups.cpuset_cpus: '{bad}' is not a list like \"0-1,3\""),
        );
    }
    assert_rejects(
        cgroups(|cg| cg.cpuset_mems = Some("x".into())),
        "cgroups.cpuset_mems: 'x'",
    );
}

fn hugetlb(page_size: &str, limit: i64) -> HugetlbLimit {
    HugetlbLimit {
        page_size: page_size.into(),
        limit: Size(limit),
    }
}

#[test]
fn hugetlb_page_sizes() {
    assert_accepts(cgroups(|cg| {
        cg.hugetlb_limits = vec![
            hugetlb("2MB", 0),
            hugetlb("1GB", 1 << 30),
            hugetlb("64KB", 0),
        ]
    }));
    for bad in ["2M", "2mb", "MB", "0MB", "02MB", "1.5GB", "2 MB"] {
        assert_rejects(
            cgroups(|cg| cg.hugetlb_limits = vec![hugetlb(bad, 0)]),
            &format!("cgroups.hugetlb_limits[0].page_size: '{bad}' is not a hugetlb page size"),
        );
    }
    assert_rejects(
        cgroups(|cg| cg.hugetlb_limits = vec![hugetlb("2MB", -1)]),
        "cgroups.hugetlb_limits[0].limit: -1 is negative",
    );
}

/// The checked config of a minimal config after `edit`.
fn checked(edit: impl FnOnce(&mut Config)) -> CheckedConfig {
    let root = TempRootfs::new();
    let mut config = Config {
        rootfs: root.0.clone(),
        ..Config::default()
    };
    edit(&mut config);
    config.validate().expect("a valid config")
}

fn destinations(mounts: &[CheckedMount]) -> Vec<String> {
    mounts
        .iter()
        .map(|m| m.destination.display().to_string())
        .collect()
}

#[test]
fn a_mount_replaces_the_builtin_at_its_destination_and_dev_those_below() {
    let all = [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
    ];
    assert_eq!(destinations(&checked(|_| {}).builtin_mounts), all);
    let c = checked(|c| c.mounts = vec![mount("/dev", &[]), mount("/sys", &["ro"])]);
    assert_eq!(destinations(&c.builtin_mounts), ["/proc"]);
    assert_eq!(destinations(&c.mounts), ["/dev", "/sys"]);
}

#[test]
fn a_cgroup_mount_and_root_propagation_are_typed() {
    let c = checked(|c| {
        c.mounts = vec![Mount {
            kind: Some("cgroup".into()),
            ..mount("/sys/fs/cgroup", &["ro"])
        }];
        c.root_propagation = Some("rshared".into());
    });
    assert_eq!(c.mounts[0].kind, MountKind::Cgroup);
    assert_eq!(
        c.root_propagation,
        Some(libc::MS_SHARED | libc::MS_REC),
        "rshared"
    );
    assert_eq!(checked(|_| {}).root_propagation, None);
}

#[test]
fn capability_sets_are_parsed_for_the_config_and_its_process() {
    use caps::Capability::{CAP_CHOWN, CAP_KILL};
    let c = checked(|c| {
        c.capabilities = Some(Capabilities::Sets(CapabilitySets {
            bounding: strings(&["CAP_CHOWN", "CAP_KILL"]),
            ambient: strings(&["CAP_KILL"]),
            ..CapabilitySets::default()
        }));
        c.process = Some(crate::runtime::ProcessSpec {
            args: strings(&["sh"]),
            capabilities: Some(Capabilities::All(strings(&["CAP_CHOWN"]))),
            ..Default::default()
        });
    });
    assert_eq!(c.capabilities.bounding, [CAP_CHOWN, CAP_KILL].into());
    assert_eq!(c.capabilities.ambient, [CAP_KILL].into());
    assert!(c.capabilities.effective.is_empty());
    let process = c.process.expect("the process");
    let sets = process.capabilities.expect("its own capabilities");
    assert_eq!(sets.permitted, [CAP_CHOWN].into());
    assert_rejects(
        |c| {
            c.process = Some(crate::runtime::ProcessSpec {
                args: strings(&["sh"]),
                capabilities: Some(Capabilities::Sets(CapabilitySets {
                    ambient: strings(&["CAP_CHOWM"]),
                    ..CapabilitySets::default()
                })),
                ..Default::default()
            })
        },
        "process: capabilities.ambient[0]: unknown capability 'CAP_CHOWM' (did you mean 'CAP_CHOWN'?)",
    );
}

#[test]
fn defaults_are_runc_spec_namespaces() {
    use NamespaceKind::*;
    let root = TempRootfs::new();
    let validate = |networks: Vec<Network>| {
        Config {
            rootfs: root.0.clone(),
            networks,
            ..Config::default()
        }
        .validate()
        .unwrap()
    };
    let kinds = |c: &CheckedConfig| c.namespaces.iter().map(|n| n.kind).collect::<Vec<_>>();
    let plain = validate(vec![]);
    assert_eq!(kinds(&plain), [Mount, Uts, Ipc, Pid, Net]);
    assert_eq!(plain.networks, [CheckedNetwork::Loopback]);
    let host = validate(vec![Network {
        kind: "host".into(),
        ..Network::default()
    }]);
    assert_eq!(kinds(&host), [Mount, Uts, Ipc, Pid]);
    assert!(host.networks.is_empty());
}

#[test]
fn a_user_namespace_needs_an_ipc_namespace_for_mqueue() {
    use NamespaceKind::*;
    let user = |c: &mut Config, kinds: &[NamespaceKind]| {
        c.namespaces = ns(kinds);
        c.uid_mappings = vec![id_map(0, 100000, 65536)];
        c.gid_mappings = vec![id_map(0, 100000, 65536)];
    };
    assert_rejects(
        |c| user(c, &[User, Mount, Pid]),
        "namespaces: a new \"user\" namespace needs a new \"ipc\" namespace for the mqueue mount on /dev/mqueue (add \"ipc\" to namespaces)",
    );
    assert_accepts(|c| user(c, &[User, Mount, Pid, Ipc]));
}

#[test]
fn init_needs_a_new_pid_namespace_and_stop_signal_a_signal() {
    assert_rejects(
        |c| {
            c.init = true;
            c.namespaces = ns(&[NamespaceKind::Mount]);
        },
        "init: needs a new \"pid\" namespace",
    );
    assert_accepts(|c| {
        c.init = true;
        c.namespaces = ns(&[NamespaceKind::Mount, NamespaceKind::Pid]);
    });
    assert_rejects(
        |c| c.stop_signal = Some("SIGNOPE".into()),
        "stop_signal: unknown signal 'SIGNOPE'",
    );
    assert_accepts(|c| c.stop_signal = Some("QUIT".into()));
}
