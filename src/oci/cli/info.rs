//! spec and features: what ctrsh offers, as runc prints it.

use super::flags::{switch, value};
use super::{parse_args, Outcome};
use crate::oci::bundle::CONFIG_FILE;
use crate::runtime::config::NamespaceKind;
use crate::runtime::Error;
use oci_spec::runtime as oci;
use std::path::Path;

/// Write a default config.json (runc's `spec`) into --bundle or the
/// current directory; an existing one is not overwritten.
pub fn spec(args: &[String]) -> Outcome {
    let flags = &[value(&["bundle", "b"]), switch(&["rootless"])];
    let (flags, _) = parse_args("spec", flags, args, &[])?;
    let dir = Path::new(flags.value("bundle").unwrap_or("."));
    let file = dir.join(CONFIG_FILE);
    if file.exists() {
        return Err(Error::new(
            crate::runtime::ErrorKind::Exists,
            format!("File {} exists. Remove it first", file.display()),
        )
        .into());
    }
    let mut spec = crate::oci::default_spec();
    if flags.is_set("rootless") {
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        spec.set_linux(Some(oci::Linux::rootless(uid.as_raw(), gid.as_raw())));
        spec.set_mounts(oci::get_rootless_mounts().into());
    }
    let text = serde_json::to_string_pretty(&spec).expect("a spec serializes");
    std::fs::write(&file, text + "\n")
        .map_err(|e| Error::sys(format!("write {}", file.display()), e))?;
    Ok(0)
}

/// What this runtime supports, in the OCI features document's shape.
pub fn features(args: &[String]) -> Outcome {
    parse_args("features", &[], args, &[])?;
    let namespaces: Vec<String> = NamespaceKind::ALL
        .iter()
        .map(|k| match k {
            NamespaceKind::Net => "network".to_string(),
            other => other.name().to_string(),
        })
        .collect();
    let mut capabilities: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    capabilities.sort();
    let features = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::oci::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::runtime::config::mount_options::known(),
        "linux": {
            "namespaces": namespaces,
            "capabilities": capabilities,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": crate::runtime::seccomp::ACTIONS,
                "operators": crate::runtime::seccomp::OPS,
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
        },
        "annotations": { "org.opencontainers.runtime-spec.features.runtime": "ctrsh" },
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&features).expect("features serialize")
    );
    Ok(0)
}
