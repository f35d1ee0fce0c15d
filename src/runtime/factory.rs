//! Factory: owns a state root, creates and loads containers.

use super::{Config, Container, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Factory {
    root: PathBuf,
}

impl Factory {
    /// A factory on `root` (created with mode 0700 if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Factory> {
        todo!("{:?}", root.into())
    }
    /// /run/ctrsh for root.
    pub fn default_root() -> PathBuf {
        PathBuf::from("/run/ctrsh")
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Validates `config`, then sets up the container up to "created".
    pub fn create(&self, id: &str, config: Config) -> Result<Container> {
        todo!("{id} {config:?}")
    }
    pub fn load(&self, id: &str) -> Result<Container> {
        todo!("{id}")
    }
    /// Ids of the containers under the root, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        todo!()
    }
}
