//! The image's config as the defaults of a container's processes: what a
//! process spec leaves out, the image gives; what it sets wins.

use crate::runtime::config::ProcessSpec;
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    /// KEY=value entries.
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// The signal that asks the container's process to stop ("SIGTERM").
    pub stop_signal: Option<String>,
}

impl Defaults {
    pub fn of(image: &ImageConfiguration) -> Defaults {
        let Some(c) = image.config() else {
            return Defaults::default();
        };
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Defaults {
            env: c.env().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            working_dir: nonempty(c.working_dir()),
            user: nonempty(c.user()),
            stop_signal: nonempty(c.stop_signal()),
        }
    }

    /// `spec` with the image's defaults: no args runs the entrypoint and
    /// cmd; the image's env comes first, overridden by the spec's entries
    /// of the same name; cwd and user when the spec has none.
    pub fn apply(&self, spec: &ProcessSpec) -> ProcessSpec {
        let mut spec = spec.clone();
        if spec.args.is_empty() {
            spec.args = self.entrypoint.iter().chain(&self.cmd).cloned().collect();
        }
        let name = |entry: &str| entry.split('=').next().unwrap_or("").to_string();
        let given: std::collections::HashSet<String> = spec.env.iter().map(|e| name(e)).collect();
        let mut env: Vec<String> = self
            .env
            .iter()
            .filter(|e| !given.contains(&name(e)))
            .cloned()
            .collect();
        env.append(&mut spec.env);
        spec.env = env;
        spec.cwd = spec.cwd.or_else(|| self.working_dir.clone());
        spec.user = spec.user.or_else(|| self.user.clone());
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Defaults {
        Defaults {
            env: vec!["PATH=/bin".into(), "GREETING=hello".into()],
            entrypoint: vec!["/bin/echo".into()],
            cmd: vec!["from".into(), "cmd".into()],
            working_dir: Some("/srv".into()),
            user: Some("daemon".into()),
            stop_signal: Some("SIGQUIT".into()),
        }
    }

    #[test]
    fn an_empty_spec_runs_the_image_as_configured() {
        let spec = image().apply(&ProcessSpec::default());
        assert_eq!(spec.args, ["/bin/echo", "from", "cmd"]);
        assert_eq!(spec.env, ["PATH=/bin", "GREETING=hello"]);
        assert_eq!(spec.cwd.as_deref(), Some("/srv"));
        assert_eq!(spec.user.as_deref(), Some("daemon"));
    }

    #[test]
    fn what_the_spec_sets_wins() {
        let given = ProcessSpec {
            args: vec!["/bin/sh".into()],
            env: vec!["GREETING=bye".into(), "EXTRA=1".into()],
            cwd: Some("/".into()),
            user: Some("0".into()),
            ..Default::default()
        };
        let spec = image().apply(&given);
        assert_eq!(spec.args, ["/bin/sh"]);
        assert_eq!(spec.env, ["PATH=/bin", "GREETING=bye", "EXTRA=1"]);
        assert_eq!(spec.cwd.as_deref(), Some("/"));
        assert_eq!(spec.user.as_deref(), Some("0"));
    }
}
