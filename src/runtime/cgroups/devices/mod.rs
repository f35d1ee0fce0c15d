//! The device allow-list: the v1 devices controller where the host has one,
//! otherwise an eBPF program on the cgroup2 directory (cgroup v2 has no
//! devices controller). Both enforce the same rules (rules.rs).

mod bpf;
mod program;
mod rules;
mod v1;

use super::{CgroupManager, Controller, ControllerDir};
use crate::runtime::config::CheckedCgroups;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use rules::Effective;
use std::fs::File;
use std::path::Path;

const KEY: &str = "cgroups.allowed_devices";

pub(super) fn apply(m: &CgroupManager, cfg: &CheckedCgroups) -> Result<()> {
    let allow_all = cfg.allow_all_devices;
    let d = match m.controller_dir(Controller::Devices) {
        Some(d) => d,
        // Nothing restricts devices without a controller: exactly allow_all.
        None if allow_all => return Ok(()),
        None => return m.require(Controller::Devices, KEY).map(drop),
    };
    let allow_all_rules = [rules::ALLOW_ALL];
    let rules: &[_] = match allow_all {
        true => &allow_all_rules,
        false => &cfg.device_rules,
    };
    // Checked (and for v2 compiled) before anything is written.
    let effective = Effective::of(rules, KEY)?;
    if d.v2 {
        install_program(d, &effective)
    } else {
        v1::write(d, rules)
    }
}

/// Make the compiled program of `rules` the cgroup's only device program:
/// it replaces the one attached before in one step (`update()` on a running
/// container never leaves a moment without rules or with both). It goes
/// with the cgroup directory, so destroy has nothing to detach.
fn install_program(d: &ControllerDir, rules: &Effective) -> Result<()> {
    let failed = |what: &str| {
        format!(
            "{KEY}: {what} the eBPF device program of {}",
            d.dir.display()
        )
    };
    let cgroup = open_dir(&d.dir)?;
    let new = program::compile(rules)
        .map(|p| bpf::load(&p))
        .transpose()
        .map_err(|e| privileged(failed("load"), e))?;
    let old = match bpf::attached(&cgroup) {
        Ok(old) => old,
        // A program can only restrict further, and one that is there was
        // not loaded by this user (a user who cannot list programs cannot
        // load them either): with nothing to attach, nothing to do.
        Err(e) if new.is_none() && e.raw_os_error() == Some(libc::EPERM) => return Ok(()),
        Err(e) => return Err(privileged(failed("list"), e)),
    };
    let mut old = old.into_iter();
    if let Some(program) = &new {
        let replaced = old.next();
        bpf::attach(&cgroup, program, replaced.as_ref()).ctx(failed("attach"))?;
    }
    // Programs attached by someone else as well (the replaced one is gone).
    for program in old {
        bpf::detach(&cgroup, &program).ctx(failed("detach an old version of"))?;
    }
    Ok(())
}

fn open_dir(dir: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .ctx(format_args!("open {}", dir.display()))
}

/// EPERM from bpf(2) means the caller lacks the capabilities: say which,
/// and what an unprivileged user can do instead.
fn privileged(what: String, e: std::io::Error) -> Error {
    if e.raw_os_error() != Some(libc::EPERM) {
        return Error::sys(what, e);
    }
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "{what}: not permitted: device programs need CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN); \
             without them set cgroups.allow_all_devices: true (a rootless container cannot \
             create device nodes, and opens only those its user may)"
        ),
    )
}
