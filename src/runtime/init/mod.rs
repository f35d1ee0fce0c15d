//! What runs as `ctrsh init` inside the new namespaces.

/// Entry point of the hidden `ctrsh init` command; never returns.
pub fn main() -> ! {
    todo!()
}
