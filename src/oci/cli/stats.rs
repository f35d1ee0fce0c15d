//! events: the container's statistics (and OOM kills) as runc's JSON events.

use super::flags::{switch, value};
use super::{parse_args, Failure, Global, Outcome};
use crate::runtime::{Container, ContainerStats, Event, Status};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

pub fn events(g: &Global, args: &[String]) -> Outcome {
    let flags = &[switch(&["stats"]), value(&["interval"])];
    let (flags, ids) = parse_args("events", flags, args, &["container id"])?;
    let c = g.container(&ids[0])?;
    if flags.is_set("stats") {
        print_event(&stats_event(&c)?);
        return Ok(0);
    }
    let interval =
        parse_duration(flags.value("interval").unwrap_or("5s")).map_err(Failure::Usage)?;
    // Until the container stops: OOM kills as they are seen (the one that
    // stopped it included) and its statistics every interval.
    loop {
        let stopped = c.status()? == Status::Stopped;
        for event in c.events()? {
            let Event::Oom { .. } = event;
            print_event(&json!({ "type": "oom", "id": c.id() }));
        }
        if stopped {
            return Ok(0);
        }
        match stats_event(&c) {
            Ok(event) => print_event(&event),
            // It stopped since: the next turn reports what is left.
            Err(_) if c.status()? == Status::Stopped => continue,
            Err(e) => return Err(e.into()),
        }
        std::thread::sleep(interval);
    }
}

fn print_event(event: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

fn stats_event(c: &Container) -> Result<Value, crate::runtime::Error> {
    Ok(json!({ "type": "stats", "id": c.id(), "data": runc_stats(&c.stats()?) }))
}

/// The statistics in the shape of runc's `types.Stats`.
pub fn runc_stats(s: &ContainerStats) -> Value {
    let mut data = json!({});
    if let Some(cpu) = &s.cgroup.cpu {
        data["cpu"] = json!({
            "usage": {
                "total": cpu.usage_ns,
                "percpu": cpu.per_cpu.clone().unwrap_or_default(),
                "kernel": cpu.system_ns,
                "user": cpu.user_ns,
            },
            "throttling": {
                "throttled_periods": cpu.throttled_periods.unwrap_or_default(),
                "throttled_time": cpu.throttled_ns.unwrap_or_default(),
            },
        });
    }
    if let Some(m) = &s.cgroup.memory {
        data["memory"] = json!({
            "cache": m.cache,
            "usage": {
                "limit": m.limit.unwrap_or(u64::MAX),
                "usage": m.usage,
                "max": m.max_usage.unwrap_or_default(),
                "failcnt": m.failcnt,
            },
            "swap": { "usage": m.swap.unwrap_or_default(), "failcnt": 0, "limit": 0 },
            "raw": { "total_cache": m.cache, "total_rss": m.rss, "oom_kill": m.oom_kills },
        });
    }
    if let Some(p) = &s.cgroup.pids {
        data["pids"] = json!({ "current": p.current, "limit": p.limit.unwrap_or_default() });
    }
    if let Some(devices) = &s.cgroup.blkio {
        let entries = |read: fn(&crate::runtime::cgroups::BlkioDeviceStats) -> (u64, u64)| {
            devices
                .iter()
                .flat_map(|d| {
                    let (r, w) = read(d);
                    [("Read", r), ("Write", w), ("Total", r + w)].map(|(op, value)| {
                        json!({ "major": d.major, "minor": d.minor, "op": op, "value": value })
                    })
                })
                .collect::<Vec<_>>()
        };
        data["blkio"] = json!({
            "ioServiceBytesRecursive": entries(|d| (d.read_bytes, d.write_bytes)),
            "ioServicedRecursive": entries(|d| (d.read_ops, d.write_ops)),
        });
    }
    if let Some(pages) = &s.cgroup.hugetlb {
        data["hugetlb"] = pages
            .iter()
            .map(|(size, h)| {
                let entry = json!({ "usage": h.usage, "max": h.max_usage.unwrap_or_default(), "failcnt": h.failcnt });
                (size.clone(), entry)
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    data["network_interfaces"] = serde_json::to_value(&s.network).expect("stats serialize");
    data
}

/// A Go duration ("5s", "500ms", "1m30s").
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?} (e.g. 5s, 500ms, 1m)");
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(number * scale);
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
