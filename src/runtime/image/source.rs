//! Where an image's blobs come from (a registry, an OCI layout, a docker
//! archive), and a reader that resumes a blob where a broken transfer left
//! off.

use super::digest::Digest;
use crate::runtime::error::{Error, ErrorKind, Result};
use std::io::{self, Read};
use std::time::Duration;

pub trait Source: Sync {
    /// The blob's bytes from `offset` on.
    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn Read + Send + '_>>;

    /// True for network sources: a partial download is kept so that a
    /// later pull resumes it, and a broken transfer is retried.
    fn resumable(&self) -> bool {
        false
    }
}

/// Attempts per blob after a transfer broke, and the first pause between
/// them (it doubles).
const RETRIES: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(250);

/// Reads `size` bytes of a blob from `offset` on, reopening the source at
/// the current offset when a read fails or ends early (network sources).
pub struct Resuming<'a> {
    source: &'a dyn Source,
    digest: &'a Digest,
    offset: u64,
    size: u64,
    inner: Option<Box<dyn Read + Send + 'a>>,
    failures: u32,
}

impl<'a> Resuming<'a> {
    pub fn new(source: &'a dyn Source, digest: &'a Digest, offset: u64, size: u64) -> Self {
        Resuming {
            source,
            digest,
            offset,
            size,
            inner: None,
            failures: 0,
        }
    }

    /// Counts a failure; Err when the source is local or the retries are
    /// used up.
    fn failed(&mut self, error: io::Error) -> io::Result<()> {
        self.inner = None;
        self.failures += 1;
        if !self.source.resumable() || self.failures > RETRIES {
            return Err(error);
        }
        std::thread::sleep(FIRST_PAUSE * 2u32.pow(self.failures - 1));
        Ok(())
    }
}

impl Read for Resuming<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.size - self.offset;
            if left == 0 || buf.is_empty() {
                return Ok(0);
            }
            if self.inner.is_none() {
                match self.source.open(self.digest, self.offset) {
                    Ok(reader) => self.inner = Some(reader),
                    // Refusals (not found, denied) are final.
                    Err(e) if e.kind != ErrorKind::System => return Err(io::Error::other(e)),
                    Err(e) => {
                        self.failed(io::Error::other(e))?;
                        continue;
                    }
                }
            }
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let reader = self.inner.as_mut().expect("opened above");
            match reader.read(&mut buf[..want]) {
                Ok(0) => self.failed(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "blob {} ended after {} of {} bytes",
                        self.digest, self.offset, self.size
                    ),
                ))?,
                Ok(n) => {
                    self.offset += n as u64;
                    self.failures = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.failed(e)?,
            }
        }
    }
}

/// An io error from a read through the layer pipeline, as the runtime's
/// error (the source's own error when it was one).
pub fn read_error(what: &str, e: io::Error) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(inner) => inner.clone().context(what),
        None => Error::sys(what, e),
    }
}
