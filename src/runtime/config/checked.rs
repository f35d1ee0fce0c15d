//! The checked config: what `Config::validate` returns, every value typed.
//! Create, the init, cgroups and checkpoints read this, never the strings
//! of `Config`: what could be wrong with a value was said by `validate`,
//! naming its key, before anything touched the kernel.
//!
//! A new config key goes in three places: its field in `Config` (what
//! users write, mod.rs), its check and conversion in validate/ (a function
//! that names the key in its errors and returns the typed value), and its
//! typed field here, which the code that acts on it reads.

use super::mount_options::MountOptions;
use super::{
    CapabilitySets, Cgroups, CheckedProcess, Config, Hooks, IdMap, Namespace, NamespaceKind,
};
use crate::runtime::seccomp::Program;
use caps::CapsHashSet;
use libc::c_ulong;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedConfig {
    /// The config as given, absent keys absent: what `container.config`
    /// shows, and what a live update changes and checks again.
    pub given: Config,
    /// For an image's container, set by create: where the image's root
    /// filesystem is mounted (see image/rootfs.rs).
    pub rootfs: PathBuf,
    /// The image of the store the rootfs is made from (a name or an id).
    pub image: Option<String>,
    pub readonly_rootfs: bool,
    /// The capability sets the container's processes get (the defaults in
    /// every set when the key is absent).
    pub capabilities: CapSets,
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    /// The defaults when the key is absent.
    pub cgroups: CheckedCgroups,
    /// The nodes made in /dev (the defaults when the key is absent).
    pub devices: Vec<DeviceNode>,
    /// The runtime's own mounts (/proc, /dev, ...) that no entry of
    /// `mounts` replaces, made first.
    pub builtin_mounts: Vec<CheckedMount>,
    pub mounts: Vec<CheckedMount>,
    pub hostname: Option<String>,
    pub networks: Vec<CheckedNetwork>,
    /// Host ports forwarded to the container's bridge or pasta network.
    pub ports: Vec<crate::runtime::network::Port>,
    pub rlimits: Vec<ResourceLimit>,
    /// Absolute paths (runc's defaults when the key is absent).
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub no_new_privileges: bool,
    /// Names of namespaced sysctls ("net.ipv4.ip_forward") and values.
    pub sysctl: BTreeMap<String, String>,
    pub oom_score_adj: Option<i32>,
    /// The compiled filter; None: unconfined.
    pub seccomp: Option<Program>,
    /// The container's own first process (an OCI bundle's `process`).
    pub process: Option<CheckedProcess>,
    pub hooks: Hooks,
    pub annotations: BTreeMap<String, String>,
    pub bundle: Option<PathBuf>,
    /// MS_* propagation flags for the container's root after pivot_root.
    pub root_propagation: Option<c_ulong>,
    pub no_pivot_root: bool,
    pub init: bool,
    /// The signal number `stop_signal` names.
    pub stop_signal: Option<i32>,
}

impl CheckedConfig {
    /// The container's entry for namespace `kind`, if it has one.
    pub fn namespace(&self, kind: NamespaceKind) -> Option<&Namespace> {
        self.namespaces.iter().find(|ns| ns.kind == kind)
    }

    /// Whether the container has namespace `kind` (new or joined).
    pub fn has(&self, kind: NamespaceKind) -> bool {
        self.namespace(kind).is_some()
    }

    /// Whether the container gets a new namespace `kind` (not a joined one).
    pub fn creates(&self, kind: NamespaceKind) -> bool {
        self.namespace(kind).is_some_and(|ns| ns.path.is_none())
    }

    /// The path of the existing namespace `kind` the container joins.
    pub fn joins(&self, kind: NamespaceKind) -> Option<&std::path::Path> {
        self.namespace(kind).and_then(|ns| ns.path.as_deref())
    }
}

/// The five capability sets of a process, parsed.
pub type CapSets = CapabilitySets<CapsHashSet>;

impl CapSets {
    /// Every capability in any set.
    pub fn union(&self) -> CapsHashSet {
        let mut all = self.bounding.clone();
        for set in [
            &self.effective,
            &self.inheritable,
            &self.permitted,
            &self.ambient,
        ] {
            all.extend(set.iter().copied());
        }
        all
    }
}

/// `cgroups`, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedCgroups {
    /// The cgroup's name under `parent`; None: the factory's default name.
    pub name: Option<String>,
    /// Relative to the creator's own cgroup unless absolute.
    pub parent: Option<String>,
    /// The full path, instead of parent and name.
    pub path: Option<String>,
    pub limits: Limits,
    /// No device rules at all: every device is allowed.
    pub allow_all_devices: bool,
    /// The rules in order (the defaults when the key is absent); empty
    /// with `allow_all_devices`.
    pub device_rules: Vec<DeviceRule>,
}

/// The resource limits of `cgroups`; None: the key is absent, the limit
/// is left as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes.
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// Memory plus swap, in bytes; -1: unlimited.
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    /// µs per period; -1: unlimited.
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    /// The kernel's list format ("0-1,3").
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// -1 or 0: unlimited.
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    // (default: absent in the state of a container made before these keys)
    #[serde(default)]
    pub blkio_weight_device: Vec<DeviceWeight>,
    /// The rate limits of every `blkio_throttle_*_device` key.
    #[serde(default)]
    pub blkio_throttle: Vec<Throttle>,
    pub hugetlb_limits: Vec<HugepageLimit>,
}

/// A whole block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for BlockDevice {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// The I/O weight of one device, `10..=1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceWeight {
    pub device: BlockDevice,
    pub weight: u16,
}

/// An I/O rate limit of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub kind: ThrottleKind,
    pub device: BlockDevice,
    /// None: no limit (a rate of 0 in the config).
    pub rate: Option<u64>,
}

/// What a throttle limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleKind {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl ThrottleKind {
    /// Its config key.
    pub fn key(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "cgroups.blkio_throttle_read_bps_device",
            ThrottleKind::WriteBps => "cgroups.blkio_throttle_write_bps_device",
            ThrottleKind::ReadIops => "cgroups.blkio_throttle_read_iops_device",
            ThrottleKind::WriteIops => "cgroups.blkio_throttle_write_iops_device",
        }
    }
}

impl Cgroups {
    /// Each `blkio_throttle_*_device` list with what it limits.
    pub(crate) fn throttle_lists(&self) -> [(ThrottleKind, &[super::ThrottleDevice]); 4] {
        [
            (ThrottleKind::ReadBps, &self.blkio_throttle_read_bps_device),
            (
                ThrottleKind::WriteBps,
                &self.blkio_throttle_write_bps_device,
            ),
            (
                ThrottleKind::ReadIops,
                &self.blkio_throttle_read_iops_device,
            ),
            (
                ThrottleKind::WriteIops,
                &self.blkio_throttle_write_iops_device,
            ),
        ]
    }
}

impl Limits {
    /// What a live update that changes `before` into these limits writes:
    /// these, and no limit for each device throttled in `before` and left
    /// out here. A per-device weight cannot be taken back (the kernel's
    /// way to do so differs per I/O scheduler): leaving one out is an
    /// error.
    pub fn update_from(&self, before: &Limits) -> crate::runtime::Result<Limits> {
        if let Some(gone) = before.blkio_weight_device.iter().find(|w| {
            !self
                .blkio_weight_device
                .iter()
                .any(|n| n.device == w.device)
        }) {
            return Err(crate::runtime::Error::config(format!(
                "cgroups.blkio_weight_device: an update cannot remove the weight of device {}; \
                 give it the weight it should have instead",
                gone.device
            )));
        }
        let mut limits = self.clone();
        let lifted = before.blkio_throttle.iter().filter(|old| {
            !self
                .blkio_throttle
                .iter()
                .any(|new| (new.kind, new.device) == (old.kind, old.device))
        });
        limits
            .blkio_throttle
            .extend(lifted.map(|old| Throttle { rate: None, ..*old }));
        Ok(limits)
    }
}

/// A hugetlb limit: bytes of pages of `page_size` ("2MB": the kernel's
/// name in hugetlb.<size>.*).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HugepageLimit {
    pub page_size: String,
    pub bytes: u64,
}

impl From<&Cgroups> for Limits {
    /// The limits of checked `cgroups` (see validate/).
    fn from(cg: &Cgroups) -> Limits {
        let bytes = |size: Option<super::Size>| size.map(|s| s.0);
        Limits {
            memory: bytes(cg.memory),
            memory_reservation: bytes(cg.memory_reservation),
            memory_swap: bytes(cg.memory_swap),
            cpu_shares: cg.cpu_shares,
            cpu_quota: cg.cpu_quota,
            cpu_period: cg.cpu_period,
            cpuset_cpus: cg.cpuset_cpus.clone(),
            cpuset_mems: cg.cpuset_mems.clone(),
            pids_limit: cg.pids_limit,
            blkio_weight: cg.blkio_weight,
            blkio_weight_device: cg
                .blkio_weight_device
                .iter()
                .map(|w| DeviceWeight {
                    device: block_device(w.major, w.minor),
                    weight: w.weight,
                })
                .collect(),
            blkio_throttle: cg
                .throttle_lists()
                .into_iter()
                .flat_map(|(kind, list)| {
                    list.iter().map(move |t| Throttle {
                        kind,
                        device: block_device(t.major, t.minor),
                        rate: Some(t.rate).filter(|&r| r > 0),
                    })
                })
                .collect(),
            hugetlb_limits: cg
                .hugetlb_limits
                .iter()
                .map(|l| HugepageLimit {
                    page_size: l.page_size.clone(),
                    bytes: l.limit.0.unsigned_abs(),
                })
                .collect(),
        }
    }
}

/// A device of a checked config (its numbers are in range).
fn block_device(major: i64, minor: i64) -> BlockDevice {
    BlockDevice {
        major: major as u32,
        minor: minor as u32,
    }
}

/// A device node to make in the container's /dev.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceNode {
    pub kind: NodeKind,
    /// Absolute, below /dev.
    pub path: PathBuf,
    /// 0 for a fifo.
    pub major: u64,
    pub minor: u64,
    /// Permission bits (0o7777 at most).
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

/// A device cgroup rule: allow or deny `access` to `devices`, in order
/// after every device is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// None: every device ("a"; the numbers do not matter).
    pub devices: Option<Devices>,
    pub access: Access,
}

/// Which devices a rule covers: a type, and a number or None (any) for
/// major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Devices {
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
}

/// The type of device a rule covers, numbered as the kernel's
/// BPF_DEVCG_DEV_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DeviceKind {
    Block = 1,
    Char = 2,
}

impl DeviceKind {
    /// "b" or "c", as in devices.allow.
    pub fn letter(self) -> char {
        match self {
            DeviceKind::Block => 'b',
            DeviceKind::Char => 'c',
        }
    }
}

/// A set of device accesses, with the bits of the kernel's BPF_DEVCG_ACC_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Access(u8);

impl Access {
    pub const MKNOD: Access = Access(1);
    pub const READ: Access = Access(2);
    pub const WRITE: Access = Access(4);
    pub const NONE: Access = Access(0);
    pub const ALL: Access = Access(7);

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }

    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn without(self, other: Access) -> Access {
        Access(self.0 & !other.0)
    }

    pub fn overlaps(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }
}

impl fmt::Display for Access {
    /// In the kernel's "rwm" notation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.contains(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// A mount of `mounts`, with its options parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedMount {
    /// Absolute, inside the container.
    pub destination: PathBuf,
    pub kind: MountKind,
    /// Flags, propagation and filesystem data (for a bind mount, the flags
    /// its remount applies).
    pub options: MountOptions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MountKind {
    /// Type "bind", or a "bind" or "rbind" option: `source` bound there
    /// (with every mount below it when `recursive`).
    Bind { source: PathBuf, recursive: bool },
    /// Type "cgroup": the container's own cgroup directories (see
    /// init/rootfs.rs).
    Cgroup,
    /// A filesystem of `fstype` ("none" when the config names none), from
    /// `source` (default: the type's name).
    Filesystem {
        fstype: String,
        source: Option<PathBuf>,
    },
}

/// An entry of `networks` ("host" leaves none: the container has no
/// network namespace of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckedNetwork {
    /// lo brought up, with its own 127.0.0.1 and ::1 ("loopback", "none").
    Loopback,
    /// eth0 on a bridge network, and lo.
    Bridge(crate::runtime::network::BridgeRequest),
    /// eth0 from pasta, with the host's addresses, and lo.
    Pasta,
}

/// An entry of `rlimits`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResourceLimit {
    pub resource: super::rlimits::Resource,
    pub soft: u64,
    pub hard: u64,
}
