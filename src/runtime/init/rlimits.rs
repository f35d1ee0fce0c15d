//! Applying the container's resource limits.

use crate::runtime::config::ResourceLimit;
use crate::runtime::error::{Context, Result};

pub fn apply(rlimits: &[ResourceLimit]) -> Result<()> {
    for r in rlimits {
        nix::sys::resource::setrlimit(r.resource.kernel(), r.soft, r.hard).ctx(format_args!(
            "set {} to soft {} hard {}",
            r.resource.name(),
            r.soft,
            r.hard
        ))?;
    }
    Ok(())
}
