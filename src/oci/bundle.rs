//! An OCI bundle's config.json (runtime spec 1.x) as a `runtime::Config`.
//!
//! Every field the runtime can honour is mapped; a field it cannot is an
//! error naming it (`linux.intelRdt: not supported by ctrsh`), never
//! silently dropped. Properties the spec does not know are ignored, as the
//! spec requires.

use super::resources;
use crate::runtime::config::defaults::default_devices;
use crate::runtime::config::{
    Capabilities, CapabilitySets, Config, Device, Hook, Hooks, IdMap, Mount, Namespace,
    NamespaceKind, Rlimit,
};
use crate::runtime::seccomp::{
    is_native_syscall, ArgCondition, Profile, Seccomp, SyscallRule, NATIVE_ARCH,
};
use crate::runtime::{Error, ProcessSpec, Result, Stdio};
use oci_spec::runtime as oci;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The file of a bundle that holds its config.
pub const CONFIG_FILE: &str = "config.json";

/// An error about field `key` of config.json.
fn unsupported(key: &str, why: &str) -> Error {
    Error::config(format!("{CONFIG_FILE}: {key}: {why}"))
}

fn not_supported(key: &str) -> Error {
    unsupported(key, "not supported by ctrsh")
}

/// The OCI spec in `bundle`/config.json.
pub fn read_spec(bundle: &Path) -> Result<oci::Spec> {
    let file = bundle.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Error::new(
            crate::runtime::ErrorKind::NotFound,
            format!(
                "read {}: {}",
                file.display(),
                crate::runtime::error::describe_io(&e)
            ),
        )
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Error::config(format!("{}: {path}: {}", file.display(), e.inner()))
    })
}

/// The name serde gives an enum value of the spec ("CAP_CHOWN", "pid").
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// The config of `spec`, whose relative paths are relative to `bundle`
/// (None: left relative, for a config a script completes).
pub fn to_config(spec: &oci::Spec, bundle: Option<&Path>) -> Result<Config> {
    if !spec.version().starts_with("1.") {
        return Err(unsupported(
            "ociVersion",
            &format!("'{}': ctrsh reads runtime spec 1.x configs", spec.version()),
        ));
    }
    for (key, present) in [
        ("solaris", spec.solaris().is_some()),
        ("windows", spec.windows().is_some()),
        ("vm", spec.vm().is_some()),
        ("zos", spec.zos().is_some()),
        ("uidMappings", spec.uid_mappings().is_some()),
        ("gidMappings", spec.gid_mappings().is_some()),
    ] {
        if present {
            return Err(not_supported(key));
        }
    }
    let resolve = |p: &Path| match bundle {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    };
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| unsupported("root", "is required"))?;
    let mut config = Config {
        rootfs: resolve(root.path()),
        readonly_rootfs: root.readonly().unwrap_or(false),
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        annotations: spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        bundle: bundle.map(Path::to_path_buf),
        hooks: spec.hooks().as_ref().map(hooks).unwrap_or_default(),
        // A bundle lists every mount and device rule, and runs without a
        // seccomp filter unless it names one (as runc); the masked and
        // read-only paths are the bundle's.
        seccomp: Some(Seccomp::Unconfined),
        masked_paths: Some(vec![]),
        readonly_paths: Some(vec![]),
        capabilities: Some(Capabilities::Sets(CapabilitySets::default())),
        ..Config::default()
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        config.mounts.push(mount(i, m, &resolve)?);
    }
    if let Some(domain) = spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        config
            .sysctl
            .insert("kernel.domainname".into(), domain.clone());
    }
    if let Some(p) = spec.process() {
        process(p, &mut config)?;
    }
    if let Some(linux) = spec.linux() {
        self::linux(linux, &mut config)?;
    } else {
        config.devices = Some(default_devices());
    }
    Ok(config)
}

fn mount(i: usize, m: &oci::Mount, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Mount> {
    let key = format!("mounts[{i}]");
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(unsupported(
            &format!("{key}.uidMappings"),
            "idmapped mounts are not supported by ctrsh",
        ));
    }
    let options = m.options().clone().unwrap_or_default();
    let bind =
        m.typ().as_deref() == Some("bind") || options.iter().any(|o| o == "bind" || o == "rbind");
    // A bind source relative to the bundle; other sources are names.
    let source = m.source().as_ref().map(|s| {
        if bind {
            resolve(s).display().to_string()
        } else {
            s.display().to_string()
        }
    });
    Ok(Mount {
        source,
        destination: m.destination().display().to_string(),
        kind: m.typ().clone().filter(|t| !t.is_empty()),
        options,
        propagation: None,
    })
}

fn hooks(h: &oci::Hooks) -> Hooks {
    let list = |hooks: &Option<Vec<oci::Hook>>| -> Vec<Hook> {
        hooks
            .iter()
            .flatten()
            .map(|h| Hook {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env: h.env().clone().unwrap_or_default(),
                timeout: h.timeout().map(|t| t.clamp(0, i64::from(u32::MAX)) as u32),
            })
            .collect()
    };
    #[allow(deprecated)]
    let prestart = list(h.prestart());
    Hooks {
        prestart,
        create_runtime: list(h.create_runtime()),
        create_container: list(h.create_container()),
        start_container: list(h.start_container()),
        poststart: list(h.poststart()),
        poststop: list(h.poststop()),
    }
}

/// The five sets of `caps`, names sorted.
pub fn capability_sets(caps: &oci::LinuxCapabilities) -> CapabilitySets {
    let names = |set: &Option<oci::Capabilities>| -> Vec<String> {
        let mut names: Vec<String> = set.iter().flatten().map(name).collect();
        names.sort();
        names
    };
    let (inheritable, permitted) = (names(caps.inheritable()), names(caps.permitted()));
    // The kernel raises an ambient capability only when it is inheritable
    // and permitted; runc's own default spec lists ambient ones without an
    // inheritable set, and runc leaves them out with a warning: so does
    // ctrsh (a config of ctrsh's own that asks for one is an error).
    let (ambient, unraisable): (Vec<String>, Vec<String>) = names(caps.ambient())
        .into_iter()
        .partition(|c| inheritable.contains(c) && permitted.contains(c));
    if !unraisable.is_empty() {
        crate::runtime::error::warn(&format!(
            "process.capabilities.ambient: {} left out: not in both the inheritable and the permitted set, the kernel cannot raise them",
            unraisable.join(", ")
        ));
    }
    CapabilitySets {
        bounding: names(caps.bounding()),
        effective: names(caps.effective()),
        inheritable,
        permitted,
        ambient,
    }
}

/// The process's fields that the runtime keeps per container (rlimits,
/// oom_score_adj) go into `config`; `process_spec` the rest.
fn process(p: &oci::Process, config: &mut Config) -> Result<()> {
    // The container's capabilities and no_new_privileges are the config's.
    config.process = Some(ProcessSpec {
        capabilities: None,
        no_new_privileges: None,
        ..process_spec(p)?
    });
    config.no_new_privileges = p.no_new_privileges().unwrap_or(false);
    config.oom_score_adj = p.oom_score_adj();
    config.rlimits = rlimits(p);
    config.capabilities = Some(Capabilities::Sets(
        p.capabilities()
            .as_ref()
            .map(capability_sets)
            .unwrap_or_default(),
    ));
    Ok(())
}

fn rlimits(p: &oci::Process) -> Vec<Rlimit> {
    p.rlimits()
        .iter()
        .flatten()
        .map(|r| Rlimit {
            kind: name(&r.typ()),
            hard: r.hard(),
            soft: r.soft(),
        })
        .collect()
}

/// A process of the spec as the runtime's: the config's first process, or
/// one given to `exec --process`. Its stdio is the caller's.
pub fn process_spec(p: &oci::Process) -> Result<ProcessSpec> {
    let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    for (key, set) in [
        ("process.commandLine", !empty(p.command_line())),
        ("process.apparmorProfile", !empty(p.apparmor_profile())),
        ("process.selinuxLabel", !empty(p.selinux_label())),
        ("process.ioPriority", p.io_priority().is_some()),
        ("process.scheduler", p.scheduler().is_some()),
        ("process.execCPUAffinity", p.exec_cpu_affinity().is_some()),
        ("process.user.username", !empty(p.user().username())),
    ] {
        if set {
            return Err(not_supported(key));
        }
    }
    let user = p.user();
    Ok(ProcessSpec {
        args: p
            .args()
            .clone()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| unsupported("process.args", "is required"))?,
        env: p.env().clone().unwrap_or_default(),
        user: Some(format!("{}:{}", user.uid(), user.gid())),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        cwd: Some(p.cwd().display().to_string()),
        terminal: p.terminal().unwrap_or(false),
        stdin: Stdio::Inherit,
        stdout: Stdio::Inherit,
        stderr: Stdio::Inherit,
        preserve_fds: 0,
        capabilities: p
            .capabilities()
            .as_ref()
            .map(|c| Capabilities::Sets(capability_sets(c))),
        no_new_privileges: p.no_new_privileges(),
    })
}

/// The runtime keeps rlimits and oom_score_adj per container: a process
/// for `exec` may only repeat the container's.
pub fn check_exec_process(p: &oci::Process, config: &Config) -> Result<()> {
    if !p.rlimits().as_ref().is_none_or(Vec::is_empty) && rlimits(p) != config.rlimits {
        return Err(unsupported(
            "process.rlimits",
            "an exec'd process has the container's rlimits in ctrsh",
        ));
    }
    if p.oom_score_adj().is_some() && p.oom_score_adj() != config.oom_score_adj {
        return Err(unsupported(
            "process.oomScoreAdj",
            "an exec'd process has the container's oom_score_adj in ctrsh",
        ));
    }
    Ok(())
}

fn linux(linux: &oci::Linux, config: &mut Config) -> Result<()> {
    let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    for (key, set) in [
        ("linux.mountLabel", !empty(linux.mount_label())),
        ("linux.intelRdt", linux.intel_rdt().is_some()),
        ("linux.memoryPolicy", linux.memory_policy().is_some()),
        ("linux.personality", linux.personality().is_some()),
        ("linux.timeOffsets", linux.time_offsets().is_some()),
        ("linux.netDevices", linux.net_devices().is_some()),
    ] {
        if set {
            return Err(not_supported(key));
        }
    }
    let id_maps = |maps: &Option<Vec<oci::LinuxIdMapping>>| -> Vec<IdMap> {
        maps.iter()
            .flatten()
            .map(|m| IdMap {
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
            })
            .collect()
    };
    config.uid_mappings = id_maps(linux.uid_mappings());
    config.gid_mappings = id_maps(linux.gid_mappings());
    for (k, v) in linux.sysctl().iter().flatten() {
        config.sysctl.insert(k.clone(), v.clone());
    }
    // A bundle's namespaces are all it gets: none listed means none.
    config.namespaces = Some(
        linux
            .namespaces()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, ns)| namespace(i, ns))
            .collect::<Result<_>>()?,
    );
    let mut devices = default_devices();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let node = device(i, d)?;
        // A node of the bundle's replaces a default one at the same path.
        devices.retain(|known| known.path != node.path);
        devices.push(node);
    }
    config.cgroups = Some(resources::cgroups(
        linux.resources().as_ref(),
        linux.cgroups_path().as_deref(),
        &devices,
    )?);
    config.devices = Some(devices);
    if let Some(seccomp) = linux.seccomp() {
        config.seccomp = Some(Seccomp::Profile(profile(seccomp)?));
    }
    config.root_propagation = linux.rootfs_propagation().clone().filter(|p| !p.is_empty());
    config.masked_paths = Some(linux.masked_paths().clone().unwrap_or_default());
    config.readonly_paths = Some(linux.readonly_paths().clone().unwrap_or_default());
    Ok(())
}

fn namespace(i: usize, ns: &oci::LinuxNamespace) -> Result<Namespace> {
    let kind = match ns.typ() {
        oci::LinuxNamespaceType::Mount => NamespaceKind::Mount,
        oci::LinuxNamespaceType::Uts => NamespaceKind::Uts,
        oci::LinuxNamespaceType::Ipc => NamespaceKind::Ipc,
        oci::LinuxNamespaceType::Pid => NamespaceKind::Pid,
        oci::LinuxNamespaceType::Network => NamespaceKind::Net,
        oci::LinuxNamespaceType::User => NamespaceKind::User,
        oci::LinuxNamespaceType::Cgroup => NamespaceKind::Cgroup,
        other => {
            return Err(unsupported(
                &format!("linux.namespaces[{i}].type"),
                &format!("the {} namespace is not supported by ctrsh", name(&other)),
            ))
        }
    };
    Ok(Namespace {
        kind,
        path: ns.path().clone().filter(|p| !p.as_os_str().is_empty()),
    })
}

fn device(i: usize, d: &oci::LinuxDevice) -> Result<Device> {
    let kind = match d.typ() {
        oci::LinuxDeviceType::C | oci::LinuxDeviceType::U => "c",
        oci::LinuxDeviceType::B => "b",
        oci::LinuxDeviceType::P => "p",
        other => {
            return Err(unsupported(
                &format!("linux.devices[{i}].type"),
                &format!("'{}' is not a device node type (c, u, b, p)", name(&other)),
            ))
        }
    };
    Ok(Device {
        path: Some(d.path().display().to_string()),
        file_mode: d.file_mode().unwrap_or(0o666),
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
        ..Device::new(kind, d.major(), d.minor(), "rwm")
    })
}

fn profile(s: &oci::LinuxSeccomp) -> Result<Profile> {
    if s.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(not_supported("linux.seccomp.flags"));
    }
    if s.listener_path().is_some() {
        return Err(not_supported("linux.seccomp.listenerPath"));
    }
    // Names of other architectures' system calls ("chown32") are skipped,
    // as libseccomp skips them for runc: profiles list them for 32-bit
    // programs, which the native-only filter kills anyway.
    let syscalls = s
        .syscalls()
        .iter()
        .flatten()
        .filter(|rule| rule.names().iter().any(|n| is_native_syscall(n)))
        .map(|rule| SyscallRule {
            names: rule
                .names()
                .iter()
                .filter(|n| is_native_syscall(n))
                .cloned()
                .collect(),
            action: name(&rule.action()),
            errno: rule.errno_ret(),
            args: rule
                .args()
                .iter()
                .flatten()
                .map(|a| ArgCondition {
                    index: a.index() as u32,
                    value: a.value(),
                    value_two: a.value_two(),
                    op: name(&a.op()),
                })
                .collect(),
        })
        .collect();
    Ok(Profile {
        default_action: name(&s.default_action()),
        default_errno: s.default_errno_ret(),
        // The runtime's filter covers the native ABI and kills calls made
        // through any other (x86, x32): a profile's other architectures
        // (Docker's and containerd's list x86 and x32) add nothing.
        architectures: s
            .architectures()
            .iter()
            .flatten()
            .map(name)
            .filter(|a| a == NATIVE_ARCH)
            .collect(),
        syscalls,
    })
}
