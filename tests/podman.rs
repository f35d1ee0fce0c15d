//! podman (Debian 12's, 4.3) runs containers with ctrsh as its OCI runtime,
//! configured as a user would: `podman --runtime <link to ctrsh> ...`.
//! What podman keeps is the test's: its root, runroot, tmpdir, locks,
//! network config dir and config files are in the sandbox dir, its
//! storage driver is vfs (no overlay mounts), its cgroups are cgroupfs
//! ones under a cgroup of the test's, and its containers have no network.
//! The test loads an OCI image it builds from the busybox rootfs and runs
//! containers from it: output, exit statuses, a detached container with
//! exec, pause and unpause, stop, start again, kill, rm -f; then nothing
//! of them is left.
//!
//! Two things of podman's image code are not the test's, and podman 4.3
//! has no setting for them: `podman load` unpacks the archive into a
//! temporary dir in /var/tmp (removed when done), and records the layer's
//! digests in the host's blob-info cache,
//! /var/lib/containers/cache/blob-info-cache-v1.boltdb (as skopeo does).

mod common;

use common::{requires, HostDirs, Need, RunCgroup, Sandbox, CTRSH};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/ctrsh-test:latest";

/// ctrsh's state root under podman: podman run as root passes its runtime
/// no `--root` (`--runtime-flag root=...` would not reach the `podman
/// container cleanup` that conmon runs when a container exits, whose
/// `delete` then looks in the default root), so it is ctrsh's default,
/// as runc's is /run/runc. The test's containers are there by podman's
/// ids, which are the test's alone.
const RUNTIME_ROOT: &str = "/run/ctrsh";

/// The parent of the containers' cgroups, relative: under ctrsh's own
/// cgroup, which is conmon's, which is podman's, the test's (podman's
/// default, /libpod_parent, is from each hierarchy's root).
const CGROUP_PARENT: &str = "libpod_parent";

/// How long podman's processes may take to end after its last command
/// (conmon, and the `container cleanup` it runs for an exited container).
const DEADLINE: Duration = Duration::from_secs(30);

/// A podman of the test's own: every command gets the global flags and
/// the environment that make its state private.
struct Podman {
    /// Its dir: root, tmpdir, config files, the containers' id files.
    dir: PathBuf,
    /// Its runroot, beside the dir: podman refuses one longer than 50
    /// characters (conmon's sockets are under it).
    runroot: PathBuf,
    /// The link named like a runtime that points at ctrsh.
    runtime: PathBuf,
    /// The sandbox's needle: in the command line of every podman and
    /// conmon of the test.
    needle: String,
    /// The cgroup of the test's that its processes run in; dropped (with
    /// what is still in it) after the drop has ended them.
    cgroup: RunCgroup,
    /// Dropped last: ctrsh's state root, which podman's runtime makes.
    _host_dirs: HostDirs,
}

impl Podman {
    fn new(sb: &Sandbox) -> Podman {
        let host_dirs = HostDirs::new(&[RUNTIME_ROOT]);
        let dir = sb.dir.join("podman");
        for sub in ["temp", "cni", "ids"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let runtime = sb.dir.join("ctrsh-runc");
        std::os::unix::fs::symlink(CTRSH, &runtime).unwrap();
        // Locks in files of the tmpdir (not the host's shared memory
        // segment), image copies in the test's dir (not /var/tmp), CNI
        // config in an empty dir of the test's (the containers have no
        // network). ctrsh logs as runc does: podman passes
        // `--log-format=json --log FILE` to the runtimes it is told
        // support it, as it does to runc.
        fs::write(
            dir.join("containers.conf"),
            format!(
                "[engine]\nlock_type = \"file\"\nimage_copy_tmp_dir = \"{temp}\"\n\
                 runtime_supports_json = [\"ctrsh-runc\"]\n\
                 [network]\nnetwork_config_dir = \"{cni}\"\n",
                temp = dir.join("temp").display(),
                cni = dir.join("cni").display(),
            ),
        )
        .unwrap();
        fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                dir.join("root").display(),
                sb.dir.join("run").display()
            ),
        )
        .unwrap();
        // No registry to search: nothing is pulled.
        fs::write(
            dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        Podman {
            dir,
            runroot: sb.dir.join("run"),
            runtime,
            needle: sb.needle(),
            cgroup: RunCgroup::new(&sb.needle()),
            _host_dirs: host_dirs,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = |sub: &str| self.dir.join(sub);
        let mut cmd = Command::new("podman");
        cmd.arg("--root")
            .arg(d("root"))
            .arg("--runroot")
            .arg(&self.runroot)
            .arg("--tmpdir")
            .arg(d("tmp"))
            .args(["--storage-driver", "vfs"])
            .args(["--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args)
            .env("CONTAINERS_CONF", d("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", d("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d("registries.conf"))
            // conmon's console sockets.
            .env("TMPDIR", d("temp"));
        self.cgroup.join(&mut cmd);
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        common::output(&mut self.command(args))
    }

    /// Runs podman with `args`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "podman {}: {out:?}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `podman run` of the image as container `name` with `flags`: no
    /// network, no pull, the container's cgroup under the test's
    /// (CGROUP_PARENT; conmon stays in podman's cgroup instead of going to
    /// <parent>/conmon, which podman makes from the hierarchy's root),
    /// rlimits ctrsh can set, and its id written to a file of the test's.
    fn run(&self, name: &str, flags: &[&str], args: &[&str]) -> Output {
        let cidfile = self.dir.join("ids").join(name);
        let mut all = vec![
            "run",
            "--name",
            name,
            "--cidfile",
            cidfile.to_str().unwrap(),
            "--pull",
            "never",
            "--network",
            "none",
            "--cgroups",
            "no-conmon",
            "--cgroup-parent",
            CGROUP_PARENT,
            // podman asks for 1048576 open files and processes for a root
            // container, more than a runtime without CAP_SYS_RESOURCE may
            // set (runc fails the same way).
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ];
        all.extend(flags);
        all.push(IMAGE);
        all.extend(args);
        self.output(&all)
    }

    /// podman's status of container `name`.
    fn status(&self, name: &str) -> String {
        self.ok(&["inspect", "--format", "{{.State.Status}}", name])
            .trim()
            .to_string()
    }

    /// The ids of the containers the test made (their id files).
    fn ids(&self) -> Vec<String> {
        fs::read_dir(self.dir.join("ids"))
            .map(|d| d.flatten().collect::<Vec<_>>())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .map(|id| id.trim().to_string())
            .collect()
    }

    /// The id of container `name`.
    fn id(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join("ids").join(name))
            .unwrap()
            .trim()
            .to_string()
    }

    /// podman's and conmon's processes of the test: their command line
    /// names its dir.
    fn processes(&self) -> Vec<(nix::unistd::Pid, String)> {
        common::processes_where(|cmdline| cmdline.contains(&self.needle))
    }

    /// Waits until podman's and conmon's processes of the test are gone.
    fn wait_for_processes(&self) -> Vec<String> {
        let start = Instant::now();
        loop {
            let left: Vec<String> = self
                .processes()
                .into_iter()
                .map(|(pid, cmdline)| format!("pid {pid}: {cmdline}"))
                .collect();
            if left.is_empty() || start.elapsed() > DEADLINE {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The mount points at or under the sandbox dir (podman mounts a
    /// container's /dev/shm in its runroot), in mount order.
    fn mounts(&self) -> Vec<String> {
        common::mount_points_where(|point| point.contains(&self.needle))
    }
}

impl Drop for Podman {
    /// What a failed test left: its containers, through podman, then
    /// through ctrsh by their ids; podman's and conmon's processes of the
    /// test (by pid); the mounts under its dir.
    fn drop(&mut self) {
        let _ = self.output(&["rm", "--force", "--all", "--time", "0"]);
        for id in self.ids() {
            let _ = common::output(
                Command::new(CTRSH)
                    .args(["oci", "--root", RUNTIME_ROOT, "delete", "--force"])
                    .arg(&id),
            );
        }
        let left = self.processes();
        for (pid, _) in &left {
            let _ = nix::sys::signal::kill(*pid, nix::sys::signal::SIGKILL);
        }
        self.wait_for_processes();
        for point in self.mounts().into_iter().rev() {
            let _ = nix::mount::umount2(point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A podman of the test's with the image loaded. Dropped in field order:
/// podman's leftovers and the test's cgroup, then the sandbox, which fails
/// the test if anything is left.
struct Setup {
    podman: Podman,
    sb: Sandbox,
}

impl Setup {
    /// None (skip) when podman or conmon is not installed.
    fn new(test: &str) -> Option<Setup> {
        let sb = Sandbox::new(test)?;
        if !requires(test, &[Need::Program("podman"), Need::Program("conmon")]) {
            return None;
        }
        let podman = Podman::new(&sb);
        let image = common::oci_image::image_tarball(&sb.dir, &sb.rootfs, IMAGE);
        let loaded = podman.ok(&["load", "--input", image.to_str().unwrap()]);
        assert!(
            loaded.contains(&format!("Loaded image: {IMAGE}")),
            "{loaded}"
        );
        Some(Setup { podman, sb })
    }

    /// After the test's last command: nothing of its containers is left,
    /// in podman, in ctrsh's root, in the test's cgroup, in the process
    /// table or the mount table.
    fn finish(self) {
        let Setup { podman, sb } = self;
        assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
        let ids = podman.ids();
        assert!(!ids.is_empty());
        for id in &ids {
            let state = Path::new(RUNTIME_ROOT).join(id);
            assert!(!state.exists(), "{} is left", state.display());
        }
        assert_eq!(podman.wait_for_processes(), Vec::<String>::new());
        assert_eq!(podman.mounts(), Vec::<String>::new());
        assert_eq!(podman.cgroup.left(), Vec::<PathBuf>::new(), "cgroups left");
        drop(podman);
        let cgroups: Vec<String> = ids.iter().map(|id| format!("libpod-{id}")).collect();
        let cgroups: Vec<&str> = cgroups.iter().map(String::as_str).collect();
        assert_eq!(sb.leftovers(&cgroups), Vec::<String>::new(), "left behind");
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{out:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn podman_runs_containers_with_ctrsh_as_its_runtime() {
    let Some(setup) = Setup::new("podman") else {
        return;
    };
    let podman = &setup.podman;

    // In the foreground, removed when it ends: its output comes back
    // through conmon; a pid namespace, hostname and rlimits of its own.
    let said = stdout(&podman.run(
        "once",
        &["--rm", "--hostname", "podman-box"],
        &["sh", "-c", "echo pid $$; hostname; id -u; ulimit -n"],
    ));
    assert_eq!(said, "pid 1\npodman-box\n0\n1024\n");
    let out = podman.run("three", &["--rm"], &["sh", "-c", "exit 3"]);
    assert_eq!(code(&out), Some(3), "{out:?}");

    // A program that is not there fails the runtime's create, as with
    // runc: podman's exit status says which way.
    let missing = [
        ("missing", "/no/such/program", 127),
        ("not-in-path", "no-such-program", 127),
        ("not-executable", "/etc/passwd", 126),
    ];
    for (name, program, status) in missing {
        let out = podman.run(name, &["--rm"], &[program]);
        assert_eq!(code(&out), Some(status), "{program}: {out:?}");
    }

    // Detached: exec into it, pause and unpause it.
    let busy = "trap 'exit 7' TERM; while true; do sleep 0.1; done";
    stdout(&podman.run("box", &["--detach"], &["sh", "-c", busy]));
    assert_eq!(podman.status("box"), "running");
    let said = podman.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "echo exec beside $(cat /proc/1/cmdline)",
    ]);
    // In the container's pid namespace, where its pid 1 is the shell.
    assert_eq!(said, format!("exec beside sh-c{busy}\n"));
    let out = podman.output(&["exec", "box", "sh", "-c", "exit 4"]);
    assert_eq!(code(&out), Some(4), "{out:?}");
    podman.ok(&["pause", "box"]);
    assert_eq!(podman.status("box"), "paused");
    let state = common::run_ok(Command::new(CTRSH).args([
        "oci",
        "--root",
        RUNTIME_ROOT,
        "state",
        &podman.id("box"),
    ]));
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["status"], "paused", "ctrsh's own view: {state}");
    podman.ok(&["unpause", "box"]);
    assert_eq!(podman.status("box"), "running");

    // stop sends TERM, which the shell traps.
    podman.ok(&["stop", "--time", "20", "box"]);
    assert_eq!(podman.status("box"), "exited");
    let exit = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", "box"]);
    assert_eq!(exit.trim(), "7");
    // Started again: ctrsh creates it anew under the same id.
    podman.ok(&["start", "box"]);
    assert_eq!(podman.status("box"), "running");
    podman.ok(&["kill", "--signal", "KILL", "box"]);
    podman.ok(&["wait", "box"]);
    let exit = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", "box"]);
    assert_eq!(exit.trim(), "137");
    podman.ok(&["rm", "box"]);

    // rm -f of a running container kills it.
    stdout(&podman.run("forced", &["--detach"], &["sleep", "1000"]));
    assert_eq!(podman.status("forced"), "running");
    podman.ok(&["rm", "--force", "--time", "0", "forced"]);
    setup.finish();
}
