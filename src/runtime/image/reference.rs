//! Image references as docker writes them: `[registry/]repository[:tag][@digest]`,
//! with docker's short names expanded (`busybox` is
//! `docker.io/library/busybox:latest`).

use super::digest::Digest;
use crate::runtime::error::{Error, Result};
use std::fmt;

/// Docker Hub's name in references, and the host its API is served from.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed, normalized reference: always a registry, and a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`, e.g. `docker.io` or `127.0.0.1:5000`.
    pub registry: String,
    /// The repository path, e.g. `library/busybox`.
    pub repository: String,
    /// The tag; `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes `text` the way docker does.
    pub fn parse(text: &str) -> Result<Reference> {
        let bad = |why: &str| {
            Error::config(format!(
                "image reference '{text}': {why} (expected [registry/]name[:tag][@sha256:digest], e.g. busybox:latest or 127.0.0.1:5000/app:1)"
            ))
        };
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(Digest::parse(digest).map_err(|e| bad(&e.message))?),
            ),
            None => (text, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it
        // is the registry's port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(bad(&format!(
                    "tag '{tag}' is not valid (letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-')"
                )));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if is_registry(first) => (first.to_string(), path.to_string()),
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if registry.is_empty() || repository.is_empty() {
            return Err(bad("the name is empty"));
        }
        if let Some(component) = repository.split('/').find(|c| !valid_component(c)) {
            return Err(bad(&format!(
                "'{component}' is not a valid name component (lowercase letters and digits, separated by '.', '_', '__' or dashes)"
            )));
        }
        let registry = match registry.as_str() {
            "index.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) to talk to: Docker Hub's API lives elsewhere.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What the registry's manifest endpoint takes: the digest if there is
    /// one (it pins the content), else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Docker's rule: the first component names a registry when it has a '.'
/// or a ':' (a port), or is `localhost`.
fn is_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let ok = match &component[sep..i] {
            "." | "_" | "__" => true,
            s => s.bytes().all(|b| b == b'-'),
        };
        if !ok {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    #[test]
    fn short_names_expand_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(full("index.docker.io/user/app:1"), "docker.io/user/app:1");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(
            full("127.0.0.1:5000/a/b-c__d.e:v1.0"),
            "127.0.0.1:5000/a/b-c__d.e:v1.0"
        );
        let hex = "a".repeat(64);
        let r = Reference::parse(&format!("quay.io/x/y@sha256:{hex}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), format!("sha256:{hex}"));
        assert_eq!(r.api_host(), "quay.io");
        assert_eq!(
            Reference::parse("busybox").unwrap().api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty"),
            ("Busybox", "'Busybox' is not a valid name component"),
            ("a//b", "'' is not a valid name component"),
            ("a:-x", "tag '-x'"),
            ("a@sha256:xyz", "sha256"),
            ("a/b_-c", "'b_-c'"),
        ] {
            let err = Reference::parse(text).unwrap_err().message;
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
