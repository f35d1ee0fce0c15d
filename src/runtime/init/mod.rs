//! What runs as `ctrsh init`: the parent re-executes ctrsh (from a
//! read-only view or a sealed copy) inside the new namespaces, talks to it
//! over fd 3, and this code turns the config into a container and finally
//! execs the user's process.

pub mod capabilities;
mod create;
mod exec_process;
mod join;
mod pid1;
pub mod rlimits;
mod rootfs;
mod secure_path;
pub mod user;
// Also used by a restore, which makes the network namespace again (criu/netns.rs).
pub(crate) mod network;

use super::cgroups;
use super::error::{Error, Result};
use super::launch::channel::InitEnd;
use super::launch::messages::ToInit;
use super::trace;
use std::os::fd::RawFd;

/// The fd the parent hands the init its channel on.
pub const CHANNEL_FD: RawFd = 3;
/// The fd of the listening socket a created container waits for "start" on.
pub const LISTEN_FD: RawFd = 4;

/// Entry point of the hidden `ctrsh init` command; never returns.
pub fn main() -> ! {
    trace::init_in_container();
    trace::step("init: started");
    // SAFETY: the parent put our channel at fd 3 before exec; nothing else owns it.
    let mut chan = unsafe { InitEnd::from_raw(CHANNEL_FD) };
    let result = match chan.recv() {
        Ok(Some((
            ToInit::Create {
                id,
                config,
                rootfs_tree,
                exit_record,
                name_files,
                cgroup_dirs,
                cgroup_files,
            },
            mut fds,
        ))) => join_cgroups(&cgroup_files, &mut fds).and_then(|()| {
            let rootfs_tree = (rootfs_tree && !fds.is_empty()).then(|| fds.remove(0));
            let exit_record = (exit_record && !fds.is_empty()).then(|| fds.remove(0));
            create::run(
                &chan,
                create::Create {
                    id,
                    config: *config,
                    rootfs_tree,
                    exit_record,
                    name_files,
                    stdio: fds,
                    cgroup_dirs,
                },
            )
        }),
        Ok(Some((
            ToInit::Join {
                config,
                process,
                namespaces,
                cgroup_files,
            },
            mut fds,
        ))) => join_cgroups(&cgroup_files, &mut fds)
            .and_then(|()| join::run(&mut chan, *config, *process, namespaces, fds)),
        Ok(Some((other, _))) => Err(Error::protocol(format!(
            "init: expected create or join, got {other:?}"
        ))),
        Ok(None) => std::process::exit(1),
        Err(e) => Err(e),
    };
    chan.fail(
        result
            .err()
            .unwrap_or_else(|| Error::state("init returned")),
    )
}

/// Into the container's cgroups before anything else (we are
/// single-threaded): the first `files.len()` of `fds` (see
/// CgroupManager::join_files), which are closed after.
fn join_cgroups(files: &[std::path::PathBuf], fds: &mut Vec<std::os::fd::OwnedFd>) -> Result<()> {
    if fds.len() < files.len() {
        return Err(Error::protocol(
            "init: fewer fds than cgroup files from the parent",
        ));
    }
    let joins: Vec<_> = fds.drain(..files.len()).collect();
    cgroups::join_self(files, &joins).map_err(|e| e.context("join the container's cgroups"))?;
    trace::step("init: joined its cgroups");
    Ok(())
}
