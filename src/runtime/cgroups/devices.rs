//! The device allow-list, through cgroups-rs's v1 devices controller.
//! cgroup v2 has no devices controller: it needs an eBPF program attached to
//! the cgroup, which ctrsh does not have, so rules there are an error rather
//! than silently unenforced.

use super::{files, CgroupManager, Controller, Mode};
use crate::runtime::config::defaults::default_allowed_devices;
use crate::runtime::config::{Cgroups, Device};
use crate::runtime::error::{Error, ErrorKind, Result};
use cgroups_rs::fs::devices::{DevicePermissions, DeviceType, DevicesController};

const NO_EBPF: &str = "cgroups.allowed_devices: device rules need an eBPF filter on cgroup v2, which ctrsh does not have yet";

/// A validated rule.
struct Rule {
    allow: bool,
    kind: DeviceType,
    major: i64,
    minor: i64,
    access: Vec<DevicePermissions>,
}

pub(super) fn apply(m: &CgroupManager, cfg: &Cgroups) -> Result<()> {
    let allow_all = cfg.allow_all_devices.unwrap_or(false);
    let Some(d) = m.controller_dir(Controller::Devices) else {
        // Nothing restricts devices without a controller: exactly allow_all.
        if allow_all {
            return Ok(());
        }
        return Err(match m.mode {
            Mode::V1 => Error::new(
                ErrorKind::Unsupported,
                "cgroups.allowed_devices: the devices cgroup controller is not mounted on this host",
            ),
            Mode::Hybrid | Mode::V2 => Error::new(ErrorKind::Unsupported, NO_EBPF),
        });
    };
    let ctl = DevicesController::new(d.dir.clone(), d.mount.clone());
    let allow = d.dir.join("devices.allow");
    let all = DevicePermissions::all();
    if allow_all {
        return ctl
            .allow_device(DeviceType::All, -1, -1, &all)
            .map_err(|e| {
                files::from_cgroups_rs(format!("write \"a *:* rwm\" to {}", allow.display()), e)
            });
    }
    let rules = cfg
        .allowed_devices
        .clone()
        .unwrap_or_else(default_allowed_devices);
    // Every rule is checked before the first write.
    let rules = rules
        .iter()
        .enumerate()
        .map(|(i, device)| parse_rule(i, device))
        .collect::<Result<Vec<_>>>()?;
    let deny = d.dir.join("devices.deny");
    ctl.deny_device(DeviceType::All, -1, -1, &all)
        .map_err(|e| files::from_cgroups_rs(format!("write \"a\" to {}", deny.display()), e))?;
    for (i, rule) in rules.iter().enumerate() {
        let written = if rule.allow {
            ctl.allow_device(rule.kind, rule.major, rule.minor, &rule.access)
        } else {
            ctl.deny_device(rule.kind, rule.major, rule.minor, &rule.access)
        };
        written.map_err(|e| {
            files::from_cgroups_rs(
                format!("cgroups.allowed_devices[{i}]: write to {}", d.dir.display()),
                e,
            )
        })?;
    }
    Ok(())
}

fn parse_rule(i: usize, device: &Device) -> Result<Rule> {
    let key = format!("cgroups.allowed_devices[{i}]");
    let kind = match device.kind.as_str() {
        "a" => DeviceType::All,
        "c" => DeviceType::Char,
        "b" => DeviceType::Block,
        other => {
            return Err(Error::config(format!(
                "{key}.type: {other:?} is not \"a\", \"c\" or \"b\""
            )))
        }
    };
    let access = device
        .permissions
        .chars()
        .map(DevicePermissions::from_char)
        .collect::<Option<Vec<_>>>()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Error::config(format!(
                "{key}.permissions: {:?} is not some of \"rwm\"",
                device.permissions
            ))
        })?;
    for (field, number) in [("major", device.major), ("minor", device.minor)] {
        if number < -1 {
            return Err(Error::config(format!(
                "{key}.{field}: {number} is neither a device number nor -1 (any)"
            )));
        }
    }
    Ok(Rule {
        allow: device.allow,
        kind,
        major: device.major,
        minor: device.minor,
        access,
    })
}
