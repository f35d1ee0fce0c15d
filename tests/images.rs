//! The image store against a real registry (`docker-registry` on 127.0.0.1,
//! plain, with htpasswd basic auth, with TLS from a throwaway CA, behind a
//! bearer-token proxy), with images the tests build themselves from the
//! busybox rootfs (tests/images/fixture.rs), through `ctrsh image ...`.

mod common;
#[path = "images/fixture.rs"]
mod fixture;

use base64::Engine;
use common::{line_of, Need, Output, RunningScript, CTRSH};
use fixture::{fixtures, Auth, Fixtures, Proxy, Registry, TempDir};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixtures, or None when the test is skipped.
fn ready(test: &str) -> Option<&'static Fixtures> {
    let needs = [
        Need::Root,
        Need::Busybox,
        Need::Program("docker-registry"),
        Need::Program("skopeo"),
        Need::Program("umoci"),
        Need::Program("openssl"),
        Need::Program("htpasswd"),
        Need::Program("unshare"),
    ];
    common::requires(test, &needs).then(fixtures)
}

/// A test's image store (and scratch space), removed on drop.
struct Store {
    dir: TempDir,
}

impl Store {
    fn new(test: &str) -> Store {
        Store {
            dir: TempDir::new(test),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.0.join("store")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(CTRSH);
        cmd.arg("image").arg("--store").arg(self.root()).args(args);
        // No credentials but the test's own.
        cmd.env("REGISTRY_AUTH_FILE", self.dir.0.join("no-auth.json"));
        cmd
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        RunningScript::spawn(&mut cmd).finish()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run_with(args, &[]);
        assert_eq!(out.code, Some(0), "ctrsh image {args:?}:\n{out}");
        out.stdout
    }

    fn fails(&self, args: &[&str], says: &str) -> Output {
        let out = self.run_with(args, &[]);
        assert_eq!(
            out.code,
            Some(1),
            "ctrsh image {args:?} should fail:\n{out}"
        );
        assert!(
            out.stderr.contains(says),
            "ctrsh image {args:?}: expected {says:?}:\n{out}"
        );
        out
    }

    /// `ctrsh -e script ARGS...` with this store.
    fn script(&self, script: &str, args: &[&str]) -> Output {
        RunningScript::spawn(
            Command::new(CTRSH)
                .args(["-e", script])
                .args(args)
                .env("CTRSH_IMAGE_STORE", self.root())
                .env("REGISTRY_AUTH_FILE", self.dir.0.join("no-auth.json")),
        )
        .finish()
    }

    fn layer(&self, diff_id: &str) -> PathBuf {
        self.root()
            .join("layers")
            .join(diff_id.trim_start_matches("sha256:"))
    }

    fn entries(&self, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.root().join(sub))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The names `ctrsh image list` shows.
    fn names(&self) -> Vec<String> {
        self.ok(&["list"])
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect()
    }

    /// The store holds exactly `layers`, no partial download or half-made
    /// layer.
    fn assert_layers(&self, layers: &[String]) {
        let mut want: Vec<String> = layers
            .iter()
            .map(|l| l.trim_start_matches("sha256:").to_string())
            .collect();
        want.sort();
        want.dedup();
        assert_eq!(self.entries("layers"), want);
        assert_eq!(self.entries("tmp"), Vec::<String>::new());
    }
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let c_name = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: both names are NUL-terminated and `buf` holds buf.len() bytes.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// A test of containers made from the app image: the registry that serves
/// it (at `reference`), a store and a sandbox. Dropped in field order: the
/// sandbox first, whose cleanup (which destroys what the test left) needs
/// the store.
struct ImageContainers {
    sb: common::Sandbox,
    store: Store,
    _registry: Registry,
    reference: String,
}

impl ImageContainers {
    /// None when the test is skipped; `sandbox` makes the sandbox (with
    /// CRIU, or not).
    fn new(
        test: &str,
        sandbox: impl FnOnce(&str) -> Option<common::Sandbox>,
    ) -> Option<ImageContainers> {
        let fx = ready(test)?;
        let registry = Registry::start(&fx.storage, Auth::None);
        let store = Store::new(&test.replace('_', "-"));
        let sb = sandbox(test)?;
        Some(ImageContainers {
            reference: format!("{}/test/app:gzip", registry.addr()),
            sb,
            store,
            _registry: registry,
        })
    }

    /// Runs `script` after PRELUDE, with ARGS [the app image's
    /// reference, the sandbox's root, its id, `more`...], which must
    /// succeed; what it printed.
    fn script(&self, script: &str, more: &[&str]) -> String {
        let root = self.sb.root.to_str().unwrap();
        let mut args = vec![self.reference.as_str(), root, &self.sb.id];
        args.extend(more);
        let out = self.store.script(&format!("{PRELUDE}{script}"), &args);
        assert_eq!(out.code, Some(0), "{out}");
        out.stdout
    }
}

/// Rhai that each script of ImageContainers starts with: `img`, the app
/// image pulled; `f`, the sandbox's factory; `ns`, the namespaces of a
/// container without a user namespace; `maps`, container ids 0.. as host
/// ids 100000..; `run.call(c, args)`, which runs `args` as root in
/// container `c` and says "CODE OUTPUT" (stdout and stderr, trimmed, lines
/// joined by ", ").
const PRELUDE: &str = r#"
let img = image::pull(ARGS[0]);
let f = factory(ARGS[1]);
let ns = ["mount", "uts", "ipc", "pid", "net"];
let maps = [#{ container_id: 0, host_id: 100000, size: 65536 }];
let run = |c, args| {
    let p = process(#{ args: args, user: "0", stdin: "null", stdout: "pipe", stderr: "pipe" });
    c.start(p);
    let code = p.wait();
    let out = p.stdout + p.stderr;
    out.trim();
    out.replace("\n", ", ");
    `${code} ${out}`
};
"#;

#[test]
fn pull_keeps_owners_modes_links_devices_xattrs_and_whiteouts() {
    let Some(fx) = ready("pull_keeps_owners") else {
        return;
    };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("pull-faithful");
    let reference = format!("{}/test/app:gzip", registry.addr());
    let out = store.ok(&["pull", &reference]);
    assert!(out.starts_with(&format!("pulled {reference} ")), "{out}");
    assert!(out.contains("(3 layers"), "{out}");
    store.assert_layers(&fx.app_layers);

    let special = store.layer(&fx.app_layers[2]);
    let meta =
        |p: &str| fs::symlink_metadata(special.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let owned = meta("srv/owned");
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mode() & 0o7777),
        (1000, 1000, 0o640)
    );
    assert_eq!(owned.mtime(), fixture::MTIME as i64);
    assert_eq!(
        fs::read_to_string(special.join("srv/owned")).unwrap(),
        "owned by 1000\n"
    );
    let srv = meta("srv");
    assert_eq!(
        (srv.uid(), srv.mode() & 0o7777, srv.mtime()),
        (1000, 0o750, fixture::MTIME as i64)
    );
    assert_eq!(
        meta("srv/hardlink").ino(),
        owned.ino(),
        "the hardlink is a link"
    );
    assert_eq!(meta("srv/suid").mode() & 0o7777, 0o4755, "setuid kept");
    let null = meta("srv/null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(meta("srv/fifo").file_type().is_fifo());
    assert_eq!(
        fs::read_link(special.join("srv/keep-link")).unwrap(),
        Path::new("/etc/keep")
    );
    assert_eq!(
        xattr(&special.join("srv/ping"), "security.capability").as_deref(),
        Some(&fixture::CAP_NET_RAW[..])
    );
    assert_eq!(
        xattr(&special.join("srv/ping"), "user.comment").as_deref(),
        Some(&b"made by the test"[..])
    );
    assert_eq!(
        xattr(&special.join("data/old"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    // umoci's whiteout for etc/removed, as overlayfs wants it.
    let whiteout =
        fs::symlink_metadata(store.layer(&fx.app_layers[1]).join("etc/removed")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);

    // What the kernel's overlayfs makes of the layers.
    let mnt = store.dir.0.join("merged");
    fs::create_dir(&mnt).unwrap();
    let lower: Vec<String> = fx
        .app_layers
        .iter()
        .rev()
        .map(|l| store.layer(l).display().to_string())
        .collect();
    let merged = fixture::run(Command::new("unshare").args(["-m", "sh", "-c"]).arg(format!(
        "mount -t overlay overlay -o ro,lowerdir={} {m} && ls {m}/etc {m}/data/old && cat {m}/etc/keep && {m}/bin/busybox true && echo busybox-runs",
        lower.join(":"),
        m = mnt.display()
    )));
    let names: Vec<&str> = merged.lines().collect();
    assert!(
        names.contains(&"keep") && names.contains(&"passwd"),
        "{merged}"
    );
    assert!(
        !names.contains(&"removed"),
        "the whiteout hides etc/removed: {merged}"
    );
    assert!(
        names.contains(&"new") && !names.contains(&"a"),
        "data/old is opaque: {merged}"
    );
    assert!(
        merged.contains("kept\n") && merged.contains("busybox-runs"),
        "{merged}"
    );
}

#[test]
fn zstd_uncompressed_and_docker_manifests_share_the_layers() {
    let Some(fx) = ready("encodings") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("encodings");
    for tag in ["gzip", "zstd", "plain", "docker"] {
        let out = store.ok(&["pull", &format!("{}/test/app:{tag}", registry.addr())]);
        assert!(out.contains("(3 layers"), "{tag}: {out}");
    }
    assert_eq!(store.names().len(), 4);
    // One unpacked copy of each layer, whatever the encoding.
    store.assert_layers(&fx.app_layers);
}

/// A registry named by host name: ctrsh is linked statically, and its
/// libc resolves `localhost` from /etc/hosts without loading anything.
#[test]
fn a_registry_named_by_host_name_is_resolved() {
    let Some(fx) = ready("host_name") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("host-name");
    store.ok(&[
        "pull",
        &format!("localhost:{}/test/app:gzip", registry.port),
    ]);
    store.assert_layers(&fx.app_layers);
}

#[test]
fn a_platform_is_chosen_from_a_multi_platform_index() {
    let Some(fx) = ready("platforms") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("platforms");
    let reference = format!("{}/test/multi:1", registry.addr());
    store.ok(&["pull", &reference]);
    store.assert_layers(&fx.app_layers);
    store.ok(&["pull", "--platform", "linux/arm64", &reference]);
    let arm: Vec<String> = store
        .entries("layers")
        .into_iter()
        .filter(|l| !fx.app_layers.iter().any(|a| a.ends_with(l.as_str())))
        .collect();
    assert_eq!(arm.len(), 1, "one arm64 layer");
    assert_eq!(
        fs::read_to_string(store.root().join("layers").join(&arm[0]).join("platform")).unwrap(),
        "arm64\n"
    );
    store.fails(
        &["pull", "--platform", "linux/s390x", &reference],
        "it has: linux/arm64/v8, linux/amd64",
    );
}

#[test]
fn layers_cannot_write_outside_their_directory() {
    let Some(fx) = ready("escapes") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("escapes");
    store.fails(
        &["pull", &format!("{}/test/dotdot:1", registry.addr())],
        "leaves the layer with '..'",
    );
    assert_eq!(store.names(), Vec::<String>::new());
    store.assert_layers(&[]);
    for dir in [store.root(), store.dir.0.clone(), PathBuf::from("/tmp")] {
        assert!(
            !dir.join("escaped-by-dotdot").exists(),
            "escaped into {}",
            dir.display()
        );
    }

    store.ok(&["pull", &format!("{}/test/symlink:1", registry.addr())]);
    let layer = fs::read_dir(store.root().join("layers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for name in [
        "ctrsh-escaped-by-absolute-symlink",
        "ctrsh-escaped-by-relative-symlink",
    ] {
        assert!(
            !Path::new("/tmp").join(name).exists(),
            "{name} escaped to the host's /tmp"
        );
        assert!(
            layer.join("tmp").join(name).is_file(),
            "{name}: the symlinks resolve inside the layer"
        );
    }
}

#[test]
fn basic_auth_uses_the_stored_credentials() {
    let Some(fx) = ready("basic_auth") else {
        return;
    };
    let registry = Registry::start(&fx.storage, Auth::Basic);
    let store = Store::new("basic-auth");
    let reference = format!("{}/test/app:gzip", registry.addr());
    store.fails(&["pull", &reference], "wants a user name and password");
    let auth_file = |password: &str| {
        let path = store.dir.0.join(format!("auth-{password}.json"));
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{password}", fixture::USER));
        let json = serde_json::json!({"auths": {registry.addr(): {"auth": auth}}});
        fs::write(&path, json.to_string()).unwrap();
        path
    };
    let wrong = store.run_with(
        &["pull", &reference],
        &[("REGISTRY_AUTH_FILE", &auth_file("wrong"))],
    );
    assert!(
        wrong.code == Some(1) && wrong.stderr.contains("refused the credentials"),
        "{wrong}"
    );
    let right = store.run_with(
        &["pull", &reference],
        &[("REGISTRY_AUTH_FILE", &auth_file(fixture::PASSWORD))],
    );
    assert_eq!(right.code, Some(0), "{right}");
    store.assert_layers(&fx.app_layers);
}

#[test]
fn tls_is_verified_against_the_trusted_ca() {
    let Some(fx) = ready("tls") else { return };
    let registry = Registry::start(&fx.storage, Auth::Tls);
    let store = Store::new("tls");
    let reference = format!("{}/test/app:gzip", registry.addr());
    let untrusted = store.run_with(
        &["pull", &reference],
        &[("SSL_CERT_FILE", Path::new("/nonexistent"))],
    );
    assert_eq!(
        untrusted.code,
        Some(1),
        "a certificate from an unknown CA is refused:\n{untrusted}"
    );
    assert!(
        untrusted.stderr.contains("https: ") && untrusted.stderr.contains("UnknownIssuer"),
        "{untrusted}"
    );
    let trusted = store.run_with(&["pull", &reference], &[("SSL_CERT_FILE", &registry.ca())]);
    assert_eq!(trusted.code, Some(0), "{trusted}");
    store.assert_layers(&fx.app_layers);
}

#[test]
fn bearer_tokens_are_fetched_from_the_realm() {
    let Some(fx) = ready("bearer") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let proxy = Proxy::start(registry.port, true);
    let store = Store::new("bearer");
    store.ok(&["pull", &format!("{}/test/app:gzip", proxy.addr())]);
    store.assert_layers(&fx.app_layers);
    let seen = proxy.seen();
    let tokens: Vec<&String> = seen
        .iter()
        .filter(|r| r.starts_with("GET /token?"))
        .collect();
    assert_eq!(tokens.len(), 1, "one token for the pull: {seen:#?}");
    assert!(
        tokens[0].contains("scope=repository%3Atest%2Fapp%3Apull")
            && tokens[0].contains("service=test"),
        "{seen:#?}"
    );
}

#[test]
fn concurrent_pulls_from_two_processes_store_the_image_once() {
    let Some(fx) = ready("concurrent") else {
        return;
    };
    let registry = Registry::start(&fx.storage, Auth::None);
    let proxy = Proxy::start(registry.port, false);
    let store = Store::new("concurrent");
    let reference = format!("{}/test/app:gzip", proxy.addr());
    let spawned: Vec<_> = (0..2)
        .map(|_| RunningScript::spawn(&mut store.command(&["pull", &reference])))
        .collect();
    for pull in spawned {
        let out = pull.finish();
        assert_eq!(out.code, Some(0), "{out}");
    }
    assert_eq!(store.names(), vec![reference.clone()]);
    store.assert_layers(&fx.app_layers);
    let seen = proxy.seen();
    for blob in &fx.app_blobs {
        let fetched = seen
            .iter()
            .filter(|r| r.contains(&format!("/blobs/{blob}")))
            .count();
        assert_eq!(fetched, 1, "layer {blob} fetched once: {seen:#?}");
    }
}

#[test]
fn an_interrupted_pull_leaves_the_store_consistent_and_resumes() {
    let Some(fx) = ready("interrupted") else {
        return;
    };
    let mut registry = Registry::start(&fx.storage, Auth::None);
    let proxy = Proxy::start(registry.port, false);
    let store = Store::new("interrupted");
    let reference = format!("{}/test/big:1", proxy.addr());
    let cut_at = 1 << 20;
    proxy.stall(&fx.big_blob, cut_at);
    let pull = RunningScript::spawn(&mut store.command(&["pull", &reference]));
    proxy.wait_stalled();
    registry.kill();
    proxy.cut();
    let out = pull.finish();
    let stderr = &out.stderr;
    assert_eq!(
        out.code,
        Some(1),
        "the pull fails once the registry is gone: {stderr}"
    );
    assert!(
        stderr.contains(&format!("layer {}", fx.big_blob)),
        "{stderr}"
    );
    // Consistent: no name, no layer; the partial download is kept.
    assert_eq!(store.names(), Vec::<String>::new());
    assert_eq!(store.entries("layers"), Vec::<String>::new());
    let partial = format!("{}.partial", fx.big_blob.trim_start_matches("sha256:"));
    assert_eq!(store.entries("tmp"), vec![partial.clone()]);
    assert_eq!(
        fs::metadata(store.root().join("tmp").join(&partial))
            .unwrap()
            .len(),
        cut_at as u64
    );

    registry.restart();
    let before = proxy.seen().len();
    store.ok(&["pull", &reference]);
    let seen = proxy.seen().split_off(before);
    let resumed = format!("/blobs/{} HTTP/1.1 range=bytes={cut_at}-", fx.big_blob);
    assert!(
        seen.iter().any(|r| r.ends_with(&resumed)),
        "the pull resumed at {cut_at}: {seen:#?}"
    );
    assert_eq!(store.entries("tmp"), Vec::<String>::new());
    let layer = fs::read_dir(store.root().join("layers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        fs::metadata(layer.join("noise")).unwrap().len(),
        fixture::BIG_LAYER as u64
    );
}

#[test]
fn oci_layouts_oci_archives_and_docker_save_archives_import() {
    let Some(fx) = ready("imports") else { return };
    let store = Store::new("imports");
    let scratch = &store.dir.0;
    let layout = scratch.join("applayout");
    let archive = scratch.join("app-archive.tar");
    let saved = scratch.join("saved.tar");
    let source = format!("oci:{}:app", fx.layout.display());
    fixture::run(
        Command::new("skopeo")
            .args(["copy", "-q", &source])
            .arg(format!("oci:{}:v1", layout.display())),
    );
    fixture::run(
        Command::new("skopeo")
            .args(["copy", "-q", &source])
            .arg(format!("oci-archive:{}:v2", archive.display())),
    );
    fixture::docker_save(&fx.layout, &saved, "saved/app:3");

    let out = store.ok(&["import", layout.to_str().unwrap()]);
    assert!(out.starts_with("imported localhost/applayout:v1 "), "{out}");
    let out = store.ok(&["import", archive.to_str().unwrap()]);
    assert!(
        out.starts_with("imported localhost/app-archive:v2 "),
        "{out}"
    );
    let out = store.ok(&["import", saved.to_str().unwrap()]);
    assert!(out.starts_with("imported docker.io/saved/app:3 "), "{out}");
    let out = store.ok(&["import", "--name", "mine:4", saved.to_str().unwrap()]);
    assert!(
        out.starts_with("imported docker.io/library/mine:4 "),
        "{out}"
    );
    assert_eq!(store.names().len(), 4);
    store.assert_layers(&fx.app_layers);

    fs::write(scratch.join("junk.tar"), b"not a tar at all").unwrap();
    store.fails(
        &["import", scratch.join("junk.tar").to_str().unwrap()],
        "junk.tar",
    );
    store.fails(
        &["import", scratch.join("missing").to_str().unwrap()],
        "missing",
    );
}

#[test]
fn tag_remove_and_prune() {
    let Some(fx) = ready("remove") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("remove");
    let reference = format!("{}/test/app:gzip", registry.addr());
    store.ok(&["pull", &reference]);
    store.ok(&["tag", &reference, "app:copy"]);
    assert_eq!(store.names().len(), 2);
    store.ok(&["remove", &reference]);
    assert_eq!(
        store.names(),
        vec!["docker.io/library/app:copy".to_string()]
    );
    store.assert_layers(&fx.app_layers);
    let out = store.ok(&["remove", "app:copy"]);
    assert!(out.contains("3 layers freed"), "{out}");
    store.assert_layers(&[]);
    assert_eq!(store.entries("blobs/sha256"), Vec::<String>::new());
    store.fails(&["remove", "app:copy"], "is not in the image store");
    assert!(store.ok(&["prune"]).starts_with("pruned 0 layers"));
}

#[test]
fn scripts_pull_list_tag_and_remove_through_the_image_module() {
    let Some(fx) = ready("script_api") else {
        return;
    };
    let registry = Registry::start(&fx.storage, Auth::None);
    let store = Store::new("script-api");
    let script = r#"
let img = image::pull(ARGS[0]);
print(`PULLED ${img.name} ${img.layers.len()} ${img.config.config.WorkingDir} ${img.config.config.Env}`);
if img.id != image::get(img.id.sub_string(7, 12)).id { throw "get by id"; }
let copy = image::tag(img.name, "app:copy");
print(`TAGGED ${copy.name} ${copy.id == img.id}`);
print(`LISTED ${image::list().map(|i| i.name)}`);
let arm = image::pull(ARGS[1], #{ platform: "linux/arm64" });
print(`ARM ${arm.config.architecture}`);
try { image::pull(ARGS[0], #{ platfrom: "x" }); } catch (e) { print(`BADOPT ${e.kind}: ${e.message}`); }
image::remove(img.name);
let freed = image::remove("app:copy");
print(`FREED ${freed.layers}`);
"#;
    let out = store.script(
        script,
        &[
            &format!("{}/test/app:gzip", registry.addr()),
            &format!("{}/test/multi:1", registry.addr()),
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    let reference = format!("{}/test/app:gzip", registry.addr());
    assert!(
        stdout.contains(&format!(
            "PULLED {reference} 3 /data [\"GREETING=hello from the image\", \"PATH=/bin:/sbin\"]"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("TAGGED docker.io/library/app:copy true"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "LISTED [\"{reference}\", \"docker.io/library/app:copy\"]"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("ARM arm64"), "{stdout}");
    assert!(
        stdout.contains(
            "BADOPT config: image::pull: unknown option 'platfrom' (did you mean 'platform'?)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("FREED 3"), "{stdout}");
    assert!(
        stderr.contains(&format!("pulled {reference} ")),
        "the final line: {stderr}"
    );
    // The arm64 image's one layer is all that is left.
    assert_eq!(store.entries("layers").len(), 1);
}

#[test]
fn containers_of_an_image_get_private_copy_on_write_roots_and_its_defaults() {
    let Some(t) = ImageContainers::new("image_containers", common::Sandbox::new) else {
        return;
    };
    let (sb, store) = (&t.sb, &t.store);
    let script = r#"
// The image's entrypoint, cmd, env, working dir and user.
let first = f.create(ARGS[2] + "-entry", #{ image: img, namespaces: ns });
let p = process(#{ stdout: "pipe", stderr: "pipe" });
first.start(p);
let code = p.wait();
print(`ENTRY ${code} ${p.stdout}`);
first.destroy();
// Two containers of one image, by value and by name.
let a = f.create(ARGS[2] + "-a", #{ image: img, namespaces: ns });
let b = f.create(ARGS[2] + "-b", #{ image: ARGS[0], namespaces: ns });
a.start(process(#{ args: ["/bin/sleep", "100"], stdin: "null" }));
b.start(process(#{ args: ["/bin/sleep", "100"], stdin: "null" }));
print(`A ${run.call(a, ["/bin/sh", "-c", "echo mine > /etc/keep && cat /etc/keep"])}`);
print(`B ${run.call(b, ["/bin/cat", "/etc/keep"])}`);
print(`WHITEOUTS ${run.call(b, ["/bin/sh", "-c", "echo $(ls /etc/removed 2>&1) $(ls /data/old)"])}`);
// A directory of a lower layer, opaque there, and one made here go.
print(`RMDIR ${run.call(b, ["/bin/sh", "-c", "rm -r /data/old && mkdir /data/made && rmdir /data/made && ls -A /data"])}`);
// The OCI state names the overlay as the root filesystem; a live update
// changes the cgroups and keeps it.
let rootfs = || parse_json(run_host([ARGS[3], "oci", "--root", ARGS[1], "state", ARGS[2] + "-b"]).stdout).rootfs;
print(`ROOTFS ${rootfs.call()}`);
b.update(#{ pids_limit: 64 });
print(`UPDATED ${rootfs.call()}`);
try { image::remove(img.name); } catch (e) { print(`INUSE ${e.message}`); }
a.destroy();
let again = f.create(ARGS[2] + "-a", #{ image: img, namespaces: ns });
again.start(process(#{ args: ["/bin/sleep", "100"], stdin: "null" }));
print(`AGAIN ${run.call(again, ["/bin/cat", "/etc/keep"])}`);
again.destroy();
b.destroy();
let ro = f.create(ARGS[2] + "-ro", #{ image: img, readonly_rootfs: true, namespaces: ns });
ro.start(process(#{ args: ["/bin/sleep", "100"], stdin: "null" }));
print(`RO ${run.call(ro, ["/bin/touch", "/etc/keep"])}`);
ro.destroy();
try { f.create(ARGS[2] + "-both", #{ image: img, rootfs: "/", namespaces: ns }); } catch (e) { print(`BOTH ${e.message}`); }
// A create that fails after the layers are mounted leaves nothing.
try {
    f.create(ARGS[2] + "-bad", #{ image: img, namespaces: ns, sysctl: #{ "net.ipv4.no_such_key": "1" } });
} catch (e) { print(`BAD ${e.message}`); }
// Every container released its use of the image (remove would drop the
// records of containers whose state dir is gone: look before).
let records = run_host(["ls", env("CTRSH_IMAGE_STORE") + "/containers"]).stdout;
print(`RECORDS ${records.len()}`);
image::remove(img.name);
print("REMOVED");
"#;
    let out = t.script(script, &[CTRSH]);
    let line = |prefix: &str| line_of(&out, prefix);
    let overlay = format!("{}/{}-b/rootfs", sb.root.display(), sb.id);
    assert_eq!(line("ROOTFS "), overlay, "{out}");
    assert_eq!(line("UPDATED "), overlay, "{out}");
    assert_eq!(
        line("ENTRY "),
        "0 entrypoint ran in /data as 1000:1000",
        "{out}"
    );
    assert!(out.contains("\nhello from the image\n"), "{out}");
    assert_eq!(line("A "), "0 mine");
    assert_eq!(line("RMDIR "), "0 ", "{out}");
    assert_eq!(line("B "), "0 kept");
    // /data/old is opaque: only the top layer's file shows.
    assert_eq!(
        line("WHITEOUTS "),
        "0 ls: /etc/removed: No such file or directory new"
    );
    let in_use = line("INUSE ");
    assert!(
        in_use.contains(&format!("'{}-a'", sb.id)) && in_use.contains(&format!("'{}-b'", sb.id)),
        "{in_use}"
    );
    assert!(in_use.contains("destroy them first"), "{in_use}");
    assert_eq!(line("AGAIN "), "0 kept");
    assert!(line("RO ").contains("Read-only file system"), "{out}");
    assert!(line("BOTH ").contains("give one of them"), "{out}");
    assert!(line("BAD ").contains("no_such_key"), "{out}");
    assert_eq!(line("RECORDS "), "0");
    assert!(out.contains("REMOVED"), "{out}");
    assert_eq!(store.entries("containers"), Vec::<String>::new());
    store.assert_layers(&[]);
    sb.assert_nothing_left(&format!("{}-a", sb.id));
}

/// A checkpoint of an image container keeps its image in the store, since
/// a restore mounts the layers again: `remove` refuses it, naming the
/// checkpoint, `prune` keeps its layers, and a restore works after both.
/// Removing the checkpoint's dir lets the image go.
#[test]
fn a_checkpoint_keeps_its_image_in_the_store() {
    let Some(t) = ImageContainers::new("image_checkpoint", |t| {
        common::Sandbox::with_criu(t, None, ctrsh::runtime::MIN_CRIU_VERSION)
    }) else {
        return;
    };
    let (sb, store) = (&t.sb, &t.store);
    let ck = sb.dir.join("ck");
    let script = r#"
let c = f.create(ARGS[2], #{ image: img, namespaces: ns });
// As root, not the image's user: CRIU reads another user's rlimits only
// with CAP_SYS_RESOURCE, which root lacks on some hosts (these VMs).
c.start(process(#{ args: ["/bin/sleep", "100"], user: "0", stdin: "null" }));
let p = process(#{ args: ["/bin/sh", "-c", "echo mine > /etc/mine"], user: "0", stdin: "null" });
c.start(p);
p.wait();
let ck = c.checkpoint(#{ dir: ARGS[3] });
print(`DUMPED ${c.state}`);
try { image::remove(img.name); } catch (e) { print(`INUSE ${e.message}`); }
print(`PRUNED ${image::prune().layers}`);
let r = f.restore(ARGS[2] + "-r", ck, #{});
let p = process(#{ args: ["/bin/cat", "/etc/mine"], user: "0", stdin: "null", stdout: "pipe" });
r.start(p);
p.wait();
print(`RESTORED ${p.stdout}`);
r.destroy();
run_host(["rm", "-r", ARGS[3]]);
image::remove(img.name);
print("REMOVED");
"#;
    let out = t.script(script, &[ck.to_str().unwrap()]);
    let line = |prefix: &str| line_of(&out, prefix);
    assert_eq!(line("DUMPED "), "destroyed", "{out}");
    let in_use = line("INUSE ");
    assert!(
        in_use.contains(&format!("checkpoint {}", ck.display()))
            && in_use.contains("remove the checkpoint's dir"),
        "{in_use}"
    );
    assert_eq!(line("PRUNED "), "0", "{out}");
    assert_eq!(line("RESTORED "), "mine", "{out}");
    assert!(out.contains("REMOVED"), "{out}");
    assert_eq!(store.entries("checkpoints"), Vec::<String>::new());
    store.assert_layers(&[]);
    sb.assert_nothing_left(&sb.id);
    sb.assert_nothing_left(&format!("{}-r", sb.id));
}

#[test]
fn a_container_with_a_user_namespace_sees_the_layers_owned_as_its_mappings_say() {
    let Some(t) = ImageContainers::new("image_userns", common::Sandbox::new) else {
        return;
    };
    let (sb, store) = (&t.sb, &t.store);
    // The layers stay owned by host ids in the store; container id N is
    // host id 100000 + N.
    let script = r#"
let config = #{ image: img, namespaces: ["user", "mount", "uts", "ipc", "pid", "net"],
                uid_mappings: maps, gid_mappings: maps };
let c = f.create(ARGS[2], config);
c.start(process(#{ args: ["/bin/sleep", "100"], stdin: "null" }));
print(`ID ${run.call(c, ["/bin/id", "-u"])}`);
print(`OWNERS ${run.call(c, ["/bin/stat", "-c", "%n %u:%g %a", "/", "/bin/busybox", "/srv/suid", "/srv/owned"])}`);
print(`WRITE ${run.call(c, ["/bin/sh", "-c", "echo mine > /etc/new && chown 0:0 /srv/owned && stat -c '%u:%g' /etc/new /srv/owned"])}`);
let upper = `${ARGS[1]}/${ARGS[2]}/upper`;
let host = run_host(["stat", "-c", "%u:%g", upper, upper + "/etc/new", upper + "/srv/owned"]).stdout;
host.trim();
host.replace("\n", ", ");
print(`UPPER ${host}`);
c.destroy();
config.readonly_rootfs = true;
let ro = f.create(ARGS[2] + "-ro", config);
ro.start(process(#{ args: ["/bin/sleep", "100"], stdin: "null" }));
print(`RO ${run.call(ro, ["/bin/sh", "-c", "stat -c '%u:%g %a' /srv/suid && touch /etc/new"])}`);
ro.destroy();
try {
    f.create(ARGS[2] + "-nomap", #{ image: img, namespaces: ["user", "mount", "ipc", "pid"],
        uid_mappings: [#{ container_id: 1, host_id: 100001, size: 10 }], gid_mappings: maps });
} catch (e) { print(`NOMAP ${e.message}`); }
image::remove(img.name);
print("REMOVED");
"#;
    let out = t.script(script, &[]);
    let line = |prefix: &str| line_of(&out, prefix);
    assert_eq!(line("ID "), "0 0", "{out}");
    // The root dir is the upper dir, the container root's; the setuid
    // binary keeps its bit.
    assert_eq!(
        line("OWNERS "),
        "0 / 0:0 755, /bin/busybox 0:0 755, /srv/suid 0:0 4755, /srv/owned 1000:1000 640",
        "{out}"
    );
    assert_eq!(line("WRITE "), "0 0:0, 0:0", "{out}");
    // The writes are in the upper dir, owned by the host ids of the
    // container's root.
    assert_eq!(
        line("UPPER "),
        "100000:100000, 100000:100000, 100000:100000"
    );
    let ro = line("RO ");
    assert!(
        ro.starts_with("1 0:0 4755, ") && ro.contains("Read-only file system"),
        "{out}"
    );
    let nomap = line("NOMAP ");
    assert!(
        nomap.contains("must map the container's uid and gid 0"),
        "{out}"
    );
    assert!(out.contains("REMOVED"), "{out}");
    store.assert_layers(&[]);
    sb.assert_nothing_left(&sb.id);
    sb.assert_nothing_left(&format!("{}-ro", sb.id));
}

#[test]
fn commit_stores_a_containers_writes_as_a_new_image() {
    let Some(t) = ImageContainers::new("image_commit", common::Sandbox::new) else {
        return;
    };
    let (sb, store) = (&t.sb, &t.store);
    let script = r#"
let userns = #{ namespaces: ["user"] + ns, uid_mappings: maps, gid_mappings: maps };
let sleep = || process(#{ args: ["/bin/sleep", "100"], stdin: "null" });
// Writes, deleted files, owners, a setuid copy and a hardlink; committed
// while it runs.
let a = f.create(ARGS[2] + "-a", #{ image: img, namespaces: ns });
a.start(sleep.call());
// /data/old (opaque in its layer) is deleted, /srv made again: opaque.
print(`CHANGE ${run.call(a, ["/bin/sh", "-c", "echo new > /etc/new && chown 1000:1000 /etc/new && rm /etc/keep && rm -r /data/old && rm -r /srv && mkdir /srv && echo fresh > /srv/fresh && cp /bin/busybox /bin/copy && chmod 4755 /bin/copy && ln /bin/copy /bin/copy-link"])}`);
let committed = a.commit("localhost/committed:1");
print(`STATE ${a.state}`);
print(`LAYERS ${img.layers.len()} ${committed.layers.len()} ${committed.config.history[-1].created_by}`);
print(`TOP ${committed.layers[-1]}`);
a.destroy();
let b = f.create(ARGS[2] + "-b", #{ image: "localhost/committed:1", namespaces: ns });
b.start(sleep.call());
print(`SEEN ${run.call(b, ["/bin/sh", "-c", "cat /etc/new; stat -c '%u:%g' /etc/new; ls /etc/keep /data/old; ls -A /srv; stat -c '%a %h' /bin/copy"])}`);
b.destroy();
let p = process(#{ stdout: "pipe", stderr: "pipe" });
let entry = f.create(ARGS[2] + "-entry", #{ image: committed, namespaces: ns });
entry.start(p);
p.wait();
print(`ENTRY ${p.stdout.split("\n")[0]}`);
entry.destroy();
// A container with a user namespace writes host ids; its layer has its own.
let u = f.create(ARGS[2] + "-u", #{ image: committed } + userns);
u.start(sleep.call());
print(`USERNS ${run.call(u, ["/bin/sh", "-c", "echo u > /etc/by-root && stat -c '%u:%g' /etc/new /etc/by-root"])}`);
u.commit("localhost/committed:2");
u.destroy();
let c = f.create(ARGS[2] + "-c", #{ image: "localhost/committed:2", namespaces: ns });
c.start(sleep.call());
print(`UNSHIFTED ${run.call(c, ["/bin/stat", "-c", "%u:%g", "/etc/new", "/etc/by-root"])}`);
c.destroy();
let ro = f.create(ARGS[2] + "-ro", #{ image: img, namespaces: ns, readonly_rootfs: true });
try { ro.commit("localhost/ro:1"); } catch (e) { print(`RO ${e.message}`); }
ro.destroy();
"#;
    let out = t.script(script, &[]);
    let line = |prefix: &str| line_of(&out, prefix);
    assert_eq!(line("CHANGE "), "0 ", "{out}");
    assert_eq!(line("STATE "), "running", "{out}");
    assert_eq!(line("LAYERS "), "3 4 ctrsh commit", "{out}");
    assert_eq!(
        line("SEEN "),
        "0 new, 1000:1000, fresh, 4755 2, ls: /etc/keep: No such file or directory, \
         ls: /data/old: No such file or directory",
        "{out}"
    );
    // The new layer as overlayfs reads it: the deleted directory is a
    // whiteout, the one made again is opaque and holds only its new file.
    let top = store.layer(&line("TOP "));
    let old = fs::symlink_metadata(top.join("data/old")).unwrap();
    assert!(
        old.file_type().is_char_device() && old.rdev() == 0,
        "data/old is not a whiteout in {}",
        top.display()
    );
    assert_eq!(
        xattr(&top.join("srv"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    let srv: Vec<_> = fs::read_dir(top.join("srv"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(srv, ["fresh"]);
    assert_eq!(
        line("ENTRY "),
        "entrypoint ran in /data as 1000:1000",
        "{out}"
    );
    assert_eq!(line("USERNS "), "0 1000:1000, 0:0", "{out}");
    assert_eq!(line("UNSHIFTED "), "0 1000:1000, 0:0", "{out}");
    assert!(line("RO ").contains("read-only"), "{out}");
    store.ok(&[
        "remove",
        "localhost/committed:1",
        "localhost/committed:2",
        &t.reference,
    ]);
    store.assert_layers(&[]);
    for suffix in ["a", "b", "entry", "u", "c", "ro"] {
        sb.assert_nothing_left(&format!("{}-{suffix}", sb.id));
    }
}

#[test]
fn a_pull_and_an_import_show_progress_bars_only_on_a_terminal() {
    let Some(fx) = ready("progress") else { return };
    let registry = Registry::start(&fx.storage, Auth::None);
    let proxy = Proxy::start(registry.port, false);
    let store = Store::new("progress");
    let reference = format!("{}/test/big:1", proxy.addr());

    // On a terminal: the layer's bar (bytes so far) under the count of
    // layers done, seen while the layer's transfer is held after 1 MiB.
    proxy.stall(&fx.big_blob, 1 << 20);
    let mut pty = common::pty::Pty::start(
        store.command(&["pull", &reference]).env("TERM", "xterm"),
        40,
        120,
    );
    proxy.wait_stalled();
    pty.expect(&format!("{reference} 0/1 layers"));
    pty.expect("1.00 MiB/");
    // Cut: the pull resumes the transfer and ends with its one line.
    proxy.cut();
    pty.expect(&format!("pulled {reference} "));
    assert!(pty.wait().success(), "{}", pty.raw());

    // Off a terminal: the final line and nothing else.
    let out = store.run_with(&["pull", &reference], &[]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert!(
        out.stdout.starts_with(&format!("pulled {reference} ")),
        "{out}"
    );
    assert_eq!(out.stderr, "", "{out}");

    // An import on a terminal draws its bars too.
    let archive = store.dir.0.join("app.tar");
    fixture::docker_save(&fx.layout, &archive, "saved/app:3");
    let mut pty = common::pty::Pty::start(
        store
            .command(&["import", archive.to_str().unwrap()])
            .env("TERM", "xterm"),
        40,
        120,
    );
    pty.expect("imported docker.io/saved/app:3 ");
    let drawn = common::pty::plain(pty.raw().as_bytes());
    assert!(drawn.contains("/3 layers"), "{drawn}");
    assert!(pty.wait().success(), "{}", pty.raw());
}
