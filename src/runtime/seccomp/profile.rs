//! A seccomp profile in the OCI runtime spec's shape, with snake_case keys,
//! and its translation into checked values (`parse`), naming the offending
//! key ("seccomp.syscalls[2].names[0]: ...") when something is wrong.

use super::syscalls;
use crate::runtime::error::{Error, Result};
use crate::runtime::suggest::did_you_mean;
use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition};
use serde::{Deserialize, Serialize};
use std::fmt::Display;

/// `#{ default_action: "SCMP_ACT_ERRNO", default_errno: 1, architectures: [...],
/// syscalls: [...] }`. Names stay strings here so that `validate` can say
/// which one is unknown and suggest the nearest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What happens to a system call no rule matches ("SCMP_ACT_ERRNO").
    pub default_action: String,
    /// The errno of an SCMP_ACT_ERRNO default action (default: EPERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno: Option<u32>,
    /// "SCMP_ARCH_X86_64"; empty means the native architecture.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

/// The system calls in `names` get `action` when all of `args` hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    /// The errno of an SCMP_ACT_ERRNO action (default: EPERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
}

/// Argument `index` compared with `value` by `op`; SCMP_CMP_MASKED_EQ
/// compares `arg & value` with `value_two`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_two: Option<u64>,
    pub op: String,
}

/// A profile with every name resolved: what `compile` builds a filter from.
#[derive(Debug)]
pub(super) struct Parsed {
    pub default_action: SeccompAction,
    pub rules: Vec<Rule>,
}

/// One system call's rule: `action` when all `conditions` hold (always,
/// when there are none).
#[derive(Debug)]
pub(super) struct Rule {
    pub syscall: i64,
    pub action: SeccompAction,
    pub conditions: Vec<SeccompCondition>,
}

/// The actions a profile may name.
pub const ACTIONS: [&str; 7] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_LOG",
];

/// The argument comparisons a profile may name.
pub const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// The architecture this build filters for; the BPF program checks it and
/// kills a process that makes a system call through another ABI.
/// The architecture the filter covers; calls through any other ABI are
/// killed.
pub const NATIVE_ARCH: &str = "SCMP_ARCH_X86_64";

/// Architectures libseccomp knows, so that a foreign one gets "not
/// supported" rather than "unknown".
const KNOWN_ARCHES: [&str; 17] = [
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_RISCV64",
];

/// The largest errno the kernel passes back (MAX_ERRNO).
const MAX_ERRNO: u32 = 4095;

/// A system call has at most six arguments, numbered 0 to 5.
const MAX_ARG_INDEX: u32 = 5;

fn err(key: impl Display, message: impl Display) -> Error {
    Error::config(format!("{key}: {message}"))
}

impl Profile {
    /// Resolves every name and checks every number; errors name the key
    /// under `seccomp`.
    pub(super) fn parse(&self) -> Result<Parsed> {
        for (i, arch) in self.architectures.iter().enumerate() {
            architecture(&format!("seccomp.architectures[{i}]"), arch)?;
        }
        let default_action = action(
            "seccomp.default_action",
            "seccomp.default_errno",
            &self.default_action,
            self.default_errno,
        )?;
        let mut rules = Vec::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            let key = format!("seccomp.syscalls[{i}]");
            if rule.names.is_empty() {
                return Err(err(format!("{key}.names"), "lists no system call"));
            }
            let action = action(
                format!("{key}.action"),
                format!("{key}.errno"),
                &rule.action,
                rule.errno,
            )?;
            let conditions = rule
                .args
                .iter()
                .enumerate()
                .map(|(j, arg)| condition(&format!("{key}.args[{j}]"), arg))
                .collect::<Result<Vec<_>>>()?;
            for (j, name) in rule.names.iter().enumerate() {
                let syscall = syscall(&format!("{key}.names[{j}]"), name)?;
                rules.push(Rule {
                    syscall,
                    action: action.clone(),
                    conditions: conditions.clone(),
                });
            }
        }
        Ok(Parsed {
            default_action,
            rules,
        })
    }
}

fn architecture(key: &str, name: &str) -> Result<()> {
    if name == NATIVE_ARCH {
        Ok(())
    } else if KNOWN_ARCHES.contains(&name) {
        Err(err(
            key,
            format!(
                "{name} is not supported: the filter covers the native ABI \
                 ({NATIVE_ARCH}) only and kills a process that calls the kernel \
                 through another one"
            ),
        ))
    } else {
        Err(err(
            key,
            format!(
                "unknown architecture '{name}'{} (supported: {NATIVE_ARCH})",
                did_you_mean(name, &KNOWN_ARCHES)
            ),
        ))
    }
}

fn action(
    key: impl Display,
    errno_key: impl Display,
    name: &str,
    errno: Option<u32>,
) -> Result<SeccompAction> {
    let action = match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => {
            let errno = errno.unwrap_or(libc::EPERM as u32);
            if errno > MAX_ERRNO {
                return Err(err(
                    errno_key,
                    format!("{errno} is not an errno (at most {MAX_ERRNO})"),
                ));
            }
            return Ok(SeccompAction::Errno(errno));
        }
        // libseccomp's SCMP_ACT_KILL is its SCMP_ACT_KILL_THREAD.
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_LOG" => SeccompAction::Log,
        _ => {
            return Err(err(
                key,
                format!(
                    "unknown action '{name}'{} (known: {})",
                    did_you_mean(name, &ACTIONS),
                    ACTIONS.join(", ")
                ),
            ))
        }
    };
    match errno {
        Some(_) => Err(err(
            errno_key,
            format!("only SCMP_ACT_ERRNO returns an errno, not {name}"),
        )),
        None => Ok(action),
    }
}

fn syscall(key: &str, name: &str) -> Result<i64> {
    syscalls::number(name).ok_or_else(|| {
        err(
            key,
            format!(
                "unknown syscall '{name}'{}",
                did_you_mean(name, &syscalls::names())
            ),
        )
    })
}

fn condition(key: &str, arg: &ArgCondition) -> Result<SeccompCondition> {
    if arg.index > MAX_ARG_INDEX {
        return Err(err(
            format!("{key}.index"),
            format!(
                "{} is not an argument index (0 to {MAX_ARG_INDEX})",
                arg.index
            ),
        ));
    }
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        // (arg & value) == value_two: seccompiler's MaskedEq(mask) compares
        // the masked argument with the condition's value.
        "SCMP_CMP_MASKED_EQ" => SeccompCmpOp::MaskedEq(arg.value),
        name => {
            return Err(err(
                format!("{key}.op"),
                format!(
                    "unknown comparison '{name}'{} (known: {})",
                    did_you_mean(name, &OPS),
                    OPS.join(", ")
                ),
            ))
        }
    };
    let value = match (&op, arg.value_two) {
        (SeccompCmpOp::MaskedEq(_), value_two) => value_two.unwrap_or(0),
        (_, None) => arg.value,
        (_, Some(_)) => {
            return Err(err(
                format!("{key}.value_two"),
                format!("only SCMP_CMP_MASKED_EQ uses value_two, not {}", arg.op),
            ))
        }
    };
    // Arguments are compared as 64-bit values, as libseccomp does.
    SeccompCondition::new(arg.index as u8, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| err(key, e))
}
