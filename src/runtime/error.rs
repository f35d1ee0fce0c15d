//! The runtime's error type: every failure says what was being done and why.

use std::fmt;
use std::io;

/// What kind of failure this is, so callers (scripts) can branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// The config (or another input) is invalid; nothing touched the kernel.
    Config,
    /// A container id, checkpoint or path that does not exist.
    NotFound,
    /// A container id that is already taken.
    Exists,
    /// The operation is not allowed in the container's current state.
    State,
    /// A system call or kernel interface failed.
    System,
    /// The host lacks something the operation needs.
    Unsupported,
    /// Ctrl-C, SIGTERM or SIGHUP ended a blocking wait.
    Interrupted,
    /// The parent and a container's init did not understand each other:
    /// a message that could not be encoded or decoded, or not the one due.
    Protocol,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Exists => "exists",
            ErrorKind::State => "state",
            ErrorKind::System => "system",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Protocol => "protocol",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The errno of the failed system call, for callers that branch on it
    /// (the message has its meaning for people).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            errno: None,
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::State, message)
    }

    /// A message the parent or the init did not expect or could not read.
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    /// A failed system call: `what` says what was being done.
    pub fn sys(what: impl fmt::Display, err: impl Into<io::Error>) -> Self {
        let err = err.into();
        Error {
            errno: err.raw_os_error(),
            ..Self::new(ErrorKind::System, format!("{what}: {}", describe_io(&err)))
        }
    }

    /// The errno of the system call that failed, if one did.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        self.errno.map(nix::errno::Errno::from_raw)
    }

    /// Put more context in front of the message ("create container x: ...").
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

/// "No such file or directory (ENOENT)": the meaning and the errno's name.
pub fn describe_io(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let name = nix::errno::Errno::from_raw(code);
            let text = io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!("{text} ({name:?})")
        }
        None => err.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Attach "what was being done" to any io/nix result. `what` is formatted
/// only on error: give it `format_args!(...)` rather than `format!(...)`,
/// so that the calls that succeed (most, on every create and destroy)
/// format nothing.
pub trait Context<T> {
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, io::Error> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(what, e))
    }
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(what, io::Error::from_raw_os_error(e as i32)))
    }
}

impl<T> Context<T> for std::result::Result<T, rustix::io::Errno> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(what, e))
    }
}

/// Where warnings go: something failed that the operation goes on without
/// (a poststart or poststop hook). Standard error unless a front end (the
/// OCI command line, which logs) sets its own with `set_warning_handler`.
static WARNING_HANDLER: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

pub fn set_warning_handler(handler: fn(&str)) {
    let _ = WARNING_HANDLER.set(handler);
}

pub fn warn(message: &str) {
    match WARNING_HANDLER.get() {
        Some(handler) => handler(message),
        None => eprintln!("ctrsh: warning: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    /// The errno stays a value, also across the init's channel (JSON).
    #[test]
    fn a_system_error_keeps_its_errno() {
        let e = Error::sys("open /x", io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert!(e.message.ends_with("(ENOENT)"), "{e}");
        let sent: Error = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(sent.errno(), Some(Errno::ENOENT));
        // No From<Errno>: an errno always comes with what was being done.
        let busy = Err::<(), _>(Errno::EBUSY).ctx("rmdir").unwrap_err();
        assert!(busy.message.starts_with("rmdir: "), "{busy}");
        assert_eq!(busy.context("remove").errno(), Some(Errno::EBUSY));
        let rustix = Err::<(), _>(rustix::io::Errno::BUSY).ctx("rmdir");
        assert_eq!(rustix.unwrap_err().errno(), Some(Errno::EBUSY));
        assert_eq!(Error::config("x").errno(), None);
        // Without one (an error sent by an init that had none).
        let old: Error = serde_json::from_str(r#"{"kind":"System","message":"m"}"#).unwrap();
        assert_eq!(old.errno, None);
    }
}
