//! Capabilities on all five sets, via the caps crate.

use crate::runtime::config::CapSets;
use crate::runtime::error::{Error, ErrorKind, Result};
use caps::{CapSet, CapsHashSet};

fn caps_err(what: &str, e: caps::errors::CapsError) -> Error {
    Error::new(ErrorKind::System, format!("{what}: {e}"))
}

/// A process cannot give what it does not have: name the capabilities the
/// init lacks (e.g. a host that withholds CAP_SYS_RESOURCE from ctrsh)
/// instead of failing in capset.
pub fn check_available(keep: &CapSets) -> Result<()> {
    let have = caps::read(None, CapSet::Permitted)
        .map_err(|e| caps_err("read the init's capabilities", e))?;
    let mut missing: Vec<String> = keep
        .union()
        .difference(&have)
        .map(|c| c.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort();
    Err(Error::new(
        ErrorKind::Unsupported,
        format!(
            "capabilities: ctrsh itself does not hold {}, so the container cannot have it",
            missing.join(", ")
        ),
    ))
}

/// Drop everything outside `keep` from the bounding set. Needs CAP_SETPCAP,
/// so it runs before the switch to the container user.
pub fn limit_bounding(keep: &CapsHashSet) -> Result<()> {
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| caps_err(&format!("drop {cap} from the bounding set"), e))?;
        }
    }
    Ok(())
}

/// After the uid switch (with PR_SET_KEEPCAPS): the permitted, effective,
/// inheritable and ambient sets become exactly those of `keep`.
pub fn set_process_sets(keep: &CapSets) -> Result<()> {
    // Effective first: shrinking permitted below the current effective set
    // (which root keeps across the uid switch) is refused.
    for (set, caps) in [
        (CapSet::Effective, &keep.effective),
        (CapSet::Permitted, &keep.permitted),
        (CapSet::Inheritable, &keep.inheritable),
    ] {
        caps::set(None, set, caps)
            .map_err(|e| caps_err(&format!("set {set:?} capabilities"), e))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| caps_err("clear ambient capabilities", e))?;
    for cap in &keep.ambient {
        // The kernel allows an ambient capability only when it is both
        // permitted and inheritable.
        caps::raise(None, CapSet::Ambient, *cap).map_err(|e| {
            caps_err(
                &format!(
                    "raise {cap} in the ambient set (it must also be permitted and inheritable)"
                ),
                e,
            )
        })?;
    }
    Ok(())
}
