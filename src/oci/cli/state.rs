//! state, list and ps: what engines and people read about containers.

use super::flags::{switch, value};
use super::{log, parse_args, Failure, Global, Outcome};
use crate::runtime::hooks::OciState;
use crate::runtime::{Error, Status, Summary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

/// runc's `state` output: the OCI state plus rootfs, created and owner.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    /// 0 once stopped.
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339.
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The state of container `id`, from its summary.
fn container_state(g: &Global, id: &str, look: Summary) -> Result<ContainerState, Error> {
    let pid = if matches!(look.status, Status::Stopped | Status::Destroyed) {
        0
    } else {
        look.pid.unwrap_or_default()
    };
    let config = look.config;
    let status = look.status.to_string();
    let bundle = config.bundle.as_deref();
    let oci = OciState::new(id, &status, None, bundle, &config.annotations);
    let dir = g.root.join(id);
    let meta = std::fs::metadata(&dir).ok();
    Ok(ContainerState {
        oci_version: oci.oci_version,
        id: oci.id,
        pid,
        status: oci.status,
        bundle: oci.bundle,
        rootfs: look.rootfs,
        created: crate::runtime::time::rfc3339(
            UNIX_EPOCH + Duration::from_secs(look.created.unwrap_or_default()),
            true,
        ),
        owner: meta.map_or_else(String::new, |m| user_name(m.uid())),
        annotations: oci.annotations,
    })
}

/// The name of `uid` in /etc/passwd, or the number.
fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2)?.parse::<u32>().ok()? == uid).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("state serializes")
    );
}

pub fn state(g: &Global, args: &[String]) -> Outcome {
    let (_, ids) = parse_args("state", &[], args, &["container id"])?;
    let look = g.summary(&ids[0])?;
    print_json(&container_state(g, &ids[0], look)?);
    Ok(0)
}

pub fn list(g: &Global, args: &[String]) -> Outcome {
    let flags = &[value(&["format", "f"]), switch(&["quiet", "q"])];
    let (flags, _) = parse_args("list", flags, args, &[])?;
    let factory = g.factory()?;
    let mut states = Vec::new();
    for id in factory.list()? {
        // One that vanished meanwhile is no error.
        match factory
            .summary(&id)
            .and_then(|look| container_state(g, &id, look))
        {
            Ok(s) => states.push(s),
            Err(e) => log::debug(&format!("list: {id}: {}", e.message)),
        }
    }
    if flags.is_set("quiet") {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match flags.value("format").unwrap_or("table") {
        "json" => print_json(&states),
        "table" => {
            let rows: Vec<[String; 6]> = states
                .iter()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.clone(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                })
                .collect();
            print_table(
                &["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                &rows,
            );
        }
        other => {
            return Err(Failure::Usage(format!(
                "invalid format option {other:?} (table or json)"
            )))
        }
    }
    Ok(0)
}

/// Columns padded as Go's tabwriter pads them (min width 12, padding 1).
fn print_table(header: &[&str; 6], rows: &[[String; 6]]) {
    let mut widths = header.map(|h| h.len());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}", width = widths[i].max(11) + 1));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

pub fn ps(g: &Global, args: &[String]) -> Outcome {
    let (flags, args) = parse_args("ps", &[value(&["format", "f"])], args, &["container id"])?;
    let c = g.container(&args[0])?;
    let pids = c.processes()?;
    match flags.value("format").unwrap_or("table") {
        "json" => {
            println!("{}", serde_json::to_string(&pids).expect("pids serialize"));
            Ok(0)
        }
        "table" => ps_table(&pids, &args[1..]),
        other => Err(Failure::Usage(format!(
            "invalid format option {other:?} (table or json)"
        ))),
    }
}

/// The host's `ps` (with `ps_args`, default -ef), only the container's rows.
fn ps_table(pids: &[i32], ps_args: &[String]) -> Outcome {
    let default = ["-ef".to_string()];
    let ps_args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let out = std::process::Command::new("ps")
        .args(ps_args)
        .output()
        .map_err(|e| Error::sys("run ps", e))?;
    if !out.status.success() {
        return Err(Error::state(format!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::state("ps: its output has no PID column"))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
