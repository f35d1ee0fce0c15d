//! <state dir>/exit-code: how the container's first process ended (its
//! exit code, 128+N when signal N ended it), kept for every ctrsh process
//! until the container is destroyed. The ctrsh process whose child the
//! init is writes it before it reaps the init, so whoever sees the init
//! gone finds it (see Reaper); with the `init` option, ctrsh's own PID 1
//! writes it too, so that it is kept when its creator is gone.

use crate::runtime::error::{Context, Result};
use crate::runtime::host::state::write_json;
use std::os::fd::OwnedFd;
use std::path::Path;

pub const FILE: &str = "exit-code";

pub fn write(file: &Path, code: i32) -> Result<()> {
    write_json(file, &code)
}

/// The exit-code file of state dir `dir`, opened for the `init` option's
/// PID 1 to write (it cannot reach the state dir by path).
pub fn open_for_init(dir: &Path) -> Result<OwnedFd> {
    let file = dir.join(FILE);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&file)
        .map(OwnedFd::from)
        .ctx(format_args!("open {}", file.display()))
}

/// The code kept in state dir `dir`, if the first process has exited and
/// its code was kept.
pub fn read(dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(dir.join(FILE))
        .ctx("read the exit code")
        .ok()?;
    text.trim().parse().ok()
}
