//! Manifests and indexes, OCI's and Docker's schema 2 (the same JSON shape
//! under other media types), and the choice of a platform from an index.

use crate::runtime::error::{Error, ErrorKind, Result};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

#[derive(Debug)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// Parses a manifest or an index. The JSON's own `mediaType` (or, when it
/// has none, its shape) says which.
pub fn parse(bytes: &[u8]) -> Result<Manifest> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default, rename = "schemaVersion")]
        schema_version: u32,
        #[serde(default, rename = "mediaType")]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| Error::config(format!("the manifest is not valid JSON: {e}")))?;
    if probe.schema_version == 1 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "Docker schema 1 manifests are not supported (deprecated since 2017; push the image again with a current tool)",
        ));
    }
    let index = match probe.media_type.as_deref() {
        Some(
            "application/vnd.oci.image.index.v1+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json",
        ) => true,
        Some(
            "application/vnd.oci.image.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.v2+json",
        ) => false,
        Some(other) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("manifest media type '{other}' is not an image"),
            ))
        }
        None => probe.manifests.is_some(),
    };
    let bad = |e: oci_spec::OciSpecError| Error::config(format!("the manifest is not valid: {e}"));
    Ok(if index {
        Manifest::Index(Box::new(ImageIndex::from_reader(bytes).map_err(bad)?))
    } else {
        Manifest::Image(Box::new(ImageManifest::from_reader(bytes).map_err(bad)?))
    })
}

/// A layer's media type must be a tar (compressed or not); encrypted and
/// other artifact layers are refused.
pub fn check_layer(layer: &Descriptor) -> Result<()> {
    let media_type = layer.media_type().to_string();
    let tar = media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.");
    if tar && !media_type.contains("encrypted") {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "layer {} has media type '{media_type}', which is not a tar layer ctrsh can unpack",
                layer.digest()
            ),
        ))
    }
}

/// An OS/architecture pair, with an optional variant (`linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform, named as Go (and so every image) names it.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts[..] {
            [os, architecture] | [os, architecture, _]
                if !os.is_empty() && !architecture.is_empty() =>
            {
                Ok(Platform {
                    os: os.into(),
                    architecture: architecture.into(),
                    variant: parts.get(2).map(|v| v.to_string()),
                })
            }
            _ => Err(Error::config(format!(
                "platform '{text}': expected os/architecture[/variant], e.g. linux/amd64"
            ))),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The index entry for `want`; an error names the platforms there are.
pub fn choose<'a>(index: &'a ImageIndex, want: &Platform) -> Result<&'a Descriptor> {
    let platform_of = |d: &Descriptor| {
        d.platform().as_ref().map(|p| Platform {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone(),
        })
    };
    let found = index.manifests().iter().find(|d| {
        platform_of(d).is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (want.variant.is_none() || p.variant == want.variant)
        })
    });
    found.ok_or_else(|| {
        let there: Vec<String> = index
            .manifests()
            .iter()
            .filter_map(platform_of)
            .map(|p| p.to_string())
            .collect();
        Error::new(
            ErrorKind::NotFound,
            format!(
                "the image has no manifest for {want} (it has: {}); choose one with the platform option",
                if there.is_empty() { "none with a platform".to_string() } else { there.join(", ") }
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","platform":{"architecture":"arm","os":"linux","variant":"v7"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","platform":{"architecture":"amd64","os":"linux"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","platform":{"architecture":"unknown","os":"unknown"}}]}"#;

    #[test]
    fn platforms_are_chosen_from_an_index() {
        let Manifest::Index(index) = parse(INDEX.as_bytes()).unwrap() else {
            panic!("not an index")
        };
        let amd64 = choose(&index, &Platform::parse("linux/amd64").unwrap()).unwrap();
        assert!(amd64.digest().to_string().ends_with("2222"));
        let arm = choose(&index, &Platform::parse("linux/arm/v7").unwrap()).unwrap();
        assert!(arm.digest().to_string().ends_with("1111"));
        let err = choose(&index, &Platform::parse("linux/s390x").unwrap()).unwrap_err();
        assert!(
            err.message
                .contains("it has: linux/arm/v7, linux/amd64, unknown/unknown"),
            "{}",
            err.message
        );
        assert!(Platform::parse("linux").is_err());
    }

    #[test]
    fn docker_and_oci_manifests_parse() {
        let docker = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"}]}"#;
        let Manifest::Image(m) = parse(docker.as_bytes()).unwrap() else {
            panic!("not a manifest")
        };
        check_layer(&m.layers()[0]).unwrap();
        let oci = docker.replace(
            r#""mediaType":"application/vnd.docker.distribution.manifest.v2+json","#,
            "",
        );
        assert!(matches!(parse(oci.as_bytes()).unwrap(), Manifest::Image(_)));
        let v1 = r#"{"schemaVersion":1,"name":"x"}"#;
        assert!(parse(v1.as_bytes())
            .unwrap_err()
            .message
            .contains("schema 1"));
    }
}
