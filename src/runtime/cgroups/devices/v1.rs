//! The rules as cgroup v1 takes them, through cgroups-rs's devices
//! controller: the kernel applies each write in order, as rules.rs reads
//! the list.

use super::{ControllerDir, KEY};
use crate::runtime::cgroups::files;
use crate::runtime::config::{Access, DeviceKind, DeviceRule};
use crate::runtime::error::Result;
use cgroups_rs::fs::devices::{DevicePermissions, DeviceType, DevicesController};

/// Deny everything, then write each rule. A list that starts with an "a"
/// rule resets the cgroup itself, so it needs no deny first (and
/// allow_all_devices never denies anything to a running container).
pub(super) fn write(d: &ControllerDir, rules: &[DeviceRule]) -> Result<()> {
    let ctl = DevicesController::new(d.dir.clone(), d.mount.clone());
    let all = DevicePermissions::all();
    if rules.first().is_none_or(|r| r.devices.is_some()) {
        let deny = d.dir.join("devices.deny");
        ctl.deny_device(DeviceType::All, -1, -1, &all)
            .map_err(|e| files::from_cgroups_rs(format!("write \"a\" to {}", deny.display()), e))?;
    }
    for (i, rule) in rules.iter().enumerate() {
        let (kind, major, minor) = match rule.devices {
            None => (DeviceType::All, -1, -1),
            Some(d) => {
                let number = |n: Option<u32>| n.map_or(-1, i64::from);
                let kind = match d.kind {
                    DeviceKind::Block => DeviceType::Block,
                    DeviceKind::Char => DeviceType::Char,
                };
                (kind, number(d.major), number(d.minor))
            }
        };
        let access = permissions(rule.access);
        let written = match rule.allow {
            true => ctl.allow_device(kind, major, minor, &access),
            false => ctl.deny_device(kind, major, minor, &access),
        };
        written.map_err(|e| {
            files::from_cgroups_rs(format!("{KEY}[{i}]: write to {}", d.dir.display()), e)
        })?;
    }
    Ok(())
}

fn permissions(access: Access) -> Vec<DevicePermissions> {
    [
        (Access::READ, DevicePermissions::Read),
        (Access::WRITE, DevicePermissions::Write),
        (Access::MKNOD, DevicePermissions::MkNod),
    ]
    .into_iter()
    .filter(|(bit, _)| access.bits() & bit.bits() != 0)
    .map(|(_, p)| p)
    .collect()
}
