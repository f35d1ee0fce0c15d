//! `Config::validate`: what serde cannot check, and the conversion into
//! the typed values of `CheckedConfig`. Every error message starts with
//! the key path ("rlimits[0].type: ...") so the script layer can point at
//! the offending key; nothing here touches the kernel except a stat of the
//! rootfs.

use super::checked::{
    Access, CapSets, CheckedCgroups, CheckedConfig, CheckedMount, DeviceKind, DeviceNode,
    DeviceRule, Devices, Limits, MountKind, NodeKind, ResourceLimit,
};
use super::rlimits::Resource;
use super::{
    defaults, mount_options, Capabilities, Cgroups, Config, Device, Hooks, IdMap, Mount,
    NamespaceKind,
};

mod networks;
use crate::runtime::error::describe_io;
use crate::runtime::host::process::parse_signal;
use crate::runtime::seccomp::{self, Seccomp};
use crate::runtime::{suggest, Error, Result};
use caps::CapsHashSet;
use networks::networks;
use std::fmt::Display;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// Checks in the order of Config's fields; the first error wins.
pub(super) fn config(c: &Config) -> Result<CheckedConfig> {
    match &c.image {
        None => rootfs(&c.rootfs)?,
        Some(image) => self::image(image, c)?,
    }
    let capabilities = capabilities("capabilities", c.capabilities.as_ref())?;
    namespaces(c)?;
    id_mappings(c)?;
    hostname(c)?;
    let networks = networks(c)?;
    let rlimits = resource_limits(&c.rlimits)?;
    let mounts = mounts(c)?;
    let devices = match &c.devices {
        Some(devices) => devices
            .iter()
            .enumerate()
            .map(|(i, device)| device_node(&format!("devices[{i}]"), device))
            .collect::<Result<_>>()?,
        None => defaults::default_devices()
            .iter()
            .map(|device| device_node("devices", device))
            .collect::<Result<_>>()?,
    };
    let masked_paths = absolute_paths(
        "masked_paths",
        c.masked_paths
            .clone()
            .unwrap_or_else(defaults::default_masked_paths),
    )?;
    let readonly_paths = absolute_paths(
        "readonly_paths",
        c.readonly_paths
            .clone()
            .unwrap_or_else(defaults::default_readonly_paths),
    )?;
    sysctl(c)?;
    let seccomp = self::seccomp(c.seccomp.as_ref(), &capabilities.bounding)?;
    if let Some(adj) = c.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(err(
                "oom_score_adj",
                format!("{adj} is outside -1000..=1000"),
            ));
        }
    }
    let cgroups = self::cgroups(c.cgroups.as_ref().unwrap_or(&Cgroups::default()))?;
    let process = c
        .process
        .clone()
        .map(crate::runtime::config::check_spec)
        .transpose()
        .map_err(|e| e.context("process"))?;
    // An image gives the args a process leaves out.
    if let (Some(process), None) = (&process, &c.image) {
        crate::runtime::config::check_args(&process.spec).map_err(|e| e.context("process"))?;
    }
    hooks(&c.hooks)?;
    if let Some(bundle) = &c.bundle {
        if !bundle.is_absolute() {
            return Err(err(
                "bundle",
                format!("'{}' is not an absolute path", bundle.display()),
            ));
        }
    }
    let root_propagation = c
        .root_propagation
        .as_deref()
        .map(mount_options::parse_propagation)
        .transpose()
        .map_err(|e| err("root_propagation", e))?;
    let checked = CheckedConfig {
        given: c.clone(),
        rootfs: c.rootfs.clone(),
        image: c.image.clone(),
        readonly_rootfs: c.readonly_rootfs,
        capabilities,
        namespaces: networks::namespaces(c),
        uid_mappings: c.uid_mappings.clone(),
        gid_mappings: c.gid_mappings.clone(),
        cgroups,
        devices,
        builtin_mounts: builtin_mounts(&c.mounts)?,
        mounts,
        hostname: c.hostname.clone(),
        networks,
        ports: c.ports.clone(),
        rlimits,
        masked_paths,
        readonly_paths,
        no_new_privileges: c.no_new_privileges,
        sysctl: c.sysctl.clone(),
        oom_score_adj: c.oom_score_adj,
        seccomp,
        process,
        hooks: c.hooks.clone(),
        annotations: c.annotations.clone(),
        bundle: c.bundle.clone(),
        root_propagation,
        no_pivot_root: c.no_pivot_root,
        init: init(c)?,
        stop_signal: c
            .stop_signal
            .as_deref()
            .map(|name| {
                parse_signal(name)
                    .map_err(|e| err("stop_signal", e.message.trim_start_matches("signal: ")))
            })
            .transpose()?,
    };
    mqueue_in_user_namespace(&checked)?;
    Ok(checked)
}

/// `init` makes ctrsh's init PID 1 of the container's pid namespace: it
/// needs a new one.
fn init(c: &Config) -> Result<bool> {
    let own_pid_ns = c
        .namespace(NamespaceKind::Pid)
        .is_some_and(|ns| ns.path.is_none());
    if c.init && !own_pid_ns {
        return Err(err(
            "init",
            "needs a new \"pid\" namespace, whose PID 1 it is (add \"pid\" to namespaces)",
        ));
    }
    Ok(c.init)
}

/// An mqueue filesystem belongs to an ipc namespace, and only that
/// namespace's user namespace may mount it: a new "user" namespace with
/// the host's ipc namespace gets EPERM at the mount.
fn mqueue_in_user_namespace(c: &CheckedConfig) -> Result<()> {
    let mqueue =
        c.builtin_mounts.iter().chain(&c.mounts).find(
            |m| matches!(&m.kind, MountKind::Filesystem { fstype, .. } if fstype == "mqueue"),
        );
    match mqueue {
        Some(m) if c.creates(NamespaceKind::User) && !c.creates(NamespaceKind::Ipc) => Err(err(
            "namespaces",
            format!(
                "a new \"user\" namespace needs a new \"ipc\" namespace for the mqueue mount on {} \
                 (add \"ipc\" to namespaces)",
                m.destination.display()
            ),
        )),
        _ => Ok(()),
    }
}

fn hooks(hooks: &Hooks) -> Result<()> {
    let lists = [
        ("prestart", &hooks.prestart),
        ("create_runtime", &hooks.create_runtime),
        ("create_container", &hooks.create_container),
        ("start_container", &hooks.start_container),
        ("poststart", &hooks.poststart),
        ("poststop", &hooks.poststop),
    ];
    for (name, list) in lists {
        for (i, hook) in list.iter().enumerate() {
            let key = format!("hooks.{name}[{i}]");
            if !hook.path.is_absolute() {
                return Err(err(
                    format!("{key}.path"),
                    format!("'{}' is not an absolute path", hook.path.display()),
                ));
            }
            if hook.timeout == Some(0) {
                return Err(err(format!("{key}.timeout"), "must be at least 1 second"));
            }
            if let Some(bad) = hook.env.iter().find(|e| !e.contains('=')) {
                return Err(err(
                    format!("{key}.env"),
                    format!("'{bad}' is not of the form KEY=value"),
                ));
            }
        }
    }
    Ok(())
}

/// "key: message", a config error.
fn err(key: impl Display, message: impl Display) -> Error {
    Error::config(format!("{key}: {message}"))
}

/// The error for a key that needs namespace `kind` the config lacks.
fn needs_namespace(key: impl Display, kind: NamespaceKind) -> Error {
    let name = kind.name();
    err(
        key,
        format!("needs a \"{name}\" namespace (add \"{name}\" to namespaces)"),
    )
}

fn rootfs(rootfs: &Path) -> Result<()> {
    if rootfs.as_os_str().is_empty() {
        return Err(err(
            "rootfs",
            "is required: the absolute path of the container's root filesystem",
        ));
    }
    if !rootfs.is_absolute() {
        return Err(err(
            "rootfs",
            format!("'{}' is not an absolute path", rootfs.display()),
        ));
    }
    let meta = std::fs::metadata(rootfs).map_err(|e| {
        err(
            "rootfs",
            format!("'{}': {}", rootfs.display(), describe_io(&e)),
        )
    })?;
    if !meta.is_dir() {
        return Err(err(
            "rootfs",
            format!("'{}' is not a directory", rootfs.display()),
        ));
    }
    Ok(())
}

/// `image` names an image (resolved in the store at create), instead of
/// a rootfs.
fn image(image: &str, c: &Config) -> Result<()> {
    if image.trim().is_empty() {
        return Err(err(
            "image",
            "is empty: name an image of the store (\"alpine:3.20\") or its id",
        ));
    }
    if !c.rootfs.as_os_str().is_empty() {
        return Err(err(
            "image",
            format!(
                "the config has a rootfs ('{}') too: give one of them",
                c.rootfs.display()
            ),
        ));
    }
    Ok(())
}

/// The capability sets of `caps` (`key` names it in errors), or
/// `default_capabilities()` in every set when it is absent.
pub(crate) fn capabilities(key: &str, caps: Option<&Capabilities>) -> Result<CapSets> {
    let parse = |key: &str, names: &[String]| -> Result<CapsHashSet> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                caps::Capability::from_str(name).map_err(|_| {
                    err(
                        format!("{key}[{i}]"),
                        format!("unknown capability '{name}'{}", capability_hint(name)),
                    )
                })
            })
            .collect()
    };
    match caps {
        None => parse(key, &defaults::default_capabilities()).map(CapSets::all),
        Some(Capabilities::All(names)) => parse(key, names).map(CapSets::all),
        Some(Capabilities::Sets(sets)) => {
            sets.try_map(|set, names| parse(&format!("{key}.{set}"), names))
        }
    }
}

/// " (did you mean 'CAP_CHOWN'?)" for "chown", "cap_chown" or "CAP_CHOWM".
fn capability_hint(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    let canonical = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if caps::Capability::from_str(&canonical).is_ok() {
        return suggest::hint(Some(canonical));
    }
    // Sorted, so that a tie picks the same name every time.
    let mut known: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    known.sort();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    suggest::did_you_mean(&canonical, &known)
}

fn namespaces(c: &Config) -> Result<()> {
    let list = c.namespace_list();
    for (i, ns) in list.iter().enumerate() {
        if let Some(first) = list[..i].iter().position(|n| n.kind == ns.kind) {
            return Err(err(
                format!("namespaces[{i}]"),
                format!(
                    "duplicate namespace '{}' (already at namespaces[{first}])",
                    ns.kind.name()
                ),
            ));
        }
        if let Some(path) = &ns.path {
            if !path.is_absolute() {
                return Err(err(
                    format!("namespaces[{i}].path"),
                    format!("'{}' is not an absolute path", path.display()),
                ));
            }
        }
    }
    Ok(())
}

/// The kernel accepts at most this many lines in a uid_map or gid_map.
const MAX_ID_MAP_LINES: usize = 340;

fn id_mappings(c: &Config) -> Result<()> {
    let user = c.namespace(NamespaceKind::User);
    for (key, maps) in [
        ("uid_mappings", &c.uid_mappings),
        ("gid_mappings", &c.gid_mappings),
    ] {
        match user {
            None if !maps.is_empty() => return Err(needs_namespace(key, NamespaceKind::User)),
            Some(ns) if ns.path.is_some() && !maps.is_empty() => {
                return Err(err(
                    key,
                    "cannot be set when joining an existing user namespace (its maps are already written)",
                ))
            }
            Some(ns) if ns.path.is_none() && maps.is_empty() => {
                return Err(err(
                    key,
                    "a new user namespace needs uid_mappings and gid_mappings, \
                     e.g. [#{ container_id: 0, host_id: 100000, size: 65536 }]",
                ))
            }
            _ => {}
        }
        if maps.len() > MAX_ID_MAP_LINES {
            return Err(err(
                key,
                format!(
                    "{} mappings, the kernel accepts at most {MAX_ID_MAP_LINES}",
                    maps.len()
                ),
            ));
        }
        for (i, map) in maps.iter().enumerate() {
            id_map(&format!("{key}[{i}]"), map)?;
            for (j, earlier) in maps[..i].iter().enumerate() {
                for (side, start, earlier_start) in [
                    ("container_id", map.container_id, earlier.container_id),
                    ("host_id", map.host_id, earlier.host_id),
                ] {
                    if ranges_overlap(start, earlier_start, map.size, earlier.size) {
                        return Err(err(
                            format!("{key}[{i}]"),
                            format!("{side} range overlaps {key}[{j}]"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn id_map(key: &str, map: &IdMap) -> Result<()> {
    if map.size == 0 {
        return Err(err(format!("{key}.size"), "must be at least 1"));
    }
    // Ids run from 0 to 2^32 - 2; 2^32 - 1 is the kernel's "no id".
    for (side, start) in [("container_id", map.container_id), ("host_id", map.host_id)] {
        if u64::from(start) + u64::from(map.size) > u64::from(u32::MAX) {
            return Err(err(
                key,
                format!("{side} + size runs past the last id {}", u32::MAX - 1),
            ));
        }
    }
    Ok(())
}

fn ranges_overlap(a: u32, b: u32, a_len: u32, b_len: u32) -> bool {
    let (a, b, a_len, b_len) = (
        u64::from(a),
        u64::from(b),
        u64::from(a_len),
        u64::from(b_len),
    );
    a < b + b_len && b < a + a_len
}

/// sethostname(2) takes at most HOST_NAME_MAX bytes.
pub(crate) const HOST_NAME_MAX: usize = 64;

fn hostname(c: &Config) -> Result<()> {
    let Some(name) = &c.hostname else {
        return Ok(());
    };
    if c.namespace(NamespaceKind::Uts).is_none() {
        return Err(needs_namespace("hostname", NamespaceKind::Uts));
    }
    if name.is_empty() || name.len() > HOST_NAME_MAX {
        return Err(err(
            "hostname",
            format!(
                "must be 1 to {HOST_NAME_MAX} bytes long, '{name}' is {}",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// The address of "10.0.0.1", "10.0.0.1/8" or "fd00::1/64".
fn parse_ip_or_cidr(text: &str) -> Option<IpAddr> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let ip = address.parse::<IpAddr>().ok()?;
    let max_prefix = if ip.is_ipv4() { 32 } else { 128 };
    prefix
        .is_none_or(|p| parse_decimal(p).is_some_and(|p| p <= max_prefix))
        .then_some(ip)
}

/// A plain decimal number: digits only (no sign, no spaces).
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn resource_limits(limits: &[super::Rlimit]) -> Result<Vec<ResourceLimit>> {
    let mut checked = Vec::new();
    for (i, limit) in limits.iter().enumerate() {
        let Some(resource) = Resource::from_name(&limit.kind) else {
            return Err(err(
                format!("rlimits[{i}].type"),
                format!(
                    "unknown rlimit '{}'{}",
                    limit.kind,
                    suggest::did_you_mean(&limit.kind, &Resource::names())
                ),
            ));
        };
        if let Some(first) = limits[..i].iter().position(|l| l.kind == limit.kind) {
            return Err(err(
                format!("rlimits[{i}].type"),
                format!(
                    "duplicate rlimit '{}' (already at rlimits[{first}])",
                    limit.kind
                ),
            ));
        }
        if limit.soft > limit.hard {
            return Err(err(
                format!("rlimits[{i}]"),
                format!(
                    "soft limit {} is above hard limit {}",
                    limit.soft, limit.hard
                ),
            ));
        }
        checked.push(ResourceLimit {
            resource,
            soft: limit.soft,
            hard: limit.hard,
        });
    }
    Ok(checked)
}

fn mounts(c: &Config) -> Result<Vec<CheckedMount>> {
    c.mounts
        .iter()
        .enumerate()
        .map(|(i, mount)| self::mount(&format!("mounts[{i}]"), mount))
        .collect()
}

/// The runtime's own mounts (`defaults::builtin_mounts`) that no entry of
/// `mounts` replaces: one at the same destination does (as in an OCI
/// bundle, which lists them all), and one at /dev replaces those below it.
fn builtin_mounts(mounts: &[Mount]) -> Result<Vec<CheckedMount>> {
    let configured = |dest: &str| {
        mounts
            .iter()
            .any(|m| Path::new(&m.destination) == Path::new(dest))
    };
    defaults::builtin_mounts()
        .iter()
        .filter(|b| {
            let dest = b.destination.as_str();
            !(configured(dest) || dest.starts_with("/dev/") && configured("/dev"))
        })
        .map(|b| self::mount("builtin mounts", b))
        .collect()
}

/// One mount, `key` naming it in errors.
fn mount(key: &str, mount: &Mount) -> Result<CheckedMount> {
    if !Path::new(&mount.destination).is_absolute() {
        return Err(err(
            format!("{key}.destination"),
            format!("'{}' is not an absolute path", mount.destination),
        ));
    }
    let mut options =
        mount_options::parse(&mount.options, None).map_err(|e| err(format!("{key}.options"), e))?;
    if let Some(propagation) = &mount.propagation {
        options.propagation = mount_options::parse_propagation(propagation)
            .map_err(|e| err(format!("{key}.propagation"), e))?;
    }
    let source = mount.source.as_ref().map(PathBuf::from);
    let kind = if options.bind || mount.kind.as_deref() == Some("bind") {
        let Some(source) = source else {
            return Err(err(format!("{key}.source"), "is required for a bind mount"));
        };
        // A relative source is the bundle's (OCI), resolved at create.
        if source.is_absolute() {
            if let Err(e) = std::fs::metadata(&source) {
                return Err(err(
                    format!("{key}.source"),
                    format!(
                        "'{}': {} (a bind mount's source is a path on the host)",
                        source.display(),
                        describe_io(&e)
                    ),
                ));
            }
        }
        MountKind::Bind {
            source,
            recursive: options.recursive,
        }
    } else if mount.kind.as_deref() == Some("cgroup") {
        MountKind::Cgroup
    } else {
        MountKind::Filesystem {
            fstype: mount.kind.clone().unwrap_or_else(|| "none".to_string()),
            source,
        }
    };
    Ok(CheckedMount {
        destination: PathBuf::from(&mount.destination),
        kind,
        options,
    })
}

/// A device node to create in the container's /dev.
fn device_node(key: &str, device: &Device) -> Result<DeviceNode> {
    let kind = match device.kind.as_str() {
        "c" => NodeKind::Char,
        "b" => NodeKind::Block,
        "p" => NodeKind::Fifo,
        "a" => {
            return Err(err(
                format!("{key}.type"),
                "'a' (all devices) is only valid in cgroups.allowed_devices; \
                 a device node is \"c\", \"b\" or \"p\"",
            ))
        }
        other => {
            return Err(err(
                format!("{key}.type"),
                format!("unknown device type '{other}' (use \"c\", \"b\" or \"p\")"),
            ))
        }
    };
    let Some(path) = &device.path else {
        return Err(err(format!("{key}.path"), "is required for a device node"));
    };
    if !is_under_dev(Path::new(path)) {
        return Err(err(
            format!("{key}.path"),
            format!("'{path}' is not a path under /dev"),
        ));
    }
    if device.kind != "p" {
        for (field, number) in [("major", device.major), ("minor", device.minor)] {
            if number < 0 {
                return Err(err(
                    format!("{key}.{field}"),
                    format!(
                        "{number} is not a device number (-1, any, is only valid in cgroup rules)"
                    ),
                ));
            }
            // The kernel's dev_t: 12 bits of major, 20 of minor.
            let max = if field == "major" { 0xfff } else { 0xf_ffff };
            if number > max {
                return Err(err(
                    format!("{key}.{field}"),
                    format!("{number} is out of range (0 to {max})"),
                ));
            }
        }
    }
    permissions(key, &device.permissions)?;
    if device.file_mode & !0o7777 != 0 {
        return Err(err(
            format!("{key}.file_mode"),
            format!(
                "{:#o} has bits outside the permission bits 0o7777",
                device.file_mode
            ),
        ));
    }
    // A fifo has no numbers.
    let number = |n: i64| {
        if kind == NodeKind::Fifo {
            0
        } else {
            n.unsigned_abs()
        }
    };
    Ok(DeviceNode {
        kind,
        path: PathBuf::from(path),
        major: number(device.major),
        minor: number(device.minor),
        file_mode: device.file_mode,
        uid: device.uid,
        gid: device.gid,
    })
}

/// Absolute, strictly below /dev, and no ".." that could climb out of it.
fn is_under_dev(path: &Path) -> bool {
    path.is_absolute()
        && path.starts_with("/dev")
        && path != Path::new("/dev")
        && !path.components().any(|c| c == Component::ParentDir)
}

/// A device cgroup rule (allow or deny).
pub(crate) fn device_rule(key: &str, rule: &Device) -> Result<DeviceRule> {
    let kind = match rule.kind.as_str() {
        "a" => None,
        "c" => Some(DeviceKind::Char),
        "b" => Some(DeviceKind::Block),
        other => {
            return Err(err(
                format!("{key}.type"),
                format!("'{other}' is not a cgroup device type (use \"a\", \"c\" or \"b\")"),
            ))
        }
    };
    let number = |field: &str, number: i64| match number {
        -1 => Ok(None),
        n => u32::try_from(n).map(Some).map_err(|_| {
            err(
                format!("{key}.{field}"),
                format!("{number} is not a device number (or -1 for any)"),
            )
        }),
    };
    let major = number("major", rule.major)?;
    let minor = number("minor", rule.minor)?;
    Ok(DeviceRule {
        allow: rule.allow,
        devices: kind.map(|kind| Devices { kind, major, minor }),
        access: permissions(key, &rule.permissions)?,
    })
}

/// Some of "rwm": read, write, mknod.
fn permissions(key: &str, permissions: &str) -> Result<Access> {
    let bit = |c| match c {
        'r' => Some(Access::READ),
        'w' => Some(Access::WRITE),
        'm' => Some(Access::MKNOD),
        _ => None,
    };
    let access = permissions
        .chars()
        .try_fold(Access::NONE, |access, c| Some(access.union(bit(c)?)));
    match access {
        Some(access) if access != Access::NONE => Ok(access),
        _ => Err(err(
            format!("{key}.permissions"),
            format!("'{permissions}' is not some of \"rwm\" (read, write, mknod)"),
        )),
    }
}

fn absolute_paths(key: &str, paths: Vec<String>) -> Result<Vec<PathBuf>> {
    for (i, path) in paths.iter().enumerate() {
        if !Path::new(path).is_absolute() {
            return Err(err(
                format!("{key}[{i}]"),
                format!("'{path}' is not an absolute path"),
            ));
        }
    }
    Ok(paths.into_iter().map(PathBuf::from).collect())
}

/// The compiled filter of `seccomp` ("default" when absent), None for
/// unconfined.
fn seccomp(
    seccomp: Option<&Seccomp>,
    capabilities: &CapsHashSet,
) -> Result<Option<seccomp::Program>> {
    seccomp::program(seccomp.unwrap_or(&Seccomp::Default), capabilities)
}

/// The IPC namespace's sysctls (besides fs.mqueue.*), as runc allows them.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Only sysctls that belong to one of the container's namespaces: anything
/// else would change the host.
fn sysctl(c: &Config) -> Result<()> {
    for name in c.sysctl.keys() {
        let key = format!("sysctl[\"{name}\"]");
        // The name becomes a path under /proc/sys: no empty or ".." parts.
        if name.contains('/') || name.split('.').any(|part| part.is_empty()) {
            return Err(err(
                key,
                "is not a sysctl name like \"net.ipv4.ip_forward\"",
            ));
        }
        let needed = if IPC_SYSCTLS.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
            NamespaceKind::Ipc
        } else if name.starts_with("net.") {
            NamespaceKind::Net
        } else if name == "kernel.domainname" {
            NamespaceKind::Uts
        } else if name == "kernel.hostname" {
            return Err(err(
                key,
                "conflicts with the hostname key: set hostname instead",
            ));
        } else {
            return Err(err(
                key,
                "is not namespaced, it would change the host (allowed: kernel.msgmax, \
                 kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shm*, fs.mqueue.*, net.*, \
                 kernel.domainname)",
            ));
        };
        if c.namespace(needed).is_none() {
            return Err(needs_namespace(key, needed));
        }
    }
    Ok(())
}

pub(super) fn cgroups(cg: &Cgroups) -> Result<CheckedCgroups> {
    for (key, value) in [
        ("name", &cg.name),
        ("parent", &cg.parent),
        ("path", &cg.path),
    ] {
        if let Some(value) = value {
            cgroup_path(&format!("cgroups.{key}"), value)?;
        }
    }
    if let Some(name) = &cg.name {
        if name.starts_with('/') {
            return Err(err(
                "cgroups.name",
                format!("'{name}' must be relative to cgroups.parent (an absolute path goes in cgroups.path)"),
            ));
        }
    }
    if cg.path.is_some() && (cg.name.is_some() || cg.parent.is_some()) {
        return Err(err(
            "cgroups.path",
            "is the full path and cannot be combined with cgroups.name or cgroups.parent",
        ));
    }
    memory(cg)?;
    cpu(cg)?;
    if let Some(limit) = cg.pids_limit {
        if limit < -1 {
            return Err(err(
                "cgroups.pids_limit",
                format!("{limit} is not a limit (-1 or 0: unlimited)"),
            ));
        }
    }
    if let Some(weight) = cg.blkio_weight {
        io_weight("cgroups.blkio_weight", weight)?;
    }
    block_io_devices(cg)?;
    for (i, limit) in cg.hugetlb_limits.iter().enumerate() {
        if !is_hugetlb_page_size(&limit.page_size) {
            return Err(err(
                format!("cgroups.hugetlb_limits[{i}].page_size"),
                format!(
                    "'{}' is not a hugetlb page size like \"2MB\" or \"1GB\"",
                    limit.page_size
                ),
            ));
        }
        if limit.limit.0 < 0 {
            return Err(err(
                format!("cgroups.hugetlb_limits[{i}].limit"),
                format!("{} is negative", limit.limit.0),
            ));
        }
    }
    let rules = match &cg.allowed_devices {
        Some(rules) => rules
            .iter()
            .enumerate()
            .map(|(i, rule)| device_rule(&format!("cgroups.allowed_devices[{i}]"), rule))
            .collect::<Result<Vec<_>>>()?,
        None => defaults::default_allowed_devices()
            .iter()
            .map(|rule| device_rule("cgroups.allowed_devices", rule))
            .collect::<Result<Vec<_>>>()?,
    };
    let allow_all_devices = cg.allow_all_devices.unwrap_or(false);
    Ok(CheckedCgroups {
        name: cg.name.clone(),
        parent: cg.parent.clone(),
        path: cg.path.clone(),
        limits: Limits::from(cg),
        allow_all_devices,
        device_rules: if allow_all_devices { Vec::new() } else { rules },
    })
}

fn io_weight(key: &str, weight: u16) -> Result<()> {
    if !(10..=1000).contains(&weight) {
        return Err(err(key, format!("{weight} is outside 10..=1000")));
    }
    Ok(())
}

/// The per-device I/O keys: each names a device by numbers in the
/// kernel's range, once per key; weights as `blkio_weight`.
fn block_io_devices(cg: &Cgroups) -> Result<()> {
    let key = "cgroups.blkio_weight_device";
    block_devices(
        key,
        cg.blkio_weight_device.iter().map(|w| (w.major, w.minor)),
    )?;
    for (i, w) in cg.blkio_weight_device.iter().enumerate() {
        io_weight(&format!("{key}[{i}].weight"), w.weight)?;
    }
    for (kind, list) in cg.throttle_lists() {
        block_devices(kind.key(), list.iter().map(|t| (t.major, t.minor)))?;
    }
    Ok(())
}

fn block_devices(key: &str, devices: impl Iterator<Item = (i64, i64)>) -> Result<()> {
    let mut seen = Vec::new();
    for (i, (major, minor)) in devices.enumerate() {
        // The kernel's dev_t: 12 bits of major, 20 of minor.
        for (part, value, max) in [("major", major, 0xfff), ("minor", minor, 0xfffff)] {
            if !(0..=max).contains(&value) {
                return Err(err(
                    format!("{key}[{i}].{part}"),
                    format!("{value} is outside 0..={max}"),
                ));
            }
        }
        if let Some(first) = seen.iter().position(|d| *d == (major, minor)) {
            return Err(err(
                format!("{key}[{i}]"),
                format!("device {major}:{minor} is already at [{first}]"),
            ));
        }
        seen.push((major, minor));
    }
    Ok(())
}

/// A cgroup path: not empty and no ".." that could climb out of the hierarchy.
fn cgroup_path(key: &str, path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(err(key, "is empty"));
    }
    if Path::new(path)
        .components()
        .any(|c| c == Component::ParentDir)
    {
        return Err(err(key, format!("'{path}' must not contain '..'")));
    }
    Ok(())
}

fn memory(cg: &Cgroups) -> Result<()> {
    for (key, size) in [
        ("memory", cg.memory),
        ("memory_reservation", cg.memory_reservation),
    ] {
        if let Some(size) = size.filter(|s| s.0 < 0) {
            return Err(err(
                format!("cgroups.{key}"),
                format!("{} is negative", size.0),
            ));
        }
    }
    if let Some(swap) = cg.memory_swap {
        if swap.0 < -1 {
            return Err(err(
                "cgroups.memory_swap",
                format!("{} is negative (-1 means unlimited)", swap.0),
            ));
        }
        if let Some(memory) = cg.memory.filter(|m| m.0 > 0 && swap.0 >= 0 && swap.0 < m.0) {
            return Err(err(
                "cgroups.memory_swap",
                format!(
                    "{} is below cgroups.memory {}: memory_swap counts memory plus swap",
                    swap.0, memory.0
                ),
            ));
        }
    }
    Ok(())
}

/// The kernel's bounds of cpu.cfs_period_us, and its smallest quota, in µs.
const CFS_PERIOD_US: std::ops::RangeInclusive<u64> = 1000..=1_000_000;
const CFS_MIN_QUOTA_US: i64 = 1000;

fn cpu(cg: &Cgroups) -> Result<()> {
    if let Some(shares) = cg.cpu_shares {
        if shares < 2 {
            return Err(err(
                "cgroups.cpu_shares",
                format!("{shares} is below the minimum of 2"),
            ));
        }
    }
    if let Some(quota) = cg.cpu_quota {
        if quota != -1 && quota < CFS_MIN_QUOTA_US {
            return Err(err(
                "cgroups.cpu_quota",
                format!("{quota} is not -1 (unlimited) or at least {CFS_MIN_QUOTA_US} (µs)"),
            ));
        }
    }
    if let Some(period) = cg.cpu_period {
        if !CFS_PERIOD_US.contains(&period) {
            return Err(err(
                "cgroups.cpu_period",
                format!(
                    "{period} is outside {}..={} (µs)",
                    CFS_PERIOD_US.start(),
                    CFS_PERIOD_US.end()
                ),
            ));
        }
    }
    for (key, list) in [
        ("cpuset_cpus", &cg.cpuset_cpus),
        ("cpuset_mems", &cg.cpuset_mems),
    ] {
        if let Some(list) = list {
            if !is_cpu_list(list) {
                return Err(err(
                    format!("cgroups.{key}"),
                    format!("'{list}' is not a list like \"0-1,3\""),
                ));
            }
        }
    }
    Ok(())
}

/// The kernel's list format: comma-separated numbers and ascending ranges.
fn is_cpu_list(list: &str) -> bool {
    list.split(',').all(|item| match item.split_once('-') {
        None => parse_decimal(item).is_some(),
        Some((low, high)) => match (parse_decimal(low), parse_decimal(high)) {
            (Some(low), Some(high)) => low <= high,
            _ => false,
        },
    })
}

/// "64KB", "2MB", "1GB": the kernel's hugetlb.<size>.* spelling.
fn is_hugetlb_page_size(size: &str) -> bool {
    ["KB", "MB", "GB"].iter().any(|unit| {
        size.strip_suffix(unit)
            .and_then(parse_decimal)
            .is_some_and(|n| n > 0 && !size.starts_with('0'))
    })
}

#[cfg(test)]
mod tests;
