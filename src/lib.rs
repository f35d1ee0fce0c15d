pub mod cli;
pub mod oci;
pub mod repl;
pub mod runtime;
pub mod script;

/// What the host offers the unit tests that touch the kernel, and the one
/// skip helper (it fails the test under CI): the integration tests' own.
#[cfg(test)]
#[path = "../tests/common/host.rs"]
mod test_host;
