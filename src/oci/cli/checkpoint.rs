//! checkpoint and restore, through the runtime's CRIU support.

use super::flags::{switch, value, Flag, Parsed};
use super::{parse_args, write_pid_file, Failure, Global, Outcome};
use crate::runtime::criu::CgroupMode;
use crate::runtime::{Checkpoint, CheckpointOptions, Error, RestoreOptions, Stdio};
use std::path::{Path, PathBuf};

const CHECKPOINT_FLAGS: &[Flag] = &[
    value(&["image-path"]),
    value(&["work-path"]),
    value(&["parent-path"]),
    switch(&["leave-running"]),
    switch(&["tcp-established"]),
    switch(&["ext-unix-sk"]),
    switch(&["shell-job"]),
    switch(&["lazy-pages"]),
    value(&["status-fd"]),
    value(&["page-server"]),
    switch(&["file-locks"]),
    switch(&["pre-dump"]),
    value(&["manage-cgroups-mode"]),
    value(&["empty-ns"]),
    switch(&["auto-dedup"]),
];

const RESTORE_FLAGS: &[Flag] = &[
    value(&["console-socket"]),
    value(&["image-path"]),
    value(&["work-path"]),
    switch(&["tcp-established"]),
    switch(&["ext-unix-sk"]),
    switch(&["shell-job"]),
    switch(&["file-locks"]),
    value(&["manage-cgroups-mode"]),
    value(&["bundle", "b"]),
    switch(&["detach", "d"]),
    value(&["pid-file"]),
    switch(&["no-subreaper"]),
    switch(&["no-pivot"]),
    value(&["empty-ns"]),
    switch(&["auto-dedup"]),
    switch(&["lazy-pages"]),
    value(&["lsm-profile"]),
    value(&["lsm-mount-context"]),
];

/// Flags of runc's that CRIU features ctrsh does not drive.
fn refuse(flags: &Parsed, names: &[&str]) -> Result<(), Failure> {
    match names
        .iter()
        .find(|n| flags.value(n).is_some_and(|v| v != "false"))
    {
        Some(name) => Err(Error::config(format!("--{name}: not supported by ctrsh")).into()),
        None => Ok(()),
    }
}

/// `--image-path` (default: ./checkpoint, as runc), absolute.
fn image_path(flags: &Parsed) -> Result<PathBuf, Failure> {
    Ok(crate::oci::absolute(Path::new(
        flags.value("image-path").unwrap_or("checkpoint"),
    ))?)
}

/// `--work-path`, absolute and made if missing, as runc makes it
/// (containerd's shim names one that does not exist yet).
fn work_path(flags: &Parsed) -> Result<Option<PathBuf>, Failure> {
    let Some(path) = flags.value("work-path") else {
        return Ok(None);
    };
    let dir = crate::oci::absolute(Path::new(path))?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::sys(format!("--work-path: create {}", dir.display()), e))?;
    Ok(Some(dir))
}

fn cgroup_mode(flags: &Parsed) -> Result<CgroupMode, Failure> {
    Ok(flags
        .value("manage-cgroups-mode")
        .map(CgroupMode::from_name)
        .transpose()?
        .unwrap_or_default())
}

pub fn checkpoint(g: &Global, args: &[String]) -> Outcome {
    let (flags, ids) = parse_args("checkpoint", CHECKPOINT_FLAGS, args, &["container id"])?;
    refuse(
        &flags,
        &[
            "lazy-pages",
            "status-fd",
            "page-server",
            "empty-ns",
            "auto-dedup",
        ],
    )?;
    let c = g.container(&ids[0])?;
    let dir = image_path(&flags)?;
    let opts = CheckpointOptions {
        // A relative parent is relative to the image path, as CRIU's
        // --prev-images-dir (runc's own tests pass "../parent").
        parent: flags.value("parent-path").map(|p| dir.join(p)),
        dir,
        work_dir: work_path(&flags)?,
        leave_running: flags.is_set("leave-running"),
        tcp_established: flags.is_set("tcp-established"),
        ext_unix_sk: flags.is_set("ext-unix-sk"),
        shell_job: flags.is_set("shell-job"),
        file_locks: flags.is_set("file-locks"),
        pre_dump: flags.is_set("pre-dump"),
        manage_cgroups: cgroup_mode(&flags)?,
        criu: g.criu.clone(),
    };
    c.checkpoint(&opts)?;
    Ok(0)
}

/// The bundle's container restored from the checkpoint; unless detached,
/// waited for and deleted, with its exit status.
pub fn restore(g: &Global, args: &[String]) -> Outcome {
    let (flags, ids) = parse_args("restore", RESTORE_FLAGS, args, &["container id"])?;
    refuse(
        &flags,
        &[
            "console-socket",
            "empty-ns",
            "auto-dedup",
            "lazy-pages",
            "lsm-profile",
            "lsm-mount-context",
        ],
    )?;
    let id = &ids[0];
    let checkpoint = Checkpoint::load(image_path(&flags)?)?;
    let mut config = crate::oci::load(Path::new(flags.value("bundle").unwrap_or(".")))?;
    config.no_pivot_root = flags.is_set("no-pivot");
    super::systemd::check(g, &config)?;
    // The checkpoint's own flags decide how CRIU restores; one asked for
    // here that the dump did not have cannot be added.
    let dumped = &checkpoint.metadata().flags;
    for (flag, given, had) in [
        (
            "tcp-established",
            flags.is_set("tcp-established"),
            dumped.tcp_established,
        ),
        (
            "ext-unix-sk",
            flags.is_set("ext-unix-sk"),
            dumped.ext_unix_sk,
        ),
        ("shell-job", flags.is_set("shell-job"), dumped.shell_job),
        ("file-locks", flags.is_set("file-locks"), dumped.file_locks),
    ] {
        if given && !had {
            return Err(Error::config(format!(
                "--{flag}: the checkpoint was made without it; checkpoint again with --{flag}"
            ))
            .into());
        }
    }
    if flags.value("manage-cgroups-mode").is_some() && cgroup_mode(&flags)? != dumped.manage_cgroups
    {
        return Err(Error::config(
            "--manage-cgroups-mode: a restore uses the mode the checkpoint was made with",
        )
        .into());
    }
    let opts = RestoreOptions {
        config: Some(config.validate()?),
        stdin: Stdio::Inherit,
        stdout: Stdio::Inherit,
        stderr: Stdio::Inherit,
        criu: g.criu.clone(),
        work_dir: work_path(&flags)?,
    };
    let c = g.factory()?.restore(id, &checkpoint, &opts)?;
    if let Some(file) = flags.value("pid-file") {
        write_pid_file(file, c.pid().unwrap_or_default())?;
    }
    if flags.is_set("detach") {
        return Ok(0);
    }
    let code = c.wait();
    let _ = c.destroy();
    Ok(u8::try_from(code?).unwrap_or(255))
}
