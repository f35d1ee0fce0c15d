//! The device allow-list, through cgroups-rs's v1 devices controller.
//! cgroup v2 has no devices controller: it needs an eBPF program attached to
//! the cgroup, which ctrsh does not have, so rules there are an error rather
//! than silently unenforced.

use super::{files, CgroupManager, Controller, Mode};
use crate::runtime::config::{Access, CheckedCgroups, DeviceKind, DeviceRule};
use crate::runtime::error::{Error, ErrorKind, Result};
use cgroups_rs::fs::devices::{DevicePermissions, DeviceType, DevicesController};

const NO_EBPF: &str = "cgroups.allowed_devices: device rules need an eBPF filter on cgroup v2, which ctrsh does not have yet";

pub(super) fn apply(m: &CgroupManager, cfg: &CheckedCgroups) -> Result<()> {
    let Some(d) = m.controller_dir(Controller::Devices) else {
        // Nothing restricts devices without a controller: exactly allow_all.
        if cfg.allow_all_devices {
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
    if cfg.allow_all_devices {
        return ctl
            .allow_device(DeviceType::All, -1, -1, &all)
            .map_err(|e| {
                files::from_cgroups_rs(format!("write \"a *:* rwm\" to {}", allow.display()), e)
            });
    }
    let deny = d.dir.join("devices.deny");
    ctl.deny_device(DeviceType::All, -1, -1, &all)
        .map_err(|e| files::from_cgroups_rs(format!("write \"a\" to {}", deny.display()), e))?;
    for (i, rule) in cfg.device_rules.iter().enumerate() {
        let (kind, major, minor) = numbers(rule);
        let access = permissions(rule.access);
        let written = if rule.allow {
            ctl.allow_device(kind, major, minor, &access)
        } else {
            ctl.deny_device(kind, major, minor, &access)
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

/// The type and numbers of `rule` as cgroups-rs writes them (-1: any).
fn numbers(rule: &DeviceRule) -> (DeviceType, i64, i64) {
    let number = |n: Option<u32>| n.map_or(-1, i64::from);
    match rule.devices {
        None => (DeviceType::All, -1, -1),
        Some(d) => {
            let kind = match d.kind {
                DeviceKind::Block => DeviceType::Block,
                DeviceKind::Char => DeviceType::Char,
            };
            (kind, number(d.major), number(d.minor))
        }
    }
}

fn permissions(access: Access) -> Vec<DevicePermissions> {
    [
        (Access::READ, DevicePermissions::Read),
        (Access::WRITE, DevicePermissions::Write),
        (Access::MKNOD, DevicePermissions::MkNod),
    ]
    .into_iter()
    .filter(|(bit, _)| access.contains(*bit))
    .map(|(_, p)| p)
    .collect()
}
