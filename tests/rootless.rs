//! Rootless containers: an unprivileged user runs ctrsh, the container gets
//! a user namespace mapping the user's own ids (or, through newuidmap and
//! newgidmap, ranges of its subordinate ids), no cgroup, and state under
//! the user's runtime dir. Each test makes its own unprivileged user and
//! removes it afterwards.

mod common;

use common::{rhai_str, ExtraRoot, Need, Output, RunningScript, Sandbox, CTRSH};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Serialises changes to the host's user database.
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// A throwaway system user, deleted on drop (also when the test fails).
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

impl User {
    fn create() -> User {
        // useradd and userdel lock /etc/passwd: two at once fail.
        let _one_at_a_time = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ctrsh-rl{n}-{}", std::process::id());
        common::run_ok(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            &name,
        ]));
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, &name])
                .output()
                .expect("run id");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a numeric id")
        };
        User {
            uid: id("-u"),
            gid: id("-g"),
            name,
        }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _one_at_a_time = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// The sandbox, a user, and a state root and ctrsh copy that user can use.
struct Rootless {
    /// First, so that it is dropped (its containers destroyed as root)
    /// before the sandbox checks that nothing is left.
    root: ExtraRoot,
    sb: Sandbox,
    user: User,
    ctrsh: PathBuf,
}

impl Rootless {
    fn new(test: &str) -> Option<Rootless> {
        let sb = Sandbox::new(test)?;
        if !common::requires(test, &[Need::UnprivilegedUserns]) {
            return None;
        }
        let user = User::create();
        // The sandbox dir is root's; the user needs a root of its own and a
        // binary it may execute.
        fs::set_permissions(&sb.dir, fs::Permissions::from_mode(0o755)).unwrap();
        let root = sb.dir.join("user-state");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::chown(&root, Some(user.uid), Some(user.gid)).unwrap();
        let ctrsh = sb.dir.join("ctrsh");
        fs::copy(CTRSH, &ctrsh).unwrap();
        Some(Rootless {
            root: ExtraRoot(root),
            sb,
            user,
            ctrsh,
        })
    }

    /// A config for this user: its own uid and gid mapped to root.
    fn config(&self) -> String {
        format!(
            r#"#{{ rootfs: {rootfs}, hostname: "rootless",
    namespaces: ["user", "mount", "uts", "ipc", "pid", "net"],
    uid_mappings: [#{{ container_id: 0, host_id: {uid}, size: 1 }}],
    gid_mappings: [#{{ container_id: 0, host_id: {gid}, size: 1 }}],
    networks: [#{{ type: "loopback" }}] }}"#,
            rootfs = rhai_str(&self.sb.rootfs.to_string_lossy()),
            uid = self.user.uid,
            gid = self.user.gid,
        )
    }

    /// Runs `body` as the user, with `f` a factory on the user's root and
    /// `config` this user's config.
    fn run(&self, body: &str, env: &[(&str, &str)]) -> Output {
        RunningScript::spawn(&mut self.command(body, env, None)).finish()
    }

    /// The command `run` runs. With `wait_for`, it first waits (polling)
    /// until that file exists, so that root can move it into a cgroup.
    fn command(&self, body: &str, env: &[(&str, &str)], wait_for: Option<&Path>) -> Command {
        let file = self.sb.dir.join(format!("rootless-{}.rhai", self.user.uid));
        let script = format!(
            "let f = factory({root});\nlet config = {config};\n{body}\n",
            root = rhai_str(&self.root.0.to_string_lossy()),
            config = self.config(),
        );
        fs::write(&file, script).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let mut cmd = match wait_for {
            None => Command::new(&self.ctrsh),
            Some(ready) => {
                let mut sh = Command::new("/bin/sh");
                let wait = r#"while [ ! -e "$0" ]; do sleep 0.01; done; exec "$@""#;
                sh.args(["-c", wait]).arg(ready).arg(&self.ctrsh);
                sh
            }
        };
        cmd.arg(&file)
            .env_remove("XDG_RUNTIME_DIR")
            .env("HOME", "/")
            .current_dir("/")
            .uid(self.user.uid)
            // std drops root's supplementary groups when it sets the uid.
            .gid(self.user.gid);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

#[test]
fn rootless_container_runs_as_the_users_ids_mapped_to_root() {
    let Some(rl) = Rootless::new("rootless_run") else {
        return;
    };
    let shared = rl.sb.dir.join("shared");
    fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(rl.user.uid), Some(rl.user.gid)).unwrap();
    // The rootfs is root's: the user cannot make mount targets in it.
    fs::create_dir(rl.sb.rootfs.join("shared")).unwrap();
    let out = rl.run(
        &format!(
            r#"config.mounts = [#{{ source: {shared}, destination: "/shared", options: ["bind"] }}];
let c = f.create("rl", config);
let p = process(#{{ args: ["/bin/sh", "-c", "id -u; hostname; cat /proc/self/uid_map; touch /shared/made-inside; echo CGROUP; cat /proc/self/cgroup"],
                   env: ["PATH=/bin"], stdout: "pipe", stderr: "pipe" }});
print("CODE " + c.run(p));
let parts = p.stdout.split("CGROUP\n");
print(parts[0] + p.stderr);
print("CGROUP " + #{{ text: parts[1] }}.to_json());
c.destroy();
print("LEFT " + f.list().len());"#,
            shared = rhai_str(&shared.to_string_lossy())
        ),
        &[],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let text = out.stdout.clone();
    assert!(text.contains("CODE 0"), "{out}");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines.contains(&"0"), "uid inside is not 0: {out}");
    assert!(lines.contains(&"rootless"), "{out}");
    let map_line = format!("0 {} 1", rl.user.uid);
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == map_line),
        "uid_map is not '{map_line}': {out}"
    );
    // Root in the container is the user on the host.
    let made = fs::metadata(shared.join("made-inside")).expect("the file made inside");
    assert_eq!((made.uid(), made.gid()), (rl.user.uid, rl.user.gid));
    // No cgroup of its own: the container's processes stay in ctrsh's
    // cgroups, which are this test's.
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CGROUP "))
        .unwrap_or_else(|| panic!("no CGROUP line: {out}"));
    let seen: serde_json::Value = serde_json::from_str(line).unwrap();
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    assert_eq!(seen["text"].as_str(), Some(own.as_str()), "{out}");
    assert!(text.contains("LEFT 0"), "{out}");
}

#[test]
fn rootless_ranges_go_through_newuidmap_and_newgidmap() {
    let Some(rl) = Rootless::new("rootless_ranges") else {
        return;
    };
    // The setuid helpers come with the uidmap package (scripts/test installs it).
    if let Some(tool) = ["newuidmap", "newgidmap"]
        .into_iter()
        .find(|t| !Path::new("/usr/bin").join(t).exists())
    {
        common::skip(
            "rootless_ranges",
            &format!("/usr/bin/{tool} is missing (apt-get install uidmap)"),
        );
        return;
    }
    // A range of subordinate ids of the user's own (userdel removes it).
    let first = 2_000_000_000 + (rl.user.uid % 1000) * 65536;
    let range = format!("{first}-{}", first + 65535);
    {
        let _one_at_a_time = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        common::run_ok(Command::new("usermod").args([
            "--add-subuids",
            &range,
            "--add-subgids",
            &range,
            &rl.user.name,
        ]));
    }
    let out = rl.run(
        &format!(
            r#"config.uid_mappings.push(#{{ container_id: 1, host_id: {first}, size: 65536 }});
config.gid_mappings.push(#{{ container_id: 1, host_id: {first}, size: 65536 }});
let c = f.create("rl", config);
let p = process(#{{ args: ["/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map"],
                   user: "daemon", env: ["PATH=/bin"], stdout: "pipe", stderr: "pipe" }});
print("CODE " + c.run(p));
print(p.stdout + p.stderr);
c.destroy();"#
        ),
        &[],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let want = [
        "CODE 0".to_string(),
        "1".to_string(),
        "1".to_string(),
        format!("0 {} 1", rl.user.uid),
        format!("1 {first} 65536"),
        format!("0 {} 1", rl.user.gid),
        format!("1 {first} 65536"),
    ];
    assert_eq!(lines[..want.len()], want, "{out}");
}

#[test]
fn rootless_without_a_user_namespace_is_refused() {
    let Some(rl) = Rootless::new("rootless_nouserns") else {
        return;
    };
    let out = rl.run(
        r#"config.namespaces = ["mount", "pid"];
config.hostname = (); config.networks = [];
config.uid_mappings = []; config.gid_mappings = [];
try { f.create("x", config); print("CREATED"); } catch (e) { print("ERR " + e.kind + ": " + e.message); }
print("LEFT " + f.list().len());"#,
        &[],
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout
            .contains("ERR config: namespaces: ctrsh runs unprivileged"),
        "{out}"
    );
    assert!(out.stdout.contains("LEFT 0"), "{out}");
}

#[test]
fn rootless_cgroups_need_a_delegated_cgroup() {
    let Some(rl) = Rootless::new("rootless_cgroup") else {
        return;
    };
    let out = rl.run(
        r#"config.cgroups = #{ memory: "64M" };
try { f.create("x", config); print("CREATED"); } catch (e) { print("ERR " + e.message); }
print("LEFT " + f.list().len());"#,
        &[],
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("delegated"), "{out}");
    assert!(out.stdout.contains("LEFT 0"), "{out}");
}

#[test]
fn rootless_default_root_is_in_the_users_runtime_dir() {
    let Some(rl) = Rootless::new("rootless_root") else {
        return;
    };
    let runtime_dir = rl.sb.dir.join("xdg");
    fs::create_dir(&runtime_dir).unwrap();
    std::os::unix::fs::chown(&runtime_dir, Some(rl.user.uid), Some(rl.user.gid)).unwrap();
    let out = rl.run(
        "print(\"ROOT \" + factory().root);",
        &[("XDG_RUNTIME_DIR", &runtime_dir.to_string_lossy())],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let want = format!("ROOT {}", runtime_dir.join("ctrsh").display());
    assert!(out.stdout.contains(&want), "{out}");
}

/// A rootless container on a "pasta" network, made in a network namespace
/// of the test's own: it reaches the outside (which sees the host's
/// address) and serves a published port on the host's address; destroy
/// stops pasta.
#[test]
fn rootless_pasta_network_reaches_out_and_publishes_a_port() {
    use common::netns::{wait_until, World, HOST_IP, OUTSIDE_IP};
    let needs = [
        Need::Program("ip"),
        Need::Program("pasta"),
        Need::TunForUsers,
    ];
    if !common::requires("rootless_pasta", &needs) {
        return;
    }
    let Some(rl) = Rootless::new("rootless_pasta") else {
        return;
    };
    let world = World::new(&rl.sb.dir);
    world
        .host
        .ip(&["route", "add", "default", "via", OUTSIDE_IP]);
    fs::create_dir(rl.sb.rootfs.join("www")).unwrap();
    fs::write(rl.sb.rootfs.join("www/index.html"), "hello from pasta\n").unwrap();
    // The rootfs is root's: the user cannot make the targets of the name
    // files' mounts in it (an image's rootfs has them).
    for name in ["etc/hosts", "etc/resolv.conf"] {
        fs::write(rl.sb.rootfs.join(name), "").unwrap();
    }
    // ctrsh, and with it pasta, in the test's "host" namespace.
    let out = world.host.enter(|| {
        rl.run(
            &format!(
                r#"config.networks = [#{{ type: "pasta" }}];
config.ports = [#{{ host: 8080, container: 80 }}];
let c = f.create("rl", config);
c.start(process(#{{ args: ["/bin/httpd", "-f", "-p", "80", "-h", "/www"], env: ["PATH=/bin"], stdin: "null", stdout: "null", stderr: "null" }}));
let got = #{{ code: -1 }};
for i in 0..200 {{
    got = c.exec(["wget", "-qO-", "http://{OUTSIDE_IP}/cgi-bin/addr"]);
    if got.code == 0 {{ break; }}
    sleep(0.05);
}}
print("OUTSIDE " + got.stdout);"#
            ),
            &[],
        )
    });
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains(&format!("OUTSIDE {HOST_IP}")), "{out}");
    wait_until("the published port", || {
        world.host.fetch(&format!("http://{HOST_IP}:8080/")).0
    });
    assert_eq!(
        world.outside.fetch(&format!("http://{HOST_IP}:8080/")),
        (true, "hello from pasta\n".into())
    );
    let pid_file = rl.root.0.join("rl").join("pasta.pid");
    let pasta: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = world.host.enter(|| {
        rl.run(
            r#"f.load("rl").destroy(); print("LEFT " + f.list().len());"#,
            &[],
        )
    });
    assert!(out.stdout.contains("LEFT 0"), "{out}");
    wait_until("pasta to end", || {
        !Path::new(&format!("/proc/{pasta}")).exists()
    });
}

/// A cgroup2 subtree delegated to a user as the kernel's documentation
/// describes (the directory and its cgroup.procs, cgroup.threads and
/// cgroup.subtree_control are the user's), with a leaf `ctrsh` for the
/// user's ctrsh process. Removed on drop.
struct Delegated {
    dir: PathBuf,
    /// The path from the hierarchy's root, for `cgroups.path`.
    path: String,
}

impl Delegated {
    fn create(user: &User, test: &str) -> Delegated {
        let own = fs::read_to_string("/proc/self/cgroup").unwrap();
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup2 line");
        let path = format!(
            "{}/ctrsh-{test}-{}",
            own.trim_end_matches('/'),
            std::process::id()
        );
        let dir = Path::new(CGROUP2).join(path.trim_start_matches('/'));
        fs::create_dir(&dir).unwrap();
        let delegated = Delegated { dir, path };
        // The controllers the containers use, enabled for the subtree as
        // whoever delegates it does.
        fs::write(
            delegated.dir.join("cgroup.subtree_control"),
            "+memory +pids",
        )
        .unwrap();
        fs::create_dir(delegated.dir.join("ctrsh")).unwrap();
        for dir in [delegated.dir.clone(), delegated.dir.join("ctrsh")] {
            for file in [
                "",
                "cgroup.procs",
                "cgroup.threads",
                "cgroup.subtree_control",
            ] {
                std::os::unix::fs::chown(dir.join(file), Some(user.uid), Some(user.gid)).unwrap();
            }
        }
        delegated
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        // The containers are gone (Rootless's drop); the user's ctrsh exited.
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten().filter(|e| e.path().is_dir()) {
                let _ = fs::remove_dir(entry.path());
            }
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

const CGROUP2: &str = "/sys/fs/cgroup";

/// On a pure cgroup v2 host (scripts/vmtest's VM) an unprivileged user
/// runs a container with limits in a subtree delegated to it. Device rules
/// need an eBPF program only root can load: without allow_all_devices the
/// create fails clearly and leaves no cgroup. On this machine's hybrid
/// cgroups the v1 hierarchies cannot be delegated; the VM runs it.
#[test]
fn rootless_container_in_a_delegated_cgroup_subtree() {
    if !Path::new(CGROUP2).join("cgroup.subtree_control").exists() {
        eprintln!("not a pure cgroup v2 host: scripts/vmtest runs rootless_container_in_a_delegated_cgroup_subtree");
        return;
    }
    let Some(rl) = Rootless::new("rootless_delegated") else {
        return;
    };
    let delegated = Delegated::create(&rl.user, "rl-deleg");
    let ready = rl.sb.dir.join("ready");
    let body = format!(
        r#"config.cgroups = #{{ path: {path}, memory: "64M", pids_limit: 20 }};
try {{ f.create("nodev", config); print("CREATED"); }} catch (e) {{ print("NODEV " + e.message); }}
config.cgroups.allow_all_devices = true;
let c = f.create("rl", config);
c.start(process(#{{ args: ["/bin/sleep", "100"], env: ["PATH=/bin"] }}));
let s = c.stats();
print(`LIMITS ${{s.memory.limit}} ${{s.pids.limit}} ${{s.pids.current}}`);
c.update(#{{ pids_limit: 30 }});
print(`UPDATED ${{c.stats().pids.limit}}`);
c.pause();
print("STATE " + c.state);
c.resume();
print("STATE " + c.state);
c.destroy();
print("LEFT " + f.list().len());"#,
        path = rhai_str(&format!("{}/c", delegated.path)),
    );
    let running = RunningScript::spawn(&mut rl.command(&body, &[], Some(&ready)));
    let leaf = delegated.dir.join("ctrsh").join("cgroup.procs");
    fs::write(&leaf, running.pid().to_string()).unwrap();
    fs::write(&ready, "").unwrap();
    let out = running.finish();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("NODEV "), "{out}");
    assert!(out.stdout.contains("allow_all_devices: true"), "{out}");
    let limits = format!("LIMITS {} 20 1\nUPDATED 30\n", 64 << 20);
    assert!(out.stdout.contains(&limits), "{out}");
    assert!(
        out.stdout.contains("STATE paused\nSTATE running\n"),
        "{out}"
    );
    assert!(out.stdout.contains("LEFT 0"), "{out}");
    assert!(
        !delegated.dir.join("c").exists(),
        "the container's cgroup is left"
    );
}
