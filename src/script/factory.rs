//! `factory()` / `factory(root)` and the Factory type.

use super::container::ContainerHandle;
use super::convert::to_config;
use super::errors::{OrRaise, ScriptResult};
use super::{func, getter, interrupt, made, register_display, register_equality};
use crate::runtime::{self, Container, Factory};
use rhai::{Array, Dynamic, Engine, Map};
use std::path::PathBuf;
use std::sync::Arc;

/// A script's Factory: copies share one runtime factory.
#[derive(Debug, Clone)]
pub struct FactoryHandle(pub(super) Arc<Factory>);

impl FactoryHandle {
    fn open(root: PathBuf) -> ScriptResult<FactoryHandle> {
        Factory::new(root)
            .or_raise()
            .map(|f| FactoryHandle(Arc::new(f)))
    }

    /// `create`, recorded as the script's.
    fn make(&self, id: &str, config: Map, throwaway: bool) -> ScriptResult<ContainerHandle> {
        // Conversion first: a bad config never reaches the kernel.
        let config = to_config(config)?;
        self.recorded(id, throwaway, || self.0.create_checked(id, config))
    }

    /// Container `id` made by `make` (a create or a restore), recorded as
    /// the script's (see made.rs) from before it starts.
    pub(super) fn recorded(
        &self,
        id: &str,
        throwaway: bool,
        make: impl FnOnce() -> runtime::Result<Container>,
    ) -> ScriptResult<ContainerHandle> {
        let creating = made::creating(self.0.root(), id, throwaway)
            .ok_or_else(|| interrupt::error(interrupt::signal().unwrap_or(libc::SIGINT)))?;
        let container = make().map_err(|e| self.exists_hint(id, e)).or_raise()?;
        let container = Arc::new(container);
        creating.made(&container);
        Ok(ContainerHandle(container))
    }

    /// An id in use (often by a script that died) says how to remove it.
    pub(super) fn exists_hint(&self, id: &str, e: runtime::Error) -> runtime::Error {
        if e.kind != runtime::ErrorKind::Exists {
            return e;
        }
        let message = format!(
            "{e}; remove it with `{}` (in a script: f.load(\"{id}\").destroy()), or use another id",
            made::rm_command(self.0.root(), &[id])
        );
        runtime::Error::new(e.kind, message)
    }

    fn describe(&mut self) -> String {
        format!("Factory({})", self.0.root().display())
    }
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<FactoryHandle>("Factory");

    func(
        "factory",
        &["Factory"],
        "A factory on the default state root, /run/ctrsh.",
    )
    .register_into_engine(engine, || FactoryHandle::open(Factory::default_root()));
    func(
        "factory",
        &["root: string", "Factory"],
        "A factory whose containers' state lives under `root` (created if missing).",
    )
    .register_into_engine(engine, |root: &str| FactoryHandle::open(root.into()));

    getter(
        "root",
        &["factory: Factory", "string"],
        "The state root directory.",
    )
    .register_into_engine(engine, |f: &mut FactoryHandle| {
        f.0.root().display().to_string()
    });

    func(
        "create",
        &["factory: Factory", "id: string", "config: map", "Container"],
        "Check `config`, then set the container up to the \"created\" state.",
    )
    .register_into_engine(
        engine,
        |f: &mut FactoryHandle, id: &str, config: Map| -> ScriptResult<ContainerHandle> {
            f.make(id, config, false)
        },
    );
    func(
        "throwaway",
        &["factory: Factory", "id: string", "config: map", "Container"],
        "`create`, and destroy the container when the script ends, fails or is interrupted (docker run --rm).",
    )
    .register_into_engine(
        engine,
        |f: &mut FactoryHandle, id: &str, config: Map| -> ScriptResult<ContainerHandle> {
            f.make(id, config, true)
        },
    );
    func(
        "load",
        &["factory: Factory", "id: string", "Container"],
        "The existing container `id`, made by this or another ctrsh process.",
    )
    .register_into_engine(engine, |f: &mut FactoryHandle, id: &str| {
        f.0.load(id).or_raise().map(ContainerHandle::new)
    });
    func(
        "list",
        &["factory: Factory", "array"],
        "The ids of the containers under the root, sorted.",
    )
    .register_into_engine(engine, |f: &mut FactoryHandle| -> ScriptResult<Array> {
        let ids = f.0.list().or_raise()?;
        Ok(ids.into_iter().map(Dynamic::from).collect())
    });

    register_display(
        engine,
        "factory: Factory",
        "`Factory(root)`.",
        FactoryHandle::describe,
    );
    register_equality(
        engine,
        "Factory",
        ["Same state root.", "Different state roots."],
        |a: &FactoryHandle, b| a.0.root() == b.0.root(),
    );
}
