//! Shared by the integration tests: a busybox rootfs, a per-test sandbox
//! (own factory root, own rootfs copy, unique container id) that destroys
//! what the test made on drop, and a runner for ctrsh scripts.
//!
//! Tests run real containers and need root and a static busybox. What a
//! test needs of the host is checked through `host` (`requires`, `skip`):
//! without it the test prints "skipped: ..." and does nothing, except when
//! `CI` is set: then a missing prerequisite fails the test.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

mod host;
pub mod netns;
pub mod oci_image;
pub mod pty;
mod run_cgroup;

#[allow(unused_imports)]
pub use host::{host, requires, skip, CgroupMode, Need};
#[allow(unused_imports)]
pub use run_cgroup::RunCgroup;

use ctrsh::runtime::Factory;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CTRSH: &str = env!("CARGO_BIN_EXE_ctrsh");
const BUSYBOX: &str = "/bin/busybox";
/// A script that takes longer than this is killed and fails its test.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// True when containers can run (root, busybox); otherwise `skip`s `test`.
pub fn prerequisites(test: &str) -> bool {
    requires(test, &[Need::Root, Need::Busybox])
}

/// The busybox rootfs every sandbox copies, built by scripts/build-rootfs
/// once per test binary. A file lock keeps test binaries that run at the
/// same time from building it twice; a stamp of the busybox binary and of
/// the build script makes a new busybox or a changed script rebuild it.
fn base_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        fs::create_dir_all(tmp).expect("create CARGO_TARGET_TMPDIR");
        let lock = fs::File::create(tmp.join("busybox-rootfs.lock")).expect("create rootfs lock");
        let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("lock the rootfs");
        let dir = tmp.join("busybox-rootfs");
        let stamp_file = tmp.join("busybox-rootfs.stamp");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-rootfs");
        let meta = fs::metadata(BUSYBOX).expect("stat busybox");
        let mut script_hash = DefaultHasher::new();
        fs::read(&script)
            .expect("read scripts/build-rootfs")
            .hash(&mut script_hash);
        let stamp = format!(
            "{} {} {} {:x}",
            meta.ino(),
            meta.size(),
            meta.mtime(),
            script_hash.finish()
        );
        let current = fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str());
        if !current || !dir.exists() {
            if dir.exists() {
                fs::remove_dir_all(&dir).expect("remove the old rootfs");
            }
            run_ok(Command::new(&script).arg(&dir));
            fs::write(&stamp_file, stamp).expect("write the rootfs stamp");
        }
        dir
    })
}

/// Rhai for a sandbox script: creates the container `c` and starts
/// `/bin/sleep 1000` in it as its first process, `p`.
pub const START_SLEEPING: &str = r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
let p = process(spec);
c.start(p);
"#;

/// One test's world: a unique directory holding the factory root, a
/// private rootfs copy and the scripts; a unique container id. On drop it
/// destroys every container in its root and removes the directory, also
/// when the test failed.
pub struct Sandbox {
    /// The unique directory; its name appears in no other test's paths.
    pub dir: PathBuf,
    /// The factory's state root.
    pub root: PathBuf,
    /// The test's own copy of the busybox rootfs (tests may write to it).
    pub rootfs: PathBuf,
    /// A container id no other test uses.
    pub id: String,
    scripts: AtomicUsize,
}

impl Sandbox {
    /// A fresh sandbox, or None when the test is skipped (see `prerequisites`).
    pub fn new(test: &str) -> Option<Sandbox> {
        if !prerequisites(test) {
            return None;
        }
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // The time makes the name unique even if a crashed earlier run
        // with the same pid left its directory behind.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("ctrsh-test-{test}-{}-{n}-{nanos:x}", std::process::id());
        // Under /tmp rather than target/: unprivileged users (rootless
        // tests) can reach it wherever the clone is.
        let dir = std::env::temp_dir().join(&name);
        let sandbox = Sandbox {
            root: dir.join("state"),
            rootfs: dir.join("rootfs"),
            id: format!("{test}-{}-{n}", std::process::id()).replace('_', "-"),
            dir,
            scripts: AtomicUsize::new(0),
        };
        fs::create_dir(&sandbox.dir).expect("create the sandbox dir");
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(base_rootfs())
                .arg(&sandbox.rootfs),
        );
        Some(sandbox)
    }

    /// A sandbox when CRIU (at least `min`, at `criu` or where ctrsh looks
    /// for it) is there too; None (skip) otherwise, a panic under CI.
    pub fn with_criu(
        test: &str,
        criu: Option<&str>,
        min: ctrsh::runtime::CriuVersion,
    ) -> Option<Sandbox> {
        let sb = Sandbox::new(test)?;
        let found = ctrsh::runtime::locate_criu(criu.map(Path::new))
            .and_then(|c| c.require(min, "this test"));
        match found {
            Ok(()) => Some(sb),
            Err(e) => {
                skip(test, &format!("CRIU: {e}"));
                None
            }
        }
    }

    /// Gives the rootfs copy (its links too, never what they point to) to
    /// host uid and gid `owner`, the root of a user namespace that maps
    /// container 0 to it, as such a rootfs is owned.
    pub fn chown_rootfs(&self, owner: u32) {
        run_ok(
            Command::new("chown")
                .arg("-hR")
                .arg(format!("{owner}:{owner}"))
                .arg(&self.rootfs),
        );
    }

    /// The name of the sandbox dir: a needle that finds this test's
    /// leftovers (paths, mount tables) and nothing of other tests.
    pub fn needle(&self) -> String {
        self.dir.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// Rhai that every script starts with: `f` (the sandbox's factory),
    /// `id`, `rootfs`, a minimal `config` and a process map `spec` with
    /// captured output, for the test's script to adjust.
    pub fn preamble(&self) -> String {
        format!(
            r#"let f = factory({root});
let id = {id};
let rootfs = {rootfs};
let config = #{{ rootfs: rootfs, namespaces: ["mount", "uts", "ipc", "pid", "net"] }};
let spec = #{{ args: ["/bin/true"], env: ["PATH=/bin"], stdin: "null", stdout: "pipe", stderr: "pipe" }};
"#,
            root = rhai_str(&self.root.to_string_lossy()),
            id = rhai_str(&self.id),
            rootfs = rhai_str(&self.rootfs.to_string_lossy()),
        )
    }

    /// The preamble followed by `body`, written to a new .rhai file in the
    /// sandbox.
    pub fn script_file(&self, body: &str) -> PathBuf {
        let n = self.scripts.fetch_add(1, Ordering::Relaxed);
        let file = self.dir.join(format!("script-{n}.rhai"));
        fs::write(&file, format!("{}{body}\n", self.preamble())).expect("write the script");
        file
    }

    /// Starts `ctrsh` on the preamble followed by `body` (see `script_file`).
    pub fn start_script(&self, body: &str) -> RunningScript {
        RunningScript::spawn(Command::new(CTRSH).arg(self.script_file(body)))
    }

    /// Runs a script to completion.
    pub fn script(&self, body: &str) -> Output {
        self.start_script(body).finish()
    }

    /// Runs a script that must succeed, returning its stdout.
    pub fn script_ok(&self, body: &str) -> String {
        let out = self.script(body);
        assert_eq!(out.code, Some(0), "the script failed:\n{out}");
        out.stdout
    }

    /// Rhai that sets the first process to one that waits until the test
    /// calls `go()` and then exits `code` (the sandbox dir is bound at
    /// /mnt in the container for it).
    pub fn exit_on_go(&self, code: i32) -> String {
        format!(
            r#"config.mounts = [#{{ source: {dir}, destination: "/mnt", type: "bind", options: ["bind"] }}];
spec.args = ["/bin/sh", "-c", "while [ ! -e /mnt/go ]; do sleep 0.05; done; exit {code}"];
"#,
            dir = rhai_str(&self.dir.to_string_lossy())
        )
    }

    /// Lets the first process of `exit_on_go` exit.
    pub fn go(&self) {
        fs::write(self.dir.join("go"), "").expect("write the go file");
    }

    /// Runs ctrsh on the preamble followed by `body` under strace, which
    /// is given `strace_args` (which calls to trace, `-f` or not) and writes
    /// its trace to a file of the sandbox; returns what ctrsh printed and
    /// the trace. The caller checks that strace is installed (`requires`).
    pub fn script_traced(&self, strace_args: &[&str], body: &str) -> (Output, String) {
        let trace = self.dir.join(format!(
            "strace-{}.out",
            self.scripts.load(Ordering::Relaxed)
        ));
        let out = RunningScript::spawn(
            Command::new("strace")
                .args(strace_args)
                .arg("-o")
                .arg(&trace)
                .arg(CTRSH)
                .arg(self.script_file(body)),
        )
        .finish();
        let trace = fs::read_to_string(&trace)
            .unwrap_or_else(|e| panic!("read {}: {e}\n{out}", trace.display()));
        (out, trace)
    }

    /// Creates the container from `config` after `setup` (Rhai statements
    /// that may change `config` and `spec`), runs `args` as its first
    /// process with stdout and stderr captured, destroys it and returns what
    /// the process printed and its exit code.
    pub fn run_process(&self, setup: &str, args: &[&str]) -> Ran {
        let args = args.iter().map(|a| rhai_str(a)).collect::<Vec<_>>();
        let stdout = self.script_ok(&format!(
            r#"{setup}
spec.args = [{args}];
let c = f.create(id, config);
let p = process(spec);
let code = c.run(p);
print("RESULT " + #{{ code: code, stdout: p.stdout, stderr: p.stderr }}.to_json());
c.destroy();
"#,
            args = args.join(", ")
        ));
        Ran::from_line(&stdout, "RESULT ")
    }

    /// Like `run_process` for `/bin/sh -c script`, which must exit 0;
    /// returns its stdout.
    pub fn sh(&self, setup: &str, script: &str) -> String {
        let ran = self.run_process(setup, &["/bin/sh", "-c", script]);
        assert_eq!(ran.code, 0, "the container process failed: {ran:?}");
        ran.stdout
    }

    /// Whether cgroup directory `name` belongs to this sandbox or to
    /// container `ids`: the sandbox's name (a cgroup parent named after it),
    /// one of `ids`, or derived from the sandbox's id (`<id>-r`), also as
    /// the default cgroup name `ctrsh-<16 hex digits>-<id>`.
    fn owns_cgroup(&self, name: &str, ids: &[&str]) -> bool {
        let name = id_in_default_cgroup_name(name).unwrap_or(name);
        let derived = name
            .strip_prefix(self.id.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'));
        derived || name == self.needle() || ids.contains(&name)
    }

    /// Processes on the host that belong to this sandbox or to container
    /// `ids`: their command line mentions the sandbox dir (a script), their
    /// mount table has a mount of it that ours lacks (a container process;
    /// a mount left in ours, or propagated between the host's namespaces,
    /// is `leftover_mounts`' to report, and would show in every process),
    /// or they are in one of its cgroups (a `ctrsh init` before it mounted
    /// anything shows only there). Zombies do not count: they hold nothing
    /// but their pid.
    pub fn leftover_processes(&self, ids: &[&str]) -> Vec<String> {
        let needle = self.needle();
        let me = std::process::id().to_string();
        // The (root, mount point) of each mount that mentions the sandbox.
        let mounts_of = |mountinfo: &str| -> BTreeSet<String> {
            mountinfo
                .lines()
                .filter(|l| l.contains(&needle))
                .map(|l| l.split(' ').skip(3).take(2).collect::<Vec<_>>().join(" "))
                .collect()
        };
        let ours = mounts_of(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
        let mut found = Vec::new();
        for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                continue;
            }
            let read = |f: &str| {
                let bytes = fs::read(entry.path().join(f)).unwrap_or_default();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let state = read("stat");
            let zombie = state
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'));
            let cmdline = read("cmdline").replace('\0', " ");
            let in_cgroup = read("cgroup").lines().any(|l| {
                let path = l.splitn(3, ':').nth(2).unwrap_or_default();
                path.split('/').any(|part| self.owns_cgroup(part, ids))
            });
            let mounts = !mounts_of(&read("mountinfo")).is_subset(&ours);
            if !zombie && (cmdline.contains(&needle) || mounts || in_cgroup) {
                found.push(format!("pid {pid}: {cmdline}"));
            }
        }
        found
    }

    /// Mounts of the host's mount namespace at or under the sandbox dir.
    pub fn leftover_mounts(&self) -> Vec<String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let under = format!("{dir}/");
        fs::read_to_string("/proc/self/mountinfo")
            .expect("read mountinfo")
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|point| point == dir || point.starts_with(&under))
            })
            .map(String::from)
            .collect()
    }

    /// Everything of this sandbox and of container `ids` left on the host:
    /// cgroups (in every hierarchy), mounts, processes.
    pub fn leftovers(&self, ids: &[&str]) -> Vec<String> {
        let cgroups = cgroups_where(|name| self.owns_cgroup(name, ids));
        let cgroups = cgroups.iter().map(|c| format!("cgroup {}", c.display()));
        let mounts = self
            .leftover_mounts()
            .into_iter()
            .map(|m| format!("mount {m}"));
        let processes = self.leftover_processes(ids).into_iter();
        cgroups.chain(mounts).chain(processes).collect()
    }

    /// Asserts that nothing of container `id` is left: no state dir, no
    /// listing in the factory root, and on the host no cgroup, mount or
    /// process of it or of the sandbox.
    pub fn assert_nothing_left(&self, id: &str) {
        assert!(
            !self.root.join(id).exists(),
            "state dir {} is left behind",
            self.root.join(id).display()
        );
        let listed = Factory::new(&self.root).and_then(|f| f.list());
        assert_eq!(listed.map_err(|e| e.to_string()), Ok(vec![]));
        assert_eq!(self.leftovers(&[id]), Vec::<String>::new(), "left behind");
    }
}

impl Drop for Sandbox {
    /// Destroys what the test left running, then fails the test if that
    /// fails or if anything of the sandbox is still on the host. The dir is
    /// removed only when nothing is mounted under it: a leaked bind mount
    /// must not be descended into.
    fn drop(&mut self) {
        let mut failures = Vec::new();
        if self.root.exists() {
            match Factory::new(&self.root).and_then(|f| f.list()) {
                Ok(ids) => {
                    for id in ids {
                        let destroyed = Factory::new(&self.root)
                            .and_then(|f| f.load(&id))
                            .and_then(|c| c.destroy());
                        if let Err(e) = destroyed {
                            failures.push(format!("destroy container '{id}': {e}"));
                        }
                    }
                }
                Err(e) => failures.push(format!("list {}: {e}", self.root.display())),
            }
        }
        let mounted = self.leftover_mounts();
        failures.extend(self.leftovers(&[]));
        if mounted.is_empty() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                failures.push(format!("remove {}: {e}", self.dir.display()));
            }
        } else {
            failures.push(format!("{} is not removed", self.dir.display()));
        }
        if failures.is_empty() {
            return;
        }
        let report = format!(
            "cleanup of {}:\n{}",
            self.dir.display(),
            failures.join("\n")
        );
        // A second panic while the test's own unwinds would abort the run.
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

/// A fresh directory under the system's temp dir, for one test; removed
/// on drop, also when the test failed (and the test fails when that
/// fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `label` names it; the pid, a count and the time make it unique.
    pub fn new(label: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "ctrsh-tmp-{label}-{}-{}-{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to the file `name` in it; its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        match fs::remove_dir_all(&self.0) {
            Err(e) if !std::thread::panicking() => panic!("remove {}: {e}", self.0.display()),
            Err(e) => eprintln!("remove {}: {e}", self.0.display()),
            Ok(()) => {}
        }
    }
}

/// A second factory root of a test, which the sandbox's cleanup does not
/// know: dropping it destroys every container in it, and fails the test
/// when that fails.
pub struct ExtraRoot(pub PathBuf);

impl Drop for ExtraRoot {
    fn drop(&mut self) {
        // Factory::new would make it again (a leftover) if it is gone.
        if !self.0.exists() {
            return;
        }
        let failed: Vec<String> = Factory::new(&self.0)
            .and_then(|f| f.list())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| {
                let destroyed = Factory::new(&self.0)
                    .and_then(|f| f.load(&id))
                    .and_then(|c| c.destroy());
                destroyed.err().map(|e| format!("destroy '{id}': {e}"))
            })
            .collect();
        if !failed.is_empty() && !std::thread::panicking() {
            panic!("cleanup of {}:\n{}", self.0.display(), failed.join("\n"));
        }
    }
}

/// The processes whose command line (its arguments joined by spaces)
/// `wanted` accepts, with it: an engine's daemons and shims, which are not
/// the test's children.
pub fn processes_where(wanted: impl Fn(&str) -> bool) -> Vec<(nix::unistd::Pid, String)> {
    fs::read_dir("/proc")
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            wanted(&cmdline).then(|| (nix::unistd::Pid::from_raw(pid), cmdline))
        })
        .collect()
}

/// The mount points of this mount namespace that `wanted` accepts, in
/// mount order.
pub fn mount_points_where(wanted: impl Fn(&str) -> bool) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|point| wanted(point))
        .map(String::from)
        .collect()
}

/// Directories made at fixed paths of the host by what a test runs
/// (containerd's shims their socket dir and `ctr` its fifo dir under
/// /run/containerd; ctrsh its default state root /run/ctrsh, for podman
/// or a script's `factory()`), children before parents. Those absent when
/// the test binary first asked are removed by every drop that finds them
/// empty, so the last test of the binary to use them leaves the host as it
/// found it. One list per test binary.
pub struct HostDirs(&'static [PathBuf]);

impl HostDirs {
    pub fn new(paths: &[&str]) -> HostDirs {
        static ABSENT: OnceLock<Vec<PathBuf>> = OnceLock::new();
        HostDirs(ABSENT.get_or_init(|| {
            paths
                .iter()
                .map(PathBuf::from)
                .filter(|p| !p.exists())
                .collect()
        }))
    }
}

impl Drop for HostDirs {
    fn drop(&mut self) {
        for dir in self.0 {
            // Fails while another test's engine still has something there.
            let _ = fs::remove_dir(dir);
        }
    }
}

/// The container id in a default cgroup name, `ctrsh-<16 hex digits>-<id>`
/// (the digits hash the factory's root).
fn id_in_default_cgroup_name(name: &str) -> Option<&str> {
    let (hash, id) = name.strip_prefix("ctrsh-")?.split_at_checked(16)?;
    let id = id.strip_prefix('-')?;
    hash.bytes().all(|b| b.is_ascii_hexdigit()).then_some(id)
}

/// A Rhai string literal for `s` (JSON's escapes are valid in Rhai).
pub fn rhai_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// What a ctrsh run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    /// The exit code; None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The result line `run_process` scripts print.
#[derive(Debug, Deserialize)]
pub struct Ran {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The map a script printed as `PREFIX {json}` (a `run_process` result
    /// or a `c.exec(..)` result: both have code, stdout and stderr).
    pub fn from_line(script_stdout: &str, prefix: &str) -> Ran {
        let line = script_stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| {
                panic!("no {prefix:?} line in the script's output:\n{script_stdout}")
            });
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad {prefix:?} line {line:?}: {e}"))
    }
}

/// A program the test started (ctrsh, mostly); killed (by its pid) if dropped while
/// still running, so a failing test leaves no script behind. Every wait
/// on it has a deadline.
pub struct RunningScript {
    /// The program's name, for messages.
    program: String,
    child: Child,
    stdout: Capture,
    stderr: Capture,
}

impl RunningScript {
    /// Starts `cmd` with stdin from /dev/null.
    pub fn spawn(cmd: &mut Command) -> RunningScript {
        RunningScript::start(cmd.stdin(Stdio::null()), None)
    }

    /// Starts `cmd` with `input` on its stdin (then end of file).
    pub fn spawn_with_stdin(cmd: &mut Command, input: &str) -> RunningScript {
        RunningScript::start(cmd.stdin(Stdio::piped()), Some(input.to_string()))
    }

    fn start(cmd: &mut Command, input: Option<String>) -> RunningScript {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        // A binary a test has just copied (rootless.rs) is "busy" while a
        // process another test thread forked still holds the copy's write
        // fd, until that process execs: try again shortly.
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other.unwrap_or_else(|e| panic!("run {cmd:?}: {e}")),
            }
        };
        if let Some(input) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A writer of its own: a child that does not read cannot block us.
            std::thread::spawn(move || {
                let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
            });
        }
        RunningScript {
            program: cmd.get_program().to_string_lossy().into_owned(),
            stdout: Capture::start(child.stdout.take().unwrap()),
            stderr: Capture::start(child.stderr.take().unwrap()),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (60 s at most) until ctrsh's stdout so far contains `needle`;
    /// returns it.
    pub fn wait_for_stdout(&self, needle: &str) -> String {
        self.wait_for(&self.stdout, needle)
    }

    /// Waits (60 s at most) until ctrsh's stderr so far contains `needle`;
    /// returns it.
    pub fn wait_for_stderr(&self, needle: &str) -> String {
        self.wait_for(&self.stderr, needle)
    }

    fn wait_for(&self, stream: &Capture, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = stream.so_far();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in ctrsh's output:\n{}\n--- stderr\n{}",
                self.stdout.so_far(),
                self.stderr.so_far()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for ctrsh to exit (killing it after SCRIPT_TIMEOUT) and
    /// collects its output. A container process that still holds ctrsh's
    /// stdout open does not make this hang: the output is cut off instead.
    pub fn finish(mut self) -> Output {
        let status = self.exit_status();
        self.collect(status.code())
    }

    /// Waits for the program to exit; after SCRIPT_TIMEOUT kills it and
    /// fails the test with what it wrote.
    fn exit_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for a child") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let out = self.collect(None);
                panic!(
                    "{} ran longer than {SCRIPT_TIMEOUT:?} and was killed\n{out}",
                    self.program
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn collect(&self, code: Option<i32>) -> Output {
        Output {
            code,
            stdout: self.stdout.all(),
            stderr: self.stderr.all(),
        }
    }
}

impl Drop for RunningScript {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `cmd.output()` with a deadline, for the programs a test drives (ctrsh,
/// ctr, CRIU): one still running after SCRIPT_TIMEOUT is killed and fails
/// the test with what it wrote, instead of hanging the run. Stdin is
/// /dev/null.
/// The rest of the line of `out` that starts with `prefix` (a panic
/// showing `out` when there is none).
pub fn line_of(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in:\n{out}"))
        .to_string()
}

/// Runs `cmd`, which must succeed; its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn output(cmd: &mut Command) -> std::process::Output {
    let mut running = RunningScript::spawn(cmd);
    let status = running.exit_status();
    std::process::Output {
        status,
        stdout: running.stdout.bytes(),
        stderr: running.stderr.bytes(),
    }
}

/// What a child writes to a pipe, read in the background as it comes.
struct Capture {
    text: Arc<Mutex<Vec<u8>>>,
    /// Signals the end of file.
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(mut from: impl Read + Send + 'static) -> Capture {
        let text = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = tx.send(());
        });
        Capture { text, done }
    }

    fn so_far(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Everything, once the pipe is closed; what came within a grace
    /// period when another process still holds it open.
    fn all(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn bytes(&self) -> Vec<u8> {
        let closed = self.done.recv_timeout(Duration::from_secs(5)).is_ok();
        let mut bytes = self.text.lock().unwrap().clone();
        if !closed {
            bytes.extend_from_slice(b"<still held open by another process>\n");
        }
        bytes
    }
}

/// tests/escape/probe.c (one system call per run, reported as "ok" or the
/// errno's name), compiled statically to be copied into a rootfs: once per
/// version of the source, named after its hash, so that runs share it and
/// leave one file, not one each. It is compiled under a name of this
/// process's and renamed into place, so a run never sees half of it.
pub fn probe_binary() -> Result<&'static Path, String> {
    static PROBE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escape/probe.c");
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let source = fs::read(&src).map_err(|e| format!("read {}: {e}", src.display()))?;
            let mut hash = DefaultHasher::new();
            source.hash(&mut hash);
            let out = dir.join(format!("escape-probe-{:x}", hash.finish()));
            if out.exists() {
                return Ok(out);
            }
            let partial = dir.join(format!("escape-probe.{}.partial", std::process::id()));
            let built = Command::new("cc")
                .args(["-static", "-O2", "-Wall", "-o"])
                .arg(&partial)
                .arg(&src)
                .output()
                .map_err(|e| format!("run cc (install gcc): {e}"))?;
            if !built.status.success() {
                let _ = fs::remove_file(&partial);
                return Err(format!(
                    "cc -static {} failed (is libc6-dev installed?): {}",
                    src.display(),
                    String::from_utf8_lossy(&built.stderr)
                ));
            }
            fs::rename(&partial, &out).map_err(|e| format!("rename to {}: {e}", out.display()))?;
            Ok(out)
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// A hash of the file at `path`, to see whether it changed.
pub fn file_digest(path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    fs::read(path).unwrap().hash(&mut h);
    h.finish()
}

/// The directory of process `pid`'s cgroup for `controller` (its v1 name),
/// in the hierarchy the host has that controller in.
pub fn cgroup_dir(pid: u32, controller: &str) -> PathBuf {
    let hierarchy = host()
        .cgroups
        .hierarchy(controller)
        .unwrap_or_else(|| panic!("the host has no {controller} controller"));
    let table = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
    let path = table
        .lines()
        .find_map(|line| {
            let mut fields = line.splitn(3, ':').skip(1);
            let (controllers, path) = (fields.next()?, fields.next()?);
            let wanted = match hierarchy.v2 {
                true => controllers.is_empty(),
                false => controllers.split(',').any(|c| c == controller),
            };
            wanted.then_some(path)
        })
        .unwrap_or_else(|| panic!("pid {pid} has no {controller} cgroup:\n{table}"));
    hierarchy.mount.join(path.trim_start_matches('/'))
}

/// Which of `files` the kernel puts in a new cgroup of `controller`'s
/// hierarchy (some depend on the I/O scheduler): seen in a cgroup made
/// for the purpose under this process's own, and removed.
pub fn kernel_offers<'a>(controller: &str, files: &[&'a str]) -> Option<&'a str> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = cgroup_dir(std::process::id(), controller)
        .join(format!("ctrsh-test-offers-{}-{n}", std::process::id()));
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let found = files.iter().find(|f| dir.join(f).exists()).copied();
    fs::remove_dir(&dir).unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
    found
}

/// A block device the host can read: the disk that holds `near`, or
/// else another (some machines deny their disk even to root; a loop device
/// serves as well). Only the device rules can keep a container out of it.
pub fn readable_block_device(near: &Path) -> Option<(u32, u32)> {
    let dev = fs::metadata(near).unwrap().dev();
    let disk = (libc::major(dev), libc::minor(dev));
    let mut others: Vec<(u32, u32)> = fs::read_dir("/sys/dev/block")
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let (major, minor) = name.split_once(':')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .collect();
    others.sort();
    // The node's name in /dev is the DEVNAME of its uevent.
    let node = |(major, minor): &(u32, u32)| {
        let uevent = fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent")).ok()?;
        let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
        Some(Path::new("/dev").join(name))
    };
    std::iter::once(disk)
        .chain(others)
        .find(|dev| node(dev).is_some_and(|path| fs::File::open(path).is_ok()))
}

/// Directories in any cgroup hierarchy whose name starts with `prefix`
/// (not what is below them).
pub fn cgroups_named(prefix: &str) -> Vec<PathBuf> {
    cgroups_where(|name| name.starts_with(prefix))
}

/// Directories in any cgroup hierarchy (v1, named ones like name=systemd,
/// cgroup2) whose name is `wanted` (not what is below them).
pub fn cgroups_where(wanted: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, wanted: &dyn Fn(&str) -> bool, found: &mut Vec<PathBuf>) {
        // A cgroup removed while we walk is not an error.
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if wanted(&entry.file_name().to_string_lossy()) {
                found.push(entry.path());
            } else {
                walk(&entry.path(), wanted, found);
            }
        }
    }
    let mut found = Vec::new();
    for mount in host().cgroups.mounts() {
        walk(&mount, &wanted, &mut found);
    }
    found
}
