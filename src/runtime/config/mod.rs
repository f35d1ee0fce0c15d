//! The container config: libcontainer's fields in snake_case.
//!
//! Deserialised with serde (from Rhai object maps in the script layer, from
//! JSON in a checkpoint); `validate()` checks what serde cannot, naming the
//! offending key, before anything touches the kernel, and returns the
//! `CheckedConfig` of typed values that the rest of the runtime uses.

use crate::runtime::seccomp::Seccomp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod checked;
pub(crate) mod defaults;
pub(crate) mod mount_options;
mod process;
mod rlimits;
mod validate;

pub use checked::*;
pub use process::{check_args, check_spec, CheckedProcess, ProcessSpec, Stdio, DEFAULT_PATH};
pub(crate) use validate::capabilities as check_capabilities;
#[cfg(test)]
pub(crate) use validate::device_rule;
pub(crate) use validate::HOST_NAME_MAX;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Absolute path of the container's root filesystem (this or `image`).
    pub rootfs: PathBuf,
    /// An image in the image store, by name ("alpine:3.20") or id: the
    /// container gets a copy-on-write root filesystem of its layers (see
    /// docs/images.md), and its processes the image's defaults.
    pub image: Option<String>,
    /// No writes to the root filesystem (an image's gets no upper dir).
    pub readonly_rootfs: bool,
    /// Capability names ("CAP_CHOWN") for every set, or one list per set;
    /// `None` means `default_capabilities()`.
    pub capabilities: Option<Capabilities>,
    /// Namespaces to create (or join, with a `path`); `None` means
    /// `defaults::default_namespaces()` (runc's spec: mount, uts, ipc, pid,
    /// and net unless the container is on the "host" network).
    pub namespaces: Option<Vec<Namespace>>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    pub cgroups: Option<Cgroups>,
    /// Device nodes created in /dev; `None` means `default_devices()`.
    pub devices: Option<Vec<Device>>,
    pub mounts: Vec<Mount>,
    pub hostname: Option<String>,
    pub networks: Vec<Network>,
    /// Ports of the host forwarded to the container (its bridge or pasta
    /// network).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<crate::runtime::network::Port>,
    pub rlimits: Vec<Rlimit>,
    /// Paths hidden from the container; `None` means runc's defaults.
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only; `None` means runc's defaults.
    pub readonly_paths: Option<Vec<String>>,
    pub no_new_privileges: bool,
    pub sysctl: BTreeMap<String, String>,
    pub oom_score_adj: Option<i32>,
    /// "default" (the default when absent), "unconfined", or an OCI-shaped
    /// profile map: see docs/seccomp.md.
    pub seccomp: Option<Seccomp>,
    /// The container's own first process (an OCI bundle's `process`): its
    /// stdio is opened at create and handed to the init, and `start`
    /// without a process runs it.
    pub process: Option<ProcessSpec>,
    pub hooks: Hooks,
    /// Free-form labels, shown in the OCI state and given to hooks.
    pub annotations: BTreeMap<String, String>,
    /// The OCI bundle the config came from, for the OCI state and hooks.
    pub bundle: Option<PathBuf>,
    /// Propagation of the container's mounts: "rprivate", "rslave" (the
    /// default), "rshared" and their non-recursive forms.
    pub root_propagation: Option<String>,
    /// Enter the rootfs with MS_MOVE and chroot instead of pivot_root (for
    /// a rootfs on a ramdisk, where pivot_root cannot work).
    pub no_pivot_root: bool,
    /// ctrsh's init stays as PID 1 (see init/pid1.rs), as `docker run
    /// --init` puts tini there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// The signal `stop` sends first ("SIGQUIT", "QUIT", "3"); absent, the
    /// image's StopSignal, else SIGTERM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// Capabilities: one list for all five sets, or a list per set. A set
/// left out of the map is empty.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Capabilities {
    All(Vec<String>),
    Sets(CapabilitySets),
}

/// The five capability sets of a process, each a `T`: by name as the
/// config gives them, or parsed (`CapSets`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapabilitySets<T = Vec<String>> {
    pub bounding: T,
    pub effective: T,
    pub inheritable: T,
    pub permitted: T,
    pub ambient: T,
}

impl<T: Clone> CapabilitySets<T> {
    /// `set` as each of the five.
    pub fn all(set: T) -> CapabilitySets<T> {
        CapabilitySets {
            bounding: set.clone(),
            effective: set.clone(),
            inheritable: set.clone(),
            permitted: set.clone(),
            ambient: set,
        }
    }
}

impl<T> CapabilitySets<T> {
    /// Each set turned by `convert`, which is given the set's name; the
    /// first error stops.
    pub fn try_map<U, E>(
        &self,
        convert: impl Fn(&str, &T) -> Result<U, E>,
    ) -> Result<CapabilitySets<U>, E> {
        Ok(CapabilitySets {
            bounding: convert("bounding", &self.bounding)?,
            effective: convert("effective", &self.effective)?,
            inheritable: convert("inheritable", &self.inheritable)?,
            permitted: convert("permitted", &self.permitted)?,
            ambient: convert("ambient", &self.ambient)?,
        })
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // By hand rather than untagged, so that a misspelt set name is
        // reported as such (serde's "unknown field") and not as "no variant
        // matched".
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Capabilities;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a list of capability names, or a map of sets \
                     (bounding, effective, inheritable, permitted, ambient)",
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Capabilities::All)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                CapabilitySets::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Capabilities::Sets)
            }
        }
        d.deserialize_any(V)
    }
}

impl Capabilities {
    /// The five sets, by name.
    pub fn sets(&self) -> CapabilitySets {
        match self {
            Capabilities::All(names) => CapabilitySets::all(names.clone()),
            Capabilities::Sets(sets) => sets.clone(),
        }
    }
}

/// Programs run at points of the container's life, each with the
/// container's OCI state as JSON on its stdin (the OCI runtime spec's hooks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hooks {
    /// At create, in ctrsh's namespaces, once the container's namespaces
    /// exist (the spec's deprecated name for create_runtime; run first).
    pub prestart: Vec<Hook>,
    /// At create, in ctrsh's namespaces, before pivot_root.
    pub create_runtime: Vec<Hook>,
    /// At create, in the container's namespaces, before pivot_root.
    pub create_container: Vec<Hook>,
    /// At start, in the container, right before the process runs.
    pub start_container: Vec<Hook>,
    /// After start, in ctrsh's namespaces; a failure is only a warning.
    pub poststart: Vec<Hook>,
    /// After the container is destroyed; a failure is only a warning.
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Absolute path of the program.
    pub path: PathBuf,
    /// Its argv, argv[0] included (default: just `path`).
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds after which it is killed and counts as failed.
    #[serde(default)]
    pub timeout: Option<u32>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self == &Hooks::default()
    }
}

/// A namespace by name, optionally joined from an existing one at `path`.
/// Written in scripts as `"pid"` or `#{ type: "net", path: "/proc/1/ns/net" }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: NamespaceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKind {
    Mount,
    Uts,
    Ipc,
    Pid,
    Net,
    User,
    Cgroup,
}

impl NamespaceKind {
    pub const ALL: [NamespaceKind; 7] = [
        NamespaceKind::User,
        NamespaceKind::Mount,
        NamespaceKind::Uts,
        NamespaceKind::Ipc,
        NamespaceKind::Pid,
        NamespaceKind::Net,
        NamespaceKind::Cgroup,
    ];

    /// The config name ("mount").
    pub fn name(self) -> &'static str {
        match self {
            NamespaceKind::Mount => "mount",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Net => "net",
            NamespaceKind::User => "user",
            NamespaceKind::Cgroup => "cgroup",
        }
    }

    /// The kind with config name `name` ("mount", not "mnt").
    pub fn from_name(name: &str) -> Option<NamespaceKind> {
        NamespaceKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The file name under /proc/<pid>/ns/.
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceKind::Mount => "mnt",
            other => other.name(),
        }
    }

    pub fn clone_flag(self) -> libc::c_int {
        match self {
            NamespaceKind::Mount => libc::CLONE_NEWNS,
            NamespaceKind::Uts => libc::CLONE_NEWUTS,
            NamespaceKind::Ipc => libc::CLONE_NEWIPC,
            NamespaceKind::Pid => libc::CLONE_NEWPID,
            NamespaceKind::Net => libc::CLONE_NEWNET,
            NamespaceKind::User => libc::CLONE_NEWUSER,
            NamespaceKind::Cgroup => libc::CLONE_NEWCGROUP,
        }
    }
}

impl<'de> Deserialize<'de> for Namespace {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        // Names are read as strings and matched here, not by serde, so that
        // an unknown one can be named with a suggestion.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            path: Option<PathBuf>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Name(String),
            Full(Full),
        }
        let (name, path) = match Either::deserialize(d).map_err(|_| {
            D::Error::custom(
                "expected a namespace name (mount, uts, ipc, pid, net, user, cgroup) \
                 or #{ type: name, path: \"/proc/<pid>/ns/<name>\" }",
            )
        })? {
            Either::Name(name) => (name, None),
            Either::Full(full) => (full.kind, full.path),
        };
        let kind = NamespaceKind::from_name(&name).ok_or_else(|| {
            let names = NamespaceKind::ALL.map(NamespaceKind::name);
            D::Error::custom(format!(
                "unknown namespace '{name}'{} (known: {})",
                crate::runtime::suggest::did_you_mean(&name, &names),
                names.join(", ")
            ))
        })?;
        Ok(Namespace { kind, path })
    }
}

/// One line of /proc/<pid>/uid_map or gid_map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// A byte count: an integer or a string with a K, M, G or T suffix ("256M").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Size(pub i64);

/// Where the container's cgroup is and what limits it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cgroups {
    /// The cgroup's name under `parent` (default: the container id).
    pub name: Option<String>,
    /// The parent path; relative to the caller's own cgroup unless absolute.
    pub parent: Option<String>,
    /// The full path, instead of parent + name.
    pub path: Option<String>,
    /// false: deny every device except `allowed_devices`.
    pub allow_all_devices: Option<bool>,
    /// Device rules; `None` means `default_allowed_devices()`.
    pub allowed_devices: Option<Vec<Device>>,
    pub memory: Option<Size>,
    pub memory_reservation: Option<Size>,
    pub memory_swap: Option<Size>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    /// Weights of single block devices, as `blkio_weight`.
    pub blkio_weight_device: Vec<WeightDevice>,
    /// Rate limits of single block devices (bytes or I/O operations per
    /// second); a rate of 0 is no limit.
    pub blkio_throttle_read_bps_device: Vec<ThrottleDevice>,
    pub blkio_throttle_write_bps_device: Vec<ThrottleDevice>,
    pub blkio_throttle_read_iops_device: Vec<ThrottleDevice>,
    pub blkio_throttle_write_iops_device: Vec<ThrottleDevice>,
    pub hugetlb_limits: Vec<HugetlbLimit>,
}

impl Cgroups {
    /// Checked as create checks them: what an update of a live container
    /// checks, the rest of its config being unchanged.
    pub fn validate(&self) -> crate::runtime::Result<CheckedCgroups> {
        validate::cgroups(self)
    }
}

/// The I/O weight of one block device (a whole disk: major and minor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    pub weight: u16,
}

/// An I/O rate limit of one block device (a whole disk: major and minor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleDevice {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HugetlbLimit {
    /// "2MB", "1GB": the kernel's hugetlb.<size>.* name.
    pub page_size: String,
    pub limit: Size,
}

/// A device node (in `devices`) or a device cgroup rule (in `allowed_devices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// "c" (char), "b" (block), "p" (fifo), or "a" (all; rules only).
    #[serde(rename = "type")]
    pub kind: String,
    /// Path inside the container (devices only).
    #[serde(default)]
    pub path: Option<String>,
    /// -1 means any (rules only).
    #[serde(default)]
    pub major: i64,
    #[serde(default)]
    pub minor: i64,
    /// Cgroup access: some of "rwm".
    #[serde(default = "Device::default_permissions")]
    pub permissions: String,
    #[serde(default = "Device::default_file_mode")]
    pub file_mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    /// Rules: allow (true) or deny (false).
    #[serde(default = "Device::default_allow")]
    pub allow: bool,
}

impl Device {
    /// A pathless device of `kind` with the defaults a config gets for the
    /// keys it leaves out (mode 0666, owner 0:0, allowed).
    pub fn new(kind: &str, major: i64, minor: i64, permissions: &str) -> Device {
        Device {
            kind: kind.into(),
            path: None,
            major,
            minor,
            permissions: permissions.into(),
            file_mode: Device::default_file_mode(),
            uid: 0,
            gid: 0,
            allow: Device::default_allow(),
        }
    }

    fn default_permissions() -> String {
        "rwm".into()
    }
    fn default_file_mode() -> u32 {
        0o666
    }
    fn default_allow() -> bool {
        true
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    #[serde(default)]
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub destination: String,
    /// Filesystem type ("tmpfs", "proc", "bind" ...); "bind" or a "bind"
    /// option makes a bind mount.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// mount(8)-style options: "ro", "nosuid", "bind", "rbind", "size=64m" ...
    #[serde(default)]
    pub options: Vec<String>,
    /// "private", "slave", "shared" (and their r-prefixed forms).
    #[serde(default)]
    pub propagation: Option<String>,
}

/// An entry of `networks`. Which keys each type takes: docs/networks.md.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// "loopback" or "none" (lo only), "bridge", "pasta", "host" or
    /// "netns".
    #[serde(rename = "type")]
    pub kind: String,
    /// bridge: the network's name, which is its bridge's ("ctrsh0").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// bridge: the network's IPv4 subnet, for a network not made yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// loopback: 127.0.0.1 or ::1; bridge: the container's address, or
    /// "auto" (the next free one, also when absent).
    #[serde(default)]
    pub address: Option<String>,
    /// loopback: not used; bridge: the network's gateway.
    #[serde(default)]
    pub gateway: Option<String>,
    /// bridge: the network's MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// bridge: IPv6 too, in a subnet of ctrsh's choosing (true) or this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6>,
    /// netns: the network namespace to join (a /proc/<pid>/ns/net or a
    /// file `ip netns add` made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// `ipv6: true` or `ipv6: "fd88::/64"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ipv6 {
    On(bool),
    Subnet(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    /// "RLIMIT_NOFILE" ...
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

impl Size {
    /// Parse "256M", "1G", "512k", "1024" (binary multiples).
    pub fn parse(text: &str) -> Result<Size, String> {
        let t = text.trim();
        let (num, mult) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            None => (t, 1i64),
            Some((i, _)) => {
                let suffix = t[i..].trim().to_ascii_uppercase();
                let suffix = suffix.trim_end_matches('B').trim_end_matches('I');
                let mult = match suffix {
                    "" => 1,
                    "K" => 1 << 10,
                    "M" => 1 << 20,
                    "G" => 1 << 30,
                    "T" => 1 << 40,
                    _ => {
                        return Err(format!(
                            "'{text}' is not a size (use e.g. 1024, \"64K\", \"256M\", \"1G\")"
                        ))
                    }
                };
                (&t[..i], mult)
            }
        };
        let n: i64 = num.parse().map_err(|_| {
            format!("'{text}' is not a size (use e.g. 1024, \"64K\", \"256M\", \"1G\")")
        })?;
        n.checked_mul(mult)
            .map(Size)
            .ok_or_else(|| format!("'{text}' is too large"))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte count: an integer or a string like \"256M\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                i64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("size too large"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                Size::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Config {
    /// Rejects unknown names and impossible values, naming the key
    /// ("cgroups.cpu_shares: ..."); the config's typed values otherwise.
    /// Stats the rootfs, touches nothing else.
    pub fn validate(&self) -> crate::runtime::Result<CheckedConfig> {
        validate::config(self)
    }

    /// The container's entry for namespace `kind`, if it has one.
    pub fn namespace(&self, kind: NamespaceKind) -> Option<&Namespace> {
        self.namespace_list().iter().find(|ns| ns.kind == kind)
    }

    /// The namespaces given, or the defaults when the key is absent.
    pub fn namespace_list(&self) -> &[Namespace] {
        static DEFAULT: std::sync::OnceLock<Vec<Namespace>> = std::sync::OnceLock::new();
        static DEFAULT_ON_HOST: std::sync::OnceLock<Vec<Namespace>> = std::sync::OnceLock::new();
        match &self.namespaces {
            Some(given) => given,
            None if self.networks.iter().any(|n| n.kind == "host") => {
                DEFAULT_ON_HOST.get_or_init(|| defaults::default_namespaces(false))
            }
            None => DEFAULT.get_or_init(|| defaults::default_namespaces(true)),
        }
    }

    /// Where `key`, which is not a key of a config, belongs when it is a
    /// key of `cgroups` or of a process: what an error about it says.
    pub fn home_of(key: &str) -> Option<String> {
        let is_field_of = |fields: Vec<String>| fields.iter().any(|f| f == key);
        if is_field_of(crate::runtime::suggest::field_names::<Cgroups>()) {
            Some(format!(
                "not a top-level key; it goes under cgroups: #{{ cgroups: #{{ {key}: ... }} }}"
            ))
        } else if is_field_of(crate::runtime::suggest::field_names::<ProcessSpec>()) {
            Some(format!(
                "not a config key; it goes in the process you start: c.start(process(#{{ {key}: ... }}))"
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces(json: serde_json::Value) -> Result<Vec<Namespace>, String> {
        serde_json::from_value(json).map_err(|e| e.to_string())
    }

    #[test]
    fn namespaces_by_name_or_map() {
        let parsed =
            namespaces(serde_json::json!(["pid", { "type": "net", "path": "/proc/1/ns/net" }]));
        assert_eq!(
            parsed.unwrap(),
            [
                Namespace {
                    kind: NamespaceKind::Pid,
                    path: None
                },
                Namespace {
                    kind: NamespaceKind::Net,
                    path: Some("/proc/1/ns/net".into())
                },
            ]
        );
    }

    #[test]
    fn unknown_namespace_is_named_with_a_suggestion() {
        let e = namespaces(serde_json::json!(["mount", "pdi"])).unwrap_err();
        assert!(
            e.starts_with("unknown namespace 'pdi' (did you mean 'pid'?) (known: user, mount"),
            "{e}"
        );
        let e = namespaces(serde_json::json!([{ "type": "mnt" }])).unwrap_err();
        assert!(
            e.starts_with("unknown namespace 'mnt' (did you mean 'mount'?)"),
            "{e}"
        );
        let e = namespaces(serde_json::json!([{ "tpye": "pid" }])).unwrap_err();
        assert!(e.starts_with("expected a namespace name"), "{e}");
    }

    #[test]
    fn from_name_round_trips() {
        for kind in NamespaceKind::ALL {
            assert_eq!(NamespaceKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(NamespaceKind::from_name("mnt"), None);
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(Size::parse("1024"), Ok(Size(1024)));
        assert_eq!(Size::parse("64K"), Ok(Size(64 << 10)));
        assert_eq!(Size::parse("256M"), Ok(Size(256 << 20)));
        assert_eq!(Size::parse("1GiB"), Ok(Size(1 << 30)));
        assert!(Size::parse("12X").is_err());
        assert!(Size::parse("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }
}
