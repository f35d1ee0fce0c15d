//! A container's writes as a new image (`c.commit(name)`): its upper dir
//! becomes a layer tar on top of its image's layers, with a config that is
//! the image's plus that layer and a line of history, stored as any pulled
//! image is (`Store::add`, which verifies and unpacks the layer).
//!
//! The tar is written as a registry would serve it, uncompressed:
//! overlayfs's whiteouts (character devices 0/0) become `.wh.NAME` files,
//! and its opaque directories (`trusted.overlay.opaque`) get a
//! `.wh..wh..opq` entry. Owners are written as the container sees them: a
//! container with a user namespace wrote host ids into its upper dir, which
//! its mappings turn back.

use super::digest::{Digest, Hasher};
use super::manifest::{self, Manifest};
use super::progress::Progress;
use super::reference::Reference;
use super::source::Source;
use super::store::Store;
use super::Image;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use crate::runtime::sys::idmap::IdMapping;
use crate::runtime::sys::tree::{self, Node};
use nix::fcntl::{ResolveFlag, AT_FDCWD};
use nix::sys::stat::{FileStat, SFlag};
use oci_spec::image::{Descriptor, History, MediaType};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What overlayfs marks an opaque directory with.
const OPAQUE: &str = "trusted.overlay.opaque";

/// The container's id mappings, to turn the host ids of its upper dir back
/// into its own; empty without a user namespace.
#[derive(Default)]
pub struct Owners {
    pub uids: IdMapping,
    pub gids: IdMapping,
}

/// Stores the upper dir `upper` of a container of image `parent` as the
/// image `name`.
pub fn commit(
    store: &Store,
    parent: &Image,
    upper: &Path,
    owners: &Owners,
    name: &str,
    progress: &Progress,
) -> Result<Image> {
    let name = Reference::parse(name)?.to_string();
    let tar = store.root().join("tmp").join(format!(
        "commit-{}-{}.tar",
        std::process::id(),
        Digest::of(name.as_bytes()).short()
    ));
    let made = (|| {
        // So that a prune does not take the tar away before it is added.
        let _adding = store.adding()?;
        let (layer, size) = write_layer(upper, &tar, owners)?;
        let (config, manifest) = describe(store, parent, &layer, size)?;
        let source = Commit {
            config: (Digest::of(&config), config),
            layer: (layer, tar.clone()),
        };
        store.add(&source, &manifest, std::slice::from_ref(&name), progress)
    })();
    progress.finish();
    let _ = fs::remove_file(&tar);
    made.map_err(|e| e.context(format!("commit {name}")))
}

/// The config and manifest of `parent` with one more layer, `layer`
/// (uncompressed, so its digest is its diff id too) of `size` bytes.
fn describe(
    store: &Store,
    parent: &Image,
    layer: &Digest,
    size: u64,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut config = parent.config.clone();
    config.rootfs_mut().diff_ids_mut().push(layer.to_string());
    let now = crate::runtime::time::rfc3339(std::time::SystemTime::now(), false);
    let mut history = History::default();
    history.set_created(Some(now.clone()));
    history.set_created_by(Some("ctrsh commit".into()));
    history.set_comment(Some(format!("from {}", parent.name)));
    config
        .history_mut()
        .get_or_insert_with(Vec::new)
        .push(history);
    config.set_created(Some(now));
    let config = serde_json::to_vec(&config).expect("an image config serializes");
    let Manifest::Image(mut manifest) = manifest::parse(&store.read_blob(&parent.digest)?)? else {
        return Err(Error::state(format!(
            "{} is not an image manifest",
            parent.digest
        )));
    };
    let descriptor =
        |media_type, size, digest: &Digest| Descriptor::new(media_type, size, oci_digest(digest));
    manifest.set_media_type(Some(MediaType::ImageManifest));
    manifest.set_config(descriptor(
        MediaType::ImageConfig,
        config.len() as u64,
        &Digest::of(&config),
    ));
    manifest
        .layers_mut()
        .push(descriptor(MediaType::ImageLayer, size, layer));
    let manifest = serde_json::to_vec(&manifest).expect("a manifest serializes");
    Ok((config, manifest))
}

fn oci_digest(digest: &Digest) -> oci_spec::image::Digest {
    digest
        .to_string()
        .parse()
        .expect("a sha256 digest is an OCI digest")
}

/// The new config and layer, for `Store::add`.
struct Commit {
    config: (Digest, Vec<u8>),
    layer: (Digest, PathBuf),
}

impl Source for Commit {
    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn Read + Send + '_>> {
        if *digest == self.config.0 {
            let bytes = self.config.1.get(offset as usize..).unwrap_or_default();
            return Ok(Box::new(bytes));
        }
        if *digest == self.layer.0 {
            let path = &self.layer.1;
            let mut file = File::open(path).ctx(format_args!("open {}", path.display()))?;
            file.seek(SeekFrom::Start(offset))
                .ctx(format_args!("seek {}", path.display()))?;
            return Ok(Box::new(file));
        }
        Err(Error::new(
            ErrorKind::NotFound,
            format!("blob {digest} is neither the new layer nor its config"),
        ))
    }
}

/// Writes `upper` as a layer tar at `path`; returns its digest and size.
fn write_layer(upper: &Path, path: &Path, owners: &Owners) -> Result<(Digest, u64)> {
    let file = File::create(path).ctx(format_args!("create {}", path.display()))?;
    let mut builder = tar::Builder::new(Hashing {
        inner: file,
        hasher: Hasher::default(),
        count: 0,
    });
    let mut layer = Layer {
        builder: &mut builder,
        owners,
        links: HashMap::new(),
    };
    let (top, _) = Node::open(AT_FDCWD, upper, ResolveFlag::empty())
        .map_err(|e| e.context(format!("commit: {}", upper.display())))?;
    layer.dir(top.fd(), upper, Path::new(""))?;
    let written = builder.into_inner().and_then(|mut h| h.flush().map(|()| h));
    let hashing = written.ctx(format_args!("write {}", path.display()))?;
    Ok((hashing.hasher.finish(), hashing.count))
}

struct Layer<'a> {
    builder: &'a mut tar::Builder<Hashing>,
    owners: &'a Owners,
    /// The first path of each (device, inode) with more than one link.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Layer<'_> {
    /// The entries of the directory `dir` (at `path` on the host, `rel` in
    /// the layer), sorted, so the same writes make the same tar.
    fn dir(&mut self, dir: &OwnedFd, path: &Path, rel: &Path) -> Result<()> {
        let entries =
            tree::entries(dir).map_err(|e| e.context(format!("commit: {}", path.display())))?;
        for (name, stat) in entries {
            self.entry(dir, &name, &stat, &path.join(&name), &rel.join(&name))?;
        }
        Ok(())
    }

    /// The entry `name` of `dir`, whose `stat` the walk read.
    fn entry(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        stat: &FileStat,
        path: &Path,
        rel: &Path,
    ) -> Result<()> {
        let what = || format!("commit: {}", path.display());
        let kind = tree::file_type(stat);
        if kind == SFlag::S_IFCHR && stat.st_rdev == 0 {
            // An overlay whiteout: the file is deleted.
            let name = name.to_string_lossy();
            return self.empty_file(&rel.with_file_name(format!(".wh.{name}")));
        }
        if kind == SFlag::S_IFSOCK {
            // A socket is the trace of a process, not content (docker skips them too).
            return Ok(());
        }
        let node = Node::child(dir, name, stat).map_err(|e| e.context(what()))?;
        let meta = node.metadata().ctx(what())?;
        let kind = meta.file_type();
        let xattrs: Vec<(String, Vec<u8>)> = node
            .xattrs()
            .ctx(format_args!(
                "commit: read the xattrs of {}",
                path.display()
            ))?
            .into_iter()
            .map(|(n, v)| (n.to_string_lossy().into_owned(), v))
            .collect();
        // overlayfs's bookkeeping (origin, impure...) is dropped; these two
        // would leave content behind in the lower layers.
        let partial = ["trusted.overlay.redirect", "trusted.overlay.metacopy"];
        if let Some((name, _)) = xattrs.iter().find(|(n, _)| partial.contains(&n.as_str())) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "commit: {} has overlayfs's {name}: a renamed directory or a metadata-only \
                     copy (the overlay module's redirect_dir or metacopy is on) cannot be \
                     written as a layer",
                    path.display()
                ),
            ));
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        if !kind.is_file() {
            header.set_size(0);
        }
        header.set_uid(owner(&self.owners.uids, meta.uid()).into());
        header.set_gid(owner(&self.owners.gids, meta.gid()).into());
        if kind.is_char_device() || kind.is_block_device() {
            let what = || format!("commit: the device number of {}", path.display());
            let rdev = meta.rdev();
            let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
            header.set_device_major(major as u32).ctx(what())?;
            header.set_device_minor(minor as u32).ctx(what())?;
        }
        let pax: Vec<(String, &[u8])> = xattrs
            .iter()
            .filter(|(n, _)| !n.starts_with("trusted.overlay."))
            .map(|(n, v)| (format!("SCHILY.xattr.{n}"), &v[..]))
            .collect();
        if !pax.is_empty() {
            self.builder
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
                .ctx(what())?;
        }
        let key = (meta.dev(), meta.ino());
        if kind.is_file() && meta.nlink() > 1 {
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                return self
                    .builder
                    .append_link(&mut header, rel, first)
                    .ctx(what());
            }
            self.links.insert(key, rel.to_path_buf());
        }
        match node {
            Node::Symlink(_, target) => self
                .builder
                .append_link(&mut header, rel, target)
                .ctx(what()),
            Node::File(file) => self
                .builder
                .append_data(&mut header, rel, File::from(file))
                .ctx(what()),
            Node::Special(_) => self
                .builder
                .append_data(&mut header, rel, io::empty())
                .ctx(what()),
            Node::Dir(dir) => {
                self.builder
                    .append_data(&mut header, rel, io::empty())
                    .ctx(what())?;
                if xattrs.iter().any(|(n, v)| n == OPAQUE && v == b"y") {
                    self.empty_file(&rel.join(".wh..wh..opq"))?;
                }
                self.dir(&dir, path, rel)
            }
        }
    }

    /// An empty regular file entry: a whiteout.
    fn empty_file(&mut self, rel: &Path) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(0);
        self.builder
            .append_data(&mut header, rel, io::empty())
            .ctx(format_args!("commit: write the whiteout {}", rel.display()))
    }
}

/// The container's id for the host id `host`; ids outside the mappings
/// (all of them, without a user namespace) stay as they are.
fn owner(maps: &IdMapping, host: u32) -> u32 {
    maps.to_container(host).unwrap_or(host)
}

/// Hashes and counts what is written through it.
struct Hashing {
    inner: File,
    hasher: Hasher,
    count: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
