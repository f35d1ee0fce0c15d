//! Profile -> one BPF program.
//!
//! seccompiler builds a filter with a single on-match action and a single
//! default action, while a profile may give each rule its own. So the
//! program is a chain of segments, each a seccompiler filter for one
//! action: the segment for action A returns A for the system calls of A's
//! rules and "allow" otherwise; the last segment returns "allow" for the
//! system calls of the allow rules and the default action for the rest.
//! Each segment's "allow" is rewritten into a jump to the next
//! segment, so the first segment with a verdict other than "allow" decides
//! and only the last one's "allow" lets the call through. Segments go in the
//! kernel's order of precedence (kill before trap before errno before log),
//! which decides when rules of different actions match the same call.
//!
//! One program, not one filter per action stacked by several seccomp()
//! calls: a profile that denies seccomp() itself would make the second
//! installation fail.

use super::profile::{Parsed, Rule};
use super::Instruction;
use crate::runtime::error::{Error, Result};
use seccompiler::{sock_filter, BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch};
use std::collections::BTreeMap;

/// The kernel's limit on a BPF program's length (BPF_MAXINSNS).
pub(super) const MAX_INSTRUCTIONS: usize = 4096;

/// x86_64 system call numbers with this bit set are x32 ABI calls; they pass
/// the architecture check (AUDIT_ARCH_X86_64) but number their calls
/// differently, so they would slip past a deny rule.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(super) fn program(parsed: Parsed) -> Result<Vec<Instruction>> {
    let Parsed {
        default_action,
        rules,
    } = parsed;
    // A rule whose action is the default changes nothing (runc drops it too).
    let rules: Vec<Rule> = rules
        .into_iter()
        .filter(|rule| rule.action != default_action)
        .collect();

    let mut segments = vec![x32_guard()];
    for action in actions_by_precedence(&rules) {
        if action == SeccompAction::Allow {
            continue; // the last segment allows what the rules allow
        }
        let chains = chains(rules.iter().filter(|rule| rule.action == action));
        segments.push(filter(chains, SeccompAction::Allow, action)?);
    }
    if default_action != SeccompAction::Allow {
        let allowed = rules
            .iter()
            .filter(|rule| rule.action == SeccompAction::Allow);
        segments.push(filter(
            chains(allowed),
            default_action,
            SeccompAction::Allow,
        )?);
    }
    let program = chain(segments);
    if program.len() > MAX_INSTRUCTIONS {
        return Err(Error::config(format!(
            "seccomp: the profile compiles to {} BPF instructions, more than the \
             kernel's limit of {MAX_INSTRUCTIONS}",
            program.len()
        )));
    }
    Ok(program)
}

/// The distinct actions of `rules`, highest precedence first.
fn actions_by_precedence(rules: &[Rule]) -> Vec<SeccompAction> {
    let mut actions: Vec<SeccompAction> = Vec::new();
    for rule in rules {
        if !actions.contains(&rule.action) {
            actions.push(rule.action.clone());
        }
    }
    actions.sort_by_key(precedence);
    actions
}

fn precedence(action: &SeccompAction) -> u8 {
    match action {
        SeccompAction::KillProcess => 0,
        SeccompAction::KillThread => 1,
        SeccompAction::Trap => 2,
        SeccompAction::Errno(_) => 3,
        SeccompAction::Trace(_) => 4,
        SeccompAction::Log => 5,
        SeccompAction::Allow => 6,
    }
}

/// seccompiler's input: system call number -> the rules any of which must
/// match, where an empty list matches always.
fn chains<'a>(rules: impl Iterator<Item = &'a Rule>) -> BTreeMap<i64, Vec<SeccompRule>> {
    // None: some rule for this call has no conditions, so it always matches.
    let mut chains: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for rule in rules {
        let chain = chains
            .entry(rule.syscall)
            .or_insert_with(|| Some(Vec::new()));
        match (chain.as_mut(), rule.conditions.is_empty()) {
            (_, true) => *chain = None,
            (Some(list), false) => list.push(
                SeccompRule::new(rule.conditions.clone())
                    .expect("a rule with conditions is never empty"),
            ),
            (None, false) => {}
        }
    }
    chains
        .into_iter()
        .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
        .collect()
}

fn filter(
    chains: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    on_match: SeccompAction,
) -> Result<BpfProgram> {
    let fail = |e: seccompiler::BackendError| Error::config(format!("seccomp: {e}"));
    let filter =
        SeccompFilter::new(chains, mismatch, on_match, TargetArch::x86_64).map_err(fail)?;
    BpfProgram::try_from(filter).map_err(fail)
}

/// Kills a process that makes an x32 ABI system call.
fn x32_guard() -> BpfProgram {
    let instruction = |code: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    vec![
        // A = seccomp_data.nr (offset 0)
        instruction(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        instruction(
            libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
            X32_SYSCALL_BIT,
            0,
            1,
        ),
        instruction(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_KILL_PROCESS,
            0,
            0,
        ),
        instruction(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0),
    ]
}

/// Concatenates `segments`, turning every "return allow" but the last
/// segment's into a jump to the start of the next segment. Instructions are
/// replaced one for one, so the segments' own jumps stay right.
fn chain(segments: Vec<BpfProgram>) -> Vec<Instruction> {
    let return_allow = (libc::BPF_RET | libc::BPF_K) as u16;
    let jump = (libc::BPF_JMP | libc::BPF_JA) as u16;
    let count = segments.len();
    let mut program = Vec::new();
    for (i, segment) in segments.into_iter().enumerate() {
        let last = i + 1 == count;
        let len = segment.len();
        for (j, insn) in segment.into_iter().enumerate() {
            let passes = insn.code == return_allow && insn.k == libc::SECCOMP_RET_ALLOW;
            program.push(if passes && !last {
                // BPF_JA skips k instructions after itself.
                Instruction {
                    code: jump,
                    jt: 0,
                    jf: 0,
                    k: (len - j - 1) as u32,
                }
            } else {
                Instruction {
                    code: insn.code,
                    jt: insn.jt,
                    jf: insn.jf,
                    k: insn.k,
                }
            });
        }
    }
    program
}
