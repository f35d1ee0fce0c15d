//! The device rules of cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program,
//! compiled here from the rules' effective state (rules.rs) into eBPF
//! instructions (the encoder is the few opcodes the program needs; no C
//! toolchain or BPF object file is involved).
//!
//! The kernel runs the program on every device access with
//! `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
//! where `access_type` is `(access << 16) | type`; it returns 1 to allow and
//! 0 to deny. The program checks one exception after another, as runc's and
//! crun's do, and falls through to the default:
//!
//! ```text
//!     w2 = type   w3 = access   w4 = major   w5 = minor
//!   exception 1:
//!     if w2 != c goto exception 2
//!     (access check)
//!     if w4 != major goto exception 2      (only without a wildcard)
//!     if w5 != minor goto exception 2      (only without a wildcard)
//!     w0 = !default; exit
//!   exception 2: ...
//!   end:
//!     w0 = default; exit
//! ```
//!
//! The access check differs by default, as in the v1 kernel: where the
//! default denies, an allow exception must grant every access asked for
//! (`w3 & granted == w3`); where it allows, a deny exception refuses any
//! access it names (`w3 & denied != 0`). Comparisons are 32-bit (JMP32):
//! a 64-bit one would sign-extend the immediate and miss numbers >= 2^31.

use super::rules::Effective;
use crate::runtime::config::{Access, Devices};

/// An eBPF register.
#[derive(Clone, Copy)]
enum Reg {
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
}

/// One instruction, as the kernel's `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Insn {
    code: u8,
    /// dst in the low four bits, src in the high four.
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes: class | operation | source.
const LDX_MEM_W: u8 = 0x01 | 0x60; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x04 | 0x70; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_K: u8 = 0x04 | 0xb0; // BPF_ALU | BPF_MOV | BPF_K
const ALU32_MOV_X: u8 = 0x04 | 0xb0 | 0x08; // BPF_ALU | BPF_MOV | BPF_X
const JMP32_JEQ_K: u8 = 0x06 | 0x10; // BPF_JMP32 | BPF_JEQ | BPF_K
const JMP32_JNE_K: u8 = 0x06 | 0x50; // BPF_JMP32 | BPF_JNE | BPF_K
const JMP32_JNE_X: u8 = 0x06 | 0x50 | 0x08; // BPF_JMP32 | BPF_JNE | BPF_X
const JMP_EXIT: u8 = 0x05 | 0x90; // BPF_JMP | BPF_EXIT

impl Insn {
    fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (dst as u8) | ((src as u8) << 4),
            off,
            imm,
        }
    }

    /// `dst = *(u32 *)(src + off)`
    fn load_word(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(LDX_MEM_W, dst, src, off, 0)
    }

    fn alu_imm(code: u8, dst: Reg, imm: i32) -> Insn {
        Insn::new(code, dst, Reg::R0, 0, imm)
    }

    /// A jump, with its offset filled in by `Block::finish`.
    fn jump(code: u8, dst: Reg, src: Reg, imm: i32) -> Insn {
        Insn::new(code, dst, src, 0, imm)
    }

    fn exit() -> Insn {
        Insn::new(JMP_EXIT, Reg::R0, Reg::R0, 0, 0)
    }

    fn is_jump_to_next(&self) -> bool {
        matches!(self.code, JMP32_JEQ_K | JMP32_JNE_K | JMP32_JNE_X)
    }

    /// The 8 bytes the kernel reads (little-endian fields on every Linux
    /// target ctrsh builds for: x86_64, aarch64).
    pub(super) fn to_bytes(self) -> [u8; 8] {
        let [o0, o1] = self.off.to_le_bytes();
        let [i0, i1, i2, i3] = self.imm.to_le_bytes();
        [self.code, self.regs, o0, o1, i0, i1, i2, i3]
    }
}

/// The program for `rules`, or `None` when they allow every device: no
/// program restricts nothing, which spares loading one.
pub(super) fn compile(rules: &Effective) -> Option<Vec<Insn>> {
    if rules.default_allow && rules.exceptions.is_empty() {
        return None;
    }
    let mut program = vec![
        Insn::load_word(Reg::R2, Reg::R1, 0),
        Insn::alu_imm(ALU32_AND_K, Reg::R2, 0xffff),
        Insn::load_word(Reg::R3, Reg::R1, 0),
        Insn::alu_imm(ALU32_RSH_K, Reg::R3, 16),
        Insn::load_word(Reg::R4, Reg::R1, 4),
        Insn::load_word(Reg::R5, Reg::R1, 8),
    ];
    for (&devices, &access) in &rules.exceptions {
        program.extend(exception(devices, access, rules.default_allow));
    }
    program.push(Insn::alu_imm(
        ALU32_MOV_K,
        Reg::R0,
        verdict(rules.default_allow),
    ));
    program.push(Insn::exit());
    Some(program)
}

fn verdict(allow: bool) -> i32 {
    i32::from(allow)
}

/// The instructions of one exception; each jump skips to the end of them.
fn exception(devices: Devices, access: Access, default_allow: bool) -> Vec<Insn> {
    // The immediate is the number's bits: JMP32 compares 32 bits.
    let number = |n: u32| n as i32;
    let mut block = vec![Insn::jump(
        JMP32_JNE_K,
        Reg::R2,
        Reg::R0,
        devices.kind as i32,
    )];
    // Asking for no more than all access always matches an rwm exception.
    if access != Access::ALL {
        block.push(Insn::new(ALU32_MOV_X, Reg::R1, Reg::R3, 0, 0));
        block.push(Insn::alu_imm(
            ALU32_AND_K,
            Reg::R1,
            i32::from(access.bits()),
        ));
        block.push(match default_allow {
            false => Insn::jump(JMP32_JNE_X, Reg::R1, Reg::R3, 0),
            true => Insn::jump(JMP32_JEQ_K, Reg::R1, Reg::R0, 0),
        });
    }
    if let Some(major) = devices.major {
        block.push(Insn::jump(JMP32_JNE_K, Reg::R4, Reg::R0, number(major)));
    }
    if let Some(minor) = devices.minor {
        block.push(Insn::jump(JMP32_JNE_K, Reg::R5, Reg::R0, number(minor)));
    }
    block.push(Insn::alu_imm(ALU32_MOV_K, Reg::R0, verdict(!default_allow)));
    block.push(Insn::exit());
    // A jump's offset counts from the instruction after it.
    let len = block.len();
    for (pc, insn) in block.iter_mut().enumerate() {
        if insn.is_jump_to_next() {
            insn.off = (len - pc - 1) as i16;
        }
    }
    block
}

/// The program as the bytes `bpf(BPF_PROG_LOAD)` takes.
pub(super) fn bytes(program: &[Insn]) -> Vec<u8> {
    program.iter().flat_map(|i| i.to_bytes()).collect()
}

#[cfg(test)]
mod unit {
    //! The compiled programs run in rbpf's interpreter (an eBPF VM written
    //! independently of this encoder) on every kind of access, and each
    //! verdict is checked against the rules' meaning, computed separately
    //! from the effective state.
    use super::super::rules::Effective;
    use super::*;
    use crate::runtime::config::defaults::default_allowed_devices;
    use crate::runtime::config::{device_rule, Device, DeviceKind as Kind};

    fn rule(kind: &str, major: i64, minor: i64, permissions: &str, allow: bool) -> Device {
        Device {
            allow,
            ..Device::new(kind, major, minor, permissions)
        }
    }

    fn effective(devices: &[Device]) -> Effective {
        let rules: Vec<_> = devices
            .iter()
            .map(|d| device_rule("k", d).unwrap())
            .collect();
        Effective::of(&rules, "k").unwrap()
    }

    /// What the program returns for an access (1 allow, 0 deny).
    fn run(program: &[Insn], kind: Kind, access: u8, major: u32, minor: u32) -> u64 {
        let code = bytes(program);
        let vm = rbpf::EbpfVmRaw::new(Some(&code)).expect("rbpf accepts the program");
        let mut ctx = Vec::new();
        ctx.extend((u32::from(access) << 16 | kind as u32).to_le_bytes());
        ctx.extend(major.to_le_bytes());
        ctx.extend(minor.to_le_bytes());
        vm.execute_program(&mut ctx).expect("the program runs")
    }

    /// The rules' meaning as the v1 kernel decides it (match_exception and
    /// match_exception_partial in security/device_cgroup.c).
    fn expected(rules: &Effective, kind: Kind, access: u8, major: u32, minor: u32) -> u64 {
        let matching = rules.exceptions.iter().filter(|(d, _)| {
            d.kind == kind
                && d.major.is_none_or(|m| m == major)
                && d.minor.is_none_or(|m| m == minor)
        });
        let allowed = if rules.default_allow {
            !matching.into_iter().any(|(_, a)| a.bits() & access != 0)
        } else {
            matching
                .into_iter()
                .any(|(_, a)| a.bits() & access == access)
        };
        u64::from(allowed)
    }

    /// Every access combination, on the devices the rules name plus others.
    fn check_all(devices: &[Device]) {
        let rules = effective(devices);
        let Some(program) = compile(&rules) else {
            assert!(rules.default_allow && rules.exceptions.is_empty());
            return;
        };
        let mut numbers = vec![0, 1, 3, 5, 7, 136, 0x7fff_ffff, 0x8000_0000, u32::MAX];
        for d in devices {
            numbers.extend([d.major, d.minor].map(|n| n.max(0) as u32));
        }
        for kind in [Kind::Char, Kind::Block] {
            for access in 1..=7u8 {
                for &major in &numbers {
                    for &minor in &numbers {
                        assert_eq!(
                            run(&program, kind, access, major, minor),
                            expected(&rules, kind, access, major, minor),
                            "{kind:?} {major}:{minor} access {access:#b} under {devices:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn default_rules_allow_what_they_list() {
        let program = compile(&effective(&default_allowed_devices())).unwrap();
        let (r, w, m) = (2, 4, 1);
        // /dev/null, /dev/zero, a pty, /dev/ptmx: read and write.
        for (major, minor) in [(1, 3), (1, 5), (136, 4), (5, 2)] {
            assert_eq!(run(&program, Kind::Char, r | w, major, minor), 1);
        }
        // mknod of anything; nothing else of a block device or /dev/mem.
        assert_eq!(run(&program, Kind::Block, m, 8, 0), 1);
        assert_eq!(run(&program, Kind::Block, r, 8, 0), 0);
        assert_eq!(run(&program, Kind::Char, r, 1, 1), 0);
        check_all(&default_allowed_devices());
    }

    #[test]
    fn verdicts_match_the_rules() {
        check_all(&[]);
        check_all(&[rule("c", 1, 3, "rwm", true)]);
        check_all(&[rule("c", 1, -1, "r", true), rule("b", -1, 0, "w", true)]);
        check_all(&[
            rule("c", 1, 5, "rw", true),
            rule("c", 1, 5, "w", false),
            rule("c", -1, -1, "m", true),
        ]);
        check_all(&[
            rule("a", -1, -1, "rwm", true),
            rule("c", 1, 3, "w", false),
            rule("b", 8, -1, "rwm", false),
            rule("c", -1, 0x8000_0000, "rm", false),
        ]);
        check_all(&[rule("a", -1, -1, "rwm", true)]);
        check_all(&[rule("c", u32::MAX as i64, 0x8000_0000, "r", true)]);
    }

    #[test]
    fn allow_all_needs_no_program() {
        assert!(compile(&effective(&[rule("a", -1, -1, "rwm", true)])).is_none());
        assert!(compile(&effective(&[])).is_some());
    }
}
