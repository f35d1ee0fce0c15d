//! What each side of the channel waits for, and what a reply means: the
//! parent waits for "ready" after Create and for the exec after Start or
//! Join; the init for the message due next. A message that is not the one
//! due is a `protocol` error.

use super::channel::{InitEnd, ParentEnd};
use super::messages::{FromInit, ToInit};
use super::InitHandle;
use crate::runtime::error::{Error, Result};
use std::os::fd::OwnedFd;

/// What the init reported before it exec'd (or failed).
#[derive(Default)]
pub(crate) struct Execed {
    /// The pty master, for a process with a terminal.
    pub console: Option<OwnedFd>,
    /// The pid of the process that exec'd, when it is not the init itself.
    pub pid: Option<i32>,
    /// Why it did not exec.
    pub failed: Option<Error>,
}

impl ParentEnd {
    /// After Create: wait for Ready. `run_hooks` runs the runtime's create
    /// hooks when the init asks (HooksDone goes back after them). Returns
    /// the pty master the init sent for the config's process, if any.
    pub fn await_ready(
        &self,
        init: &impl InitHandle,
        mut run_hooks: impl FnMut() -> Result<()>,
    ) -> Result<Option<OwnedFd>> {
        let mut console = None;
        loop {
            // A reset connection means the same as EOF: the init died.
            match self.recv().unwrap_or(None) {
                Some((FromInit::Ready, _)) => return Ok(console),
                Some((FromInit::Failed(e), _)) => return Err(e),
                Some((FromInit::Console, mut fds)) if fds.len() == 1 => console = fds.pop(),
                Some((FromInit::RunHooks, _)) => {
                    run_hooks()?;
                    self.send(&ToInit::HooksDone, &[])?;
                }
                Some((other, _)) => {
                    return Err(Error::protocol(format!(
                        "the container init sent {other:?} while it was being created"
                    )))
                }
                None => {
                    let code = init.wait_uninterrupted().unwrap_or(-1);
                    return Err(Error::state(format!(
                        "the container init exited before it was ready (status {code})"
                    )));
                }
            }
        }
    }

    /// After Start or Join: the reports the init sends, until EOF (every
    /// copy of the channel is close-on-exec, so EOF follows the exec or
    /// the exit).
    pub fn await_exec(&self) -> Result<Execed> {
        let mut done = Execed::default();
        loop {
            match self.recv()? {
                None => return Ok(done),
                Some((FromInit::Console, mut fds)) if fds.len() == 1 => done.console = fds.pop(),
                Some((FromInit::Pid(pid), _)) => done.pid = Some(pid),
                Some((FromInit::Failed(e), _)) => done.failed = Some(e),
                Some((other, _)) => {
                    return Err(Error::protocol(format!(
                        "the container init sent {other:?} before its exec"
                    )))
                }
            }
        }
    }
}

impl InitEnd {
    /// The next message, which must be `what`; its fds.
    pub fn expect(&self, what: &str, is: impl Fn(&ToInit) -> bool) -> Result<Vec<OwnedFd>> {
        match self.recv()? {
            Some((m, fds)) if is(&m) => Ok(fds),
            Some((other, _)) => Err(Error::protocol(format!(
                "init: expected {what}, got {other:?}"
            ))),
            None => Err(Error::protocol(format!(
                "init: expected {what}, but the other end closed"
            ))),
        }
    }

    /// Report `err` to whoever is listening and exit.
    pub fn fail(&self, err: Error) -> ! {
        let _ = self.send(&FromInit::Failed(err), &[]);
        std::process::exit(1)
    }
}
