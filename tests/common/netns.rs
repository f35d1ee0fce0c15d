//! Network namespaces for the network tests: every bridge, rule and
//! packet of a test lives in namespaces it made, deleted on drop, never in
//! the machine's own. `World` is the usual shape: a "host" namespace where
//! ctrsh works, and an "outside" one joined to it by a veth pair, serving
//! HTTP on its own address.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The host's address on the link to the outside, and the outside's.
pub const HOST_IP: &str = "198.18.0.1";
pub const OUTSIDE_IP: &str = "198.18.0.2";

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A namespace whose name holds `role`, this process's pid and a counter.
    pub fn new(role: &str) -> Netns {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("ctrsh-t{}-{n}-{role}", std::process::id());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `ip -n NAME args...`, which must succeed; its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// A command run in the namespace (`ip netns exec`).
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]).args(args);
        cmd
    }

    /// ctrsh making containers in the namespace: `nsenter --net` keeps the
    /// machine's /sys, and with it the cgroup mounts, which `ip netns
    /// exec` replaces with a sysfs of the namespace.
    pub fn ctrsh(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path().display()))
            .arg(super::CTRSH)
            .args(args);
        cmd
    }

    /// `program args...` in the namespace: its exit status and output.
    pub fn exec(&self, program: &str, args: &[&str]) -> (bool, String) {
        let out = self
            .command(program, args)
            .stdin(Stdio::null())
            .output()
            .expect("run ip netns exec");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &*String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// `busybox wget -qO- URL` from the namespace (10 s at most; busybox
    /// 1.35's own `wget -T` crashes).
    pub fn fetch(&self, url: &str) -> (bool, String) {
        self.exec("timeout", &["10", "busybox", "wget", "-qO-", url])
    }

    /// Runs `f` on a thread that has entered this namespace: the library's
    /// netlink sockets and nft processes then work in it.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = fs::File::open(self.path()).expect("open the netns");
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("enter the netns");
                f()
            })
            .join()
            .expect("the thread in the netns panicked")
        })
    }

    /// The names of the links in the namespace.
    pub fn links(&self) -> Vec<String> {
        self.ip(&["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// `nft list tables` in the namespace.
    pub fn nft_tables(&self) -> String {
        let (ok, out) = self.exec("nft", &["list", "tables"]);
        assert!(ok, "nft list tables: {out}");
        out
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        if !out.is_ok_and(|o| o.status.success()) {
            eprintln!("cleanup: ip netns del {} failed", self.name);
        }
    }
}

/// A process the test started (a server), killed by its pid on drop.
pub struct Server {
    child: Child,
}

impl Server {
    /// Starts `cmd` and waits until `ready` returns true.
    pub fn start(cmd: &mut Command, ready: impl Fn() -> bool) -> Server {
        let server = Server::spawn(cmd);
        wait_until(&format!("{cmd:?} to be ready"), ready);
        server
    }

    /// Starts `cmd`, without waiting for anything.
    pub fn spawn(cmd: &mut Command) -> Server {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        Server { child }
    }
}

/// Polls `cond` until it holds (10 s at most, then the test fails).
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "waited 10 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of files for busybox httpd: `index.html` says `greeting`,
/// and `cgi-bin/addr` answers with the client's address as the server sees it.
pub fn web_root(dir: &std::path::Path, greeting: &str) {
    fs::create_dir_all(dir.join("cgi-bin")).unwrap();
    fs::write(dir.join("index.html"), format!("{greeting}\n")).unwrap();
    let cgi = dir.join("cgi-bin/addr");
    fs::write(
        &cgi,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$REMOTE_ADDR\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&cgi, fs::Permissions::from_mode(0o755)).unwrap();
}

/// busybox httpd in `ns` on `addr` (e.g. "198.18.0.2:80") serving `dir`.
pub fn httpd(ns: &Netns, addr: &str, dir: &std::path::Path) -> Server {
    let url = format!("http://{addr}/");
    Server::start(
        ns.command(
            "busybox",
            &["httpd", "-f", "-p", addr, "-h", &dir.to_string_lossy()],
        )
        .stdin(Stdio::null()),
        || ns.fetch(&url).0,
    )
}

/// The "host" namespace, where ctrsh works, and the "outside" one: a veth
/// pair joins them (HOST_IP and OUTSIDE_IP), and the outside serves HTTP
/// (`web_root` in `dir`/outside) on OUTSIDE_IP:80. The outside has no
/// route to anything else: answers reach containers only through NAT.
pub struct World {
    // Fields drop in order: the server before its namespace.
    _server: Server,
    pub host: Netns,
    pub outside: Netns,
}

impl World {
    pub fn new(dir: &std::path::Path) -> World {
        let host = Netns::new("host");
        let outside = Netns::new("outside");
        host.ip(&[
            "link",
            "add",
            "to-outside",
            "type",
            "veth",
            "peer",
            "name",
            "to-host",
            "netns",
            &outside.name,
        ]);
        host.ip(&["addr", "add", &format!("{HOST_IP}/24"), "dev", "to-outside"]);
        host.ip(&["link", "set", "to-outside", "up"]);
        outside.ip(&["addr", "add", &format!("{OUTSIDE_IP}/24"), "dev", "to-host"]);
        outside.ip(&["link", "set", "to-host", "up"]);
        let root = dir.join("outside");
        web_root(&root, "hello from outside");
        let server = httpd(&outside, &format!("{OUTSIDE_IP}:80"), &root);
        World {
            _server: server,
            host,
            outside,
        }
    }
}

/// Runs `program args...`, which must succeed; its stdout.
fn run(program: &str, args: &[&str]) -> String {
    super::run_ok(Command::new(program).args(args))
}

/// Destroys every container of a factory root inside the test's "host"
/// namespace when dropped (their veths, leases and rules live there), so
/// that the sandbox's own cleanup, which runs in the machine's network
/// namespace, finds nothing to release.
pub struct DestroyIn<'a> {
    pub ns: &'a Netns,
    pub root: PathBuf,
}

impl Drop for DestroyIn<'_> {
    fn drop(&mut self) {
        self.ns.enter(|| {
            let f = ctrsh::runtime::Factory::new(&self.root).unwrap();
            for id in f.list().unwrap_or_default() {
                if let Err(e) = f.load(&id).and_then(|c| c.destroy()) {
                    eprintln!("cleanup: destroy {id}: {e}");
                }
            }
        });
    }
}
