//! Registry credentials and authentication challenges.
//!
//! Credentials come from `$REGISTRY_AUTH_FILE` (podman's auth.json) or
//! docker's config (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): an `auths` map from registry to `auth`
//! (base64 "user:password"), `username`/`password`, or an `identitytoken`
//! (an OAuth2 refresh token). Credential helpers (`credsStore`,
//! `credHelpers`) are not run.

use crate::runtime::error::{Error, ErrorKind, Result};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::reference::DOCKER_HUB;

/// What a user has stored for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Password {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token from `docker login` against an identity
    /// provider; exchanged for an access token at the token endpoint.
    IdentityToken(String),
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The auth file in use: `$REGISTRY_AUTH_FILE`, else docker's config.
fn auth_file() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("REGISTRY_AUTH_FILE") {
        return Some(file.into());
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    directories::BaseDirs::new().map(|d| d.home_dir().join(".docker/config.json"))
}

/// The credentials stored for `registry` (`host[:port]`, `docker.io` for
/// Docker Hub), if any.
pub fn lookup(registry: &str) -> Result<Option<Credentials>> {
    let Some(path) = auth_file() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::sys(format!("read {}", path.display()), e)),
    };
    let file: AuthFile = serde_json::from_str(&text)
        .map_err(|e| Error::config(format!("{}: not a valid auth file: {e}", path.display())))?;
    from_file(&file, registry).map_err(|e| e.context(path.display()))
}

fn from_file(file: &AuthFile, registry: &str) -> Result<Option<Credentials>> {
    let keys: Vec<String> = if registry == DOCKER_HUB {
        [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ]
        .map(String::from)
        .to_vec()
    } else {
        vec![
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
            format!("https://{registry}/v1/"),
            format!("https://{registry}/v2/"),
        ]
    };
    let Some(entry) = keys.iter().find_map(|k| file.auths.get(k)) else {
        let helper = keys
            .iter()
            .find_map(|k| file.cred_helpers.get(k))
            .or(file.creds_store.as_ref());
        return match helper {
            Some(helper) if file.cred_helpers.keys().any(|k| keys.contains(k)) => Err(Error::new(
                ErrorKind::Unsupported,
                format!("the credentials for {registry} are kept by the credential helper '{helper}', which ctrsh does not run; put them in the file's \"auths\" instead"),
            )),
            _ => Ok(None),
        };
    };
    if let Some(token) = &entry.identitytoken {
        if !token.is_empty() {
            return Ok(Some(Credentials::IdentityToken(token.clone())));
        }
    }
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials::Password {
            username: username.clone(),
            password: password.clone(),
        }));
    }
    let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        Error::config(format!(
            "auths.\"{registry}\".auth: expected base64 of user:password"
        ))
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (username, password) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some(Credentials::Password {
        username: username.to_string(),
        password: password.to_string(),
    }))
}

/// An HTTP Basic `Authorization` value.
pub fn basic(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A parsed `WWW-Authenticate` header: the scheme (lowercase) and its
/// parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// `Bearer realm="https://x/token",service="x",scope="repository:a:pull,push"`
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = BTreeMap::new();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            if key.is_empty() {
                break;
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    value.push(c);
                }
            }
            params.insert(key.trim().to_ascii_lowercase(), value);
        }
        Some(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }
}

/// The token endpoint's answer (docker's `token` or OAuth2's `access_token`).
#[derive(Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl TokenResponse {
    pub fn into_token(self) -> Option<String> {
        self.token.or(self.access_token).filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> AuthFile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn credentials_are_found_by_registry() {
        let f = file(
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNzOndvcmQ="},
                "127.0.0.1:5000": {"username": "u", "password": "p"},
                "https://quay.io": {"identitytoken": "refresh"}
            }, "credHelpers": {"gcr.io": "gcloud"}}"#,
        );
        let pw = |u: &str, p: &str| {
            Some(Credentials::Password {
                username: u.into(),
                password: p.into(),
            })
        };
        assert_eq!(from_file(&f, "docker.io").unwrap(), pw("user", "pass:word"));
        assert_eq!(from_file(&f, "127.0.0.1:5000").unwrap(), pw("u", "p"));
        assert_eq!(
            from_file(&f, "quay.io").unwrap(),
            Some(Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(from_file(&f, "example.com").unwrap(), None);
        let err = from_file(&f, "gcr.io").unwrap_err().message;
        assert!(err.contains("credential helper 'gcloud'"), "{err}");
    }

    #[test]
    fn challenges_are_parsed() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let c = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
    }
}
