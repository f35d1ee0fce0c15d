//! Images: a content-addressed store of layers unpacked once each, filled
//! from registries (the OCI distribution API) or from files (OCI layouts,
//! `docker save` archives). See docs/images.md.

mod auth;
pub mod commit;
pub mod defaults;
pub mod digest;
mod import;
pub mod manifest;
mod progress;
pub mod reference;
mod registry;
pub mod rootfs;
mod source;
mod store;
mod unpack;

pub use defaults::Defaults;
pub use digest::Digest;
pub use manifest::Platform;
pub use progress::Progress;
pub use reference::Reference;
pub use store::{Pruned, Store};

use crate::runtime::error::Result;
use manifest::Manifest;
use oci_spec::image::ImageConfiguration;
use std::path::{Path, PathBuf};

/// An image in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The name it was found under (a normalized reference).
    pub name: String,
    /// The manifest's digest.
    pub digest: Digest,
    /// The config's digest: the image id, as docker has it.
    pub id: Digest,
    /// Bytes as distributed: the config and the layer blobs.
    pub size: u64,
    pub config: ImageConfiguration,
    /// The layers' diff ids, base first.
    pub layers: Vec<Digest>,
}

impl Image {
    /// The layers' directories in `store`, base first.
    pub fn layer_dirs(&self, store: &Store) -> Vec<PathBuf> {
        self.layers.iter().map(|l| store.layer_dir(l)).collect()
    }

    /// One line that says what is in the store now.
    pub fn summary(&self) -> String {
        format!(
            "{} {} ({} layers, {})",
            self.name,
            self.id.short(),
            self.layers.len(),
            human_size(self.size)
        )
    }
}

/// What the state of a container made from an image keeps of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerImage {
    /// The store that holds its layers and records the container's use.
    pub store: PathBuf,
    /// The name it was found under, and its manifest digest.
    pub name: String,
    pub digest: String,
    /// The process defaults from the image's config.
    pub defaults: Defaults,
}

/// How to pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// The platform to pick from a multi-platform image; the host's if None.
    pub platform: Option<Platform>,
    /// Registries (host[:port]) that may be reached over plain HTTP, besides
    /// the loopback ones.
    pub insecure: Vec<String>,
}

/// Pulls `reference` from its registry into `store`.
pub fn pull(
    store: &Store,
    reference: &str,
    options: &PullOptions,
    progress: &Progress,
) -> Result<Image> {
    let reference = Reference::parse(reference)?;
    let registry = registry::Registry::new(&reference, &options.insecure)?;
    let pulled = (|| {
        let (bytes, _) = registry.manifest(&reference.manifest_ref())?;
        if let Some(digest) = &reference.digest {
            digest.verify(&Digest::of(&bytes), "manifest")?;
        }
        let manifest = match manifest::parse(&bytes)? {
            Manifest::Image(_) => bytes,
            Manifest::Index(index) => {
                let platform = options.platform.clone().unwrap_or_else(Platform::host);
                let chosen = Digest::try_from(manifest::choose(&index, &platform)?.digest())?;
                let (bytes, _) = registry.manifest(&chosen.to_string())?;
                chosen.verify(&Digest::of(&bytes), "manifest")?;
                bytes
            }
        };
        store.add(&registry, &manifest, &[reference.to_string()], progress)
    })();
    progress.finish();
    pulled.map_err(|e| e.context(format!("pull {reference}")))
}

/// Imports the OCI layout (directory or tar) or `docker save` archive at
/// `path` into `store`; `name` names its one image.
pub fn import(
    store: &Store,
    path: &Path,
    name: Option<&str>,
    platform: Option<&Platform>,
    progress: &Progress,
) -> Result<Vec<Image>> {
    let platform = platform.cloned().unwrap_or_else(Platform::host);
    let imported = import::import(store, path, name, &platform, progress);
    progress.finish();
    imported.map_err(|e| e.context(format!("import {}", path.display())))
}

/// "1.2 MB", as people read sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
