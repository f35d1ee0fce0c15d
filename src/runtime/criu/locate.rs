//! Finding the CRIU binary and checking that it is new enough.

use crate::runtime::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that names the CRIU binary to use.
pub const CRIU_ENV: &str = "CTRSH_CRIU";
/// Where scripts/install-criu puts CRIU by default.
pub const DEFAULT_CRIU: &str = "/opt/ctrsh-criu/bin/criu";

/// Older CRIU (Debian 12's 3.17) cannot dump on recent kernels ("vdso:
/// Unexpected rt vDSO area bounds").
pub const MIN_VERSION: Version = Version(4, 0, 0);
/// CRIU 4.1 cannot read the TCP socket options of kernels >= 6.x ("Can't
/// get 1:16 opt"); 4.2 can.
pub const MIN_TCP_VERSION: Version = Version(4, 2, 0);

pub(super) const INSTALL_HINT: &str =
    "install it with scripts/install-criu (CRIU 4.1 into /opt/ctrsh-criu), \
     or `CRIU_SUITE=sid scripts/install-criu PREFIX` for CRIU 4.2 (needed for TCP connections) \
     and name PREFIX/bin/criu in the `criu` option or $CTRSH_CRIU";

/// major.minor.patch, as `criu --version` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// "4.1.1" or "4.2" -> Version.
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// A CRIU binary. Its version is not asked up front: `criu --version`
/// through the private loader is a process of its own on every dump.
/// CRIU writes its version into every log, so `run` reads it from there
/// and turns a failure of a too-old CRIU into the error that says so.
#[derive(Debug, Clone)]
pub struct Criu {
    pub path: PathBuf,
}

/// The CRIU to use: `explicit` (an option), else $CTRSH_CRIU, else
/// /opt/ctrsh-criu/bin/criu, else `criu` in PATH. Missing is an
/// Unsupported error that says what to install.
pub fn locate(explicit: Option<&Path>) -> Result<Criu> {
    let named = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(CRIU_ENV).map(PathBuf::from));
    let path = match named {
        Some(path) if path.is_file() => path,
        Some(path) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("CRIU at {} does not exist: {INSTALL_HINT}", path.display()),
            ))
        }
        None => [PathBuf::from(DEFAULT_CRIU)]
            .into_iter()
            .chain(in_path("criu"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "CRIU was not found (not at {DEFAULT_CRIU}, not in PATH, ${CRIU_ENV} unset): {INSTALL_HINT}"
                    ),
                )
            })?,
    };
    Ok(Criu { path })
}

impl Criu {
    /// An Unsupported error unless this CRIU is at least `min`, for `what`;
    /// asks it (`criu --version`), for callers that must know beforehand.
    pub fn require(&self, min: Version, what: &str) -> Result<()> {
        self.check(version_of(&self.path)?, min, what)
    }

    /// An Unsupported error unless `version` (this CRIU's) is at least `min`.
    pub fn check(&self, version: Version, min: Version, what: &str) -> Result<()> {
        if version >= min {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{what} needs CRIU {min} or newer, but {} is CRIU {version}: {INSTALL_HINT}",
                self.path.display(),
            ),
        ))
    }
}

/// The version CRIU wrote into its `log` ("(00.000061) Version: 4.1.1 (gitid 0)").
pub fn logged_version(log: &Path) -> Option<Version> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .take(8)
        .find_map(|l| l.split_once("Version:"))
        .and_then(|(_, v)| Version::parse(v.split_whitespace().next()?))
}

fn in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

fn version_of(path: &Path) -> Result<Version> {
    let out = Command::new(path).arg("--version").output().map_err(|e| {
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "CRIU at {} does not run ({}): {INSTALL_HINT}",
                path.display(),
                crate::runtime::error::describe_io(&e)
            ),
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .and_then(Version::parse)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} --version printed no version ({}): {INSTALL_HINT}",
                    path.display(),
                    text.trim()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(Version::parse("4.1.1"), Some(Version(4, 1, 1)));
        assert_eq!(Version::parse(" 4.2\n"), Some(Version(4, 2, 0)));
        assert_eq!(Version::parse("x"), None);
        assert!(Version(3, 17, 0) < MIN_VERSION);
        assert!(Version(4, 1, 1) < MIN_TCP_VERSION);
    }

    #[test]
    fn the_version_is_read_from_criu_s_log() {
        let log =
            std::env::temp_dir().join(format!("ctrsh-criu-version-{}.log", std::process::id()));
        std::fs::write(
            &log,
            "(00.000000) CRIU run id = 6b23d931\n(00.000061) Version: 4.1.1 (gitid 0)\n",
        )
        .unwrap();
        let version = logged_version(&log);
        std::fs::write(&log, "(00.000000) no version here\n").unwrap();
        let none = logged_version(&log);
        std::fs::remove_file(&log).unwrap();
        assert_eq!(version, Some(Version(4, 1, 1)));
        assert_eq!(none, None);
        assert_eq!(logged_version(Path::new("/nonexistent/dump.log")), None);
    }

    #[test]
    fn a_named_criu_that_does_not_exist_says_what_to_install() {
        let e = locate(Some(Path::new("/nonexistent/criu"))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("scripts/install-criu"), "{e}");
        assert!(e.message.contains("/nonexistent/criu"), "{e}");
    }
}
