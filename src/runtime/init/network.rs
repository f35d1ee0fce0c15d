//! Network setup inside the container's network namespace: loopback.

use crate::runtime::config::CheckedNetwork;
use crate::runtime::error::Result;
use crate::runtime::network::netlink::Netlink;

/// Bring up lo for every network of the container's own namespace
/// (127.0.0.1/8 and ::1, which lo carries once up); eth0 of a bridge or
/// pasta network comes from the parent.
pub fn setup(networks: &[CheckedNetwork]) -> Result<()> {
    if !networks.is_empty() {
        loopback_up()?;
    }
    Ok(())
}

/// lo is the first device of every network namespace, so its index is
/// known without a lookup (the kernel's LOOPBACK_IFINDEX). Through the
/// netlink client the parent's bridge networks use (safe messages, where
/// the SIOCSIFFLAGS ioctl would need a raw ifreq).
fn loopback_up() -> Result<()> {
    const LOOPBACK_IFINDEX: u32 = 1;
    Netlink::open()?.set_up(LOOPBACK_IFINDEX, "lo")
}
