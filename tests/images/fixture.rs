//! What the image tests pull from: images built from the busybox rootfs with
//! umoci (and layers written here with the tar crate), pushed with skopeo
//! into a registry storage that every test's own `docker-registry` serves;
//! and a small HTTP proxy in front of a registry that can ask for bearer
//! tokens, count requests and stall a blob mid-way.

use flate2::read::GzDecoder;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Bumped when the images change, so the cached storage is rebuilt.
const FIXTURE_VERSION: &str = "5";
/// The size of the big layer the interrupted pull stalls in.
pub const BIG_LAYER: usize = 6 << 20;
pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret";
/// The mtime given to the hand-made layer's files.
pub const MTIME: u64 = 1_234_567_890;
/// security.capability for cap_net_raw in the effective and permitted
/// sets (VFS_CAP_REVISION_2).
pub const CAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

pub use crate::common::run_ok as run;

pub use crate::common::TempDir;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "docker-registry exited ({status}): {}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Auth {
    None,
    /// htpasswd basic auth with USER/PASSWORD.
    Basic,
    /// HTTPS with a certificate of a CA the test made (`Registry::ca`).
    Tls,
}

/// A `docker-registry` on 127.0.0.1, serving `storage`; killed on drop.
pub struct Registry {
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
    storage: PathBuf,
    auth: Auth,
}

impl Registry {
    pub fn start(storage: &Path, auth: Auth) -> Registry {
        let dir = TempDir::new("registry");
        let mut registry = Registry {
            port: free_port(),
            child: None,
            dir,
            storage: storage.to_path_buf(),
            auth,
        };
        registry.spawn();
        registry
    }

    fn spawn(&mut self) {
        let d = &self.dir.0;
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{}\n",
            self.storage.display(),
            self.port
        );
        match self.auth {
            Auth::None => {}
            Auth::Basic => {
                let line = run(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
                fs::write(d.join("htpasswd"), line).unwrap();
                config += &format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    d.join("htpasswd").display()
                );
            }
            Auth::Tls => {
                if !d.join("server.crt").exists() {
                    make_certificates(d);
                }
                config += &format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    d.join("server.crt").display(),
                    d.join("server.key").display()
                );
            }
        }
        fs::write(d.join("config.yml"), config).unwrap();
        let log = d.join("registry.log");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(d.join("registry.err")).unwrap())
            .spawn()
            .expect("start docker-registry");
        wait_for_port(self.port, &mut child, &d.join("registry.err"));
        self.child = Some(child);
    }

    /// The CA that signed the TLS registry's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.0.join("ca.crt")
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the registry (SIGKILL, by pid), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A CA and a certificate for 127.0.0.1 that it signed.
fn make_certificates(dir: &Path) {
    let ssl = |args: &str| {
        run(Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir))
    };
    ssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=ctrsh-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign");
    ssl("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1");
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ssl("x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf");
}

/// The images, pushed once into a registry storage cached under
/// CARGO_TARGET_TMPDIR (rebuilt when FIXTURE_VERSION or busybox changes),
/// plus their OCI layout for the import tests.
pub struct Fixtures {
    pub storage: PathBuf,
    pub layout: PathBuf,
    /// The diff ids of `app`'s layers.
    pub app_layers: Vec<String>,
    /// The blob digests of `app`'s gzip layers.
    pub app_blobs: Vec<String>,
    /// The blob digest of the big layer of `big`.
    pub big_blob: String,
}

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        fs::create_dir_all(tmp).unwrap();
        let lock = fs::File::create(tmp.join("image-fixtures.lock")).unwrap();
        let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .unwrap();
        let dir = tmp.join("image-fixtures");
        let meta = fs::metadata("/bin/busybox").unwrap();
        let stamp = format!("{FIXTURE_VERSION} {} {}", meta.ino(), meta.mtime());
        let stamp_file = tmp.join("image-fixtures.stamp");
        if fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) || !dir.exists()
        {
            let _ = fs::remove_file(&stamp_file);
            if dir.exists() {
                fs::remove_dir_all(&dir).unwrap();
            }
            fs::create_dir_all(&dir).unwrap();
            build(&dir);
            fs::write(&stamp_file, stamp).unwrap();
        }
        let info: Value =
            serde_json::from_slice(&fs::read(dir.join("info.json")).unwrap()).unwrap();
        Fixtures {
            storage: dir.join("storage"),
            layout: dir.join("layout"),
            app_layers: serde_json::from_value(info["app_layers"].clone()).unwrap(),
            app_blobs: serde_json::from_value(info["app_blobs"].clone()).unwrap(),
            big_blob: info["big_blob"].as_str().unwrap().to_string(),
        }
    })
}

/// Builds every image into `dir/layout` (an OCI layout) and pushes them
/// into `dir/storage`.
fn build(dir: &Path) {
    let layout = dir.join("layout");
    let work = dir.join("work");
    fs::create_dir_all(&work).unwrap();
    let rootfs = work.join("busybox");
    run(Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-rootfs")).arg(&rootfs));
    let umoci = |args: &[&str]| run(Command::new("umoci").args(args).current_dir(dir));
    umoci(&["init", "--layout", "layout"]);
    umoci(&["new", "--image", "layout:app"]);

    // Layer 1: busybox, plus files the next layers delete or hide.
    let bundle = "work/bundle";
    umoci(&["unpack", "--image", "layout:app", bundle]);
    let root = dir.join(bundle).join("rootfs");
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs.display()))
        .arg(&root));
    fs::write(root.join("etc/removed"), "to be deleted\n").unwrap();
    fs::write(root.join("etc/keep"), "kept\n").unwrap();
    fs::create_dir_all(root.join("data/old")).unwrap();
    fs::write(root.join("data/old/a"), "hidden by the opaque dir\n").unwrap();
    umoci(&["repack", "--image", "layout:app", bundle]);
    fs::remove_dir_all(dir.join(bundle)).unwrap();

    // Layer 2: umoci's own whiteout for a deleted file.
    umoci(&["unpack", "--image", "layout:app", bundle]);
    fs::remove_file(root.join("etc/removed")).unwrap();
    umoci(&["repack", "--image", "layout:app", bundle]);
    fs::remove_dir_all(dir.join(bundle)).unwrap();

    // Layer 3: written here: opaque dir, owners, hardlink, setuid, device,
    // FIFO, symlink, xattrs, mtimes.
    let special = work.join("special.tar");
    write_tar(&special, special_layer());
    umoci(&[
        "raw",
        "add-layer",
        "--image",
        "layout:app",
        special.to_str().unwrap(),
    ]);
    umoci(&[
        "config",
        "--image",
        "layout:app",
        "--config.env",
        "GREETING=hello from the image",
        "--config.env",
        "PATH=/bin:/sbin",
        "--config.entrypoint",
        "/bin/sh",
        "--config.entrypoint",
        "-c",
        "--config.cmd",
        "echo entrypoint ran in $(pwd) as $(id -u):$(id -g); echo $GREETING",
        "--config.workingdir",
        "/data",
        "--config.user",
        "1000:1000",
        "--config.stopsignal",
        "SIGUSR1",
        "--config.exposedports",
        "8080/tcp",
    ]);

    // Escape attempts: a `../` path, and a file written through an
    // absolute symlink.
    umoci(&["new", "--image", "layout:dotdot"]);
    let dotdot = work.join("dotdot.tar");
    write_tar(
        &dotdot,
        vec![
            Entry::file("ok", b"fine\n"),
            Entry::file("../../escaped-by-dotdot", b"out\n"),
        ],
    );
    umoci(&[
        "raw",
        "add-layer",
        "--image",
        "layout:dotdot",
        dotdot.to_str().unwrap(),
    ]);
    umoci(&["new", "--image", "layout:symlink"]);
    let symlink = work.join("symlink.tar");
    write_tar(
        &symlink,
        vec![
            Entry::dir("tmp/"),
            Entry::symlink("evil", "/tmp"),
            Entry::file("evil/ctrsh-escaped-by-absolute-symlink", b"out\n"),
            Entry::symlink("up", "../../../../../../tmp"),
            Entry::file("up/ctrsh-escaped-by-relative-symlink", b"out\n"),
        ],
    );
    umoci(&[
        "raw",
        "add-layer",
        "--image",
        "layout:symlink",
        symlink.to_str().unwrap(),
    ]);

    // An image with a layer big enough to interrupt mid-way.
    umoci(&["new", "--image", "layout:big"]);
    let big = work.join("big.tar");
    let mut noise = vec![0u8; BIG_LAYER];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    write_tar(&big, vec![Entry::file("noise", &noise)]);
    umoci(&[
        "raw",
        "add-layer",
        "--image",
        "layout:big",
        big.to_str().unwrap(),
    ]);

    // Other encodings of app: zstd and uncompressed layers, and a
    // two-platform index (app as linux/amd64, a one-layer linux/arm64).
    recompress(&layout, "app", "app-zstd", Compression::Zstd);
    recompress(&layout, "app", "app-plain", Compression::None);
    multi_platform(&layout, &work);

    let registry = Registry::start(&dir.join("storage"), Auth::None);
    let push = |tag: &str, dest: &str, extra: &[&str]| {
        run(Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .args(extra)
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{dest}", registry.addr())));
    };
    push("app", "test/app:gzip", &[]);
    push("app", "test/app:docker", &["--format", "v2s2"]);
    push("app-zstd", "test/app:zstd", &[]);
    push("app-plain", "test/app:plain", &[]);
    push("multi", "test/multi:1", &["--all"]);
    push("dotdot", "test/dotdot:1", &[]);
    push("symlink", "test/symlink:1", &[]);
    push("big", "test/big:1", &[]);
    drop(registry);
    let _ = fs::remove_dir_all(&work);

    let manifest = |tag: &str| -> Value {
        let index: Value =
            serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
        let entry = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()
            .clone();
        read_json(&layout, entry["digest"].as_str().unwrap())
    };
    let app = manifest("app");
    let config = read_json(&layout, app["config"]["digest"].as_str().unwrap());
    let info = json!({
        "app_layers": config["rootfs"]["diff_ids"],
        "app_blobs": app["layers"].as_array().unwrap().iter().map(|l| l["digest"].clone()).collect::<Vec<_>>(),
        "big_blob": manifest("big")["layers"][0]["digest"],
    });
    fs::write(dir.join("info.json"), info.to_string()).unwrap();
}

pub fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

pub fn read_json(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&fs::read(blob_path(layout, digest)).unwrap()).unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Writes `bytes` as a blob of `layout`; returns its descriptor.
pub fn write_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = sha256(bytes);
    fs::write(blob_path(layout, &digest), bytes).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
}

/// Adds `descriptor` to the layout's index.json under `tag`.
fn add_to_index(layout: &Path, mut descriptor: Value, tag: &str) {
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    index["manifests"].as_array_mut().unwrap().push(descriptor);
    fs::write(path, index.to_string()).unwrap();
}

/// The manifest descriptor tagged `tag` in the layout's index.json.
pub fn tagged(layout: &Path, tag: &str) -> Value {
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in the layout"))
        .clone()
}

/// A layer's uncompressed tar, whatever its compression.
pub fn uncompressed(layout: &Path, layer: &Value) -> Vec<u8> {
    let bytes = fs::read(blob_path(layout, layer["digest"].as_str().unwrap())).unwrap();
    let mut out = Vec::new();
    if layer["mediaType"].as_str().unwrap().ends_with("gzip") {
        GzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap();
    } else if layer["mediaType"].as_str().unwrap().ends_with("zstd") {
        out = zstd::decode_all(&bytes[..]).unwrap();
    } else {
        out = bytes;
    }
    out
}

#[derive(Clone, Copy)]
enum Compression {
    Zstd,
    None,
}

/// A copy of image `tag` whose layers are recompressed, as `new_tag`.
fn recompress(layout: &Path, tag: &str, new_tag: &str, compression: Compression) {
    let manifest = read_json(layout, tagged(layout, tag)["digest"].as_str().unwrap());
    let mut new = manifest.clone();
    for (i, layer) in manifest["layers"].as_array().unwrap().iter().enumerate() {
        let tar = uncompressed(layout, layer);
        new["layers"][i] = match compression {
            Compression::Zstd => write_blob(
                layout,
                "application/vnd.oci.image.layer.v1.tar+zstd",
                &zstd::encode_all(&tar[..], 3).unwrap(),
            ),
            Compression::None => write_blob(layout, "application/vnd.oci.image.layer.v1.tar", &tar),
        };
    }
    let descriptor = write_blob(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        new.to_string().as_bytes(),
    );
    add_to_index(layout, descriptor, new_tag);
}

/// `multi`: an index of app (linux/amd64) and a one-layer image for
/// linux/arm64 whose /platform says so.
fn multi_platform(layout: &Path, work: &Path) {
    let app = tagged(layout, "app");
    let arm_tar = work.join("arm.tar");
    write_tar(&arm_tar, vec![Entry::file("platform", b"arm64\n")]);
    let tar = fs::read(&arm_tar).unwrap();
    let layer = write_blob(layout, "application/vnd.oci.image.layer.v1.tar", &tar);
    let config = json!({
        "architecture": "arm64", "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
    });
    let config = write_blob(
        layout,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer],
    });
    let mut arm = write_blob(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    arm["platform"] = json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
    let mut amd =
        json!({"mediaType": app["mediaType"], "digest": app["digest"], "size": app["size"]});
    amd["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let index = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [arm, amd],
    });
    let descriptor = write_blob(
        layout,
        "application/vnd.oci.image.index.v1+json",
        index.to_string().as_bytes(),
    );
    add_to_index(layout, descriptor, "multi");
}

/// A tar entry for `write_tar`.
pub struct Entry {
    path: Vec<u8>,
    kind: tar::EntryType,
    data: Vec<u8>,
    link: Option<String>,
    mode: u32,
    uid: u64,
    gid: u64,
    device: Option<(u32, u32)>,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Entry {
    fn new(path: &str, kind: tar::EntryType) -> Entry {
        Entry {
            path: path.as_bytes().to_vec(),
            kind,
            data: vec![],
            link: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
            device: None,
            xattrs: vec![],
        }
    }
    pub fn file(path: &str, data: &[u8]) -> Entry {
        Entry {
            data: data.to_vec(),
            ..Entry::new(path, tar::EntryType::Regular)
        }
    }
    fn dir(path: &str) -> Entry {
        Entry {
            mode: 0o755,
            ..Entry::new(path, tar::EntryType::Directory)
        }
    }
    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry {
            link: Some(target.into()),
            mode: 0o777,
            ..Entry::new(path, tar::EntryType::Symlink)
        }
    }
    fn owned(self, uid: u64, gid: u64, mode: u32) -> Entry {
        Entry {
            uid,
            gid,
            mode,
            ..self
        }
    }
}

/// The hand-made third layer of `app`.
fn special_layer() -> Vec<Entry> {
    let mut cap = Entry::file("srv/ping", b"#!/bin/sh\necho pong\n").owned(0, 0, 0o755);
    cap.xattrs = vec![
        ("security.capability".into(), CAP_NET_RAW.to_vec()),
        ("user.comment".into(), b"made by the test".to_vec()),
    ];
    vec![
        Entry::dir("data/old/"),
        Entry::file("data/old/.wh..wh..opq", b""),
        Entry::file("data/old/new", b"the opaque dir's own file\n"),
        Entry::dir("srv/").owned(1000, 1000, 0o750),
        Entry::file("srv/owned", b"owned by 1000\n").owned(1000, 1000, 0o640),
        Entry {
            link: Some("srv/owned".into()),
            ..Entry::new("srv/hardlink", tar::EntryType::Link)
        },
        Entry::file("srv/suid", b"#!/bin/sh\nid\n").owned(0, 0, 0o4755),
        Entry {
            device: Some((1, 3)),
            mode: 0o666,
            ..Entry::new("srv/null", tar::EntryType::Char)
        },
        Entry {
            mode: 0o600,
            ..Entry::new("srv/fifo", tar::EntryType::Fifo)
        },
        Entry::symlink("srv/keep-link", "/etc/keep"),
        cap,
    ]
}

/// Writes a tar with raw names (so `../` can be written, which the tar
/// crate's builder refuses), each entry's mtime MTIME, xattrs as PAX.
pub fn write_tar(path: &Path, entries: Vec<Entry>) {
    let mut builder = tar::Builder::new(fs::File::create(path).unwrap());
    for e in entries {
        if !e.xattrs.is_empty() {
            let pax: Vec<(String, &[u8])> = e
                .xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), &v[..]))
                .collect();
            builder
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
                .unwrap();
        }
        let mut header = tar::Header::new_ustar();
        let name = &mut header.as_ustar_mut().unwrap().name;
        name[..e.path.len()].copy_from_slice(&e.path);
        header.set_entry_type(e.kind);
        header.set_size(e.data.len() as u64);
        header.set_mode(e.mode);
        header.set_uid(e.uid);
        header.set_gid(e.gid);
        header.set_mtime(MTIME);
        if let Some(link) = &e.link {
            header.set_link_name(link).unwrap();
        }
        if let Some((major, minor)) = e.device {
            header.set_device_major(major).unwrap();
            header.set_device_minor(minor).unwrap();
        }
        header.set_cksum();
        builder.append(&header, &e.data[..]).unwrap();
    }
    builder.finish().unwrap();
}

/// A `docker save` archive of `app` (as docker writes it: a config file,
/// one uncompressed `ID/layer.tar` per layer, manifest.json with the tags).
pub fn docker_save(layout: &Path, dest: &Path, tag: &str) {
    let manifest = read_json(layout, tagged(layout, "app")["digest"].as_str().unwrap());
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = fs::read(blob_path(layout, config_digest)).unwrap();
    let mut builder = tar::Builder::new(fs::File::create(dest).unwrap());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
    };
    let config_name = format!("{}.json", config_digest.trim_start_matches("sha256:"));
    add(&config_name, &config);
    let mut layers = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let tar = uncompressed(layout, layer);
        let name = format!("{}/layer.tar", sha256(&tar).trim_start_matches("sha256:"));
        add(&name, &tar);
        layers.push(name);
    }
    let index = json!([{"Config": config_name, "RepoTags": [tag], "Layers": layers}]);
    add("manifest.json", index.to_string().as_bytes());
    builder.finish().unwrap();
}

/// What the proxy saw: one line per request ("GET /v2/... range=bytes=N-").
pub type Requests = Arc<Mutex<Vec<String>>>;

/// An HTTP proxy on 127.0.0.1 in front of a registry. It can demand bearer
/// tokens that its own /token endpoint hands out (the flow Docker Hub
/// uses), records every request, and can stall a blob's body after some
/// bytes until released.
pub struct Proxy {
    pub port: u16,
    pub requests: Requests,
    stall: Arc<Mutex<Option<(String, usize)>>>,
    stalled: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

pub const TOKEN: &str = "token-from-the-test";

impl Proxy {
    /// `token`: demand `Bearer TOKEN` on /v2/ requests.
    pub fn start(backend: u16, token: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            requests: Arc::default(),
            stall: Arc::default(),
            stalled: Arc::default(),
            release: Arc::default(),
            stop: Arc::default(),
        };
        let (requests, stall, stalled, release, stop) = (
            proxy.requests.clone(),
            proxy.stall.clone(),
            proxy.stalled.clone(),
            proxy.release.clone(),
            proxy.stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let (requests, stall, stalled, release) = (
                            requests.clone(),
                            stall.clone(),
                            stalled.clone(),
                            release.clone(),
                        );
                        std::thread::spawn(move || {
                            let _ = serve(
                                client, port, backend, token, &requests, &stall, &stalled, &release,
                            );
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        proxy
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stall the body of blob `digest` after `after` bytes.
    pub fn stall(&self, digest: &str, after: usize) {
        *self.stall.lock().unwrap() = Some((digest.to_string(), after));
    }

    /// Waits until a transfer is stalled.
    pub fn wait_stalled(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.stalled.load(Ordering::Relaxed) {
            assert!(Instant::now() < deadline, "no blob transfer stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Cuts the stalled transfer: the client sees its connection close,
    /// as when the registry dies.
    pub fn cut(&self) {
        *self.stall.lock().unwrap() = None;
        self.release.store(true, Ordering::Relaxed);
    }

    pub fn seen(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.release.store(true, Ordering::Relaxed);
    }
}

/// One request per client connection (answered with Connection: close).
#[allow(clippy::too_many_arguments)]
fn serve(
    mut client: TcpStream,
    port: u16,
    backend: u16,
    token: bool,
    requests: &Requests,
    stall: &Mutex<Option<(String, usize)>>,
    stalled: &AtomicBool,
    release: &AtomicBool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let request_line = head.first().cloned().unwrap_or_default();
    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
    let headers: HashMap<String, String> = head[1..]
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let range = headers.get("range").cloned().unwrap_or_default();
    requests
        .lock()
        .unwrap()
        .push(format!("{request_line} range={range}"));
    let respond = |client: &mut TcpStream, status: &str, extra: &str, body: &str| {
        write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    if path.starts_with("/token") {
        return respond(
            &mut client,
            "200 OK",
            "",
            &json!({"token": TOKEN}).to_string(),
        );
    }
    if token && headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}"))
    {
        let repo = path
            .split('/')
            .skip(2)
            .take_while(|p| *p != "manifests" && *p != "blobs")
            .collect::<Vec<_>>()
            .join("/");
        let challenge = format!(
            "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:{repo}:pull\"\r\n"
        );
        return respond(
            &mut client,
            "401 Unauthorized",
            &challenge,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}"#,
        );
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", backend)) else {
        return Ok(()); // the registry is down: the client sees the connection close
    };
    write!(upstream, "{request_line}\r\n")?;
    for line in &head[1..] {
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with("connection:") && !lower.starts_with("authorization:") {
            write!(upstream, "{line}\r\n")?;
        }
    }
    write!(upstream, "Connection: close\r\n\r\n")?;
    let stall_after = stall
        .lock()
        .unwrap()
        .as_ref()
        .filter(|(digest, _)| path.contains(&format!("/blobs/{digest}")) && range.is_empty())
        .map(|(_, after)| *after);
    let mut upstream_reader = BufReader::new(upstream);
    // The response head, then the body.
    loop {
        let mut line = String::new();
        if upstream_reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        client.write_all(line.as_bytes())?;
        if line == "\r\n" {
            break;
        }
    }
    let mut sent = 0usize;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let mut want = buf.len();
        if let Some(after) = stall_after {
            if sent >= after {
                stalled.store(true, Ordering::Relaxed);
                while !release.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Ok(());
            }
            if sent < after {
                want = want.min(after - sent);
            }
        }
        let n = match upstream_reader.read(&mut buf[..want]) {
            Ok(0) | Err(_) => return Ok(()),
            Ok(n) => n,
        };
        client.write_all(&buf[..n])?;
        sent += n;
    }
}
