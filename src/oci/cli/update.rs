//! update: new cgroup limits for a running container, from `--resources`
//! (OCI linux.resources JSON, "-" for stdin: what containerd and so
//! Kubernetes send) or from runc's flags.

use super::flags::{value, Flag, Parsed};
use super::{parse_args, Failure, Global, Outcome};
use crate::oci::resources;
use crate::runtime::config::{Cgroups, Size};
use crate::runtime::{Error, Patch};
use oci_spec::runtime::LinuxResources;
use std::io::Read;

const FLAGS: &[Flag] = &[
    value(&["resources", "r"]),
    value(&["blkio-weight"]),
    value(&["cpu-period"]),
    value(&["cpu-quota"]),
    value(&["cpu-share"]),
    value(&["cpu-rt-period"]),
    value(&["cpu-rt-runtime"]),
    value(&["cpuset-cpus"]),
    value(&["cpuset-mems"]),
    value(&["kernel-memory"]),
    value(&["kernel-memory-tcp"]),
    value(&["memory"]),
    value(&["memory-reservation"]),
    value(&["memory-swap"]),
    value(&["pids-limit"]),
    value(&["l3-cache-schema"]),
    value(&["mem-bw-schema"]),
];

pub fn update(g: &Global, args: &[String]) -> Outcome {
    let (flags, ids) = parse_args("update", FLAGS, args, &["container id"])?;
    let resources = flags.value("resources").map(read_resources).transpose()?;
    if resources.as_ref().is_some_and(|r| r.devices().is_some()) {
        return Err(Error::config(
            "linux.resources.devices: ctrsh does not change device rules in an update",
        )
        .into());
    }
    g.container(&ids[0])?.update_with(|current| {
        let mut updated = current.clone();
        match &resources {
            Some(r) => resources::limits(r, &mut updated)?,
            None => from_flags(&flags, &mut updated)?,
        }
        Ok::<_, Failure>(changed(current, &updated))
    })?;
    Ok(0)
}

/// The keys of `cgroups` whose value differs: what `Container::update`
/// takes.
fn changed(before: &Cgroups, after: &Cgroups) -> Patch {
    let as_map = |c: &Cgroups| match serde_json::to_value(c).expect("cgroups serialize") {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("a struct serializes to an object"),
    };
    let old = as_map(before);
    as_map(after)
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .collect()
}

fn read_resources(file: &str) -> Result<LinuxResources, Failure> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::sys("--resources: read standard input", e))?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Error::sys(format!("--resources: read {file}"), e))?
    };
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        Failure::Runtime(Error::config(format!(
            "--resources: {}: {}",
            e.path(),
            e.inner()
        )))
    })
}

fn from_flags(flags: &Parsed, cg: &mut Cgroups) -> Result<(), Failure> {
    for unsupported in [
        "cpu-rt-period",
        "cpu-rt-runtime",
        "kernel-memory",
        "kernel-memory-tcp",
        "l3-cache-schema",
        "mem-bw-schema",
    ] {
        if flags.value(unsupported).is_some() {
            return Err(Error::config(format!("--{unsupported}: not supported by ctrsh")).into());
        }
    }
    let size = |name: &str| -> Result<Option<Size>, Failure> {
        flags
            .value(name)
            .map(|v| Size::parse(v).map_err(|e| Failure::Usage(format!("--{name}: {e}"))))
            .transpose()
    };
    let number = |name: &str| -> Result<Option<i64>, Failure> {
        flags
            .value(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| Failure::Usage(format!("--{name}: {v:?} is not a number")))
            })
            .transpose()
    };
    let unsigned =
        |name: &str| -> Result<Option<u64>, Failure> { Ok(number(name)?.map(|n| n.max(0) as u64)) };
    cg.memory = size("memory")?.or(cg.memory);
    cg.memory_reservation = size("memory-reservation")?.or(cg.memory_reservation);
    cg.memory_swap = size("memory-swap")?.or(cg.memory_swap);
    cg.cpu_shares = unsigned("cpu-share")?.or(cg.cpu_shares);
    cg.cpu_quota = number("cpu-quota")?.or(cg.cpu_quota);
    cg.cpu_period = unsigned("cpu-period")?.or(cg.cpu_period);
    cg.pids_limit = number("pids-limit")?.or(cg.pids_limit);
    cg.blkio_weight = unsigned("blkio-weight")?
        .map(|w| u16::try_from(w).unwrap_or(u16::MAX))
        .or(cg.blkio_weight);
    if let Some(cpus) = flags.value("cpuset-cpus") {
        cg.cpuset_cpus = Some(cpus.into());
    }
    if let Some(mems) = flags.value("cpuset-mems") {
        cg.cpuset_mems = Some(mems.into());
    }
    Ok(())
}
