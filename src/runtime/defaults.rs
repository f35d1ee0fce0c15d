//! The defaults libcontainer users know: devices, device rules, capabilities,
//! masked and read-only paths.

use super::config::Device;

/// Device nodes created in every container's /dev.
pub fn default_devices() -> Vec<Device> {
    todo!()
}
/// Device cgroup rules of a container with allow_all_devices false.
pub fn default_allowed_devices() -> Vec<Device> {
    todo!()
}
/// runc's default capability set.
pub fn default_capabilities() -> Vec<String> {
    todo!()
}
/// runc's default masked paths.
pub fn default_masked_paths() -> Vec<String> {
    todo!()
}
/// runc's default read-only paths.
pub fn default_readonly_paths() -> Vec<String> {
    todo!()
}
