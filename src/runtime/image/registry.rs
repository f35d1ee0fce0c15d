//! A client of the OCI distribution API (docker's registry API v2): reads
//! manifests and blobs of one repository.
//!
//! - HTTPS, verified against the machine's trust store (`$SSL_CERT_FILE`,
//!   else /etc/ssl/certs/ca-certificates.crt) plus the CA files in
//!   /etc/containers/certs.d/HOST/ and /etc/docker/certs.d/HOST/.
//! - An insecure registry (localhost and loopback addresses by default, and
//!   those the options name) is tried over HTTPS first, then plain HTTP.
//! - A 401 answers with a challenge: `Bearer` gets a token from the realm
//!   (anonymously, or with the stored credentials), `Basic` sends the
//!   stored credentials.

use super::auth::{self, Challenge, Credentials, TokenResponse};
use super::digest::Digest;
use super::reference::Reference;
use super::source::Source;
use crate::runtime::error::{Error, ErrorKind, Result};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::{Response, StatusCode};
use ureq::Body;

/// What a pull accepts as a manifest, most wanted first.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// A manifest or index larger than this is refused: they are small JSON.
const MANIFEST_LIMIT: u64 = 4 << 20;

pub struct Registry {
    agent: ureq::Agent,
    host: String,
    repository: String,
    /// Plain HTTP is allowed (after HTTPS failed).
    insecure: bool,
    /// "https" or "http", once a request got through.
    scheme: Mutex<Option<&'static str>>,
    credentials: Option<Credentials>,
    /// The `Authorization` value that worked last.
    authorization: Mutex<Option<String>>,
}

impl Registry {
    /// A client for `reference`'s repository. `insecure` names more
    /// registries (host[:port]) that may be reached over plain HTTP.
    pub fn new(reference: &Reference, insecure: &[String]) -> Result<Registry> {
        let host = reference.api_host().to_string();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(root_certs(&reference.registry)?)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(15)))
            // A stalled transfer fails and is resumed, instead of hanging.
            .timeout_per_read(Some(Duration::from_secs(30)))
            .user_agent(concat!("ctrsh/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Registry {
            agent,
            insecure: is_insecure(&reference.registry, insecure),
            host,
            repository: reference.repository.clone(),
            scheme: Mutex::new(None),
            credentials: auth::lookup(&reference.registry)?,
            authorization: Mutex::new(None),
        })
    }

    /// The manifest (or index) `reference` (a tag or a digest) names: its
    /// bytes and its media type.
    pub fn manifest(&self, reference: &str) -> Result<(Vec<u8>, String)> {
        let path = format!("/v2/{}/manifests/{reference}", self.repository);
        let response = self.get(&path, &[("Accept", &MANIFEST_TYPES.join(", "))])?;
        let response = self.expect_ok(
            response,
            &format!("manifest {}:{reference}", self.repository),
        )?;
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let bytes = response
            .into_body()
            .with_config()
            .limit(MANIFEST_LIMIT)
            .read_to_vec()
            .map_err(|e| self.error(&format!("read manifest {reference}"), e))?;
        Ok((bytes, media_type))
    }

    /// A GET with the scheme that works and the authorization the registry
    /// asks for.
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Result<Response<Body>> {
        let response = self.send(path, headers)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(Challenge::parse)
            .ok_or_else(|| {
                self.denied("the registry asks for authentication but names no method")
            })?;
        let authorization = self.authorize(&challenge)?;
        *self.authorization.lock().unwrap() = Some(authorization);
        let response = self.send(path, headers)?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.denied("the registry refused the credentials"));
        }
        Ok(response)
    }

    fn send(&self, path: &str, headers: &[(&str, &str)]) -> Result<Response<Body>> {
        let known = *self.scheme.lock().unwrap();
        let schemes: &[&'static str] = match known {
            Some(scheme) => &[scheme][..],
            None if self.insecure => &["https", "http"],
            None => &["https"],
        };
        let mut failures = Vec::new();
        for scheme in schemes {
            let mut request = self.agent.get(format!("{scheme}://{}{path}", self.host));
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            if let Some(authorization) = self.authorization.lock().unwrap().clone() {
                request = request.header("Authorization", authorization);
            }
            match request.call() {
                Ok(response) => {
                    *self.scheme.lock().unwrap() = Some(scheme);
                    return Ok(response);
                }
                Err(e) => {
                    failures.push(format!("{scheme}: {e}"));
                    // A registry that speaks TLS with a certificate we do
                    // not trust is not retried over plain HTTP.
                    if bad_certificate(&e) {
                        break;
                    }
                }
            }
        }
        Err(Error::new(
            ErrorKind::System,
            format!("registry {}: {}", self.host, failures.join("; ")),
        ))
    }

    /// The `Authorization` value that answers `challenge`.
    fn authorize(&self, challenge: &Challenge) -> Result<String> {
        match challenge.scheme.as_str() {
            "basic" => match &self.credentials {
                Some(Credentials::Password { username, password }) => {
                    Ok(auth::basic(username, password))
                }
                _ => Err(self.denied("the registry wants a user name and password: store them in ~/.docker/config.json or $REGISTRY_AUTH_FILE (\"auths\")")),
            },
            "bearer" => self.token(challenge).map(|t| format!("Bearer {t}")),
            other => Err(self.denied(&format!("the registry asks for '{other}' authentication, which ctrsh does not speak"))),
        }
    }

    /// A bearer token from the challenge's realm for pulling this repository.
    fn token(&self, challenge: &Challenge) -> Result<String> {
        let realm = challenge
            .params
            .get("realm")
            .ok_or_else(|| self.denied("the bearer challenge names no realm"))?;
        let scope = format!("repository:{}:pull", self.repository);
        let service = challenge.params.get("service").cloned().unwrap_or_default();
        let response = match &self.credentials {
            Some(Credentials::IdentityToken(refresh)) => self.agent.post(realm).send_form([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("service", service.as_str()),
                ("scope", scope.as_str()),
                ("client_id", "ctrsh"),
            ]),
            credentials => {
                let mut request = self.agent.get(realm).query("scope", &scope);
                if !service.is_empty() {
                    request = request.query("service", &service);
                }
                if let Some(Credentials::Password { username, password }) = credentials {
                    request = request.header("Authorization", auth::basic(username, password));
                }
                request.call()
            }
        }
        .map_err(|e| self.error(&format!("get a token from {realm}"), e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.denied(&format!("the token service {realm} answered {status}")));
        }
        let body = response
            .into_body()
            .with_config()
            .limit(MANIFEST_LIMIT)
            .read_to_vec()
            .map_err(|e| self.error("read the token", e))?;
        serde_json::from_slice::<TokenResponse>(&body)
            .ok()
            .and_then(TokenResponse::into_token)
            .ok_or_else(|| self.denied(&format!("the token service {realm} sent no token")))
    }

    /// `response` if it is a success, else an error that says what the
    /// registry said about `what`.
    fn expect_ok(&self, response: Response<Body>, what: &str) -> Result<Response<Body>> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response
            .into_body()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        let said = registry_errors(&body).unwrap_or_else(|| status.to_string());
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::FORBIDDEN => ErrorKind::Config,
            _ => ErrorKind::System,
        };
        Err(Error::new(
            kind,
            format!("registry {}: {what}: {said}", self.host),
        ))
    }

    fn denied(&self, why: &str) -> Error {
        Error::new(
            ErrorKind::Config,
            format!("registry {}: pull {}: {why}", self.host, self.repository),
        )
    }

    fn error(&self, what: &str, e: ureq::Error) -> Error {
        Error::new(
            ErrorKind::System,
            format!("registry {}: {what}: {e}", self.host),
        )
    }
}

impl Source for Registry {
    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn Read + Send + '_>> {
        let path = format!("/v2/{}/blobs/{digest}", self.repository);
        let range = format!("bytes={offset}-");
        let headers: &[(&str, &str)] = if offset > 0 {
            &[("Range", &range)]
        } else {
            &[]
        };
        let response = self.get(&path, headers)?;
        let response = self.expect_ok(response, &format!("blob {digest}"))?;
        let whole = response.status() != StatusCode::PARTIAL_CONTENT;
        let mut reader = response.into_body().into_reader();
        if offset > 0 && whole {
            // The registry ignored the range: skip what we already have.
            let skipped = std::io::copy(&mut (&mut reader).take(offset), &mut std::io::sink())
                .map_err(|e| {
                    Error::sys(format!("registry {}: read blob {digest}", self.host), e)
                })?;
            if skipped < offset {
                return Err(Error::new(
                    ErrorKind::System,
                    format!(
                        "registry {}: blob {digest} is shorter than what was already fetched",
                        self.host
                    ),
                ));
            }
        }
        Ok(Box::new(reader))
    }

    fn resumable(&self) -> bool {
        true
    }
}

/// The server spoke TLS, with a certificate that is not trusted.
fn bad_certificate(e: &ureq::Error) -> bool {
    let tls = match e {
        ureq::Error::Rustls(tls) => Some(tls),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    matches!(tls, Some(rustls::Error::InvalidCertificate(_)))
}

/// The registry's `{"errors": [{"code", "message"}]}` as one line.
fn registry_errors(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let errors: Errors = serde_json::from_str(body).ok()?;
    let text: Vec<String> = errors
        .errors
        .iter()
        .map(|e| format!("{} ({})", e.message, e.code))
        .collect();
    (!text.is_empty()).then(|| text.join("; "))
}

/// Loopback registries are insecure (plain HTTP allowed) by default, as
/// docker has them; so are those the caller names.
fn is_insecure(registry: &str, named: &[String]) -> bool {
    if named.iter().any(|n| n == registry) {
        return true;
    }
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The machine's trust store and the registry's certs.d CA files.
fn root_certs(registry: &str) -> Result<ureq::tls::RootCerts> {
    let mut files = vec![std::env::var_os("SSL_CERT_FILE")
        .map(Into::into)
        .unwrap_or_else(|| std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))];
    for base in ["/etc/containers/certs.d", "/etc/docker/certs.d"] {
        if let Ok(dir) = std::fs::read_dir(Path::new(base).join(registry)) {
            files.extend(
                dir.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "crt")),
            );
        }
    }
    let mut certs = Vec::new();
    for file in files {
        let Ok(pem) = std::fs::read(&file) else {
            continue;
        };
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                certs.push(cert);
            }
        }
    }
    Ok(if certs.is_empty() {
        ureq::tls::RootCerts::WebPki
    } else {
        ureq::tls::RootCerts::new_with_certs(&certs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_insecure_by_default() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_insecure(r, &[]), "{r}");
        }
        for r in ["docker.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_insecure(r, &[]), "{r}");
        }
        assert!(is_insecure("reg.lan:5000", &["reg.lan:5000".into()]));
    }

    #[test]
    fn registry_errors_are_one_line() {
        let body =
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            registry_errors(body).unwrap(),
            "manifest unknown (MANIFEST_UNKNOWN)"
        );
        assert_eq!(registry_errors("<html>"), None);
    }
}
