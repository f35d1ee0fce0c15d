//! containerd runs containers with ctrsh as its runtime binary: a private
//! containerd (own socket, root and state, the CRI plugin off) imports an
//! OCI image the test makes from the busybox rootfs, and `ctr` runs it
//! through the runc v2 shim with `--runc-binary` pointing at a link to
//! ctrsh: run, exec, pause/resume, metrics, checkpoint and restore, kill,
//! delete.

mod common;

use common::{skip, ExtraRoot, HostDirs, Sandbox, CTRSH};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct Containerd {
    daemon: Child,
    /// Its dir (root, state, socket), which the sandbox's holds.
    dir: PathBuf,
    socket: PathBuf,
    namespace: String,
    /// The container the test runs, cleaned up on drop.
    container: String,
    /// Dropped after the drop has ended the shims.
    _host_dirs: HostDirs,
}

impl Containerd {
    /// A containerd of the test's own in `dir`.
    fn start(dir: &Path, namespace: &str, container: &str) -> Containerd {
        // Not under its root or state: the shims' sockets, ctr's fifos.
        let host_dirs = HostDirs::new(&[
            "/run/containerd/s",
            "/run/containerd/fifo",
            "/run/containerd",
        ]);
        let socket = dir.join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
"#,
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            socket = socket.display(),
        );
        fs::write(dir.join("config.toml"), config).unwrap();
        let log = fs::File::create(dir.join("containerd.log")).unwrap();
        // containerd unpacks a checkpoint to restore from into a temp dir
        // it never removes: $XDG_RUNTIME_DIR's, else $TMPDIR's. Both are
        // the test's, removed with it.
        let tmp = dir.join("tmp");
        fs::create_dir(&tmp).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env("XDG_RUNTIME_DIR", &tmp)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let c = Containerd {
            daemon,
            dir: dir.to_path_buf(),
            socket,
            namespace: namespace.into(),
            container: container.into(),
            _host_dirs: host_dirs,
        };
        let start = Instant::now();
        while !c.ctr(&["version"]).status.success() {
            assert!(
                start.elapsed() < DEADLINE,
                "containerd did not answer: {}",
                fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        common::output(
            Command::new("ctr")
                .arg("--address")
                .arg(&self.socket)
                .args(["--namespace", &self.namespace])
                .args(args),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The task's status as `ctr task ls` shows it.
    fn status(&self) -> String {
        self.ok(&["task", "ls"])
            .lines()
            .find(|l| l.starts_with(&self.container))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_default()
            .to_string()
    }

    fn wait_for(&self, status: &str) {
        let start = Instant::now();
        while self.status() != status {
            assert!(
                start.elapsed() < DEADLINE,
                "the task is {}, not {status}",
                self.status()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Containerd {
    /// What a failed test left: the task, the container, then containerd,
    /// then the shims it started (they outlive it, and one that ends later
    /// runs the runtime's `delete`, which would make the runtime's root
    /// again after the test removed it), then the mounts they left under
    /// its dir (which keep the sandbox from removing its dir).
    fn drop(&mut self) {
        let id = self.container.clone();
        let _ = self.ctr(&["task", "kill", "--signal", "KILL", &id]);
        let _ = self.ctr(&["task", "delete", "--force", &id]);
        let _ = self.ctr(&["container", "delete", &id]);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.id() as i32),
            nix::sys::signal::SIGTERM,
        );
        let _ = self.daemon.wait();
        let shims = self.shims();
        for &pid in &shims {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
        }
        // Not our children: gone once /proc no longer has them.
        let start = Instant::now();
        while shims
            .iter()
            .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
            && start.elapsed() < DEADLINE
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        for point in self.mounts().into_iter().rev() {
            let _ = nix::mount::umount2(point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

impl Containerd {
    /// The shims serving this containerd: their command line names its
    /// socket.
    fn shims(&self) -> Vec<nix::unistd::Pid> {
        let socket = self.socket.to_string_lossy().into_owned();
        common::processes_where(|cmdline| {
            cmdline.contains("containerd-shim") && cmdline.contains(&socket)
        })
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
    }

    /// The mount points at or under its dir, in mount order.
    fn mounts(&self) -> Vec<String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let under = format!("{dir}/");
        common::mount_points_where(|point| point == dir || point.starts_with(&under))
    }
}

/// A private containerd with the test's image imported, and the `ctr run`
/// flags that make ctrsh the runtime. Dropped in field order: containerd
/// (and what it runs) first, the runtime's root, then the sandbox, which
/// fails the test if anything is left.
struct Setup {
    ctr: Containerd,
    ns_root: ExtraRoot,
    /// The link named like a runtime that points at ctrsh.
    runtime: PathBuf,
    runc_root: PathBuf,
    dir: PathBuf,
    sb: Sandbox,
}

const IMAGE: &str = "localhost/ctrsh-test:latest";

impl Setup {
    /// None (skip) when containerd is not installed; `container` is the
    /// one the containerd guard removes if the test fails.
    fn new(test: &str, container: &str) -> Option<Setup> {
        let sb = Sandbox::new(test)?;
        for tool in ["containerd", "ctr", "containerd-shim-runc-v2"] {
            let found = std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
            if !found {
                skip(
                    test,
                    &format!("{tool} is missing (apt-get install containerd)"),
                );
                return None;
            }
        }
        let dir = sb.dir.join("containerd");
        fs::create_dir(&dir).unwrap();
        // The link engines point at: any name but "ctrsh" is runc's command line.
        let runtime = sb.dir.join("ctrsh-runc");
        std::os::unix::fs::symlink(CTRSH, &runtime).unwrap();
        // The runtime's root: the shim passes <runc-root>/<namespace>.
        let runc_root = dir.join("runc-root");
        let ns_root = ExtraRoot(runc_root.join(&sb.id));
        let ctr = Containerd::start(&dir, &sb.id, &format!("{}-{container}", sb.id));
        let image = common::oci_image::image_tarball(&dir, &sb.rootfs, "latest");
        ctr.ok(&[
            "image",
            "import",
            "--base-name",
            "localhost/ctrsh-test",
            image.to_str().unwrap(),
        ]);
        Some(Setup {
            ctr,
            ns_root,
            runtime,
            runc_root,
            dir,
            sb,
        })
    }

    /// Stops containerd, then checks that nothing of container `id` is left.
    fn finish(self, id: &str) {
        let Setup {
            ctr, ns_root, sb, ..
        } = self;
        drop(ctr);
        assert!(!ns_root.0.join(id).exists());
        // Before the sandbox, whose drop removes the dir the root is in.
        drop(ns_root);
        sb.assert_nothing_left(id);
    }

    /// The container id `name` of this test.
    fn id(&self, name: &str) -> String {
        format!("{}-{name}", self.sb.id)
    }

    /// `ctr run` with ctrsh as the runtime, `flags`, the image, container
    /// `id` and `args`. Each container gets a cgroup of its own: relative,
    /// so under ctrsh's own (containerd's default is /<namespace>/<id>
    /// from each hierarchy's root).
    fn run(&self, flags: &[&str], id: &str, args: &[&str]) -> String {
        let cgroup = format!("{id}-cgroup");
        let mut all = vec![
            "run",
            "--runc-binary",
            self.runtime.to_str().unwrap(),
            "--runc-root",
            self.runc_root.to_str().unwrap(),
            "--cgroup",
            &cgroup,
        ];
        all.extend(flags);
        all.extend([IMAGE, id]);
        all.extend(args);
        self.ctr.ok(&all)
    }
}

#[test]
fn containerd_runs_containers_with_ctrsh_as_its_runtime() {
    let Some(setup) = Setup::new("containerd", "task") else {
        return;
    };
    let (ctr, ns_root, dir) = (&setup.ctr, &setup.ns_root, &setup.dir);
    let id = setup.id("task");

    // In the foreground: its output comes back through the shim.
    let said = setup.run(
        &["--rm"],
        &setup.id("once"),
        &["sh", "-c", "echo hello from pid $$"],
    );
    assert_eq!(said, "hello from pid 1\n");

    setup.run(&["--detach"], &id, &["sleep", "100"]);
    ctr.wait_for("RUNNING");
    let state: serde_json::Value = serde_json::from_slice(
        &common::output(
            Command::new(CTRSH)
                .arg("oci")
                .arg("--root")
                .arg(&ns_root.0)
                .args(["state", &id]),
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(state["status"], "running", "ctrsh's own view: {state}");
    ctr.ok(&["task", "pause", &id]);
    ctr.wait_for("PAUSED");
    ctr.ok(&["task", "resume", &id]);
    ctr.wait_for("RUNNING");
    let said = ctr.ok(&[
        "task",
        "exec",
        "--exec-id",
        "probe",
        &id,
        "sh",
        "-c",
        "echo exec beside $(cat /proc/1/cmdline)",
    ]);
    // In the container's pid namespace, where its pid 1 is the sleep.
    assert_eq!(said, "exec beside sleep100\n");
    // Metrics are read from the cgroup the container is in.
    let metrics = ctr.ok(&["task", "metrics", "--format", "json", &id]);
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    assert_eq!(metrics["pids"]["current"], 1, "{metrics}");
    assert!(
        metrics["memory"]["usage"]["usage"].as_u64() > Some(0),
        "{metrics}"
    );
    assert!(
        metrics["cpu"]["usage"]["total"].as_u64() > Some(0),
        "{metrics}"
    );
    // A checkpoint through the shim (`checkpoint --image-path --work-path
    // --leave-running` of the task it paused) into a checkpoint image;
    // once the container is gone, the same container restored from it
    // (`restore ... --detach --pid-file F -no-subreaper --bundle B`).
    let stop = |ctr: &Containerd| {
        ctr.ok(&["task", "kill", "--signal", "KILL", &id]);
        ctr.wait_for("STOPPED");
        ctr.ok(&["task", "delete", &id]);
        ctr.ok(&["container", "delete", &id]);
    };
    let criu = ctrsh::runtime::locate_criu(None)
        .and_then(|c| c.require(ctrsh::runtime::MIN_CRIU_VERSION, "checkpoints"));
    if let Err(e) = criu {
        stop(ctr);
        return skip("containerd checkpoint", &format!("CRIU: {e}"));
    }
    let checkpoint = "localhost/ctrsh-test-checkpoint:1";
    ctr.ok(&["container", "checkpoint", "--task", "--rw", &id, checkpoint]);
    ctr.wait_for("RUNNING");
    stop(ctr);
    ctr.ok(&["container", "restore", "--live", "--rw", &id, checkpoint]);
    ctr.wait_for("RUNNING");
    // The unpacked checkpoint containerd leaves is in the test's dir.
    let left: Vec<String> = fs::read_dir(dir.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().any(|name| name.starts_with("ctrd-checkpoint")),
        "{left:?}"
    );
    let said = ctr.ok(&[
        "task",
        "exec",
        "--exec-id",
        "restored",
        &id,
        "sh",
        "-c",
        "echo restored $(cat /proc/1/cmdline)",
    ]);
    assert_eq!(said, "restored sleep100\n");
    stop(ctr);
    setup.finish(&id);
}

/// A pod as CRI makes one: a sandbox container, then an app container
/// that joins the sandbox's network, IPC and UTS namespaces by path
/// (`ctr run --with-ns`, the config's `linux.namespaces[].path`), both run
/// by ctrsh. The app sees the sandbox's hostname and interfaces. (There is
/// no crictl here to drive the CRI plugin itself.)
#[test]
fn containerd_runs_a_pod_whose_app_joins_the_sandboxs_namespaces() {
    let Some(setup) = Setup::new("containerd_pod", "sandbox") else {
        return;
    };
    let sandbox = setup.id("sandbox");
    setup.run(&["--detach"], &sandbox, &["sleep", "100"]);
    setup.ctr.wait_for("RUNNING");
    let pid = setup
        .ctr
        .ok(&["task", "ls"])
        .lines()
        .find(|l| l.starts_with(&sandbox))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .expect("the sandbox's pid");
    // What the pod's network and name are: set in the sandbox's own
    // namespaces (the container's, never the host's).
    let ns = |kind: &str| format!("/proc/{pid}/ns/{kind}");
    let in_ns = |flag: &str, kind: &str, args: &[&str]| {
        let out = common::output(
            Command::new("nsenter")
                .arg(format!("{flag}={}", ns(kind)))
                .args(args),
        );
        assert!(out.status.success(), "nsenter {args:?}: {out:?}");
    };
    in_ns("--uts", "uts", &["hostname", "pod-sandbox"]);
    in_ns(
        "--net",
        "net",
        &[
            "ip", "link", "add", "pod0", "type", "veth", "peer", "name", "pod1",
        ],
    );
    let with_ns: Vec<String> = [("network", "net"), ("ipc", "ipc"), ("uts", "uts")]
        .iter()
        .flat_map(|(kind, file)| ["--with-ns".to_string(), format!("{kind}:{}", ns(file))])
        .collect();
    let mut flags: Vec<&str> = with_ns.iter().map(String::as_str).collect();
    flags.push("--rm");
    let said = setup.run(
        &flags,
        &setup.id("app"),
        &[
            "sh",
            "-c",
            "hostname; grep -o pod0 /proc/net/dev; \
             for n in net ipc uts pid; do readlink /proc/self/ns/$n; done",
        ],
    );
    let link = |kind: &str| {
        fs::read_link(ns(kind))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let mut want = format!(
        "pod-sandbox\npod0\n{}\n{}\n{}\n",
        link("net"),
        link("ipc"),
        link("uts")
    );
    let lines: Vec<&str> = said.lines().collect();
    // Its own pid namespace, not the sandbox's.
    assert_eq!(lines.len(), 6, "{said}");
    assert_ne!(lines[5], link("pid"), "{said}");
    want += lines[5];
    want += "\n";
    assert_eq!(said, want);
    setup
        .ctr
        .ok(&["task", "kill", "--signal", "KILL", &sandbox]);
    setup.ctr.wait_for("STOPPED");
    setup.ctr.ok(&["task", "delete", &sandbox]);
    setup.ctr.ok(&["container", "delete", &sandbox]);
    setup.finish(&sandbox);
}
