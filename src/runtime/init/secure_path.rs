//! Resolve a container path inside the rootfs without ever leaving it:
//! symlinks are followed as if the rootfs were "/", and ".." stops at it.

use crate::runtime::error::{Error, ErrorKind, Result};
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 255;

/// `root` joined with `unsafe_path`, every symlink on the way resolved
/// within `root`. The last component need not exist.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    let mut pending: Vec<std::ffi::OsString> = components(unsafe_path);
    pending.reverse();
    let mut resolved = PathBuf::new(); // relative to root
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{}: too many levels of symbolic links",
                            unsafe_path.display()
                        ),
                    ));
                }
                let target = std::fs::read_link(&full)
                    .map_err(|e| Error::sys(format!("readlink {}", full.display()), e))?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

/// The normal components of `p`, with "." dropped and ".." kept.
fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_root() {
        let root = std::env::temp_dir().join(format!("ctrsh-sj-{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../etc", root.join("rel")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            secure_join(&root, Path::new("/abs/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(&root, Path::new("rel/x")).unwrap(),
            root.join("etc/x")
        );
        assert_eq!(
            secure_join(&root, Path::new("/../../x")).unwrap(),
            root.join("x")
        );
        assert!(secure_join(&root, Path::new("/loop")).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
