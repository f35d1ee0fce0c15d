//! What a list of device rules means, as cgroup v1 reads it: rules apply in
//! order to a cgroup that starts with every device denied. An "a" rule
//! resets it (allow: every device allowed, deny: none); after that each rule
//! adds an exception to the default or takes access back from one.
//!
//! The v1 kernel keeps exactly this state, so the v1 controller is given the
//! rules as they are; an eBPF program (cgroup v2) is compiled from the
//! resulting state. Like runc's emulator, a rule that would take access
//! back from part of a wildcard exception is an error on both: v1 silently
//! ignores it (it only edits exceptions with the same type and numbers),
//! which would leave access the rule seems to forbid.

use crate::runtime::config::{Access, DeviceRule, Devices};
use crate::runtime::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;

impl fmt::Display for Devices {
    /// As in devices.list: "c 1:3", "b *:*".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let (major, minor) = (number(self.major), number(self.minor));
        write!(f, "{} {major}:{minor}", self.kind.letter())
    }
}

/// "a *:* rwm", what `allow_all_devices` means.
pub(super) const ALLOW_ALL: DeviceRule = DeviceRule {
    allow: true,
    devices: None,
    access: Access::ALL,
};

/// The state the rules leave: a default, and the exceptions to it with the
/// accesses each one covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Effective {
    pub(super) default_allow: bool,
    pub(super) exceptions: BTreeMap<Devices, Access>,
}

impl Effective {
    /// Apply `rules` in order to a cgroup that denies everything.
    /// `key` names the config list for errors ("cgroups.allowed_devices").
    pub(super) fn of(rules: &[DeviceRule], key: &str) -> Result<Effective> {
        let mut state = Effective {
            default_allow: false,
            exceptions: BTreeMap::new(),
        };
        for (i, rule) in rules.iter().enumerate() {
            let Some(devices) = rule.devices else {
                state = Effective {
                    default_allow: rule.allow,
                    exceptions: BTreeMap::new(),
                };
                continue;
            };
            if rule.allow != state.default_allow {
                let entry = state.exceptions.entry(devices).or_insert(Access::NONE);
                *entry = entry.union(rule.access);
            } else {
                state
                    .take_back(devices, rule.access)
                    .map_err(|why| Error::config(format!("{key}[{i}]: {why}")))?;
            }
        }
        Ok(state)
    }

    /// Remove `access` from the exception for exactly `devices`; an error if
    /// a wider (wildcard) exception also covers some of it.
    fn take_back(&mut self, devices: Devices, access: Access) -> std::result::Result<(), String> {
        for (&other, &granted) in &self.exceptions {
            let wider = other != devices
                && other.kind == devices.kind
                && (other.major.is_none() || other.major == devices.major)
                && (other.minor.is_none() || other.minor == devices.minor);
            if wider && granted.overlaps(access) {
                return Err(format!(
                    "\"{devices} {access}\" would punch a hole in the earlier wildcard rule \
                     \"{other} {granted}\", which cgroups cannot express; list the devices \
                     the wildcard should cover instead"
                ));
            }
        }
        if let Some(granted) = self.exceptions.get_mut(&devices) {
            *granted = granted.without(access);
            if *granted == Access::NONE {
                self.exceptions.remove(&devices);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::runtime::config::{device_rule, Device};

    fn rule(kind: &str, major: i64, minor: i64, permissions: &str, allow: bool) -> DeviceRule {
        let device = Device {
            allow,
            ..Device::new(kind, major, minor, permissions)
        };
        device_rule("k", &device).unwrap()
    }

    fn effective(rules: &[DeviceRule]) -> Result<Effective> {
        Effective::of(rules, "k")
    }

    fn listed(e: &Effective) -> Vec<String> {
        e.exceptions
            .iter()
            .map(|(d, a)| format!("{d} {a}"))
            .collect()
    }

    #[test]
    fn allow_rules_merge_and_deny_rules_take_back() {
        let e = effective(&[
            rule("c", 1, 5, "r", true),
            rule("c", 1, 5, "wm", true),
            rule("c", 1, 3, "rwm", true),
            rule("c", 1, 5, "w", false),
            rule("c", 1, 3, "rwm", false),
            rule("b", -1, -1, "m", true),
            rule("c", 9, 9, "r", false),
        ])
        .unwrap();
        assert!(!e.default_allow);
        assert_eq!(listed(&e), ["b *:* m", "c 1:5 rm"]);
    }

    #[test]
    fn an_a_rule_resets_everything_before_it() {
        let e = effective(&[
            rule("c", 1, 5, "rwm", true),
            rule("a", -1, -1, "r", true),
            rule("c", 1, 3, "w", false),
            rule("b", 8, -1, "rwm", false),
            rule("c", 1, 3, "w", true),
        ])
        .unwrap();
        assert!(e.default_allow);
        assert_eq!(listed(&e), ["b 8:* rwm"]);
        let denied = effective(&[rule("c", 1, 5, "r", true), rule("a", 0, 0, "m", false)]);
        assert_eq!(denied.unwrap().exceptions.len(), 0);
    }

    #[test]
    fn taking_back_part_of_a_wildcard_is_an_error() {
        let err =
            effective(&[rule("c", -1, -1, "rw", true), rule("c", 1, 5, "w", false)]).unwrap_err();
        assert_eq!(err.kind, crate::runtime::error::ErrorKind::Config);
        assert!(err.message.starts_with("k[1]: \"c 1:5 w\""), "{err}");
        assert!(err.message.contains("\"c *:* rw\""), "{err}");
        // No overlap in access, another type, or the exact rule: fine.
        effective(&[rule("c", -1, -1, "m", true), rule("c", 1, 5, "w", false)]).unwrap();
        effective(&[rule("b", 1, -1, "rw", true), rule("c", 1, 5, "w", false)]).unwrap();
        effective(&[rule("c", 1, -1, "rw", true), rule("c", 1, -1, "w", false)]).unwrap();
    }
}
