//! The ctrsh binary as it is built: linked statically at a fixed address
//! (.cargo/config.toml). Every ctrsh command and every container's init
//! starts by exec'ing it, without a dynamic loader or relocations to apply
//! (docs/performance.md, "A static binary"); a change to the build that
//! loses either fails here.

mod common;

use common::CTRSH;

const PT_INTERP: u32 = 3;
const ET_EXEC: u16 = 2;

fn u16_at(elf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(elf[at..at + 2].try_into().unwrap())
}

fn u32_at(elf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(elf[at..at + 4].try_into().unwrap())
}

fn u64_at(elf: &[u8], at: usize) -> usize {
    u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize
}

#[test]
fn ctrsh_is_static_at_a_fixed_address() {
    let elf = std::fs::read(CTRSH).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x02", "{CTRSH}: not a 64-bit ELF file");
    // ET_EXEC: linked at a fixed address; a position-independent
    // executable is ET_DYN.
    assert_eq!(
        u16_at(&elf, 0x10),
        ET_EXEC,
        "{CTRSH}: not at a fixed address"
    );
    let (phoff, phentsize, phnum) = (
        u64_at(&elf, 0x20),
        usize::from(u16_at(&elf, 0x36)),
        usize::from(u16_at(&elf, 0x38)),
    );
    let interp = (0..phnum).any(|i| u32_at(&elf, phoff + i * phentsize) == PT_INTERP);
    assert!(!interp, "{CTRSH}: names a dynamic loader (PT_INTERP)");
}
