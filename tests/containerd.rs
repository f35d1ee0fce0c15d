//! containerd runs containers with ctrsh as its runtime binary: a private
//! containerd (own socket, root and state, the CRI plugin off) imports an
//! OCI image the test makes from the busybox rootfs, and `ctr` runs it
//! through the runc v2 shim with `--runc-binary` pointing at a link to
//! ctrsh: run, exec, pause/resume, metrics, checkpoint and restore, kill,
//! delete.

mod common;

use common::{skip, ExtraRoot, Sandbox, CTRSH};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct Containerd {
    daemon: Child,
    socket: PathBuf,
    namespace: String,
    /// The container the test runs, cleaned up on drop.
    container: String,
}

impl Containerd {
    /// A containerd of the test's own in `dir`.
    fn start(dir: &Path, namespace: &str, container: &str) -> Containerd {
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
            socket,
            namespace: namespace.into(),
            container: container.into(),
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
    /// What a failed test left: the task, the container, then containerd.
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
    }
}

fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Put `file` into the layout's blobs; its descriptor.
fn blob(layout: &Path, file: &Path, media_type: &str) -> serde_json::Value {
    let digest = sha256(file);
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::rename(file, blobs.join(&digest)).unwrap();
    let size = fs::metadata(blobs.join(&digest)).unwrap().len();
    json!({ "mediaType": media_type, "digest": format!("sha256:{digest}"), "size": size })
}

/// An OCI image layout tarball of `rootfs` (one uncompressed layer).
fn image_tarball(dir: &Path, rootfs: &Path) -> PathBuf {
    let layout = dir.join("layout");
    fs::create_dir_all(&layout).unwrap();
    let layer = dir.join("layer.tar");
    let tar = Command::new("tar")
        .arg("-cf")
        .arg(&layer)
        .arg("-C")
        .arg(rootfs)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    let diff_id = format!("sha256:{}", sha256(&layer));
    let layer = blob(&layout, &layer, "application/vnd.oci.image.layer.v1.tar");
    let config = dir.join("config.json");
    let image_config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["sh"] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    fs::write(&config, image_config.to_string()).unwrap();
    let config = blob(&layout, &config, "application/vnd.oci.image.config.v1+json");
    let manifest = dir.join("manifest.json");
    let manifest_json = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    });
    fs::write(&manifest, manifest_json.to_string()).unwrap();
    let mut manifest = blob(
        &layout,
        &manifest,
        "application/vnd.oci.image.manifest.v1+json",
    );
    manifest["annotations"] = json!({ "org.opencontainers.image.ref.name": "latest" });
    let index = json!({ "schemaVersion": 2, "manifests": [manifest] });
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let tarball = dir.join("image.tar");
    let tar = Command::new("tar")
        .arg("-cf")
        .arg(&tarball)
        .arg("-C")
        .arg(&layout)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    tarball
}

#[test]
fn containerd_runs_containers_with_ctrsh_as_its_runtime() {
    let Some(sb) = Sandbox::new("containerd") else {
        return;
    };
    for tool in ["containerd", "ctr", "containerd-shim-runc-v2"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        if !found {
            return skip(
                "containerd",
                &format!("{tool} is missing (apt-get install containerd)"),
            );
        }
    }
    let dir = sb.dir.join("containerd");
    fs::create_dir(&dir).unwrap();
    // The link engines point at: any name but "ctrsh" is runc's command line.
    let runtime = sb.dir.join("ctrsh-runc");
    std::os::unix::fs::symlink(CTRSH, &runtime).unwrap();
    let id = format!("{}-task", sb.id);
    // The runtime's root: the shim passes <runc-root>/<namespace>.
    let runc_root = dir.join("runc-root");
    let ns_root = ExtraRoot(runc_root.join(&sb.id));
    let ctr = Containerd::start(&dir, &sb.id, &id);
    let image = image_tarball(&dir, &sb.rootfs);
    ctr.ok(&[
        "image",
        "import",
        "--base-name",
        "localhost/ctrsh-test",
        image.to_str().unwrap(),
    ]);
    let image = "localhost/ctrsh-test:latest";
    let root = runc_root.to_str().unwrap();
    // The cgroup: relative, so under ctrsh's own (containerd's default is
    // /<namespace>/<id> from each hierarchy's root).
    let cgroup = format!("{}-cgroup", sb.id);
    let run_flags = [
        "--runc-binary",
        runtime.to_str().unwrap(),
        "--runc-root",
        root,
        "--cgroup",
        &cgroup,
    ];

    // In the foreground: its output comes back through the shim.
    let mut args = vec!["run", "--rm"];
    args.extend(run_flags);
    args.extend([image, "once", "sh", "-c", "echo hello from pid $$"]);
    assert_eq!(ctr.ok(&args), "hello from pid 1\n");

    let mut args = vec!["run", "--detach"];
    args.extend(run_flags);
    args.extend([image, &id, "sleep", "100"]);
    ctr.ok(&args);
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
    let criu = ctrsh::runtime::criu::locate(None)
        .and_then(|c| c.require(ctrsh::runtime::criu::MIN_VERSION, "checkpoints"));
    if let Err(e) = criu {
        stop(&ctr);
        return skip("containerd checkpoint", &format!("CRIU: {e}"));
    }
    let checkpoint = "localhost/ctrsh-test-checkpoint:1";
    ctr.ok(&["container", "checkpoint", "--task", "--rw", &id, checkpoint]);
    ctr.wait_for("RUNNING");
    stop(&ctr);
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
    stop(&ctr);
    drop(ctr);
    assert!(!ns_root.0.join(&id).exists());
    sb.assert_nothing_left(&id);
}
