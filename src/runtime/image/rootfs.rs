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
//!
//! In a container with a user namespace the layers stay owned by host ids
//! in the store, and each is given to overlayfs as a detached mount
//! idmapped through that namespace (Linux 6.15 takes such layers): the
//! container sees the files owned as its mappings say, with no copy and
//! no chown. The upper dir is not idmapped, as podman has it: the
//! container's writes are owned on disk by the host ids its users map to,
//! and the upper dir itself, the root directory the container sees, by
//! the host ids of its root.

use crate::runtime::error::{Context, Error, Result};
use crate::runtime::sys;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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
    /// An overlay with these options, in order (a flag has no path).
    Overlay(Vec<(&'static str, Option<PathBuf>)>),
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
                .map(|layer| ("lowerdir+", Some(layer.clone())))
                .collect();
            if writable {
                options.push(("upperdir", Some(dirs.upper.clone())));
                options.push(("workdir", Some(dirs.work.clone())));
                // The writes go with the container (destroy removes them),
                // so they are never synced: without it, the overlay's
                // unmount when the container ends syncs the whole
                // filesystem of the upper dir, everyone's dirty data with
                // it.
                options.push(("volatile", None));
            }
            Ok(Plan::Overlay(options))
        }
    }
}

/// The user namespace of a container that has one.
#[derive(Debug, Clone, Copy)]
pub struct Idmap<'a> {
    /// The layers are idmapped through it.
    pub userns: BorrowedFd<'a>,
    /// The host uid and gid of the container's root, who owns the upper dir.
    pub root: (u32, u32),
}

/// Makes the directories `plan` needs in the state dir (the upper dir
/// unless it exists), then the rootfs as a detached mount for the init to
/// attach; with `idmap`, as the container of that user namespace sees it.
pub fn mount(plan: &Plan, dirs: &RootfsDirs, idmap: Option<Idmap>) -> Result<OwnedFd> {
    fs::create_dir(&dirs.rootfs).ctx(format_args!("create {}", dirs.rootfs.display()))?;
    let userns = idmap.map(|i| i.userns);
    let layer_tree = |layer: &Path, readonly: bool| {
        sys::detached_tree(layer, readonly, userns).map_err(|e| {
            let hint = match userns {
                Some(_) if e.raw_os_error() == Some(libc::EINVAL) => {
                    " idmapped (the store's filesystem must support idmapped mounts, as \
                     ext4, xfs, btrfs and tmpfs do)"
                }
                Some(_) => " idmapped",
                None => " read-only",
            };
            Error::sys(
                format!("image: mount the layer {}{hint}", layer.display()),
                e,
            )
        })
    };
    match plan {
        Plan::Bind(layer) => layer_tree(layer, true),
        Plan::Overlay(options) => {
            if options.iter().any(|(key, _)| *key == "upperdir") {
                // A restored container's upper dir is there already, with
                // the writes of the container checkpointed.
                if !dirs.upper.exists() {
                    fs::create_dir(&dirs.upper)
                        .ctx(format_args!("create {}", dirs.upper.display()))?;
                }
                fs::create_dir(&dirs.work).ctx(format_args!("create {}", dirs.work.display()))?;
                if let Some(Idmap {
                    root: (uid, gid), ..
                }) = idmap
                {
                    std::os::unix::fs::chown(&dirs.upper, Some(uid), Some(gid)).ctx(
                        format_args!("chown {} to {uid}:{gid}", dirs.upper.display()),
                    )?;
                }
            }
            // Each idmapped layer is a detached mount, open until overlayfs
            // has taken its own copy of it.
            let trees = options
                .iter()
                .map(|(key, path)| match (*key, path, userns) {
                    ("lowerdir+", Some(path), Some(_)) => layer_tree(path, false).map(Some),
                    _ => Ok(None),
                })
                .collect::<Result<Vec<_>>>()?;
            let options: Vec<_> = options
                .iter()
                .zip(&trees)
                .map(|((key, path), tree)| match (tree, path) {
                    (Some(tree), _) => (*key, sys::FsValue::Fd(tree.as_fd())),
                    (None, Some(path)) => (*key, sys::FsValue::Path(path)),
                    (None, None) => (*key, sys::FsValue::Flag),
                })
                .collect();
            let kernel = match userns {
                Some(_) => "overlayfs takes idmapped layers from detached mounts since Linux 6.15",
                None => "overlayfs takes layers one by one since Linux 6.8",
            };
            sys::new_filesystem("overlay", &options).ctx(format_args!(
                "image: mount the overlay of the image's layers ({kernel})"
            ))
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
        let path = |p: &str| Some(PathBuf::from(p));
        let expected = vec![
            ("lowerdir+", path("/s/layers/2")),
            ("lowerdir+", path("/s/layers/1")),
            ("lowerdir+", path("/s/layers/0")),
            ("upperdir", path("/run/c/x/upper")),
            ("workdir", path("/run/c/x/work")),
            ("volatile", None),
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
        assert_eq!(options.len(), 4);
    }

    #[test]
    fn many_layers_stack_up_to_the_kernels_limit() {
        let dirs = RootfsDirs::in_state_dir(Path::new("/run/c/x"));
        let Plan::Overlay(options) = plan(&layers(MAX_LAYERS), &dirs, true).unwrap() else {
            panic!("an overlay");
        };
        assert_eq!(options.len(), MAX_LAYERS + 3);
        let e = plan(&layers(MAX_LAYERS + 1), &dirs, true).unwrap_err();
        assert!(e.to_string().contains("501 layers"), "{e}");
        assert!(plan(&[], &dirs, true).is_err());
    }
}
