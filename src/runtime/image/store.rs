//! The content-addressed image store.
//!
//! ```text
//! ROOT/blobs/sha256/HEX   manifests and configs, verified on arrival
//! ROOT/layers/HEX         each layer unpacked once, named by its diff id
//!                         (the digest of its uncompressed tar)
//! ROOT/names.json         image name -> manifest digest
//! ROOT/tmp/               partial downloads (kept to resume) and unpacks
//! ROOT/locks/             one lock file per blob being brought in
//! ROOT/containers/        one file per container made from an image:
//!                         its state dir and the image's manifest digest
//! ROOT/checkpoints/       one file per checkpoint of such a container:
//!                         its dir and the image's manifest digest
//! ROOT/store.lock         shared while content is added, exclusive while
//!                         content is removed
//! ```
//!
//! Everything lands by rename: a blob is written to a temporary file and
//! renamed once its digest checks; a layer is unpacked into tmp/ and
//! renamed into layers/ once both its digest and its diff id check. So a
//! name, a blob or a layer directory that exists is complete. Processes
//! bringing in the same layer serialize on the blob's lock; the second one
//! finds the layer there.
//!
//! A container records its use of an image (`use_image`) before it mounts
//! the image's layers, and forgets it (`release`) when destroyed; `remove`
//! refuses to take away an image a container uses, naming the containers,
//! and `prune` keeps what they use. A checkpoint of such a container
//! records its use too (`pin_for_checkpoint`), since a restore mounts the
//! image's layers again; the use lasts as long as the checkpoint's dir: a
//! record whose dir is gone is dropped by the next `remove` or `prune`.

use super::digest::{Digest, HashingReader};
use super::manifest::{self, Manifest};
use super::progress::{LayerProgress, Progress};
use super::reference::Reference;
use super::source::{read_error, Resuming, Source};
use super::unpack::unpack;
use super::Image;
use crate::runtime::error::{Context, Error, ErrorKind, Result};
use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{Descriptor, ImageConfiguration};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The dirs of use records, and what each record's path names.
const USERS: [(&str, UserKind); 2] = [
    ("containers", UserKind::Container),
    ("checkpoints", UserKind::Checkpoint),
];
/// Layers brought in at once (docker's default too).
const PARALLEL_LAYERS: usize = 3;
/// Configs are JSON; anything larger is not one.
const CONFIG_LIMIT: u64 = 16 << 20;

pub struct Store {
    root: PathBuf,
}

/// What `prune` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub blobs: usize,
    pub layers: usize,
    pub partial: usize,
}

impl Store {
    /// The store at `root`, created (mode 0700) if missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        if !root.is_absolute() {
            return Err(Error::config(format!(
                "image store '{}' is not an absolute path",
                root.display()
            )));
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "images need root: layers keep their files' owners and overlay whiteouts, which an unprivileged user cannot create",
            ));
        }
        for dir in [
            "blobs/sha256",
            "layers",
            "tmp",
            "locks",
            USERS[0].0,
            USERS[1].0,
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root.join(dir))
                .ctx(format_args!("create image store {}", root.display()))?;
        }
        Ok(Store { root })
    }

    /// `$CTRSH_IMAGE_STORE`, else /var/lib/ctrsh/images for root and
    /// `ctrsh/images` in the user's data dir ($XDG_DATA_HOME) otherwise.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("CTRSH_IMAGE_STORE") {
            return dir.into();
        }
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/lib/ctrsh/images");
        }
        directories::BaseDirs::new()
            .map(|d| d.data_dir().join("ctrsh/images"))
            .unwrap_or_else(|| {
                PathBuf::from(format!("/tmp/ctrsh-{}/images", nix::unistd::geteuid()))
            })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory a layer is unpacked in (a lowerdir of an overlay).
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    fn partial_path(&self, blob: &Digest) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}.partial", blob.hex()))
    }

    fn lock(&self, path: PathBuf, arg: FlockArg) -> Result<Flock<File>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx(format_args!("open lock {}", path.display()))?;
        Flock::lock(file, arg)
            .map_err(|(_, e)| e)
            .ctx(format_args!("lock {}", path.display()))
    }

    /// Held (shared) while content is added; `prune` and `remove` take it
    /// exclusively, so they never delete what a pull is about to name.
    pub(crate) fn adding(&self) -> Result<Flock<File>> {
        self.lock(self.root.join("store.lock"), FlockArg::LockShared)
    }

    fn removing(&self) -> Result<Flock<File>> {
        self.lock(self.root.join("store.lock"), FlockArg::LockExclusive)
    }

    /// A stored blob (verified when it arrived).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::new(
                    ErrorKind::NotFound,
                    format!("blob {digest} is not in the image store"),
                )
            } else {
                Error::sys(format!("read {}", path.display()), e)
            }
        })
    }

    /// Stores `bytes` as blob `digest`, if that is their digest.
    pub(crate) fn write_blob(&self, digest: &Digest, bytes: &[u8], what: &str) -> Result<()> {
        digest.verify(&Digest::of(bytes), what)?;
        let path = self.blob_path(digest);
        if path.exists() {
            return Ok(());
        }
        self.write_atomically(&path, bytes)
    }

    /// Writes a file under the store by a rename, so that readers see the
    /// old or the new content, never a part.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = self.root.join("tmp").join(format!(
            "{}.{}.{:?}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id(),
            std::thread::current().id()
        ));
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_data()))
            .and_then(|()| fs::rename(&tmp, path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.ctx(format_args!("write {}", path.display()))
    }

    /// A small blob (a config) from the store, or else from `source`.
    fn fetch_blob(&self, source: &dyn Source, desc: &Descriptor, what: &str) -> Result<Vec<u8>> {
        let digest = Digest::try_from(desc.digest())?;
        if let Ok(bytes) = self.read_blob(&digest) {
            return Ok(bytes);
        }
        if desc.size() > CONFIG_LIMIT {
            return Err(Error::config(format!(
                "{what} {digest}: {} bytes is too large",
                desc.size()
            )));
        }
        let mut bytes = Vec::new();
        Resuming::new(source, &digest, 0, desc.size())
            .read_to_end(&mut bytes)
            .map_err(|e| read_error(&format!("fetch {what} {digest}"), e))?;
        self.write_blob(&digest, &bytes, &format!("{what} {digest}"))?;
        Ok(bytes)
    }

    /// Brings in the image whose manifest is `manifest` from `source`: its
    /// config, then its layers (several at once), then the manifest, then
    /// the names. Returns the image under `names[0]`.
    pub(crate) fn add(
        &self,
        source: &dyn Source,
        manifest: &[u8],
        names: &[String],
        progress: &Progress,
    ) -> Result<Image> {
        let _adding = self.adding()?;
        let digest = Digest::of(manifest);
        let Manifest::Image(parsed) = manifest::parse(manifest)? else {
            return Err(Error::config("expected an image manifest, found an index"));
        };
        for layer in parsed.layers() {
            manifest::check_layer(layer)?;
        }
        let config_bytes = self.fetch_blob(source, parsed.config(), "config")?;
        let diff_ids = diff_ids(&config_bytes)?;
        if diff_ids.len() != parsed.layers().len() {
            return Err(Error::config(format!(
                "image {digest}: the manifest has {} layers but the config lists {} (rootfs.diff_ids)",
                parsed.layers().len(),
                diff_ids.len()
            )));
        }
        progress.begin(
            names.first().map_or("image", String::as_str),
            diff_ids.len(),
        );
        let next = AtomicUsize::new(0);
        let failure = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL_LAYERS.min(diff_ids.len()) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= diff_ids.len() || failure.lock().unwrap().is_some() {
                        break;
                    }
                    let layer = &parsed.layers()[i];
                    if let Err(e) = self.ensure_layer(source, layer, &diff_ids[i], progress) {
                        failure.lock().unwrap().get_or_insert(e);
                        break;
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap() {
            return Err(e);
        }
        self.write_blob(&digest, manifest, "manifest")?;
        for name in names {
            self.set_name(name, Some(&digest))?;
        }
        self.load(
            names.first().cloned().unwrap_or_else(|| digest.to_string()),
            &digest,
        )
    }

    /// Makes sure layer `diff_id` is unpacked, bringing in blob `layer`
    /// from `source` if not.
    fn ensure_layer(
        &self,
        source: &dyn Source,
        layer: &Descriptor,
        diff_id: &Digest,
        progress: &Progress,
    ) -> Result<()> {
        let blob = Digest::try_from(layer.digest())?;
        let bar = progress.layer(blob.short(), layer.size());
        let target = self.layer_dir(diff_id);
        if target.exists() {
            bar.done("already present");
            return Ok(());
        }
        let _lock = self.lock(
            self.root.join("locks").join(format!("{}.lock", blob.hex())),
            FlockArg::LockExclusive,
        )?;
        if target.exists() {
            bar.done("already present");
            return Ok(());
        }
        // Holding the lock, nobody else unpacks this blob: a directory left
        // here is from a process that died.
        let unpacking = self.root.join("tmp").join(format!("{}.unpack", blob.hex()));
        if unpacking.exists() {
            fs::remove_dir_all(&unpacking).ctx(format_args!("remove {}", unpacking.display()))?;
        }
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&unpacking)
            .ctx(format_args!("create {}", unpacking.display()))?;
        let filled = self
            .fill_layer(source, layer, &blob, diff_id, &unpacking, &bar)
            .and_then(|()| self.rename_into_place(&unpacking, &target));
        if let Err(e) = &filled {
            let _ = fs::remove_dir_all(&unpacking);
            // A transfer that broke leaves its partial download to resume;
            // content that was refused is not worth keeping.
            if e.kind != ErrorKind::System {
                let _ = fs::remove_file(self.partial_path(&blob));
            }
        }
        filled.map_err(|e| e.context(format!("layer {blob}")))?;
        bar.done("done");
        Ok(())
    }

    /// Streams the blob (the part already downloaded, then the rest from
    /// the source, saved as it comes) through the digest, the decompressor,
    /// the diff-id digest and the unpacker into `dir`.
    fn fill_layer(
        &self,
        source: &dyn Source,
        layer: &Descriptor,
        blob: &Digest,
        diff_id: &Digest,
        dir: &Path,
        bar: &LayerProgress,
    ) -> Result<()> {
        let size = layer.size();
        let partial_path = self.partial_path(blob);
        let stream: Box<dyn Read + '_> = if source.resumable() {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .append(true)
                .open(&partial_path)
                .ctx(format_args!("open {}", partial_path.display()))?;
            let mut have = file.metadata().ctx("stat the partial download")?.len();
            if have > size {
                file.set_len(0).ctx("truncate the partial download")?;
                have = 0;
            }
            file.rewind().ctx("rewind the partial download")?;
            let saved = file.try_clone().ctx("dup the partial download")?.take(have);
            let rest = Tee {
                inner: Resuming::new(source, blob, have, size),
                file: file.try_clone().ctx("dup the partial download")?,
            };
            Box::new(saved.chain(rest))
        } else {
            Box::new(Resuming::new(source, blob, 0, size))
        };
        let mut compressed = HashingReader::new(bar.wrap(stream));
        let (plain_digest, _) = {
            let mut plain = HashingReader::new(decompress(&mut compressed)?);
            unpack(&mut plain, dir)?;
            plain
                .finish()
                .map_err(|e| read_error("read the layer", e))?
        };
        let (digest, _) = compressed
            .finish()
            .map_err(|e| read_error("read the layer", e))?;
        // The whole blob went through: right or wrong, nothing to resume.
        if source.resumable() {
            let _ = fs::remove_file(&partial_path);
        }
        blob.verify(&digest, "the layer blob")?;
        diff_id.verify(&plain_digest, "the unpacked layer (rootfs.diff_ids)")
    }

    /// Renames a finished layer into layers/. If another process (with
    /// another blob of the same layer) was first, its copy stays.
    fn rename_into_place(&self, dir: &Path, target: &Path) -> Result<()> {
        match fs::rename(dir, target) {
            Ok(()) => Ok(()),
            Err(_) if target.exists() => {
                fs::remove_dir_all(dir).ctx(format_args!("remove {}", dir.display()))
            }
            Err(e) => Err(Error::sys(format!("rename into {}", target.display()), e)),
        }
    }

    fn names(&self) -> Result<BTreeMap<String, Digest>> {
        names_at(&self.root)?
            .into_iter()
            .map(|(name, d)| Ok((name, Digest::parse(&d)?)))
            .collect()
    }

    /// The image names in the store at `root`, if there is one there
    /// (nothing is created: the REPL's completion reads them).
    pub fn names_in(root: &Path) -> Result<Vec<String>> {
        Ok(names_at(root)?.into_keys().collect())
    }

    /// Points `name` at `manifest`, or removes it (None).
    fn set_name(&self, name: &str, manifest: Option<&Digest>) -> Result<()> {
        let _lock = self.lock(self.root.join("locks/names.lock"), FlockArg::LockExclusive)?;
        let mut names = self.names()?;
        match manifest {
            Some(d) => names.insert(name.to_string(), d.clone()),
            None => names.remove(name),
        };
        let raw: BTreeMap<&String, String> =
            names.iter().map(|(n, d)| (n, d.to_string())).collect();
        let text = serde_json::to_vec_pretty(&raw).expect("a map serializes");
        self.write_atomically(&self.root.join("names.json"), &text)
    }

    /// The image named `name` (a reference, short forms allowed), or with
    /// the id or manifest digest `name` (`sha256:...`, or 12 or more of its
    /// hex digits).
    pub fn image(&self, name: &str) -> Result<Image> {
        let names = self.names()?;
        if let Ok(reference) = Reference::parse(name) {
            let full = reference.to_string();
            if let Some(digest) = names.get(&full) {
                return self.load(full, digest);
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (n, digest) in &names {
                let image = self.load(n.clone(), digest)?;
                if image.id.hex().starts_with(hex) || image.digest.hex().starts_with(hex) {
                    return Ok(image);
                }
            }
        }
        Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "image '{name}' is not in the image store {} (pull or import it first)",
                self.root.display()
            ),
        ))
    }

    /// Reads image `manifest` under `name`.
    pub(crate) fn load(&self, name: String, manifest: &Digest) -> Result<Image> {
        let bytes = self.read_blob(manifest)?;
        let Manifest::Image(parsed) = manifest::parse(&bytes)? else {
            return Err(Error::config(format!(
                "{manifest} is not an image manifest"
            )));
        };
        let id = Digest::try_from(parsed.config().digest())?;
        let config_bytes = self.read_blob(&id)?;
        let layers = diff_ids(&config_bytes)?;
        let config = ImageConfiguration::from_reader(&config_bytes[..])
            .map_err(|e| Error::config(format!("config {id}: {e}")))?;
        let size = parsed.config().size() + parsed.layers().iter().map(|l| l.size()).sum::<u64>();
        Ok(Image {
            name,
            digest: manifest.clone(),
            id,
            size,
            config,
            layers,
        })
    }

    /// Every name, with its image.
    pub fn list(&self) -> Result<Vec<Image>> {
        self.names()?
            .into_iter()
            .map(|(name, digest)| self.load(name, &digest))
            .collect()
    }

    /// Gives image `source` the name `target` too.
    pub fn tag(&self, source: &str, target: &str) -> Result<Image> {
        let image = self.image(source)?;
        let target = Reference::parse(target)?.to_string();
        self.set_name(&target, Some(&image.digest))?;
        Ok(Image {
            name: target,
            ..image
        })
    }

    /// Removes the name `name` (or every name of the image with that id),
    /// then the content no name needs any more. An image that containers
    /// use keeps its last name until they are destroyed.
    pub fn remove(&self, name: &str) -> Result<Pruned> {
        let image = self.image(name)?;
        let _removing = self.removing()?;
        let by_name = Reference::parse(name).is_ok_and(|r| r.to_string() == image.name);
        let names = self.names()?;
        let going =
            |n: &String, digest: &Digest| *n == image.name || (!by_name && *digest == image.digest);
        let others = names
            .iter()
            .any(|(n, d)| *d == image.digest && !going(n, d));
        if let Some(users) = self.users()?.get(&image.digest).filter(|_| !others) {
            return Err(Error::new(
                ErrorKind::State,
                format!("image '{name}' is used by {}", describe_users(users)),
            ));
        }
        for (n, digest) in &names {
            if going(n, digest) {
                self.set_name(n, None)?;
            }
        }
        self.collect_garbage()
    }

    /// The record of the `kind` of user at `path`.
    fn user_path(&self, kind: UserKind, path: &Path) -> PathBuf {
        let key = Digest::of(path.as_os_str().as_encoded_bytes());
        let (dir, _) = USERS
            .iter()
            .find(|(_, k)| *k == kind)
            .expect("a kind has a dir");
        self.root
            .join(dir)
            .join(format!("{}.json", &key.hex()[..32]))
    }

    /// Records that the container whose state dir is `container` uses
    /// `image` (as `Store::image` found it). Under the shared store lock: a
    /// `remove` either ran before (the image is gone, an error here) or
    /// runs after (and sees the record).
    pub fn use_image(&self, image: &Image, container: &Path) -> Result<()> {
        self.record_use(UserKind::Container, image, container)
    }

    /// Records that the checkpoint in `dir` needs the image with manifest
    /// `digest` to be restored: `remove` refuses to take the image away
    /// and `prune` keeps it while `dir` exists.
    pub fn pin_for_checkpoint(&self, digest: &Digest, dir: &Path) -> Result<()> {
        self.load(digest.to_string(), digest)
            .and_then(|image| self.record_use(UserKind::Checkpoint, &image, dir))
            .map_err(|e| e.context("record the checkpoint's use of its image"))
    }

    fn record_use(&self, kind: UserKind, image: &Image, path: &Path) -> Result<()> {
        let _adding = self.adding()?;
        // What `remove` takes away: the manifest, then the layers.
        let digest = &image.digest;
        if !self.blob_path(digest).is_file() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("image {digest} was removed from the store (pull or import it again)"),
            ));
        }
        if let Some(missing) = image.layers.iter().find(|l| !self.layer_dir(l).is_dir()) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("image {digest}: layer {missing} is missing from the store (pull or import the image again)"),
            ));
        }
        let record = User {
            container: path.to_path_buf(),
            image: digest.to_string(),
        };
        let text = serde_json::to_vec(&record).expect("a record serializes");
        let file = self.user_path(kind, path);
        match kind {
            // A checkpoint outlives the machine; its record must too.
            UserKind::Checkpoint => self.write_atomically(&file, &text)?,
            // Not synced: a container does not outlive the machine.
            UserKind::Container => {
                fs::write(&file, &text).ctx(format_args!("write {}", file.display()))?
            }
        }
        Ok(())
    }

    /// Forgets the use `use_image` recorded for `container` (if any).
    pub fn release(&self, container: &Path) -> Result<()> {
        let path = self.user_path(UserKind::Container, container);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::sys(format!("remove {}", path.display()), e))
            }
            _ => Ok(()),
        }
    }

    /// The users of each image (by manifest digest): containers by their
    /// state dirs, checkpoints by theirs. Records of users whose dir is
    /// gone (a checkpoint removed, a state dir removed by hand) are
    /// dropped; call with the store locked exclusively.
    fn users(&self) -> Result<BTreeMap<Digest, Vec<(UserKind, PathBuf)>>> {
        let mut users: BTreeMap<Digest, Vec<(UserKind, PathBuf)>> = BTreeMap::new();
        for (dir, kind) in USERS {
            let dir = self.root.join(dir);
            for entry in fs::read_dir(&dir).ctx(format_args!("read {}", dir.display()))? {
                let path = entry.ctx(format_args!("read {}", dir.display()))?.path();
                let record: Option<User> = fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok());
                match record {
                    Some(r) if r.container.is_dir() => users
                        .entry(Digest::parse(&r.image)?)
                        .or_default()
                        .push((kind, r.container)),
                    _ => fs::remove_file(&path).ctx(format_args!("remove {}", path.display()))?,
                }
            }
        }
        Ok(users)
    }

    /// Removes what no name needs: blobs, layers, partial downloads and
    /// half-made layers.
    pub fn prune(&self) -> Result<Pruned> {
        let _removing = self.removing()?;
        self.collect_garbage()
    }

    fn collect_garbage(&self) -> Result<Pruned> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        let used = self
            .users()?
            .into_keys()
            .map(|d| self.load(d.to_string(), &d));
        for image in self.list()?.into_iter().map(Ok).chain(used) {
            let image = image?;
            blobs.insert(image.digest.hex().to_string());
            blobs.insert(image.id.hex().to_string());
            layers.extend(image.layers.iter().map(|l| l.hex().to_string()));
        }
        let mut pruned = Pruned::default();
        let remove = |dir: &str, keep: &BTreeSet<String>, count: &mut usize| -> Result<()> {
            let dir = self.root.join(dir);
            for entry in fs::read_dir(&dir).ctx(format_args!("read {}", dir.display()))? {
                let entry = entry.ctx(format_args!("read {}", dir.display()))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep.contains(&name) {
                    continue;
                }
                let path = entry.path();
                let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.ctx(format_args!("remove {}", path.display()))?;
                *count += 1;
            }
            Ok(())
        };
        remove("blobs/sha256", &blobs, &mut pruned.blobs)?;
        remove("layers", &layers, &mut pruned.layers)?;
        remove("tmp", &BTreeSet::new(), &mut pruned.partial)?;
        // Nobody holds a blob lock while the store is locked exclusively.
        let keep_names_lock = BTreeSet::from(["names.lock".to_string()]);
        remove("locks", &keep_names_lock, &mut 0)?;
        Ok(pruned)
    }
}

/// ROOT/names.json: image name -> manifest digest.
fn names_at(root: &Path) -> Result<BTreeMap<String, String>> {
    let path = root.join("names.json");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::sys(format!("read {}", path.display()), e)),
    };
    serde_json::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))
}

/// Who uses an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserKind {
    Container,
    Checkpoint,
}

/// A use of an image (ROOT/containers/, ROOT/checkpoints/).
#[derive(serde::Serialize, serde::Deserialize)]
struct User {
    /// The container's state dir, or the checkpoint's dir.
    container: PathBuf,
    /// The image's manifest digest.
    image: String,
}

/// "container 'a' (in /run/ctrsh), checkpoint /ck: destroy the container
/// and remove the checkpoint's dir first".
fn describe_users(users: &[(UserKind, PathBuf)]) -> String {
    let of = |kind| {
        users
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, p)| p)
    };
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let containers: Vec<String> = of(UserKind::Container)
        .map(|dir| {
            let id = dir.file_name().unwrap_or_default().to_string_lossy();
            match dir.parent() {
                Some(root) => format!("'{id}' (in {})", root.display()),
                None => format!("'{id}'"),
            }
        })
        .collect();
    let checkpoints: Vec<String> = of(UserKind::Checkpoint)
        .map(|dir| dir.display().to_string())
        .collect();
    let (nc, nk) = (containers.len(), checkpoints.len());
    let mut who = Vec::new();
    let mut todo = Vec::new();
    if nc > 0 {
        who.push(format!(
            "{} {}",
            plural(nc, "container", "containers"),
            containers.join(", ")
        ));
        todo.push(format!("destroy {}", plural(nc, "it", "them")));
    }
    if nk > 0 {
        who.push(format!(
            "{} {}",
            plural(nk, "checkpoint", "checkpoints"),
            checkpoints.join(", ")
        ));
        todo.push(format!(
            "remove the {} (a restore needs the image)",
            plural(nk, "checkpoint's dir", "checkpoints' dirs")
        ));
    }
    format!("{}: {} first", who.join(" and "), todo.join(", and "))
}

/// The config's rootfs.diff_ids: one per layer, base first (also of an
/// image imported from an archive: import.rs).
pub(super) fn diff_ids(config: &[u8]) -> Result<Vec<Digest>> {
    #[derive(serde::Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<String>,
    }
    let config: Config = serde_json::from_slice(config)
        .map_err(|e| Error::config(format!("the image config is not valid: {e}")))?;
    config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Digest::parse(d))
        .collect()
}

/// Writes what passes through to the partial download.
struct Tee<R> {
    inner: R,
    file: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.file.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// A reader of the uncompressed tar: gzip and zstd are recognised by their
/// magic numbers (registries do not always label layers right), anything
/// else is taken as a plain tar.
fn decompress<'a>(compressed: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(256 << 10, compressed);
    let head = buffered
        .fill_buf()
        .map_err(|e| read_error("read the layer", e))?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buffered).ctx("start zstd")?)
    } else {
        Box::new(buffered)
    })
}
