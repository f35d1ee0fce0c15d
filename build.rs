//! Links the ctrsh binary at a fixed address instead of as a
//! position-independent executable. Every ctrsh process and every
//! container's init starts from this binary, and a PIE's start applies its
//! relative relocations (one per vtable slot, string slice and function
//! pointer in its read-only data) before main, touching and copying the
//! pages that hold them. At a fixed address the linker resolves them
//! instead. What stays randomized: the stack, the heap, mmap and shared
//! libraries; docs/security.md says what this gives up.
fn main() {
    // Only the binary: the test executables and the library are unchanged.
    println!("cargo:rustc-link-arg-bin=ctrsh=-no-pie");
}
