//! A container's root filesystem made from an image: the image's layers,
//! shared read-only by every container of the image, stacked under an
//! overlay whose upper dir, in the container's state dir, takes the
//! container's writes (and goes with the state dir at destroy).
//!
//! The parent makes it as a detached mount (fsopen/fsmount: it never shows
//! in the host's mount table) and hands it to the init, which attaches it
//! at the rootfs in the container's mount namespace; it is gone when that
//! namespace is. Layers are passed one option each ("lowerdir+", Linux
//! 6.8), so no page-sized option string limits how many an image has.

use crate::runtime::error::{Context, Error, Result};
use crate::runtime::sys;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The most lower layers overlayfs stacks (the kernel's OVL_MAX_STACK).
const MAX_LAYERS: usize = 500;

/// Where an image container's filesystem lives in its state dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsDirs {
    /// The mount point: the container's `rootfs`.
    pub rootfs: PathBuf,
    /// The container's writes.
    pub upper: PathBuf,
    /// overlayfs's scratch space, on the upper dir's filesystem.
    pub work: PathBuf,
}

impl RootfsDirs {
    pub fn in_state_dir(dir: &Path) -> RootfsDirs {
        RootfsDirs {
            rootfs: dir.join("rootfs"),
            upper: dir.join("upper"),
            work: dir.join("work"),
        }
    }
}

/// How the rootfs is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A read-only rootfs of one layer: the layer, bound read-only
    /// (overlayfs wants two lower layers when it has no upper one).
    Bind(PathBuf),
    /// An overlay with these options, in order.
    Overlay(Vec<(&'static str, PathBuf)>),
}

/// The mount for `layers` (base first); with `writable`, the upper and
/// work dirs of `dirs` take the writes, without it the rootfs is read-only.
pub fn plan(layers: &[PathBuf], dirs: &RootfsDirs, writable: bool) -> Result<Plan> {
    match layers {
        [] => Err(Error::config("image: the image has no layers")),
        [only] if !writable => Ok(Plan::Bind(only.clone())),
        _ if layers.len() > MAX_LAYERS => Err(Error::config(format!(
            "image: {} layers is more than overlayfs stacks ({MAX_LAYERS})",
            layers.len()
        ))),
        _ => {
            // overlayfs lists the top layer first.
            let mut options: Vec<_> = layers
                .iter()
                .rev()
                .map(|layer| ("lowerdir+", layer.clone()))
                .collect();
            if writable {
                options.push(("upperdir", dirs.upper.clone()));
                options.push(("workdir", dirs.work.clone()));
            }
            Ok(Plan::Overlay(options))
        }
    }
}

/// Makes the directories `plan` needs in the state dir, then the rootfs as
/// a detached mount for the init to attach.
pub fn mount(plan: &Plan, dirs: &RootfsDirs) -> Result<OwnedFd> {
    fs::create_dir(&dirs.rootfs).ctx(format!("create {}", dirs.rootfs.display()))?;
    match plan {
        Plan::Bind(layer) => sys::readonly_tree(layer).ctx(format!(
            "image: bind the layer {} read-only",
            layer.display()
        )),
        Plan::Overlay(options) => {
            if options.iter().any(|(key, _)| *key == "upperdir") {
                for dir in [&dirs.upper, &dirs.work] {
                    fs::create_dir(dir).ctx(format!("create {}", dir.display()))?;
                }
            }
            let options: Vec<_> = options.iter().map(|(k, v)| (*k, v.as_path())).collect();
            sys::new_filesystem("overlay", &options).ctx(
                "image: mount the overlay of the image's layers (overlayfs takes layers \
                 one by one since Linux 6.8)",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| PathBuf::from(format!("/s/layers/{i}")))
            .collect()
    }

    #[test]
    fn layers_are_stacked_top_first_under_the_upper_dir() {
        let dirs = RootfsDirs::in_state_dir(Path::new("/run/c/x"));
        let plan = plan(&layers(3), &dirs, true).unwrap();
        let expected = vec![
            ("lowerdir+", PathBuf::from("/s/layers/2")),
            ("lowerdir+", PathBuf::from("/s/layers/1")),
            ("lowerdir+", PathBuf::from("/s/layers/0")),
            ("upperdir", PathBuf::from("/run/c/x/upper")),
            ("workdir", PathBuf::from("/run/c/x/work")),
        ];
        assert_eq!(plan, Plan::Overlay(expected));
    }

    #[test]
    fn a_read_only_rootfs_has_no_upper_dir() {
        let dirs = RootfsDirs::in_state_dir(Path::new("/run/c/x"));
        let Plan::Overlay(options) = plan(&layers(2), &dirs, false).unwrap() else {
            panic!("two layers need an overlay");
        };
        assert!(options.iter().all(|(key, _)| *key == "lowerdir+"));
        assert_eq!(
            plan(&layers(1), &dirs, false).unwrap(),
            Plan::Bind(PathBuf::from("/s/layers/0"))
        );
        let Plan::Overlay(options) = plan(&layers(1), &dirs, true).unwrap() else {
            panic!("a writable rootfs needs an overlay");
        };
        assert_eq!(options.len(), 3);
    }

    #[test]
    fn many_layers_stack_up_to_the_kernels_limit() {
        let dirs = RootfsDirs::in_state_dir(Path::new("/run/c/x"));
        let Plan::Overlay(options) = plan(&layers(MAX_LAYERS), &dirs, true).unwrap() else {
            panic!("an overlay");
        };
        assert_eq!(options.len(), MAX_LAYERS + 2);
        let e = plan(&layers(MAX_LAYERS + 1), &dirs, true).unwrap_err();
        assert!(e.to_string().contains("501 layers"), "{e}");
        assert!(plan(&[], &dirs, true).is_err());
    }
}
