//! Content digests. The store names blobs and layers by their sha256, so a
//! digest here is always a validated sha256 (64 lowercase hex digits): safe
//! to use as a file name. Other algorithms are refused with a clear error.

use crate::runtime::error::{Error, ErrorKind, Result};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// `sha256:<64 lowercase hex digits>`.
    pub fn parse(text: &str) -> Result<Digest> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(Error::config(format!(
                "digest '{text}': expected sha256:<64 hex digits>"
            )));
        };
        if algorithm != "sha256" {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("digest '{text}': only sha256 digests are supported"),
            ));
        }
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::config(format!(
                "digest '{text}': a sha256 digest has 64 lowercase hex digits"
            )));
        }
        Ok(Digest(text.to_string()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        let mut hasher = Hasher::default();
        hasher.update(bytes);
        hasher.finish()
    }

    /// The 64 hex digits: the blob's or layer's file name in the store.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The first 12 hex digits, as docker shows ids.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    /// An error unless `actual` is this digest; `what` names the content.
    pub fn verify(&self, actual: &Digest, what: &str) -> Result<()> {
        if self == actual {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::System,
                format!("{what}: content has digest {actual}, expected {self} (corrupt or tampered data; nothing was stored)"),
            ))
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = Error;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Digest> {
        Digest::parse(d.as_ref())
    }
}

/// A running sha256.
#[derive(Default, Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Digest {
        let sum = self.0.finalize();
        let mut hex = String::with_capacity(7 + 64);
        hex.push_str("sha256:");
        for b in sum.iter() {
            hex.push_str(&format!("{b:02x}"));
        }
        Digest(hex)
    }
}

/// Hashes and counts what is read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::default(),
            count: 0,
        }
    }

    /// Reads what is left (a tar's trailing padding, say), then gives the
    /// digest and the byte count of everything read.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.hasher.finish(), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_validated_and_computed() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Digest::of(b"").to_string(), empty);
        assert_eq!(Digest::parse(empty).unwrap().short(), "e3b0c44298fc");
        assert!(Digest::parse("sha512:00")
            .unwrap_err()
            .message
            .contains("only sha256"));
        assert!(Digest::parse("sha256:../../etc").is_err());
        assert!(Digest::parse(&empty.to_uppercase()).is_err());
        let mut r = HashingReader::new(&b"abc"[..]);
        let mut first = [0u8; 1];
        r.read_exact(&mut first).unwrap();
        let (d, n) = r.finish().unwrap();
        assert_eq!((d, n), (Digest::of(b"abc"), 3));
    }
}
