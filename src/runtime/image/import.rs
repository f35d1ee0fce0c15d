//! Images from files: an OCI image layout (a directory, or a tar of one as
//! `skopeo copy ... oci-archive:` writes it) and a `docker save` archive.
//!
//! A tar is read in place: its entries are indexed once (name -> offset,
//! size) and each blob is read from its offset; nothing is extracted.

use super::digest::Digest;
use super::manifest::{self, Manifest, Platform};
use super::progress::Progress;
use super::reference::Reference;
use super::source::Source;
use super::store::{self, Store};
use super::Image;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// index.json and manifest.json are small; anything larger is not one.
const JSON_LIMIT: u64 = 16 << 20;

/// Imports every image in the layout or archive at `path`. An image is
/// named by its annotations (a full reference, or a tag that is put after
/// `localhost/STEM`, STEM being the file name without `.tar`), or by
/// `name` when given (then the archive must hold one image).
pub fn import(
    store: &Store,
    path: &Path,
    name: Option<&str>,
    platform: &Platform,
    progress: &Progress,
) -> Result<Vec<Image>> {
    let files = Files::index(path)?;
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar").to_lowercase())
        .unwrap_or_default();
    let images = if files.has("index.json") {
        oci_layout(&files, platform)?
    } else if files.has("manifest.json") {
        docker_save(&files)?
    } else {
        return Err(Error::config(format!(
            "{}: neither an OCI image layout (index.json) nor a docker save archive (manifest.json)",
            path.display()
        )));
    };
    if images.is_empty() {
        return Err(Error::config(format!("{}: holds no image", path.display())));
    }
    if name.is_some() && images.len() > 1 {
        return Err(Error::config(format!(
            "{}: holds {} images; a name can only be given to one (import it without a name)",
            path.display(),
            images.len()
        )));
    }
    let mut imported = Vec::new();
    for found in images {
        let names = match name {
            Some(name) => vec![Reference::parse(name)?.to_string()],
            None if found.names.is_empty() => vec![local_name(&stem, "latest")?],
            None => found
                .names
                .iter()
                .map(|n| name_for(n, &stem))
                .collect::<Result<Vec<_>>>()?,
        };
        let source = found.source(&files);
        imported.push(store.add(&source, &found.manifest, &names, progress)?);
    }
    Ok(imported)
}

/// One image found in a layout or archive.
struct Found {
    manifest: Vec<u8>,
    names: Vec<String>,
    /// docker save: where each blob is, by digest (OCI: blobs/sha256/HEX).
    paths: Option<HashMap<Digest, String>>,
}

impl Found {
    fn source<'a>(&self, files: &'a Files) -> ArchiveSource<'a> {
        ArchiveSource {
            files,
            paths: self.paths.clone(),
        }
    }
}

/// The images of an OCI layout's index.json (nested indexes are resolved
/// to `platform`'s manifest).
fn oci_layout(files: &Files, platform: &Platform) -> Result<Vec<Found>> {
    let index = files.read_all("index.json", JSON_LIMIT)?;
    let Manifest::Index(index) = manifest::parse(&index).map_err(|e| e.context("index.json"))?
    else {
        return Err(Error::config("index.json is not an image index"));
    };
    let mut found = Vec::new();
    for entry in index.manifests() {
        let annotations = entry.annotations().clone().unwrap_or_default();
        let names: Vec<String> = [CONTAINERD_NAME, REF_NAME]
            .iter()
            .find_map(|k| annotations.get(*k))
            .cloned()
            .into_iter()
            .collect();
        let mut bytes = blob(files, &Digest::try_from(entry.digest())?)?;
        if let Manifest::Index(nested) = manifest::parse(&bytes)? {
            let chosen = Digest::try_from(manifest::choose(&nested, platform)?.digest())?;
            bytes = blob(files, &chosen)?;
        }
        found.push(Found {
            manifest: bytes,
            names,
            paths: None,
        });
    }
    Ok(found)
}

/// A blob of an OCI layout, verified.
fn blob(files: &Files, digest: &Digest) -> Result<Vec<u8>> {
    let bytes = files.read_all(&format!("blobs/sha256/{}", digest.hex()), JSON_LIMIT)?;
    digest.verify(&Digest::of(&bytes), "manifest")?;
    Ok(bytes)
}

/// The images of a `docker save` archive. Its manifest.json lists, per
/// image, the config file, the layer tars and the names; the OCI manifest
/// that the store keeps is made from those: the config's digest, and each
/// layer's digest from rootfs.diff_ids (the layers are uncompressed tars,
/// so a layer's digest is its diff id; the store checks that as it
/// unpacks).
fn docker_save(files: &Files) -> Result<Vec<Found>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let text = files.read_all("manifest.json", JSON_LIMIT)?;
    let entries: Vec<Entry> = serde_json::from_slice(&text)
        .map_err(|e| Error::config(format!("manifest.json: not a docker save manifest: {e}")))?;
    let mut found = Vec::new();
    for entry in entries {
        let config = files.read_all(&entry.config, JSON_LIMIT)?;
        let config_digest = Digest::of(&config);
        let diff_ids = store::diff_ids(&config).map_err(|e| e.context(&entry.config))?;
        if diff_ids.len() != entry.layers.len() {
            return Err(Error::config(format!(
                "manifest.json: {} layers, but its config lists {} diff ids",
                entry.layers.len(),
                diff_ids.len()
            )));
        }
        let mut paths = HashMap::from([(config_digest.clone(), entry.config.clone())]);
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(&diff_ids) {
            layers.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": diff_id.to_string(),
                "size": files.size(path)?,
            }));
            paths.insert(diff_id.clone(), path.clone());
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest.to_string(),
                "size": config.len(),
            },
            "layers": layers,
        });
        found.push(Found {
            manifest: serde_json::to_vec(&manifest).expect("json serializes"),
            names: entry.repo_tags.unwrap_or_default(),
            paths: Some(paths),
        });
    }
    Ok(found)
}

/// A name from an archive: a full reference as it is, a bare tag after
/// `localhost/STEM`.
fn name_for(name: &str, stem: &str) -> Result<String> {
    if name.contains('/') || name.contains(':') {
        Ok(Reference::parse(name)?.to_string())
    } else {
        local_name(stem, name)
    }
}

fn local_name(stem: &str, tag: &str) -> Result<String> {
    Reference::parse(&format!("localhost/{stem}:{tag}"))
        .map(|r| r.to_string())
        .map_err(|e| e.context("name the imported image (give it a name)"))
}

/// Reads blobs of an archive: by OCI layout path, or by a docker save
/// archive's paths.
struct ArchiveSource<'a> {
    files: &'a Files,
    paths: Option<HashMap<Digest, String>>,
}

impl Source for ArchiveSource<'_> {
    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn Read + Send + '_>> {
        let path = match &self.paths {
            Some(paths) => paths.get(digest).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("the archive has no blob {digest}"),
                )
            })?,
            None => format!("blobs/sha256/{}", digest.hex()),
        };
        self.files.open(&path, offset)
    }
}

/// The files of a directory or of a tar, by relative path.
enum Files {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        /// Cleaned entry name -> (data offset, size).
        entries: HashMap<String, (u64, u64)>,
    },
}

impl Files {
    fn index(path: &Path) -> Result<Files> {
        let meta = std::fs::metadata(path).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                ErrorKind::NotFound
            } else {
                ErrorKind::System
            };
            Error::new(
                kind,
                format!(
                    "import {}: {}",
                    path.display(),
                    crate::runtime::error::describe_io(&e)
                ),
            )
        })?;
        if meta.is_dir() {
            return Ok(Files::Dir(path.to_path_buf()));
        }
        let file = File::open(path).ctx(format_args!("open {}", path.display()))?;
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let not_tar = |e: std::io::Error| {
            Error::config(format!(
                "{}: not a tar archive ({e}); compressed archives must be decompressed first",
                path.display()
            ))
        };
        for entry in archive.entries_with_seek().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            if entry.header().entry_type().is_file() {
                let name = clean(&entry.path().map_err(not_tar)?);
                entries.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
        Ok(Files::Tar {
            path: path.to_path_buf(),
            entries,
        })
    }

    fn has(&self, name: &str) -> bool {
        match self {
            Files::Dir(dir) => dir.join(name).is_file(),
            Files::Tar { entries, .. } => entries.contains_key(name),
        }
    }

    fn size(&self, name: &str) -> Result<u64> {
        match self {
            Files::Dir(dir) => Ok(std::fs::metadata(self.path_in(dir, name)?)
                .ctx(format_args!("stat {name}"))?
                .len()),
            Files::Tar { entries, .. } => {
                entries.get(name).map(|e| e.1).ok_or_else(|| missing(name))
            }
        }
    }

    /// A path of the directory, refused if it would leave it.
    fn path_in(&self, dir: &Path, name: &str) -> Result<PathBuf> {
        if Path::new(name)
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(Error::config(format!(
                "the archive names '{name}', outside it"
            )));
        }
        Ok(dir.join(name))
    }

    fn open(&self, name: &str, offset: u64) -> Result<Box<dyn Read + Send + '_>> {
        let (file, start, size) = match self {
            Files::Dir(dir) => {
                let path = self.path_in(dir, name)?;
                let file = File::open(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        missing(name)
                    } else {
                        Error::sys(format!("open {}", path.display()), e)
                    }
                })?;
                let size = file.metadata().ctx(format_args!("stat {name}"))?.len();
                (file, 0, size)
            }
            Files::Tar { path, entries } => {
                let (start, size) = *entries
                    .get(&clean(Path::new(name)))
                    .ok_or_else(|| missing(name))?;
                (
                    File::open(path).ctx(format_args!("open {}", path.display()))?,
                    start,
                    size,
                )
            }
        };
        let mut file = file;
        file.seek(SeekFrom::Start(start + offset))
            .ctx(format_args!("seek in {name}"))?;
        Ok(Box::new(file.take(size.saturating_sub(offset))))
    }

    fn read_all(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(name, 0)?
            .take(limit)
            .read_to_end(&mut bytes)
            .ctx(format_args!("read {name}"))?;
        Ok(bytes)
    }
}

fn missing(name: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("the archive has no file '{name}'"),
    )
}

/// A tar entry's name without `./` and leading `/`.
fn clean(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}
