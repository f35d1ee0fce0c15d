//! `linux.resources` (and `linux.cgroupsPath`) as the runtime's `cgroups`;
//! also the JSON `update --resources` reads.

use crate::runtime::config::defaults::default_allowed_devices;
use crate::runtime::config::{Cgroups, Device, HugetlbLimit, Size, ThrottleDevice, WeightDevice};
use crate::runtime::{Error, Result};
use oci_spec::runtime as oci;

fn not_supported(key: &str) -> Error {
    Error::config(format!("linux.resources.{key}: not supported by ctrsh"))
}

/// The cgroup of a bundle: placed at `path` (relative paths under ctrsh's
/// own cgroup, as runc), with the limits of `resources`. `devices`: the
/// container's device nodes, which are allowed as runc allows them.
pub fn cgroups(
    resources: Option<&oci::LinuxResources>,
    path: Option<&std::path::Path>,
    devices: &[Device],
) -> Result<Cgroups> {
    let mut cg = Cgroups {
        path: path
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string()),
        ..Cgroups::default()
    };
    let default = oci::LinuxResources::default();
    let r = resources.unwrap_or(&default);
    limits(r, &mut cg)?;
    // runc's order: the bundle's rules, its default allow-list, then each
    // device node of the container.
    let mut rules = r
        .devices()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .peekable();
    // A leading "deny all" is the runtime's allow_all_devices: false; a
    // leading "allow all", true.
    let first_is_all = |d: &oci::LinuxDeviceCgroup| {
        d.typ().is_none_or(|t| t == oci::LinuxDeviceType::A)
            && d.major().is_none_or(|m| m == -1)
            && d.minor().is_none_or(|m| m == -1)
    };
    let mut allow_all = false;
    if let Some(first) = rules.next_if(first_is_all) {
        allow_all = first.allow();
    }
    let mut allowed = Vec::new();
    for (i, rule) in rules.enumerate() {
        allowed.push(device_rule(i, &rule)?);
    }
    if !allow_all {
        allowed.extend(default_allowed_devices());
        // Fifos are no cgroup device type: nothing to allow.
        allowed.extend(devices.iter().filter(|d| d.kind != "p").map(|d| Device {
            path: None,
            ..d.clone()
        }));
    }
    cg.allow_all_devices = Some(allow_all);
    cg.allowed_devices = Some(allowed);
    Ok(cg)
}

fn device_rule(i: usize, d: &oci::LinuxDeviceCgroup) -> Result<Device> {
    let kind = match d.typ().unwrap_or(oci::LinuxDeviceType::A) {
        oci::LinuxDeviceType::A => "a",
        oci::LinuxDeviceType::C | oci::LinuxDeviceType::U => "c",
        oci::LinuxDeviceType::B => "b",
        oci::LinuxDeviceType::P => {
            return Err(Error::config(format!(
                "linux.resources.devices[{i}].type: 'p' is not a device cgroup type (a, c, b)"
            )))
        }
    };
    Ok(Device {
        allow: d.allow(),
        ..Device::new(
            kind,
            d.major().unwrap_or(-1),
            d.minor().unwrap_or(-1),
            d.access().as_deref().unwrap_or("rwm"),
        )
    })
}

/// Every limit of `r` into `cg`, or an error naming the first the runtime
/// cannot apply.
pub fn limits(r: &oci::LinuxResources, cg: &mut Cgroups) -> Result<()> {
    if r.network().is_some() {
        return Err(not_supported("network"));
    }
    if r.rdma().is_some() {
        return Err(not_supported("rdma"));
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(not_supported("unified"));
    }
    if let Some(m) = r.memory() {
        for (key, set) in [
            ("memory.kernel", m.kernel().is_some()),
            ("memory.kernelTCP", m.kernel_tcp().is_some()),
            ("memory.swappiness", m.swappiness().is_some()),
            (
                "memory.disableOOMKiller",
                m.disable_oom_killer() == Some(true),
            ),
            ("memory.useHierarchy", m.use_hierarchy().is_some()),
            (
                "memory.checkBeforeUpdate",
                m.check_before_update() == Some(true),
            ),
        ] {
            if set {
                return Err(not_supported(key));
            }
        }
        cg.memory = m.limit().map(Size).or(cg.memory);
        cg.memory_reservation = m.reservation().map(Size).or(cg.memory_reservation);
        cg.memory_swap = m.swap().map(Size).or(cg.memory_swap);
    }
    if let Some(c) = r.cpu() {
        for (key, set) in [
            ("cpu.realtimeRuntime", c.realtime_runtime().is_some()),
            ("cpu.realtimePeriod", c.realtime_period().is_some()),
            ("cpu.idle", c.idle().is_some()),
            ("cpu.burst", c.burst().is_some()),
        ] {
            if set {
                return Err(not_supported(key));
            }
        }
        cg.cpu_shares = c.shares().or(cg.cpu_shares);
        cg.cpu_quota = c.quota().or(cg.cpu_quota);
        cg.cpu_period = c.period().or(cg.cpu_period);
        cg.cpuset_cpus = c
            .cpus()
            .clone()
            .filter(|s| !s.is_empty())
            .or(cg.cpuset_cpus.take());
        cg.cpuset_mems = c
            .mems()
            .clone()
            .filter(|s| !s.is_empty())
            .or(cg.cpuset_mems.take());
    }
    if let Some(p) = r.pids() {
        cg.pids_limit = Some(p.limit());
    }
    if let Some(b) = r.block_io() {
        if b.leaf_weight().is_some() {
            return Err(not_supported("blockIO.leafWeight"));
        }
        cg.blkio_weight = b.weight().or(cg.blkio_weight);
        if let Some(devices) = b.weight_device() {
            let mut weights = Vec::new();
            for (i, d) in devices.iter().enumerate() {
                if d.leaf_weight().is_some() {
                    return Err(not_supported(&format!(
                        "blockIO.weightDevice[{i}].leafWeight"
                    )));
                }
                // As in runc, a device without a weight sets nothing.
                if let Some(weight) = d.weight() {
                    weights.push(WeightDevice {
                        major: d.major(),
                        minor: d.minor(),
                        weight,
                    });
                }
            }
            cg.blkio_weight_device = weights;
        }
        let throttles = |devices: &Option<Vec<oci::LinuxThrottleDevice>>, list: &mut Vec<_>| {
            if let Some(devices) = devices {
                *list = devices
                    .iter()
                    .map(|d| ThrottleDevice {
                        major: d.major(),
                        minor: d.minor(),
                        rate: d.rate(),
                    })
                    .collect();
            }
        };
        throttles(
            b.throttle_read_bps_device(),
            &mut cg.blkio_throttle_read_bps_device,
        );
        throttles(
            b.throttle_write_bps_device(),
            &mut cg.blkio_throttle_write_bps_device,
        );
        throttles(
            b.throttle_read_iops_device(),
            &mut cg.blkio_throttle_read_iops_device,
        );
        throttles(
            b.throttle_write_iops_device(),
            &mut cg.blkio_throttle_write_iops_device,
        );
    }
    for h in r.hugepage_limits().iter().flatten() {
        cg.hugetlb_limits.retain(|l| l.page_size != *h.page_size());
        cg.hugetlb_limits.push(HugetlbLimit {
            page_size: h.page_size().clone(),
            limit: Size(h.limit()),
        });
    }
    Ok(())
}
