//! Resource limits, through cgroups-rs's controller setters (each returns its
//! error; the crate's `Controller::apply(&Resources)` ignores most of them,
//! so it is not used). The v1 and v2 units differ where noted.

use super::{files, CgroupManager, Controller, ControllerDir};
use crate::runtime::config::{Limits, Throttle, ThrottleKind};
use crate::runtime::error::{Error, ErrorKind, Result};
use cgroups_rs::fs::blkio::BlkIoController;
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::hugetlb::HugeTlbController;
use cgroups_rs::fs::memory::{MemController, SetMemory};
use cgroups_rs::fs::pid::PidController;
use cgroups_rs::fs::MaxValue;
use std::fmt::Display;

/// The controllers `cfg` asks something of, each with the first config key
/// that does (errors name it).
pub(super) fn asked(cfg: &Limits) -> Vec<(Controller, &'static str)> {
    let first = |keys: &[(&'static str, bool)]| keys.iter().find(|(_, set)| *set).map(|k| k.0);
    let throttle = cfg.blkio_throttle.first().map(|t| t.kind.key());
    [
        (
            Controller::Memory,
            first(&[
                ("cgroups.memory", cfg.memory.is_some()),
                ("cgroups.memory_swap", cfg.memory_swap.is_some()),
                (
                    "cgroups.memory_reservation",
                    cfg.memory_reservation.is_some(),
                ),
            ]),
        ),
        (
            Controller::Cpu,
            first(&[
                ("cgroups.cpu_shares", cfg.cpu_shares.is_some()),
                ("cgroups.cpu_quota", cfg.cpu_quota.is_some()),
                ("cgroups.cpu_period", cfg.cpu_period.is_some()),
            ]),
        ),
        (
            Controller::Cpuset,
            first(&[
                ("cgroups.cpuset_cpus", cfg.cpuset_cpus.is_some()),
                ("cgroups.cpuset_mems", cfg.cpuset_mems.is_some()),
            ]),
        ),
        (
            Controller::Pids,
            first(&[("cgroups.pids_limit", cfg.pids_limit.is_some())]),
        ),
        (
            Controller::Blkio,
            first(&[
                ("cgroups.blkio_weight", cfg.blkio_weight.is_some()),
                (
                    "cgroups.blkio_weight_device",
                    !cfg.blkio_weight_device.is_empty(),
                ),
                (throttle.unwrap_or_default(), throttle.is_some()),
            ]),
        ),
        (
            Controller::Hugetlb,
            first(&[("cgroups.hugetlb_limits", !cfg.hugetlb_limits.is_empty())]),
        ),
    ]
    .into_iter()
    .filter_map(|(c, key)| Some((c, key?)))
    .collect()
}

pub(super) fn apply(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    memory(m, cfg)?;
    cpu(m, cfg)?;
    cpuset(m, cfg)?;
    pids(m, cfg)?;
    blkio(m, cfg)?;
    hugetlb(m, cfg)
}

/// The error of writing `value` to `file` for config `key`.
fn failed(
    key: &str,
    dir: &ControllerDir,
    file: &str,
    value: impl Display,
) -> impl FnOnce(cgroups_rs::fs::error::Error) -> Error {
    let what = format!("{key}: write {value} to {}", dir.dir.join(file).display());
    move |e| files::from_cgroups_rs(what, e)
}

/// -1 means no limit, as in libcontainer.
fn max_value(value: i64) -> MaxValue {
    if value < 0 {
        MaxValue::Max
    } else {
        MaxValue::Value(value)
    }
}

fn memory(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    let Some((_, key)) = asked(cfg)
        .into_iter()
        .find(|(c, _)| *c == Controller::Memory)
    else {
        return Ok(());
    };
    let (limit, swap, reservation) = (cfg.memory, cfg.memory_swap, cfg.memory_reservation);
    let d = m.require(Controller::Memory, key)?;
    let mem = MemController::new(d.dir.clone(), d.mount.clone(), d.v2);
    let set_limit = |l: i64| {
        let file = if d.v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        mem.set_limit(l)
            .map_err(failed("cgroups.memory", d, file, l))
    };
    let set_swap = |s: i64| -> Result<()> {
        let file = if d.v2 {
            "memory.swap.max"
        } else {
            "memory.memsw.limit_in_bytes"
        };
        if !d.dir.join(file).exists() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("cgroups.memory_swap: this kernel does not account swap (no {file})"),
            ));
        }
        let value = if d.v2 { v2_swap(s, limit)? } else { s };
        mem.set_memswap_limit(value)
            .map_err(failed("cgroups.memory_swap", d, file, value))
    };
    match (limit, swap) {
        // v1's memory.memsw.limit_in_bytes (memory plus swap) may never be
        // below memory.limit_in_bytes, so a raise writes the swap limit first
        // (runc's order).
        (Some(l), Some(s)) if !d.v2 && swap_first(d, s)? => {
            set_swap(s)?;
            set_limit(l)?;
        }
        _ => {
            limit.map(set_limit).transpose()?;
            swap.map(set_swap).transpose()?;
        }
    }
    if let Some(r) = reservation {
        if d.v2 {
            let low = SetMemory {
                low: Some(max_value(r)),
                ..SetMemory::default()
            };
            mem.set_mem(low)
                .map_err(failed("cgroups.memory_reservation", d, "memory.low", r))?;
        } else {
            mem.set_soft_limit(r).map_err(failed(
                "cgroups.memory_reservation",
                d,
                "memory.soft_limit_in_bytes",
                r,
            ))?;
        }
    }
    Ok(())
}

fn swap_first(d: &ControllerDir, swap: i64) -> Result<bool> {
    let current = files::read_u64(&d.dir.join("memory.limit_in_bytes"))?;
    Ok(swap < 0 || current < swap as u64)
}

/// libcontainer's memory_swap is memory plus swap; v2's memory.swap.max is
/// swap alone.
fn v2_swap(swap: i64, memory: Option<i64>) -> Result<i64> {
    match memory {
        _ if swap < 0 => Ok(-1),
        Some(memory) if memory > 0 && swap >= memory => Ok(swap - memory),
        Some(memory) if memory > 0 => Err(Error::config(format!(
            "cgroups.memory_swap: {swap} is below cgroups.memory {memory} (it counts memory plus swap)"
        ))),
        _ => Err(Error::config(
            "cgroups.memory_swap: needs a cgroups.memory limit on cgroup v2 (memory.swap.max counts swap alone)",
        )),
    }
}

fn cpu(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    if let Some(shares) = cfg.cpu_shares {
        let d = m.require(Controller::Cpu, "cgroups.cpu_shares")?;
        let cpu = CpuController::new(d.dir.clone(), d.mount.clone(), d.v2);
        let (file, value) = if d.v2 {
            ("cpu.weight", shares_to_weight(shares))
        } else {
            ("cpu.shares", shares)
        };
        cpu.set_shares(value)
            .map_err(failed("cgroups.cpu_shares", d, file, value))?;
    }
    if cfg.cpu_quota.is_none() && cfg.cpu_period.is_none() {
        return Ok(());
    }
    let key = match cfg.cpu_quota {
        Some(_) => "cgroups.cpu_quota",
        None => "cgroups.cpu_period",
    };
    let d = m.require(Controller::Cpu, key)?;
    let cpu = CpuController::new(d.dir.clone(), d.mount.clone(), d.v2);
    if d.v2 {
        let shown = |v: Option<String>| v.unwrap_or_else(|| "(unchanged)".into());
        let value = format!(
            "quota {} period {}",
            shown(cfg.cpu_quota.map(|q| q.to_string())),
            shown(cfg.cpu_period.map(|p| p.to_string()))
        );
        return cpu
            .set_cfs_quota_and_period(cfg.cpu_quota, cfg.cpu_period)
            .map_err(failed(key, d, "cpu.max", value));
    }
    // The period first: the kernel checks the quota against it.
    if let Some(period) = cfg.cpu_period {
        cpu.set_cfs_period(period).map_err(failed(
            "cgroups.cpu_period",
            d,
            "cpu.cfs_period_us",
            period,
        ))?;
    }
    if let Some(quota) = cfg.cpu_quota {
        cpu.set_cfs_quota(quota).map_err(failed(
            "cgroups.cpu_quota",
            d,
            "cpu.cfs_quota_us",
            quota,
        ))?;
    }
    Ok(())
}

/// v1 shares (2..262144) to v2 weight (1..10000), as runc converts them.
fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

fn cpuset(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    let settings = [
        ("cgroups.cpuset_cpus", "cpus", &cfg.cpuset_cpus),
        ("cgroups.cpuset_mems", "mems", &cfg.cpuset_mems),
    ];
    for (key, what, value) in settings {
        let Some(value) = value else {
            continue;
        };
        let d = m.require(Controller::Cpuset, key)?;
        let ctl = CpuSetController::new(d.dir.clone(), d.mount.clone(), d.v2);
        let written = match what {
            "cpus" => ctl.set_cpus(value),
            _ => ctl.set_mems(value),
        };
        let file = format!("cpuset.{what}");
        written.map_err(|e| {
            let mut error = failed(key, d, &file, value)(e);
            if let Some((path, offered)) = offered(d, what) {
                error.message += &format!(
                    "; the parent cgroup offers {what} {offered:?} ({})",
                    path.display()
                );
            }
            error
        })?;
    }
    Ok(())
}

/// The cpus or mems ("cpus", "mems") the parent of `d` offers, and the file
/// that says so: a cpuset outside them is impossible.
fn offered(d: &ControllerDir, what: &str) -> Option<(std::path::PathBuf, String)> {
    let file = if d.v2 {
        format!("cpuset.{what}.effective")
    } else {
        format!("cpuset.effective_{what}")
    };
    let path = d.dir.parent()?.join(file);
    files::read_string(&path).ok().map(|v| (path, v))
}

fn pids(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    let Some(limit) = cfg.pids_limit else {
        return Ok(());
    };
    let d = m.require(Controller::Pids, "cgroups.pids_limit")?;
    // As in runc, 0 means no limit too (a pids.max of 0 would forbid fork).
    let value = if limit == 0 {
        MaxValue::Max
    } else {
        max_value(limit)
    };
    PidController::new(d.dir.clone(), d.mount.clone(), d.v2)
        .set_pid_max(value)
        .map_err(failed("cgroups.pids_limit", d, "pids.max", value))
}

fn blkio(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    if let Some(weight) = cfg.blkio_weight {
        let key = "cgroups.blkio_weight";
        let d = m.require(Controller::Blkio, key)?;
        let (file, value) = weight_file(d, key, false, weight)?;
        files::write(&d.dir.join(file), &value.to_string()).map_err(|e| e.context(key))?;
    }
    for w in &cfg.blkio_weight_device {
        let key = "cgroups.blkio_weight_device";
        let d = m.require(Controller::Blkio, key)?;
        let (file, value) = weight_file(d, key, true, w.weight)?;
        files::write(&d.dir.join(file), &format!("{} {value}", w.device))
            .map_err(|e| e.context(key))?;
    }
    for t in &cfg.blkio_throttle {
        throttle(m, t)?;
    }
    Ok(())
}

/// The file that takes an I/O weight (of the cgroup, or `per_device`) and
/// the value to write there. Written directly: cgroups-rs knows one
/// weight file per version (blkio.weight, io.bfq.weight), but which one
/// exists depends on the I/O scheduler: blkio.weight went with CFQ
/// (Linux 5.0), BFQ has its own, and v2 without BFQ has io.weight on
/// another scale. The kernel takes a device's weight only where the
/// device's scheduler (or io.cost) handles weights, and says so.
fn weight_file(
    d: &ControllerDir,
    key: &str,
    per_device: bool,
    weight: u16,
) -> Result<(&'static str, u64)> {
    let weight = u64::from(weight);
    let candidates: [(&str, u64); 2] = match (d.v2, per_device) {
        (true, _) => {
            // io.weight is 1..10000; blkio weights are 10..1000.
            let io_weight = 1 + weight.saturating_sub(10) * 9999 / 990;
            [("io.bfq.weight", weight), ("io.weight", io_weight)]
        }
        (false, false) => [("blkio.weight", weight), ("blkio.bfq.weight", weight)],
        (false, true) => [
            ("blkio.weight_device", weight),
            ("blkio.bfq.weight_device", weight),
        ],
    };
    candidates
        .into_iter()
        .find(|(file, _)| d.dir.join(file).exists())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{key}: {} has neither {} nor {} (no proportional I/O scheduler such as BFQ)",
                    d.dir.display(),
                    candidates[0].0,
                    candidates[1].0
                ),
            )
        })
}

/// One device's rate limit: v1 blkio.throttle.*_device, v2 io.max.
fn throttle(m: &CgroupManager, t: &Throttle) -> Result<()> {
    let key = t.kind.key();
    let d = m.require(Controller::Blkio, key)?;
    let (v1_file, v2_name) = match t.kind {
        ThrottleKind::ReadBps => ("blkio.throttle.read_bps_device", "rbps"),
        ThrottleKind::WriteBps => ("blkio.throttle.write_bps_device", "wbps"),
        ThrottleKind::ReadIops => ("blkio.throttle.read_iops_device", "riops"),
        ThrottleKind::WriteIops => ("blkio.throttle.write_iops_device", "wiops"),
    };
    if t.rate.is_none() && d.v2 {
        // No limit is "max" in io.max (which refuses 0); cgroups-rs writes
        // numbers only.
        return files::write(
            &d.dir.join("io.max"),
            &format!("{} {v2_name}=max", t.device),
        )
        .map_err(|e| e.context(key));
    }
    // No limit is a rate of 0 on v1.
    let rate = t.rate.unwrap_or(0);
    let (major, minor) = (u64::from(t.device.major), u64::from(t.device.minor));
    let ctl = BlkIoController::new(d.dir.clone(), d.mount.clone(), d.v2);
    let written = match t.kind {
        ThrottleKind::ReadBps => ctl.throttle_read_bps_for_device(major, minor, rate),
        ThrottleKind::WriteBps => ctl.throttle_write_bps_for_device(major, minor, rate),
        ThrottleKind::ReadIops => ctl.throttle_read_iops_for_device(major, minor, rate),
        ThrottleKind::WriteIops => ctl.throttle_write_iops_for_device(major, minor, rate),
    };
    let file = if d.v2 { "io.max" } else { v1_file };
    written.map_err(failed(key, d, file, format!("{} {rate}", t.device)))
}

fn hugetlb(m: &CgroupManager, cfg: &Limits) -> Result<()> {
    if cfg.hugetlb_limits.is_empty() {
        return Ok(());
    }
    let key = "cgroups.hugetlb_limits";
    let d = m.require(Controller::Hugetlb, key)?;
    let ctl = HugeTlbController::new(d.dir.clone(), d.mount.clone(), d.v2);
    for limit in &cfg.hugetlb_limits {
        let size = &limit.page_size;
        if !ctl.size_supported(size) {
            return Err(Error::config(format!(
                "{key}: page size {size:?} is not one of this host's {:?}",
                ctl.get_sizes()
            )));
        }
        let bytes = limit.bytes;
        let file = if d.v2 {
            format!("hugetlb.{size}.max")
        } else {
            format!("hugetlb.{size}.limit_in_bytes")
        };
        ctl.set_limit_in_bytes(size, bytes)
            .map_err(failed(key, d, &file, bytes))?;
    }
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(v2_swap(-1, None).unwrap(), -1);
        assert_eq!(v2_swap(300, Some(100)).unwrap(), 200);
        assert!(v2_swap(50, Some(100)).is_err());
        assert!(v2_swap(50, None).is_err());
    }
}
