//! Usage statistics. Read from the kernel files directly (except hugetlb):
//! cgroups-rs's stat getters return 0 for every file they cannot read, which
//! would report a missing controller as zero usage. A section is `None` when
//! the host lacks its controller, a field when the kernel lacks its file.

use super::{files, CgroupManager, Controller, ControllerDir};
use crate::runtime::error::Result;
use cgroups_rs::fs::hugetlb::HugeTlbController;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub cpu: Option<CpuStats>,
    pub memory: Option<MemoryStats>,
    pub pids: Option<PidsStats>,
    /// Per block device.
    pub blkio: Option<Vec<BlkioDeviceStats>>,
    /// Per huge page size ("2MB", "1GB").
    pub hugetlb: Option<BTreeMap<String, HugetlbStats>>,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuStats {
    pub usage_ns: u64,
    pub user_ns: u64,
    pub system_ns: u64,
    /// Per CPU (v1 only).
    pub per_cpu: Option<Vec<u64>>,
    /// Periods in which the quota throttled the cgroup (needs the cpu controller).
    pub throttled_periods: Option<u64>,
    pub throttled_ns: Option<u64>,
}

/// Bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryStats {
    pub usage: u64,
    /// The peak usage (v2: memory.peak, Linux 5.19+).
    pub max_usage: Option<u64>,
    /// `None`: no limit.
    pub limit: Option<u64>,
    /// Page cache (v1 total_cache, v2 file).
    pub cache: u64,
    /// Anonymous memory (v1 total_rss, v2 anon).
    pub rss: u64,
    /// `None`: the kernel does not account swap.
    pub swap: Option<u64>,
    /// How often usage hit the limit (v2: memory.events "max").
    pub failcnt: u64,
    pub oom_kills: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PidsStats {
    pub current: u64,
    /// `None`: no limit.
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlkioDeviceStats {
    pub major: u64,
    pub minor: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_ops: u64,
    pub write_ops: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HugetlbStats {
    pub usage: u64,
    /// v1 only.
    pub max_usage: Option<u64>,
    /// How often an allocation failed at the limit.
    pub failcnt: u64,
}

pub(super) fn collect(m: &CgroupManager) -> Result<Stats> {
    let dir = |c: Controller| m.controllers.get(&c);
    Ok(Stats {
        cpu: dir(Controller::Cpuacct)
            .map(|d| cpu(d, dir(Controller::Cpu)))
            .transpose()?,
        memory: dir(Controller::Memory).map(memory).transpose()?,
        pids: dir(Controller::Pids).map(pids).transpose()?,
        blkio: dir(Controller::Blkio).map(blkio).transpose()?,
        hugetlb: dir(Controller::Hugetlb).map(hugetlb).transpose()?,
    })
}

pub(super) fn oom_kills(m: &CgroupManager) -> Result<u64> {
    let d = m.require(Controller::Memory, "oom_kills")?;
    let file = if d.v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    };
    let path = d.dir.join(file);
    files::key(&files::read_flat_keyed(&path)?, "oom_kill", &path)
}

/// `cpu` is the cpu controller, for throttling; v2 has both in one cpu.stat.
fn cpu(acct: &ControllerDir, cpu: Option<&ControllerDir>) -> Result<CpuStats> {
    let throttling = |stat: &BTreeMap<String, u64>, ns_key: &str, scale: u64| {
        let periods = stat.get("nr_throttled").copied();
        (periods, stat.get(ns_key).map(|t| t * scale))
    };
    if acct.v2 {
        let path = acct.dir.join("cpu.stat");
        let stat = files::read_flat_keyed(&path)?;
        let usec = |key| files::key(&stat, key, &path).map(|v| v * 1000);
        let (throttled_periods, throttled_ns) = throttling(&stat, "throttled_usec", 1000);
        return Ok(CpuStats {
            usage_ns: usec("usage_usec")?,
            user_ns: usec("user_usec")?,
            system_ns: usec("system_usec")?,
            per_cpu: None,
            throttled_periods,
            throttled_ns,
        });
    }
    let read = |file: &str| files::read_u64(&acct.dir.join(file));
    let per_cpu_path = acct.dir.join("cpuacct.usage_percpu");
    let per_cpu = files::read_string(&per_cpu_path)?
        .split_whitespace()
        .map(|n| files::parse_u64(&per_cpu_path, n))
        .collect::<Result<_>>()?;
    let (throttled_periods, throttled_ns) = match cpu {
        Some(c) => throttling(
            &files::read_flat_keyed(&c.dir.join("cpu.stat"))?,
            "throttled_time",
            1,
        ),
        None => (None, None),
    };
    Ok(CpuStats {
        usage_ns: read("cpuacct.usage")?,
        user_ns: read("cpuacct.usage_user")?,
        system_ns: read("cpuacct.usage_sys")?,
        per_cpu: Some(per_cpu),
        throttled_periods,
        throttled_ns,
    })
}

fn memory(d: &ControllerDir) -> Result<MemoryStats> {
    let path = |file: &str| d.dir.join(file);
    let optional = |file: &str| -> Result<Option<u64>> {
        let p = path(file);
        p.exists().then(|| files::read_u64(&p)).transpose()
    };
    let stat_path = path("memory.stat");
    let stat = files::read_flat_keyed(&stat_path)?;
    if d.v2 {
        let events_path = path("memory.events");
        let events = files::read_flat_keyed(&events_path)?;
        return Ok(MemoryStats {
            usage: files::read_u64(&path("memory.current"))?,
            max_usage: optional("memory.peak")?,
            limit: files::read_limit(&path("memory.max"))?,
            cache: files::key(&stat, "file", &stat_path)?,
            rss: files::key(&stat, "anon", &stat_path)?,
            swap: optional("memory.swap.current")?,
            failcnt: files::key(&events, "max", &events_path)?,
            oom_kills: files::key(&events, "oom_kill", &events_path)?,
        });
    }
    let usage = files::read_u64(&path("memory.usage_in_bytes"))?;
    let oom_path = path("memory.oom_control");
    let oom = files::read_flat_keyed(&oom_path)?;
    Ok(MemoryStats {
        usage,
        max_usage: Some(files::read_u64(&path("memory.max_usage_in_bytes"))?),
        limit: files::read_limit(&path("memory.limit_in_bytes"))?,
        cache: files::key(&stat, "total_cache", &stat_path)?,
        rss: files::key(&stat, "total_rss", &stat_path)?,
        // memsw counts memory plus swap.
        swap: optional("memory.memsw.usage_in_bytes")?.map(|both| both.saturating_sub(usage)),
        failcnt: files::read_u64(&path("memory.failcnt"))?,
        oom_kills: files::key(&oom, "oom_kill", &oom_path)?,
    })
}

fn pids(d: &ControllerDir) -> Result<PidsStats> {
    Ok(PidsStats {
        current: files::read_u64(&d.dir.join("pids.current"))?,
        limit: files::read_limit(&d.dir.join("pids.max"))?,
    })
}

fn blkio(d: &ControllerDir) -> Result<Vec<BlkioDeviceStats>> {
    let mut devices: BTreeMap<(u64, u64), BlkioDeviceStats> = BTreeMap::new();
    if d.v2 {
        // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
        for line in files::read_string(&d.dir.join("io.stat"))?.lines() {
            let mut words = line.split_whitespace();
            let Some(dev) = words.next().and_then(parse_device) else {
                continue;
            };
            let entry = device_entry(&mut devices, dev);
            for (key, value) in words.filter_map(|w| w.split_once('=')) {
                let value = files::parse_u64(&d.dir.join("io.stat"), value)?;
                match key {
                    "rbytes" => entry.read_bytes = value,
                    "wbytes" => entry.write_bytes = value,
                    "rios" => entry.read_ops = value,
                    "wios" => entry.write_ops = value,
                    _ => {}
                }
            }
        }
    } else {
        // The throttle files count every I/O whatever the scheduler:
        // "8:0 Read 4096" lines.
        read_v1_blkio(
            d,
            "blkio.throttle.io_service_bytes_recursive",
            &mut devices,
            |e| (&mut e.read_bytes, &mut e.write_bytes),
        )?;
        read_v1_blkio(
            d,
            "blkio.throttle.io_serviced_recursive",
            &mut devices,
            |e| (&mut e.read_ops, &mut e.write_ops),
        )?;
    }
    Ok(devices.into_values().collect())
}

fn read_v1_blkio(
    d: &ControllerDir,
    file: &str,
    devices: &mut BTreeMap<(u64, u64), BlkioDeviceStats>,
    // The counters of a device that its "Read" and "Write" lines set.
    counters: fn(&mut BlkioDeviceStats) -> (&mut u64, &mut u64),
) -> Result<()> {
    for line in files::read_string(&d.dir.join(file))?.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [dev, op, value] = words[..] else {
            continue;
        };
        let (Some(dev), Ok(value)) = (parse_device(dev), value.parse()) else {
            continue;
        };
        let is_read = match op {
            "Read" => true,
            "Write" => false,
            _ => continue,
        };
        let (read, write) = counters(device_entry(devices, dev));
        *if is_read { read } else { write } = value;
    }
    Ok(())
}

fn device_entry(
    devices: &mut BTreeMap<(u64, u64), BlkioDeviceStats>,
    (major, minor): (u64, u64),
) -> &mut BlkioDeviceStats {
    devices.entry((major, minor)).or_insert(BlkioDeviceStats {
        major,
        minor,
        ..BlkioDeviceStats::default()
    })
}

fn parse_device(text: &str) -> Option<(u64, u64)> {
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Through cgroups-rs, which knows the page size names and v1/v2 file names.
fn hugetlb(d: &ControllerDir) -> Result<BTreeMap<String, HugetlbStats>> {
    let ctl = HugeTlbController::new(d.dir.clone(), d.mount.clone(), d.v2);
    let failed = |what: &str, size: &str| {
        let what = format!("read the {size} {what} in {}", d.dir.display());
        move |e| files::from_cgroups_rs(what, e)
    };
    let mut sizes = BTreeMap::new();
    for size in ctl.get_sizes() {
        let stats = HugetlbStats {
            usage: ctl.usage_in_bytes(&size).map_err(failed("usage", &size))?,
            max_usage: match d.v2 {
                true => None,
                false => Some(
                    ctl.max_usage_in_bytes(&size)
                        .map_err(failed("max usage", &size))?,
                ),
            },
            failcnt: ctl.failcnt(&size).map_err(failed("failcnt", &size))?,
        };
        sizes.insert(size, stats);
    }
    Ok(sizes)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn devices() {
        assert_eq!(parse_device("8:16"), Some((8, 16)));
        assert_eq!(parse_device("Total"), None);
    }
}
