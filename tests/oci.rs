//! The OCI runtime command line (`ctrsh oci ...`) against bundles made
//! here: a busybox rootfs and a config.json from `ctrsh oci spec`. Each test
//! uses the sandbox's state root (--root) and its own container ids, and
//! logs as containerd makes runtimes log (--log FILE --log-format json).

mod common;

use common::{cgroup_dir, host, requires, rhai_str, Need, Sandbox, CTRSH};
use serde_json::{json, Value};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a state change may take before a test gives up.
const DEADLINE: Duration = Duration::from_secs(10);

/// One sandbox as an OCI bundle (config.json beside the rootfs) and the
/// runtime's global flags.
struct Bundle {
    sb: Sandbox,
    log: PathBuf,
}

impl Bundle {
    /// The sandbox with `ctrsh oci spec`'s config, changed by `edit`:
    /// no terminal, a writable root, and `args` as the process.
    fn new(test: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> Option<Bundle> {
        Some(Bundle::in_sandbox(Sandbox::new(test)?, args, edit))
    }

    fn in_sandbox(sb: Sandbox, args: &[&str], edit: impl FnOnce(&mut Value)) -> Bundle {
        let out = common::output(
            Command::new(CTRSH)
                .args(["oci", "spec", "--bundle"])
                .arg(&sb.dir),
        );
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let log = sb.dir.join("log.json");
        let bundle = Bundle { sb, log };
        let mut config = bundle.config();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["root"]["readonly"] = json!(false);
        edit(&mut config);
        bundle.write_config(&config);
        bundle
    }

    fn config(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.sb.dir.join("config.json")).unwrap()).unwrap()
    }

    fn write_config(&self, config: &Value) {
        fs::write(self.sb.dir.join("config.json"), config.to_string()).unwrap();
    }

    /// A container id of this test.
    fn id(&self, name: &str) -> String {
        format!("{}-{name}", self.sb.id)
    }

    /// `ctrsh oci --root R --log L --log-format json ARGS`, run from another
    /// directory (engines do not run the runtime in the bundle).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(CTRSH);
        cmd.arg("oci")
            .arg("--root")
            .arg(&self.sb.root)
            .arg("--log")
            .arg(&self.log)
            .args(["--log-format", "json"])
            .args(args)
            .current_dir("/");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        common::output(&mut self.command(args))
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ctrsh oci {}: {}{}",
            args.join(" "),
            text(&out.stderr),
            self.last_error()
        );
        text(&out.stdout)
    }

    /// `create --bundle B ID`, the container's stdout and stderr going to
    /// `output` (as an engine's pipes would).
    fn create(&self, id: &str, extra: &[&str], output: &Path) {
        let file = fs::File::create(output).unwrap();
        let mut args = vec!["create", "--bundle", self.sb.dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        let status = self
            .command(&args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        assert!(status.success(), "create {id}: {}", self.last_error());
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    fn wait_for(&self, id: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let state = self.state(id);
            if state["status"] == status {
                return state;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{id} is still {} after {DEADLINE:?}",
                state["status"]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The message of the last line of the --log file, as containerd reads it.
    fn last_error(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .last()
            .and_then(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                assert_eq!(v["level"], "error", "{v}");
                v["msg"].as_str().unwrap_or_default().to_string()
            })
            .unwrap_or_default()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Polls `file` until it contains `wanted`.
fn wait_for_text(file: &Path, wanted: &str) -> String {
    let start = Instant::now();
    loop {
        let got = fs::read_to_string(file).unwrap_or_default();
        if got.contains(wanted) {
            return got;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} never said {wanted:?}: {got:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_start_state_kill_delete_as_runc_does() {
    let Some(b) = Bundle::new(
        "oci-life",
        &["sh", "-c", "echo started; exec sleep 100"],
        |c| {
            c["annotations"] = json!({ "org.example.test": "yes" });
        },
    ) else {
        return;
    };
    let id = b.id("a");
    let (out, pid_file) = (b.sb.dir.join("out"), b.sb.dir.join("init.pid"));
    b.create(&id, &["--pid-file", pid_file.to_str().unwrap()], &out);
    let state = b.state(&id);
    let pid: i64 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(state["ociVersion"], "1.2.0");
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["bundle"], b.sb.dir.to_str().unwrap());
    assert_eq!(state["rootfs"], b.sb.rootfs.to_str().unwrap());
    assert_eq!(state["annotations"]["org.example.test"], "yes");
    assert_eq!(state["owner"], "root");
    let created = state["created"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    // The process has not run: start runs it, with create's stdout.
    assert_eq!(fs::read_to_string(&out).unwrap(), "");
    b.ok(&["start", &id]);
    wait_for_text(&out, "started");
    assert_eq!(b.state(&id)["status"], "running");
    let list: Value = serde_json::from_str(&b.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "running");
    let ps: Vec<i64> = serde_json::from_str(&b.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps, [pid]);
    // A running container is not deleted without --force.
    assert!(!b.run(&["delete", &id]).status.success());
    assert!(b.last_error().contains("not stopped"), "{}", b.last_error());
    b.ok(&["kill", &id, "KILL"]);
    let stopped = b.wait_for(&id, "stopped");
    assert_eq!(stopped["pid"], 0);
    // What containerd's shim does and relies on after the process exited.
    b.ok(&["kill", "--all", &id, "9"]);
    assert!(!b.run(&["kill", &id, "9"]).status.success());
    assert_eq!(b.last_error(), "container not running");
    b.ok(&["delete", &id]);
    assert!(!b.run(&["state", &id]).status.success());
    assert_eq!(b.last_error(), format!("container \"{id}\" does not exist"));
    assert!(!b.run(&["delete", &id]).status.success());
    assert!(b.last_error().contains("does not exist"));
    b.ok(&["delete", "--force", &id]);
    b.sb.assert_nothing_left(&id);
}

#[test]
fn run_waits_and_returns_the_exit_status() {
    // Ambient capabilities without an inheritable set, as runc's own
    // `runc spec` writes them: left out with a warning, as runc does.
    let Some(b) = Bundle::new(
        "oci-run",
        &["sh", "-c", "echo ran in $(hostname); exit 7"],
        |c| {
            let caps = c["process"]["capabilities"].as_object_mut().unwrap();
            caps.remove("inheritable");
        },
    ) else {
        return;
    };
    let id = b.id("r");
    let out = b.run(&["run", "--bundle", b.sb.dir.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ran in ctrsh\n");
    let log = fs::read_to_string(&b.log).unwrap();
    assert!(
        log.contains(r#""level":"warning""#) && log.contains("CAP_KILL"),
        "{log}"
    );
    b.sb.assert_nothing_left(&id);
}

#[test]
fn exec_runs_a_process_json_or_a_command_line() {
    let Some(b) = Bundle::new("oci-exec", &["sleep", "100"], |_| {}) else {
        return;
    };
    let id = b.id("e");
    b.create(&id, &[], &b.sb.dir.join("out"));
    b.ok(&["start", &id]);
    // As containerd's shim execs: a process JSON, detached, with a pid file.
    let process = json!({
        "args": ["sh", "-c", "echo $GREETING from $(id -u):$(id -g) in $(pwd) > /tmp/exec-out"],
        "env": ["PATH=/bin", "GREETING=hello"],
        "cwd": "/tmp",
        "user": { "uid": 1, "gid": 100 },
    });
    let process_file = b.sb.dir.join("process.json");
    fs::write(&process_file, process.to_string()).unwrap();
    let pid_file = b.sb.dir.join("exec.pid");
    b.ok(&[
        "exec",
        "--process",
        process_file.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(pid > 0);
    let said = wait_for_text(&b.sb.rootfs.join("tmp/exec-out"), "\n");
    assert_eq!(said, "hello from 1:100 in /tmp\n");
    // From the command line, waited for: its output and exit status.
    let out = b.run(&[
        "exec",
        "--env",
        "X=42",
        &id,
        "sh",
        "-c",
        "echo x=$X; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", b.last_error());
    assert_eq!(text(&out.stdout), "x=42\n");
    b.ok(&["delete", "--force", &id]);
    b.sb.assert_nothing_left(&id);
}

#[test]
fn pause_resume_and_events_stats() {
    if !requires("pause_resume_and_events_stats", &[Need::WholeDisk]) {
        return;
    }
    let (major, minor) = host().whole_disk.expect("a disk");
    let throttle = |rate: u64| json!([{ "major": major, "minor": minor, "rate": rate }]);
    let Some(b) = Bundle::new("oci-pause", &["sleep", "100"], |c| {
        c["linux"]["resources"]["pids"] = json!({ "limit": 20 });
        c["linux"]["resources"]["blockIO"] = json!({ "throttleReadBpsDevice": throttle(1 << 20) });
    }) else {
        return;
    };
    let id = b.id("p");
    b.create(&id, &[], &b.sb.dir.join("out"));
    b.ok(&["start", &id]);
    b.ok(&["pause", &id]);
    assert_eq!(b.state(&id)["status"], "paused");
    b.ok(&["resume", &id]);
    assert_eq!(b.state(&id)["status"], "running");
    let event: Value = serde_json::from_str(&b.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], id.as_str());
    let data = &event["data"];
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{data}"
    );
    assert!(
        data["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{data}"
    );
    assert_eq!(data["pids"]["current"], 1, "{data}");
    assert_eq!(data["pids"]["limit"], 20, "{data}");
    assert_eq!(data["network_interfaces"][0]["name"], "lo", "{data}");
    // An update as Kubernetes resizes: linux.resources JSON on stdin.
    let mut update = b
        .command(&["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let blkio = |file: &str| {
        let pid = b.state(&id)["pid"].as_u64().unwrap() as u32;
        let path = cgroup_dir(pid, "blkio").join(file);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.trim().to_string()
    };
    let disk = format!("{major}:{minor}");
    let v2 = host().cgroups.is_v2("blkio");
    let throttled = |v1_file: &str, v1: &str, v2_line: &str| match v2 {
        false => assert_eq!(blkio(v1_file), format!("{disk} {v1}")),
        true => assert_eq!(blkio("io.max"), format!("{disk} {v2_line}")),
    };
    throttled(
        "blkio.throttle.read_bps_device",
        "1048576",
        "rbps=1048576 wbps=max riops=max wiops=max",
    );
    let resources = json!({
        "pids": { "limit": 30 },
        "blockIO": { "throttleWriteIOPSDevice": throttle(50) },
    });
    update
        .stdin
        .take()
        .unwrap()
        .write_all(resources.to_string().as_bytes())
        .unwrap();
    assert!(update.wait().unwrap().success(), "{}", b.last_error());
    let event: Value = serde_json::from_str(&b.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(event["data"]["pids"]["limit"], 30);
    // The update adds to what the bundle limits.
    throttled(
        "blkio.throttle.write_iops_device",
        "50",
        "rbps=1048576 wbps=max riops=max wiops=50",
    );
    b.ok(&["delete", "--force", &id]);
    b.sb.assert_nothing_left(&id);
}

/// Receives one fd sent with SCM_RIGHTS on `listener`'s first connection.
fn receive_fd(listener: &std::os::unix::net::UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: SCM_RIGHTS gave us this fd; nothing else owns it.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd came over the console socket");
}

#[test]
fn console_socket_gets_the_pty_master() {
    let Some(b) = Bundle::new(
        "oci-tty",
        &["sh", "-c", "tty; stty size; read line; echo got-$line"],
        |c| {
            c["process"]["terminal"] = json!(true);
            c["process"]["consoleSize"] = json!({ "height": 30, "width": 100 });
        },
    ) else {
        return;
    };
    let id = b.id("t");
    let socket = b.sb.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // Without a socket a terminal cannot be handed to anyone.
    assert!(!b
        .run(&["create", "--bundle", b.sb.dir.to_str().unwrap(), &id])
        .status
        .success());
    assert!(
        b.last_error().contains("console socket"),
        "{}",
        b.last_error()
    );
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    b.create(
        &id,
        &["--console-socket", socket.to_str().unwrap()],
        &b.sb.dir.join("out"),
    );
    let master = fs::File::from(receiver.join().unwrap());
    b.ok(&["start", &id]);
    let mut pty = master.try_clone().unwrap();
    pty.write_all(b"abc\n").unwrap();
    let mut seen = String::new();
    let start = Instant::now();
    let mut buf = [0u8; 512];
    while !seen.contains("got-abc") {
        assert!(start.elapsed() < DEADLINE, "the pty said {seen:?}");
        match pty.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(seen.contains("/dev/pts/"), "{seen:?}");
    assert!(seen.contains("30 100"), "the console size: {seen:?}");
    assert!(seen.contains("got-abc"), "{seen:?}");
    b.wait_for(&id, "stopped");
    b.ok(&["delete", &id]);
    b.sb.assert_nothing_left(&id);
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let Some(b) = Bundle::new("oci-hooks", &["true"], |_| {}) else {
        return;
    };
    let log = b.sb.rootfs.join("hooks.log");
    // Each hook appends its name and the state it read; start_container
    // runs in the container, where the log is /hooks.log.
    let hook = |name: &str, sh: &str, file: &str| json!({ "path": sh, "args": ["sh", "-c", format!("echo {name} $(cat) >> {file}")] });
    let host_log = log.to_str().unwrap();
    let mut config = b.config();
    config["annotations"] = json!({ "stage": "hooks" });
    config["hooks"] = json!({
        "prestart": [hook("prestart", "/bin/sh", host_log)],
        "createRuntime": [hook("createRuntime", "/bin/sh", host_log)],
        "createContainer": [hook("createContainer", "/bin/sh", host_log)],
        "startContainer": [hook("startContainer", "/bin/sh", "/hooks.log")],
        "poststart": [hook("poststart", "/bin/sh", host_log)],
        "poststop": [hook("poststop", "/bin/sh", host_log)],
    });
    b.write_config(&config);
    let id = b.id("h");
    b.create(&id, &[], &b.sb.dir.join("out"));
    b.ok(&["start", &id]);
    b.wait_for(&id, "stopped");
    b.ok(&["delete", &id]);
    let lines: Vec<(String, Value)> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, state) = l.split_once(' ').unwrap();
            (name.to_string(), serde_json::from_str(state).unwrap())
        })
        .collect();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|(n, s)| (n.as_str(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("prestart", "creating"),
            ("createRuntime", "creating"),
            ("createContainer", "creating"),
            ("startContainer", "created"),
            ("poststart", "running"),
            ("poststop", "stopped"),
        ]
    );
    for (name, state) in &lines {
        assert_eq!(state["id"], id.as_str(), "{name}");
        assert_eq!(state["bundle"], b.sb.dir.to_str().unwrap(), "{name}");
        assert_eq!(state["annotations"]["stage"], "hooks", "{name}");
        assert_eq!(state["ociVersion"], "1.2.0", "{name}");
    }
    // The runtime's hooks see the init's host pid.
    assert!(lines[0].1["pid"].as_i64().unwrap() > 1);
    b.sb.assert_nothing_left(&id);

    // A failing create hook fails create and leaves nothing; so does one
    // that outlives its timeout.
    for (hook, wanted) in [
        (
            json!({ "path": "/bin/sh", "args": ["sh", "-c", "echo no >&2; exit 3"] }),
            "no",
        ),
        (
            json!({ "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1 }),
            "timeout of 1 s",
        ),
    ] {
        config["hooks"] = json!({ "createRuntime": [hook] });
        b.write_config(&config);
        let id = b.id("f");
        let out = b.run(&["create", "--bundle", b.sb.dir.to_str().unwrap(), &id]);
        assert!(!out.status.success());
        let error = b.last_error();
        assert!(
            error.contains("hooks.create_runtime[0]") && error.contains(wanted),
            "{error}"
        );
        b.sb.assert_nothing_left(&id);
    }
}

#[test]
fn oci_containers_and_script_containers_are_one_kind() {
    let Some(b) = Bundle::new(
        "oci-script",
        &["sh", "-c", "echo from-bundle; exec sleep 100"],
        |_| {},
    ) else {
        return;
    };
    // Made by `ctrsh oci create`, started and destroyed by a script.
    let id = b.id("o");
    let out = b.sb.dir.join("out");
    b.create(&id, &[], &out);
    let said = b.sb.script_ok(&format!(
        "let c = f.load({id}); print(c.state); c.start(); print(c.state);",
        id = rhai_str(&id)
    ));
    assert_eq!(said, "created\nrunning\n");
    wait_for_text(&out, "from-bundle");
    assert_eq!(b.state(&id)["status"], "running");
    b.sb.script_ok(&format!("f.load({}).destroy();", rhai_str(&id)));
    b.sb.assert_nothing_left(&id);

    // Made by a script from the bundle (oci::load), seen and deleted by
    // `ctrsh oci`.
    let id = b.id("s");
    b.sb.script_ok(&format!(
        "let cfg = oci::load({bundle}); cfg.process.stdout = {out}; cfg.process.args = [\"sleep\", \"100\"];\n\
         let c = f.create({id}, cfg); c.start();",
        bundle = rhai_str(b.sb.dir.to_str().unwrap()),
        out = rhai_str(out.to_str().unwrap()),
        id = rhai_str(&id)
    ));
    let state = b.state(&id);
    assert_eq!(state["status"], "running");
    assert_eq!(state["bundle"], b.sb.dir.to_str().unwrap());
    b.ok(&["delete", "--force", &id]);
    b.sb.assert_nothing_left(&id);

    // oci::spec(), runc's default spec, is a config create takes once it
    // has a root filesystem.
    let id = b.id("spec");
    let said = b.sb.script_ok(&format!(
        "let cfg = oci::spec(); cfg.rootfs = {rootfs}; cfg.process.terminal = false;\n\
         let c = f.create({id}, cfg);\n\
         print(c.run(process(#{{ args: [\"/bin/sh\", \"-c\", \"exit 4\"] }})));\n\
         c.destroy();",
        rootfs = rhai_str(b.sb.rootfs.to_str().unwrap()),
        id = rhai_str(&id)
    ));
    assert_eq!(said, "4\n");
    b.sb.assert_nothing_left(&id);
}

/// As runc (Go's exec.LookPath before create returns): a program that is
/// not there, or cannot be run, fails `create` with runc's wording, which
/// engines match (podman, Docker: "no such file or directory" and
/// "executable file not found in $PATH" exit 127, "permission denied"
/// 126); nothing is left of the container.
#[test]
fn create_of_a_missing_program_fails_as_runc_does() {
    let Some(b) = Bundle::new("oci-missing", &["/no/such/program"], |_| {}) else {
        return;
    };
    let id = b.id("m");
    let cases = [
        (
            "/no/such/program",
            r#"exec: "/no/such/program": stat /no/such/program: no such file or directory"#,
        ),
        (
            "no-such-program",
            r#"exec: "no-such-program": executable file not found in $PATH"#,
        ),
        ("/etc/passwd", r#"exec: "/etc/passwd": permission denied"#),
    ];
    for (program, wording) in cases {
        let mut config = b.config();
        config["process"]["args"] = json!([program]);
        b.write_config(&config);
        let out = b.run(&["create", "--bundle", b.sb.dir.to_str().unwrap(), &id]);
        assert!(!out.status.success(), "create of {program} succeeded");
        assert!(b.last_error().contains(wording), "{}", b.last_error());
        b.sb.assert_nothing_left(&id);
    }
}

#[test]
fn unsupported_fields_are_errors_that_name_them() {
    let Some(b) = Bundle::new("oci-unsupported", &["true"], |c| {
        c["linux"]["intelRdt"] = json!({ "closID": "x" });
    }) else {
        return;
    };
    let id = b.id("u");
    let out = b.run(&["create", "--bundle", b.sb.dir.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert_eq!(
        b.last_error(),
        "config.json: linux.intelRdt: not supported by ctrsh"
    );
    let mut config = b.config();
    config["linux"].as_object_mut().unwrap().remove("intelRdt");
    config["process"]["capabilities"]["bounding"] = json!(["CAP_NOPE"]);
    b.write_config(&config);
    assert!(!b
        .run(&["create", "--bundle", b.sb.dir.to_str().unwrap(), &id])
        .status
        .success());
    assert!(
        b.last_error().contains("process.capabilities.bounding"),
        "{}",
        b.last_error()
    );
    b.sb.assert_nothing_left(&id);
}

#[test]
fn checkpoint_and_restore_keep_a_counter_counting() {
    let Some(sb) = Sandbox::with_criu("oci-ck", None, ctrsh::runtime::MIN_CRIU_VERSION) else {
        return;
    };
    let counter = "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.05; done";
    let b = Bundle::in_sandbox(sb, &["sh", "-c", counter], |_| {});
    let id = b.id("c");
    let count = b.sb.rootfs.join("count");
    let read_count = || -> u64 {
        fs::read_to_string(&count)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
    };
    b.create(&id, &[], Path::new("/dev/null"));
    b.ok(&["start", &id]);
    wait_for_text(&count, "3");
    let (images, work) = (b.sb.dir.join("images"), b.sb.dir.join("work"));
    let (pre, kept) = (b.sb.dir.join("pre"), b.sb.dir.join("kept"));
    fs::create_dir(&work).unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    // A pre-dump needs the kernel's dirty-page tracking: made where there
    // is, a clear error where there is not; the container runs on.
    let out = b.run(&[
        "checkpoint",
        "--pre-dump",
        "--image-path",
        &path(&pre),
        "--work-path",
        &path(&work),
        &id,
    ]);
    let parent = if out.status.success() {
        Some("../pre")
    } else {
        assert!(
            b.last_error().contains("dirty tracking"),
            "{}",
            b.last_error()
        );
        None
    };
    assert_eq!(b.state(&id)["status"], "running");
    // The global --criu names the CRIU to run: a missing one is an error
    // that names it, and the container runs on.
    let criu = ctrsh::runtime::locate_criu(None).unwrap().path;
    let missing = b.sb.dir.join("no-criu");
    let out = b.run(&[
        "--criu",
        &path(&missing),
        "checkpoint",
        "--image-path",
        &path(&kept),
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        b.last_error()
            .contains(&format!("CRIU at {} does not exist", missing.display())),
        "{}",
        b.last_error()
    );
    assert_eq!(b.state(&id)["status"], "running");
    // --leave-running: a checkpoint, and the container runs on.
    b.ok(&[
        "--criu",
        &path(&criu),
        "checkpoint",
        "--leave-running",
        "--shell-job",
        "--file-locks",
        "--manage-cgroups-mode",
        "soft",
        "--image-path",
        &path(&kept),
        "--work-path",
        &path(&work),
        &id,
    ]);
    assert!(kept.join("ctrsh-checkpoint.json").exists());
    assert_eq!(b.state(&id)["status"], "running");
    let mut args = vec![
        "checkpoint",
        "--file-locks",
        "--image-path",
        images.to_str().unwrap(),
        "--work-path",
        work.to_str().unwrap(),
    ];
    args.extend(parent.map(|p| ["--parent-path", p]).iter().flatten());
    args.push(&id);
    b.ok(&args);
    // The dump stopped the container and removed it.
    assert!(!b.run(&["state", &id]).status.success());
    let dumped = read_count();
    assert!(work.join("dump.log").exists(), "CRIU logs in the work path");
    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            "--image-path",
            images.to_str().unwrap(),
            "--work-path",
            work.to_str().unwrap(),
            "--bundle",
            b.sb.dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(&id);
        b.run(&args)
    };
    // How the dump was made decides how it is restored.
    assert!(!restore(&["--tcp-established"]).status.success());
    assert_eq!(
        b.last_error(),
        "--tcp-established: the checkpoint was made without it; checkpoint again with --tcp-established"
    );
    assert!(!restore(&["--manage-cgroups-mode", "soft"]).status.success());
    assert!(
        b.last_error()
            .contains("the mode the checkpoint was made with"),
        "{}",
        b.last_error()
    );
    b.sb.assert_nothing_left(&id);
    let pid_file = b.sb.dir.join("restored.pid");
    // As containerd's shim restores (with a single-dash -no-subreaper).
    let out = restore(&[
        "--file-locks",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "-no-subreaper",
    ]);
    assert!(out.status.success(), "restore: {}", b.last_error());
    let state = b.state(&id);
    assert_eq!(state["status"], "running");
    let pid: i64 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(state["pid"], pid);
    let start = Instant::now();
    while read_count() < dumped + 3 {
        assert!(
            start.elapsed() < DEADLINE,
            "the counter stays at {}",
            read_count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    b.ok(&["delete", "--force", &id]);
    b.sb.assert_nothing_left(&id);
}

#[test]
fn events_report_the_oom_kill_that_stopped_the_container() {
    // tail buffers the never-ending line of /dev/zero until the OOM
    // killer ends it, and with it the container.
    let Some(b) = Bundle::new("oci-oom", &["tail", "/dev/zero"], |c| {
        c["linux"]["resources"]["memory"] = json!({ "limit": 16 << 20, "swap": 16 << 20 });
    }) else {
        return;
    };
    let id = b.id("m");
    b.create(&id, &[], Path::new("/dev/null"));
    let mut events = b
        .command(&["events", "--interval", "100ms", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    b.ok(&["start", &id]);
    b.wait_for(&id, "stopped");
    // events ends by itself once the container has stopped.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = events.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = events.kill();
            let _ = events.wait();
            panic!("events still runs {DEADLINE:?} after the container stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    events
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{}", b.last_error());
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|e| e["id"] == id.as_str()), "{out}");
    assert!(
        lines.iter().any(|e| e["type"] == "oom"),
        "no OOM event: {out}"
    );
    b.ok(&["delete", &id]);
    b.sb.assert_nothing_left(&id);
}

/// Reads the pty `master` until it has said `wanted`; what it said.
fn read_pty_until(master: &mut fs::File, wanted: &str) -> String {
    let mut seen = String::new();
    let start = Instant::now();
    let mut buf = [0u8; 512];
    while !seen.contains(wanted) {
        assert!(start.elapsed() < DEADLINE, "the pty said {seen:?}");
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    seen
}

#[test]
fn runc_flags_are_honoured_or_refused_by_name() {
    let Some(b) = Bundle::new(
        "oci-flags",
        &["sh", "-c", "echo preserved >&3; exec sleep 100"],
        |_| {},
    ) else {
        return;
    };
    let bundle = b.sb.dir.to_str().unwrap();
    let id = b.id("f");
    // A flag ctrsh does not know is a usage error (2) naming it.
    let out = b.run(&["create", "--bundel", bundle, &id]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(b.last_error(), "flag provided but not defined: -bundel");
    // --systemd-cgroup: a clear error, and nothing made.
    let out = b.run(&["--systemd-cgroup", "create", "--bundle", bundle, &id]);
    assert_eq!(out.status.code(), Some(1));
    let why = if Path::new("/run/systemd/system").is_dir() {
        "not implemented"
    } else {
        "no systemd runs on this machine"
    };
    let error = b.last_error();
    assert!(
        error.starts_with("--systemd-cgroup") && error.contains(why),
        "{error}"
    );
    b.sb.assert_nothing_left(&id);

    // --preserve-fds 1: the process gets create's fd 3.
    let preserved = b.sb.dir.join("fd3");
    let create = b.command(&["create", "--preserve-fds", "1", "--bundle", bundle, &id]);
    let create = Command::new("sh")
        .arg("-c")
        .arg(r#"f=$1; shift; exec "$@" 3>"$f""#)
        .arg("sh")
        .arg(&preserved)
        .arg(create.get_program())
        .args(create.get_args())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(create.success(), "{}", b.last_error());
    b.ok(&["start", &id]);
    wait_for_text(&preserved, "preserved");
    let table = b.ok(&["list"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&id) && l.contains(" running ")),
        "{table}"
    );
    assert_eq!(b.ok(&["list", "-q"]), format!("{id}\n"));

    // exec's own flags instead of a process JSON.
    let said = b.ok(&[
        "exec",
        "--cwd",
        "/tmp",
        "--user",
        "1:100",
        "-g",
        "7",
        "--env",
        "X=x",
        &id,
        "sh",
        "-c",
        "echo $(pwd) $(id -u) $(id -G) $X",
    ]);
    assert_eq!(said, "/tmp 1 100 7 x\n");
    let caps = b.ok(&[
        "exec",
        "--cap",
        "CAP_NET_RAW",
        &id,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    let eff = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_ne!(
        eff & (1 << 13),
        0,
        "CAP_NET_RAW (13) is not effective: {caps}"
    );
    let caps = b.ok(&["exec", &id, "grep", "CapEff", "/proc/self/status"]);
    let eff = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(eff & (1 << 13), 0, "without --cap: {caps}");
    // --tty --detach: the pty master goes to the console socket.
    let socket = b.sb.dir.join("exec.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    b.ok(&[
        "exec",
        "--tty",
        "--detach",
        "--console-socket",
        socket.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "echo on $(tty)",
    ]);
    let mut master = fs::File::from(receiver.join().unwrap());
    assert!(read_pty_until(&mut master, "on /dev/pts/").contains("on /dev/pts/"));

    // update's flags: the new limits are what the cgroup reports.
    b.ok(&["update", "--memory", "64M", "--pids-limit", "40", &id]);
    let event: Value = serde_json::from_str(&b.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(event["data"]["memory"]["usage"]["limit"], 64 << 20);
    assert_eq!(event["data"]["pids"]["limit"], 40);

    // runc's flags for what ctrsh does not do: errors naming the flag.
    for (args, flag) in [
        (
            vec!["update", "--kernel-memory", "1M", &id],
            "--kernel-memory",
        ),
        (vec!["exec", "--apparmor", "p", &id, "true"], "--apparmor"),
        (vec!["checkpoint", "--lazy-pages", &id], "--lazy-pages"),
        (
            vec!["restore", "--lsm-profile", "p", "--bundle", bundle, &id],
            "--lsm-profile",
        ),
    ] {
        assert_eq!(b.run(&args).status.code(), Some(1), "{args:?}");
        assert_eq!(b.last_error(), format!("{flag}: not supported by ctrsh"));
    }
    b.ok(&["delete", "--force", &id]);

    // run --detach returns with the container running.
    let id = b.id("d");
    let out = b
        .command(&["run", "--detach", "--bundle", bundle, &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its process has no fd 3 here: sh says so (the log has ctrsh's errors).
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "{}", b.last_error());
    assert_eq!(b.state(&id)["status"], "running");
    b.ok(&["kill", &id, "SIGKILL"]);
    b.wait_for(&id, "stopped");
    b.ok(&["delete", &id]);
    b.sb.assert_nothing_left(&id);

    // --log-format text, --debug: logrus's text lines.
    let text_log = b.sb.dir.join("log.txt");
    let out = common::output(
        Command::new(CTRSH)
            .arg("oci")
            .arg("--root")
            .arg(&b.sb.root)
            .arg("--log")
            .arg(&text_log)
            .args(["--log-format", "text", "--debug", "state", "nope"]),
    );
    assert_eq!(out.status.code(), Some(1));
    let log = fs::read_to_string(&text_log).unwrap();
    assert!(
        log.contains(r#" level=debug msg="command: state nope""#),
        "{log}"
    );
    assert!(
        log.contains(r#" level=error msg="container \"nope\" does not exist""#),
        "{log}"
    );
    let out = b.run(&["--log-format", "yaml", "list"]);
    assert_eq!(out.status.code(), Some(2));

    // spec keeps an existing config; features lists what ctrsh offers.
    assert_eq!(b.run(&["spec", "--bundle", bundle]).status.code(), Some(1));
    assert!(
        b.last_error()
            .contains("config.json exists. Remove it first"),
        "{}",
        b.last_error()
    );
    let features: Value = serde_json::from_str(&b.ok(&["features"])).unwrap();
    assert_eq!(features["ociVersionMax"], "1.2.0");
    assert!(features["hooks"]
        .as_array()
        .unwrap()
        .contains(&json!("createRuntime")));
    assert!(features["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("pid")));
}

/// `ps` prints what runc's does: the host's `ps -ef` (or the `ps`
/// arguments given after the id) cut to the container's processes, the
/// header first; `kill --all` signals every process in the container's
/// cgroup, not only its init, while it runs.
#[test]
fn ps_table_and_kill_all_reach_every_process_as_with_runc() {
    let Some(b) = Bundle::new("oci-ps", &["sleep", "100"], |_| {}) else {
        return;
    };
    let id = b.id("ps");
    b.create(&id, &[], &b.sb.dir.join("out"));
    b.ok(&["start", &id]);
    let init = b.state(&id)["pid"].as_i64().unwrap();
    let pid_file = b.sb.dir.join("exec.pid");
    b.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "200",
    ]);
    let exec: i64 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let table = b.ok(&["ps", &id]);
    let host_ps = text(&common::output(Command::new("ps").arg("-ef")).stdout);
    let mut lines = table.lines();
    assert_eq!(lines.next(), host_ps.lines().next(), "the header:\n{table}");
    let rows: Vec<(i64, String)> = lines
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[1].parse().unwrap(), cols[7..].join(" "))
        })
        .collect();
    assert_eq!(
        rows,
        [
            (init, "sleep 100".to_string()),
            (exec, "sleep 200".to_string())
        ],
        "{table}"
    );
    let custom = b.ok(&["ps", &id, "-o", "pid,args"]);
    assert_eq!(
        custom.split_whitespace().collect::<Vec<_>>(),
        [
            "PID",
            "COMMAND",
            &init.to_string(),
            "sleep",
            "100",
            &exec.to_string(),
            "sleep",
            "200"
        ],
        "{custom}"
    );
    // SIGTERM without a handler does not reach a pid namespace's init
    // from outside; --all ends the exec'd sleep and leaves it running.
    let gone = |pid: i64| {
        // An exited child of the init that nobody reaps is a zombie.
        fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')').next().unwrap().trim_start().starts_with('Z')
        })
    };
    b.ok(&["kill", "--all", &id, "TERM"]);
    let start = Instant::now();
    while !gone(exec) {
        assert!(start.elapsed() < DEADLINE, "kill --all did not end {exec}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!gone(init));
    assert_eq!(b.state(&id)["status"], "running");
    b.ok(&["kill", "--all", &id, "KILL"]);
    b.wait_for(&id, "stopped");
    b.ok(&["delete", &id]);
    b.sb.assert_nothing_left(&id);
}

/// `create --no-pivot` (runc's flag for a rootfs where pivot_root cannot
/// work, such as a ramdisk) enters the rootfs by moving it onto / and
/// chroot: the container runs in the bundle's rootfs, its root mount the
/// bundle's rootfs, as with pivot_root. (The two differ only in mounts the
/// kernel hides from the container: the host's, left in its namespace
/// under the moved root.)
#[test]
fn create_no_pivot_runs_the_container_in_its_rootfs_as_runc_does() {
    let Some(b) = Bundle::new(
        "oci-nopivot",
        &[
            "sh",
            "-c",
            "cat /marker; head -1 /proc/self/mountinfo | cut -d' ' -f1-5",
        ],
        |_| {},
    ) else {
        return;
    };
    fs::write(b.sb.rootfs.join("marker"), "in the bundle's rootfs\n").unwrap();
    let run = |id: &str, flags: &[&str]| {
        let out_file = b.sb.dir.join(format!("out-{id}"));
        b.create(id, flags, &out_file);
        b.ok(&["start", id]);
        b.wait_for(id, "stopped");
        b.ok(&["delete", id]);
        b.sb.assert_nothing_left(id);
        fs::read_to_string(&out_file).unwrap()
    };
    let (pivot, no_pivot) = (b.id("pivot"), b.id("nopivot"));
    let with_pivot = run(&pivot, &[]);
    let without = run(&no_pivot, &["--no-pivot"]);
    let rootfs = b.sb.rootfs.to_str().unwrap();
    for out in [&with_pivot, &without] {
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("in the bundle's rootfs"), "{out}");
        let root: Vec<&str> = lines.next().unwrap().split(' ').collect();
        assert_eq!(&root[3..], [rootfs, "/"], "{out}");
    }
}

/// A config without a "mount" namespace shares the host's (as
/// runtime-tools' linux_ns_itype checks): the container's mounts go under a
/// private copy of its rootfs on the host, it is chrooted there (and so is
/// an exec), and delete, or a create that fails, detaches every one of them.
#[test]
fn a_bundle_without_a_mount_namespace_is_chrooted_and_leaves_no_mount() {
    let no_mount_ns = |config: &mut Value| {
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "mount");
    };
    let look = "cat /marker; readlink /proc/self/ns/mnt; sleep 1000";
    let Some(b) = Bundle::new("oci-nomntns", &["sh", "-c", look], no_mount_ns) else {
        return;
    };
    fs::write(b.sb.rootfs.join("marker"), "in the bundle's rootfs\n").unwrap();
    let rootfs = b.sb.rootfs.to_str().unwrap();
    let id = b.id("c");
    let out_file = b.sb.dir.join("out");
    b.create(&id, &[], &out_file);
    // Mounted on the host under the rootfs, which is private: nothing
    // mounted there propagates to another mount or namespace.
    let mounts = b.sb.leftover_mounts();
    let root = mounts
        .iter()
        .find(|l| l.split(' ').nth(4) == Some(rootfs))
        .unwrap_or_else(|| panic!("no mount at {rootfs}: {mounts:#?}"));
    let optional = root.split(" - ").next().unwrap().split(' ').skip(6);
    assert_eq!(optional.count(), 0, "not private: {root}");
    let proc = format!("{rootfs}/proc");
    assert!(
        mounts.iter().any(|l| l.split(' ').nth(4) == Some(&proc)),
        "{mounts:#?}"
    );
    b.ok(&["start", &id]);
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    let want = format!("in the bundle's rootfs\n{}\n", host_mnt.display());
    assert_eq!(wait_for_text(&out_file, "mnt:"), want);
    assert_eq!(
        b.ok(&["exec", &id, "cat", "/marker"]),
        "in the bundle's rootfs\n"
    );
    let images = b.sb.dir.join("checkpoint");
    let out = b.run(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    assert!(!out.status.success(), "checkpointed");
    assert!(
        b.last_error()
            .contains("without a \"mount\" namespace cannot be checkpointed"),
        "{}",
        b.last_error()
    );
    b.ok(&["kill", &id, "KILL"]);
    b.wait_for(&id, "stopped");
    b.ok(&["delete", &id]);
    b.sb.assert_nothing_left(&id);

    // A mount the kernel refuses fails create after the rootfs went up.
    let mut config = b.config();
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/bad", "type": "tmpfs", "source": "tmpfs", "options": ["size=nonsense"]}));
    b.write_config(&config);
    let failed = b.id("failed");
    let out = b.run(&["create", "--bundle", b.sb.dir.to_str().unwrap(), &failed]);
    assert!(!out.status.success(), "create with a bad tmpfs succeeded");
    assert!(b.last_error().contains("/bad"), "{}", b.last_error());
    b.sb.assert_nothing_left(&failed);
}

/// `run --keep` (runc's flag) leaves the container, stopped, for `state`
/// and `delete`; without a mount namespace its mounts stay until then.
#[test]
fn run_keep_leaves_the_stopped_container_until_delete() {
    let Some(b) = Bundle::new("oci-keep", &["sh", "-c", "exit 3"], |c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "mount");
    }) else {
        return;
    };
    let id = b.id("k");
    let out = b.run(&["run", "--keep", "--bundle", b.sb.dir.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(b.state(&id)["status"], "stopped");
    let rootfs = b.sb.rootfs.to_str().unwrap();
    let mounts = b.sb.leftover_mounts();
    assert!(
        mounts.iter().any(|l| l.split(' ').nth(4) == Some(rootfs)),
        "{mounts:#?}"
    );
    b.ok(&["delete", &id]);
    b.sb.assert_nothing_left(&id);
}

/// The rootfs made a shared mount, with a peer in another mount namespace
/// (a sleeping `unshare -m`); both go when dropped.
struct SharedRootfs {
    peer: Option<std::process::Child>,
    rootfs: PathBuf,
}

impl SharedRootfs {
    fn new(rootfs: &Path) -> SharedRootfs {
        use nix::mount::{mount, MsFlags};
        let none: Option<&str> = None;
        mount(Some(rootfs), rootfs, none, MsFlags::MS_BIND, none).expect("bind the rootfs");
        // A guard from here on: the bind goes even if the rest fails.
        let mut shared = SharedRootfs {
            peer: None,
            rootfs: rootfs.to_path_buf(),
        };
        mount(none, rootfs, none, MsFlags::MS_SHARED, none).expect("make the rootfs shared");
        let peer = Command::new("unshare")
            .args(["-m", "--propagation", "unchanged", "sleep", "1000"])
            .spawn();
        shared.peer = Some(peer.expect("unshare (util-linux)"));
        shared
    }

    /// The peer's mounts at or under the rootfs, once it has its namespace.
    fn peer_mounts(&self) -> Vec<String> {
        let rootfs = self.rootfs.to_str().unwrap();
        let pid = self.peer.as_ref().expect("a peer").id();
        let start = Instant::now();
        while fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap()
            == fs::read_link("/proc/self/ns/mnt").unwrap()
        {
            assert!(start.elapsed() < DEADLINE, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(20));
        }
        let info = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        info.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|point| point.starts_with(rootfs))
            .map(String::from)
            .collect()
    }
}

impl Drop for SharedRootfs {
    fn drop(&mut self) {
        if let Some(peer) = &mut self.peer {
            let _ = peer.kill();
            let _ = peer.wait();
        }
        // The bind, and a container's copy on it if the test failed with
        // one there (the sandbox's destroy then finds it gone).
        let rootfs = self.rootfs.to_str().unwrap();
        let mounted = || {
            let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            info.lines().any(|l| l.split(' ').nth(4) == Some(rootfs))
        };
        for _ in 0..2 {
            if mounted() {
                let _ = nix::mount::umount2(&self.rootfs, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

/// Without a mount namespace, under a shared mount: the rootfs copy shows
/// in the shared mount's peers as any mount made there would, but nothing
/// the container mounts under it does, and delete takes it from there too.
#[test]
fn without_a_mount_namespace_nothing_under_the_rootfs_reaches_a_peer() {
    let Some(b) = Bundle::new("oci-nomntns-peer", &["sleep", "1000"], |c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "mount");
    }) else {
        return;
    };
    if !requires("oci-nomntns-peer", &[Need::Program("unshare")]) {
        return;
    }
    let shared = SharedRootfs::new(&b.sb.rootfs);
    let rootfs = b.sb.rootfs.to_str().unwrap();
    assert_eq!(shared.peer_mounts(), [rootfs]);
    let id = b.id("c");
    b.create(&id, &[], &b.sb.dir.join("out"));
    assert_eq!(shared.peer_mounts(), [rootfs, rootfs]);
    b.ok(&["delete", "--force", &id]);
    assert_eq!(shared.peer_mounts(), [rootfs]);
    drop(shared);
    b.sb.assert_nothing_left(&id);
}
