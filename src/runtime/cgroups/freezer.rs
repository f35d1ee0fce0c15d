//! Freeze and thaw through cgroups-rs's FreezerController (v1 freezer.state,
//! v2 cgroup.freeze). The kernel completes asynchronously, so completion is
//! read here: v1's freezer.state stays FREEZING until every task stopped, and
//! v2 reports "frozen 1" in cgroup.events (the crate's v2 `state()` only
//! echoes the requested value from cgroup.freeze).

use super::{files, CgroupManager, Controller, ControllerDir};
use crate::runtime::error::{Error, ErrorKind, Result};
use cgroups_rs::fs::freezer::FreezerController;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);
/// How often v1's FROZEN is written again: tasks busy in the kernel when it
/// was first written can keep the cgroup FREEZING (runc retries likewise).
const RETRY: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, PartialEq)]
enum State {
    Frozen,
    Thawed,
    /// Between the two (v1 FREEZING, or v2 still freezing).
    Changing,
}

pub(super) fn freeze(m: &CgroupManager) -> Result<()> {
    let d = m.require(Controller::Freezer, "freeze")?;
    let ctl = controller(d);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        ctl.freeze()
            .map_err(|e| files::from_cgroups_rs(format!("freeze {}", d.dir.display()), e))?;
        // v2 needs no second write.
        let retry = if d.v2 {
            deadline
        } else {
            Instant::now() + RETRY
        };
        if wait_for(d, State::Frozen, retry)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            // Do not leave it half frozen.
            thaw(m)?;
            return Err(Error::new(
                ErrorKind::System,
                format!(
                    "freeze {}: not frozen after {} s; thawed it again",
                    d.dir.display(),
                    TIMEOUT.as_secs()
                ),
            ));
        }
    }
}

pub(super) fn thaw(m: &CgroupManager) -> Result<()> {
    let d = m.require(Controller::Freezer, "thaw")?;
    controller(d)
        .thaw()
        .map_err(|e| files::from_cgroups_rs(format!("thaw {}", d.dir.display()), e))?;
    if wait_for(d, State::Thawed, Instant::now() + TIMEOUT)? {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::System,
        format!(
            "thaw {}: still frozen after {} s",
            d.dir.display(),
            TIMEOUT.as_secs()
        ),
    ))
}

pub(super) fn is_frozen(m: &CgroupManager) -> Result<bool> {
    let d = m.require(Controller::Freezer, "is_frozen")?;
    Ok(state(d)? == State::Frozen)
}

fn controller(d: &ControllerDir) -> FreezerController {
    FreezerController::new(d.dir.clone(), d.mount.clone(), d.v2)
}

/// Wait until the cgroup is in `want` (true) or `deadline` passed (false).
/// v2 says so in cgroup.events, which the kernel flags when it changes.
/// v1's freezer.state has no notification, so it is read again and again
/// (runc does the same).
fn wait_for(d: &ControllerDir, want: State, deadline: Instant) -> Result<bool> {
    if d.v2 {
        let frozen = u64::from(want == State::Frozen);
        return files::await_events(&d.dir, deadline, |events| {
            events.get("frozen") == Some(&frozen)
        });
    }
    let mut delay = Duration::from_millis(1);
    loop {
        if state(d)? == want {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

fn state(d: &ControllerDir) -> Result<State> {
    if d.v2 {
        let events_path = d.dir.join("cgroup.events");
        let events = files::read_flat_keyed(&events_path)?;
        let frozen = files::key(&events, "frozen", &events_path)? == 1;
        let requested = files::read_string(&d.dir.join("cgroup.freeze"))? == "1";
        return Ok(match (requested, frozen) {
            (true, true) => State::Frozen,
            (false, false) => State::Thawed,
            _ => State::Changing,
        });
    }
    let path = d.dir.join("freezer.state");
    match files::read_string(&path)?.as_str() {
        "FROZEN" => Ok(State::Frozen),
        "THAWED" => Ok(State::Thawed),
        "FREEZING" => Ok(State::Changing),
        other => Err(Error::new(
            ErrorKind::System,
            format!("{}: unknown state {other:?}", path.display()),
        )),
    }
}
