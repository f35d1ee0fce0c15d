//! The resource limits of `rlimits`, by their RLIMIT_ names.

use nix::sys::resource::Resource as Kernel;
use serde::{Deserialize, Serialize};

/// Every resource limit Linux has, by its RLIMIT_ name.
const RLIMITS: [(&str, Kernel); 16] = [
    ("RLIMIT_AS", Kernel::RLIMIT_AS),
    ("RLIMIT_CORE", Kernel::RLIMIT_CORE),
    ("RLIMIT_CPU", Kernel::RLIMIT_CPU),
    ("RLIMIT_DATA", Kernel::RLIMIT_DATA),
    ("RLIMIT_FSIZE", Kernel::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", Kernel::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", Kernel::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", Kernel::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", Kernel::RLIMIT_NICE),
    ("RLIMIT_NOFILE", Kernel::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", Kernel::RLIMIT_NPROC),
    ("RLIMIT_RSS", Kernel::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", Kernel::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", Kernel::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", Kernel::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", Kernel::RLIMIT_STACK),
];

/// One of the resources, written (in configs, state and messages) by its
/// RLIMIT_ name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub struct Resource(usize);

impl Resource {
    /// The resource named `name` ("RLIMIT_NOFILE").
    pub fn from_name(name: &str) -> Option<Resource> {
        RLIMITS.iter().position(|(n, _)| *n == name).map(Resource)
    }

    /// Every name, in the table's order.
    pub fn names() -> [&'static str; 16] {
        RLIMITS.map(|(name, _)| name)
    }

    pub fn name(self) -> &'static str {
        RLIMITS[self.0].0
    }

    /// As setrlimit(2) takes it.
    pub fn kernel(self) -> Kernel {
        RLIMITS[self.0].1
    }
}

impl From<Resource> for &'static str {
    fn from(r: Resource) -> &'static str {
        r.name()
    }
}

impl TryFrom<String> for Resource {
    type Error = String;
    fn try_from(name: String) -> Result<Resource, String> {
        Resource::from_name(&name).ok_or_else(|| format!("unknown rlimit '{name}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for name in Resource::names() {
            let r = Resource::from_name(name).unwrap();
            assert_eq!(r.name(), name);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Resource>(&json).unwrap(), r);
        }
        assert!(serde_json::from_str::<Resource>("\"RLIMIT_NOPE\"").is_err());
    }
}
