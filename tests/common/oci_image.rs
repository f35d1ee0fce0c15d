//! An OCI image layout tarball (an oci-archive) of a rootfs, for the tests
//! that hand an image to an engine (containerd imports it, podman loads
//! it).

use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The tarball (`dir`/image.tar) of an OCI image layout holding one image
/// of `rootfs` (one uncompressed layer; `sh` with PATH=/bin), its manifest
/// annotated with `ref_name` as `org.opencontainers.image.ref.name`
/// (containerd takes a tag there, podman a whole reference). Its work
/// files are in `dir` too.
pub fn image_tarball(dir: &Path, rootfs: &Path, ref_name: &str) -> PathBuf {
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
    manifest["annotations"] = json!({ "org.opencontainers.image.ref.name": ref_name });
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
