//! The containers a script (or a prompt session) made, and which of them
//! are throwaway: those go when the script ends, however it ends (see
//! `end`), as `docker run --rm` containers do.

use crate::runtime::{Container, Factory, Result, Status};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Made {
    serial: u64,
    root: PathBuf,
    id: String,
    throwaway: bool,
    /// Once made; before that the create is under way.
    container: Option<Arc<Container>>,
}

impl Made {
    /// The container, also one whose create has not returned yet (a
    /// second Ctrl-C ends the script during it): loading it and destroying
    /// it waits for the create's lock.
    fn container(&self) -> Result<Arc<Container>> {
        match &self.container {
            Some(c) => Ok(c.clone()),
            None => Factory::new(&self.root)?.load(&self.id).map(Arc::new),
        }
    }
}

fn made() -> MutexGuard<'static, Vec<Made>> {
    static MADE: Mutex<Vec<Made>> = Mutex::new(Vec::new());
    // A panic elsewhere cannot leave the list half-updated.
    MADE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A create under way, recorded before it starts so that the script's end
/// finds it whenever that comes. Dropped without `made`, it was not ours
/// (the id was taken, or the create failed and undid itself).
pub struct Creating(u64);

/// Set once the script is ending at once: no new create starts.
static ENDING: AtomicBool = AtomicBool::new(false);

/// Records that the script is making container `id` in the factory on
/// `root`; None when the script is ending and must make nothing more.
pub fn creating(root: &Path, id: &str, throwaway: bool) -> Option<Creating> {
    if ENDING.load(Ordering::SeqCst) {
        return None;
    }
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    made().push(Made {
        serial,
        root: root.to_path_buf(),
        id: id.to_string(),
        throwaway,
        container: None,
    });
    Some(Creating(serial))
}

impl Creating {
    /// The create succeeded: `container` is the script's.
    pub fn made(self, container: &Arc<Container>) {
        if let Some(m) = made().iter_mut().find(|m| m.serial == self.0) {
            m.container = Some(container.clone());
        }
        std::mem::forget(self);
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        made().retain(|m| m.serial != self.0);
    }
}

/// The script destroyed `container`: nothing is left to end, and the
/// handle (with its init's pidfd) need not be kept until the script ends.
pub fn destroyed(container: &Arc<Container>) {
    made().retain(|m| {
        !m.container
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, container))
    });
}

/// A container the script made that still exists when it ends.
pub struct Left {
    pub id: String,
    pub root: PathBuf,
    pub status: Status,
}

/// What ending a script did: the throwaway containers destroyed, the
/// errors of those that could not be, and the other containers it made
/// that still exist.
#[derive(Default)]
pub struct Ended {
    pub destroyed: Vec<String>,
    pub failed: Vec<String>,
    pub left: Vec<Left>,
}

/// How long `end_now` waits for a create under way to finish.
const CREATE_PATIENCE: Duration = Duration::from_secs(30);

/// `end`, from another thread while the script still runs (a second
/// Ctrl-C): no create starts any more, and one under way is let finish
/// first, so that it is destroyed whole (a create cut off by the process's
/// exit would leave a half-made container).
pub fn end_now() -> Ended {
    ENDING.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + CREATE_PATIENCE;
    while made().iter().any(|m| m.container.is_none()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    end()
}

/// Destroys the throwaway containers and says what is left.
pub fn end() -> Ended {
    // Held while destroying: an `end_now` from the signal thread waits
    // for an `end` of the main thread, rather than exit under it.
    static ENDING_LOCK: Mutex<()> = Mutex::new(());
    let _ending = ENDING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let all = std::mem::take(&mut *made());
    let mut ended = Ended::default();
    for m in all {
        // A container the script destroyed itself is gone already.
        if !m.root.join(&m.id).exists() {
            continue;
        }
        let container = m.container();
        if m.throwaway {
            match container.and_then(|c| c.destroy()) {
                Ok(()) => ended.destroyed.push(m.id),
                Err(e) => ended.failed.push(e.to_string()),
            }
        } else if let Ok(status) = container.and_then(|c| c.status()) {
            ended.left.push(Left {
                id: m.id,
                root: m.root,
                status,
            });
        }
    }
    ended
}

/// The command line that removes containers `ids` of the state root `root`.
pub fn rm_command(root: &Path, ids: &[&str]) -> String {
    if root == Factory::default_root() {
        format!("ctrsh rm {}", ids.join(" "))
    } else {
        format!("ctrsh rm --root {} {}", root.display(), ids.join(" "))
    }
}
